/* kafkit-pcap --stats: percentiles, batch size buckets, compression ratio,
 * the pending-request table, error codes of any api, and the totals of
 * the real captures (records per partition as the clients' partitioners
 * placed them, latencies, error codes), under allocation failures too. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "helpers.h"
#include "kafkit/codec.h"
#include "kafkit/pcap.h"
#include "pending.h"
#include "recfmt.h"
#include "stats.h"

START_TEST(percentiles)
{
	kx__group g = {0};
	ck_assert_int_eq(kx__group_pct(&g, 50), -1);
	int64_t v[100];
	/* 100..1 shuffled by a stride: the percentile sorts */
	for (int i = 0; i < 100; i++)
		v[i] = (int64_t)((i * 37) % 100 + 1);
	g.lat_ns = v;
	g.nlat = 100;
	ck_assert_int_eq(kx__group_pct(&g, 50), 50);
	ck_assert_int_eq(kx__group_pct(&g, 90), 90);
	ck_assert_int_eq(kx__group_pct(&g, 99), 99);
	ck_assert_int_eq(kx__group_pct(&g, 100), 100);
	ck_assert_int_eq(kx__group_pct(&g, 0), 1);
	g.nlat = 1;
	v[0] = 7;
	ck_assert_int_eq(kx__group_pct(&g, 99), 7);
	/* nearest rank over 3: p50 is the 2nd, p90 the 3rd */
	int64_t w[3] = {30, 10, 20};
	g.lat_ns = w;
	g.nlat = 3;
	ck_assert_int_eq(kx__group_pct(&g, 50), 20);
	ck_assert_int_eq(kx__group_pct(&g, 90), 30);
}
END_TEST

START_TEST(buckets_and_ratio)
{
	ck_assert_int_eq(kx__hist_bucket(0), 0);
	ck_assert_int_eq(kx__hist_bucket(1023), 0);
	ck_assert_int_eq(kx__hist_bucket(1024), 1);
	ck_assert_int_eq(kx__hist_bucket(4095), 1);
	ck_assert_int_eq(kx__hist_bucket(4096), 2);
	ck_assert_int_eq(kx__hist_bucket(65535), 3);
	ck_assert_int_eq(kx__hist_bucket(262144), 5);
	ck_assert_int_eq(kx__hist_bucket((1u << 20) - 1), 5);
	ck_assert_int_eq(kx__hist_bucket(1u << 20), 6);
	ck_assert_int_eq(kx__hist_bucket(UINT64_MAX), 6);
	ck_assert_str_eq(kx__hist_label(0), "<1K");
	ck_assert_str_eq(kx__hist_label(6), ">=1M");
	kx__group g = {0};
	ck_assert(kx__group_ratio(&g) == 1.0);
	g.wire_bytes = 100;
	g.raw_bytes = 250;
	ck_assert(kx__group_ratio(&g) == 2.5);
}
END_TEST

/* The table against a plain array, through adds, reuse, removals (with
 * backward shifts) and whole connections dropped. */
