/* Producer batches through the accumulator: magic 0, 1 and 2 batches
 * decoded back byte-exact, compression at seal with every codec, records
 * lent with a free_cb (referenced, not copied), and restamping the
 * idempotence fields of a sealed batch. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "accumulator.h"
#include "batch.h"
#include "buf_int.h"
#include "helpers.h"
#include "loop.h"

#define NRECS 40
#define NHDRS 20 /* past the stack array: the heap path too */

/* Records carry a free_cb, and values past 8 bytes are referenced. */
static int lending;

static void no_free(void *opaque)
{
	(void)opaque;
}

static kp__acc *acc_new(int codec)
{
	kp__acc_conf c = {
		.batch_size = 1 << 20,
		.buffer_memory = 32 << 20,
		.linger_ms = 5,
		.max_request_size = 1 << 20,
		.codec = codec,
		.level = KC_LEVEL_DEFAULT,
		.partitioner = {.kind = KP__PART_MURMUR2},
		.seed = 1,
		.copy_max = 8,
	};
	kp__acc *a = NULL;
	ck_assert_int_eq(kp__acc_new(&a, &c), KP_OK);
	return a;
}

/* Record i: keys and values null, empty or set; headers in magic 2. */
static char keybuf[NRECS][16], valbuf[NRECS][64];
static kp_header hdrs[NHDRS];

static kp__append record(int i, int magic)
{
	snprintf(keybuf[i], sizeof keybuf[i], "key-%d", i);
	snprintf(valbuf[i], sizeof valbuf[i], "value %d, %s", i,
		 "compressible compressible compressible");
	kp__append r = {
		.topic = "topic",
		.partition = 0,
		.partition_count = 1,
		.magic = magic,
		.timestamp = 1600000000000 + 7 * i,
		.key = i % 5 == 0   ? KC_BYTES_NULL
		       : i % 5 == 1 ? kc_bytes_of("", 0)
				    : th_bstr(keybuf[i]),
		.value = i % 7 == 0   ? KC_BYTES_NULL
			 : i % 7 == 1 ? kc_bytes_of("", 0)
				      : th_bstr(valbuf[i]),
		.opaque = (void *)(uintptr_t)(i + 1),
		.free_cb = lending ? no_free : NULL,
	};
	if (magic == 2 && i % 4 == 3) {
		for (int k = 0; k < NHDRS; k++)
			hdrs[k] = (kp_header){k % 2 ? "odd" : "even",
					      k % 3 ? keybuf[i] : NULL,
					      strlen(keybuf[i])};
		r.nheaders = (size_t)(i % 8 == 3 ? NHDRS : 2);
		r.headers = hdrs;
	}
	return r;
}

/* Append NRECS records, drain them as one batch. */
static kp__batch *build(kp__acc *a, int magic)
{
	kp__append_result res;
	for (int i = 0; i < NRECS; i++) {
		kp__append r = record(i, magic);
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		ck_assert_int_eq(res.new_batch, i == 0);
	}
	ck_assert_int_eq(res.tp->head->magic, magic);
	/* Unsealed: no stamping yet. */
	ck_assert_int_eq(kp__batch_stamp(res.tp->head, 1, 1, 1),
			 KP_ERR_INVALID_ARG);
	res.tp->leader = 0;
	kp__acc_flush_begin(a);
	kp__batch *list = NULL;
	ck_assert_uint_eq(kp__acc_drain(a, 0, (int64_t)kn__now_ms(), 1 << 20,
					&list),
			  1);
	kp__acc_flush_end(a);
	ck_assert_int_eq(list->sealed, 1);
	ck_assert_uint_eq(kp__batch_count(list), NRECS);
	/* Sealing again changes nothing. */
	const uint8_t *wire = list->wire;
	ck_assert_int_eq(kp__batch_seal(list), KP_OK);
	ck_assert_ptr_eq(list->wire, wire);
	/* Only an uncompressed v2 batch keeps referencing lent values. */
	int lends = lending && magic == 2 && list->b.cfg.codec == KC_CODEC_NONE;
	ck_assert_int_eq(list->wire == NULL, lends);
	ck_assert_int_eq(list->wire_lent != NULL, lends);
	if (lends) {
		struct iovec iov[4 * NRECS];
		size_t n = kc_writer_iov(list->wire_lent, iov, 4 * NRECS);
		ck_assert_uint_le(n, 4 * NRECS);
		size_t into_values = 0;
		for (size_t k = 0; k < n; k++) {
			const char *base = iov[k].iov_base;
			into_values += base >= valbuf[0] &&
				       base < valbuf[NRECS - 1] + 64;
		}
		/* Values 2..6 of every 7 are set and longer than 8 bytes. */
		ck_assert_uint_eq(into_values, NRECS * 5 / 7);
	}
	return list;
}

