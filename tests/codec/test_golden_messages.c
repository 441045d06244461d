/* Golden vectors (shared/reference/golden-vectors.md) through the generated
 * codec: request/response bodies P-*, O-*, complete frames P-4, record
 * batches R-*, D-1 and legacy messages M-*, D-2. Each decodes to the stated
 * values; uncompressed ones re-encode to the same bytes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf_int.h"
#include "helpers.h"
#include "kafkit/codec.h"
#include "kafkit/messages.h"

/* ---- vectors ------------------------------------------------------------ */

/* P-1 and sarama's two smaller ProduceRequest v0 bodies. */
#define P1_HEX                                                               \
	"012300000444000000010005746f70696300000001000000ad0000001c000000" \
	"00000000000000001023964af70000ffffffff0000000200ee"
#define P1_EMPTY_HEX "00000000000000000000"
#define P1_HEADER_HEX "01230000044400000000"
#define P2_HEX                                                               \
	"ffff012300000444000000010005746f70696300000001000000ad0000005200" \
	"00000000000000000000460000000002ca33bc05000000000001000001588dcd" \
	"5938000000000000000000000000000000000000000000000000000128000a00" \
	"080102030406050607020608090a040b0c"
#define P3_HEX                                                               \
	"000123000004440206746f70696302000000ad53000000000000000000000046" \
	"0000000002ca33bc05000000000001000001588dcd5938000000000000000000" \
	"000000000000000000000000000000000128000a000801020304060506070206" \
	"08090a040b0c000000"
#define P4_V0_HEX                                                            \
	"00000046000000000000007b0003666f6f012300000444000000010005746f70" \
	"696300000001000000ad0000001c00000000000000000000001023964af70000" \
	"ffffffff0000000200ee"
#define P4_V3_HEX                                                            \
	"0000007e000000030000007b0003666f6fffff01230000044400000001000574" \
	"6f70696300000001000000ad0000005200000000000000000000004600000000" \
	"02ca33bc05000000000001000001588dcd593800000000000000000000000000" \
	"0000000000000000000000000128000a00080102030406050607020608090a04" \
	"0b0c"
#define P4_V9_HEX                                                            \
	"00000077000000090000007b0003666f6f00000123000004440206746f706963" \
	"02000000ad530000000000000000000000460000000002ca33bc050000000000" \
	"01000001588dcd59380000000000000000000000000000000000000000000000" \
	"00000128000a00080102030406050607020608090a040b0c000000"
#define P5_V0_HEX "000000010003666f6f0000000100000001000200000000000000ff"
#define P5_V1_HEX P5_V0_HEX "00000064"
#define P5_V2_HEX                                                            \
	"000000010003666f6f0000000100000001000200000000000000ff0000000000" \
	"0003e800000064"
#define P5_V7_HEX                                                            \
	"000000010003666f6f0000000100000001000200000000000000ff0000000000" \
	"0003e8000000000000003200000064"
#define P5_V8_HEX                                                            \
	"000000010003666f6f0000000100000001000200000000000000ff0000000000" \
	"0003e80000000000000032000000010000000300076261642072656300096261" \
	"6420626174636800000064"
/* v10 without tagged fields is byte-identical to v9. */
#define P5_V9_HEX                                                            \
	"0204666f6f0200000001000200000000000000ff00000000000003e800000000" \
	"0000003202000000030862616420726563000a62616420626174636800000000" \
	"006400"
#define P6_HEX                                                               \
	"0204666f6f0200000001000600000000000000ffffffffffffffffff00000000" \
	"000000320100010009000000050000000700000000006401000d020000000502" \
	"68000023840000"

#define O1_HEX "ffff00000064"
#define O2_HEX "000374786e00000064"
#define O3_HEX "0474786e0000006400"
#define O4_HEX "0474786e00000064000000000000007b014100"
#define O5_HEX "0000006400000000000000001f400000"
#define O6_HEX "000000640033ffffffffffffffff0000"
#define O7_HEX "000000640033ffffffffffffffff000000"
#define O8_HEX "07736172616d6107302e31302e3000"

#define R1_HEX                                                               \
	"0000000000000000000000310000000002595fb7dd0000000000000000000000" \
	"0000000000000000000000000000000000000000000000000000000000"
#define R2_HEX                                                               \
	"0000000000000000000000310000000002512e43d90020000000000000000000" \
	"0000000000000000000000000000000000000000000000000000000000"
#define R3_HEX                                                               \
	"0000000000000000000000460000000002547961fd000000000000000001588d" \
	"cd5938000000000000000000000000000000000000000000000000000128000a" \
	"00080102030406050607020608090a040b0c"
#define R4_HEX                                                               \
	"00000000000000000000005f0000000002e74acea5000100000000000001588d" \
	"cd593800000000000000000000000000000000000000000000000000011f8b08" \
	"0000096e8800ff001500eaff28000a00080102030406050607020608090a040b" \
	"0c0300adc9586715000000"
#define R5_HEX                                                               \
	"00000000000000000000005c00000000028564b224000200000000000001588d" \
	"cd5938000000000000000000000000000000000000000000000000000182534e" \
	"4150505900000000010000000100000017155028000a00080102030406050607" \
	"020608090a040b0c"
#define R6_HEX                                                               \
	"00000000000000000000005900000000029d1291f8000300000000000001588d" \
	"cd5938000000000000000000000000000000000000000000000000000104224d" \
	"186440a71500008028000a00080102030406050607020608090a040b0c000000" \
	"000c3bef92"
#define R7_HEX                                                               \
	"00000000000000000000003b00000001020318a2700000000000000000015dff" \
	"7b063c0000015dff7b063cffffffffffffffffffffffffffff00000001120000" \
	"00010631323300"
#define R8_HEX                                                               \
	"0000000000000001000000400000000202c85cbd230000000000010000015dff" \
	"7cdd6c0000015dff7cde14ffffffffffffffffffffffffffff000000020c0000" \
	"000100000e00d00202010000"
#define R9_HEX                                                               \
	"00000000000000030000003b00000002022e0b85b70000000000000000015dff" \
	"7ce79d0000015dff7ce79dffffffffffffffffffffffffffff00000001120000" \
	"00010631323300"
#define R10_HEX                                                              \
	"00000000000000000000004500000000025cd8ef520000000000000000016585" \
	"b6f3c10000016585b6f3c1ffffffffffffffffffffffffffff00000001260000" \
	"0001066864720208686b6579086876616c"
#define R11_HEX                                                              \
	"00000000000000000000005200000000026597ffd00020000000000000000000" \
	"98967f000000000098967fffffffffffffffffffffffffffff00000001400000" \
	"0008000000002c6f70617175652d636f6e74726f6c2d6d65737361676500"
#define D1_HEX                                                               \
	"000000000000000000000055000000000219d9ba31000300000000000001588d" \
	"cd5938000000000000000000000000000000000000000000000000000104224d" \
	"186040821500008028000a00080102030406050607020608090a040b0c000000" \
	"00"

#define M1_HEX                                                               \
	"000000000000000000000011feb01dbf0000ffffffff00000003313233000000" \
	"00000000010000000e795748e00000ffffffff00000000000000000000000200" \
	"00000e795748e00000ffffffff00000000000000000000000300000011feb01d" \
	"bf0000ffffffff00000003313233"
#define M2_HEX                                                               \
	"000000000000000000000019478628c201000000015e1867abaeffffffff0000" \
	"0003313233000000000000000100000016ef98c92001000000015e1867afc0ff" \
	"ffffff000000000000000000000002000000165faffb5e01000000015e1867b0" \
	"72ffffffff00000000000000000000000300000019a812572001000000015e18" \
	"67b803ffffffff00000003313233"
#define M3_HEX                                                               \
	"0000000000000000000000171095c9ca00000000000474657374000000055375" \
	"706572"
#define M4_HEX                                                               \
	"00000000000000000000001f831fac850100000000000098967f000000047465" \
	"7374000000055375706572"
/* M-5..M-10 are bare messages (from crc on): prefixed here with offset 0
 * and message_size, as the vectors' own "Decodes to" lines do. */
#define M5_HEX "00000000000000000000000e" "a7ec68030000ffffffffffffffff"
#define M6_HEX                                                               \
	"000000000000000000000016" "cc2f79d901000000000000000000ffffffff" \
	"ffffffff"
#define M7_HEX                                                               \
	"000000000000000000000022"                                         \
	"c42e5cb10001ffffffff000000141f8b080000096e8800ff0300000000000000" \
	"0000"
#define M8_HEX                                                               \
	"000000000000000000000035"                                         \
	"8ba03f8d0001ffffffff000000271f8b080000000000000063608003beca708f" \
	"070c0cff810021c8c088290300c7e29b4634000000"
#define M9_HEX                                                               \
	"000000000000000000000038"                                         \
	"b42f35d10002ffffffff0000002a82534e415050590000000001000000010000" \
	"00163400001901100ee38a6876190f0d01080100003e1a00"
#define M10_HEX                                                              \
	"000000000000000000000025"                                         \
	"882af5be0103000001588dcd5938ffffffff0000000f04224d186440a7000000" \
	"00055dcc02"
#define D2_HEX                                                               \
	"00000000000000020000005c2e75f7e1010100000000000003edffffffff0000" \
	"00461f8b080000000000000363608003f1aed497b98c500ef38bff4000643026" \
	"42454032e27fd65d7e0957f212a624092ac20452d2e4e4cc0a57f216a6241900" \
	"8b286cac69000000"

/* ---- harness ------------------------------------------------------------ */

/* One vector under test: its bytes, and a copy that ends at a PROT_NONE
 * page so that any over-read crashes instead of passing. */
typedef struct vec {
	uint8_t *bytes;
	size_t n;
	uint8_t *in;
	kc_reader r;
	kc_decode_error err;
	kc_arena arena;
} vec;

static void vec_rewind(vec *v, unsigned flags)
{
	memset(&v->err, 0, sizeof v->err);
	kc_reader_init(&v->r, v->in, v->n, &v->err);
	v->r.flags = flags;
	kc_arena_reset(&v->arena);
}

static void vec_open(vec *v, const char *hex)
{
	v->bytes = th_hex(hex, &v->n);
	v->in = th_guard_copy(v->bytes, v->n);
	kc_arena_init(&v->arena);
	vec_rewind(v, 0);
}

static void vec_close(vec *v)
{
	kc_arena_free(&v->arena);
	th_guard_free(v->in, v->n);
	free(v->bytes);
}

static const char *err_text(const kc_decode_error *e)
{
	static char buf[256];
	kc_decode_error_format(e, buf, sizeof buf);
	return buf;
}

/* The writer holds exactly n bytes equal to want. */
static void expect_written(const kc_writer *w, const uint8_t *want, size_t n)
{
	ck_assert_int_eq(kc_writer_err(w), KC_OK);
	ck_assert_uint_eq(kc_writer_pos(w), n);
	if (n > 0)
		ck_assert_mem_eq(kc_writer_data(w), want, n);
}

/* Decode the whole vector as kc_<stem> at version ver into *m. */
#define DECODE_ALL(stem, v, m, ver)                                            \
	do {                                                                   \
		kc_##stem##_init(m);                                           \
		kc_err e_ = kc_##stem##_decode(&(v)->r, (m), (int16_t)(ver),   \
					       &(v)->arena);                   \
		ck_assert_msg(e_ == KC_OK, "%s v%d: %s", #stem, (int)(ver),   \
			      err_text(&(v)->err));                            \
		ck_assert_uint_eq(kc_reader_left(&(v)->r), 0);                 \
	} while (0)

/* Encoding *m at version ver gives the vector's bytes; size() agrees. */
#define REENCODE(stem, v, m, ver)                                              \
	do {                                                                   \
		kc_writer w_;                                                  \
		kc_writer_init(&w_);                                           \
		ck_assert_int_eq(kc_##stem##_encode(&w_, (m), (int16_t)(ver)), \
				 KC_OK);                                       \
		ck_assert_uint_eq(kc_##stem##_size((m), (int16_t)(ver)),       \
				  (v)->n);                                     \
		expect_written(&w_, (v)->bytes, (v)->n);                       \
		kc_writer_free(&w_);                                           \
	} while (0)

/* A string equal to want; want NULL means null. */
static void expect_str(kc_str s, const char *want)
{
	if (!want) {
		ck_assert_int_eq(s.len, -1);
		return;
	}
	ck_assert_int_eq(s.len, (int32_t)strlen(want));
	if (s.len > 0)
		ck_assert_mem_eq(s.ptr, want, (size_t)s.len);
}

/* ---- record formats: expected values ------------------------------------ */

typedef struct batch_want {
	int64_t base_offset;
	int32_t batch_length;
	int32_t partition_leader_epoch;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t records_count;
} batch_want;

typedef struct record_want {
	int32_t length;
	int64_t timestamp_delta;
	int32_t offset_delta;
	const char *key;   /* hex; NULL = null */
	const char *value; /* hex; NULL = null */
	const char *hkey;  /* one header's key (text), NULL = no header */
	const char *hvalue; /* its value (hex) */
} record_want;

/* The record of R-3 (and of R-4..R-6, D-1, P-2, P-3). */
static const record_want r3_record = {20, 5, 0, "01020304", "050607",
				      "\x08\x09\x0a", "0b0c"};

/* Header fields only: batch_length and crc are checked where the bytes
 * are the vector's own. */
static void expect_batch_header(const kc_record_batch *b, const batch_want *w)
{
	ck_assert_int_eq(b->base_offset, w->base_offset);
	ck_assert_int_eq(b->partition_leader_epoch, w->partition_leader_epoch);
	ck_assert_int_eq(b->magic, 2);
	ck_assert_int_eq(b->attributes, w->attributes);
	ck_assert_int_eq(b->last_offset_delta, w->last_offset_delta);
	ck_assert_int_eq(b->base_timestamp, w->base_timestamp);
	ck_assert_int_eq(b->max_timestamp, w->max_timestamp);
	ck_assert_int_eq(b->producer_id, w->producer_id);
	ck_assert_int_eq(b->producer_epoch, w->producer_epoch);
	ck_assert_int_eq(b->base_sequence, w->base_sequence);
	ck_assert_int_eq(b->records_count, w->records_count);
}

static void expect_batch(const kc_record_batch *b, const batch_want *w)
{
	expect_batch_header(b, w);
	ck_assert_int_eq(b->batch_length, w->batch_length);
	ck_assert_uint_eq(b->crc, w->crc);
}

static void expect_record(const kc_record *r, const record_want *w)
{
	ck_assert_int_eq(r->length, w->length);
	ck_assert_int_eq(r->attributes, 0);
	ck_assert_int_eq(r->timestamp_delta, w->timestamp_delta);
	ck_assert_int_eq(r->offset_delta, w->offset_delta);
	th_assert_bytes_hex(r->key, w->key);
	th_assert_bytes_hex(r->value, w->value);
	if (!w->hkey) {
		ck_assert_int_eq(r->headers_count, 0);
		return;
	}
	ck_assert_int_eq(r->headers_count, 1);
	expect_str(r->headers[0].key, w->hkey);
	th_assert_bytes_hex(r->headers[0].value, w->hvalue);
}

/* Decode the RecordBatch in bytes (a records field or a vector). */
static void decode_batch(const void *p, size_t n, kc_record_batch *b,
			 kc_arena *arena)
{
	kc_decode_error err = {0};
	kc_reader r;
	kc_reader_init(&r, p, n, &err);
	kc_record_batch_init(b);
	ck_assert_msg(kc_record_batch_decode(&r, b, 2, arena) == KC_OK, "%s",
		      err_text(&err));
	ck_assert_uint_eq(kc_reader_left(&r), 0);
	ck_assert(b->crc_ok);
}

/* The batch of P-2/P-3: R-3's record with lastOffsetDelta 1. */
static void expect_p2_batch(kc_bytes records, kc_arena *arena)
{
	static const batch_want want = {0, 70, 0, 0xca33bc05, 0, 1,
					1479847795000LL, 0, 0, 0, 0, 1};
	kc_record_batch b;
	ck_assert_int_eq(records.len, 82);
	decode_batch(records.ptr, (size_t)records.len, &b, arena);
	expect_batch(&b, &want);
	expect_record(&b.records[0], &r3_record);
}

typedef struct legacy_want {
	int64_t offset;
	int32_t message_size;
	uint32_t crc;
	int8_t magic;
	int8_t attributes;
	int64_t timestamp; /* magic 1 only */
	const char *key;   /* hex; NULL = null */
	const char *value; /* hex; NULL = null; or WRAPPED */
} legacy_want;

/* legacy_want.value of a compressed wrapper: its inner set is checked
 * apart (a distinct object, compared by address). */
static const char wrapped[] = "wrapper";
#define WRAPPED wrapped

/* Decode one legacy entry; the version is its magic byte (offset 16). */
static kc_err decode_legacy(kc_reader *r, kc_legacy_message *m,
			    kc_arena *arena)
{
	int16_t magic = kc_reader_left(r) > 16 ? (int16_t)r->p[16] : 0;
	kc_legacy_message_init(m);
	return kc_legacy_message_decode(r, m, magic, arena);
}

static void expect_legacy(const kc_legacy_message *m, const legacy_want *w)
{
	ck_assert_int_eq(m->offset, w->offset);
	ck_assert_int_eq(m->message_size, w->message_size);
	ck_assert_uint_eq(m->crc, w->crc);
	ck_assert(m->crc_ok);
	ck_assert_int_eq(m->magic, w->magic);
	ck_assert_int_eq(m->attributes, w->attributes);
	ck_assert_int_eq(m->timestamp, w->magic == 1 ? w->timestamp : -1);
	th_assert_bytes_hex(m->key, w->key);
	if (w->value != WRAPPED)
		th_assert_bytes_hex(m->value, w->value);
}

/* Decode a whole MessageSet of nwant entries and check each; when
 * `reencode`, encoding the entries again gives the same bytes. */
static void expect_message_set(const uint8_t *p, size_t n,
			       const legacy_want *want, size_t nwant,
			       bool reencode)
{
	kc_decode_error err = {0};
	kc_reader r;
	kc_arena arena;
	kc_writer w;
	kc_reader_init(&r, p, n, &err);
	kc_arena_init(&arena);
	kc_writer_init(&w);
	for (size_t i = 0; i < nwant; i++) {
		kc_legacy_message m;
		ck_assert_msg(decode_legacy(&r, &m, &arena) == KC_OK,
			      "entry %zu: %s", i, err_text(&err));
		expect_legacy(&m, &want[i]);
		ck_assert_int_eq(kc_legacy_message_encode(&w, &m, m.magic),
				 KC_OK);
	}
	ck_assert_uint_eq(kc_reader_left(&r), 0);
	if (reencode)
		expect_written(&w, p, n);
	kc_writer_free(&w);
	kc_arena_free(&arena);
}

/* The inner MessageSet of a compressed legacy wrapper. */
static void expect_inner_set(const kc_legacy_message *wrapper,
			     const legacy_want *want, size_t nwant)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	ck_assert_int_eq(kc_decompress(wrapper->attributes & 7, 0,
				       wrapper->value.ptr,
				       (size_t)wrapper->value.len,
				       KC_DEFAULT_MAX_DECOMPRESSED, &out,
				       &out_len),
			 KC_OK);
	expect_message_set(out, out_len, want, nwant, true);
	kc_free(out);
}

/* ---- P: Produce --------------------------------------------------------- */

START_TEST(test_p1_produce_v0_to_v2)
{
	static const legacy_want msg = {0, 16, 0x23964af7, 0, 0, 0, NULL,
					"00ee"};
	vec v;
	vec_open(&v, P1_HEX);
	for (int ver = 0; ver <= 2; ver++) {
		kc_produce_request m;
		vec_rewind(&v, 0);
		DECODE_ALL(produce_request, &v, &m, ver);
		expect_str(m.transactional_id, NULL); /* v3+ only: default */
		ck_assert_int_eq(m.acks, 291);
		ck_assert_int_eq(m.timeout_ms, 1092);
		ck_assert_int_eq(m.topic_data_count, 1);
		expect_str(m.topic_data[0].name, "topic");
		ck_assert_int_eq(m.topic_data[0].partition_data_count, 1);
		ck_assert_int_eq(m.topic_data[0].partition_data[0].index, 173);
		kc_bytes rec = m.topic_data[0].partition_data[0].records;
		ck_assert_int_eq(rec.len, 28);
		expect_message_set(rec.ptr, (size_t)rec.len, &msg, 1, true);
		REENCODE(produce_request, &v, &m, ver);
	}
	vec_close(&v);
}
END_TEST

START_TEST(test_p1_produce_small_bodies)
{
	vec v;
	kc_produce_request m;
	vec_open(&v, P1_EMPTY_HEX);
	DECODE_ALL(produce_request, &v, &m, 0);
	ck_assert_int_eq(m.acks, 0);
	ck_assert_int_eq(m.timeout_ms, 0);
	ck_assert_int_eq(m.topic_data_count, 0);
	REENCODE(produce_request, &v, &m, 0);
	vec_close(&v);

	vec_open(&v, P1_HEADER_HEX);
	DECODE_ALL(produce_request, &v, &m, 0);
	ck_assert_int_eq(m.acks, 291);
	ck_assert_int_eq(m.timeout_ms, 1092);
	ck_assert_int_eq(m.topic_data_count, 0);
	REENCODE(produce_request, &v, &m, 0);
	vec_close(&v);
}
END_TEST

/* P-2 is valid for v3-v8, P-3 for v9-v11. */
START_TEST(test_p2_p3_produce_record_batch)
{
	static const struct {
		const char *hex;
		int lo, hi;
	} cases[] = {{P2_HEX, 3, 8}, {P3_HEX, 9, 11}};
	for (size_t c = 0; c < 2; c++) {
		vec v;
		vec_open(&v, cases[c].hex);
		for (int ver = cases[c].lo; ver <= cases[c].hi; ver++) {
			kc_produce_request m;
			vec_rewind(&v, 0);
			DECODE_ALL(produce_request, &v, &m, ver);
			expect_str(m.transactional_id, NULL);
			ck_assert_int_eq(m.acks, 291);
			ck_assert_int_eq(m.timeout_ms, 1092);
			ck_assert_int_eq(m.topic_data_count, 1);
			expect_str(m.topic_data[0].name, "topic");
			ck_assert_int_eq(m.topic_data[0].partition_data_count, 1);
			ck_assert_int_eq(
				m.topic_data[0].partition_data[0].index, 173);
			expect_p2_batch(
				m.topic_data[0].partition_data[0].records,
				&v.arena);
			REENCODE(produce_request, &v, &m, ver);
		}
		vec_close(&v);
	}
}
END_TEST

/* P-4: int32 size, RequestHeader (v1, or v2 for flexible versions), body. */
START_TEST(test_p4_produce_frames)
{
	static const struct {
		const char *hex;
		int version;
		int header_version;
	} cases[] = {{P4_V0_HEX, 0, 1}, {P4_V3_HEX, 3, 1}, {P4_V9_HEX, 9, 2}};
	for (size_t c = 0; c < 3; c++) {
		vec v;
		int32_t size;
		kc_request_header h;
		kc_produce_request m;
		vec_open(&v, cases[c].hex);
		ck_assert_int_eq(kc_request_header_version(
					 KC_PRODUCE_REQUEST_API_KEY,
					 (int16_t)cases[c].version),
				 cases[c].header_version);
		ck_assert_int_eq(kc__r_i32(&v.r, &size, "size"), KC_OK);
		ck_assert_int_eq(size, (int32_t)(v.n - 4));
		kc_request_header_init(&h);
		ck_assert_int_eq(kc_request_header_decode(
					 &v.r, &h,
					 (int16_t)cases[c].header_version,
					 &v.arena),
				 KC_OK);
		ck_assert_int_eq(h.request_api_key, 0);
		ck_assert_int_eq(h.request_api_version, cases[c].version);
		ck_assert_int_eq(h.correlation_id, 123);
		expect_str(h.client_id, "foo");
		DECODE_ALL(produce_request, &v, &m, cases[c].version);
		ck_assert_int_eq(m.acks, 291);
		expect_str(m.topic_data[0].name, "topic");

		kc_writer w;
		kc_writer_init(&w);
		kc_wslot slot = kc_writer_reserve(&w, 4);
		ck_assert_int_eq(kc_request_header_encode(
					 &w, &h,
					 (int16_t)cases[c].header_version),
				 KC_OK);
		ck_assert_int_eq(kc_produce_request_encode(
					 &w, &m, (int16_t)cases[c].version),
				 KC_OK);
		kc_writer_patch_i32(&w, slot,
				    (int32_t)kc_writer_since(&w, slot));
		expect_written(&w, v.bytes, v.n);
		kc_writer_free(&w);
		vec_close(&v);
	}
}
END_TEST

/* P-5: one topic "foo", partition 1, CORRUPT_MESSAGE, base offset 255. */
static void expect_p5(const kc_produce_response *m, int ver)
{
	ck_assert_int_eq(m->responses_count, 1);
	expect_str(m->responses[0].name, "foo");
	ck_assert_int_eq(m->responses[0].partition_responses_count, 1);
	const kc_produce_response_partition_produce_response *p =
		&m->responses[0].partition_responses[0];
	ck_assert_int_eq(p->index, 1);
	ck_assert_int_eq(p->error_code, 2);
	ck_assert_int_eq(p->base_offset, 255);
	ck_assert_int_eq(m->throttle_time_ms, ver >= 1 ? 100 : 0);
	ck_assert_int_eq(p->log_append_time_ms, ver >= 2 ? 1000 : -1);
	ck_assert_int_eq(p->log_start_offset, ver >= 5 ? 50 : -1);
	if (ver >= 8) {
		ck_assert_int_eq(p->record_errors_count, 1);
		ck_assert_int_eq(p->record_errors[0].batch_index, 3);
		expect_str(p->record_errors[0].batch_index_error_message,
			   "bad rec");
		expect_str(p->error_message, "bad batch");
	} else {
		ck_assert_int_eq(p->record_errors_count, 0);
		expect_str(p->error_message, NULL);
	}
	/* no tagged fields: CurrentLeader and NodeEndpoints keep defaults */
	ck_assert_int_eq(p->current_leader.leader_id, -1);
	ck_assert_int_eq(p->current_leader.leader_epoch, -1);
	ck_assert_int_eq(m->node_endpoints_count, 0);
}

START_TEST(test_p5_produce_response_versions)
{
	/* v7's bytes are the v5/v6 layout; v9's are v10's (and v11's). */
	static const struct {
		const char *hex;
		int lo, hi;
	} cases[] = {
		{P5_V0_HEX, 0, 0}, {P5_V1_HEX, 1, 1}, {P5_V2_HEX, 2, 2},
		{P5_V7_HEX, 5, 7}, {P5_V8_HEX, 8, 8}, {P5_V9_HEX, 9, 11},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		vec v;
		vec_open(&v, cases[c].hex);
		for (int ver = cases[c].lo; ver <= cases[c].hi; ver++) {
			kc_produce_response m;
			vec_rewind(&v, 0);
			DECODE_ALL(produce_response, &v, &m, ver);
			expect_p5(&m, ver);
			REENCODE(produce_response, &v, &m, ver);
		}
		vec_close(&v);
	}
}
END_TEST

START_TEST(test_p6_produce_response_tagged)
{
	vec v;
	vec_open(&v, P6_HEX);
	for (int ver = 10; ver <= 11; ver++) {
		kc_produce_response m;
		vec_rewind(&v, 0);
		DECODE_ALL(produce_response, &v, &m, ver);
		ck_assert_int_eq(m.responses_count, 1);
		expect_str(m.responses[0].name, "foo");
		ck_assert_int_eq(m.responses[0].partition_responses_count, 1);
		const kc_produce_response_partition_produce_response *p =
			&m.responses[0].partition_responses[0];
		ck_assert_int_eq(p->index, 1);
		ck_assert_int_eq(p->error_code, 6);
		ck_assert_int_eq(p->base_offset, 255);
		ck_assert_int_eq(p->log_append_time_ms, -1);
		ck_assert_int_eq(p->log_start_offset, 50);
		/* an empty array, not a null one */
		ck_assert_int_eq(p->record_errors_count, 0);
		expect_str(p->error_message, NULL);
		ck_assert_int_eq(p->current_leader.leader_id, 5);
		ck_assert_int_eq(p->current_leader.leader_epoch, 7);
		ck_assert_int_eq(m.throttle_time_ms, 100);
		ck_assert_int_eq(m.node_endpoints_count, 1);
		ck_assert_int_eq(m.node_endpoints[0].node_id, 5);
		expect_str(m.node_endpoints[0].host, "h");
		ck_assert_int_eq(m.node_endpoints[0].port, 9092);
		expect_str(m.node_endpoints[0].rack, NULL);
		REENCODE(produce_response, &v, &m, ver);
	}
	vec_close(&v);
}
END_TEST

/* ---- O: InitProducerId, ApiVersions ------------------------------------- */

START_TEST(test_o1_to_o4_init_producer_id_request)
{
	static const struct {
		const char *hex;
		int lo, hi;
		const char *txn;
		int64_t producer_id;
		int16_t producer_epoch;
	} cases[] = {
		{O1_HEX, 0, 1, NULL, -1, -1},
		{O2_HEX, 0, 1, "txn", -1, -1},
		{O3_HEX, 2, 2, "txn", -1, -1},
		{O4_HEX, 3, 5, "txn", 123, 321},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		vec v;
		vec_open(&v, cases[c].hex);
		for (int ver = cases[c].lo; ver <= cases[c].hi; ver++) {
			kc_init_producer_id_request m;
			vec_rewind(&v, 0);
			DECODE_ALL(init_producer_id_request, &v, &m, ver);
			expect_str(m.transactional_id, cases[c].txn);
			ck_assert_int_eq(m.transaction_timeout_ms, 100);
			ck_assert_int_eq(m.producer_id, cases[c].producer_id);
			ck_assert_int_eq(m.producer_epoch,
					 cases[c].producer_epoch);
			REENCODE(init_producer_id_request, &v, &m, ver);
		}
		vec_close(&v);
	}
}
END_TEST

START_TEST(test_o5_to_o7_init_producer_id_response)
{
	static const struct {
		const char *hex;
		int lo, hi;
		int16_t error_code;
		int64_t producer_id;
	} cases[] = {
		{O5_HEX, 0, 1, 0, 8000},
		{O6_HEX, 0, 1, 51, -1},
		{O7_HEX, 2, 5, 51, -1},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		vec v;
		vec_open(&v, cases[c].hex);
		for (int ver = cases[c].lo; ver <= cases[c].hi; ver++) {
			kc_init_producer_id_response m;
			vec_rewind(&v, 0);
			DECODE_ALL(init_producer_id_response, &v, &m, ver);
			ck_assert_int_eq(m.throttle_time_ms, 100);
			ck_assert_int_eq(m.error_code, cases[c].error_code);
			ck_assert_int_eq(m.producer_id, cases[c].producer_id);
			ck_assert_int_eq(m.producer_epoch, 0);
			REENCODE(init_producer_id_response, &v, &m, ver);
		}
		vec_close(&v);
	}
}
END_TEST

START_TEST(test_o8_api_versions_request)
{
	vec v;
	vec_open(&v, O8_HEX);
	for (int ver = 3; ver <= 4; ver++) {
		kc_api_versions_request m;
		vec_rewind(&v, 0);
		DECODE_ALL(api_versions_request, &v, &m, ver);
		expect_str(m.client_software_name, "sarama");
		expect_str(m.client_software_version, "0.10.0");
		REENCODE(api_versions_request, &v, &m, ver);
	}
	vec_close(&v);

	/* v0-2: an empty body */
	vec_open(&v, "");
	for (int ver = 0; ver <= 2; ver++) {
		kc_api_versions_request m;
		vec_rewind(&v, 0);
		DECODE_ALL(api_versions_request, &v, &m, ver);
		expect_str(m.client_software_name, "");
		REENCODE(api_versions_request, &v, &m, ver);
	}
	vec_close(&v);
}
END_TEST

/* ---- R, D-1: RecordBatch ------------------------------------------------ */

static const struct batch_case {
	const char *id;
	const char *hex;
	batch_want want;
	int nrecords;
	record_want records[2];
} batch_cases[] = {
	{"R-1", R1_HEX, {0, 49, 0, 0x595fb7dd, 0, 0, 0, 0, 0, 0, 0, 0}, 0, {{0}}},
	{"R-2", R2_HEX, {0, 49, 0, 0x512e43d9, 0x20, 0, 0, 0, 0, 0, 0, 0}, 0,
	 {{0}}},
	{"R-3", R3_HEX,
	 {0, 70, 0, 0x547961fd, 0, 0, 1479847795000LL, 0, 0, 0, 0, 1}, 1,
	 {{20, 5, 0, "01020304", "050607", "\x08\x09\x0a", "0b0c"}}},
	{"R-4", R4_HEX,
	 {0, 95, 0, 0xe74acea5, 1, 0, 1479847795000LL, 0, 0, 0, 0, 1}, 1,
	 {{20, 5, 0, "01020304", "050607", "\x08\x09\x0a", "0b0c"}}},
	{"R-5", R5_HEX,
	 {0, 92, 0, 0x8564b224, 2, 0, 1479847795000LL, 0, 0, 0, 0, 1}, 1,
	 {{20, 5, 0, "01020304", "050607", "\x08\x09\x0a", "0b0c"}}},
	{"R-6", R6_HEX,
	 {0, 89, 0, 0x9d1291f8, 3, 0, 1479847795000LL, 0, 0, 0, 0, 1}, 1,
	 {{20, 5, 0, "01020304", "050607", "\x08\x09\x0a", "0b0c"}}},
	{"R-7", R7_HEX,
	 {0, 59, 1, 0x0318a270, 0, 0, 1503229838908LL, 1503229838908LL, -1, -1,
	  -1, 1},
	 1, {{9, 0, 0, NULL, "313233", NULL, NULL}}},
	{"R-8", R8_HEX,
	 {1, 64, 2, 0xc85cbd23, 0, 1, 1503229959532LL, 1503229959700LL, -1, -1,
	  -1, 2},
	 2,
	 {{6, 0, 0, NULL, "", NULL, NULL}, {7, 168, 1, NULL, "", NULL, NULL}}},
	{"R-9", R9_HEX,
	 {3, 59, 2, 0x2e0b85b7, 0, 0, 1503229962141LL, 1503229962141LL, -1, -1,
	  -1, 1},
	 1, {{9, 0, 0, NULL, "313233", NULL, NULL}}},
	{"R-10", R10_HEX,
	 {0, 69, 0, 0x5cd8ef52, 0, 0, 1535546684353LL, 1535546684353LL, -1, -1,
	  -1, 1},
	 1, {{19, 0, 0, NULL, "686472", "hkey", "6876616c"}}},
	{"D-1", D1_HEX,
	 {0, 85, 0, 0x19d9ba31, 3, 0, 1479847795000LL, 0, 0, 0, 0, 1}, 1,
	 {{20, 5, 0, "01020304", "050607", "\x08\x09\x0a", "0b0c"}}},
};

static void expect_batch_records(const kc_record_batch *b,
				 const struct batch_case *c)
{
	ck_assert_int_eq(b->records_count, c->nrecords);
	for (int i = 0; i < c->nrecords; i++)
		expect_record(&b->records[i], &c->records[i]);
}

/* Uncompressed batches re-encode byte-exact; compressed ones (our
 * compressor's bytes may differ) must decode back to the same batch. */
START_TEST(test_record_batches)
{
	const struct batch_case *c = &batch_cases[_i];
	vec v;
	kc_record_batch b;
	kc_writer w;
	vec_open(&v, c->hex);
	DECODE_ALL(record_batch, &v, &b, 2);
	ck_assert_msg(b.crc_ok, "%s: crc", c->id);
	expect_batch(&b, &c->want);
	expect_batch_records(&b, c);

	kc_writer_init(&w);
	ck_assert_int_eq(kc_record_batch_encode(&w, &b, 2), KC_OK);
	ck_assert_int_eq(kc_writer_err(&w), KC_OK);
	if ((c->want.attributes & KC_ATTR_CODEC_MASK) == 0) {
		ck_assert_uint_eq(kc_record_batch_size(&b, 2), v.n);
		expect_written(&w, v.bytes, v.n);
	} else {
		kc_record_batch again;
		kc_arena arena;
		kc_arena_init(&arena);
		decode_batch(kc_writer_data(&w), kc_writer_pos(&w), &again,
			     &arena);
		expect_batch_header(&again, &c->want);
		ck_assert_int_eq(again.batch_length,
				 (int32_t)(kc_writer_pos(&w) - 12));
		expect_batch_records(&again, c);
		kc_arena_free(&arena);
	}
	kc_writer_free(&w);
	vec_close(&v);
}
END_TEST

