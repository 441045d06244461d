/* One producer batch: a codec batch builder plus the records' delivery
 * metadata, reused through the accumulator's pool. */
#include "batch.h"

#include <string.h>

#include "buf_int.h"

kp_err kp__batch_new(kp__batch **out)
{
	kp__batch *b = kc__malloc(sizeof *b);
	if (!b)
		return KP_ERR_NOMEM;
	*b = (kp__batch){.magic = -1};
	/* The builder holds no memory until set up; freeing it is safe. */
	kc_writer_init(&b->b.w);
	kc_writer_init(&b->b.z);
	*out = b;
	return KP_OK;
}

void kp__batch_free(kp__batch *b)
{
	if (!b)
		return;
	kc_batch_builder_free(&b->b);
	kc__free(b->recs);
	kc__free(b);
}

kp_err kp__batch_open(kp__batch *b, const kc_batch_config *cfg)
{
	if (b->magic == cfg->magic) {
		kc_batch_builder_reset(&b->b);
	} else {
		/* A magic change follows a broker downgrade: rare enough to
		 * pay for a fresh builder. */
		kc_batch_builder_free(&b->b);
		kc_err e = kc_batch_builder_init(&b->b, cfg);
		if (e != KC_OK) {
			b->magic = -1;
			return cfg->codec == KC_CODEC_ZSTD && cfg->magic < 2
				       ? KP_ERR_UNSUPPORTED
				       : KP_ERR_INVALID_ARG;
		}
		b->magic = cfg->magic;
	}
	b->next = NULL;
	b->tp = NULL;
	b->nrecs = 0;
	b->frozen = 0;
	b->drain_seq = 0;
	b->created_ms = 0;
	b->drained_ms = 0;
	b->retry_at_ms = 0;
	b->attempts = 0;
	b->accounted = 0;
	b->last_kafka_err = 0;
	b->sealed = 0;
	b->sealing = 0;
	b->backlog = 0;
	b->producer_id = -1;
	b->producer_epoch = -1;
	b->base_sequence = -1;
	b->wire = NULL;
	b->wire_lent = NULL;
	b->wire_len = 0;
	return KP_OK;
}

kp_err kp__batch_append(kp__batch *b, const kp__rec_meta *m,
			int64_t timestamp, kc_bytes key, kc_bytes value,
			const kc_rec_header *headers, size_t nheaders,
			size_t ref_min)
{
	/* Grow the metadata first: after a successful encode nothing may
	 * fail, or the batch would hold a record nobody reports. */
	if (b->nrecs == b->recs_cap) {
		size_t cap = b->recs_cap ? 2 * b->recs_cap : 16;
		if (cap > SIZE_MAX / sizeof *b->recs)
			return KP_ERR_NOMEM;
		kp__rec_meta *r = kc__realloc(b->recs, cap * sizeof *r);
		if (!r)
			return KP_ERR_NOMEM;
		b->recs = r;
		b->recs_cap = cap;
	}
	kc_err e = ref_min ? kc_batch_append_ref(&b->b, timestamp, key, value,
						 headers, nheaders, ref_min)
			   : kc_batch_append(&b->b, timestamp, key, value,
					     headers, nheaders);
	if (e != KC_OK)
		return e == KC_ERR_NOMEM ? KP_ERR_NOMEM : KP_ERR_ENCODE;
	b->recs[b->nrecs++] = *m;
	return KP_OK;
}

kp_err kp__batch_seal(kp__batch *b)
{
	return kp__batch_seal_with(b, NULL);
}

kp_err kp__batch_seal_with(kp__batch *b, kc_compressor **cc)
{
	if (b->sealed)
		return KP_OK;
	const uint8_t *out;
	size_t len;
	kc_err e = cc ? kc_batch_seal_with(&b->b, cc, &out, &len)
		      : kc_batch_seal(&b->b, &out, &len);
	if (e != KC_OK)
		return e == KC_ERR_NOMEM ? KP_ERR_NOMEM : KP_ERR_ENCODE;
	b->wire = out;
	b->wire_lent = out ? NULL : kc_batch_output(&b->b);
	b->wire_len = len;
	b->sealed = 1;
	return KP_OK;
}

kp_err kp__batch_gather(const kp__batch *b, uint8_t **out)
{
	*out = NULL;
	if (!b->sealed)
		return KP_ERR_INVALID_ARG;
	if (b->wire)
		return KP_OK;
	size_t n = kc_writer_iov(b->wire_lent, NULL, 0);
	struct iovec *iov = kc__malloc(n * sizeof *iov);
	uint8_t *flat = kc__malloc(b->wire_len);
	if (!iov || !flat) {
		kc__free(iov);
		kc__free(flat);
		return KP_ERR_NOMEM;
	}
	kc_writer_iov(b->wire_lent, iov, n);
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(flat + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	kc__free(iov);
	*out = flat;
	return KP_OK;
}

kp_err kp__batch_stamp(kp__batch *b, int64_t producer_id,
		       int16_t producer_epoch, int32_t base_sequence)
{
	if (!b->sealed || b->magic < 2)
		return KP_ERR_INVALID_ARG;
	if (kc_batch_restamp(&b->b, producer_id, producer_epoch,
			     base_sequence) != KC_OK)
		return KP_ERR_INVALID_ARG;
	b->producer_id = producer_id;
	b->producer_epoch = producer_epoch;
	b->base_sequence = base_sequence;
	return KP_OK;
}
