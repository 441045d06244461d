/* librdkafka producer helpers for the mock suites. */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>

#include "rdk_client.h"

static atomic_int delivered, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
			void *opaque)
{
	(void)rk;
	(void)opaque;
	atomic_fetch_add(m->err ? &failed : &delivered, 1);
}

void rdk_reset(void)
{
	atomic_store(&delivered, 0);
	atomic_store(&failed, 0);
}

int rdk_delivered(void)
{
	return atomic_load(&delivered);
}

int rdk_failed(void)
{
	return atomic_load(&failed);
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[256];
	ck_assert_msg(rd_kafka_conf_set(conf, k, v, err, sizeof err) ==
			      RD_KAFKA_CONF_OK,
		      "%s: %s", k, err);
}

rd_kafka_t *rdk_producer(km_cluster *c, const char *const (*kv)[2], size_t n)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", km_cluster_bootstraps(c));
	for (size_t i = 0; i < n; i++)
		set(conf, kv[i][0], kv[i][1]);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	ck_assert_msg(rk != NULL, "rd_kafka_new: %s", err);
	return rk;
}

void rdk_produce(rd_kafka_t *rk, const rdk_load *l)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, l->topic, NULL);
	ck_assert_msg(rkt != NULL, "rd_kafka_topic_new: %s",
		      rd_kafka_err2str(rd_kafka_last_error()));
	for (int i = 0; i < l->n; i++) {
		if (l->pace && i % (l->n / 20 ? l->n / 20 : 1) == 0)
			rd_kafka_poll(rk, 20);
		char k[48], v[16];
		int kn = snprintf(k, sizeof k, "%s%d", l->key_prefix,
				  i % l->key_mod);
		int vn = snprintf(v, sizeof v, "value-%06d", i);
		while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA,
					RD_KAFKA_MSG_F_COPY, v, (size_t)vn, k,
					(size_t)kn, NULL) == -1) {
			rd_kafka_resp_err_t e = rd_kafka_last_error();
			ck_assert_msg(e == RD_KAFKA_RESP_ERR__QUEUE_FULL,
				      "rd_kafka_produce: %s",
				      rd_kafka_err2str(e));
			rd_kafka_poll(rk, 10);
		}
		rd_kafka_poll(rk, 0);
	}
	rd_kafka_topic_destroy(rkt);
	ck_assert_int_eq(rd_kafka_flush(rk, 60000), 0);
}