START_TEST(pending_table)
{
	enum { N = 3000 };
	static bool live[8][N];
	memset(live, 0, sizeof live);
	kx__pending p;
	kx__pending_init(&p);
	uint32_t x = 12345;
	size_t count = 0;
	for (int step = 0; step < 40000; step++) {
		x = x * 1103515245u + 12345u;
		uint64_t conn = (x >> 8) % 8;
		int32_t corr = (int32_t)((x >> 12) % N);
		int op = (int)((x >> 28) % 16);
		if (op < 9) {
			kx__pend *e = kx__pending_add(&p, conn, corr);
			ck_assert_ptr_nonnull(e);
			ck_assert(!e->matched && e->client_id_len == -1 && e->nparts == 0);
			e->matched = true;
			uint32_t parts[2] = {(uint32_t)corr, (uint32_t)conn};
			ck_assert_int_eq(kx__pend_set_parts(e, parts, 2), KC_OK);
			count += !live[conn][corr];
			live[conn][corr] = true;
		} else if (op < 15) {
			kx__pend *e = kx__pending_find(&p, conn, corr);
			ck_assert_int_eq(e != NULL, live[conn][corr]);
			if (e) {
				ck_assert(e->matched);
				ck_assert_uint_eq(e->parts[0], (uint32_t)corr);
				kx__pending_remove(&p, e);
				live[conn][corr] = false;
				count--;
			}
		} else {
			kx__pending_drop_conn(&p, conn);
			for (int i = 0; i < N; i++) {
				count -= live[conn][i];
				live[conn][i] = false;
			}
		}
		ck_assert_uint_eq(p.n, count);
	}
	for (uint64_t c = 0; c < 8; c++)
		for (int32_t i = 0; i < N; i++)
			ck_assert_int_eq(kx__pending_find(&p, c, i) != NULL, live[c][i]);
	kx__pend *e = kx__pending_add(&p, 99, 1);
	kx__pend_set_client(e, KC_STR_LIT("producer-7"));
	ck_assert_int_eq(e->client_id_len, 10);
	ck_assert(!memcmp(e->client_id, "producer-7", 10));
	char longid[400];
	memset(longid, 'x', sizeof longid);
	kx__pend_set_client(e, (kc_str){longid, 400});
	ck_assert_int_eq(e->client_id_len, KX__CLIENT_ID_MAX);
	kx__pending_free(&p);
}
END_TEST

START_TEST(pending_nomem)
{
	kx__pending p;
	kx__pending_init(&p);
	th_alloc_fail_at(1);
	ck_assert_ptr_null(kx__pending_add(&p, 1, 1));
	ck_assert_uint_eq(p.n, 0);
	th_alloc_fail_at(2);
	kx__pend *e = kx__pending_add(&p, 1, 1);
	ck_assert_ptr_nonnull(e);
	uint32_t parts[1] = {5};
	ck_assert_int_eq(kx__pend_set_parts(e, parts, 1), KC_ERR_NOMEM);
	ck_assert_uint_eq(e->nparts, 0);
	kx__pending_free(&p);
	ck_assert_int_eq(th_alloc_live(), 0);
	th_alloc_reset();
}
END_TEST

/* Codes the generic path finds in a Metadata response. */
typedef struct codes {
	int16_t v[16];
	int n;
} codes;

static void collect(int16_t code, kc_str topic, int32_t partition, void *opaque)
{
	codes *c = opaque;
	ck_assert_int_lt(c->n, 16);
	ck_assert_int_eq(topic.len, -1);
	ck_assert_int_eq(partition, -1);
	c->v[c->n++] = code;
}

START_TEST(errors_of_any_api)
{
	kc_metadata_response m;
	kc_metadata_response_metadata_response_topic t[2];
	kc_metadata_response_metadata_response_partition pa;
	kc_metadata_response_init(&m);
	kc_metadata_response_metadata_response_topic_init(&t[0]);
	kc_metadata_response_metadata_response_topic_init(&t[1]);
	kc_metadata_response_metadata_response_partition_init(&pa);
	t[0].error_code = 3;
	/* a topic named like the key: quoted inside a string, never a key */
	t[0].name = KC_STR_LIT("\"errorCode\":77");
	t[1].error_code = 0;
	t[1].name = KC_STR_LIT("ok");
	pa.error_code = 9;
	t[1].partitions = &pa;
	t[1].partitions_count = 1;
	m.topics = t;
	m.topics_count = 2;
	kx__msg msg = {0};
	msg.api_key = 3;
	msg.version = 9;
	msg.body = &m;
	kc_json scratch;
	kc_json_init(&scratch);
	codes c = {0};
	ck_assert_int_eq(kx__response_errors(&scratch, &msg, collect, &c), KC_OK);
	ck_assert_int_eq(c.n, 3);
	ck_assert_int_eq(c.v[0], 3);
	ck_assert_int_eq(c.v[1], 0);
	ck_assert_int_eq(c.v[2], 9);
	/* requests have none */
	msg.request = true;
	c.n = 0;
	ck_assert_int_eq(kx__response_errors(&scratch, &msg, collect, &c), KC_OK);
	ck_assert_int_eq(c.n, 0);
	kc_json_free(&scratch);
}
END_TEST

/* ---- the captures, through the same steps as the tool ------------------------ */

