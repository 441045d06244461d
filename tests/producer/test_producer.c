/*
 * The producer against the in-process kafkit mock cluster, with every
 * fault it injects. Each test asserts that every record sent gets exactly
 * one delivery report, and reads the partition logs back: with
 * idempotence each record is there exactly once, in send order per
 * partition; without it, duplicates appear only where a fault allows them.
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkit/err.h"
#include "kafkit/mock.h"
#include "kafkit/producer.h"
#include "helpers.h"
#include "partitioner.h"

#define MAXREC 20000

/* Per-record outcome, indexed by the record number carried in the value
 * ("rec-<n>"). */
typedef struct outcome {
	atomic_int reports;
	kp_err err;
	int16_t kafka_err;
	int32_t partition;
	int64_t offset;
} outcome;

static outcome results[MAXREC];

static void reset_results(void)
{
	for (int i = 0; i < MAXREC; i++) {
		atomic_store(&results[i].reports, 0);
		results[i].err = KP_OK;
		results[i].partition = -1;
		results[i].offset = -1;
	}
}

static void on_report(const kp_delivery_report *dr, void *opaque)
{
	intptr_t n = (intptr_t)opaque;
	outcome *o = &results[n];
	o->err = dr->err;
	o->kafka_err = dr->kafka_err;
	o->partition = dr->partition;
	o->offset = dr->offset;
	atomic_fetch_add(&o->reports, 1);
}

static km_cluster *cluster(int brokers, bool auto_create)
{
	km_options o;
	km_options_init(&o);
	o.auto_create_topics = auto_create;
	o.default_partitions = 3;
	km_cluster *c = NULL;
	ck_assert_int_eq(km_cluster_new(&c, brokers, &o), KM_OK);
	ck_assert_int_eq(km_cluster_start(c), KM_OK);
	return c;
}

/* A producer for c with the given extra "key", "value" pairs (NULL
 * terminated). */
static kp_producer *producer(km_cluster *c, const char *const *kv)
{
	kp_conf *conf = kp_conf_new();
	char err[256];
	ck_assert_int_eq(kp_conf_set(conf, "bootstrap.servers",
				     km_cluster_bootstraps(c), err, sizeof err),
			 KP_OK);
	ck_assert_int_eq(kp_conf_set(conf, "client.id", "kafkit-test", err,
				     sizeof err),
			 KP_OK);
	for (; kv && kv[0]; kv += 2)
		ck_assert_msg(kp_conf_set(conf, kv[0], kv[1], err, sizeof err) ==
				      KP_OK,
			      "%s=%s: %s", kv[0], kv[1], err);
	kp_producer *p = NULL;
	kp_err e = kp_producer_new(conf, &p, err, sizeof err);
	ck_assert_msg(e == KP_OK, "kp_producer_new: %s %s", kp_err_name(e),
		      err);
	kp_conf_destroy(conf);
	return p;
}

static void send_n(kp_producer *p, const char *topic, int from, int n,
		   int keyed)
{
	for (int i = from; i < from + n; i++) {
		char key[32], value[32];
		snprintf(key, sizeof key, "key-%d", i % 97);
		snprintf(value, sizeof value, "rec-%d", i);
		kp_record r = {
			.topic = topic,
			.partition = KP_PARTITION_ANY,
			.key = keyed ? key : NULL,
			.key_len = strlen(key),
			.value = value,
			.value_len = strlen(value),
			.timestamp = KP_TIMESTAMP_NOW,
		};
		kp_err e = kp_send(p, &r, on_report, (void *)(intptr_t)i);
		ck_assert_msg(e == KP_OK, "kp_send %d: %s", i, kp_err_name(e));
	}
}

/* Every record in [0, n) was reported exactly once; returns how many
 * with KP_OK. */
static int check_reports(int n)
{
	int ok = 0;
	for (int i = 0; i < n; i++) {
		ck_assert_msg(atomic_load(&results[i].reports) == 1,
			      "record %d reported %d times", i,
			      atomic_load(&results[i].reports));
		ok += results[i].err == KP_OK;
	}
	return ok;
}

/* What the log of one partition holds, as record numbers in offset
 * order. */
typedef struct log_walk {
	int *recs;
	int n;
} log_walk;

static int collect(void *opaque, const km_record *rec)
{
	log_walk *w = opaque;
	char buf[32];
	ck_assert(rec->value.len > 4 && rec->value.len < 31);
	memcpy(buf, rec->value.ptr, (size_t)rec->value.len);
	buf[rec->value.len] = '\0';
	ck_assert(strncmp(buf, "rec-", 4) == 0);
	ck_assert(w->n < 4 * MAXREC);
	w->recs[w->n++] = atoi(buf + 4);
	return 0;
}

