/* Helpers for the pcaptools library suites. */
#include "pcaptest.h"

#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const pt_captures[] = {
	"kcat-gzip.pcap",	"kcat-lz4.pcap",	 "kcat-none.pcap",
	"kcat-snappy.pcap",	"kcat-zstd.pcap",	 "kpy-0.10.0-gzip.pcap",
	"kpy-0.10.0-none.pcap", "kpy-0.11.0-gzip.pcap", "kpy-0.11.0-none.pcap",
	"kpy-0.9-gzip.pcap",	"kpy-0.9-none.pcap",
};
const size_t pt_ncaptures = sizeof pt_captures / sizeof pt_captures[0];
const uint16_t pt_broker_ports[PT_NBROKER_PORTS] = {34567, 41197, 41407};

const uint8_t pt_client4[4] = {10, 0, 0, 1}, pt_broker4[4] = {10, 0, 0, 2};
const uint8_t pt_client6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
const uint8_t pt_broker6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

uint64_t pt_hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

int pt_collect(kx_event *ev, void *opaque)
{
	pt_log *l = opaque;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		ck_assert_ptr_nonnull(l->v);
	}
	pt_ev *e = &l->v[l->n++];
	memset(e, 0, sizeof *e);
	e->type = ev->type;
	e->conn = ev->conn ? ev->conn->id : 0;
	if (ev->conn) {
		kx_conn_addr(ev->conn, false, e->client, sizeof e->client);
		kx_conn_addr(ev->conn, true, e->broker, sizeof e->broker);
	}
	e->dir = ev->dir;
	e->packet = ev->packet;
	e->ts_ns = ev->ts_ns;
	e->stream_offset = ev->stream_offset;
	e->frame_len = ev->frame_len;
	e->header_len = ev->header_len;
	if (ev->frame)
		e->frame_hash = pt_hash(ev->frame, ev->frame_len);
	e->header_ok = ev->header_ok;
	e->paired = ev->paired;
	e->api_key = ev->api_key;
	e->api_version = ev->api_version;
	e->correlation_id = ev->correlation_id;
	if (ev->client_id_len > 0) {
		size_t n = (size_t)ev->client_id_len < sizeof e->client_id - 1
				   ? (size_t)ev->client_id_len
				   : sizeof e->client_id - 1;
		memcpy(e->client_id, ev->client_id, n);
	}
	e->request_ts_ns = ev->request_ts_ns;
	e->bytes = ev->bytes;
	e->close_reason = ev->close_reason;
	e->unanswered = ev->unanswered;
	e->warning = ev->warning;
	if (ev->message)
		snprintf(e->message, sizeof e->message, "%s", ev->message);
	if (ev->type == KX_EV_REQUEST && l->ack0_clear && ev->api_key == 3)
		ev->expect_response = false;
	e->expect_response = ev->expect_response;
	if (l->stop_after > 0 && (int)l->n == l->stop_after)
		return 7;
	return 0;
}

void pt_log_free(pt_log *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
}

size_t pt_count(const pt_log *l, kx_event_type t)
{
	size_t c = 0;
	for (size_t i = 0; i < l->n; i++)
		c += l->v[i].type == t;
	return c;
}

const pt_ev *pt_nth(const pt_log *l, kx_event_type t, size_t k)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].type == t && k-- == 0)
			return &l->v[i];
	return NULL;
}

size_t pt_count_warn(const pt_log *l, kx_warning w)
{
	size_t c = 0;
	for (size_t i = 0; i < l->n; i++)
		c += l->v[i].type == KX_EV_WARNING && l->v[i].warning == w;
	return c;
}

void pt_log_dump(const pt_log *l)
{
	static const char *names[] = {"?", "OPEN", "CLOSE", "REQ", "RESP",
				      "GAP", "RESYNC", "WARN"};
	for (size_t i = 0; i < l->n; i++) {
		const pt_ev *e = &l->v[i];
		fprintf(stderr,
			"%3zu %-6s conn %llu dir %d pkt %llu off %llu len %zu "
			"key %d v%d corr %d paired %d bytes %llu %s\n",
			i, names[e->type], (unsigned long long)e->conn, e->dir,
			(unsigned long long)e->packet,
			(unsigned long long)e->stream_offset, e->frame_len,
			e->api_key, e->api_version, e->correlation_id,
			e->paired, (unsigned long long)e->bytes, e->message);
	}
}

static void be16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	be16(p, v >> 16);
	be16(p + 2, v & 0xffff);
}

uint8_t *pt_request(int16_t key, int16_t ver, int32_t corr,
		    const char *client_id, size_t body_len, size_t *n)
{
	size_t cl = client_id ? strlen(client_id) : 0;
	size_t size = 10 + cl + body_len;
	uint8_t *f = malloc(4 + size);
	ck_assert_ptr_nonnull(f);
	be32(f, (uint32_t)size);
	be16(f + 4, (unsigned)key);
	be16(f + 6, (unsigned)ver);
	be32(f + 8, (uint32_t)corr);
	be16(f + 12, client_id ? (unsigned)cl : 0xffff);
	memcpy(f + 14, client_id ? client_id : "", cl);
	for (size_t i = 0; i < body_len; i++)
		f[14 + cl + i] = (uint8_t)(corr * 31 + (int32_t)i);
	*n = 4 + size;
	return f;
}

