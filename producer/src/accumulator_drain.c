/*
 * The accumulator's sender side: readiness (linger.ms, batch.size), the
 * round-robin drain per leader that fills a ProduceRequest, re-enqueueing
 * retried batches in order, delivery.timeout.ms expiry, abort, and the
 * split of a batch a broker found too large. Everything here runs on the
 * sender thread (see accumulator.h); the application side is
 * accumulator.c.
 */
#include "accumulator_int.h"

#include <string.h>
#include <time.h>

#include "buf_int.h"
#include "loop.h"

/* ---- sender side -------------------------------------------------------- */

/* Earliest time b, the head of its queue, is ready; INT64_MAX while an
 * application thread seals it (that thread wakes the sender after).
 * Precondition: its tp's lock held. */
static int64_t ready_at(const kp__acc *a, const kp__batch *b, int force)
{
	int64_t t;
	if (b->sealing)
		return INT64_MAX;
	if (force || b->sealed || b->frozen || b->next ||
	    kc_batch_bytes(&b->b) >= (size_t)a->conf.batch_size)
		t = INT64_MIN;
	else if (b->created_ms > INT64_MAX - a->conf.linger_ms)
		t = INT64_MAX;
	else
		t = b->created_ms + a->conf.linger_ms;
	return b->retry_at_ms > t ? b->retry_at_ms : t;
}

static int forced(kp__acc *a)
{
	return atomic_load(&a->flushing) > 0 || atomic_load(&a->closed);
}

int64_t kp__acc_next_ready(kp__acc *a, int64_t now)
{
	int force = forced(a);
	int64_t best = INT64_MAX;
	for (kp__tp *tp = atomic_load(&a->all_head); tp;
	     tp = atomic_load(&tp->next_all)) {
		if (tp->leader < 0 || tp->muted)
			continue;
		pthread_mutex_lock(&tp->lock);
		if (tp->head) {
			int64_t t = ready_at(a, tp->head, force);
			if (t < best)
				best = t;
		}
		pthread_mutex_unlock(&tp->lock);
		if (best <= now)
			return now;
	}
	return best;
}

/* Queue bookkeeping. Precondition: tp->lock held. */
static void queue_add(kp__tp *tp, const kp__batch *b)
{
	tp->queued_batches++;
	tp->queued_records += b->nrecs;
	tp->queued_bytes += kc_batch_bytes(&b->b);
}

static void queue_sub(kp__tp *tp, const kp__batch *b)
{
	tp->queued_batches--;
	tp->queued_records -= b->nrecs;
	tp->queued_bytes -= kc_batch_bytes(&b->b);
}

static void push_front(kp__tp *tp, kp__batch *b)
{
	pthread_mutex_lock(&tp->lock);
	b->next = tp->head;
	tp->head = b;
	if (!tp->tail)
		tp->tail = b;
	queue_add(tp, b);
	pthread_mutex_unlock(&tp->lock);
}

static kp__batch **list_end(kp__batch **list)
{
	while (*list)
		list = &(*list)->next;
	return list;
}

/* Take the head of tp for a drain if it is ready and fits, sealed, or
 * NULL. *stop is set when it did not fit. */
static kp__batch *drain_one(kp__acc *a, kp__tp *tp, int64_t now, int force,
			    size_t room, int first, int *stop)
{
	pthread_mutex_lock(&tp->lock);
	kp__batch *b = tp->head;
	if (!b || ready_at(a, b, force) > now) {
		pthread_mutex_unlock(&tp->lock);
		return NULL;
	}
	size_t est = b->sealed ? b->wire_len : kc_batch_bytes(&b->b);
	if (!first && est > room) {
		pthread_mutex_unlock(&tp->lock);
		*stop = 1;
		return NULL;
	}
	tp->head = b->next;
	if (!tp->head)
		tp->tail = NULL;
	queue_sub(tp, b);
	kp__acc_backlog_leave(a, b);
	b->next = NULL;
	pthread_mutex_unlock(&tp->lock);
	/* Compression runs with no lock held: appends go on meanwhile. */
	if (kp__batch_seal_with(b, &a->cc) == KP_OK && !first &&
	    b->wire_len > room) {
		push_front(tp, b);
		*stop = 1;
		return NULL;
	}
	return b;
}

