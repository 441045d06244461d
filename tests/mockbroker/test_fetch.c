/*
 * Check suite for the mock broker's Fetch handler
 * (mockbroker/src/handle_fetch.c) over a real socket: every version
 * against every stored record format, offsets and limits, leadership and
 * leader epochs, long polling (parked requests) and response order.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "kafkit/codec.h"
#include "mock_client.h"
#include "partition_log.h"

static km_cluster *C;
static mc_client CL; /* to broker 1, which leads every topic here */

static void setup(void)
{
	C = mc_cluster(2, NULL);
	const char *topics[] = {"m0", "m1", "m2", "z"};
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(km_cluster_create_topic(C, topics[i], 1, NULL),
				 KM_OK);
		km_partition_info pi;
		ck_assert_int_eq(km_cluster_partition_info(C, topics[i], 0, &pi),
				 KM_OK);
		if (pi.leader != 1)
			ck_assert_int_eq(km_cluster_set_leader(C, topics[i], 0, 1),
					 KM_OK);
	}
	mc_connect_broker(&CL, C, 1);
	/* m<magic>: two sets of 3 records each in that format */
	for (int magic = 0; magic <= 2; magic++) {
		char t[4];
		snprintf(t, sizeof t, "m%d", magic);
		int16_t v = magic == 2 ? 8 : magic == 1 ? 2 : 1;
		for (int i = 0; i < 2; i++) {
			size_t n;
			uint8_t *b = mc_batch(magic, KC_CODEC_GZIP, 3 * i, 3,
					      1000 + 10 * i, -1, -1, -1, &n);
			ck_assert_int_eq(mc_produce(&CL, v, 1, t, 0, b, n, NULL), 0);
			free(b);
		}
	}
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_ZSTD, 0, 2, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&CL, 7, 1, "z", 0, b, n, NULL), 0);
	free(b);
}

static void teardown(void)
{
	mc_close(&CL);
	km_cluster_destroy(C);
}

static kc_uuid topic_id(const char *name)
{
	kc_metadata_request_metadata_request_topic q;
	kc_metadata_request_metadata_request_topic_init(&q);
	q.name = kc_str_c(name);
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	req.topics = &q;
	req.topics_count = 1;
	kc_metadata_response resp;
	mc_call(&CL, 3, 12, &req, &resp);
	ck_assert_int_eq(resp.topics[0].error_code, 0);
	return resp.topics[0].topic_id;
}

typedef struct fetch_args {
	const char *topic;
	kc_uuid id;
	int32_t partition;
	int64_t offset;
	int32_t partition_max;
	int32_t max_bytes;
	int32_t max_wait;
	int32_t min_bytes;
	int32_t epoch;
	int32_t session_epoch;
} fetch_args;

static void fetch_args_init(fetch_args *a, const char *topic, int64_t off)
{
	*a = (fetch_args){.topic = topic, .offset = off,
			  .partition_max = 1 << 20, .max_bytes = 1 << 24,
			  .epoch = -1, .session_epoch = -1};
}

static int32_t send_fetch(mc_client *cl, int16_t v, const fetch_args *a)
{
	kc_fetch_request_fetch_partition p;
	kc_fetch_request_fetch_partition_init(&p);
	p.partition = a->partition;
	p.fetch_offset = a->offset;
	p.partition_max_bytes = a->partition_max;
	p.current_leader_epoch = v >= 9 ? a->epoch : -1;
	kc_fetch_request_fetch_topic t;
	kc_fetch_request_fetch_topic_init(&t);
	if (v >= 13)
		t.topic_id = a->id;
	else
		t.topic = kc_str_c(a->topic);
	t.partitions = &p;
	t.partitions_count = 1;
	kc_fetch_request req;
	kc_fetch_request_init(&req);
	req.max_wait_ms = a->max_wait;
	req.min_bytes = a->min_bytes;
	if (v >= 3)
		req.max_bytes = a->max_bytes;
	if (v >= 7)
		req.session_epoch = a->session_epoch;
	req.topics = &t;
	req.topics_count = 1;
	return mc_send(cl, 1, v, &req);
}

