/* The capture writer: file headers, packet bytes (checksums, sequence and
 * acknowledgement numbers, segmentation), pcapng, errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "pcaptest.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* One's complement sum of the bytes (plus start); a valid checksummed
 * region sums to 0xffff. */
static uint16_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

START_TEST(pcap_header_and_packets)
{
	const char *path = pt_tmp("w");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	ck_assert_ptr_nonnull(w);
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 4, pt_client4, 40000, pt_broker4, 9092);
	c.mss = 1000;
	uint32_t isn_c = c.seq[0], isn_b = c.seq[1];
	ck_assert_int_eq(kx_pcapw_conn_open(w, &c, 1500000000000000001), 0);
	uint8_t data[2500];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)i;
	ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_BROKER, 2, data,
					    sizeof data),
			 0);
	ck_assert_uint_eq(c.seq[0], isn_c + 1 + 2500);
	ck_assert_int_eq(kx_pcapw_conn_close(w, &c, 3), 0);
	ck_assert_int_eq(kx_pcapw_close(w), 0);

	size_t len;
	uint8_t *f = th_read_file(path, &len);
	uint32_t magic;
	memcpy(&magic, f, 4);
	ck_assert_uint_eq(magic, 0xa1b23c4d);
	uint32_t lt;
	memcpy(&lt, f + 20, 4);
	ck_assert_uint_eq(lt, KX_LINK_ETHERNET);
	unlink(path);
	free(f);

	/* Read it back as packets and check each. */
	w = kx_pcapw_open(path, NULL, NULL);
	kx_pcapw_conn_init(&c, 4, pt_client4, 40000, pt_broker4, 9092);
	c.mss = 1000;
	kx_pcapw_conn_open(w, &c, 1500000000000000001);
	kx_pcapw_conn_send(w, &c, KX_TO_BROKER, 2, data, sizeof data);
	kx_pcapw_conn_close(w, &c, 3);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	pt_pkt *pk;
	int ltype;
	size_t n = pt_load(path, &pk, &ltype);
	ck_assert_uint_eq(n, 3 + 3 + 3);
	ck_assert_int_eq(pk[0].ts_ns, 1500000000000000001);
	struct {
		uint8_t flags;
		uint32_t seq, ack;
		size_t len;
	} want[9] = {
		{0x02, isn_c, 0, 0},
		{0x12, isn_b, isn_c + 1, 0},
		{0x10, isn_c + 1, isn_b + 1, 0},
		{0x10, isn_c + 1, isn_b + 1, 1000},
		{0x10, isn_c + 1001, isn_b + 1, 1000},
		{0x18, isn_c + 2001, isn_b + 1, 500},
		{0x11, isn_c + 2501, isn_b + 1, 0},
		{0x11, isn_b + 1, isn_c + 2502, 0},
		{0x10, isn_c + 2502, isn_b + 2, 0},
	};
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = pk[i].data;
		ck_assert_uint_eq(pk[i].caplen, 54 + want[i].len);
		ck_assert_uint_eq(be16(p + 12), 0x0800);
		const uint8_t *ip = p + 14, *t = ip + 20;
		ck_assert_uint_eq(ip[0], 0x45);
		ck_assert_uint_eq(be16(ip + 2), 40 + want[i].len);
		ck_assert_uint_eq(sum16(0, ip, 20), 0xffff);
		bool fc = i != 1 && i != 7;
		ck_assert_mem_eq(ip + 12, fc ? pt_client4 : pt_broker4, 4);
		ck_assert_uint_eq(be16(t), fc ? 40000 : 9092);
		ck_assert_uint_eq(t[13], want[i].flags);
		ck_assert_uint_eq(be32(t + 4), want[i].seq);
		ck_assert_uint_eq(be32(t + 8), want[i].ack);
		/* TCP checksum over the pseudo-header and segment */
		uint32_t ps = 6 + 20 + (uint32_t)want[i].len;
		uint16_t s = sum16(ps, ip + 12, 8);
		ck_assert_uint_eq(sum16(s, t, 20 + want[i].len), 0xffff);
		if (want[i].len) {
			ck_assert_mem_eq(t + 20, data + off, want[i].len);
			off += want[i].len;
		}
	}
	pt_pkts_free(pk, n);
	unlink(path);
}
END_TEST

