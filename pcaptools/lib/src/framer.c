/* Kafka framing of one direction's in-order bytes: int32 size + frame,
 * resynchronisation at the next plausible frame when out of step, and
 * request/response pairing by correlation id. */
#include <string.h>

#include "buf_int.h"
#include "kafkit/messages.h"
#include "pcap_int.h"

/* Bytes that always decide whether a position starts a plausible frame:
 * size, request header up to the client id, a client id of 255 bytes. */
#define KX__LOOKAHEAD (4 + 10 + 255)
/* Frame buffers above this are freed once empty. */
#define KX__KEEP_BUF ((size_t)256 << 10)
/* Bytes scanned without a frame before a stream is called not Kafka. */
#define KX__SCAN_WARN ((uint64_t)1 << 20)

typedef enum verdict { V_NEED, V_BAD, V_OK, V_BIG } verdict;

/* How much a request frame must prove: in step only what framing needs;
 * a connection's first request (seen from its SYN) must look like Kafka
 * without being known to the codec; while scanning, the plausibility
 * rules of kx__plausible_request. */
typedef enum strictness { J_SYNC, J_FIRST, J_SCAN } strictness;

/* Judge a request frame at p[0..n). *size gets the size prefix. */
static verdict judge_request(const uint8_t *p, size_t n, size_t max_frame,
			     strictness j, uint32_t *size)
{
	if (n < 4)
		return V_NEED;
	uint32_t sz = kc__get_be32(p);
	*size = sz;
	/* ControlledShutdown v0's header (key, version, id) is the
	 * shortest. */
	if (sz < 8 || sz > INT32_MAX || (j != J_SYNC && sz > max_frame))
		return V_BAD;
	if (n < 12)
		return V_NEED;
	int16_t key = (int16_t)kc__get_be16(p + 4);
	int16_t ver = (int16_t)kc__get_be16(p + 6);
	int32_t corr = (int32_t)kc__get_be32(p + 8);
	const kc_api *api = kc_api_find(key);
	if (key < 0 || ver < 0)
		return V_BAD;
	if (j == J_SCAN && (!api || ver < api->min_version ||
			    ver > api->max_version || corr < 0))
		return V_BAD;
	if (j == J_FIRST && corr < 0)
		return V_BAD;
	int16_t hv = api ? kc_request_header_version(key, ver) : 1;
	if (hv >= 1) {
		if (sz < 10)
			return V_BAD;
		if (n < 14)
			return V_NEED;
		int16_t cl = (int16_t)kc__get_be16(p + 12);
		if (cl < -1 || (cl > 0 && 10 + (uint32_t)cl > sz))
			return V_BAD;
		if (j == J_SCAN && cl > 255)
			return V_BAD;
		/* Client ids are text: no control characters. */
		if (j != J_SYNC && cl > 0 && cl <= 255) {
			if (n < 14 + (size_t)cl)
				return V_NEED;
			for (int16_t i = 0; i < cl; i++)
				if (p[14 + i] < 0x20 || p[14 + i] == 0x7f)
					return V_BAD;
		}
	}
	if (sz > max_frame)
		return sz > KX__MAX_SKIP_FRAME ? V_BAD : V_BIG;
	return V_OK;
}

int kx__plausible_request(const uint8_t *p, size_t n, size_t max_frame)
{
	uint32_t size;
	switch (judge_request(p, n, max_frame, J_SCAN, &size)) {
	case V_OK:
		return 1;
	case V_NEED:
		return -1;
	default:
		return 0;
	}
}

static size_t pending_find(const kx__conn *k, int32_t corr)
{
	for (size_t i = 0; i < k->npend; i++)
		if (k->pend[i].correlation_id == corr)
			return i;
	return SIZE_MAX;
}

static verdict judge_response(const kx__conn *k, const uint8_t *p, size_t n,
			      size_t max_frame, bool scanning, uint32_t *size)
{
	if (n < 4)
		return V_NEED;
	uint32_t sz = kc__get_be32(p);
	*size = sz;
	if (sz < 4 || sz > INT32_MAX)
		return V_BAD;
	if (n < 8)
		return V_NEED;
	if (scanning && (sz > max_frame ||
			 pending_find(k, (int32_t)kc__get_be32(p + 4)) ==
				 SIZE_MAX))
		return V_BAD;
	if (sz > max_frame)
		return sz > KX__MAX_SKIP_FRAME ? V_BAD : V_BIG;
	return V_OK;
}

