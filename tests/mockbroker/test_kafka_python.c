/*
 * kafka-python against the in-process mock cluster, for api_version 0.9
 * (Produce v1, MessageSet magic 0), 0.10.0 (Produce v2, magic 1) and
 * 0.11.0 (Produce v3, RecordBatch v2), each codec the format allows:
 * kpy_mock.py produces and reads back; the records it reads and the
 * partition log must both be exactly what it sent. argv[1] is
 * /usr/bin/python3, argv[2] the script.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_client.h"

#define NREC 300

static const char *python, *script;

/* The lines kpy_mock.py prints for NREC records. */
static char *expected(void)
{
	size_t cap = NREC * 128, n = 0;
	char *s = malloc(cap);
	for (int i = 0; i < NREC; i++) {
		n += (size_t)snprintf(s + n, cap - n, "%d k%d ", i, i);
		char v[64];
		int vn = snprintf(v, sizeof v, "v%d-", i);
		for (int j = 0; j < vn; j++)
			n += (size_t)snprintf(s + n, cap - n, "%02x",
					      (unsigned char)v[j]);
		for (int j = 0; j < i % 50; j++)
			n += (size_t)snprintf(s + n, cap - n, "%02x",
					      (i * 7 + j) & 0xff);
		s[n++] = '\n';
	}
	s[n] = '\0';
	return s;
}

typedef struct fmt_seen {
	int records, magic, codec_batches, codec;
	int64_t last_batch;
	int bad_magic;
} fmt_seen;

static int check_format(void *opaque, const km_record *r)
{
	fmt_seen *s = opaque;
	s->records++;
	s->bad_magic |= r->magic != s->magic;
	if (r->batch_base_offset != s->last_batch) {
		s->last_batch = r->batch_base_offset;
		s->codec_batches += r->codec == s->codec;
	}
	return 0;
}

static void run(const char *api, int magic, const char *codec, int codec_id)
{
	km_cluster *c = mc_cluster(2, NULL);
	char topic[64];
	snprintf(topic, sizeof topic, "kpy-%s-%s", api, codec);
	for (char *p = topic; *p; p++)
		if (*p == '.')
			*p = '_';
	ck_assert_int_eq(km_cluster_create_topic(c, topic, 1, NULL), KM_OK);
	char bs[256], n[16];
	snprintf(bs, sizeof bs, "%s", km_cluster_bootstraps(c));
	snprintf(n, sizeof n, "%d", NREC);
	char *argv[] = {(char *)python, (char *)script, bs, topic, (char *)api,
			(char *)codec, n, NULL};
	char *out;
	int rc = mc_run(argv, NULL, 0, &out, 90000);
	ck_assert_msg(rc == 0, "kpy_mock.py %s %s exited %d", api, codec, rc);
	char *want = expected();
	ck_assert_msg(strcmp(out, want) == 0, "%s %s: records read back differ",
		      api, codec);
	free(want);
	free(out);
	fmt_seen s = {.magic = magic, .codec = codec_id, .last_batch = -1};
	ck_assert_int_eq(km_cluster_partition_log(c, topic, 0, check_format, &s),
			 KM_OK);
	ck_assert_int_eq(s.records, NREC);
	ck_assert(!s.bad_magic);
	ck_assert_int_gt(s.codec_batches, 0);
	char *d = mc_dump(c, topic, 0);
	ck_assert(!strncmp(d, "0:k0=v0-\n1:k1=v1-", 17));
	free(d);
	km_cluster_destroy(c);
}

static const struct {
	const char *name;
	int id;
} codecs[] = {{"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}};

START_TEST(api_0_9)
{
	run("0.9", 0, codecs[_i].name, codecs[_i].id);
}
END_TEST

START_TEST(api_0_10_0)
{
	run("0.10.0", 1, codecs[_i].name, codecs[_i].id);
}
END_TEST

START_TEST(api_0_11_0)
{
	run("0.11.0", 2, codecs[_i].name, codecs[_i].id);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_kafka_python");
	TCase *t = tcase_create("kafka-python");
	tcase_set_timeout(t, 120);
	tcase_add_loop_test(t, api_0_9, 0, 4);
	tcase_add_loop_test(t, api_0_10_0, 0, 4);
	tcase_add_loop_test(t, api_0_11_0, 0, 4);
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
