/*
 * Check suite for the mock broker's Produce handler
 * (mockbroker/src/handle_produce.c, produce_validate.c): every version and
 * record format over a real socket, broker-side validation and its error
 * codes, acks, leadership, LogAppendTime and idempotence.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkit/codec.h"
#include "mock_client.h"

static km_cluster *C;
static mc_client CL;       /* connected to the leader of t/0 */
static int32_t LEADER;

static void setup(void)
{
	C = mc_cluster(2, NULL);
	ck_assert_int_eq(km_cluster_create_topic(C, "t", 2, NULL), KM_OK);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "t", 0, &pi), KM_OK);
	LEADER = pi.leader;
	mc_connect_broker(&CL, C, LEADER);
}

static void teardown(void)
{
	mc_close(&CL);
	km_cluster_destroy(C);
}

static int64_t hwm(const char *topic, int32_t p)
{
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, topic, p, &pi), KM_OK);
	return pi.high_watermark;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Recompute a v2 batch's CRC after tampering with its header. */
static void reseal(uint8_t *b, size_t n)
{
	put_be32(b + 17, kc_crc32c(0, b + 21, n - 21));
}

/* A full Produce response for one partition (the response struct lives
 * in CL.arena until the next call). */
static const kc_produce_response_partition_produce_response *
produce_full(int16_t v, int16_t acks, const char *topic, int32_t part,
	     kc_bytes records, kc_produce_response *resp)
{
	kc_produce_request_partition_produce_data pd = {part, records};
	kc_produce_request_topic_produce_data td = {kc_str_c(topic), &pd, 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = acks;
	req.timeout_ms = 1000;
	req.topic_data = &td;
	req.topic_data_count = 1;
	mc_call(&CL, 0, v, &req, resp);
	ck_assert_int_eq(resp->responses_count, 1);
	ck_assert_int_eq(resp->responses[0].partition_responses_count, 1);
	return &resp->responses[0].partition_responses[0];
}

START_TEST(every_version)
{
	int64_t next = 0;
	for (int16_t v = 0; v <= 11; v++) {
		int magic = v >= 3 ? 2 : v == 2 ? 1 : 0;
		size_t n;
		uint8_t *b = mc_batch(magic, KC_CODEC_NONE, (int)next, 3, 1000,
				      -1, -1, -1, &n);
		kc_produce_response resp;
		const kc_produce_response_partition_produce_response *pr =
			produce_full(v, 1, "t", 0, kc_bytes_of(b, n), &resp);
		ck_assert_msg(pr->error_code == 0, "v%d: error %d", v,
			      pr->error_code);
		ck_assert_int_eq(pr->base_offset, next);
		ck_assert_int_eq(resp.responses[0].name.len, 1);
		ck_assert_int_eq(resp.responses[0].name.ptr[0], 't');
		if (v >= 2)
			ck_assert_int_eq(pr->log_append_time_ms, -1);
		if (v >= 5)
			ck_assert_int_eq(pr->log_start_offset, 0);
		next += 3;
		free(b);
	}
	ck_assert_int_eq(hwm("t", 0), 36);
	char *d = mc_dump(C, "t", 0);
	ck_assert_ptr_nonnull(strstr(d, "0:k0=v0\n1:k1=v1\n"));
	ck_assert_ptr_nonnull(strstr(d, "35:k35=v35\n"));
	free(d);
}
END_TEST

START_TEST(codecs)
{
	for (int codec = 0; codec <= KC_CODEC_ZSTD; codec++) {
		size_t n;
		uint8_t *b = mc_batch(2, codec, codec * 5, 5, 1, -1, -1, -1, &n);
		int64_t base;
		ck_assert_int_eq(mc_produce(&CL, 7, -1, "t", 0, b, n, &base), 0);
		ck_assert_int_eq(base, codec * 5);
		free(b);
	}
	/* zstd before v7 */
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_ZSTD, 0, 2, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&CL, 6, 1, "t", 0, b, n, NULL), 76);
	free(b);
	/* legacy codecs, and zstd in a legacy wrapper refused */
	b = mc_batch(1, KC_CODEC_LZ4, 25, 2, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&CL, 2, 1, "t", 0, b, n, NULL), 0);
	free(b);
	b = mc_batch(0, KC_CODEC_SNAPPY, 27, 2, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&CL, 1, 1, "t", 0, b, n, NULL), 0);
	b[17] = (uint8_t)((b[17] & ~7) | 4); /* attributes: codec zstd */
	put_be32(b + 12, kc_crc32(0, b + 16, n - 16));
	ck_assert_int_eq(mc_produce(&CL, 1, 1, "t", 0, b, n, NULL), 76);
	free(b);
	ck_assert_int_eq(hwm("t", 0), 29);
	char *d = mc_dump(C, "t", 0);
	ck_assert_ptr_nonnull(strstr(d, "24:k24=v24\n25:k25=v25\n26:k26=v26\n"
					"27:k27=v27\n28:k28=v28\n"));
	free(d);
}
END_TEST

