/* Link types, IP versions and capture files: every supported link layer
 * (written by kx_pcapw or patched by hand), VLAN tags, IPv6 extension
 * headers, fragments, snapshot-length cuts, pcapng with several
 * interfaces, unsupported link types, bad files, filters, stdin. */
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pcaptest.h"

#define NREQ 4
static const size_t body_sizes[NREQ] = {20, 3000, 5, 64};

/* A conversation's two streams and the hashes of its frames. */
typedef struct conv {
	pt_buf c, b;
	uint64_t req_hash[NREQ], resp_hash[NREQ];
} conv;

static void conv_make(conv *cv)
{
	memset(cv, 0, sizeof *cv);
	for (int i = 0; i < NREQ; i++) {
		size_t n;
		uint8_t *f = pt_request(3, 4, 100 + i, "ll", body_sizes[i], &n);
		cv->req_hash[i] = pt_hash(f + 4, n - 4);
		pt_buf_add(&cv->c, f, n);
		free(f);
		f = pt_response(100 + i, 10 + body_sizes[i] / 2, &n);
		cv->resp_hash[i] = pt_hash(f + 4, n - 4);
		pt_buf_add(&cv->b, f, n);
		free(f);
	}
}

static void conv_free(conv *cv)
{
	pt_buf_free(&cv->c);
	pt_buf_free(&cv->b);
}

/* One connection of cv (port cport, IP version v) into w. */
static void write_conv(kx_pcapw *w, const conv *cv, int v, uint16_t cport,
		       unsigned iface, int64_t *ts)
{
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, v, v == 6 ? pt_client6 : pt_client4, cport,
			   v == 6 ? pt_broker6 : pt_broker4, 9092);
	c.interface = iface;
	ck_assert_int_eq(kx_pcapw_conn_open(w, &c, (*ts)++), 0);
	ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_BROKER, (*ts)++,
					    cv->c.p, cv->c.n),
			 0);
	ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_CLIENT, (*ts)++,
					    cv->b.p, cv->b.n),
			 0);
	ck_assert_int_eq(kx_pcapw_conn_close(w, &c, (*ts)++), 0);
}

static const char *write_file(const conv *cv, const kx_pcapw_opts *o,
			      int v)
{
	const char *path = pt_tmp("ll");
	int err = 99;
	kx_pcapw *w = kx_pcapw_open(path, o, &err);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(err, 0);
	int64_t ts = 1700000000123456789;
	write_conv(w, cv, v, 40000, 0, &ts);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	return path;
}

/* All of cv's frames, in order, on connection conn. */
static void expect_conv(const pt_log *l, const conv *cv, uint64_t conn)
{
	size_t ri = 0, si = 0;
	for (size_t i = 0; i < l->n; i++) {
		const pt_ev *e = &l->v[i];
		if (e->conn != conn)
			continue;
		if (e->type == KX_EV_REQUEST) {
			ck_assert_uint_lt(ri, NREQ);
			ck_assert_uint_eq(e->frame_hash, cv->req_hash[ri]);
			ck_assert_int_eq(e->correlation_id, 100 + (int)ri);
			ri++;
		} else if (e->type == KX_EV_RESPONSE) {
			ck_assert_uint_lt(si, NREQ);
			ck_assert_uint_eq(e->frame_hash, cv->resp_hash[si]);
			ck_assert(e->paired);
			si++;
		}
	}
	ck_assert_uint_eq(ri, NREQ);
	ck_assert_uint_eq(si, NREQ);
}

typedef struct variant {
	int linktype;
	int v;
	bool pcapng;
} variant;

static const variant variants[] = {
	{KX_LINK_ETHERNET, 4, false}, {KX_LINK_ETHERNET, 6, true},
	{KX_LINK_SLL, 4, false},      {KX_LINK_SLL, 6, false},
	{KX_LINK_SLL2, 4, true},      {KX_LINK_SLL2, 6, false},
	{KX_LINK_RAW, 4, false},      {KX_LINK_RAW, 6, true},
	{KX_LINK_LOOP, 4, false},     {KX_LINK_LOOP, 6, false},
	{KX_LINK_IPV4, 4, false},     {KX_LINK_IPV6, 6, true},
};

