/* kafkit-pcap's formats on the real captures of tests/data: frames decode,
 * the records rendered (JSON and text) are exactly what the clients sent,
 * every CRC verifies, legacy MessageSet v0/v1 included; a corrupted batch
 * shows a bad CRC instead of hiding it; NDJSON lines are valid JSON.
 * test_format_unit.c has the synthetic cases. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "helpers.h"
#include "kafkit/codec.h"
#include "kafkit/pcap.h"
#include "ndjson.h"
#include "recfmt.h"
#include "text.h"

/* ---- the captures ----------------------------------------------------------- */

enum { KCAT, KPY };

typedef struct capture_case {
	const char *file;
	int client;
	int magic;
	int codec;
	int16_t produce_error; /* every Produce response partition says it */
} capture_case;

/* As tests/codec/test_captures.c: kcat (librdkafka 2.0.2) sends key<i> =
 * value-<i> for i in 1..200, kafka-python k<i> = value-<i> for 0..49; the
 * mock refuses kafka-python's Produce v1/v2 with 35 UNSUPPORTED_VERSION. */
static const capture_case cases[] = {
	{"kcat-none.pcap", KCAT, 2, KC_CODEC_NONE, 0},
	{"kcat-gzip.pcap", KCAT, 2, KC_CODEC_GZIP, 0},
	{"kcat-snappy.pcap", KCAT, 2, KC_CODEC_SNAPPY, 0},
	{"kcat-lz4.pcap", KCAT, 2, KC_CODEC_LZ4, 0},
	{"kcat-zstd.pcap", KCAT, 2, KC_CODEC_ZSTD, 0},
	{"kpy-0.9-none.pcap", KPY, 0, KC_CODEC_NONE, 35},
	{"kpy-0.9-gzip.pcap", KPY, 0, KC_CODEC_GZIP, 35},
	{"kpy-0.10.0-none.pcap", KPY, 1, KC_CODEC_NONE, 35},
	{"kpy-0.10.0-gzip.pcap", KPY, 1, KC_CODEC_GZIP, 35},
	{"kpy-0.11.0-none.pcap", KPY, 2, KC_CODEC_NONE, 0},
	{"kpy-0.11.0-gzip.pcap", KPY, 2, KC_CODEC_GZIP, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))
#define MAXREC 200

/* Run a capture through a reader (any port: the captures use the mock's
 * random ports) into cb. */
static void each_event(const char *file, kx_event_cb cb, void *opaque)
{
	kx_reader_opts o = {0};
	o.detect_any_port = true;
	kx_reader *r = kx_reader_new(&o, cb, opaque);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(kx_reader_open_file(r, th_data_path(file)), 0);
	ck_assert_int_eq(kx_reader_run(r), 0);
	kx_reader_free(r);
}

/* ---- a strict JSON checker ---------------------------------------------------- */

static const char *jv(const char *p, const char *e, int d);

static const char *jws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\n'))
		p++;
	return p;
}

static const char *jstr(const char *p, const char *e)
{
	if (p >= e || *p != '"')
		return NULL;
	for (p++; p < e && *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			if (++p >= e || !strchr("\"\\/bfnrtu", *p))
				return NULL;
			if (*p == 'u')
				for (int i = 0; i < 4; i++)
					if (++p >= e || !strchr("0123456789abcdefABCDEF", *p))
						return NULL;
		}
	}
	return p < e ? p + 1 : NULL;
}

static const char *jv(const char *p, const char *e, int d)
{
	p = jws(p, e);
	if (p >= e || d > 64)
		return NULL;
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';
		p = jws(p + 1, e);
		if (p < e && *p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = jstr(jws(p, e), e);
				if (!p || (p = jws(p, e)) >= e || *p++ != ':')
					return NULL;
			}
			if (!(p = jv(p, e, d + 1)) || (p = jws(p, e)) >= e)
				return NULL;
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return jstr(p, e);
	static const char *const lits[] = {"true", "false", "null"};
	for (int i = 0; i < 3; i++)
		if ((size_t)(e - p) >= strlen(lits[i]) && !memcmp(p, lits[i], strlen(lits[i])))
			return p + strlen(lits[i]);
	char *end;
	strtod(p, &end);
	return end > p && end <= e ? end : NULL;
}

