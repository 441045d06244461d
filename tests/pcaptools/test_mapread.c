/* The mapped reader (mapread.c) against libpcap (opts.use_libpcap): the
 * same events, statistics, errors and return values for every capture in
 * tests/data and for synthesized pcap and pcapng files (both byte orders,
 * nanosecond and other time resolutions, several interfaces and sections,
 * simple packet blocks, unknown blocks, captures cut at every byte of
 * their last record, corrupted lengths), through files and through the
 * buffer entry point, with and without a filter. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mapread.h"
#include "pcap_int.h"
#include "pcaptest.h"


/* What one read produced. */
typedef struct run {
	pt_log log;
	kx_stats st;
	int open_rc, rc, linktype;
	char err[512];
	bool mapped;     /* the mapped reader took the open */
	bool handed_off; /* it ended by handing the input to libpcap */
} run;

static void run_free(run *r)
{
	pt_log_free(&r->log);
}

/* Read path (or the n bytes at buf when buf is given) with opts, through
 * the mapped reader unless libpcap is asked for. */
static void read_one(const char *path, const uint8_t *buf, size_t n,
		     const kx_reader_opts *opts, bool libpcap, int stop_after,
		     run *out)
{
	memset(out, 0, sizeof *out);
	out->log.stop_after = stop_after;
	kx_reader_opts o = opts ? *opts : (kx_reader_opts){0};
	if (!o.broker_ports) {
		o.broker_ports = pt_broker_ports;
		o.nbroker_ports = PT_NBROKER_PORTS;
	}
	o.use_libpcap = libpcap;
	kx_reader *r = kx_reader_new(&o, pt_collect, &out->log);
	ck_assert_ptr_nonnull(r);
	out->open_rc = buf ? kx__reader_open_buf(r, buf, n)
			   : kx_reader_open_file(r, path);
	out->mapped = r->map != NULL;
	out->linktype = kx_reader_linktype(r);
	if (out->open_rc == 0) {
		out->rc = kx_reader_run(r);
		out->handed_off = out->mapped && r->map == NULL;
	}
	out->st = *kx_reader_stats(r);
	snprintf(out->err, sizeof out->err, "%s", kx_reader_error(r));
	kx_reader_free(r);
}

/* The two runs agree on everything observable. */
static void assert_same(const run *a, const run *b, const char *what)
{
	ck_assert_msg(a->open_rc == b->open_rc, "%s: open %d vs %d", what,
		      a->open_rc, b->open_rc);
	ck_assert_msg(a->rc == b->rc, "%s: run %d vs %d (%s | %s)", what,
		      a->rc, b->rc, a->err, b->err);
	ck_assert_msg(a->linktype == b->linktype, "%s: link type", what);
	ck_assert_msg(!strcmp(a->err, b->err), "%s: error \"%s\" vs \"%s\"",
		      what, a->err, b->err);
	ck_assert_msg(!memcmp(&a->st, &b->st, sizeof a->st), "%s: stats", what);
	ck_assert_msg(a->log.n == b->log.n, "%s: %zu events vs %zu", what,
		      a->log.n, b->log.n);
	for (size_t i = 0; i < a->log.n; i++)
		ck_assert_msg(!memcmp(&a->log.v[i], &b->log.v[i],
				      sizeof a->log.v[i]),
			      "%s: event %zu differs (type %d vs %d)", what, i,
			      a->log.v[i].type, b->log.v[i].type);
}

/* Mapped file, mapped buffer and libpcap file read path the same way;
 * returns how the mapped file read went in *m (caller frees). */
static void compare(const char *path, const kx_reader_opts *opts,
		    int stop_after, const char *what, run *m)
{
	run l, b;
	read_one(path, NULL, 0, opts, false, stop_after, m);
	read_one(path, NULL, 0, opts, true, stop_after, &l);
	ck_assert(!l.mapped);
	assert_same(m, &l, what);
	size_t n;
	uint8_t *buf = th_read_file(path, &n);
	/* a copy ending at a guard page: a read past the input crashes */
	uint8_t *g = th_guard_copy(buf, n);
	read_one(NULL, g, n, opts, false, stop_after, &b);
	/* libpcap names a buffer "buffer" where it names a file by its path:
	 * compare the rest */
	if (strcmp(b.err, m->err) && strstr(b.err, "buffer") == b.err)
		memcpy(b.err, m->err, sizeof b.err);
	assert_same(m, &b, what);
	ck_assert(b.mapped == m->mapped && b.handed_off == m->handed_off);
	th_guard_free(g, n);
	free(buf);
	run_free(&l);
	run_free(&b);
}

