/*
 * Check suite for fault injection (mockbroker/src/faults.c) through the
 * public km_fault_* calls, against a started 3-broker cluster over real
 * sockets: delays, swallowed responses (counted and by probability),
 * closes, throttle, error queues per request and per partition, stalled
 * brokers, broker down/up, dropped connections, leader moves now and
 * scheduled, the request log's fault bits and counters, control calls from
 * several threads, and allocation failures.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "kafkit/codec.h"
#include "mock_client.h"

static km_cluster *C;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t logged_faults[64];
static int nlogged;

static void on_request(void *opaque, const km_request_info *info)
{
	(void)opaque;
	pthread_mutex_lock(&mu);
	if (nlogged < 64)
		logged_faults[nlogged] = info->faults;
	nlogged++;
	pthread_mutex_unlock(&mu);
}

static uint32_t faults_of(int i)
{
	pthread_mutex_lock(&mu);
	uint32_t f = i < nlogged ? logged_faults[i] : 0xffffffffu;
	pthread_mutex_unlock(&mu);
	return f;
}

/* 3 brokers; topic t has 3 partitions led by brokers 1, 2, 3. */
static void setup(void)
{
	nlogged = 0;
	km_options o;
	km_options_init(&o);
	o.request_fn = on_request;
	C = mc_cluster(3, &o);
	ck_assert_int_eq(km_cluster_create_topic(C, "t", 3, NULL), KM_OK);
	for (int32_t p = 0; p < 3; p++)
		ck_assert_int_eq(km_cluster_set_leader(C, "t", p, p + 1), KM_OK);
}

static void teardown(void)
{
	km_cluster_destroy(C);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int32_t send_api_versions(mc_client *cl)
{
	kc_api_versions_request req;
	kc_api_versions_request_init(&req);
	return mc_send(cl, 18, 1, &req);
}

static kc_api_versions_response api_versions(mc_client *cl)
{
	kc_api_versions_response resp;
	mc_recv(cl, 18, 1, send_api_versions(cl), &resp);
	return resp;
}

static kc_metadata_response metadata(mc_client *cl)
{
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	kc_metadata_response resp;
	mc_call(cl, 3, 1, &req, &resp);
	return resp;
}

/* One record batch to partition p of t through cl (acks=-1, v9). */
static int16_t produce(mc_client *cl, int32_t p)
{
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 1, 1, -1, -1, -1, &n);
	int16_t err = mc_produce(cl, 9, -1, "t", p, b, n, NULL);
	free(b);
	return err;
}

static int64_t hwm(int32_t p)
{
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "t", p, &pi), KM_OK);
	return pi.high_watermark;
}

static km_partition_info info(int32_t p)
{
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "t", p, &pi), KM_OK);
	return pi;
}

static km_counters counters(int32_t broker)
{
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(C, broker, &k), KM_OK);
	return k;
}

static km_fault_match match(int32_t broker, int16_t api)
{
	km_fault_match m;
	km_fault_match_init(&m);
	m.broker_id = broker;
	m.api_key = api;
	return m;
}

