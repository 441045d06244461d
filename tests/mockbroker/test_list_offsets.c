/*
 * Check suite for the mock broker's ListOffsets handler
 * (mockbroker/src/handle_list_offsets.c) over a real socket: earliest,
 * latest, max timestamp and timestamp lookups in every version, v0's
 * old-style offsets, leadership and leader epochs.
 */
#include <check.h>
#include <stdlib.h>

#include "kafkit/codec.h"
#include "mock_client.h"

static km_cluster *C;
static mc_client CL;

static void setup(void)
{
	km_options o;
	km_options_init(&o);
	o.retention_batches = 3;
	o.log_fn = mc_log_fn;
	C = mc_cluster(1, &o);
	ck_assert_int_eq(km_cluster_create_topic(C, "t", 1, NULL), KM_OK);
	mc_connect_broker(&CL, C, 1);
	/* 4 batches of 2 (ts 100.., 300.., 200.., 400..); retention keeps
	 * the last 3: offsets 2..7 */
	const int64_t ts[4] = {100, 300, 200, 400};
	for (int i = 0; i < 4; i++) {
		size_t n;
		uint8_t *b = mc_batch(2, KC_CODEC_SNAPPY, 2 * i, 2, ts[i], -1, -1,
				      -1, &n);
		ck_assert_int_eq(mc_produce(&CL, 8, 1, "t", 0, b, n, NULL), 0);
		free(b);
	}
}

static void teardown(void)
{
	mc_close(&CL);
	km_cluster_destroy(C);
}

static const kc_list_offsets_response_list_offsets_partition_response *
list(mc_client *cl, int16_t v, const char *topic, int32_t part, int64_t ts,
     int32_t epoch, kc_list_offsets_response *resp)
{
	kc_list_offsets_request_list_offsets_partition p;
	kc_list_offsets_request_list_offsets_partition_init(&p);
	p.partition_index = part;
	p.timestamp = ts;
	p.current_leader_epoch = epoch;
	kc_list_offsets_request_list_offsets_topic t = {kc_str_c(topic), &p, 1};
	kc_list_offsets_request req;
	kc_list_offsets_request_init(&req);
	req.replica_id = -1;
	req.topics = &t;
	req.topics_count = 1;
	mc_call(cl, 2, v, &req, resp);
	ck_assert_int_eq(resp->topics_count, 1);
	ck_assert_int_eq(resp->topics[0].partitions_count, 1);
	return &resp->topics[0].partitions[0];
}

START_TEST(earliest_latest_every_version)
{
	kc_list_offsets_response resp;
	for (int16_t v = 0; v <= 10; v++) {
		const kc_list_offsets_response_list_offsets_partition_response *pr;
		pr = list(&CL, v, "t", 0, -1, -1, &resp);
		ck_assert_int_eq(pr->error_code, 0);
		if (v == 0) {
			ck_assert_int_eq(pr->old_style_offsets_count, 1);
			ck_assert_int_eq(pr->old_style_offsets[0], 8);
		} else {
			ck_assert_int_eq(pr->offset, 8);
			ck_assert_int_eq(pr->timestamp, -1);
		}
		if (v >= 4)
			ck_assert_int_eq(pr->leader_epoch, 0);
		pr = list(&CL, v, "t", 0, -2, -1, &resp);
		ck_assert_int_eq(v == 0 ? pr->old_style_offsets[0] : pr->offset, 2);
	}
}
END_TEST

START_TEST(special_timestamps)
{
	kc_list_offsets_response resp;
	/* -3: the first record holding the largest timestamp (v7+) */
	const kc_list_offsets_response_list_offsets_partition_response *pr =
		list(&CL, 7, "t", 0, -3, -1, &resp);
	ck_assert_int_eq(pr->offset, 7);
	ck_assert_int_eq(pr->timestamp, 401);
	/* -4: earliest local (v8+); -5: latest tiered (v9+), none */
	ck_assert_int_eq(list(&CL, 8, "t", 0, -4, -1, &resp)->offset, 2);
	pr = list(&CL, 9, "t", 0, -5, -1, &resp);
	ck_assert_int_eq(pr->error_code, 0);
	ck_assert_int_eq(pr->offset, -1);
}
END_TEST

START_TEST(timestamp_lookup)
{
	kc_list_offsets_response resp;
	const kc_list_offsets_response_list_offsets_partition_response *pr;
	/* stored: offsets 2,3 ts 300,301; 4,5 ts 200,201; 6,7 ts 400,401 */
	pr = list(&CL, 1, "t", 0, 250, -1, &resp);
	ck_assert_int_eq(pr->offset, 2);
	ck_assert_int_eq(pr->timestamp, 300);
	pr = list(&CL, 5, "t", 0, 301, -1, &resp);
	ck_assert_int_eq(pr->offset, 3);
	pr = list(&CL, 5, "t", 0, 302, -1, &resp);
	ck_assert_int_eq(pr->offset, 6);
	ck_assert_int_eq(pr->timestamp, 400);
	pr = list(&CL, 5, "t", 0, 402, -1, &resp);
	ck_assert_int_eq(pr->error_code, 0);
	ck_assert_int_eq(pr->offset, -1);
	ck_assert_int_eq(pr->timestamp, -1);
	pr = list(&CL, 0, "t", 0, 250, -1, &resp);
	ck_assert_int_eq(pr->old_style_offsets_count, 1);
	ck_assert_int_eq(pr->old_style_offsets[0], 2);
	pr = list(&CL, 0, "t", 0, 402, -1, &resp);
	ck_assert_int_eq(pr->old_style_offsets_count, 0);
}
END_TEST

START_TEST(errors)
{
	kc_list_offsets_response resp;
	ck_assert_int_eq(list(&CL, 5, "nope", 0, -1, -1, &resp)->error_code, 3);
	ck_assert_int_eq(list(&CL, 5, "t", 1, -1, -1, &resp)->error_code, 3);
	ck_assert_int_eq(list(&CL, 4, "t", 0, -1, 1, &resp)->error_code, 75);
	ck_assert_int_eq(km_cluster_set_leader(C, "t", 0, 1), KM_OK);
	ck_assert_int_eq(list(&CL, 4, "t", 0, -1, 0, &resp)->error_code, 74);
	const kc_list_offsets_response_list_offsets_partition_response *pr =
		list(&CL, 4, "t", 0, -1, 1, &resp);
	ck_assert_int_eq(pr->error_code, 0);
	ck_assert_int_eq(pr->leader_epoch, 1);
	/* v3 carries no epoch */
	ck_assert_int_eq(list(&CL, 3, "t", 0, -1, 0, &resp)->error_code, 0);
	mc_close(&CL);
	km_cluster_destroy(C);
	C = mc_cluster(2, NULL);
	ck_assert_int_eq(km_cluster_create_topic(C, "t", 1, NULL), KM_OK);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "t", 0, &pi), KM_OK);
	mc_connect_broker(&CL, C, 3 - pi.leader);
	ck_assert_int_eq(list(&CL, 6, "t", 0, -1, -1, &resp)->error_code, 6);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_list_offsets");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, earliest_latest_every_version);
	tcase_add_test(t, special_timestamps);
	tcase_add_test(t, timestamp_lookup);
	tcase_add_test(t, errors);
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