START_TEST(link_types)
{
	const variant *va = &variants[_i];
	conv cv;
	conv_make(&cv);
	kx_pcapw_opts o = {.linktype = va->linktype, .pcapng = va->pcapng};
	const char *path = write_file(&cv, &o, va->v);
	pt_log log = {0};
	kx_stats st;
	kx_reader *r = kx_reader_new(NULL, pt_collect, &log);
	ck_assert_int_eq(kx_reader_open_file(r, path), 0);
	ck_assert_int_eq(kx_reader_linktype(r), va->linktype);
	ck_assert_int_eq(kx_reader_run(r), 0);
	st = *kx_reader_stats(r);
	kx_reader_free(r);
	expect_conv(&log, &cv, 1);
	ck_assert_uint_eq(pt_count(&log, KX_EV_WARNING), 0);
	ck_assert_uint_eq(st.gaps, 0);
	ck_assert_str_eq(log.v[0].client, va->v == 6 ? "[2001:db8::1]:40000"
						     : "10.0.0.1:40000");
	ck_assert_str_eq(log.v[0].broker, va->v == 6 ? "[2001:db8::2]:9092"
						     : "10.0.0.2:9092");
	/* nanosecond timestamps survive the file */
	ck_assert_int_eq(log.v[0].ts_ns, 1700000000123456789);
	unlink(path);
	pt_log_free(&log);
	conv_free(&cv);
}
END_TEST

START_TEST(pcapng_interfaces)
{
	conv cv;
	conv_make(&cv);
	const char *path = pt_tmp("ng");
	kx_pcapw_opts o = {.pcapng = true, .interfaces = 3};
	kx_pcapw *w = kx_pcapw_open(path, &o, NULL);
	ck_assert_ptr_nonnull(w);
	int64_t ts = 1;
	for (unsigned i = 0; i < 3; i++)
		write_conv(w, &cv, 4, (uint16_t)(40000 + i), i, &ts);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, NULL, &log, &st), 0);
	ck_assert_uint_eq(st.conns, 3);
	for (uint64_t id = 1; id <= 3; id++)
		expect_conv(&log, &cv, id);
	unlink(path);
	pt_log_free(&log);
	conv_free(&cv);
}
END_TEST

/* Ethernet packets given one or two 802.1Q/802.1ad tags. */
START_TEST(vlan_tags)
{
	conv cv;
	conv_make(&cv);
	pt_pkt *pk;
	int lt;
	size_t n = pt_load(write_file(&cv, NULL, 4), &pk, &lt);
	ck_assert_int_eq(lt, KX_LINK_ETHERNET);
	static const uint8_t tags[2][4] = {{0x88, 0xa8, 0x00, 0x05},
					   {0x81, 0x00, 0x00, 0x07}};
	for (size_t i = 0; i < n; i++) {
		size_t ntag = 1 + (size_t)_i;
		uint8_t *p = malloc(pk[i].caplen + 8);
		memcpy(p, pk[i].data, 12);
		for (size_t t = 0; t < ntag; t++)
			memcpy(p + 12 + 4 * t, tags[t + (ntag == 1)], 4);
		memcpy(p + 12 + 4 * ntag, pk[i].data + 12, pk[i].caplen - 12);
		free(pk[i].data);
		pk[i].data = p;
		pk[i].caplen += 4 * ntag;
		pk[i].wirelen += 4 * ntag;
	}
	pt_log log = {0};
	ck_assert_int_eq(pt_feed(pk, n, lt, NULL, &log, NULL), 0);
	expect_conv(&log, &cv, 1);
	pt_pkts_free(pk, n);
	pt_log_free(&log);
	conv_free(&cv);
}
END_TEST