typedef struct run {
	kx__stats st;
	kx__pending pend;
	kc_arena arena;
	bool nomem;
} run;

static int stats_cb(kx_event *ev, void *opaque)
{
	run *r = opaque;
	kx__msg m;
	if (ev->type == KX_EV_REQUEST) {
		kc_arena_reset(&r->arena);
		kx__msg_decode(&m, ev, &r->arena);
		kx__pend *p = NULL;
		if (ev->expect_response) {
			p = kx__pending_add(&r->pend, ev->conn->id, ev->correlation_id);
			if (!p) {
				r->nomem = true;
				return 1;
			}
			kx__pend_set_client(p, m.client_id);
		}
		if (kx__stats_request(&r->st, ev, &m, p, NULL, NULL) != KC_OK) {
			r->nomem = true;
			return 1;
		}
	} else if (ev->type == KX_EV_RESPONSE) {
		kc_arena_reset(&r->arena);
		kx__msg_decode(&m, ev, &r->arena);
		kx__pend *p = kx__pending_find(&r->pend, ev->conn->id, ev->correlation_id);
		kc_err e = kx__stats_response(&r->st, ev, &m, p);
		if (p)
			kx__pending_remove(&r->pend, p);
		if (e != KC_OK) {
			r->nomem = true;
			return 1;
		}
	}
	return 0;
}

/* 0 when the capture was read; 1 when an allocation failed. */
static int stats_of(const char *file, run *r)
{
	memset(r, 0, sizeof *r);
	kx__stats_init(&r->st);
	kx__pending_init(&r->pend);
	kc_arena_init(&r->arena);
	kx_reader_opts o = {0};
	o.detect_any_port = true;
	kx_reader *rd = kx_reader_new(&o, stats_cb, r);
	if (!rd)
		return 1;
	int rc = kx_reader_open_file(rd, th_data_path(file));
	if (rc == 0)
		rc = kx_reader_run(rd);
	kx_reader_free(rd);
	if (rc == KX_ERR_NOMEM || r->nomem)
		return 1;
	ck_assert_int_eq(rc, 0);
	return 0;
}

static void run_free(run *r)
{
	kx__stats_free(&r->st);
	kx__pending_free(&r->pend);
	kc_arena_free(&r->arena);
}

static kx__group *find(kx__gset *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->v[i].name, name))
			return &g->v[i];
	return NULL;
}

static uint64_t errs(const kx__group *g, int16_t code)
{
	for (size_t i = 0; i < g->nerrs; i++)
		if (g->errs[i].code == code)
			return g->errs[i].n;
	return 0;
}