START_TEST(acks)
{
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 1, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&CL, 8, 2, "t", 0, b, n, NULL), 21);
	ck_assert_int_eq(mc_produce(&CL, 8, -2, "t", 0, b, n, NULL), 21);
	ck_assert_int_eq(hwm("t", 0), 0);
	/* acks=0: no response; the next request's answer comes first */
	kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(b, n)};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), &pd, 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = 0;
	req.topic_data = &td;
	req.topic_data_count = 1;
	mc_send(&CL, 0, 8, &req);
	kc_metadata_request mreq;
	kc_metadata_request_init(&mreq);
	kc_metadata_response mresp;
	mc_call(&CL, 3, 1, &mreq, &mresp);
	ck_assert_int_eq(hwm("t", 0), 1);
	/* acks=0 and an error: Kafka closes the connection */
	td.name = KC_STR_LIT("missing");
	mc_send(&CL, 0, 8, &req);
	ck_assert(mc_wait_closed(&CL, 5000));
	free(b);
}
END_TEST

START_TEST(unknown_topic_and_partition)
{
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 1, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&CL, 9, 1, "nope", 0, b, n, NULL), 3);
	ck_assert_int_eq(mc_produce(&CL, 9, 1, "t", 2, b, n, NULL), 3);
	ck_assert_int_eq(mc_produce(&CL, 9, 1, "t", -1, b, n, NULL), 3);
	free(b);
}
END_TEST

START_TEST(not_leader)
{
	mc_client other;
	mc_connect_broker(&other, C, 3 - LEADER);
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 1, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&other, 9, 1, "t", 0, b, n, NULL), 6);
	/* v10+: the current leader and its endpoint */
	kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(b, n)};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("t"), &pd, 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = -1;
	req.topic_data = &td;
	req.topic_data_count = 1;
	kc_produce_response resp;
	mc_call(&other, 0, 10, &req, &resp);
	const kc_produce_response_partition_produce_response *pr =
		&resp.responses[0].partition_responses[0];
	ck_assert_int_eq(pr->error_code, 6);
	ck_assert_int_eq(pr->current_leader.leader_id, LEADER);
	ck_assert_int_eq(pr->current_leader.leader_epoch, 0);
	ck_assert_int_eq(resp.node_endpoints_count, 1);
	ck_assert_int_eq(resp.node_endpoints[0].node_id, LEADER);
	ck_assert_int_eq(resp.node_endpoints[0].port,
			 km_cluster_broker_port(C, LEADER));
	ck_assert_int_eq(resp.node_endpoints[0].host.len, 9);
	/* after a leader move the old leader refuses, with the new epoch */
	ck_assert_int_eq(km_cluster_set_leader(C, "t", 0, 3 - LEADER), KM_OK);
	ck_assert_int_eq(mc_produce(&other, 9, 1, "t", 0, b, n, NULL), 0);
	kc_produce_response r2;
	td.name = KC_STR_LIT("t");
	kc_produce_request_partition_produce_data pd2 = {0, kc_bytes_of(b, n)};
	td.partition_data = &pd2;
	mc_call(&CL, 0, 11, &req, &r2);
	pr = &r2.responses[0].partition_responses[0];
	ck_assert_int_eq(pr->error_code, 6);
	ck_assert_int_eq(pr->current_leader.leader_id, 3 - LEADER);
	ck_assert_int_eq(pr->current_leader.leader_epoch, 1);
	mc_close(&other);
	free(b);
}
END_TEST

