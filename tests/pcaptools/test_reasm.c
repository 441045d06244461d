/* TCP reassembly on synthesized captures: reordering, duplicates,
 * overlaps, drops (gap then resync), every split point, captures starting
 * mid-frame, port reuse, resets, window limits, sequence wrap, allocation
 * failures. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pcaptest.h"

START_TEST(clean_stream)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[64];
	size_t n = pt_cut(&cv, 1460, v);
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, n, &(pt_scen){0}), NULL,
				 &log, &st),
			 0);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	ck_assert_int_eq(log.v[0].type, KX_EV_CONN_OPEN);
	ck_assert_str_eq(log.v[0].client, "10.0.0.1:40000");
	ck_assert_str_eq(log.v[0].broker, "10.0.0.2:9092");
	const pt_ev *cl = pt_nth(&log, KX_EV_CONN_CLOSE, 0);
	ck_assert_ptr_nonnull(cl);
	ck_assert_int_eq(cl->close_reason, KX_CLOSE_FIN);
	ck_assert_uint_eq(cl->unanswered, 0);
	ck_assert_int_eq(log.v[log.n - 1].type, KX_EV_CONN_CLOSE);
	ck_assert_uint_eq(pt_count(&log, KX_EV_WARNING), 0);
	ck_assert_uint_eq(st.gaps + st.resyncs + st.duplicate_bytes, 0);
	ck_assert_uint_eq(st.requests, PT_NREQ);
	ck_assert_uint_eq(st.responses, PT_NREQ);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* The client stream split in two at every byte, one connection per split
 * point in one capture. */
START_TEST(split_at_every_byte)
{
	pt_conv cv;
	pt_conv_make(&cv);
	const char *path = pt_tmp("split");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	ck_assert_ptr_nonnull(w);
	int64_t ts = 1;
	size_t nconn = 0;
	for (size_t k = 1; k < cv.c.n; k++, nconn++) {
		/* The second part may exceed one segment: pt_cut it too. */
		pt_sg v[16] = {{0, k, false}};
		size_t n = 1;
		for (size_t o = k; o < cv.c.n; o += 60000)
			v[n++] = (pt_sg){o, cv.c.n - o < 60000 ? cv.c.n - o
							    : 60000,
				      false};
		pt_scen sc = {.client_port = (uint16_t)(1024 + k)};
		pt_write_conn(w, &cv, v, n, &sc, &ts);
	}
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, NULL, &log, &st), 0);
	ck_assert_uint_eq(st.conns, nconn);
	for (uint64_t id = 1; id <= nconn; id++)
		pt_expect_frames(&log, &cv, id, PT_ALL);
	ck_assert_uint_eq(pt_count(&log, KX_EV_WARNING), 0);
	ck_assert_uint_eq(st.gaps + st.resyncs, 0);
	unlink(path);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

START_TEST(one_byte_segments)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg *v = malloc(cv.c.n * sizeof *v);
	size_t n = pt_cut(&cv, 1, v);
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, n, &(pt_scen){0}), NULL,
				 &log, &st),
			 0);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	/* Each request is completed by the packet with its last byte:
	 * 3 handshake packets, then one packet per byte. */
	const pt_ev *e = pt_nth(&log, KX_EV_REQUEST, 1);
	ck_assert_uint_eq(e->packet, 3 + cv.req_off[1] + cv.req_len[1]);
	free(v);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* Segments in reverse order, and shuffled (fixed seed). */
START_TEST(reordered)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[256];
	size_t n = pt_cut(&cv, 100, v);
	if (_i == 0) {
		for (size_t i = 0; i < n / 2; i++) {
			pt_sg t = v[i];
			v[i] = v[n - 1 - i];
			v[n - 1 - i] = t;
		}
	} else {
		srand(42);
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = (size_t)rand() % (i + 1);
			pt_sg t = v[i];
			v[i] = v[j];
			v[j] = t;
		}
	}
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, n, &(pt_scen){0}), NULL,
				 &log, &st),
			 0);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	ck_assert_uint_eq(st.gaps + st.resyncs, 0);
	ck_assert_uint_gt(st.ooo_segments, 0);
	ck_assert_uint_eq(pt_count(&log, KX_EV_WARNING), 0);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* Every segment twice, retransmissions of two segments at once, and
 * junk retransmitted over bytes already delivered: the first bytes seen
 * win and the frames are intact. */
