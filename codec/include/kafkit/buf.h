/*
 * kafkit codec: slices, writer, reader, arena, allocator hook.
 *
 * The codec does no I/O. Encoders append to a kc_writer; decoders read from
 * a kc_reader over the caller's bytes and return slices into those bytes
 * (zero-copy), with arrays carved from a caller-supplied kc_arena.
 *
 * Threading: every object here belongs to one thread at a time. The
 * allocator hook is process-wide and must be set before any other call.
 */
#ifndef KAFKIT_BUF_H
#define KAFKIT_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kafkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- slices ------------------------------------------------------------ */

/* A string slice, not NUL-terminated. len == -1 means null. A decoded slice
 * points into the decoder's input and is valid while that input lives. */
typedef struct kc_str {
	const char *ptr;
	int32_t len;
} kc_str;

/* A byte slice. len == -1 means null. Same lifetime rule as kc_str. */
typedef struct kc_bytes {
	const uint8_t *ptr;
	int32_t len;
} kc_bytes;

/* A 16-byte UUID in wire order (high 64 bits first, big-endian). */
typedef struct kc_uuid {
	uint8_t b[16];
} kc_uuid;

#define KC_STR_NULL ((kc_str){NULL, -1})
#define KC_BYTES_NULL ((kc_bytes){NULL, -1})
/* A kc_str for a string literal. */
#define KC_STR_LIT(s) ((kc_str){(s), (int32_t)(sizeof(s) - 1)})

/* kc_str over a NUL-terminated C string; NULL gives a null kc_str. */
kc_str kc_str_c(const char *s);
/* kc_bytes over n bytes at p; p == NULL gives a null kc_bytes. */
kc_bytes kc_bytes_of(const void *p, size_t n);
/* 1 when both slices are null, or both non-null with equal bytes. */
int kc_str_eq(kc_str a, kc_str b);
int kc_bytes_eq(kc_bytes a, kc_bytes b);

/* ---- allocator hook ---------------------------------------------------- */

typedef struct kc_allocator {
	void *(*malloc_fn)(size_t n, void *opaque);
	void *(*realloc_fn)(void *p, size_t n, void *opaque);
	void (*free_fn)(void *p, void *opaque);
	void *opaque;
} kc_allocator;

/* Route every codec allocation through `a` (NULL restores malloc/free).
 * Not thread-safe: call before the codec is used, e.g. from a test that
 * fails the Nth allocation to prove error paths free what they took. */
void kc_set_allocator(const kc_allocator *a);

/* ---- arena ------------------------------------------------------------- */

/* Bump allocator for decoded arrays and decompressed regions. Everything it
 * hands out lives until kc_arena_reset() or kc_arena_free(). */
typedef struct kc_arena {
	struct kc__arena_chunk *chunks; /* owned chunks, newest first */
	uint8_t *cur, *end;             /* free space in the newest chunk */
	size_t used;                    /* bytes handed out since the last reset */
	size_t limit;                   /* 0 = unlimited; else alloc fails past it */
} kc_arena;

/* Empty arena; allocates its first chunk on first use. */
void kc_arena_init(kc_arena *a);
/* Returns n bytes aligned to 8, or NULL (out of memory, or `limit` hit). */
void *kc_arena_alloc(kc_arena *a, size_t n);
/* Forget every allocation but keep one chunk for reuse. */
void kc_arena_reset(kc_arena *a);
/* Release everything. The arena may be initialised again afterwards. */
void kc_arena_free(kc_arena *a);

/* ---- writer ------------------------------------------------------------ */

/* One external piece of a writer's output (iovec mode). */
typedef struct kc__wseg {
	const uint8_t *ext; /* NULL: owned bytes [off, off+len) of buf */
	size_t off;
	size_t len;
} kc__wseg;

/* Growable output buffer. Errors are sticky: after a failed allocation every
 * further write is a no-op and kc_writer_err() reports KC_ERR_NOMEM, so an
 * encoder writes straight-line and checks once at the end.
 *
 * iovec mode: with kc_writer_set_ref_threshold(w, n), byte/string values of
 * at least n bytes are referenced, not copied; the output is then read with
 * kc_writer_iov() and the referenced memory must outlive that read. */
typedef struct kc_writer {
	uint8_t *buf;
	size_t len;        /* owned bytes written */
	size_t cap;
	size_t ext_total;  /* bytes referenced in external segments */
	kc__wseg *segs;    /* closed segments, in output order */
	size_t nsegs, segs_cap;
	size_t owned_mark; /* owned bytes already covered by segs */
	size_t ref_threshold; /* 0 = never reference */
	kc_err err;
} kc_writer;

/* A reserved gap in the output, patched later (lengths, CRCs). */
typedef struct kc_wslot {
	size_t off; /* offset in buf */
	size_t pos; /* logical output position of the gap */
	size_t len;
} kc_wslot;

