/* kafkit-pcap against tshark, and on synthesized captures. A cross-check
 * runs tshark 4.0 on the captures of tests/data: the frames, api keys,
 * versions, correlation ids, topics, partitions and record counts tshark
 * decodes correctly are ours too; where tshark is wrong (legacy
 * MessageSets, Produce v9+) the test asserts it and says why we are right.
 * Captures written here (kx_pcapw): Produce v8-v11, and packets cut by a
 * small snapshot length. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "helpers.h"
#include "kafkit/codec.h"
#include "kafkit/pcap.h"
#include "opts.h"
#include "recfmt.h"
#include "tool.h"

static int count(const char *s, const char *what)
{
	int n = 0;
	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

typedef struct result {
	int code;
	char *out, *err;
	size_t nout, nerr;
} result;

/* kafkit-pcap -r path [extra] in process. */
static result run(const char *path, const char *extra)
{
	char *argv[] = {(char *)"kafkit-pcap", (char *)"-r", (char *)path, (char *)extra, NULL};
	kx__opts o;
	char why[256];
	result r = {0};
	ck_assert_int_eq(kx__opts_parse(&o, extra ? 4 : 3, argv, why, sizeof why), 0);
	FILE *out = open_memstream(&r.out, &r.nout), *err = open_memstream(&r.err, &r.nerr);
	r.code = kx__tool_run(&o, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static void result_free(result *r)
{
	free(r->out);
	free(r->err);
}

/* A Produce request of `nrec` records at `version` as a whole frame. */
static void produce_frame(kc_writer *w, int16_t version, int32_t corr, int nrec)
{
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	kc_batch_builder b;
	ck_assert_int_eq(kc_batch_builder_init(&b, &cfg), KC_OK);
	for (int i = 0; i < nrec; i++) {
		char k[16], v[32];
		snprintf(k, sizeof k, "k%d", i);
		snprintf(v, sizeof v, "value-%d", i);
		ck_assert_int_eq(kc_batch_append(&b, 1700000000000 + i, th_bstr(k), th_bstr(v),
						 NULL, 0),
				 KC_OK);
	}
	const uint8_t *p;
	size_t len;
	ck_assert_int_eq(kc_batch_seal(&b, &p, &len), KC_OK);
	kc_produce_request req;
	kc_produce_request_topic_produce_data td;
	kc_produce_request_partition_produce_data pd;
	kc_produce_request_init(&req);
	kc_produce_request_topic_produce_data_init(&td);
	kc_produce_request_partition_produce_data_init(&pd);
	req.acks = 1;
	req.timeout_ms = 1000;
	pd.index = 2;
	pd.records = (kc_bytes){p, (int32_t)len};
	td.name = KC_STR_LIT("topic-a");
	td.partition_data = &pd;
	td.partition_data_count = 1;
	req.topic_data = &td;
	req.topic_data_count = 1;
	ck_assert_int_eq(kc_request_frame_encode(w, 0, version, corr, KC_STR_LIT("me"), &req),
			 KC_OK);
	kc_batch_builder_free(&b);
}

/* Write a capture with one Produce request per version in vers, each
 * answered, on port 9092, with snaplen (0: whole packets). */
static void write_capture(const char *path, const int16_t *vers, int n, uint32_t snaplen)
{
	kx_pcapw_opts o = {0};
	o.snaplen = snaplen;
	int err = 0;
	kx_pcapw *w = kx_pcapw_open(path, &o, &err);
	ck_assert_ptr_nonnull(w);
	static const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 4, a, 40000, b, 9092);
	int64_t t = 1700000000000000000;
	ck_assert_int_eq(kx_pcapw_conn_open(w, &c, t), 0);
	for (int i = 0; i < n; i++) {
		kc_writer fw;
		kc_writer_init(&fw);
		produce_frame(&fw, vers[i], i + 1, 20);
		ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_BROKER, t += 1000000,
						    kc_writer_data(&fw), kc_writer_pos(&fw)),
				 0);
		kc_writer_free(&fw);
		kc_produce_response rsp;
		kc_produce_response_init(&rsp);
		rsp.responses_count = 0;
		kc_writer_init(&fw);
		ck_assert_int_eq(kc_response_frame_encode(&fw, 0, vers[i], i + 1, &rsp), KC_OK);
		ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_CLIENT, t += 2000000,
						    kc_writer_data(&fw), kc_writer_pos(&fw)),
				 0);
		kc_writer_free(&fw);
	}
	ck_assert_int_eq(kx_pcapw_conn_close(w, &c, t += 1000), 0);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
}

