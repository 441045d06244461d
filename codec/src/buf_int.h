/*
 * Internal inline read/write primitives used by generated and hand-written
 * encoders and decoders. Not installed.
 *
 * Writers: void; errors are sticky in the writer (see kafkit/buf.h).
 * Readers: return KC_OK or an error already recorded in r->err with the
 * field name given and the offset where the field starts.
 */
#ifndef KAFKIT_BUF_INT_H
#define KAFKIT_BUF_INT_H

#include <string.h>

#include "kafkit/buf.h"

/* Per-field primitives: forced inline, so a constant argument (a prefix
 * kind, a field name) folds away and each field is straight-line code even
 * in the large generated messages.c, where gcc's size heuristics would
 * otherwise leave them as calls. Slow paths stay out of line (static, so
 * unused copies in a file are dropped silently). */
#if defined(__GNUC__)
#define KC__INLINE inline __attribute__((always_inline))
#define KC__NOINLINE __attribute__((noinline, unused))
#else
#define KC__INLINE inline
#define KC__NOINLINE
#endif

/* Propagate a non-OK kc_err. */
#define KC__TRY(expr)                                                          \
	do {                                                                   \
		kc_err kc__e = (expr);                                         \
		if (kc__e != KC_OK)                                            \
			return kc__e;                                          \
	} while (0)

void *kc__malloc(size_t n);
void *kc__realloc(void *p, size_t n);
void kc__free(void *p);

/* Slow path of kc__w_room: grow the buffer. Returns NULL and sets the
 * sticky error on failure. */
uint8_t *kc__writer_grow(kc_writer *w, size_t n);

/* A writer's state, to undo a failed encode (kc__writer_rewind()). */
typedef struct kc__wmark {
	size_t len, nsegs, ext_total, owned_mark;
} kc__wmark;

static inline kc__wmark kc__writer_mark(const kc_writer *w)
{
	return (kc__wmark){w->len, w->nsegs, w->ext_total, w->owned_mark};
}

/* Back to mark m (taken on this writer, with no rewind to an earlier
 * mark in between), the sticky error cleared. */
static inline void kc__writer_rewind(kc_writer *w, kc__wmark m)
{
	w->len = m.len;
	w->nsegs = m.nsegs;
	w->ext_total = m.ext_total;
	w->owned_mark = m.owned_mark;
	w->err = KC_OK;
}

/* Copy every external segment into w's own buffer, in order, so that the
 * output becomes contiguous (kc_writer_data() works again); reserved
 * slots keep their offsets only if they precede the first external
 * segment. Returns KC_OK or KC_ERR_NOMEM (w unchanged, the sticky error
 * cleared). */
kc_err kc__writer_flatten(kc_writer *w);

/* ---- big-endian helpers ---------------------------------------------- */

static inline void kc__be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void kc__be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void kc__be64(uint8_t *p, uint64_t v)
{
	kc__be32(p, (uint32_t)(v >> 32));
	kc__be32(p + 4, (uint32_t)v);
}
static inline uint16_t kc__get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t kc__get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t kc__get_be64(const uint8_t *p)
{
	return (uint64_t)kc__get_be32(p) << 32 | kc__get_be32(p + 4);
}

/* ---- varint sizes ------------------------------------------------------ */

static KC__INLINE size_t kc__uvarint_size(uint64_t v)
{
#if defined(__GNUC__)
	/* ceil(bits / 7) as (9 * bits + 64) / 64, exact for 1..64 bits */
	unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1);
	return (9u * bits + 64u) / 64u;
