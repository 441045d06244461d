/* The record accumulator, application side: linger and batch.size
 * readiness, the size limits, blocking on buffer.memory, close,
 * partitioning through it, allocation behaviour. The sender side is
 * test_accumulator_drain.c. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "accumulator.h"
#include "helpers.h"
#include "loop.h"

/* Shared with the other accumulator suite (test_accumulator_common.c). */
kp__acc_conf conf_default(void);
kp__append rec(const char *topic, int32_t partition, const char *key,
	       const char *value);
kp__acc *acc_new(const kp__acc_conf *c);
size_t list_len(const kp__batch *b);
void release_all(kp__acc *a, kp__batch *b);
void set_leader(kp__tp *tp, void *arg);
void acc_done(kp__acc *a);
const char *value_of(size_t n);

START_TEST(linger_ready_drain)
{
	kp__acc_conf c = conf_default();
	c.linger_ms = 50;
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	for (int i = 0; i < 3; i++) {
		kp__append r = rec("t", 1, "k", "value");
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		ck_assert_int_eq(res.new_batch, i == 0);
		ck_assert_int_eq(res.batch_full, 0);
	}
	kp__tp *tp = res.tp;
	ck_assert_str_eq(tp->topic, "t");
	ck_assert_int_eq(tp->partition, 1);
	ck_assert_uint_eq(tp->queued_batches, 1);
	ck_assert_uint_eq(tp->queued_records, 3);
	ck_assert_uint_eq(tp->queued_bytes, kc_batch_bytes(&tp->head->b));
	ck_assert_uint_eq(kp__acc_memory_used(a), tp->queued_bytes);
	int64_t t0 = tp->head->created_ms;
	kp__batch *list = NULL;

	/* No leader yet: never ready. */
	ck_assert_int_eq(kp__acc_next_ready(a, t0), INT64_MAX);
	tp->leader = 7;
	ck_assert_int_eq(kp__acc_next_ready(a, t0), t0 + 50);
	ck_assert_int_eq(kp__acc_next_ready(a, t0 + 60), t0 + 60);
	ck_assert_uint_eq(kp__acc_drain(a, 7, t0 + 49, 1 << 20, &list), 0);
	ck_assert_uint_eq(kp__acc_drain(a, 8, t0 + 50, 1 << 20, &list), 0);
	tp->muted = 1;
	ck_assert_int_eq(kp__acc_next_ready(a, t0 + 60), INT64_MAX);
	ck_assert_uint_eq(kp__acc_drain(a, 7, t0 + 50, 1 << 20, &list), 0);
	tp->muted = 0;

	/* A flush makes it ready at once, and only while it lasts. */
	kp__acc_flush_begin(a);
	kp__acc_flush_begin(a);
	kp__acc_flush_end(a);
	ck_assert_int_eq(kp__acc_next_ready(a, t0), t0);
	kp__acc_flush_end(a);
	ck_assert_int_eq(kp__acc_next_ready(a, t0), t0 + 50);

	ck_assert_uint_eq(kp__acc_drain(a, 7, t0 + 50, 1 << 20, &list), 1);
	ck_assert_ptr_nonnull(list);
	ck_assert_ptr_null(list->next);
	ck_assert_ptr_eq(list->tp, tp);
	ck_assert_int_eq(list->sealed, 1);
	ck_assert_ptr_nonnull(list->wire);
	ck_assert_uint_eq(kp__batch_count(list), 3);
	ck_assert_int_eq(list->drained_ms, t0 + 50);
	ck_assert_uint_eq(list->attempts, 1);
	ck_assert_ptr_null(tp->head);
	ck_assert_uint_eq(tp->queued_batches, 0);
	ck_assert_uint_eq(tp->queued_records, 0);
	ck_assert_uint_eq(tp->queued_bytes, 0);
	ck_assert_int_eq(kp__acc_next_ready(a, t0 + 100), INT64_MAX);
	ck_assert_uint_gt(kp__acc_memory_used(a), 0);
	release_all(a, list);
	ck_assert_uint_eq(kp__acc_memory_used(a), 0);

	/* After close, queued batches are ready at once; appends fail. */
	kp__append r = rec("t", 1, NULL, "v");
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	int64_t t1 = tp->head->created_ms;
	kp__acc_close(a);
	kp__acc_close(a);
	ck_assert_int_eq(kp__acc_next_ready(a, t1), t1);
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_ERR_CLOSED);
	acc_done(a);
}
END_TEST