/* Each line of buf one valid JSON document. Returns the line count. */
static int ndjson_lines(const char *buf, size_t n)
{
	int lines = 0;
	const char *p = buf, *e = buf + n;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		ck_assert_ptr_nonnull(nl);
		const char *q = jv(p, nl, 0);
		ck_assert_msg(q == nl, "invalid JSON line: %.*s", (int)(nl - p), p);
		p = nl + 1;
		lines++;
	}
	return lines;
}

/* ---- records equal what the clients sent ---------------------------------------- */

typedef struct census {
	const capture_case *cc;
	kx__recs recs;
	kc_json j;
	kc_arena arena;
	int seen[MAXREC + 1];
	int partition[MAXREC + 1];
	long total, batches, requests, responses, refusals;
} census;

/* "<prefix><i>" inside a JSON string starting at p; -1 otherwise. */
static int numbered(const char *p, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (strncmp(p, prefix, pl))
		return -1;
	char *end;
	long v = strtol(p + pl, &end, 10);
	return *end == '"' && end > p + pl ? (int)v : -1;
}

/* Walk the JSON of one partition's records (text bytes mode). */
static void census_json(census *c, int32_t partition, const char *js)
{
	int max = c->cc->client == KCAT ? MAXREC : 49;
	ck_assert_ptr_null(strstr(js, "\"crcOk\":false"));
	ck_assert_ptr_nonnull(strstr(js, "\"error\":null}"));
	char magic[16];
	snprintf(magic, sizeof magic, "\"magic\":%d,", c->cc->magic);
	for (const char *p = strstr(js, "\"magic\":"); p; p = strstr(p + 1, "\"magic\":")) {
		ck_assert_msg(!strncmp(p, magic, strlen(magic)), "%s: %.12s", c->cc->file, p);
		c->batches++;
	}
	for (const char *p = strstr(js, "{\"offset\":"); p; p = strstr(p + 1, "{\"offset\":")) {
		const char *k = strstr(p, "\"key\":\""), *v = strstr(p, "\"value\":\"");
		const char *ts = strstr(p, "\"timestamp\":");
		ck_assert(k && v && ts);
		int ki = numbered(k + 7, c->cc->client == KCAT ? "key" : "k");
		int vi = numbered(v + 9, "value-");
		ck_assert_msg(ki == vi && ki >= (c->cc->client == KCAT) && ki <= max,
			      "%s: record %.20s %.20s", c->cc->file, k, v);
		long long t = strtoll(ts + 12, NULL, 10);
		if (c->cc->magic == 0)
			ck_assert_int_eq(t, -1);
		else
			ck_assert_int_gt(t, 1500000000000LL);
		if (c->seen[ki]++)
			ck_assert_int_eq(c->partition[ki], partition);
		c->partition[ki] = partition;
		c->total++;
	}
}

