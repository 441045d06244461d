/* libFuzzer target: the reader (link/IP/TCP layers, reassembly, framing,
 * pairing) over arbitrary input. Input that starts like a pcap or pcapng
 * file is read twice from memory: by the mapped reader (its buffer entry
 * point, kx__reader_open_buf, with its hand-off to libpcap) and packet by
 * packet through libpcap; the two must agree on every counter. Anything
 * else is a sequence of packets, each a link-type byte, a 2-byte length
 * and the bytes, fed to kx_reader_packet. The callback checks each event's
 * invariants and reads every byte it is given, so ASan sees a slice that
 * lies.
 *   ./fuzz_pcap -max_total_time=60 tests/fuzz/corpus/pcap */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkit/pcap.h"
#include "pcap_int.h"

static const int links[8] = {KX_LINK_ETHERNET, KX_LINK_SLL,  KX_LINK_SLL2,
			     KX_LINK_RAW,      KX_LINK_NULL, KX_LINK_LOOP,
			     KX_LINK_IPV4,     147};

static volatile uint64_t sink;

static int check(kx_event *ev, void *opaque)
{
	(void)opaque;
	uint64_t h = (uint64_t)ev->type;
	if (ev->type == KX_EV_REQUEST || ev->type == KX_EV_RESPONSE) {
		if (!ev->conn || !ev->frame || ev->header_len > ev->frame_len)
			abort();
		for (size_t i = 0; i < ev->frame_len; i++)
			h = h * 31 + ev->frame[i];
		if (ev->client_id_len > 0) {
			const uint8_t *c = (const uint8_t *)ev->client_id;
			if (c < ev->frame ||
			    c + ev->client_id_len > ev->frame + ev->frame_len)
				abort();
		}
	}
	if (ev->type == KX_EV_WARNING && (!ev->message || !*ev->message))
		abort();
	if ((ev->type == KX_EV_GAP || ev->type == KX_EV_RESYNC) &&
	    (!ev->conn || !ev->bytes))
		abort();
	sink += h;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kx_reader_opts o = {.max_ooo_bytes = 4096, .max_frame = 1 << 16,
			    .max_conns = 64, .detect_any_port = size & 1};
	kx_reader *r = kx_reader_new(&o, check, NULL);
	if (!r)
		return 0;
	uint32_t magic = 0;
	if (size >= 4)
		memcpy(&magic, data, 4);
	bool file = magic == 0xa1b2c3d4 || magic == 0xd4c3b2a1 ||
		    magic == 0xa1b23c4d || magic == 0x4d3cb2a1 ||
		    magic == 0x0a0d0d0a;
	if (file) {
		/* the mapped reader first, on its own reader */
		kx_reader *m = kx_reader_new(&o, check, NULL);
		if (!m) {
			kx_reader_free(r);
			return 0;
		}
		int mo = kx__reader_open_buf(m, data, size);
		if (mo == 0)
			kx_reader_run(m);
		FILE *f = fmemopen((void *)data, size, "rb");
		char eb[PCAP_ERRBUF_SIZE];
		pcap_t *pc = f ? pcap_fopen_offline_with_tstamp_precision(
					 f, PCAP_TSTAMP_PRECISION_NANO, eb)
			       : NULL;
		if (!pc) {
			if (f)
				fclose(f);
		} else {
			int lt = pcap_datalink(pc) == DLT_RAW ? KX_LINK_RAW
							      : pcap_datalink(pc);
			struct pcap_pkthdr *h;
			const u_char *d;
			while (pcap_next_ex(pc, &h, &d) == 1) {
				int64_t ts = (int64_t)h->ts.tv_sec *
						     1000000000 +
					     h->ts.tv_usec;
				if (kx_reader_packet(r, lt, ts, d, h->caplen,
						     h->len))
					break;
			}
			pcap_close(pc);
		}
		kx_reader_finish(r);
		/* an unsupported link type fails the mapped open but is a
		 * warning per packet here: compare only what both read */
		if (mo == 0 && memcmp(kx_reader_stats(m), kx_reader_stats(r),
				      sizeof(kx_stats)))
			abort();
		kx_reader_free(m);
	} else {
		size_t o2 = 0;
		int64_t ts = 0;
		while (o2 + 3 <= size) {
			int lt = links[data[o2] & 7];
			size_t n = (size_t)data[o2 + 1] << 8 | data[o2 + 2];
			o2 += 3;
			if (n > size - o2)
				n = size - o2;
			/* Copy so a read past the packet is caught. */
			uint8_t *p = malloc(n ? n : 1);
			if (!p)
				break;
			memcpy(p, data + o2, n);
			int rc = kx_reader_packet(r, lt, ts++, p, n,
						  n + (data[o2 - 3] >> 3));
			free(p);
			o2 += n;
			if (rc)
				break;
		}
	}
	kx_reader_finish(r);
	const kx_stats *st = kx_reader_stats(r);
	if (st->requests + st->responses > st->packets * 65536)
		abort();
	kx_reader_free(r);
	return 0;
}