START_TEST(batch_size_rollover)
{
	kp__acc_conf c = conf_default();
	c.batch_size = 1024;
	c.linger_ms = 1000;
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	kp__append r = rec("t", 0, NULL, value_of(100));
	int n = 0;
	do {
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		n++;
	} while (!res.new_batch || n == 1);
	kp__tp *tp = res.tp;
	kp__batch *first = tp->head;
	/* The record that did not fit opened the second batch, which makes
	 * the first one full. */
	ck_assert_int_eq(res.batch_full, 1);
	ck_assert_uint_eq(kp__batch_count(first), (size_t)n - 1);
	ck_assert_uint_le(kc_batch_bytes(&first->b), 1024);
	ck_assert_uint_gt(kc_batch_bytes(&first->b) +
				  kc_batch_record_size(&first->b, r.timestamp,
						       r.key, r.value, NULL, 0),
			  1024);
	ck_assert_uint_eq(tp->queued_batches, 2);
	tp->leader = 1;
	int64_t t0 = first->created_ms;
	ck_assert_int_eq(kp__acc_next_ready(a, t0), t0);
	/* One batch per partition per drain, the full one first. */
	kp__batch *list = NULL;
	ck_assert_uint_eq(kp__acc_drain(a, 1, t0, 1 << 20, &list), 1);
	ck_assert_ptr_eq(list, first);
	ck_assert_uint_eq(tp->queued_batches, 1);
	/* The second is not full and lingers. */
	ck_assert_uint_eq(kp__acc_drain(a, 1, t0, 1 << 20, &list), 0);
	/* Filling it exactly makes it ready: append until batch_full. */
	do
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	while (!res.batch_full);
	ck_assert_uint_eq(kp__acc_drain(a, 1, t0, 1 << 20, &list), 1);
	ck_assert_uint_eq(list_len(list), 2);
	release_all(a, list);
	acc_done(a);
}
END_TEST

START_TEST(record_larger_than_batch_size)
{
	kp__acc_conf c = conf_default();
	c.batch_size = 200;
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	kp__append small = rec("t", 0, NULL, "s");
	kp__append big = rec("t", 0, NULL, value_of(1000));
	ck_assert_int_eq(kp__acc_append(a, &small, 0, &res), KP_OK);
	ck_assert_int_eq(kp__acc_append(a, &big, 0, &res), KP_OK);
	ck_assert_int_eq(res.new_batch, 1);
	ck_assert_int_eq(res.batch_full, 1);
	ck_assert_uint_eq(kp__batch_count(res.tp->tail), 1);
	ck_assert_uint_gt(kc_batch_bytes(&res.tp->tail->b), 1000);
	ck_assert_int_eq(kp__acc_append(a, &small, 0, &res), KP_OK);
	ck_assert_int_eq(res.new_batch, 1);
	ck_assert_uint_eq(res.tp->queued_batches, 3);

	/* batch.size 0: one record per batch. */
	kp__acc_destroy(a);
	c.batch_size = 0;
	a = acc_new(&c);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(kp__acc_append(a, &small, 0, &res), KP_OK);
		ck_assert_int_eq(res.new_batch, 1);
		ck_assert_int_eq(res.batch_full, 1);
	}
	ck_assert_uint_eq(res.tp->queued_batches, 3);
	acc_done(a);
}
END_TEST

