/*
 * kafkit pcap internals: the reader's state and the functions its layers
 * share. Not installed.
 *
 * Layers, each in its own file:
 *   packet.c  link/IP/TCP headers -> kx__seg
 *   conn.c    connection table, roles, open/close, pairing state
 *   reasm.c   TCP reassembly per direction (out-of-order, gaps)
 *   framer.c  Kafka framing, resync, request/response pairing
 *   reader.c  libpcap input and the public kx_reader_* functions
 *   mapread.c offline files parsed in place from a mapping (mapread.h)
 *   util.c    events, warnings, addresses, errors
 * Everything here runs on the thread that owns the reader.
 */
#ifndef KAFKIT_PCAP_INT_H
#define KAFKIT_PCAP_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkit/pcap.h"

#define KX__DEFAULT_PORT 9092
#define KX__DEFAULT_MAX_FRAME ((size_t)100 << 20)
#define KX__DEFAULT_MAX_OOO ((size_t)4 << 20)
#define KX__DEFAULT_MAX_CONNS 65536
/* Closed connections kept (without buffers) so their late packets are
 * recognised rather than opening mid-stream connections. */
#define KX__MAX_TOMBSTONES 4096
/* Requests waiting for a response per connection; older ones are dropped
 * (counted unanswered) past this. */
#define KX__MAX_PENDING 4096
/* A segment further ahead of the next expected byte than this is not
 * believed (corrupt sequence number or a different stream). */
#define KX__MAX_AHEAD ((uint64_t)1 << 30)
/* Frames up to this size are skipped over when above max_frame; bigger
 * size prefixes mean the framing is lost. */
#define KX__MAX_SKIP_FRAME ((uint64_t)1 << 30)
/* In detect mode, data segments looked at before a connection without a
 * valid request header is given up as not Kafka. */
#define KX__DETECT_SEGMENTS 16

/* A TCP segment, once the link and IP layers are peeled off. */
typedef struct kx__seg {
	int ip_version;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *payload;
	size_t len;      /* payload bytes on file */
	size_t cut;      /* payload bytes the snapshot length cut off */
} kx__seg;

/* Out-of-order data waiting for a hole to fill, sorted by offset, never
 * overlapping. */
typedef struct kx__chunk {
	struct kx__chunk *next;
	uint64_t off; /* stream offset of data[0] */
	size_t len;
	uint8_t data[];
} kx__chunk;

/* A request waiting for its response. */
typedef struct kx__pending {
	int32_t correlation_id;
	int16_t api_key;
	int16_t api_version;
	int64_t ts_ns;
	uint64_t packet;
} kx__pending;

/* One direction of a connection: reassembly then framing. */
typedef struct kx__stream {
	/* reassembly */
	bool started;       /* base_seq is known */
	uint32_t base_seq;  /* sequence number of stream offset 0 */
	uint64_t next_off;  /* stream offset of the next byte expected */
	kx__chunk *ooo;
	size_t ooo_bytes;
	bool fin;           /* FIN seen at fin_off */
	uint64_t fin_off;
	uint64_t acked_off; /* the peer acknowledged all bytes below this */
	bool warned_cut;    /* one KX_WARN_TRUNCATED per stream */
	/* framing */
	bool scanning;      /* looking for a plausible frame */
	bool resuming;      /* skipping the tail of a frame cut by a gap; a
			     * KX_EV_RESYNC comes with the next frame */
	uint64_t pos;       /* stream offset of buf[0] (or of the next input
			     * byte when buf is empty) */
	uint8_t *buf;       /* a partial frame or a scan window */
	size_t len, cap;
	uint64_t skip;      /* bytes still to drop (frame over max_frame, or
			     * the tail of a frame cut by a gap) */
	uint64_t scan_off;  /* where the current scan/resume started */
	uint64_t scan_skipped; /* captured bytes dropped since then */
	bool warned_scan;   /* one KX_WARN_NOT_KAFKA per long scan */
} kx__stream;

