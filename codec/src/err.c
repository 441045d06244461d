/* Names for local errors and for Kafka's protocol error codes. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kafkit/err.h"

const char *kc_err_name(kc_err err)
{
	switch (err) {
#define E(x)                                                                   \
	case x:                                                                \
		return #x;
		E(KC_OK)
		E(KC_ERR_NOMEM)
		E(KC_ERR_TRUNCATED)
		E(KC_ERR_BAD_LENGTH)
		E(KC_ERR_BAD_COUNT)
		E(KC_ERR_VARINT)
		E(KC_ERR_UNSUPPORTED_VERSION)
		E(KC_ERR_NULL)
		E(KC_ERR_CRC)
		E(KC_ERR_BAD_MAGIC)
		E(KC_ERR_UNSUPPORTED_CODEC)
		E(KC_ERR_DECOMPRESS)
		E(KC_ERR_TOO_LARGE)
		E(KC_ERR_COMPRESS)
		E(KC_ERR_INVALID_ARG)
		E(KC_ERR_TRAILING)
		E(KC_ERR_UNKNOWN_API)
		E(KC_ERR_TAG_ORDER)
		E(KC_ERR_BAD_VALUE)
		E(KC_ERR_UNSUPPORTED_FIELD)
#undef E
	}
	return "KC_ERR_?";
}

const char *kc_err_str(kc_err err)
{
	switch (err) {
	case KC_OK: return "success";
	case KC_ERR_NOMEM: return "out of memory";
	case KC_ERR_TRUNCATED: return "input ended inside a field";
	case KC_ERR_BAD_LENGTH: return "length is negative or exceeds the bytes left";
	case KC_ERR_BAD_COUNT: return "count is negative or exceeds the bytes left";
	case KC_ERR_VARINT: return "varint longer than its type allows";
	case KC_ERR_UNSUPPORTED_VERSION: return "version outside the supported range";
	case KC_ERR_NULL: return "null not allowed in this version";
	case KC_ERR_CRC: return "CRC mismatch";
	case KC_ERR_BAD_MAGIC: return "unexpected record format magic";
	case KC_ERR_UNSUPPORTED_CODEC: return "compression codec not supported here";
	case KC_ERR_DECOMPRESS: return "corrupt compressed data";
	case KC_ERR_TOO_LARGE: return "size limit exceeded";
	case KC_ERR_COMPRESS: return "compression failed";
	case KC_ERR_INVALID_ARG: return "invalid argument";
	case KC_ERR_TRAILING: return "unexpected bytes after the end of a structure";
	case KC_ERR_UNKNOWN_API: return "api key not supported";
	case KC_ERR_TAG_ORDER: return "tagged fields out of order";
	case KC_ERR_BAD_VALUE: return "field value not allowed";
	case KC_ERR_UNSUPPORTED_FIELD: return "field set but absent in this version";
	}
	return "unknown error";
}

void kc_decode_error_format(const kc_decode_error *e, char *buf, size_t buflen)
{
	if (buflen == 0)
		return;
	snprintf(buf, buflen, "%s at %s%zu: %s", e->field ? e->field : "(input)",
		 e->in_compressed ? "decompressed offset " : "offset ",
		 e->offset, kc_err_str(e->code));
}

/* Code, name, retriable (Java's RetriableException subclasses). */
static const struct {
	int16_t code;
	const char *name;
	int retriable;
} kafka_errors[] = {
	{-1, "UNKNOWN_SERVER_ERROR", 0},
	{0, "NONE", 0},
	{1, "OFFSET_OUT_OF_RANGE", 0},
	{2, "CORRUPT_MESSAGE", 1},
	{3, "UNKNOWN_TOPIC_OR_PARTITION", 1},
	{4, "INVALID_FETCH_SIZE", 0},
	{5, "LEADER_NOT_AVAILABLE", 1},
	{6, "NOT_LEADER_OR_FOLLOWER", 1},
	{7, "REQUEST_TIMED_OUT", 1},
	{8, "BROKER_NOT_AVAILABLE", 0},
	{9, "REPLICA_NOT_AVAILABLE", 1},
	{10, "MESSAGE_TOO_LARGE", 0},
	{11, "STALE_CONTROLLER_EPOCH", 0},
	{12, "OFFSET_METADATA_TOO_LARGE", 0},
	{13, "NETWORK_EXCEPTION", 1},
	{14, "COORDINATOR_LOAD_IN_PROGRESS", 1},
	{15, "COORDINATOR_NOT_AVAILABLE", 1},
	{16, "NOT_COORDINATOR", 1},
	{17, "INVALID_TOPIC_EXCEPTION", 0},
	{18, "RECORD_LIST_TOO_LARGE", 0},
	{19, "NOT_ENOUGH_REPLICAS", 1},
	{20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", 1},
	{21, "INVALID_REQUIRED_ACKS", 0},
	{22, "ILLEGAL_GENERATION", 0},
	{24, "INVALID_GROUP_ID", 0},
	{25, "UNKNOWN_MEMBER_ID", 0},
	{27, "REBALANCE_IN_PROGRESS", 0},
	{29, "TOPIC_AUTHORIZATION_FAILED", 0},
	{30, "GROUP_AUTHORIZATION_FAILED", 0},
	{31, "CLUSTER_AUTHORIZATION_FAILED", 0},
	{32, "INVALID_TIMESTAMP", 0},
	{33, "UNSUPPORTED_SASL_MECHANISM", 0},
	{34, "ILLEGAL_SASL_STATE", 0},
	{35, "UNSUPPORTED_VERSION", 0},
	{36, "TOPIC_ALREADY_EXISTS", 0},
	{37, "INVALID_PARTITIONS", 0},
	{38, "INVALID_REPLICATION_FACTOR", 0},
	{40, "INVALID_CONFIG", 0},
	{41, "NOT_CONTROLLER", 1},
	{42, "INVALID_REQUEST", 0},
	{43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", 0},
	{44, "POLICY_VIOLATION", 0},
	{45, "OUT_OF_ORDER_SEQUENCE_NUMBER", 0},
	{46, "DUPLICATE_SEQUENCE_NUMBER", 0},
	{47, "INVALID_PRODUCER_EPOCH", 0},
	{48, "INVALID_TXN_STATE", 0},
	{49, "INVALID_PRODUCER_ID_MAPPING", 0},
	{50, "INVALID_TRANSACTION_TIMEOUT", 0},
	{51, "CONCURRENT_TRANSACTIONS", 1},
	{52, "TRANSACTION_COORDINATOR_FENCED", 0},
	{53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", 0},
	{55, "OPERATION_NOT_ATTEMPTED", 0},
	{56, "KAFKA_STORAGE_ERROR", 1},
	{58, "SASL_AUTHENTICATION_FAILED", 0},
	{59, "UNKNOWN_PRODUCER_ID", 0},
	{72, "LISTENER_NOT_FOUND", 1},
	{74, "FENCED_LEADER_EPOCH", 1},
	{75, "UNKNOWN_LEADER_EPOCH", 1},
	{76, "UNSUPPORTED_COMPRESSION_TYPE", 0},
	{78, "OFFSET_NOT_AVAILABLE", 1},
	{87, "INVALID_RECORD", 0},
	{89, "THROTTLING_QUOTA_EXCEEDED", 1},
	{90, "PRODUCER_FENCED", 0},
	{100, "UNKNOWN_TOPIC_ID", 1},
	{103, "INCONSISTENT_TOPIC_ID", 1},
	{120, "TRANSACTION_ABORTABLE", 0},
};

static int kafka_error_index(int16_t code)
{
	for (size_t i = 0; i < sizeof kafka_errors / sizeof kafka_errors[0]; i++)
		if (kafka_errors[i].code == code)
			return (int)i;
	return -1;
}

const char *kc_kafka_err_name(int16_t code)
{
	int i = kafka_error_index(code);
	return i < 0 ? "UNKNOWN" : kafka_errors[i].name;
}

kc_err kc_kafka_err_code(const char *name, size_t len, int16_t *code)
{
	for (size_t i = 0; i < sizeof kafka_errors / sizeof kafka_errors[0]; i++)
		if (strlen(kafka_errors[i].name) == len &&
		    strncasecmp(kafka_errors[i].name, name, len) == 0) {
			*code = kafka_errors[i].code;
			return KC_OK;
		}
	return KC_ERR_INVALID_ARG;
}

int kc_kafka_err_retriable(int16_t code)
{
	int i = kafka_error_index(code);
	return i < 0 ? 0 : kafka_errors[i].retriable;
}
