/* TCP reassembly of one direction: in-order bytes to the framer,
 * out-of-order bytes held (first data wins), holes turned into gaps. */
#include <string.h>

#include "buf_int.h"
#include "pcap_int.h"

int64_t kx__reasm_rel(const kx__stream *st, uint32_t seq)
{
	uint32_t cur = st->base_seq + (uint32_t)st->next_off;
	return (int64_t)st->next_off + (int32_t)(seq - cur);
}

void kx__reasm_free(kx__stream *st)
{
	for (kx__chunk *c = st->ooo, *next; c; c = next) {
		next = c->next;
		kc__free(c);
	}
	st->ooo = NULL;
	st->ooo_bytes = 0;
}

/* In-order bytes: to the framer, next_off advanced. */
static int deliver(kx_reader *r, kx__conn *k, kx_dir dir, const uint8_t *p,
		   size_t n)
{
	k->s[dir].next_off += n;
	return kx__framer_feed(r, k, dir, p, n);
}

/* Deliver buffered chunks that the stream has reached. */
static int drain(kx_reader *r, kx__conn *k, kx_dir dir)
{
	kx__stream *st = &k->s[dir];
	while (st->ooo && st->ooo->off <= st->next_off && !r->stop_rc) {
		kx__chunk *c = st->ooo;
		st->ooo = c->next;
		st->ooo_bytes -= c->len;
		if (c->off + c->len > st->next_off) {
			size_t t = (size_t)(st->next_off - c->off);
			r->st.duplicate_bytes += t;
			deliver(r, k, dir, c->data + t, c->len - t);
		} else {
			r->st.duplicate_bytes += c->len;
		}
		kc__free(c);
	}
	return r->stop_rc;
}

/* The bytes up to stream offset `to` are missing: a gap, then what
 * follows is delivered. */
static int gap_to(kx_reader *r, kx__conn *k, kx_dir dir, uint64_t to)
{
	kx__stream *st = &k->s[dir];
	if (to > st->next_off) {
		if (kx__framer_gap(r, k, dir, to - st->next_off))
			return r->stop_rc;
		st->next_off = to;
	}
	return drain(r, k, dir);
}

/* Hold [off, off+n) for later, keeping bytes already held where they
 * overlap (first data wins). */
static int hold(kx_reader *r, kx__stream *st, uint64_t off, const uint8_t *p,
		size_t n)
{
	uint64_t end = off + n, o = off;
	kx__chunk **pp = &st->ooo;
	while (o < end) {
		while (*pp && (*pp)->off + (*pp)->len <= o)
			pp = &(*pp)->next;
		kx__chunk *c = *pp;
		if (c && c->off <= o) {
			uint64_t ce = c->off + c->len;
			r->st.duplicate_bytes += (ce < end ? ce : end) - o;
			o = ce;
			continue;
		}
		uint64_t pe = c && c->off < end ? c->off : end;
		size_t len = (size_t)(pe - o);
		kx__chunk *nc = kc__malloc(sizeof *nc + len);
		if (!nc)
			return r->stop_rc = kx__fail(r, KX_ERR_NOMEM,
						     "out of memory holding "
						     "%zu out-of-order bytes",
						     len);
		nc->off = o;
		nc->len = len;
		memcpy(nc->data, p + (o - off), len);
		nc->next = c;
		*pp = nc;
		pp = &nc->next;
		st->ooo_bytes += len;
		o = pe;
	}
	return 0;
}

