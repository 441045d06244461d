/*
 * Check suite for the mock broker's request dispatch
 * (mockbroker/src/server.c): bad clients (garbage, oversized, short and
 * truncated frames, undecodable requests, unknown apis and versions,
 * resets) are logged and closed while other connections go on; pipelined
 * requests are answered in order; the request log and counters; the
 * fault-injection decision point (delay, swallow, close, forced errors,
 * throttle).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "helpers.h"
#include "kafkit/codec.h"
#include "mock_client.h"
#include "server.h"

#define MAX_FRAME 65536

static km_cluster *C;
static mc_client CL;

/* ---- request log ---------------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static km_request_info logged[256];
static char logged_client[256][16];
static int nlogged;

static void on_request(void *opaque, const km_request_info *info)
{
	(void)opaque;
	pthread_mutex_lock(&mu);
	if (nlogged < 256) {
		logged[nlogged] = *info;
		snprintf(logged_client[nlogged], 16, "%.*s",
			 info->client_id.len > 0 ? info->client_id.len : 0,
			 info->client_id.ptr);
		logged[nlogged].client_id = KC_STR_NULL;
		logged[nlogged].peer = NULL;
		nlogged++;
	}
	pthread_mutex_unlock(&mu);
}

/* ---- decision point --------------------------------------------------------- */

static km__decision next_decision;
static int decide_api = -1; /* apply next_decision to this api key only */
static int ndecided;

static void decide(void *opaque, const km__req *rq, km__decision *d)
{
	(void)opaque;
	pthread_mutex_lock(&mu);
	if (rq->api_key == decide_api) {
		*d = next_decision;
		ndecided++;
	}
	pthread_mutex_unlock(&mu);
}

static void set_decision(int api, km__decision d)
{
	pthread_mutex_lock(&mu);
	decide_api = api;
	next_decision = d;
	pthread_mutex_unlock(&mu);
}

static void setup(void)
{
	nlogged = 0;
	ndecided = 0;
	decide_api = -1;
	km_options o;
	km_options_init(&o);
	o.max_frame = MAX_FRAME;
	o.log_fn = mc_log_fn;
	o.request_fn = on_request;
	mc_log_reset();
	ck_assert_int_eq(km_cluster_new(&C, 1, &o), KM_OK);
	km__server_set_pre_handler(C, decide, NULL);
	ck_assert_int_eq(km_cluster_create_topic(C, "t", 1, NULL), KM_OK);
	ck_assert_int_eq(km_cluster_start(C), KM_OK);
	mc_connect_broker(&CL, C, 1);
}

static void teardown(void)
{
	mc_close(&CL);
	km_cluster_destroy(C);
}

static void api_versions_ok(mc_client *cl)
{
	kc_api_versions_request req;
	kc_api_versions_request_init(&req);
	kc_api_versions_response resp;
	mc_call(cl, 18, 1, &req, &resp);
	ck_assert_int_eq(resp.error_code, 0);
}

/* The connection is closed with a log line holding `why`, counted, and
 * another client is still served. */
static void closed_for(mc_client *bad, const char *why)
{
	ck_assert_msg(mc_wait_closed(bad, 5000), "not closed (%s)", why);
	for (int i = 0; i < 200 && !mc_log_has(why); i++)
		usleep(10000);
	ck_assert_msg(mc_log_has(why), "no log line with '%s'", why);
	mc_client ok;
	mc_connect_broker(&ok, C, 1);
	api_versions_ok(&ok);
	mc_close(&ok);
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(C, 1, &k), KM_OK);
	ck_assert_uint_ge(k.connections_failed, 1);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

START_TEST(garbage)
{
	/* bytes from a TLS ClientHello: a Size of 0x16030100 */
	static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01};
	mc_send_raw(&CL, hello, sizeof hello);
	closed_for(&CL, "exceeds the maximum");
}
END_TEST