/* ---- capture writers ------------------------------------------------- */

typedef struct wr {
	pt_buf b;
	bool be; /* big-endian fields */
} wr;

static void put16(wr *w, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	if (w->be) {
		x[0] = (uint8_t)(v >> 8);
		x[1] = (uint8_t)v;
	}
	pt_buf_add(&w->b, x, 2);
}

static void put32(wr *w, uint32_t v)
{
	uint8_t x[4];
	for (int i = 0; i < 4; i++)
		x[w->be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
	pt_buf_add(&w->b, x, 4);
}

static void pad4(wr *w)
{
	static const uint8_t z[4];
	if (w->b.n % 4)
		pt_buf_add(&w->b, z, 4 - w->b.n % 4);
}

/* Patch a 32-bit field at off. */
static void set32(wr *w, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		w->b.p[off + (size_t)(w->be ? 3 - i : i)] = (uint8_t)(v >> (8 * i));
}

static void pcap_file(wr *w, const pt_pkt *v, size_t n, int lt, bool nano)
{
	put32(w, nano ? 0xa1b23c4du : 0xa1b2c3d4u);
	put16(w, 2);
	put16(w, 4);
	put32(w, 0);
	put32(w, 0);
	put32(w, 262144);
	put32(w, (uint32_t)lt);
	for (size_t i = 0; i < n; i++) {
		int64_t ts = v[i].ts_ns;
		put32(w, (uint32_t)(ts / 1000000000));
		put32(w, (uint32_t)(nano ? ts % 1000000000
					 : ts % 1000000000 / 1000));
		put32(w, (uint32_t)v[i].caplen);
		put32(w, (uint32_t)v[i].wirelen);
		pt_buf_add(&w->b, v[i].data, v[i].caplen);
	}
}

/* Start a block of type t; returns its offset for end_block. */
static size_t begin_block(wr *w, uint32_t t)
{
	size_t at = w->b.n;
	put32(w, t);
	put32(w, 0);
	return at;
}

static void end_block(wr *w, size_t at)
{
	pad4(w);
	uint32_t len = (uint32_t)(w->b.n + 4 - at);
	put32(w, len);
	set32(w, at + 4, len);
}

static void shb(wr *w)
{
	size_t at = begin_block(w, 0x0a0d0d0au);
	put32(w, 0x1a2b3c4du);
	put16(w, 1);
	put16(w, 0);
	put32(w, 0xffffffffu);
	put32(w, 0xffffffffu);
	end_block(w, at);
}

/* An IDB; tsresol 0: no option (microseconds). */
static void idb(wr *w, int lt, uint8_t tsresol)
{
	size_t at = begin_block(w, 1);
	put16(w, (uint16_t)lt);
	put16(w, 0);
	put32(w, 262144);
	/* an if_name option first, so options are walked */
	put16(w, 2);
	put16(w, 3);
	pt_buf_add(&w->b, "lo0", 3);
	pad4(w);
	if (tsresol) {
		put16(w, 9);
		put16(w, 1);
		pt_buf_add(&w->b, &tsresol, 1);
		pad4(w);
	}
	put16(w, 0);
	put16(w, 0);
	end_block(w, at);
}

static uint64_t ipow10(unsigned k)
{
	uint64_t r = 1;
	while (k--)
		r *= 10;
	return r;
}

static void epb(wr *w, uint32_t ifc, uint8_t tsresol, const pt_pkt *p)
{
	uint64_t res = ipow10(tsresol ? tsresol : 6);
	uint64_t t = (uint64_t)(p->ts_ns / 1000000000) * res +
		     (uint64_t)(p->ts_ns % 1000000000) * res / 1000000000u;
	size_t at = begin_block(w, 6);
	put32(w, ifc);
	put32(w, (uint32_t)(t >> 32));
	put32(w, (uint32_t)t);
	put32(w, (uint32_t)p->caplen);
	put32(w, (uint32_t)p->wirelen);
	pt_buf_add(&w->b, p->data, p->caplen);
	end_block(w, at);
}

static void spb(wr *w, const pt_pkt *p)
{
	size_t at = begin_block(w, 3);
	put32(w, (uint32_t)p->wirelen);
	pt_buf_add(&w->b, p->data, p->caplen);
	end_block(w, at);
}

static void unknown_block(wr *w)
{
	size_t at = begin_block(w, 0x40000bad);
	put32(w, 0x12345678);
	end_block(w, at);
}

typedef struct ng_shape {
	bool be;
	unsigned nifs;     /* interfaces per section (1 to 3) */
	uint8_t res[3];    /* if_tsresol per interface (0: none) */
	bool spb_every_5th;
	unsigned sections; /* the packets are split among this many */
	bool second_other_order; /* section 2 in the other byte order */
	int lt2;           /* nonzero: interface 1's link type */
} ng_shape;

static void pcapng_file(wr *w, const pt_pkt *v, size_t n, int lt,
			const ng_shape *sh)
{
	unsigned secs = sh->sections ? sh->sections : 1;
	size_t per = (n + secs - 1) / secs;
	for (unsigned s = 0; s < secs; s++) {
		w->be = s == 1 && sh->second_other_order ? !sh->be : sh->be;
		shb(w);
		unknown_block(w);
		for (unsigned i = 0; i < sh->nifs; i++)
			idb(w, i == 1 && sh->lt2 ? sh->lt2 : lt, sh->res[i]);
		for (size_t k = s * per; k < n && k < (s + 1) * per; k++) {
			if (sh->spb_every_5th && k % 5 == 4) {
				spb(w, &v[k]);
				continue;
			}
			uint32_t ifc = (uint32_t)(k % sh->nifs);
			epb(w, ifc, sh->res[ifc], &v[k]);
			if (k % 7 == 3)
				unknown_block(w);
		}
	}
}

static const char *write_tmp(const pt_buf *b, const char *tag)
{
	const char *path = pt_tmp(tag);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b->p, 1, b->n, f), b->n);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* Packets of a real capture to rewrite. */
