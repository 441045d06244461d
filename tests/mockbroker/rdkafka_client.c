#include <check.h>

#include "rdkafka_client.h"

rd_kafka_t *trk_producer(const char *bootstraps, const char *const (*kv)[2],
			 size_t n, void (*dr)(rd_kafka_t *, const rd_kafka_message_t *,
					      void *))
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps,
					   err, sizeof err), RD_KAFKA_CONF_OK);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err,
						sizeof err) == RD_KAFKA_CONF_OK,
			      "%s: %s", kv[i][0], err);
	rd_kafka_conf_set_dr_msg_cb(conf, dr);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	ck_assert_msg(rk != NULL, "rd_kafka_new: %s", err);
	return rk;
}

void trk_produce(rd_kafka_t *rk, const char *topic, const void *key,
		 size_t key_len, const void *value, size_t value_len)
{
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	ck_assert_ptr_nonnull(t);
	/* rd_kafka_produce rather than producev: producev's type-checking
	 * macros are GNU statement expressions, refused by -Wpedantic. */
	while (rd_kafka_produce(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
				(void *)value, value_len, key, key_len,
				NULL) != 0) {
		rd_kafka_resp_err_t e = rd_kafka_last_error();
		ck_assert_msg(e == RD_KAFKA_RESP_ERR__QUEUE_FULL, "produce: %s",
			      rd_kafka_err2str(e));
		rd_kafka_poll(rk, 10);
	}
	rd_kafka_topic_destroy(t);
}
