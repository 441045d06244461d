/* Kafka framing and pairing on synthesized captures: flexible headers,
 * acks=0, garbage and oversized frames, non-Kafka connections, detect
 * mode, connection limits, a callback that stops the reader. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pcaptest.h"

/* Produce with acks=0 expects no response; a callback can say so for
 * other requests. */
START_TEST(acks_zero)
{
	pt_buf c = {0}, b = {0};
	size_t n;
	uint8_t *f = pt_produce(1, 0, 40, &n);
	pt_buf_add(&c, f, n);
	free(f);
	f = pt_produce(2, -1, 40, &n);
	pt_buf_add(&c, f, n);
	free(f);
	f = pt_request(3, 1, 3, "x", 8, &n);
	pt_buf_add(&c, f, n);
	free(f);
	f = pt_response(2, 30, &n);
	pt_buf_add(&b, f, n);
	free(f);
	f = pt_response(3, 30, &n);
	pt_buf_add(&b, f, n);
	free(f);
	const char *path = pt_tmp("acks");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	kx_pcapw_conn k;
	kx_pcapw_conn_init(&k, 4, pt_client4, 40000, pt_broker4, 9092);
	kx_pcapw_conn_open(w, &k, 1);
	kx_pcapw_conn_send(w, &k, KX_TO_BROKER, 2, c.p, c.n);
	kx_pcapw_conn_send(w, &k, KX_TO_CLIENT, 3, b.p, b.n);
	kx_pcapw_conn_close(w, &k, 4);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	pt_log log = {.ack0_clear = true};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, NULL, &log, &st), 0);
	ck_assert(!pt_nth(&log, KX_EV_REQUEST, 0)->expect_response);
	ck_assert(pt_nth(&log, KX_EV_REQUEST, 1)->expect_response);
	ck_assert(!pt_nth(&log, KX_EV_REQUEST, 2)->expect_response);
	ck_assert(pt_nth(&log, KX_EV_RESPONSE, 0)->paired);
	ck_assert_int_eq(pt_nth(&log, KX_EV_RESPONSE, 0)->api_key, 0);
	ck_assert(!pt_nth(&log, KX_EV_RESPONSE, 1)->paired);
	ck_assert_int_eq(pt_nth(&log, KX_EV_RESPONSE, 1)->api_key, -1);
	ck_assert_uint_eq(st.unanswered_requests, 0);
	ck_assert_uint_eq(pt_count_warn(&log, KX_WARN_UNANSWERED), 0);
	unlink(path);
	pt_log_free(&log);
	pt_buf_free(&c);
	pt_buf_free(&b);
}
END_TEST

/* Garbage between frames, and a frame over max_frame. */
START_TEST(bad_and_big_frames)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_buf s = {0};
	uint8_t junk[37];
	memset(junk, 0xff, sizeof junk);
	pt_buf_add(&s, cv.c.p, cv.req_off[2]);
	pt_buf_add(&s, junk, sizeof junk);
	pt_buf_add(&s, cv.c.p + cv.req_off[2], cv.c.n - cv.req_off[2]);
	pt_buf tmp = cv.c;
	cv.c = s;
	pt_sg v[64];
	size_t n = pt_cut(&cv, 1460, v);
	kx_reader_opts o = {.max_frame = 2000};
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, n, &(pt_scen){0}), &o,
				 &log, &st),
			 0);
	cv.c = tmp;
	ck_assert_uint_eq(pt_count_warn(&log, KX_WARN_BAD_FRAME), 1);
	ck_assert_uint_eq(pt_count_warn(&log, KX_WARN_FRAME_TOO_BIG), 2);
	ck_assert_uint_eq(st.frames_too_big, 2);
	const pt_ev *rs = pt_nth(&log, KX_EV_RESYNC, 0);
	ck_assert_ptr_nonnull(rs);
	ck_assert_uint_eq(rs->bytes, sizeof junk);
	ck_assert_uint_eq(rs->stream_offset, cv.req_off[2]);
	/* request 2 (3000 bytes) and response 5 (3000 bytes) skipped */
	ck_assert_uint_eq(st.requests, PT_NREQ - 1);
	ck_assert_uint_eq(st.responses, PT_NREQ - 1);
	pt_log_free(&log);
	pt_buf_free(&s);
	pt_conv_free(&cv);
}
END_TEST