static verdict judge(const kx_reader *r, const kx__conn *k, kx_dir dir,
		     const uint8_t *p, size_t n, uint32_t *size)
{
	const kx__stream *st = &k->s[dir];
	if (dir == KX_TO_BROKER) {
		strictness j = st->scanning			 ? J_SCAN
			       : st->pos == 0 && k->pub.saw_syn ? J_FIRST
								 : J_SYNC;
		return judge_request(p, n, r->opts.max_frame, j, size);
	}
	return judge_response(k, p, n, r->opts.max_frame, st->scanning, size);
}

/* Unsigned varint at p[*o..n); false when cut short or over 5 bytes. */
static bool uvarint(const uint8_t *p, size_t n, size_t *o, uint32_t *v)
{
	uint32_t x = 0;
	for (int shift = 0; shift < 35; shift += 7) {
		if (*o >= n)
			return false;
		uint8_t b = p[(*o)++];
		x |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Skip the tagged fields at p[*o..n). */
static bool skip_tags(const uint8_t *p, size_t n, size_t *o)
{
	uint32_t count, tag, len;
	if (!uvarint(p, n, o, &count))
		return false;
	for (uint32_t i = 0; i < count; i++) {
		if (!uvarint(p, n, o, &tag) || !uvarint(p, n, o, &len) ||
		    len > n - *o)
			return false;
		*o += len;
	}
	return true;
}

/* Produce's acks, read from the body at f[o..n): -2 when unreadable. The
 * body starts with transactional_id from v3 (compact from v9). */
static int produce_acks(const uint8_t *f, size_t n, size_t o, int16_t ver)
{
	if (ver >= 9) {
		uint32_t l;
		if (!uvarint(f, n, &o, &l) || (l && l - 1 > n - o))
			return -2;
		o += l ? l - 1 : 0;
	} else if (ver >= 3) {
		if (n - o < 2)
			return -2;
		int16_t l = (int16_t)kc__get_be16(f + o);
		o += 2;
		if (l > 0 && (size_t)l > n - o)
			return -2;
		o += l > 0 ? (size_t)l : 0;
	}
	if (n - o < 2)
		return -2;
	return (int16_t)kc__get_be16(f + o);
}

static int pending_push(kx_reader *r, kx__conn *k, const kx_event *ev)
{
	if (k->npend == KX__MAX_PENDING) {
		r->st.unanswered_requests++;
		memmove(k->pend, k->pend + 1, (k->npend - 1) * sizeof *k->pend);
		k->npend--;
	}
	if (k->npend == k->pend_cap) {
		size_t cap = k->pend_cap ? k->pend_cap * 2 : 8;
		kx__pending *np = kc__realloc(k->pend, cap * sizeof *np);
		if (!np)
			return r->stop_rc = kx__fail(r, KX_ERR_NOMEM,
						     "out of memory for "
						     "pending requests");
		k->pend = np;
		k->pend_cap = cap;
	}
	k->pend[k->npend++] = (kx__pending){
		.correlation_id = ev->correlation_id,
		.api_key = ev->api_key,
		.api_version = ev->api_version,
		.ts_ns = ev->ts_ns,
		.packet = ev->packet,
	};
	return 0;
}

static int deliver_request(kx_reader *r, kx__conn *k, const uint8_t *f,
			   size_t n, uint64_t off)
{
	kx_event ev = {.type = KX_EV_REQUEST, .dir = KX_TO_BROKER,
		       .stream_offset = off, .frame = f, .frame_len = n,
		       .expect_response = true, .client_id_len = -1};
	/* The judge saw the first 8 bytes. */
	ev.api_key = (int16_t)kc__get_be16(f);
	ev.api_version = (int16_t)kc__get_be16(f + 2);
	ev.correlation_id = (int32_t)kc__get_be32(f + 4);
	int16_t hv = kc_api_find(ev.api_key)
			     ? kc_request_header_version(ev.api_key,
							 ev.api_version)
			     : 1;
	size_t o = 8;
	ev.header_ok = true;
	if (hv >= 1) {
		int16_t cl = (int16_t)kc__get_be16(f + 8);
		o = 10;
		if (cl >= 0) {
			ev.client_id = (const char *)f + 10;
			ev.client_id_len = cl;
			o += (size_t)cl;
		}
		if (hv >= 2 && !skip_tags(f, n, &o))
			ev.header_ok = false;
	}
	ev.header_len = ev.header_ok ? o : 0;
	if (ev.header_ok && ev.api_key == 0 &&
	    produce_acks(f, n, o, ev.api_version) == 0)
		ev.expect_response = false;
	r->st.requests++;
	if (kx__emit(r, k, &ev))
		return r->stop_rc;
	return ev.expect_response ? pending_push(r, k, &ev) : 0;
}

static int deliver_response(kx_reader *r, kx__conn *k, const uint8_t *f,
			    size_t n, uint64_t off)
{
	kx_event ev = {.type = KX_EV_RESPONSE, .dir = KX_TO_CLIENT,
		       .stream_offset = off, .frame = f, .frame_len = n,
		       .api_key = -1, .api_version = -1, .header_ok = true,
		       .client_id_len = -1};
	ev.correlation_id = (int32_t)kc__get_be32(f);
	size_t i = pending_find(k, ev.correlation_id);
	if (i != SIZE_MAX) {
		const kx__pending *p = &k->pend[i];
		ev.paired = true;
		ev.api_key = p->api_key;
		ev.api_version = p->api_version;
		ev.request_ts_ns = p->ts_ns;
		ev.request_packet = p->packet;
		memmove(k->pend + i, k->pend + i + 1,
			(k->npend - i - 1) * sizeof *k->pend);
		k->npend--;
		size_t o = 4;
		if (kc_response_header_version(ev.api_key, ev.api_version) ==
			    1 &&
		    !skip_tags(f, n, &o))
			ev.header_ok = false;
		ev.header_len = ev.header_ok ? o : 0;
	} else {
		r->st.unpaired_responses++;
	}
	r->st.responses++;
	return kx__emit(r, k, &ev);
}

/* Framing found its step again: report the bytes skipped. */
static int resynced(kx_reader *r, kx__conn *k, kx_dir dir)
{
	kx__stream *st = &k->s[dir];
	bool was = st->scanning || st->resuming;
	st->scanning = st->resuming = false;
	if (!was || !st->scan_skipped)
		return 0;
	r->st.resyncs++;
	r->st.resync_bytes += st->scan_skipped;
	kx_event ev = {.type = KX_EV_RESYNC, .dir = dir,
		       .stream_offset = st->scan_off,
		       .bytes = st->scan_skipped};
	return kx__emit(r, k, &ev);
}

static int deliver(kx_reader *r, kx__conn *k, kx_dir dir, const uint8_t *p,
		   uint32_t size)
{
	kx__stream *st = &k->s[dir];
	uint64_t off = st->pos;
	if (resynced(r, k, dir))
		return r->stop_rc;
	if (dir == KX_TO_BROKER)
		return deliver_request(r, k, p + 4, size, off);
	return deliver_response(r, k, p + 4, size, off);
}

/* Framing is lost: scan from the current position. */
static void start_scan(kx__stream *st)
{
	if (!st->scanning && !st->resuming) {
		st->scan_off = st->pos;
		st->scan_skipped = 0;
	}
	st->scanning = true;
	st->resuming = false;
}

/* One byte given up while scanning (the caller moves past it). */
static int scan_skip(kx_reader *r, kx__conn *k, kx_dir dir)
{
	kx__stream *st = &k->s[dir];
	if (++st->scan_skipped == KX__SCAN_WARN && !st->warned_scan) {
		st->warned_scan = true;
		return kx__warn(r, k, dir, KX_WARN_NOT_KAFKA,
				"no plausible Kafka frame in %llu bytes from "
				"stream offset %llu",
				(unsigned long long)st->scan_skipped,
				(unsigned long long)st->scan_off);
	}
	return 0;
}

static int bad_frame(kx_reader *r, kx__conn *k, kx_dir dir, uint32_t size,
		     const uint8_t *p, size_t n)
{
	kx__stream *st = &k->s[dir];
	if (dir == KX_TO_BROKER && st->pos == 0 && k->pub.saw_syn) {
		/* The very first bytes a client sent are no request: this
		 * connection speaks something else. */
		k->not_kafka = true;
		r->st.conns_ignored++;
		bool tls = n >= 2 && p[0] == 0x16 && p[1] == 0x03;
		return kx__warn(r, k, dir, KX_WARN_NOT_KAFKA,
				"packet %llu: the client's first bytes are not "
				"a Kafka request%s; connection ignored",
				(unsigned long long)r->packet,
				tls ? " (a TLS handshake)" : "");
	}
	start_scan(st);
	return kx__warn(r, k, dir, KX_WARN_BAD_FRAME,
			"packet %llu: %s at stream offset %llu: size %u or "
			"header not plausible; looking for the next frame",
			(unsigned long long)r->packet,
			dir == KX_TO_BROKER ? "request" : "response",
			(unsigned long long)st->pos, size);
}

static int too_big(kx_reader *r, kx__conn *k, kx_dir dir, uint32_t size)
{
	kx__stream *st = &k->s[dir];
	if (resynced(r, k, dir))
		return r->stop_rc;
	st->skip = 4 + (uint64_t)size;
	r->st.frames_too_big++;
	return kx__warn(r, k, dir, KX_WARN_FRAME_TOO_BIG,
			"packet %llu: %s of %u bytes at stream offset %llu "
			"is over the %zu-byte limit; skipped",
			(unsigned long long)r->packet,
			dir == KX_TO_BROKER ? "request" : "response", size,
			(unsigned long long)st->pos, r->opts.max_frame);
}

static int buf_append(kx_reader *r, kx__stream *st, const uint8_t *p,
		      size_t n)
{
	if (st->len + n > st->cap) {
		size_t cap = st->cap ? st->cap : 512;
		while (cap < st->len + n)
			cap *= 2;
		uint8_t *nb = kc__realloc(st->buf, cap);
		if (!nb)
			return r->stop_rc = kx__fail(r, KX_ERR_NOMEM,
						     "out of memory for a "
						     "%zu-byte frame",
						     st->len + n);
		st->buf = nb;
		st->cap = cap;
	}
	memcpy(st->buf + st->len, p, n);
	st->len += n;
	return 0;
}

static void buf_consume(kx__stream *st, size_t n)
{
	memmove(st->buf, st->buf + n, st->len - n);
	st->len -= n;
	st->pos += n;
}

/* Frames straight from the input while nothing is buffered: the common
 * case copies nothing. Returns bytes used; stops at a partial frame. */
static size_t feed_direct(kx_reader *r, kx__conn *k, kx_dir dir,
			  const uint8_t *p, size_t n)
{
	kx__stream *st = &k->s[dir];
	size_t used = 0;
	while (used < n && !st->skip && !r->stop_rc && !k->not_kafka) {
		uint32_t size = 0;
		verdict v = judge(r, k, dir, p + used, n - used, &size);
		if (v == V_OK && n - used >= 4 + (size_t)size) {
			deliver(r, k, dir, p + used, size);
			used += 4 + (size_t)size;
			st->pos += 4 + (size_t)size;
		} else if (v == V_BAD) {
			if (st->scanning) {
				scan_skip(r, k, dir);
				used++;
				st->pos++;
			} else {
				bad_frame(r, k, dir, size, p + used,
					  n - used);
			}
		} else if (v == V_BIG) {
			too_big(r, k, dir, size);
		} else {
			break;
		}
	}
	return used;
}

int kx__framer_feed(kx_reader *r, kx__conn *k, kx_dir dir, const uint8_t *p,
		    size_t n)
{
	kx__stream *st = &k->s[dir];
	while (!r->stop_rc && !k->not_kafka) {
		if (st->skip) {
			size_t t;
			if (st->len) {
				t = st->len < st->skip ? st->len
						       : (size_t)st->skip;
				buf_consume(st, t);
			} else {
				if (!n)
					break;
				t = n < st->skip ? n : (size_t)st->skip;
				p += t;
				n -= t;
				st->pos += t;
			}
			st->skip -= t;
			if (st->resuming)
				st->scan_skipped += t;
			continue;
		}
		if (!st->len) {
			if (!n)
				break;
			size_t used = feed_direct(r, k, dir, p, n);
			p += used;
			n -= used;
			if (st->skip || r->stop_rc)
				continue;
			if (!n)
				break;
		}
		uint32_t size = 0;
		verdict v = st->len ? judge(r, k, dir, st->buf, st->len, &size)
				    : V_NEED;
		if (v == V_OK && st->len >= 4 + (size_t)size) {
			deliver(r, k, dir, st->buf, size);
			buf_consume(st, 4 + (size_t)size);
			if (!st->len && st->cap > KX__KEEP_BUF) {
				/* Do not hold a big frame's room for the
				 * connection's life. */
				kc__free(st->buf);
				st->buf = NULL;
				st->cap = 0;
			}
		} else if (v == V_BAD) {
			if (st->scanning) {
				buf_consume(st, 1);
				scan_skip(r, k, dir);
			} else {
				bad_frame(r, k, dir, size, st->buf, st->len);
			}
		} else if (v == V_BIG) {
			too_big(r, k, dir, size);
		} else {
			if (!n)
				break;
			size_t want = v == V_OK ? 4 + (size_t)size
						: KX__LOOKAHEAD;
			size_t t = want > st->len ? want - st->len : 1;
			if (t > n)
				t = n;
			if (buf_append(r, st, p, t))
				break;
			p += t;
			n -= t;
		}
	}
	return r->stop_rc;
}

int kx__framer_gap(kx_reader *r, kx__conn *k, kx_dir dir, uint64_t n)
{
	kx__stream *st = &k->s[dir];
	uint64_t off = st->next_off;
	if (k->not_kafka)
		return 0;
	r->st.gaps++;
	r->st.gap_bytes += n;
	kx_event ev = {.type = KX_EV_GAP, .dir = dir, .stream_offset = off,
		       .bytes = n};
	if (kx__emit(r, k, &ev))
		return r->stop_rc;
	uint64_t gap_end = off + n;
	if (st->skip >= n) {
		/* The hole lies inside a frame being skipped. */
		st->skip -= n;
		st->pos = gap_end;
		return 0;
	}
	st->skip = 0;
	/* A partial frame of known size: skip the rest of it when the hole
	 * ends inside it, and frame on from its end without scanning. */
	uint32_t size = 0;
	verdict v = V_BAD;
	if (!st->scanning && st->len >= 4)
		v = judge(r, k, dir, st->buf, st->len, &size);
	uint64_t fend = st->pos + 4 + (uint64_t)size;
	if (!st->scanning && !st->resuming) {
		st->scan_off = st->pos;
		st->scan_skipped = 0;
	}
	st->scan_skipped += st->len;
	if ((v == V_OK || v == V_NEED) && gap_end <= fend) {
		st->resuming = true;
		st->skip = fend - gap_end;
	} else {
		st->scanning = true;
		st->resuming = false;
	}
	st->len = 0;
	st->pos = gap_end;
	return 0;
}

int kx__framer_end(kx_reader *r, kx__conn *k, kx_dir dir)
{
	kx__stream *st = &k->s[dir];
	uint64_t left = st->len;
	int rc = 0;
	if (k->not_kafka) {
		/* Nothing of it was Kafka: nothing to report. */
	} else if (st->scanning && (left || st->scan_skipped)) {
		rc = kx__warn(r, k, dir, KX_WARN_TRAILING,
			      "%llu bytes from stream offset %llu to the end "
			      "hold no plausible frame",
			      (unsigned long long)(st->scan_skipped + left),
			      (unsigned long long)st->scan_off);
	} else if (left || st->skip) {
		uint64_t want = left >= 4 ? 4 + (uint64_t)kc__get_be32(st->buf)
					  : 4;
		if (st->skip)
			want = left + st->skip;
		rc = kx__warn(r, k, dir, KX_WARN_TRAILING,
			      "the stream ends inside a %s at offset %llu: "
			      "%llu of its %llu bytes seen",
			      dir == KX_TO_BROKER ? "request" : "response",
			      (unsigned long long)st->pos,
			      (unsigned long long)left,
			      (unsigned long long)want);
	}
	kc__free(st->buf);
	st->buf = NULL;
	st->len = st->cap = 0;
	st->skip = 0;
	return rc ? r->stop_rc : 0;
}