typedef enum kx__conn_state {
	KX__CONN_UNDECIDED, /* detect mode: roles not known yet */
	KX__CONN_OPEN,
	KX__CONN_IGNORED,   /* not Kafka: packets dropped until a new SYN */
	KX__CONN_CLOSED,    /* tombstone: buffers freed */
} kx__conn_state;

typedef struct kx__conn {
	kx_conn pub;
	kx__conn_state state;
	struct kx__conn *hnext;        /* hash chain */
	struct kx__conn *tnext;        /* tombstone FIFO */
	struct kx__conn *lprev, *lnext;/* live list, in order of opening */
	uint64_t key_hash;
	unsigned detect_tries;         /* detect mode: data segments seen */
	bool roles_known;              /* client/broker sides are decided */
	kx__stream s[2];               /* by kx_dir */
	kx__pending *pend;             /* FIFO, pend[0] oldest */
	size_t npend, pend_cap;
	bool not_kafka;                /* its first request was not Kafka:
					* its bytes are dropped */
} kx__conn;

struct kx_reader {
	kx_reader_opts opts;
	uint16_t *ports;
	char *filter;
	kx_event_cb cb;
	void *opaque;
	kx_stats st;
	/* connection table: chained hash over the unordered 4-tuple */
	kx__conn **tab;
	size_t tab_size;   /* power of two */
	size_t nconns;     /* entries in the table, tombstones included */
	size_t nlive;      /* not closed */
	kx__conn *tomb_head, *tomb_tail;
	kx__conn *live_head, *live_tail;
	size_t ntombs;
	uint64_t next_conn_id;
	/* current packet */
	uint64_t packet;
	int64_t ts_ns;
	/* one-time warnings per kind (bit = kx_warning) */
	uint32_t warned;
	/* the first positive callback value or negative error stops work */
	int stop_rc;
	bool finished;
	/* input: a mapped file (or buffer) until it is handed off, or libpcap */
	struct kx__map *map;
	void *pcap;        /* pcap_t */
	int linktype;
	atomic_int stop_req; /* kx_reader_stop: any thread or a signal */
	char err[512];
};

/* ---- reader.c ---------------------------------------------------------- */

/* Open n bytes at p holding a pcap or pcapng file for kx_reader_run, as
 * kx_reader_open_file does for a file: parsed in place, or through libpcap
 * (fmemopen) with opts.use_libpcap or outside the mapped reader's subset.
 * The bytes must stay valid and unchanged until kx_reader_free. Errors as
 * kx_reader_open_file (KX_ERR_IO also when fmemopen fails). For the fuzz
 * target and the tests. Reader thread. */
int kx__reader_open_buf(kx_reader *r, const uint8_t *p, size_t n);

/* ---- util.c ------------------------------------------------------------ */

/* Deliver ev (type and fields set by the caller; conn, packet and ts_ns
 * filled here from the reader's current state when conn is given) unless
 * the reader is already stopping. Returns r->stop_rc: 0 to go on. Reader
 * thread. */
int kx__emit(kx_reader *r, kx__conn *k, kx_event *ev);

/* A KX_EV_WARNING of kind w about connection k (may be NULL) and stream
 * dir, with a printf message; counted in st.warnings. Returns r->stop_rc. */
