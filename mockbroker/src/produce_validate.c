/* Validation of Produce records: the request-level and the log-level
 * checks of a Kafka broker. */
#include <stddef.h>

#include "buf_int.h"
#include "kafka_errors.h"
#include "kafkit/crc.h"
#include "kafkit/records.h"
#include "produce_validate.h"

/* header positions: magic in every format; attributes of v2 batches and
 * of legacy messages (wire-format.md §6, §8) */
enum { MAGIC_AT = 16, ATTRS_AT = 21, LEGACY_ATTRS_AT = 17 };

int km__produce_magic(int16_t version)
{
	return version >= 3 ? 2 : version == 2 ? 1 : 0;
}

static const char V2_ONLY[] = "Produce v3+ needs record batches of magic 2";
static const char WRONG_MAGIC[] =
	"the message set magic does not match the Produce version";

static int16_t fail(const char **why, const char *msg, int16_t code)
{
	*why = msg;
	return code;
}

int16_t km__produce_precheck(kc_bytes records, int16_t version,
			     const char **why)
{
	*why = NULL;
	if (records.len < 0)
		return fail(why, "records are null", KM__E_INVALID_RECORD);
	int want = km__produce_magic(version);
	const uint8_t *p = records.ptr;
	size_t left = (size_t)records.len;
	int nbatches = 0;
	while (left) {
		/* baseOffset/offset int64, batchLength/message_size int32,
		 * then (v2) partitionLeaderEpoch or (legacy) crc, then magic */
		if (left < 17)
			return fail(why, "records end inside an entry header",
				    KM__E_CORRUPT_MESSAGE);
		int32_t size = (int32_t)kc__get_be32(p + 8);
		if (size < 5 || (size_t)size > left - 12)
			return fail(why, "an entry length is out of range",
				    KM__E_CORRUPT_MESSAGE);
		if (p[MAGIC_AT] != want)
			return fail(why, want == 2 ? V2_ONLY : WRONG_MAGIC,
				    KM__E_INVALID_RECORD);
		/* attributes: byte 21 of a v2 batch, 17 of a legacy message;
		 * an entry too short to hold them fails validation later */
		size_t end = 12 + (size_t)size;
		int codec = KC_CODEC_NONE;
		if (want < 2 && end > LEGACY_ATTRS_AT)
			codec = p[LEGACY_ATTRS_AT] & KC_ATTR_CODEC_MASK;
		else if (want == 2 && end >= ATTRS_AT + 2)
			codec = kc__get_be16(p + ATTRS_AT) & KC_ATTR_CODEC_MASK;
		if (codec == KC_CODEC_ZSTD && (want < 2 || version < 7))
			return fail(why, want < 2 ? "zstd needs magic 2"
						  : "zstd needs Produce v7+",
				    KM__E_UNSUPPORTED_COMPRESSION_TYPE);
		nbatches++;
		p += end;
		left -= end;
	}
	if (want == 2 && nbatches != 1)
		return fail(why, "Produce v3+ needs exactly one record batch",
			    KM__E_INVALID_RECORD);
	return 0;
}

static int16_t iter_error(kc_err e, const char **why)
{
	switch (e) {
	case KC_ERR_CRC:
		return fail(why, "CRC mismatch", KM__E_CORRUPT_MESSAGE);
	case KC_ERR_DECOMPRESS:
		return fail(why, "compressed records do not decompress",
			    KM__E_CORRUPT_MESSAGE);
	case KC_ERR_UNSUPPORTED_CODEC:
		return fail(why, "unknown compression codec",
			    KM__E_CORRUPT_MESSAGE);
	case KC_ERR_TOO_LARGE:
		return fail(why, "records decompress past the size limit",
			    KM__E_CORRUPT_MESSAGE);
	case KC_ERR_NOMEM:
		return fail(why, "out of memory", KM__E_UNKNOWN_SERVER_ERROR);
	case KC_ERR_BAD_COUNT:
	case KC_ERR_BAD_VALUE:
	case KC_ERR_TRAILING:
	case KC_ERR_NULL:
		return fail(why, "records contradict their batch header",
			    KM__E_INVALID_RECORD);
	default:
		return fail(why, "malformed records", KM__E_CORRUPT_MESSAGE);
	}
}

