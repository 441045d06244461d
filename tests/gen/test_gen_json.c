/* Generated JSON writers (kafkit/messages_json.h) and their runtime
 * (kafkit/json.h): every declaration at every version writes valid JSON
 * that survives the wire (the JSON of a decoded message equals the JSON of
 * the message encoded), exact output for hand-built messages, escaping,
 * bytes modes, the records callback, dispatch errors and allocation
 * failures. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kafkit/json.h"
#include "kafkit/messages.h"
#include "kafkit/messages_json.h"
#include "kafkit/messages_test.h"

/* ---- a strict JSON checker (RFC 8259) ------------------------------------- */

typedef struct jp {
	const char *p, *end;
} jp;

static bool jvalue(jp *s, int depth);

static void ws(jp *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\t' || *s->p == '\r'))
		s->p++;
}

static bool lit(jp *s, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n))
		return false;
	s->p += n;
	return true;
}

static bool hex4(const char *p)
{
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static bool jstring(jp *s)
{
	if (s->p >= s->end || *s->p != '"')
		return false;
	s->p++;
	while (s->p < s->end && *s->p != '"') {
		unsigned char c = (unsigned char)*s->p;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (s->end - s->p < 2)
				return false;
			char e = s->p[1];
			if (e == 'u') {
				if (s->end - s->p < 6 || !hex4(s->p + 2))
					return false;
				s->p += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e))
				return false;
			s->p += 2;
			continue;
		}
		s->p++;
	}
	if (s->p >= s->end)
		return false;
	s->p++;
	return true;
}

static bool jnumber(jp *s)
{
	const char *st = s->p;
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end || *s->p < '0' || *s->p > '9')
		return false;
	if (*s->p == '0')
		s->p++;
	else
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return false;
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return false;
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	return s->p > st;
}

static bool jvalue(jp *s, int depth)
{
	if (depth > 64)
		return false;
	ws(s);
	if (s->p >= s->end)
		return false;
	char c = *s->p;
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		s->p++;
		ws(s);
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return true;
		}
		for (;;) {
			if (c == '{') {
				ws(s);
				if (!jstring(s))
					return false;
				ws(s);
				if (s->p >= s->end || *s->p++ != ':')
					return false;
			}
			if (!jvalue(s, depth + 1))
				return false;
			ws(s);
			if (s->p >= s->end)
				return false;
			if (*s->p == ',') {
				s->p++;
				continue;
			}
			if (*s->p == close) {
				s->p++;
				return true;
			}
			return false;
		}
	}
	if (c == '"')
		return jstring(s);
	if (c == 't')
		return lit(s, "true");
	if (c == 'f')
		return lit(s, "false");
	if (c == 'n')
		return lit(s, "null");
	return jnumber(s);
}

/* One complete JSON document, nothing after it. */
static bool json_valid(const char *p, size_t n)
{
	jp s = {p, p + n};
	if (!jvalue(&s, 0))
		return false;
	ws(&s);
	return s.p == s.end;
}

static char *json_text(const kc_json *j)
{
	char *t = malloc(j->len + 1);
	ck_assert_ptr_nonnull(t);
	memcpy(t, j->buf, j->len);
	t[j->len] = '\0';
	return t;
}

static void assert_json(const kc_json *j, const char *want)
{
	char *got = json_text(j);
	ck_assert_msg(!strcmp(got, want), "got  %s\nwant %s", got, want);
	free(got);
}

/* ---- every generated writer -------------------------------------------------- */

/* Requests, responses and headers: no length, CRC or count fields, so a
 * decoded message holds exactly what was encoded. */
static bool plain_kind(const kc_msg_type *t)
{
	size_t n = strlen(t->name);
	return (n > 7 && !strcmp(t->name + n - 7, "Request")) ||
	       (n > 8 && !strcmp(t->name + n - 8, "Response")) ||
	       (n > 6 && !strcmp(t->name + n - 6, "Header"));
}

