/* Record formats against kafka-python (a real peer): batches we build for
 * every magic x codec are read by kafka-python, and batches kafka-python
 * builds are read by our iterator, both compared record by record with the
 * same generator (tests/integration/kpy_records.py). Fails, never skips,
 * when /usr/bin/python3, kafka-python or its codec modules are missing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "kafkit/records.h"

#define NRECORDS 60
#define PRODUCER_ID 4242
#define PRODUCER_EPOCH 7
#define BASE_SEQUENCE 100

static const char *script; /* argv[1] */

static const int cases[][2] = {{2, 0}, {2, 1}, {2, 2}, {2, 3}, {2, 4},
			       {0, 0}, {0, 1}, {0, 2}, {0, 3}, {1, 0},
			       {1, 1}, {1, 2}, {1, 3}};
enum { NCASES = sizeof cases / sizeof *cases };

/* The generator, as records() in kpy_records.py. */
typedef struct gen_rec {
	int64_t ts;
	char key[16];
	int key_len;
	uint8_t value[300];
	int value_len;
	char hkeys[2][4];
	char hvals[2][16];
	kc_rec_header hdrs[2];
	int nh;
} gen_rec;

static void gen_record(int magic, int i, gen_rec *r)
{
	memset(r, 0, sizeof *r);
	r->ts = magic == 0 ? -1 : 1600000000000LL + i * 10 - (i % 4) * 3;
	r->key_len = i % 5 == 0 ? -1 : snprintf(r->key, sizeof r->key,
						"key-%d", i);
	r->value_len = i % 11 == 7 ? -1 : (i * 13) % 300;
	for (int j = 0; j < r->value_len; j++)
		r->value[j] = (uint8_t)((i * 7 + j) & 0xff);
	r->nh = magic == 2 ? i % 3 : 0;
	for (int k = 0; k < r->nh; k++) {
		int kl = snprintf(r->hkeys[k], sizeof r->hkeys[k], "h%d", k);
		r->hdrs[k].key = (kc_str){r->hkeys[k], kl};
		if (k == 1) {
			r->hdrs[k].value = KC_BYTES_NULL;
		} else {
			int vl = snprintf(r->hvals[k], sizeof r->hvals[k],
					  "v%d-%d", i, k);
			r->hdrs[k].value = kc_bytes_of(r->hvals[k], (size_t)vl);
		}
	}
}

static kc_bytes gen_key(const gen_rec *r)
{
	return r->key_len < 0 ? KC_BYTES_NULL
			      : kc_bytes_of(r->key, (size_t)r->key_len);
}

static kc_bytes gen_value(const gen_rec *r)
{
	return r->value_len < 0 ? KC_BYTES_NULL
				: kc_bytes_of(r->value, (size_t)r->value_len);
}

/* Run the script; returns its exit status and the number of "ok " lines. */
static int run_script(const char *cmd, const char *dir, int *oks)
{
	char line[4096];
	snprintf(line, sizeof line, "/usr/bin/python3 '%s' %s '%s' 2>&1",
		 script, cmd, dir);
	FILE *p = popen(line, "r");
	ck_assert_ptr_nonnull(p);
	*oks = 0;
	while (fgets(line, sizeof line, p)) {
		fputs(line, stderr);
		*oks += strncmp(line, "ok ", 3) == 0;
	}
	return pclose(p);
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static void remove_dir(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(kafka_python_reads_ours)
{
	char dir[] = "/tmp/kafkit-kpy-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (int c = 0; c < NCASES; c++) {
		int magic = cases[c][0], codec = cases[c][1];
		kc_batch_config cfg;
		kc_batch_builder b;
		kc_batch_config_default(&cfg);
		cfg.magic = magic;
		cfg.codec = codec;
		cfg.producer_id = PRODUCER_ID;
		cfg.producer_epoch = PRODUCER_EPOCH;
		cfg.base_sequence = BASE_SEQUENCE;
		cfg.transactional = codec % 2 == 1 && magic == 2;
		ck_assert_int_eq(kc_batch_builder_init(&b, &cfg), KC_OK);
		for (int i = 0; i < NRECORDS; i++) {
			gen_rec r;
			gen_record(magic, i, &r);
			ck_assert_int_eq(kc_batch_append(&b, r.ts, gen_key(&r),
							 gen_value(&r), r.hdrs,
							 (size_t)r.nh),
					 KC_OK);
		}
		const uint8_t *out;
		size_t n;
		ck_assert_int_eq(kc_batch_seal(&b, &out, &n), KC_OK);
		char path[256];
		snprintf(path, sizeof path, "%s/ours-m%d-c%d.bin", dir, magic,
			 codec);
		write_file(path, out, n);
		kc_batch_builder_free(&b);
	}
	int oks;
	int status = run_script("check-ours", dir, &oks);
	remove_dir(dir);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(oks, NCASES);
}
END_TEST

static void check_theirs(const char *dir, int magic, int codec)
{
	char path[256];
	snprintf(path, sizeof path, "%s/kpy-m%d-c%d.bin", dir, magic, codec);
	size_t n;
	uint8_t *data = th_read_file(path, &n);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info info;
	kc_record_view v;
	int got = 0, batches = 0;
	kc_records_iter_init(&it, data, n, KC_ITER_STRICT_END, &err);
	int rc;
	while ((rc = kc_records_next_batch(&it, &info)) == 1) {
		batches++;
		ck_assert(info.crc_ok);
		ck_assert_int_eq(info.magic, magic);
		ck_assert_int_eq(info.codec, codec);
		if (magic == 2) {
			ck_assert_int_eq(info.producer_id, PRODUCER_ID);
			ck_assert_int_eq(info.producer_epoch, PRODUCER_EPOCH);
			ck_assert_int_eq(info.base_sequence, BASE_SEQUENCE);
			ck_assert_int_eq(!!(info.attributes &
					    KC_ATTR_TRANSACTIONAL),
					 codec % 2 == 1);
			ck_assert_int_eq(info.records_count, NRECORDS);
		}
		while ((rc = kc_records_next(&it, &v)) == 1) {
			gen_rec r;
			gen_record(magic, got, &r);
			ck_assert_int_eq(v.offset, got);
			ck_assert_int_eq(v.timestamp, r.ts);
			ck_assert(kc_bytes_eq(v.key, gen_key(&r)));
			ck_assert(kc_bytes_eq(v.value, gen_value(&r)));
			ck_assert_int_eq(v.headers_count, r.nh);
			for (int k = 0; k < r.nh; k++) {
				ck_assert(kc_str_eq(v.headers[k].key,
						    r.hdrs[k].key));
				ck_assert(kc_bytes_eq(v.headers[k].value,
						      r.hdrs[k].value));
			}
			got++;
		}
		ck_assert_int_eq(rc, 0);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(got, NRECORDS);
	ck_assert_int_eq(batches, magic == 2 || codec ? 1 : NRECORDS);
	kc_records_iter_free(&it);
	free(data);
}

START_TEST(we_read_kafka_python)
{
	char dir[] = "/tmp/kafkit-kpy-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	int oks;
	int status = run_script("write-theirs", dir, &oks);
	if (status == 0 && oks == NCASES)
		for (int c = 0; c < NCASES; c++)
			check_theirs(dir, cases[c][0], cases[c][1]);
	remove_dir(dir);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(oks, NCASES);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s path/to/kpy_records.py\n", argv[0]);
		return EXIT_FAILURE;
	}
	script = argv[1];
	Suite *s = suite_create("kpy_interop");
	TCase *t = tcase_create("kafka-python");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, kafka_python_reads_ours);
	tcase_add_test(t, we_read_kafka_python);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
