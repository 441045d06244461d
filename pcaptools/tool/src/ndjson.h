/*
 * kafkit-pcap --json: one JSON object per event (NDJSON), schema in
 * docs/pcaptools.md. Requests and responses carry their whole decoded body
 * from the generated writers (kafkit/messages_json.h), records fields
 * expanded batch by batch and record by record.
 *
 * Threading: called from the reader's thread only.
 */
#ifndef KAFKIT_PCAP_TOOL_NDJSON_H
#define KAFKIT_PCAP_TOOL_NDJSON_H

#include "decode.h"
#include "kafkit/json.h"
#include "kafkit/pcap.h"
#include "recfmt.h"

/* Point j's records callback at recs (records fields expanded). */
void kx__json_expand_records(kc_json *j, kx__recs *recs);

/* Append the object of a request or response (m decoded from ev; client:
 * the request's client id for responses, may be null) and a newline. */
void kx__json_msg(kc_json *j, const kx_event *ev, const kx__msg *m, kc_str client);

/* Append the object of any other event and a newline. */
void kx__json_event(kc_json *j, const kx_event *ev);

/* "2026-11-21T23:58:48.123456789Z" of ts_ns into buf (>= 32 bytes). */
void kx__fmt_iso(int64_t ts_ns, char *buf, size_t n);

#endif
