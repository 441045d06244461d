/* Exponential backoff with jitter (Java's ExponentialBackoff). */
#include <check.h>
#include <math.h>
#include <stdint.h>

#include "backoff.h"
#include "rng.h"

/* An injected source that always returns `value` and counts draws. */
typedef struct fixed_src {
	uint64_t value;
	unsigned draws;
} fixed_src;

static uint64_t fixed_next(void *opaque)
{
	fixed_src *f = opaque;
	f->draws++;
	return f->value;
}

/* Expected values computed as Java computes them, in doubles: factor
 * 1 - 0.2 + 0.4 * unit, term 100 * 2^min(attempts, log2(10)). */
static void expect_series(uint64_t raw, const int64_t *want, int n)
{
	kp__backoff b;
	ck_assert_int_eq(kp__backoff_init(&b, 100, KP__BACKOFF_MULTIPLIER, 1000,
					  KP__BACKOFF_JITTER),
			 0);
	fixed_src f = {raw, 0};
	kp__rng r;
	kp__rng_inject(&r, fixed_next, &f);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(kp__backoff_ms(&b, (uint32_t)i, &r), want[i]);
	ck_assert_uint_eq(f.draws, (unsigned)n);
}

START_TEST(java_defaults_series)
{
	/* unit 0: the lowest jitter, 0.8 of the term; capped terms stay at
	 * 0.8 * max, as in Java (jitter applies to the capped exponent). */
	static const int64_t low[] = {80, 160, 320, 640, 800, 800, 800};
	expect_series(0, low, 7);
	/* unit 0.5: no jitter; the cap reaches 1000 at attempt 4. */
	static const int64_t mid[] = {100, 200, 400, 800, 1000, 1000, 1000};
	expect_series(UINT64_C(1) << 63, mid, 7);
	/* unit 0.75: factor 1.1; over the cap is clamped to max. */
	static const int64_t high[] = {110, 220, 440, 880, 1000, 1000};
	expect_series(UINT64_C(3) << 62, high, 6);
}
END_TEST

START_TEST(huge_attempt_counts)
{
	kp__backoff b;
	ck_assert_int_eq(kp__backoff_init(&b, 100, 2, 1000, 0.2), 0);
	fixed_src f = {UINT64_C(1) << 63, 0};
	kp__rng r;
	kp__rng_inject(&r, fixed_next, &f);
	ck_assert_int_eq(kp__backoff_ms(&b, UINT32_MAX, &r), 1000);
}
END_TEST

START_TEST(constant_when_max_not_above_initial)
{
	kp__backoff b;
	fixed_src f = {0, 0};
	kp__rng r;
	kp__rng_inject(&r, fixed_next, &f);
	/* retry.backoff.max.ms below retry.backoff.ms: the max, constant. */
	ck_assert_int_eq(kp__backoff_init(&b, 500, 2, 100, 0.2), 0);
	for (uint32_t a = 0; a < 10; a++)
		ck_assert_int_eq(kp__backoff_ms(&b, a, &r), 100);
	/* Equal: constant, no jitter either. */
	ck_assert_int_eq(kp__backoff_init(&b, 250, 2, 250, 0.2), 0);
	for (uint32_t a = 0; a < 10; a++)
		ck_assert_int_eq(kp__backoff_ms(&b, a, &r), 250);
	ck_assert_uint_eq(f.draws, 0);
}
END_TEST

START_TEST(no_jitter_no_draws)
{
	kp__backoff b;
	ck_assert_int_eq(kp__backoff_init(&b, 50, 2, 1000, 0), 0);
	fixed_src f = {0, 0};
	kp__rng r;
	kp__rng_inject(&r, fixed_next, &f);
	static const int64_t want[] = {50, 100, 200, 400, 800, 1000, 1000};
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(kp__backoff_ms(&b, (uint32_t)i, &r), want[i]);
	ck_assert_uint_eq(f.draws, 0);
}
END_TEST