/* Raw IPv6 packets given hop-by-hop and destination options headers. */
START_TEST(ipv6_extension_headers)
{
	conv cv;
	conv_make(&cv);
	kx_pcapw_opts o = {.linktype = KX_LINK_RAW};
	pt_pkt *pk;
	int lt;
	size_t n = pt_load(write_file(&cv, &o, 6), &pk, &lt);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = malloc(pk[i].caplen + 24);
		memcpy(p, pk[i].data, 40);
		p[6] = 0; /* hop-by-hop */
		uint8_t *e = p + 40;
		/* hop-by-hop, 8 bytes, then destination options, 16 */
		memset(e, 0, 24);
		e[0] = 60;
		e[1] = 0;
		e[2] = 1; /* PadN */
		e[3] = 4;
		e[8] = 6; /* then TCP */
		e[9] = 1;
		e[10] = 1;
		e[11] = 12;
		memcpy(p + 64, pk[i].data + 40, pk[i].caplen - 40);
		unsigned plen = (unsigned)(p[4] << 8 | p[5]) + 24;
		p[4] = (uint8_t)(plen >> 8);
		p[5] = (uint8_t)plen;
		free(pk[i].data);
		pk[i].data = p;
		pk[i].caplen += 24;
		pk[i].wirelen += 24;
	}
	pt_log log = {0};
	ck_assert_int_eq(pt_feed(pk, n, lt, NULL, &log, NULL), 0);
	expect_conv(&log, &cv, 1);
	ck_assert_uint_eq(pt_count(&log, KX_EV_WARNING), 0);
	pt_pkts_free(pk, n);
	pt_log_free(&log);
	conv_free(&cv);
}
END_TEST

/* DLT_NULL: the family in the capturing host's byte order, little-endian
 * (Linux AF_INET6 10, macOS 30) or big-endian (BSD 24). */
START_TEST(loopback_byte_orders)
{
	conv cv;
	conv_make(&cv);
	kx_pcapw_opts o = {.linktype = KX_LINK_LOOP};
	pt_pkt *pk;
	int lt;
	size_t n = pt_load(write_file(&cv, &o, 6), &pk, &lt);
	ck_assert_int_eq(lt, KX_LINK_LOOP);
	static const char *fam[3] = {"\x0a\0\0\0", "\x1e\0\0\0",
				     "\0\0\0\x18"};
	for (int f = 0; f < 3; f++) {
		for (size_t i = 0; i < n; i++)
			memcpy(pk[i].data, fam[f], 4);
		pt_log log = {0};
		ck_assert_int_eq(
			pt_feed(pk, n, KX_LINK_NULL, NULL, &log, NULL), 0);
		expect_conv(&log, &cv, 1);
		pt_log_free(&log);
	}
	/* An unknown family: not IP, skipped silently */
	for (size_t i = 0; i < n; i++)
		memcpy(pk[i].data, "\x63\0\0\0", 4);
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_feed(pk, n, KX_LINK_NULL, NULL, &log, &st), 0);
	ck_assert_uint_eq(log.n, 0);
	ck_assert_uint_eq(st.skipped_packets, n);
	pt_pkts_free(pk, n);
	conv_free(&cv);
}
END_TEST

/* The data packets of request 2 as IPv4 fragments (and IPv6 fragment
 * headers): warned about once, skipped, their bytes a gap. */
