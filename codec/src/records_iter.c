/*
 * Records iterator: walks the batches of a `records` blob (any magic, as in
 * Fetch), and the records of RecordBatch v2 batches. The fixed 61-byte v2
 * header is parsed here; each record goes through the generated
 * kc_record_decode(). Legacy entries are read in message_set.c.
 */
#include "buf_int.h"
#include "kafkit/crc.h"
#include "kafkit/messages.h"
#include "records_int.h"

void kc_records_iter_init(kc_records_iter *it, const void *p, size_t n,
			  unsigned flags, kc_decode_error *err)
{
	*it = (kc_records_iter){0};
	kc_reader_init(&it->r, p, n, err);
	it->err = err;
	it->flags = flags;
	it->max_decompressed = KC_DEFAULT_MAX_DECOMPRESSED;
	kc_arena_init(&it->arena);
}

void kc_records_iter_reset(kc_records_iter *it, const void *p, size_t n)
{
	kc_records_iter keep = *it;
	kc_records_iter_init(it, p, n, keep.flags, keep.err);
	it->max_decompressed = keep.max_decompressed;
	it->inflated = keep.inflated;
	it->inflated_cap = keep.inflated_cap;
	it->arena = keep.arena;
	it->hdrs = keep.hdrs;
	it->hdrs_cap = keep.hdrs_cap;
	if (it->arena.used)
		kc_arena_reset(&it->arena);
}

void kc_records_iter_free(kc_records_iter *it)
{
	kc__free(it->inflated);
	kc__free(it->hdrs);
	kc_arena_free(&it->arena);
	it->inflated = NULL;
	it->inflated_cap = 0;
	it->hdrs = NULL;
	it->hdrs_cap = 0;
}

int kc__iter_fail(kc_records_iter *it, kc_err e)
{
	/* A failure not recorded by a reader (e.g. the arena of a generated
	 * decoder) is placed at the records cursor. */
	if (it->err->code == KC_OK)
		kc__r_fail(it->in_compressed ? &it->recs : &it->r, e,
			   "RecordBatch.records");
	if (it->in_compressed && it->err->code == e)
		it->err->in_compressed = 1;
	it->failed = e;
	return e;
}

kc_err kc__iter_inflate(kc_records_iter *it, int codec, unsigned flags,
			const uint8_t *src, size_t n, const char *field)
{
	size_t len;
	kc_err e = kc_decompress_to(codec, flags, src, n, it->max_decompressed,
				    &it->inflated, &it->inflated_cap, &len);
	if (e != KC_OK)
		return kc__r_fail_at(&it->r, src, e, field);
	/* Failures inside count from the start of the decompressed bytes. */
	kc_reader_init(&it->recs, it->inflated, len, it->err);
	it->in_compressed = true;
	return KC_OK;
}

/* ---- RecordBatch v2 header --------------------------------------------- */