/* Read every partition of topic: returns, per record number, how many
 * times it is stored, and checks that within a partition record numbers
 * appear in send order (increasing), allowing repeats only when
 * allow_dups. */
static void read_logs(km_cluster *c, const char *topic, int partitions,
		      int *copies, int n, int allow_dups)
{
	static int recs[4 * MAXREC];
	memset(copies, 0, (size_t)n * sizeof(*copies));
	for (int p = 0; p < partitions; p++) {
		log_walk w = {recs, 0};
		ck_assert_int_eq(km_cluster_partition_log(c, topic, p, collect,
							  &w),
				 KM_OK);
		int last = -1;
		for (int i = 0; i < w.n; i++) {
			int r = w.recs[i];
			ck_assert_msg(r >= 0 && r < n, "stray record %d", r);
			if (!allow_dups)
				ck_assert_msg(r > last,
					      "partition %d: %d after %d", p, r,
					      last);
			if (r > last)
				last = r;
			copies[r]++;
			ck_assert_msg(results[r].partition == p,
				      "record %d in partition %d, reported %d",
				      r, p, results[r].partition);
		}
	}
}

static void assert_exactly_once(km_cluster *c, const char *topic,
				int partitions, int n)
{
	static int copies[MAXREC];
	read_logs(c, topic, partitions, copies, n, 0);
	for (int i = 0; i < n; i++)
		ck_assert_msg(copies[i] == 1, "record %d stored %d times", i,
			      copies[i]);
}

/* ---- tests ----------------------------------------------------------------- */

START_TEST(test_produce_keyed_java_partitions)
{
	reset_results();
	km_cluster *c = cluster(3, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "t", 3, NULL), KM_OK);
	kp_producer *p = producer(c, NULL);
	send_n(p, "t", 0, 1000, 1);
	ck_assert_int_eq(kp_flush(p, 30000), KP_OK);
	ck_assert_int_eq(check_reports(1000), 1000);
	for (int i = 0; i < 1000; i++) {
		char key[32];
		snprintf(key, sizeof key, "key-%d", i % 97);
		ck_assert_int_eq(results[i].partition,
				 kp__partition_murmur2(key, strlen(key), 3));
	}
	assert_exactly_once(c, "t", 3, 1000);
	/* Offsets reported are the log's. */
	km_partition_info info;
	ck_assert_int_eq(km_cluster_partition_info(c, "t", 0, &info), KM_OK);
	int64_t seen = 0;
	for (int i = 0; i < 1000; i++)
		if (results[i].partition == 0) {
			ck_assert(results[i].offset >= 0 &&
				  results[i].offset < info.high_watermark);
			seen++;
		}
	ck_assert_int_eq(seen, info.high_watermark);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(test_sync_send_partitions_for_stats)
{
	km_cluster *c = cluster(3, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "s", 4, NULL), KM_OK);
	kp_producer *p = producer(c, NULL);
	/* Each thread says whose it is (top -H, perf, gdb). */
	ck_assert_int_eq(th_threads_named("kafkit-mock"), 1);
	ck_assert_int_eq(th_threads_named("kafkit-sender"), 1);
	kp_partition_info *parts = NULL;
	size_t n = 0;
	ck_assert_int_eq(kp_partitions_for(p, "s", 5000, &parts, &n), KP_OK);
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < n; i++) {
		km_partition_info info;
		ck_assert_int_eq(km_cluster_partition_info(c, "s", (int32_t)i,
							   &info),
				 KM_OK);
		ck_assert_int_eq(parts[i].partition, (int32_t)i);
		ck_assert_int_eq(parts[i].leader, info.leader);
	}
	kp_free(parts);
	kp_record r = {.topic = "s", .partition = 2, .value = "v",
		       .value_len = 1, .timestamp = 1700000000000};
	kp_delivery_report dr;
	ck_assert_int_eq(kp_send_sync(p, &r, &dr), KP_OK);
	ck_assert_int_eq(dr.partition, 2);
	ck_assert_int_eq(dr.offset, 0);
	ck_assert_int_eq(dr.timestamp, 1700000000000);
	ck_assert_int_eq(kp_send_sync(p, &r, &dr), KP_OK);
	ck_assert_int_eq(dr.offset, 1);
	char *json = NULL;
	size_t len = 0;
	ck_assert_int_eq(kp_stats_json(p, &json, &len), KP_OK);
	ck_assert_uint_eq(strlen(json), len);
	ck_assert_ptr_nonnull(strstr(json, "\"client_id\":\"kafkit-test\""));
	ck_assert_ptr_nonnull(strstr(
		json, "{\"topic\":\"s\",\"partition\":2,\"leader\":"));
	ck_assert_ptr_nonnull(strstr(json, "\"records\":2,\"batches\":2"));
	kp_free(json);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	ck_assert_int_eq(th_threads_named("kafkit-sender"), 0);
	km_cluster_destroy(c);
	ck_assert_int_eq(th_threads_named("kafkit-mock"), 0);
}
END_TEST

