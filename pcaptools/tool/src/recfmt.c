/* Records fields through kc_records_iter: summaries, JSON and text. */
#include <string.h>

#include "recfmt.h"

int kx__hist_bucket(uint64_t n)
{
	int i = 0;
	for (uint64_t lim = 1024; i < KX__NHIST - 1 && n >= lim; lim *= 4)
		i++;
	return i;
}

const char *kx__hist_label(int i)
{
	static const char *const l[KX__NHIST] = {"<1K",   "1K-4K",  "4K-16K", "16K-64K",
						 "64K-256K", "256K-1M", ">=1M"};
	return i >= 0 && i < KX__NHIST ? l[i] : "?";
}

const char *kx__codec_name(int codec)
{
	static const char *const n[] = {"none", "gzip", "snappy", "lz4", "zstd"};
	static const char *const other[] = {"codec-5", "codec-6", "codec-7"};
	if (codec >= 0 && codec <= 4)
		return n[codec];
	return codec >= 5 && codec <= 7 ? other[codec - 5] : "codec-?";
}

void kx__recs_init(kx__recs *r, kc_json_bytes_mode bytes)
{
	memset(r, 0, sizeof *r);
	r->bytes = bytes;
}

void kx__recs_free(kx__recs *r)
{
	if (r->started)
		kc_records_iter_free(&r->it);
	r->started = false;
}

static void start(kx__recs *r, kc_bytes recs)
{
	memset(&r->err, 0, sizeof r->err);
	if (!r->started) {
		/* lenient: a bad CRC is shown with the batch, not an abort */
		kc_records_iter_init(&r->it, recs.ptr, (size_t)recs.len, KC_ITER_CRC_LENIENT,
				     &r->err);
		r->started = true;
	} else {
		kc_records_iter_reset(&r->it, recs.ptr, (size_t)recs.len);
	}
}

/* Size of a batch with its records uncompressed. A legacy wrapper's own
 * header (offset, size, crc, magic, attributes, timestamp, null key, value
 * length) replaces the inner set it compresses. */
static uint64_t raw_size(const kc_batch_info *b)
{
	if (b->codec == KC_CODEC_NONE)
		return b->wire_size;
	if (b->magic == 2)
		return KC_BATCH_V2_HEADER_SIZE + b->uncompressed_size;
	return KC_LEGACY_LOG_OVERHEAD + (b->magic == 1 ? 22u : 14u) + 8u +
	       b->uncompressed_size;
}

static void set_err(kx__recs *r, int rc, kc_err *e, char *why, size_t n)
{
	*e = (kc_err)rc;
	kc_decode_error_format(&r->err, why, n);
}

kc_err kx__recs_summary(kx__recs *r, kc_bytes recs, kx__recsum *s)
{
	memset(s, 0, sizeof *s);
	s->magic = -1;
	if (recs.len < 0)
		return KC_OK;
	s->wire_bytes = (uint64_t)recs.len;
	start(r, recs);
	kc_batch_info bi;
	int rc;
	while ((rc = kc_records_next_batch(&r->it, &bi)) == 1) {
		s->batches++;
		s->records += bi.records_count;
		if (!bi.crc_ok)
			s->bad_crc++;
		if (s->magic < 0)
			s->magic = bi.magic;
		if (bi.codec && !s->codec)
			s->codec = bi.codec;
		s->raw_bytes += raw_size(&bi);
		s->hist[kx__hist_bucket(bi.wire_size)]++;
	}
	if (rc < 0)
		set_err(r, rc, &s->err, s->why, sizeof s->why);
	s->truncated_tail = r->it.truncated_tail;
	return s->err;
}

static void json_error(kx__recs *r, kc_json *j, int rc)
{
	char why[160];
	kc_decode_error_format(&r->err, why, sizeof why);
	kc_json_begin_object(j);
	KC_JSON_KEY(j, "code");
	kc_json_cstr(j, kc_err_name((kc_err)rc));
	KC_JSON_KEY(j, "message");
	kc_json_cstr(j, why);
	kc_json_end_object(j);
}

