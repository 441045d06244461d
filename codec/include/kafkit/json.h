/*
 * kafkit codec: a small JSON writer, the runtime of the generated JSON
 * writers (kafkit/messages_json.h).
 *
 * Output goes to a growing buffer; commas are placed by the writer, so a
 * caller writes keys and values in order and never tracks them. Errors are
 * sticky (like kc_writer): after a failed allocation every call is a
 * no-op and kc_json_err() reports KC_ERR_NOMEM, so writers stay
 * straight-line and check once at the end.
 *
 * Strings are escaped per RFC 8259; bytes that are not valid UTF-8 become
 * U+FFFD, so the output is always valid UTF-8 JSON. Integers are written
 * exactly (int64 values above 2^53 too: readers that parse numbers as
 * doubles lose precision there).
 *
 * Threading: a kc_json belongs to one thread at a time. No global state.
 */
#ifndef KAFKIT_JSON_H
#define KAFKIT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kafkit/buf.h"
#include "kafkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How bytes values are written. */
typedef enum kc_json_bytes_mode {
	KC_JSON_BYTES_BASE64 = 0, /* "aGVsbG8=" (RFC 4648, padded) */
	KC_JSON_BYTES_HEX,        /* "68656c6c6f" */
	KC_JSON_BYTES_TEXT,       /* a string; invalid UTF-8 becomes U+FFFD (lossy) */
} kc_json_bytes_mode;

struct kc_json;

/* Writes one `records` field's value (exactly one JSON value). */
typedef void (*kc_json_records_fn)(struct kc_json *j, kc_bytes records, void *opaque);

typedef struct kc_json {
	char *buf;           /* output; not NUL-terminated */
	size_t len, cap;
	kc_err err;          /* sticky KC_ERR_NOMEM */
	bool comma;          /* a value precedes in the current container */
	kc_json_bytes_mode bytes;
	kc_json_records_fn records_fn; /* NULL: records written as bytes */
	void *records_opaque;
} kc_json;

/* Empty writer, base64 bytes, no records callback. Never fails. */
void kc_json_init(kc_json *j);
/* Release the buffer; the writer may be initialised again afterwards. */
void kc_json_free(kc_json *j);
/* Drop the output, keep the buffer and the settings. Clears the error. */
void kc_json_reset(kc_json *j);
/* KC_OK or the sticky error. */
kc_err kc_json_err(const kc_json *j);

void kc_json_begin_object(kc_json *j);
void kc_json_end_object(kc_json *j);
void kc_json_begin_array(kc_json *j);
void kc_json_end_array(kc_json *j);
/* An object key. Precondition: key is a NUL-terminated string that needs
 * no escaping (no quote, backslash or control character); generated code
 * and tools pass literals. */
void kc_json_key(kc_json *j, const char *key);
/* An object key given already quoted with its colon: the n bytes at q are
 * `"key":` (q needs no escaping, as for kc_json_key). The fast form, for
 * keys known at compile time: see KC_JSON_KEY. */
static inline void kc_json_keyq(kc_json *j, const char *q, size_t n);
/* kc_json_key for a string literal: one copy of the quoted key, its length
 * a constant. */
#define KC_JSON_KEY(j, lit) \
	kc_json_keyq((j), "\"" lit "\":", sizeof("\"" lit "\":") - 1)
/* Slow path of kc_json_keyq (the buffer must grow); not for direct use. */
void kc_json_keyq_grow(kc_json *j, const char *q, size_t n);

void kc_json_null(kc_json *j);
void kc_json_bool(kc_json *j, bool v);
void kc_json_int(kc_json *j, int64_t v);
void kc_json_uint(kc_json *j, uint64_t v);
/* A double; NaN and infinities (not JSON) are written as null. */
void kc_json_double(kc_json *j, double v);
/* A string from a kc_str; len -1 is null. */
void kc_json_str(kc_json *j, kc_str s);
/* A string of n bytes at s (escaped). */
void kc_json_strn(kc_json *j, const char *s, size_t n);
/* A NUL-terminated string (escaped); NULL is null. */
void kc_json_cstr(kc_json *j, const char *s);
/* Bytes per j->bytes; len -1 is null. */
void kc_json_bytes(kc_json *j, kc_bytes b);
/* Bytes in the given mode, whatever j->bytes says. */
void kc_json_bytes_as(kc_json *j, kc_bytes b, kc_json_bytes_mode mode);
/* A UUID as Kafka prints it: URL-safe base64 without padding (22 chars). */
void kc_json_uuid(kc_json *j, const kc_uuid *u);
/* A `records` field: through j->records_fn when set, else as bytes (null
 * when len is -1, whatever the callback). */
void kc_json_records(kc_json *j, kc_bytes records);
/* A value already formatted as JSON (n bytes), written as is. */
void kc_json_raw(kc_json *j, const char *s, size_t n);

/* Append "\n" and start a new document: the next value gets no comma
 * (NDJSON, one document per line). */
void kc_json_newline(kc_json *j);

static inline void kc_json_keyq(kc_json *j, const char *q, size_t n)
{
	/* a comma and the key fit: one store and one copy of constant size
	 * once inlined */
	if (j->cap - j->len <= n || j->err) {
		kc_json_keyq_grow(j, q, n);
		return;
	}
	char *p = j->buf + j->len;
	*p = ',';
	p += j->comma;
	memcpy(p, q, n);
	j->len = (size_t)(p + n - j->buf);
	j->comma = false;
}

#ifdef __cplusplus
}
#endif
#endif
