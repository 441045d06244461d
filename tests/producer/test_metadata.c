/*
 * The producer's metadata table (producer/src/metadata.c): snapshots from
 * Metadata responses, waiting for an unknown topic, topic errors, leader
 * hints, and a malloc-failure run.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "buf_int.h"
#include "helpers.h"
#include "loop.h"
#include "metadata.h"

static atomic_int wakes;

static void on_wake(void *arg)
{
	(void)arg;
	atomic_fetch_add(&wakes, 1);
}

/* A MetadataResponse with one topic of n partitions led by leaders[i]
 * (error_code topic_err). */
typedef struct md_fixture {
	kc_metadata_response resp;
	kc_metadata_response_metadata_response_topic topic;
	kc_metadata_response_metadata_response_partition parts[8];
} md_fixture;

static void fixture(md_fixture *f, const char *name, int16_t topic_err,
		    int n, const int32_t *leaders)
{
	kc_metadata_response_init(&f->resp);
	kc_metadata_response_metadata_response_topic_init(&f->topic);
	f->topic.name = kc_str_c(name);
	f->topic.error_code = topic_err;
	f->topic.partitions = f->parts;
	f->topic.partitions_count = n;
	for (int i = 0; i < n; i++) {
		kc_metadata_response_metadata_response_partition_init(
			&f->parts[i]);
		/* listed in reverse: the table indexes by partition_index */
		f->parts[i].partition_index = n - 1 - i;
		f->parts[i].leader_id = leaders[n - 1 - i];
		f->parts[i].leader_epoch = 3;
	}
	f->resp.topics = &f->topic;
	f->resp.topics_count = 1;
}

START_TEST(test_snapshot_from_response)
{
	kp__md *md;
	ck_assert_int_eq(kp__md_new(&md, on_wake, NULL), KP_OK);
	kp__md_topic *t = NULL;
	int16_t kerr = -5;
	/* Unknown, no wait: registered, a refresh asked for. */
	atomic_store(&wakes, 0);
	ck_assert_int_eq(kp__md_topic_get(md, "a", 0, &t, &kerr),
			 KP_ERR_UNKNOWN_TOPIC);
	ck_assert_int_eq(kerr, 0);
	ck_assert_int_eq(atomic_load(&wakes), 1);
	ck_assert_int_eq(kp__md_take_update_request(md), 1);
	ck_assert_int_eq(kp__md_take_update_request(md), 0);
	ck_assert_int_eq(kp__md_incomplete(md), 1);
	const char **names;
	size_t n;
	ck_assert_int_eq(kp__md_topic_names(md, &names, &n), KP_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names[0], "a");
	kc__free(names);

	md_fixture f;
	int32_t leaders[3] = {1, -1, 2};
	fixture(&f, "a", 0, 3, leaders);
	uint64_t v0 = kp__md_version(md);
	ck_assert_int_eq(kp__md_apply(md, &f.resp), KP_OK);
	ck_assert_uint_eq(kp__md_version(md), v0 + 1);
	/* The same answer again changes nothing. */
	ck_assert_int_eq(kp__md_apply(md, &f.resp), KP_OK);
	ck_assert_uint_eq(kp__md_version(md), v0 + 1);
	ck_assert_int_eq(kp__md_topic_get(md, "a", 0, &t, NULL), KP_OK);
	ck_assert_int_eq(t->count, 3);
	ck_assert_int_eq(t->parts[0].leader, 1);
	ck_assert_int_eq(t->parts[1].leader, -1);
	ck_assert_int_eq(t->parts[2].leader, 2);
	ck_assert_uint_eq(t->navail, 2);
	ck_assert_int_eq(t->available[0], 0);
	ck_assert_int_eq(t->available[1], 2);
	/* Leaderless partition 1: still incomplete. */
	ck_assert_int_eq(kp__md_incomplete(md), 1);
	/* A newer epoch from a Produce answer republishes; an older not. */
	ck_assert_int_eq(kp__md_set_leader(md, "a", 1, 3, 4), 1);
	ck_assert_int_eq(kp__md_set_leader(md, "a", 1, 2, 4), 0);
	ck_assert_int_eq(kp__md_set_leader(md, "a", 9, 2, 9), 0);
	ck_assert_int_eq(kp__md_set_leader(md, "zz", 0, 2, 9), 0);
	/* The old snapshot is untouched (immutable); the new one moved. */
	ck_assert_int_eq(t->parts[1].leader, -1);
	kp__md_topic *t2 = kp__md_topic_peek(md, "a");
	ck_assert_int_eq(t2->parts[1].leader, 3);
	ck_assert_int_eq(t2->parts[1].leader_epoch, 4);
	ck_assert_uint_eq(t2->navail, 3);
	ck_assert_int_eq(kp__md_incomplete(md), 0);
	kp__md_topic_put(t2);
	kp__md_topic_put(t);
	kp__md_destroy(md);
}
END_TEST