START_TEST(negative_size)
{
	static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xf0, 1, 2, 3};
	mc_send_raw(&CL, neg, sizeof neg);
	closed_for(&CL, "negative");
}
END_TEST

START_TEST(oversized_frame)
{
	uint8_t hdr[4];
	put_be32(hdr, MAX_FRAME + 1);
	mc_send_raw(&CL, hdr, 4);
	closed_for(&CL, "exceeds the maximum 65536");
	/* exactly the maximum is read (then refused as a bad request) */
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	uint8_t *big = calloc(1, 4 + MAX_FRAME);
	put_be32(big, MAX_FRAME);
	big[5] = 1; /* Fetch v0 with a body of zeros and junk */
	memset(big + 12, 0x7f, MAX_FRAME - 8);
	mc_send_raw(&cl, big, 4 + MAX_FRAME);
	closed_for(&cl, "cannot decode");
	mc_close(&cl);
	free(big);
}
END_TEST

START_TEST(short_frame)
{
	static const uint8_t f[] = {0, 0, 0, 3, 0, 3, 0};
	mc_send_raw(&CL, f, sizeof f);
	closed_for(&CL, "shorter than a request header");
}
END_TEST

START_TEST(undecodable_request)
{
	/* Metadata v1 whose topic array claims 1000 entries */
	static const uint8_t f[] = {0, 0, 0, 18, 0, 3, 0, 1, 0, 0, 0, 9,
				    0, 4, 'e', 'v', 'i', 'l', 0, 0, 3, 0xe8};
	mc_send_raw(&CL, f, sizeof f);
	closed_for(&CL, "client id 'evil': cannot decode it: "
			"MetadataRequest.topics");
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(C, 1, &k), KM_OK);
	ck_assert_uint_eq(k.requests_rejected, 1);
}
END_TEST

START_TEST(unknown_api_and_version)
{
	static const uint8_t join[] = {0, 0, 0, 10, 0, 11, 0, 5, 0, 0, 0, 1, 0xff, 0xff};
	mc_send_raw(&CL, join, sizeof join);
	closed_for(&CL, "unknown api (key 11) v5 request");
	mc_client cl;
	mc_connect_broker(&cl, C, 1);
	static const uint8_t wild[] = {0, 0, 0, 10, 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff};
	mc_send_raw(&cl, wild, sizeof wild);
	closed_for(&cl, "api key not served");
	mc_close(&cl);
	mc_connect_broker(&cl, C, 1);
	static const uint8_t v99[] = {0, 0, 0, 10, 0, 0, 0, 99, 0, 0, 0, 1, 0xff, 0xff};
	mc_send_raw(&cl, v99, sizeof v99);
	closed_for(&cl, "Produce (key 0) v99 request");
	mc_close(&cl);
}
END_TEST

START_TEST(truncated_and_reset)
{
	/* half a frame, then the client goes away */
	uint8_t part[54] = {0};
	put_be32(part, 100);
	mc_send_raw(&CL, part, sizeof part);
	mc_close(&CL);
	/* a reset (SO_LINGER 0) with a request in flight */
	mc_client r;
	mc_connect_broker(&r, C, 1);
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	mc_send(&r, 3, 1, &req);
	struct linger lg = {1, 0};
	setsockopt(r.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	mc_close(&r);
	mc_client ok;
	mc_connect_broker(&ok, C, 1);
	api_versions_ok(&ok);
	km_counters k;
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(km_cluster_counters(C, 1, &k), KM_OK);
		if (k.connections_open == 1)
			break;
		usleep(10000);
	}
	ck_assert_uint_eq(k.connections_open, 1);
	ck_assert_uint_eq(k.connections_accepted, 3);
	mc_close(&ok);
	mc_connect_broker(&CL, C, 1);
}
END_TEST

