/*
 * kafka-python reads what the kafkit producer wrote (RecordBatch v2) into
 * an in-process kafkit mock cluster, for each codec kafka-python 2.0.2 can
 * fetch (none, gzip, snappy, lz4; its Fetch v4 cannot carry zstd): keys,
 * values, headers and CreateTime timestamps byte-exact, null keys, null
 * values and null header values kept, each record once at the offset its
 * delivery report gave. The partition logs must hold v2 batches of that
 * codec from one idempotent producer. argv[1] is /usr/bin/python3,
 * argv[2] kpy_consume.py.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkit/producer.h"
#include "mock_client.h"
#include "record_gen.h"

#define NREC 2000
#define NPART 2
#define TS0 INT64_C(1710000000000)

static const char *python, *script;

typedef struct report {
	int n;
	kp_err err;
	int32_t partition;
	int64_t offset;
} report;

static void on_delivery(const kp_delivery_report *dr, void *opaque)
{
	report *r = opaque;
	r->n++;
	r->err = dr->err;
	r->partition = dr->partition;
	r->offset = dr->offset;
}

static int hex(char *out, const void *p, int n)
{
	if (n < 0)
		return sprintf(out, "-");
	if (n == 0)
		return sprintf(out, "''");
	int k = 0;
	for (int j = 0; j < n; j++)
		k += sprintf(out + k, "%02x", ((const uint8_t *)p)[j]);
	return k;
}

/* kpy_consume.py's line for record i, reported at (partition, offset). */
static int expected_line(char *out, int i, const report *r)
{
	char key[RG_KEY_MAX], hv[RG_HEADERS_MAX][RG_KEY_MAX];
	uint8_t value[RG_VALUE_MAX];
	kp_header h[2];
	int kn = rg_key(i, key), vn = rg_value(i, value);
	size_t nh = rg_headers(i, h, hv);
	int k = sprintf(out, "%" PRId32 " %" PRId64 " %" PRId64 " 0 ",
			r->partition, r->offset, TS0 + 7 * i);
	k += hex(out + k, key, kn);
	out[k++] = ' ';
	k += hex(out + k, value, vn);
	out[k++] = ' ';
	if (!nh)
		out[k++] = '-';
	for (size_t j = 0; j < nh; j++) {
		k += sprintf(out + k, "%s%s=", j ? ";" : "", h[j].key);
		k += hex(out + k, h[j].value,
			 h[j].value ? (int)h[j].value_len : -1);
	}
	out[k++] = '\n';
	out[k] = 0;
	return k;
}