static const kc_fetch_response_partition_data *
fetch(int16_t v, const fetch_args *a, kc_fetch_response *resp)
{
	int32_t corr = send_fetch(&CL, v, a);
	mc_recv(&CL, 1, v, corr, resp);
	ck_assert_int_eq(resp->responses_count, 1);
	ck_assert_int_eq(resp->responses[0].partitions_count, 1);
	return &resp->responses[0].partitions[0];
}

/* Records in a fetched blob: count, first and last offsets, the magic of
 * the first batch; a partial trailing batch is ignored, as readers do. */
typedef struct blob_info {
	int records, batches, magic;
	int64_t first, last;
	char keys[256];
} blob_info;

static blob_info inspect(kc_bytes b)
{
	blob_info bi = {.first = -1, .last = -1, .magic = -1};
	kc_decode_error de = {0};
	kc_records_iter it;
	kc_records_iter_init(&it, b.ptr, b.len > 0 ? (size_t)b.len : 0, 0, &de);
	kc_batch_info info;
	kc_record_view rec;
	int rc;
	while ((rc = kc_records_next_batch(&it, &info)) == 1) {
		if (bi.magic < 0)
			bi.magic = info.magic;
		bi.batches++;
		while ((rc = kc_records_next(&it, &rec)) == 1) {
			if (bi.first < 0)
				bi.first = rec.offset;
			bi.last = rec.offset;
			bi.records++;
			size_t n = strlen(bi.keys);
			snprintf(bi.keys + n, sizeof bi.keys - n, "%.*s,",
				 rec.key.len, (const char *)rec.key.ptr);
		}
		ck_assert_int_eq(rc, 0);
	}
	ck_assert_int_eq(rc, 0);
	kc_records_iter_free(&it);
	return bi;
}

START_TEST(versions_and_formats)
{
	kc_uuid ids[3];
	const char *names[3] = {"m0", "m1", "m2"};
	for (int m = 0; m < 3; m++)
		ids[m] = topic_id(names[m]);
	for (int16_t v = 0; v <= 17; v++) {
		for (int m = 0; m < 3; m++) {
			fetch_args a;
			fetch_args_init(&a, names[m], 0);
			a.id = ids[m];
			kc_fetch_response resp;
			const kc_fetch_response_partition_data *pd =
				fetch(v, &a, &resp);
			int max_magic = v >= 4 ? 2 : v >= 2 ? 1 : 0;
			if (m > max_magic) {
				/* no down-conversion */
				ck_assert_msg(pd->error_code == 35,
					      "v%d m%d: error %d", v, m,
					      pd->error_code);
				ck_assert_int_eq(pd->records.len, 0);
				continue;
			}
			ck_assert_msg(pd->error_code == 0, "v%d m%d: error %d", v,
				      m, pd->error_code);
			ck_assert_int_eq(pd->high_watermark, 6);
			if (v >= 4)
				ck_assert_int_eq(pd->last_stable_offset, 6);
			if (v >= 5)
				ck_assert_int_eq(pd->log_start_offset, 0);
			blob_info bi = inspect(pd->records);
			ck_assert_int_eq(bi.magic, m);
			ck_assert_int_eq(bi.records, 6);
			ck_assert_int_eq(bi.first, 0);
			ck_assert_int_eq(bi.last, 5);
			ck_assert_str_eq(bi.keys, "k0,k1,k2,k3,k4,k5,");
			if (v >= 7)
				ck_assert_int_eq(resp.session_id, 0);
		}
	}
}
END_TEST

