/*
 * The codec's self-check capture reader: packets -> TCP streams -> Kafka
 * frames -> request/response pairs. See capture.h.
 */
#include "capture.h"

#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAP_DEFAULT_MAX_FRAME ((size_t)100 << 20)

/* A request waiting for its response. */
typedef struct cap_pending {
	int32_t correlation_id;
	int16_t api_key;
	int16_t api_version;
	uint64_t packet;
} cap_pending;

/* One direction of a connection: where the stream stands and the bytes
 * not yet cut into frames. */
typedef struct cap_stream {
	bool started;      /* next_seq is known */
	uint32_t next_seq; /* sequence number of the next byte expected */
	uint8_t *buf;
	size_t len, cap;
} cap_stream;

enum { TO_BROKER = 0, TO_CLIENT = 1 };

typedef struct cap_conn {
	kc_capture_flow flow;
	bool ignored;         /* not Kafka: packets are dropped */
	cap_stream s[2];      /* TO_BROKER, TO_CLIENT */
	cap_pending *pend;
	size_t npend, pend_cap;
} cap_conn;

struct kc_capture {
	kc_capture_opts opts;
	uint16_t *ports;
	kc_capture_frame_cb cb;
	void *opaque;
	cap_conn **conns;
	size_t nconns, conns_cap;
	kc_capture_stats st;
	bool failed;
	char err[256];
};

/* A TCP segment, once the link and IP layers are peeled off. */
typedef struct cap_seg {
	int ip_version;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t flags;
	const uint8_t *payload;
	size_t len;
	bool cut; /* the payload is shorter on file than on the wire */
} cap_seg;

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_ACK 0x10

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int cap_fail(kc_capture *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	c->failed = true;
	return KC_CAPTURE_ERROR;
}

kc_capture *kc_capture_new(const kc_capture_opts *opts, kc_capture_frame_cb cb,
			   void *opaque)
{
	kc_capture *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	if (opts)
		c->opts = *opts;
	if (c->opts.nbroker_ports) {
		c->ports = malloc(c->opts.nbroker_ports * sizeof *c->ports);
		if (!c->ports) {
			free(c);
			return NULL;
		}
		memcpy(c->ports, opts->broker_ports,
		       c->opts.nbroker_ports * sizeof *c->ports);
		c->opts.broker_ports = c->ports;
	}
	if (!c->opts.max_frame)
		c->opts.max_frame = CAP_DEFAULT_MAX_FRAME;
	c->cb = cb;
	c->opaque = opaque;
	return c;
}

void kc_capture_free(kc_capture *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nconns; i++) {
		free(c->conns[i]->s[0].buf);
		free(c->conns[i]->s[1].buf);
		free(c->conns[i]->pend);
		free(c->conns[i]);
	}
	free(c->conns);
	free(c->ports);
	free(c);
}

const kc_capture_stats *kc_capture_stats_get(const kc_capture *c)
{
	return &c->st;
}

const char *kc_capture_error(const kc_capture *c)
{
	return c->err;
}

void kc_capture_flow_addr(const kc_capture_flow *f, bool broker, char *buf,
			  size_t buflen)
{
	const uint8_t *a = broker ? f->broker_ip : f->client_ip;
	unsigned port = broker ? f->broker_port : f->client_port;
	if (f->ip_version == 4) {
		snprintf(buf, buflen, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
			 port);
		return;
	}
	/* Plain eight groups: this is for reading, not for canonical form. */
	snprintf(buf, buflen, "[%x:%x:%x:%x:%x:%x:%x:%x]:%u", be16(a),
		 be16(a + 2), be16(a + 4), be16(a + 6), be16(a + 8),
		 be16(a + 10), be16(a + 12), be16(a + 14), port);
}

/* ---- link, IP and TCP layers ------------------------------------------ */

/* IP version carried by the link layer, with *ip at the IP header; 0 when
 * the packet is something else. */