/* Empty writer; allocates on first write. Never fails. */
void kc_writer_init(kc_writer *w);
/* Release the buffer. The writer may be initialised again afterwards. */
void kc_writer_free(kc_writer *w);
/* Drop the contents, keep the buffer. Clears a sticky error. */
void kc_writer_reset(kc_writer *w);
/* Reference (not copy) byte values of at least n bytes; 0 disables. */
void kc_writer_set_ref_threshold(kc_writer *w, size_t n);
/* KC_OK or the sticky error. */
kc_err kc_writer_err(const kc_writer *w);
/* Logical bytes written so far (owned + referenced). */
size_t kc_writer_pos(const kc_writer *w);
/* Contiguous output. Precondition: nothing was referenced (no iovec
 * entries); otherwise returns NULL. Valid until the next write. */
const uint8_t *kc_writer_data(const kc_writer *w);
/* Output as iovecs. Fills at most max entries and returns how many are
 * needed (call again with a larger array if that exceeds max). Valid until
 * the next write. */
size_t kc_writer_iov(const kc_writer *w, struct iovec *iov, size_t max);
/* Make room for at least n more owned bytes; returns a pointer to them or
 * NULL on failure (sticky KC_ERR_NOMEM). Advance with kc_writer_commit(). */
uint8_t *kc_writer_space(kc_writer *w, size_t n);
void kc_writer_commit(kc_writer *w, size_t n);
/* Append n bytes (copied, or referenced in iovec mode past the threshold). */
void kc_writer_put(kc_writer *w, const void *p, size_t n);
/* Append n bytes, always copied. */
void kc_writer_copy(kc_writer *w, const void *p, size_t n);
/* Reserve n owned bytes to patch later; contents are zero until patched. */
kc_wslot kc_writer_reserve(kc_writer *w, size_t n);
/* Write big-endian values into a reserved slot. No-op after an error. */
void kc_writer_patch_i32(kc_writer *w, kc_wslot s, int32_t v);
void kc_writer_patch_u32(kc_writer *w, kc_wslot s, uint32_t v);
/* Bytes written after the slot (logical), i.e. a length for the slot. */
size_t kc_writer_since(const kc_writer *w, kc_wslot s);
/* Replace the external segment that kc_writer_put(w, placeholder, n)
 * wrote, n being kc_writer_pos(src), by src's output: src's owned bytes
 * and its external segments are referenced, nothing is copied, so src's
 * buffer (and whatever src references) must outlive w's output. This is
 * how a field the generated encoder takes as one slice (a request's
 * `records`) carries bytes built elsewhere in several pieces; the
 * placeholder only needs to be an address no other segment of w uses,
 * and is never read once replaced.
 * Preconditions: src is not w; no write to src between this call and the
 * last read of w's output.
 * Returns KC_OK, KC_ERR_INVALID_ARG (no such segment: the put copied it,
 * being under w's threshold, or the lengths differ), KC_ERR_NOMEM (also
 * the sticky error of w). */
kc_err kc_writer_splice(kc_writer *w, const void *placeholder,
			const kc_writer *src);
/* CRC-32C / CRC-32 of the logical output from position `from` to the end
 * (iovec segments included). */
uint32_t kc_writer_crc32c_from(const kc_writer *w, size_t from);
uint32_t kc_writer_crc32_from(const kc_writer *w, size_t from);
/* Free memory the codec returned (compression outputs). */
void kc_free(void *p);

/* ---- reader ------------------------------------------------------------ */

/* Bounds-checked cursor over a caller's bytes. Reads never pass `end`; a
 * failure records the field and offset in *err and returns an error. */
typedef struct kc_reader {
	const uint8_t *p;
	const uint8_t *end;
	const uint8_t *base; /* offsets in errors count from here */
	kc_decode_error *err;
	unsigned flags;
	size_t max_decompressed; /* cap per compressed region; 0 = default */
} kc_reader;

/* Reader flag: on a CRC mismatch, record it in the struct (the generated
 * `<field>_ok` member) but keep decoding instead of failing. */
#define KC_READ_CRC_LENIENT 1u

/* Default cap for one decompressed region (256 MiB). */
#define KC_DEFAULT_MAX_DECOMPRESSED ((size_t)256 << 20)

/* Reader over [p, p+n); errors recorded in *err (must not be NULL). */
void kc_reader_init(kc_reader *r, const void *p, size_t n, kc_decode_error *err);
/* Bytes not yet consumed. */
size_t kc_reader_left(const kc_reader *r);
/* Offset of the cursor from `base`. */
size_t kc_reader_offset(const kc_reader *r);

#ifdef __cplusplus
}
#endif
#endif