START_TEST(fragments)
{
	conv cv;
	conv_make(&cv);
	kx_pcapw_opts o = {.linktype = KX_LINK_RAW};
	pt_pkt *pk;
	int lt;
	int v = _i ? 6 : 4;
	size_t n = pt_load(write_file(&cv, &o, v), &pk, &lt);
	/* packets: 3 handshake, then request 1 and the start of request 2;
	 * the fifth (index 4) is inside request 2 */
	for (size_t i = 4; i <= 4; i++) {
		if (v == 4) {
			pk[i].data[6] |= 0x20; /* more fragments */
			continue;
		}
		uint8_t *p = malloc(pk[i].caplen + 8);
		memcpy(p, pk[i].data, 40);
		p[6] = 44;
		memset(p + 40, 0, 8);
		p[40] = 6;
		p[43] = 1; /* M flag */
		memcpy(p + 48, pk[i].data + 40, pk[i].caplen - 40);
		free(pk[i].data);
		pk[i].data = p;
		pk[i].caplen += 8;
		pk[i].wirelen += 8;
	}
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_feed(pk, n, lt, NULL, &log, &st), 0);
	ck_assert_uint_eq(pt_count_warn(&log, KX_WARN_FRAGMENT), 1);
	ck_assert_uint_eq(st.fragments, 1);
	ck_assert_uint_eq(st.gaps, 1);
	ck_assert_uint_eq(st.requests, NREQ - 1);
	ck_assert_uint_eq(pt_nth(&log, KX_EV_REQUEST, 1)->frame_hash,
			  cv.req_hash[2]);
	pt_pkts_free(pk, n);
	pt_log_free(&log);
	conv_free(&cv);
}
END_TEST

/* A small snapshot length cuts the big packets: one warning per stream,
 * the cut bytes are gaps, small frames after them decode. */
START_TEST(snaplen_cut)
{
	conv cv;
	conv_make(&cv);
	kx_pcapw_opts o = {.snaplen = 14 + 20 + 20 + 200};
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(write_file(&cv, &o, 4), NULL, &log, &st), 0);
	ck_assert_uint_eq(pt_count_warn(&log, KX_WARN_TRUNCATED), 2);
	ck_assert_uint_gt(st.truncated_packets, 2);
	ck_assert_uint_eq(st.truncated_packets, st.gaps);
	/* The client's packets carry [0,1460), [1460,2920), [2920,3153) of
	 * which 200 bytes each are kept: request 1 [0,36) and request 3
	 * [3052,3073) are whole, request 2 [36,3052) and request 4
	 * [3073,3153) are cut. */
	ck_assert_uint_eq(st.requests, 2);
	ck_assert_uint_eq(pt_nth(&log, KX_EV_REQUEST, 0)->frame_hash,
			  cv.req_hash[0]);
	ck_assert_uint_eq(pt_nth(&log, KX_EV_REQUEST, 1)->frame_hash,
			  cv.req_hash[2]);
	pt_log_free(&log);
	conv_free(&cv);
}
END_TEST

/* Every prefix of every packet as its captured part: warnings, never a
 * crash or a read past caplen (guard pages). */
START_TEST(every_caplen)
{
	conv cv;
	conv_make(&cv);
	kx_pcapw_opts o = {.linktype = variants[_i].linktype};
	pt_pkt *pk;
	int lt;
	size_t n = pt_load(write_file(&cv, &o, variants[_i].v), &pk, &lt);
	pt_log log = {0};
	kx_reader *r = kx_reader_new(NULL, pt_collect, &log);
	for (size_t i = 0; i < n && i < 8; i++) {
		for (size_t k = 0; k <= pk[i].caplen; k++) {
			uint8_t *g = th_guard_copy(pk[i].data, k);
			ck_assert_int_eq(kx_reader_packet(r, lt, 1, g, k,
							  pk[i].wirelen),
					 0);
			th_guard_free(g, k);
		}
	}
	ck_assert_int_eq(kx_reader_finish(r), 0);
	ck_assert_uint_gt(kx_reader_stats(r)->malformed_packets +
				  kx_reader_stats(r)->skipped_packets,
			  0);
	kx_reader_free(r);
	pt_pkts_free(pk, n);
	pt_log_free(&log);
	conv_free(&cv);
}
END_TEST