static int cap_link(int dlt, const uint8_t *p, size_t n, const uint8_t **ip,
		    size_t *iplen)
{
	uint32_t type;
	size_t hdr;

	switch (dlt) {
	case DLT_EN10MB:
		if (n < 14)
			return 0;
		hdr = 12;
		type = be16(p + hdr);
		/* 802.1Q / 802.1ad tags sit between the MACs and the type */
		while ((type == 0x8100 || type == 0x88a8 || type == 0x9100) &&
		       n >= hdr + 6) {
			hdr += 4;
			type = be16(p + hdr);
		}
		hdr += 2;
		break;
	case DLT_LINUX_SLL:
		if (n < 16)
			return 0;
		type = be16(p + 14);
		hdr = 16;
		break;
	case DLT_LINUX_SLL2:
		if (n < 20)
			return 0;
		type = be16(p);
		hdr = 20;
		break;
	case DLT_NULL:
	case DLT_LOOP: {
		if (n < 4)
			return 0;
		/* The family is in the capturing host's byte order for
		 * DLT_NULL; small values show which order that was. */
		uint32_t le = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			      (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		uint32_t fam = (dlt == DLT_LOOP || le > 0xff) ? be32(p) : le;
		hdr = 4;
		if (fam == 2)
			type = 0x0800;
		else if (fam == 10 || fam == 24 || fam == 28 || fam == 30)
			type = 0x86dd; /* AF_INET6 on Linux and the BSDs */
		else
			return 0;
		break;
	}
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		if (n < 1)
			return 0;
		hdr = 0;
		type = (p[0] >> 4) == 4 ? 0x0800 : (p[0] >> 4) == 6 ? 0x86dd : 0;
		break;
	default:
		return 0;
	}
	*ip = p + hdr;
	*iplen = n - hdr;
	if (type == 0x0800)
		return 4;
	if (type == 0x86dd)
		return 6;
	return 0;
}

/* Fill s from an IP packet of which `n` bytes are on file. Returns false
 * for anything but an unfragmented TCP segment. */
static bool cap_ip_tcp(int ver, const uint8_t *p, size_t n, cap_seg *s)
{
	size_t ip_total, hdr;
	unsigned proto;

	memset(s, 0, sizeof *s);
	if (ver == 4) {
		if (n < 20 || (p[0] >> 4) != 4)
			return false;
		hdr = (size_t)(p[0] & 0x0f) * 4;
		ip_total = be16(p + 2);
		if (hdr < 20 || ip_total < hdr || n < hdr)
			return false;
		/* fragments: more-fragments flag or a fragment offset */
		if (be16(p + 6) & 0x3fff)
			return false;
		proto = p[9];
		memcpy(s->src, p + 12, 4);
		memcpy(s->dst, p + 16, 4);
	} else {
		if (n < 40 || (p[0] >> 4) != 6)
			return false;
		ip_total = 40 + (size_t)be16(p + 4);
		proto = p[6];
		memcpy(s->src, p + 8, 16);
		memcpy(s->dst, p + 24, 16);
		hdr = 40;
		/* hop-by-hop, routing, destination options, AH */
		while (proto == 0 || proto == 43 || proto == 60 || proto == 51) {
			if (n < hdr + 8)
				return false;
			size_t ext = proto == 51 ? ((size_t)p[hdr + 1] + 2) * 4
						 : ((size_t)p[hdr + 1] + 1) * 8;
			proto = p[hdr];
			hdr += ext;
		}
		if (hdr > ip_total || hdr > n)
			return false;
	}
	if (proto != 6)
		return false;
	s->ip_version = ver;
	/* Ethernet pads short frames: the IP length is authoritative. */
	size_t seg_len = ip_total - hdr;
	size_t have = n - hdr;
	if (have < 20)
		return false;
	size_t thl = (size_t)(p[hdr + 12] >> 4) * 4;
	if (thl < 20 || thl > seg_len || thl > have)
		return false;
	const uint8_t *t = p + hdr;
	s->sport = be16(t);
	s->dport = be16(t + 2);
	s->seq = be32(t + 4);
	s->flags = t[13];
	s->payload = t + thl;
	s->len = seg_len - thl;
	if (have < seg_len) {
		s->cut = true;
		s->len = have - thl;
	}
	return true;
}

/* ---- connections -------------------------------------------------------- */

static bool cap_is_broker_port(const kc_capture *c, uint16_t port)
{
	for (size_t i = 0; i < c->opts.nbroker_ports; i++)
		if (c->opts.broker_ports[i] == port)
			return true;
	return false;
}

/* Direction of s within conn: TO_BROKER, TO_CLIENT, or -1 if not its. */
static int cap_dir(const cap_conn *k, const cap_seg *s)
{
	const kc_capture_flow *f = &k->flow;
	size_t alen = s->ip_version == 4 ? 4 : 16;
	if (f->ip_version != s->ip_version)
		return -1;
	if (s->sport == f->client_port && s->dport == f->broker_port &&
	    !memcmp(s->src, f->client_ip, alen) &&
	    !memcmp(s->dst, f->broker_ip, alen))
		return TO_BROKER;
	if (s->dport == f->client_port && s->sport == f->broker_port &&
	    !memcmp(s->dst, f->client_ip, alen) &&
	    !memcmp(s->src, f->broker_ip, alen))
		return TO_CLIENT;
	return -1;
}

/* The newest connection with s's addresses and ports (a 4-tuple can be
 * reused after a close), or NULL. */
static cap_conn *cap_find(kc_capture *c, const cap_seg *s, int *dir)
{
	for (size_t i = c->nconns; i-- > 0;) {
		*dir = cap_dir(c->conns[i], s);
		if (*dir >= 0)
			return c->conns[i];
	}
	return NULL;
}

/* A new connection starting with segment s. Which side listens: the SYN
 * tells; without it, the broker port list. */
static cap_conn *cap_new_conn(kc_capture *c, const cap_seg *s, int *dir)
{
	bool syn = s->flags & TCP_SYN, ack = s->flags & TCP_ACK;
	bool dst_listens;
	if (syn)
		dst_listens = !ack;
	else if (cap_is_broker_port(c, s->dport))
		dst_listens = true;
	else
		dst_listens = false;

	if (c->nconns == c->conns_cap) {
		size_t ncap = c->conns_cap ? c->conns_cap * 2 : 16;
		cap_conn **n = realloc(c->conns, ncap * sizeof *n);
		if (!n)
			return NULL;
		c->conns = n;
		c->conns_cap = ncap;
	}
	cap_conn *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	c->conns[c->nconns++] = k;
	kc_capture_flow *f = &k->flow;
	f->id = (unsigned)c->nconns;
	f->ip_version = s->ip_version;
	memcpy(dst_listens ? f->client_ip : f->broker_ip, s->src, 16);
	memcpy(dst_listens ? f->broker_ip : f->client_ip, s->dst, 16);
	f->client_port = dst_listens ? s->sport : s->dport;
	f->broker_port = dst_listens ? s->dport : s->sport;
	*dir = dst_listens ? TO_BROKER : TO_CLIENT;

	if (c->opts.nbroker_ports)
		k->ignored = !cap_is_broker_port(c, f->broker_port);
	else
		k->ignored = !syn;
	if (k->ignored)
		c->st.flows_ignored++;
	else
		c->st.flows++;
	return k;
}

/* ---- frames and pairing ------------------------------------------------- */

static int cap_pend_push(kc_capture *c, cap_conn *k, const kc_capture_frame *f)
{
	if (k->npend == k->pend_cap) {
		size_t ncap = k->pend_cap ? k->pend_cap * 2 : 8;
		cap_pending *n = realloc(k->pend, ncap * sizeof *n);
		if (!n)
			return cap_fail(c, "out of memory");
		k->pend = n;
		k->pend_cap = ncap;
	}
	k->pend[k->npend++] = (cap_pending){f->correlation_id, f->api_key,
					    f->api_version, f->packet};
	return 0;
}

/* Fill a response frame from the oldest pending request with its
 * correlation id, which leaves the queue. */
static void cap_pair(cap_conn *k, kc_capture_frame *f)
{
	f->api_key = -1;
	f->api_version = -1;
	f->correlation_id = f->len >= 4 ? (int32_t)be32(f->data) : -1;
	if (f->len < 4)
		return;
	for (size_t i = 0; i < k->npend; i++) {
		if (k->pend[i].correlation_id != f->correlation_id)
			continue;
		f->paired = true;
		f->api_key = k->pend[i].api_key;
		f->api_version = k->pend[i].api_version;
		f->request_packet = k->pend[i].packet;
		memmove(&k->pend[i], &k->pend[i + 1],
			(k->npend - i - 1) * sizeof *k->pend);
		k->npend--;
		return;
	}
}

/* Cut every complete frame out of the stream and deliver it. */
static int cap_frames(kc_capture *c, cap_conn *k, int dir, uint64_t packet,
		      const struct timeval *ts)
{
	cap_stream *st = &k->s[dir];
	size_t off = 0;
	int rc = 0;

	while (st->len - off >= 4) {
		uint32_t size = be32(st->buf + off);
		if (size > c->opts.max_frame) {
			char a[64];
			kc_capture_flow_addr(&k->flow, true, a, sizeof a);
			rc = cap_fail(c,
				      "packet %llu: connection %u (%s) %s: frame "
				      "size %lu at stream offset %lu is not "
				      "Kafka framing (limit %zu)",
				      (unsigned long long)packet, k->flow.id, a,
				      dir == TO_BROKER ? "request" : "response",
				      (unsigned long)size, (unsigned long)off,
				      c->opts.max_frame);
			break;
		}
		if (st->len - off - 4 < size)
			break;
		kc_capture_frame f = {
			.flow = &k->flow,
			.to_broker = dir == TO_BROKER,
			.data = st->buf + off + 4,
			.len = size,
			.packet = packet,
			.ts = *ts,
		};
		off += 4 + (size_t)size;
		c->st.frames++;
		if (dir == TO_BROKER) {
			c->st.requests++;
			f.header_ok = size >= 8;
			f.expect_response = f.header_ok;
			if (f.header_ok) {
				f.api_key = (int16_t)be16(f.data);
				f.api_version = (int16_t)be16(f.data + 2);
				f.correlation_id = (int32_t)be32(f.data + 4);
			}
		} else {
			c->st.responses++;
			cap_pair(k, &f);
			if (!f.paired)
				c->st.unpaired_responses++;
		}
		rc = c->cb ? c->cb(&f, c->opaque) : 0;
		if (rc == 0 && f.to_broker && f.expect_response)
			rc = cap_pend_push(c, k, &f);
		if (rc != 0)
			break;
	}
	if (off) {
		memmove(st->buf, st->buf + off, st->len - off);
		st->len -= off;
	}
	return rc;
}

static int cap_append(kc_capture *c, cap_stream *st, const uint8_t *p,
		      size_t n)
{
	if (st->cap - st->len < n) {
		size_t ncap = st->cap ? st->cap : 4096;
		while (ncap - st->len < n)
			ncap *= 2;
		uint8_t *b = realloc(st->buf, ncap);
		if (!b)
			return cap_fail(c, "out of memory");
		st->buf = b;
		st->cap = ncap;
	}
	memcpy(st->buf + st->len, p, n);
	st->len += n;
	return 0;
}

/* Add s's payload to its stream in sequence order. */
static int cap_segment(kc_capture *c, cap_conn *k, int dir, const cap_seg *s,
		       uint64_t packet, const struct timeval *ts)
{
	cap_stream *st = &k->s[dir];

	if (s->flags & TCP_SYN) {
		st->started = true;
		st->next_seq = s->seq + 1;
		return 0;
	}
	if (s->len == 0)
		return 0;
	if (!st->started) {
		/* No SYN on file: follow from here, on the assumption that
		 * the capture began between two frames. */
		st->started = true;
		st->next_seq = s->seq;
	}
	int32_t ahead = (int32_t)(s->seq - st->next_seq);
	if (ahead > 0) {
		char a[64];
		kc_capture_flow_addr(&k->flow, true, a, sizeof a);
		return cap_fail(c,
				"packet %llu: connection %u (%s) %s stream: "
				"%ld bytes missing before seq %lu (lost or "
				"reordered segment; not reassembled)",
				(unsigned long long)packet, k->flow.id, a,
				dir == TO_BROKER ? "request" : "response",
				(long)ahead, (unsigned long)s->seq);
	}
	size_t dup = (size_t)-(int64_t)ahead;
	if (dup >= s->len) {
		c->st.duplicate_bytes += s->len;
		return 0;
	}
	c->st.duplicate_bytes += dup;
	if (s->cut) {
		char a[64];
		kc_capture_flow_addr(&k->flow, true, a, sizeof a);
		return cap_fail(c,
				"packet %llu: connection %u (%s): TCP payload "
				"cut by the capture's snapshot length",
				(unsigned long long)packet, k->flow.id, a);
	}
	if (cap_append(c, st, s->payload + dup, s->len - dup))
		return KC_CAPTURE_ERROR;
	st->next_seq += (uint32_t)(s->len - dup);
	return cap_frames(c, k, dir, packet, ts);
}

int kc_capture_packet(kc_capture *c, int dlt, const struct timeval *ts,
		      const uint8_t *p, size_t caplen)
{
	const uint8_t *ip;
	size_t iplen;
	cap_seg s;

	if (c->failed)
		return KC_CAPTURE_ERROR;
	c->st.packets++;
	int ver = cap_link(dlt, p, caplen, &ip, &iplen);
	if (!ver || !cap_ip_tcp(ver, ip, iplen, &s)) {
		c->st.skipped_packets++;
		return 0;
	}
	int dir;
	cap_conn *k = cap_find(c, &s, &dir);
	/* A SYN opens a new connection on a known 4-tuple when its initial
	 * sequence number is new, or when the tuple was ignored only for
	 * want of a SYN. */
	if (k && (s.flags & TCP_SYN) &&
	    (k->ignored ? !c->opts.nbroker_ports
			: k->s[dir].started && k->s[dir].next_seq != s.seq + 1))
		k = NULL;
	if (!k) {
		k = cap_new_conn(c, &s, &dir);
		if (!k)
			return cap_fail(c, "out of memory");
	}
	if (k->ignored)
		return 0;
	c->st.tcp_segments++;
	return cap_segment(c, k, dir, &s, c->st.packets, ts);
}

int kc_capture_finish(kc_capture *c)
{
	if (c->failed)
		return KC_CAPTURE_ERROR;
	c->st.unanswered_requests = 0;
	c->st.trailing_bytes = 0;
	for (size_t i = 0; i < c->nconns; i++) {
		c->st.unanswered_requests += c->conns[i]->npend;
		c->st.trailing_bytes +=
			c->conns[i]->s[0].len + c->conns[i]->s[1].len;
	}
	return 0;
}

int kc_capture_read_file(kc_capture *c, const char *path)
{
	char perr[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = 0, n = 0;

	if (c->failed)
		return KC_CAPTURE_ERROR;
	pcap_t *pc = pcap_open_offline(path, perr);
	if (!pc)
		return cap_fail(c, "%s", perr);
	int dlt = pcap_datalink(pc);
	while (rc == 0 && (n = pcap_next_ex(pc, &h, &data)) == 1)
		rc = kc_capture_packet(c, dlt, &h->ts, data, h->caplen);
	if (rc == 0 && n == PCAP_ERROR)
		rc = cap_fail(c, "%s: %s", path, pcap_geterr(pc));
	pcap_close(pc);
	if (rc == 0)
		rc = kc_capture_finish(c);
	return rc;
}
