/*
 * Batch builder, and its RecordBatch v2 (magic 2) format.
 *
 * v2 follows librdkafka's writer: the 61-byte header is reserved at the
 * first append, each record is encoded in place by the generated
 * kc_record_encode() as it comes (the payload's only copy), and seal fills
 * the header, compresses the records region and computes the CRC-32C.
 * Legacy message sets (magic 0/1) are in message_set.c.
 */
#include "buf_int.h"
#include "compress_int.h"
#include "kafkit/crc.h"
#include "kafkit/messages.h"
#include "records_int.h"

/* Byte offsets of the v2 header fields (wire-format.md §6). */
enum {
	V2_BASE_OFFSET = 0,
	V2_BATCH_LENGTH = 8,
	V2_LEADER_EPOCH = 12,
	V2_MAGIC = 16,
	V2_CRC = 17,
	V2_ATTRIBUTES = 21,
	V2_LAST_OFFSET_DELTA = 23,
	V2_BASE_TIMESTAMP = 27,
	V2_MAX_TIMESTAMP = 35,
	V2_PRODUCER_ID = 43,
	V2_PRODUCER_EPOCH = 51,
	V2_BASE_SEQUENCE = 53,
	V2_RECORDS_COUNT = 57,
};

void kc_batch_config_default(kc_batch_config *cfg)
{
	*cfg = (kc_batch_config){
		.magic = 2,
		.codec = KC_CODEC_NONE,
		.level = KC_LEVEL_DEFAULT,
		.base_offset = 0,
		.partition_leader_epoch = -1,
		.producer_id = -1,
		.producer_epoch = -1,
		.base_sequence = -1,
	};
}

kc_err kc_batch_builder_init(kc_batch_builder *b, const kc_batch_config *cfg)
{
	*b = (kc_batch_builder){0};
	kc_writer_init(&b->w);
	kc_writer_init(&b->z);
	if (cfg->magic < 0 || cfg->magic > 2 || cfg->codec < KC_CODEC_NONE ||
	    cfg->codec > KC_CODEC_ZSTD)
		return KC_ERR_INVALID_ARG;
	/* zstd exists only inside magic-2 batches (KIP-110). */
	if (cfg->codec == KC_CODEC_ZSTD && cfg->magic < 2)
		return KC_ERR_INVALID_ARG;
	b->cfg = *cfg;
	return KC_OK;
}

/* The generated encoder takes its own header type; both are {key, value}
 * slices, converted here into a scratch array the builder keeps. */
static kc_err v2_headers(kc_batch_builder *b, const kc_rec_header *h,
			 size_t n, kc_record_header **out)
{
	if (n > b->hdrs_cap) {
		if (n > SIZE_MAX / sizeof *b->hdrs)
			return KC_ERR_NOMEM;
		kc_record_header *p = kc__realloc(b->hdrs, n * sizeof *p);
		if (!p)
			return KC_ERR_NOMEM;
		b->hdrs = p;
		b->hdrs_cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		b->hdrs[i].key = h[i].key;
		b->hdrs[i].value = h[i].value;
	}
	*out = b->hdrs;
	return KC_OK;
}

static void v2_record(const kc_batch_builder *b, kc_record *rec,
		      int64_t timestamp, kc_bytes key, kc_bytes value)
{
	int64_t base = b->count ? b->base_timestamp : timestamp;
	*rec = (kc_record){
		.attributes = 0,
		.timestamp_delta = kc__sub_wrap(timestamp, base),
		.offset_delta = b->count,
		.key = key,
		.value = value,
	};
}

