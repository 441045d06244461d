/*
 * Check suite for the mock cluster's public API (mockbroker/src/mock.c,
 * cluster.c): options, lifecycle, listeners, topics, leaders, inspection,
 * counters, control calls from many threads, allocation failures.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "mock_client.h"

START_TEST(options_defaults)
{
	km_options o;
	memset(&o, 0x5a, sizeof o);
	km_options_init(&o);
	ck_assert(o.auto_create_topics);
	ck_assert_int_eq(o.default_partitions, 1);
	ck_assert_int_eq(o.replication_factor, 0);
	ck_assert_int_eq(o.max_message_bytes, 1048588);
	ck_assert_uint_eq(o.max_frame, 0);
	ck_assert_uint_eq(o.retention_bytes, 0);
	ck_assert_ptr_null(o.ports);
	ck_assert(o.log_fn == NULL);
	ck_assert(o.request_fn == NULL);
	ck_assert_str_eq(km_err_name(KM_ERR_EXISTS), "KM_ERR_EXISTS");
	ck_assert_str_eq(km_err_name((km_err)12345), "KM_ERR_?");
}
END_TEST

START_TEST(new_rejects_bad_arguments)
{
	km_cluster *c = (km_cluster *)0x1;
	ck_assert_int_eq(km_cluster_new(NULL, 1, NULL), KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_cluster_new(&c, 0, NULL), KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_cluster_new(&c, 1025, NULL), KM_ERR_INVALID_ARG);
	km_options o;
	km_options_init(&o);
	o.default_partitions = -1;
	ck_assert_int_eq(km_cluster_new(&c, 1, &o), KM_ERR_INVALID_ARG);
	km_options_init(&o);
	o.replication_factor = -2;
	ck_assert_int_eq(km_cluster_new(&c, 1, &o), KM_ERR_INVALID_ARG);
	ck_assert_ptr_eq(c, (km_cluster *)0x1);
	km_cluster_destroy(NULL);
}
END_TEST

START_TEST(bootstraps_and_ports)
{
	km_cluster *c;
	ck_assert_int_eq(km_cluster_new(&c, 3, NULL), KM_OK);
	char want[128];
	snprintf(want, sizeof want, "127.0.0.1:%u,127.0.0.1:%u,127.0.0.1:%u",
		 km_cluster_broker_port(c, 1), km_cluster_broker_port(c, 2),
		 km_cluster_broker_port(c, 3));
	ck_assert_str_eq(km_cluster_bootstraps(c), want);
	ck_assert_uint_ne(km_cluster_broker_port(c, 1),
			  km_cluster_broker_port(c, 2));
	ck_assert_uint_eq(km_cluster_broker_port(c, 0), 0);
	ck_assert_uint_eq(km_cluster_broker_port(c, 4), 0);
	/* listening before start: a client connects and is served once the
	 * thread runs */
	mc_client cl;
	mc_connect_broker(&cl, c, 2);
	ck_assert_int_eq(km_cluster_start(c), KM_OK);
	ck_assert_int_eq(km_cluster_start(c), KM_ERR_STATE);
	kc_api_versions_request req;
	kc_api_versions_request_init(&req);
	kc_api_versions_response resp;
	mc_call(&cl, 18, 2, &req, &resp);
	ck_assert_int_eq(resp.error_code, 0);
	mc_close(&cl);
	km_cluster_destroy(c);
}
END_TEST

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

START_TEST(fixed_ports)
{
	uint16_t ports[2] = {free_port(), 0};
	km_options o;
	km_options_init(&o);
	o.ports = ports;
	o.log_fn = mc_log_fn;
	km_cluster *c;
	ck_assert_int_eq(km_cluster_new(&c, 2, &o), KM_OK);
	ports[0] = 1; /* copied: later changes do not matter */
	ck_assert_uint_ne(km_cluster_broker_port(c, 1), 1);
	uint16_t taken = km_cluster_broker_port(c, 1);
	ck_assert_uint_ne(km_cluster_broker_port(c, 2), 0);
	/* a port in use fails the new cluster, with a log line */
	ports[0] = taken;
	km_cluster *c2 = NULL;
	mc_log_reset();
	ck_assert_int_eq(km_cluster_new(&c2, 2, &o), KM_ERR_IO);
	ck_assert_ptr_null(c2);
	ck_assert(mc_log_has("cannot listen"));
	km_cluster_destroy(c);
}
END_TEST