static kc_err open_v2(kc_records_iter *it, const uint8_t *start, int32_t length)
{
	kc_batch_info *c = &it->cur;
	if (length < KC_BATCH_V2_HEADER_SIZE - 12)
		return kc__r_fail_at(&it->r, start + 8, KC_ERR_BAD_LENGTH,
				     "RecordBatch.batch_length");
	kc_reader r;
	it->r.p = start;
	KC__TRY(kc__r_sub(&it->r, 12 + (size_t)length, &r, "RecordBatch"));
	int8_t magic;
	/* The reads cannot fail: the length covers the 61-byte header. */
	kc__r_i64(&r, &c->base_offset, "RecordBatch.base_offset");
	kc__r_i32(&r, &c->batch_length, "RecordBatch.batch_length");
	kc__r_i32(&r, &c->partition_leader_epoch,
		  "RecordBatch.partition_leader_epoch");
	kc__r_i8(&r, &magic, "RecordBatch.magic");
	kc__r_u32(&r, &c->crc, "RecordBatch.crc");
	/* crc: CRC-32C of attributes..end of batch. */
	c->crc_ok = kc_crc32c(0, r.p, kc__r_left(&r)) == c->crc;
	if (!c->crc_ok && !(it->flags & KC_ITER_CRC_LENIENT))
		return kc__r_fail_at(&it->r, start + 17, KC_ERR_CRC,
				     "RecordBatch.crc");
	const uint8_t *attrs_at = r.p;
	kc__r_i16(&r, &c->attributes, "RecordBatch.attributes");
	kc__r_i32(&r, &c->last_offset_delta, "RecordBatch.last_offset_delta");
	kc__r_i64(&r, &c->base_timestamp, "RecordBatch.base_timestamp");
	kc__r_i64(&r, &c->max_timestamp, "RecordBatch.max_timestamp");
	kc__r_i64(&r, &c->producer_id, "RecordBatch.producer_id");
	kc__r_i16(&r, &c->producer_epoch, "RecordBatch.producer_epoch");
	kc__r_i32(&r, &c->base_sequence, "RecordBatch.base_sequence");
	const uint8_t *count_at = r.p;
	kc__r_i32(&r, &c->records_count, "RecordBatch.records_count");
	c->codec = c->attributes & KC_ATTR_CODEC_MASK;
	if (c->codec > KC_CODEC_ZSTD)
		return kc__r_fail_at(&it->r, attrs_at, KC_ERR_UNSUPPORTED_CODEC,
				     "RecordBatch.attributes");
	if (c->last_offset_delta < 0)
		return kc__r_fail_at(&it->r, attrs_at + 2, KC_ERR_BAD_VALUE,
				     "RecordBatch.last_offset_delta");
	/* recordsCount distinct, increasing offsetDeltas fit in
	 * [0, lastOffsetDelta] (compaction may leave gaps, never more). */
	if (c->records_count < 0 ||
	    c->records_count - 1 > c->last_offset_delta)
		return kc__r_fail_at(&it->r, count_at, KC_ERR_BAD_COUNT,
				     "RecordBatch.records_count");
	c->last_offset = kc__add_wrap(c->base_offset, c->last_offset_delta);
	if (c->codec == KC_CODEC_NONE) {
		it->recs = r;
	} else {
		KC__TRY(kc__iter_inflate(it, c->codec, 0, r.p, kc__r_left(&r),
					 "RecordBatch.records"));
	}
	c->uncompressed_size = kc__r_left(&it->recs);
	if ((uint64_t)c->records_count >
	    c->uncompressed_size / KC__RECORD_MIN_SIZE) {
		it->in_compressed = false; /* the count is in the blob */
		return kc__r_fail_at(&it->r, count_at, KC_ERR_BAD_COUNT,
				     "RecordBatch.records_count");
	}
	it->recs_left = c->records_count;
	it->prev_delta = -1;
	return KC_OK;
}

/* ---- batches ------------------------------------------------------------- */

/* The entry at the cursor does not fit what is left: a partial trailing
 * batch, normal at the end of a Fetch response. */
static int partial_tail(kc_records_iter *it, const char *field)
{
	if (it->flags & KC_ITER_STRICT_END)
		return kc__iter_fail(it, kc__r_fail(&it->r, KC_ERR_TRUNCATED,
						    field));
	it->truncated_tail = true;
	it->r.p = it->r.end;
	return 0;
}