START_TEST(pipelined_in_order)
{
	kc_writer w;
	kc_writer_init(&w);
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 1, 1, -1, -1, -1, &n);
	int16_t apis[60];
	for (int i = 0; i < 60; i++) {
		int32_t corr = 1000 + i;
		kc_metadata_request mreq;
		kc_metadata_request_init(&mreq);
		kc_api_versions_request areq;
		kc_api_versions_request_init(&areq);
		kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(b, n)};
		kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), &pd, 1};
		kc_produce_request preq;
		kc_produce_request_init(&preq);
		preq.acks = 1;
		preq.topic_data = &td;
		preq.topic_data_count = 1;
		apis[i] = i % 3 == 0 ? 3 : i % 3 == 1 ? 18 : 0;
		const void *body = apis[i] == 3 ? (const void *)&mreq
				   : apis[i] == 18 ? (const void *)&areq
						   : (const void *)&preq;
		ck_assert_int_eq(kc_request_frame_encode(&w, apis[i],
							 apis[i] == 0 ? 9 : 2,
							 corr, KC_STR_LIT("p"),
							 body),
				 KC_OK);
	}
	mc_send_raw(&CL, kc_writer_data(&w), w.len);
	kc_writer_free(&w);
	for (int i = 0; i < 60; i++) {
		ck_assert_int_eq(mc_recv_frame(&CL, 5000), 0);
		int32_t corr = (int32_t)((uint32_t)CL.frame[0] << 24 |
					 (uint32_t)CL.frame[1] << 16 |
					 (uint32_t)CL.frame[2] << 8 | CL.frame[3]);
		ck_assert_int_eq(corr, 1000 + i);
	}
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "t", 0, &pi), KM_OK);
	ck_assert_int_eq(pi.high_watermark, 20);
	free(b);
}
END_TEST

static void *client_thread(void *arg)
{
	km_cluster *c = arg;
	for (int i = 0; i < 5; i++) {
		mc_client cl;
		mc_connect_broker(&cl, c, 1);
		size_t n;
		uint8_t *b = mc_batch(2, KC_CODEC_LZ4, 0, 10, 1, -1, -1, -1, &n);
		ck_assert_int_eq(mc_produce(&cl, 9, -1, "t", 0, b, n, NULL), 0);
		free(b);
		api_versions_ok(&cl);
		mc_close(&cl);
	}
	return NULL;
}

START_TEST(many_clients_at_once)
{
	pthread_t th[16];
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, client_thread, C), 0);
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "t", 0, &pi), KM_OK);
	ck_assert_int_eq(pi.high_watermark, 16 * 5 * 10);
	char *d = mc_dump(C, "t", 0);
	ck_assert_ptr_nonnull(strstr(d, "799:k9=v9\n"));
	free(d);
}
END_TEST

static int logged_count(void)
{
	pthread_mutex_lock(&mu);
	int n = nlogged;
	pthread_mutex_unlock(&mu);
	return n;
}

