/*
 * librdkafka's producer (acks=all) against the in-process cluster with
 * faults injected through the public km_fault_* calls:
 * - idempotent, under swallowed Produce responses and scheduled leader
 *   changes: every message delivered, each partition log holds every
 *   message exactly once, in produce order, with no gap;
 * - not idempotent: no duplicate without faults, and with swallowed
 *   responses at least one duplicate, never more duplicated batches than
 *   responses swallowed, and nothing lost.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_client.h"
#include "rdk_client.h"

#define NMSG 6000

static rd_kafka_t *producer(km_cluster *c, bool idempotent)
{
	const char *const kv[][2] = {
		{"enable.idempotence", idempotent ? "true" : "false"},
		{"acks", "all"},
		{"linger.ms", "2"},
		{"batch.num.messages", "100"},
		/* a swallowed response costs this much before the retry */
		{"socket.timeout.ms", "300"},
		{"message.timeout.ms", "60000"},
		{"retry.backoff.ms", "10"},
		{"topic.metadata.refresh.interval.ms", "200"},
		{"log_level", "2"},
	};
	return rdk_producer(c, kv, sizeof kv / sizeof kv[0]);
}

/* NMSG messages "value-<i>", spread over at least 400 ms so that faults
 * meet the producer; all delivered. */
static void produce_all(km_cluster *c, const char *topic, bool idempotent)
{
	rdk_reset();
	rd_kafka_t *rk = producer(c, idempotent);
	rdk_load load = {.topic = topic, .n = NMSG, .key_prefix = "k",
			 .key_mod = 97, .pace = true};
	rdk_produce(rk, &load);
	rd_kafka_destroy(rk);
	ck_assert_int_eq(rdk_failed(), 0);
	ck_assert_int_eq(rdk_delivered(), NMSG);
}

/* What the partition logs hold. */
typedef struct audit {
	int *times;          /* NMSG: how often value-i is stored */
	int last;            /* value index of the partition's last record */
	int64_t next_offset;
	int64_t pid;         /* idempotent: the one producer id */
	int64_t last_dup_batch;
	int dup_batches;     /* batches holding an already stored value */
	int32_t min_epoch, max_epoch; /* partition leader epochs stored */
	int16_t producer_epoch;       /* -1 before the first record */
	int64_t epoch_start;          /* offset of its first record */
	bool idempotent;
	int bad;
	char why[160];
} audit;

static int check_record(void *opaque, const km_record *r)
{
	audit *a = opaque;
	int i = -1;
	if (r->offset != a->next_offset)
		snprintf(a->why, sizeof a->why, "offset %lld, want %lld",
			 (long long)r->offset, (long long)a->next_offset);
	else if (r->value.len != 12 ||
		 sscanf((const char *)r->value.ptr, "value-%6d", &i) != 1 ||
		 i < 0 || i >= NMSG)
		snprintf(a->why, sizeof a->why, "unknown value at %lld",
			 (long long)r->offset);
	else if (a->idempotent && a->pid >= 0 && r->producer_id != a->pid)
		snprintf(a->why, sizeof a->why, "producer id %lld, want %lld",
			 (long long)r->producer_id, (long long)a->pid);
	else if (a->idempotent && r->producer_epoch < a->producer_epoch)
		snprintf(a->why, sizeof a->why, "offset %lld: epoch %d after %d",
			 (long long)r->offset, r->producer_epoch,
			 a->producer_epoch);
	else if (a->idempotent &&
		 r->sequence != (int32_t)(r->offset -
					  (r->producer_epoch == a->producer_epoch
						   ? a->epoch_start
						   : r->offset)))
		/* one producer id; within an epoch no gap, no duplicate (a
		 * KIP-360 bump after a timeout restarts sequences at 0) */
		snprintf(a->why, sizeof a->why, "offset %lld has sequence %d",
			 (long long)r->offset, r->sequence);
	else if (a->idempotent && i <= a->last)
		snprintf(a->why, sizeof a->why, "value-%06d after value-%06d",
			 i, a->last);
	else
		a->why[0] = '\0';
	if (a->why[0]) {
		a->bad = 1;
		return 1;
	}
	if (a->times[i]++ && r->batch_base_offset != a->last_dup_batch) {
		a->dup_batches++;
		a->last_dup_batch = r->batch_base_offset;
	}
	if (r->partition_leader_epoch < a->min_epoch)
		a->min_epoch = r->partition_leader_epoch;
	if (r->partition_leader_epoch > a->max_epoch)
		a->max_epoch = r->partition_leader_epoch;
	a->last = i;
	a->pid = r->producer_id;
	if (r->producer_epoch != a->producer_epoch) {
		a->producer_epoch = r->producer_epoch;
		a->epoch_start = r->offset;
	}
	a->next_offset++;
	return 0;
}

/* Audit every partition of topic; returns the duplicated batches, the
 * duplicate records in *dups, and in *epochs the most leader epochs one
 * partition's batches were appended under. Every value is stored at least
 * once. */