/* Decode b's wire bytes and compare every record with what was sent. */
static void check_decoded(const kp__batch *b, int magic, int codec)
{
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info info;
	kc_record_view v;
	uint8_t *gathered;
	ck_assert_int_eq(kp__batch_gather(b, &gathered), KP_OK);
	ck_assert((gathered == NULL) == (b->wire != NULL));
	kc_records_iter_init(&it, gathered ? gathered : b->wire, b->wire_len,
			     KC_ITER_STRICT_END, &err);
	ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
	ck_assert_int_eq(info.magic, magic);
	ck_assert_int_eq(info.codec, codec);
	ck_assert(info.crc_ok);
	for (int i = 0; i < NRECS; i++) {
		int rc = kc_records_next(&it, &v);
		if (rc == 0 && magic < 2 && codec == KC_CODEC_NONE) {
			/* Uncompressed legacy: one message per entry. */
			ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
			rc = kc_records_next(&it, &v);
		}
		ck_assert_int_eq(rc, 1);
		kp__append r = record(i, magic);
		ck_assert(kc_bytes_eq(v.key, r.key));
		ck_assert(kc_bytes_eq(v.value, r.value));
		ck_assert_int_eq(v.timestamp, magic == 0 ? -1 : r.timestamp);
		ck_assert_int_eq(v.headers_count, (int32_t)r.nheaders);
		for (size_t k = 0; k < r.nheaders; k++) {
			ck_assert(kc_str_eq(v.headers[k].key,
					    kc_str_c(r.headers[k].key)));
			ck_assert(kc_bytes_eq(
				v.headers[k].value,
				kc_bytes_of(r.headers[k].value,
					    r.headers[k].value_len)));
		}
		ck_assert_ptr_eq(b->recs[i].opaque, r.opaque);
		ck_assert_int_eq(b->recs[i].timestamp, r.timestamp);
		ck_assert_uint_eq(b->recs[i].key_len,
				  r.key.len < 0 ? 0 : (size_t)r.key.len);
	}
	ck_assert_int_eq(kc_records_next(&it, &v), 0);
	ck_assert_int_eq(kc_records_next_batch(&it, &info), 0);
	kc_records_iter_free(&it);
	kc__free(gathered);
}

static void done(kp__acc *a, kp__batch *b)
{
	kp__acc_release(a, b);
	ck_assert_uint_eq(kp__acc_memory_used(a), 0);
	kp__acc_destroy(a);
}

/* _i: codec * 3 + magic, + 15 lending. */
START_TEST(formats_and_codecs)
{
	lending = _i >= 15;
	int codec = _i % 15 / 3, magic = _i % 3;
	kp__acc *a = acc_new(codec);
	if (codec == KC_CODEC_ZSTD && magic < 2) {
		kp__append r = record(2, magic);
		kp__append_result res;
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res),
				 KP_ERR_UNSUPPORTED);
		ck_assert_uint_eq(kp__acc_memory_used(a), 0);
		kp__acc_destroy(a);
		return;
	}
	kp__batch *b = build(a, magic);
	check_decoded(b, magic, codec);
	if (codec != KC_CODEC_NONE)
		ck_assert_uint_lt(b->wire_len, kc_batch_bytes(&b->b));
	/* Only magic 2 carries the idempotence fields. */
	if (magic < 2)
		ck_assert_int_eq(kp__batch_stamp(b, 1, 1, 1),
				 KP_ERR_INVALID_ARG);
	done(a, b);
}
END_TEST