/* Packets cut by a small snapshot length: warnings, gaps, no crash, and
 * the run still ends normally. */
START_TEST(snaplen_cut)
{
	char path[] = "/tmp/kafkit-pcap-snapXXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	static const int16_t vers[] = {3, 7, 9, 11};
	write_capture(path, vers, 4, 120);
	result r = run(path, NULL);
	ck_assert_int_eq(r.code, KX__EXIT_OK);
	ck_assert_ptr_nonnull(strstr(r.err, "warning: "));
	ck_assert_ptr_nonnull(strstr(r.err, "packets cut by the snapshot length"));
	result_free(&r);
	r = run(path, "--json");
	ck_assert_int_eq(r.code, KX__EXIT_OK);
	ck_assert_int_gt(count(r.out, "\"kind\":\"truncated\""), 0);
	result_free(&r);
	unlink(path);
}
END_TEST

/* ---- tshark ------------------------------------------------------------------- */

/* One request or response, as we or tshark see it. */
typedef struct frame {
	unsigned long packet;
	int key, version; /* version -1: not shown (tshark's responses) */
	long corr;
	char topics[128];     /* comma-separated, as tshark prints them */
	char partitions[128];
	int records;          /* Produce requests: records (tshark: values) */
	bool malformed;
} frame;

typedef struct frames {
	frame v[256];
	int n;
	uint16_t ports[8];
	int nports;
	kc_arena arena;
	kx__recs recs;
} frames;

static void add_port(frames *f, uint16_t port)
{
	for (int i = 0; i < f->nports; i++)
		if (f->ports[i] == port)
			return;
	ck_assert_int_lt(f->nports, 8);
	f->ports[f->nports++] = port;
}

static void append(char *s, size_t n, const char *fmt, long v, const char *str, int len)
{
	size_t l = strlen(s);
	if (str)
		snprintf(s + l, n - l, "%s%.*s", l ? "," : "", len, str);
	else
		snprintf(s + l, n - l, fmt, l ? "," : "", v);
}

static int ours_cb(kx_event *ev, void *opaque)
{
	frames *f = opaque;
	if (ev->type != KX_EV_REQUEST && ev->type != KX_EV_RESPONSE)
		return 0;
	add_port(f, ev->conn->broker_port);
	ck_assert_int_lt(f->n, 256);
	frame *fr = &f->v[f->n++];
	memset(fr, 0, sizeof *fr);
	fr->packet = ev->packet;
	fr->key = ev->api_key;
	fr->version = ev->type == KX_EV_REQUEST ? ev->api_version : -1;
	fr->corr = ev->correlation_id;
	kx__msg m;
	kc_arena_reset(&f->arena);
	kx__msg_decode(&m, ev, &f->arena);
	if (!m.body || m.api_key != 0)
		return 0;
	if (m.request) {
		const kc_produce_request *p = m.body;
		for (int32_t t = 0; t < p->topic_data_count; t++) {
			append(fr->topics, sizeof fr->topics, NULL, 0, p->topic_data[t].name.ptr,
			       p->topic_data[t].name.len);
			for (int32_t k = 0; k < p->topic_data[t].partition_data_count; k++) {
				append(fr->partitions, sizeof fr->partitions, "%s%ld",
				       p->topic_data[t].partition_data[k].index, NULL, 0);
				kx__recsum s;
				ck_assert_int_eq(kx__recs_summary(&f->recs,
								  p->topic_data[t].partition_data[k].records,
								  &s),
						 KC_OK);
				fr->records += (int)s.records;
			}
		}
	} else {
		const kc_produce_response *p = m.body;
		for (int32_t t = 0; t < p->responses_count; t++) {
			append(fr->topics, sizeof fr->topics, NULL, 0, p->responses[t].name.ptr,
			       p->responses[t].name.len);
			for (int32_t k = 0; k < p->responses[t].partition_responses_count; k++)
				append(fr->partitions, sizeof fr->partitions, "%s%ld",
				       p->responses[t].partition_responses[k].index, NULL, 0);
		}
	}
	return 0;
}