START_TEST(test_unknown_topic_then_created)
{
	km_cluster *c = cluster(1, false);
	const char *kv[] = {"max.block.ms", "300", NULL};
	kp_producer *p = producer(c, kv);
	kp_record r = {.topic = "later", .partition = KP_PARTITION_ANY,
		       .value = "x", .value_len = 1,
		       .timestamp = KP_TIMESTAMP_NOW};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(kp_send(p, &r, NULL, NULL), KP_ERR_UNKNOWN_TOPIC);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (double)(t1.tv_sec - t0.tv_sec) +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(waited >= 0.29, "waited only %.3f s", waited);
	ck_assert_int_eq(km_cluster_create_topic(c, "later", 2, NULL), KM_OK);
	kp_delivery_report dr;
	ck_assert_int_eq(kp_send_sync(p, &r, &dr), KP_OK);
	ck_assert_int_eq(dr.offset, 0);
	r.partition = 5;
	ck_assert_int_eq(kp_send(p, &r, NULL, NULL), KP_ERR_UNKNOWN_PARTITION);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_cluster_destroy(c);
}
END_TEST

/* Records spread over time so faults land mid-stream. */
static void send_paced(kp_producer *p, const char *topic, int n, int keyed)
{
	for (int i = 0; i < n; i += 100) {
		send_n(p, topic, i, 100, keyed);
		struct timespec ts = {0, 5 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

START_TEST(test_idempotent_swallow_and_leader_changes)
{
	reset_results();
	km_cluster *c = cluster(3, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "idem", 3, NULL), KM_OK);
	km_fault_match m;
	km_fault_match_init(&m);
	m.api_key = 0;
	m.probability = 0.05;
	ck_assert_int_eq(km_fault_seed(c, 7), KM_OK);
	ck_assert_int_eq(km_fault_swallow(c, &m, NULL), KM_OK);
	ck_assert_int_eq(km_fault_leader_schedule(c, "idem", KM_ANY, 100,
						  KM_LEADER_ROUND_ROBIN, 0,
						  NULL),
			 KM_OK);
	const char *kv[] = {"request.timeout.ms", "400", "linger.ms", "2",
			    "retry.backoff.ms", "10", NULL};
	kp_producer *p = producer(c, kv);
	send_paced(p, "idem", 6000, 1);
	ck_assert_int_eq(kp_flush(p, 60000), KP_OK);
	ck_assert_int_eq(check_reports(6000), 6000);
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(c, -1, &k), KM_OK);
	ck_assert_msg(k.faults_swallowed > 0, "no response was swallowed");
	ck_assert_msg(k.leader_changes > 0, "no leader changed");
	assert_exactly_once(c, "idem", 3, 6000);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(test_not_idempotent_duplicates_only_from_swallow)
{
	reset_results();
	km_cluster *c = cluster(1, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "dup", 1, NULL), KM_OK);
	const char *kv[] = {"enable.idempotence", "false", "acks", "1",
			    "request.timeout.ms", "300",
			    "max.in.flight.requests.per.connection", "1",
			    NULL};
	kp_producer *p = producer(c, kv);
	send_n(p, "dup", 0, 100, 0);
	ck_assert_int_eq(kp_flush(p, 30000), KP_OK);
	/* The next Produce is applied but unanswered: its records twice. */
	km_fault_match m;
	km_fault_match_init(&m);
	m.api_key = 0;
	m.count = 1;
	ck_assert_int_eq(km_fault_swallow(c, &m, NULL), KM_OK);
	send_n(p, "dup", 100, 100, 0);
	ck_assert_int_eq(kp_flush(p, 30000), KP_OK);
	ck_assert_int_eq(check_reports(200), 200);
	static int copies[MAXREC];
	read_logs(c, "dup", 1, copies, 200, 1);
	int twice = 0;
	for (int i = 0; i < 200; i++) {
		ck_assert_msg(copies[i] == 1 || (i >= 100 && copies[i] == 2),
			      "record %d stored %d times", i, copies[i]);
		twice += copies[i] == 2;
	}
	ck_assert_msg(twice > 0, "the swallowed request left no duplicate");
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(test_delay_beyond_request_timeout)
{
	reset_results();
	km_cluster *c = cluster(1, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "slow", 1, NULL), KM_OK);
	const char *kv[] = {"request.timeout.ms", "300", NULL};
	kp_producer *p = producer(c, kv);
	send_n(p, "slow", 0, 1, 0);
	ck_assert_int_eq(kp_flush(p, 10000), KP_OK);
	km_fault_match m;
	km_fault_match_init(&m);
	m.api_key = 0;
	m.count = 2;
	ck_assert_int_eq(km_fault_delay(c, &m, 1000, 0, NULL), KM_OK);
	send_n(p, "slow", 1, 50, 0);
	ck_assert_int_eq(kp_flush(p, 30000), KP_OK);
	ck_assert_int_eq(check_reports(51), 51);
	assert_exactly_once(c, "slow", 1, 51);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(test_broker_down_and_up)
{
	reset_results();
	km_cluster *c = cluster(2, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "bd", 2, NULL), KM_OK);
	const char *kv[] = {"reconnect.backoff.ms", "20",
			    "reconnect.backoff.max.ms", "100", NULL};
	kp_producer *p = producer(c, kv);
	send_n(p, "bd", 0, 200, 1);
	ck_assert_int_eq(kp_flush(p, 30000), KP_OK);
	ck_assert_int_eq(km_fault_broker_down(c, 1, false), KM_OK);
	send_n(p, "bd", 200, 200, 1);
	struct timespec ts = {0, 300 * 1000000L};
	nanosleep(&ts, NULL);
	ck_assert_int_eq(km_fault_broker_up(c, 1), KM_OK);
	ck_assert_int_eq(kp_flush(p, 30000), KP_OK);
	ck_assert_int_eq(check_reports(400), 400);
	assert_exactly_once(c, "bd", 2, 400);
	/* Leadership moving away while down works too. */
	ck_assert_int_eq(km_fault_broker_down(c, 2, true), KM_OK);
	send_n(p, "bd", 400, 200, 1);
	ck_assert_int_eq(kp_flush(p, 30000), KP_OK);
	ck_assert_int_eq(check_reports(600), 600);
	assert_exactly_once(c, "bd", 2, 600);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(test_error_queues)
{
	reset_results();
	km_cluster *c = cluster(1, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "eq", 1, NULL), KM_OK);
	kp_producer *p = producer(c, NULL);
	km_fault_match m;
	km_fault_match_init(&m);
	m.api_key = 0;
	/* Retriable: NOT_LEADER_OR_FOLLOWER three times, then served. */
	int16_t retriable[] = {6, 6, 6};
	ck_assert_int_eq(km_fault_errors(c, &m, "eq", 0, retriable, 3, NULL),
			 KM_OK);
	kp_record r = {.topic = "eq", .partition = 0, .value = "rec-0",
		       .value_len = 5, .timestamp = KP_TIMESTAMP_NOW};
	kp_delivery_report dr;
	ck_assert_int_eq(kp_send_sync(p, &r, &dr), KP_OK);
	ck_assert_int_eq(dr.offset, 0);
	/* Not retriable: INVALID_RECORD fails the record with it. */
	int16_t fatal[] = {87};
	ck_assert_int_eq(km_fault_errors(c, &m, "eq", 0, fatal, 1, NULL),
			 KM_OK);
	r.value = "rec-1";
	ck_assert_int_eq(kp_send_sync(p, &r, &dr), KP_ERR_BROKER);
	ck_assert_int_eq(dr.kafka_err, 87);
	ck_assert_int_eq(dr.offset, -1);
	r.value = "rec-2";
	kp_err e2 = kp_send_sync(p, &r, &dr);
	ck_assert_msg(e2 == KP_OK, "rec-2: %s, kafka_err %d", kp_err_name(e2),
		      dr.kafka_err);
	ck_assert_int_eq(dr.offset, 1);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(test_delivery_timeout_when_unreachable)
{
	reset_results();
	km_cluster *c = cluster(1, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "dt", 1, NULL), KM_OK);
	const char *kv[] = {"delivery.timeout.ms", "600",
			    "request.timeout.ms", "200", "linger.ms", "0",
			    NULL};
	kp_producer *p = producer(c, kv);
	send_n(p, "dt", 0, 1, 0);
	ck_assert_int_eq(kp_flush(p, 10000), KP_OK);
	ck_assert_int_eq(km_fault_broker_down(c, 1, false), KM_OK);
	send_n(p, "dt", 1, 20, 0);
	ck_assert_int_eq(kp_flush(p, 10000), KP_OK);
	check_reports(21);
	for (int i = 1; i < 21; i++)
		ck_assert_msg(results[i].err == KP_ERR_DELIVERY_TIMEOUT,
			      "record %d: %s", i, kp_err_name(results[i].err));
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(test_close_fails_what_is_stuck)
{
	reset_results();
	km_cluster *c = cluster(1, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "cl", 1, NULL), KM_OK);
	kp_producer *p = producer(c, NULL);
	send_n(p, "cl", 0, 1, 0);
	ck_assert_int_eq(kp_flush(p, 10000), KP_OK);
	ck_assert_int_eq(km_fault_stall(c, 1, true), KM_OK);
	send_n(p, "cl", 1, 50, 0);
	ck_assert_int_eq(kp_close(p, 300), KP_ERR_TIMED_OUT);
	check_reports(51);
	for (int i = 1; i < 51; i++)
		ck_assert_msg(results[i].err == KP_ERR_CLOSED, "record %d: %s",
			      i, kp_err_name(results[i].err));
	km_cluster_destroy(c);
}
END_TEST

START_TEST(test_buffer_full)
{
	km_cluster *c = cluster(1, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "bf", 1, NULL), KM_OK);
	const char *kv[] = {"buffer.memory", "65536", "max.block.ms", "200",
			    "batch.size", "16384", NULL};
	kp_producer *p = producer(c, kv);
	kp_record r = {.topic = "bf", .partition = 0, .value = "rec-0",
		       .value_len = 5, .timestamp = KP_TIMESTAMP_NOW};
	ck_assert_int_eq(kp_send_sync(p, &r, NULL), KP_OK);
	ck_assert_int_eq(km_fault_stall(c, 1, true), KM_OK);
	static char big[4000];
	memset(big, 'b', sizeof big);
	r.value = big;
	r.value_len = sizeof big;
	kp_err e = KP_OK;
	int sent = 0;
	while (e == KP_OK && sent < 100) {
		e = kp_send(p, &r, NULL, NULL);
		sent += e == KP_OK;
	}
	ck_assert_int_eq(e, KP_ERR_BUFFER_FULL);
	ck_assert_msg(sent >= 10 && sent < 17, "sent %d before full", sent);
	r.value_len = 70000;
	static char huge[70000];
	r.value = huge;
	ck_assert_int_eq(kp_send(p, &r, NULL, NULL), KP_ERR_RECORD_TOO_LARGE);
	ck_assert_int_eq(km_fault_stall(c, 1, false), KM_OK);
	ck_assert_int_eq(kp_flush(p, 30000), KP_OK);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_cluster_destroy(c);
}
END_TEST

