/*
 * kafkit codec: compression codecs of Kafka record formats.
 *
 * Codec numbers are the attribute bits of the wire formats. Every function
 * is thread-safe and allocates its output through the codec allocator; free
 * results with kc_free(). The codec does no I/O.
 */
#ifndef KAFKIT_COMPRESS_H
#define KAFKIT_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "kafkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kc_codec {
	KC_CODEC_NONE = 0,
	KC_CODEC_GZIP = 1,
	KC_CODEC_SNAPPY = 2,
	KC_CODEC_LZ4 = 3,
	KC_CODEC_ZSTD = 4,
} kc_codec;

/* Level meaning "the codec's own default" (gzip 6, zstd 3, lz4 fast). */
#define KC_LEVEL_DEFAULT (-1000)

/* Framing quirks for decompress/compress. */
typedef enum kc_compress_flags {
	/* LZ4 inside a magic-0 message: write the old broken header checksum
	 * (xxh32 over magic+FLG+BD) on compress, ignore the header checksum on
	 * decompress. */
	KC_COMPRESS_LZ4_LEGACY_HC = 1,
	/* Snappy: write raw (unframed) snappy instead of xerial framing. */
	KC_COMPRESS_SNAPPY_RAW = 2,
} kc_compress_flags;

/* "none", "gzip", "snappy", "lz4", "zstd"; "?" for others. */
const char *kc_codec_name(int codec);
/* Parse a codec name (as compression.type); returns -1 when unknown. */
int kc_codec_parse(const char *name);

/* Compress n bytes at src with `codec` at `level` (KC_LEVEL_DEFAULT for the
 * codec's default). Output formats: gzip = one RFC 1952 member; snappy =
 * xerial framing with 32 KiB blocks (or raw, with the flag); lz4 = one LZ4
 * frame, independent 64 KiB blocks; zstd = one frame.
 * Returns KC_OK with *out (kc_free it) and *out_len, or
 * KC_ERR_UNSUPPORTED_CODEC, KC_ERR_COMPRESS, KC_ERR_NOMEM. */
kc_err kc_compress(int codec, int level, unsigned flags, const void *src,
		   size_t n, uint8_t **out, size_t *out_len);

/* Decompress n bytes at src. Accepts: gzip (one or more members), snappy
 * xerial framing or one raw block, lz4 frames (block checksums verified),
 * zstd frames. Output larger than max_out fails with KC_ERR_TOO_LARGE
 * before more than max_out bytes are held (bomb protection).
 * Returns KC_OK with *out (kc_free it; non-NULL even for 0 bytes) and
 * *out_len, or KC_ERR_UNSUPPORTED_CODEC, KC_ERR_DECOMPRESS,
 * KC_ERR_TOO_LARGE, KC_ERR_NOMEM. */
kc_err kc_decompress(int codec, unsigned flags, const void *src, size_t n,
		     size_t max_out, uint8_t **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
