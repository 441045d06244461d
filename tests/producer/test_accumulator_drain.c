/* The record accumulator, sender side: re-enqueue order, the drain's
 * round robin and size limit, split, expire and abort, sealing with
 * shared codec contexts, and many appending threads against one
 * drainer. The application side is test_accumulator.c. */
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

static kp__batch *drain_one_now(kp__acc *a, int64_t now)
{
	kp__batch *list = NULL;
	ck_assert_uint_eq(kp__acc_drain(a, 0, now, 1 << 20, &list), 1);
	return list;
}

START_TEST(reenqueue_order)
{
	kp__acc_conf c = conf_default();
	c.batch_size = 0; /* one record per batch */
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	for (int i = 0; i < 4; i++) {
		kp__append r = rec("t", 0, NULL, "v");
		r.opaque = (void *)(uintptr_t)(i + 1);
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	}
	res.tp->leader = 0;
	int64_t now = (int64_t)kn__now_ms();
	kp__batch *b1 = drain_one_now(a, now);
	kp__batch *b2 = drain_one_now(a, now);
	kp__batch *b3 = drain_one_now(a, now);
	ck_assert_ptr_eq(b1->recs[0].opaque, (void *)1);
	ck_assert_ptr_eq(b3->recs[0].opaque, (void *)3);
	/* Back in any order, they go out in drain order, before record 4. */
	kp__acc_reenqueue(a, b2);
	kp__acc_reenqueue(a, b3);
	kp__acc_reenqueue(a, b1);
	ck_assert_uint_eq(res.tp->queued_batches, 4);
	kp__batch *x[4];
	for (int i = 0; i < 4; i++) {
		x[i] = drain_one_now(a, now);
		ck_assert_ptr_eq(x[i]->recs[0].opaque,
				 (void *)(uintptr_t)(i + 1));
	}
	ck_assert_uint_eq(x[0]->attempts, 2);
	ck_assert_uint_eq(x[3]->attempts, 1);
	/* With sequences, the sequence decides (not the drain order). */
	ck_assert_int_eq(kp__batch_stamp(x[0], 9, 0, 30), KP_OK);
	ck_assert_int_eq(kp__batch_stamp(x[1], 9, 0, 10), KP_OK);
	ck_assert_int_eq(kp__batch_stamp(x[2], 9, 0, 20), KP_OK);
	kp__acc_reenqueue(a, x[0]);
	kp__acc_reenqueue(a, x[1]);
	kp__acc_reenqueue(a, x[2]);
	/* A retry waiting for its backoff holds back the queue. */
	x[1]->retry_at_ms = now + 100;
	ck_assert_int_eq(kp__acc_next_ready(a, now), now + 100);
	kp__batch *none = NULL;
	ck_assert_uint_eq(kp__acc_drain(a, 0, now, 1 << 20, &none), 0);
	ck_assert_ptr_eq(drain_one_now(a, now + 100), x[1]);
	ck_assert_ptr_eq(drain_one_now(a, now + 100), x[2]);
	ck_assert_ptr_eq(drain_one_now(a, now + 100), x[0]);
	release_all(a, x[0]);
	release_all(a, x[1]);
	release_all(a, x[2]);
	release_all(a, x[3]);
	acc_done(a);
}
END_TEST

START_TEST(drain_round_robin_and_max_bytes)
{
	kp__acc_conf c = conf_default();
	c.batch_size = 300;
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	/* Two full batches in each of 4 partitions. */
	for (int p = 0; p < 4; p++)
		for (int i = 0; i < 2; i++) {
			kp__append r = rec("t", p, NULL, value_of(250));
			ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		}
	int32_t leader = 3;
	kp__acc_foreach_tp(a, set_leader, &leader);
	int64_t now = (int64_t)kn__now_ms();
	size_t one = kc_batch_bytes(&res.tp->head->b);
	/* Room for two: the next call starts where this one stopped. */
	kp__batch *list = NULL;
	ck_assert_uint_eq(kp__acc_drain(a, 3, now, 2 * one + 1, &list), 2);
	ck_assert_int_eq(list->tp->partition, 0);
	ck_assert_int_eq(list->next->tp->partition, 1);
	kp__batch *l2 = NULL;
	ck_assert_uint_eq(kp__acc_drain(a, 3, now, 2 * one + 1, &l2), 2);
	ck_assert_int_eq(l2->tp->partition, 2);
	ck_assert_int_eq(l2->next->tp->partition, 3);
	/* The first batch is always taken, whatever max_bytes. */
	kp__batch *l3 = NULL;
	ck_assert_uint_eq(kp__acc_drain(a, 3, now, 1, &l3), 1);
	/* At most one per partition per call. */
	kp__batch *l4 = NULL;
	ck_assert_uint_eq(kp__acc_drain(a, 3, now, 1 << 20, &l4), 3);
	release_all(a, list);
	release_all(a, l2);
	release_all(a, l3);
	release_all(a, l4);
	acc_done(a);
}
END_TEST