static atomic_int acks_seen, closes_seen, sends_seen;

static void ic_on_send(kp_record *rec, void *opaque)
{
	(void)opaque;
	atomic_fetch_add(&sends_seen, 1);
	rec->partition = 1;
}

static void ic_on_ack(const kp_delivery_report *dr, void *opaque)
{
	(void)opaque;
	if (dr->err == KP_OK && dr->partition == 1)
		atomic_fetch_add(&acks_seen, 1);
}

static void ic_on_close(void *opaque)
{
	(void)opaque;
	atomic_fetch_add(&closes_seen, 1);
}

/* A delivery callback that sends again (from the sender thread). */
static kp_producer *chain_producer;
static atomic_int chained;

static void on_chain(const kp_delivery_report *dr, void *opaque)
{
	(void)opaque;
	ck_assert_int_eq(dr->err, KP_OK);
	kp_record r = {.topic = "ic", .partition = 0, .value = "again",
		       .value_len = 5, .timestamp = KP_TIMESTAMP_NOW};
	if (atomic_fetch_add(&chained, 1) < 3)
		ck_assert_int_eq(kp_send(chain_producer, &r, on_chain, NULL),
				 KP_OK);
	ck_assert_int_eq(kp_flush(chain_producer, 0), KP_ERR_WRONG_THREAD);
}