static pt_pkt *pkts;
static size_t npkts;
static int pkts_lt;

static void load_pkts(void)
{
	npkts = pt_load(th_data_path("kcat-none.pcap"), &pkts, &pkts_lt);
	ck_assert_uint_gt(npkts, 20);
}

static void free_pkts(void)
{
	pt_pkts_free(pkts, npkts);
}

/* ---- tests ----------------------------------------------------------- */

START_TEST(data_captures)
{
	run m;
	compare(th_data_path(pt_captures[_i]), NULL, 0, pt_captures[_i], &m);
	ck_assert(m.mapped && !m.handed_off);
	ck_assert_int_eq(m.rc, 0);
	ck_assert_uint_gt(pt_count(&m.log, KX_EV_REQUEST), 0);
	run_free(&m);
	/* a filter, compiled for the mapped reader by libpcap */
	kx_reader_opts o = {.filter = "tcp and greater 200"};
	compare(th_data_path(pt_captures[_i]), &o, 0, pt_captures[_i], &m);
	ck_assert(m.mapped);
	run_free(&m);
	/* a callback's stop value ends both at the same event */
	compare(th_data_path(pt_captures[_i]), NULL, 5, pt_captures[_i], &m);
	ck_assert_int_eq(m.rc, 7);
	run_free(&m);
}
END_TEST

