/*
 * kafkit pcap: Kafka traffic from packet captures.
 *
 * A kx_reader turns captured packets into Kafka events, in capture order:
 *   packets (a pcap/pcapng file, mapped into memory and parsed in place;
 *   stdin or a live interface through libpcap)
 *   -> link layer (Ethernet + VLAN tags, Linux SLL/SLL2, raw IPv4/IPv6,
 *      BSD loopback/null)
 *   -> IPv4 (fragments reported and skipped) / IPv6 (extension headers
 *      skipped)
 *   -> TCP reassembly per connection and direction (out-of-order segments
 *      buffered within a per-direction bound, retransmissions and overlaps
 *      resolved as "first data wins", holes reported as gaps)
 *   -> Kafka framing (int32 size + frame), resynchronised after a gap or
 *      when the capture starts mid-stream at the next plausible frame
 *   -> requests paired with their responses by correlation id per
 *      connection.
 * Nothing is decoded past the request/response headers: the frame bytes
 * are handed to the callback for the codec to decode.
 *
 * A kx_pcapw writes synthesized Kafka-over-TCP captures (pcap or pcapng,
 * Ethernet/IPv4 by default, with handshakes and consistent sequence and
 * acknowledgement numbers) for tests and for programs that record their own
 * traffic.
 *
 * Errors: functions returning int return 0 on success, a negative kx_err,
 * or the positive value a callback returned to stop. Memory comes from the
 * codec's allocator hook (kc_set_allocator).
 *
 * Threads: a kx_reader or kx_pcapw belongs to one thread at a time, except
 * kx_reader_stop(). Distinct objects are independent.
 */
#ifndef KAFKIT_PCAP_H
#define KAFKIT_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Negative results. */
typedef enum kx_err {
	KX_OK = 0,
	KX_ERR_NOMEM = -1,   /* an allocation failed; the reader is unusable */
	KX_ERR_IO = -2,      /* opening or reading/writing the capture failed */
	KX_ERR_FILTER = -3,  /* the BPF filter does not compile or apply */
	KX_ERR_LINKTYPE = -4,/* the capture's link type is not supported */
	KX_ERR_STATE = -5,   /* call out of order (run without open, ...) */
	KX_ERR_ARG = -6,     /* a bad argument (NULL path, bad direction, ...) */
} kx_err;

/* A short English name of a kx_err ("out of memory"). Thread-safe. */
const char *kx_err_str(int err);

/* Link types, numerically libpcap's LINKTYPE_ values as stored in files. */
#define KX_LINK_NULL 0       /* BSD loopback, host byte order family */
#define KX_LINK_ETHERNET 1
#define KX_LINK_RAW 101      /* raw IPv4 or IPv6 (DLT_RAW's file value) */
#define KX_LINK_LOOP 108     /* OpenBSD loopback, network order family */
#define KX_LINK_SLL 113      /* Linux cooked v1 */
#define KX_LINK_IPV4 228
#define KX_LINK_IPV6 229
#define KX_LINK_SLL2 276     /* Linux cooked v2 */

/* Directions of a connection's byte streams. */
typedef enum kx_dir {
	KX_TO_BROKER = 0, /* requests */
	KX_TO_CLIENT = 1, /* responses */
} kx_dir;

/* One TCP connection. The broker is the side with a broker port (or the
 * SYN's destination, or in detect mode the receiver of the first valid
 * request header). Owned by the reader; a pointer in an event is valid
 * during the callback only (copy what you keep). */
typedef struct kx_conn {
	uint64_t id;          /* 1, 2, ... in order of first packet; a new SYN
			       * on a closed 4-tuple gets a new id */
	int ip_version;       /* 4 or 6 */
	uint8_t client_ip[16];/* IPv4 in the first 4 bytes */
	uint8_t broker_ip[16];
	uint16_t client_port;
	uint16_t broker_port;
	bool saw_syn;         /* the handshake is in the capture: the streams
			       * are known from their first byte */
	int64_t first_ts_ns;  /* timestamp of its first packet */
} kx_conn;