static void no_free(void *opaque)
{
	(void)opaque;
}

/* _i: codec + 5 * lent (the records carry a free_cb and their values are
 * referenced by the batch, not copied). */
START_TEST(split_refused_batch)
{
	int lent = _i > KC_CODEC_ZSTD;
	kp__acc_conf c = conf_default();
	c.batch_size = 4096;
	c.codec = _i % (KC_CODEC_ZSTD + 1);
	c.copy_max = 4;
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	static char values[30][32];
	char v[32];
	for (int i = 0; i < 30; i++) {
		snprintf(values[i], sizeof values[i], "value %d %s", i,
			 i % 2 ? "odd" : "");
		kp__append r = rec("t", 2, "key", values[i]);
		r.opaque = (void *)(uintptr_t)(i + 1);
		r.timestamp += i;
		r.free_cb = lent ? no_free : NULL;
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	}
	kp__tp *tp = res.tp;
	tp->leader = 0;
	kp__acc_flush_begin(a);
	kp__batch *b = drain_one_now(a, (int64_t)kn__now_ms());
	ck_assert_uint_eq(kp__batch_count(b), 30);
	ck_assert_int_eq(b->wire_lent != NULL,
			 lent && c.codec == KC_CODEC_NONE);
	ck_assert_int_eq(kp__acc_split(a, b), KP_OK);
	/* Halves at least (the broker's limit may be below batch.size). */
	ck_assert_uint_ge(tp->queued_batches, 2);
	ck_assert_uint_eq(tp->queued_records, 30);
	ck_assert_uint_eq(kp__acc_memory_used(a), tp->queued_bytes);
	int n = 0;
	kp__batch *list = NULL;
	while (kp__acc_drain(a, 0, (int64_t)kn__now_ms(), 1 << 20, &list))
		;
	for (kp__batch *x = list; x; x = x->next) {
		kc_records_iter it;
		kc_decode_error err;
		kc_batch_info info;
		kc_record_view rv;
		/* The pieces copy what they hold. */
		ck_assert_ptr_nonnull(x->wire);
		kc_records_iter_init(&it, x->wire, x->wire_len,
				     KC_ITER_STRICT_END, &err);
		ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
		ck_assert(info.crc_ok);
		ck_assert_int_eq(info.codec, c.codec);
		for (size_t k = 0; k < x->nrecs; k++, n++) {
			ck_assert_int_eq(kc_records_next(&it, &rv), 1);
			snprintf(v, sizeof v, "value %d %s", n,
				 n % 2 ? "odd" : "");
			ck_assert(kc_bytes_eq(rv.value, th_bstr(v)));
			ck_assert_int_eq(rv.timestamp, 1700000000000 + n);
			ck_assert_ptr_eq(x->recs[k].opaque,
					 (void *)(uintptr_t)(n + 1));
			ck_assert(x->recs[k].free_cb ==
				  (lent ? no_free : NULL));
		}
		ck_assert_int_eq(kc_records_next(&it, &rv), 0);
		kc_records_iter_free(&it);
	}
	ck_assert_int_eq(n, 30);
	/* One record cannot be split. */
	kp__batch *single = list;
	while (single && single->nrecs != 1)
		single = single->next;
	if (!single) {
		kp__append r = rec("t", 3, NULL, "v");
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		res.tp->leader = 0;
		ck_assert_uint_eq(kp__acc_drain(a, 0, (int64_t)kn__now_ms(),
						1 << 20, &list),
				  1);
		single = list;
		while (single->next)
			single = single->next;
	}
	ck_assert_int_eq(kp__acc_split(a, single), KP_ERR_INVALID_ARG);
	kp__acc_flush_end(a);
	release_all(a, list);
	acc_done(a);
}
END_TEST

