/*
 * The record accumulator, in the manner of the Java client's
 * RecordAccumulator, application side: the topic table, per-partition
 * queues of batches encoded in place, buffer.memory accounting with
 * blocking appends, and the batch pool. The sender side (readiness, the
 * round-robin drain per leader, expiry, split) is accumulator_drain.c.
 *
 * Lock order: topic -> table (linking a new tp), topic -> partition ->
 * pool. The memory lock is never held with another one.
 */
#include "accumulator_int.h"

#include <string.h>
#include <time.h>

#include "buf_int.h"
#include "loop.h"

/* Header arrays up to this size are converted on the stack. */
#define STACK_HEADERS 16
/* Pooled builders keep their buffers up to this many times batch.size (a
 * lone huge record's buffer is given back). */
#define POOL_KEEP_FACTOR 2
#define POOL_KEEP_MIN 16384

struct kp__topic {
	struct kp__topic *next; /* hash chain */
	uint32_t hash;
	size_t name_len;
	/* Guarded by lock: the sticky partitioner, its rng, the tps array. */
	pthread_mutex_t lock;
	kp__sticky sticky;
	kp__rng rng;
	kp__tp **tps;           /* by partition; NULL where none yet */
	int32_t ntps;
	char name[];
};

/* ---- buffer.memory ------------------------------------------------------ */

/* One append waiting for memory, on its stack. */
typedef struct mem_waiter {
	struct mem_waiter *next;
	pthread_cond_t cond;
} mem_waiter;

/* Wake the first waiter to check whether it fits now. Precondition:
 * mem_lock held. */
static void wake_first(kp__acc *a)
{
	if (a->wait_head)
		pthread_cond_signal(&a->wait_head->cond);
}

/* Wait in line until n bytes fit or the monotonic deadline passes.
 * Precondition: mem_lock held. Returns KP_OK (charged), KP_ERR_BUFFER_FULL,
 * KP_ERR_CLOSED. */
static kp_err mem_wait(kp__acc *a, size_t n, size_t total, int64_t deadline)
{
	mem_waiter w;
	w.next = NULL;
	pthread_cond_init(&w.cond, &a->wait_attr);
	if (a->wait_tail)
		a->wait_tail->next = &w;
	else
		a->wait_head = &w;
	a->wait_tail = &w;
	/* Counted before the first look at mem_used: a release that does
	 * not see this waiter happened before that look, which sees it. */
	atomic_fetch_add(&a->nwaiters, 1);
	kp_err err = KP_OK;
	struct timespec ts = {(time_t)(deadline / 1000),
			      (long)(deadline % 1000) * 1000000L};
	for (;;) {
		if (atomic_load(&a->closed)) {
			err = KP_ERR_CLOSED;
			break;
		}
		if (a->wait_head == &w && atomic_load(&a->mem_used) <= total - n)
			break;
		if ((int64_t)kn__now_ms() >= deadline) {
			err = KP_ERR_BUFFER_FULL;
			break;
		}
		pthread_cond_timedwait(&w.cond, &a->mem_lock, &ts);
	}
	mem_waiter **pp = &a->wait_head, *prev = NULL;
	while (*pp != &w) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	*pp = w.next;
	if (a->wait_tail == &w)
		a->wait_tail = prev;
	atomic_fetch_sub(&a->nwaiters, 1);
	if (err == KP_OK)
		atomic_fetch_add(&a->mem_used, n);
	/* The next in line may fit in what is left. */
	wake_first(a);
	pthread_cond_destroy(&w.cond);
	return err;
}

/* Charge n bytes, waiting until the deadline (NULL: never wait).
 * Returns KP_OK, KP_ERR_BUFFER_FULL, KP_ERR_CLOSED. Precondition:
 * n <= buffer.memory. */