START_TEST(test_interceptors_and_sender_thread_sends)
{
	km_cluster *c = cluster(1, true);
	ck_assert_int_eq(km_cluster_create_topic(c, "ic", 2, NULL), KM_OK);
	kp_conf *conf = kp_conf_new();
	char err[128];
	ck_assert_int_eq(kp_conf_set(conf, "bootstrap.servers",
				     km_cluster_bootstraps(c), err, sizeof err),
			 KP_OK);
	kp_interceptor ic = {ic_on_send, ic_on_ack, ic_on_close};
	ck_assert_int_eq(kp_conf_add_interceptor(conf, &ic, NULL), KP_OK);
	kp_producer *p = NULL;
	ck_assert_int_eq(kp_producer_new(conf, &p, err, sizeof err), KP_OK);
	kp_conf_destroy(conf);
	kp_record r = {.topic = "ic", .partition = 0, .value = "v",
		       .value_len = 1, .timestamp = KP_TIMESTAMP_NOW};
	kp_delivery_report dr;
	ck_assert_int_eq(kp_send_sync(p, &r, &dr), KP_OK);
	ck_assert_int_eq(dr.partition, 1); /* on_send moved it */
	ck_assert_int_eq(atomic_load(&acks_seen), 1);
	chain_producer = p;
	ck_assert_int_eq(kp_send(p, &r, on_chain, NULL), KP_OK);
	ck_assert_int_eq(kp_flush(p, 10000), KP_OK);
	ck_assert_int_eq(atomic_load(&chained), 4);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	ck_assert_int_eq(atomic_load(&closes_seen), 1);
	ck_assert_int_eq(atomic_load(&sends_seen), 5);
	ck_assert_int_eq(atomic_load(&acks_seen), 5);
	km_cluster_destroy(c);
}
END_TEST