START_TEST(arguments)
{
	km_fault_match m = match(KM_ANY, KM_ANY);
	ck_assert_int_eq(m.count, 0);
	ck_assert(m.probability == 1.0);
	km_fault_id id = 0;
	m.probability = 0;
	ck_assert_int_eq(km_fault_swallow(C, &m, &id), KM_ERR_INVALID_ARG);
	m.probability = 1.5;
	ck_assert_int_eq(km_fault_swallow(C, &m, &id), KM_ERR_INVALID_ARG);
	m = match(0, KM_ANY);
	ck_assert_int_eq(km_fault_swallow(C, &m, &id), KM_ERR_INVALID_ARG);
	m = match(4, KM_ANY);
	ck_assert_int_eq(km_fault_swallow(C, &m, &id), KM_ERR_NOT_FOUND);
	m = match(KM_ANY, -2);
	ck_assert_int_eq(km_fault_close(C, &m, &id), KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_fault_swallow(C, NULL, &id), KM_ERR_INVALID_ARG);
	m = match(KM_ANY, KM_ANY);
	ck_assert_int_eq(km_fault_delay(C, &m, 3600000, 1, &id),
			 KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_fault_throttle(C, &m, -1, &id), KM_ERR_INVALID_ARG);
	int16_t code = 6;
	ck_assert_int_eq(km_fault_errors(C, &m, NULL, KM_ANY, &code, 0, &id),
			 KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_fault_errors(C, &m, "bad/name", 0, &code, 1, &id),
			 KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_fault_leader_move(C, "t", -2, 0), KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_fault_leader_move(C, "t", 0, 7), KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_fault_leader_move(C, "nope", 0, 0), KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_fault_leader_move(C, "t", 3, 0), KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_fault_leader_schedule(C, NULL, KM_ANY, 0, 0, 0, &id),
			 KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_fault_stall(C, 9, true), KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_fault_broker_down(C, KM_ANY, true),
			 KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_fault_broker_is_up(C, 0), KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_fault_drop_after(C, 4, 1), KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_fault_cancel(C, 12345), KM_ERR_NOT_FOUND);
	/* ids are distinct and cancellable once */
	km_fault_id a = 0, b = 0;
	ck_assert_int_eq(km_fault_swallow(C, &m, &a), KM_OK);
	ck_assert_int_eq(km_fault_throttle(C, &m, 5, &b), KM_OK);
	ck_assert(a != 0 && b != 0 && a != b);
	ck_assert_int_eq(km_fault_cancel(C, a), KM_OK);
	ck_assert_int_eq(km_fault_cancel(C, a), KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_fault_clear(C), KM_OK);
	ck_assert_int_eq(km_fault_cancel(C, b), KM_ERR_NOT_FOUND);
}
END_TEST

START_TEST(delay_per_broker)
{
	km_fault_match m = match(2, KM_ANY);
	km_fault_id id;
	ck_assert_int_eq(km_fault_delay(C, &m, 300, 0, &id), KM_OK);
	mc_client one, two;
	mc_connect_broker(&one, C, 1);
	mc_connect_broker(&two, C, 2);
	int64_t t0 = now_ms();
	api_versions(&one);
	ck_assert_int_lt(now_ms() - t0, 250);
	t0 = now_ms();
	/* pipelined: the second waits behind the first, in order */
	int32_t c1 = send_api_versions(&two);
	int32_t c2 = send_api_versions(&two);
	kc_api_versions_response r;
	mc_recv(&two, 18, 1, c1, &r);
	mc_recv(&two, 18, 1, c2, &r);
	ck_assert_int_ge(now_ms() - t0, 290);
	ck_assert_uint_eq(counters(2).faults_delayed, 2);
	ck_assert_uint_eq(counters(1).faults_delayed, 0);
	ck_assert_uint_eq(faults_of(1), KM_FAULT_F_DELAYED);
	ck_assert_uint_eq(faults_of(0), 0);
	ck_assert_int_eq(km_fault_cancel(C, id), KM_OK);
	t0 = now_ms();
	api_versions(&two);
	ck_assert_int_lt(now_ms() - t0, 250);
	mc_close(&one);
	mc_close(&two);
}
END_TEST

START_TEST(swallow_next_k)
{
	km_fault_match m = match(KM_ANY, 0);
	m.count = 2;
	km_fault_id id;
	ck_assert_int_eq(km_fault_swallow(C, &m, &id), KM_OK);
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 1, 1, -1, -1, -1, &n);
	kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(b, n)};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), &pd, 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = -1;
	req.topic_data = &td;
	req.topic_data_count = 1;
	for (int i = 0; i < 2; i++) {
		mc_send(&cl, 0, 9, &req);
		/* applied, never answered: the next answer is ApiVersions' */
		api_versions(&cl);
	}
	ck_assert_int_eq(produce(&cl, 0), 0);
	ck_assert_int_eq(hwm(0), 3);
	ck_assert_uint_eq(counters(KM_ANY).faults_swallowed, 2);
	ck_assert_uint_eq(faults_of(0), KM_FAULT_F_SWALLOWED);
	/* used up: gone */
	ck_assert_int_eq(km_fault_cancel(C, id), KM_ERR_NOT_FOUND);
	mc_close(&cl);
	free(b);
}
END_TEST