/* Format one side of a connection as "a.b.c.d:port" or "[v6]:port" (RFC
 * 5952 compressed form) into buf (always NUL-terminated when buflen > 0).
 * Returns the length snprintf would have written. Thread-safe. */
int kx_conn_addr(const kx_conn *c, bool broker, char *buf, size_t buflen);

typedef enum kx_event_type {
	KX_EV_CONN_OPEN = 1, /* a connection is followed (first packet or SYN) */
	KX_EV_CONN_CLOSE,    /* FIN both ways, RST, reuse, or end of input */
	KX_EV_REQUEST,       /* one complete request frame */
	KX_EV_RESPONSE,      /* one complete response frame */
	KX_EV_GAP,           /* bytes of a stream are missing from the capture */
	KX_EV_RESYNC,        /* framing resumed after skipping bytes */
	KX_EV_WARNING,       /* anything else worth telling; decoding goes on */
} kx_event_type;

/* Why a connection closed (KX_EV_CONN_CLOSE). */
typedef enum kx_close_reason {
	KX_CLOSE_FIN = 1, /* both directions finished */
	KX_CLOSE_RST,     /* a reset */
	KX_CLOSE_REUSED,  /* a new SYN on the same 4-tuple */
	KX_CLOSE_END,     /* the input ended with the connection open */
} kx_close_reason;

/* Kinds of KX_EV_WARNING. Packet-level kinds (LINKTYPE, MALFORMED,
 * FRAGMENT, CONN_LIMIT) are delivered once per reader and then only
 * counted in kx_stats; TRUNCATED once per stream; the others each time. */
typedef enum kx_warning {
	KX_WARN_TRUNCATED = 1, /* packet cut by the snapshot length: the TCP
				* payload is incomplete (counted as a gap) */
	KX_WARN_LINKTYPE,      /* a packet of a link type not supported */
	KX_WARN_MALFORMED,     /* link/IP/TCP header too short or inconsistent */
	KX_WARN_FRAGMENT,      /* an IPv4 fragment or IPv6 fragment header:
				* not reassembled, skipped */
	KX_WARN_NOT_KAFKA,     /* a connection on a broker port (or in detect
				* mode) whose data is not Kafka: ignored */
	KX_WARN_BAD_FRAME,     /* in-sync frame with an implausible size or
				* header: framing is lost, a resync follows */
	KX_WARN_FRAME_TOO_BIG, /* a plausible frame above max_frame: skipped */
	KX_WARN_UNANSWERED,    /* a request still waiting for its response
				* when its connection closed */
	KX_WARN_TRAILING,      /* an incomplete frame at the end of a stream */
	KX_WARN_CONN_LIMIT,    /* max_conns reached: a new connection ignored */
} kx_warning;

/* One event. Every pointer in it (conn, frame, client_id, message) is valid
 * during the callback only. Fields that do not apply to a type are zero. */
typedef struct kx_event {
	kx_event_type type;
	const kx_conn *conn;  /* NULL only for warnings about a packet that
			       * belongs to no followed connection */
	kx_dir dir;           /* REQUEST: KX_TO_BROKER; RESPONSE: KX_TO_CLIENT;
			       * GAP/RESYNC/TRAILING: the stream concerned */
	uint64_t packet;      /* 1-based number of the packet that completed
			       * the frame or caused the event (0: end of input) */
	int64_t ts_ns;        /* that packet's timestamp, ns since the epoch
			       * (end of input: the last packet's) */
	/* Byte offset within the direction's stream (0 = the first byte the
	 * capture shows) where the frame's size prefix, the gap or the skipped
	 * bytes start. */
	uint64_t stream_offset;

	/* REQUEST and RESPONSE: the frame without its int32 size prefix. */
	const uint8_t *frame;
	size_t frame_len;
	/* Bytes of the request/response header at the start of frame: the
	 * body is frame + header_len. 0 when the header did not parse
	 * (header_ok false), or for an unpaired response of unknown api. */
	size_t header_len;
	bool header_ok;
	int16_t api_key;      /* REQUEST: from its header. RESPONSE: from the
			       * paired request, -1 when unpaired */
	int16_t api_version;  /* likewise */
	int32_t correlation_id;
	/* REQUEST: client_id from the header (len -1: null). */
	const char *client_id;
	int32_t client_id_len;
	/* REQUEST: whether a response is expected. The reader clears it for
	 * Produce with acks=0; the callback may clear (or set) it, and the
	 * request is left pending for pairing only when it is true on return. */
	bool expect_response;
	/* RESPONSE: paired with a pending request of this connection; then its
	 * timestamp and packet number (latency = ts_ns - request_ts_ns). */
	bool paired;
	int64_t request_ts_ns;
	uint64_t request_packet;

	/* GAP: bytes missing (TRUNCATED warnings: the bytes cut, too).
	 * RESYNC: bytes skipped before the frame framing resumed at. */
	uint64_t bytes;

	/* CONN_CLOSE. */
	kx_close_reason close_reason;
	uint64_t unanswered;  /* requests left without a response */

	/* WARNING. */
	kx_warning warning;
	const char *message;  /* English, NUL-terminated, names the packet,
			       * field and offset concerned */
} kx_event;

