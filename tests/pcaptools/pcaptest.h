/* Helpers for the pcaptools library suites: an event log, Kafka frames
 * built by hand, and temporary capture files. */
#ifndef KAFKIT_PCAPTEST_H
#define KAFKIT_PCAPTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkit/pcap.h"

/* One event as recorded: the fields tests compare, and a hash of the
 * frame bytes. */
typedef struct pt_ev {
	kx_event_type type;
	uint64_t conn;
	kx_dir dir;
	uint64_t packet;
	int64_t ts_ns;
	uint64_t stream_offset;
	size_t frame_len, header_len;
	uint64_t frame_hash;
	bool header_ok, paired, expect_response;
	int16_t api_key, api_version;
	int32_t correlation_id;
	char client_id[64];
	int64_t request_ts_ns;
	uint64_t bytes;
	kx_close_reason close_reason;
	uint64_t unanswered;
	kx_warning warning;
	char message[256];
	char client[64], broker[64];
} pt_ev;

typedef struct pt_log {
	pt_ev *v;
	size_t n, cap;
	int stop_after;   /* > 0: the callback returns 7 at this event */
	bool ack0_clear;  /* clear expect_response of api key 3 requests */
} pt_log;

/* The kx_event_cb that appends to a pt_log (opaque). */
int pt_collect(kx_event *ev, void *opaque);
void pt_log_free(pt_log *l);
/* Events of a type, and a count of them. */
size_t pt_count(const pt_log *l, kx_event_type t);
/* The i-th event of type t, NULL if fewer. */
const pt_ev *pt_nth(const pt_log *l, kx_event_type t, size_t i);
/* Warnings of kind w. */
size_t pt_count_warn(const pt_log *l, kx_warning w);
/* Print the log (for failing tests). */
void pt_log_dump(const pt_log *l);

/* FNV-1a 64 of bytes. */
uint64_t pt_hash(const void *p, size_t n);

/* A request frame (size prefix included) with header v1 (client id) and
 * body_len bytes of body filled from corr; malloc'd, length in *n. */
uint8_t *pt_request(int16_t key, int16_t ver, int32_t corr,
		    const char *client_id, size_t body_len, size_t *n);
/* A Produce v3 request frame with transactional_id null and the acks
 * given, then body_len - 4 filler bytes. */
uint8_t *pt_produce(int32_t corr, int16_t acks, size_t body_len, size_t *n);
/* A response frame (header v0) with body_len bytes of body. */
uint8_t *pt_response(int32_t corr, size_t body_len, size_t *n);

/* A byte buffer that grows. */
typedef struct pt_buf {
	uint8_t *p;
	size_t n, cap;
} pt_buf;
void pt_buf_add(pt_buf *b, const void *p, size_t n);
void pt_buf_free(pt_buf *b);

/* Path of a new temporary file name under /tmp (static buffer rotated
 * among 4); the file is removed when the process exits. */
const char *pt_tmp(const char *tag);

/* Read a capture file with opts into log; returns kx_reader_run's value
 * (or the open error). stats (may be NULL) receives the counters. */
int pt_read(const char *path, const kx_reader_opts *opts, pt_log *log,
	    kx_stats *stats);

/* Addresses used by the synthetic connections. */
extern const uint8_t pt_client4[4], pt_broker4[4];
extern const uint8_t pt_client6[16], pt_broker6[16];

/* Every packet of a capture file, for tests that mutate them. */
/* The real captures in tests/data, and the ports their brokers listen on
 * (librdkafka mock clusters). */
extern const char *const pt_captures[];
extern const size_t pt_ncaptures;
#define PT_NBROKER_PORTS 3
extern const uint16_t pt_broker_ports[PT_NBROKER_PORTS];

typedef struct pt_pkt {
	uint8_t *data;
	size_t caplen, wirelen;
	int64_t ts_ns;
} pt_pkt;
/* Returns the count; *lt the link type. */
size_t pt_load(const char *path, pt_pkt **out, int *lt);
void pt_pkts_free(pt_pkt *v, size_t n);

/* Feed packets to a new reader with opts, finishing; returns the last
 * kx_reader_packet/finish value. */
int pt_feed(const pt_pkt *v, size_t n, int lt, const kx_reader_opts *opts,
	    pt_log *log, kx_stats *stats);

/* ---- a synthesized conversation (reassembly and framing suites) ------ */

#define PT_NREQ 6
#define PT_ALL ((1u << PT_NREQ) - 1)

/* PT_NREQ requests on the client stream (api keys 18 and 3 alternating,
 * correlation ids 1..PT_NREQ, client id "kx-client", bodies of 20, 3000,
 * 5, 700, 1460, 64 bytes) and their responses on the broker stream, with
 * each frame's offset, length and hash (without the size prefix, as
 * events carry them). */
typedef struct pt_conv {
	pt_buf c, b;
	size_t req_off[PT_NREQ], req_len[PT_NREQ], resp_off[PT_NREQ],
		resp_len[PT_NREQ];
	uint64_t req_hash[PT_NREQ], resp_hash[PT_NREQ];
} pt_conv;

void pt_conv_make(pt_conv *cv);
void pt_conv_free(pt_conv *cv);

/* A client-stream segment: bytes [off, off+len), or junk of that size. */
typedef struct pt_sg {
	size_t off, len;
	bool junk;
} pt_sg;

/* Client segments v[0..n) of stream s, sequence numbers from base. */
void pt_write_segs(kx_pcapw *w, kx_pcapw_conn *c, uint32_t base,
		   const pt_buf *s, const pt_sg *v, size_t n, int64_t *ts);
/* Segments of at most mss covering the client stream in order; v must
 * have room. Returns their count. */
size_t pt_cut(const pt_conv *cv, size_t mss, pt_sg *v);

typedef struct pt_scen {
	bool no_handshake;
	bool no_close;
	bool rst;
	uint16_t client_port; /* 0: 40000 */
	uint32_t isn;         /* nonzero: the client's initial sequence */
} pt_scen;

/* One connection 10.0.0.1:port -> 10.0.0.2:9092 into w: handshake, the
 * client segments given, the broker's responses, then FIN (or RST). */
void pt_write_conn(kx_pcapw *w, const pt_conv *cv, const pt_sg *v, size_t n,
		   const pt_scen *sc, int64_t *ts);
/* A capture of that one connection; returns its pt_tmp path. */
const char *pt_write_capture(const pt_conv *cv, const pt_sg *v, size_t n,
			     const pt_scen *sc);
/* The requests and responses of connection conn in l are exactly those
 * of cv whose bit is set in mask, in order, paired. */
void pt_expect_frames(const pt_log *l, const pt_conv *cv, uint64_t conn,
		      unsigned mask);

#endif