/* About half of 200 requests swallowed at p = 0.5, none of the others. */
START_TEST(swallow_probability)
{
	ck_assert_int_eq(km_fault_seed(C, 42), KM_OK);
	km_fault_match m = match(1, 18);
	m.probability = 0.5;
	ck_assert_int_eq(km_fault_swallow(C, &m, NULL), KM_OK);
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	for (int i = 0; i < 200; i++)
		send_api_versions(&cl);
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	int32_t last = mc_send(&cl, 3, 1, &req);
	int answered = 0;
	for (;;) {
		ck_assert_int_eq(mc_recv_frame(&cl, 5000), 0);
		int32_t corr = (int32_t)((uint32_t)cl.frame[0] << 24 |
					 (uint32_t)cl.frame[1] << 16 |
					 (uint32_t)cl.frame[2] << 8 | cl.frame[3]);
		if (corr == last)
			break;
		answered++;
	}
	ck_assert_int_gt(answered, 60);
	ck_assert_int_lt(answered, 140);
	ck_assert_uint_eq(counters(1).faults_swallowed,
			  (uint64_t)(200 - answered));
	mc_close(&cl);
}
END_TEST

START_TEST(close_and_throttle)
{
	km_fault_match m = match(KM_ANY, 3);
	m.count = 1;
	ck_assert_int_eq(km_fault_close(C, &m, NULL), KM_OK);
	km_fault_match t = match(KM_ANY, 18);
	ck_assert_int_eq(km_fault_throttle(C, &t, 100, NULL), KM_OK);
	ck_assert_int_eq(km_fault_throttle(C, &t, 250, NULL), KM_OK);
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	mc_send(&cl, 3, 1, &req);
	ck_assert(mc_wait_closed(&cl, 5000));
	mc_close(&cl);
	mc_connect_broker(&cl, C, 1);
	kc_metadata_response md = metadata(&cl);
	ck_assert_int_eq(md.brokers_count, 3);
	kc_api_versions_response av = api_versions(&cl);
	ck_assert_int_eq(av.throttle_time_ms, 250); /* the largest */
	km_counters k = counters(1);
	ck_assert_uint_eq(k.faults_closed, 1);
	ck_assert_uint_eq(k.faults_throttled, 1);
	ck_assert_uint_eq(faults_of(0), KM_FAULT_F_CLOSED);
	mc_close(&cl);
}
END_TEST

START_TEST(error_queue_per_request)
{
	const int16_t codes[] = {6, 0, 7};
	km_fault_match m = match(1, 0);
	ck_assert_int_eq(km_fault_errors(C, &m, NULL, KM_ANY, codes, 3, NULL),
			 KM_OK);
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	ck_assert_int_eq(produce(&cl, 0), 6);
	ck_assert_int_eq(hwm(0), 0);
	ck_assert_int_eq(produce(&cl, 0), 0);
	ck_assert_int_eq(hwm(0), 1);
	ck_assert_int_eq(produce(&cl, 0), 7);
	ck_assert_int_eq(produce(&cl, 0), 0);
	ck_assert_int_eq(hwm(0), 2);
	ck_assert_uint_eq(counters(1).faults_errors, 2);
	ck_assert_uint_eq(faults_of(0), KM_FAULT_F_ERROR);
	ck_assert_uint_eq(faults_of(1), 0);
	mc_close(&cl);
}
END_TEST