uint8_t *pt_produce(int32_t corr, int16_t acks, size_t body_len, size_t *n)
{
	uint8_t *f = pt_request(0, 3, corr, "prod", body_len, n);
	uint8_t *b = f + 4 + 10 + 4;
	be16(b, 0xffff); /* transactional_id null */
	be16(b + 2, (unsigned)acks);
	return f;
}

uint8_t *pt_response(int32_t corr, size_t body_len, size_t *n)
{
	uint8_t *f = malloc(8 + body_len);
	ck_assert_ptr_nonnull(f);
	be32(f, (uint32_t)(4 + body_len));
	be32(f + 4, (uint32_t)corr);
	for (size_t i = 0; i < body_len; i++)
		f[8 + i] = (uint8_t)(corr * 17 + (int32_t)i);
	*n = 8 + body_len;
	return f;
}

void pt_buf_add(pt_buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

void pt_buf_free(pt_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Files made by pt_tmp, removed at exit (Check's forked test processes
 * exit normally). */
static char *tmp_made[1024];
static size_t ntmp_made;

static void tmp_cleanup(void)
{
	for (size_t i = 0; i < ntmp_made; i++) {
		unlink(tmp_made[i]);
		free(tmp_made[i]);
	}
	ntmp_made = 0;
}

const char *pt_tmp(const char *tag)
{
	static char paths[4][128];
	static unsigned next, seq;
	char *p = paths[next++ % 4];
	snprintf(p, sizeof paths[0], "/tmp/kx-test-%ld-%u-%s.pcap",
		 (long)getpid(), seq++, tag);
	if (!ntmp_made)
		atexit(tmp_cleanup);
	if (ntmp_made < sizeof tmp_made / sizeof tmp_made[0])
		tmp_made[ntmp_made++] = strdup(p);
	return p;
}

int pt_read(const char *path, const kx_reader_opts *opts, pt_log *log,
	    kx_stats *stats)
{
	kx_reader *r = kx_reader_new(opts, pt_collect, log);
	ck_assert_ptr_nonnull(r);
	int rc = kx_reader_open_file(r, path);
	if (rc == 0)
		rc = kx_reader_run(r);
	if (stats)
		*stats = *kx_reader_stats(r);
	kx_reader_free(r);
	return rc;
}

size_t pt_load(const char *path, pt_pkt **out, int *lt)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(
		path, PCAP_TSTAMP_PRECISION_NANO, eb);
	ck_assert_msg(pc != NULL, "%s: %s", path, eb);
	*lt = pcap_datalink(pc) == DLT_RAW ? KX_LINK_RAW : pcap_datalink(pc);
	pt_pkt *v = NULL;
	size_t n = 0;
	struct pcap_pkthdr *h;
	const u_char *d;
	while (pcap_next_ex(pc, &h, &d) == 1) {
		v = realloc(v, (n + 1) * sizeof *v);
		ck_assert_ptr_nonnull(v);
		v[n].data = malloc(h->caplen + 1);
		memcpy(v[n].data, d, h->caplen);
		v[n].caplen = h->caplen;
		v[n].wirelen = h->len;
		v[n].ts_ns = (int64_t)h->ts.tv_sec * 1000000000 + h->ts.tv_usec;
		n++;
	}
	pcap_close(pc);
	*out = v;
	return n;
}

void pt_pkts_free(pt_pkt *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].data);
	free(v);
}

int pt_feed(const pt_pkt *v, size_t n, int lt, const kx_reader_opts *opts,
	    pt_log *log, kx_stats *stats)
{
	kx_reader *r = kx_reader_new(opts, pt_collect, log);
	ck_assert_ptr_nonnull(r);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = kx_reader_packet(r, lt, v[i].ts_ns, v[i].data,
				      v[i].caplen, v[i].wirelen);
	if (!rc)
		rc = kx_reader_finish(r);
	if (stats)
		*stats = *kx_reader_stats(r);
	kx_reader_free(r);
	return rc;
}

/* ---- a synthesized conversation ------------------------------------ */

static const size_t conv_body_sizes[PT_NREQ] = {20, 3000, 5, 700, 1460, 64};

void pt_conv_make(pt_conv *cv)
{
	memset(cv, 0, sizeof *cv);
	for (int i = 0; i < PT_NREQ; i++) {
		size_t n;
		uint8_t *f = pt_request(i % 2 ? 3 : 18, i % 2 ? 5 : 2, i + 1,
					"kx-client", conv_body_sizes[i], &n);
		cv->req_off[i] = cv->c.n;
		cv->req_len[i] = n;
		cv->req_hash[i] = pt_hash(f + 4, n - 4);
		pt_buf_add(&cv->c, f, n);
		free(f);
		f = pt_response(i + 1, conv_body_sizes[(i + 3) % PT_NREQ], &n);
		cv->resp_off[i] = cv->b.n;
		cv->resp_len[i] = n;
		cv->resp_hash[i] = pt_hash(f + 4, n - 4);
		pt_buf_add(&cv->b, f, n);
		free(f);
	}
}