/* The event callback. Return 0 to go on; a positive value stops the reader
 * and is returned by the function that was running (kx_reader_run,
 * kx_reader_packet, kx_reader_finish). Called on the thread that runs the
 * reader; it must not call kx_reader_* on the same reader except
 * kx_reader_stop and kx_reader_stats. */
typedef int (*kx_event_cb)(kx_event *ev, void *opaque);

typedef struct kx_reader_opts {
	/* TCP ports brokers listen on (copied). NULL/0: {9092}. */
	const uint16_t *broker_ports;
	size_t nbroker_ports;
	/* Also follow connections on any other port whose client opens with a
	 * valid request header (size sane, api key known to the codec, version
	 * in range, plausible client id); the first such request decides which
	 * side is the broker. Connections on broker ports are followed as
	 * usual. */
	bool detect_any_port;
	/* Largest frame delivered (0: 100 MiB, the broker default). Bigger
	 * plausible frames are skipped with KX_WARN_FRAME_TOO_BIG. */
	size_t max_frame;
	/* Out-of-order bytes buffered per direction (0: 4 MiB). When more
	 * would be needed the first hole is declared a gap. Together with the
	 * partial frame (at most max_frame) this bounds memory per direction. */
	size_t max_ooo_bytes;
	/* Connections followed at once (0: 65536). Detect-mode connections
	 * not recognised yet make room first; then new connections are
	 * ignored (KX_WARN_CONN_LIMIT). The last 4096 closed connections keep
	 * a few hundred bytes each, to recognise their late packets. */
	size_t max_conns;
	/* BPF filter expression applied by libpcap (NULL: none). */
	const char *filter;
	/* Live capture: snapshot length (0: 262144), promiscuous mode,
	 * read timeout in ms (0: 100). */
	int snaplen;
	bool promisc;
	int timeout_ms;
	/* Capture files: read through libpcap's copying reader rather than
	 * mapping the file and parsing it in place (the default for regular
	 * files; stdin and live captures always use libpcap). The results are
	 * the same either way; tests compare the two. */
	bool use_libpcap;
} kx_reader_opts;

typedef struct kx_stats {
	uint64_t packets;          /* packets read */
	uint64_t bytes;            /* their captured bytes */
	uint64_t tcp_segments;     /* TCP segments of followed connections */
	uint64_t skipped_packets;  /* not IP/TCP, other ports, link types */
	uint64_t fragments;        /* IP fragments skipped */
	uint64_t truncated_packets;/* TCP payload cut by the snapshot length */
	uint64_t malformed_packets;
	uint64_t conns;            /* connections followed */
	uint64_t conns_ignored;    /* not Kafka, or over max_conns */
	uint64_t duplicate_bytes;  /* retransmitted/overlapping bytes dropped */
	uint64_t ooo_segments;     /* segments that arrived ahead of a hole */
	uint64_t gaps;
	uint64_t gap_bytes;
	uint64_t resyncs;
	uint64_t resync_bytes;     /* bytes skipped to find a frame */
	uint64_t requests;
	uint64_t responses;
	uint64_t unpaired_responses;
	uint64_t unanswered_requests;
	uint64_t frames_too_big;
	uint64_t warnings;
} kx_stats;

