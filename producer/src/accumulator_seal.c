/*
 * Sealing full batches on application threads. The sender seals each
 * batch as it drains it; with compression that is most of its work, and
 * one thread compressing every batch caps a producer at one core's
 * compression rate while the appending thread waits for buffer memory.
 * So while a full batch is already waiting for the sender, an appending
 * thread that fills another compresses it itself, outside every lock, as
 * the Java client compresses on its callers' threads. The claim
 * (kp__batch.sealing, under the partition lock) keeps the sender, expiry
 * and abort off the batch meanwhile.
 */
#include "accumulator_int.h"

#include "buf_int.h"

int kp__acc_seal_claim(kp__acc *a, kp__tp *tp, kp__batch *prev)
{
	(void)tp;
	if (a->bcfg.codec == KC_CODEC_NONE || !prev || prev->sealed ||
	    prev->frozen || prev->sealing || prev->backlog)
		return 0;
	if (atomic_load(&a->backlog) > 0) {
		prev->sealing = 1;
		return 1;
	}
	prev->backlog = 1;
	atomic_fetch_add(&a->backlog, 1);
	return 0;
}

void kp__acc_backlog_leave(kp__acc *a, kp__batch *b)
{
	if (!b->backlog)
		return;
	b->backlog = 0;
	atomic_fetch_sub(&a->backlog, 1);
}

static kc_compressor *spare_take(kp__acc *a)
{
	kc_compressor *cc = NULL;
	pthread_mutex_lock(&a->pool_lock);
	if (a->ncc_spare)
		cc = a->cc_spare[--a->ncc_spare];
	pthread_mutex_unlock(&a->pool_lock);
	return cc;
}

static void spare_give(kp__acc *a, kc_compressor *cc)
{
	if (!cc)
		return;
	pthread_mutex_lock(&a->pool_lock);
	if (a->ncc_spare < CC_SPARE) {
		a->cc_spare[a->ncc_spare++] = cc;
		cc = NULL;
	}
	pthread_mutex_unlock(&a->pool_lock);
	kc_compressor_free(cc);
}

void kp__acc_seal_claimed(kp__acc *a, kp__tp *tp, kp__batch *b)
{
	kc_compressor *cc = spare_take(a);
	(void)kp__batch_seal_with(b, &cc);
	spare_give(a, cc);
	pthread_mutex_lock(&tp->lock);
	b->sealing = 0;
	pthread_mutex_unlock(&tp->lock);
}

void kp__acc_seal_spares_free(kp__acc *a)
{
	while (a->ncc_spare)
		kc_compressor_free(a->cc_spare[--a->ncc_spare]);
}
