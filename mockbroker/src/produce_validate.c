/* Validation of Produce records: the request-level and the log-level
 * checks of a Kafka broker. */
#include "buf_int.h"
#include "kafka_errors.h"
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