/* Each codec: the log holds exactly what was sent, with its codec. */
typedef struct codec_walk {
	int n;
	int codec;
	int bad;
} codec_walk;

static int check_codec(void *opaque, const km_record *rec)
{
	codec_walk *w = opaque;
	char want[32];
	snprintf(want, sizeof want, "rec-%d", w->n);
	if (rec->value.len != (int32_t)strlen(want) ||
	    memcmp(rec->value.ptr, want, strlen(want)) != 0 ||
	    rec->codec != w->codec || rec->headers_count != 1)
		w->bad++;
	w->n++;
	return 0;
}

START_TEST(test_codecs)
{
	static const char *names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
	reset_results();
	km_cluster *c = cluster(1, true);
	for (int k = 0; k < 5; k++) {
		char topic[16];
		snprintf(topic, sizeof topic, "codec-%s", names[k]);
		ck_assert_int_eq(km_cluster_create_topic(c, topic, 1, NULL),
				 KM_OK);
		const char *kv[] = {"compression.type", names[k], NULL};
		kp_producer *p = producer(c, kv);
		kp_header h = {"h", "hv", 2};
		for (int i = 0; i < 300; i++) {
			char value[32];
			snprintf(value, sizeof value, "rec-%d", i);
			kp_record r = {.topic = topic, .partition = 0,
				       .value = value,
				       .value_len = strlen(value),
				       .headers = &h, .header_count = 1,
				       .timestamp = KP_TIMESTAMP_NOW};
			ck_assert_int_eq(kp_send(p, &r, on_report,
						 (void *)(intptr_t)i),
					 KP_OK);
		}
		ck_assert_int_eq(kp_close(p, 10000), KP_OK);
		for (int i = 0; i < 300; i++)
			ck_assert_msg(results[i].err == KP_OK, "%s: %s %d",
				      names[k], kp_err_name(results[i].err),
				      results[i].kafka_err);
		codec_walk w = {0, k, 0};
		ck_assert_int_eq(km_cluster_partition_log(c, topic, 0,
							  check_codec, &w),
				 KM_OK);
		ck_assert_int_eq(w.n, 300);
		ck_assert_int_eq(w.bad, 0);
	}
	km_cluster_destroy(c);
}
END_TEST

/* ---- records lent with a free_cb ------------------------------------------ */

#define ZC_RECS 60
#define ZC_COPY_MAX 1000

/* Record i of the zero-copy test: i % 4 == 0 a lent 5000-byte value; 1 a
 * 300-byte value with a free_cb (under message.copy.max.bytes: copied);
 * 2 a 5000-byte value without one (copied); 3 a lent 2000-byte key and a
 * null value. */
typedef struct zc_rec {
	uint8_t *key, *value;
	size_t key_len, value_len;
	int lent;                /* has a free_cb */
	atomic_int freed;
	atomic_int reported_before_free;
} zc_rec;

static zc_rec zc[ZC_RECS];

static void zc_free(void *opaque)
{
	zc_rec *z = opaque;
	int i = (int)(z - zc);
	atomic_store(&z->reported_before_free,
		     atomic_load(&results[i].reports) == 1);
	atomic_fetch_add(&z->freed, 1);
}

static uint8_t *zc_bytes(int i, size_t n)
{
	uint8_t *b = malloc(n);
	for (size_t k = 0; k < n; k++)
		b[k] = (uint8_t)(i * 7 + k);
	return b;
}

