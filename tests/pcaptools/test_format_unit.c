/* kafkit-pcap's formats on synthetic input: bytes modes, a Fetch response
 * whose records end in a partial batch (text with -v and JSON), and
 * allocation failures while records are walked and written. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "helpers.h"
#include "kafkit/codec.h"
#include "kafkit/pcap.h"
#include "ndjson.h"
#include "recfmt.h"
#include "text.h"

typedef struct first_records {
	uint8_t *p;
	size_t n;
} first_records;

/* A sealed batch of 200 records (with headers) in codec, copied to f. */
static void sealed_batch(int codec, first_records *f)
{
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	cfg.codec = codec;
	kc_batch_builder b;
	ck_assert_int_eq(kc_batch_builder_init(&b, &cfg), KC_OK);
	for (int i = 0; i < 200; i++) {
		char k[16], v[32];
		snprintf(k, sizeof k, "key%d", i);
		snprintf(v, sizeof v, "value-%d", i);
		kc_rec_header h = {KC_STR_LIT("n"), th_bstr(k)};
		ck_assert_int_eq(kc_batch_append(&b, 1700000000000 + i, th_bstr(k), th_bstr(v),
						 &h, 1),
				 KC_OK);
	}
	const uint8_t *p;
	ck_assert_int_eq(kc_batch_seal(&b, &p, &f->n), KC_OK);
	f->p = malloc(f->n);
	memcpy(f->p, p, f->n);
	kc_batch_builder_free(&b);
}

static char *put_bytes(kc_bytes b, kc_json_bytes_mode mode)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	kx__put_bytes(f, b, mode);
	fclose(f);
	return buf;
}

START_TEST(bytes_modes)
{
	static const struct {
		const char *in;
		size_t n;
		const char *text, *hex, *b64;
	} v[] = {
		{"a\x01\"\\", 4, "\"a\\x01\\x22\\x5c\"", "6101225c", "YQEiXA=="},
		{"foo", 3, "\"foo\"", "666f6f", "Zm9v"},
		{"fo", 2, "\"fo\"", "666f", "Zm8="},
		{"\xff", 1, "\"\\xff\"", "ff", "/w=="},
		{"", 0, "\"\"", "", ""},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		kc_bytes b = {(const uint8_t *)v[i].in, (int32_t)v[i].n};
		char *t = put_bytes(b, KC_JSON_BYTES_TEXT), *h = put_bytes(b, KC_JSON_BYTES_HEX),
		     *s = put_bytes(b, KC_JSON_BYTES_BASE64);
		ck_assert_str_eq(t, v[i].text);
		ck_assert_str_eq(h, v[i].hex);
		ck_assert_str_eq(s, v[i].b64);
		free(t);
		free(h);
		free(s);
	}
	char *nul = put_bytes(KC_BYTES_NULL, KC_JSON_BYTES_HEX);
	ck_assert_str_eq(nul, "null");
	free(nul);
}
END_TEST

/* A Fetch response, as a broker sends it: records of a partition that end
 * with a partial batch (the broker cuts at max_bytes). Records are printed
 * under the line with -v and expanded in JSON; the partial tail is said. */