START_TEST(duplicates_and_overlaps)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[256], d[1024];
	size_t n = pt_cut(&cv, 100, v), m = 0;
	for (size_t i = 0; i < n; i++) {
		d[m++] = v[i];
		d[m++] = v[i];
		if (i)
			d[m++] = (pt_sg){v[i - 1].off, v[i - 1].len + v[i].len,
				      false};
		d[m++] = (pt_sg){v[i].off, v[i].len, true};
	}
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, d, m, &(pt_scen){0}), NULL,
				 &log, &st),
			 0);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	/* second copies, junk, and the pairs: each pair is all old */
	ck_assert_uint_eq(st.duplicate_bytes,
			  4 * cv.c.n - v[0].len - v[n - 1].len);
	ck_assert_uint_eq(st.gaps + st.resyncs, 0);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* Held data wins over a later overlapping retransmission: the frame
 * bytes are those held. */
START_TEST(held_data_wins)
{
	pt_conv cv;
	pt_conv_make(&cv);
	/* request 2 (index 1) is 3000+ bytes: hold its middle first, then a
	 * junk segment over exactly that middle, then the rest in order. */
	size_t a = cv.req_off[1] + 100, b = a + 500;
	pt_sg v[8] = {
		{a, 500, false},
		{a, 500, true},
		{0, a, false},
		{a, 500, true},
		{b, cv.c.n - b, false},
	};
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, 5, &(pt_scen){0}), NULL,
				 &log, &st),
			 0);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	ck_assert_uint_eq(st.duplicate_bytes, 1000);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* One segment inside request 3 (index 2... the big one, index 1) lost:
 * a gap, then framing resumes after that frame without scanning. */
START_TEST(dropped_inside_frame)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[256], d[256];
	size_t n = pt_cut(&cv, 100, v), m = 0, lost = 0;
	/* drop the segment holding byte req_off[1] + 1000 */
	size_t at = cv.req_off[1] + 1000;
	for (size_t i = 0; i < n; i++) {
		if (v[i].off <= at && at < v[i].off + v[i].len) {
			lost = i;
			continue;
		}
		d[m++] = v[i];
	}
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, d, m, &(pt_scen){0}), NULL,
				 &log, &st),
			 0);
	const pt_ev *g = pt_nth(&log, KX_EV_GAP, 0);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->bytes, v[lost].len);
	ck_assert_uint_eq(g->stream_offset, v[lost].off);
	ck_assert_int_eq(g->dir, KX_TO_BROKER);
	ck_assert_uint_eq(st.gaps, 1);
	const pt_ev *rs = pt_nth(&log, KX_EV_RESYNC, 0);
	ck_assert_ptr_nonnull(rs);
	ck_assert_uint_eq(rs->stream_offset, cv.req_off[1]);
	ck_assert_uint_eq(rs->bytes, cv.req_len[1] - v[lost].len);
	/* The response to the lost request has nobody to pair with. */
	size_t ri = 0;
	for (size_t i = 0; i < log.n; i++) {
		if (log.v[i].type != KX_EV_REQUEST)
			continue;
		ck_assert_int_ne(log.v[i].correlation_id, 2);
		ri++;
	}
	ck_assert_uint_eq(ri, PT_NREQ - 1);
	ck_assert_uint_eq(st.unpaired_responses, 1);
	/* The gap is reported when the broker acknowledges past it, before
	 * the first response. */
	size_t gi = (size_t)(g - log.v);
	ck_assert_uint_lt(gi, (size_t)(pt_nth(&log, KX_EV_RESPONSE, 0) -
				       log.v));
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* A loss across the boundary of two requests: the framer scans and
 * resumes at the next plausible request. */
START_TEST(dropped_across_frames)
{
	pt_conv cv;
	pt_conv_make(&cv);
	size_t a = cv.req_off[3] - 20, b = cv.req_off[3] + 30;
	pt_sg v[2] = {{0, a, false}, {b, cv.c.n - b, false}};
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, 2, &(pt_scen){0}), NULL,
				 &log, &st),
			 0);
	ck_assert_uint_eq(st.gaps, 1);
	ck_assert_uint_eq(pt_nth(&log, KX_EV_GAP, 0)->bytes, b - a);
	const pt_ev *rs = pt_nth(&log, KX_EV_RESYNC, 0);
	ck_assert_ptr_nonnull(rs);
	/* Scanning started at request 3's start (index 2) and skipped its
	 * seen bytes plus request 4's tail. */
	ck_assert_uint_eq(rs->stream_offset, cv.req_off[2]);
	ck_assert_uint_eq(rs->bytes, (a - cv.req_off[2]) +
					     (cv.req_off[4] - b));
	unsigned mask = PT_ALL & ~(1u << 2) & ~(1u << 3);
	size_t k = 0;
	for (size_t i = 0; i < log.n; i++) {
		if (log.v[i].type != KX_EV_REQUEST)
			continue;
		while (!(mask & (1u << k)))
			k++;
		ck_assert_int_eq(log.v[i].correlation_id, (int)k + 1);
		ck_assert_uint_eq(log.v[i].frame_hash, cv.req_hash[k]);
		k++;
	}
	ck_assert_uint_eq(st.requests, PT_NREQ - 2);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* The capture starts in the middle of request 1, without a handshake. */