START_TEST(callback_stops)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[64];
	size_t n = pt_cut(&cv, 1460, v);
	pt_log log = {.stop_after = 3};
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, n, &(pt_scen){0}), NULL,
				 &log, NULL),
			 7);
	ck_assert_uint_eq(log.n, 3);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* Detect mode: Kafka on an unlisted port is found from its first
 * request; other traffic is left alone. */
START_TEST(detect_mode)
{
	pt_conv cv;
	pt_conv_make(&cv);
	const char *path = pt_tmp("detect");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	int64_t ts = 1;
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 4, pt_client4, 50000, pt_broker4, 7777);
	kx_pcapw_conn_open(w, &c, ts++);
	kx_pcapw_conn_send(w, &c, KX_TO_BROKER, ts++, cv.c.p, cv.c.n);
	kx_pcapw_conn_send(w, &c, KX_TO_CLIENT, ts++, cv.b.p, cv.b.n);
	kx_pcapw_conn_close(w, &c, ts++);
	/* HTTP on another port, with and without a handshake */
	const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	kx_pcapw_conn_init(&c, 4, pt_client4, 50001, pt_broker4, 80);
	kx_pcapw_conn_open(w, &c, ts++);
	kx_pcapw_conn_send(w, &c, KX_TO_BROKER, ts++, http, sizeof http - 1);
	kx_pcapw_conn_init(&c, 4, pt_client4, 50002, pt_broker4, 81);
	for (int i = 0; i < 20; i++)
		kx_pcapw_conn_send(w, &c, i % 2, ts++, http, sizeof http - 1);
	/* Kafka mid-stream on yet another port: found by a segment that
	 * starts with a request */
	kx_pcapw_conn_init(&c, 4, pt_client4, 50003, pt_broker4, 7778);
	kx_pcapw_conn_send(w, &c, KX_TO_BROKER, ts++, cv.c.p, cv.c.n);
	kx_pcapw_conn_send(w, &c, KX_TO_CLIENT, ts++, cv.b.p, cv.b.n);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	kx_reader_opts o = {.detect_any_port = true};
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, &o, &log, &st), 0);
	ck_assert_uint_eq(st.conns, 2);
	ck_assert_uint_eq(st.conns_ignored, 2);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	pt_expect_frames(&log, &cv, 2, PT_ALL);
	ck_assert_str_eq(log.v[0].broker, "10.0.0.2:7777");
	pt_log_free(&log);
	/* Without detect mode nothing is followed. */
	ck_assert_int_eq(pt_read(path, NULL, &log, &st), 0);
	ck_assert_uint_eq(log.n, 0);
	unlink(path);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* Flexible headers: request header v2's tagged fields and response
 * header v1's are part of header_len (ApiVersions responses keep v0);
 * Produce v9's compact transactional_id before acks. */