int kx__warn(kx_reader *r, kx__conn *k, kx_dir dir, kx_warning w,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* As kx__warn, but only the first warning of kind w in the reader's life
 * is delivered (packet-level warnings would otherwise flood). */
int kx__warn_once(kx_reader *r, kx_warning w, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record an error message; returns err. */
int kx__fail(kx_reader *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- packet.c ---------------------------------------------------------- */

/* Whether kx__packet_parse reads link type lt (a LINKTYPE_ value; extension
 * bits make it unknown). Pure function; any thread. */
bool kx__linktype_known(long lt);

/* Peel link, IP and TCP headers of one packet into *s. Returns 1 for a TCP
 * segment, 0 for a packet to skip silently (not IP, not TCP), or a
 * negative -kx_warning for a packet worth a warning (KX_WARN_LINKTYPE,
 * KX_WARN_MALFORMED, KX_WARN_FRAGMENT), with a reason in why[0..n).
 * Pure function; any thread. */
int kx__packet_parse(int linktype, const uint8_t *p, size_t caplen,
		     size_t wirelen, kx__seg *s, char *why, size_t n);

/* ---- conn.c ------------------------------------------------------------ */

/* Route one TCP segment to its connection, creating, reusing or closing
 * connections as its flags require, then to reassembly. Returns r->stop_rc
 * (KX_ERR_NOMEM when an allocation failed). Reader thread. */
int kx__conn_segment(kx_reader *r, const kx__seg *s);

/* Close every open connection (KX_CLOSE_END) after flushing it. Returns
 * r->stop_rc. */
int kx__conn_finish_all(kx_reader *r);

/* Free the table and every connection. No events. */
void kx__conn_free_all(kx_reader *r);

/* Flush both streams of k (holes as gaps, trailing bytes), report its
 * unanswered requests, emit KX_EV_CONN_CLOSE with reason and turn k into a
 * tombstone. Returns r->stop_rc. */
int kx__conn_close(kx_reader *r, kx__conn *k, kx_close_reason reason);

/* Whether port is one of the broker ports. */
bool kx__is_broker_port(const kx_reader *r, uint16_t port);

/* ---- reasm.c ----------------------------------------------------------- */

/* Add the payload of s (sequence seq, len bytes on file, cut bytes lost to
 * the snapshot length) to stream dir of k: in-order bytes go to the
 * framer, later ones wait in order (bounded by opts.max_ooo_bytes, over
 * which the first hole becomes a gap), earlier ones are duplicates. A FIN
 * is recorded. Returns r->stop_rc. Preconditions: the stream is started. */
int kx__reasm_data(kx_reader *r, kx__conn *k, kx_dir dir, uint32_t seq,
		   const uint8_t *p, size_t len, size_t cut, bool fin);

/* The peer of stream dir acknowledged up to ack: a hole in dir below
 * buffered data the peer has acknowledged will not be retransmitted, so it
 * becomes a gap now. Returns r->stop_rc. */
int kx__reasm_ack(kx_reader *r, kx__conn *k, kx_dir dir, uint32_t ack);

/* End of stream dir: the remaining holes become gaps, buffered data goes
 * to the framer, an incomplete frame is reported. Returns r->stop_rc. */
int kx__reasm_flush(kx_reader *r, kx__conn *k, kx_dir dir);

/* Stream offset of sequence number seq in a started stream (32-bit wrap
 * resolved around next_off; may be below next_off). */
int64_t kx__reasm_rel(const kx__stream *st, uint32_t seq);

/* Free the out-of-order chunks of st. */
void kx__reasm_free(kx__stream *st);

/* ---- framer.c ---------------------------------------------------------- */

/* In-order bytes [st.pos + st.len, + n) of stream dir: cut into frames,
 * delivered as KX_EV_REQUEST/KX_EV_RESPONSE, scanning for a plausible frame
 * when out of step. Returns r->stop_rc (KX_ERR_NOMEM). */
int kx__framer_feed(kx_reader *r, kx__conn *k, kx_dir dir, const uint8_t *p,
		    size_t n);

/* n bytes are missing from stream dir at its current end: emit KX_EV_GAP,
 * drop the partial frame and resume framing after the hole (skipping the
 * rest of a frame of known size, else scanning). Returns r->stop_rc. */
int kx__framer_gap(kx_reader *r, kx__conn *k, kx_dir dir, uint64_t n);

/* End of stream dir: report an incomplete frame (KX_WARN_TRAILING) and
 * drop it. Returns r->stop_rc. */
int kx__framer_end(kx_reader *r, kx__conn *k, kx_dir dir);

/* Whether bytes p[0..n) start with a plausible request frame: size in
 * [8, max_frame], api key known to the codec, version in its range,
 * correlation id >= 0, a printable client id of at most 255 bytes.
 * Returns 1 yes, 0 no, -1 undecided (more bytes needed). Pure; any
 * thread. */
int kx__plausible_request(const uint8_t *p, size_t n, size_t max_frame);

#endif