/* Produce one batch to partitions 0 and 1 of t in one request; returns
 * their error codes. */
static void produce_two(mc_client *cl, int16_t err[2])
{
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 1, 1, -1, -1, -1, &n);
	kc_produce_request_partition_produce_data pd[2] = {
		{0, kc_bytes_of(b, n)}, {1, kc_bytes_of(b, n)}};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), pd, 2};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = -1;
	req.topic_data = &td;
	req.topic_data_count = 1;
	kc_produce_response resp;
	mc_call(cl, 0, 9, &req, &resp);
	for (int i = 0; i < 2; i++)
		err[resp.responses[0].partition_responses[i].index] =
			resp.responses[0].partition_responses[i].error_code;
	free(b);
}

START_TEST(error_queue_per_partition)
{
	ck_assert_int_eq(km_cluster_set_leader(C, "t", 1, 1), KM_OK);
	const int16_t codes[] = {6, 19};
	km_fault_match other = match(2, KM_ANY);
	ck_assert_int_eq(km_fault_errors(C, &other, "t", 1, codes, 1, NULL),
			 KM_OK);
	km_fault_match m = match(KM_ANY, 0);
	ck_assert_int_eq(km_fault_errors(C, &m, "t", 1, codes, 2, NULL), KM_OK);
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	int16_t err[2];
	produce_two(&cl, err);
	ck_assert_int_eq(err[0], 0);
	ck_assert_int_eq(err[1], 6);
	produce_two(&cl, err);
	ck_assert_int_eq(err[0], 0);
	ck_assert_int_eq(err[1], 19);
	produce_two(&cl, err);
	ck_assert_int_eq(err[0], 0);
	ck_assert_int_eq(err[1], 0);
	ck_assert_int_eq(hwm(0), 3);
	ck_assert_int_eq(hwm(1), 1);
	ck_assert_uint_eq(counters(1).faults_errors, 2);
	/* a topic queue for a topic created later, on ListOffsets */
	const int16_t nl[] = {6};
	km_fault_match lo = match(KM_ANY, 2);
	ck_assert_int_eq(km_fault_errors(C, &lo, "later", KM_ANY, nl, 1, NULL),
			 KM_OK);
	ck_assert_int_eq(km_cluster_create_topic(C, "later", 1, NULL), KM_OK);
	ck_assert_int_eq(km_cluster_set_leader(C, "later", 0, 1), KM_OK);
	kc_list_offsets_request_list_offsets_partition lp;
	kc_list_offsets_request_list_offsets_partition_init(&lp);
	lp.partition_index = 0;
	lp.timestamp = -1;
	kc_list_offsets_request_list_offsets_topic lt;
	kc_list_offsets_request_list_offsets_topic_init(&lt);
	lt.name = KC_STR_LIT("later");
	lt.partitions = &lp;
	lt.partitions_count = 1;
	kc_list_offsets_request lreq;
	kc_list_offsets_request_init(&lreq);
	lreq.topics = &lt;
	lreq.topics_count = 1;
	kc_list_offsets_response lresp;
	mc_call(&cl, 2, 5, &lreq, &lresp);
	ck_assert_int_eq(lresp.topics[0].partitions[0].error_code, 6);
	mc_call(&cl, 2, 5, &lreq, &lresp);
	ck_assert_int_eq(lresp.topics[0].partitions[0].error_code, 0);
	mc_close(&cl);
}
END_TEST

