/*
 * lz4 (codec 3) through liblz4's frame API.
 *
 * Writing matches Java's Lz4BlockOutputStream: FLG 0x60 (version 01,
 * independent blocks, no checksums, no content size) and BD 0x40 (64 KiB
 * blocks); incompressible blocks are stored raw. Old Kafka computed the
 * header checksum HC over the magic too (from offset 0 instead of 4), and
 * Java still writes and ignores it that way inside magic-0 messages:
 * KC_COMPRESS_LZ4_LEGACY_HC writes that HC, and on reading replaces
 * whatever HC is present by the correct one before liblz4 sees it.
 *
 * Reading decodes one frame. Block and content checksums are verified
 * when present (Java verifies only block checksums). Bytes after the end
 * of the frame are ignored: Java's KafkaLZ4BlockInputStream stops at the
 * end mark and never looks further. liblz4's decoder holds up to two
 * blocks of the frame's block size (BD: 64 KiB to 4 MiB) besides the
 * output, whatever the cap.
 */
#include <stdint.h>
#include <string.h>

#define LZ4F_STATIC_LINKING_ONLY
#include <lz4frame.h>

#include "buf_int.h"
#include "compress_int.h"

/* Kafka's lz4 level range (KIP-390); liblz4 treats levels above its own
 * maximum as the maximum. */
#define LZ4_LEVEL_MIN 1
#define LZ4_LEVEL_MAX 17

/* 0x184D2204, little-endian */
static const uint8_t frame_magic[4] = {0x04, 0x22, 0x4D, 0x18};
/* FLG bits that lengthen the frame descriptor. */
#define FLG_CONTENT_SIZE 0x08
#define FLG_DICT_ID 0x01
/* magic(4) FLG(1) BD(1) [content size(8)] [dict id(4)] HC(1) */
#define HEADER_MAX 19

static const LZ4F_CustomMem lz4_mem = {kc__lib_alloc, NULL, kc__lib_free,
				       NULL};

/* XXH32 (seed 0) of fewer than 16 bytes, all a frame header needs: the
 * short-input path of the algorithm (no 16-byte stripes). */
static uint32_t xxh32_short(const uint8_t *p, size_t n)
{
	const uint32_t p1 = 0x9E3779B1u, p2 = 0x85EBCA77u, p3 = 0xC2B2AE3Du,
		       p4 = 0x27D4EB2Fu, p5 = 0x165667B1u;
	uint32_t h = p5 + (uint32_t)n;
	for (; n >= 4; p += 4, n -= 4) {
		uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		h += w * p3;
		h = (h << 17 | h >> 15) * p4;
	}
	for (; n; p++, n--) {
		h += *p * p5;
		h = (h << 11 | h >> 21) * p1;
	}
	h ^= h >> 15;
	h *= p2;
	h ^= h >> 13;
	h *= p3;
	h ^= h >> 16;
	return h;
}

static uint8_t header_checksum(const uint8_t *p, size_t n)
{
	return (uint8_t)(xxh32_short(p, n) >> 8);
}

static kc_err lz4_err(size_t r, kc_err otherwise)
{
	return LZ4F_getErrorCode(r) == LZ4F_ERROR_allocation_failed
		       ? KC_ERR_NOMEM
		       : otherwise;
}