START_TEST(test_topic_errors)
{
	kp__md *md;
	ck_assert_int_eq(kp__md_new(&md, NULL, NULL), KP_OK);
	kp__md_topic *t = NULL;
	int16_t kerr;
	ck_assert_int_eq(kp__md_topic_get(md, "bad", 0, &t, &kerr),
			 KP_ERR_UNKNOWN_TOPIC);
	md_fixture f;
	int32_t leaders[1] = {1};
	/* UNKNOWN_TOPIC_OR_PARTITION: keep waiting, no error. */
	fixture(&f, "bad", 3, 0, leaders);
	ck_assert_int_eq(kp__md_apply(md, &f.resp), KP_OK);
	ck_assert_int_eq(kp__md_topic_get(md, "bad", 0, &t, &kerr),
			 KP_ERR_UNKNOWN_TOPIC);
	ck_assert_int_eq(kerr, 0);
	/* TOPIC_AUTHORIZATION_FAILED (29): waiters fail with it. */
	fixture(&f, "bad", 29, 0, leaders);
	ck_assert_int_eq(kp__md_apply(md, &f.resp), KP_OK);
	ck_assert_int_eq(kp__md_topic_get(md, "bad",
					  &(kp__deadline){.budget_ms = 5000}, &t,
					  &kerr),
			 KP_ERR_UNKNOWN_TOPIC);
	ck_assert_int_eq(kerr, 29);
	/* A topic nobody asked for is ignored. */
	fixture(&f, "other", 0, 1, leaders);
	ck_assert_int_eq(kp__md_apply(md, &f.resp), KP_OK);
	ck_assert_ptr_null(kp__md_topic_peek(md, "other"));
	/* Gaps in partition indexes are not trusted. */
	ck_assert_int_eq(kp__md_topic_get(md, "gap", 0, &t, NULL),
			 KP_ERR_UNKNOWN_TOPIC);
	fixture(&f, "gap", 0, 2, (int32_t[]){1, 1});
	f.parts[0].partition_index = 7;
	ck_assert_int_eq(kp__md_apply(md, &f.resp), KP_OK);
	ck_assert_ptr_null(kp__md_topic_peek(md, "gap"));
	kp__md_destroy(md);
}
END_TEST

typedef struct waiter {
	kp__md *md;
	kp_err err;
	int32_t count;
} waiter;

static void *wait_topic(void *arg)
{
	waiter *w = arg;
	kp__md_topic *t = NULL;
	w->err = kp__md_topic_get(w->md, "late",
				  &(kp__deadline){.budget_ms = 5000}, &t, NULL);
	if (w->err == KP_OK) {
		w->count = t->count;
		kp__md_topic_put(t);
	}
	return NULL;
}

START_TEST(test_waiters_wake_on_apply_and_close)
{
	kp__md *md;
	ck_assert_int_eq(kp__md_new(&md, on_wake, NULL), KP_OK);
	waiter w = {md, KP_ERR_NOMEM, 0};
	pthread_t th;
	pthread_create(&th, NULL, wait_topic, &w);
	while (!kp__md_take_update_request(md))
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	md_fixture f;
	int32_t leaders[2] = {1, 2};
	fixture(&f, "late", 0, 2, leaders);
	ck_assert_int_eq(kp__md_apply(md, &f.resp), KP_OK);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.err, KP_OK);
	ck_assert_int_eq(w.count, 2);
	/* Close wakes a waiter on another topic with KP_ERR_CLOSED. */
	kp__md_topic *t;
	kp__md_close(md);
	ck_assert_int_eq(kp__md_topic_get(md, "never",
					  &(kp__deadline){.budget_ms = 5000}, &t,
					  NULL),
			 KP_ERR_CLOSED);
	kp__md_destroy(md);
}
END_TEST

START_TEST(test_timeout_waits_the_deadline)
{
	kp__md *md;
	ck_assert_int_eq(kp__md_new(&md, NULL, NULL), KP_OK);
	kp__md_topic *t;
	uint64_t t0 = kn__now_ms();
	ck_assert_int_eq(kp__md_topic_get(
			 md, "x", &(kp__deadline){.until_ms = (int64_t)t0 + 150},
			 &t, NULL),
			 KP_ERR_UNKNOWN_TOPIC);
	ck_assert_uint_ge(kn__now_ms() - t0, 150);
	kp__md_destroy(md);
}
END_TEST

START_TEST(test_malloc_failures)
{
	for (unsigned long fail = 1;; fail++) {
		th_alloc_fail_at(fail);
		kp__md *md = NULL;
		if (kp__md_new(&md, NULL, NULL) != KP_OK) {
			ck_assert_int_eq(th_alloc_live(), 0);
			continue;
		}
		kp__md_topic *t = NULL;
		kp_err e = kp__md_topic_get(md, "a", 0, &t, NULL);
		ck_assert(e == KP_ERR_UNKNOWN_TOPIC || e == KP_ERR_NOMEM);
		md_fixture f;
		int32_t leaders[2] = {1, 2};
		fixture(&f, "a", 0, 2, leaders);
		e = kp__md_apply(md, &f.resp);
		ck_assert(e == KP_OK || e == KP_ERR_NOMEM);
		int r = kp__md_set_leader(md, "a", 0, 3, 9);
		ck_assert(r == 0 || r == 1 || r == KP_ERR_NOMEM);
		kp__md_destroy(md);
		ck_assert_int_eq(th_alloc_live(), 0);
		if (th_alloc_count() < fail)
			break; /* a run with no failure: every point tried */
	}
	th_alloc_reset();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_metadata");
	TCase *tc = tcase_create("metadata");
	tcase_add_test(tc, test_snapshot_from_response);
	tcase_add_test(tc, test_topic_errors);
	tcase_add_test(tc, test_waiters_wake_on_apply_and_close);
	tcase_add_test(tc, test_timeout_waits_the_deadline);
	tcase_add_test(tc, test_malloc_failures);
	suite_add_tcase(s, tc);
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