static int census_cb(kx_event *ev, void *opaque)
{
	census *c = opaque;
	if (ev->type != KX_EV_REQUEST && ev->type != KX_EV_RESPONSE)
		return 0;
	kx__msg m;
	kc_arena_reset(&c->arena);
	kc_err e = kx__msg_decode(&m, ev, &c->arena);
	if (ev->type == KX_EV_RESPONSE) {
		c->responses++;
		ck_assert(ev->paired);
		if (e != KC_OK) {
			/* librdkafka's mock refusing ApiVersions v3: neither v3
			 * nor v0, but its error code stays readable */
			ck_assert_int_eq(m.api_key, 18);
			ck_assert_int_eq(m.version, 3);
			ck_assert_int_eq(m.raw_error_code, 35);
			c->refusals++;
			return 0;
		}
		if (m.api_key == 0) {
			const kc_produce_response *r = m.body;
			for (int32_t t = 0; t < r->responses_count; t++)
				for (int32_t k = 0; k < r->responses[t].partition_responses_count; k++)
					ck_assert_int_eq(r->responses[t].partition_responses[k].error_code,
							 c->cc->produce_error);
		}
		return 0;
	}
	c->requests++;
	ck_assert_msg(e == KC_OK, "%s packet %llu: %s", c->cc->file,
		      (unsigned long long)ev->packet, m.why);
	ck_assert(kc_str_eq(m.client_id, c->cc->client == KCAT
						 ? KC_STR_LIT("rdkafka")
						 : KC_STR_LIT("kafka-python-producer-1")));
	if (m.api_key != 0)
		return 0;
	const kc_produce_request *p = m.body;
	for (int32_t t = 0; t < p->topic_data_count; t++) {
		ck_assert(kc_str_eq(p->topic_data[t].name, KC_STR_LIT("t1")));
		for (int32_t k = 0; k < p->topic_data[t].partition_data_count; k++) {
			const kc_produce_request_partition_produce_data *pd =
				&p->topic_data[t].partition_data[k];
			kx__recsum s;
			ck_assert_int_eq(kx__recs_summary(&c->recs, pd->records, &s), KC_OK);
			ck_assert_int_eq(s.bad_crc, 0);
			ck_assert_int_eq(s.magic, c->cc->magic);
			ck_assert(s.codec == KC_CODEC_NONE || s.codec == c->cc->codec);
			ck_assert_uint_eq(s.wire_bytes, (uint64_t)pd->records.len);
			long before = c->total;
			kc_json_reset(&c->j);
			kx__recs_json(&c->recs, &c->j, pd->records);
			ck_assert_int_eq(kc_json_err(&c->j), KC_OK);
			kc_json_newline(&c->j);
			ck_assert_int_eq(ndjson_lines(c->j.buf, c->j.len), 1);
			char *js = strndup(c->j.buf, c->j.len);
			census_json(c, pd->index, js);
			free(js);
			/* the summary counts what the walk finds */
			ck_assert_int_eq(c->total - before, s.records);
		}
	}
	return 0;
}

START_TEST(records_match_clients)
{
	census *c = calloc(1, sizeof *c);
	ck_assert_ptr_nonnull(c);
	c->cc = &cases[_i];
	kx__recs_init(&c->recs, KC_JSON_BYTES_TEXT);
	kc_json_init(&c->j);
	c->j.bytes = KC_JSON_BYTES_TEXT;
	kc_arena_init(&c->arena);
	each_event(c->cc->file, census_cb, c);
	ck_assert_int_eq(c->requests, c->responses);
	ck_assert_int_eq(c->refusals, c->cc->client == KCAT ? 3 : 0);
	int lo = c->cc->client == KCAT ? 1 : 0, hi = c->cc->client == KCAT ? MAXREC : 49;
	for (int i = lo; i <= hi; i++)
		ck_assert_msg(c->seen[i] == 1, "%s: record %d seen %d times", c->cc->file, i,
			      c->seen[i]);
	ck_assert_int_eq(c->total, hi - lo + 1);
	if (c->cc->client == KCAT)
		/* librdkafka's consistent_random partitioner: CRC-32 of the
		 * key modulo the partition count */
		for (int i = 1; i <= MAXREC; i++) {
			char key[16];
			int n = snprintf(key, sizeof key, "key%d", i);
			ck_assert_int_eq(c->partition[i], (int)(kc_crc32(0, key, (size_t)n) % 4));
		}
	kx__recs_free(&c->recs);
	kc_json_free(&c->j);
	kc_arena_free(&c->arena);
	free(c);
}
END_TEST

/* ---- a corrupted batch ------------------------------------------------------------- */

/* The records of the first Produce request partition of a capture. */
typedef struct first_records {
	uint8_t *p;
	size_t n;
	kc_arena arena;
} first_records;

static int first_cb(kx_event *ev, void *opaque)
{
	first_records *f = opaque;
	if (ev->type != KX_EV_REQUEST || ev->api_key != 0 || f->p)
		return 0;
	kx__msg m;
	ck_assert_int_eq(kx__msg_decode(&m, ev, &f->arena), KC_OK);
	const kc_produce_request *p = m.body;
	kc_bytes r = p->topic_data[0].partition_data[0].records;
	f->p = malloc((size_t)r.len);
	memcpy(f->p, r.ptr, (size_t)r.len);
	f->n = (size_t)r.len;
	return 0;
}