START_TEST(filter_drops_packets)
{
	kx_reader_opts o = {.filter = "greater 200"};
	run all, some;
	compare(th_data_path("kcat-none.pcap"), NULL, 0, "all", &all);
	compare(th_data_path("kcat-none.pcap"), &o, 0, "filtered", &some);
	ck_assert(some.mapped);
	ck_assert_uint_lt(some.st.packets, all.st.packets);
	ck_assert_uint_gt(some.st.packets, 0);
	run_free(&all);
	run_free(&some);
	/* a filter that does not compile: libpcap's own error, both ways */
	kx_reader_opts bad = {.filter = "tcp and and"};
	compare(th_data_path("kcat-none.pcap"), &bad, 0, "bad filter", &some);
	ck_assert_int_eq(some.open_rc, KX_ERR_FILTER);
	run_free(&some);
}
END_TEST

/* pcap in both byte orders, micro- and nanoseconds. */
START_TEST(pcap_variants)
{
	wr w = {.be = _i & 1};
	bool nano = _i & 2;
	pcap_file(&w, pkts, npkts, pkts_lt, nano);
	const char *path = write_tmp(&w.b, "var");
	run m;
	compare(path, NULL, 0, "pcap variant", &m);
	ck_assert(m.mapped && !m.handed_off);
	ck_assert_uint_eq(m.st.packets, npkts);
	/* the timestamps made it through the file's resolution */
	const pt_ev *e = pt_nth(&m.log, KX_EV_REQUEST, 0);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->ts_ns % 1000 == 0 || nano, 1);
	run_free(&m);
	pt_buf_free(&w.b);
}
END_TEST

/* A file many times the pager's read-ahead (pager.h): pages brought in
 * ahead of the reader and dropped behind it on the other thread, and every
 * packet still read as libpcap reads it. The packets repeat, so TCP sees
 * retransmissions: what matters is that both paths agree on all of it. */
START_TEST(large_file_paged)
{
	size_t reps = (12u << 20) / 9000 + 1;
	pt_pkt *many = malloc(reps * npkts * sizeof *many);
	ck_assert_ptr_nonnull(many);
	for (size_t r = 0; r < reps; r++)
		for (size_t i = 0; i < npkts; i++) {
			many[r * npkts + i] = pkts[i];
			many[r * npkts + i].ts_ns += (int64_t)r * 1000000000;
		}
	wr w = {.be = false};
	pcap_file(&w, many, reps * npkts, pkts_lt, false);
	ck_assert_uint_gt(w.b.n, 12u << 20);
	const char *path = write_tmp(&w.b, "large");
	run m;
	compare(path, NULL, 0, "large file", &m);
	ck_assert(m.mapped && !m.handed_off);
	ck_assert_uint_eq(m.st.packets, reps * npkts);
	run_free(&m);
	pt_buf_free(&w.b);
	free(many);
}
END_TEST

static const ng_shape shapes[] = {
	{.be = false, .nifs = 1},
	{.be = true, .nifs = 1},
	{.be = false, .nifs = 1, .res = {9}},
	{.be = true, .nifs = 1, .res = {9}},
	{.be = false, .nifs = 3, .res = {9, 0, 3}, .spb_every_5th = true},
	{.be = true, .nifs = 3, .res = {3, 9, 6}, .sections = 2},
	{.be = false, .nifs = 2, .res = {0, 9}, .sections = 3,
	 .spb_every_5th = true},
	/* left to libpcap: a section in the other byte order, a second
	 * interface of another link type */
	{.be = false, .nifs = 1, .sections = 2, .second_other_order = true},
	{.be = false, .nifs = 2, .lt2 = KX_LINK_RAW},
};

START_TEST(pcapng_variants)
{
	wr w = {0};
	pcapng_file(&w, pkts, npkts, pkts_lt, &shapes[_i]);
	const char *path = write_tmp(&w.b, "ng");
	run m;
	compare(path, NULL, 0, "pcapng variant", &m);
	ck_assert(m.mapped);
	if (_i < 7) {
		ck_assert(!m.handed_off);
		ck_assert_int_eq(m.rc, 0);
		ck_assert_uint_eq(m.st.packets, npkts);
		ck_assert_uint_gt(pt_count(&m.log, KX_EV_REQUEST), 0);
	} else {
		ck_assert(m.handed_off);
	}
	run_free(&m);
	pt_buf_free(&w.b);
}
END_TEST