START_TEST(unsupported_link_type)
{
	pt_log log = {0};
	kx_reader *r = kx_reader_new(NULL, pt_collect, &log);
	uint8_t pkt[60] = {0};
	ck_assert_int_eq(kx_reader_packet(r, 147, 1, pkt, 60, 60), 0);
	ck_assert_int_eq(kx_reader_packet(r, 147, 2, pkt, 60, 60), 0);
	ck_assert_uint_eq(pt_count_warn(&log, KX_WARN_LINKTYPE), 1);
	ck_assert_ptr_nonnull(strstr(log.v[0].message, "147"));
	ck_assert_uint_eq(kx_reader_stats(r)->skipped_packets, 2);
	kx_reader_free(r);
	pt_log_free(&log);
	/* A whole file of link type USER0 */
	const char *path = pt_tmp("user0");
	FILE *f = fopen(path, "wb");
	uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 147};
	fwrite(hdr, sizeof hdr, 1, f);
	fclose(f);
	r = kx_reader_new(NULL, pt_collect, &log);
	ck_assert_int_eq(kx_reader_open_file(r, path), KX_ERR_LINKTYPE);
	ck_assert_ptr_nonnull(strstr(kx_reader_error(r), "147"));
	ck_assert_int_eq(kx_reader_run(r), KX_ERR_STATE);
	kx_reader_free(r);
	unlink(path);
}
END_TEST

START_TEST(bad_files)
{
	pt_log log = {0};
	kx_reader *r = kx_reader_new(NULL, pt_collect, &log);
	ck_assert_int_eq(kx_reader_open_file(r, "/nonexistent/x.pcap"),
			 KX_ERR_IO);
	ck_assert_ptr_nonnull(strstr(kx_reader_error(r), "/nonexistent"));
	ck_assert_int_eq(kx_reader_open_file(r, NULL), KX_ERR_ARG);
	kx_reader_free(r);
	/* A file cut inside its last packet: the packets before it are
	 * decoded, then an I/O error. */
	conv cv;
	conv_make(&cv);
	const char *path = write_file(&cv, NULL, 4);
	size_t len;
	uint8_t *all = th_read_file(path, &len);
	FILE *f = fopen(path, "wb");
	fwrite(all, 1, len - 30, f);
	fclose(f);
	free(all);
	r = kx_reader_new(NULL, pt_collect, &log);
	ck_assert_int_eq(kx_reader_open_file(r, path), 0);
	ck_assert_int_eq(kx_reader_open_file(r, path), KX_ERR_STATE);
	ck_assert_int_eq(kx_reader_run(r), KX_ERR_IO);
	ck_assert_str_ne(kx_reader_error(r), "");
	kx_reader_free(r);
	ck_assert_uint_eq(pt_count(&log, KX_EV_REQUEST), NREQ);
	ck_assert_uint_eq(pt_count(&log, KX_EV_CONN_CLOSE), 1);
	unlink(path);
	pt_log_free(&log);
	conv_free(&cv);
}
END_TEST

/* kx_reader_stop from the callback (as a signal handler would): the run
 * ends after that packet and closes what is open. */
static kx_reader *stop_reader;
static int stop_cb(kx_event *ev, void *opaque)
{
	if (ev->type == KX_EV_REQUEST)
		kx_reader_stop(stop_reader);
	return pt_collect(ev, opaque);
}