static void load_first(const char *file, first_records *f)
{
	memset(f, 0, sizeof *f);
	kc_arena_init(&f->arena);
	each_event(file, first_cb, f);
	kc_arena_free(&f->arena);
	ck_assert_ptr_nonnull(f->p);
}

START_TEST(bad_crc_shown)
{
	static const char *const files[] = {"kcat-none.pcap", "kpy-0.9-none.pcap",
					    "kpy-0.10.0-none.pcap"};
	const char *file = files[_i];
	first_records f;
	load_first(file, &f);
	kx__recs r;
	kx__recs_init(&r, KC_JSON_BYTES_TEXT);
	kx__recsum good, bad;
	ck_assert_int_eq(kx__recs_summary(&r, (kc_bytes){f.p, (int32_t)f.n}, &good), KC_OK);
	ck_assert_int_eq(good.bad_crc, 0);
	/* a byte of the last record's value (v2 records end with their header
	 * count, legacy messages with the value): covered by the CRC of its
	 * batch (v2) or message (v0/v1), not by any length */
	f.p[f.n - 2] ^= 0x01;
	ck_assert_int_eq(kx__recs_summary(&r, (kc_bytes){f.p, (int32_t)f.n}, &bad), KC_OK);
	ck_assert_int_eq(bad.bad_crc, 1);
	ck_assert_int_eq(bad.records, good.records);

	kc_json j;
	kc_json_init(&j);
	j.bytes = KC_JSON_BYTES_TEXT;
	kx__recs_json(&r, &j, (kc_bytes){f.p, (int32_t)f.n});
	char *js = strndup(j.buf, j.len);
	ck_assert_ptr_nonnull(strstr(js, "\"crcOk\":false"));
	/* shown, not dropped: every record is still there */
	int n = 0;
	for (const char *p = strstr(js, "\"key\":"); p; p = strstr(p + 1, "\"key\":"))
		n++;
	ck_assert_int_eq(n, good.records);
	free(js);
	kc_json_free(&j);

	char *text = NULL;
	size_t tn = 0;
	FILE *out = open_memstream(&text, &tn);
	kx__recs_text(&r, out, (kc_bytes){f.p, (int32_t)f.n}, "  ");
	fclose(out);
	ck_assert_ptr_nonnull(strstr(text, "BAD-CRC"));
	free(text);
	kx__recs_free(&r);
	free(f.p);
}
END_TEST

/* ---- text lines ---------------------------------------------------------------------- */

typedef struct text_run {
	FILE *out;
	kx__recs recs;
	kc_json scratch;
	kc_arena arena;
	int frames;
} text_run;

static int text_cb(kx_event *ev, void *opaque)
{
	text_run *t = opaque;
	if (ev->type != KX_EV_REQUEST && ev->type != KX_EV_RESPONSE)
		return 0;
	kx__msg m;
	kc_arena_reset(&t->arena);
	kx__msg_decode(&m, ev, &t->arena);
	kx__text_msg(t->out, ev, &m, KC_STR_LIT("c"), true, &t->recs, &t->scratch);
	t->frames++;
	return 0;
}