/* One invalid batch: its error, an error message in v8+, nothing stored. */
static void refused(int16_t v, uint8_t *b, size_t n, int16_t want)
{
	kc_produce_response resp;
	const kc_produce_response_partition_produce_response *pr =
		produce_full(v, 1, "t", 0, kc_bytes_of(b, n), &resp);
	ck_assert_msg(pr->error_code == want, "v%d: error %d, want %d", v,
		      pr->error_code, want);
	ck_assert_int_eq(pr->base_offset, -1);
	if (v >= 8)
		ck_assert_int_gt(pr->error_message.len, 0);
	ck_assert_int_eq(hwm("t", 0), 0);
}

START_TEST(validation)
{
	size_t n, n2;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 3, 1, -1, -1, -1, &n);
	/* CRC */
	b[n - 1] ^= 1;
	refused(8, b, n, 2);
	b[n - 1] ^= 1;
	/* truncated */
	refused(8, b, n - 1, 2);
	/* two batches where v3+ takes one */
	uint8_t *two = malloc(2 * n);
	memcpy(two, b, n);
	memcpy(two + n, b, n);
	refused(3, two, 2 * n, 87);
	free(two);
	/* magic vs version */
	refused(2, b, n, 87);
	uint8_t *m0 = mc_batch(0, KC_CODEC_NONE, 0, 2, 1, -1, -1, -1, &n2);
	refused(3, m0, n2, 87);
	refused(2, m0, n2, 87);
	free(m0);
	/* lastOffsetDelta that does not match the records */
	put_be32(b + 23, 3);
	reseal(b, n);
	refused(8, b, n, 87);
	put_be32(b + 23, 2);
	/* a control batch from a client */
	b[22] |= 0x20;
	reseal(b, n);
	refused(8, b, n, 87);
	b[22] &= (uint8_t)~0x20;
	/* a producer id without a sequence */
	uint8_t *p = mc_batch(2, KC_CODEC_NONE, 0, 1, 1, 77, 0, -1, &n2);
	refused(8, p, n2, 87);
	free(p);
	/* transactions are not served */
	b[22] |= 0x10;
	reseal(b, n);
	refused(8, b, n, 48);
	b[22] &= (uint8_t)~0x10;
	reseal(b, n);
	/* null records */
	kc_produce_response resp;
	ck_assert_int_eq(produce_full(8, 1, "t", 0, KC_BYTES_NULL, &resp)
				 ->error_code,
			 87);
	/* an empty legacy set is accepted and appends nothing */
	ck_assert_int_eq(produce_full(1, 1, "t", 0, kc_bytes_of("", 0), &resp)
				 ->error_code,
			 0);
	ck_assert_int_eq(produce_full(7, 1, "t", 0, kc_bytes_of("", 0), &resp)
				 ->error_code,
			 87);
	ck_assert_int_eq(hwm("t", 0), 0);
	/* the untouched batch still goes in */
	ck_assert_int_eq(mc_produce(&CL, 8, 1, "t", 0, b, n, NULL), 0);
	ck_assert_int_eq(hwm("t", 0), 3);
	free(b);
}
END_TEST

START_TEST(message_too_large)
{
	mc_close(&CL);
	km_cluster_destroy(C);
	km_options o;
	km_options_init(&o);
	o.max_message_bytes = 200;
	o.log_fn = mc_log_fn;
	C = mc_cluster(1, &o);
	ck_assert_int_eq(km_cluster_create_topic(C, "t", 1, NULL), KM_OK);
	mc_connect_broker(&CL, C, 1);
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 30, 1, -1, -1, -1, &n);
	ck_assert_uint_gt(n, 200);
	refused(9, b, n, 10);
	free(b);
	b = mc_batch(2, KC_CODEC_NONE, 0, 3, 1, -1, -1, -1, &n);
	ck_assert_uint_le(n, 200);
	ck_assert_int_eq(mc_produce(&CL, 9, 1, "t", 0, b, n, NULL), 0);
	free(b);
}
END_TEST

