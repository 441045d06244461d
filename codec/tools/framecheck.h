/*
 * kafkit codec tools: decode and re-encode one whole Kafka frame (header
 * and body) through the generated api table.
 *
 * Shared by kafkit-selfcheck, the capture tests and the fuzz targets, so
 * all three judge a frame the same way: the header version comes from the
 * api key and version, the body must use every byte of the frame, and an
 * ApiVersions response that does not parse at the request's version is
 * read again as a v0 body, as a broker answers an ApiVersions version it
 * does not know (UNSUPPORTED_VERSION with a v0 body).
 *
 * Threading: no shared state; a kct_frame belongs to its caller.
 */
#ifndef KAFKIT_TOOLS_FRAMECHECK_H
#define KAFKIT_TOOLS_FRAMECHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkit/buf.h"
#include "kafkit/err.h"
#include "kafkit/messages.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A decoded frame. Strings and bytes point into the frame given to the
 * decoder; the body struct and arrays live in the caller's arena. */
typedef struct kct_frame {
	bool request;
	const kc_api *api;
	int16_t api_key;
	int16_t version;        /* the body's version */
	int16_t header_version;
	bool v0_fallback;       /* ApiVersions response read as a v0 body */
	kc_request_header req_hdr;  /* requests */
	kc_response_header rsp_hdr; /* responses */
	size_t body_offset;     /* where the body starts in the frame */
	void *body;             /* api->request or api->response struct */
} kct_frame;

/* Decode a request frame (the bytes after the int32 size). Fills *f.
 * Errors, with the field and offset in *err: KC_ERR_TRUNCATED (no room
 * for api key and version), KC_ERR_UNKNOWN_API, KC_ERR_UNSUPPORTED_VERSION,
 * KC_ERR_TRAILING (bytes after the body), KC_ERR_NOMEM, and any error of
 * the generated decoders. */
kc_err kct_decode_request(const uint8_t *p, size_t n, kc_arena *arena,
			  kct_frame *f, kc_decode_error *err);

/* Decode a response frame to a request of (api_key, version). Errors as
 * kct_decode_request(). */
kc_err kct_decode_response(const uint8_t *p, size_t n, int16_t api_key,
			   int16_t version, kc_arena *arena, kct_frame *f,
			   kc_decode_error *err);

/* The error_code of an ApiVersions response frame that decodes at
 * neither its version nor v0: both layouts start the body with it, so a
 * refusal stays readable even when the rest is malformed (librdkafka's
 * mock cluster answers an unknown ApiVersions version with a body that
 * is neither). Returns false when the frame is too short to hold it. */
bool kct_api_versions_error(const uint8_t *p, size_t n, int16_t *error_code);

/* Encode the header and body of a decoded frame into w (no size prefix).
 * Returns KC_OK or the generated encoders' error (KC_ERR_NOMEM,
 * KC_ERR_NULL, KC_ERR_UNSUPPORTED_FIELD, ...). */
kc_err kct_encode(kc_writer *w, const kct_frame *f);

/* Bytes kct_encode() writes for f, from the generated size functions. */
size_t kct_size(const kct_frame *f);

/* The codec's own consistency on a decoded frame: encode it, check that
 * kct_size() matches what was written, decode the output and encode that
 * again, which must give the same bytes. Returns true when all holds;
 * otherwise false with *why set to a static description. KC_ERR_NOMEM
 * during the check also fails it. */
bool kct_roundtrip_ok(const kct_frame *f, kc_arena *arena, const char **why);

#ifdef __cplusplus
}
#endif
#endif
