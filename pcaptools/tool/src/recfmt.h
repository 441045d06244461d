/*
 * kafkit-pcap: records fields (Produce and Fetch) walked with the codec's
 * records iterator: RecordBatch v2 and legacy MessageSet v0/v1, every
 * codec, each CRC checked and a mismatch reported, not hidden
 * (KC_ITER_CRC_LENIENT). Three uses: a summary (counts, sizes,
 * compression) for text lines and statistics, the JSON value of the field
 * for --json, and the record lines of text output with -v.
 *
 * Threading: a kx__recs belongs to one thread at a time.
 */
#ifndef KAFKIT_PCAP_TOOL_RECFMT_H
#define KAFKIT_PCAP_TOOL_RECFMT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkit/codec.h"
#include "kafkit/json.h"

/* Batch size buckets (wire bytes): <1K, <4K, <16K, <64K, <256K, <1M, more. */
#define KX__NHIST 7
/* Bucket of a batch of n wire bytes. */
int kx__hist_bucket(uint64_t n);
/* "<1K" ... ">=1M" for bucket i. */
const char *kx__hist_label(int i);

/* What one records field holds. */
typedef struct kx__recsum {
	int32_t batches;
	int64_t records;
	int32_t bad_crc;          /* batches (or legacy messages) whose CRC failed */
	uint64_t wire_bytes;      /* the field's length */
	uint64_t raw_bytes;       /* the batches with their records uncompressed */
	int magic;                /* of the first batch; -1 when none */
	int codec;                /* of the first compressed batch, else 0 */
	uint32_t hist[KX__NHIST]; /* batches by wire size */
	kc_err err;               /* KC_OK or why the walk stopped */
	char why[128];
	bool truncated_tail;      /* a partial batch ended the field (Fetch) */
} kx__recsum;

/* The walker: one iterator reused for every field, so walking allocates
 * only when a batch is larger than any before. */
typedef struct kx__recs {
	kc_records_iter it;
	kc_decode_error err;
	bool started;
	kc_json_bytes_mode bytes; /* keys, values, header values */
} kx__recs;

void kx__recs_init(kx__recs *r, kc_json_bytes_mode bytes);
void kx__recs_free(kx__recs *r);

/* Walk the batches of recs (len -1: null, an empty summary) into *s
 * (overwritten). Records are counted from the batch headers (legacy
 * wrappers are opened to count theirs). Returns s->err: KC_OK or the
 * iterator's error (KC_ERR_NOMEM included). */
kc_err kx__recs_summary(kx__recs *r, kc_bytes recs, kx__recsum *s);

/* The records field as one JSON value: null, or {"sizeBytes", "batches":
 * [...], "error"} with every batch header field and every record (offset,
 * timestamp, key, value, headers), see docs/pcaptools.md. Errors: j's
 * sticky error; a decoding error is written as the "error" member. */
void kx__recs_json(kx__recs *r, kc_json *j, kc_bytes recs);

/* Text lines for -v: one per batch, one per record under it, each
 * starting with `indent`. Binary data as r->bytes says (text: printable
 * bytes as they are, others escaped \xNN). */
void kx__recs_text(kx__recs *r, FILE *out, kc_bytes recs, const char *indent);

/* Codec name ("none", "gzip", "snappy", "lz4", "zstd", "codec-N"). */
const char *kx__codec_name(int codec);

/* Write n bytes at p to out in mode (text: quoted with escapes; hex;
 * base64); "null" for len -1. */
void kx__put_bytes(FILE *out, kc_bytes b, kc_json_bytes_mode mode);

#endif