START_TEST(flexible_headers)
{
	static const char *req_hex[] = {
		/* ApiVersions v3, corr 1, client "ab", tags: 1 field (tag 0,
		 * 2 bytes), body 2 bytes */
		"00000013 0012 0003 00000001 0002 6162 01 00 02 aaaa 0102",
		/* Metadata v9, corr 2, client null, no tags, body 1 byte */
		"0000000c 0003 0009 00000002 ffff 00 00",
		/* Produce v9, corr 3, null tx id (0), acks 0 */
		"0000000f 0000 0009 00000003 0001 70 00 00 0000",
		/* Produce v9, corr 4, tx id "tx", acks 0 */
		"00000011 0000 0009 00000004 0001 70 00 03 7478 0000",
		/* Produce v9, corr 5, tx id "tx", acks -1 */
		"00000011 0000 0009 00000005 0001 70 00 03 7478 ffff",
		/* Metadata v9, corr 6: tag count 5 but nothing follows */
		"0000000b 0003 0009 00000006 ffff 05",
	};
	static const char *resp_hex[] = {
		"00000006 00000001 0000",       /* ApiVersions: header v0 */
		"00000007 00000002 00 0000",    /* Metadata v9: header v1 */
		"00000007 00000005 00 0000",    /* Produce v9 */
		"00000007 00000006 09 0000",    /* bad tags */
	};
	pt_buf c = {0}, b = {0};
	for (size_t i = 0; i < 6; i++) {
		size_t n;
		uint8_t *f = th_hex(req_hex[i], &n);
		pt_buf_add(&c, f, n);
		free(f);
	}
	for (size_t i = 0; i < 4; i++) {
		size_t n;
		uint8_t *f = th_hex(resp_hex[i], &n);
		pt_buf_add(&b, f, n);
		free(f);
	}
	const char *path = pt_tmp("flex");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	kx_pcapw_conn k;
	kx_pcapw_conn_init(&k, 4, pt_client4, 40000, pt_broker4, 9092);
	kx_pcapw_conn_open(w, &k, 1);
	kx_pcapw_conn_send(w, &k, KX_TO_BROKER, 2, c.p, c.n);
	kx_pcapw_conn_send(w, &k, KX_TO_CLIENT, 3, b.p, b.n);
	kx_pcapw_conn_close(w, &k, 4);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, NULL, &log, &st), 0);
	ck_assert_uint_eq(st.requests, 6);
	ck_assert_uint_eq(st.responses, 4);
	const pt_ev *e = pt_nth(&log, KX_EV_REQUEST, 0);
	ck_assert_str_eq(e->client_id, "ab");
	ck_assert_uint_eq(e->header_len, 10 + 2 + 1 + 4);
	ck_assert_uint_eq(pt_nth(&log, KX_EV_REQUEST, 1)->header_len, 11);
	ck_assert(!pt_nth(&log, KX_EV_REQUEST, 2)->expect_response);
	ck_assert(!pt_nth(&log, KX_EV_REQUEST, 3)->expect_response);
	ck_assert(pt_nth(&log, KX_EV_REQUEST, 4)->expect_response);
	ck_assert(!pt_nth(&log, KX_EV_REQUEST, 5)->header_ok);
	ck_assert_uint_eq(pt_nth(&log, KX_EV_REQUEST, 5)->header_len, 0);
	ck_assert_uint_eq(pt_nth(&log, KX_EV_RESPONSE, 0)->header_len, 4);
	ck_assert_uint_eq(pt_nth(&log, KX_EV_RESPONSE, 1)->header_len, 5);
	ck_assert_uint_eq(pt_nth(&log, KX_EV_RESPONSE, 2)->header_len, 5);
	ck_assert_int_eq(pt_nth(&log, KX_EV_RESPONSE, 2)->api_key, 0);
	ck_assert(!pt_nth(&log, KX_EV_RESPONSE, 3)->header_ok);
	ck_assert(pt_nth(&log, KX_EV_RESPONSE, 3)->paired);
	ck_assert_uint_eq(st.unpaired_responses, 0);
	ck_assert_uint_eq(pt_count(&log, KX_EV_WARNING), 0);
	unlink(path);
	pt_log_free(&log);
	pt_buf_free(&c);
	pt_buf_free(&b);
}
END_TEST