START_TEST(topics)
{
	km_cluster *c;
	ck_assert_int_eq(km_cluster_new(&c, 3, NULL), KM_OK);
	const char *bad[] = {"", ".", "..", "a b", "t/1", "\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_int_eq(km_cluster_create_topic(c, bad[i], 1, NULL),
				 KM_ERR_INVALID_ARG);
	char longname[251];
	memset(longname, 'x', 250);
	longname[250] = '\0';
	ck_assert_int_eq(km_cluster_create_topic(c, longname, 1, NULL),
			 KM_ERR_INVALID_ARG);
	longname[249] = '\0';
	ck_assert_int_eq(km_cluster_create_topic(c, longname, 1, NULL), KM_OK);
	ck_assert_int_eq(km_cluster_create_topic(c, "t", 0, NULL),
			 KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_cluster_create_topic(c, "t", 100001, NULL),
			 KM_ERR_INVALID_ARG);
	ck_assert_int_eq(km_cluster_create_topic(c, "a.b_c-D9", 5, NULL), KM_OK);
	ck_assert_int_eq(km_cluster_create_topic(c, "a.b_c-D9", 5, NULL),
			 KM_ERR_EXISTS);
	ck_assert_int_eq(km_cluster_start(c), KM_OK);
	ck_assert_int_eq(km_cluster_create_topic(c, "after", 2, NULL), KM_OK);
	ck_assert_int_eq(km_cluster_create_topic(c, "after", 2, NULL),
			 KM_ERR_EXISTS);
	/* leaders spread round robin */
	km_partition_info pi;
	int32_t leaders[5];
	for (int32_t p = 0; p < 5; p++) {
		ck_assert_int_eq(km_cluster_partition_info(c, "a.b_c-D9", p, &pi),
				 KM_OK);
		leaders[p] = pi.leader;
		ck_assert_int_eq(pi.leader_epoch, 0);
		ck_assert_int_eq(pi.high_watermark, 0);
		ck_assert_int_eq(pi.log_start_offset, 0);
		ck_assert_uint_eq(pi.batches, 0);
	}
	for (int32_t p = 0; p < 4; p++)
		ck_assert_int_eq(leaders[p + 1] % 3, (leaders[p] % 3 + 1) % 3);
	ck_assert_int_eq(km_cluster_partition_info(c, "a.b_c-D9", 5, &pi),
			 KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_cluster_partition_info(c, "nope", 0, &pi),
			 KM_ERR_NOT_FOUND);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(set_leader)
{
	km_cluster *c = mc_cluster(3, NULL);
	ck_assert_int_eq(km_cluster_create_topic(c, "t", 2, NULL), KM_OK);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(c, "t", 1, &pi), KM_OK);
	int32_t next = pi.leader % 3 + 1;
	ck_assert_int_eq(km_cluster_set_leader(c, "t", 1, next), KM_OK);
	ck_assert_int_eq(km_cluster_partition_info(c, "t", 1, &pi), KM_OK);
	ck_assert_int_eq(pi.leader, next);
	ck_assert_int_eq(pi.leader_epoch, 1);
	ck_assert_int_eq(km_cluster_set_leader(c, "t", 1, next), KM_OK);
	ck_assert_int_eq(km_cluster_partition_info(c, "t", 1, &pi), KM_OK);
	ck_assert_int_eq(pi.leader_epoch, 2);
	ck_assert_int_eq(km_cluster_set_leader(c, "t", 1, 4), KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_cluster_set_leader(c, "t", 2, 1), KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_cluster_set_leader(c, "u", 0, 1), KM_ERR_NOT_FOUND);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(counters)
{
	km_cluster *c = mc_cluster(2, NULL);
	ck_assert_int_eq(km_cluster_create_topic(c, "t", 1, NULL), KM_OK);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(c, "t", 0, &pi), KM_OK);
	mc_client cl;
	mc_connect_broker(&cl, c, pi.leader);
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 4, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&cl, 7, 1, "t", 0, b, n, NULL), 0);
	ck_assert_int_eq(mc_produce(&cl, 7, 1, "u", 0, b, n, NULL), 3);
	free(b);
	km_counters k, all, other;
	ck_assert_int_eq(km_cluster_counters(c, pi.leader, &k), KM_OK);
	ck_assert_uint_eq(k.connections_accepted, 1);
	ck_assert_uint_eq(k.connections_open, 1);
	ck_assert_uint_eq(k.requests, 2);
	ck_assert_uint_eq(k.requests_by_api[0], 2);
	ck_assert_uint_eq(k.batches_appended, 1);
	ck_assert_uint_eq(k.records_appended, 4);
	ck_assert_uint_eq(k.error_responses, 1);
	ck_assert_uint_gt(k.bytes_in, 2 * n);
	ck_assert_uint_gt(k.bytes_out, 0);
	ck_assert_int_eq(km_cluster_counters(c, 3 - pi.leader, &other), KM_OK);
	ck_assert_uint_eq(other.requests, 0);
	ck_assert_int_eq(km_cluster_counters(c, -1, &all), KM_OK);
	ck_assert_uint_eq(all.requests, 2);
	ck_assert_int_eq(km_cluster_counters(c, 9, &all), KM_ERR_NOT_FOUND);
	mc_close(&cl);
	km_cluster_destroy(c);
}
END_TEST