static void ours(const char *path, frames *f, bool any)
{
	memset(f, 0, sizeof *f);
	kc_arena_init(&f->arena);
	kx__recs_init(&f->recs, KC_JSON_BYTES_HEX);
	kx_reader_opts o = {0};
	o.detect_any_port = any;
	kx_reader *r = kx_reader_new(&o, ours_cb, f);
	ck_assert_int_eq(kx_reader_open_file(r, path), 0);
	ck_assert_int_eq(kx_reader_run(r), 0);
	kx_reader_free(r);
	kc_arena_free(&f->arena);
	kx__recs_free(&f->recs);
}

/* Split tshark's '|'-separated line into n fields (in place). */
static int split(char *line, char **fld, int n)
{
	int k = 0;
	line[strcspn(line, "\n")] = '\0';
	for (char *p = line; k < n; k++) {
		fld[k] = p;
		char *bar = strchr(p, '|');
		if (!bar) {
			k++;
			break;
		}
		*bar = '\0';
		p = bar + 1;
	}
	return k;
}

/* tshark's view of the Kafka frames, decoded as Kafka on our ports. */
static void theirs(const char *path, const frames *ports, frames *f)
{
	memset(f, 0, sizeof *f);
	char cmd[2048];
	int n = snprintf(cmd, sizeof cmd, "/usr/bin/tshark -n -r '%s'", path);
	for (int i = 0; i < ports->nports; i++)
		n += snprintf(cmd + n, sizeof cmd - (size_t)n, " -d tcp.port==%u,kafka",
			      (unsigned)ports->ports[i]);
	snprintf(cmd + n, sizeof cmd - (size_t)n,
		 " -T fields -E separator='|' -e frame.number -e kafka.api_key"
		 " -e kafka.api_version -e kafka.correlation_id -e kafka.topic_name"
		 " -e kafka.partition_id -e kafka.message_value -e _ws.malformed"
		 " -e kafka.request_frame 2>/dev/null");
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	static char line[1 << 16];
	while (fgets(line, sizeof line, p)) {
		char *fl[9];
		ck_assert_int_eq(split(line, fl, 9), 9);
		if (!*fl[3])
			continue; /* not a Kafka frame (handshakes, acks) */
		ck_assert_int_lt(f->n, 256);
		frame *fr = &f->v[f->n++];
		memset(fr, 0, sizeof *fr);
		fr->packet = strtoul(fl[0], NULL, 10);
		fr->key = atoi(fl[1]);
		fr->version = *fl[2] ? atoi(fl[2]) : -1;
		fr->corr = strtol(fl[3], NULL, 10);
		snprintf(fr->topics, sizeof fr->topics, "%s", fl[4]);
		snprintf(fr->partitions, sizeof fr->partitions, "%s", fl[5]);
		fr->records = *fl[6] ? 1 + count(fl[6], ",") : 0;
		fr->malformed = *fl[7] != '\0';
	}
	ck_assert_int_eq(pclose(p), 0);
}

START_TEST(tshark_agrees)
{
	/* the captures tshark 4.0 decodes correctly: RecordBatch v2 */
	static const char *const files[] = {"kcat-none.pcap",	 "kcat-gzip.pcap",
					    "kcat-snappy.pcap",	 "kcat-lz4.pcap",
					    "kcat-zstd.pcap",	 "kpy-0.11.0-none.pcap",
					    "kpy-0.11.0-gzip.pcap"};
	const char *path = th_data_path(files[_i]);
	frames *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	ours(path, a, true);
	theirs(path, a, b);
	ck_assert_int_ge(a->n, 8);
	/* tshark marks librdkafka's mock refusals of ApiVersions v3 (its
	 * count says one entry in a non-compact array) malformed, as our
	 * codec rejects their bodies; every other frame it reads cleanly. */
	ck_assert_int_eq(b->n, a->n);
	for (int i = 0; i < a->n; i++) {
		frame *x = &a->v[i], *y = &b->v[i];
		ck_assert_uint_eq(x->packet, y->packet);
		ck_assert_int_eq(x->key, y->key);
		ck_assert_int_eq(x->version, y->version);
		ck_assert_int_eq(x->corr, y->corr);
		if (x->key != 0)
			continue;
		ck_assert_msg(!y->malformed, "%s frame %lu", files[_i], y->packet);
		ck_assert_str_eq(x->topics, y->topics);
		ck_assert_str_eq(x->partitions, y->partitions);
		ck_assert_int_eq(x->records, y->records);
	}
	free(a);
	free(b);
}
END_TEST

