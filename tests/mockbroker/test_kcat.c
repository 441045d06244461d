/*
 * kcat (librdkafka) against the in-process mock cluster: for each codec,
 * `kcat -P` produces key:value lines and `kcat -C -e -o beginning` must
 * read back exactly the same bytes, in order; the partition log holds the
 * records with the codec kcat used. argv[1] is the kcat binary.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_client.h"

#define NLINES 2000

static const char *kcat;

/* NLINES "key:value" lines with varied bytes (no ':' in keys, no
 * newlines), repetitive enough to compress. */
static char *lines(const char *tag, size_t *len)
{
	size_t cap = NLINES * 96, n = 0;
	char *s = malloc(cap);
	for (int i = 0; i < NLINES; i++)
		n += (size_t)snprintf(s + n, cap - n,
				      "key-%s-%d:value %d \t~!@#$%%^&*()=+[]{}"
				      "|;'\",.<>/? %s %0*d\n",
				      tag, i % 97, i, tag, i % 40, 7);
	*len = n;
	return s;
}

typedef struct codec_seen {
	int records;
	int batches_with_codec;
	int codec;
	int64_t last_batch;
} codec_seen;

static int count_codec(void *opaque, const km_record *r)
{
	codec_seen *s = opaque;
	s->records++;
	ck_assert_int_eq(r->magic, 2);
	if (r->batch_base_offset != s->last_batch) {
		s->last_batch = r->batch_base_offset;
		s->batches_with_codec += r->codec == s->codec;
	}
	return 0;
}

static void round_trip(const char *codec)
{
	km_cluster *c = mc_cluster(3, NULL);
	char topic[32];
	snprintf(topic, sizeof topic, "kcat-%s", codec);
	ck_assert_int_eq(km_cluster_create_topic(c, topic, 1, NULL), KM_OK);
	char bs[256];
	snprintf(bs, sizeof bs, "%s", km_cluster_bootstraps(c));
	size_t in_len;
	char *in = lines(codec, &in_len);
	char *out;
	char *pargv[] = {(char *)kcat, "-P", "-b", bs, "-t", topic, "-K:",
			 "-z", (char *)codec, "-X", "linger.ms=20", NULL};
	int rc = mc_run(pargv, in, in_len, &out, 60000);
	ck_assert_msg(rc == 0, "kcat -P (%s) exited %d", codec, rc);
	free(out);
	char *cargv[] = {(char *)kcat, "-C", "-b", bs, "-t", topic, "-e",
			 "-o", "beginning", "-q", "-f", "%k:%s\n", NULL};
	rc = mc_run(cargv, NULL, 0, &out, 60000);
	ck_assert_msg(rc == 0, "kcat -C (%s) exited %d", codec, rc);
	ck_assert_uint_eq(strlen(out), in_len);
	ck_assert_msg(memcmp(out, in, in_len) == 0,
		      "kcat -C (%s) read back other bytes", codec);
	free(out);
	int want = !strcmp(codec, "none")     ? KC_CODEC_NONE
		   : !strcmp(codec, "gzip")   ? KC_CODEC_GZIP
		   : !strcmp(codec, "snappy") ? KC_CODEC_SNAPPY
		   : !strcmp(codec, "lz4")    ? KC_CODEC_LZ4
					      : KC_CODEC_ZSTD;
	codec_seen s = {.codec = want, .last_batch = -1};
	ck_assert_int_eq(km_cluster_partition_log(c, topic, 0, count_codec, &s),
			 KM_OK);
	ck_assert_int_eq(s.records, NLINES);
	ck_assert_int_gt(s.batches_with_codec, 0);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(c, topic, 0, &pi), KM_OK);
	ck_assert_int_eq(pi.high_watermark, NLINES);
	free(in);
	km_cluster_destroy(c);
}

START_TEST(codec_none) { round_trip("none"); }
END_TEST
START_TEST(codec_gzip) { round_trip("gzip"); }
END_TEST
START_TEST(codec_snappy) { round_trip("snappy"); }
END_TEST
START_TEST(codec_lz4) { round_trip("lz4"); }
END_TEST
START_TEST(codec_zstd) { round_trip("zstd"); }
END_TEST

/* An unknown topic: Metadata auto-creates it (LEADER_NOT_AVAILABLE first,
 * as Kafka answers), then kcat produces into it. */
START_TEST(auto_created_topic)
{
	km_cluster *c = mc_cluster(2, NULL);
	char bs[256];
	snprintf(bs, sizeof bs, "%s", km_cluster_bootstraps(c));
	char *out;
	char *pargv[] = {(char *)kcat, "-P", "-b", bs, "-t", "fresh", "-K:",
			 NULL};
	int rc = mc_run(pargv, "a:1\nb:2\n", 8, &out, 60000);
	ck_assert_int_eq(rc, 0);
	free(out);
	char *d = mc_dump(c, "fresh", 0);
	ck_assert_str_eq(d, "0:a=1\n1:b=2\n");
	free(d);
	km_cluster_destroy(c);
}
END_TEST

typedef struct seq_audit {
	int64_t next;
	int64_t pid;
	int bad;
} seq_audit;

static int audit_seq(void *opaque, const km_record *r)
{
	seq_audit *a = opaque;
	/* one idempotent producer: offsets and sequences 0..n-1 */
	if (r->offset != a->next || r->sequence != (int32_t)r->offset ||
	    r->producer_id < 0 || (a->pid >= 0 && r->producer_id != a->pid))
		a->bad = 1;
	a->pid = r->producer_id;
	a->next++;
	return a->bad;
}

/* librdkafka's idempotent producer in its own process (kcat), so that a
 * TSan build covers idempotence too. */
START_TEST(idempotent_producer)
{
	km_cluster *c = mc_cluster(3, NULL);
	ck_assert_int_eq(km_cluster_create_topic(c, "idem", 3, NULL), KM_OK);
	char bs[256];
	snprintf(bs, sizeof bs, "%s", km_cluster_bootstraps(c));
	size_t in_len;
	char *in = lines("idem", &in_len);
	char *out;
	char *pargv[] = {(char *)kcat, "-P", "-b", bs, "-t", "idem", "-K:",
			 "-X", "enable.idempotence=true", "-X",
			 "batch.num.messages=50", "-z", "lz4", NULL};
	ck_assert_int_eq(mc_run(pargv, in, in_len, &out, 60000), 0);
	free(out);
	int64_t total = 0;
	for (int32_t p = 0; p < 3; p++) {
		seq_audit a = {.pid = -1};
		ck_assert_int_eq(km_cluster_partition_log(c, "idem", p, audit_seq,
							  &a),
				 KM_OK);
		ck_assert_msg(!a.bad, "partition %d: a gap or a duplicate", p);
		total += a.next;
	}
	ck_assert_int_eq(total, NLINES);
	km_counters k;
	ck_assert_int_eq(km_cluster_counters(c, -1, &k), KM_OK);
	ck_assert_uint_ge(k.requests_by_api[22], 1);
	free(in);
	km_cluster_destroy(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_kcat");
	TCase *t = tcase_create("kcat");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, codec_none);
	tcase_add_test(t, codec_gzip);
	tcase_add_test(t, codec_snappy);
	tcase_add_test(t, codec_lz4);
	tcase_add_test(t, codec_zstd);
	tcase_add_test(t, auto_created_topic);
	tcase_add_test(t, idempotent_producer);
	suite_add_tcase(s, t);
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s KCAT\n", argv[0]);
		return EXIT_FAILURE;
	}
	kcat = argv[1];
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
