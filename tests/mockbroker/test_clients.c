/*
 * Check suite for bad clients at scale (mockbroker/src/server.c, idle.c):
 * thousands of connections opened and dropped, slow-loris senders that
 * dribble a frame byte by byte, and the idle timeout (Kafka's
 * connections.max.idle.ms). Through all of them the cluster keeps
 * serving the other clients.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "kafkit/codec.h"
#include "mock_client.h"

enum { MANY = 2000 };

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static km_cluster *cluster(int brokers, uint32_t idle_ms)
{
	km_options o;
	km_options_init(&o);
	o.log_fn = mc_log_fn;
	o.idle_timeout_ms = idle_ms;
	mc_log_reset();
	return mc_cluster(brokers, &o);
}

static void api_versions_ok(mc_client *cl)
{
	kc_api_versions_request req;
	kc_api_versions_request_init(&req);
	kc_api_versions_response resp;
	mc_call(cl, 18, 1, &req, &resp);
	ck_assert_int_eq(resp.error_code, 0);
}

static uint64_t open_connections(km_cluster *c)
{
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(c, KM_ANY, &k), KM_OK);
	return k.connections_open;
}

/* Wait (up to 10 s) until the cluster counts `want` open connections. */
static void wait_open(km_cluster *c, uint64_t want)
{
	for (int i = 0; i < 1000 && open_connections(c) != want; i++)
		usleep(10000);
	ck_assert_uint_eq(open_connections(c), want);
}

/* The soft limit on descriptors raised to what MANY connections need on
 * both ends (this process holds the clients and the broker). */
static void raise_nofile(void)
{
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rlim_t want = 2 * MANY + 256;
	if (rl.rlim_cur < want) {
		ck_assert_msg(rl.rlim_max == RLIM_INFINITY ||
				      rl.rlim_max >= want,
			      "RLIMIT_NOFILE hard limit %llu < %llu",
			      (unsigned long long)rl.rlim_max,
			      (unsigned long long)want);
		rl.rlim_cur = want;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
}

/* 2000 connections over 3 brokers, every 50th sending a request, some
 * leaving a partial frame, all closed abruptly (some with a reset): the
 * cluster counts them, answers a bystander throughout, and ends with only
 * the bystander's connection. */
START_TEST(thousands_of_connections)
{
	raise_nofile();
	km_cluster *c = cluster(3, 0);
	mc_client by;
	mc_connect_broker(&by, c, 2);
	static mc_client cl[MANY];
	for (int i = 0; i < MANY; i++) {
		mc_connect_broker(&cl[i], c, 1 + i % 3);
		if (i % 50 == 0)
			api_versions_ok(&cl[i]);
		else if (i % 50 == 1)
			mc_send_raw(&cl[i], "\0\0\0\x40\0\x12", 6); /* partial */
		if (i % 500 == 0)
			api_versions_ok(&by);
	}
	wait_open(c, MANY + 1);
	api_versions_ok(&by);
	for (int i = 0; i < MANY; i++) {
		if (i % 7 == 0) {
			/* RST instead of FIN */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(cl[i].fd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof lg);
		}
		mc_close(&cl[i]);
	}
	wait_open(c, 1);
	api_versions_ok(&by);
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(c, KM_ANY, &k), KM_OK);
	ck_assert_uint_eq(k.connections_accepted, MANY + 1);
	ck_assert_uint_ge(k.requests, MANY / 50 + MANY / 500 + 2);
	/* and new connections are still accepted on every broker */
	for (int32_t b = 1; b <= 3; b++) {
		mc_client again;
		mc_connect_broker(&again, c, b);
		api_versions_ok(&again);
		mc_close(&again);
	}
	mc_close(&by);
	km_cluster_destroy(c);
}
END_TEST

/* An ApiVersions v1 request frame in w. */
static void api_versions_frame(kc_writer *w, int32_t corr)
{
	kc_api_versions_request req;
	kc_api_versions_request_init(&req);
	kc_writer_init(w);
	/* a long client id: about 90 bytes to dribble */
	ck_assert_int_eq(
		kc_request_frame_encode(w, 18, 1, corr,
					KC_STR_LIT("slow-loris-slow-loris-slow-"
						   "loris-slow-loris-slow-loris-"
						   "slow-loris-slow-loris"),
					&req),
		KC_OK);
}

typedef struct loris {
	km_cluster *c;
	int gap_ms;     /* between bytes */
	uint64_t took;  /* ms from the first byte to the answer */
	int served;     /* 1: the answer came */
} loris;

