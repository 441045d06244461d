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

#include "kafkit/buf.h"
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
 * codec's default). Output formats: none = a copy; gzip = one RFC 1952
 * member; snappy = xerial framing with 32 KiB blocks (or raw, with the
 * flag); lz4 = one LZ4 frame as Java writes it (FLG 0x60, BD 0x40:
 * independent 64 KiB blocks, no checksums, no content size); zstd = one
 * frame with its content size.
 * Levels are Kafka's ranges: gzip 1..9, lz4 1..17 (1-2 fast, 3+ HC),
 * zstd ZSTD_minCLevel()..22; snappy and none ignore the level.
 * Preconditions: out and out_len non-NULL; src non-NULL when n > 0.
 * Returns KC_OK with *out (kc_free it; non-NULL) and *out_len, or
 * KC_ERR_UNSUPPORTED_CODEC, KC_ERR_INVALID_ARG (level out of range or a
 * NULL pointer), KC_ERR_COMPRESS (e.g. raw snappy of more than 4 GiB),
 * KC_ERR_NOMEM; *out is untouched on error. Any thread. */
kc_err kc_compress(int codec, int level, unsigned flags, const void *src,
		   size_t n, uint8_t **out, size_t *out_len);

/* As kc_compress(), but append the compressed bytes to `out` (always
 * copied, whatever its reference threshold), so that a writer reused
 * across batches needs no allocation once it is large enough. The writer
 * may need room for the codec's worst-case bound while compressing.
 * Preconditions: out non-NULL; src non-NULL when n > 0; src must not
 * point into out's own buffer (growing it may move it).
 * Returns KC_OK, or the errors of kc_compress() (KC_ERR_NOMEM also when
 * out already holds a sticky error); on error nothing is appended. The
 * writer is the caller's: one thread at a time. */
kc_err kc_compress_to(int codec, int level, unsigned flags, const void *src,
		      size_t n, kc_writer *out);

/* Compression state kept across calls: the gzip, lz4 and zstd libraries'
 * contexts, each set up on its codec's first use. Setting a context up
 * costs as much as compressing a small batch (zstd's alone allocates
 * about 1 MiB at level 3), so a producer compressing batch after batch
 * keeps one per builder. Opaque; owned by one thread at a time. */
typedef struct kc_compressor kc_compressor;

/* As kc_compress_to(), reusing the state in *cc: cc NULL compresses
 * with state set up and released for this call (exactly
 * kc_compress_to()); otherwise *cc (NULL at first) is created when the
 * codec keeps state (gzip, lz4, zstd; none and snappy leave *cc alone),
 * and the codec's context in it is created on first use and reused after.
 * The output is byte for byte what kc_compress_to() writes, whatever
 * earlier calls did (other codecs or levels, failures). Free *cc with
 * kc_compressor_free().
 * Preconditions: those of kc_compress_to().
 * Returns KC_OK, or the errors of kc_compress_to(); on KC_ERR_NOMEM
 * while creating state, *cc keeps what was already created and a later
 * call tries again. The compressor and writer are the caller's: one
 * thread at a time. */
kc_err kc_compress_with(kc_compressor **cc, int codec, int level,
			unsigned flags, const void *src, size_t n,
			kc_writer *out);

/* Release a compressor and every context in it; NULL is a no-op. */
void kc_compressor_free(kc_compressor *cc);

/* Decompress n bytes at src. Accepts: none (a copy); gzip (one or more
 * members; zlib-wrapped too); snappy xerial framing (any version/compat
 * values) or one raw block; one lz4 frame (block and content checksums
 * verified when present); zstd frames (one or more, skippable frames
 * skipped). After a complete stream, as Kafka's Java client does: gzip
 * ignores bytes that do not start another member (1f 8b 08), lz4 ignores
 * everything after the frame's end mark, zstd and snappy fail on them.
 * Output larger than max_out fails with KC_ERR_TOO_LARGE, and no more
 * than max_out output bytes are ever held (bomb protection); output of
 * exactly max_out bytes succeeds. zstd's working memory also includes
 * the frame's window, at most 128 MiB (larger windows: KC_ERR_TOO_LARGE).
 * Preconditions: out and out_len non-NULL; src non-NULL when n > 0.
 * Returns KC_OK with *out (kc_free it; non-NULL even for 0 bytes) and
 * *out_len, or KC_ERR_UNSUPPORTED_CODEC, KC_ERR_INVALID_ARG (a NULL
 * pointer), KC_ERR_DECOMPRESS (corrupt or truncated input, including
 * empty input for a codec other than none), KC_ERR_TOO_LARGE,
 * KC_ERR_NOMEM; *out is untouched on error. Any thread. */
kc_err kc_decompress(int codec, unsigned flags, const void *src, size_t n,
		     size_t max_out, uint8_t **out, size_t *out_len);

/* As kc_decompress(), but into a caller-owned block reused across calls:
 * *buf (NULL, or the block an earlier call left there) of
 * *cap bytes is grown with the codec allocator only when the output needs
 * more, and never shrunk; the output is at (*buf)[0 .. *out_len). Free
 * *buf with kc_free() when done.
 * Preconditions: buf, cap and out_len non-NULL; src non-NULL when n > 0;
 * src must not point into *buf.
 * Returns KC_OK with *out_len, or the errors of kc_decompress(). *buf and
 * *cap are updated even on error (the block may have moved or grown; its
 * contents are then unspecified); *out_len is set only on success. The
 * block is the caller's: one thread at a time. */
kc_err kc_decompress_to(int codec, unsigned flags, const void *src, size_t n,
			size_t max_out, uint8_t **buf, size_t *cap,
			size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