START_TEST(kcat_totals)
{
	static const char *const files[] = {"kcat-none.pcap", "kcat-gzip.pcap",
					    "kcat-snappy.pcap", "kcat-lz4.pcap",
					    "kcat-zstd.pcap"};
	run r;
	ck_assert_int_eq(stats_of(files[_i], &r), 0);
	/* librdkafka's partitioner: CRC-32 of the key modulo 4 */
	int want[4] = {0};
	for (int i = 1; i <= 200; i++) {
		char key[16];
		int n = snprintf(key, sizeof key, "key%d", i);
		want[kc_crc32(0, key, (size_t)n) % 4]++;
	}
	ck_assert_uint_eq(r.st.parts.n, 4);
	for (int p = 0; p < 4; p++) {
		char name[16];
		snprintf(name, sizeof name, "t1/%d", p);
		kx__group *g = find(&r.st.parts, name);
		ck_assert_ptr_nonnull(g);
		ck_assert_uint_eq(g->records, (uint64_t)want[p]);
		ck_assert_uint_eq(g->batches, 1);
		/* one batch per partition: the field is the batch */
		ck_assert_uint_eq(g->hist[kx__hist_bucket(g->wire_bytes)], 1);
		ck_assert_uint_eq(g->bad_crc, 0);
		ck_assert_uint_eq(g->nlat, 1);
		ck_assert_int_gt(g->lat_ns[0], 0);
		ck_assert_int_lt(g->lat_ns[0], 1000000000);
		ck_assert_uint_eq(g->nerrs, 0);
		if (_i == 0)
			ck_assert(kx__group_ratio(g) == 1.0);
		else
			ck_assert_msg(kx__group_ratio(g) > 1.0, "%s: ratio %f", files[_i],
				      kx__group_ratio(g));
	}
	kx__group *c = find(&r.st.clients, "rdkafka");
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(r.st.clients.n, 1);
	ck_assert_uint_eq(c->records, 200);
	ck_assert_uint_eq(c->requests, r.st.requests);
	ck_assert_uint_eq(c->responses, r.st.responses);
	ck_assert_uint_eq(c->produce_requests, 4);
	ck_assert_uint_eq(c->nlat, 4);
	/* the mock's three ApiVersions v3 refusals */
	ck_assert_uint_eq(errs(c, 35), 3);
	ck_assert_uint_eq(r.st.conns.n, 3);
	uint64_t recs = 0;
	for (size_t i = 0; i < r.st.conns.n; i++)
		recs += r.st.conns.v[i].records;
	ck_assert_uint_eq(recs, 200);

	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	kx__stats_print(&r.st, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "== topic/partition (Produce) =="));
	ck_assert_ptr_nonnull(strstr(buf, "\nt1/0 "));
	ck_assert_ptr_nonnull(strstr(buf, "UNSUPPORTED_VERSION(35):3"));
	free(buf);
	kc_json j;
	kc_json_init(&j);
	kx__stats_json(&r.st, &j);
	ck_assert_int_eq(kc_json_err(&j), KC_OK);
	char *js = strndup(j.buf, j.len);
	ck_assert_ptr_nonnull(strstr(js, "{\"type\":\"stats\","));
	ck_assert_ptr_nonnull(strstr(js, "\"name\":\"rdkafka\",\"requests\":"));
	ck_assert_ptr_nonnull(strstr(js, "\"records\":200,"));
	free(js);
	kc_json_free(&j);
	run_free(&r);
}
END_TEST

START_TEST(kpy_errors_per_partition)
{
	static const char *const files[] = {"kpy-0.9-none.pcap", "kpy-0.10.0-gzip.pcap",
					    "kpy-0.11.0-none.pcap"};
	run r;
	ck_assert_int_eq(stats_of(files[_i], &r), 0);
	uint64_t recs = 0;
	for (size_t i = 0; i < r.st.parts.n; i++) {
		kx__group *g = &r.st.parts.v[i];
		recs += g->records;
		/* 0.9 and 0.10 send Produce v1/v2, which the mock refuses */
		ck_assert_uint_eq(errs(g, 35), _i < 2 ? 1 : 0);
		ck_assert_uint_eq(g->nlat, 1);
	}
	ck_assert_uint_eq(recs, 50);
	kx__group *c = find(&r.st.clients, "kafka-python-producer-1");
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->records, 50);
	/* one error per partition answered */
	ck_assert_uint_eq(errs(c, 35), _i < 2 ? r.st.parts.n : 0);
	run_free(&r);
}
END_TEST

/* Every allocation of the statistics can fail: the run stops with the
 * error and nothing leaks; eventually the run completes. */
START_TEST(allocation_failures)
{
	bool done = false;
	for (unsigned long n = 1; n < 400 && !done; n++) {
		run r;
		th_alloc_fail_at(n);
		done = stats_of("kcat-gzip.pcap", &r) == 0;
		if (done)
			ck_assert_uint_eq(find(&r.st.clients, "rdkafka")->records, 200);
		run_free(&r);
		ck_assert_int_eq(th_alloc_live(), 0);
	}
	th_alloc_reset();
	ck_assert(done);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("pcaptools_stats");
	TCase *tc = tcase_create("stats");
	tcase_set_timeout(tc, 200);
	tcase_add_test(tc, percentiles);
	tcase_add_test(tc, buckets_and_ratio);
	tcase_add_test(tc, pending_table);
	tcase_add_test(tc, pending_nomem);
	tcase_add_test(tc, errors_of_any_api);
	tcase_add_loop_test(tc, kcat_totals, 0, 5);
	tcase_add_loop_test(tc, kpy_errors_per_partition, 0, 3);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stats_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