START_TEST(expire_and_abort)
{
	kp__acc_conf c = conf_default();
	c.linger_ms = 100000;
	c.batch_size = 1000;
	kp__acc *a = acc_new(&c);
	kp__append_result res;
	int64_t t0 = 0;
	for (int p = 0; p < 3; p++) {
		kp__append r = rec("t", p, NULL, "v");
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		if (p == 0)
			t0 = res.tp->head->created_ms; /* the oldest */
	}
	kp__batch *list = NULL;
	ck_assert_uint_eq(kp__acc_expire(a, t0 + 999, 1000, &list), 0);
	struct timespec ts = {0, 20 * 1000000L};
	nanosleep(&ts, NULL);
	/* A second, later batch on partition 2 (the record alone passes
	 * batch.size). */
	kp__append r = rec("t", 2, NULL, value_of(2000));
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	ck_assert_int_eq(res.new_batch, 1);
	ck_assert_uint_eq(res.tp->queued_batches, 2);
	int64_t t1 = res.tp->tail->created_ms;
	ck_assert_int_gt(t1, t0);
	/* At t1 + 999 every batch but the new one is 1000 ms old. */
	ck_assert_uint_eq(kp__acc_expire(a, t1 + 999, 1000, &list), 3);
	ck_assert_uint_eq(list_len(list), 3);
	ck_assert_uint_eq(res.tp->queued_batches, 1);
	ck_assert_ptr_eq(res.tp->head, res.tp->tail);
	ck_assert_int_eq(res.tp->head->created_ms, t1);
	/* The tail was kept right: a record lands behind it. */
	kp__append s = rec("t", 2, NULL, "v");
	ck_assert_int_eq(kp__acc_append(a, &s, 0, &res), KP_OK);
	ck_assert_int_eq(res.new_batch, 1);
	ck_assert_uint_eq(res.tp->queued_batches, 2);
	kp__batch *rest = NULL;
	ck_assert_uint_eq(kp__acc_abort(a, &rest), 2);
	ck_assert_int_eq(rest->created_ms, t1);
	ck_assert_ptr_null(res.tp->head);
	ck_assert_ptr_null(res.tp->tail);
	ck_assert_uint_eq(res.tp->queued_bytes, 0);
	ck_assert_uint_eq(res.tp->queued_records, 0);
	release_all(a, list);
	release_all(a, rest);
	acc_done(a);
}
END_TEST

/* One round: 600 records with headers over 3 partitions, drained and
 * released. */
/* ---- concurrency -------------------------------------------------------- */

#define CT_THREADS 4
#define CT_RECORDS 20000
#define CT_PARTS 8

typedef struct ct_state {
	kp__acc *a;
	int64_t expire_timeout; /* alternated, so each pass walks */
	atomic_int appenders_done;
	uint8_t seen[CT_THREADS][CT_RECORDS];
	int32_t last[CT_THREADS][CT_PARTS]; /* drainer: order per partition */
	size_t drained;
} ct_state;

typedef struct ct_arg {
	ct_state *st;
	int id;
} ct_arg;

static void *ct_appender(void *p)
{
	ct_arg *arg = p;
	char key[16];
	for (int i = 0; i < CT_RECORDS; i++) {
		snprintf(key, sizeof key, "k%d", i % 50);
		kp__append r = rec("ct", KP_PARTITION_ANY,
				   i % 3 ? key : NULL, "concurrent value");
		r.partition_count = CT_PARTS;
		r.opaque = (void *)(uintptr_t)(arg->id * CT_RECORDS + i);
		kp__append_result res;
		kp_err e = kp__acc_append(arg->st->a, &r,
					  &(kp__deadline){.budget_ms = 30000},
					  &res);
		ck_assert_int_eq(e, KP_OK);
	}
	atomic_fetch_add(&arg->st->appenders_done, 1);
	return NULL;
}

