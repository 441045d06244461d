/*
 * librdkafka's idempotent producer (enable.idempotence=true) against the
 * in-process mock cluster: every message delivered once, and each
 * partition log ends with no duplicate and no gap (offsets and sequences
 * 0..n-1 of one producer id), also while leaders move.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mock_client.h"
#include "rdk_client.h"

#define NMSG 20000
#define NPART 3

static rd_kafka_t *producer(km_cluster *c, const char *codec)
{
	const char *const kv[][2] = {
		{"enable.idempotence", "true"},
		{"linger.ms", "5"},
		{"batch.num.messages", "200"},
		{"compression.codec", codec},
		{"topic.metadata.refresh.interval.ms", "500"},
		{"retry.backoff.ms", "10"},
	};
	return rdk_producer(c, kv, sizeof kv / sizeof kv[0]);
}

/* What one partition's log holds. */
typedef struct audit {
	int64_t next_offset;
	int64_t pid;
	int16_t epoch;       /* -1 before the first record */
	int64_t epoch_start; /* offset of the epoch's first record */
	int bad;
	char why[160];
	unsigned char *seen; /* NMSG flags: value-i stored */
} audit;

static int check_record(void *opaque, const km_record *r)
{
	audit *a = opaque;
	if (a->bad)
		return 1;
	if (r->offset != a->next_offset) {
		snprintf(a->why, sizeof a->why, "offset %lld, want %lld",
			 (long long)r->offset, (long long)a->next_offset);
		a->bad = 1;
	} else if (a->pid < 0 ? r->producer_id < 0 : r->producer_id != a->pid) {
		snprintf(a->why, sizeof a->why, "producer id %lld",
			 (long long)r->producer_id);
		a->bad = 1;
	} else if (r->producer_epoch < a->epoch) {
		snprintf(a->why, sizeof a->why, "offset %lld: epoch %d after %d",
			 (long long)r->offset, r->producer_epoch, a->epoch);
		a->bad = 1;
	} else {
		/* librdkafka may bump its epoch (KIP-360) when a request times
		 * out on a loaded machine; sequences then restart at 0. Within
		 * an epoch: no gap, no duplicate, so sequence counts offsets. */
		if (r->producer_epoch != a->epoch) {
			a->epoch = r->producer_epoch;
			a->epoch_start = r->offset;
		}
		if (r->sequence != (int32_t)(r->offset - a->epoch_start)) {
			snprintf(a->why, sizeof a->why,
				 "offset %lld has sequence %d (epoch %d from %lld)",
				 (long long)r->offset, r->sequence, a->epoch,
				 (long long)a->epoch_start);
			a->bad = 1;
		}
	}
	int i = -1;
	if (!a->bad && (r->value.len != 12 ||
			sscanf((const char *)r->value.ptr, "value-%6d", &i) != 1 ||
			i < 0 || i >= NMSG || a->seen[i])) {
		snprintf(a->why, sizeof a->why, "value %.*s twice or unknown",
			 r->value.len, (const char *)r->value.ptr);
		a->bad = 1;
	}
	if (a->bad)
		return 1;
	a->seen[i] = 1;
	a->pid = r->producer_id;
	a->next_offset++;
	return 0;
}

static void audit_logs(km_cluster *c, const char *topic)
{
	unsigned char *seen = calloc(NMSG, 1);
	int64_t total = 0, pid = -1;
	for (int32_t p = 0; p < NPART; p++) {
		audit a = {.pid = pid, .epoch = -1, .seen = seen};
		ck_assert_int_eq(km_cluster_partition_log(c, topic, p,
							  check_record, &a),
				 KM_OK);
		ck_assert_msg(!a.bad, "partition %d: %s", p, a.why);
		km_partition_info pi;
		ck_assert_int_eq(km_cluster_partition_info(c, topic, p, &pi),
				 KM_OK);
		ck_assert_int_eq(pi.high_watermark, a.next_offset);
		total += a.next_offset;
		pid = a.pid;
	}
	ck_assert_int_eq(total, NMSG);
	for (int i = 0; i < NMSG; i++)
		ck_assert_msg(seen[i], "value-%06d missing", i);
	free(seen);
}

static void run(const char *codec, bool move_leaders);

START_TEST(idempotent_none)
{
	run("none", false);
}
END_TEST

START_TEST(idempotent_lz4)
{
	run("lz4", false);
}
END_TEST

typedef struct mover {
	km_cluster *c;
	atomic_int stop;
	int moves;
} mover;

/* Move every partition's leader to the next broker every 30 ms. */
static void *move_leaders(void *arg)
{
	mover *m = arg;
	while (!atomic_load(&m->stop)) {
		for (int32_t p = 0; p < NPART; p++) {
			km_partition_info pi;
			ck_assert_int_eq(km_cluster_partition_info(m->c, "idem", p,
								   &pi),
					 KM_OK);
			ck_assert_int_eq(km_cluster_set_leader(m->c, "idem", p,
							       pi.leader % 3 + 1),
					 KM_OK);
		}
		m->moves++;
		usleep(30000);
	}
	return NULL;
}

START_TEST(idempotent_while_leaders_move)
{
	run("snappy", true);
}
END_TEST

static void run(const char *codec, bool moving)
{
	rdk_reset();
	km_cluster *c = mc_cluster(3, NULL);
	ck_assert_int_eq(km_cluster_create_topic(c, "idem", NPART, NULL), KM_OK);
	rd_kafka_t *rk = producer(c, codec);
	mover m = {.c = c};
	pthread_t th;
	if (moving)
		ck_assert_int_eq(pthread_create(&th, NULL, move_leaders, &m), 0);
	rdk_load load = {.topic = "idem", .n = NMSG, .key_prefix = "key-",
			 .key_mod = 1000, .pace = moving};
	rdk_produce(rk, &load);
	if (moving) {
		atomic_store(&m.stop, 1);
		pthread_join(th, NULL);
		ck_assert_int_gt(m.moves, 0);
	}
	ck_assert_int_eq(rdk_failed(), 0);
	ck_assert_int_eq(rdk_delivered(), NMSG);
	rd_kafka_destroy(rk);
	audit_logs(c, "idem");
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(c, -1, &k), KM_OK);
	ck_assert_uint_ge(k.requests_by_api[22], 1);
	/* the moves were felt: some requests met a former leader */
	if (moving)
		ck_assert_uint_gt(k.error_responses, 0);
	km_cluster_destroy(c);
}

static Suite *suite(void)
{
	Suite *s = suite_create("mock_rdkafka");
	TCase *t = tcase_create("idempotence");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, idempotent_none);
	tcase_add_test(t, idempotent_lz4);
	tcase_add_test(t, idempotent_while_leaders_move);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed_n = srunner_ntests_failed(r);
	srunner_free(r);
	return failed_n ? EXIT_FAILURE : EXIT_SUCCESS;
}
