/*
 * Compression dispatch, codec names, and the capped output buffer that
 * every decoder shares (the decompression-bomb guard).
 */
#include <string.h>
#include <strings.h>

#include "buf_int.h"
#include "compress_int.h"

/* Below this much unused space a finished buffer is not worth a realloc. */
#define TRIM_SLACK 4096
/* Smallest capacity a grown output buffer jumps to. */
#define GROW_MIN 4096

static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4",
					  "zstd"};

const char *kc_codec_name(int codec)
{
	if (codec < 0 || codec >= (int)(sizeof codec_names / sizeof *codec_names))
		return "?";
	return codec_names[codec];
}

int kc_codec_parse(const char *name)
{
	if (!name)
		return -1;
	/* Case-insensitive, as Kafka's config validation of
	 * compression.type is. */
	for (int i = 0; i < (int)(sizeof codec_names / sizeof *codec_names); i++)
		if (strcasecmp(name, codec_names[i]) == 0)
			return i;
	return -1;
}

void *kc__lib_alloc(void *opaque, size_t n)
{
	(void)opaque;
	return kc__malloc(n);
}

void kc__lib_free(void *opaque, void *p)
{
	(void)opaque;
	kc__free(p);
}

uint8_t *kc__shrink(uint8_t *buf, size_t len, size_t cap)
{
	if (cap - len < TRIM_SLACK)
		return buf;
	uint8_t *t = kc__realloc(buf, len);
	return t ? t : buf;
}

static kc_err outbuf_grow_to(kc__outbuf *ob, size_t cap)
{
	uint8_t *b = kc__realloc(ob->buf, cap ? cap : 1);
	if (!b)
		return KC_ERR_NOMEM;
	ob->buf = b;
	ob->alloc = cap ? cap : 1;
	ob->cap = cap;
	return KC_OK;
}

kc_err kc__outbuf_start(kc__outbuf *ob, size_t hint)
{
	size_t want = hint < ob->max ? hint : ob->max;
	ob->len = 0;
	ob->probing = 0;
	if (!ob->buf || ob->alloc < want)
		return outbuf_grow_to(ob, want);
	ob->cap = ob->alloc < ob->max ? ob->alloc : ob->max;
	return KC_OK;
}

/* Next capacity: double, at least GROW_MIN, never past max. */
static size_t next_cap(const kc__outbuf *ob)
{
	size_t c = ob->cap < ob->max / 2 ? 2 * ob->cap : ob->max;
	if (c < GROW_MIN)
		c = ob->max < GROW_MIN ? ob->max : GROW_MIN;
	return c;
}

kc_err kc__outbuf_space(kc__outbuf *ob, uint8_t **p, size_t *avail)
{
	if (ob->len == ob->cap && ob->cap < ob->max)
		KC__TRY(outbuf_grow_to(ob, next_cap(ob)));
	if (ob->len < ob->cap) {
		ob->probing = 0;
		*p = ob->buf + ob->len;
		*avail = ob->cap - ob->len;
	} else {
		ob->probing = 1;
		*p = &ob->probe;
		*avail = 1;
	}
	return KC_OK;
}

kc_err kc__outbuf_commit(kc__outbuf *ob, size_t produced)
{
	if (ob->probing)
		return produced ? KC_ERR_TOO_LARGE : KC_OK;
	ob->len += produced;
	return KC_OK;
}

kc_err kc__outbuf_reserve(kc__outbuf *ob, size_t need)
{
	if (need > ob->max - ob->len)
		return KC_ERR_TOO_LARGE;
	if (need <= ob->cap - ob->len)
		return KC_OK;
	size_t c = next_cap(ob);
	return outbuf_grow_to(ob, c > ob->len + need ? c : ob->len + need);
}

/* Codec 0 copies, so callers may treat every attribute value alike.
 * Copied even past the writer's reference threshold: the caller's source
 * is usually a scratch buffer it reuses. */
static kc_err copy_to(const uint8_t *src, size_t n, kc_writer *w)
{
	if (n == 0)
		return w->err;
	uint8_t *d = kc__w_room(w, n);
	if (!d)
		return KC_ERR_NOMEM;
	memcpy(d, src, n);
	w->len += n;
	return KC_OK;
}

/* The state the codec keeps in a compressor, or NULL for codecs that
 * keep none (none, snappy). */
static kc_err compressor_for(kc_compressor **cc, int codec, kc_compressor **c)
{
	*c = NULL;
	if (!cc || (codec != KC_CODEC_GZIP && codec != KC_CODEC_LZ4 &&
		    codec != KC_CODEC_ZSTD))
		return KC_OK;
	KC__TRY(kc__compressor_get(cc));
	*c = *cc;
	return KC_OK;
}