START_TEST(text_lines)
{
	text_run t = {0};
	char *buf = NULL;
	size_t n = 0;
	t.out = open_memstream(&buf, &n);
	kx__recs_init(&t.recs, KC_JSON_BYTES_TEXT);
	kc_json_init(&t.scratch);
	kc_arena_init(&t.arena);
	each_event("kcat-gzip.pcap", text_cb, &t);
	fclose(t.out);
	int lines = 0, produce = 0, refusals = 0, records = 0, batch_lines = 0;
	long recs = 0;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (!strncmp(l, "    batch ", 10)) {
			batch_lines++;
			ck_assert_ptr_nonnull(strstr(l, "codec=gzip"));
			ck_assert_ptr_nonnull(strstr(l, " ok"));
			continue;
		}
		if (!strncmp(l, "      offset=", 13)) {
			records++;
			ck_assert_ptr_nonnull(strstr(l, " key=\"key"));
			ck_assert_ptr_nonnull(strstr(l, " value=\"value-"));
			continue;
		}
		if (!strncmp(l, "  t1/", 5))
			continue;
		lines++;
		if (strstr(l, " Produce v7 req corr=")) {
			produce++;
			ck_assert_ptr_nonnull(strstr(l, " client=\"rdkafka\""));
			ck_assert_ptr_nonnull(strstr(l, " acks=-1"));
			const char *p = strstr(l, " t1/");
			ck_assert_ptr_nonnull(p);
			ck_assert_ptr_nonnull(strstr(l, "(gzip)"));
			recs += strtol(strchr(p, ':') + 1, NULL, 10);
		}
		if (strstr(l, " Produce v7 resp corr="))
			ck_assert_ptr_nonnull(strstr(l, "ms ok"));
		if (strstr(l, "ApiVersions v3 resp") && strstr(l, "UNSUPPORTED_VERSION(35)"))
			refusals++;
	}
	ck_assert_int_eq(lines, t.frames);
	ck_assert_int_eq(produce, 4);
	ck_assert_int_eq(recs, 200);
	ck_assert_int_eq(records, 200);
	ck_assert_int_eq(batch_lines, 4);
	ck_assert_int_eq(refusals, 3);
	free(buf);
	kx__recs_free(&t.recs);
	kc_json_free(&t.scratch);
	kc_arena_free(&t.arena);
}
END_TEST

/* ---- NDJSON ---------------------------------------------------------------------------- */

typedef struct json_run {
	kc_json j;
	kx__recs recs;
	kc_arena arena;
	int events, requests, produce_records;
} json_run;

static int json_cb(kx_event *ev, void *opaque)
{
	json_run *r = opaque;
	r->events++;
	if (ev->type == KX_EV_REQUEST || ev->type == KX_EV_RESPONSE) {
		kx__msg m;
		kc_arena_reset(&r->arena);
		kx__msg_decode(&m, ev, &r->arena);
		kx__json_msg(&r->j, ev, &m, KC_STR_NULL);
		r->requests += ev->type == KX_EV_REQUEST;
	} else {
		kx__json_event(&r->j, ev);
	}
	return 0;
}

START_TEST(ndjson_valid)
{
	json_run r = {0};
	kc_json_init(&r.j);
	kx__recs_init(&r.recs, KC_JSON_BYTES_BASE64);
	kx__json_expand_records(&r.j, &r.recs);
	kc_arena_init(&r.arena);
	each_event(cases[_i].file, json_cb, &r);
	ck_assert_int_eq(kc_json_err(&r.j), KC_OK);
	ck_assert_int_eq(ndjson_lines(r.j.buf, r.j.len), r.events);
	char *all = strndup(r.j.buf, r.j.len);
	/* records expanded, and base64 keys: "key1" is a2V5MQ== */
	ck_assert_ptr_nonnull(strstr(all, "\"batches\":[{\"byteOffset\":0,"));
	if (cases[_i].client == KCAT)
		ck_assert_ptr_nonnull(strstr(all, "\"key\":\"a2V5MQ==\""));
	ck_assert_ptr_nonnull(strstr(all, "\"type\":\"connOpen\""));
	ck_assert_ptr_nonnull(strstr(all, "\"type\":\"connClose\""));
	free(all);
	kc_json_free(&r.j);
	kx__recs_free(&r.recs);
	kc_arena_free(&r.arena);
}
END_TEST

static Suite *format_suite(void)
{
	Suite *s = suite_create("pcaptools_format");
	TCase *tc = tcase_create("format");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, records_match_clients, 0, NCASES);
	tcase_add_loop_test(tc, bad_crc_shown, 0, 3);
	tcase_add_test(tc, text_lines);
	tcase_add_loop_test(tc, ndjson_valid, 0, NCASES);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(format_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
