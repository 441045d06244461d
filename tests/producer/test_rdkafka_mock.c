/*
 * The kafkit producer against librdkafka's mock cluster
 * (rd_kafka_mock_cluster_new), read back with librdkafka's consumer:
 * - each codec (none, gzip, snappy, lz4, zstd): keys, values, headers
 *   (null values too) and CreateTime timestamps come back byte-exact,
 *   null keys and tombstones stay null, at the offsets the delivery
 *   reports gave;
 * - with idempotence, leaders moved by rd_kafka_mock_partition_set_leader
 *   while records flow: every record gets exactly one successful report
 *   and is read back exactly once.
 */
#include <check.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafkit/producer.h"
#include "record_gen.h"

#define NPART 3
#define TS0 INT64_C(1700000000000)

/* What record i was sent with, and what its report said. */
typedef struct sent {
	int reports;
	kp_err err;
	int32_t partition;
	int64_t offset;
	int read; /* times the consumer returned it */
} sent;

typedef struct run {
	rd_kafka_t *host;               /* librdkafka handle hosting the mock */
	rd_kafka_mock_cluster_t *mock;
	char bootstraps[256];
	sent *recs;
	int n;
	atomic_int reported;
} run;

static void start_mock(run *r, const char *topic)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	ck_assert_int_eq(rd_kafka_conf_set(conf, "log_level", "3", err,
					   sizeof err), RD_KAFKA_CONF_OK);
	r->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	ck_assert_msg(r->host != NULL, "rd_kafka_new: %s", err);
	r->mock = rd_kafka_mock_cluster_new(r->host, 3);
	ck_assert_ptr_nonnull(r->mock);
	ck_assert_int_eq(rd_kafka_mock_topic_create(r->mock, topic, NPART, 3),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	snprintf(r->bootstraps, sizeof r->bootstraps, "%s",
		 rd_kafka_mock_cluster_bootstraps(r->mock));
}

static void stop_mock(run *r)
{
	rd_kafka_mock_cluster_destroy(r->mock);
	rd_kafka_destroy(r->host);
	free(r->recs);
}

/* The report callback's opaque: the run and the record's index. */
typedef struct tag {
	run *r;
	int i;
} tag;

static void on_delivery(const kp_delivery_report *dr, void *opaque)
{
	const tag *t = opaque;
	sent *s = &t->r->recs[t->i];
	s->reports++;
	s->err = dr->err;
	s->partition = dr->partition;
	s->offset = dr->offset;
	atomic_fetch_add(&t->r->reported, 1);
}

static kp_producer *new_producer(const run *r, const char *codec,
				 const char *linger)
{
	char err[256];
	kp_conf *conf = kp_conf_new();
	ck_assert_ptr_nonnull(conf);
	const char *kv[][2] = {
		{"bootstrap.servers", r->bootstraps},
		{"compression.type", codec},
		{"linger.ms", linger},
		{"batch.size", "8192"},
		{"retry.backoff.ms", "20"},
		{"request.timeout.ms", "3000"},
		{"metadata.max.age.ms", "1000"},
	};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
		ck_assert_msg(kp_conf_set(conf, kv[i][0], kv[i][1], err,
					  sizeof err) == KP_OK,
			      "%s: %s", kv[i][0], err);
	kp_producer *p;
	ck_assert_msg(kp_producer_new(conf, &p, err, sizeof err) == KP_OK,
		      "kp_producer_new: %s", err);
	kp_conf_destroy(conf);
	return p;
}

static void send_record(kp_producer *p, const char *topic, tag *tags,
			int i)
{
	char key[RG_KEY_MAX], hv[RG_HEADERS_MAX][RG_KEY_MAX];
	uint8_t value[RG_VALUE_MAX];
	kp_header h[2];
	int kn = rg_key(i, key), vn = rg_value(i, value);
	kp_record rec = {
		.topic = topic,
		.partition = KP_PARTITION_ANY,
		.key = kn < 0 ? NULL : key,
		.key_len = kn < 0 ? 0 : (size_t)kn,
		.value = vn < 0 ? NULL : value,
		.value_len = vn < 0 ? 0 : (size_t)vn,
		.headers = h,
		.header_count = rg_headers(i, h, hv),
		.timestamp = TS0 + i,
	};
	kp_err e = kp_send(p, &rec, on_delivery, &tags[i]);
	ck_assert_msg(e == KP_OK, "kp_send %d: %s", i, kp_err_name(e));
}

/* Record i as the consumer returned it equals what was sent. */
static void check_message(const rd_kafka_message_t *m, int i)
{
	char key[RG_KEY_MAX], hv[RG_HEADERS_MAX][RG_KEY_MAX];
	uint8_t value[RG_VALUE_MAX];
	kp_header h[2];
	int kn = rg_key(i, key), vn = rg_value(i, value);
	if (kn < 0)
		ck_assert_msg(m->key == NULL, "record %d: key not null", i);
	else
		ck_assert_msg(m->key && m->key_len == (size_t)kn &&
			      !memcmp(m->key, key, (size_t)kn),
			      "record %d: key differs", i);
	if (vn < 0)
		ck_assert_msg(m->payload == NULL, "record %d: value not null",
			      i);
	else
		ck_assert_msg(m->payload && m->len == (size_t)vn &&
			      !memcmp(m->payload, value, (size_t)vn),
			      "record %d: value differs (%zu bytes)", i,
			      m->len);
	rd_kafka_timestamp_type_t tt;
	ck_assert_int_eq(rd_kafka_message_timestamp(m, &tt), TS0 + i);
	ck_assert_int_eq(tt, RD_KAFKA_TIMESTAMP_CREATE_TIME);
	size_t nh = rg_headers(i, h, hv);
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_resp_err_t e = rd_kafka_message_headers(m, &hdrs);
	if (nh == 0) {
		ck_assert_msg(e == RD_KAFKA_RESP_ERR__NOENT ||
			      rd_kafka_header_cnt(hdrs) == 0,
			      "record %d: unexpected headers", i);
		return;
	}
	ck_assert_msg(e == RD_KAFKA_RESP_ERR_NO_ERROR,
		      "record %d: headers: %s", i, rd_kafka_err2str(e));
	ck_assert_int_eq(rd_kafka_header_cnt(hdrs), nh);
	for (size_t j = 0; j < nh; j++) {
		const char *name;
		const void *val;
		size_t size;
		ck_assert_int_eq(rd_kafka_header_get_all(hdrs, j, &name, &val,
							 &size),
				 RD_KAFKA_RESP_ERR_NO_ERROR);
		ck_assert_str_eq(name, h[j].key);
		if (!h[j].value) {
			ck_assert_msg(val == NULL, "record %d header %zu: "
				      "value not null", i, j);
		} else {
			ck_assert_msg(val && size == h[j].value_len &&
				      !memcmp(val, h[j].value, size),
				      "record %d header %zu differs", i, j);
		}
	}
}

/* Read every partition from the beginning with librdkafka's (simple)
 * consumer; each message must be the record whose report named its
 * partition and offset. */
static void read_back(run *r, const char *topic)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers",
					   r->bootstraps, err, sizeof err),
			 RD_KAFKA_CONF_OK);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	ck_assert_msg(rk != NULL, "rd_kafka_new: %s", err);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	ck_assert_ptr_nonnull(rkt);
	for (int32_t p = 0; p < NPART; p++) {
		/* where each offset of this partition should come from */
		int want = 0;
		int64_t maxoff = -1;
		for (int i = 0; i < r->n; i++)
			if (r->recs[i].partition == p) {
				want++;
				if (r->recs[i].offset > maxoff)
					maxoff = r->recs[i].offset;
			}
		int *by_off = malloc(((size_t)maxoff + 2) * sizeof *by_off);
		for (int64_t o = 0; o <= maxoff; o++)
			by_off[o] = -1;
		for (int i = 0; i < r->n; i++)
			if (r->recs[i].partition == p) {
				ck_assert_msg(by_off[r->recs[i].offset] < 0,
					      "two reports at %d/%" PRId64, p,
					      r->recs[i].offset);
				by_off[r->recs[i].offset] = i;
			}
		ck_assert_int_eq(rd_kafka_consume_start(
				 rkt, p, RD_KAFKA_OFFSET_BEGINNING), 0);
		int got = 0;
		time_t until = time(NULL) + 60;
		while (got < want && time(NULL) < until) {
			rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 500);
			if (!m)
				continue;
			if (m->err) {
				ck_assert_msg(m->err ==
					      RD_KAFKA_RESP_ERR__PARTITION_EOF,
					      "consume %d: %s", p,
					      rd_kafka_err2str(m->err));
				rd_kafka_message_destroy(m);
				continue;
			}
			ck_assert_msg(m->offset <= maxoff &&
				      by_off[m->offset] >= 0,
				      "partition %d offset %" PRId64
				      ": no record was reported there", p,
				      m->offset);
			int i = by_off[m->offset];
			check_message(m, i);
			r->recs[i].read++;
			got++;
			rd_kafka_message_destroy(m);
		}
		ck_assert_msg(got == want, "partition %d: read %d of %d", p,
			      got, want);
		/* nothing after the last reported record */
		rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 300);
		if (m) {
			ck_assert_msg(m->err != 0, "partition %d: extra record "
				      "at offset %" PRId64, p, m->offset);
			rd_kafka_message_destroy(m);
		}
		rd_kafka_consume_stop(rkt, p);
		free(by_off);
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	for (int i = 0; i < r->n; i++)
		ck_assert_msg(r->recs[i].read == 1, "record %d read %d times",
			      i, r->recs[i].read);
}