static kp_err mem_reserve(kp__acc *a, size_t n, kp__deadline *dl)
{
	size_t total = kp__acc_memory_total(a);
	/* Nobody may pass those already waiting. */
	if (!atomic_load(&a->nwaiters)) {
		size_t used = atomic_load(&a->mem_used);
		while (used <= total - n)
			if (atomic_compare_exchange_weak(&a->mem_used, &used,
							 used + n))
				return KP_OK;
	}
	kp_err err = KP_OK;
	pthread_mutex_lock(&a->mem_lock);
	if (!a->wait_head && atomic_load(&a->mem_used) <= total - n)
		atomic_fetch_add(&a->mem_used, n);
	else if (atomic_load(&a->closed))
		err = KP_ERR_CLOSED;
	else if (kp__deadline_until(dl) <= 0 ||
		 (int64_t)kn__now_ms() >= kp__deadline_until(dl))
		err = KP_ERR_BUFFER_FULL;
	else
		err = mem_wait(a, n, total, kp__deadline_until(dl));
	pthread_mutex_unlock(&a->mem_lock);
	return err;
}

/* Turn a charge of `from` bytes into one of `to` bytes (to 0: release),
 * never waiting: giving back wakes the first waiting append, and taking
 * more (the batches of a split) may briefly pass buffer.memory. */
void kp__acc_mem_adjust(kp__acc *a, size_t from, size_t to)
{
	if (to >= from) {
		atomic_fetch_add(&a->mem_used, to - from);
		return;
	}
	atomic_fetch_sub(&a->mem_used, from - to);
	/* Seen after the subtraction: a waiter counted later finds the
	 * memory itself (mem_wait). */
	if (!atomic_load(&a->nwaiters))
		return;
	pthread_mutex_lock(&a->mem_lock);
	wake_first(a);
	pthread_mutex_unlock(&a->mem_lock);
}

size_t kp__acc_memory_used(kp__acc *a)
{
	return atomic_load(&a->mem_used);
}

size_t kp__acc_memory_total(const kp__acc *a)
{
	return (size_t)a->conf.buffer_memory;
}

/* ---- batch pool --------------------------------------------------------- */

/* A batch opened for tp with the given magic. Returns KP_OK,
 * KP_ERR_NOMEM, KP_ERR_UNSUPPORTED, KP_ERR_INVALID_ARG. */
kp_err kp__acc_pool_get(kp__acc *a, kp__tp *tp, int magic, kp__batch **out)
{
	pthread_mutex_lock(&a->pool_lock);
	kp__batch *b = a->pool;
	if (b)
		a->pool = b->next;
	pthread_mutex_unlock(&a->pool_lock);
	if (!b && kp__batch_new(&b) != KP_OK)
		return KP_ERR_NOMEM;
	kc_batch_config cfg = a->bcfg;
	cfg.magic = magic;
	kp_err e = kp__batch_open(b, &cfg);
	if (e != KP_OK) {
		kp__batch_free(b);
		return e;
	}
	b->tp = tp;
	*out = b;
	return KP_OK;
}

void kp__acc_pool_put(kp__acc *a, kp__batch *b)
{
	if (kc_batch_bytes(&b->b) > a->pool_keep) {
		kc_batch_builder_free(&b->b);
		b->magic = -1;
	}
	pthread_mutex_lock(&a->pool_lock);
	b->next = a->pool;
	a->pool = b;
	pthread_mutex_unlock(&a->pool_lock);
}

/* ---- topics and partitions ---------------------------------------------- */

static kp_err table_grow(kp__acc *a)
{
	size_t n = a->nbuckets * 2;
	kp__topic **nb = kc__malloc(n * sizeof *nb);
	if (!nb)
		return KP_ERR_NOMEM;
	memset(nb, 0, n * sizeof *nb);
	for (size_t i = 0; i < a->nbuckets; i++) {
		kp__topic *t = a->buckets[i], *next;
		for (; t; t = next) {
			next = t->next;
			t->next = nb[t->hash & (n - 1)];
			nb[t->hash & (n - 1)] = t;
		}
	}
	kc__free(a->buckets);
	a->buckets = nb;
	a->nbuckets = n;
	return KP_OK;
}

/* The topic named `name`, created on first use. Returns KP_OK,
 * KP_ERR_NOMEM. */