START_TEST(stall_broker)
{
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	api_versions(&cl);
	ck_assert_int_eq(km_fault_stall(C, 1, true), KM_OK);
	send_api_versions(&cl);
	ck_assert_int_eq(mc_recv_frame(&cl, 300), -2);
	/* accepted, never read */
	mc_client late;
	mc_connect_broker(&late, C, 1);
	int32_t lc = send_api_versions(&late);
	ck_assert_int_eq(mc_recv_frame(&late, 200), -2);
	/* the other brokers are served */
	mc_client two;
	mc_connect_broker(&two, C, 2);
	api_versions(&two);
	ck_assert_int_eq(km_fault_stall(C, 1, false), KM_OK);
	ck_assert_int_eq(mc_recv_frame(&cl, 5000), 0);
	kc_api_versions_response r;
	mc_recv(&late, 18, 1, lc, &r);
	ck_assert_int_eq(r.error_code, 0);
	/* clear un-stalls */
	ck_assert_int_eq(km_fault_stall(C, KM_ANY, true), KM_OK);
	send_api_versions(&two);
	ck_assert_int_eq(mc_recv_frame(&two, 200), -2);
	ck_assert_int_eq(km_fault_clear(C), KM_OK);
	ck_assert_int_eq(mc_recv_frame(&two, 5000), 0);
	mc_close(&cl);
	mc_close(&late);
	mc_close(&two);
}
END_TEST

/* Whether a TCP connect to port is refused. */
static int refused(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	int e = errno;
	close(fd);
	return rc != 0 && e == ECONNREFUSED;
}

START_TEST(broker_down_and_up)
{
	mc_client cl;
	mc_connect_broker(&cl, C, 2);
	api_versions(&cl);
	ck_assert_int_eq(km_fault_broker_is_up(C, 2), 1);
	ck_assert_int_eq(km_fault_broker_down(C, 2, true), KM_OK);
	ck_assert_int_eq(km_fault_broker_down(C, 2, true), KM_OK);
	ck_assert_int_eq(km_fault_broker_is_up(C, 2), 0);
	ck_assert(mc_wait_closed(&cl, 5000));
	mc_close(&cl);
	ck_assert(refused(km_cluster_broker_port(C, 2)));
	km_partition_info pi = info(1);
	ck_assert_int_eq(pi.leader, 3); /* round robin: next replica */
	ck_assert_int_eq(pi.leader_epoch, 2);
	ck_assert_uint_eq(counters(2).leader_changes, 1);
	/* down without moving: leadership stays on the down broker */
	ck_assert_int_eq(km_fault_broker_down(C, 3, false), KM_OK);
	ck_assert_int_eq(info(1).leader, 3);
	ck_assert_int_eq(info(2).leader, 3);
	/* moves skip brokers that are down */
	ck_assert_int_eq(km_fault_leader_move(C, "t", 2, KM_LEADER_RANDOM),
			 KM_OK);
	ck_assert_int_eq(info(2).leader, 1);
	ck_assert_int_eq(km_fault_broker_up(C, 2), KM_OK);
	ck_assert_int_eq(km_fault_broker_up(C, 3), KM_OK);
	ck_assert_int_eq(km_fault_broker_is_up(C, 2), 1);
	mc_connect_broker(&cl, C, 2);
	api_versions(&cl);
	ck_assert_int_eq(info(1).leader, 3); /* leadership does not move back */
	mc_close(&cl);
}
END_TEST

START_TEST(drop_connections)
{
	mc_client a, b;
	mc_connect_broker(&a, C, 1);
	mc_connect_broker(&b, C, 2);
	api_versions(&a);
	api_versions(&b);
	ck_assert_int_eq(km_fault_drop_connections(C, 1), KM_OK);
	ck_assert(mc_wait_closed(&a, 5000));
	api_versions(&b);
	mc_close(&a);
	mc_connect_broker(&a, C, 1);
	api_versions(&a);
	ck_assert_int_eq(km_fault_drop_connections(C, KM_ANY), KM_OK);
	ck_assert(mc_wait_closed(&a, 5000));
	ck_assert(mc_wait_closed(&b, 5000));
	mc_close(&a);
	mc_close(&b);
}
END_TEST