static void ct_leader(kp__tp *tp, void *arg)
{
	(void)arg;
	tp->leader = tp->partition % 3;
}

static void *ct_drainer(void *p)
{
	ct_state *st = p;
	size_t want = (size_t)CT_THREADS * CT_RECORDS;
	int flushing = 0;
	while (st->drained < want) {
		if (!flushing && atomic_load(&st->appenders_done) == CT_THREADS) {
			kp__acc_flush_begin(st->a);
			flushing = 1;
		}
		kp__acc_foreach_tp(st->a, ct_leader, NULL);
		int64_t now = (int64_t)kn__now_ms();
		kp__batch *list = NULL;
		/* Walks the queues (seals in progress included); nothing is
		 * old enough to go. */
		st->expire_timeout ^= 1;
		ck_assert_uint_eq(kp__acc_expire(st->a, now,
						 600000 + st->expire_timeout,
						 &list),
				  0);
		for (int32_t node = 0; node < 3; node++)
			kp__acc_drain(st->a, node, now, 64 * 1024, &list);
		for (kp__batch *b = list; b; b = b->next) {
			ck_assert_ptr_nonnull(b->wire);
			int32_t part = b->tp->partition;
			for (size_t i = 0; i < b->nrecs; i++) {
				uintptr_t id = (uintptr_t)b->recs[i].opaque;
				int th = (int)(id / CT_RECORDS);
				int32_t n = (int32_t)(id % CT_RECORDS);
				ck_assert_int_eq(st->seen[th][n], 0);
				st->seen[th][n] = 1;
				/* One thread's records to one partition stay
				 * in order. */
				ck_assert_int_gt(n, st->last[th][part]);
				st->last[th][part] = n;
				st->drained++;
			}
		}
		release_all(st->a, list);
		if (!list) {
			struct timespec ts = {0, 200000L};
			nanosleep(&ts, NULL);
		}
	}
	kp__acc_flush_end(st->a);
	return NULL;
}

/* _i: uncompressed, lz4 (appenders then seal batches themselves while
 * the drainer drains and walks for expiry). */
START_TEST(concurrent_appenders_one_drainer)
{
	static ct_state st;
	memset(&st, 0, sizeof st);
	for (int t = 0; t < CT_THREADS; t++)
		for (int p = 0; p < CT_PARTS; p++)
			st.last[t][p] = -1;
	kp__acc_conf c = conf_default();
	c.batch_size = 2048;
	c.buffer_memory = 64 * 1024; /* appenders block on it */
	c.linger_ms = 1;
	c.codec = _i ? KC_CODEC_LZ4 : KC_CODEC_NONE;
	st.a = acc_new(&c);
	pthread_t app[CT_THREADS], dr;
	ct_arg args[CT_THREADS];
	ck_assert_int_eq(pthread_create(&dr, NULL, ct_drainer, &st), 0);
	for (int t = 0; t < CT_THREADS; t++) {
		args[t] = (ct_arg){&st, t};
		ck_assert_int_eq(
			pthread_create(&app[t], NULL, ct_appender, &args[t]),
			0);
	}
	for (int t = 0; t < CT_THREADS; t++)
		pthread_join(app[t], NULL);
	pthread_join(dr, NULL);
	ck_assert_uint_eq(st.drained, (size_t)CT_THREADS * CT_RECORDS);
	for (int t = 0; t < CT_THREADS; t++)
		for (int i = 0; i < CT_RECORDS; i++)
			ck_assert_int_eq(st.seen[t][i], 1);
	acc_done(st.a);
}
END_TEST

/* Expiry does not walk the queues on every pass, yet nothing expires
 * late: a batch queued after a walk, and one re-enqueued (older than
 * any walk saw) or split after it, are each taken once they reach the
 * timeout. */
