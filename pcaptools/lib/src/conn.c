/* Connections: the table keyed by 4-tuple, client/broker roles, opening,
 * port reuse and closing. */
#include <string.h>

#include "buf_int.h"
#include "pcap_int.h"

bool kx__is_broker_port(const kx_reader *r, uint16_t port)
{
	for (size_t i = 0; i < r->opts.nbroker_ports; i++)
		if (r->opts.broker_ports[i] == port)
			return true;
	return false;
}

/* FNV-1a over the two endpoints in a fixed order, so both directions of
 * a connection hash alike. */
static uint64_t tuple_hash(const kx__seg *s)
{
	size_t alen = s->ip_version == 4 ? 4 : 16;
	uint8_t a[18], b[18];
	memcpy(a, s->src, alen);
	a[alen] = (uint8_t)(s->sport >> 8);
	a[alen + 1] = (uint8_t)s->sport;
	memcpy(b, s->dst, alen);
	b[alen] = (uint8_t)(s->dport >> 8);
	b[alen + 1] = (uint8_t)s->dport;
	if (memcmp(a, b, alen + 2) > 0) {
		uint8_t t[18];
		memcpy(t, a, sizeof t);
		memcpy(a, b, sizeof t);
		memcpy(b, t, sizeof t);
	}
	uint64_t h = 1469598103934665603ull ^ (uint64_t)s->ip_version;
	for (size_t i = 0; i < alen + 2; i++)
		h = (h ^ a[i]) * 1099511628211ull;
	for (size_t i = 0; i < alen + 2; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* Direction of s within k, or -1 when s is not k's. */
static int conn_dir(const kx__conn *k, const kx__seg *s)
{
	const kx_conn *f = &k->pub;
	size_t alen = s->ip_version == 4 ? 4 : 16;
	if (f->ip_version != s->ip_version)
		return -1;
	if (s->sport == f->client_port && s->dport == f->broker_port &&
	    !memcmp(s->src, f->client_ip, alen) &&
	    !memcmp(s->dst, f->broker_ip, alen))
		return KX_TO_BROKER;
	if (s->dport == f->client_port && s->sport == f->broker_port &&
	    !memcmp(s->dst, f->client_ip, alen) &&
	    !memcmp(s->src, f->broker_ip, alen))
		return KX_TO_CLIENT;
	return -1;
}

static kx__conn *conn_find(kx_reader *r, const kx__seg *s, uint64_t h)
{
	if (!r->tab)
		return NULL;
	for (kx__conn *k = r->tab[h & (r->tab_size - 1)]; k; k = k->hnext)
		if (k->key_hash == h && conn_dir(k, s) >= 0)
			return k;
	return NULL;
}

/* Double the table when it is full; on allocation failure the chains just
 * grow longer. */
static void tab_grow(kx_reader *r)
{
	if (r->tab && r->nconns < r->tab_size)
		return;
	size_t n = r->tab ? r->tab_size * 2 : 256;
	kx__conn **t = kc__malloc(n * sizeof *t);
	if (!t)
		return;
	memset(t, 0, n * sizeof *t);
	for (size_t i = 0; r->tab && i < r->tab_size; i++) {
		for (kx__conn *k = r->tab[i], *next; k; k = next) {
			next = k->hnext;
			k->hnext = t[k->key_hash & (n - 1)];
			t[k->key_hash & (n - 1)] = k;
		}
	}
	kc__free(r->tab);
	r->tab = t;
	r->tab_size = n;
}

static void live_unlink(kx_reader *r, kx__conn *k)
{
	if (k->lprev)
		k->lprev->lnext = k->lnext;
	else
		r->live_head = k->lnext;
	if (k->lnext)
		k->lnext->lprev = k->lprev;
	else
		r->live_tail = k->lprev;
	k->lprev = k->lnext = NULL;
	r->nlive--;
}

static void live_link(kx_reader *r, kx__conn *k)
{
	k->lprev = r->live_tail;
	k->lnext = NULL;
	if (r->live_tail)
		r->live_tail->lnext = k;
	else
		r->live_head = k;
	r->live_tail = k;
	r->nlive++;
}

static void tomb_unlink(kx_reader *r, kx__conn *k)
{
	kx__conn **pp = &r->tomb_head;
	kx__conn *prev = NULL;
	while (*pp && *pp != k) {
		prev = *pp;
		pp = &(*pp)->tnext;
	}
	if (!*pp)
		return;
	*pp = k->tnext;
	if (r->tomb_tail == k)
		r->tomb_tail = prev;
	k->tnext = NULL;
	r->ntombs--;
}

static void stream_free(kx__stream *st)
{
	kx__reasm_free(st);
	kc__free(st->buf);
	memset(st, 0, sizeof *st);
}

/* Drop k's buffers and pending requests. */
static void conn_release(kx__conn *k)
{
	stream_free(&k->s[0]);
	stream_free(&k->s[1]);
	kc__free(k->pend);
	k->pend = NULL;
	k->npend = k->pend_cap = 0;
}

static void hash_remove(kx_reader *r, kx__conn *k)
{
	kx__conn **pp = &r->tab[k->key_hash & (r->tab_size - 1)];
	while (*pp != k)
		pp = &(*pp)->hnext;
	*pp = k->hnext;
	r->nconns--;
}

/* Make k a tombstone: buffer-free, kept for its late packets, the oldest
 * forgotten past KX__MAX_TOMBSTONES. */
static void conn_bury(kx_reader *r, kx__conn *k, kx__conn_state state)
{
	conn_release(k);
	if (k->state == KX__CONN_OPEN || k->state == KX__CONN_UNDECIDED)
		live_unlink(r, k);
	k->state = state;
	k->tnext = NULL;
	if (r->tomb_tail)
		r->tomb_tail->tnext = k;
	else
		r->tomb_head = k;
	r->tomb_tail = k;
	if (++r->ntombs > KX__MAX_TOMBSTONES) {
		kx__conn *old = r->tomb_head;
		r->tomb_head = old->tnext;
		if (!r->tomb_head)
			r->tomb_tail = NULL;
		r->ntombs--;
		hash_remove(r, old);
		kc__free(old);
	}
}

/* Set k's roles: the client sends s when s_from_client. */
static void conn_roles(kx__conn *k, const kx__seg *s, bool s_from_client)
{
	size_t alen = s->ip_version == 4 ? 4 : 16;
	kx_conn *f = &k->pub;
	f->ip_version = s->ip_version;
	memset(f->client_ip, 0, sizeof f->client_ip);
	memset(f->broker_ip, 0, sizeof f->broker_ip);
	memcpy(f->client_ip, s_from_client ? s->src : s->dst, alen);
	memcpy(f->broker_ip, s_from_client ? s->dst : s->src, alen);
	f->client_port = s_from_client ? s->sport : s->dport;
	f->broker_port = s_from_client ? s->dport : s->sport;
	k->roles_known = true;
}

static int conn_opened(kx_reader *r, kx__conn *k)
{
	k->state = KX__CONN_OPEN;
	k->pub.id = ++r->next_conn_id;
	r->st.conns++;
	kx_event ev = {.type = KX_EV_CONN_OPEN};
	return kx__emit(r, k, &ev);
}

/* Start k afresh for segment s (a new connection, or a reused 4-tuple):
 * roles from the ports, else from a SYN, else undecided (detect mode). */
static int conn_start(kx_reader *r, kx__conn *k, const kx__seg *s)
{
	bool syn = s->flags & KX_TCP_SYN, ack = s->flags & KX_TCP_ACK;
	bool sb = kx__is_broker_port(r, s->sport);
	bool db = kx__is_broker_port(r, s->dport);
	memset(&k->pub, 0, sizeof k->pub);
	k->detect_tries = 0;
	k->roles_known = false;
	k->not_kafka = false;
	k->pub.first_ts_ns = r->ts_ns;
	k->state = KX__CONN_UNDECIDED;
	live_link(r, k);
	if (sb != db)
		conn_roles(k, s, db);
	else if (syn)
		conn_roles(k, s, !ack); /* SYN from the client, SYN-ACK back */
	else
		conn_roles(k, s, true); /* both broker ports: guess by dport */
	if (!sb && !db && !syn)
		k->roles_known = false; /* the addresses only match packets */
	if (sb || db)
		return conn_opened(r, k);
	return r->stop_rc;
}

/* A new connection for s, or NULL (not followed, or no memory: then
 * r->stop_rc is set). */
static kx__conn *conn_new(kx_reader *r, const kx__seg *s, uint64_t h)
{
	bool syn = s->flags & KX_TCP_SYN;
	bool ours = kx__is_broker_port(r, s->sport) ||
		    kx__is_broker_port(r, s->dport) || r->opts.detect_any_port;
	if (!ours || (!syn && s->len == 0)) {
		r->st.skipped_packets++;
		return NULL;
	}
	if (r->nlive >= r->opts.max_conns) {
		/* Room is made first from connections detect mode has not
		 * recognised yet, oldest first. */
		for (kx__conn *u = r->live_head; u; u = u->lnext) {
			if (u->state == KX__CONN_UNDECIDED) {
				r->st.conns_ignored++;
				conn_bury(r, u, KX__CONN_IGNORED);
				break;
			}
		}
	}
	if (r->nlive >= r->opts.max_conns) {
		r->st.conns_ignored++;
		kx__warn_once(r, KX_WARN_CONN_LIMIT,
			      "packet %llu: %zu connections followed already; "
			      "new ones are ignored",
			      (unsigned long long)r->packet, r->nlive);
		return NULL;
	}
	tab_grow(r);
	kx__conn *k = kc__malloc(sizeof *k);
	if (!k) {
		r->stop_rc = kx__fail(r, KX_ERR_NOMEM,
				      "out of memory for a connection");
		return NULL;
	}
	memset(k, 0, sizeof *k);
	k->key_hash = h;
	kx__conn **b = &r->tab[h & (r->tab_size - 1)];
	k->hnext = *b;
	*b = k;
	r->nconns++;
	conn_start(r, k, s);
	return k;
}

/* Detect mode: decide whether k carries Kafka from a data segment s. */
static int conn_detect(kx_reader *r, kx__conn *k, const kx__seg *s)
{
	if (s->len == 0)
		return 0;
	int dir = k->roles_known ? conn_dir(k, s) : -1;
	int pl = kx__plausible_request(s->payload, s->len,
				       r->opts.max_frame);
	if (pl == 1 && (dir == KX_TO_BROKER ||
			(!k->roles_known &&
			 !(s->flags & KX_TCP_SYN)))) {
		if (!k->roles_known)
			conn_roles(k, s, true);
		return conn_opened(r, k);
	}
	if (++k->detect_tries >= KX__DETECT_SEGMENTS ||
	    (k->roles_known && dir == KX_TO_BROKER && pl == 0 &&
	     k->s[KX_TO_BROKER].started &&
	     kx__reasm_rel(&k->s[KX_TO_BROKER], s->seq) == 0)) {
		r->st.conns_ignored++;
		conn_bury(r, k, KX__CONN_IGNORED);
	}
	return 0;
}

/* Whether both directions have finished (FIN reached in order). */
static bool conn_done(const kx__conn *k)
{
	for (int d = 0; d < 2; d++) {
		const kx__stream *st = &k->s[d];
		if (!st->fin || st->next_off < st->fin_off)
			return false;
	}
	return true;
}

int kx__conn_segment(kx_reader *r, const kx__seg *s)
{
	bool syn = s->flags & KX_TCP_SYN;
	uint64_t h = tuple_hash(s);
	kx__conn *k = conn_find(r, s, h);
	if (!k) {
		k = conn_new(r, s, h);
		if (!k)
			return r->stop_rc;
	} else if (k->state == KX__CONN_CLOSED ||
		   k->state == KX__CONN_IGNORED) {
		if (!syn) {
			r->st.skipped_packets++;
			return 0;
		}
		tomb_unlink(r, k);
		if (conn_start(r, k, s))
			return r->stop_rc;
	} else if (syn && k->roles_known) {
		/* A SYN with a new initial sequence number on a connection
		 * that carried data: the 4-tuple is reused. */
		int d = conn_dir(k, s);
		kx__stream *st = &k->s[d];
		bool data = k->s[0].next_off || k->s[1].next_off ||
			    k->s[0].len || k->s[1].len;
		if (st->started && st->base_seq != s->seq + 1 && data) {
			if (kx__conn_close(r, k, KX_CLOSE_REUSED))
				return r->stop_rc;
			tomb_unlink(r, k);
			if (conn_start(r, k, s))
				return r->stop_rc;
		}
	}
	if (k->state == KX__CONN_UNDECIDED && k->roles_known && syn) {
		/* Detect mode keeps the handshake, so the first request is
		 * checked at offset 0. */
		kx__stream *st = &k->s[conn_dir(k, s)];
		st->started = true;
		st->base_seq = s->seq + 1;
		k->pub.saw_syn = true;
		return 0;
	}
	if (k->state == KX__CONN_UNDECIDED) {
		if (conn_detect(r, k, s))
			return r->stop_rc;
		if (k->state == KX__CONN_UNDECIDED &&
		    (s->flags & (KX_TCP_FIN | KX_TCP_RST))) {
			/* Ended before it showed a request. */
			r->st.conns_ignored++;
			conn_bury(r, k, KX__CONN_IGNORED);
		}
		if (k->state != KX__CONN_OPEN)
			return r->stop_rc;
	}
	r->st.tcp_segments++;
	kx_dir dir = (kx_dir)conn_dir(k, s);
	kx__stream *st = &k->s[dir];
	uint32_t seq = s->seq;
	if (syn) {
		if (!st->started || (st->next_off == 0 && !st->len)) {
			st->started = true;
			st->base_seq = s->seq + 1;
			k->pub.saw_syn = true;
		}
		seq++; /* data on a SYN (TCP fast open) follows it */
	}
	/* The acknowledgement first: holes it shows in the other direction
	 * are settled (and the requests after them delivered) before this
	 * segment's data, which may answer them. */
	if ((s->flags & KX_TCP_ACK) && k->s[!dir].started) {
		if (kx__reasm_ack(r, k, (kx_dir)!dir, s->ack))
			return r->stop_rc;
	}
	if (!st->started && (s->len || s->cut)) {
		/* The capture shows this stream from the middle: frames are
		 * found by scanning. */
		st->started = true;
		st->base_seq = seq;
		st->scanning = true;
	}
	if (st->started && (s->len || s->cut || (s->flags & KX_TCP_FIN))) {
		if (kx__reasm_data(r, k, dir, seq, s->payload, s->len, s->cut,
				   s->flags & KX_TCP_FIN))
			return r->stop_rc;
	}
	if (s->flags & KX_TCP_RST)
		return kx__conn_close(r, k, KX_CLOSE_RST);
	if (conn_done(k))
		return kx__conn_close(r, k, KX_CLOSE_FIN);
	return r->stop_rc;
}

int kx__conn_close(kx_reader *r, kx__conn *k, kx_close_reason reason)
{
	if (k->state != KX__CONN_OPEN) {
		if (k->state == KX__CONN_UNDECIDED)
			conn_bury(r, k, KX__CONN_CLOSED);
		return r->stop_rc;
	}
	for (int d = 0; d < 2; d++)
		if (kx__reasm_flush(r, k, (kx_dir)d))
			return r->stop_rc;
	uint64_t unanswered = k->npend;
	r->st.unanswered_requests += unanswered;
	if (unanswered && reason != KX_CLOSE_END) {
		const kx__pending *p = &k->pend[0];
		if (kx__warn(r, k, KX_TO_BROKER, KX_WARN_UNANSWERED,
			     "%llu request(s) without a response at close, "
			     "the first correlation id %d (api key %d, packet "
			     "%llu)",
			     (unsigned long long)unanswered, p->correlation_id,
			     p->api_key, (unsigned long long)p->packet))
			return r->stop_rc;
	}
	kx_event ev = {.type = KX_EV_CONN_CLOSE, .close_reason = reason,
		       .unanswered = unanswered};
	kx__emit(r, k, &ev);
	conn_bury(r, k, KX__CONN_CLOSED);
	return r->stop_rc;
}

int kx__conn_finish_all(kx_reader *r)
{
	while (r->live_head && !r->stop_rc)
		kx__conn_close(r, r->live_head, KX_CLOSE_END);
	return r->stop_rc;
}

void kx__conn_free_all(kx_reader *r)
{
	for (size_t i = 0; r->tab && i < r->tab_size; i++) {
		for (kx__conn *k = r->tab[i], *next; k; k = next) {
			next = k->hnext;
			conn_release(k);
			kc__free(k);
		}
	}
	kc__free(r->tab);
	r->tab = NULL;
	r->tab_size = r->nconns = r->nlive = r->ntombs = 0;
	r->tomb_head = r->tomb_tail = r->live_head = r->live_tail = NULL;
}