kc_err kc__compressor_get(kc_compressor **cc)
{
	if (*cc)
		return KC_OK;
	kc_compressor *n = kc__malloc(sizeof *n);
	if (!n)
		return KC_ERR_NOMEM;
	*n = (kc_compressor){0};
	kc_writer_init(&n->scratch);
	*cc = n;
	return KC_OK;
}

kc_err kc_compress_with(kc_compressor **cc, int codec, int level,
			unsigned flags, const void *src, size_t n,
			kc_writer *out)
{
	if (!out || (!src && n))
		return KC_ERR_INVALID_ARG;
	if (out->err != KC_OK)
		return out->err;
	kc_compressor *c;
	KC__TRY(compressor_for(cc, codec, &c));
	switch (codec) {
	case KC_CODEC_NONE:
		return copy_to(src, n, out);
	case KC_CODEC_GZIP:
		return kc__gzip_compress(c ? &c->gzip : NULL,
					 c ? &c->gzip_level : NULL, level, src,
					 n, out);
	case KC_CODEC_SNAPPY:
		return kc__snappy_compress(flags, src, n, out);
	case KC_CODEC_LZ4:
		return kc__lz4_compress(c ? &c->lz4 : NULL, level, flags, src,
					n, out);
	case KC_CODEC_ZSTD:
		return kc__zstd_compress(c ? &c->zstd : NULL, level, src, n,
					 out);
	default:
		return KC_ERR_UNSUPPORTED_CODEC;
	}
}

void kc_compressor_free(kc_compressor *cc)
{
	if (!cc)
		return;
	kc__gzip_ctx_free(cc->gzip);
	kc__lz4_ctx_free(cc->lz4);
	kc__zstd_ctx_free(cc->zstd);
	kc_writer_free(&cc->scratch);
	kc__free(cc);
}

kc_err kc_compress_to(int codec, int level, unsigned flags, const void *src,
		      size_t n, kc_writer *out)
{
	return kc_compress_with(NULL, codec, level, flags, src, n, out);
}

kc_err kc_compress(int codec, int level, unsigned flags, const void *src,
		   size_t n, uint8_t **out, size_t *out_len)
{
	if (!out || !out_len)
		return KC_ERR_INVALID_ARG;
	kc_writer w;
	kc_writer_init(&w);
	kc_err err = kc_compress_to(codec, level, flags, src, n, &w);
	/* An empty copy never touched the writer: still hand out a block. */
	if (err == KC_OK && !w.buf && !kc__w_room(&w, 1))
		err = KC_ERR_NOMEM;
	if (err != KC_OK) {
		kc_writer_free(&w);
		return err;
	}
	*out = kc__shrink(w.buf, w.len, w.cap);
	*out_len = w.len;
	return KC_OK;
}

static kc_err decompress_into(int codec, unsigned flags, const uint8_t *src,
			      size_t n, kc__outbuf *ob)
{
	switch (codec) {
	case KC_CODEC_NONE:
		if (n > ob->max)
			return KC_ERR_TOO_LARGE;
		KC__TRY(kc__outbuf_start(ob, n));
		if (n)
			memcpy(ob->buf, src, n);
		ob->len = n;
		return KC_OK;
	case KC_CODEC_GZIP:
		return kc__gzip_decompress(src, n, ob);
	case KC_CODEC_SNAPPY:
		return kc__snappy_decompress(src, n, ob);
	case KC_CODEC_LZ4:
		return kc__lz4_decompress(flags, src, n, ob);
	case KC_CODEC_ZSTD:
		return kc__zstd_decompress(src, n, ob);
	default:
		return KC_ERR_UNSUPPORTED_CODEC;
	}
}

kc_err kc_decompress_to(int codec, unsigned flags, const void *src, size_t n,
			size_t max_out, uint8_t **buf, size_t *cap,
			size_t *out_len)
{
	if (!buf || !cap || !out_len || (!src && n))
		return KC_ERR_INVALID_ARG;
	kc__outbuf ob;
	memset(&ob, 0, sizeof ob);
	ob.buf = *buf;
	ob.alloc = *buf ? *cap : 0;
	ob.max = max_out;
	kc_err err = decompress_into(codec, flags, src, n, &ob);
	/* Hand back the block even on failure: a grow may have moved it. */
	*buf = ob.buf;
	*cap = ob.alloc;
	if (err == KC_OK)
		*out_len = ob.len;
	return err;
}

kc_err kc_decompress(int codec, unsigned flags, const void *src, size_t n,
		     size_t max_out, uint8_t **out, size_t *out_len)
{
	if (!out || !out_len)
		return KC_ERR_INVALID_ARG;
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	kc_err err = kc_decompress_to(codec, flags, src, n, max_out, &buf,
				      &cap, &len);
	if (err != KC_OK) {
		kc__free(buf);
		return err;
	}
	*out = kc__shrink(buf, len, cap);
	*out_len = len;
	return KC_OK;
}