/* Every length of the last record: a clean end, or libpcap's truncation
 * error after the same events. */
static void cut_everywhere(const pt_buf *b, size_t last, const char *tag)
{
	pt_buf c = {0};
	pt_buf_add(&c, b->p, b->n);
	for (size_t n = last; n < b->n; n++) {
		c.n = n;
		const char *path = write_tmp(&c, tag);
		run m;
		char what[64];
		snprintf(what, sizeof what, "%s cut at %zu", tag, n);
		compare(path, NULL, 0, what, &m);
		ck_assert(m.mapped);
		ck_assert_msg(n == last || m.rc == KX_ERR_IO, "%s: rc %d", what,
			      m.rc);
		run_free(&m);
	}
	pt_buf_free(&c);
}

START_TEST(pcap_cut)
{
	wr w = {.be = _i};
	size_t k = npkts > 12 ? 12 : npkts;
	pcap_file(&w, pkts, k - 1, pkts_lt, false);
	size_t last = w.b.n;
	w.b.n = 0;
	pcap_file(&w, pkts, k, pkts_lt, false);
	cut_everywhere(&w.b, last, "pcapcut");
	pt_buf_free(&w.b);
}
END_TEST

START_TEST(pcapng_cut)
{
	ng_shape sh = {.be = _i, .nifs = 2, .res = {9, 0}};
	wr w = {0};
	size_t k = npkts > 12 ? 12 : npkts;
	pcapng_file(&w, pkts, k - 1, pkts_lt, &sh);
	size_t last = w.b.n;
	w.b.n = 0;
	pcapng_file(&w, pkts, k, pkts_lt, &sh);
	cut_everywhere(&w.b, last, "ngcut");
	pt_buf_free(&w.b);
}
END_TEST

/* Corrupted lengths in the middle of a capture. */
START_TEST(corrupt_lengths)
{
	static const uint32_t bad[] = {0, 7, 13, 16, 0x10000, 0xfffffff0u,
				       0xffffffffu};
	for (int ng = 0; ng < 2; ng++) {
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			wr w = {.be = i & 1};
			size_t at;
			if (ng) {
				ng_shape sh = {.be = w.be, .nifs = 1};
				pcapng_file(&w, pkts, 6, pkts_lt, &sh);
				at = w.b.n;
				epb(&w, 0, 0, &pkts[6]);
				for (size_t k = 7; k < 10; k++)
					epb(&w, 0, 0, &pkts[k]);
				set32(&w, at + 4, bad[i]); /* block length */
			} else {
				pcap_file(&w, pkts, 10, pkts_lt, false);
				/* the 7th record's caplen */
				at = 24;
				for (size_t k = 0; k < 6; k++)
					at += 16 + pkts[k].caplen;
				set32(&w, at + 8, bad[i]);
			}
			const char *path = write_tmp(&w.b, "bad");
			run m;
			compare(path, NULL, 0, ng ? "pcapng bad length"
						  : "pcap bad length", &m);
			ck_assert(m.mapped);
			ck_assert_uint_ge(m.st.packets, 6);
			run_free(&m);
			pt_buf_free(&w.b);
		}
	}
}
END_TEST

/* Headers the mapped reader leaves to libpcap from the start. */
START_TEST(headers_left_to_libpcap)
{
	wr w = {0};
	pcap_file(&w, pkts, 4, pkts_lt, false);
	pt_buf c = {0};
	/* a header cut short, a version 2.3 header; then an unknown link
	 * type, not a capture at all, an empty file */
	static const size_t cuts[] = {10, 0};
	for (size_t i = 0; i < 2; i++) {
		c.n = 0;
		pt_buf_add(&c, w.b.p, cuts[i] ? cuts[i] : w.b.n);
		if (!cuts[i])
			c.p[6] = 3;
		run m;
		compare(write_tmp(&c, "hdr"), NULL, 0, "header", &m);
		ck_assert(!m.mapped);
		run_free(&m);
	}
	c.n = 0;
	pt_buf_add(&c, w.b.p, w.b.n);
	c.p[20] = 147; /* LINKTYPE_USER0 */
	run m;
	compare(write_tmp(&c, "lt"), NULL, 0, "link type", &m);
	ck_assert(!m.mapped);
	ck_assert_int_eq(m.open_rc, KX_ERR_LINKTYPE);
	run_free(&m);
	c.n = 0;
	pt_buf_add(&c, "hello, not a capture at all\n", 28);
	compare(write_tmp(&c, "txt"), NULL, 0, "text", &m);
	ck_assert(!m.mapped);
	ck_assert_int_eq(m.open_rc, KX_ERR_IO);
	run_free(&m);
	c.n = 0;
	compare(write_tmp(&c, "empty"), NULL, 0, "empty", &m);
	ck_assert(!m.mapped);
	run_free(&m);
	pt_buf_free(&c);
	pt_buf_free(&w.b);
}
END_TEST