START_TEST(expire_skips_walks_but_not_batches)
{
	kp__acc_conf c = conf_default();
	c.linger_ms = 0;
	c.batch_size = 0; /* one record per batch */
	kp__acc *a = acc_new(&c);
	int32_t leader = 0;
	kp__append_result res;
	kp__append r = rec("t", 0, NULL, "v");
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	kp__acc_foreach_tp(a, set_leader, &leader);
	int64_t t0 = res.tp->head->created_ms;
	/* In flight: the walk below finds the queue empty. */
	kp__batch *b = drain_one_now(a, t0);
	kp__batch *list = NULL;
	ck_assert_uint_eq(kp__acc_expire(a, t0 + 500, 1000, &list), 0);
	/* Back in the queue, older than that walk's time. */
	kp__acc_reenqueue(a, b);
	ck_assert_uint_eq(kp__acc_expire(a, t0 + 999, 1000, &list), 0);
	ck_assert_uint_eq(kp__acc_expire(a, t0 + 1000, 1000, &list), 1);
	ck_assert_ptr_eq(list, b);
	release_all(a, list);
	list = NULL;
	/* Queued after a walk (at a time ahead of the clock, as a test may
	 * pass): taken at its own created_ms + timeout. */
	ck_assert_uint_eq(kp__acc_expire(a, t0 + 5000, 1000, &list), 0);
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	int64_t t1 = res.tp->head->created_ms;
	ck_assert_uint_eq(kp__acc_expire(a, t1 + 999, 1000, &list), 0);
	ck_assert_uint_eq(kp__acc_expire(a, t1 + 1000, 1000, &list), 1);
	release_all(a, list);
	list = NULL;
	/* Split after a walk: the pieces keep the old created_ms. */
	kp__append two[2] = {rec("t", 0, NULL, value_of(300)),
			     rec("t", 0, NULL, value_of(300))};
	c = conf_default();
	c.linger_ms = 0;
	kp__acc *a2 = acc_new(&c);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(kp__acc_append(a2, &two[i], 0, &res), KP_OK);
	kp__acc_foreach_tp(a2, set_leader, &leader);
	int64_t t2 = res.tp->head->created_ms;
	b = drain_one_now(a2, t2);
	ck_assert_uint_eq(b->nrecs, 2);
	ck_assert_uint_eq(kp__acc_expire(a2, t2 + 500, 1000, &list), 0);
	ck_assert_int_eq(kp__acc_split(a2, b), KP_OK);
	ck_assert_uint_eq(kp__acc_expire(a2, t2 + 1000, 1000, &list), 2);
	release_all(a2, list);
	acc_done(a2);
	acc_done(a);
}
END_TEST

/* Decode sealed b: one batch of `codec`, every value value_len bytes, as
 * many records as b reports. Returns that count. */
static size_t read_back(const kp__batch *b, int codec, int32_t value_len)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info info;
	kc_record_view v;
	size_t n = 0;
	kc_records_iter_init(&it, b->wire, b->wire_len, 0, &err);
	ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
	ck_assert_int_eq(info.codec, codec);
	while (kc_records_next(&it, &v) == 1) {
		ck_assert_int_eq(v.value.len, value_len);
		n++;
	}
	ck_assert_int_eq(err.code, KC_OK);
	ck_assert_uint_eq(n, b->nrecs);
	kc_records_iter_free(&it);
	return n;
}

/* Sealing takes the accumulator's codec contexts and compression
 * buffer: with gzip, lz4 and zstd, once warm, draining allocates nothing
 * (no context per batch or per seal), no batch holds either, every
 * batch reads back, and destroying the accumulator frees them.
 * _i: gzip, lz4, zstd. */
START_TEST(compressed_drains_share_contexts)
{
	static const int codecs[] = {KC_CODEC_GZIP, KC_CODEC_LZ4,
				     KC_CODEC_ZSTD};
	th_alloc_fail_at(0);
	kp__acc_conf c = conf_default();
	c.batch_size = 2048;
	c.codec = codecs[_i];
	kp__acc *a = acc_new(&c);
	int32_t leader = 0;
	for (int round = 0; round < 4; round++) {
		unsigned long before = th_alloc_count();
		for (int i = 0; i < 300; i++) {
			kp__append_result res;
			kp__append r = rec("z", i % 3, "key", value_of(50));
			ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		}
		kp__acc_foreach_tp(a, set_leader, &leader);
		kp__batch *list = NULL;
		kp__acc_flush_begin(a);
		while (kp__acc_drain(a, 0, (int64_t)kn__now_ms(), 1 << 20,
				     &list))
			;
		kp__acc_flush_end(a);
		/* (The reading below allocates: it is not counted.) */
		if (round >= 2)
			ck_assert_uint_eq(th_alloc_count(), before);
		size_t records = 0;
		for (kp__batch *b = list; b; b = b->next) {
			ck_assert(b->sealed);
			/* No batch keeps contexts or a compression
			 * buffer of its own. */
			ck_assert_ptr_null(b->b.cc);
			ck_assert_ptr_null(b->b.z.buf);
			records += read_back(b, codecs[_i], 50);
		}
		ck_assert_uint_eq(records, 300);
		release_all(a, list);
	}
	kp__acc_destroy(a);
	ck_assert_int_eq(th_alloc_live(), 0);
	th_alloc_reset();
}
END_TEST

