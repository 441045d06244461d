/*
 * Legacy MessageSet (magic 0 and 1): building and reading.
 *
 * Each message goes through the generated kc_legacy_message_* functions,
 * which own the offset/message_size prefix and the CRC-32. A compressed set
 * is an inner set of plain messages, compressed whole into the value of one
 * wrapper message (wire-format.md §8).
 */
#include "buf_int.h"
#include "kafkit/messages.h"
#include "records_int.h"

/* ---- building ------------------------------------------------------------ */

static int8_t msg_attributes(const kc_batch_config *c, int codec)
{
	int8_t a = (int8_t)codec;
	/* timestampType exists from magic 1 on. */
	if (c->magic == 1 && c->log_append_time)
		a |= KC_ATTR_LOG_APPEND_TIME;
	return a;
}

static void inner_message(const kc_batch_builder *b, kc_legacy_message *m,
			  int64_t timestamp, kc_bytes key, kc_bytes value)
{
	const kc_batch_config *c = &b->cfg;
	*m = (kc_legacy_message){
		/* offset: relative (0..n-1) inside a magic-1 wrapper; plain
		 * (base + index) everywhere else. */
		.offset = c->codec != KC_CODEC_NONE && c->magic == 1
				  ? b->count
				  : kc__add_wrap(c->base_offset, b->count),
		.magic = (int8_t)c->magic,
		.attributes = msg_attributes(c, KC_CODEC_NONE),
		.timestamp = c->magic == 1 ? timestamp : -1,
		.key = key,
		.value = value,
	};
}

kc_err kc__msgset_append(kc_batch_builder *b, int64_t timestamp, kc_bytes key,
			 kc_bytes value)
{
	kc_legacy_message m;
	inner_message(b, &m, timestamp, key, value);
	size_t mark = b->w.len;
	kc_err e = kc_legacy_message_encode(&b->w, &m, (int16_t)b->cfg.magic);
	/* The set must still fit a wrapper's int32 value length once
	 * compressed, and a records field's int32 length. */
	if (e == KC_OK && b->w.len > INT32_MAX - 64)
		e = KC_ERR_TOO_LARGE;
	if (e != KC_OK) {
		b->w.len = mark;
		b->w.err = KC_OK;
		return e;
	}
	if (b->count == 0 || timestamp > b->max_timestamp)
		b->max_timestamp = timestamp;
	b->count++;
	return KC_OK;
}

size_t kc__msgset_record_size(const kc_batch_builder *b, kc_bytes key,
			      kc_bytes value)
{
	kc_legacy_message m;
	inner_message(b, &m, 0, key, value);
	return kc_legacy_message_size(&m, (int16_t)b->cfg.magic);
}

kc_err kc__msgset_seal(kc_batch_builder *b)
{
	const kc_batch_config *c = &b->cfg;
	kc_writer *w = &b->w;
	b->raw_len = w->len;
	/* An empty set is zero bytes, compressed or not: a wrapper around
	 * nothing would carry no offset to give it. */
	if (c->codec == KC_CODEC_NONE || b->count == 0)
		return KC_OK;
	/* Magic 0 frames LZ4 with the old broken header checksum. */
	unsigned flags = c->codec == KC_CODEC_LZ4 && c->magic == 0
				 ? KC_COMPRESS_LZ4_LEGACY_HC
				 : 0;
	/* Compressed into b->z, which keeps its size across batches. */
	kc_writer *z = &b->z;
	kc_writer_reset(z);
	KC__TRY(kc_compress_with(&b->cc, c->codec, c->level, flags, w->buf,
				 w->len, z));
	if (z->len > (size_t)INT32_MAX - 64)
		return KC_ERR_TOO_LARGE;
	kc_legacy_message wrap = {
		/* offset: the last inner message's absolute offset (for
		 * magic 1 that is base + relative, as the broker writes it). */
		.offset = kc__add_wrap(c->base_offset, b->count - 1),
		.magic = (int8_t)c->magic,
		.attributes = msg_attributes(c, c->codec),
		/* timestamp: the max of the inner ones (CreateTime). */
		.timestamp = c->magic == 1 ? b->max_timestamp : -1,
		.key = KC_BYTES_NULL,
		.value = {z->buf, (int32_t)z->len},
	};
	/* Make room first so that a failure leaves the inner set intact:
	 * the wrapper then overwrites it from byte 0. */
	size_t need = kc_legacy_message_size(&wrap, (int16_t)c->magic);
	size_t inner_len = w->len;
	w->len = 0;
	if (!kc_writer_space(w, need)) {
		w->len = inner_len;
		w->err = KC_OK;
		return KC_ERR_NOMEM;
	}
	return kc_legacy_message_encode(w, &wrap, (int16_t)c->magic);
}