static int audit_logs(km_cluster *c, const char *topic, int32_t nparts,
		      bool idempotent, int *dups, int32_t *epochs)
{
	*epochs = 0;
	int *times = calloc(NMSG, sizeof *times);
	int dup_batches = 0;
	int64_t pid = -1;
	for (int32_t p = 0; p < nparts; p++) {
		audit a = {.times = times, .last = -1, .pid = pid,
			   .producer_epoch = -1, .last_dup_batch = -1,
			   .idempotent = idempotent,
			   .min_epoch = INT32_MAX, .max_epoch = -1};
		ck_assert_int_eq(km_cluster_partition_log(c, topic, p,
							  check_record, &a),
				 KM_OK);
		ck_assert_msg(!a.bad, "partition %d: %s", p, a.why);
		km_partition_info pi;
		ck_assert_int_eq(km_cluster_partition_info(c, topic, p, &pi),
				 KM_OK);
		ck_assert_int_eq(pi.high_watermark, a.next_offset);
		dup_batches += a.dup_batches;
		pid = a.pid;
		if (a.max_epoch >= a.min_epoch &&
		    a.max_epoch - a.min_epoch + 1 > *epochs)
			*epochs = a.max_epoch - a.min_epoch + 1;
	}
	*dups = 0;
	for (int i = 0; i < NMSG; i++) {
		ck_assert_msg(times[i] > 0, "value-%06d missing", i);
		*dups += times[i] - 1;
	}
	free(times);
	return dup_batches;
}

START_TEST(idempotent_swallow_and_leader_changes)
{
	km_cluster *c = mc_cluster(3, NULL);
	ck_assert_int_eq(km_cluster_create_topic(c, "idem", 3, NULL), KM_OK);
	ck_assert_int_eq(km_fault_seed(c, 7), KM_OK);
	km_fault_match m;
	km_fault_match_init(&m);
	m.api_key = 0;
	m.probability = 0.1;
	m.count = 6;
	ck_assert_int_eq(km_fault_swallow(c, &m, NULL), KM_OK);
	ck_assert_int_eq(km_fault_leader_schedule(c, "idem", KM_ANY, 100,
						  KM_LEADER_ROUND_ROBIN, 0,
						  NULL),
			 KM_OK);
	produce_all(c, "idem", true);
	ck_assert_int_eq(km_fault_clear(c), KM_OK);
	int dups;
	int32_t epochs;
	ck_assert_int_eq(audit_logs(c, "idem", 3, true, &dups, &epochs), 0);
	ck_assert_int_eq(dups, 0);
	/* leaders moved while the producer wrote */
	ck_assert_int_ge(epochs, 2);
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(c, KM_ANY, &k), KM_OK);
	/* the faults were felt: responses swallowed and their retries
	 * recognised as duplicates */
	ck_assert_uint_ge(k.faults_swallowed, 1);
	ck_assert_uint_ge(k.duplicate_batches, 1);
	ck_assert_uint_gt(k.leader_changes, 0);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(plain_no_faults_no_duplicates)
{
	km_cluster *c = mc_cluster(3, NULL);
	ck_assert_int_eq(km_cluster_create_topic(c, "plain", 1, NULL), KM_OK);
	produce_all(c, "plain", false);
	int dups;
	int32_t epochs;
	ck_assert_int_eq(audit_logs(c, "plain", 1, false, &dups, &epochs), 0);
	ck_assert_int_eq(dups, 0);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(plain_swallow_duplicates)
{
	km_cluster *c = mc_cluster(3, NULL);
	ck_assert_int_eq(km_cluster_create_topic(c, "plain", 1, NULL), KM_OK);
	ck_assert_int_eq(km_fault_seed(c, 11), KM_OK);
	km_fault_match m;
	km_fault_match_init(&m);
	m.api_key = 0;
	m.probability = 0.1;
	m.count = 4;
	ck_assert_int_eq(km_fault_swallow(c, &m, NULL), KM_OK);
	produce_all(c, "plain", false);
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(c, KM_ANY, &k), KM_OK);
	ck_assert_uint_ge(k.faults_swallowed, 1);
	int dups;
	int32_t epochs;
	int batches = audit_logs(c, "plain", 1, false, &dups, &epochs);
	/* each swallowed response lets one batch in twice, no more */
	ck_assert_int_ge(dups, 1);
	ck_assert_int_ge(batches, 1);
	ck_assert_uint_le((uint64_t)batches, k.faults_swallowed);
	ck_assert_uint_eq(k.duplicate_batches, 0);
	km_cluster_destroy(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_faults_rdkafka");
	TCase *t = tcase_create("faults");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, idempotent_swallow_and_leader_changes);
	tcase_add_test(t, plain_no_faults_no_duplicates);
	tcase_add_test(t, plain_swallow_duplicates);
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
