/* bench_mock's replay load generator (see bench_mock_replay.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_mock_replay.h"
#include "kafkit/codec.h"
#include "kafkit/protocol.h"

enum { MAX_CONNS = 256 };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_mock: %s: %s\n", what, why);
	exit(1);
}

/* One connection of the load generator, served by one thread. */
typedef struct lg_conn {
	pthread_t thread;
	uint16_t port;           /* the partition leader's */
	uint8_t *req;            /* the request frame (own copy: the
				  * correlation id is rewritten per send) */
	size_t req_len;
	long requests;
	int window;
	pthread_barrier_t *go, *done, *leave;
	const char *fail;        /* NULL, or why the connection failed */
} lg_conn;

static int write_full(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int connect_local(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	/* Nagle would hold each request's tail for the broker's ACK. */
	if (fd >= 0 && (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof one) ||
			connect(fd, (struct sockaddr *)&a, sizeof a))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* One response: its correlation id must be `corr` and every partition's
 * error_code 0. */
static const char *check_response(const uint8_t *body, size_t len,
				  int32_t corr, kc_arena *arena)
{
	if (len < 4 || (int32_t)ntohl(*(const uint32_t *)(const void *)body) !=
			       corr)
		return "response out of order";
	kc_decode_error de = {0};
	kc_reader r;
	kc_produce_response resp;
	kc_reader_init(&r, body + 4, len - 4, &de);
	kc_arena_reset(arena);
	if (kc_produce_response_decode(&r, &resp, BM_REPLAY_PRODUCE_VERSION, arena) !=
		    KC_OK ||
	    resp.responses_count != 1 ||
	    resp.responses[0].partition_responses_count != 1)
		return "undecodable response";
	if (resp.responses[0].partition_responses[0].error_code)
		return "a produce failed";
	return NULL;
}

static void *lg_run(void *arg)
{
	lg_conn *lc = arg;
	kc_arena arena;
	uint8_t *resp = NULL;
	size_t cap = 0;
	long sent = 0, got = 0;
	pthread_setname_np(pthread_self(), "loadgen");
	kc_arena_init(&arena);
	int fd = connect_local(lc->port);
	if (fd < 0)
		lc->fail = "connect failed";
	pthread_barrier_wait(lc->go);
	while (!lc->fail && got < lc->requests) {
		while (sent < lc->requests && sent - got < lc->window) {
			uint32_t corr = htonl((uint32_t)sent);
			memcpy(lc->req + 8, &corr, 4); /* after size, key, version */
			if (write_full(fd, lc->req, lc->req_len))
				lc->fail = "send failed";
			sent++;
		}
		uint32_t size;
		if (lc->fail || read_full(fd, (uint8_t *)&size, 4)) {
			lc->fail = lc->fail ? lc->fail : "connection closed";
			break;
		}
		size = ntohl(size);
		if (size > cap) {
			free(resp);
			cap = size;
			resp = malloc(cap);
			if (!resp)
				die("loadgen", "out of memory");
		}
		if (read_full(fd, resp, size))
			lc->fail = "connection closed";
		else
			lc->fail = check_response(resp, size, (int32_t)got,
						  &arena);
		got++;
	}
	pthread_barrier_wait(lc->done);
	pthread_barrier_wait(lc->leave); /* main samples CPU times between */
	if (fd >= 0)
		close(fd);
	free(resp);
	kc_arena_free(&arena);
	return NULL;
}

/* A ProduceRequest frame (acks=1) holding one uncompressed batch of
 * cfg->batch_records records for `partition`; malloc'd, *len bytes. */
static uint8_t *replay_request(const bm_replay_cfg *cfg, int32_t partition,
			       size_t *len)
{
	kc_batch_config bc;
	kc_batch_builder bb;
	const uint8_t *batch;
	size_t blen;
	kc_batch_config_default(&bc);
	if (kc_batch_builder_init(&bb, &bc) != KC_OK)
		die("replay", "batch builder");
	int64_t ts = (int64_t)(now() * 1000);
	for (int i = 0; i < cfg->batch_records; i++)
		if (kc_batch_append(&bb, ts, KC_BYTES_NULL,
				    kc_bytes_of(cfg->value, cfg->value_len),
				    NULL, 0) != KC_OK)
			die("replay", "batch append");
	if (kc_batch_seal(&bb, &batch, &blen) != KC_OK)
		die("replay", "batch seal");
	kc_produce_request_partition_produce_data pd = {
		.index = partition, .records = {batch, (int32_t)blen}};
	kc_produce_request_topic_produce_data td = {
		.name = kc_str_c(cfg->topic),
		.partition_data = &pd,
		.partition_data_count = 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = 1;
	req.timeout_ms = 30000;
	req.topic_data = &td;
	req.topic_data_count = 1;
	kc_writer w;
	kc_writer_init(&w);
	if (kc_request_frame_encode(&w, 0, BM_REPLAY_PRODUCE_VERSION, 0,
				    KC_STR_LIT("bench-replay"), &req) != KC_OK)
		die("replay", "request encode");
	uint8_t *out = malloc(w.len);
	if (!out)
		die("replay", "out of memory");
	memcpy(out, kc_writer_data(&w), w.len);
	*len = w.len;
	kc_writer_free(&w);
	kc_batch_builder_free(&bb);
	return out;
}

long bm_replay_run(const bm_replay_cfg *cfg, bm_replay_mark_fn mark,
		   void *arg, double *secs, const char **fail)
{
	lg_conn lc[MAX_CONNS];
	pthread_barrier_t go, done, leave;
	if (cfg->conns < 1 || cfg->conns > MAX_CONNS || cfg->batch_records < 1)
		die("replay", "bad configuration");
	long batches = (cfg->messages + cfg->batch_records - 1) /
		       cfg->batch_records;
	pthread_barrier_init(&go, NULL, (unsigned)cfg->conns + 1);
	pthread_barrier_init(&done, NULL, (unsigned)cfg->conns + 1);
	pthread_barrier_init(&leave, NULL, (unsigned)cfg->conns + 1);
	for (int i = 0; i < cfg->conns; i++) {
		int32_t part = i % cfg->partitions;
		lc[i] = (lg_conn){
			.port = cfg->ports[part],
			.requests = batches / cfg->conns +
				    (i < batches % cfg->conns),
			.window = cfg->window,
			.go = &go, .done = &done, .leave = &leave};
		lc[i].req = replay_request(cfg, part, &lc[i].req_len);
		if (pthread_create(&lc[i].thread, NULL, lg_run, &lc[i]))
			die("replay", "pthread_create");
	}
	pthread_barrier_wait(&go);
	mark(arg, 0);
	double t0 = now();
	pthread_barrier_wait(&done);
	*secs = now() - t0;
	mark(arg, 1);
	pthread_barrier_wait(&leave);
	*fail = NULL;
	for (int i = 0; i < cfg->conns; i++) {
		pthread_join(lc[i].thread, NULL);
		*fail = *fail ? *fail : lc[i].fail;
		free(lc[i].req);
	}
	pthread_barrier_destroy(&go);
	pthread_barrier_destroy(&done);
	pthread_barrier_destroy(&leave);
	return *fail ? -1 : batches * cfg->batch_records;
}