/* What the broker must hold for field bytes b of record i: the first
 * byte was overwritten after kp_send, which only a referenced field
 * shows. */
static int zc_expect(const zc_rec *z, kc_bytes got, const uint8_t *sent,
		     size_t n, int i)
{
	if (!sent)
		return got.len == -1;
	if (got.len != (int32_t)n)
		return 0;
	int referenced = z->lent && n > ZC_COPY_MAX;
	if (got.ptr[0] != (referenced ? 0xEE : (uint8_t)(i * 7)))
		return 0;
	return memcmp(got.ptr + 1, sent + 1, n - 1) == 0;
}

typedef struct zc_walk {
	int n, bad;
} zc_walk;

static int zc_check(void *opaque, const km_record *rec)
{
	zc_walk *w = opaque;
	int i = w->n++;
	const zc_rec *z = &zc[i];
	if (i >= ZC_RECS ||
	    !zc_expect(z, rec->key, z->key, z->key_len, i) ||
	    !zc_expect(z, rec->value, z->value, z->value_len, i))
		w->bad++;
	return 0;
}

/* A record sent with a free_cb is referenced, not copied, when a key or
 * value is larger than message.copy.max.bytes: bytes changed after
 * kp_send reach the broker (with a codec too, the seal reading them),
 * while copied records keep what they held at kp_send. free_cb runs once
 * per lent record, after its delivery report, which with acks=0 comes once
 * the request is written. _i: none, lz4, none with acks=0. */