/* Checks of one top-level entry's header. */
static int16_t check_entry(const kc_batch_info *b, int32_t max_message,
			   km__produce_info *info, const char **why)
{
	if (b->wire_size > (size_t)max_message)
		return fail(why, "a batch exceeds the maximum message size",
			    KM__E_MESSAGE_TOO_LARGE);
	if (b->magic < 2)
		return 0;
	if (b->attributes & KC_ATTR_CONTROL)
		return fail(why, "clients may not write control batches",
			    KM__E_INVALID_RECORD);
	if (b->records_count != b->last_offset_delta + 1)
		return fail(why, "recordsCount is not lastOffsetDelta + 1",
			    KM__E_INVALID_RECORD);
	if (b->producer_id >= 0 && b->base_sequence < 0)
		return fail(why, "a producer id without a sequence",
			    KM__E_INVALID_RECORD);
	info->last_offset_delta = b->last_offset_delta;
	info->producer_id = b->producer_id;
	info->producer_epoch = b->producer_epoch;
	info->base_sequence = b->base_sequence;
	info->transactional = (b->attributes & KC_ATTR_TRANSACTIONAL) != 0;
	return 0;
}

/* ---- uncompressed RecordBatch v2: the fast walk ------------------------
 *
 * What clients send most (librdkafka without compression) is checked
 * without the records iterator: the header fields and CRC are read in
 * place, and each record is walked by its length prefixes as Kafka's
 * DefaultRecord.readPartiallyFrom does (attributes, timestampDelta and
 * offsetDelta read; key, value and headers skipped by their lengths,
 * which must add up to the record's length). The walk only accepts: on
 * anything it does not like it gives up, and the full validation below
 * decides, so the error codes and sentences are the same either way. */

/* v2 header positions (wire-format.md §8) */
enum {
	V2_LOD_AT = 23, V2_PID_AT = 43, V2_EPOCH_AT = 51, V2_SEQ_AT = 53,
	V2_COUNT_AT = 57, V2_HEADER = 61
};

/* The walk reads varints undecoded: an int32 zigzag varint u stands for
 * u / 2 when u is even and -(u + 1) / 2 when odd, so a length or count
 * n >= 0 is u = 2n, null (-1) is u = 1, and offsetDelta d is u = 2d. */

/* Unsigned varint of at most 5 bytes in [*p, end) that fits 32 bits;
 * false when truncated or too long. The loop behind walk_uvarint. */
static bool walk_uvarint_long(const uint8_t **p, const uint8_t *end,
			      uint32_t *u)
{
	const uint8_t *q = *p;
	uint64_t v = 0;
	for (int i = 0; i < 5 && q + i < end; i++) {
		v |= (uint64_t)(q[i] & 0x7f) << (7 * i);
		if (!(q[i] & 0x80)) {
			if (v > UINT32_MAX)
				return false;
			*u = (uint32_t)v;
			*p = q + i + 1;
			return true;
		}
	}
	return false;
}

/* Lengths and deltas of small records take one or two bytes: those
 * inline. */
static inline bool walk_uvarint(const uint8_t **p, const uint8_t *end,
				uint32_t *u)
{
	const uint8_t *q = *p;
	if (q < end && q[0] < 0x80) {
		*u = q[0];
		*p = q + 1;
		return true;
	}
	if (end - q >= 2 && q[1] < 0x80) {
		*u = (uint32_t)(q[0] & 0x7f) | (uint32_t)q[1] << 7;
		*p = q + 2;
		return true;
	}
	return walk_uvarint_long(p, end, u);
}

/* Step over a varlong whose value does not matter (timestampDelta). */
static inline bool walk_skip_varlong(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *q = *p;
	for (int i = 0; i < 10 && q + i < end; i++)
		if (q[i] < 0x80) {
			*p = q + i + 1;
			return true;
		}
	return false;
}

/* Skip a varint-length-prefixed field (null allowed when nullok). */
static inline bool walk_skip(const uint8_t **p, const uint8_t *end,
			     bool nullok)
{
	uint32_t u;
	if (!walk_uvarint(p, end, &u))
		return false;
	if (u & 1)
		return u == 1 && nullok;
	if (u / 2 > (size_t)(end - *p))
		return false;
	*p += u / 2;
	return true;
}

/* One record at *p: its offsetDelta must be `delta`. The bounded walk,
 * for the records near the end of the batch. */