/* IPv6 and each link header, checked at the IP level. */
START_TEST(ipv6_and_links)
{
	static const int links[] = {KX_LINK_SLL, KX_LINK_SLL2, KX_LINK_RAW,
				    KX_LINK_LOOP, KX_LINK_IPV6};
	static const size_t l2[] = {16, 20, 0, 4, 0};
	for (size_t li = 0; li < 5; li++) {
		const char *path = pt_tmp("w6");
		kx_pcapw_opts o = {.linktype = links[li]};
		kx_pcapw *w = kx_pcapw_open(path, &o, NULL);
		ck_assert_ptr_nonnull(w);
		kx_pcapw_conn c;
		kx_pcapw_conn_init(&c, 6, pt_client6, 40000, pt_broker6, 9092);
		ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_CLIENT, 1,
						    "abc", 3),
				 0);
		ck_assert_int_eq(kx_pcapw_close(w), 0);
		pt_pkt *pk;
		int lt;
		ck_assert_uint_eq(pt_load(path, &pk, &lt), 1);
		ck_assert_int_eq(lt, links[li]);
		const uint8_t *ip = pk[0].data + l2[li];
		ck_assert_uint_eq(ip[0] >> 4, 6);
		ck_assert_uint_eq(be16(ip + 4), 23);
		ck_assert_mem_eq(ip + 8, pt_broker6, 16);
		ck_assert_mem_eq(ip + 60, "abc", 3);
		uint16_t s = sum16(6 + 23, ip + 8, 32);
		ck_assert_uint_eq(sum16(s, ip + 40, 23), 0xffff);
		pt_pkts_free(pk, 1);
		unlink(path);
	}
}
END_TEST

START_TEST(pcapng_blocks)
{
	const char *path = pt_tmp("ng");
	kx_pcapw_opts o = {.pcapng = true, .interfaces = 2};
	kx_pcapw *w = kx_pcapw_open(path, &o, NULL);
	ck_assert_ptr_nonnull(w);
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 4, pt_client4, 40000, pt_broker4, 9092);
	c.interface = 1;
	ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_BROKER,
					    1234567890123456789, "hello", 5),
			 0);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	size_t len;
	uint8_t *f = th_read_file(path, &len);
	/* SHB 28 + 2 IDB 32 + EPB 32 + 59 bytes padded to 60 */
	ck_assert_uint_eq(len, 28 + 64 + 32 + 60);
	uint32_t v;
	memcpy(&v, f, 4);
	ck_assert_uint_eq(v, 0x0a0d0d0a);
	memcpy(&v, f + 28 + 64 + 8, 4);
	ck_assert_uint_eq(v, 1); /* interface id */
	free(f);
	pt_pkt *pk;
	int lt;
	ck_assert_uint_eq(pt_load(path, &pk, &lt), 1);
	ck_assert_int_eq(pk[0].ts_ns, 1234567890123456789);
	ck_assert_uint_eq(pk[0].caplen, 59);
	pt_pkts_free(pk, 1);
	unlink(path);
}
END_TEST

/* Packets longer than the writer's snaplen are stored cut, with their
 * wire length kept. */
START_TEST(snaplen_and_raw)
{
	const char *path = pt_tmp("snap");
	kx_pcapw_opts o = {.snaplen = 60};
	kx_pcapw *w = kx_pcapw_open(path, &o, NULL);
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 4, pt_client4, 40000, pt_broker4, 9092);
	uint8_t d[100] = {0};
	ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_BROKER, 1, d, 100),
			 0);
	ck_assert_int_eq(kx_pcapw_raw(w, 2, d, 10, 99), 0);
	/* flushed: a reader sees both packets while the writer is open */
	ck_assert_int_eq(kx_pcapw_flush(w), 0);
	pt_pkt *early;
	int elt;
	ck_assert_uint_eq(pt_load(path, &early, &elt), 2);
	pt_pkts_free(early, 2);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	pt_pkt *pk;
	int lt;
	ck_assert_uint_eq(pt_load(path, &pk, &lt), 2);
	ck_assert_uint_eq(pk[0].caplen, 60);
	ck_assert_uint_eq(pk[0].wirelen, 154);
	ck_assert_uint_eq(pk[1].caplen, 10);
	ck_assert_uint_eq(pk[1].wirelen, 99);
	pt_pkts_free(pk, 2);
	unlink(path);
}
END_TEST

