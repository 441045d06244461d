/*
 * Internal interface between the compression dispatcher (compress.c) and
 * the codec files (compress_<codec>.c). Not installed.
 */
#ifndef KAFKIT_COMPRESS_INT_H
#define KAFKIT_COMPRESS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kafkit/compress.h"

/* Growable decompression output that never holds more than `max` bytes.
 *
 * Streaming decoders ask for space, run the library, and commit what it
 * wrote. Once `max` bytes are held, the space handed out is the one-byte
 * `probe`: a decoder that still writes a byte there has more output than
 * the cap allows, and the commit fails with KC_ERR_TOO_LARGE. So a bomb
 * is stopped without ever holding max+1 bytes, and output of exactly
 * `max` bytes still succeeds. */
typedef struct kc__outbuf {
	uint8_t *buf;  /* the caller's reusable block, or NULL */
	size_t alloc;  /* its size */
	size_t len;
	size_t cap;    /* usable: min(alloc, max) */
	size_t max;
	int probing;
	uint8_t probe;
} kc__outbuf;

/* Start an output in ob's block (buf/alloc/max set by the dispatcher,
 * buf possibly NULL): empty it, and grow it to min(hint, max) bytes (at
 * least 1, so an empty output is still non-NULL) unless it already holds
 * that much, so a block reused across calls is not reallocated.
 * Returns KC_OK or KC_ERR_NOMEM. Any thread; `ob` is the caller's. */
kc_err kc__outbuf_start(kc__outbuf *ob, size_t hint);

/* Point *p at writable space of *avail >= 1 bytes: free room in the
 * buffer (grown geometrically up to max), or the probe byte when max
 * bytes are already held. Returns KC_OK or KC_ERR_NOMEM. */
kc_err kc__outbuf_space(kc__outbuf *ob, uint8_t **p, size_t *avail);

/* Account for `produced` bytes written at the last kc__outbuf_space().
 * Returns KC_OK, or KC_ERR_TOO_LARGE when they went to the probe. */
kc_err kc__outbuf_commit(kc__outbuf *ob, size_t produced);

/* Make room for `need` more bytes at buf + len (for decoders that know a
 * block's size before decoding it). Returns KC_OK, KC_ERR_TOO_LARGE when
 * len + need > max (checked before allocating), or KC_ERR_NOMEM. */
kc_err kc__outbuf_reserve(kc__outbuf *ob, size_t need);

/* Give back the unused tail of a `cap`-byte compressor output holding
 * `len` bytes; keeps the block as it is if the allocator refuses. */
uint8_t *kc__shrink(uint8_t *buf, size_t len, size_t cap);

/* Allocation callbacks in the shape liblz4's LZ4F_CustomMem and
 * libzstd's ZSTD_customMem expect, routed to kc__malloc/kc__free so the
 * libraries' working memory obeys kc_set_allocator() too. */
void *kc__lib_alloc(void *opaque, size_t n);
void kc__lib_free(void *opaque, void *p);

/* Reusable compression state (kafkit/compress.h): each codec's library
 * context, created by the codec's compressor on its first use and kept,
 * so a stream of batches sets a context up once instead of per batch.
 * A NULL member is simply not created yet. */
struct kc_compressor {
	void *gzip; /* z_stream, deflateInit2()ed at gzip_level */
	int gzip_level;
	void *lz4;  /* LZ4F_cctx */
	void *zstd; /* ZSTD_CCtx */
	/* Compressed output kept across calls by kc_batch_seal_with(),
	 * which lends it to the builder being sealed in place of the
	 * builder's own (see record_batch.c). */
	kc_writer scratch;
};

/* The compressor in *cc, created (empty, every context NULL) when *cc is
 * NULL. Returns KC_OK or KC_ERR_NOMEM (*cc then still NULL). Thread: the
 * compressor's owner. */
kc_err kc__compressor_get(kc_compressor **cc);

/* Codec entry points behind kc_compress_with()/kc_decompress_to().
 * Arguments are already checked (pointers non-NULL, src non-NULL when
 * n > 0); each validates its own level range (KC_ERR_INVALID_ARG) and
 * returns the error codes documented in kafkit/compress.h. Compressors
 * append to w (nothing on error); `ctx` is NULL (a context set up and
 * torn down for this call) or the caller's slot for the codec's context:
 * used when set, else created and left there (left NULL when creating it
 * fails, so a later call tries again); the output is the same bytes
 * either way. Decompressors start ob themselves with kc__outbuf_start()
 * and leave the output in it. */
kc_err kc__gzip_compress(void **ctx, int *ctx_level, int level,
			 const uint8_t *src, size_t n, kc_writer *w);
kc_err kc__gzip_decompress(const uint8_t *src, size_t n, kc__outbuf *ob);

kc_err kc__snappy_compress(unsigned flags, const uint8_t *src, size_t n,
			   kc_writer *w);
kc_err kc__snappy_decompress(const uint8_t *src, size_t n, kc__outbuf *ob);

kc_err kc__lz4_compress(void **ctx, int level, unsigned flags,
			const uint8_t *src, size_t n, kc_writer *w);
kc_err kc__lz4_decompress(unsigned flags, const uint8_t *src, size_t n,
			  kc__outbuf *ob);

kc_err kc__zstd_compress(void **ctx, int level, const uint8_t *src,
			 size_t n, kc_writer *w);
kc_err kc__zstd_decompress(const uint8_t *src, size_t n, kc__outbuf *ob);

/* Release a context the compressor above left in its slot (NULL: no-op).
 * Any thread; the context is the caller's. */
void kc__gzip_ctx_free(void *ctx);
void kc__lz4_ctx_free(void *ctx);
void kc__zstd_ctx_free(void *ctx);

/* First output allocation for a decoder with no better idea of the
 * output size: a few times the input, as record data usually compresses
 * 2-5x; the buffer doubles from there. */
static inline size_t kc__outbuf_guess(size_t n)
{
	return n > SIZE_MAX / 4 ? SIZE_MAX : 4 * n + 256;
}

#endif