static void json_batch(kc_json *j, const kc_batch_info *b)
{
	KC_JSON_KEY(j, "byteOffset");
	kc_json_uint(j, b->offset);
	KC_JSON_KEY(j, "magic");
	kc_json_int(j, b->magic);
	KC_JSON_KEY(j, "baseOffset");
	kc_json_int(j, b->base_offset);
	KC_JSON_KEY(j, "lastOffset");
	kc_json_int(j, b->last_offset);
	KC_JSON_KEY(j, "batchLength");
	kc_json_int(j, b->batch_length);
	KC_JSON_KEY(j, "partitionLeaderEpoch");
	kc_json_int(j, b->partition_leader_epoch);
	KC_JSON_KEY(j, "attributes");
	kc_json_int(j, b->attributes);
	KC_JSON_KEY(j, "compression");
	kc_json_cstr(j, kx__codec_name(b->codec));
	KC_JSON_KEY(j, "timestampType");
	kc_json_cstr(j, b->magic == 0 ? "none"
		     : b->attributes & KC_ATTR_LOG_APPEND_TIME ? "LogAppendTime"
							       : "CreateTime");
	KC_JSON_KEY(j, "isTransactional");
	kc_json_bool(j, b->magic == 2 && (b->attributes & KC_ATTR_TRANSACTIONAL));
	KC_JSON_KEY(j, "isControl");
	kc_json_bool(j, b->magic == 2 && (b->attributes & KC_ATTR_CONTROL));
	KC_JSON_KEY(j, "lastOffsetDelta");
	kc_json_int(j, b->last_offset_delta);
	KC_JSON_KEY(j, "baseTimestamp");
	kc_json_int(j, b->base_timestamp);
	KC_JSON_KEY(j, "maxTimestamp");
	kc_json_int(j, b->max_timestamp);
	KC_JSON_KEY(j, "producerId");
	kc_json_int(j, b->producer_id);
	KC_JSON_KEY(j, "producerEpoch");
	kc_json_int(j, b->producer_epoch);
	KC_JSON_KEY(j, "baseSequence");
	kc_json_int(j, b->base_sequence);
	KC_JSON_KEY(j, "recordsCount");
	kc_json_int(j, b->records_count);
	KC_JSON_KEY(j, "crc");
	kc_json_uint(j, b->crc);
	KC_JSON_KEY(j, "crcOk");
	kc_json_bool(j, b->crc_ok);
	KC_JSON_KEY(j, "wireSize");
	kc_json_uint(j, b->wire_size);
	KC_JSON_KEY(j, "uncompressedSize");
	kc_json_uint(j, b->uncompressed_size);
}

static void json_record(kc_json *j, const kc_record_view *v)
{
	kc_json_begin_object(j);
	KC_JSON_KEY(j, "offset");
	kc_json_int(j, v->offset);
	KC_JSON_KEY(j, "timestamp");
	kc_json_int(j, v->timestamp);
	KC_JSON_KEY(j, "attributes");
	kc_json_int(j, v->attributes);
	KC_JSON_KEY(j, "key");
	kc_json_bytes(j, v->key);
	KC_JSON_KEY(j, "value");
	kc_json_bytes(j, v->value);
	KC_JSON_KEY(j, "headers");
	kc_json_begin_array(j);
	for (int32_t i = 0; i < v->headers_count; i++) {
		kc_json_begin_object(j);
		KC_JSON_KEY(j, "key");
		kc_json_str(j, v->headers[i].key);
		KC_JSON_KEY(j, "value");
		kc_json_bytes(j, v->headers[i].value);
		kc_json_end_object(j);
	}
	kc_json_end_array(j);
	kc_json_end_object(j);
}

void kx__recs_json(kx__recs *r, kc_json *j, kc_bytes recs)
{
	if (recs.len < 0) {
		kc_json_null(j);
		return;
	}
	kc_json_begin_object(j);
	KC_JSON_KEY(j, "sizeBytes");
	kc_json_int(j, recs.len);
	KC_JSON_KEY(j, "batches");
	kc_json_begin_array(j);
	start(r, recs);
	kc_batch_info bi;
	kc_record_view v;
	int rc, rr = 0;
	while ((rc = kc_records_next_batch(&r->it, &bi)) == 1) {
		kc_json_begin_object(j);
		json_batch(j, &bi);
		KC_JSON_KEY(j, "records");
		kc_json_begin_array(j);
		while ((rr = kc_records_next(&r->it, &v)) == 1)
			json_record(j, &v);
		kc_json_end_array(j);
		kc_json_end_object(j);
		if (rr < 0)
			break;
	}
	kc_json_end_array(j);
	KC_JSON_KEY(j, "truncatedTail");
	kc_json_bool(j, r->it.truncated_tail);
	KC_JSON_KEY(j, "error");
	if (rr < 0)
		json_error(r, j, rr);
	else if (rc < 0)
		json_error(r, j, rc);
	else
		kc_json_null(j);
	kc_json_end_object(j);
}