START_TEST(drop_after_bytes)
{
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	api_versions(&cl);
	ck_assert_int_eq(km_fault_drop_after(C, 1, 10), KM_OK);
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	mc_send(&cl, 3, 1, &req);
	/* 10 bytes of a larger response arrive, then the stream ends */
	uint8_t buf[256];
	size_t got = 0;
	for (;;) {
		ssize_t r = recv(cl.fd, buf + got, sizeof buf - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	ck_assert_uint_eq(got, 10);
	mc_close(&cl);
	/* new connections are not affected */
	mc_connect_broker(&cl, C, 1);
	metadata(&cl);
	mc_close(&cl);
}
END_TEST

/* Produce v10 to the old leader: NOT_LEADER_OR_FOLLOWER with the new
 * leader in CurrentLeader and NodeEndpoints. */
static void old_leader_refuses(int32_t old, int32_t now, int32_t epoch)
{
	mc_client cl;
	mc_connect_broker(&cl, C, old);
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 1, 1, -1, -1, -1, &n);
	kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(b, n)};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), &pd, 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = -1;
	req.topic_data = &td;
	req.topic_data_count = 1;
	kc_produce_response resp;
	mc_call(&cl, 0, 10, &req, &resp);
	const kc_produce_response_partition_produce_response *pr =
		&resp.responses[0].partition_responses[0];
	ck_assert_int_eq(pr->error_code, 6);
	ck_assert_int_eq(pr->current_leader.leader_id, now);
	ck_assert_int_eq(pr->current_leader.leader_epoch, epoch);
	ck_assert_int_eq(resp.node_endpoints_count, 1);
	ck_assert_int_eq(resp.node_endpoints[0].node_id, now);
	ck_assert_int_eq(resp.node_endpoints[0].port,
			 km_cluster_broker_port(C, now));
	mc_close(&cl);
	free(b);
}

START_TEST(leader_move_now)
{
	/* setup moved p0 to broker 1 (epoch 1); replicas are 1, 2, 3 */
	ck_assert_int_eq(km_fault_leader_move(C, "t", 0, KM_LEADER_ROUND_ROBIN),
			 KM_OK);
	km_partition_info pi = info(0);
	ck_assert_int_eq(pi.leader, 2);
	ck_assert_int_eq(pi.leader_epoch, 2);
	old_leader_refuses(1, 2, 2);
	ck_assert_uint_eq(counters(1).leader_changes, 1);
	for (int i = 0; i < 20; i++) {
		int32_t before = info(0).leader;
		ck_assert_int_eq(km_fault_leader_move(C, "t", 0,
						      KM_LEADER_RANDOM),
				 KM_OK);
		ck_assert_int_ne(info(0).leader, before);
	}
	/* every partition of every topic */
	int32_t e[3];
	for (int32_t p = 0; p < 3; p++)
		e[p] = info(p).leader_epoch;
	ck_assert_int_eq(km_fault_leader_move(C, NULL, KM_ANY,
					      KM_LEADER_ROUND_ROBIN),
			 KM_OK);
	for (int32_t p = 0; p < 3; p++)
		ck_assert_int_eq(info(p).leader_epoch, e[p] + 1);
}
END_TEST

START_TEST(leader_schedule)
{
	km_fault_id id;
	int32_t e0 = info(0).leader_epoch;
	ck_assert_int_eq(km_fault_leader_schedule(C, "t", 0, 30,
						  KM_LEADER_ROUND_ROBIN, 3, &id),
			 KM_OK);
	for (int i = 0; i < 100 && info(0).leader_epoch < e0 + 3; i++)
		usleep(20000);
	usleep(150000);
	ck_assert_int_eq(info(0).leader_epoch, e0 + 3);
	ck_assert_int_eq(info(0).leader, 1 + 3 % 3); /* 1 -> 2 -> 3 -> 1 */
	ck_assert_int_eq(km_fault_cancel(C, id), KM_ERR_NOT_FOUND);
	/* unlimited, every topic; cancel stops it */
	int32_t e2 = info(2).leader_epoch;
	ck_assert_int_eq(km_fault_leader_schedule(C, NULL, KM_ANY, 20,
						  KM_LEADER_RANDOM, 0, &id),
			 KM_OK);
	usleep(200000);
	ck_assert_int_eq(km_fault_cancel(C, id), KM_OK);
	int32_t stopped = info(2).leader_epoch;
	ck_assert_int_gt(stopped, e2 + 2);
	usleep(100000);
	ck_assert_int_eq(info(2).leader_epoch, stopped);
}
END_TEST