static kp_err topic_get(kp__acc *a, const char *name, kp__topic **out)
{
	size_t len = strlen(name);
	kp__topic *last =
		atomic_load_explicit(&a->last_topic, memory_order_acquire);
	if (last && last->name_len == len &&
	    memcmp(last->name, name, len) == 0) {
		*out = last;
		return KP_OK;
	}
	uint32_t h = kp__fnv1a(name, len);
	kp_err err = KP_OK;
	pthread_mutex_lock(&a->table_lock);
	kp__topic *t = a->buckets[h & (a->nbuckets - 1)];
	while (t && (t->hash != h || t->name_len != len ||
		     memcmp(t->name, name, len) != 0))
		t = t->next;
	if (!t) {
		/* A failed growth only lengthens the chains. */
		if (a->ntopics >= a->nbuckets)
			(void)table_grow(a);
		t = kc__malloc(sizeof *t + len + 1);
		if (!t) {
			err = KP_ERR_NOMEM;
		} else {
			t->hash = h;
			t->name_len = len;
			memcpy(t->name, name, len + 1);
			pthread_mutex_init(&t->lock, NULL);
			kp__sticky_init(&t->sticky);
			kp__rng_seed(&t->rng, a->conf.seed ^
						      (++a->topics_made *
						       0x9e3779b97f4a7c15u));
			t->tps = NULL;
			t->ntps = 0;
			t->next = a->buckets[h & (a->nbuckets - 1)];
			a->buckets[h & (a->nbuckets - 1)] = t;
			a->ntopics++;
		}
	}
	pthread_mutex_unlock(&a->table_lock);
	if (t)
		atomic_store_explicit(&a->last_topic, t, memory_order_release);
	*out = t;
	return err;
}

/* The tp of t's partition, created on first use; the array grows to
 * `count` at least. Precondition: t->lock held, 0 <= partition. Returns
 * KP_OK, KP_ERR_NOMEM. */
static kp_err tp_get(kp__acc *a, kp__topic *t, int32_t partition,
		     int32_t count, kp__tp **out)
{
	if (partition >= t->ntps) {
		int32_t n = count > partition ? count : partition + 1;
		kp__tp **p = kc__realloc(t->tps, (size_t)n * sizeof *p);
		if (!p)
			return KP_ERR_NOMEM;
		memset(p + t->ntps, 0, (size_t)(n - t->ntps) * sizeof *p);
		t->tps = p;
		t->ntps = n;
	}
	kp__tp *tp = t->tps[partition];
	if (!tp) {
		tp = kc__malloc(sizeof *tp);
		if (!tp)
			return KP_ERR_NOMEM;
		memset(tp, 0, sizeof *tp);
		tp->topic = t->name;
		tp->partition = partition;
		pthread_mutex_init(&tp->lock, NULL);
		tp->leader = -1;
		tp->acked_sequence = -1;
		tp->leader_epoch = -1;
		atomic_init(&tp->next_all, NULL);
		t->tps[partition] = tp;
		/* Published fully built: the sender may walk to it at once. */
		pthread_mutex_lock(&a->table_lock);
		if (a->all_tail)
			atomic_store(&a->all_tail->next_all, tp);
		else
			atomic_store(&a->all_head, tp);
		a->all_tail = tp;
		pthread_mutex_unlock(&a->table_lock);
	}
	*out = tp;
	return KP_OK;
}

void kp__acc_foreach_tp(kp__acc *a, void (*fn)(kp__tp *tp, void *arg),
			void *arg)
{
	for (kp__tp *tp = atomic_load(&a->all_head); tp;
	     tp = atomic_load(&tp->next_all))
		fn(tp, arg);
}

/* ---- lifecycle ---------------------------------------------------------- */