START_TEST(every_message_valid_and_stable)
{
	int checked = 0;
	for (size_t i = 0; kc_msg_type_at(i); i++) {
		const kc_msg_type *t = kc_msg_type_at(i);
		for (int16_t v = t->min_version; v <= t->max_version; v++) {
			for (uint32_t seed = 1; seed <= 4; seed++) {
				kc_arena fa, da;
				kc_arena_init(&fa);
				kc_arena_init(&da);
				void *m = calloc(1, t->struct_size);
				void *d = calloc(1, t->struct_size);
				kc__test_fill(t, m, v, seed * 131u + (uint32_t)v, &fa);
				kc_json a, b;
				kc_json_init(&a);
				kc_json_init(&b);
				ck_assert_int_eq(kc_msg_json(&a, t, m, v), KC_OK);
				ck_assert_msg(json_valid(a.buf, a.len), "%s v%d: invalid JSON: %.*s",
					      t->name, v, (int)a.len, a.buf);
				ck_assert_int_eq(a.buf[0], '{');
				if (plain_kind(t)) {
					kc_writer w;
					kc_writer_init(&w);
					ck_assert_int_eq(t->encode(&w, m, v), KC_OK);
					kc_decode_error err;
					kc_reader r;
					kc_reader_init(&r, kc_writer_data(&w), kc_writer_pos(&w), &err);
					ck_assert_int_eq(t->decode(&r, d, v, &da), KC_OK);
					ck_assert_int_eq(kc_msg_json(&b, t, d, v), KC_OK);
					ck_assert_msg(a.len == b.len && !memcmp(a.buf, b.buf, a.len),
						      "%s v%d: JSON differs after the wire:\n%.*s\n%.*s",
						      t->name, v, (int)a.len, a.buf, (int)b.len, b.buf);
					kc_writer_free(&w);
				}
				kc_json_free(&a);
				kc_json_free(&b);
				free(m);
				free(d);
				kc_arena_free(&fa);
				kc_arena_free(&da);
				checked++;
			}
		}
	}
	ck_assert_int_gt(checked, 100);
}
END_TEST

/* ---- exact output ---------------------------------------------------------- */

static kc_produce_request one_partition(kc_produce_request_topic_produce_data *td,
					kc_produce_request_partition_produce_data *pd)
{
	static const uint8_t recs[] = {1, 2};
	kc_produce_request m;
	kc_produce_request_init(&m);
	kc_produce_request_topic_produce_data_init(td);
	kc_produce_request_partition_produce_data_init(pd);
	m.acks = -1;
	m.timeout_ms = 30000;
	pd->index = 3;
	pd->records = (kc_bytes){recs, 2};
	td->name = KC_STR_LIT("t1");
	td->partition_data = pd;
	td->partition_data_count = 1;
	m.topic_data = td;
	m.topic_data_count = 1;
	return m;
}

START_TEST(produce_request_exact)
{
	kc_produce_request_topic_produce_data td;
	kc_produce_request_partition_produce_data pd;
	kc_produce_request m = one_partition(&td, &pd);
	kc_json j;
	kc_json_init(&j);
	/* v2: no transactionalId; records as base64 bytes by default */
	kc_produce_request_json(&j, &m, 2);
	assert_json(&j, "{\"acks\":-1,\"timeoutMs\":30000,\"topicData\":[{\"name\":\"t1\","
			"\"partitionData\":[{\"index\":3,\"records\":\"AQI=\"}]}]}");
	/* v3+: the null transactionalId; hex bytes */
	kc_json_reset(&j);
	j.bytes = KC_JSON_BYTES_HEX;
	ck_assert_int_eq(kc_json_request_body(&j, 0, 9, &m), KC_OK);
	assert_json(&j, "{\"transactionalId\":null,\"acks\":-1,\"timeoutMs\":30000,"
			"\"topicData\":[{\"name\":\"t1\",\"partitionData\":[{\"index\":3,"
			"\"records\":\"0102\"}]}]}");
	/* a null array */
	m.topic_data_count = -1;
	kc_json_reset(&j);
	kc_produce_request_json(&j, &m, 3);
	assert_json(&j, "{\"transactionalId\":null,\"acks\":-1,\"timeoutMs\":30000,"
			"\"topicData\":null}");
	kc_json_free(&j);
}
END_TEST

/* The records callback writes one value in the field's place. */
static void records_cb(kc_json *j, kc_bytes records, void *opaque)
{
	int *calls = opaque;
	(*calls)++;
	kc_json_begin_object(j);
	kc_json_key(j, "n");
	kc_json_int(j, records.len);
	kc_json_end_object(j);
}

START_TEST(records_callback)
{
	kc_produce_request_topic_produce_data td;
	kc_produce_request_partition_produce_data pd[2];
	kc_produce_request m = one_partition(&td, &pd[0]);
	pd[1] = pd[0];
	pd[1].records = KC_BYTES_NULL;
	td.partition_data_count = 2;
	int calls = 0;
	kc_json j;
	kc_json_init(&j);
	j.records_fn = records_cb;
	j.records_opaque = &calls;
	kc_produce_request_json(&j, &m, 0);
	/* null records stay null without a call */
	assert_json(&j, "{\"acks\":-1,\"timeoutMs\":30000,\"topicData\":[{\"name\":\"t1\","
			"\"partitionData\":[{\"index\":3,\"records\":{\"n\":2}},"
			"{\"index\":3,\"records\":null}]}]}");
	ck_assert_int_eq(calls, 1);
	kc_json_free(&j);
}
END_TEST