void pt_conv_free(pt_conv *cv)
{
	pt_buf_free(&cv->c);
	pt_buf_free(&cv->b);
}

void pt_write_segs(kx_pcapw *w, kx_pcapw_conn *c, uint32_t base,
		   const pt_buf *s, const pt_sg *v, size_t n, int64_t *ts)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = malloc(v[i].len + 1);
		if (v[i].junk)
			memset(p, 0xee, v[i].len);
		else
			memcpy(p, s->p + v[i].off, v[i].len);
		ck_assert_int_eq(kx_pcapw_segment(w, c, KX_TO_BROKER, (*ts)++,
						  base + (uint32_t)v[i].off,
						  KX_TCP_ACK | KX_TCP_PSH, p,
						  v[i].len),
				 0);
		free(p);
	}
}

/* Segments of at most mss covering the client stream in order. */
size_t pt_cut(const pt_conv *cv, size_t mss, pt_sg *v)
{
	size_t n = 0;
	for (size_t o = 0; o < cv->c.n; o += mss)
		v[n++] = (pt_sg){o, cv->c.n - o < mss ? cv->c.n - o : mss, false};
	return n;
}

/* One connection of the conversation into w: handshake, client segments
 * as given, then the broker's responses, then FIN (or RST). */
void pt_write_conn(kx_pcapw *w, const pt_conv *cv, const pt_sg *v, size_t n,
		   const pt_scen *sc, int64_t *ts)
{
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 4, pt_client4,
			   sc->client_port ? sc->client_port : 40000,
			   pt_broker4, 9092);
	if (sc->isn)
		c.seq[0] = sc->isn;
	if (!sc->no_handshake)
		ck_assert_int_eq(kx_pcapw_conn_open(w, &c, (*ts)++), 0);
	uint32_t base = c.seq[0];
	pt_write_segs(w, &c, base, &cv->c, v, n, ts);
	c.seq[0] = base + (uint32_t)cv->c.n;
	ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_CLIENT, (*ts)++,
					    cv->b.p, cv->b.n),
			 0);
	if (sc->rst)
		ck_assert_int_eq(kx_pcapw_segment(w, &c, KX_TO_BROKER, (*ts)++,
						  c.seq[0], KX_TCP_RST, NULL,
						  0),
				 0);
	else if (!sc->no_close)
		ck_assert_int_eq(kx_pcapw_conn_close(w, &c, (*ts)++), 0);
}

const char *pt_write_capture(const pt_conv *cv, const pt_sg *v, size_t n,
			     const pt_scen *sc)
{
	const char *path = pt_tmp("reasm");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	ck_assert_ptr_nonnull(w);
	int64_t ts = 1000000000;
	pt_write_conn(w, cv, v, n, sc, &ts);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	return path;
}

/* The requests and responses of connection conn are exactly those of cv
 * whose bit is set in mask, in order, paired. */
void pt_expect_frames(const pt_log *l, const pt_conv *cv, uint64_t conn,
		      unsigned mask)
{
	size_t ri = 0, si = 0;
	for (size_t i = 0; i < l->n; i++) {
		const pt_ev *e = &l->v[i];
		if (e->conn != conn)
			continue;
		if (e->type == KX_EV_REQUEST) {
			while (ri < PT_NREQ && !(mask & (1u << ri)))
				ri++;
			ck_assert_uint_lt(ri, PT_NREQ);
			ck_assert_int_eq(e->correlation_id, (int)ri + 1);
			ck_assert_uint_eq(e->frame_len, cv->req_len[ri] - 4);
			ck_assert_uint_eq(e->frame_hash, cv->req_hash[ri]);
			ck_assert_uint_eq(e->stream_offset, cv->req_off[ri]);
			ck_assert_str_eq(e->client_id, "kx-client");
			ck_assert_uint_eq(e->header_len, 10 + 9);
			ri++;
		} else if (e->type == KX_EV_RESPONSE) {
			while (si < PT_NREQ && !(mask & (1u << si)))
				si++;
			ck_assert_uint_lt(si, PT_NREQ);
			ck_assert_int_eq(e->correlation_id, (int)si + 1);
			ck_assert_uint_eq(e->frame_hash, cv->resp_hash[si]);
			ck_assert(e->paired);
			ck_assert_int_eq(e->api_key, si % 2 ? 3 : 18);
			ck_assert_int_eq(e->api_version, si % 2 ? 5 : 2);
			ck_assert_int_lt(e->request_ts_ns, e->ts_ns);
			si++;
		}
	}
	for (; ri < PT_NREQ; ri++)
		ck_assert(!(mask & (1u << ri)));
	for (; si < PT_NREQ; si++)
		ck_assert(!(mask & (1u << si)));
}