START_TEST(size_limits)
{
	kp__acc_conf c = conf_default();
	c.max_request_size = 1000;
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	/* 61-byte header + record: 900 bytes of value fit, 1000 do not. */
	kp__append r = rec("t", 0, NULL, value_of(900));
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	r = rec("t", 0, NULL, value_of(1000));
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res),
			 KP_ERR_RECORD_TOO_LARGE);
	kp__acc_destroy(a);

	c = conf_default();
	c.buffer_memory = 1500;
	a = acc_new(&c);
	r = rec("t", 0, NULL, value_of(2000));
	/* Never blocks, even with a deadline. */
	ck_assert_int_eq(kp__acc_append(a, &r,
					&(kp__deadline){.budget_ms = 10000},
					&res),
			 KP_ERR_RECORD_TOO_LARGE);
	ck_assert_uint_eq(kp__acc_memory_used(a), 0);
	ck_assert_uint_eq(kp__acc_memory_total(a), 1500);

	/* Argument checks. */
	r = rec("t", 4, NULL, "v");
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res),
			 KP_ERR_UNKNOWN_PARTITION);
	r = rec("", 0, NULL, "v");
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_ERR_INVALID_ARG);
	r = rec("t", -2, NULL, "v");
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_ERR_INVALID_ARG);
	r = rec("t", 0, NULL, "v");
	r.value = (kc_bytes){NULL, 3};
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_ERR_INVALID_ARG);
	r.value = KC_BYTES_NULL;
	r.partition_count = 0;
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_ERR_INVALID_ARG);
	kp_header h = {"h", "x", 1};
	r = rec("t", 0, NULL, "v");
	r.magic = 1;
	r.headers = &h;
	r.nheaders = 1;
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_ERR_INVALID_ARG);
	r.magic = 2;
	h.key = NULL;
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_ERR_INVALID_ARG);
	ck_assert_uint_eq(kp__acc_memory_used(a), 0);
	kp__acc_destroy(a);

	c = conf_default();
	c.codec = KC_CODEC_ZSTD;
	a = acc_new(&c);
	r = rec("t", 0, NULL, "v");
	r.magic = 1;
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_ERR_UNSUPPORTED);
	kp__acc_destroy(a);
}
END_TEST

/* Fill a 4 KiB buffer.memory with 200-byte records (no linger limit). */
static kp__acc *full_acc(void)
{
	kp__acc_conf c = conf_default();
	c.buffer_memory = 4096;
	c.batch_size = 1024;
	kp__acc *a = acc_new(&c);
	kp__append r = rec("t", 0, NULL, value_of(200));
	kp__append_result res;
	kp_err e;
	while ((e = kp__acc_append(a, &r, 0, &res)) == KP_OK)
		;
	ck_assert_int_eq(e, KP_ERR_BUFFER_FULL);
	ck_assert_uint_gt(kp__acc_memory_used(a), 4096 - 300);
	int32_t leader = 0;
	kp__acc_foreach_tp(a, set_leader, &leader);
	return a;
}

START_TEST(buffer_full_times_out)
{
	kp__acc *a = full_acc();
	kp__append r = rec("t", 0, NULL, value_of(200));
	kp__append_result res;
	uint64_t t0 = kn__now_ms();
	ck_assert_int_eq(kp__acc_append(
			 a, &r, &(kp__deadline){.until_ms = (int64_t)t0 + 60}, &res),
			 KP_ERR_BUFFER_FULL);
	uint64_t waited = kn__now_ms() - t0;
	ck_assert_uint_ge(waited, 60);
	ck_assert_uint_lt(waited, 2000);
	acc_done(a);
}
END_TEST

/* max.block.ms is one budget for every wait of a send: it starts at the
 * first wait (a send that never waits reads no clock), and a later wait
 * of the same send gets what is left, here nothing. */
START_TEST(block_budget_starts_at_first_wait)
{
	kp__acc *a = full_acc();
	kp__append r = rec("t", 0, NULL, value_of(200));
	kp__append_result res;
	kp__deadline dl = {.budget_ms = 60};
	uint64_t t0 = kn__now_ms();
	ck_assert_int_eq(kp__acc_append(a, &r, &dl, &res), KP_ERR_BUFFER_FULL);
	ck_assert_int_ge(dl.until_ms, (int64_t)t0 + 60);
	ck_assert_uint_ge(kn__now_ms() - t0, 60);
	int64_t until = dl.until_ms;
	uint64_t t1 = kn__now_ms();
	ck_assert_int_eq(kp__acc_append(a, &r, &dl, &res), KP_ERR_BUFFER_FULL);
	ck_assert_int_eq(dl.until_ms, until);
	ck_assert_uint_lt(kn__now_ms() - t1, 30);
	/* No budget: no wait, no deadline. */
	kp__deadline none = {0};
	ck_assert_int_eq(kp__acc_append(a, &r, &none, &res), KP_ERR_BUFFER_FULL);
	ck_assert_int_eq(none.until_ms, 0);
	acc_done(a);
}
END_TEST

