/*
 * Test helpers for the mock broker suites: a blocking Kafka client over a
 * real socket (requests encoded with the codec, responses decoded with
 * it), record batch builders, and a cluster started on port 0.
 */
#ifndef KAFKIT_TEST_MOCK_CLIENT_H
#define KAFKIT_TEST_MOCK_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "kafkit/codec.h"
#include "kafkit/mock.h"

typedef struct mc_client {
	int fd;
	int32_t next_corr;
	kc_arena arena;   /* decoded responses live here until the next call */
	uint8_t *frame;   /* last response frame read (after its Size) */
	size_t frame_len;
} mc_client;

/* Connect to 127.0.0.1:port (blocking socket); ck-asserts success. */
void mc_connect(mc_client *cl, uint16_t port);
/* Connect to broker `id` of c. */
void mc_connect_broker(mc_client *cl, km_cluster *c, int32_t id);
void mc_close(mc_client *cl);

/* Encode and send one request; returns its correlation id. */
int32_t mc_send(mc_client *cl, int16_t api_key, int16_t version,
		const void *body);
/* Send raw bytes. */
void mc_send_raw(mc_client *cl, const void *p, size_t n);

/* Read one response frame into cl->frame: 0, -1 when the connection
 * closed (EOF or reset) first, -2 after timeout_ms without a frame. */
int mc_recv_frame(mc_client *cl, int timeout_ms);

/* Read the response to `corr` and decode it as api_key/version into
 * resp (a response struct; arrays from cl->arena). ck-asserts. */
void mc_recv(mc_client *cl, int16_t api_key, int16_t version, int32_t corr,
	     void *resp);

/* mc_send + mc_recv. */
void mc_call(mc_client *cl, int16_t api_key, int16_t version,
	     const void *req, void *resp);

/* Whether the server closed the connection (EOF or reset) within
 * timeout_ms, reading and discarding anything before. */
int mc_wait_closed(mc_client *cl, int timeout_ms);

/* A sealed batch of n records "k<i>"/"v<i>" (magic, codec), first record
 * index `first` (keys and values count from it), timestamps ts0 + i;
 * malloc'd copy in *out. Producer fields from pid/epoch/seq (-1: none). */
uint8_t *mc_batch(int magic, int codec, int first, int n, int64_t ts0,
		  int64_t pid, int16_t epoch, int32_t seq, size_t *len);

/* Produce one partition's records with version/acks; returns the
 * partition response's error and fills *base (may be NULL). */
int16_t mc_produce(mc_client *cl, int16_t version, int16_t acks,
		   const char *topic, int32_t partition, const uint8_t *records,
		   size_t len, int64_t *base);

/* A started cluster of n brokers on port 0 with the given options (NULL:
 * defaults, but logs collected into mc_log instead of stderr). */
km_cluster *mc_cluster(int n, km_options *o);

/* Whether a log line of clusters made by mc_cluster (since the last
 * mc_log_reset) contains needle; the sink is thread-safe. */
int mc_log_has(const char *needle);
void mc_log_reset(void);
void mc_log_fn(void *opaque, const char *line);

/* Records of a partition log as "offset:key=value" lines, "null" for null
 * keys/values; malloc'd string. */
char *mc_dump(km_cluster *c, const char *topic, int32_t partition);

/* Run argv[0] (a path) with argv, feeding `in` (in_len bytes) to its
 * stdin and collecting its stdout into *out (malloc'd, NUL-terminated;
 * stderr is inherited). Kills it after timeout_ms. Returns the exit
 * status, or -1 when killed or signalled. */
int mc_run(char *const argv[], const char *in, size_t in_len, char **out,
	   int timeout_ms);

#endif
