/*
 * kafkit mock broker: serving client connections (internal).
 *
 * Each broker's listener hands accepted sockets to km__server_accept; a
 * session then serves the connection's frames in order: decode the request
 * header and body through the codec's api table, consult the pre-handler
 * decision point (fault injection), run the api's handler, encode the
 * response, queue it (at once, or after a delay, behind any response still
 * delayed), log and count. Like Kafka, an unknown api key, a version out of
 * range (except ApiVersions, which gets the v0 UNSUPPORTED_VERSION answer)
 * or an undecodable request closes the connection; other connections go
 * on. A Fetch that must wait for data parks its session (reading stops, as
 * Kafka mutes the channel) until data arrives or max_wait_ms passes.
 *
 * Threading: the cluster's I/O thread.
 */
#ifndef KAFKIT_MOCK_SERVER_H
#define KAFKIT_MOCK_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"
#include "conn.h"
#include "kafkit/buf.h"

/* Handler results besides 0 (answered) and negative errnos (the
 * connection is closed). */
#define KM__PARK 1 /* Fetch: not enough data yet; ask again later */

/* One request being served. Handlers read the top part and set the
 * bottom part. */
struct km__req {
	km_cluster *cluster;
	km__broker *broker;
	km__session *session;
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	kc_str client_id;
	size_t frame_len;     /* Size field included */
	/* The frame in the connection's input buffer, for
	 * kn__conn_take_input; NULL when served from a copy (parked) */
	const uint8_t *frame;
	kc_arena *arena;      /* for response arrays; reset per request */
	bool may_park;        /* Fetch may return KM__PARK */
	/* set by the decision point */
	int16_t forced_error; /* answer every element with it, apply nothing */
	int32_t throttle_ms;  /* throttle_time_ms to answer */
	uint32_t faults;      /* KM_FAULT_F_* bits, for the request log */
	/* set by the handler */
	int16_t error_code;   /* first non-zero error of the response */
	bool no_response;     /* Produce acks=0: send nothing ... */
	bool close_after;     /* ... or close the connection (acks=0 error) */
	/* Fetch: segments the response references (released once sent) */
	km__segment **refs;
	size_t nrefs, refs_cap;
};

/* What fault injection decides for one request (all zero: serve it
 * normally). */
struct km__decision {
	uint32_t delay_ms;   /* hold the response; later ones queue behind */
	bool swallow;        /* serve the request, never send the response */
	bool close;          /* close the connection instead of serving */
	int16_t error_code;  /* answer every element with it, apply nothing */
	int32_t throttle_ms; /* throttle_time_ms in the response */
};

/* One client connection of a broker (linked in broker->sessions). */
struct km__session {
	km__broker *broker;
	kn__conn *conn;
	km__session *prev, *next;
	struct outbuf *q_head, *q_tail; /* delayed responses, in order */
	kn__timer q_timer;
	km__parked *parked;
	/* idle.c: frames served so far, and what the last sweep saw */
	uint64_t frames, seen_frames;
	size_t seen_in, seen_out;
	uint64_t last_active; /* monotonic ms */
	struct km__capture_conn *capture; /* capture.c; NULL: not recorded */
};

/* Prepare the cluster's server state (before any listener opens). */
void km__server_init(km_cluster *c);

/* Install the decision point (NULL removes it). It runs for every request
 * that decoded, before its handler; a parked Fetch is decided once. */
void km__server_set_pre_handler(km_cluster *c, km__pre_fn fn, void *opaque);

/* kn__accept_fn for a broker's listener (arg: the km__broker). */
void km__server_accept(kn__listener *ls, int fd, void *arg);

/* Close every connection of broker b (err 0: orderly), e.g. at shutdown;
 * parked requests and delayed responses go with them. */
void km__server_close_all(km__broker *b, int err, const char *reason);

/* Stall (stop reading every connection of b, and new ones as they are
 * accepted) or un-stall b; sets b->stalled. A parked Fetch's connection
 * stays paused until the Fetch is answered. */
void km__server_stall(km__broker *b, bool stalled);

/* Every connection of b open now closes once n more bytes were written
 * (kn__conn_close_after). */
void km__server_close_after(km__broker *b, uint64_t n);

/* Data was appended: parked Fetch requests are looked at again at the
 * end of this loop iteration. */
void km__server_data_arrived(km_cluster *c);

/* Record the first non-zero Kafka error of a response in rq. */
static inline void km__req_error(km__req *rq, int16_t code)
{
	if (code && !rq->error_code)
		rq->error_code = code;
}

/* Keep seg alive until the response is written. Returns 0 or -ENOMEM. */
int km__req_ref(km__req *rq, km__segment *seg);

#endif