START_TEST(offsets)
{
	fetch_args a;
	kc_fetch_response resp;
	const kc_fetch_response_partition_data *pd;
	/* the batch holding the offset comes whole */
	fetch_args_init(&a, "m2", 4);
	pd = fetch(11, &a, &resp);
	blob_info bi = inspect(pd->records);
	ck_assert_int_eq(bi.first, 3);
	ck_assert_int_eq(bi.records, 3);
	/* at the high watermark: nothing, no error */
	fetch_args_init(&a, "m2", 6);
	pd = fetch(11, &a, &resp);
	ck_assert_int_eq(pd->error_code, 0);
	ck_assert_int_eq(pd->records.len, 0);
	ck_assert_int_eq(pd->high_watermark, 6);
	/* past it, or before the log start */
	fetch_args_init(&a, "m2", 7);
	ck_assert_int_eq(fetch(11, &a, &resp)->error_code, 1);
	fetch_args_init(&a, "m2", -1);
	ck_assert_int_eq(fetch(11, &a, &resp)->error_code, 1);
	/* unknown topic, partition and topic id */
	fetch_args_init(&a, "nope", 0);
	ck_assert_int_eq(fetch(11, &a, &resp)->error_code, 3);
	fetch_args_init(&a, "m2", 0);
	a.partition = 1;
	ck_assert_int_eq(fetch(11, &a, &resp)->error_code, 3);
	fetch_args_init(&a, "m2", 0);
	a.id.b[3] = 9;
	ck_assert_int_eq(fetch(13, &a, &resp)->error_code, 100);
}
END_TEST

START_TEST(log_start_after_retention)
{
	mc_close(&CL);
	km_cluster_destroy(C);
	km_options o;
	km_options_init(&o);
	o.retention_batches = 2;
	o.log_fn = mc_log_fn;
	C = mc_cluster(1, &o);
	ck_assert_int_eq(km_cluster_create_topic(C, "r", 1, NULL), KM_OK);
	mc_connect_broker(&CL, C, 1);
	for (int i = 0; i < 4; i++) {
		size_t n;
		uint8_t *b = mc_batch(2, KC_CODEC_NONE, 2 * i, 2, 1, -1, -1, -1, &n);
		ck_assert_int_eq(mc_produce(&CL, 8, 1, "r", 0, b, n, NULL), 0);
		free(b);
	}
	fetch_args a;
	kc_fetch_response resp;
	fetch_args_init(&a, "r", 3);
	ck_assert_int_eq(fetch(11, &a, &resp)->error_code, 1);
	fetch_args_init(&a, "r", 4);
	const kc_fetch_response_partition_data *pd = fetch(11, &a, &resp);
	ck_assert_int_eq(pd->error_code, 0);
	ck_assert_int_eq(pd->log_start_offset, 4);
	ck_assert_int_eq(inspect(pd->records).records, 4);
}
END_TEST

START_TEST(byte_limits)
{
	fetch_args a;
	kc_fetch_response resp;
	const kc_fetch_response_partition_data *pd;
	/* v3+: one whole batch even past the limit (KIP-74) */
	fetch_args_init(&a, "m2", 0);
	a.partition_max = 10;
	pd = fetch(4, &a, &resp);
	blob_info bi = inspect(pd->records);
	ck_assert_int_eq(bi.batches, 1);
	ck_assert_int_eq(bi.records, 3);
	fetch_args_init(&a, "m2", 0);
	a.max_bytes = 10;
	pd = fetch(4, &a, &resp);
	ck_assert_int_eq(inspect(pd->records).batches, 1);
	/* before v3: cut at partition_max_bytes, a partial batch */
	fetch_args_init(&a, "m0", 0);
	a.partition_max = 30;
	pd = fetch(1, &a, &resp);
	ck_assert_int_eq(pd->error_code, 0);
	ck_assert_int_eq(pd->records.len, 30);
	ck_assert_int_eq(inspect(pd->records).records, 0);
}
END_TEST

