/*
 * kafkit-pcap --stats: totals per topic/partition, per client id and per
 * connection: requests, records, bytes, batch size distribution,
 * compression ratio (batches uncompressed / on the wire), Produce latency
 * percentiles (request to response) and error codes of responses.
 *
 * Threading: a kx__stats belongs to one thread at a time.
 */
#ifndef KAFKIT_PCAP_TOOL_STATS_H
#define KAFKIT_PCAP_TOOL_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "decode.h"
#include "kafkit/json.h"
#include "kafkit/pcap.h"
#include "pending.h"
#include "recfmt.h"

/* One error code and how often it was seen. */
typedef struct kx__errcount {
	int16_t code;
	uint64_t n;
} kx__errcount;

/* The totals of one group. */
typedef struct kx__group {
	char *name;               /* "t1/0", the client id, "#1 a > b"; owned */
	size_t name_len;
	uint64_t requests;        /* requests of any api (partitions: Produce) */
	uint64_t responses;
	uint64_t produce_requests;
	uint64_t batches, records, bad_crc;
	uint64_t wire_bytes;      /* records fields on the wire */
	uint64_t raw_bytes;       /* the same batches uncompressed */
	uint64_t hist[KX__NHIST]; /* batches by wire size */
	int64_t *lat_ns;          /* Produce latencies, owned */
	size_t nlat, lat_cap;
	kx__errcount *errs;       /* response error codes (0 excluded), owned */
	size_t nerrs;
} kx__group;

/* Groups by name, in order of first appearance. */
typedef struct kx__gset {
	kx__group *v;
	size_t n, cap;
	uint32_t *idx;            /* hash slots: index + 1, 0 empty */
	size_t idx_cap;
} kx__gset;

typedef struct kx__stats {
	kx__gset parts, clients, conns;
	uint64_t requests, responses, undecoded;
	kx__recs recs;
	uint32_t *tmp;            /* partition indices of one request */
	size_t tmp_cap;
	kc_json scratch;          /* responses rendered to find error codes */
	kc_err err;               /* sticky KC_ERR_NOMEM */
} kx__stats;

void kx__stats_init(kx__stats *s);
void kx__stats_free(kx__stats *s);

/* Count a request (m decoded from ev; m->body may be NULL). Produce
 * requests add their records per partition (records that pass `topic_ok`
 * when given, a topic filter), and their partitions go to pend (may be
 * NULL: no response expected) for the response. Returns KC_OK or
 * KC_ERR_NOMEM (sticky in s->err). */
kc_err kx__stats_request(kx__stats *s, const kx_event *ev, const kx__msg *m,
			 kx__pend *pend, bool (*topic_ok)(kc_str topic, void *opaque),
			 void *opaque);

/* Count a response: its latency (Produce) and error codes go to the
 * request's groups (pend: client id and partitions; NULL when unpaired).
 * Returns KC_OK or KC_ERR_NOMEM (sticky). */
kc_err kx__stats_response(kx__stats *s, const kx_event *ev, const kx__msg *m,
			  const kx__pend *pend);

/* Nearest-rank percentile p (0-100) of g's latencies in ns; -1 when none.
 * Sorts g->lat_ns in place. */
int64_t kx__group_pct(kx__group *g, double p);

/* Compression ratio raw/wire of g (1 when nothing was seen). */
double kx__group_ratio(const kx__group *g);

/* Write the tables as text / as one JSON object (see docs/pcaptools.md).
 * Sort latencies in place. */
void kx__stats_print(kx__stats *s, FILE *out);
void kx__stats_json(kx__stats *s, kc_json *j);

/* Error codes of a decoded response, each with its topic and partition
 * where the api has them (Produce): calls fn(code, topic, partition,
 * opaque) for every error_code field, 0 included (partition -1 and a null
 * topic elsewhere). Other apis are read through their JSON (every field
 * named errorCode), so every api the codec carries is covered. Returns
 * KC_OK or KC_ERR_NOMEM. */
kc_err kx__response_errors(kc_json *scratch, const kx__msg *m,
			   void (*fn)(int16_t code, kc_str topic, int32_t partition,
				      void *opaque),
			   void *opaque);

#endif