START_TEST(magic_change_opens_batch)
{
	lending = 0;
	kp__acc *a = acc_new(KC_CODEC_NONE);
	kp__append_result res;
	kp__append r = record(2, 1);
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	ck_assert_int_eq(res.new_batch, 0);
	r = record(2, 2);
	ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
	ck_assert_int_eq(res.new_batch, 1);
	ck_assert_int_eq(res.tp->head->magic, 1);
	ck_assert_int_eq(res.tp->tail->magic, 2);
	kp__batch *list = NULL;
	kp__acc_abort(a, &list);
	/* A pooled magic-1 batch serves a magic-2 batch, and back. */
	kp__acc_release(a, list->next);
	kp__acc_release(a, list);
	for (int m = 0; m <= 2; m++) {
		r = record(3, m);
		r.nheaders = 0;
		ck_assert_int_eq(kp__acc_append(a, &r, 0, &res), KP_OK);
		ck_assert_int_eq(res.new_batch, 1);
		ck_assert_int_eq(res.tp->tail->magic, m);
	}
	list = NULL;
	ck_assert_uint_eq(kp__acc_abort(a, &list), 3);
	while (list) {
		kp__batch *next = list->next;
		kp__acc_release(a, list);
		list = next;
	}
	kp__acc_destroy(a);
}
END_TEST

/* Contiguous bytes of a sealed batch: b->wire, or gathered into *g. */
static const uint8_t *bytes_of(const kp__batch *b, uint8_t **g)
{
	ck_assert_int_eq(kp__batch_gather(b, g), KP_OK);
	return *g ? *g : b->wire;
}

/* _i: codec, + 5 lending. */
START_TEST(restamp_sealed_batch)
{
	lending = _i > KC_CODEC_ZSTD;
	int codec = _i % (KC_CODEC_ZSTD + 1);
	kp__acc *a = acc_new(codec);
	kp__batch *b = build(a, 2);
	ck_assert_int_eq(b->producer_id, -1);
	ck_assert_int_eq(b->base_sequence, -1);
	const uint8_t *wire = b->wire;
	size_t len = b->wire_len;
	for (int round = 0; round < 2; round++) {
		int64_t pid = round ? 0x7fffffffffffLL : 4321;
		int16_t epoch = (int16_t)(round ? 32767 : 3);
		int32_t seq = round ? 0x7ffffff0 : 17;
		ck_assert_int_eq(kp__batch_stamp(b, pid, epoch, seq), KP_OK);
		ck_assert_int_eq(b->producer_id, pid);
		ck_assert_int_eq(b->producer_epoch, epoch);
		ck_assert_int_eq(b->base_sequence, seq);
		ck_assert_ptr_eq(b->wire, wire);
		ck_assert_uint_eq(b->wire_len, len);
		kc_records_iter it;
		kc_decode_error err;
		kc_batch_info info;
		uint8_t *g;
		kc_records_iter_init(&it, bytes_of(b, &g), b->wire_len,
				     KC_ITER_STRICT_END, &err);
		ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
		ck_assert(info.crc_ok);
		ck_assert_int_eq(info.producer_id, pid);
		ck_assert_int_eq(info.producer_epoch, epoch);
		ck_assert_int_eq(info.base_sequence, seq);
		ck_assert_int_eq(info.records_count, NRECS);
		kc_records_iter_free(&it);
		kc__free(g);
		check_decoded(b, 2, codec);
	}
	/* The pooled builder's next batch starts unstamped. */
	kp__acc_release(a, b);
	b = build(a, 2);
	kc_records_iter it;
	kc_decode_error err;
	kc_batch_info info;
	uint8_t *g;
	kc_records_iter_init(&it, bytes_of(b, &g), b->wire_len,
			     KC_ITER_STRICT_END, &err);
	ck_assert_int_eq(kc_records_next_batch(&it, &info), 1);
	ck_assert_int_eq(info.producer_id, -1);
	ck_assert_int_eq(info.producer_epoch, -1);
	ck_assert_int_eq(info.base_sequence, -1);
	kc_records_iter_free(&it);
	kc__free(g);
	done(a, b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_batch");
	TCase *t = tcase_create("batch");
	tcase_add_loop_test(t, formats_and_codecs, 0, 6 * (KC_CODEC_ZSTD + 1));
	tcase_add_test(t, magic_change_opens_batch);
	tcase_add_loop_test(t, restamp_sealed_batch, 0, 2 * (KC_CODEC_ZSTD + 1));
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