/* max_conns: undecided connections make room; open ones do not. */
START_TEST(connection_limit)
{
	pt_conv cv;
	pt_conv_make(&cv);
	const char *path = pt_tmp("limit");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	int64_t ts = 1;
	kx_pcapw_conn c[4];
	const char junk[] = "not kafka at all";
	for (int i = 0; i < 2; i++) {
		kx_pcapw_conn_init(&c[i], 4, pt_client4, (uint16_t)(50000 + i),
				   pt_broker4, 80);
		kx_pcapw_conn_send(w, &c[i], KX_TO_BROKER, ts++, junk,
				   sizeof junk);
	}
	for (int i = 2; i < 4; i++) {
		kx_pcapw_conn_init(&c[i], 4, pt_client4, (uint16_t)(50000 + i),
				   pt_broker4, 9092);
		kx_pcapw_conn_open(w, &c[i], ts++);
	}
	for (int i = 2; i < 4; i++) {
		kx_pcapw_conn_send(w, &c[i], KX_TO_BROKER, ts++, cv.c.p,
				   cv.c.n);
		kx_pcapw_conn_send(w, &c[i], KX_TO_CLIENT, ts++, cv.b.p,
				   cv.b.n);
	}
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	kx_reader_opts o = {.detect_any_port = true, .max_conns = 2};
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, &o, &log, &st), 0);
	ck_assert_uint_eq(st.conns, 2);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	pt_expect_frames(&log, &cv, 2, PT_ALL);
	ck_assert_uint_eq(st.conns_ignored, 2);
	pt_log_free(&log);
	o.max_conns = 1;
	ck_assert_int_eq(pt_read(path, &o, &log, &st), 0);
	ck_assert_uint_eq(st.conns, 1);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	ck_assert_uint_eq(pt_count_warn(&log, KX_WARN_CONN_LIMIT), 1);
	unlink(path);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* A broker port carrying something else (TLS) from its first byte: one
 * warning, the connection's bytes dropped. A segment far out of the
 * window is dropped with one warning. */
START_TEST(not_kafka_on_broker_port)
{
	const char *path = pt_tmp("tls");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 4, pt_client4, 40000, pt_broker4, 9092);
	kx_pcapw_conn_open(w, &c, 1);
	uint8_t hello[300] = {0x16, 0x03, 0x01, 0x01, 0x20};
	for (int i = 0; i < 5; i++) {
		kx_pcapw_conn_send(w, &c, KX_TO_BROKER, 2, hello, sizeof hello);
		kx_pcapw_conn_send(w, &c, KX_TO_CLIENT, 3, hello, sizeof hello);
	}
	kx_pcapw_segment(w, &c, KX_TO_BROKER, 4, c.seq[0] + 0x70000000u,
			 KX_TCP_ACK, hello, 10);
	kx_pcapw_segment(w, &c, KX_TO_BROKER, 4, c.seq[0] + 0x70000000u,
			 KX_TCP_ACK, hello, 10);
	kx_pcapw_conn_close(w, &c, 5);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, NULL, &log, &st), 0);
	ck_assert_uint_eq(pt_count_warn(&log, KX_WARN_NOT_KAFKA), 1);
	ck_assert_ptr_nonnull(strstr(pt_nth(&log, KX_EV_WARNING, 0)->message,
				     "TLS"));
	ck_assert_uint_eq(pt_count_warn(&log, KX_WARN_MALFORMED), 1);
	ck_assert_uint_eq(st.malformed_packets, 2);
	ck_assert_uint_eq(log.n, 4); /* open, 2 warnings, close */
	ck_assert_uint_eq(st.conns_ignored, 1);
	unlink(path);
	pt_log_free(&log);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pcaptools_framing");
	TCase *tc = tcase_create("framing");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, acks_zero);
	tcase_add_test(tc, bad_and_big_frames);
	tcase_add_test(tc, callback_stops);
	tcase_add_test(tc, detect_mode);
	tcase_add_test(tc, flexible_headers);
	tcase_add_test(tc, connection_limit);
	tcase_add_test(tc, not_kafka_on_broker_port);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