#else
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
#endif
}
static KC__INLINE uint32_t kc__zigzag32(int32_t v)
{
	return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
static KC__INLINE uint64_t kc__zigzag64(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static KC__INLINE size_t kc__varint_size(int32_t v)
{
	return kc__uvarint_size(kc__zigzag32(v));
}
static KC__INLINE size_t kc__varlong_size(int64_t v)
{
	return kc__uvarint_size(kc__zigzag64(v));
}

/* ---- writer primitives -------------------------------------------------- */

/* Pointer to n writable owned bytes, or NULL after an error. */
static KC__INLINE uint8_t *kc__w_room(kc_writer *w, size_t n)
{
	if (w->cap - w->len >= n)
		return w->buf + w->len;
	return kc__writer_grow(w, n);
}

static KC__INLINE void kc__w_i8(kc_writer *w, int8_t v)
{
	uint8_t *p = kc__w_room(w, 1);
	if (p) {
		p[0] = (uint8_t)v;
		w->len += 1;
	}
}
static KC__INLINE void kc__w_i16(kc_writer *w, int16_t v)
{
	uint8_t *p = kc__w_room(w, 2);
	if (p) {
		kc__be16(p, (uint16_t)v);
		w->len += 2;
	}
}
static KC__INLINE void kc__w_u16(kc_writer *w, uint16_t v)
{
	kc__w_i16(w, (int16_t)v);
}
static KC__INLINE void kc__w_i32(kc_writer *w, int32_t v)
{
	uint8_t *p = kc__w_room(w, 4);
	if (p) {
		kc__be32(p, (uint32_t)v);
		w->len += 4;
	}
}
static KC__INLINE void kc__w_u32(kc_writer *w, uint32_t v)
{
	kc__w_i32(w, (int32_t)v);
}
static KC__INLINE void kc__w_i64(kc_writer *w, int64_t v)
{
	uint8_t *p = kc__w_room(w, 8);
	if (p) {
		kc__be64(p, (uint64_t)v);
		w->len += 8;
	}
}
static KC__INLINE void kc__w_f64(kc_writer *w, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof u);
	kc__w_i64(w, (int64_t)u);
}
static KC__INLINE void kc__w_bool(kc_writer *w, bool v)
{
	kc__w_i8(w, v ? 1 : 0);
}
static inline void kc__w_uuid(kc_writer *w, const kc_uuid *v)
{
	uint8_t *p = kc__w_room(w, 16);
	if (p) {
		memcpy(p, v->b, 16);
		w->len += 16;
	}
}
/* Varints of three bytes or more at p; returns their length. */
static KC__NOINLINE size_t kc__put_long_uvarint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}
/* Most varints are one or two bytes (lengths, deltas): those inline. */
static KC__INLINE void kc__w_uvarint(kc_writer *w, uint64_t v)
{
	uint8_t *p = kc__w_room(w, 10);
	if (!p)
		return;
	if (v < 0x80) {
		p[0] = (uint8_t)v;
		w->len += 1;
	} else if (v < 0x4000) {
		p[0] = (uint8_t)(v | 0x80);
		p[1] = (uint8_t)(v >> 7);
		w->len += 2;
	} else {
		w->len += kc__put_long_uvarint(p, v);
	}
}
static KC__INLINE void kc__w_varint(kc_writer *w, int32_t v)
{
	kc__w_uvarint(w, kc__zigzag32(v));
}
static KC__INLINE void kc__w_varlong(kc_writer *w, int64_t v)
{
	kc__w_uvarint(w, kc__zigzag64(v));
}
/* Raw bytes of a value: copied, or referenced past the threshold. */
static KC__INLINE void kc__w_raw(kc_writer *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (w->ref_threshold == 0 || n < w->ref_threshold) {
		uint8_t *d = kc__w_room(w, n);
		if (d) {
			memcpy(d, p, n);
			w->len += n;
		}
		return;
	}
	kc_writer_put(w, p, n);
}

/* ---- reader primitives -------------------------------------------------- */

/* Record a failure at the cursor and return `code`. */
kc_err kc__r_fail(kc_reader *r, kc_err code, const char *field);
/* Record a failure at an explicit position and return `code`. */
kc_err kc__r_fail_at(kc_reader *r, const uint8_t *at, kc_err code,
		     const char *field);

static KC__INLINE size_t kc__r_left(const kc_reader *r)
{
	return (size_t)(r->end - r->p);
}

static KC__INLINE kc_err kc__r_i8(kc_reader *r, int8_t *v, const char *field)
{
	if (r->end - r->p < 1)
		return kc__r_fail(r, KC_ERR_TRUNCATED, field);
	*v = (int8_t)r->p[0];
	r->p += 1;
	return KC_OK;
}
static KC__INLINE kc_err kc__r_i16(kc_reader *r, int16_t *v, const char *field)
{
	if (r->end - r->p < 2)
		return kc__r_fail(r, KC_ERR_TRUNCATED, field);
	*v = (int16_t)kc__get_be16(r->p);
	r->p += 2;
	return KC_OK;
}
static KC__INLINE kc_err kc__r_u16(kc_reader *r, uint16_t *v, const char *field)
{
	return kc__r_i16(r, (int16_t *)v, field);
}
static KC__INLINE kc_err kc__r_i32(kc_reader *r, int32_t *v, const char *field)
{
	if (r->end - r->p < 4)
		return kc__r_fail(r, KC_ERR_TRUNCATED, field);
	*v = (int32_t)kc__get_be32(r->p);
	r->p += 4;
	return KC_OK;
}
static KC__INLINE kc_err kc__r_u32(kc_reader *r, uint32_t *v, const char *field)
{
	return kc__r_i32(r, (int32_t *)v, field);
}
static KC__INLINE kc_err kc__r_i64(kc_reader *r, int64_t *v, const char *field)
{
	if (r->end - r->p < 8)
		return kc__r_fail(r, KC_ERR_TRUNCATED, field);
	*v = (int64_t)kc__get_be64(r->p);
	r->p += 8;
	return KC_OK;
}
static inline kc_err kc__r_f64(kc_reader *r, double *v, const char *field)
{
	int64_t u = 0;
	KC__TRY(kc__r_i64(r, &u, field));
	memcpy(v, &u, sizeof *v);
	return KC_OK;
}
static inline kc_err kc__r_bool(kc_reader *r, bool *v, const char *field)
{
	int8_t b = 0;
	KC__TRY(kc__r_i8(r, &b, field));
	*v = b != 0;
	return KC_OK;
}
static inline kc_err kc__r_uuid(kc_reader *r, kc_uuid *v, const char *field)
{
	if (r->end - r->p < 16)
		return kc__r_fail(r, KC_ERR_TRUNCATED, field);
	memcpy(v->b, r->p, 16);
	r->p += 16;
	return KC_OK;
}
/* A varint of one or two bytes: read it and return true; otherwise
 * (longer, truncated or malformed) leave the cursor and return false. */
