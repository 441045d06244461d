/* The capture writer: synthesized Kafka-over-TCP packets into pcap or
 * pcapng files, with link, IP and TCP headers and consistent sequence
 * numbers. Files are written in host byte order, which both formats allow
 * (readers go by the magic number). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf_int.h"
#include "pcap_int.h"

#define PCAPW_DEFAULT_SNAPLEN 262144
/* Link + IPv6 + TCP headers stay under this. */
#define PCAPW_HEADROOM 128
#define PCAPW_MAX_PAYLOAD 65000

struct kx_pcapw {
	FILE *f;
	bool own;           /* f is ours to fclose (not stdout) */
	bool failed;        /* a write failed: close reports it */
	kx_pcapw_opts opts;
	uint16_t ip_id;
	uint8_t pkt[PCAPW_HEADROOM + PCAPW_MAX_PAYLOAD];
};

static bool link_ok(int lt)
{
	return lt == KX_LINK_ETHERNET || lt == KX_LINK_SLL ||
	       lt == KX_LINK_SLL2 || lt == KX_LINK_RAW || lt == KX_LINK_LOOP ||
	       lt == KX_LINK_IPV4 || lt == KX_LINK_IPV6;
}

static void put(kx_pcapw *w, const void *p, size_t n)
{
	if (!w->failed && n && fwrite(p, 1, n, w->f) != n)
		w->failed = true;
}

static void put32(kx_pcapw *w, uint32_t v)
{
	put(w, &v, 4);
}

static void put16(kx_pcapw *w, uint16_t v)
{
	put(w, &v, 2);
}

static void file_header(kx_pcapw *w)
{
	uint32_t snap = w->opts.snaplen;
	if (!w->opts.pcapng) {
		put32(w, 0xa1b23c4d); /* nanosecond timestamps */
		put16(w, 2);
		put16(w, 4);
		put32(w, 0); /* thiszone */
		put32(w, 0); /* sigfigs */
		put32(w, snap);
		put32(w, (uint32_t)w->opts.linktype);
		return;
	}
	/* Section header block, no options. */
	put32(w, 0x0a0d0d0a);
	put32(w, 28);
	put32(w, 0x1a2b3c4d);
	put16(w, 1);
	put16(w, 0);
	put32(w, 0xffffffff); /* section length unknown (-1) */
	put32(w, 0xffffffff);
	put32(w, 28);
	/* One interface description block per interface, with if_tsresol
	 * 9 (nanoseconds). */
	for (unsigned i = 0; i < w->opts.interfaces; i++) {
		put32(w, 1);
		put32(w, 32);
		put16(w, (uint16_t)w->opts.linktype);
		put16(w, 0);
		put32(w, snap);
		put16(w, 9);
		put16(w, 1);
		uint8_t res[4] = {9, 0, 0, 0};
		put(w, res, 4);
		put32(w, 0); /* opt_endofopt */
		put32(w, 32);
	}
}

kx_pcapw *kx_pcapw_open(const char *path, const kx_pcapw_opts *opts,
			int *err)
{
	int dummy;
	if (!err)
		err = &dummy;
	kx_pcapw_opts o = {0};
	if (opts)
		o = *opts;
	if (!o.linktype)
		o.linktype = KX_LINK_ETHERNET;
	if (!o.snaplen)
		o.snaplen = PCAPW_DEFAULT_SNAPLEN;
	if (!o.interfaces)
		o.interfaces = 1;
	if (!path || !link_ok(o.linktype) ||
	    (!o.pcapng && o.interfaces != 1)) {
		*err = KX_ERR_ARG;
		return NULL;
	}
	kx_pcapw *w = kc__malloc(sizeof *w);
	if (!w) {
		*err = KX_ERR_NOMEM;
		return NULL;
	}
	memset(w, 0, offsetof(kx_pcapw, pkt));
	w->opts = o;
	if (!strcmp(path, "-")) {
		w->f = stdout;
	} else {
		w->f = fopen(path, "wb");
		w->own = true;
	}
	if (!w->f) {
		kc__free(w);
		*err = KX_ERR_IO;
		return NULL;
	}
	file_header(w);
	if (w->failed) {
		kx_pcapw_close(w);
		*err = KX_ERR_IO;
		return NULL;
	}
	*err = 0;
	return w;
}

int kx_pcapw_close(kx_pcapw *w)
{
	if (!w)
		return 0;
	bool failed = w->failed;
	if (fflush(w->f) != 0)
		failed = true;
	if (w->own && fclose(w->f) != 0)
		failed = true;
	kc__free(w);
	return failed ? KX_ERR_IO : 0;
}