START_TEST(zstd_needs_v10)
{
	fetch_args a;
	kc_fetch_response resp;
	fetch_args_init(&a, "z", 0);
	ck_assert_int_eq(fetch(9, &a, &resp)->error_code, 76);
	const kc_fetch_response_partition_data *pd = fetch(10, &a, &resp);
	ck_assert_int_eq(pd->error_code, 0);
	ck_assert_int_eq(inspect(pd->records).records, 2);
}
END_TEST

START_TEST(leadership_and_epochs)
{
	fetch_args a;
	kc_fetch_response resp;
	mc_client other;
	mc_connect_broker(&other, C, 2);
	fetch_args_init(&a, "m2", 0);
	int32_t corr = send_fetch(&other, 11, &a);
	mc_recv(&other, 1, 11, corr, &resp);
	ck_assert_int_eq(resp.responses[0].partitions[0].error_code, 6);
	a.id = topic_id("m2");
	corr = send_fetch(&other, 16, &a);
	mc_recv(&other, 1, 16, corr, &resp);
	const kc_fetch_response_partition_data *pd =
		&resp.responses[0].partitions[0];
	ck_assert_int_eq(pd->error_code, 6);
	ck_assert_int_eq(pd->current_leader.leader_id, 1);
	ck_assert_int_eq(resp.node_endpoints_count, 1);
	ck_assert_int_eq(resp.node_endpoints[0].node_id, 1);
	mc_close(&other);
	/* epochs: m2's leader epoch is 0 or 1 after setup */
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "m2", 0, &pi), KM_OK);
	fetch_args_init(&a, "m2", 0);
	a.epoch = pi.leader_epoch;
	ck_assert_int_eq(fetch(9, &a, &resp)->error_code, 0);
	a.epoch = pi.leader_epoch + 1;
	ck_assert_int_eq(fetch(9, &a, &resp)->error_code, 75);
	ck_assert_int_eq(km_cluster_set_leader(C, "m2", 0, 1), KM_OK);
	a.epoch = pi.leader_epoch;
	ck_assert_int_eq(fetch(9, &a, &resp)->error_code, 74);
	/* v8 has no epoch: accepted */
	ck_assert_int_eq(fetch(8, &a, &resp)->error_code, 0);
}
END_TEST

START_TEST(sessions_not_created)
{
	fetch_args a;
	kc_fetch_response resp;
	fetch_args_init(&a, "m2", 0);
	a.session_epoch = 0;
	ck_assert_int_eq(fetch(7, &a, &resp)->error_code, 0);
	ck_assert_int_eq(resp.session_id, 0);
	a.session_epoch = 1;
	int32_t corr = send_fetch(&CL, 7, &a);
	mc_recv(&CL, 1, 7, corr, &resp);
	ck_assert_int_eq(resp.error_code, 70);
	ck_assert_int_eq(resp.responses_count, 0);
}
END_TEST

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(long_poll_wakes_on_data)
{
	fetch_args a;
	kc_fetch_response resp;
	fetch_args_init(&a, "m2", 6);
	a.max_wait = 20000;
	a.min_bytes = 1;
	int64_t t0 = now_ms();
	int32_t corr = send_fetch(&CL, 11, &a);
	/* pipelined behind the parked fetch: answered after it */
	kc_metadata_request mreq;
	kc_metadata_request_init(&mreq);
	int32_t mcorr = mc_send(&CL, 3, 1, &mreq);
	ck_assert_int_eq(mc_recv_frame(&CL, 300), -2);
	mc_client other;
	mc_connect_broker(&other, C, 1);
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 6, 2, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&other, 8, 1, "m2", 0, b, n, NULL), 0);
	free(b);
	mc_recv(&CL, 1, 11, corr, &resp);
	ck_assert_int_lt(now_ms() - t0, 10000);
	const kc_fetch_response_partition_data *pd =
		&resp.responses[0].partitions[0];
	ck_assert_int_eq(pd->high_watermark, 8);
	blob_info bi = inspect(pd->records);
	ck_assert_int_eq(bi.first, 6);
	ck_assert_int_eq(bi.records, 2);
	kc_metadata_response mresp;
	mc_recv(&CL, 3, 1, mcorr, &mresp);
	mc_close(&other);
}
END_TEST