static kc_err v2_append(kc_batch_builder *b, int64_t timestamp, kc_bytes key,
			kc_bytes value, const kc_rec_header *headers,
			size_t nheaders, size_t ref_min)
{
	kc_record rec;
	v2_record(b, &rec, timestamp, key, value);
	if (nheaders) {
		if (nheaders > INT32_MAX)
			return KC_ERR_INVALID_ARG;
		KC__TRY(v2_headers(b, headers, nheaders, &rec.headers));
		rec.headers_count = (int32_t)nheaders;
	}
	kc__wmark mark = kc__writer_mark(&b->w);
	if (b->count == 0)
		b->header = kc_writer_reserve(&b->w, KC_BATCH_V2_HEADER_SIZE);
	/* The writer references every bytes field at or past its threshold,
	 * header values included, but only key and value are the caller's
	 * to lend: stay above the largest header value. */
	for (size_t i = 0; ref_min && i < nheaders; i++)
		if (headers[i].value.len >= 0 &&
		    (size_t)headers[i].value.len >= ref_min)
			ref_min = (size_t)headers[i].value.len + 1;
	kc_writer_set_ref_threshold(&b->w, ref_min);
	kc_err e = kc_record_encode(&b->w, &rec, 2);
	kc_writer_set_ref_threshold(&b->w, 0);
	if (e == KC_OK && kc_writer_pos(&b->w) - 12 > INT32_MAX)
		e = KC_ERR_TOO_LARGE; /* batchLength is an int32 */
	if (e != KC_OK) {
		/* Leave the batch as it was, so the caller can still seal it. */
		kc__writer_rewind(&b->w, mark);
		return e;
	}
	if (b->count == 0) {
		b->base_timestamp = timestamp;
		b->max_timestamp = timestamp;
	} else if (timestamp > b->max_timestamp) {
		b->max_timestamp = timestamp;
	}
	b->count++;
	return KC_OK;
}

static kc_err append(kc_batch_builder *b, int64_t timestamp, kc_bytes key,
		     kc_bytes value, const kc_rec_header *headers,
		     size_t nheaders, size_t ref_min)
{
	if (b->is_sealed || b->count == INT32_MAX)
		return KC_ERR_INVALID_ARG;
	if (key.len < -1 || value.len < -1 || (nheaders && !headers))
		return KC_ERR_INVALID_ARG;
	for (size_t i = 0; i < nheaders; i++)
		if (headers[i].key.len < 0 || headers[i].value.len < -1)
			return KC_ERR_INVALID_ARG;
	if (b->cfg.magic < 2) {
		if (nheaders)
			return KC_ERR_INVALID_ARG;
		return kc__msgset_append(b, timestamp, key, value);
	}
	return v2_append(b, timestamp, key, value, headers, nheaders, ref_min);
}

kc_err kc_batch_append(kc_batch_builder *b, int64_t timestamp, kc_bytes key,
		       kc_bytes value, const kc_rec_header *headers,
		       size_t nheaders)
{
	return append(b, timestamp, key, value, headers, nheaders, 0);
}

kc_err kc_batch_append_ref(kc_batch_builder *b, int64_t timestamp,
			   kc_bytes key, kc_bytes value,
			   const kc_rec_header *headers, size_t nheaders,
			   size_t ref_min)
{
	return append(b, timestamp, key, value, headers, nheaders,
		      ref_min ? ref_min : 1);
}

int32_t kc_batch_count(const kc_batch_builder *b)
{
	return b->count;
}

size_t kc_batch_bytes(const kc_batch_builder *b)
{
	return b->is_sealed ? b->raw_len : kc_writer_pos(&b->w);
}

/* Bytes of a varint-prefixed key, value or header field: the length (-1
 * for null) and the bytes. */
static size_t v2_field_size(int32_t len)
{
	return len < 0 ? 1 : kc__varint_size(len) + (size_t)len;
}

/* The size Record (schema codec/schema/records.kdef) encodes to, worked
 * out field by field because the producer asks it twice per record and
 * the generated kc_record_size() wants a kc_record filled first; the
 * codec tests hold the two to the bytes kc_batch_append() writes. */