/* Rules added and cancelled from several threads while a client is
 * served (for the thread sanitizer). */
static void *churn(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		km_fault_match m = match(KM_ANY, 18);
		m.probability = 0.3;
		km_fault_id id;
		ck_assert_int_eq(km_fault_delay(C, &m, 1, 1, &id), KM_OK);
		ck_assert_int_eq(km_fault_cancel(C, id), KM_OK);
		ck_assert_int_eq(km_fault_leader_move(C, "t", KM_ANY,
						      KM_LEADER_RANDOM),
				 KM_OK);
	}
	return NULL;
}

START_TEST(control_from_threads)
{
	uint64_t moved = counters(KM_ANY).leader_changes;
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn, NULL), 0);
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	for (int i = 0; i < 200; i++)
		api_versions(&cl);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	mc_close(&cl);
	ck_assert_uint_eq(counters(KM_ANY).leader_changes, moved + 4 * 200 * 3);
}
END_TEST

/* Every allocation of the fault calls failing in turn, before start (the
 * counting allocator is single-threaded): clean errors, nothing leaked. */
START_TEST(alloc_failures)
{
	for (unsigned long fail = 1;; fail++) {
		km_options o;
		km_options_init(&o);
		o.log_fn = mc_log_fn;
		km_cluster *c = NULL;
		th_alloc_fail_at(0); /* count only */
		ck_assert_int_eq(km_cluster_new(&c, 2, &o), KM_OK);
		ck_assert_int_eq(km_cluster_create_topic(c, "t", 2, NULL), KM_OK);
		long before = th_alloc_live();
		th_alloc_fail_at(fail);
		km_fault_match m = match(KM_ANY, KM_ANY);
		const int16_t codes[] = {6, 7};
		km_err e[4] = {
			km_fault_errors(c, &m, "t", 0, codes, 2, NULL),
			km_fault_delay(c, &m, 5, 0, NULL),
			km_fault_leader_schedule(c, "t", KM_ANY, 50, 0, 0, NULL),
			km_fault_broker_down(c, 1, true),
		};
		for (int i = 0; i < 4; i++)
			ck_assert(e[i] == KM_OK || e[i] == KM_ERR_NOMEM);
		unsigned long used = th_alloc_count();
		km_cluster_destroy(c);
		/* live counts from th_alloc_fail_at(fail): the cluster's own
		 * earlier allocations are freed too */
		ck_assert_int_eq(th_alloc_live(), -before);
		th_alloc_reset();
		if (used < fail)
			break;
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_faults");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 30);
	tcase_add_test(t, arguments);
	tcase_add_test(t, delay_per_broker);
	tcase_add_test(t, swallow_next_k);
	tcase_add_test(t, swallow_probability);
	tcase_add_test(t, close_and_throttle);
	tcase_add_test(t, error_queue_per_request);
	tcase_add_test(t, error_queue_per_partition);
	tcase_add_test(t, stall_broker);
	tcase_add_test(t, broker_down_and_up);
	tcase_add_test(t, drop_connections);
	tcase_add_test(t, drop_after_bytes);
	tcase_add_test(t, leader_move_now);
	tcase_add_test(t, leader_schedule);
	tcase_add_test(t, control_from_threads);
	suite_add_tcase(s, t);
	TCase *a = tcase_create("alloc");
	tcase_add_test(a, alloc_failures);
	suite_add_tcase(s, a);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
