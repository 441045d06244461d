/*
 * Check suite for the mock broker's idempotent producer state
 * (mockbroker/src/producer_state.c): Kafka's sequence and epoch rules.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "helpers.h"
#include "kafka_errors.h"
#include "producer_state.h"

static void record(km__pstate *s, int64_t pid, int16_t epoch, int32_t first,
		   int32_t last, int64_t off)
{
	ck_assert_int_eq(km__pstate_reserve(s), 0);
	km__pbatch b = {first, last, off, off + (last - first), -1};
	km__pstate_record(s, pid, epoch, &b);
}

static int16_t check(const km__pstate *s, int64_t pid, int16_t epoch,
		     int32_t first, int32_t last, const km__pbatch **dup)
{
	return km__pstate_check(s, pid, epoch, first, last, dup);
}

START_TEST(sequence_rules)
{
	km__pstate s;
	km__pstate_init(&s);
	const km__pbatch *dup;
	/* unknown producer: any first sequence */
	ck_assert_int_eq(check(&s, 5, 0, 42, 44, &dup), 0);
	ck_assert_ptr_null(dup);
	record(&s, 5, 0, 0, 2, 0);
	ck_assert_int_eq(check(&s, 5, 0, 3, 5, &dup), 0);
	ck_assert_ptr_null(dup);
	ck_assert_int_eq(check(&s, 5, 0, 4, 5, &dup),
			 KM__E_OUT_OF_ORDER_SEQUENCE_NUMBER);
	ck_assert_int_eq(check(&s, 5, 0, 2, 5, &dup),
			 KM__E_OUT_OF_ORDER_SEQUENCE_NUMBER);
	/* a retry of the last batch */
	ck_assert_int_eq(check(&s, 5, 0, 0, 2, &dup), 0);
	ck_assert_ptr_nonnull(dup);
	ck_assert_int_eq(dup->first_offset, 0);
	/* same first sequence, other length: not a duplicate */
	ck_assert_int_eq(check(&s, 5, 0, 0, 1, &dup),
			 KM__E_OUT_OF_ORDER_SEQUENCE_NUMBER);
	ck_assert_ptr_null(dup);
	km__pstate_free(&s);
}
END_TEST

START_TEST(five_batches_remembered)
{
	km__pstate s;
	km__pstate_init(&s);
	const km__pbatch *dup;
	for (int i = 0; i < 7; i++)
		record(&s, 1, 0, 10 * i, 10 * i + 9, 100 * i);
	for (int i = 2; i < 7; i++) {
		ck_assert_int_eq(check(&s, 1, 0, 10 * i, 10 * i + 9, &dup), 0);
		ck_assert_ptr_nonnull(dup);
		ck_assert_int_eq(dup->first_offset, 100 * i);
	}
	/* older than the last five: out of order, as in Kafka */
	ck_assert_int_eq(check(&s, 1, 0, 10, 19, &dup),
			 KM__E_OUT_OF_ORDER_SEQUENCE_NUMBER);
	ck_assert_int_eq(check(&s, 1, 0, 70, 70, &dup), 0);
	km__pstate_free(&s);
}
END_TEST

START_TEST(epochs)
{
	km__pstate s;
	km__pstate_init(&s);
	const km__pbatch *dup;
	record(&s, 3, 2, 0, 4, 0);
	ck_assert_int_eq(check(&s, 3, 1, 5, 5, &dup),
			 KM__E_INVALID_PRODUCER_EPOCH);
	ck_assert_int_eq(check(&s, 3, 1, 0, 4, &dup),
			 KM__E_INVALID_PRODUCER_EPOCH);
	/* a new epoch must restart at 0 */
	ck_assert_int_eq(check(&s, 3, 3, 5, 5, &dup),
			 KM__E_OUT_OF_ORDER_SEQUENCE_NUMBER);
	ck_assert_int_eq(check(&s, 3, 3, 0, 0, &dup), 0);
	ck_assert_ptr_null(dup);
	record(&s, 3, 3, 0, 0, 5);
	/* the old epoch's batches are forgotten and fenced */
	ck_assert_int_eq(check(&s, 3, 2, 0, 4, &dup),
			 KM__E_INVALID_PRODUCER_EPOCH);
	ck_assert_int_eq(check(&s, 3, 3, 1, 1, &dup), 0);
	km__pstate_free(&s);
}
END_TEST

START_TEST(sequence_wraps)
{
	ck_assert_int_eq(km__seq_add(5, 3), 8);
	ck_assert_int_eq(km__seq_add(INT32_MAX, 0), INT32_MAX);
	ck_assert_int_eq(km__seq_add(INT32_MAX, 1), 0);
	ck_assert_int_eq(km__seq_add(INT32_MAX - 1, 4), 2);
	km__pstate s;
	km__pstate_init(&s);
	const km__pbatch *dup;
	record(&s, 9, 0, INT32_MAX - 2, INT32_MAX, 0);
	ck_assert_int_eq(check(&s, 9, 0, 0, 3, &dup), 0);
	ck_assert_int_eq(check(&s, 9, 0, 1, 3, &dup),
			 KM__E_OUT_OF_ORDER_SEQUENCE_NUMBER);
	km__pstate_free(&s);
}
END_TEST

START_TEST(many_producers)
{
	km__pstate s;
	km__pstate_init(&s);
	const km__pbatch *dup;
	for (int64_t pid = 0; pid < 1000; pid++)
		record(&s, pid * 7919, (int16_t)(pid % 5), 0, (int32_t)pid, pid);
	ck_assert_uint_eq(s.count, 1000);
	for (int64_t pid = 0; pid < 1000; pid++) {
		ck_assert_int_eq(check(&s, pid * 7919, (int16_t)(pid % 5), 0,
				       (int32_t)pid, &dup),
				 0);
		ck_assert_ptr_nonnull(dup);
		ck_assert_int_eq(dup->first_offset, pid);
	}
	km__pstate_free(&s);
}
END_TEST

START_TEST(reserve_alloc_failure)
{
	km__pstate s;
	km__pstate_init(&s);
	th_alloc_fail_at(1);
	ck_assert_int_eq(km__pstate_reserve(&s), -ENOMEM);
	th_alloc_reset();
	ck_assert_uint_eq(s.count, 0);
	record(&s, 1, 0, 0, 0, 0);
	km__pstate_free(&s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_producer_state");
	TCase *t = tcase_create("core");
	tcase_add_test(t, sequence_rules);
	tcase_add_test(t, five_batches_remembered);
	tcase_add_test(t, epochs);
	tcase_add_test(t, sequence_wraps);
	tcase_add_test(t, many_producers);
	tcase_add_test(t, reserve_alloc_failure);
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