static void check_reports(const run *r)
{
	ck_assert_int_eq(atomic_load(&r->reported), r->n);
	for (int i = 0; i < r->n; i++) {
		const sent *s = &r->recs[i];
		ck_assert_msg(s->reports == 1, "record %d: %d reports", i,
			      s->reports);
		ck_assert_msg(s->err == KP_OK, "record %d: %s", i,
			      kp_err_name(s->err));
		ck_assert(s->partition >= 0 && s->partition < NPART);
		ck_assert(s->offset >= 0);
	}
}

static const char *codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};

START_TEST(codec_roundtrip)
{
	run r = {.n = 3000};
	char topic[64];
	snprintf(topic, sizeof topic, "rdk-%s", codecs[_i]);
	start_mock(&r, topic);
	r.recs = calloc((size_t)r.n, sizeof *r.recs);
	tag *tags = calloc((size_t)r.n, sizeof *tags);
	kp_producer *p = new_producer(&r, codecs[_i], "5");
	for (int i = 0; i < r.n; i++) {
		tags[i] = (tag){&r, i};
		send_record(p, topic, tags, i);
	}
	ck_assert_int_eq(kp_flush(p, 60000), KP_OK);
	check_reports(&r);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	read_back(&r, topic);
	free(tags);
	stop_mock(&r);
}
END_TEST

typedef struct mover {
	run *r;
	const char *topic;
	atomic_int stop;
	int moves;
	rd_kafka_resp_err_t err; /* first failed move */
} mover;

/* Move each partition's leader to the next broker every 100 ms, until
 * told to stop. */
static void *move_leaders(void *arg)
{
	mover *m = arg;
	int32_t next = 1;
	while (!atomic_load(&m->stop)) {
		for (int32_t p = 0; p < NPART; p++) {
			rd_kafka_resp_err_t e =
				rd_kafka_mock_partition_set_leader(
					m->r->mock, m->topic, p,
					(next + p) % 3 + 1);
			if (e && !m->err)
				m->err = e;
		}
		next++;
		m->moves++;
		usleep(100000);
	}
	return NULL;
}

START_TEST(leader_change_idempotent)
{
	const char *topic = "rdk-moving";
	run r = {.n = 20000};
	start_mock(&r, topic);
	r.recs = calloc((size_t)r.n, sizeof *r.recs);
	tag *tags = calloc((size_t)r.n, sizeof *tags);
	kp_producer *p = new_producer(&r, codecs[_i], "2");
	/* the first records before any move: metadata and pid settled */
	for (int i = 0; i < 100; i++) {
		tags[i] = (tag){&r, i};
		send_record(p, topic, tags, i);
	}
	ck_assert_int_eq(kp_flush(p, 30000), KP_OK);
	mover m = {.r = &r, .topic = topic};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, move_leaders, &m), 0);
	for (int i = 100; i < r.n; i++) {
		tags[i] = (tag){&r, i};
		send_record(p, topic, tags, i);
		if (i % 1000 == 0)
			usleep(75000); /* spread over ~1.5 s of moves */
	}
	/* the last moves land while those records are in flight */
	usleep(150000);
	atomic_store(&m.stop, 1);
	pthread_join(th, NULL);
	ck_assert_int_eq(kp_flush(p, 120000), KP_OK);
	ck_assert_msg(m.err == 0, "set_leader: %s", rd_kafka_err2str(m.err));
	ck_assert_int_gt(m.moves, 10);
	check_reports(&r);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	read_back(&r, topic);
	free(tags);
	stop_mock(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_rdkafka_mock");
	TCase *t = tcase_create("codecs");
	tcase_set_timeout(t, 180);
	tcase_add_loop_test(t, codec_roundtrip, 0, 5);
	suite_add_tcase(s, t);
	t = tcase_create("leader_change");
	tcase_set_timeout(t, 300);
	/* none and zstd: uncompressed and compressed batches re-sent */
	tcase_add_loop_test(t, leader_change_idempotent, 0, 1);
	tcase_add_loop_test(t, leader_change_idempotent, 4, 5);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
