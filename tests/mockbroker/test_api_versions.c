/*
 * Check suite for the mock broker's ApiVersions handler
 * (mockbroker/src/handle_api_versions.c) and the server's answer to
 * versions it does not know (the v0 UNSUPPORTED_VERSION fallback).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kafkit/codec.h"
#include "mock_client.h"

static km_cluster *C;
static mc_client CL;

static void setup(void)
{
	C = mc_cluster(1, NULL);
	mc_connect_broker(&CL, C, 1);
}

static void teardown(void)
{
	mc_close(&CL);
	km_cluster_destroy(C);
}

static const int16_t served[] = {0, 1, 2, 3, 10, 18, 22};

START_TEST(every_version_lists_served_apis)
{
	for (int16_t v = 0; v <= 4; v++) {
		kc_api_versions_request req;
		kc_api_versions_request_init(&req);
		req.client_software_name = KC_STR_LIT("kafkit-test");
		req.client_software_version = KC_STR_LIT("1.2.3-rc1");
		kc_api_versions_response resp;
		mc_call(&CL, 18, v, &req, &resp);
		ck_assert_int_eq(resp.error_code, 0);
		ck_assert_int_eq(resp.api_keys_count, 7);
		for (int i = 0; i < 7; i++) {
			const kc_api *api = kc_api_find(served[i]);
			ck_assert_int_eq(resp.api_keys[i].api_key, served[i]);
			ck_assert_int_eq(resp.api_keys[i].min_version,
					 api->min_version);
			ck_assert_int_eq(resp.api_keys[i].max_version,
					 api->max_version);
		}
	}
}
END_TEST

START_TEST(unknown_version_gets_v0_answer)
{
	/* ApiVersions v9: header v2 layout, a body we cannot know */
	static const uint8_t frame[] = {
		0, 0, 0, 17,             /* Size */
		0, 18, 0, 9,             /* api key 18, version 9 */
		0, 0, 0, 77,             /* correlation id */
		0, 4, 'k', 'c', 'a', 't', /* client id */
		0, 0, 0};                /* tags, body */
	mc_send_raw(&CL, frame, sizeof frame);
	ck_assert_int_eq(mc_recv_frame(&CL, 5000), 0);
	kc_decode_error de = {0};
	kc_reader r;
	kc_reader_init(&r, CL.frame, CL.frame_len, &de);
	kc_response_header h;
	ck_assert_int_eq(kc_response_header_decode(&r, &h, 0, NULL), KC_OK);
	ck_assert_int_eq(h.correlation_id, 77);
	kc_api_versions_response resp;
	kc_arena a;
	kc_arena_init(&a);
	int16_t used;
	ck_assert_int_eq(kc_api_versions_response_decode_any(&r, &resp, 3, &a,
							     &used),
			 KC_OK);
	ck_assert_int_eq(used, 0);
	ck_assert_int_eq(resp.error_code, 35);
	ck_assert_int_eq(resp.api_keys_count, 1);
	ck_assert_int_eq(resp.api_keys[0].api_key, 18);
	ck_assert_int_eq(resp.api_keys[0].max_version, 4);
	kc_arena_free(&a);
	/* the connection stays usable */
	kc_api_versions_request req;
	kc_api_versions_request_init(&req);
	kc_api_versions_response ok;
	mc_call(&CL, 18, 0, &req, &ok);
	ck_assert_int_eq(ok.error_code, 0);
}
END_TEST

START_TEST(invalid_software_name)
{
	const char *bad[] = {"", "-lead", "trail.", "sp ace", "un_der"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		kc_api_versions_request req;
		kc_api_versions_request_init(&req);
		req.client_software_name = kc_str_c(bad[i]);
		req.client_software_version = KC_STR_LIT("1.0");
		kc_api_versions_response resp;
		mc_call(&CL, 18, 3, &req, &resp);
		ck_assert_msg(resp.error_code == 42, "'%s': %d", bad[i],
			      resp.error_code);
		ck_assert_int_eq(resp.api_keys_count, 0);
	}
	/* v2 has no such fields: fine */
	kc_api_versions_request req;
	kc_api_versions_request_init(&req);
	kc_api_versions_response resp;
	mc_call(&CL, 18, 2, &req, &resp);
	ck_assert_int_eq(resp.error_code, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_api_versions");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, every_version_lists_served_apis);
	tcase_add_test(t, unknown_version_gets_v0_answer);
	tcase_add_test(t, invalid_software_name);
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