/* ---- sealing on appending threads ---------------------------------------- */

/* Three full batches queued on one partition: kp__batch.sealing is
 * guarded by the partition lock, taken here as the sender would. */
static size_t fill_three(kp__acc *a, kp__tp **tp)
{
	kp__append_result res;
	size_t n = 0;
	do {
		kp__append r = rec("s", 0, NULL, value_of(100));
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		n++;
	} while (res.tp->queued_batches < 3);
	*tp = res.tp;
	return n;
}

/* With compression, a batch filled while an older one still waits for
 * the sender is sealed by the appending thread; the oldest (the sender's
 * next) and the open one are not; without compression none is. Every
 * batch reads back, in order. _i: none, lz4. */
START_TEST(appender_seals_when_sender_behind)
{
	static const int codecs[] = {KC_CODEC_NONE, KC_CODEC_LZ4};
	kp__acc_conf c = conf_default();
	c.batch_size = 2048;
	c.codec = codecs[_i];
	kp__acc *a = acc_new(&c);
	kp__tp *tp;
	size_t appended = fill_three(a, &tp);
	kp__batch *first = tp->head, *second = first->next;
	ck_assert_int_eq(first->sealed, 0);
	ck_assert_int_eq(second->sealed, _i == 1);
	ck_assert_int_eq(second->sealing, 0);
	ck_assert_int_eq(tp->tail->sealed, 0);
	int32_t leader = 0;
	kp__acc_foreach_tp(a, set_leader, &leader);
	kp__batch *list = NULL;
	kp__acc_flush_begin(a);
	while (kp__acc_drain(a, 0, (int64_t)kn__now_ms(), 1 << 20, &list))
		;
	kp__acc_flush_end(a);
	ck_assert_uint_eq(list_len(list), 3);
	ck_assert_ptr_eq(list->next, second);
	size_t n = 0;
	for (kp__batch *b = list; b; b = b->next)
		n += read_back(b, codecs[_i], 100);
	ck_assert_uint_eq(n, appended);
	release_all(a, list);
	acc_done(a);
}
END_TEST

/* Appends to partition p until its queue holds `batches` batches. */
static kp__tp *fill_to(kp__acc *a, int32_t p, size_t batches)
{
	kp__append_result res;
	do {
		kp__append r = rec("s", p, NULL, value_of(100));
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	} while (res.tp->queued_batches < batches);
	return res.tp;
}

/* The appending thread seals only while a full batch already waits for
 * the sender, on any partition: the first full batch is left to the
 * sender (counted), the next one, even the head of another partition, is
 * sealed by the appender; once the sender took the waiting one, the next
 * full batch is the sender's again. */
START_TEST(backlog_drives_claims)
{
	kp__acc_conf c = conf_default();
	c.batch_size = 2048;
	c.codec = KC_CODEC_LZ4;
	kp__acc *a = acc_new(&c);
	kp__tp *t0 = fill_to(a, 0, 2);
	kp__batch *waiting = t0->head;
	ck_assert_int_eq(waiting->backlog, 1);
	ck_assert_int_eq(waiting->sealed, 0);
	kp__tp *t1 = fill_to(a, 1, 2);
	ck_assert_int_eq(t1->head->sealed, 1); /* by the appender */
	ck_assert_int_eq(t1->head->backlog, 0);
	int32_t leader = 0;
	kp__acc_foreach_tp(a, set_leader, &leader);
	/* The sender takes partition 0's full batch (and 1's sealed one). */
	kp__batch *list = NULL;
	ck_assert_uint_eq(kp__acc_drain(a, 0, (int64_t)kn__now_ms(), 1 << 20,
					&list),
			  2);
	ck_assert_int_eq(waiting->backlog, 0);
	release_all(a, list);
	kp__tp *t2 = fill_to(a, 2, 2);
	ck_assert_int_eq(t2->head->sealed, 0); /* the sender's again */
	ck_assert_int_eq(t2->head->backlog, 1);
	acc_done(a);
}
END_TEST