/* A small batch that inflates past the largest frame is refused before
 * it is all decompressed. */
START_TEST(decompression_bomb)
{
	mc_close(&CL);
	km_cluster_destroy(C);
	km_options o;
	km_options_init(&o);
	o.max_frame = 1 << 20;
	o.log_fn = mc_log_fn;
	C = mc_cluster(1, &o);
	ck_assert_int_eq(km_cluster_create_topic(C, "t", 1, NULL), KM_OK);
	mc_connect_broker(&CL, C, 1);
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	cfg.codec = KC_CODEC_ZSTD;
	kc_batch_builder b;
	ck_assert_int_eq(kc_batch_builder_init(&b, &cfg), KC_OK);
	uint8_t *zeros = calloc(1, 3 << 20);
	ck_assert_int_eq(kc_batch_append(&b, 1, KC_BYTES_NULL,
					 kc_bytes_of(zeros, 3 << 20), NULL, 0),
			 KC_OK);
	const uint8_t *p;
	size_t n;
	ck_assert_int_eq(kc_batch_seal(&b, &p, &n), KC_OK);
	ck_assert_uint_lt(n, 1 << 16);
	refused(9, (uint8_t *)p, n, 2);
	kc_batch_builder_free(&b);
	free(zeros);
}
END_TEST

START_TEST(log_append_time)
{
	km_topic_options to = {.log_append_time = true};
	ck_assert_int_eq(km_cluster_create_topic(C, "lat", 1, &to), KM_OK);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "lat", 0, &pi), KM_OK);
	mc_client cl;
	mc_connect_broker(&cl, C, pi.leader);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_GZIP, 0, 2, 5, -1, -1, -1, &n);
	kc_produce_request_partition_produce_data pd = {0, kc_bytes_of(b, n)};
	kc_produce_request_topic_produce_data td = {KC_STR_LIT("lat"), &pd, 1};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = 1;
	req.topic_data = &td;
	req.topic_data_count = 1;
	kc_produce_response resp;
	mc_call(&cl, 0, 8, &req, &resp);
	int64_t lat = resp.responses[0].partition_responses[0].log_append_time_ms;
	ck_assert_int_ge(lat, before);
	ck_assert_int_lt(lat, before + 60000);
	free(b);
	mc_close(&cl);
}
END_TEST

START_TEST(many_partitions_one_request)
{
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 0, 2, 1, -1, -1, -1, &n);
	kc_produce_request_partition_produce_data pd[3] = {
		{0, kc_bytes_of(b, n)}, {1, kc_bytes_of(b, n)}, {5, kc_bytes_of(b, n)}};
	kc_produce_request_topic_produce_data td[2] = {
		{KC_STR_LIT("t"), pd, 3}, {KC_STR_LIT("zz"), pd, 1}};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = 1;
	req.topic_data = td;
	req.topic_data_count = 2;
	kc_produce_response resp;
	mc_call(&CL, 0, 9, &req, &resp);
	ck_assert_int_eq(resp.responses_count, 2);
	const kc_produce_response_partition_produce_response *pr =
		resp.responses[0].partition_responses;
	ck_assert_int_eq(pr[0].error_code, 0);
	/* partition 1 is led by the other broker */
	ck_assert_int_eq(pr[1].error_code, 6);
	ck_assert_int_eq(pr[2].error_code, 3);
	ck_assert_int_eq(pr[2].index, 5);
	ck_assert_int_eq(resp.responses[1].partition_responses[0].error_code, 3);
	ck_assert_int_eq(hwm("t", 0), 2);
	free(b);
}
END_TEST