START_TEST(test_zero_copy_records)
{
	const char *codec = _i == 1 ? "lz4" : "none";
	const char *acks = _i == 2 ? "0" : "all";
	reset_results();
	km_cluster *c = cluster(1, false);
	ck_assert_int_eq(km_cluster_create_topic(c, "zc", 1, NULL), KM_OK);
	char copy_max[16];
	snprintf(copy_max, sizeof copy_max, "%d", ZC_COPY_MAX);
	/* Nothing is drained before kp_flush. */
	const char *kv[] = {"compression.type", codec, "linger.ms", "60000",
			    "batch.size", "1048576", "message.copy.max.bytes",
			    copy_max, "acks", acks, NULL};
	kp_producer *p = producer(c, kv);
	for (int i = 0; i < ZC_RECS; i++) {
		zc_rec *z = &zc[i];
		*z = (zc_rec){.lent = i % 4 != 2};
		z->key_len = i % 4 == 3 ? 2000 : 8;
		z->key = zc_bytes(i, z->key_len);
		z->value_len = i % 4 == 1 ? 300 : 5000;
		z->value = i % 4 == 3 ? NULL : zc_bytes(i, z->value_len);
		kp_record r = {.topic = "zc", .partition = 0,
			       .key = z->key, .key_len = z->key_len,
			       .value = z->value, .value_len = z->value_len,
			       .timestamp = KP_TIMESTAMP_NOW,
			       .free_cb = z->lent ? zc_free : NULL,
			       .free_opaque = z};
		ck_assert_int_eq(kp_send(p, &r, on_report,
					 (void *)(intptr_t)i),
				 KP_OK);
	}
	for (int i = 0; i < ZC_RECS; i++) {
		zc[i].key[0] = 0xEE;
		if (zc[i].value)
			zc[i].value[0] = 0xEE;
	}
	ck_assert_int_eq(kp_flush(p, 10000), KP_OK);
	ck_assert_int_eq(check_reports(ZC_RECS), ZC_RECS);
	for (int i = 0; i < ZC_RECS; i++) {
		ck_assert_int_eq(atomic_load(&zc[i].freed), zc[i].lent);
		if (zc[i].lent)
			ck_assert(atomic_load(&zc[i].reported_before_free));
	}
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_partition_info info;
	for (int tries = 0; tries < 100; tries++) {
		ck_assert_int_eq(km_cluster_partition_info(c, "zc", 0, &info),
				 KM_OK);
		if (info.high_watermark == ZC_RECS)
			break;
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	zc_walk w = {0, 0};
	ck_assert_int_eq(km_cluster_partition_log(c, "zc", 0, zc_check, &w),
			 KM_OK);
	ck_assert_int_eq(w.n, ZC_RECS);
	ck_assert_int_eq(w.bad, 0);
	for (int i = 0; i < ZC_RECS; i++) {
		free(zc[i].key);
		free(zc[i].value);
	}
	km_cluster_destroy(c);
}
END_TEST

START_TEST(test_acks0_and_log_append_time)
{
	reset_results();
	km_cluster *c = cluster(1, true);
	km_topic_options to = {.log_append_time = true};
	ck_assert_int_eq(km_cluster_create_topic(c, "lat", 1, &to), KM_OK);
	kp_producer *p = producer(c, NULL);
	kp_record r = {.topic = "lat", .partition = 0, .value = "rec-0",
		       .value_len = 5, .timestamp = 1000};
	kp_delivery_report dr;
	ck_assert_int_eq(kp_send_sync(p, &r, &dr), KP_OK);
	ck_assert_int_eq(dr.log_append_time, 1);
	ck_assert_msg(dr.timestamp > 1700000000000, "timestamp %" PRId64,
		      dr.timestamp);
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	/* acks=0: no answer, so no offsets; the records still land. */
	const char *kv[] = {"acks", "0", NULL};
	p = producer(c, kv);
	send_n(p, "lat", 1, 50, 0);
	ck_assert_int_eq(kp_flush(p, 10000), KP_OK);
	for (int i = 1; i < 51; i++) {
		ck_assert_int_eq(atomic_load(&results[i].reports), 1);
		ck_assert_int_eq(results[i].err, KP_OK);
		ck_assert_int_eq(results[i].offset, -1);
	}
	ck_assert_int_eq(kp_close(p, 10000), KP_OK);
	km_partition_info info;
	for (int tries = 0; tries < 100; tries++) {
		ck_assert_int_eq(km_cluster_partition_info(c, "lat", 0, &info),
				 KM_OK);
		if (info.high_watermark == 51)
			break;
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	ck_assert_int_eq(info.high_watermark, 51);
	km_cluster_destroy(c);
}
END_TEST

/* Construction and close with each allocation failing in turn: an error
 * or a producer, never a leak (the sender thread's allocations count
 * too, so the failing point moves between runs; every run must be clean). */
START_TEST(test_malloc_failures)
{
	int made = 0, refused = 0;
	for (unsigned long fail = 1;; fail++) {
		th_alloc_fail_at(fail);
		kp_conf *conf = kp_conf_new();
		if (!conf) {
			ck_assert_int_eq(th_alloc_live(), 0);
			continue;
		}
		char err[128];
		kp_err e = kp_conf_set(conf, "bootstrap.servers", "127.0.0.1:1",
				       err, sizeof err);
		if (e == KP_OK)
			e = kp_conf_set(conf, "max.block.ms", "20", err,
					sizeof err);
		kp_producer *p = NULL;
		if (e == KP_OK)
			e = kp_producer_new(conf, &p, err, sizeof err);
		kp_conf_destroy(conf);
		if (e == KP_OK) {
			kp_record r = {.topic = "t", .partition = 0,
				       .value = "v", .value_len = 1,
				       .timestamp = KP_TIMESTAMP_NOW};
			e = kp_send(p, &r, NULL, NULL);
			ck_assert(e == KP_ERR_UNKNOWN_TOPIC || e == KP_ERR_NOMEM ||
				  e == KP_ERR_CLOSED);
			kp_close(p, 0);
			made++;
		} else {
			ck_assert_int_eq(e, KP_ERR_NOMEM);
			refused++;
		}
		ck_assert_int_eq(th_alloc_live(), 0);
		if (th_alloc_count() < fail)
			break;
	}
	th_alloc_reset();
	ck_assert_msg(made > 0 && refused > 10, "made %d, refused %d", made,
		      refused);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer");
	TCase *tc = tcase_create("mock");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_produce_keyed_java_partitions);
	tcase_add_test(tc, test_sync_send_partitions_for_stats);
	tcase_add_test(tc, test_unknown_topic_then_created);
	tcase_add_test(tc, test_idempotent_swallow_and_leader_changes);
	tcase_add_test(tc, test_not_idempotent_duplicates_only_from_swallow);
	tcase_add_test(tc, test_delay_beyond_request_timeout);
	tcase_add_test(tc, test_broker_down_and_up);
	tcase_add_test(tc, test_error_queues);
	tcase_add_test(tc, test_delivery_timeout_when_unreachable);
	tcase_add_test(tc, test_close_fails_what_is_stuck);
	tcase_add_test(tc, test_buffer_full);
	tcase_add_test(tc, test_interceptors_and_sender_thread_sends);
	tcase_add_test(tc, test_codecs);
	tcase_add_loop_test(tc, test_zero_copy_records, 0, 3);
	tcase_add_test(tc, test_acks0_and_log_append_time);
	suite_add_tcase(s, tc);
	TCase *tm = tcase_create("malloc");
	tcase_set_timeout(tm, 300);
	tcase_add_test(tm, test_malloc_failures);
	suite_add_tcase(s, tm);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
