/*
 * kafkit codec: whole request/response frames and the ApiVersions rules.
 *
 * A frame is `int32 size` + header + body (wire-format.md §1). These helpers
 * pick the header version from the api table and patch the size, so a
 * client or server writes a frame in one call. No I/O.
 */
#ifndef KAFKIT_PROTOCOL_H
#define KAFKIT_PROTOCOL_H

#include <stdint.h>

#include "kafkit/buf.h"
#include "kafkit/err.h"
#include "kafkit/messages.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KC_API_KEY_API_VERSIONS 18
/* Kafka's UNSUPPORTED_VERSION error code. */
#define KC_KAFKA_UNSUPPORTED_VERSION 35

/* Append a request frame: size, RequestHeader (v1, or v2 when the version
 * is flexible), then `body`, which must point to the api's request struct.
 * Errors: KC_ERR_UNKNOWN_API, KC_ERR_UNSUPPORTED_VERSION, the body
 * encoder's errors, KC_ERR_NOMEM. Any thread; w belongs to the caller. */
kc_err kc_request_frame_encode(kc_writer *w, int16_t api_key,
			       int16_t api_version, int32_t correlation_id,
			       kc_str client_id, const void *body);

/* Append a response frame: size, ResponseHeader (v0, or v1 when flexible;
 * always v0 for ApiVersions), then `body` (the api's response struct).
 * Errors as kc_request_frame_encode. */
kc_err kc_response_frame_encode(kc_writer *w, int16_t api_key,
				int16_t api_version, int32_t correlation_id,
				const void *body);

/* Append the frame a broker sends for an ApiVersions request whose version
 * it does not support: ResponseHeader v0 and a v0 body with error_code
 * UNSUPPORTED_VERSION and api_keys holding ApiVersions' own range
 * [min_version, max_version], so the client retries lower.
 * Errors: KC_ERR_NOMEM. */
kc_err kc_api_versions_unsupported_frame_encode(kc_writer *w,
						int32_t correlation_id,
						int16_t min_version,
						int16_t max_version);

/* Decode an ApiVersions response body to a request of `version`. A broker
 * that did not support that version answers in v0 format with error
 * UNSUPPORTED_VERSION; such a body is decoded as v0. *decoded_version
 * (may be NULL) receives the version used. Errors: those of
 * kc_api_versions_response_decode. */
kc_err kc_api_versions_response_decode_any(kc_reader *r,
					   kc_api_versions_response *m,
					   int16_t version, kc_arena *arena,
					   int16_t *decoded_version);

#ifdef __cplusplus
}
#endif
#endif
