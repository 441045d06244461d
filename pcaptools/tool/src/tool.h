/*
 * kafkit-pcap: the pipeline from reader events to output. Runs a capture
 * through a kx_reader, decodes each request and response, applies the
 * filters and writes text, NDJSON or statistics. The program is a thin
 * main around kx__tool_run; tests call it directly.
 *
 * Threading: one run per thread; kx__tool_stop may be called from a
 * signal handler.
 */
#ifndef KAFKIT_PCAP_TOOL_TOOL_H
#define KAFKIT_PCAP_TOOL_TOOL_H

#include <stdio.h>

#include "opts.h"

/* Run the capture o->read (or live o->iface), writing to out and warnings
 * and errors to err. Returns a KX__EXIT_ code: OK (read to the end, or
 * stopped), INPUT (could not open: message on err naming the file and
 * libpcap's reason, the link type or the filter), TRUNCATED (the file
 * could not be read to its end: what came before was written), NOMEM. */
int kx__tool_run(const kx__opts *o, FILE *out, FILE *err);

/* Make a running kx__tool_run return soon (SIGINT on a live capture).
 * Async-signal-safe. */
void kx__tool_stop(void);

#endif