static inline bool walk_record(const uint8_t **p, const uint8_t *end,
			       int32_t delta)
{
	uint32_t u;
	if (!walk_uvarint(p, end, &u) || (u & 1) || u == 0 ||
	    u / 2 > (size_t)(end - *p))
		return false;
	const uint8_t *q = *p + 1; /* past attributes */
	const uint8_t *rend = *p + u / 2;
	*p = rend;
	if (!walk_skip_varlong(&q, rend) /* timestampDelta */ ||
	    !walk_uvarint(&q, rend, &u) || u != 2 * (uint32_t)delta ||
	    !walk_skip(&q, rend, true) /* key */ ||
	    !walk_skip(&q, rend, true) /* value */ ||
	    !walk_uvarint(&q, rend, &u) || (u & 1) ||
	    u / 2 > (size_t)(rend - q) / 2)
		return false;
	for (uint32_t h = u / 2; h > 0; h--)
		if (!walk_skip(&q, rend, false) || !walk_skip(&q, rend, true))
			return false;
	return q == rend;
}

/* ---- the unbounded walk --------------------------------------------------
 *
 * Most records end at least WALK_SLACK bytes before the batch does, so
 * any varint starting inside them (10 bytes at most) can be read without
 * checking each byte against the end: positions are checked against the
 * record's end once per field instead. A varint that runs past the
 * record's end leaves the position beyond it, which the next check
 * refuses, as the bounded walk would. */
enum { WALK_SLACK = 32 };

/* A varint that is not one byte long, read unbounded: an unsigned value of
 * at most 5 bytes that fits 32 bits, or UINT64_MAX (odd, so refused by
 * every caller) when it is longer or larger. */
static uint64_t raw_uvarint_long(const uint8_t **p)
{
	const uint8_t *q = *p;
	uint64_t v = 0;
	for (int i = 0; i < 5; i++) {
		v |= (uint64_t)(q[i] & 0x7f) << (7 * i);
		if (!(q[i] & 0x80)) {
			*p = q + i + 1;
			return v > UINT32_MAX ? UINT64_MAX : v;
		}
	}
	return UINT64_MAX;
}

/* Lengths and deltas of small records take one or two bytes: those
 * inline. */
static inline uint64_t raw_uvarint(const uint8_t **p)
{
	const uint8_t *q = *p;
	uint32_t b0 = q[0], b1 = q[1];
	if (b0 < 0x80) {
		*p = q + 1;
		return b0;
	}
	if (b1 < 0x80) {
		*p = q + 2;
		return (b0 & 0x7f) | b1 << 7;
	}
	return raw_uvarint_long(p);
}

/* Step *q over a key or value of zigzag length u: null (u = 1) takes no
 * bytes and no comparison, since a position already past rend is refused
 * by the next one (or by the record's final q == rend). false when u is
 * negative otherwise, or the bytes run past rend. */
static inline bool raw_skip_nullable(const uint8_t **q, const uint8_t *rend,
				     uint64_t u)
{
	if (u == 1)
		return true;
	if ((u & 1) || (ptrdiff_t)(u / 2) > rend - *q)
		return false;
	*q += u / 2;
	return true;
}

/* Records from *p on while they end WALK_SLACK bytes before end, the
 * first with offsetDelta *delta; *p and *delta advance past each record
 * accepted. Returns false on a record the bounded walk would refuse too
 * (any varint or length out of place), true when the remaining records
 * (if any) are for the bounded walk. Positions are compared as signed
 * distances, so a field that ran past the record's end fails the next
 * comparison. */
static bool walk_records_fast(const uint8_t **p, const uint8_t *end,
			      int32_t *delta, int32_t count)
{
	if (end - *p < WALK_SLACK)
		return true;
	const uint8_t *r = *p, *lim = end - WALK_SLACK;
	int32_t d = *delta;
	while (d < count && r <= lim) {
		const uint8_t *q = r;
		uint64_t u = raw_uvarint(&q); /* length */
		if ((u & 1) || u == 0)
			return false;
		if ((ptrdiff_t)(u / 2) > lim - q)
			break; /* near the end (or past it): bounded walk */
		const uint8_t *rend = q + u / 2;
		q++; /* attributes */
		/* timestampDelta: a varlong, its value does not matter;
		 * mostly one byte (records a few ms apart) */
		if (q[0] < 0x80) {
			q++;
		} else {
			int k = 1;
			while (k < 10 && q[k] >= 0x80)
				k++;
			if (k == 10)
				return false;
			q += k + 1;
		}
		/* offsetDelta, then the key's length, and after null keys and
		 * values the next lengths, unchecked: all read within 31
		 * bytes from the end of the record's length, which lies
		 * before lim, so inside the slack */
		if (raw_uvarint(&q) != 2 * (uint64_t)d)
			return false;
		u = raw_uvarint(&q); /* key */
		if (!raw_skip_nullable(&q, rend, u))
			return false;
		u = raw_uvarint(&q); /* value */
		if (!raw_skip_nullable(&q, rend, u))
			return false;
		u = raw_uvarint(&q); /* header count */
		if (u) {
			if ((u & 1) || (ptrdiff_t)(u / 2) > (rend - q) / 2)
				return false;
			for (uint64_t h = u / 2; h > 0; h--)
				if (!walk_skip(&q, rend, false) ||
				    !walk_skip(&q, rend, true))
					return false;
		}
		if (q != rend)
			return false;
		r = rend;
		d++;
	}
	*p = r;
	*delta = d;
	return true;
}