START_TEST(starts_mid_frame)
{
	pt_conv cv;
	pt_conv_make(&cv);
	size_t from = 7;
	pt_sg v[64];
	size_t n = pt_cut(&cv, 1460, v);
	v[0].off += from;
	v[0].len -= from;
	pt_scen sc = {.no_handshake = true};
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, n, &sc), NULL, &log,
				 &st),
			 0);
	const pt_ev *rs = pt_nth(&log, KX_EV_RESYNC, 0);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(rs->dir, KX_TO_BROKER);
	ck_assert_uint_eq(rs->stream_offset, 0);
	ck_assert_uint_eq(rs->bytes, cv.req_len[0] - from);
	ck_assert_uint_eq(st.requests, PT_NREQ - 1);
	ck_assert_int_eq(pt_nth(&log, KX_EV_REQUEST, 0)->correlation_id, 2);
	/* Offsets count from the first byte seen. */
	ck_assert_uint_eq(pt_nth(&log, KX_EV_REQUEST, 0)->stream_offset,
			  cv.req_off[1] - from);
	/* The broker stream also starts unseen; response 1 pairs with
	 * nothing and is skipped by the scan, responses 2.. pair. */
	ck_assert_uint_eq(st.responses, PT_NREQ - 1);
	ck_assert_uint_eq(st.unpaired_responses, 0);
	const pt_ev *rs2 = pt_nth(&log, KX_EV_RESYNC, 1);
	ck_assert_ptr_nonnull(rs2);
	ck_assert_int_eq(rs2->dir, KX_TO_CLIENT);
	ck_assert_uint_eq(rs2->bytes, cv.resp_len[0]);
	ck_assert_int_eq(log.v[0].type, KX_EV_CONN_OPEN);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* The same 4-tuple used again: after a FIN, and with a new SYN while the
 * old connection is open. */
START_TEST(port_reuse)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[64];
	size_t n = pt_cut(&cv, 1460, v);
	const char *path = pt_tmp("reuse");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	int64_t ts = 5;
	pt_write_conn(w, &cv, v, n, &(pt_scen){0}, &ts);
	pt_write_conn(w, &cv, v, n, &(pt_scen){.isn = 777}, &ts);
	/* third: only requests, no close, then a fourth SYN */
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 4, pt_client4, 40000, pt_broker4, 9092);
	c.seq[0] = 99999;
	kx_pcapw_conn_open(w, &c, ts++);
	kx_pcapw_conn_send(w, &c, KX_TO_BROKER, ts++, cv.c.p, cv.req_len[0]);
	pt_write_conn(w, &cv, v, n, &(pt_scen){.isn = 5555555}, &ts);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, NULL, &log, &st), 0);
	ck_assert_uint_eq(st.conns, 4);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	pt_expect_frames(&log, &cv, 2, PT_ALL);
	pt_expect_frames(&log, &cv, 4, PT_ALL);
	ck_assert_int_eq(pt_nth(&log, KX_EV_CONN_CLOSE, 0)->close_reason,
			 KX_CLOSE_FIN);
	ck_assert_int_eq(pt_nth(&log, KX_EV_CONN_CLOSE, 1)->close_reason,
			 KX_CLOSE_FIN);
	const pt_ev *c3 = pt_nth(&log, KX_EV_CONN_CLOSE, 2);
	ck_assert_uint_eq(c3->conn, 3);
	ck_assert_int_eq(c3->close_reason, KX_CLOSE_REUSED);
	ck_assert_uint_eq(c3->unanswered, 1);
	ck_assert_uint_eq(pt_count_warn(&log, KX_WARN_UNANSWERED), 1);
	ck_assert_uint_eq(st.unanswered_requests, 1);
	unlink(path);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

START_TEST(reset_and_end)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[64];
	size_t n = pt_cut(&cv, 1460, v);
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, n,
					       &(pt_scen){.rst = true}),
				 NULL, &log, &st),
			 0);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	ck_assert_int_eq(pt_nth(&log, KX_EV_CONN_CLOSE, 0)->close_reason,
			 KX_CLOSE_RST);
	pt_log_free(&log);
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, n,
					       &(pt_scen){.no_close = true}),
				 NULL, &log, &st),
			 0);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	const pt_ev *e = &log.v[log.n - 1];
	ck_assert_int_eq(e->type, KX_EV_CONN_CLOSE);
	ck_assert_int_eq(e->close_reason, KX_CLOSE_END);
	ck_assert_uint_eq(e->packet, 0);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* A hole that is never filled nor acknowledged: held bytes over
 * max_ooo_bytes turn it into a gap before the connection ends. */