kc_err kc__lz4_compress(void **ctx, int level, unsigned flags,
			const uint8_t *src, size_t n, kc_writer *w)
{
	LZ4F_preferences_t prefs;
	memset(&prefs, 0, sizeof prefs);
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
	prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
	if (level == KC_LEVEL_DEFAULT)
		prefs.compressionLevel = 0; /* liblz4's fast mode */
	else if (level < LZ4_LEVEL_MIN || level > LZ4_LEVEL_MAX)
		return KC_ERR_INVALID_ARG;
	else
		prefs.compressionLevel = level;

	size_t cap = LZ4F_compressFrameBound(n, &prefs);
	uint8_t *buf = kc__w_room(w, cap);
	if (!buf)
		return KC_ERR_NOMEM;
	/* A reused context keeps its working state (sized by the level) and
	 * LZ4F_compressFrame_usingCDict() starts every frame afresh from
	 * the preferences, so the frame is the same bytes either way. */
	LZ4F_cctx *cctx = ctx ? *ctx : NULL;
	if (!cctx) {
		cctx = LZ4F_createCompressionContext_advanced(lz4_mem,
							      LZ4F_VERSION);
		if (!cctx)
			return KC_ERR_NOMEM;
		if (ctx)
			*ctx = cctx;
	}
	size_t len = LZ4F_compressFrame_usingCDict(cctx, buf, cap, src, n,
						   NULL, &prefs);
	if (!ctx)
		LZ4F_freeCompressionContext(cctx);
	if (LZ4F_isError(len))
		return lz4_err(len, KC_ERR_COMPRESS);
	/* HC: xxh32 from the magic (offset 0) for the magic-0 quirk; the
	 * descriptor here is FLG BD only, so HC sits at offset 6. */
	if (flags & KC_COMPRESS_LZ4_LEGACY_HC)
		buf[6] = header_checksum(buf, 6);
	w->len += len;
	return KC_OK;
}

void kc__lz4_ctx_free(void *ctx)
{
	LZ4F_freeCompressionContext(ctx);
}

/* Size of the frame header at p, or 0 when p does not hold a whole
 * frame header (liblz4 then reports the problem itself). */
static size_t frame_header_len(const uint8_t *p, size_t n)
{
	if (n < 7 || memcmp(p, frame_magic, sizeof frame_magic) != 0)
		return 0;
	size_t len = 7;
	if (p[4] & FLG_CONTENT_SIZE)
		len += 8;
	if (p[4] & FLG_DICT_ID)
		len += 4;
	return len <= n ? len : 0;
}

/* Feed `n` bytes at `in` to the decoder. Sets *done at the end of the
 * frame; returns with input left over only then. */
static kc_err feed(LZ4F_dctx *dctx, const uint8_t *in, size_t n,
		   kc__outbuf *ob, int *done)
{
	for (;;) {
		uint8_t *p;
		size_t avail;
		KC__TRY(kc__outbuf_space(ob, &p, &avail));
		size_t dst = avail, used = n;
		size_t r = LZ4F_decompress(dctx, p, &dst, in, &used, NULL);
		if (LZ4F_isError(r))
			return lz4_err(r, KC_ERR_DECOMPRESS);
		KC__TRY(kc__outbuf_commit(ob, dst));
		in += used;
		n -= used;
		if (r == 0) {
			*done = 1;
			return KC_OK;
		}
		/* Out of input with nothing more to flush: the caller has
		 * the next piece, or the frame is truncated. */
		if (dst == 0 && used == 0)
			return n == 0 ? KC_OK : KC_ERR_DECOMPRESS;
	}
}

static kc_err lz4_decode(LZ4F_dctx *dctx, unsigned flags, const uint8_t *src,
			 size_t n, kc__outbuf *ob)
{
	int done = 0;
	size_t hlen = (flags & KC_COMPRESS_LZ4_LEGACY_HC)
			      ? frame_header_len(src, n)
			      : 0;
	if (hlen) {
		uint8_t hdr[HEADER_MAX];
		memcpy(hdr, src, hlen);
		/* HC over the descriptor (FLG up to HC), the correct way */
		hdr[hlen - 1] = header_checksum(hdr + 4, hlen - 5);
		KC__TRY(feed(dctx, hdr, hlen, ob, &done));
		src += hlen;
		n -= hlen;
	}
	if (!done)
		KC__TRY(feed(dctx, src, n, ob, &done));
	return done ? KC_OK : KC_ERR_DECOMPRESS;
}

kc_err kc__lz4_decompress(unsigned flags, const uint8_t *src, size_t n,
			  kc__outbuf *ob)
{
	KC__TRY(kc__outbuf_start(ob, kc__outbuf_guess(n)));
	LZ4F_dctx *dctx = LZ4F_createDecompressionContext_advanced(
		lz4_mem, LZ4F_VERSION);
	if (!dctx)
		return KC_ERR_NOMEM;
	kc_err err = lz4_decode(dctx, flags, src, n, ob);
	LZ4F_freeDecompressionContext(dctx);
	return err;
}