typedef struct helper_arg {
	kp__acc *a;
	int close;
} helper_arg;

/* After 50 ms: drain and release everything (the sender), or close. */
static void *helper_thread(void *p)
{
	helper_arg *h = p;
	struct timespec ts = {0, 50 * 1000000L};
	nanosleep(&ts, NULL);
	if (h->close) {
		kp__acc_close(h->a);
		return NULL;
	}
	kp__acc_flush_begin(h->a);
	kp__batch *list = NULL;
	while (kp__acc_drain(h->a, 0, (int64_t)kn__now_ms(), 1 << 20, &list))
		;
	kp__acc_flush_end(h->a);
	release_all(h->a, list);
	return NULL;
}

START_TEST(blocked_append_released)
{
	for (int close = 0; close <= 1; close++) {
		kp__acc *a = full_acc();
		helper_arg h = {a, close};
		pthread_t th;
		/* Before the helper starts: it acts 50 ms after that. */
		uint64_t t0 = kn__now_ms();
		ck_assert_int_eq(pthread_create(&th, NULL, helper_thread, &h),
				 0);
		kp__append r = rec("t", 0, NULL, value_of(200));
		kp__append_result res;
		kp_err e = kp__acc_append(
			a, &r, &(kp__deadline){.until_ms = (int64_t)t0 + 10000},
			&res);
		uint64_t waited = kn__now_ms() - t0;
		ck_assert_int_eq(e, close ? KP_ERR_CLOSED : KP_OK);
		ck_assert_uint_ge(waited, 45);
		ck_assert_uint_lt(waited, 5000);
		pthread_join(th, NULL);
		acc_done(a);
	}
}
END_TEST

typedef struct big_arg {
	kp__acc *a;
	atomic_int started;
	kp_err result;
} big_arg;

static void *big_appender(void *p)
{
	big_arg *b = p;
	kp__append r = rec("t", 1, NULL, NULL);
	static char big[2900];
	memset(big, 'b', sizeof big);
	r.value = kc_bytes_of(big, sizeof big);
	kp__append_result res;
	atomic_store(&b->started, 1);
	b->result = kp__acc_append(b->a, &r,
				   &(kp__deadline){.budget_ms = 10000}, &res);
	return NULL;
}

static size_t drain_release(kp__acc *a, size_t max_batches)
{
	size_t n = 0;
	kp__acc_flush_begin(a);
	while (n < max_batches) {
		kp__batch *list = NULL;
		if (!kp__acc_drain(a, 0, (int64_t)kn__now_ms(), 1, &list))
			break;
		release_all(a, list);
		n++;
	}
	kp__acc_flush_end(a);
	return n;
}

/* Waiting appends are served in order: a small record does not pass a
 * large one waiting, even when it would fit. */
START_TEST(memory_waiters_in_order)
{
	kp__acc *a = full_acc();
	big_arg b = {a, 0, KP_ERR_INVALID_ARG};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, big_appender, &b), 0);
	/* Let it start and get in line. */
	struct timespec ts = {0, 1000000L};
	while (!atomic_load(&b.started))
		nanosleep(&ts, NULL);
	ts.tv_nsec = 100 * 1000000L;
	nanosleep(&ts, NULL);
	/* Free one batch: room for a small record, not for the big one. */
	ck_assert_uint_eq(drain_release(a, 1), 1);
	size_t used = kp__acc_memory_used(a);
	ck_assert_uint_lt(used, 4096 - 300);
	ck_assert_uint_gt(used + 2900, 4096);
	kp__append r = rec("t", 0, NULL, value_of(200));
	kp__append_result res;
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_ERR_BUFFER_FULL);
	ck_assert_int_eq(kp__acc_append(a, &r, &(kp__deadline){.budget_ms = 30},
					&res),
			 KP_ERR_BUFFER_FULL);
	ck_assert_uint_eq(kp__acc_memory_used(a), used);
	/* Free the rest: the big one goes first, then the small one fits. */
	drain_release(a, 100);
	pthread_join(th, NULL);
	ck_assert_int_eq(b.result, KP_OK);
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	acc_done(a);
}
END_TEST