static int64_t init_pid(void)
{
	kc_init_producer_id_request req;
	kc_init_producer_id_request_init(&req);
	req.transactional_id = KC_STR_NULL;
	kc_init_producer_id_response resp;
	mc_call(&CL, 22, 4, &req, &resp);
	ck_assert_int_eq(resp.error_code, 0);
	ck_assert_int_eq(resp.producer_epoch, 0);
	return resp.producer_id;
}

START_TEST(idempotence)
{
	int64_t pid = init_pid();
	km_counters k0, k1;
	ck_assert_int_eq(km_cluster_counters(C, -1, &k0), KM_OK);
	size_t n;
	uint8_t *b0 = mc_batch(2, KC_CODEC_NONE, 0, 3, 1, pid, 0, 0, &n);
	int64_t base;
	ck_assert_int_eq(mc_produce(&CL, 7, -1, "t", 0, b0, n, &base), 0);
	ck_assert_int_eq(base, 0);
	size_t n1;
	uint8_t *b1 = mc_batch(2, KC_CODEC_LZ4, 3, 2, 1, pid, 0, 3, &n1);
	ck_assert_int_eq(mc_produce(&CL, 7, -1, "t", 0, b1, n1, &base), 0);
	ck_assert_int_eq(base, 3);
	/* retries: the original offsets, nothing appended */
	ck_assert_int_eq(mc_produce(&CL, 7, -1, "t", 0, b0, n, &base), 0);
	ck_assert_int_eq(base, 0);
	ck_assert_int_eq(mc_produce(&CL, 9, -1, "t", 0, b1, n1, &base), 0);
	ck_assert_int_eq(base, 3);
	ck_assert_int_eq(hwm("t", 0), 5);
	ck_assert_int_eq(km_cluster_counters(C, -1, &k1), KM_OK);
	ck_assert_uint_eq(k1.duplicate_batches - k0.duplicate_batches, 2);
	/* a gap */
	uint8_t *gap = mc_batch(2, KC_CODEC_NONE, 9, 1, 1, pid, 0, 9, &n);
	ck_assert_int_eq(mc_produce(&CL, 7, -1, "t", 0, gap, n, NULL), 45);
	free(gap);
	/* a new epoch must start at 0; then the old epoch is fenced */
	uint8_t *e1 = mc_batch(2, KC_CODEC_NONE, 5, 1, 1, pid, 1, 5, &n);
	ck_assert_int_eq(mc_produce(&CL, 7, -1, "t", 0, e1, n, NULL), 45);
	free(e1);
	e1 = mc_batch(2, KC_CODEC_NONE, 5, 1, 1, pid, 1, 0, &n);
	ck_assert_int_eq(mc_produce(&CL, 7, -1, "t", 0, e1, n, &base), 0);
	ck_assert_int_eq(base, 5);
	free(e1);
	uint8_t *old = mc_batch(2, KC_CODEC_NONE, 6, 1, 1, pid, 0, 5, &n);
	ck_assert_int_eq(mc_produce(&CL, 7, -1, "t", 0, old, n, NULL), 47);
	free(old);
	/* producers are tracked per partition: partition 1 starts afresh */
	mc_client other;
	mc_connect_broker(&other, C, 3 - LEADER);
	ck_assert_int_eq(mc_produce(&other, 7, -1, "t", 1, b1, n1, &base), 0);
	ck_assert_int_eq(base, 0);
	mc_close(&other);
	/* the stored records carry the producer fields */
	char *d = mc_dump(C, "t", 0);
	ck_assert_str_eq(d, "0:k0=v0\n1:k1=v1\n2:k2=v2\n3:k3=v3\n4:k4=v4\n"
			    "5:k5=v5\n");
	free(d);
	free(b0);
	free(b1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_produce");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, every_version);
	tcase_add_test(t, codecs);
	tcase_add_test(t, acks);
	tcase_add_test(t, unknown_topic_and_partition);
	tcase_add_test(t, not_leader);
	tcase_add_test(t, validation);
	tcase_add_test(t, message_too_large);
	tcase_add_test(t, decompression_bomb);
	tcase_add_test(t, log_append_time);
	tcase_add_test(t, many_partitions_one_request);
	tcase_add_test(t, idempotence);
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
