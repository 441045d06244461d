/* Every real capture in tests/data through kx_reader: the same frames,
 * directions, api keys and correlation ids as the codec's own capture
 * reader (codec/tools/capture.c), with nothing lost or skipped. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "helpers.h"
#include "pcaptest.h"

static const kx_reader_opts data_opts = {.broker_ports = pt_broker_ports,
					 .nbroker_ports = PT_NBROKER_PORTS};

/* A frame as kc_capture saw it. */
typedef struct ref_frame {
	bool to_broker;
	int16_t api_key;
	int32_t correlation_id;
	size_t len;
	uint64_t hash;
	uint64_t packet;
	bool paired;
} ref_frame;

typedef struct ref_log {
	ref_frame *v;
	size_t n;
} ref_log;

static int ref_cb(kc_capture_frame *f, void *opaque)
{
	ref_log *l = opaque;
	l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
	ck_assert_ptr_nonnull(l->v);
	l->v[l->n++] = (ref_frame){f->to_broker, f->api_key, f->correlation_id,
				   f->len, pt_hash(f->data, f->len), f->packet,
				   f->paired};
	/* Produce acks=0 gets no response: the reference reader is told by
	 * clearing the flag, as ours does by itself. */
	if (f->to_broker && f->api_key == 0 && f->len > 18) {
		size_t cl = (size_t)(f->data[8] << 8 | f->data[9]);
		const uint8_t *b = f->data + 10 + (cl == 0xffff ? 0 : cl);
		if (f->api_version >= 3)
			b += 2 + ((b[0] << 8 | b[1]) == 0xffff
					  ? 0
					  : (size_t)(b[0] << 8 | b[1]));
		if (b + 2 <= f->data + f->len && (b[0] << 8 | b[1]) == 0)
			f->expect_response = false;
	}
	return 0;
}

START_TEST(same_frames_as_codec_reader)
{
	const char *path = th_data_path(pt_captures[_i]);
	ref_log ref = {0};
	kc_capture *c = kc_capture_new(NULL, ref_cb, &ref);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(kc_capture_read_file(c, path), 0);
	kc_capture_free(c);
	ck_assert_uint_gt(ref.n, 0);

	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(path, &data_opts, &log, &st), 0);
	size_t j = 0;
	for (size_t i = 0; i < log.n; i++) {
		const pt_ev *e = &log.v[i];
		if (e->type != KX_EV_REQUEST && e->type != KX_EV_RESPONSE)
			continue;
		ck_assert_uint_lt(j, ref.n);
		const ref_frame *f = &ref.v[j++];
		ck_assert_int_eq(e->type == KX_EV_REQUEST, f->to_broker);
		ck_assert_int_eq(e->correlation_id, f->correlation_id);
		ck_assert_int_eq(e->api_key, f->api_key);
		ck_assert_uint_eq(e->frame_len, f->len);
		ck_assert_uint_eq(e->frame_hash, f->hash);
		ck_assert_uint_eq(e->packet, f->packet);
		ck_assert(e->header_ok);
		if (e->type == KX_EV_RESPONSE) {
			ck_assert_int_eq(e->paired, f->paired);
			ck_assert(e->paired);
			ck_assert_int_ge(e->ts_ns, e->request_ts_ns);
			ck_assert_uint_gt(e->header_len, 3);
		} else {
			ck_assert_uint_ge(e->header_len, 8);
		}
	}
	ck_assert_uint_eq(j, ref.n);
	ck_assert_uint_eq(st.gaps, 0);
	ck_assert_uint_eq(st.resyncs, 0);
	ck_assert_uint_eq(st.unpaired_responses, 0);
	ck_assert_uint_eq(pt_count(&log, KX_EV_WARNING), 0);
	ck_assert_uint_eq(pt_count(&log, KX_EV_CONN_OPEN),
			  pt_count(&log, KX_EV_CONN_CLOSE));
	ck_assert_uint_gt(pt_count(&log, KX_EV_CONN_OPEN), 0);
	/* The first event of a connection is its opening. */
	ck_assert_int_eq(log.v[0].type, KX_EV_CONN_OPEN);
	free(ref.v);
	pt_log_free(&log);
}
END_TEST

/* One line per Kafka frame as "packet key version corr" (requests) or
 * "packet corr" (responses), sorted, into a malloc'd string. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join_sorted(char **v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_str);
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	char *out = malloc(len);
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		strcat(out, v[i]);
		strcat(out, "\n");
		free(v[i]);
	}
	free(v);
	return out;
}

static void push(char ***v, size_t *n, const char *s)
{
	*v = realloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = strdup(s);
}

/* Split a tshark field ("a,b,c") into its i-th value, "" when absent. */
static void field_at(const char *f, size_t i, char *out, size_t n)
{
	while (i-- && f)
		if ((f = strchr(f, ',')))
			f++;
	size_t k = 0;
	while (f && *f && *f != ',' && *f != '\t' && *f != '\n' && k + 1 < n)
		out[k++] = *f++;
	out[k] = 0;
}