int kc_records_next_batch(kc_records_iter *it, kc_batch_info *info)
{
	if (it->failed)
		return it->failed;
	it->recs_left = 0;
	it->single_pending = false;
	it->in_compressed = false;
	size_t left = kc__r_left(&it->r);
	if (left == 0)
		return 0;
	const uint8_t *start = it->r.p;
	if (left < KC_LEGACY_LOG_OVERHEAD)
		return partial_tail(it, "RecordBatch.batch_length");
	/* baseOffset/offset int64, then batchLength/message_size int32: the
	 * same 12-byte prefix in every magic, and magic at byte 16. */
	int32_t length = (int32_t)kc__get_be32(start + 8);
	if (length < 0)
		return kc__iter_fail(it, kc__r_fail_at(&it->r, start + 8,
						       KC_ERR_BAD_LENGTH,
						       "RecordBatch.batch_length"));
	if ((size_t)length > left - KC_LEGACY_LOG_OVERHEAD)
		return partial_tail(it, "RecordBatch.batch_length");
	if (length < 5)
		return kc__iter_fail(it, kc__r_fail_at(&it->r, start + 8,
						       KC_ERR_BAD_LENGTH,
						       "RecordBatch.batch_length"));
	int magic = (int8_t)start[16];
	it->cur = (kc_batch_info){
		.magic = magic,
		.offset = (size_t)(start - it->r.base),
		.wire_size = KC_LEGACY_LOG_OVERHEAD + (size_t)length,
	};
	kc_err e;
	if (magic == 2)
		e = open_v2(it, start, length);
	else if (magic == 0 || magic == 1)
		e = kc__msgset_open(it, start, length, magic);
	else
		e = kc__r_fail_at(&it->r, start + 16, KC_ERR_BAD_MAGIC,
				  "RecordBatch.magic");
	if (e != KC_OK)
		return kc__iter_fail(it, e);
	it->r.p = start + it->cur.wire_size;
	*info = it->cur;
	return 1;
}

/* ---- v2 records ---------------------------------------------------------- */

static int give_headers(kc_records_iter *it, const kc_record *rec,
			kc_record_view *v)
{
	if (rec->headers_count > it->hdrs_cap) {
		kc_rec_header *h = kc__realloc(
			it->hdrs, (size_t)rec->headers_count * sizeof *h);
		if (!h)
			return KC_ERR_NOMEM;
		it->hdrs = h;
		it->hdrs_cap = rec->headers_count;
	}
	for (int32_t i = 0; i < rec->headers_count; i++) {
		it->hdrs[i].key = rec->headers[i].key;
		it->hdrs[i].value = rec->headers[i].value;
	}
	v->headers = it->hdrs;
	v->headers_count = rec->headers_count;
	return KC_OK;
}

static int next_v2(kc_records_iter *it, kc_record_view *v)
{
	kc_batch_info *c = &it->cur;
	kc_reader *r = &it->recs;
	if (it->recs_left == 0) {
		if (kc__r_left(r))
			return kc__iter_fail(it, kc__r_fail(r, KC_ERR_TRAILING,
							    "RecordBatch.records"));
		return 0;
	}
	if (kc__r_left(r) == 0)
		return kc__iter_fail(it, kc__r_fail(r, KC_ERR_BAD_COUNT,
						    "RecordBatch.records_count"));
	/* Header arrays of the previous record are no longer needed. */
	if (it->arena.used)
		kc_arena_reset(&it->arena);
	const uint8_t *at = r->p;
	kc_record rec;
	kc_err e = kc_record_decode(r, &rec, 2, &it->arena);
	if (e != KC_OK)
		return kc__iter_fail(it, e);
	if (rec.offset_delta <= it->prev_delta ||
	    rec.offset_delta > c->last_offset_delta)
		return kc__iter_fail(it, kc__r_fail_at(r, at, KC_ERR_BAD_VALUE,
						       "Record.offset_delta"));
	it->prev_delta = rec.offset_delta;
	it->recs_left--;
	*v = (kc_record_view){
		.offset = kc__add_wrap(c->base_offset, rec.offset_delta),
		/* LogAppendTime: maxTimestamp is every record's. */
		.timestamp = (c->attributes & KC_ATTR_LOG_APPEND_TIME)
				     ? c->max_timestamp
				     : kc__add_wrap(c->base_timestamp,
						    rec.timestamp_delta),
		.attributes = rec.attributes,
		.key = rec.key,
		.value = rec.value,
	};
	if (rec.headers_count > 0 && give_headers(it, &rec, v) != KC_OK)
		return kc__iter_fail(it, kc__r_fail_at(r, at, KC_ERR_NOMEM,
						       "Record.headers"));
	return 1;
}

int kc_records_next(kc_records_iter *it, kc_record_view *rec)
{
	if (it->failed)
		return it->failed;
	if (it->cur.magic == 2)
		return next_v2(it, rec);
	return kc__msgset_next(it, rec);
}