/* Legacy MessageSets: tshark 4.0 misreads them, we do not. Our counts are
 * the clients' records (checked one by one in test_format.c). */
START_TEST(tshark_legacy_wrong)
{
	static const char *const files[] = {"kpy-0.9-none.pcap", "kpy-0.9-gzip.pcap",
					    "kpy-0.10.0-none.pcap", "kpy-0.10.0-gzip.pcap"};
	const char *path = th_data_path(files[_i]);
	frames *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	ours(path, a, true);
	theirs(path, a, b);
	int ours_total = 0, wrong = 0;
	for (int i = 0; i < a->n; i++) {
		frame *x = &a->v[i];
		if (x->key != 0 || x->version < 0)
			continue;
		ours_total += x->records;
		for (int k = 0; k < b->n; k++) {
			frame *y = &b->v[k];
			if (y->packet != x->packet)
				continue;
			/* the frame itself is found: same header */
			ck_assert_int_eq(y->key, 0);
			ck_assert_int_eq(y->version, x->version);
			ck_assert_int_eq(y->corr, x->corr);
			/* but its records are not: tshark 4.0 reads a MessageSet
			 * as if the first message's value ran to the end of the
			 * set (uncompressed v0: one "value" holding the following
			 * messages, then Malformed), and does not open v1 gzip
			 * wrappers, so its value count differs from the records
			 * the client sent, which we count exactly */
			if (y->malformed || y->records != x->records)
				wrong++;
		}
	}
	ck_assert_int_eq(ours_total, 50);
	ck_assert_int_gt(wrong, 0);
	free(a);
	free(b);
}
END_TEST

/* Produce v9+ (flexible versions, KIP-482): tshark 4.0 stops at v8 and
 * shows no topic or records; we decode every field. */
START_TEST(tshark_produce_flexible)
{
	char path[] = "/tmp/kafkit-pcap-v9XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	static const int16_t vers[] = {8, 9, 10, 11};
	write_capture(path, vers, 4, 0);
	frames *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	ours(path, a, false);
	theirs(path, a, b);
	ck_assert_int_eq(a->n, 8);
	for (int i = 0; i < a->n; i += 2) {
		ck_assert_int_eq(a->v[i].version, vers[i / 2]);
		ck_assert_str_eq(a->v[i].topics, "topic-a");
		ck_assert_str_eq(a->v[i].partitions, "2");
		ck_assert_int_eq(a->v[i].records, 20);
	}
	int v8 = -1, flexible_wrong = 0;
	for (int k = 0; k < b->n; k++) {
		frame *y = &b->v[k];
		if (y->version == 8) {
			/* v8 and below: tshark agrees */
			v8 = k;
			ck_assert_str_eq(y->topics, "topic-a");
			ck_assert_int_eq(y->records, 20);
		} else if (y->version >= 9) {
			flexible_wrong += strcmp(y->topics, "topic-a") != 0 || y->records != 20;
		}
	}
	ck_assert_int_ge(v8, 0);
	ck_assert_int_eq(flexible_wrong, 3);
	free(a);
	free(b);
	unlink(path);
}
END_TEST

static Suite *tshark_suite(void)
{
	Suite *s = suite_create("pcaptools_tool_tshark");
	TCase *tc = tcase_create("tshark");
	tcase_set_timeout(tc, 200);
	tcase_add_test(tc, snaplen_cut);
	tcase_add_loop_test(tc, tshark_agrees, 0, 7);
	tcase_add_loop_test(tc, tshark_legacy_wrong, 0, 4);
	tcase_add_test(tc, tshark_produce_flexible);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tshark_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