START_TEST(sticky_through_accumulator)
{
	kp__acc_conf c = conf_default();
	c.batch_size = 1000;
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	int32_t prev = -1;
	size_t run_bytes = 0, runs = 0;
	int used[4] = {0};
	for (int i = 0; i < 400; i++) {
		kp__append r = rec("sticky", KP_PARTITION_ANY, NULL,
				   value_of(90));
		size_t before = kp__acc_memory_used(a);
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		size_t added = kp__acc_memory_used(a) - before;
		int32_t p = res.tp->partition;
		used[p] = 1;
		if (p != prev && prev >= 0) {
			/* A move only after batch.size went to the partition:
			 * a run fills its batch. */
			ck_assert_uint_ge(run_bytes, 1000);
			run_bytes = 0;
			runs++;
		}
		run_bytes += added;
		prev = p;
	}
	ck_assert_uint_gt(runs, 3);
	ck_assert_int_ge(used[0] + used[1] + used[2] + used[3], 3);
	acc_done(a);
}
END_TEST

static int32_t custom_cb(const char *topic, const void *key, size_t key_len,
			 int32_t count, void *opaque)
{
	(void)topic;
	(void)count;
	*(int *)opaque += 1;
	/* "any": the default choice; "bad": out of range; else 3. */
	if (key_len == 3 && memcmp(key, "any", 3) == 0)
		return KP_PARTITION_ANY;
	if (key_len == 3 && memcmp(key, "bad", 3) == 0)
		return 4;
	return 3;
}

START_TEST(custom_partitioner)
{
	int calls = 0;
	kp__acc_conf c = conf_default();
	c.partitioner = (kp__partitioner){.kind = KP__PART_CUSTOM,
					  .cb = custom_cb,
					  .cb_opaque = &calls};
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	kp__append r = rec("t", KP_PARTITION_ANY, "key", "v");
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	ck_assert_int_eq(res.tp->partition, 3);
	r = rec("t", KP_PARTITION_ANY, NULL, "v");
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	ck_assert_int_eq(res.tp->partition, 3);
	r = rec("t", KP_PARTITION_ANY, "any", "v");
	r.partition_count = 100;
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	ck_assert_int_eq(res.tp->partition,
			 kp__partition_murmur2("any", 3, 100));
	size_t used = kp__acc_memory_used(a);
	r = rec("t", KP_PARTITION_ANY, "bad", "v");
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res),
			 KP_ERR_UNKNOWN_PARTITION);
	ck_assert_uint_eq(kp__acc_memory_used(a), used);
	/* An explicit partition skips it. */
	r = rec("t", 1, "bad", "v");
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	ck_assert_int_eq(res.tp->partition, 1);
	ck_assert_int_eq(calls, 4);
	acc_done(a);
}
END_TEST

START_TEST(keyed_records_java_partition)
{
	kp__acc_conf c = conf_default();
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	kp__append r = rec("t", KP_PARTITION_ANY, "foobar", "v");
	r.partition_count = 100;
	/* Java: toPositive(murmur2("foobar")) % 100 = 1357151166 % 100. */
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	ck_assert_int_eq(res.tp->partition, 66);
	static const char *keys[] = {"21", "abc", "kafka", "", "key-7"};
	for (size_t i = 0; i < 5; i++) {
		r = rec("t", KP_PARTITION_ANY, keys[i], "v");
		r.partition_count = 10;
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		ck_assert_int_eq(res.tp->partition,
				 kp__partition_murmur2(keys[i],
						       strlen(keys[i]), 10));
	}
	acc_done(a);
}
END_TEST