kp_err kp__acc_new(kp__acc **out, const kp__acc_conf *conf)
{
	if (!out || !conf || conf->batch_size < 0 || conf->buffer_memory < 0 ||
	    conf->linger_ms < 0 || conf->max_request_size < 0 ||
	    conf->copy_max < 0)
		return KP_ERR_INVALID_ARG;
	kp__acc *a = kc__malloc(sizeof *a);
	if (!a)
		return KP_ERR_NOMEM;
	memset(a, 0, sizeof *a);
	a->nbuckets = 16;
	a->buckets = kc__malloc(a->nbuckets * sizeof *a->buckets);
	if (!a->buckets) {
		kc__free(a);
		return KP_ERR_NOMEM;
	}
	memset(a->buckets, 0, a->nbuckets * sizeof *a->buckets);
	a->expire_at = INT64_MIN;
	a->conf = *conf;
	kc_batch_config_default(&a->bcfg);
	a->bcfg.codec = conf->codec;
	a->bcfg.level = conf->level;
	for (int m = 0; m < 3; m++) {
		kc_batch_config cfg = a->bcfg;
		cfg.magic = m;
		/* Holds no memory: an empty builder allocates at its first
		 * append. */
		a->probe_err[m] = kc_batch_builder_init(&a->probe[m], &cfg);
	}
	int64_t keep = conf->batch_size * POOL_KEEP_FACTOR;
	a->pool_keep = (size_t)(keep > POOL_KEEP_MIN ? keep : POOL_KEEP_MIN);
	pthread_mutex_init(&a->table_lock, NULL);
	pthread_mutex_init(&a->mem_lock, NULL);
	pthread_mutex_init(&a->pool_lock, NULL);
	pthread_condattr_init(&a->wait_attr);
	pthread_condattr_setclock(&a->wait_attr, CLOCK_MONOTONIC);
	atomic_init(&a->all_head, NULL);
	atomic_init(&a->last_topic, NULL);
	atomic_init(&a->backlog, 0);
	atomic_init(&a->mem_used, 0);
	atomic_init(&a->nwaiters, 0);
	atomic_init(&a->closed, 0);
	atomic_init(&a->flushing, 0);
	for (size_t i = 0; i < DRAIN_SLOTS; i++)
		a->cursor[i].node = -1;
	*out = a;
	return KP_OK;
}

void kp__acc_destroy(kp__acc *a)
{
	if (!a)
		return;
	kp__tp *tp = atomic_load(&a->all_head), *next;
	for (; tp; tp = next) {
		next = atomic_load(&tp->next_all);
		kp__batch *b = tp->head, *bn;
		for (; b; b = bn) {
			bn = b->next;
			kp__batch_free(b);
		}
		pthread_mutex_destroy(&tp->lock);
		kc__free(tp);
	}
	for (size_t i = 0; i < a->nbuckets; i++) {
		kp__topic *t = a->buckets[i], *tn;
		for (; t; t = tn) {
			tn = t->next;
			pthread_mutex_destroy(&t->lock);
			kc__free(t->tps);
			kc__free(t);
		}
	}
	kc__free(a->buckets);
	for (int m = 0; m < 3; m++)
		kc_batch_builder_free(&a->probe[m]);
	kp__batch *b = a->pool, *bn;
	for (; b; b = bn) {
		bn = b->next;
		kp__batch_free(b);
	}
	kc_compressor_free(a->cc);
	kp__acc_seal_spares_free(a);
	pthread_mutex_destroy(&a->table_lock);
	pthread_mutex_destroy(&a->mem_lock);
	pthread_mutex_destroy(&a->pool_lock);
	pthread_condattr_destroy(&a->wait_attr);
	kc__free(a);
}

void kp__acc_flush_begin(kp__acc *a)
{
	atomic_fetch_add(&a->flushing, 1);
}

void kp__acc_flush_end(kp__acc *a)
{
	atomic_fetch_sub(&a->flushing, 1);
}

void kp__acc_close(kp__acc *a)
{
	atomic_store(&a->closed, 1);
	pthread_mutex_lock(&a->mem_lock);
	for (mem_waiter *w = a->wait_head; w; w = w->next)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&a->mem_lock);
}

/* ---- append ------------------------------------------------------------- */

/* Encode the record into tp's open batch or a new one. Precondition:
 * tp->lock held. *added receives the bytes the batch grew by; *claimed a
 * full batch this thread is to seal (kp__acc_seal_claim), or stays NULL.
 * Returns KP_OK, KP_ERR_CLOSED, KP_ERR_NOMEM, KP_ERR_ENCODE,
 * KP_ERR_UNSUPPORTED. */