int kx_pcapw_flush(kx_pcapw *w)
{
	if (fflush(w->f) != 0)
		w->failed = true;
	return w->failed ? KX_ERR_IO : 0;
}

/* One packet record: caplen bytes stored of a wirelen-byte packet. */
static int record(kx_pcapw *w, unsigned iface, int64_t ts_ns,
		  const void *p, size_t caplen, size_t wirelen)
{
	uint64_t t = ts_ns < 0 ? 0 : (uint64_t)ts_ns;
	if (!w->opts.pcapng) {
		put32(w, (uint32_t)(t / 1000000000));
		put32(w, (uint32_t)(t % 1000000000));
		put32(w, (uint32_t)caplen);
		put32(w, (uint32_t)wirelen);
		put(w, p, caplen);
	} else {
		size_t pad = (4 - caplen % 4) % 4;
		uint32_t total = (uint32_t)(32 + caplen + pad);
		put32(w, 6); /* enhanced packet block */
		put32(w, total);
		put32(w, iface);
		put32(w, (uint32_t)(t >> 32));
		put32(w, (uint32_t)t);
		put32(w, (uint32_t)caplen);
		put32(w, (uint32_t)wirelen);
		put(w, p, caplen);
		uint8_t zero[4] = {0};
		put(w, zero, pad);
		put32(w, total);
	}
	return w->failed ? KX_ERR_IO : 0;
}

int kx_pcapw_raw(kx_pcapw *w, int64_t ts_ns, const void *p, size_t caplen,
		 size_t wirelen)
{
	return record(w, 0, ts_ns, p, caplen,
		      wirelen < caplen ? caplen : wirelen);
}

void kx_pcapw_conn_init(kx_pcapw_conn *c, int ip_version,
			const void *client_ip, uint16_t client_port,
			const void *broker_ip, uint16_t broker_port)
{
	size_t alen = ip_version == 6 ? 16 : 4;
	memset(c, 0, sizeof *c);
	c->ip_version = ip_version == 6 ? 6 : 4;
	memcpy(c->client_ip, client_ip, alen);
	memcpy(c->broker_ip, broker_ip, alen);
	c->client_port = client_port;
	c->broker_port = broker_port;
	c->seq[KX_TO_BROKER] = 0x10000000u + (uint32_t)client_port * 7919u +
			       broker_port;
	c->seq[KX_TO_CLIENT] = 0x60000000u + (uint32_t)broker_port * 7919u +
			       client_port;
	c->mss = 1460;
}

/* Internet checksum over the bytes, folded, starting from sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Link header for an IP packet of version v; returns its length. */
static size_t link_header(const kx_pcapw *w, uint8_t *p, int v,
			  bool from_client)
{
	uint16_t type = v == 4 ? 0x0800 : 0x86dd;
	static const uint8_t mac_c[6] = {0x02, 0, 0, 0, 0, 0x01};
	static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x02};
	const uint8_t *src = from_client ? mac_c : mac_b;
	switch (w->opts.linktype) {
	case KX_LINK_ETHERNET:
		memcpy(p, from_client ? mac_b : mac_c, 6);
		memcpy(p + 6, src, 6);
		kc__be16(p + 12, type);
		return 14;
	case KX_LINK_SLL:
		/* Captured on the client: its packets are outgoing (4). */
		kc__be16(p, from_client ? 4 : 0);
		kc__be16(p + 2, 1); /* ARPHRD_ETHER */
		kc__be16(p + 4, 6);
		memcpy(p + 6, src, 6);
		memset(p + 12, 0, 2);
		kc__be16(p + 14, type);
		return 16;
	case KX_LINK_SLL2:
		kc__be16(p, type);
		memset(p + 2, 0, 2);
		kc__be32(p + 4, 2); /* interface index */
		kc__be16(p + 8, 1);
		p[10] = from_client ? 4 : 0;
		p[11] = 6;
		memcpy(p + 12, src, 6);
		memset(p + 18, 0, 2);
		return 20;
	case KX_LINK_LOOP:
		/* Network byte order; AF_INET6 as on OpenBSD. */
		kc__be32(p, v == 4 ? 2 : 24);
		return 4;
	default:
		return 0;
	}
}