void kx__put_bytes(FILE *out, kc_bytes b, kc_json_bytes_mode mode)
{
	static const char hexd[] = "0123456789abcdef";
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (b.len < 0) {
		fputs("null", out);
		return;
	}
	size_t n = (size_t)b.len;
	const uint8_t *p = b.ptr;
	if (mode == KC_JSON_BYTES_HEX) {
		for (size_t i = 0; i < n; i++) {
			putc(hexd[p[i] >> 4], out);
			putc(hexd[p[i] & 15], out);
		}
		return;
	}
	if (mode == KC_JSON_BYTES_BASE64) {
		size_t i = 0;
		for (; i + 3 <= n; i += 3) {
			uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
			char o[4] = {b64[v >> 18], b64[v >> 12 & 63], b64[v >> 6 & 63], b64[v & 63]};
			fwrite(o, 1, 4, out);
		}
		if (n - i) {
			uint32_t v = (uint32_t)p[i] << 16 | (n - i == 2 ? (uint32_t)p[i + 1] << 8 : 0);
			char o[4] = {b64[v >> 18], b64[v >> 12 & 63],
				     n - i == 2 ? b64[v >> 6 & 63] : '=', '='};
			fwrite(o, 1, 4, out);
		}
		return;
	}
	/* text: printable ASCII as is, the rest escaped, so a line stays a
	 * line whatever the payload */
	putc('"', out);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			putc(c, out);
		else
			fprintf(out, "\\x%02x", c);
	}
	putc('"', out);
}

void kx__recs_text(kx__recs *r, FILE *out, kc_bytes recs, const char *indent)
{
	if (recs.len < 0)
		return;
	start(r, recs);
	kc_batch_info bi;
	kc_record_view v;
	int rc, rr = 0;
	while ((rc = kc_records_next_batch(&r->it, &bi)) == 1) {
		fprintf(out, "%sbatch magic=%d offset=%lld count=%d codec=%s size=%zu raw=%zu crc=%08x %s",
			indent, bi.magic, (long long)bi.base_offset, (int)bi.records_count,
			kx__codec_name(bi.codec), bi.wire_size, bi.uncompressed_size,
			(unsigned)bi.crc, bi.crc_ok ? "ok" : "BAD-CRC");
		if (bi.magic == 2 && bi.producer_id >= 0)
			fprintf(out, " pid=%lld epoch=%d seq=%d", (long long)bi.producer_id,
				(int)bi.producer_epoch, (int)bi.base_sequence);
		if (bi.magic == 2 && (bi.attributes & KC_ATTR_TRANSACTIONAL))
			fputs(" transactional", out);
		if (bi.magic == 2 && (bi.attributes & KC_ATTR_CONTROL))
			fputs(" control", out);
		putc('\n', out);
		while ((rr = kc_records_next(&r->it, &v)) == 1) {
			fprintf(out, "%s  offset=%lld ts=%lld key=", indent, (long long)v.offset,
				(long long)v.timestamp);
			kx__put_bytes(out, v.key, r->bytes);
			fputs(" value=", out);
			kx__put_bytes(out, v.value, r->bytes);
			for (int32_t i = 0; i < v.headers_count; i++) {
				fputs(i ? "," : " headers=", out);
				kc_bytes hk = {(const uint8_t *)v.headers[i].key.ptr,
					       v.headers[i].key.len};
				kx__put_bytes(out, hk, KC_JSON_BYTES_TEXT);
				putc('=', out);
				kx__put_bytes(out, v.headers[i].value, r->bytes);
			}
			putc('\n', out);
		}
		if (rr < 0)
			break;
	}
	int bad = rr < 0 ? rr : rc;
	if (bad < 0) {
		char why[160];
		kc_decode_error_format(&r->err, why, sizeof why);
		fprintf(out, "%s! records: %s\n", indent, why);
	} else if (r->it.truncated_tail) {
		fprintf(out, "%s! records: a partial batch ends the field\n", indent);
	}
}