static KC__INLINE bool kc__r_short_uvarint(kc_reader *r, uint32_t *u)
{
	const uint8_t *p = r->p;
	if (p < r->end && p[0] < 0x80) {
		*u = p[0];
		r->p = p + 1;
		return true;
	}
	if (r->end - p >= 2 && p[1] < 0x80) {
		*u = (uint32_t)(p[0] & 0x7f) | (uint32_t)p[1] << 7;
		r->p = p + 2;
		return true;
	}
	return false;
}
/* Unsigned varint of at most max_bytes bytes (5 for 32-bit, 10 for 64):
 * the checked loop behind the short fast path. */
static KC__NOINLINE kc_err kc__r_uvarint_n(kc_reader *r, uint64_t *v,
						  unsigned max_bytes,
						  const char *field)
{
	const uint8_t *p = r->p;
	uint64_t out = 0;
	for (unsigned i = 0; i < max_bytes; i++) {
		if (p + i >= r->end)
			return kc__r_fail(r, KC_ERR_TRUNCATED, field);
		uint8_t b = p[i];
		out |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			r->p = p + i + 1;
			*v = out;
			return KC_OK;
		}
	}
	return kc__r_fail(r, KC_ERR_VARINT, field);
}
static KC__NOINLINE kc_err kc__r_uvarint_long(kc_reader *r,
						     uint32_t *v,
						     const char *field)
{
	uint64_t u = 0;
	KC__TRY(kc__r_uvarint_n(r, &u, 5, field));
	if (u > UINT32_MAX)
		return kc__r_fail(r, KC_ERR_VARINT, field);
	*v = (uint32_t)u;
	return KC_OK;
}
static KC__INLINE kc_err kc__r_uvarint(kc_reader *r, uint32_t *v,
				       const char *field)
{
	if (kc__r_short_uvarint(r, v))
		return KC_OK;
	return kc__r_uvarint_long(r, v, field);
}
static KC__INLINE kc_err kc__r_varint(kc_reader *r, int32_t *v,
				      const char *field)
{
	uint32_t u;
	if (!kc__r_short_uvarint(r, &u))
		KC__TRY(kc__r_uvarint_long(r, &u, field));
	*v = (int32_t)(u >> 1) ^ -(int32_t)(u & 1);
	return KC_OK;
}
static KC__INLINE kc_err kc__r_varlong(kc_reader *r, int64_t *v,
				       const char *field)
{
	uint32_t s;
	if (kc__r_short_uvarint(r, &s)) {
		*v = (int64_t)(s >> 1) ^ -(int64_t)(s & 1);
		return KC_OK;
	}
	uint64_t u = 0;
	KC__TRY(kc__r_uvarint_n(r, &u, 10, field));
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return KC_OK;
}
/* n raw bytes as a slice into the input. */
static KC__INLINE kc_err kc__r_take(kc_reader *r, size_t n, const uint8_t **out,
				const char *field)
{
	if ((size_t)(r->end - r->p) < n)
		return kc__r_fail(r, KC_ERR_BAD_LENGTH, field);
	*out = r->p;
	r->p += n;
	return KC_OK;
}
/* Check an element count against the bytes left before anything is
 * allocated: each element needs at least min_elem_size bytes (>= 1 unless
 * elements can be empty, then pass 0 and the caller bounds it otherwise). */
static KC__INLINE kc_err kc__r_check_count(kc_reader *r, const uint8_t *at,
				       int64_t count, size_t min_elem_size,
				       const char *field)
{
	if (count < 0)
		return kc__r_fail_at(r, at, KC_ERR_BAD_COUNT, field);
	if (min_elem_size &&
	    (uint64_t)count > kc__r_left(r) / min_elem_size)
		return kc__r_fail_at(r, at, KC_ERR_BAD_COUNT, field);
	return KC_OK;
}
/* A sub-reader over the next n bytes (a length-delimited region); the
 * parent skips them. Errors in the sub-reader are recorded in the same
 * kc_decode_error, with offsets from the same base. Copied member by
 * member: a whole-struct copy right after the cursor moved stalls on
 * store forwarding (the hot Record decode shows it). */
static KC__INLINE kc_err kc__r_sub(kc_reader *r, size_t n, kc_reader *sub,
				   const char *field)
{
	const uint8_t *p = r->p;
	if ((size_t)(r->end - p) < n)
		return kc__r_fail(r, KC_ERR_BAD_LENGTH, field);
	sub->p = p;
	sub->end = p + n;
	sub->base = r->base;
	sub->err = r->err;
	sub->flags = r->flags;
	sub->max_decompressed = r->max_decompressed;
	r->p = p + n;
	return KC_OK;
}

#endif