static void set_sealing(kp__tp *tp, kp__batch *b, int on)
{
	pthread_mutex_lock(&tp->lock);
	b->sealing = on;
	pthread_mutex_unlock(&tp->lock);
}

typedef struct abort_arg {
	kp__acc *a;
	kp__batch *list;
	size_t n;
	atomic_int done;
} abort_arg;

static void *abort_thread(void *p)
{
	abort_arg *arg = p;
	arg->n = kp__acc_abort(arg->a, &arg->list);
	atomic_store(&arg->done, 1);
	return NULL;
}

/* While an appending thread seals a batch, the sender leaves it alone:
 * the drain stops at it (order kept), expiry skips it and takes it once
 * the seal is done, and abort waits for the seal before taking it. */
START_TEST(sealing_batch_left_alone)
{
	kp__acc_conf c = conf_default();
	c.batch_size = 2048;
	c.codec = KC_CODEC_LZ4;
	kp__acc *a = acc_new(&c);
	kp__tp *tp;
	fill_three(a, &tp);
	kp__batch *first = tp->head, *second = first->next;
	set_sealing(tp, first, 1);
	int32_t leader = 0;
	kp__acc_foreach_tp(a, set_leader, &leader);
	int64_t now = (int64_t)kn__now_ms();
	kp__batch *list = NULL;
	ck_assert_uint_eq(kp__acc_drain(a, 0, now, 1 << 20, &list), 0);
	ck_assert_int_eq(kp__acc_next_ready(a, now), INT64_MAX);
	/* Expiry takes the others, not the one being sealed. */
	ck_assert_uint_eq(kp__acc_expire(a, now + 60000, 1000, &list), 2);
	ck_assert_ptr_eq(tp->head, first);
	ck_assert_ptr_eq(tp->tail, first);
	ck_assert_ptr_eq(list, second);
	release_all(a, list);
	list = NULL;
	set_sealing(tp, first, 0);
	ck_assert_uint_eq(kp__acc_expire(a, now + 60000, 1000, &list), 1);
	ck_assert_ptr_eq(list, first);
	release_all(a, list);
	/* Abort waits until the seal is over. */
	fill_three(a, &tp);
	kp__batch *mid = tp->head->next;
	set_sealing(tp, mid, 1);
	static abort_arg arg;
	memset(&arg, 0, sizeof arg);
	arg.a = a;
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, abort_thread, &arg), 0);
	struct timespec ts = {0, 30 * 1000000L};
	nanosleep(&ts, NULL);
	ck_assert_int_eq(atomic_load(&arg.done), 0);
	set_sealing(tp, mid, 0);
	pthread_join(th, NULL);
	ck_assert_uint_eq(arg.n, 3);
	ck_assert_ptr_eq(arg.list->next, mid);
	ck_assert_ptr_null(tp->head);
	release_all(a, arg.list);
	acc_done(a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_accumulator_drain");
	TCase *t = tcase_create("accumulator_drain");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, reenqueue_order);
	tcase_add_test(t, drain_round_robin_and_max_bytes);
	tcase_add_loop_test(t, split_refused_batch, 0, 2 * (KC_CODEC_ZSTD + 1));
	tcase_add_test(t, expire_and_abort);
	tcase_add_test(t, expire_skips_walks_but_not_batches);
	tcase_add_loop_test(t, compressed_drains_share_contexts, 0, 3);
	tcase_add_loop_test(t, appender_seals_when_sender_behind, 0, 2);
	tcase_add_test(t, sealing_batch_left_alone);
	tcase_add_test(t, backlog_drives_claims);
	tcase_add_loop_test(t, concurrent_appenders_one_drainer, 0, 2);
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