/* ---- reading ------------------------------------------------------------- */

/* Decode one message whose bytes are known to be complete; verify its
 * magic and CRC. */
static kc_err read_message(kc_records_iter *it, kc_reader *r,
			   kc_legacy_message *m, int magic)
{
	const uint8_t *at = r->p;
	enum { MAGIC_AT = KC_LEGACY_LOG_OVERHEAD + 4 };
	if (kc__r_left(r) > MAGIC_AT && at[MAGIC_AT] != magic)
		return kc__r_fail_at(r, at + MAGIC_AT, KC_ERR_BAD_MAGIC,
				     "LegacyMessage.magic");
	r->flags |= KC_READ_CRC_LENIENT;
	KC__TRY(kc_legacy_message_decode(r, m, (int16_t)magic, NULL));
	if (!m->crc_ok) {
		if (!(it->flags & KC_ITER_CRC_LENIENT))
			return kc__r_fail_at(r, at + KC_LEGACY_LOG_OVERHEAD,
					     KC_ERR_CRC, "LegacyMessage.crc");
		it->cur.crc_ok = false;
	}
	return KC_OK;
}

static void fill_view(const kc_records_iter *it, const kc_legacy_message *m,
		      int64_t offset, kc_record_view *rec)
{
	bool log_append = it->cur.magic == 1 &&
			  (it->cur.attributes & KC_ATTR_LOG_APPEND_TIME);
	*rec = (kc_record_view){
		.offset = offset,
		/* LogAppendTime: the wrapper's timestamp is every record's. */
		.timestamp = it->cur.magic == 0 ? -1
			     : log_append    ? it->cur.max_timestamp
					     : m->timestamp,
		.attributes = m->attributes,
		.key = m->key,
		.value = m->value,
	};
}

/* Walk the inner set's offset/size prefixes once: the record count and the
 * last relative offset are needed before the first record is given. */
static kc_err scan_inner(kc_records_iter *it, int32_t *count, int64_t *first,
			 int64_t *last)
{
	kc_reader s = it->recs;
	int32_t n = 0;
	while (kc__r_left(&s)) {
		int64_t off = 0;
		int32_t size = 0;
		KC__TRY(kc__r_i64(&s, &off, "LegacyMessage.offset"));
		KC__TRY(kc__r_i32(&s, &size, "LegacyMessage.message_size"));
		if (size < 0 || (size_t)size > kc__r_left(&s))
			return kc__r_fail_at(&s, s.p - 4, KC_ERR_BAD_LENGTH,
					     "LegacyMessage.message_size");
		s.p += size;
		if (n == 0)
			*first = off;
		*last = off;
		n++;
	}
	*count = n;
	return KC_OK;
}

