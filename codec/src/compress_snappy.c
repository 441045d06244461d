/*
 * snappy (codec 2) through libsnappy's C API.
 *
 * Java's snappy-java writes the xerial framing: a 16-byte header
 * ("\x82SNAPPY\0", int32 BE version 1, int32 BE compatible version 1),
 * then blocks of int32 BE length + one raw snappy block of at most 32 KiB
 * of input, up to the end of the buffer (no trailer). librdkafka writes a
 * single raw block. Readers take xerial when the first 8 bytes are the
 * magic and a raw block otherwise; version and compatible version are
 * not checked (some producers wrote them little-endian). Note libsnappy's
 * compressor allocates its scratch space itself, outside kc__malloc.
 */
#include <stdint.h>
#include <string.h>

#include <snappy-c.h>

#include "buf_int.h"
#include "compress_int.h"

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_LEN 16
#define XERIAL_VERSION 1
#define XERIAL_COMPAT 1
/* snappy-java's DEFAULT_BLOCK_SIZE. */
#define XERIAL_BLOCK 32768
/* A raw block's length prefix is a uvarint32. */
#define RAW_MAX UINT32_MAX

static kc_err compress_raw(const uint8_t *src, size_t n, kc_writer *w)
{
	if (n > RAW_MAX)
		return KC_ERR_COMPRESS;
	size_t cap = snappy_max_compressed_length(n);
	uint8_t *buf = kc__w_room(w, cap);
	if (!buf)
		return KC_ERR_NOMEM;
	size_t len = cap;
	if (snappy_compress((const char *)src, n, (char *)buf, &len) !=
	    SNAPPY_OK)
		return KC_ERR_COMPRESS;
	w->len += len;
	return KC_OK;
}

static kc_err compress_xerial(const uint8_t *src, size_t n, kc_writer *w)
{
	size_t nblocks = n / XERIAL_BLOCK + (n % XERIAL_BLOCK != 0);
	size_t per_block = 4 + snappy_max_compressed_length(XERIAL_BLOCK);
	if (nblocks > (SIZE_MAX - XERIAL_HEADER_LEN) / per_block)
		return KC_ERR_NOMEM;
	size_t cap = XERIAL_HEADER_LEN + nblocks * per_block;
	uint8_t *buf = kc__w_room(w, cap);
	if (!buf)
		return KC_ERR_NOMEM;
	memcpy(buf, xerial_magic, sizeof xerial_magic);
	kc__be32(buf + 8, XERIAL_VERSION);
	kc__be32(buf + 12, XERIAL_COMPAT);
	size_t pos = XERIAL_HEADER_LEN;
	for (size_t off = 0; off < n; off += XERIAL_BLOCK) {
		size_t blk = n - off < XERIAL_BLOCK ? n - off : XERIAL_BLOCK;
		size_t clen = cap - pos - 4;
		if (snappy_compress((const char *)src + off, blk,
				    (char *)buf + pos + 4, &clen) != SNAPPY_OK)
			return KC_ERR_COMPRESS;
		/* block length: int32 BE */
		kc__be32(buf + pos, (uint32_t)clen);
		pos += 4 + clen;
	}
	w->len += pos;
	return KC_OK;
}

kc_err kc__snappy_compress(unsigned flags, const uint8_t *src, size_t n,
			   kc_writer *w)
{
	if (flags & KC_COMPRESS_SNAPPY_RAW)
		return compress_raw(src, n, w);
	return compress_xerial(src, n, w);
}

/* Append one raw block to ob, checking its declared size against the cap
 * before anything is allocated. */
static kc_err uncompress_block(const uint8_t *blk, size_t blen, kc__outbuf *ob)
{
	size_t ulen;
	if (snappy_uncompressed_length((const char *)blk, blen, &ulen) !=
	    SNAPPY_OK)
		return KC_ERR_DECOMPRESS;
	KC__TRY(kc__outbuf_reserve(ob, ulen));
	if (snappy_uncompress((const char *)blk, blen,
			      (char *)ob->buf + ob->len, &ulen) != SNAPPY_OK)
		return KC_ERR_DECOMPRESS;
	ob->len += ulen;
	return KC_OK;
}

static kc_err uncompress_xerial(const uint8_t *src, size_t n, kc__outbuf *ob)
{
	if (n < XERIAL_HEADER_LEN)
		return KC_ERR_DECOMPRESS;
	size_t pos = XERIAL_HEADER_LEN;
	while (pos < n) {
		if (n - pos < 4)
			return KC_ERR_DECOMPRESS;
		/* block length: int32 BE; negative reads as huge */
		size_t blen = kc__get_be32(src + pos);
		pos += 4;
		if (blen > n - pos)
			return KC_ERR_DECOMPRESS;
		KC__TRY(uncompress_block(src + pos, blen, ob));
		pos += blen;
	}
	return KC_OK;
}

kc_err kc__snappy_decompress(const uint8_t *src, size_t n, kc__outbuf *ob)
{
	int xerial = n >= sizeof xerial_magic &&
		     memcmp(src, xerial_magic, sizeof xerial_magic) == 0;
	/* Raw: the declared length is exact, so it is also the allocation;
	 * xerial: start from the guess and grow block by block. */
	size_t hint = 0;
	if (!xerial && snappy_uncompressed_length((const char *)src, n,
						  &hint) != SNAPPY_OK)
		return KC_ERR_DECOMPRESS;
	if (xerial)
		hint = kc__outbuf_guess(n);
	else if (hint > ob->max)
		return KC_ERR_TOO_LARGE;
	KC__TRY(kc__outbuf_start(ob, hint));
	return xerial ? uncompress_xerial(src, n, ob)
		      : uncompress_block(src, n, ob);
}