typedef struct kx_reader kx_reader;

/* A reader with opts (copied, including the ports and filter; NULL:
 * defaults) delivering events to cb. Returns NULL when out of memory or
 * when cb is NULL. */
kx_reader *kx_reader_new(const kx_reader_opts *opts, kx_event_cb cb,
			 void *opaque);

/* Release the reader, its capture handle and every connection, without
 * further events (call kx_reader_finish first for the close events). NULL
 * is a no-op. */
void kx_reader_free(kx_reader *r);

/* Open a pcap or pcapng capture file ("-": stdin) for kx_reader_run, and
 * apply opts.filter. A regular file is mapped into memory and read in
 * place (see opts.use_libpcap). Errors: KX_ERR_IO (kx_reader_error tells
 * libpcap's reason), KX_ERR_FILTER, KX_ERR_LINKTYPE (whole-file link type
 * not supported), KX_ERR_STATE (a capture is already open),
 * KX_ERR_NOMEM. */
int kx_reader_open_file(kx_reader *r, const char *path);

/* Open a live capture on interface iface (opts.snaplen/promisc/timeout_ms,
 * filter). Needs capture privileges. Errors as kx_reader_open_file. */
int kx_reader_open_live(kx_reader *r, const char *iface);

/* Read packets from the opened capture until its end, kx_reader_stop, an
 * error or a callback's stop value, then (unless a stop value or
 * KX_ERR_NOMEM) kx_reader_finish. Returns 0 at the end of input or after
 * kx_reader_stop, the callback's positive value, KX_ERR_IO (a read error
 * or a file cut short: the events up to there and the closing ones were
 * delivered), KX_ERR_NOMEM, KX_ERR_STATE (nothing open). */
int kx_reader_run(kx_reader *r);

/* Ask a running kx_reader_run to return soon. Async-signal-safe and
 * callable from any thread. */
void kx_reader_stop(kx_reader *r);

/* Feed one packet directly (tests, fuzzing, programs with their own
 * capture): linktype is a KX_LINK_ value (libpcap DLT_ values of the same
 * link types are accepted too), caplen bytes at p of a packet that was
 * wirelen long. Returns 0, a callback's stop value or KX_ERR_NOMEM (the
 * reader is then unusable: only kx_reader_free). Bad packets are warnings,
 * never errors. */
int kx_reader_packet(kx_reader *r, int linktype, int64_t ts_ns,
		     const uint8_t *p, size_t caplen, size_t wirelen);

/* End of input: every open connection reports its remaining holes (GAP),
 * delivers what can still be framed, reports incomplete frames
 * (KX_WARN_TRAILING) and unanswered requests, and closes (KX_CLOSE_END).
 * Idempotent. Returns 0, a callback's stop value or KX_ERR_NOMEM. */
int kx_reader_finish(kx_reader *r);

/* Counters so far; the pointer is valid while the reader lives. */
const kx_stats *kx_reader_stats(const kx_reader *r);

/* Message for the last negative result ("" when none); valid until the
 * next call on the reader. */
const char *kx_reader_error(const kx_reader *r);

/* Link type of the open capture (KX_LINK_ value), -1 when none. */
int kx_reader_linktype(const kx_reader *r);

/* ---- capture writer ---------------------------------------------------- */

typedef struct kx_pcapw_opts {
	int linktype;     /* KX_LINK_ETHERNET (0 means it, so BSD loopback
			   * is written as KX_LINK_LOOP), KX_LINK_SLL,
			   * KX_LINK_SLL2, KX_LINK_RAW, KX_LINK_LOOP,
			   * KX_LINK_IPV4 (IPv4 only), KX_LINK_IPV6 (IPv6
			   * only) */
	bool pcapng;      /* pcapng (SHB + IDBs + EPBs) instead of pcap */
	unsigned interfaces; /* pcapng: interface description blocks written
			      * (0: 1); a connection picks one with
			      * kx_pcapw_conn.interface */
	uint32_t snaplen; /* stored bytes per packet (0: 262144); longer
			   * packets are stored cut, like a capture with a
			   * small snaplen */
} kx_pcapw_opts;

