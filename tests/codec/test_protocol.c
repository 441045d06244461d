/* Request/response frames and the ApiVersions fallback. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kafkit/codec.h"

/* golden-vectors.md P-4: Produce v0 frame, correlation id 123, client "foo". */
START_TEST(request_frame_matches_p4_v0)
{
	kc_produce_request_partition_produce_data part;
	kc_produce_request_partition_produce_data_init(&part);
	part.index = 173;
	size_t n;
	uint8_t *records = th_hex("00000000000000000000001023964af70000ffffffff0000000200ee", &n);
	part.records = kc_bytes_of(records, n);
	kc_produce_request_topic_produce_data topic;
	kc_produce_request_topic_produce_data_init(&topic);
	topic.name = KC_STR_LIT("topic");
	topic.partition_data = &part;
	topic.partition_data_count = 1;
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = 0x0123;
	req.timeout_ms = 0x444;
	req.topic_data = &topic;
	req.topic_data_count = 1;

	kc_writer w;
	kc_writer_init(&w);
	ck_assert_int_eq(kc_request_frame_encode(&w, 0, 0, 123, KC_STR_LIT("foo"), &req), KC_OK);
	th_assert_writer_hex(&w,
		"00000046000000000000007b0003666f6f012300000444000000010005746f70"
		"696300000001000000ad0000001c00000000000000000000001023964af70000"
		"ffffffff0000000200ee");
	kc_writer_free(&w);
	free(records);
}
END_TEST

START_TEST(frame_errors)
{
	kc_writer w;
	kc_writer_init(&w);
	kc_api_versions_request body;
	kc_api_versions_request_init(&body);
	ck_assert_int_eq(kc_request_frame_encode(&w, 9999, 0, 1, KC_STR_NULL, &body),
			 KC_ERR_UNKNOWN_API);
	ck_assert_int_eq(kc_request_frame_encode(&w, 18, 99, 1, KC_STR_NULL, &body),
			 KC_ERR_UNSUPPORTED_VERSION);
	ck_assert_int_eq(kc_response_frame_encode(&w, 18, -1, 1, &body),
			 KC_ERR_UNSUPPORTED_VERSION);
	kc_writer_free(&w);
}
END_TEST

/* Flexible ApiVersions responses still use header v0 (no tag byte). */
START_TEST(api_versions_response_uses_header_v0)
{
	kc_api_versions_response_api_version keys[1] = {{18, 0, 4}};
	kc_api_versions_response body;
	kc_api_versions_response_init(&body);
	body.api_keys = keys;
	body.api_keys_count = 1;
	kc_writer w;
	kc_writer_init(&w);
	ck_assert_int_eq(kc_response_frame_encode(&w, 18, 3, 7, &body), KC_OK);
	/* size 19: corr id, error 0, compact array of 1, key 18 v0-4 + tags,
	 * throttle 0, empty tag section. */
	th_assert_writer_hex(&w, "00000013" "00000007" "0000" "02" "001200000004" "00" "00000000" "00");
	kc_writer_free(&w);

	/* Produce v9 is flexible: response header v1 carries a tag section. */
	kc_produce_response pr;
	kc_produce_response_init(&pr);
	kc_writer_init(&w);
	ck_assert_int_eq(kc_response_frame_encode(&w, 0, 9, 5, &pr), KC_OK);
	th_assert_writer_hex(&w, "0000000b" "00000005" "00" "01" "00000000" "00");
	kc_writer_free(&w);
}
END_TEST

/* What librdkafka's mock cluster answered kcat's ApiVersions v3 request in
 * the captures, and what a client must make of it. */
START_TEST(api_versions_fallback_round_trip)
{
	kc_writer w;
	kc_writer_init(&w);
	ck_assert_int_eq(kc_api_versions_unsupported_frame_encode(&w, 1, 0, 4), KC_OK);
	th_assert_writer_hex(&w, "00000010" "00000001" "0023" "00000001" "001200000004");

	/* The client asked for v3; the body is v0 format. */
	const uint8_t *frame = kc_writer_data(&w);
	kc_decode_error e;
	kc_reader r;
	kc_reader_init(&r, frame + 8, kc_writer_pos(&w) - 8, &e);
	kc_arena a;
	kc_arena_init(&a);
	kc_api_versions_response m;
	int16_t used = -1;
	ck_assert_int_eq(kc_api_versions_response_decode_any(&r, &m, 3, &a, &used), KC_OK);
	ck_assert_int_eq(used, 0);
	ck_assert_int_eq(m.error_code, 35);
	ck_assert_int_eq(m.api_keys_count, 1);
	ck_assert_int_eq(m.api_keys[0].api_key, 18);
	ck_assert_int_eq(m.api_keys[0].max_version, 4);
	ck_assert_uint_eq(kc_reader_left(&r), 0);
	kc_arena_free(&a);
	kc_writer_free(&w);
}
END_TEST

START_TEST(api_versions_supported_version_decodes_as_asked)
{
	/* error 0, compact array of 1 {0, 0..11}, throttle 0, tags. */
	size_t n;
	uint8_t *body = th_hex("0000" "02" "00000000000b" "00" "00000000" "00", &n);
	kc_decode_error e;
	kc_reader r;
	kc_reader_init(&r, body, n, &e);
	kc_arena a;
	kc_arena_init(&a);
	kc_api_versions_response m;
	int16_t used = -1;
	ck_assert_int_eq(kc_api_versions_response_decode_any(&r, &m, 3, &a, &used), KC_OK);
	ck_assert_int_eq(used, 3);
	ck_assert_int_eq(m.api_keys[0].max_version, 11);
	ck_assert_uint_eq(kc_reader_left(&r), 0);
	kc_arena_free(&a);
	free(body);
}
END_TEST

static Suite *protocol_suite(void)
{
	Suite *s = suite_create("protocol");
	TCase *tc = tcase_create("frames");
	tcase_add_test(tc, request_frame_matches_p4_v0);
	tcase_add_test(tc, frame_errors);
	tcase_add_test(tc, api_versions_response_uses_header_v0);
	tcase_add_test(tc, api_versions_fallback_round_trip);
	tcase_add_test(tc, api_versions_supported_version_decodes_as_asked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(protocol_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