START_TEST(flexible_response_exact)
{
	kc_produce_response m;
	kc_produce_response_topic_produce_response tr;
	kc_produce_response_partition_produce_response pr;
	kc_produce_response_init(&m);
	kc_produce_response_topic_produce_response_init(&tr);
	kc_produce_response_partition_produce_response_init(&pr);
	pr.index = 1;
	pr.error_code = 6;
	pr.base_offset = 42;
	pr.current_leader.leader_id = 2;
	tr.name = KC_STR_LIT("a\"b");
	tr.partition_responses = &pr;
	tr.partition_responses_count = 1;
	m.responses = &tr;
	m.responses_count = 1;
	m.throttle_time_ms = 5;
	kc_json j;
	kc_json_init(&j);
	ck_assert_int_eq(kc_json_response_body(&j, 0, 10, &m), KC_OK);
	/* tagged fields are written at the versions that carry them */
	assert_json(&j, "{\"responses\":[{\"name\":\"a\\\"b\",\"partitionResponses\":[{"
			"\"index\":1,\"errorCode\":6,\"baseOffset\":42,\"logAppendTimeMs\":-1,"
			"\"logStartOffset\":-1,\"recordErrors\":[],\"errorMessage\":null,"
			"\"currentLeader\":{\"leaderId\":2,\"leaderEpoch\":-1}}]}],"
			"\"throttleTimeMs\":5,\"nodeEndpoints\":[]}");
	kc_json_reset(&j);
	kc_produce_response_json(&j, &m, 0);
	assert_json(&j, "{\"responses\":[{\"name\":\"a\\\"b\",\"partitionResponses\":[{"
			"\"index\":1,\"errorCode\":6,\"baseOffset\":42}]}]}");
	kc_json_free(&j);
}
END_TEST

START_TEST(record_batch_crc_ok)
{
	kc_record_batch b;
	kc_record_batch_init(&b);
	b.crc = 0xdeadbeef;
	b.crc_ok = false;
	kc_json j;
	kc_json_init(&j);
	ck_assert_int_eq(kc_msg_json(&j, &kc_record_batch_type, &b, 2), KC_OK);
	char *t = json_text(&j);
	ck_assert_ptr_nonnull(strstr(t, "\"crc\":3735928559,\"crcOk\":false,"));
	ck_assert_ptr_nonnull(strstr(t, "\"records\":[]"));
	ck_assert(json_valid(j.buf, j.len));
	free(t);
	kc_json_free(&j);
}
END_TEST

START_TEST(dispatch_errors)
{
	kc_json j;
	kc_json_init(&j);
	int dummy = 0;
	ck_assert_int_eq(kc_json_request_body(&j, 9999, 0, &dummy), KC_ERR_UNKNOWN_API);
	ck_assert_int_eq(kc_json_response_body(&j, -1, 0, &dummy), KC_ERR_UNKNOWN_API);
	kc_msg_type fake = kc_produce_request_type;
	ck_assert_int_eq(kc_msg_json(&j, &fake, &dummy, 0), KC_ERR_INVALID_ARG);
	ck_assert_uint_eq(j.len, 0);
	kc_json_free(&j);
}
END_TEST

/* ---- the runtime ----------------------------------------------------------- */

