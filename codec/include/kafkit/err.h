/*
 * kafkit codec: error codes.
 *
 * One enum for every local failure of the codec. Local errors are negative;
 * Kafka's own broker error codes (ErrorCode fields on the wire, 0 and up or
 * -1 UNKNOWN_SERVER_ERROR) are plain int16_t values and never mixed into
 * kc_err: use kc_kafka_err_name() for those.
 */
#ifndef KAFKIT_ERR_H
#define KAFKIT_ERR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kc_err {
	KC_OK = 0,
	KC_ERR_NOMEM = -1001,               /* an allocation failed */
	KC_ERR_TRUNCATED = -1002,           /* input ended inside a field */
	KC_ERR_BAD_LENGTH = -1003,          /* a length is negative or exceeds the bytes left */
	KC_ERR_BAD_COUNT = -1004,           /* an array count is negative or exceeds the bytes left */
	KC_ERR_VARINT = -1005,              /* a varint runs past its maximum width */
	KC_ERR_UNSUPPORTED_VERSION = -1006, /* the version is outside the message's range */
	KC_ERR_NULL = -1007,                /* null where this version does not allow it */
	KC_ERR_CRC = -1008,                 /* a stored CRC does not match the data */
	KC_ERR_BAD_MAGIC = -1009,           /* record format magic byte not 0, 1 or 2 as required */
	KC_ERR_UNSUPPORTED_CODEC = -1010,   /* compression codec unknown or not allowed here */
	KC_ERR_DECOMPRESS = -1011,          /* compressed data is corrupt */
	KC_ERR_TOO_LARGE = -1012,           /* a size cap was exceeded (e.g. decompression bomb) */
	KC_ERR_COMPRESS = -1013,            /* the compressor failed */
	KC_ERR_INVALID_ARG = -1014,         /* a caller passed an invalid argument */
	KC_ERR_TRAILING = -1015,            /* bytes left over after a complete structure */
	KC_ERR_UNKNOWN_API = -1016,         /* api key not carried by this codec */
	KC_ERR_TAG_ORDER = -1017,           /* tagged fields not in strictly ascending order */
	KC_ERR_BAD_VALUE = -1018,           /* a field holds a value the format forbids */
	KC_ERR_UNSUPPORTED_FIELD = -1019,   /* a non-ignorable field is set but absent in this version */
} kc_err;

/* Decode failure details: which field failed and where.
 * `offset` counts bytes from the start of the buffer given to the reader
 * (for data inside a compressed region: from the start of the decompressed
 * bytes, and `in_compressed` is set). `field` is a static string such as
 * "ProduceRequest.topic_data.name"; never freed. */
typedef struct kc_decode_error {
	kc_err code;
	size_t offset;
	const char *field;
	int in_compressed;
} kc_decode_error;

/* Name of a kc_err ("KC_ERR_TRUNCATED"); "KC_ERR_?" for unknown values. */
const char *kc_err_name(kc_err err);

/* Human sentence for a kc_err ("input ended inside a field"). */
const char *kc_err_str(kc_err err);

/* Name of a Kafka protocol error code ("NOT_LEADER_OR_FOLLOWER" for 6),
 * "UNKNOWN" for codes this table does not know. */
const char *kc_kafka_err_name(int16_t code);

/* Reverse of kc_kafka_err_name: the code of the error named by the `len`
 * bytes at `name` ("NOT_LEADER_OR_FOLLOWER" gives 6), compared without
 * case. Errors: KC_ERR_INVALID_ARG when the table has no such name (*code
 * is then untouched). Thread-safe (static data). */
kc_err kc_kafka_err_code(const char *name, size_t len, int16_t *code);

/* Whether Kafka's Java client treats the code as retriable. */
int kc_kafka_err_retriable(int16_t code);

/* Format "field at offset N: message" into buf (always NUL-terminated). */
void kc_decode_error_format(const kc_decode_error *e, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif
