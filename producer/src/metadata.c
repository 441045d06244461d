/* The producer's topic metadata table (see metadata.h). */
#include "metadata.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf_int.h"
#include "kafkit/err.h"
#include "loop.h"

/* Kafka ErrorCodes the table treats specially. */
#define KP__E_UNKNOWN_TOPIC_OR_PARTITION 3
#define KP__E_LEADER_NOT_AVAILABLE 5

typedef struct md_entry {
	char *name;
	uint32_t hash;
	kp__md_topic *snap;   /* NULL until Metadata gave it partitions */
	int16_t fatal_error;  /* a non-retriable topic error, 0 none */
	struct md_entry *next;
} md_entry;

struct kp__md {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	md_entry **buckets;
	size_t nbuckets;      /* a power of two */
	size_t nentries;
	atomic_uint_fast64_t version;
	atomic_int update_requested;
	int closed;
	void (*wake)(void *arg);
	void *wake_arg;
};

static uint32_t md_hash_n(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static uint32_t md_hash(const char *s)
{
	return md_hash_n(s, strlen(s));
}

kp_err kp__md_new(kp__md **out, void (*wake)(void *arg), void *wake_arg)
{
	kp__md *md = kc__malloc(sizeof(*md));
	if (!md)
		return KP_ERR_NOMEM;
	memset(md, 0, sizeof(*md));
	md->nbuckets = 16;
	md->buckets = kc__malloc(md->nbuckets * sizeof(*md->buckets));
	if (!md->buckets) {
		kc__free(md);
		return KP_ERR_NOMEM;
	}
	memset(md->buckets, 0, md->nbuckets * sizeof(*md->buckets));
	pthread_mutex_init(&md->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&md->changed, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&md->version, 0);
	atomic_init(&md->update_requested, 0);
	md->wake = wake;
	md->wake_arg = wake_arg;
	*out = md;
	return KP_OK;
}

static void snap_free(kp__md_topic *t)
{
	kc__free(t->parts);
	kc__free(t->available);
	kc__free(t);
}

void kp__md_topic_put(kp__md_topic *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		snap_free(t);
}

void kp__md_destroy(kp__md *md)
{
	if (!md)
		return;
	for (size_t i = 0; i < md->nbuckets; i++) {
		md_entry *e = md->buckets[i];
		while (e) {
			md_entry *next = e->next;
			kp__md_topic_put(e->snap);
			kc__free(e->name);
			kc__free(e);
			e = next;
		}
	}
	kc__free(md->buckets);
	pthread_mutex_destroy(&md->lock);
	pthread_cond_destroy(&md->changed);
	kc__free(md);
}

/* Precondition: md->lock held. */
static md_entry *md_find(kp__md *md, const char *name, size_t len,
			 uint32_t h)
{
	for (md_entry *e = md->buckets[h & (md->nbuckets - 1)]; e; e = e->next)
		if (e->hash == h && strncmp(e->name, name, len) == 0 &&
		    e->name[len] == '\0')
			return e;
	return NULL;
}

/* Precondition: md->lock held. Doubles the buckets when the table gets
 * denser than one entry per bucket; a failed grow keeps the old size. */
static void md_maybe_grow(kp__md *md)
{
	if (md->nentries < md->nbuckets)
		return;
	size_t n = md->nbuckets * 2;
	md_entry **b = kc__malloc(n * sizeof(*b));
	if (!b)
		return;
	memset(b, 0, n * sizeof(*b));
	for (size_t i = 0; i < md->nbuckets; i++) {
		md_entry *e = md->buckets[i];
		while (e) {
			md_entry *next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	kc__free(md->buckets);
	md->buckets = b;
	md->nbuckets = n;
}

/* Precondition: md->lock held. Returns NULL when out of memory. */
static md_entry *md_register(kp__md *md, const char *name, uint32_t h)
{
	size_t len = strlen(name);
	md_entry *e = md_find(md, name, len, h);
	if (e)
		return e;
	e = kc__malloc(sizeof(*e));
	char *copy = kc__malloc(len + 1);
	if (!e || !copy) {
		kc__free(e);
		kc__free(copy);
		return NULL;
	}
	memcpy(copy, name, len + 1);
	e->name = copy;
	e->hash = h;
	e->snap = NULL;
	e->fatal_error = 0;
	md_maybe_grow(md);
	size_t b = h & (md->nbuckets - 1);
	e->next = md->buckets[b];
	md->buckets[b] = e;
	md->nentries++;
	return e;
}

static kp__md_topic *snap_ref(kp__md_topic *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

kp__md_topic *kp__md_topic_peek(kp__md *md, const char *topic)
{
	kp__md_topic *t = NULL;
	pthread_mutex_lock(&md->lock);
	md_entry *e = md_find(md, topic, strlen(topic), md_hash(topic));
	if (e && e->snap)
		t = snap_ref(e->snap);
	pthread_mutex_unlock(&md->lock);
	return t;
}

static void deadline_to_timespec(int64_t deadline_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline_ms / 1000);
	ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

kp_err kp__md_topic_get(kp__md *md, const char *topic, kp__deadline *dl,
			kp__md_topic **out, int16_t *kafka_err)
{
	uint32_t h = md_hash(topic);
	kp_err err = KP_OK;
	int asked = 0;
	if (kafka_err)
		*kafka_err = 0;
	pthread_mutex_lock(&md->lock);
	md_entry *e = md_register(md, topic, h);
	if (!e) {
		pthread_mutex_unlock(&md->lock);
		return KP_ERR_NOMEM;
	}
	for (;;) {
		if (e->snap) {
			*out = snap_ref(e->snap);
			break;
		}
		if (md->closed) {
			err = KP_ERR_CLOSED;
			break;
		}
		if (e->fatal_error) {
			if (kafka_err)
				*kafka_err = e->fatal_error;
			err = KP_ERR_UNKNOWN_TOPIC;
			break;
		}
		if (!asked) {
			/* Ask without the lock: wake() takes the loop's. */
			asked = 1;
			atomic_store(&md->update_requested, 1);
			pthread_mutex_unlock(&md->lock);
			if (md->wake)
				md->wake(md->wake_arg);
			pthread_mutex_lock(&md->lock);
			continue;
		}
		int64_t deadline_ms = kp__deadline_until(dl);
		if (deadline_ms <= 0 || (int64_t)kn__now_ms() >= deadline_ms) {
			err = KP_ERR_UNKNOWN_TOPIC;
			break;
		}
		struct timespec ts;
		deadline_to_timespec(deadline_ms, &ts);
		pthread_cond_timedwait(&md->changed, &md->lock, &ts);
	}
	pthread_mutex_unlock(&md->lock);
	return err;
}

kp_err kp__md_topic_names(kp__md *md, const char ***names, size_t *n)
{
	pthread_mutex_lock(&md->lock);
	const char **v = kc__malloc((md->nentries ? md->nentries : 1) *
				    sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&md->lock);
		return KP_ERR_NOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < md->nbuckets; i++)
		for (md_entry *e = md->buckets[i]; e; e = e->next)
			v[k++] = e->name;
	pthread_mutex_unlock(&md->lock);
	*names = v;
	*n = k;
	return KP_OK;
}

/* A snapshot of `count` partitions, every leader unknown; NULL when out of
 * memory. */
static kp__md_topic *snap_new(const char *name, int32_t count)
{
	kp__md_topic *t = kc__malloc(sizeof(*t));
	if (!t)
		return NULL;
	t->parts = kc__malloc((size_t)count * sizeof(*t->parts));
	t->available = kc__malloc((size_t)count * sizeof(*t->available));
	if (!t->parts || !t->available) {
		kc__free(t->parts);
		kc__free(t->available);
		kc__free(t);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	t->name = name;
	t->count = count;
	t->navail = 0;
	for (int32_t i = 0; i < count; i++)
		t->parts[i] = (kp__md_partition){i, -1, -1, 0};
	return t;
}

static void snap_index_available(kp__md_topic *t)
{
	t->navail = 0;
	for (int32_t i = 0; i < t->count; i++)
		if (t->parts[i].leader >= 0)
			t->available[t->navail++] = i;
}

static int snap_equal(const kp__md_topic *a, const kp__md_topic *b)
{
	return a && b && a->count == b->count &&
	       memcmp(a->parts, b->parts,
		      (size_t)a->count * sizeof(*a->parts)) == 0;
}

/* Build the snapshot a MetadataResponse topic describes, or NULL (with
 * *nomem set when that is why) when it has no usable partitions. Brokers
 * never send duplicate or out-of-range indexes on purpose; such entries
 * are ignored rather than trusted. */
static kp__md_topic *snap_from_response(
	const char *name, const kc_metadata_response_metadata_response_topic *rt,
	int *nomem)
{
	int32_t count = 0;
	for (int32_t i = 0; i < rt->partitions_count; i++) {
		int32_t idx = rt->partitions[i].partition_index;
		if (idx >= 0 && idx < INT32_MAX && idx + 1 > count)
			count = idx + 1;
	}
	if (count <= 0 || count > rt->partitions_count)
		return NULL; /* a gap in the indexes: wait for a sane answer */
	kp__md_topic *t = snap_new(name, count);
	if (!t) {
		*nomem = 1;
		return NULL;
	}
	for (int32_t i = 0; i < rt->partitions_count; i++) {
		const kc_metadata_response_metadata_response_partition *p =
			&rt->partitions[i];
		if (p->partition_index < 0)
			continue;
		kp__md_partition *mp = &t->parts[p->partition_index];
		mp->error = p->error_code;
		mp->leader = p->leader_id >= 0 ? p->leader_id : -1;
		mp->leader_epoch = p->leader_epoch;
	}
	snap_index_available(t);
	return t;
}

kp_err kp__md_apply(kp__md *md, const kc_metadata_response *resp)
{
	int changed = 0;
	kp_err err = KP_OK;
	pthread_mutex_lock(&md->lock);
	for (int32_t i = 0; i < resp->topics_count; i++) {
		const kc_metadata_response_metadata_response_topic *rt =
			&resp->topics[i];
		if (!rt->name.ptr)
			continue;
		md_entry *e = md_find(md, rt->name.ptr, (size_t)rt->name.len,
				      md_hash_n(rt->name.ptr, (size_t)rt->name.len));
		if (!e)
			continue;
		if (rt->error_code != 0 &&
		    !kc_kafka_err_retriable(rt->error_code) &&
		    rt->error_code != KP__E_UNKNOWN_TOPIC_OR_PARTITION) {
			if (!e->snap) {
				e->fatal_error = rt->error_code;
				changed = 1;
			}
			continue;
		}
		if (rt->error_code != 0)
			continue; /* retriable: keep what we have, retry */
		int nomem = 0;
		kp__md_topic *t = snap_from_response(e->name, rt, &nomem);
		if (!t) {
			if (nomem)
				err = KP_ERR_NOMEM;
			continue;
		}
		e->fatal_error = 0;
		if (snap_equal(t, e->snap)) {
			snap_free(t);
			continue;
		}
		kp__md_topic_put(e->snap);
		e->snap = t;
		changed = 1;
	}
	if (changed) {
		atomic_fetch_add(&md->version, 1);
		pthread_cond_broadcast(&md->changed);
	}
	pthread_mutex_unlock(&md->lock);
	return err;
}

int kp__md_set_leader(kp__md *md, const char *topic, int32_t partition,
		      int32_t leader, int32_t leader_epoch)
{
	int ret = 0;
	pthread_mutex_lock(&md->lock);
	md_entry *e = md_find(md, topic, strlen(topic), md_hash(topic));
	if (!e || !e->snap || partition < 0 || partition >= e->snap->count)
		goto out;
	const kp__md_partition *old = &e->snap->parts[partition];
	if (leader_epoch <= old->leader_epoch ||
	    (old->leader == leader && old->leader_epoch == leader_epoch))
		goto out;
	kp__md_topic *t = snap_new(e->name, e->snap->count);
	if (!t) {
		ret = KP_ERR_NOMEM;
		goto out;
	}
	memcpy(t->parts, e->snap->parts,
	       (size_t)t->count * sizeof(*t->parts));
	t->parts[partition].leader = leader;
	t->parts[partition].leader_epoch = leader_epoch;
	t->parts[partition].error = 0;
	snap_index_available(t);
	kp__md_topic_put(e->snap);
	e->snap = t;
	atomic_fetch_add(&md->version, 1);
	pthread_cond_broadcast(&md->changed);
	ret = 1;
out:
	pthread_mutex_unlock(&md->lock);
	return ret;
}

uint64_t kp__md_version(kp__md *md)
{
	return atomic_load(&md->version);
}

int kp__md_incomplete(kp__md *md)
{
	int inc = 0;
	pthread_mutex_lock(&md->lock);
	for (size_t i = 0; i < md->nbuckets && !inc; i++)
		for (md_entry *e = md->buckets[i]; e && !inc; e = e->next)
			inc = !e->fatal_error &&
			      (!e->snap ||
			       e->snap->navail < (size_t)e->snap->count);
	pthread_mutex_unlock(&md->lock);
	return inc;
}

int kp__md_request_update(kp__md *md)
{
	return atomic_exchange(&md->update_requested, 1);
}

int kp__md_take_update_request(kp__md *md)
{
	return atomic_exchange(&md->update_requested, 0);
}

void kp__md_close(kp__md *md)
{
	pthread_mutex_lock(&md->lock);
	md->closed = 1;
	pthread_cond_broadcast(&md->changed);
	pthread_mutex_unlock(&md->lock);
}