size_t kc_batch_record_size(const kc_batch_builder *b, int64_t timestamp,
			    kc_bytes key, kc_bytes value,
			    const kc_rec_header *headers, size_t nheaders)
{
	if (b->cfg.magic < 2)
		return kc__msgset_record_size(b, key, value);
	int64_t base = b->count ? b->base_timestamp : timestamp;
	size_t body = 1 /* attributes */ +
		      kc__varlong_size(kc__sub_wrap(timestamp, base)) +
		      kc__varint_size(b->count) /* offsetDelta */ +
		      v2_field_size(key.len) + v2_field_size(value.len) +
		      kc__varint_size((int32_t)nheaders);
	for (size_t i = 0; i < nheaders; i++)
		body += v2_field_size(headers[i].key.len) +
			v2_field_size(headers[i].value.len);
	size_t n = kc__varint_size((int32_t)body) + body;
	return n + (b->count ? 0 : KC_BATCH_V2_HEADER_SIZE);
}

/* Compress the records region into b->z, then copy the result over the
 * records: z keeps its size across batches, so a steady stream of batches
 * allocates nothing here. Referenced values are first gathered into the
 * batch (the compressor wants one region; it reads every byte anyway).
 * On failure the records are left as they were so that the caller may
 * retry. */
static kc_err v2_compress(kc_batch_builder *b)
{
	kc_writer *w = &b->w, *z = &b->z;
	KC__TRY(kc__writer_flatten(w));
	size_t raw = w->len - KC_BATCH_V2_HEADER_SIZE;
	kc_writer_reset(z);
	KC__TRY(kc_compress_with(&b->cc, b->cfg.codec, b->cfg.level, 0,
				 w->buf + KC_BATCH_V2_HEADER_SIZE, raw, z));
	size_t n = z->len;
	if (n > (size_t)INT32_MAX - 49)
		return KC_ERR_TOO_LARGE;
	if (n > raw && !kc_writer_space(w, n - raw)) {
		w->err = KC_OK;
		return KC_ERR_NOMEM;
	}
	memcpy(w->buf + KC_BATCH_V2_HEADER_SIZE, z->buf, n);
	w->len = KC_BATCH_V2_HEADER_SIZE + n;
	return KC_OK;
}

/* crc: CRC-32C of attributes..end, referenced values included, so it
 * goes last. */
static void v2_crc(kc_batch_builder *b)
{
	uint32_t crc = kc_writer_crc32c_from(&b->w,
					     b->header.pos + V2_ATTRIBUTES);
	kc__be32(b->w.buf + b->header.off + V2_CRC, crc);
}

static kc_err v2_seal(kc_batch_builder *b)
{
	const kc_batch_config *c = &b->cfg;
	if (b->count == 0) {
		/* Only once: a failed seal may be retried. */
		if (b->w.len == 0)
			b->header = kc_writer_reserve(&b->w,
						      KC_BATCH_V2_HEADER_SIZE);
		if (kc_writer_err(&b->w) != KC_OK) {
			kc_writer_reset(&b->w);
			return KC_ERR_NOMEM;
		}
		b->base_timestamp = -1;
		b->max_timestamp = -1;
	}
	size_t raw_len = kc_writer_pos(&b->w);
	if (c->codec != KC_CODEC_NONE)
		KC__TRY(v2_compress(b));
	int16_t attrs = (int16_t)(c->codec & KC_ATTR_CODEC_MASK);
	if (c->transactional)
		attrs |= KC_ATTR_TRANSACTIONAL;
	if (c->log_append_time)
		attrs |= KC_ATTR_LOG_APPEND_TIME;
	uint8_t *h = b->w.buf + b->header.off;
	size_t len = kc_writer_pos(&b->w) - b->header.pos;
	kc__be64(h + V2_BASE_OFFSET, (uint64_t)c->base_offset);
	kc__be32(h + V2_BATCH_LENGTH, (uint32_t)(len - 12));
	kc__be32(h + V2_LEADER_EPOCH, (uint32_t)c->partition_leader_epoch);
	h[V2_MAGIC] = 2;
	kc__be16(h + V2_ATTRIBUTES, (uint16_t)attrs);
	/* lastOffsetDelta: an empty batch keeps 0, as Kafka's own do. */
	kc__be32(h + V2_LAST_OFFSET_DELTA,
		 (uint32_t)(b->count ? b->count - 1 : 0));
	kc__be64(h + V2_BASE_TIMESTAMP, (uint64_t)b->base_timestamp);
	kc__be64(h + V2_MAX_TIMESTAMP, (uint64_t)b->max_timestamp);
	kc__be64(h + V2_PRODUCER_ID, (uint64_t)c->producer_id);
	kc__be16(h + V2_PRODUCER_EPOCH, (uint16_t)c->producer_epoch);
	kc__be32(h + V2_BASE_SEQUENCE, (uint32_t)c->base_sequence);
	kc__be32(h + V2_RECORDS_COUNT, (uint32_t)b->count);
	v2_crc(b);
	b->raw_len = raw_len;
	return KC_OK;
}