int kx_pcapw_segment(kx_pcapw *w, const kx_pcapw_conn *c, kx_dir dir,
		     int64_t ts_ns, uint32_t seq, uint8_t flags,
		     const void *data, size_t n)
{
	if (n > PCAPW_MAX_PAYLOAD ||
	    (dir != KX_TO_BROKER && dir != KX_TO_CLIENT) ||
	    c->interface >= w->opts.interfaces ||
	    (c->ip_version == 6 && w->opts.linktype == KX_LINK_IPV4) ||
	    (c->ip_version == 4 && w->opts.linktype == KX_LINK_IPV6))
		return KX_ERR_ARG;
	bool fc = dir == KX_TO_BROKER;
	int v = c->ip_version;
	size_t alen = v == 4 ? 4 : 16;
	const uint8_t *src = fc ? c->client_ip : c->broker_ip;
	const uint8_t *dst = fc ? c->broker_ip : c->client_ip;
	uint8_t *p = w->pkt;
	size_t l2 = link_header(w, p, v, fc);
	uint8_t *ip = p + l2;
	size_t iph = v == 4 ? 20 : 40;
	uint8_t *t = ip + iph;
	size_t tcp_len = 20 + n;
	if (v == 4) {
		ip[0] = 0x45;
		ip[1] = 0;
		kc__be16(ip + 2, (uint16_t)(20 + tcp_len));
		kc__be16(ip + 4, w->ip_id++);
		kc__be16(ip + 6, 0x4000); /* don't fragment */
		ip[8] = 64;
		ip[9] = 6;
		memset(ip + 10, 0, 2);
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		kc__be16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	} else {
		kc__be32(ip, 0x60000000u);
		kc__be16(ip + 4, (uint16_t)tcp_len);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
	}
	kc__be16(t, fc ? c->client_port : c->broker_port);
	kc__be16(t + 2, fc ? c->broker_port : c->client_port);
	kc__be32(t + 4, seq);
	kc__be32(t + 8, (flags & KX_TCP_ACK) ? c->seq[!dir] : 0);
	t[12] = 5 << 4;
	t[13] = flags;
	kc__be16(t + 14, 65535);
	memset(t + 16, 0, 4);
	if (n)
		memcpy(t + 20, data, n);
	/* Pseudo-header: addresses, protocol, TCP length. */
	uint32_t sum = csum_add(0, src, alen);
	sum = csum_add(sum, dst, alen);
	sum += 6 + (uint32_t)tcp_len;
	sum = csum_add(sum, t, tcp_len);
	kc__be16(t + 16, csum_fold(sum));
	size_t len = l2 + iph + tcp_len;
	return record(w, c->interface, ts_ns, p,
		      len < w->opts.snaplen ? len : w->opts.snaplen, len);
}

int kx_pcapw_conn_open(kx_pcapw *w, kx_pcapw_conn *c, int64_t ts_ns)
{
	int rc = kx_pcapw_segment(w, c, KX_TO_BROKER, ts_ns, c->seq[0],
				  KX_TCP_SYN, NULL, 0);
	c->seq[0]++;
	if (!rc)
		rc = kx_pcapw_segment(w, c, KX_TO_CLIENT, ts_ns, c->seq[1],
				      KX_TCP_SYN | KX_TCP_ACK, NULL, 0);
	c->seq[1]++;
	if (!rc)
		rc = kx_pcapw_segment(w, c, KX_TO_BROKER, ts_ns, c->seq[0],
				      KX_TCP_ACK, NULL, 0);
	return rc;
}

int kx_pcapw_conn_send(kx_pcapw *w, kx_pcapw_conn *c, kx_dir dir,
		       int64_t ts_ns, const void *p, size_t n)
{
	if (dir != KX_TO_BROKER && dir != KX_TO_CLIENT)
		return KX_ERR_ARG;
	size_t mss = c->mss ? c->mss : 1460;
	if (mss > PCAPW_MAX_PAYLOAD)
		mss = PCAPW_MAX_PAYLOAD;
	const uint8_t *b = p;
	do {
		size_t k = n < mss ? n : mss;
		uint8_t flags = KX_TCP_ACK | (k == n ? KX_TCP_PSH : 0);
		int rc = kx_pcapw_segment(w, c, dir, ts_ns, c->seq[dir], flags,
					  b, k);
		if (rc)
			return rc;
		c->seq[dir] += (uint32_t)k;
		b += k;
		n -= k;
	} while (n);
	return 0;
}

int kx_pcapw_conn_close(kx_pcapw *w, kx_pcapw_conn *c, int64_t ts_ns)
{
	int rc = kx_pcapw_segment(w, c, KX_TO_BROKER, ts_ns, c->seq[0],
				  KX_TCP_FIN | KX_TCP_ACK, NULL, 0);
	c->seq[0]++;
	if (!rc)
		rc = kx_pcapw_segment(w, c, KX_TO_CLIENT, ts_ns, c->seq[1],
				      KX_TCP_FIN | KX_TCP_ACK, NULL, 0);
	c->seq[1]++;
	if (!rc)
		rc = kx_pcapw_segment(w, c, KX_TO_BROKER, ts_ns, c->seq[0],
				      KX_TCP_ACK, NULL, 0);
	return rc;
}