typedef struct kx_pcapw kx_pcapw;

/* One synthesized connection: plain data the caller owns. Fill it with
 * kx_pcapw_conn_init; the writer advances seq[] as it writes data. */
typedef struct kx_pcapw_conn {
	int ip_version;           /* 4 or 6 */
	uint8_t client_ip[16], broker_ip[16];
	uint16_t client_port, broker_port;
	uint32_t seq[2];          /* next sequence number, per kx_dir */
	uint32_t mss;             /* data is cut into segments of at most
				   * this many bytes (0: 1460) */
	unsigned interface;       /* pcapng interface index */
} kx_pcapw_conn;

/* Open path ("-": stdout) for writing and write the file header.
 * Returns NULL with *err (may be NULL) set to KX_ERR_IO, KX_ERR_NOMEM or
 * KX_ERR_ARG (unsupported link type). */
kx_pcapw *kx_pcapw_open(const char *path, const kx_pcapw_opts *opts,
			int *err);

/* Flush and close; returns 0 or KX_ERR_IO (a write failed at any point).
 * NULL is a no-op returning 0. */
int kx_pcapw_close(kx_pcapw *w);

/* Push buffered packets to the file so a reader sees them while writing
 * goes on. Returns 0 or KX_ERR_IO (this or an earlier write failed). */
int kx_pcapw_flush(kx_pcapw *w);

/* Fill c for addresses ip (4 or 16 bytes per ip_version) and ports; the
 * initial sequence numbers derive from the ports so files are
 * reproducible. Thread-safe. */
void kx_pcapw_conn_init(kx_pcapw_conn *c, int ip_version,
			const void *client_ip, uint16_t client_port,
			const void *broker_ip, uint16_t broker_port);

/* SYN, SYN-ACK and ACK at ts_ns; seq[] then point past the SYNs.
 * Returns 0 or KX_ERR_IO. */
int kx_pcapw_conn_open(kx_pcapw *w, kx_pcapw_conn *c, int64_t ts_ns);

/* n bytes of payload in direction dir at ts_ns, cut into segments of at
 * most mss with PSH on the last (n == 0: one empty segment), seq[dir]
 * advanced, acknowledging the peer's seq. Returns 0, KX_ERR_IO or
 * KX_ERR_ARG. */
int kx_pcapw_conn_send(kx_pcapw *w, kx_pcapw_conn *c, kx_dir dir,
		       int64_t ts_ns, const void *p, size_t n);

/* FIN from the client, FIN-ACK from the broker, last ACK.
 * Returns 0 or KX_ERR_IO. */
int kx_pcapw_conn_close(kx_pcapw *w, kx_pcapw_conn *c, int64_t ts_ns);

/* TCP flag bits for kx_pcapw_segment. */
#define KX_TCP_FIN 0x01
#define KX_TCP_SYN 0x02
#define KX_TCP_RST 0x04
#define KX_TCP_PSH 0x08
#define KX_TCP_ACK 0x10

/* One raw segment of c in direction dir with sequence number seq and the
 * given flags (ACK of the peer's seq is added when flags has KX_TCP_ACK);
 * seq[] is not changed. Tests use it for reordering, duplicates and holes.
 * Returns 0, KX_ERR_IO or KX_ERR_ARG (n > 65000). */
int kx_pcapw_segment(kx_pcapw *w, const kx_pcapw_conn *c, kx_dir dir,
		     int64_t ts_ns, uint32_t seq, uint8_t flags, const void *p,
		     size_t n);

/* One packet as given (link-layer bytes of the file's link type), stored
 * as caplen bytes of a wirelen-byte packet on interface 0. Returns 0 or
 * KX_ERR_IO. */
int kx_pcapw_raw(kx_pcapw *w, int64_t ts_ns, const void *p, size_t caplen,
		 size_t wirelen);

#ifdef __cplusplus
}
#endif
#endif