START_TEST(request_log)
{
	api_versions_ok(&CL);
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 1, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&CL, 9, 1, "nope", 0, b, n, NULL), 3);
	/* acks=0: logged with no response */
	kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(b, n)};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), &pd, 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = 0;
	req.topic_data = &td;
	req.topic_data_count = 1;
	int32_t corr = mc_send(&CL, 0, 5, &req);
	api_versions_ok(&CL);
	ck_assert_int_eq(logged_count(), 4);
	pthread_mutex_lock(&mu);
	ck_assert_int_eq(logged[0].broker_id, 1);
	ck_assert_int_eq(logged[0].api_key, 18);
	ck_assert_int_eq(logged[0].api_version, 1);
	ck_assert_int_eq(logged[0].correlation_id, 1);
	ck_assert_str_eq(logged_client[0], "mock-test");
	ck_assert_uint_eq(logged[0].request_size, 4 + 8 + 2 + 9);
	ck_assert_uint_gt(logged[0].response_size, 8);
	ck_assert_int_eq(logged[0].error_code, 0);
	ck_assert_int_eq(logged[1].api_key, 0);
	ck_assert_int_eq(logged[1].api_version, 9);
	ck_assert_int_eq(logged[1].error_code, 3);
	ck_assert_int_eq(logged[2].correlation_id, corr);
	ck_assert_uint_eq(logged[2].response_size, 0);
	pthread_mutex_unlock(&mu);
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(C, 1, &k), KM_OK);
	ck_assert_uint_eq(k.requests, 4);
	ck_assert_uint_eq(k.error_responses, 1);
	ck_assert_uint_eq(k.requests_by_api[18], 2);
	free(b);
}
END_TEST

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(decision_delay_keeps_order)
{
	set_decision(3, (km__decision){.delay_ms = 400});
	kc_metadata_request mreq;
	kc_metadata_request_init(&mreq);
	kc_api_versions_request areq;
	kc_api_versions_request_init(&areq);
	int64_t t0 = now_ms();
	int32_t c1 = mc_send(&CL, 3, 1, &mreq);
	int32_t c2 = mc_send(&CL, 18, 1, &areq);
	kc_metadata_response mresp;
	mc_recv(&CL, 3, 1, c1, &mresp);
	ck_assert_int_ge(now_ms() - t0, 390);
	kc_api_versions_response aresp;
	mc_recv(&CL, 18, 1, c2, &aresp);
	pthread_mutex_lock(&mu);
	ck_assert_int_eq(ndecided, 1);
	pthread_mutex_unlock(&mu);
}
END_TEST

START_TEST(decision_swallow)
{
	set_decision(0, (km__decision){.swallow = true});
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 2, 1, -1, -1, -1, &n);
	kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(b, n)};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), &pd, 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = -1;
	req.topic_data = &td;
	req.topic_data_count = 1;
	mc_send(&CL, 0, 9, &req);
	/* applied, never answered: the next answer is the next request's */
	api_versions_ok(&CL);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "t", 0, &pi), KM_OK);
	ck_assert_int_eq(pi.high_watermark, 2);
	free(b);
}
END_TEST

START_TEST(decision_close)
{
	set_decision(0, (km__decision){.close = true});
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 2, 1, -1, -1, -1, &n);
	kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(b, n)};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), &pd, 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = 1;
	req.topic_data = &td;
	req.topic_data_count = 1;
	mc_send(&CL, 0, 9, &req);
	ck_assert(mc_wait_closed(&CL, 5000));
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "t", 0, &pi), KM_OK);
	ck_assert_int_eq(pi.high_watermark, 0);
	free(b);
}
END_TEST

