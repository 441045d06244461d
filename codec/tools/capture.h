/*
 * kafkit codec tools: the codec's self-check capture reader.
 *
 * Reads pcap/pcapng captures of Kafka traffic (libpcap offline), rebuilds
 * each TCP connection's two byte streams and cuts them into Kafka frames
 * (int32 size + bytes), delivered in capture order to a callback with the
 * connection and the direction. Requests and responses are paired by
 * correlation id per connection, so a response arrives knowing the api key
 * and version of its request.
 *
 * This reader exists to feed captured frames to the codec (kafkit-selfcheck
 * and the capture tests). It is deliberately small and independent of the
 * pcap tools (kx_): link types Ethernet (with VLAN tags), Linux SLL/SLL2,
 * raw IPv4/IPv6 and BSD loopback/null; IPv4/IPv6 (no fragments) and TCP.
 * Streams are assembled strictly in sequence order: duplicate and
 * retransmitted bytes are dropped by sequence number, but a segment that
 * starts past the next expected byte (lost or reordered data) is an error.
 *
 * Threading: a kc_capture belongs to one thread at a time.
 */
#ifndef KAFKIT_TOOLS_CAPTURE_H
#define KAFKIT_TOOLS_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One TCP connection. The client is the side that does not listen. */
typedef struct kc_capture_flow {
	unsigned id;           /* 1, 2, ... in order of first packet */
	int ip_version;        /* 4 or 6 */
	uint8_t client_ip[16]; /* IPv4 in the first 4 bytes */
	uint8_t broker_ip[16];
	uint16_t client_port;
	uint16_t broker_port;
} kc_capture_flow;

/* One Kafka frame, as handed to the callback. `data` excludes the int32
 * size prefix; it and `flow` are valid only during the callback. */
typedef struct kc_capture_frame {
	const kc_capture_flow *flow;
	bool to_broker;        /* true: a request; false: a response */
	const uint8_t *data;
	size_t len;
	uint64_t packet;       /* 1-based packet that completed the frame */
	struct timeval ts;     /* its timestamp */
	/* Requests: read from the header's first 8 bytes. Responses: copied
	 * from the paired request (api_key -1 when unpaired). */
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	/* Requests: false when the frame is too short for a header. */
	bool header_ok;
	/* Responses: a request with this correlation id was pending. */
	bool paired;
	uint64_t request_packet; /* responses: packet of the paired request */
	/* Requests: true on entry; the callback clears it for a request that
	 * gets no response (Produce with acks=0), so it is not left pending. */
	bool expect_response;
} kc_capture_frame;

/* Return 0 to go on; any other value stops the read and is returned by
 * kc_capture_packet()/kc_capture_read_file(). */
typedef int (*kc_capture_frame_cb)(kc_capture_frame *f, void *opaque);

typedef struct kc_capture_opts {
	/* TCP ports brokers listen on. A connection touching none of them is
	 * ignored. With none given, the listening side is the destination of
	 * the connection's SYN, and connections whose SYN is not in the
	 * capture are ignored. */
	const uint16_t *broker_ports;
	size_t nbroker_ports;
	/* Largest frame accepted (0 = 100 MiB, the broker default); a bigger
	 * size prefix means the stream is not Kafka or is out of step. */
	size_t max_frame;
} kc_capture_opts;

typedef struct kc_capture_stats {
	uint64_t packets;            /* all packets read */
	uint64_t tcp_segments;       /* TCP segments of followed connections */
	uint64_t skipped_packets;    /* non-IP, non-TCP, fragments, link types */
	uint64_t flows;              /* connections followed */
	uint64_t flows_ignored;      /* connections not identified as Kafka */
	uint64_t duplicate_bytes;    /* retransmitted bytes dropped */
	uint64_t frames;             /* Kafka frames delivered */
	uint64_t requests;
	uint64_t responses;
	uint64_t unpaired_responses; /* no pending request had the id */
	uint64_t unanswered_requests;/* still pending at the end */
	uint64_t trailing_bytes;     /* bytes of incomplete frames at the end */
} kc_capture_stats;

typedef struct kc_capture kc_capture;

/* Return values besides 0 and a callback's own value. */
#define KC_CAPTURE_ERROR (-1)

/* A reader with the given options (copied; NULL = defaults) delivering
 * frames to cb. Returns NULL when out of memory. */
kc_capture *kc_capture_new(const kc_capture_opts *opts, kc_capture_frame_cb cb,
			   void *opaque);

/* Release the reader and everything it holds. NULL is a no-op. */
void kc_capture_free(kc_capture *c);

/* Feed one captured packet of link type `dlt` (a libpcap DLT_ value),
 * caplen bytes at p as stored in the capture.
 * Packets that are not TCP of a followed connection are counted and
 * skipped. Returns 0, the callback's non-zero value, or KC_CAPTURE_ERROR
 * (details from kc_capture_error()): a gap in a stream, a frame size
 * above max_frame, a TCP payload cut by the snapshot length, out of
 * memory. After an error the reader accepts nothing more. */
int kc_capture_packet(kc_capture *c, int dlt, const struct timeval *ts,
		      const uint8_t *p, size_t caplen);

/* End of input: counts requests still waiting for a response and bytes of
 * frames left incomplete. Returns 0 (or KC_CAPTURE_ERROR after an
 * earlier error). */
int kc_capture_finish(kc_capture *c);

/* Read a whole pcap or pcapng file through kc_capture_packet() and finish.
 * Returns as kc_capture_packet(); opening or reading failures are
 * KC_CAPTURE_ERROR. */
int kc_capture_read_file(kc_capture *c, const char *path);

/* Counters so far; valid while the reader lives. */
const kc_capture_stats *kc_capture_stats_get(const kc_capture *c);

/* Message for the last KC_CAPTURE_ERROR ("" when none). */
const char *kc_capture_error(const kc_capture *c);

/* "a.b.c.d:port" or "[v6]:port" of one side of a flow, into buf. */
void kc_capture_flow_addr(const kc_capture_flow *f, bool broker, char *buf,
			  size_t buflen);

#ifdef __cplusplus
}
#endif
#endif
