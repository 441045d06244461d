/*
 * gzip (codec 1) through zlib.
 *
 * Writing: one RFC 1952 member, as Java's GZIPOutputStream does.
 * Reading: inflateInit2(15 + 32) takes the first member (zlib's automatic
 * header detection also lets a zlib-wrapped stream through, as librdkafka
 * does). After a member ends, Java's GZIPInputStream goes on with another
 * member only when the bytes left start a gzip header, and otherwise
 * stops and ignores them; we do the same: further members are decoded
 * when the rest begins 1f 8b 08 (ID1 ID2 CM=deflate), any other trailing
 * bytes are ignored.
 */
#include <limits.h>
#include <string.h>

/* next_in is then const, as our input is. */
#define ZLIB_CONST
#include <zlib.h>

#include "buf_int.h"
#include "compress_int.h"

/* windowBits: 15 = 32 KiB window; +16 = gzip wrapper; +32 = detect. */
#define GZ_WRITE_BITS (15 + 16)
#define GZ_READ_FIRST_BITS (15 + 32)
#define GZ_READ_NEXT_BITS (15 + 16)

static voidpf gz_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return kc__malloc((size_t)items * size);
}

static void gz_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	kc__free(p);
}

static uInt clamp_uint(size_t n)
{
	return n > UINT_MAX ? UINT_MAX : (uInt)n;
}

/* A deflate stream ready for a new member at `level`: *ctx's when it
 * was set up at that level (reset, as a fresh one), otherwise a new one
 * (in *ctx when ctx is non-NULL, else in `local`). */
static kc_err deflate_ready(void **ctx, int *ctx_level, int level,
			    z_stream *local, z_stream **out)
{
	z_stream *zs = ctx ? *ctx : NULL;
	if (zs && *ctx_level == level) {
		if (deflateReset(zs) != Z_OK)
			return KC_ERR_COMPRESS;
		*out = zs;
		return KC_OK;
	}
	if (zs) {
		/* Another level: set up anew, as deflateParams() on a used
		 * stream would not give a fresh stream's bytes. */
		deflateEnd(zs);
	} else if (ctx) {
		zs = kc__malloc(sizeof *zs);
		if (!zs)
			return KC_ERR_NOMEM;
	} else {
		zs = local;
	}
	memset(zs, 0, sizeof *zs);
	zs->zalloc = gz_alloc;
	zs->zfree = gz_free;
	int rc = deflateInit2(zs, level, Z_DEFLATED, GZ_WRITE_BITS, 8,
			      Z_DEFAULT_STRATEGY);
	if (rc != Z_OK) {
		if (ctx) {
			kc__free(zs);
			*ctx = NULL;
		}
		return rc == Z_MEM_ERROR ? KC_ERR_NOMEM : KC_ERR_COMPRESS;
	}
	if (ctx) {
		*ctx = zs;
		*ctx_level = level;
	}
	*out = zs;
	return KC_OK;
}

kc_err kc__gzip_compress(void **ctx, int *ctx_level, int level,
			 const uint8_t *src, size_t n, kc_writer *w)
{
	if (level == KC_LEVEL_DEFAULT)
		level = Z_DEFAULT_COMPRESSION;
	else if (level < Z_BEST_SPEED || level > Z_BEST_COMPRESSION)
		return KC_ERR_INVALID_ARG; /* Kafka's gzip range is 1..9 */

	z_stream local, *zs;
	KC__TRY(deflate_ready(ctx, ctx_level, level, &local, &zs));
	/* No flush until the end, so deflateBound holds for any chunking. */
	size_t cap = deflateBound(zs, n);
	uint8_t *buf = kc__w_room(w, cap);
	if (!buf) {
		if (!ctx)
			deflateEnd(zs);
		return KC_ERR_NOMEM;
	}
	/* A reused stream still points at the last call's buffers. */
	zs->next_in = NULL;
	zs->avail_in = 0;
	zs->next_out = NULL;
	zs->avail_out = 0;
	const uint8_t *in = src;
	size_t in_left = n, out_pos = 0;
	int rc;
	do {
		if (zs->avail_in == 0) {
			zs->next_in = in;
			zs->avail_in = clamp_uint(in_left);
			in += zs->avail_in;
			in_left -= zs->avail_in;
		}
		if (zs->avail_out == 0) {
			if (out_pos == cap)
				break; /* the bound was wrong: reported below */
			zs->next_out = buf + out_pos;
			zs->avail_out = clamp_uint(cap - out_pos);
			out_pos += zs->avail_out;
		}
		rc = deflate(zs, in_left ? Z_NO_FLUSH : Z_FINISH);
	} while (rc == Z_OK || (rc == Z_BUF_ERROR && zs->avail_out == 0));
	size_t len = out_pos - zs->avail_out;
	if (!ctx)
		deflateEnd(zs);
	if (rc != Z_STREAM_END)
		return KC_ERR_COMPRESS;
	w->len += len;
	return KC_OK;
}

void kc__gzip_ctx_free(void *ctx)
{
	if (!ctx)
		return;
	deflateEnd(ctx);
	kc__free(ctx);
}

static kc_err inflate_err(int rc)
{
	return rc == Z_MEM_ERROR ? KC_ERR_NOMEM : KC_ERR_DECOMPRESS;
}

/* Whether the bytes at p start another gzip member (see the top). */
static int next_member(const uint8_t *p, size_t left)
{
	return left >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8;
}

static kc_err gz_inflate(z_stream *zs, const uint8_t *src, size_t n,
			 kc__outbuf *ob)
{
	const uint8_t *end = src + n;
	zs->next_in = src;
	for (;;) {
		/* Input is contiguous: refill avail_in from where zlib is. */
		if (zs->avail_in == 0)
			zs->avail_in = clamp_uint((size_t)(end - zs->next_in));
		uint8_t *p;
		size_t avail;
		KC__TRY(kc__outbuf_space(ob, &p, &avail));
		zs->next_out = p;
		zs->avail_out = clamp_uint(avail);
		uInt before = zs->avail_out;
		int rc = inflate(zs, Z_NO_FLUSH);
		KC__TRY(kc__outbuf_commit(ob, before - zs->avail_out));
		if (rc == Z_STREAM_END) {
			size_t left = (size_t)(end - zs->next_in);
			if (!next_member(zs->next_in, left))
				return KC_OK;
			rc = inflateReset2(zs, GZ_READ_NEXT_BITS);
			if (rc != Z_OK)
				return inflate_err(rc);
			zs->avail_in = 0;
			continue;
		}
		/* Z_BUF_ERROR: no progress possible with output room left,
		 * so the input ended inside a member. */
		if (rc != Z_OK)
			return inflate_err(rc);
	}
}

kc_err kc__gzip_decompress(const uint8_t *src, size_t n, kc__outbuf *ob)
{
	KC__TRY(kc__outbuf_start(ob, kc__outbuf_guess(n)));
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	zs.zalloc = gz_alloc;
	zs.zfree = gz_free;
	int rc = inflateInit2(&zs, GZ_READ_FIRST_BITS);
	if (rc != Z_OK)
		return inflate_err(rc);
	kc_err err = gz_inflate(&zs, src, n, ob);
	inflateEnd(&zs);
	return err;
}