/* Every allocation of a mapped read can fail: a clean KX_ERR_NOMEM, no
 * leak, and once none fails the full result. */
START_TEST(allocation_failures)
{
	ng_shape sh = {.be = true, .nifs = 3, .res = {9, 0, 3}, .sections = 2};
	wr w = {0};
	pcapng_file(&w, pkts, npkts, pkts_lt, &sh);
	const char *path = write_tmp(&w.b, "nomem");
	run full;
	read_one(path, NULL, 0, NULL, false, 0, &full);
	ck_assert(full.mapped && !full.handed_off);
	int nomem = 0;
	for (unsigned long n = 1;; n++) {
		th_alloc_fail_at(n);
		kx_reader_opts o = {.broker_ports = pt_broker_ports,
				    .nbroker_ports = PT_NBROKER_PORTS};
		pt_log log = {0};
		kx_reader *r = kx_reader_new(&o, pt_collect, &log);
		int rc = KX_ERR_NOMEM;
		if (r) {
			rc = kx_reader_open_file(r, path);
			if (rc == 0)
				rc = kx_reader_run(r);
			kx_reader_free(r);
		}
		unsigned long made = th_alloc_count();
		ck_assert_int_eq(th_alloc_live(), 0);
		th_alloc_reset();
		if (made < n) {
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(log.n, full.log.n);
			pt_log_free(&log);
			break;
		}
		ck_assert_msg(rc == KX_ERR_NOMEM, "allocation %lu: rc %d", n,
			      rc);
		nomem++;
		pt_log_free(&log);
	}
	ck_assert_int_gt(nomem, 3);
	run_free(&full);
	pt_buf_free(&w.b);
}
END_TEST

/* stdin is never mapped; a second open is refused either way. */
START_TEST(state_errors)
{
	kx_reader *r = kx_reader_new(NULL, pt_collect, &(pt_log){0});
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(kx_reader_open_file(r, th_data_path("kcat-none.pcap")),
			 0);
	ck_assert_ptr_nonnull(r->map);
	ck_assert_int_eq(kx_reader_open_file(r, th_data_path("kcat-none.pcap")),
			 KX_ERR_STATE);
	uint8_t one = 0;
	ck_assert_int_eq(kx__reader_open_buf(r, &one, 1), KX_ERR_STATE);
	kx_reader_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pcaptools_mapread");
	TCase *tc = tcase_create("mapread");
	tcase_add_unchecked_fixture(tc, load_pkts, free_pkts);
	tcase_set_timeout(tc, 120);
	size_t n = pt_ncaptures;
	tcase_add_loop_test(tc, data_captures, 0, (int)n);
	tcase_add_test(tc, filter_drops_packets);
	tcase_add_loop_test(tc, pcap_variants, 0, 4);
	tcase_add_loop_test(tc, pcapng_variants, 0,
			    (int)(sizeof shapes / sizeof shapes[0]));
	tcase_add_loop_test(tc, pcap_cut, 0, 2);
	tcase_add_loop_test(tc, pcapng_cut, 0, 2);
	tcase_add_test(tc, corrupt_lengths);
	tcase_add_test(tc, large_file_paged);
	tcase_add_test(tc, headers_left_to_libpcap);
	tcase_add_test(tc, allocation_failures);
	tcase_add_test(tc, state_errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