START_TEST(zero_initial)
{
	/* As in Java, a zero base stays zero (the exponent still grows from
	 * 1 ms, but 0 * 2^n is 0). */
	kp__backoff b;
	ck_assert_int_eq(kp__backoff_init(&b, 0, 2, 1000, 0.2), 0);
	kp__rng r;
	kp__rng_seed(&r, 1);
	for (uint32_t a = 0; a < 20; a++)
		ck_assert_int_eq(kp__backoff_ms(&b, a, &r), 0);
}
END_TEST

START_TEST(bad_parameters)
{
	kp__backoff b = {7, 7, 7, 0.5, 7};
	ck_assert_int_eq(kp__backoff_init(&b, -1, 2, 1000, 0.2), -1);
	ck_assert_int_eq(kp__backoff_init(&b, 100, 2, -1, 0.2), -1);
	ck_assert_int_eq(kp__backoff_init(&b, 100, 1, 1000, 0.2), -1);
	ck_assert_int_eq(kp__backoff_init(&b, 100, 2, 1000, -0.1), -1);
	ck_assert_int_eq(kp__backoff_init(&b, 100, 2, 1000, 1.5), -1);
	ck_assert_int_eq(kp__backoff_init(&b, 100, 2, 1000, NAN), -1);
	/* Untouched on failure. */
	ck_assert_int_eq(b.initial, 7);
	ck_assert_int_eq(b.max, 7);
}
END_TEST

START_TEST(builtin_source_spread)
{
	/* With the built-in generator every value lies in [0.8, 1.2) of the
	 * term, both halves of the range are used, and the mean is near 1. */
	kp__backoff b;
	ck_assert_int_eq(kp__backoff_init(&b, 1000, 2, 100000, 0.2), 0);
	kp__rng r;
	kp__rng_seed(&r, 42);
	double sum = 0;
	int below = 0, above = 0;
	const int n = 20000;
	for (int i = 0; i < n; i++) {
		int64_t v = kp__backoff_ms(&b, 2, &r);
		ck_assert_int_ge(v, 3200);
		ck_assert_int_lt(v, 4800);
		below += v < 4000;
		above += v >= 4000;
		sum += (double)v;
	}
	ck_assert_int_gt(below, n / 3);
	ck_assert_int_gt(above, n / 3);
	double mean = sum / n;
	ck_assert(mean > 3950 && mean < 4050);
}
END_TEST

START_TEST(rng_deterministic_and_bounded)
{
	kp__rng a, b;
	kp__rng_seed(&a, 7);
	kp__rng_seed(&b, 7);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(kp__rng_next(&a), kp__rng_next(&b));
	unsigned hits[5] = {0};
	for (int i = 0; i < 5000; i++) {
		uint32_t v = kp__rng_below(&a, 5);
		ck_assert_uint_lt(v, 5);
		hits[v]++;
		double u = kp__rng_unit(&a);
		ck_assert(u >= 0.0 && u < 1.0);
	}
	for (int i = 0; i < 5; i++)
		ck_assert_uint_gt(hits[i], 800);
	/* below(n) maps the top 32 bits of a draw: 0 -> 0, all ones -> n-1. */
	fixed_src f = {0, 0};
	kp__rng_inject(&a, fixed_next, &f);
	ck_assert_uint_eq(kp__rng_below(&a, 7), 0);
	f.value = UINT64_MAX;
	ck_assert_uint_eq(kp__rng_below(&a, 7), 6);
	ck_assert(kp__rng_unit(&a) < 1.0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_backoff");
	TCase *t = tcase_create("backoff");
	tcase_add_test(t, java_defaults_series);
	tcase_add_test(t, huge_attempt_counts);
	tcase_add_test(t, constant_when_max_not_above_initial);
	tcase_add_test(t, no_jitter_no_draws);
	tcase_add_test(t, zero_initial);
	tcase_add_test(t, bad_parameters);
	tcase_add_test(t, builtin_source_spread);
	tcase_add_test(t, rng_deterministic_and_bounded);
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
