/*
 * Check suite for the mock broker's FindCoordinator handler
 * (mockbroker/src/handle_find_coordinator.c): single keys (v0-3), batched
 * keys (v4+), stable answers spread over the brokers, bad key types.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "kafkit/codec.h"
#include "mock_client.h"

static km_cluster *C;
static mc_client CL;

static void setup(void)
{
	C = mc_cluster(3, NULL);
	mc_connect_broker(&CL, C, 3);
}

static void teardown(void)
{
	mc_close(&CL);
	km_cluster_destroy(C);
}

START_TEST(single_keys)
{
	int hits[4] = {0};
	for (int i = 0; i < 60; i++) {
		char key[16];
		snprintf(key, sizeof key, "group-%d", i);
		int32_t first = -1;
		for (int16_t v = 0; v <= 3; v++) {
			kc_find_coordinator_request req;
			kc_find_coordinator_request_init(&req);
			req.key = kc_str_c(key);
			kc_find_coordinator_response resp;
			mc_call(&CL, 10, v, &req, &resp);
			ck_assert_int_eq(resp.error_code, 0);
			ck_assert_int_ge(resp.node_id, 1);
			ck_assert_int_le(resp.node_id, 3);
			ck_assert_int_eq(resp.port,
					 km_cluster_broker_port(C, resp.node_id));
			if (first < 0)
				first = resp.node_id;
			ck_assert_int_eq(resp.node_id, first);
		}
		hits[first]++;
	}
	for (int b = 1; b <= 3; b++)
		ck_assert_int_gt(hits[b], 0);
	kc_find_coordinator_request req;
	kc_find_coordinator_request_init(&req);
	req.key = KC_STR_LIT("g");
	req.key_type = 2;
	kc_find_coordinator_response resp;
	mc_call(&CL, 10, 3, &req, &resp);
	ck_assert_int_eq(resp.error_code, 42);
	ck_assert_int_eq(resp.node_id, -1);
}
END_TEST

START_TEST(batched_keys)
{
	kc_str keys[3] = {KC_STR_LIT("a"), KC_STR_LIT("b"), KC_STR_LIT("c")};
	for (int16_t v = 4; v <= 6; v++) {
		kc_find_coordinator_request req;
		kc_find_coordinator_request_init(&req);
		req.key_type = 1;
		req.coordinator_keys = keys;
		req.coordinator_keys_count = 3;
		kc_find_coordinator_response resp;
		mc_call(&CL, 10, v, &req, &resp);
		ck_assert_int_eq(resp.coordinators_count, 3);
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(resp.coordinators[i].error_code, 0);
			ck_assert_int_eq(resp.coordinators[i].key.ptr[0],
					 keys[i].ptr[0]);
			ck_assert_int_eq(resp.coordinators[i].port,
					 km_cluster_broker_port(
						 C, resp.coordinators[i].node_id));
		}
		/* the same answer as v0-3 for each key */
		kc_find_coordinator_request one;
		kc_find_coordinator_request_init(&one);
		one.key = keys[1];
		one.key_type = 1;
		kc_find_coordinator_response r1;
		kc_find_coordinator_response copy = resp;
		int32_t want = copy.coordinators[1].node_id;
		mc_call(&CL, 10, 3, &one, &r1);
		ck_assert_int_eq(r1.node_id, want);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_find_coordinator");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, single_keys);
	tcase_add_test(t, batched_keys);
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
