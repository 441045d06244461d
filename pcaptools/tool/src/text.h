/*
 * kafkit-pcap text output: one line per request and per response with its
 * essentials, records under it with -v, and lines for gaps, resyncs and
 * (with -v) connections.
 *
 * Threading: called from the reader's thread only.
 */
#ifndef KAFKIT_PCAP_TOOL_TEXT_H
#define KAFKIT_PCAP_TOOL_TEXT_H

#include <stdbool.h>
#include <stdio.h>

#include "decode.h"
#include "kafkit/pcap.h"
#include "recfmt.h"

/* "HH:MM:SS.uuuuuu" (UTC) of ts_ns into buf (at least 16 bytes). */
void kx__fmt_time(int64_t ts_ns, char *buf, size_t n);

/* The line of a request or response (m decoded from ev), and with
 * `verbose` the records of a Produce request under it. `client` is the
 * client id for responses (from their request; may be null). `scratch`
 * renders responses to find their error codes. */
void kx__text_msg(FILE *out, const kx_event *ev, const kx__msg *m, kc_str client,
		  bool verbose, kx__recs *recs, kc_json *scratch);

/* A line for any other event (gap, resync, connection open/close,
 * warning). */
void kx__text_event(FILE *out, const kx_event *ev);

#endif