/* Dribble one request a byte at a time, then read its answer. */
static void *loris_thread(void *arg)
{
	loris *l = arg;
	mc_client cl;
	kc_writer w;
	mc_connect_broker(&cl, l->c, 1);
	/* each byte leaves at once, not held by Nagle for an ACK */
	int one = 1;
	ck_assert_int_eq(setsockopt(cl.fd, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof one),
			 0);
	api_versions_frame(&w, 7);
	const uint8_t *p = kc_writer_data(&w);
	uint64_t t0 = now_ms();
	for (size_t i = 0; i < w.len; i++) {
		mc_send_raw(&cl, p + i, 1);
		usleep((useconds_t)l->gap_ms * 1000);
	}
	l->served = mc_recv_frame(&cl, 10000) == 0 && cl.frame_len >= 4 &&
		    cl.frame[3] == 7; /* correlation id 7 */
	l->took = now_ms() - t0;
	kc_writer_free(&w);
	mc_close(&cl);
	return NULL;
}

/* Four slow-loris senders dribble their frames over about 3 s; another
 * client gets many answers meanwhile, and the dribblers are answered once
 * their frames are whole. The idle timeout (1 s) is shorter than the
 * dribble, and does not close them: every byte read is activity, as in
 * Kafka. */
START_TEST(slow_loris)
{
	km_cluster *c = cluster(1, 1000);
	loris l[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		l[i] = (loris){.c = c, .gap_ms = 30};
		ck_assert_int_eq(pthread_create(&th[i], NULL, loris_thread,
						&l[i]),
				 0);
	}
	usleep(100000);
	mc_client other;
	mc_connect_broker(&other, c, 1);
	int answered = 0;
	/* while the dribblers are still sending (about 90 bytes, 30 ms
	 * apart) */
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 1000;) {
		api_versions_ok(&other);
		answered++;
	}
	ck_assert_int_gt(answered, 10);
	mc_close(&other); /* it would fall idle while the dribblers finish */
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(l[i].served, "slow sender %d not answered", i);
		ck_assert_uint_ge(l[i].took, 2000);
	}
	ck_assert(!mc_log_has("idle for"));
	km_cluster_destroy(c);
}
END_TEST

/* A silent connection, and one that stopped in the middle of a frame, are
 * closed once idle for idle_timeout_ms, with a log line; closing them is
 * not counted as a failure; the cluster keeps serving. */
START_TEST(idle_connections_closed)
{
	km_cluster *c = cluster(2, 200);
	mc_client silent, partial, busy;
	mc_connect_broker(&silent, c, 1);
	api_versions_ok(&silent);
	mc_connect_broker(&partial, c, 2);
	mc_send_raw(&partial, "\0\0\0\x20\0\x12\0", 7);
	mc_connect_broker(&busy, c, 1);
	uint64_t t0 = now_ms();
	/* busy keeps talking, so it stays open past the timeout */
	while (now_ms() - t0 < 800) {
		api_versions_ok(&busy);
		usleep(20000);
	}
	ck_assert(mc_wait_closed(&silent, 5000));
	ck_assert(mc_wait_closed(&partial, 5000));
	ck_assert(mc_log_has("idle for"));
	api_versions_ok(&busy);
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(c, KM_ANY, &k), KM_OK);
	ck_assert_uint_eq(k.connections_failed, 0);
	ck_assert_uint_eq(k.connections_open, 1);
	mc_close(&silent);
	mc_close(&partial);
	mc_close(&busy);
	km_cluster_destroy(c);
}
END_TEST

/* idle_timeout_ms 0 never closes; the default is Kafka's 10 minutes. */
START_TEST(idle_timeout_off_and_default)
{
	km_options o;
	km_options_init(&o);
	ck_assert_uint_eq(o.idle_timeout_ms, 600000);
	km_cluster *c = cluster(1, 0);
	mc_client silent;
	mc_connect_broker(&silent, c, 1);
	api_versions_ok(&silent);
	ck_assert(!mc_wait_closed(&silent, 700));
	api_versions_ok(&silent);
	mc_close(&silent);
	km_cluster_destroy(c);
}
END_TEST

/* Every allocation of a cluster with the idle sweep failing in turn:
 * KM_ERR_NOMEM or a cluster, nothing leaked (no I/O thread: the counting
 * allocator is single-threaded). */
START_TEST(idle_sweep_malloc_failures)
{
	for (unsigned long fail = 1;; fail++) {
		th_alloc_fail_at(fail);
		km_options o;
		km_options_init(&o);
		o.log_fn = mc_log_fn;
		o.idle_timeout_ms = 50;
		km_cluster *c = NULL;
		km_err e = km_cluster_new(&c, 2, &o);
		ck_assert(e == KM_OK || e == KM_ERR_NOMEM);
		km_cluster_destroy(e == KM_OK ? c : NULL);
		unsigned long used = th_alloc_count();
		ck_assert_int_eq(th_alloc_live(), 0);
		th_alloc_reset();
		if (used < fail)
			break;
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_clients");
	TCase *t = tcase_create("core");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, thousands_of_connections);
	tcase_add_test(t, slow_loris);
	tcase_add_test(t, idle_connections_closed);
	tcase_add_test(t, idle_timeout_off_and_default);
	tcase_add_test(t, idle_sweep_malloc_failures);
	suite_add_tcase(s, t);
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