/* tshark's dissector sees the same frames: packet, api key, version and
 * correlation id of every request, packet and correlation id of every
 * response. */
START_TEST(same_frames_as_tshark)
{
	if (access("/usr/bin/tshark", X_OK) != 0)
		ck_abort_msg("tshark is required for this test");
	const char *path = th_data_path(pt_captures[_i]);
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "tshark -r %s -o kafka.tcp.ports:34567,41197,41407 -T fields "
		 "-E separator=/t -e frame.number -e kafka.request_key "
		 "-e kafka.api_version -e kafka.correlation_id -Y kafka "
		 "2>/dev/null",
		 path);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char **tv = NULL;
	size_t tn = 0;
	char line[4096];
	while (fgets(line, sizeof line, p)) {
		char *col[4] = {line};
		for (int c = 1; c < 4; c++) {
			col[c] = strchr(col[c - 1], '\t');
			ck_assert_ptr_nonnull(col[c]);
			*col[c]++ = 0;
		}
		for (size_t i = 0;; i++) {
			char key[16], ver[16], corr[16], row[96];
			field_at(col[3], i, corr, sizeof corr);
			if (!corr[0])
				break;
			field_at(col[1], i, key, sizeof key);
			field_at(col[2], i, ver, sizeof ver);
			if (key[0])
				snprintf(row, sizeof row, "%.20s req %s %s %s",
					 line, key, ver, corr);
			else
				snprintf(row, sizeof row, "%.20s resp %s", line,
					 corr);
			push(&tv, &tn, row);
		}
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_uint_gt(tn, 0);

	pt_log log = {0};
	ck_assert_int_eq(pt_read(path, &data_opts, &log, NULL), 0);
	char **ov = NULL;
	size_t on = 0;
	for (size_t i = 0; i < log.n; i++) {
		const pt_ev *e = &log.v[i];
		char row[96];
		if (e->type == KX_EV_REQUEST)
			snprintf(row, sizeof row, "%llu req %d %d %d",
				 (unsigned long long)e->packet, e->api_key,
				 e->api_version, e->correlation_id);
		else if (e->type == KX_EV_RESPONSE)
			snprintf(row, sizeof row, "%llu resp %d",
				 (unsigned long long)e->packet,
				 e->correlation_id);
		else
			continue;
		push(&ov, &on, row);
	}
	char *want = join_sorted(tv, tn), *got = join_sorted(ov, on);
	ck_assert_str_eq(got, want);
	free(want);
	free(got);
	pt_log_free(&log);
}
END_TEST

/* Without the broker port, detect mode finds the same requests. */
START_TEST(detect_any_port)
{
	const char *path = th_data_path(pt_captures[_i]);
	pt_log want = {0}, got = {0};
	ck_assert_int_eq(pt_read(path, &data_opts, &want, NULL), 0);
	uint16_t other = 1;
	kx_reader_opts o = {.broker_ports = &other, .nbroker_ports = 1,
			    .detect_any_port = true};
	ck_assert_int_eq(pt_read(path, &o, &got, NULL), 0);
	ck_assert_uint_eq(pt_count(&got, KX_EV_REQUEST),
			  pt_count(&want, KX_EV_REQUEST));
	ck_assert_uint_eq(pt_count(&got, KX_EV_RESPONSE),
			  pt_count(&want, KX_EV_RESPONSE));
	for (size_t i = 0; i < pt_count(&want, KX_EV_RESPONSE); i++)
		ck_assert(pt_nth(&got, KX_EV_RESPONSE, i)->paired);
	pt_log_free(&want);
	pt_log_free(&got);
}
END_TEST

/* The default port list (9092) follows none of them. */
START_TEST(other_port_ignored)
{
	pt_log log = {0};
	kx_stats st;
	ck_assert_int_eq(pt_read(th_data_path(pt_captures[0]), NULL, &log, &st),
			 0);
	ck_assert_uint_eq(log.n, 0);
	ck_assert_uint_eq(st.conns, 0);
	ck_assert_uint_gt(st.skipped_packets, 0);
	pt_log_free(&log);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pcaptools_captures");
	TCase *tc = tcase_create("captures");
	size_t n = pt_ncaptures;
	tcase_add_loop_test(tc, same_frames_as_codec_reader, 0, (int)n);
	tcase_add_loop_test(tc, detect_any_port, 0, (int)n);
	tcase_add_loop_test(tc, same_frames_as_tshark, 0, (int)n);
	tcase_add_test(tc, other_port_ignored);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