START_TEST(long_poll_times_out)
{
	fetch_args a;
	kc_fetch_response resp;
	fetch_args_init(&a, "m2", 6);
	a.max_wait = 300;
	a.min_bytes = 1;
	int64_t t0 = now_ms();
	const kc_fetch_response_partition_data *pd = fetch(11, &a, &resp);
	int64_t waited = now_ms() - t0;
	ck_assert_int_ge(waited, 290);
	ck_assert_int_lt(waited, 5000);
	ck_assert_int_eq(pd->error_code, 0);
	ck_assert_int_eq(pd->records.len, 0);
	/* min_bytes more than there is: waits, then answers what there is */
	fetch_args_init(&a, "m2", 0);
	a.max_wait = 200;
	a.min_bytes = 1 << 20;
	t0 = now_ms();
	pd = fetch(11, &a, &resp);
	ck_assert_int_ge(now_ms() - t0, 190);
	ck_assert_int_eq(inspect(pd->records).records, 6);
	/* errors answer at once */
	fetch_args_init(&a, "nope", 0);
	a.max_wait = 20000;
	a.min_bytes = 1;
	t0 = now_ms();
	ck_assert_int_eq(fetch(11, &a, &resp)->error_code, 3);
	ck_assert_int_lt(now_ms() - t0, 5000);
}
END_TEST

/* A client that closes while its fetch is parked: nothing leaks, the
 * cluster goes on. */
START_TEST(parked_client_goes_away)
{
	mc_client other;
	mc_connect_broker(&other, C, 1);
	fetch_args a;
	fetch_args_init(&a, "m2", 6);
	a.max_wait = 20000;
	a.min_bytes = 1;
	send_fetch(&other, 11, &a);
	ck_assert_int_eq(mc_recv_frame(&other, 200), -2);
	mc_close(&other);
	size_t n;
	uint8_t *b = mc_batch(2, KC_CODEC_NONE, 6, 1, 1, -1, -1, -1, &n);
	ck_assert_int_eq(mc_produce(&CL, 8, 1, "m2", 0, b, n, NULL), 0);
	free(b);
	kc_fetch_response resp;
	fetch_args_init(&a, "m2", 6);
	ck_assert_int_eq(inspect(fetch(11, &a, &resp)->records).records, 1);
}
END_TEST

/* A v2 batch of n records with 120-byte values "<first+i>..." (sealed,
 * malloc'd, *len bytes); n = 150 makes it larger than the 16 KiB from
 * which Produce keeps batches in the request's input buffer. */
static uint8_t *big_batch(int first, int n, size_t *len)
{
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	kc_batch_builder bb;
	ck_assert_int_eq(kc_batch_builder_init(&bb, &cfg), KC_OK);
	for (int i = 0; i < n; i++) {
		char v[120];
		memset(v, 'a' + (first + i) % 26, sizeof v);
		snprintf(v, sizeof v, "%d", first + i);
		ck_assert_int_eq(kc_batch_append(&bb, 7, KC_BYTES_NULL,
						 kc_bytes_of(v, sizeof v), NULL, 0),
				 KC_OK);
	}
	const uint8_t *out;
	ck_assert_int_eq(kc_batch_seal(&bb, &out, len), KC_OK);
	uint8_t *b = malloc(*len);
	memcpy(b, out, *len);
	kc_batch_builder_free(&bb);
	return b;
}

/* On the I/O thread: which batches of big/0 are kept in place (bit i for
 * batch i), into *(unsigned *)arg. */