size_t kp__acc_drain(kp__acc *a, int32_t node, int64_t now, size_t max_bytes,
		     kp__batch **list)
{
	kp__tp *head = atomic_load(&a->all_head);
	if (!head)
		return 0;
	int force = forced(a);
	size_t slot = (uint32_t)node % DRAIN_SLOTS;
	kp__tp *start = a->cursor[slot].node == node && a->cursor[slot].start
				? a->cursor[slot].start
				: head;
	kp__batch **tail = list_end(list);
	size_t taken = 0, bytes = 0;
	kp__tp *tp = start, *next_start = NULL;
	do {
		if (tp->leader == node && !tp->muted) {
			int stop = 0;
			kp__batch *b = drain_one(a, tp, now, force,
						 max_bytes > bytes
							 ? max_bytes - bytes
							 : 0,
						 taken == 0, &stop);
			if (stop) {
				/* It goes first next time. */
				next_start = tp;
				break;
			}
			if (b) {
				b->drained_ms = now;
				b->drain_seq = ++a->drains;
				b->attempts++;
				*tail = b;
				tail = &b->next;
				taken++;
				bytes += b->wire_len;
			}
		}
		tp = atomic_load(&tp->next_all);
		if (!tp)
			tp = head;
	} while (tp != start);
	if (!next_start) {
		/* Rotate, so no partition always goes first. */
		next_start = atomic_load(&start->next_all);
	}
	a->cursor[slot].node = node;
	a->cursor[slot].start = next_start;
	return taken;
}

/* x, a retried batch queued, goes before b, being re-enqueued. */
static int retry_before(const kp__batch *x, const kp__batch *b)
{
	if (x->base_sequence >= 0 && b->base_sequence >= 0)
		return x->base_sequence < b->base_sequence;
	return x->drain_seq < b->drain_seq;
}

void kp__acc_reenqueue(kp__acc *a, kp__batch *b)
{
	a->expire_at = INT64_MIN; /* b may be older than every batch queued */
	kp__tp *tp = b->tp;
	pthread_mutex_lock(&tp->lock);
	kp__batch **pp = &tp->head;
	while (*pp && (*pp)->attempts > 0 && retry_before(*pp, b))
		pp = &(*pp)->next;
	b->next = *pp;
	*pp = b;
	if (!b->next)
		tp->tail = b;
	queue_add(tp, b);
	pthread_mutex_unlock(&tp->lock);
}

static int64_t add_sat(int64_t t, int64_t d)
{
	return t > INT64_MAX - d ? INT64_MAX : t + d;
}

/* Sleep briefly, for a seal on another thread to finish. */
static void seal_wait(void)
{
	struct timespec ts = {0, 100 * 1000};
	nanosleep(&ts, NULL);
}

/* Move to the end of *list every queued batch (all), or those whose
 * first append is at least timeout_ms before now; returns how many.
 * A batch an application thread is sealing stays queued (its expiry is
 * looked at again next time); all waits for such seals to finish.
 * *earliest: the smallest created_ms of the batches left queued
 * (INT64_MAX when none). */
static size_t take_queued(kp__acc *a, kp__batch **list, int64_t now,
			  int64_t timeout_ms, int all, int64_t *earliest)
{
	kp__batch **tail = list_end(list);
	size_t n = 0;
	*earliest = INT64_MAX;
	for (kp__tp *tp = atomic_load(&a->all_head); tp;
	     tp = atomic_load(&tp->next_all)) {
		pthread_mutex_lock(&tp->lock);
		kp__batch **pp = &tp->head, *prev = NULL;
		while (*pp) {
			kp__batch *b = *pp;
			if (b->sealing && all) {
				pthread_mutex_unlock(&tp->lock);
				seal_wait();
				pthread_mutex_lock(&tp->lock);
				continue;
			}
			if (b->sealing ||
			    (!all && now - b->created_ms < timeout_ms)) {
				if (b->created_ms < *earliest)
					*earliest = b->created_ms;
				prev = b;
				pp = &b->next;
				continue;
			}
			*pp = b->next;
			queue_sub(tp, b);
			kp__acc_backlog_leave(a, b);
			b->next = NULL;
			*tail = b;
			tail = &b->next;
			n++;
		}
		tp->tail = prev;
		pthread_mutex_unlock(&tp->lock);
	}
	return n;
}

size_t kp__acc_expire(kp__acc *a, int64_t now, int64_t timeout_ms,
		      kp__batch **list)
{
	/* Walking every queued batch on every pass cost a third of the
	 * sender's time with a few thousand batches queued. A batch queued
	 * after the last walk was created after it (created_ms is taken
	 * under its partition's lock, which the walk also takes), so it
	 * cannot expire before walk time + timeout; batches put back with
	 * an older created_ms (retries, splits) reset expire_at. */
	if (timeout_ms == a->expire_timeout_ms && now < a->expire_at)
		return 0;
	int64_t earliest;
	size_t n = take_queued(a, list, now, timeout_ms, 0, &earliest);
	/* The clock, not `now`, bounds the batches to come: a caller's now
	 * ahead of it must not push their expiry back. */
	int64_t clock = (int64_t)kn__now_ms();
	if (earliest > now)
		earliest = now;
	if (earliest > clock)
		earliest = clock;
	a->expire_at = add_sat(earliest, timeout_ms);
	a->expire_timeout_ms = timeout_ms;
	return n;
}