static kp_err append_locked(kp__acc *a, kp__tp *tp, const kp__append *r,
			    const kc_rec_header *hdrs, size_t *added,
			    kp__append_result *res, kp__batch **claimed)
{
	/* Checked under the partition lock: an abort after close, which
	 * takes this lock, cannot miss a batch appended here. */
	if (atomic_load(&a->closed))
		return KP_ERR_CLOSED;
	kp__rec_meta m = {r->cb,        r->opaque,
			  r->free_cb,   r->free_opaque,
			  r->timestamp, r->key.len < 0 ? 0 : (size_t)r->key.len,
			  r->value.len < 0 ? 0 : (size_t)r->value.len};
	size_t ref_min = r->free_cb ? (size_t)a->conf.copy_max + 1 : 0;
	kp__batch *b = tp->tail;
	if (b && !b->sealed && !b->frozen && b->magic == r->magic) {
		size_t have = kc_batch_bytes(&b->b);
		size_t need = kc_batch_record_size(&b->b, r->timestamp, r->key,
						   r->value, hdrs, r->nheaders);
		if (have + need <= (size_t)a->conf.batch_size) {
			kp_err e = kp__batch_append(b, &m, r->timestamp, r->key,
						    r->value, hdrs,
						    r->nheaders, ref_min);
			if (e != KP_OK)
				return e;
			*added = kc_batch_bytes(&b->b) - have;
			res->new_batch = 0;
			res->batch_full = kc_batch_bytes(&b->b) >=
					  (size_t)a->conf.batch_size;
			goto appended;
		}
	}
	kp_err e = kp__acc_pool_get(a, tp, r->magic, &b);
	if (e != KP_OK)
		return e;
	e = kp__batch_append(b, &m, r->timestamp, r->key, r->value, hdrs,
			     r->nheaders, ref_min);
	if (e != KP_OK) {
		kp__acc_pool_put(a, b);
		return e;
	}
	b->created_ms = (int64_t)kn__now_ms();
	*added = kc_batch_bytes(&b->b);
	res->new_batch = 1;
	res->batch_full = tp->tail != NULL ||
			  *added >= (size_t)a->conf.batch_size;
	if (tp->tail) {
		if (kp__acc_seal_claim(a, tp, tp->tail))
			*claimed = tp->tail;
		tp->tail->next = b;
	} else {
		tp->head = b;
	}
	tp->tail = b;
	tp->queued_batches++;
appended:
	b->accounted += *added;
	tp->queued_records++;
	tp->queued_bytes += *added;
	res->tp = tp;
	return KP_OK;
}

/* r's partition as a custom partitioner answers it, called with no lock
 * held; KP_PARTITION_ANY when the built-in choice, which needs the topic
 * lock, is still to make. */
static int32_t custom_partition(const kp__acc *a, const kp__append *r,
				const void *key, size_t key_len)
{
	const kp__partitioner *pt = &a->conf.partitioner;
	if (r->partition != KP_PARTITION_ANY || pt->kind != KP__PART_CUSTOM ||
	    !pt->cb)
		return r->partition;
	return pt->cb(r->topic, key, key_len, r->partition_count,
		      pt->cb_opaque);
}

static kp_err append_charged(kp__acc *a, const kp__append *r,
			     const kc_rec_header *hdrs, size_t *charge,
			     kp__append_result *res)
{
	const void *key = r->key.len < 0 ? NULL
			  : r->key.ptr	 ? (const void *)r->key.ptr
					 : (const void *)"";
	size_t key_len = r->key.len < 0 ? 0 : (size_t)r->key.len;
	int32_t p = custom_partition(a, r, key, key_len);
	kp__topic *t;
	kp_err e = topic_get(a, r->topic, &t);
	if (e != KP_OK)
		return e;
	pthread_mutex_lock(&t->lock);
	int sticky = 0;
	if (p == KP_PARTITION_ANY) {
		/* A custom callback already declined: fall back to the
		 * default choice. */
		kp__partitioner pt = a->conf.partitioner;
		if (pt.kind == KP__PART_CUSTOM)
			pt.kind = KP__PART_MURMUR2;
		sticky = pt.kind != KP__PART_RANDOM &&
			 (!key || pt.ignore_keys);
		p = kp__partition_choose(&pt, r->topic, key, key_len,
					 r->partition_count, r->available,
					 r->navail, &t->sticky, &t->rng);
	}
	kp__tp *tp = NULL;
	if (p < 0 || p >= r->partition_count)
		e = KP_ERR_UNKNOWN_PARTITION;
	else
		e = tp_get(a, t, p, r->partition_count, &tp);
	/* Keyless records keep the topic lock through the append, so the
	 * sticky partition's byte count matches what went there. */
	if (!sticky || e != KP_OK)
		pthread_mutex_unlock(&t->lock);
	if (e != KP_OK)
		return e;
	size_t added = 0;
	kp__batch *claimed = NULL;
	pthread_mutex_lock(&tp->lock);
	e = append_locked(a, tp, r, hdrs, &added, res, &claimed);
	pthread_mutex_unlock(&tp->lock);
	if (sticky) {
		if (e == KP_OK)
			kp__sticky_appended(&t->sticky, added,
					    res->batch_full || res->new_batch,
					    a->conf.batch_size);
		pthread_mutex_unlock(&t->lock);
	}
	if (claimed)
		kp__acc_seal_claimed(a, tp, claimed);
	if (e == KP_OK) {
		kp__acc_mem_adjust(a, *charge, added);
		*charge = added;
	}
	return e;
}