START_TEST(errors)
{
	int err = 0;
	ck_assert_ptr_null(kx_pcapw_open("/nonexistent/dir/x.pcap", NULL, &err));
	ck_assert_int_eq(err, KX_ERR_IO);
	kx_pcapw_opts o = {.linktype = 147};
	ck_assert_ptr_null(kx_pcapw_open(pt_tmp("x"), &o, &err));
	ck_assert_int_eq(err, KX_ERR_ARG);
	o = (kx_pcapw_opts){.interfaces = 2};
	ck_assert_ptr_null(kx_pcapw_open(pt_tmp("x"), &o, &err));
	ck_assert_int_eq(err, KX_ERR_ARG);
	ck_assert_ptr_null(kx_pcapw_open(NULL, NULL, &err));
	ck_assert_int_eq(kx_pcapw_close(NULL), 0);

	const char *path = pt_tmp("e");
	o = (kx_pcapw_opts){.linktype = KX_LINK_IPV4};
	kx_pcapw *w = kx_pcapw_open(path, &o, &err);
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 6, pt_client6, 1, pt_broker6, 2);
	ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_BROKER, 1, "x", 1),
			 KX_ERR_ARG);
	kx_pcapw_conn_init(&c, 4, pt_client4, 1, pt_broker4, 2);
	c.interface = 1;
	ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_BROKER, 1, "x", 1),
			 KX_ERR_ARG);
	c.interface = 0;
	ck_assert_int_eq(kx_pcapw_conn_send(w, &c, (kx_dir)2, 1, "x", 1),
			 KX_ERR_ARG);
	static uint8_t big[70000];
	ck_assert_int_eq(kx_pcapw_segment(w, &c, KX_TO_BROKER, 1, 0, 0, big,
					  sizeof big),
			 KX_ERR_ARG);
	/* mss above a packet's room is capped */
	c.mss = 100000;
	ck_assert_int_eq(kx_pcapw_conn_send(w, &c, KX_TO_BROKER, 1, big,
					    sizeof big),
			 0);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	unlink(path);

	/* A full disk: the failure is reported at close at the latest. */
	w = kx_pcapw_open("/dev/full", NULL, &err);
	if (w) {
		for (int i = 0; i < 100; i++)
			kx_pcapw_conn_send(w, &c, KX_TO_BROKER, 1, big, 1000);
		ck_assert_int_eq(kx_pcapw_close(w), KX_ERR_IO);
	} else {
		ck_assert_int_eq(err, KX_ERR_IO);
	}

	th_alloc_fail_at(1);
	ck_assert_ptr_null(kx_pcapw_open(pt_tmp("m"), NULL, &err));
	th_alloc_reset();
	ck_assert_int_eq(err, KX_ERR_NOMEM);
}
END_TEST

/* tshark reads the writer's files as Kafka with valid checksums. */
START_TEST(tshark_reads_it)
{
	if (access("/usr/bin/tshark", X_OK) != 0)
		ck_abort_msg("tshark is required for this test");
	size_t n;
	uint8_t *req = pt_request(18, 0, 42, "tsharkie", 0, &n);
	uint8_t *resp = pt_response(42, 6, &n);
	const char *path = pt_tmp("tshark");
	kx_pcapw *w = kx_pcapw_open(path, NULL, NULL);
	kx_pcapw_conn c;
	kx_pcapw_conn_init(&c, 4, pt_client4, 40000, pt_broker4, 9092);
	kx_pcapw_conn_open(w, &c, 1000000000);
	kx_pcapw_conn_send(w, &c, KX_TO_BROKER, 1000000001, req, 4 + 10 + 8);
	kx_pcapw_conn_send(w, &c, KX_TO_CLIENT, 1000000002, resp, n);
	kx_pcapw_conn_close(w, &c, 1000000003);
	ck_assert_int_eq(kx_pcapw_close(w), 0);
	free(req);
	free(resp);
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "tshark -r %s -o tcp.check_checksum:TRUE -o "
		 "ip.check_checksum:TRUE -T fields -e kafka.correlation_id "
		 "-e kafka.client_id -e _ws.expert.message 2>/dev/null",
		 path);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[256], all[2048] = "";
	while (fgets(line, sizeof line, p))
		strncat(all, line, sizeof all - strlen(all) - 1);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(strstr(all, "42\ttsharkie") != NULL, "%s", all);
	ck_assert_msg(strstr(all, "Bad checksum") == NULL, "%s", all);
	ck_assert_msg(strstr(all, "not captured") == NULL, "%s", all);
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pcaptools_pcapw");
	TCase *tc = tcase_create("pcapw");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pcap_header_and_packets);
	tcase_add_test(tc, ipv6_and_links);
	tcase_add_test(tc, pcapng_blocks);
	tcase_add_test(tc, snaplen_and_raw);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, tshark_reads_it);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