size_t kp__acc_abort(kp__acc *a, kp__batch **list)
{
	int64_t earliest;
	return take_queued(a, list, 0, 0, 1, &earliest);
}

void kp__acc_release(kp__acc *a, kp__batch *b)
{
	kp__acc_mem_adjust(a, b->accounted, 0);
	kp__acc_pool_put(a, b);
}

/* ---- split -------------------------------------------------------------- */

static void free_list(kp__acc *a, kp__batch *b)
{
	kp__batch *next;
	for (; b; b = next) {
		next = b->next;
		kp__acc_pool_put(a, b);
	}
}

/* Re-append b's records into frozen batches of at most limit bytes (one
 * record at least), linked from *out. The pieces copy every record, lent
 * ones too (they are read back from b's bytes, gathered when b references
 * them): a split is rare, and its records are still reported, and their
 * free_cb called, from b's metadata. Returns KP_OK, KP_ERR_NOMEM,
 * KP_ERR_ENCODE. */
static kp_err split_into(kp__acc *a, kp__batch *b, size_t limit,
			 kp__batch **out)
{
	kc_records_iter it;
	kc_decode_error derr;
	kc_batch_info info;
	kc_record_view v;
	kp__batch **tail = out, *cur = NULL;
	size_t i = 0;
	uint8_t *gathered;
	kp_err e = kp__batch_gather(b, &gathered);
	if (e != KP_OK)
		return e;
	int rc = 0;
	kc_records_iter_init(&it, gathered ? gathered : b->wire, b->wire_len,
			     KC_ITER_STRICT_END, &derr);
	while (e == KP_OK && (rc = kc_records_next_batch(&it, &info)) == 1) {
		while (e == KP_OK && (rc = kc_records_next(&it, &v)) == 1) {
			size_t nh = (size_t)v.headers_count;
			if (i == b->nrecs) {
				e = KP_ERR_ENCODE;
				break;
			}
			if (!cur || kc_batch_bytes(&cur->b) +
						kc_batch_record_size(
							&cur->b, v.timestamp,
							v.key, v.value,
							v.headers, nh) >
					    limit) {
				e = kp__acc_pool_get(a, b->tp, b->magic, &cur);
				if (e != KP_OK)
					break;
				cur->created_ms = b->created_ms;
				cur->attempts = b->attempts;
				cur->drain_seq = b->drain_seq;
				cur->last_kafka_err = b->last_kafka_err;
				cur->frozen = 1;
				*tail = cur;
				tail = &cur->next;
			}
			e = kp__batch_append(cur, &b->recs[i], v.timestamp,
					     v.key, v.value, v.headers, nh, 0);
			i++;
		}
		if (rc < 0)
			e = rc == KC_ERR_NOMEM ? KP_ERR_NOMEM : KP_ERR_ENCODE;
	}
	if (e == KP_OK && (rc < 0 || i != b->nrecs))
		e = rc == KC_ERR_NOMEM ? KP_ERR_NOMEM : KP_ERR_ENCODE;
	kc_records_iter_free(&it);
	kc__free(gathered);
	return e;
}

kp_err kp__acc_split(kp__acc *a, kp__batch *b)
{
	if (b->nrecs < 2)
		return KP_ERR_INVALID_ARG;
	kp_err e = kp__batch_seal_with(b, &a->cc);
	if (e != KP_OK)
		return e;
	size_t half = (kc_batch_bytes(&b->b) + 1) / 2;
	size_t limit = (size_t)a->conf.batch_size < half
			       ? (size_t)a->conf.batch_size
			       : half;
	kp__batch *first = NULL;
	e = split_into(a, b, limit, &first);
	if (e != KP_OK) {
		free_list(a, first);
		return e;
	}
	kp__batch *last = first;
	size_t charged = 0;
	for (kp__batch *x = first; x; x = x->next) {
		x->accounted = kc_batch_bytes(&x->b);
		charged += x->accounted;
		last = x;
	}
	kp__acc_mem_adjust(a, b->accounted, charged);
	b->accounted = 0;
	kp__tp *tp = b->tp;
	kp__acc_pool_put(a, b);
	a->expire_at = INT64_MIN; /* the pieces keep b's created_ms */
	pthread_mutex_lock(&tp->lock);
	last->next = tp->head;
	tp->head = first;
	if (!tp->tail)
		tp->tail = last;
	for (kp__batch *x = first; x != last->next; x = x->next)
		queue_add(tp, x);
	pthread_mutex_unlock(&tp->lock);
	return KP_OK;
}