/* Header checks and size limits, then the charge. */
static kp_err append_sized(kp__acc *a, const kp__append *r,
			   const kc_rec_header *hdrs, kp__deadline *dl,
			   kp__append_result *res)
{
	if (a->probe_err[r->magic] != KC_OK)
		return a->bcfg.codec == KC_CODEC_ZSTD ? KP_ERR_UNSUPPORTED
						      : KP_ERR_INVALID_ARG;
	/* As the only record of a new batch: an upper bound of what it adds
	 * to any batch (the 61-byte v2 header outweighs its larger deltas
	 * further in). */
	size_t alone = kc_batch_record_size(&a->probe[r->magic], r->timestamp,
					    r->key, r->value, hdrs,
					    r->nheaders);
	if (alone > (uint64_t)a->conf.max_request_size ||
	    alone > (uint64_t)a->conf.buffer_memory)
		return KP_ERR_RECORD_TOO_LARGE;
	kp_err e = mem_reserve(a, alone, dl);
	if (e != KP_OK)
		return e;
	size_t charge = alone;
	e = append_charged(a, r, hdrs, &charge, res);
	if (e != KP_OK)
		kp__acc_mem_adjust(a, charge, 0);
	return e;
}

kp_err kp__acc_append(kp__acc *a, const kp__append *r, kp__deadline *dl,
		      kp__append_result *res)
{
	if (!a || !r || !res || !r->topic || !r->topic[0] ||
	    r->partition_count <= 0 || r->partition < KP_PARTITION_ANY ||
	    r->magic < 0 || r->magic > 2 || r->key.len < -1 ||
	    r->value.len < -1 || (r->key.len > 0 && !r->key.ptr) ||
	    (r->value.len > 0 && !r->value.ptr) ||
	    (r->nheaders && !r->headers) ||
	    (r->nheaders && r->magic < 2) || (r->navail && !r->available) ||
	    r->nheaders > INT32_MAX)
		return KP_ERR_INVALID_ARG;
	if (r->partition >= r->partition_count)
		return KP_ERR_UNKNOWN_PARTITION;
	if (atomic_load(&a->closed))
		return KP_ERR_CLOSED;
	kc_rec_header stack[STACK_HEADERS], *hdrs = stack;
	if (r->nheaders > STACK_HEADERS) {
		hdrs = kc__malloc(r->nheaders * sizeof *hdrs);
		if (!hdrs)
			return KP_ERR_NOMEM;
	}
	kp_err e = KP_OK;
	for (size_t i = 0; i < r->nheaders && e == KP_OK; i++) {
		const kp_header *h = &r->headers[i];
		size_t klen = h->key ? strlen(h->key) : 0;
		if (!h->key || klen > INT32_MAX || h->value_len > INT32_MAX) {
			e = KP_ERR_INVALID_ARG;
			break;
		}
		hdrs[i].key = (kc_str){h->key, (int32_t)klen};
		hdrs[i].value = h->value ? (kc_bytes){h->value,
						      (int32_t)h->value_len}
					 : KC_BYTES_NULL;
	}
	if (e == KP_OK)
		e = append_sized(a, r, hdrs, dl, res);
	if (hdrs != stack)
		kc__free(hdrs);
	return e;
}