START_TEST(stop_and_live_errors)
{
	conv cv;
	conv_make(&cv);
	const char *path = write_file(&cv, NULL, 4);
	pt_log log = {0};
	kx_reader *r = kx_reader_new(NULL, stop_cb, &log);
	stop_reader = r;
	ck_assert_int_eq(kx_reader_open_file(r, path), 0);
	ck_assert_int_eq(kx_reader_run(r), 0);
	ck_assert_uint_eq(pt_count(&log, KX_EV_REQUEST), 1);
	ck_assert_int_eq(log.v[log.n - 1].type, KX_EV_CONN_CLOSE);
	ck_assert_int_eq(log.v[log.n - 1].close_reason, KX_CLOSE_END);
	ck_assert_uint_eq(kx_reader_stats(r)->packets, 4);
	kx_reader_free(r);
	pt_log_free(&log);
	r = kx_reader_new(NULL, pt_collect, &log);
	ck_assert_int_eq(kx_reader_run(r), KX_ERR_STATE);
	ck_assert_int_eq(kx_reader_open_live(r, "kx-no-such-if0"), KX_ERR_IO);
	ck_assert_ptr_nonnull(strstr(kx_reader_error(r), "kx-no-such-if0"));
	ck_assert_int_eq(kx_reader_open_live(r, NULL), KX_ERR_ARG);
	ck_assert_int_eq(kx_reader_linktype(r), -1);
	kx_reader_free(r);
	unlink(path);
	conv_free(&cv);
}
END_TEST

START_TEST(filter_and_stdin)
{
	conv cv;
	conv_make(&cv);
	const char *path = pt_tmp("filter");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	int64_t ts = 1;
	write_conv(w, &cv, 4, 40001, 0, &ts);
	write_conv(w, &cv, 4, 40002, 0, &ts);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	kx_reader_opts o = {.filter = "tcp port 40002"};
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, &o, &log, &st), 0);
	ck_assert_uint_eq(st.conns, 1);
	ck_assert_str_eq(log.v[0].client, "10.0.0.1:40002");
	pt_log_free(&log);
	o.filter = "tcp port banana";
	ck_assert_int_eq(pt_read(path, &o, &log, &st), KX_ERR_FILTER);
	/* "-" reads standard input */
	ck_assert_ptr_nonnull(freopen(path, "rb", stdin));
	ck_assert_int_eq(pt_read("-", NULL, &log, &st), 0);
	ck_assert_uint_eq(st.conns, 2);
	expect_conv(&log, &cv, 2);
	unlink(path);
	pt_log_free(&log);
	conv_free(&cv);
}
END_TEST

START_TEST(err_strings)
{
	for (int e = KX_ERR_ARG; e <= 0; e++)
		ck_assert_str_ne(kx_err_str(e), "unknown error");
	ck_assert_str_eq(kx_err_str(-100), "unknown error");
	ck_assert_str_eq(kx_err_str(3), "stopped by callback");
	ck_assert_ptr_null(kx_reader_new(NULL, NULL, NULL));
	/* compressed IPv6 forms */
	kx_conn c = {.ip_version = 6, .client_port = 1, .broker_port = 2};
	c.client_ip[15] = 1;
	c.broker_ip[0] = 0xfe;
	c.broker_ip[1] = 0x80;
	c.broker_ip[8] = 0x12;
	char buf[64];
	kx_conn_addr(&c, false, buf, sizeof buf);
	ck_assert_str_eq(buf, "[::1]:1");
	kx_conn_addr(&c, true, buf, sizeof buf);
	ck_assert_str_eq(buf, "[fe80::1200:0:0:0]:2");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pcaptools_linklayer");
	TCase *tc = tcase_create("linklayer");
	tcase_set_timeout(tc, 120);
	int nv = (int)(sizeof variants / sizeof variants[0]);
	tcase_add_loop_test(tc, link_types, 0, nv);
	tcase_add_test(tc, pcapng_interfaces);
	tcase_add_loop_test(tc, vlan_tags, 0, 2);
	tcase_add_test(tc, ipv6_extension_headers);
	tcase_add_test(tc, loopback_byte_orders);
	tcase_add_loop_test(tc, fragments, 0, 2);
	tcase_add_test(tc, snaplen_cut);
	tcase_add_loop_test(tc, every_caplen, 0, nv);
	tcase_add_test(tc, unsupported_link_type);
	tcase_add_test(tc, bad_files);
	tcase_add_test(tc, filter_and_stdin);
	tcase_add_test(tc, stop_and_live_errors);
	tcase_add_test(tc, err_strings);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