static kc_err open_wrapper(kc_records_iter *it, const kc_legacy_message *m,
			   const uint8_t *start, int magic)
{
	int codec = m->attributes & KC_ATTR_CODEC_MASK;
	/* zstd (4) never existed for legacy messages. */
	if (codec > KC_CODEC_LZ4)
		return kc__r_fail_at(&it->r, start + KC_LEGACY_LOG_OVERHEAD + 5,
				     KC_ERR_UNSUPPORTED_CODEC,
				     "LegacyMessage.attributes");
	if (m->value.len < 0)
		return kc__r_fail_at(&it->r, start, KC_ERR_NULL,
				     "LegacyMessage.value");
	unsigned flags = codec == KC_CODEC_LZ4 && magic == 0
				 ? KC_COMPRESS_LZ4_LEGACY_HC
				 : 0;
	KC__TRY(kc__iter_inflate(it, codec, flags, m->value.ptr,
				 (size_t)m->value.len, "LegacyMessage.value"));
	int32_t n = 0;
	int64_t first = 0, last = 0;
	KC__TRY(scan_inner(it, &n, &first, &last));
	/* magic 1: inner offsets are relative, the wrapper's is the last
	 * one's absolute offset; a wrapper offset of 0 means the producer's
	 * relative base was never rewritten. magic 0: plain offsets. */
	it->legacy_delta = magic == 1 && m->offset != 0
				   ? kc__sub_wrap(m->offset, last)
				   : 0;
	it->recs_left = n;
	it->cur.records_count = n;
	if (n) {
		it->cur.base_offset = kc__add_wrap(first, it->legacy_delta);
		it->cur.last_offset = kc__add_wrap(last, it->legacy_delta);
	}
	it->cur.uncompressed_size = kc__r_left(&it->recs);
	return KC_OK;
}

kc_err kc__msgset_open(kc_records_iter *it, const uint8_t *start, int32_t size,
		       int magic)
{
	if (size < (magic == 0 ? KC__LEGACY_MIN_SIZE_V0 : KC__LEGACY_MIN_SIZE_V1))
		return kc__r_fail_at(&it->r, start + 8, KC_ERR_BAD_LENGTH,
				     "LegacyMessage.message_size");
	kc_reader r;
	it->r.p = start;
	KC__TRY(kc__r_sub(&it->r, KC_LEGACY_LOG_OVERHEAD + (size_t)size, &r,
			  "LegacyMessage"));
	kc_batch_info *c = &it->cur;
	kc_legacy_message m;
	c->crc_ok = true;
	KC__TRY(read_message(it, &r, &m, magic));
	c->codec = m.attributes & KC_ATTR_CODEC_MASK;
	c->base_offset = m.offset;
	c->last_offset = m.offset;
	c->batch_length = size;
	c->partition_leader_epoch = -1;
	c->attributes = (uint8_t)m.attributes;
	c->base_timestamp = magic == 1 ? m.timestamp : -1;
	c->max_timestamp = c->base_timestamp;
	c->producer_id = -1;
	c->producer_epoch = -1;
	c->base_sequence = -1;
	c->records_count = 1;
	c->crc = m.crc;
	c->uncompressed_size = (size_t)size;
	if (c->codec == KC_CODEC_NONE) {
		/* The one record is the message itself. */
		fill_view(it, &m, m.offset, &it->single);
		it->single_pending = true;
		it->recs_left = 0;
	} else {
		KC__TRY(open_wrapper(it, &m, start, magic));
	}
	c->last_offset_delta =
		(int32_t)kc__sub_wrap(c->last_offset, c->base_offset);
	return KC_OK;
}

int kc__msgset_next(kc_records_iter *it, kc_record_view *rec)
{
	if (it->single_pending) {
		it->single_pending = false;
		*rec = it->single;
		return 1;
	}
	if (it->recs_left == 0)
		return 0;
	kc_legacy_message m;
	const uint8_t *at = it->recs.p;
	kc_err e = read_message(it, &it->recs, &m, it->cur.magic);
	if (e != KC_OK)
		return kc__iter_fail(it, e);
	/* Inner messages are never compressed themselves. */
	if (m.attributes & KC_ATTR_CODEC_MASK)
		return kc__iter_fail(
			it, kc__r_fail_at(&it->recs,
					  at + KC_LEGACY_LOG_OVERHEAD + 5,
					  KC_ERR_UNSUPPORTED_CODEC,
					  "LegacyMessage.attributes"));
	it->recs_left--;
	fill_view(it, &m, kc__add_wrap(m.offset, it->legacy_delta), rec);
	return 1;
}