START_TEST(decision_forced_error_and_throttle)
{
	set_decision(0, (km__decision){.error_code = 6, .throttle_ms = 250});
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 2, 1, -1, -1, -1, &n);
	kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(b, n)};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), &pd, 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = 1;
	req.topic_data = &td;
	req.topic_data_count = 1;
	kc_produce_response resp;
	mc_call(&CL, 0, 9, &req, &resp);
	ck_assert_int_eq(resp.responses[0].partition_responses[0].error_code, 6);
	ck_assert_int_eq(resp.throttle_time_ms, 250);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "t", 0, &pi), KM_OK);
	ck_assert_int_eq(pi.high_watermark, 0);
	/* every api answers a forced error somewhere */
	const int16_t apis[] = {1, 2, 3, 10, 18, 22};
	for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++) {
		set_decision(apis[i], (km__decision){.error_code = 15});
		int before = logged_count();
		const kc_api *api = kc_api_find(apis[i]);
		int16_t v = api->max_version;
		void *body = calloc(1, api->request->struct_size);
		api->request->init(body);
		if (apis[i] == 1) {
			kc_fetch_request *f = body;
			static kc_fetch_request_fetch_partition fp;
			kc_fetch_request_fetch_partition_init(&fp);
			static kc_fetch_request_fetch_topic ft;
			kc_fetch_request_fetch_topic_init(&ft);
			ft.partitions = &fp;
			ft.partitions_count = 1;
			f->topics = &ft;
			f->topics_count = 1;
		} else if (apis[i] == 2) {
			kc_list_offsets_request *l = body;
			static kc_list_offsets_request_list_offsets_partition lp;
			kc_list_offsets_request_list_offsets_partition_init(&lp);
			static kc_list_offsets_request_list_offsets_topic lt;
			lt.name = KC_STR_LIT("t");
			lt.partitions = &lp;
			lt.partitions_count = 1;
			l->topics = &lt;
			l->topics_count = 1;
		} else if (apis[i] == 10) {
			kc_find_coordinator_request *fc = body;
			static kc_str key;
			key = KC_STR_LIT("g");
			fc->coordinator_keys = &key;
			fc->coordinator_keys_count = 1;
		} else if (apis[i] == 18) {
			kc_api_versions_request *a = body;
			a->client_software_name = KC_STR_LIT("x");
			a->client_software_version = KC_STR_LIT("1");
		} else if (apis[i] == 3) {
			kc_metadata_request *m = body;
			m->topics_count = -1;
		}
		mc_send(&CL, apis[i], v, body);
		ck_assert_int_eq(mc_recv_frame(&CL, 5000), 0);
		for (int j = 0; j < 100 && logged_count() == before; j++)
			usleep(1000);
		pthread_mutex_lock(&mu);
		ck_assert_msg(logged[nlogged - 1].error_code == 15,
			      "api %d: error %d", apis[i],
			      logged[nlogged - 1].error_code);
		pthread_mutex_unlock(&mu);
		free(body);
	}
	free(b);
}
END_TEST

/* ---- allocation failures while serving ------------------------------------ */

/* One request of every api, pipelined. */
static void every_api(kc_writer *w, const uint8_t *batch, size_t n)
{
	kc_api_versions_request av;
	kc_api_versions_request_init(&av);
	av.client_software_name = KC_STR_LIT("t");
	av.client_software_version = KC_STR_LIT("1");
	kc_metadata_request_metadata_request_topic mt;
	kc_metadata_request_metadata_request_topic_init(&mt);
	mt.name = KC_STR_LIT("auto");
	kc_metadata_request md;
	kc_metadata_request_init(&md);
	md.topics = &mt;
	md.topics_count = 1;
	kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(batch, n)};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), &pd, 1};
	kc_produce_request pr;
	kc_produce_request_init(&pr);
	pr.acks = 1;
	pr.topic_data = &td;
	pr.topic_data_count = 1;
	kc_fetch_request_fetch_partition fp;
	kc_fetch_request_fetch_partition_init(&fp);
	fp.partition_max_bytes = 1 << 20;
	kc_fetch_request_fetch_topic ft;
	kc_fetch_request_fetch_topic_init(&ft);
	ft.topic = KC_STR_LIT("t");
	ft.partitions = &fp;
	ft.partitions_count = 1;
	kc_fetch_request fr;
	kc_fetch_request_init(&fr);
	fr.topics = &ft;
	fr.topics_count = 1;
	kc_list_offsets_request_list_offsets_partition lp;
	kc_list_offsets_request_list_offsets_partition_init(&lp);
	lp.timestamp = 1;
	kc_list_offsets_request_list_offsets_topic lt = {KC_STR_LIT("t"), &lp, 1};
	kc_list_offsets_request lr;
	kc_list_offsets_request_init(&lr);
	lr.topics = &lt;
	lr.topics_count = 1;
	kc_init_producer_id_request ip;
	kc_init_producer_id_request_init(&ip);
	kc_find_coordinator_request fc;
	kc_find_coordinator_request_init(&fc);
	fc.key = KC_STR_LIT("g");
	const struct {
		int16_t key, v;
		const void *body;
	} reqs[] = {{18, 3, &av}, {3, 9, &md}, {0, 9, &pr}, {1, 11, &fr},
		    {2, 7, &lr},  {22, 4, &ip}, {10, 3, &fc}};
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(kc_request_frame_encode(w, reqs[i].key, reqs[i].v,
							 i, KC_STR_LIT("a"),
							 reqs[i].body),
				 KC_OK);
}