int kx__reasm_data(kx_reader *r, kx__conn *k, kx_dir dir, uint32_t seq,
		   const uint8_t *p, size_t len, size_t cut, bool fin)
{
	kx__stream *st = &k->s[dir];
	int64_t off = kx__reasm_rel(st, seq);
	int64_t ahead = off - (int64_t)st->next_off;
	if (ahead > (int64_t)KX__MAX_AHEAD) {
		r->st.malformed_packets++;
		return kx__warn_once(r, KX_WARN_MALFORMED,
				     "packet %llu: TCP sequence number %u is "
				     "%lld bytes past its stream; segment "
				     "dropped (later ones are counted, not "
				     "warned about)",
				     (unsigned long long)r->packet, seq,
				     (long long)ahead);
	}
	if (fin && !st->fin && off + (int64_t)(len + cut) >= 0) {
		st->fin = true;
		st->fin_off = (uint64_t)off + len + cut;
	}
	if (cut) {
		r->st.truncated_packets++;
		if (!st->warned_cut) {
			st->warned_cut = true;
			if (kx__warn(r, k, dir, KX_WARN_TRUNCATED,
				     "packet %llu: the snapshot length cut %zu "
				     "of %zu TCP payload bytes; later cut "
				     "packets of this stream are not warned "
				     "about",
				     (unsigned long long)r->packet, cut,
				     len + cut))
				return r->stop_rc;
		}
	}
	if (len == 0 && cut == 0)
		return r->stop_rc;
	uint64_t end = (uint64_t)(off + (int64_t)len);
	if (ahead > 0)
		r->st.ooo_segments++;
	while (len > 0 && !r->stop_rc) {
		if (off + (int64_t)len <= (int64_t)st->next_off) {
			r->st.duplicate_bytes += len;
			break;
		}
		if (off > (int64_t)st->next_off) {
			if (hold(r, st, (uint64_t)off, p, len))
				return r->stop_rc;
			break;
		}
		size_t t = (size_t)((int64_t)st->next_off - off);
		r->st.duplicate_bytes += t;
		off += (int64_t)t;
		p += t;
		len -= t;
		/* Held bytes came first: new bytes only up to them. */
		size_t n = len;
		if (st->ooo && st->ooo->off - st->next_off < n)
			n = (size_t)(st->ooo->off - st->next_off);
		if (deliver(r, k, dir, p, n) || drain(r, k, dir))
			return r->stop_rc;
		off += (int64_t)n;
		p += n;
		len -= n;
	}
	/* Bytes the snapshot length cut are a hole that no retransmission
	 * fills: report it at once when the stream has reached it. */
	if (cut && st->next_off == end && !st->ooo) {
		if (gap_to(r, k, dir, end + cut))
			return r->stop_rc;
	}
	while (st->ooo_bytes > r->opts.max_ooo_bytes && !r->stop_rc)
		gap_to(r, k, dir, st->ooo->off);
	return r->stop_rc;
}

int kx__reasm_ack(kx_reader *r, kx__conn *k, kx_dir dir, uint32_t ack)
{
	kx__stream *st = &k->s[dir];
	int64_t a = kx__reasm_rel(st, ack);
	if (a > (int64_t)st->acked_off &&
	    a - (int64_t)st->next_off <= (int64_t)KX__MAX_AHEAD)
		st->acked_off = (uint64_t)a;
	/* The peer has everything below a: a hole there was received by the
	 * peer but not by the capture, and will not be sent again. */
	while (st->ooo && a >= (int64_t)st->ooo->off && !r->stop_rc)
		gap_to(r, k, dir, st->ooo->off);
	return r->stop_rc;
}

int kx__reasm_flush(kx_reader *r, kx__conn *k, kx_dir dir)
{
	kx__stream *st = &k->s[dir];
	while (st->ooo && !r->stop_rc)
		gap_to(r, k, dir, st->ooo->off);
	/* Bytes up to the FIN, or acknowledged by the peer, were sent: the
	 * capture missed them. A FIN and its acknowledgement count one
	 * sequence number past the data. */
	uint64_t end = st->fin ? st->fin_off : 0;
	if (st->acked_off > end)
		end = st->acked_off - (st->fin ? 1 : 0);
	if (!r->stop_rc && end > st->next_off &&
	    end - st->next_off <= KX__MAX_AHEAD)
		gap_to(r, k, dir, end);
	if (r->stop_rc)
		return r->stop_rc;
	return kx__framer_end(r, k, dir);
}