static int by_place(const void *a, const void *b)
{
	const report *x = *(report *const *)a, *y = *(report *const *)b;
	if (x->partition != y->partition)
		return x->partition < y->partition ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

typedef struct batch_audit {
	int records, not_v2, codec_batches, pid_missing;
	int codec;
	int64_t last_batch;
} batch_audit;

static int audit_record(void *opaque, const km_record *r)
{
	batch_audit *a = opaque;
	a->records++;
	a->not_v2 += r->magic != 2;
	a->pid_missing += r->producer_id < 0;
	if (r->batch_base_offset != a->last_batch) {
		a->last_batch = r->batch_base_offset;
		a->codec_batches += r->codec == a->codec;
	}
	return 0;
}

static void produce(km_cluster *c, const char *topic, const char *codec,
		    report *reps)
{
	char err[256];
	kp_conf *conf = kp_conf_new();
	ck_assert_ptr_nonnull(conf);
	ck_assert(kp_conf_set(conf, "bootstrap.servers",
			      km_cluster_bootstraps(c), err, sizeof err) ==
		  KP_OK);
	ck_assert(kp_conf_set(conf, "compression.type", codec, err,
			      sizeof err) == KP_OK);
	ck_assert(kp_conf_set(conf, "batch.size", "4096", err, sizeof err) ==
		  KP_OK);
	kp_producer *p;
	ck_assert_msg(kp_producer_new(conf, &p, err, sizeof err) == KP_OK,
		      "kp_producer_new: %s", err);
	kp_conf_destroy(conf);
	for (int i = 0; i < NREC; i++) {
		char key[RG_KEY_MAX], hv[RG_HEADERS_MAX][RG_KEY_MAX];
		uint8_t value[RG_VALUE_MAX];
		kp_header h[2];
		int kn = rg_key(i, key), vn = rg_value(i, value);
		kp_record rec = {
			.topic = topic,
			.partition = KP_PARTITION_ANY,
			.key = kn < 0 ? NULL : key,
			.key_len = kn < 0 ? 0 : (size_t)kn,
			.value = vn < 0 ? NULL : value,
			.value_len = vn < 0 ? 0 : (size_t)vn,
			.headers = h,
			.header_count = rg_headers(i, h, hv),
			.timestamp = TS0 + 7 * i,
		};
		kp_err e = kp_send(p, &rec, on_delivery, &reps[i]);
		ck_assert_msg(e == KP_OK, "kp_send %d: %s", i, kp_err_name(e));
	}
	ck_assert_int_eq(kp_close(p, 60000), KP_OK);
	for (int i = 0; i < NREC; i++) {
		ck_assert_msg(reps[i].n == 1, "record %d: %d reports", i,
			      reps[i].n);
		ck_assert_msg(reps[i].err == KP_OK, "record %d: %s", i,
			      kp_err_name(reps[i].err));
	}
}

static const struct {
	const char *name;
	int id;
} codecs[] = {{"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}};

START_TEST(read_by_kafka_python)
{
	km_cluster *c = mc_cluster(2, NULL);
	char topic[64];
	snprintf(topic, sizeof topic, "kp-kpy-%s", codecs[_i].name);
	ck_assert_int_eq(km_cluster_create_topic(c, topic, NPART, NULL),
			 KM_OK);
	report *reps = calloc(NREC, sizeof *reps);
	produce(c, topic, codecs[_i].name, reps);

	char bs[256], np[16], n[16];
	snprintf(bs, sizeof bs, "%s", km_cluster_bootstraps(c));
	snprintf(np, sizeof np, "%d", NPART);
	snprintf(n, sizeof n, "%d", NREC);
	char *argv[] = {(char *)python, (char *)script, bs, topic, np, n,
			NULL};
	char *out;
	int rc = mc_run(argv, NULL, 0, &out, 90000);
	ck_assert_msg(rc == 0, "kpy_consume.py %s exited %d",
		      codecs[_i].name, rc);

	/* expected lines in partition, offset order */
	report **order = malloc(NREC * sizeof *order);
	for (int i = 0; i < NREC; i++)
		order[i] = &reps[i];
	qsort(order, NREC, sizeof *order, by_place);
	char *want = malloc((size_t)NREC * 1024), *w = want;
	for (int i = 0; i < NREC; i++)
		w += expected_line(w, (int)(order[i] - reps), order[i]);
	if (strcmp(out, want)) {
		/* name the first differing line */
		size_t at = 0, line = 1;
		while (out[at] && out[at] == want[at])
			line += out[at++] == '\n';
		while (at && out[at - 1] != '\n')
			at--;
		ck_abort_msg("%s: line %zu differs: got '%.160s', want "
			     "'%.160s'", codecs[_i].name, line, out + at,
			     want + at);
	}
	free(want);
	free(order);
	free(out);

	for (int32_t p = 0; p < NPART; p++) {
		batch_audit a = {.codec = codecs[_i].id, .last_batch = -1};
		ck_assert_int_eq(km_cluster_partition_log(c, topic, p,
							  audit_record, &a),
				 KM_OK);
		ck_assert_int_gt(a.records, 0);
		ck_assert_int_eq(a.not_v2, 0);
		ck_assert_int_eq(a.pid_missing, 0);
		ck_assert_int_gt(a.codec_batches, 0);
	}
	free(reps);
	km_cluster_destroy(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_kafka_python");
	TCase *t = tcase_create("kafka-python");
	tcase_set_timeout(t, 150);
	tcase_add_loop_test(t, read_by_kafka_python, 0, 4);
	suite_add_tcase(s, t);
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s PYTHON SCRIPT\n", argv[0]);
		return EXIT_FAILURE;
	}
	python = argv[1];
	script = argv[2];
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