static void warm_round(kp__acc *a)
{
	kp_header h[3] = {{"a", "1", 1}, {"b", NULL, 0}, {"c", "33", 2}};
	kp__append_result res;
	for (int i = 0; i < 600; i++) {
		kp__append r = rec("warm", i % 3, "key", value_of(50));
		r.headers = h;
		r.nheaders = 3;
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	}
	int32_t leader = 0;
	kp__acc_foreach_tp(a, set_leader, &leader);
	kp__batch *list = NULL;
	kp__acc_flush_begin(a);
	while (kp__acc_drain(a, 0, (int64_t)kn__now_ms(), 1 << 20, &list))
		;
	kp__acc_flush_end(a);
	release_all(a, list);
}

START_TEST(no_allocation_once_warm)
{
	th_alloc_fail_at(0);
	kp__acc_conf c = conf_default();
	c.batch_size = 2048;
	kp__acc *a = acc_new(&c);
	warm_round(a);
	warm_round(a);
	unsigned long before = th_alloc_count();
	warm_round(a);
	warm_round(a);
	ck_assert_uint_eq(th_alloc_count(), before);
	kp__acc_destroy(a);
	ck_assert_int_eq(th_alloc_live(), 0);
	th_alloc_reset();
}
END_TEST

/* Every allocation failure point: an error, no leak. */
START_TEST(malloc_failure_run)
{
	kp_header h[20];
	for (int i = 0; i < 20; i++)
		h[i] = (kp_header){"hdr", "x", 1};
	int completed = 0;
	for (unsigned long k = 1; !completed && k < 500; k++) {
		th_alloc_fail_at(k);
		kp__acc *a = NULL;
		kp__acc_conf c = conf_default();
		c.batch_size = 600;
		kp_err e = kp__acc_new(&a, &c);
		if (e != KP_OK) {
			ck_assert_int_eq(e, KP_ERR_NOMEM);
			ck_assert_int_eq(th_alloc_live(), 0);
			continue;
		}
		int failures = 0;
		kp__append_result res;
		for (int i = 0; i < 12; i++) {
			kp__append r = rec(i % 2 ? "a" : "b", i % 3, NULL,
					   value_of(40));
			if (i == 5) {
				r.headers = h;
				r.nheaders = 20;
			}
			e = kp__acc_append(a, &r, 0, &res);
			if (e != KP_OK) {
				ck_assert_int_eq(e, KP_ERR_NOMEM);
				failures++;
			}
		}
		int32_t leader = 0;
		kp__acc_foreach_tp(a, set_leader, &leader);
		kp__acc_flush_begin(a);
		kp__batch *list = NULL;
		while (kp__acc_drain(a, 0, (int64_t)kn__now_ms(), 1 << 20,
				     &list))
			;
		for (kp__batch *b = list; b; b = b->next) {
			if (b->nrecs < 2)
				continue;
			kp__batch *next = b->next;
			e = kp__acc_split(a, b);
			if (e != KP_OK) {
				ck_assert_int_eq(e, KP_ERR_NOMEM);
				failures++;
				continue;
			}
			/* Released by the split: unlink it. */
			kp__batch **pp = &list;
			while (*pp != b)
				pp = &(*pp)->next;
			*pp = next;
			break;
		}
		release_all(a, list);
		acc_done(a);
		ck_assert_int_eq(th_alloc_live(), 0);
		completed = failures == 0;
	}
	th_alloc_reset();
	ck_assert(completed);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_accumulator");
	TCase *t = tcase_create("accumulator");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, linger_ready_drain);
	tcase_add_test(t, batch_size_rollover);
	tcase_add_test(t, record_larger_than_batch_size);
	tcase_add_test(t, size_limits);
	tcase_add_test(t, buffer_full_times_out);
	tcase_add_test(t, block_budget_starts_at_first_wait);
	tcase_add_test(t, blocked_append_released);
	tcase_add_test(t, memory_waiters_in_order);
	tcase_add_test(t, sticky_through_accumulator);
	tcase_add_test(t, keyed_records_java_partition);
	tcase_add_test(t, custom_partitioner);
	tcase_add_test(t, no_allocation_once_warm);
	tcase_add_test(t, malloc_failure_run);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