/* The single batch of a v3+ request (precheck passed), when it is an
 * uncompressed, non-control batch that passes every check: fills *info and
 * returns true. false: let the full validation decide. */
static bool fast_v2(kc_bytes records, int32_t max_message,
		    km__produce_info *info)
{
	const uint8_t *b = records.ptr;
	size_t n = (size_t)records.len;
	if (n < V2_HEADER || n > (size_t)max_message ||
	    12 + (size_t)kc__get_be32(b + 8) != n)
		return false;
	int attrs = kc__get_be16(b + ATTRS_AT);
	if ((attrs & (KC_ATTR_CODEC_MASK | KC_ATTR_CONTROL)) ||
	    kc__get_be32(b + 17) != kc_crc32c(0, b + ATTRS_AT, n - ATTRS_AT))
		return false;
	int32_t lod = (int32_t)kc__get_be32(b + V2_LOD_AT);
	int32_t count = (int32_t)kc__get_be32(b + V2_COUNT_AT);
	int64_t pid = (int64_t)kc__get_be64(b + V2_PID_AT);
	int32_t seq = (int32_t)kc__get_be32(b + V2_SEQ_AT);
	if (lod < 0 || count != lod + 1 || (pid >= 0 && seq < 0))
		return false;
	const uint8_t *p = b + V2_HEADER, *end = b + n;
	int32_t i = 0;
	if (!walk_records_fast(&p, end, &i, count))
		return false;
	for (; i < count; i++)
		if (!walk_record(&p, end, i))
			return false;
	if (p != end)
		return false;
	info->nrecords = count;
	info->last_offset_delta = lod;
	info->producer_id = pid;
	info->producer_epoch = (int16_t)kc__get_be16(b + V2_EPOCH_AT);
	info->base_sequence = seq;
	info->transactional = (attrs & KC_ATTR_TRANSACTIONAL) != 0;
	return true;
}

int16_t km__produce_validate(kc_bytes records, int16_t version,
			     int32_t max_message_bytes, size_t max_inflated,
			     km__produce_info *info, const char **why)
{
	*why = NULL;
	*info = (km__produce_info){
		.magic = km__produce_magic(version),
		.last_offset_delta = -1,
		.producer_id = -1,
		.producer_epoch = -1,
		.base_sequence = -1,
	};
	if (info->magic == 2 &&
	    fast_v2(records, max_message_bytes, info))
		return 0;
	kc_decode_error de = {0};
	kc_records_iter it;
	kc_records_iter_init(&it, records.ptr, (size_t)records.len,
			     KC_ITER_STRICT_END, &de);
	it.max_decompressed = max_inflated;
	int16_t err = 0;
	kc_batch_info b;
	int rc = 0;
	while (!err && (rc = kc_records_next_batch(&it, &b)) == 1) {
		err = check_entry(&b, max_message_bytes, info, why);
		/* Offsets inside v2 batches and magic-1 wrappers must run
		 * base, base+1, ...; magic-0 wrappers are renumbered and
		 * plain legacy messages take the offset they are given. */
		bool consecutive = b.magic == 2 ||
				   (b.magic == 1 && b.codec != KC_CODEC_NONE);
		kc_record_view rec;
		int64_t want = b.base_offset;
		while (!err && (rc = kc_records_next(&it, &rec)) == 1) {
			if (consecutive && rec.offset != want++)
				err = fail(why, "record offsets are not consecutive",
					   KM__E_INVALID_RECORD);
			info->nrecords++;
		}
		if (!err && rc < 0)
			err = iter_error((kc_err)rc, why);
		if (!err && b.magic < 2 && b.codec != KC_CODEC_NONE &&
		    b.records_count == 0)
			err = fail(why, "a compressed message set is empty",
				   KM__E_INVALID_RECORD);
	}
	if (!err && rc < 0)
		err = iter_error((kc_err)rc, why);
	kc_records_iter_free(&it);
	return err;
}