START_TEST(fetch_response_records)
{
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	cfg.codec = KC_CODEC_LZ4;
	kc_batch_builder b;
	ck_assert_int_eq(kc_batch_builder_init(&b, &cfg), KC_OK);
	for (int i = 0; i < 5; i++) {
		char v[16];
		snprintf(v, sizeof v, "v%d", i);
		kc_rec_header h = {KC_STR_LIT("h"), th_bstr("x\x01")};
		ck_assert_int_eq(kc_batch_append(&b, 1700000000000 + i, th_bstr("k"), th_bstr(v),
						 &h, 1),
				 KC_OK);
	}
	const uint8_t *bp;
	size_t bl;
	ck_assert_int_eq(kc_batch_seal(&b, &bp, &bl), KC_OK);
	uint8_t recs[1024];
	ck_assert_uint_lt(bl + 20, sizeof recs);
	memcpy(recs, bp, bl);
	memcpy(recs + bl, bp, 20); /* the start of a second batch */
	kc_fetch_response m;
	kc_fetch_response_fetchable_topic_response tr;
	kc_fetch_response_partition_data pd;
	kc_fetch_response_init(&m);
	kc_fetch_response_fetchable_topic_response_init(&tr);
	kc_fetch_response_partition_data_init(&pd);
	pd.partition_index = 7;
	pd.records = (kc_bytes){recs, (int32_t)(bl + 20)};
	tr.topic = KC_STR_LIT("tp");
	tr.partitions = &pd;
	tr.partitions_count = 1;
	m.responses = &tr;
	m.responses_count = 1;
	kc_writer w;
	kc_writer_init(&w);
	ck_assert_int_eq(kc_response_frame_encode(&w, 1, 4, 99, &m), KC_OK);
	const uint8_t *fr = kc_writer_data(&w);
	kx_event ev = {0};
	ev.type = KX_EV_RESPONSE;
	ev.dir = KX_TO_CLIENT;
	ev.frame = fr + 4;
	ev.frame_len = kc_writer_pos(&w) - 4;
	ev.header_len = 4;
	ev.header_ok = true;
	ev.api_key = 1;
	ev.api_version = 4;
	ev.correlation_id = 99;
	ev.paired = true;
	kc_arena a;
	kc_arena_init(&a);
	kx__msg msg;
	ck_assert_int_eq(kx__msg_decode(&msg, &ev, &a), KC_OK);
	kx__recs r;
	kx__recs_init(&r, KC_JSON_BYTES_TEXT);
	kc_json scratch, j;
	kc_json_init(&scratch);
	kc_json_init(&j);
	char *text = NULL;
	size_t tn = 0;
	FILE *out = open_memstream(&text, &tn);
	kx__text_msg(out, &ev, &msg, KC_STR_LIT("cid"), true, &r, &scratch);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(text, " Fetch v4 resp corr=99 client=\"cid\""));
	ck_assert_ptr_nonnull(strstr(text, " ok\n  tp/7\n    batch magic=2 offset=0 count=5 codec=lz4"));
	ck_assert_ptr_nonnull(strstr(text, "key=\"k\" value=\"v4\" headers=\"h\"=\"x\\x01\"\n"));
	ck_assert_ptr_nonnull(strstr(text, "! records: a partial batch ends the field"));
	free(text);
	kx__json_expand_records(&j, &r);
	j.bytes = KC_JSON_BYTES_TEXT;
	kx__json_msg(&j, &ev, &msg, KC_STR_NULL);
	ck_assert_uint_gt(j.len, 0);
	ck_assert_int_eq(j.buf[j.len - 1], '\n');
	ck_assert_ptr_null(memchr(j.buf, '\n', j.len - 1));
	char *js = strndup(j.buf, j.len);
	ck_assert_ptr_nonnull(strstr(js, "\"compression\":\"lz4\""));
	ck_assert_ptr_nonnull(strstr(js, "\"headers\":[{\"key\":\"h\",\"value\":\"x\\u0001\"}]"));
	ck_assert_ptr_nonnull(strstr(js, "\"truncatedTail\":true,\"error\":null"));
	ck_assert_ptr_nonnull(strstr(js, "\"latencyNs\":0,"));
	free(js);
	kc_json_free(&j);
	kc_json_free(&scratch);
	kx__recs_free(&r);
	kc_arena_free(&a);
	kc_writer_free(&w);
	kc_batch_builder_free(&b);
}
END_TEST

/* Every allocation of the records walk (decompression buffers, header
 * arrays, JSON output) can fail: the output then carries the error, and
 * nothing leaks. */
START_TEST(allocation_failures)
{
	first_records f;
	sealed_batch(KC_CODEC_ZSTD, &f);
	bool done = false;
	for (unsigned long n = 1; n < 64 && !done; n++) {
		th_alloc_fail_at(n);
		kx__recs r;
		kx__recs_init(&r, KC_JSON_BYTES_HEX);
		kc_json j;
		kc_json_init(&j);
		kx__recs_json(&r, &j, (kc_bytes){f.p, (int32_t)f.n});
		kx__recsum s;
		kc_err se = kx__recs_summary(&r, (kc_bytes){f.p, (int32_t)f.n}, &s);
		if (kc_json_err(&j) == KC_OK) {
			char *js = strndup(j.buf, j.len);
			done = strstr(js, "\"error\":null") != NULL && se == KC_OK;
			if (!done)
				ck_assert(strstr(js, "KC_ERR_NOMEM") || se == KC_ERR_NOMEM);
			free(js);
		}
		kc_json_free(&j);
		kx__recs_free(&r);
		ck_assert_int_eq(th_alloc_live(), 0);
	}
	th_alloc_reset();
	ck_assert(done);
	free(f.p);
}
END_TEST


static Suite *format_unit_suite(void)
{
	Suite *s = suite_create("pcaptools_format_unit");
	TCase *tc = tcase_create("format_unit");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bytes_modes);
	tcase_add_test(tc, fetch_response_records);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(format_unit_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
