/*
 * kafkit-pcap: one captured frame decoded through the codec. The reader
 * (kafkit/pcap.h) delivers frame bytes and the header facts; this turns
 * them into the api's body struct, or says why it could not.
 *
 * Threading: no shared state; a kx__msg belongs to its caller.
 */
#ifndef KAFKIT_PCAP_TOOL_DECODE_H
#define KAFKIT_PCAP_TOOL_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkit/codec.h"
#include "kafkit/pcap.h"

/* A decoded request or response. Strings and bytes point into the event's
 * frame (valid during the callback); the body lives in the arena. */
typedef struct kx__msg {
	bool request;
	const kc_api *api;      /* NULL: api key unknown (or unpaired response) */
	int16_t api_key;        /* -1 for an unpaired response */
	int16_t version;        /* the body's version (ApiVersions: see v0_fallback) */
	int32_t correlation_id;
	kc_str client_id;       /* requests; null for responses */
	void *body;             /* api->request/response struct, NULL when err */
	kc_err err;             /* KC_OK, or why the body did not decode */
	bool v0_fallback;       /* ApiVersions response read as a v0 body */
	/* An ApiVersions response that decodes at neither its version nor v0
	 * still leads with error_code (librdkafka's mock refuses unknown
	 * versions so): kept here, -1 when not read. */
	int16_t raw_error_code;
	char why[160];          /* err as "field at offset N: message" */
} kx__msg;

/* Decode the request or response frame of ev (KX_EV_REQUEST or
 * KX_EV_RESPONSE) into *m, body structs and arrays from `arena`. Records
 * fields stay opaque bytes (CRCs are checked when they are walked, see
 * recfmt.h). A body that decodes but leaves bytes unread is kept (body
 * set) with err KC_ERR_TRAILING. Returns m->err: KC_OK,
 * KC_ERR_UNKNOWN_API (key not carried, unpaired response, or header not
 * parsed by the reader), KC_ERR_UNSUPPORTED_VERSION, KC_ERR_NOMEM, or any
 * error of the generated decoders. Any thread. */
kc_err kx__msg_decode(kx__msg *m, const kx_event *ev, kc_arena *arena);

/* "Produce" for a known api key, else "api-<key>" in buf. */
const char *kx__api_name(int16_t api_key, char *buf, size_t buflen);

#endif
