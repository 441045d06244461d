/* kafkit-pcap's text lines. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "stats.h"
#include "text.h"

/* Lines are written piece by piece with hand-made numbers: a capture has
 * many lines, and printf's format parsing was most of their cost. */

/* v in decimal at the end of t[24]; returns where it starts. */
static char *dec(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void put_u64(FILE *out, uint64_t v)
{
	char t[24], *e = t + sizeof t, *p = dec(v, e);
	fwrite(p, 1, (size_t)(e - p), out);
}

static void put_i64(FILE *out, int64_t v)
{
	char t[24], *e = t + sizeof t;
	char *p = dec(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, e);
	if (v < 0)
		*--p = '-';
	fwrite(p, 1, (size_t)(e - p), out);
}

/* Two digits of v < 100 at p. */
static void two(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

void kx__fmt_time(int64_t ts_ns, char *buf, size_t n)
{
	time_t sec = (time_t)(ts_ns / 1000000000);
	long us = (long)(ts_ns % 1000000000 / 1000);
	if (us < 0) {
		us += 1000000;
		sec--;
	}
	/* consecutive packets share their second: one gmtime_r per second */
	static _Thread_local time_t last_sec = -1;
	static _Thread_local char hms[9];
	if (sec != last_sec || last_sec == -1) {
		struct tm tm;
		gmtime_r(&sec, &tm);
		two(hms, tm.tm_hour);
		hms[2] = ':';
		two(hms + 3, tm.tm_min);
		hms[5] = ':';
		two(hms + 6, tm.tm_sec);
		last_sec = sec;
	}
	char t[16];
	memcpy(t, hms, 8);
	t[8] = '.';
	for (int i = 14; i > 8; i--, us /= 10)
		t[i] = (char)('0' + us % 10);
	t[15] = 0;
	if (n) {
		size_t k = n - 1 < 15 ? n - 1 : 15;
		memcpy(buf, t, k);
		buf[k] = 0;
	}
}

static void prefix(FILE *out, const kx_event *ev, bool to_broker)
{
	char t[32], a[64] = "?", b[64] = "?";
	kx__fmt_time(ev->ts_ns, t, sizeof t);
	if (ev->conn) {
		kx_conn_addr(ev->conn, false, a, sizeof a);
		kx_conn_addr(ev->conn, true, b, sizeof b);
	}
	fputs(t, out);
	fputs(" #", out);
	put_u64(out, ev->conn ? ev->conn->id : 0);
	putc(' ', out);
	fputs(a, out);
	fputs(to_broker ? " -> " : " <- ", out);
	fputs(b, out);
}

static void str(FILE *out, kc_str s)
{
	if (s.len < 0) {
		fputs("null", out);
		return;
	}
	kx__put_bytes(out, (kc_bytes){(const uint8_t *)s.ptr, s.len}, KC_JSON_BYTES_TEXT);
}

static void produce_request(FILE *out, const kc_produce_request *p, int16_t version,
			    kx__recs *recs)
{
	fputs(" acks=", out);
	put_i64(out, p->acks);
	if (version >= 3 && p->transactional_id.len >= 0) {
		fputs(" txn=", out);
		str(out, p->transactional_id);
	}
	for (int32_t t = 0; t < p->topic_data_count; t++) {
		const kc_produce_request_topic_produce_data *td = &p->topic_data[t];
		for (int32_t k = 0; k < td->partition_data_count; k++) {
			kx__recsum s;
			kx__recs_summary(recs, td->partition_data[k].records, &s);
			putc(' ', out);
			/* as %.*s did: up to a NUL */
			if (td->name.len > 0)
				fwrite(td->name.ptr, 1, strnlen(td->name.ptr, (size_t)td->name.len),
				       out);
			putc('/', out);
			put_i64(out, td->partition_data[k].index);
			putc(':', out);
			put_i64(out, s.records);
			fputs("rec/", out);
			put_u64(out, s.wire_bytes);
			putc('B', out);
			if (s.magic >= 0 && s.magic < 2)
				fprintf(out, "(v%d)", s.magic);
			if (s.codec)
				fprintf(out, "(%s)", kx__codec_name(s.codec));
			if (s.bad_crc)
				fprintf(out, "(%d BAD-CRC)", (int)s.bad_crc);
			if (s.err)
				fprintf(out, "(! %s)", s.why);
		}
	}
}

static void produce_records(FILE *out, const kc_produce_request *p, kx__recs *recs)
{
	for (int32_t t = 0; t < p->topic_data_count; t++) {
		const kc_produce_request_topic_produce_data *td = &p->topic_data[t];
		for (int32_t k = 0; k < td->partition_data_count; k++) {
			fprintf(out, "  %.*s/%d\n", td->name.len > 0 ? (int)td->name.len : 0,
				td->name.len > 0 ? td->name.ptr : "",
				(int)td->partition_data[k].index);
			kx__recs_text(recs, out, td->partition_data[k].records, "    ");
		}
	}
}

static void fetch_records(FILE *out, const kc_fetch_response *f, kx__recs *recs)
{
	for (int32_t t = 0; t < f->responses_count; t++) {
		const kc_fetch_response_fetchable_topic_response *tr = &f->responses[t];
		for (int32_t k = 0; k < tr->partitions_count; k++) {
			const kc_fetch_response_partition_data *pd = &tr->partitions[k];
			if (pd->records.len <= 0)
				continue;
			fprintf(out, "  %.*s/%d\n", tr->topic.len > 0 ? (int)tr->topic.len : 0,
				tr->topic.len > 0 ? tr->topic.ptr : "", (int)pd->partition_index);
			kx__recs_text(recs, out, pd->records, "    ");
		}
	}
}

/* Error codes of a response, as " NAME(code)"; " ok" when all are 0. */
typedef struct err_line {
	FILE *out;
	int shown, zero;
} err_line;

static void on_err(int16_t code, kc_str topic, int32_t partition, void *opaque)
{
	err_line *e = opaque;
	if (code == 0) {
		e->zero++;
		return;
	}
	if (e->shown++ == 8) {
		fputs(" ...", e->out);
		return;
	}
	if (e->shown > 8)
		return;
	fputc(' ', e->out);
	if (topic.len >= 0)
		fprintf(e->out, "%.*s/%d=", (int)topic.len, topic.ptr, (int)partition);
	fprintf(e->out, "%s(%d)", kc_kafka_err_name(code), (int)code);
}

void kx__text_msg(FILE *out, const kx_event *ev, const kx__msg *m, kc_str client,
		  bool verbose, kx__recs *recs, kc_json *scratch)
{
	char nb[32];
	prefix(out, ev, m->request);
	if (m->api_key < 0) {
		fputs(" (unpaired response)", out);
	} else {
		putc(' ', out);
		fputs(kx__api_name(m->api_key, nb, sizeof nb), out);
		fputs(" v", out);
		put_i64(out, m->version);
	}
	fputs(m->request ? " req corr=" : " resp corr=", out);
	put_i64(out, m->correlation_id);
	fputs(" client=", out);
	str(out, m->request ? m->client_id : client);
	putc(' ', out);
	put_u64(out, ev->frame_len);
	putc('B', out);
	if (!m->request && ev->paired)
		fprintf(out, " %.3fms", (double)(ev->ts_ns - ev->request_ts_ns) / 1e6);
	if (m->body && m->request && m->api_key == KC_PRODUCE_REQUEST_API_KEY)
		produce_request(out, m->body, m->version, recs);
	if (m->body && !m->request) {
		err_line e = {out, 0, 0};
		kx__response_errors(scratch, m, on_err, &e);
		if (!e.shown)
			fputs(e.zero ? " ok" : "", out);
		if (m->v0_fallback)
			fputs(" (v0 body)", out);
	}
	if (m->raw_error_code >= 0)
		fprintf(out, " %s(%d)", kc_kafka_err_name(m->raw_error_code), (int)m->raw_error_code);
	if (m->err)
		fprintf(out, " ! %s: %s", kc_err_name(m->err), m->why);
	putc('\n', out);
	if (!verbose || !m->body)
		return;
	if (m->request && m->api_key == KC_PRODUCE_REQUEST_API_KEY)
		produce_records(out, m->body, recs);
	if (!m->request && m->api_key == KC_FETCH_REQUEST_API_KEY)
		fetch_records(out, m->body, recs);
}

static const char *dir_name(kx_dir d)
{
	return d == KX_TO_BROKER ? "->" : "<-";
}

void kx__text_event(FILE *out, const kx_event *ev)
{
	static const char *const reasons[] = {"?", "fin", "rst", "reused", "end of capture"};
	char t[32];
	switch (ev->type) {
	case KX_EV_CONN_OPEN:
		prefix(out, ev, true);
		fprintf(out, " connection open%s\n", ev->conn && ev->conn->saw_syn ? " (syn)" : "");
		return;
	case KX_EV_CONN_CLOSE:
		prefix(out, ev, true);
		fprintf(out, " connection closed (%s), %" PRIu64 " unanswered\n",
			reasons[ev->close_reason <= KX_CLOSE_END ? ev->close_reason : 0],
			ev->unanswered);
		return;
	case KX_EV_GAP:
		prefix(out, ev, ev->dir == KX_TO_BROKER);
		fprintf(out, " ! gap %s: %" PRIu64 " bytes missing at stream offset %" PRIu64 "\n",
			dir_name(ev->dir), ev->bytes, ev->stream_offset);
		return;
	case KX_EV_RESYNC:
		prefix(out, ev, ev->dir == KX_TO_BROKER);
		fprintf(out, " ! resync %s: %" PRIu64 " bytes skipped at stream offset %" PRIu64 "\n",
			dir_name(ev->dir), ev->bytes, ev->stream_offset);
		return;
	case KX_EV_WARNING:
		kx__fmt_time(ev->ts_ns, t, sizeof t);
		fprintf(out, "%s warning: %s\n", t, ev->message ? ev->message : "");
		return;
	default:
		return;
	}
}