static km_err kept_in_place(km_cluster *c, void *arg)
{
	km__topic *t = km__cluster_topic(c, "big", 3);
	km__plog *l = &km__topic_partition(t, 0)->log;
	unsigned *bits = arg;
	*bits = 0;
	for (size_t i = 0; i < l->count; i++)
		*bits |= (km__plog_at(l, i)->seg->blk != NULL) << i;
	return KM_OK;
}

/* Large batches are kept where they arrived (each its own segment), small
 * ones copied: a Fetch answers one large batch at a time, byte for byte
 * what was produced but for the offsets and epoch the log assigned, and
 * the log still holds them after later requests reused the connection's
 * input buffers. */
START_TEST(large_batches_kept_in_place)
{
	ck_assert_int_eq(km_cluster_create_topic(C, "big", 1, NULL), KM_OK);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "big", 0, &pi), KM_OK);
	if (pi.leader != 1)
		ck_assert_int_eq(km_cluster_set_leader(C, "big", 0, 1), KM_OK);
	size_t n0, n1, n2;
	uint8_t *b0 = big_batch(0, 150, &n0);
	uint8_t *b1 = mc_batch(2, KC_CODEC_NONE, 150, 2, 9, -1, -1, -1, &n1);
	uint8_t *b2 = big_batch(152, 150, &n2);
	ck_assert_uint_ge(n0, 16384);
	int64_t base;
	ck_assert_int_eq(mc_produce(&CL, 9, 1, "big", 0, b0, n0, &base), 0);
	ck_assert_int_eq(base, 0);
	ck_assert_int_eq(mc_produce(&CL, 9, 1, "big", 0, b1, n1, &base), 0);
	ck_assert_int_eq(base, 150);
	ck_assert_int_eq(mc_produce(&CL, 9, 1, "big", 0, b2, n2, &base), 0);
	ck_assert_int_eq(base, 152);
	const uint8_t *batches[3] = {b0, b1, b2};
	size_t lens[3] = {n0, n1, n2};
	int64_t offsets[3] = {0, 150, 152};
	int counts[3] = {150, 2, 150};
	for (int k = 0; k < 3; k++) {
		fetch_args a;
		fetch_args_init(&a, "big", offsets[k]);
		kc_fetch_response resp;
		const kc_fetch_response_partition_data *pd = fetch(11, &a, &resp);
		ck_assert_int_eq(pd->error_code, 0);
		ck_assert_int_eq(pd->high_watermark, 302);
		blob_info bi = inspect(pd->records);
		ck_assert_int_eq(bi.batches, 1);
		ck_assert_int_eq(bi.records, counts[k]);
		ck_assert_int_eq(bi.first, offsets[k]);
		ck_assert_int_eq(pd->records.len, (int32_t)lens[k]);
		/* baseOffset and partitionLeaderEpoch differ; from
		 * batchLength on the bytes are the producer's, CRC included */
		ck_assert_mem_eq(pd->records.ptr + 8, batches[k] + 8, 4);
		ck_assert_mem_eq(pd->records.ptr + 16, batches[k] + 16,
				 lens[k] - 16);
	}
	unsigned bits;
	ck_assert_int_eq(km__cluster_call(C, kept_in_place, &bits), KM_OK);
	ck_assert_uint_eq(bits, 5); /* the large ones */
	char *dump = mc_dump(C, "big", 0);
	ck_assert_ptr_nonnull(strstr(dump, "\n301:null=301"));
	free(dump);
	free(b0);
	free(b1);
	free(b2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_fetch");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, versions_and_formats);
	tcase_add_test(t, offsets);
	tcase_add_test(t, log_start_after_retention);
	tcase_add_test(t, byte_limits);
	tcase_add_test(t, zstd_needs_v10);
	tcase_add_test(t, leadership_and_epochs);
	tcase_add_test(t, sessions_not_created);
	tcase_add_test(t, long_poll_wakes_on_data);
	tcase_add_test(t, long_poll_times_out);
	tcase_add_test(t, parked_client_goes_away);
	tcase_add_test(t, large_batches_kept_in_place);
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