/* R-11's stored CRC does not match its bytes (CRC-32C is 0xd56b5fb4). */
START_TEST(test_r11_bad_crc)
{
	static const record_want rec = {32, 0, 0, "00000000",
					"6f70617175652d636f6e74726f6c2d6d6573"
					"73616765",
					NULL, NULL};
	static const batch_want want = {0, 82, 0, 0x6597ffd0, 0x20, 0,
					9999999, 9999999, -1, -1, -1, 1};
	vec v;
	kc_record_batch b;
	vec_open(&v, R11_HEX);

	kc_record_batch_init(&b);
	ck_assert_int_eq(kc_record_batch_decode(&v.r, &b, 2, &v.arena),
			 KC_ERR_CRC);
	ck_assert_int_eq(v.err.code, KC_ERR_CRC);
	ck_assert_str_eq(v.err.field, "RecordBatch.crc");
	ck_assert_uint_eq(v.err.offset, 17);

	vec_rewind(&v, KC_READ_CRC_LENIENT);
	DECODE_ALL(record_batch, &v, &b, 2);
	ck_assert(!b.crc_ok);
	expect_batch(&b, &want);
	expect_record(&b.records[0], &rec);

	/* encoding writes the right CRC; every other byte is the vector's */
	kc_writer w;
	kc_writer_init(&w);
	ck_assert_int_eq(kc_record_batch_encode(&w, &b, 2), KC_OK);
	ck_assert_uint_eq(kc_writer_pos(&w), v.n);
	const uint8_t *out = kc_writer_data(&w);
	ck_assert_uint_eq(kc__get_be32(out + 17), 0xd56b5fb4);
	ck_assert_mem_eq(out, v.bytes, 17);
	ck_assert_mem_eq(out + 21, v.bytes + 21, v.n - 21);
	kc_writer_free(&w);
	vec_close(&v);
}
END_TEST

/* ---- M, D-2: legacy messages -------------------------------------------- */

START_TEST(test_m1_m2_message_sets)
{
	static const legacy_want m1[] = {
		{0, 17, 0xfeb01dbf, 0, 0, 0, NULL, "313233"},
		{1, 14, 0x795748e0, 0, 0, 0, NULL, ""},
		{2, 14, 0x795748e0, 0, 0, 0, NULL, ""},
		{3, 17, 0xfeb01dbf, 0, 0, 0, NULL, "313233"},
	};
	static const legacy_want m2[] = {
		{0, 25, 0x478628c2, 1, 0, 1503648000942LL, NULL, "313233"},
		{1, 22, 0xef98c920, 1, 0, 1503648001984LL, NULL, ""},
		{2, 22, 0x5faffb5e, 1, 0, 1503648002162LL, NULL, ""},
		{3, 25, 0xa8125720, 1, 0, 1503648004099LL, NULL, "313233"},
	};
	vec v;
	vec_open(&v, M1_HEX);
	expect_message_set(v.in, v.n, m1, 4, true);
	vec_close(&v);
	vec_open(&v, M2_HEX);
	expect_message_set(v.in, v.n, m2, 4, true);
	vec_close(&v);
}
END_TEST

START_TEST(test_m3_to_m6_single_messages)
{
	static const struct {
		const char *hex;
		legacy_want want;
	} cases[] = {
		{M3_HEX, {0, 23, 0x1095c9ca, 0, 0, 0, "74657374", "5375706572"}},
		{M4_HEX,
		 {0, 31, 0x831fac85, 1, 0, 9999999, "74657374", "5375706572"}},
		{M5_HEX, {0, 14, 0xa7ec6803, 0, 0, 0, NULL, NULL}},
		{M6_HEX, {0, 22, 0xcc2f79d9, 1, 0, 0, NULL, NULL}},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		vec v;
		vec_open(&v, cases[c].hex);
		expect_message_set(v.in, v.n, &cases[c].want, 1, true);
		vec_close(&v);
	}
}
END_TEST

/* Compressed wrappers: the wrapper re-encodes byte-exact (its value is
 * opaque bytes); the inner set is decompressed and decoded. */
START_TEST(test_m7_to_m10_d2_wrappers)
{
	static const legacy_want m8_inner[] = {
		{0, 14, 0x795748e0, 0, 0, 0, NULL, ""},
		{1, 14, 0x795748e0, 0, 0, 0, NULL, ""},
	};
	static const legacy_want m9_inner[] = {
		{0, 14, 0xe38a6876, 0, 0, 0, "", ""},
		{1, 14, 0xe38a6876, 0, 0, 0, "", ""},
	};
	static const legacy_want d2_inner[] = {
		{0, 23, 0x8a65e96d, 1, 0, 1000, NULL, "61"},
		{1, 23, 0xfcaed3e9, 1, 0, 1001, NULL, "62"},
		{2, 23, 0x82424305, 1, 0, 1005, NULL, "63"},
	};
	static const struct {
		const char *hex;
		legacy_want wrapper;
		const legacy_want *inner;
		size_t ninner;
	} cases[] = {
		{M7_HEX, {0, 34, 0xc42e5cb1, 0, 1, 0, NULL, WRAPPED}, NULL, 0},
		{M8_HEX, {0, 53, 0x8ba03f8d, 0, 1, 0, NULL, WRAPPED}, m8_inner, 2},
		{M9_HEX, {0, 56, 0xb42f35d1, 0, 2, 0, NULL, WRAPPED}, m9_inner, 2},
		{M10_HEX,
		 {0, 37, 0x882af5be, 1, 3, 1479847795000LL, NULL, WRAPPED},
		 NULL, 0},
		{D2_HEX, {2, 92, 0x2e75f7e1, 1, 1, 1005, NULL, WRAPPED}, d2_inner,
		 3},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		vec v;
		kc_legacy_message m;
		vec_open(&v, cases[c].hex);
		expect_message_set(v.in, v.n, &cases[c].wrapper, 1, true);
		ck_assert_int_eq(decode_legacy(&v.r, &m, &v.arena), KC_OK);
		expect_inner_set(&m, cases[c].inner, cases[c].ninner);
		vec_close(&v);
	}
}
END_TEST