/* Turn the cluster's loop from this thread until the client got `want`
 * response frames (returns 1) or the connection closed (returns 0). */
static int drive(km_cluster *c, mc_client *cl, int want)
{
	uint8_t buf[65536];
	size_t have = 0;
	int frames = 0;
	for (int i = 0; i < 5000; i++) {
		ck_assert_int_eq(kn__loop_run_once(c->loop, 1), 0);
		struct pollfd pf = {.fd = cl->fd, .events = POLLIN};
		if (poll(&pf, 1, 0) <= 0)
			continue;
		ssize_t r = recv(cl->fd, buf + have, sizeof buf - have, 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 0;
		ck_assert_int_gt(r, 0);
		have += (size_t)r;
		for (;;) {
			if (have < 4)
				break;
			size_t len = 4 + ((size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
					  (size_t)buf[2] << 8 | buf[3]);
			ck_assert_uint_le(len, sizeof buf);
			if (have < len)
				break;
			memmove(buf, buf + len, have - len);
			have -= len;
			if (++frames == want)
				return 1;
		}
	}
	ck_abort_msg("neither answered nor closed");
	return 0;
}

START_TEST(alloc_failures_while_serving)
{
	size_t n;
	uint8_t *batch = mc_batch(2, KC_CODEC_GZIP, 0, 5, 1, -1, -1, -1, &n);
	kc_writer w;
	kc_writer_init(&w);
	every_api(&w, batch, n);
	uint8_t *reqs = malloc(w.len);
	size_t reqs_len = w.len;
	memcpy(reqs, kc_writer_data(&w), w.len);
	kc_writer_free(&w);
	int answered = 0;
	unsigned long fail;
	for (fail = 1;; fail++) {
		th_alloc_fail_at(fail);
		km_options o;
		km_options_init(&o);
		o.log_fn = mc_log_fn;
		km_cluster *c = NULL;
		km_err e = km_cluster_new(&c, 1, &o);
		if (e == KM_OK &&
		    km_cluster_create_topic(c, "t", 1, NULL) == KM_OK) {
			mc_client cl;
			mc_connect_broker(&cl, c, 1);
			mc_send_raw(&cl, reqs, reqs_len);
			answered += drive(c, &cl, 7);
			mc_close(&cl);
		}
		km_cluster_destroy(c);
		unsigned long used = th_alloc_count();
		ck_assert_msg(th_alloc_live() == 0, "fail at %lu: %ld leaked",
			      fail, th_alloc_live());
		th_alloc_reset();
		if (used < fail)
			break;
	}
	/* the last round failed nothing and answered everything; serving
	 * took dozens of allocations, each failed once */
	ck_assert_int_gt(answered, 0);
	ck_assert_uint_gt(fail, 25);
	free(reqs);
	free(batch);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_server");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, garbage);
	tcase_add_test(t, negative_size);
	tcase_add_test(t, oversized_frame);
	tcase_add_test(t, short_frame);
	tcase_add_test(t, undecodable_request);
	tcase_add_test(t, unknown_api_and_version);
	tcase_add_test(t, truncated_and_reset);
	tcase_add_test(t, pipelined_in_order);
	tcase_add_test(t, many_clients_at_once);
	tcase_add_test(t, request_log);
	tcase_add_test(t, decision_delay_keeps_order);
	tcase_add_test(t, decision_swallow);
	tcase_add_test(t, decision_close);
	tcase_add_test(t, decision_forced_error_and_throttle);
	suite_add_tcase(s, t);
	TCase *a = tcase_create("alloc");
	tcase_set_timeout(a, 300);
	tcase_add_test(a, alloc_failures_while_serving);
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
