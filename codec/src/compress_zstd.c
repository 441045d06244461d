/*
 * zstd (codec 4) through libzstd.
 *
 * Writing: one frame with its content size. Reading streams whatever the
 * frame header claims, so a frame without a content size, or with a
 * wrong one, still stops at the cap. Frames may follow one another (and
 * skippable frames are skipped), but any other bytes after a frame are
 * an error: Java reads to the end of the stream after the last record
 * (DefaultRecordBatch's check that nothing remains), and zstd-jni then
 * tries to decode them as a new frame and fails.
 *
 * Working memory: libzstd's decoder keeps a window of the size the frame
 * asks for, up to its default limit of 2^27 bytes
 * (ZSTD_WINDOWLOG_LIMIT_DEFAULT, the same limit zstd-jni applies); larger
 * windows fail with KC_ERR_TOO_LARGE.
 */
#include <stdint.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "buf_int.h"
#include "compress_int.h"

static const ZSTD_customMem zstd_mem = {kc__lib_alloc, kc__lib_free, NULL};

/* The first allocation believes a declared content size only up to
 * DECLARED_SLACK + 16 x the input: a small frame claiming a huge size
 * must not get that much allocated up front. */
#define DECLARED_SLACK (64 * 1024)

static kc_err zstd_err(size_t r, kc_err otherwise)
{
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_memory_allocation:
		return KC_ERR_NOMEM;
	case ZSTD_error_frameParameter_windowTooLarge:
		return KC_ERR_TOO_LARGE;
	default:
		return otherwise;
	}
}

kc_err kc__zstd_compress(void **ctx, int level, const uint8_t *src,
			 size_t n, kc_writer *w)
{
	if (level == KC_LEVEL_DEFAULT)
		level = ZSTD_CLEVEL_DEFAULT;
	else if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return KC_ERR_INVALID_ARG;

	size_t cap = ZSTD_compressBound(n);
	if (ZSTD_isError(cap))
		return KC_ERR_COMPRESS;
	uint8_t *buf = kc__w_room(w, cap);
	if (!buf)
		return KC_ERR_NOMEM;
	ZSTD_CCtx *cctx = ctx ? *ctx : NULL;
	if (cctx) {
		/* Back to a fresh context's parameters, whatever the last
		 * call (or its failure) left: the frame is then the same
		 * bytes a new context writes. */
		ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	} else {
		cctx = ZSTD_createCCtx_advanced(zstd_mem);
		if (!cctx)
			return KC_ERR_NOMEM;
		if (ctx)
			*ctx = cctx;
	}
	size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r))
		r = ZSTD_compress2(cctx, buf, cap, src, n);
	if (!ctx)
		ZSTD_freeCCtx(cctx);
	if (ZSTD_isError(r))
		return zstd_err(r, KC_ERR_COMPRESS);
	w->len += r;
	return KC_OK;
}

void kc__zstd_ctx_free(void *ctx)
{
	ZSTD_freeCCtx(ctx);
}

static kc_err zstd_decode(ZSTD_DCtx *dctx, const uint8_t *src, size_t n,
			  kc__outbuf *ob)
{
	ZSTD_inBuffer in = {src, n, 0};
	for (;;) {
		uint8_t *p;
		size_t avail;
		KC__TRY(kc__outbuf_space(ob, &p, &avail));
		ZSTD_outBuffer o = {p, avail, 0};
		size_t in_before = in.pos;
		size_t r = ZSTD_decompressStream(dctx, &o, &in);
		if (ZSTD_isError(r))
			return zstd_err(r, KC_ERR_DECOMPRESS);
		KC__TRY(kc__outbuf_commit(ob, o.pos));
		/* 0: a frame is complete and flushed; more input would be
		 * the next frame. */
		if (r == 0 && in.pos == in.size)
			return KC_OK;
		/* No progress with output room: the input ended mid-frame. */
		if (o.pos == 0 && in.pos == in_before)
			return KC_ERR_DECOMPRESS;
	}
}

kc_err kc__zstd_decompress(const uint8_t *src, size_t n, kc__outbuf *ob)
{
	size_t max_out = ob->max;
	size_t hint = kc__outbuf_guess(n);
	unsigned long long declared = ZSTD_getFrameContentSize(src, n);
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN &&
	    declared != ZSTD_CONTENTSIZE_ERROR) {
		/* Over the cap it is either a bomb or a lie that libzstd
		 * would reject at the end anyway. */
		if (declared > max_out)
			return KC_ERR_TOO_LARGE;
		hint = (size_t)declared;
		if (n < (SIZE_MAX - DECLARED_SLACK) / 16 &&
		    hint > DECLARED_SLACK + 16 * n)
			hint = DECLARED_SLACK + 16 * n;
	}
	KC__TRY(kc__outbuf_start(ob, hint));
	ZSTD_DCtx *dctx = ZSTD_createDCtx_advanced(zstd_mem);
	if (!dctx)
		return KC_ERR_NOMEM;
	kc_err err = zstd_decode(dctx, src, n, ob);
	ZSTD_freeDCtx(dctx);
	return err;
}
