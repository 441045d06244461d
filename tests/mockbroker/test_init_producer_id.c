/*
 * Check suite for the mock broker's InitProducerId handler
 * (mockbroker/src/handle_init_producer_id.c): fresh ids for idempotent
 * producers on any broker, transactional ids on their coordinator with
 * epoch bumps, Kafka's errors.
 */
#include <check.h>
#include <stdlib.h>

#include "kafkit/codec.h"
#include "mock_client.h"

static km_cluster *C;

static void setup(void)
{
	C = mc_cluster(3, NULL);
}

static void teardown(void)
{
	km_cluster_destroy(C);
}

static kc_init_producer_id_response init(mc_client *cl, int16_t v,
					 kc_str txn, int32_t timeout)
{
	kc_init_producer_id_request req;
	kc_init_producer_id_request_init(&req);
	req.transactional_id = txn;
	req.transaction_timeout_ms = timeout;
	kc_init_producer_id_response resp;
	mc_call(cl, 22, v, &req, &resp);
	return resp;
}

START_TEST(idempotent_fresh_ids)
{
	int64_t seen[18];
	int n = 0;
	for (int32_t b = 1; b <= 3; b++) {
		mc_client cl;
		mc_connect_broker(&cl, C, b);
		for (int16_t v = 0; v <= 5; v++) {
			kc_init_producer_id_response r =
				init(&cl, v, KC_STR_NULL, 60000);
			ck_assert_int_eq(r.error_code, 0);
			ck_assert_int_eq(r.producer_epoch, 0);
			ck_assert_int_ge(r.producer_id, 0);
			for (int i = 0; i < n; i++)
				ck_assert_int_ne(seen[i], r.producer_id);
			seen[n++] = r.producer_id;
		}
		mc_close(&cl);
	}
}
END_TEST

/* The coordinator of a key, from FindCoordinator. */
static int32_t coordinator(const char *key, int8_t type)
{
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	kc_find_coordinator_request req;
	kc_find_coordinator_request_init(&req);
	req.key = kc_str_c(key);
	req.key_type = type;
	kc_find_coordinator_response resp;
	mc_call(&cl, 10, 2, &req, &resp);
	ck_assert_int_eq(resp.error_code, 0);
	mc_close(&cl);
	return resp.node_id;
}

START_TEST(transactional_ids)
{
	int32_t co = coordinator("txn-1", 1);
	mc_client cl, other;
	mc_connect_broker(&cl, C, co);
	mc_connect_broker(&other, C, co % 3 + 1);
	kc_init_producer_id_response r =
		init(&other, 3, KC_STR_LIT("txn-1"), 60000);
	ck_assert_int_eq(r.error_code, 16);
	ck_assert_int_eq(r.producer_id, -1);
	ck_assert_int_eq(init(&cl, 3, KC_STR_LIT(""), 60000).error_code, 42);
	ck_assert_int_eq(init(&cl, 3, KC_STR_LIT("txn-1"), 0).error_code, 50);
	ck_assert_int_eq(init(&cl, 3, KC_STR_LIT("txn-1"), 900001).error_code,
			 50);
	r = init(&cl, 1, KC_STR_LIT("txn-1"), 60000);
	ck_assert_int_eq(r.error_code, 0);
	ck_assert_int_eq(r.producer_epoch, 0);
	int64_t pid = r.producer_id;
	for (int16_t e = 1; e <= 3; e++) {
		r = init(&cl, 4, KC_STR_LIT("txn-1"), 60000);
		ck_assert_int_eq(r.producer_id, pid);
		ck_assert_int_eq(r.producer_epoch, e);
	}
	mc_close(&cl);
	mc_close(&other);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_init_producer_id");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, idempotent_fresh_ids);
	tcase_add_test(t, transactional_ids);
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