kc_err kc_batch_seal(kc_batch_builder *b, const uint8_t **out, size_t *len)
{
	if (!b->is_sealed) {
		kc_err e = b->cfg.magic < 2 ? kc__msgset_seal(b) : v2_seal(b);
		if (e != KC_OK)
			return e;
		b->is_sealed = true;
	}
	/* An empty legacy set is zero bytes; still hand out a valid pointer. */
	static const uint8_t empty[1];
	*out = b->w.ext_total ? NULL : b->w.len ? b->w.buf : empty;
	*len = kc_writer_pos(&b->w);
	return KC_OK;
}

const kc_writer *kc_batch_output(const kc_batch_builder *b)
{
	return b->is_sealed ? &b->w : NULL;
}

kc_err kc_batch_seal_with(kc_batch_builder *b, kc_compressor **cc,
			  const uint8_t **out, size_t *len)
{
	if (b->is_sealed || b->cfg.codec == KC_CODEC_NONE)
		return kc_batch_seal(b, out, len);
	/* Both record formats compress with b->cc into b->z, which holds
	 * nothing once the seal copied the result into b->w: lend the
	 * builder the caller's contexts and scratch output for the seal, so
	 * that many pooled builders keep neither. */
	KC__TRY(kc__compressor_get(cc));
	kc_compressor *own = b->cc;
	kc_writer own_z = b->z;
	b->cc = *cc;
	b->z = (*cc)->scratch;
	kc_err e = kc_batch_seal(b, out, len);
	(*cc)->scratch = b->z;
	*cc = b->cc;
	b->z = own_z;
	b->cc = own;
	return e;
}

kc_err kc_batch_restamp(kc_batch_builder *b, int64_t producer_id,
			int16_t producer_epoch, int32_t base_sequence)
{
	if (!b->is_sealed || b->cfg.magic < 2)
		return KC_ERR_INVALID_ARG;
	/* The config stays: the builder's next batch, after a reset, starts
	 * unstamped. */
	uint8_t *h = b->w.buf + b->header.off;
	kc__be64(h + V2_PRODUCER_ID, (uint64_t)producer_id);
	kc__be16(h + V2_PRODUCER_EPOCH, (uint16_t)producer_epoch);
	kc__be32(h + V2_BASE_SEQUENCE, (uint32_t)base_sequence);
	/* The three fields lie inside the CRC's range (attributes..end). */
	v2_crc(b);
	return KC_OK;
}

void kc_batch_builder_reset(kc_batch_builder *b)
{
	kc_writer_reset(&b->w);
	kc_writer_reset(&b->z);
	b->count = 0;
	b->raw_len = 0;
	b->is_sealed = false;
}

void kc_batch_builder_free(kc_batch_builder *b)
{
	kc_writer_free(&b->w);
	kc_writer_free(&b->z);
	kc__free(b->hdrs);
	b->hdrs = NULL;
	b->hdrs_cap = 0;
	kc_compressor_free(b->cc);
	b->cc = NULL;
	kc_batch_builder_reset(b);
}
