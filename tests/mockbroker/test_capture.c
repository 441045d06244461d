/*
 * Check suite for the mock broker's pcap tap (mockbroker/src/capture.c,
 * km_options.pcap_path): a run recorded by the cluster itself is read back
 * with the pcap library's kx_reader, and its frames, api keys, correlation
 * ids and records must be what the client sent and got; a file that cannot
 * be opened fails km_cluster_new, a full disk stops the recording but not
 * the broker, and allocation failures while opening leak nothing.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "kafkit/codec.h"
#include "kafkit/pcap.h"
#include "mock_client.h"

#define NPRODUCE 4
/* 60 records: batches over the 512 bytes from which Fetch responses
 * reference the stored batch instead of copying it */
#define NRECORDS 60

static char DIR_[64];
static char PATH[128];

static void setup(void)
{
	snprintf(DIR_, sizeof DIR_, "/tmp/kafkit-capture-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(DIR_));
	snprintf(PATH, sizeof PATH, "%s/run.pcap", DIR_);
	mc_log_reset();
}

static void teardown(void)
{
	unlink(PATH);
	rmdir(DIR_);
}

/* What the reader saw. */
typedef struct seen {
	int opens, closes_fin, syns;
	uint16_t client_port, broker_port;
	int requests, responses;
	int16_t req_api[16], resp_api[16];
	int32_t req_corr[16], resp_corr[16];
	bool paired[16];
	uint8_t *records[16]; /* Produce requests' records (malloc'd) */
	size_t records_len[16];
	int64_t base_offset[16];
	int16_t error_code[16];
	uint8_t *fetched;     /* the Fetch response's records (malloc'd) */
	size_t fetched_len;
	int warnings;
} seen;

static void *decode_body(const kc_api *api, bool request, const kx_event *ev,
			 kc_arena *arena)
{
	const kc_msg_type *codec = request ? api->request : api->response;
	void *body = kc_arena_alloc(arena, codec->struct_size);
	ck_assert_ptr_nonnull(body);
	kc_decode_error de = {0};
	kc_reader r;
	kc_reader_init(&r, ev->frame + ev->header_len,
		       ev->frame_len - ev->header_len, &de);
	ck_assert_int_eq(codec->decode(&r, body, ev->api_version, arena),
			 KC_OK);
	return body;
}

static int on_event(kx_event *ev, void *opaque)
{
	seen *s = opaque;
	kc_arena arena;
	kc_arena_init(&arena);
	switch (ev->type) {
	case KX_EV_CONN_OPEN:
		s->opens++;
		s->client_port = ev->conn->client_port;
		s->broker_port = ev->conn->broker_port;
		break;
	case KX_EV_CONN_CLOSE:
		/* saw_syn is settled once the SYN was read, after the open */
		s->syns += ev->conn->saw_syn;
		s->closes_fin += ev->close_reason == KX_CLOSE_FIN;
		break;
	case KX_EV_REQUEST: {
		ck_assert(ev->header_ok);
		ck_assert_int_lt(s->requests, 16);
		int i = s->requests++;
		s->req_api[i] = ev->api_key;
		s->req_corr[i] = ev->correlation_id;
		if (ev->api_key != 0)
			break;
		const kc_produce_request *p =
			decode_body(kc_api_find(0), true, ev, &arena);
		ck_assert_int_eq(p->topic_data_count, 1);
		ck_assert_int_eq(p->topic_data[0].partition_data_count, 1);
		kc_bytes rec = p->topic_data[0].partition_data[0].records;
		s->records[i] = malloc((size_t)rec.len);
		memcpy(s->records[i], rec.ptr, (size_t)rec.len);
		s->records_len[i] = (size_t)rec.len;
		break;
	}
	case KX_EV_RESPONSE: {
		ck_assert_int_lt(s->responses, 16);
		int i = s->responses++;
		s->resp_api[i] = ev->api_key;
		s->resp_corr[i] = ev->correlation_id;
		s->paired[i] = ev->paired;
		if (ev->api_key == 1) {
			const kc_fetch_response *f =
				decode_body(kc_api_find(1), false, ev, &arena);
			ck_assert_int_eq(f->responses_count, 1);
			kc_bytes rec = f->responses[0].partitions[0].records;
			ck_assert_int_gt(rec.len, 0);
			s->fetched = malloc((size_t)rec.len);
			memcpy(s->fetched, rec.ptr, (size_t)rec.len);
			s->fetched_len = (size_t)rec.len;
		}
		if (ev->api_key != 0)
			break;
		const kc_produce_response *p =
			decode_body(kc_api_find(0), false, ev, &arena);
		ck_assert_int_eq(p->responses_count, 1);
		s->base_offset[i] =
			p->responses[0].partition_responses[0].base_offset;
		s->error_code[i] =
			p->responses[0].partition_responses[0].error_code;
		break;
	}
	default:
		s->warnings++;
		break;
	}
	kc_arena_free(&arena);
	return 0;
}

static void read_capture(const char *path, uint16_t port, seen *s)
{
	memset(s, 0, sizeof *s);
	kx_reader_opts ro = {.broker_ports = &port, .nbroker_ports = 1};
	kx_reader *r = kx_reader_new(&ro, on_event, s);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(kx_reader_open_file(r, path), 0);
	ck_assert_int_eq(kx_reader_run(r), 0);
	kx_reader_free(r);
}

static void free_seen(seen *s)
{
	for (int i = 0; i < 16; i++)
		free(s->records[i]);
	free(s->fetched);
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t n = sizeof a;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	return ntohs(a.sin_port);
}

START_TEST(records_round_trip)
{
	km_options o;
	km_options_init(&o);
	o.log_fn = mc_log_fn;
	o.pcap_path = PATH;
	km_cluster *c = mc_cluster(1, &o);
	ck_assert_int_eq(km_cluster_create_topic(c, "t", 1, NULL), KM_OK);
	uint16_t port = km_cluster_broker_port(c, 1);
	mc_client cl;
	mc_connect(&cl, port);
	uint16_t cport = local_port(cl.fd);
	uint8_t *batch[NPRODUCE];
	size_t blen[NPRODUCE];
	int32_t corr[NPRODUCE];
	for (int i = 0; i < NPRODUCE; i++) {
		batch[i] = mc_batch(2, 0, i * NRECORDS, NRECORDS, 1000 + i, -1,
				    -1, -1, &blen[i]);
		corr[i] = cl.next_corr;
		int64_t base = -1;
		/* versions 3, 5, 7, 9: flexible and non-flexible headers */
		ck_assert_int_eq(mc_produce(&cl, (int16_t)(3 + 2 * i), 1, "t",
					    0, batch[i], blen[i], &base),
				 0);
		ck_assert_int_eq(base, i * NRECORDS);
	}
	/* everything back: the response references the stored batches */
	kc_fetch_request_fetch_partition fp;
	kc_fetch_request_fetch_partition_init(&fp);
	fp.partition = 0;
	fp.partition_max_bytes = 1 << 20;
	kc_fetch_request_fetch_topic ft;
	kc_fetch_request_fetch_topic_init(&ft);
	ft.topic = kc_str_c("t");
	ft.partitions = &fp;
	ft.partitions_count = 1;
	kc_fetch_request fr;
	kc_fetch_request_init(&fr);
	fr.max_bytes = 1 << 20;
	fr.topics = &ft;
	fr.topics_count = 1;
	int32_t fetch_corr = cl.next_corr;
	kc_fetch_response fresp;
	mc_call(&cl, 1, 4, &fr, &fresp);
	kc_bytes got = fresp.responses[0].partitions[0].records;
	ck_assert_int_gt(got.len, NPRODUCE * 512);
	uint8_t *client_saw = malloc((size_t)got.len);
	memcpy(client_saw, got.ptr, (size_t)got.len);
	size_t client_len = (size_t)got.len;
	mc_close(&cl);
	km_cluster_destroy(c);

	seen s;
	read_capture(PATH, port, &s);
	ck_assert_int_eq(s.opens, 1);
	ck_assert_int_eq(s.syns, 1);
	ck_assert_int_eq(s.closes_fin, 1);
	ck_assert_int_eq(s.client_port, cport);
	ck_assert_int_eq(s.broker_port, port);
	ck_assert_int_eq(s.warnings, 0);
	ck_assert_int_eq(s.requests, NPRODUCE + 1);
	ck_assert_int_eq(s.responses, NPRODUCE + 1);
	ck_assert_int_eq(s.req_api[NPRODUCE], 1);
	ck_assert_int_eq(s.req_corr[NPRODUCE], fetch_corr);
	ck_assert_int_eq(s.resp_corr[NPRODUCE], fetch_corr);
	/* the capture shows the bytes the client received */
	ck_assert_uint_eq(s.fetched_len, client_len);
	ck_assert_mem_eq(s.fetched, client_saw, client_len);
	free(client_saw);
	for (int i = 0; i < NPRODUCE; i++) {
		ck_assert_int_eq(s.req_api[i], 0);
		ck_assert_int_eq(s.req_corr[i], corr[i]);
		ck_assert_uint_eq(s.records_len[i], blen[i]);
		ck_assert_mem_eq(s.records[i], batch[i], blen[i]);
		ck_assert(s.paired[i]);
		ck_assert_int_eq(s.resp_api[i], 0);
		ck_assert_int_eq(s.resp_corr[i], corr[i]);
		ck_assert_int_eq(s.error_code[i], 0);
		ck_assert_int_eq(s.base_offset[i], i * NRECORDS);
		free(batch[i]);
	}
	free_seen(&s);
}
END_TEST

/* Two clients: two connections with their own ports; a delayed response
 * is stamped with its due time. */
START_TEST(connections_and_delay)
{
	km_options o;
	km_options_init(&o);
	o.log_fn = mc_log_fn;
	o.pcap_path = PATH;
	km_cluster *c = mc_cluster(1, &o);
	uint16_t port = km_cluster_broker_port(c, 1);
	km_fault_match m;
	km_fault_match_init(&m);
	m.api_key = 18; /* ApiVersions */
	ck_assert_int_eq(km_fault_delay(c, &m, 300, 0, NULL), KM_OK);
	mc_client a, b;
	mc_connect(&a, port);
	mc_connect(&b, port);
	kc_api_versions_request av;
	kc_api_versions_request_init(&av);
	kc_api_versions_response avr;
	mc_call(&a, 18, 3, &av, &avr);
	mc_call(&b, 18, 0, &av, &avr);
	mc_close(&a);
	mc_close(&b);
	km_cluster_destroy(c);

	seen s;
	read_capture(PATH, port, &s);
	ck_assert_int_eq(s.opens, 2);
	ck_assert_int_eq(s.closes_fin, 2);
	ck_assert_int_eq(s.requests, 2);
	ck_assert_int_eq(s.responses, 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(s.req_api[i], 18);
		ck_assert_int_eq(s.resp_api[i], 18);
		ck_assert(s.paired[i]);
	}
	free_seen(&s);
}
END_TEST

/* The latency kafkit-pcap would show for a delayed response. */
static int latency_event(kx_event *ev, void *opaque)
{
	if (ev->type == KX_EV_RESPONSE && ev->paired)
		*(int64_t *)opaque = ev->ts_ns - ev->request_ts_ns;
	return 0;
}

START_TEST(delayed_response_timestamp)
{
	km_options o;
	km_options_init(&o);
	o.log_fn = mc_log_fn;
	o.pcap_path = PATH;
	km_cluster *c = mc_cluster(1, &o);
	uint16_t port = km_cluster_broker_port(c, 1);
	km_fault_match m;
	km_fault_match_init(&m);
	ck_assert_int_eq(km_fault_delay(c, &m, 250, 0, NULL), KM_OK);
	mc_client a;
	mc_connect(&a, port);
	kc_metadata_request mr;
	kc_metadata_request_init(&mr);
	kc_metadata_response mresp;
	mc_call(&a, 3, 9, &mr, &mresp);
	mc_close(&a);
	km_cluster_destroy(c);
	int64_t lat = -1;
	kx_reader_opts ro = {.broker_ports = &port, .nbroker_ports = 1};
	kx_reader *r = kx_reader_new(&ro, latency_event, &lat);
	ck_assert_int_eq(kx_reader_open_file(r, PATH), 0);
	ck_assert_int_eq(kx_reader_run(r), 0);
	kx_reader_free(r);
	ck_assert_int_ge(lat, 250000000);
	ck_assert_int_lt(lat, 5000000000);
}
END_TEST

START_TEST(bad_path)
{
	km_options o;
	km_options_init(&o);
	o.log_fn = mc_log_fn;
	char bad[160];
	snprintf(bad, sizeof bad, "%s/no-such-dir/run.pcap", DIR_);
	o.pcap_path = bad;
	km_cluster *c = NULL;
	ck_assert_int_eq(km_cluster_new(&c, 1, &o), KM_ERR_IO);
	ck_assert_ptr_null(c);
	ck_assert(mc_log_has("cannot open pcap file"));
	ck_assert(mc_log_has(bad));
	ck_assert(mc_log_has("No such file or directory"));
}
END_TEST

/* /dev/full accepts the open and fails the writes: the recording stops
 * with one log line and the broker keeps serving. */
START_TEST(disk_full)
{
	km_options o;
	km_options_init(&o);
	o.log_fn = mc_log_fn;
	o.pcap_path = "/dev/full";
	km_cluster *c = mc_cluster(1, &o);
	ck_assert_int_eq(km_cluster_create_topic(c, "t", 1, NULL), KM_OK);
	mc_client cl;
	mc_connect(&cl, km_cluster_broker_port(c, 1));
	int64_t base = -1;
	for (int i = 0; i < 3; i++) {
		size_t n;
		uint8_t *b = mc_batch(2, 0, i, 1, 1, -1, -1, -1, &n);
		ck_assert_int_eq(mc_produce(&cl, 9, 1, "t", 0, b, n, &base), 0);
		ck_assert_int_eq(base, i);
		free(b);
		if (i == 0) {
			/* the flush timer (1 s) meets the full disk */
			struct timespec ts = {1, 300000000};
			nanosleep(&ts, NULL);
			ck_assert(mc_log_has("pcap /dev/full: writing failed"));
			ck_assert(mc_log_has("recording stopped"));
		}
	}
	mc_close(&cl);
	km_cluster_destroy(c);
}
END_TEST

static void nolog(void *opaque, const char *line)
{
	(void)opaque;
	(void)line;
}

START_TEST(malloc_failure)
{
	km_options o;
	km_options_init(&o);
	o.log_fn = nolog;
	o.pcap_path = PATH;
	bool ok = false;
	for (unsigned long n = 1; !ok && n < 500; n++) {
		th_alloc_fail_at(n);
		km_cluster *c = NULL;
		km_err e = km_cluster_new(&c, 1, &o);
		ck_assert_msg(e == KM_OK || e == KM_ERR_NOMEM,
			      "allocation %lu: %s", n, km_err_name(e));
		ok = e == KM_OK;
		km_cluster_destroy(c);
		ck_assert_int_eq(th_alloc_live(), 0);
	}
	th_alloc_reset();
	ck_assert(ok);
	/* the file was written by the last, successful run: a valid,
	 * empty capture */
	seen s;
	read_capture(PATH, 9092, &s);
	ck_assert_int_eq(s.opens, 0);
	free_seen(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mock_capture");
	TCase *tc = tcase_create("capture");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, records_round_trip);
	tcase_add_test(tc, connections_and_delay);
	tcase_add_test(tc, delayed_response_timestamp);
	tcase_add_test(tc, bad_path);
	tcase_add_test(tc, disk_full);
	tcase_add_test(tc, malloc_failure);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