START_TEST(strings_escaped)
{
	kc_json j;
	kc_json_init(&j);
	kc_json_begin_array(&j);
	kc_json_strn(&j, "q\"b\\n\n\t\x01\x1f/", 10);
	/* valid UTF-8 kept; a lone continuation byte, an overlong '/', a
	 * surrogate and a truncated sequence become U+FFFD */
	kc_json_cstr(&j, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	kc_json_strn(&j, "\x80" "a" "\xc0\xaf" "\xed\xa0\x80" "\xe2\x82", 9);
	kc_json_str(&j, KC_STR_NULL);
	kc_json_cstr(&j, NULL);
	kc_json_end_array(&j);
	assert_json(&j, "[\"q\\\"b\\\\n\\n\\t\\u0001\\u001f/\","
			"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
			"\"\xef\xbf\xbd" "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			"\xef\xbf\xbd\xef\xbf\xbd\",null,null]");
	ck_assert(json_valid(j.buf, j.len));
	kc_json_free(&j);
}
END_TEST

START_TEST(bytes_modes)
{
	static const struct {
		const char *in;
		const char *b64, *hex;
	} v[] = {
		{"", "\"\"", "\"\""},
		{"f", "\"Zg==\"", "\"66\""},
		{"fo", "\"Zm8=\"", "\"666f\""},
		{"foo", "\"Zm9v\"", "\"666f6f\""},
		{"foob", "\"Zm9vYg==\"", "\"666f6f62\""},
		{"fooba", "\"Zm9vYmE=\"", "\"666f6f6261\""},
		{"foobar", "\"Zm9vYmFy\"", "\"666f6f626172\""},
	};
	kc_json j;
	kc_json_init(&j);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		kc_bytes b = th_bstr(v[i].in);
		kc_json_reset(&j);
		kc_json_bytes(&j, b);
		assert_json(&j, v[i].b64);
		kc_json_reset(&j);
		kc_json_bytes_as(&j, b, KC_JSON_BYTES_HEX);
		assert_json(&j, v[i].hex);
	}
	kc_json_reset(&j);
	j.bytes = KC_JSON_BYTES_TEXT;
	kc_json_bytes(&j, (kc_bytes){(const uint8_t *)"a\x00\xff", 3});
	kc_json_bytes(&j, KC_BYTES_NULL);
	assert_json(&j, "\"a\\u0000\xef\xbf\xbd\",null");
	kc_json_free(&j);
}
END_TEST

START_TEST(scalars)
{
	kc_json j;
	kc_json_init(&j);
	kc_json_begin_object(&j);
	kc_json_key(&j, "a");
	kc_json_int(&j, INT64_MIN);
	kc_json_key(&j, "b");
	kc_json_uint(&j, UINT64_MAX);
	kc_json_key(&j, "c");
	kc_json_double(&j, 0.5);
	kc_json_key(&j, "d");
	kc_json_double(&j, NAN);
	kc_json_key(&j, "e");
	kc_json_bool(&j, true);
	kc_json_key(&j, "u");
	/* Kafka prints Uuids as URL-safe base64 without padding */
	kc_uuid u;
	for (int i = 0; i < 16; i++)
		u.b[i] = (uint8_t)(0xf0 + i);
	kc_json_uuid(&j, &u);
	kc_json_key(&j, "r");
	kc_json_raw(&j, "[1]", 3);
	kc_json_end_object(&j);
	kc_json_newline(&j);
	kc_json_begin_object(&j);
	kc_json_end_object(&j);
	assert_json(&j, "{\"a\":-9223372036854775808,\"b\":18446744073709551615,\"c\":0.5,"
			"\"d\":null,\"e\":true,\"u\":\"8PHy8_T19vf4-fr7_P3-_w\",\"r\":[1]}\n{}");
	kc_json_free(&j);
}
END_TEST

/* Every allocation the writer makes can fail: the error is sticky, the
 * output stops growing, and nothing leaks. */
START_TEST(allocation_failures)
{
	kc_produce_request_topic_produce_data td;
	kc_produce_request_partition_produce_data pd;
	kc_produce_request m = one_partition(&td, &pd);
	static char big[5000];
	memset(big, 'x', sizeof big);
	td.name = (kc_str){big, (int32_t)sizeof big};
	bool ok = false;
	for (unsigned long n = 1; n < 20 && !ok; n++) {
		th_alloc_fail_at(n);
		kc_json j;
		kc_json_init(&j);
		kc_produce_request_json(&j, &m, 3);
		kc_err e = kc_json_err(&j);
		ok = e == KC_OK;
		if (!ok) {
			ck_assert_int_eq(e, KC_ERR_NOMEM);
			kc_json_null(&j); /* a no-op now */
			ck_assert_int_eq(kc_json_err(&j), KC_ERR_NOMEM);
		} else {
			ck_assert(json_valid(j.buf, j.len));
		}
		kc_json_free(&j);
		ck_assert_int_eq(th_alloc_live(), 0);
	}
	th_alloc_reset();
	ck_assert(ok);
}
END_TEST

static Suite *gen_json_suite(void)
{
	Suite *s = suite_create("gen_json");
	TCase *tc = tcase_create("json");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_message_valid_and_stable);
	tcase_add_test(tc, produce_request_exact);
	tcase_add_test(tc, records_callback);
	tcase_add_test(tc, flexible_response_exact);
	tcase_add_test(tc, record_batch_crc_ok);
	tcase_add_test(tc, dispatch_errors);
	tcase_add_test(tc, strings_escaped);
	tcase_add_test(tc, bytes_modes);
	tcase_add_test(tc, scalars);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gen_json_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