/* Control calls from several threads at once while clients are served:
 * each runs on the I/O thread (a TSan build checks the hand-offs). */
static void *hammer(void *arg)
{
	km_cluster *c = arg;
	char name[32];
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof name, "t-%p-%d", (void *)&name, i);
		ck_assert_int_eq(km_cluster_create_topic(c, name, 2, NULL),
				 KM_OK);
		km_partition_info pi;
		ck_assert_int_eq(km_cluster_partition_info(c, name, 1, &pi),
				 KM_OK);
		ck_assert_int_eq(km_cluster_set_leader(c, name, 0, 1), KM_OK);
		km_counters k;
		ck_assert_int_eq(km_cluster_counters(c, -1, &k), KM_OK);
	}
	return NULL;
}

START_TEST(control_from_threads)
{
	km_cluster *c = mc_cluster(2, NULL);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, c), 0);
	mc_client cl;
	mc_connect_broker(&cl, c, 1);
	for (int i = 0; i < 50; i++) {
		kc_metadata_request req;
		kc_metadata_request_init(&req);
		req.topics_count = -1;
		kc_metadata_response resp;
		mc_call(&cl, 3, 9, &req, &resp);
		ck_assert_int_eq(resp.brokers_count, 2);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	req.topics_count = -1;
	kc_metadata_response resp;
	mc_call(&cl, 3, 9, &req, &resp);
	ck_assert_int_eq(resp.topics_count, 200);
	mc_close(&cl);
	km_cluster_destroy(c);
}
END_TEST

static int count_rec(void *opaque, const km_record *r)
{
	(void)r;
	++*(int *)opaque;
	return 0;
}

START_TEST(partition_log_errors)
{
	km_cluster *c = mc_cluster(1, NULL);
	int n = 0;
	ck_assert_int_eq(km_cluster_partition_log(c, "x", 0, count_rec, &n),
			 KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_cluster_create_topic(c, "x", 1, NULL), KM_OK);
	ck_assert_int_eq(km_cluster_partition_log(c, "x", 0, count_rec, &n),
			 KM_OK);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(km_cluster_partition_log(c, "x", 0, NULL, &n),
			 KM_ERR_INVALID_ARG);
	km_cluster_destroy(c);
}
END_TEST

/* Every allocation of new, create_topic and destroy failing in turn:
 * clean errors, nothing leaked (no I/O thread: the counting allocator is
 * single-threaded). */
START_TEST(alloc_failures)
{
	for (unsigned long fail = 1;; fail++) {
		th_alloc_fail_at(fail);
		km_options o;
		km_options_init(&o);
		o.log_fn = mc_log_fn;
		km_cluster *c = NULL;
		km_err e = km_cluster_new(&c, 3, &o);
		ck_assert(e == KM_OK || e == KM_ERR_NOMEM);
		if (e == KM_OK) {
			e = km_cluster_create_topic(c, "t", 8, NULL);
			ck_assert(e == KM_OK || e == KM_ERR_NOMEM);
			km_cluster_destroy(c);
		}
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
	Suite *s = suite_create("mock_cluster");
	TCase *t = tcase_create("core");
	tcase_add_test(t, options_defaults);
	tcase_add_test(t, new_rejects_bad_arguments);
	tcase_add_test(t, bootstraps_and_ports);
	tcase_add_test(t, fixed_ports);
	tcase_add_test(t, topics);
	tcase_add_test(t, set_leader);
	tcase_add_test(t, counters);
	tcase_add_test(t, control_from_threads);
	tcase_add_test(t, partition_log_errors);
	tcase_add_test(t, alloc_failures);
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
