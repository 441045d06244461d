/* Link, IP and TCP headers: one captured packet -> one TCP segment. */
#include <stdio.h>
#include <string.h>

#include "pcap_int.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd

/* libpcap's DLT_ values that differ from the LINKTYPE_ values in files
 * (a live capture or pcap_datalink() reports these). */
#define DLT_RAW_BSD 12
#define DLT_RAW_OPENBSD 14

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int bad(char *why, size_t n, int kind, const char *msg, size_t off)
{
	snprintf(why, n, "%s (byte %zu)", msg, off);
	return -kind;
}

/* The ethertype carried and the link header's length; -1 for a link type
 * not supported, -2 for a header cut short. */
static int link_layer(int linktype, const uint8_t *p, size_t n,
		      unsigned *type, size_t *hdr)
{
	switch (linktype) {
	case KX_LINK_ETHERNET: {
		if (n < 14)
			return -2;
		size_t h = 12;
		unsigned t = be16(p + h);
		/* 802.1Q / 802.1ad / QinQ tags sit between the MACs and the
		 * type. */
		while (t == 0x8100 || t == 0x88a8 || t == 0x9100) {
			if (n < h + 6)
				return -2;
			h += 4;
			t = be16(p + h);
		}
		*type = t;
		*hdr = h + 2;
		return 0;
	}
	case KX_LINK_SLL:
		if (n < 16)
			return -2;
		*type = be16(p + 14);
		*hdr = 16;
		return 0;
	case KX_LINK_SLL2:
		if (n < 20)
			return -2;
		*type = be16(p);
		*hdr = 20;
		return 0;
	case KX_LINK_NULL:
	case KX_LINK_LOOP: {
		if (n < 4)
			return -2;
		/* DLT_NULL stores the family in the capturing host's byte
		 * order; families are small, so a big value shows the other
		 * order. */
		uint32_t le = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			      (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		uint32_t fam = (linktype == KX_LINK_LOOP || le > 0xff) ? be32(p)
									: le;
		*hdr = 4;
		if (fam == 2)
			*type = ETHERTYPE_IPV4;
		else if (fam == 10 || fam == 24 || fam == 28 || fam == 30)
			*type = ETHERTYPE_IPV6; /* Linux, BSDs, macOS */
		else
			*type = 0;
		return 0;
	}
	case KX_LINK_RAW:
	case DLT_RAW_BSD:
	case DLT_RAW_OPENBSD:
	case KX_LINK_IPV4:
	case KX_LINK_IPV6:
		if (n < 1)
			return -2;
		*hdr = 0;
		*type = (p[0] >> 4) == 4   ? ETHERTYPE_IPV4
			: (p[0] >> 4) == 6 ? ETHERTYPE_IPV6
					   : 0;
		return 0;
	default:
		return -1;
	}
}

int kx__packet_parse(int linktype, const uint8_t *p, size_t caplen,
		     size_t wirelen, kx__seg *s, char *why, size_t wn)
{
	unsigned type = 0;
	size_t l2 = 0;
	memset(s, 0, sizeof *s);
	(void)wirelen;
	int lr = link_layer(linktype, p, caplen, &type, &l2);
	if (lr == -1) {
		snprintf(why, wn, "link type %d not supported", linktype);
		return -KX_WARN_LINKTYPE;
	}
	if (lr == -2)
		return bad(why, wn, KX_WARN_MALFORMED, "link header cut short",
			   caplen);
	if (type != ETHERTYPE_IPV4 && type != ETHERTYPE_IPV6)
		return 0;
	const uint8_t *ip = p + l2;
	size_t n = caplen - l2;
	size_t ip_total, hdr;
	unsigned proto;
	if (type == ETHERTYPE_IPV4) {
		if (n < 20)
			return bad(why, wn, KX_WARN_MALFORMED,
				   "IPv4 header cut short", l2);
		if ((ip[0] >> 4) != 4)
			return bad(why, wn, KX_WARN_MALFORMED,
				   "IPv4 version field", l2);
		hdr = (size_t)(ip[0] & 0x0f) * 4;
		ip_total = be16(ip + 2);
		if (hdr < 20 || ip_total < hdr)
			return bad(why, wn, KX_WARN_MALFORMED,
				   "IPv4 header length or total length", l2);
		if (n < hdr)
			return bad(why, wn, KX_WARN_MALFORMED,
				   "IPv4 options cut short", l2);
		proto = ip[9];
		/* More-fragments flag or a fragment offset. */
		if (be16(ip + 6) & 0x3fff) {
			if (proto != 6)
				return 0;
			return bad(why, wn, KX_WARN_FRAGMENT,
				   "IPv4 fragment of a TCP packet not "
				   "reassembled",
				   l2 + 6);
		}
		s->ip_version = 4;
		memcpy(s->src, ip + 12, 4);
		memcpy(s->dst, ip + 16, 4);
	} else {
		if (n < 40)
			return bad(why, wn, KX_WARN_MALFORMED,
				   "IPv6 header cut short", l2);
		if ((ip[0] >> 4) != 6)
			return bad(why, wn, KX_WARN_MALFORMED,
				   "IPv6 version field", l2);
		ip_total = 40 + (size_t)be16(ip + 4);
		proto = ip[6];
		hdr = 40;
		/* Hop-by-hop, routing, destination options and AH are
		 * skipped; a fragment header (44) means a fragment. */
		while (proto == 0 || proto == 43 || proto == 60 ||
		       proto == 51 || proto == 44) {
			if (n < hdr + 8)
				return bad(why, wn, KX_WARN_MALFORMED,
					   "IPv6 extension header cut short",
					   l2 + hdr);
			if (proto == 44) {
				if (ip[hdr] != 6)
					return 0;
				return bad(why, wn, KX_WARN_FRAGMENT,
					   "IPv6 fragment of a TCP packet not "
					   "reassembled",
					   l2 + hdr);
			}
			size_t ext = proto == 51
					     ? ((size_t)ip[hdr + 1] + 2) * 4
					     : ((size_t)ip[hdr + 1] + 1) * 8;
			proto = ip[hdr];
			hdr += ext;
		}
		if (hdr > ip_total)
			return bad(why, wn, KX_WARN_MALFORMED,
				   "IPv6 extension headers past the payload "
				   "length",
				   l2 + 4);
		s->ip_version = 6;
		memcpy(s->src, ip + 8, 16);
		memcpy(s->dst, ip + 24, 16);
	}
	if (proto != 6)
		return 0;
	/* Ethernet pads short frames: the IP length is authoritative. A
	 * jumbogram or TSO capture may show a zero or short IP length: then
	 * the captured bytes are all there is (total length 0 in IPv4 is what
	 * TSO offload shows). */
	if (type == ETHERTYPE_IPV4 && ip_total == 0)
		ip_total = n;
	if (n < hdr + 20)
		return bad(why, wn, KX_WARN_MALFORMED, "TCP header cut short",
			   l2 + hdr);
	const uint8_t *t = ip + hdr;
	size_t thl = (size_t)(t[12] >> 4) * 4;
	size_t seg_len = ip_total - hdr;
	if (thl < 20 || thl > seg_len)
		return bad(why, wn, KX_WARN_MALFORMED, "TCP data offset",
			   l2 + hdr + 12);
	if (n < hdr + thl)
		return bad(why, wn, KX_WARN_MALFORMED,
			   "TCP options cut short", l2 + hdr);
	s->sport = be16(t);
	s->dport = be16(t + 2);
	s->seq = be32(t + 4);
	s->ack = be32(t + 8);
	s->flags = t[13];
	s->payload = t + thl;
	size_t have = n - hdr - thl;
	size_t want = seg_len - thl;
	if (have >= want) {
		s->len = want;
	} else {
		s->len = have;
		s->cut = want - have;
	}
	return 1;
}

bool kx__linktype_known(long lt)
{
	switch (lt) {
	case KX_LINK_NULL:
	case KX_LINK_ETHERNET:
	case KX_LINK_RAW:
	case KX_LINK_LOOP:
	case KX_LINK_SLL:
	case KX_LINK_IPV4:
	case KX_LINK_IPV6:
	case KX_LINK_SLL2:
		return true;
	default:
		return false;
	}
}