START_TEST(window_limit)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[256], d[256];
	size_t n = pt_cut(&cv, 100, v), m = 0;
	for (size_t i = 0; i < n; i++)
		if (i != 2)
			d[m++] = v[i];
	const char *path = pt_tmp("window");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 4, pt_client4, 40000, pt_broker4, 9092);
	int64_t ts = 1;
	kx_pcapw_conn_open(w, &c, ts++);
	pt_write_segs(w, &c, c.seq[0], &cv.c, d, m, &ts);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	kx_reader_opts o = {.max_ooo_bytes = 1000};
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, &o, &log, &st), 0);
	const pt_ev *g = pt_nth(&log, KX_EV_GAP, 0);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->bytes, 100);
	ck_assert_uint_eq(g->stream_offset, 200);
	/* declared while packets were still coming: by the packet that
	 * took the held bytes over 1000 */
	ck_assert_uint_eq(g->packet, 3 + 2 + 11);
	ck_assert_uint_eq(st.requests, PT_NREQ - 1);
	unlink(path);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* Sequence numbers wrap inside the stream. */
START_TEST(sequence_wrap)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[256];
	size_t n = pt_cut(&cv, 100, v);
	for (size_t i = 0; i + 1 < n; i += 2) {
		pt_sg t = v[i];
		v[i] = v[i + 1];
		v[i + 1] = t;
	}
	pt_log log = {0};
	kx_stats st;
	pt_scen sc = {.isn = 0xffffffffu - 2500};
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, n, &sc), NULL, &log,
				 &st),
			 0);
	pt_expect_frames(&log, &cv, 1, PT_ALL);
	ck_assert_uint_eq(st.gaps, 0);
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* The last client segment is missing but the broker acknowledged it:
 * the hole is a gap at the end even without a FIN. */
START_TEST(lost_tail_acknowledged)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[64];
	size_t n = pt_cut(&cv, 1460, v);
	pt_log log = {0};
	kx_stats st;
	pt_scen sc = {.no_close = true};
	ck_assert_int_eq(pt_read(pt_write_capture(&cv, v, n - 1, &sc), NULL,
				 &log, &st),
			 0);
	const pt_ev *g = pt_nth(&log, KX_EV_GAP, 0);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->stream_offset, v[n - 1].off);
	ck_assert_uint_eq(g->bytes, v[n - 1].len);
	ck_assert_uint_eq(g->packet, 0); /* at the end of input */
	pt_log_free(&log);
	pt_conv_free(&cv);
}
END_TEST

/* Every allocation failing in turn: NOMEM or success, never a leak or a
 * crash. */
START_TEST(allocation_failures)
{
	pt_conv cv;
	pt_conv_make(&cv);
	pt_sg v[256];
	size_t n = pt_cut(&cv, 100, v);
	for (size_t i = 0; i < n / 2; i++) {
		pt_sg t = v[i];
		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	pt_pkt *pk;
	int lt;
	size_t np = pt_load(pt_write_capture(&cv, v, n, &(pt_scen){0}), &pk, &lt);
	unsigned failures = 0;
	for (unsigned long k = 1;; k++) {
		pt_log log = {0};
		th_alloc_fail_at(k);
		kx_reader *r = kx_reader_new(NULL, pt_collect, &log);
		int rc = r ? 0 : KX_ERR_NOMEM;
		for (size_t i = 0; i < np && !rc; i++)
			rc = kx_reader_packet(r, lt, pk[i].ts_ns, pk[i].data,
					      pk[i].caplen, pk[i].wirelen);
		if (r && !rc)
			rc = kx_reader_finish(r);
		if (r && rc)
			ck_assert_str_ne(kx_reader_error(r), "");
		kx_reader_free(r);
		ck_assert_int_eq(th_alloc_live(), 0);
		th_alloc_reset();
		pt_log_free(&log);
		if (rc == 0)
			break;
		ck_assert_int_eq(rc, KX_ERR_NOMEM);
		failures++;
	}
	ck_assert_uint_gt(failures, 10);
	pt_pkts_free(pk, np);
	pt_conv_free(&cv);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pcaptools_reasm");
	TCase *tc = tcase_create("reasm");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, clean_stream);
	tcase_add_test(tc, split_at_every_byte);
	tcase_add_test(tc, one_byte_segments);
	tcase_add_loop_test(tc, reordered, 0, 2);
	tcase_add_test(tc, duplicates_and_overlaps);
	tcase_add_test(tc, held_data_wins);
	tcase_add_test(tc, dropped_inside_frame);
	tcase_add_test(tc, dropped_across_frames);
	tcase_add_test(tc, starts_mid_frame);
	tcase_add_test(tc, port_reuse);
	tcase_add_test(tc, reset_and_end);
	tcase_add_test(tc, window_limit);
	tcase_add_test(tc, sequence_wrap);
	tcase_add_test(tc, lost_tail_acknowledged);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