/* ---- every vector: no strict prefix decodes ----------------------------- */

/* Legacy vectors here are magic 1: version 1 throughout. */
static const struct prefix_case {
	const char *hex;
	const kc_msg_type *type;
	int16_t version;
} prefix_cases[] = {
	{P1_HEX, &kc_produce_request_type, 0},
	{P2_HEX, &kc_produce_request_type, 3},
	{P3_HEX, &kc_produce_request_type, 9},
	{P5_V8_HEX, &kc_produce_response_type, 8},
	{P5_V9_HEX, &kc_produce_response_type, 9},
	{P6_HEX, &kc_produce_response_type, 10},
	{O1_HEX, &kc_init_producer_id_request_type, 0},
	{O4_HEX, &kc_init_producer_id_request_type, 3},
	{O7_HEX, &kc_init_producer_id_response_type, 2},
	{O8_HEX, &kc_api_versions_request_type, 3},
	{R3_HEX, &kc_record_batch_type, 2},
	{R4_HEX, &kc_record_batch_type, 2},
	{R5_HEX, &kc_record_batch_type, 2},
	{R6_HEX, &kc_record_batch_type, 2},
	{R8_HEX, &kc_record_batch_type, 2},
	{R10_HEX, &kc_record_batch_type, 2},
	{M4_HEX, &kc_legacy_message_type, 1},
	{M6_HEX, &kc_legacy_message_type, 1},
	{D2_HEX, &kc_legacy_message_type, 1},
};

/* Every strict prefix of a valid encoding must fail cleanly: the decoder
 * would consume the same bytes as for the whole input, so success would
 * mean it read past the end (the guard page turns that into a crash). */
START_TEST(test_prefixes_fail)
{
	const struct prefix_case *c = &prefix_cases[_i];
	size_t n;
	uint8_t *bytes = th_hex(c->hex, &n);
	void *m = malloc(c->type->struct_size);
	ck_assert_ptr_nonnull(m);
	for (size_t len = 0; len < n; len++) {
		uint8_t *in = th_guard_copy(bytes, len);
		kc_decode_error err = {0};
		kc_reader r;
		kc_arena arena;
		kc_reader_init(&r, in, len, &err);
		kc_arena_init(&arena);
		c->type->init(m);
		kc_err e = c->type->decode(&r, m, c->version, &arena);
		ck_assert_msg(e != KC_OK, "prefix %zu of %zu decoded", len, n);
		ck_assert_int_eq(err.code, e);
		ck_assert_uint_le(err.offset, len);
		ck_assert_ptr_nonnull(err.field);
		kc_arena_free(&arena);
		th_guard_free(in, len);
	}
	free(m);
	free(bytes);
}
END_TEST

/* ---- allocation failures ------------------------------------------------- */

/* Decoding a gzip batch (arena + decompression) and a response with
 * arrays, then encoding it, under an allocator that fails the Nth call:
 * every failure is KC_ERR_NOMEM and nothing leaks. */
START_TEST(test_alloc_failures)
{
	static const char *const hexes[] = {R4_HEX, P6_HEX};
	for (size_t c = 0; c < 2; c++) {
		size_t n;
		uint8_t *bytes = th_hex(hexes[c], &n);
		bool done = false;
		for (unsigned long fail = 1; !done; fail++) {
			ck_assert_uint_lt(fail, 200);
			kc_decode_error err = {0};
			kc_reader r;
			kc_arena arena;
			kc_writer w;
			kc_err e;
			th_alloc_fail_at(fail);
			kc_reader_init(&r, bytes, n, &err);
			kc_arena_init(&arena);
			kc_writer_init(&w);
			if (c == 0) {
				kc_record_batch b;
				kc_record_batch_init(&b);
				e = kc_record_batch_decode(&r, &b, 2, &arena);
				if (e == KC_OK)
					e = kc_record_batch_encode(&w, &b, 2);
			} else {
				kc_produce_response m;
				kc_produce_response_init(&m);
				e = kc_produce_response_decode(&r, &m, 10,
							       &arena);
				if (e == KC_OK)
					e = kc_produce_response_encode(&w, &m,
								       10);
			}
			if (e == KC_OK) {
				done = true;
				if (c == 1)
					expect_written(&w, bytes, n);
			} else {
				ck_assert_int_eq(e, KC_ERR_NOMEM);
			}
			kc_writer_free(&w);
			kc_arena_free(&arena);
			ck_assert_int_eq(th_alloc_live(), 0);
			th_alloc_reset();
		}
		free(bytes);
	}
}
END_TEST

static Suite *golden_suite(void)
{
	Suite *s = suite_create("golden_messages");
	TCase *tc = tcase_create("produce");
	tcase_add_test(tc, test_p1_produce_v0_to_v2);
	tcase_add_test(tc, test_p1_produce_small_bodies);
	tcase_add_test(tc, test_p2_p3_produce_record_batch);
	tcase_add_test(tc, test_p4_produce_frames);
	tcase_add_test(tc, test_p5_produce_response_versions);
	tcase_add_test(tc, test_p6_produce_response_tagged);
	suite_add_tcase(s, tc);

	tc = tcase_create("other_apis");
	tcase_add_test(tc, test_o1_to_o4_init_producer_id_request);
	tcase_add_test(tc, test_o5_to_o7_init_producer_id_response);
	tcase_add_test(tc, test_o8_api_versions_request);
	suite_add_tcase(s, tc);

	tc = tcase_create("record_batch");
	tcase_add_loop_test(tc, test_record_batches, 0,
			    sizeof batch_cases / sizeof batch_cases[0]);
	tcase_add_test(tc, test_r11_bad_crc);
	suite_add_tcase(s, tc);

	tc = tcase_create("legacy_message");
	tcase_add_test(tc, test_m1_m2_message_sets);
	tcase_add_test(tc, test_m3_to_m6_single_messages);
	tcase_add_test(tc, test_m7_to_m10_d2_wrappers);
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_add_loop_test(tc, test_prefixes_fail, 0,
			    sizeof prefix_cases / sizeof prefix_cases[0]);
	tcase_add_test(tc, test_alloc_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(golden_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
