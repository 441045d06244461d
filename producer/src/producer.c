/*
 * The producer's public calls: construction, kp_send() and its sync form,
 * flush, close, partitions_for and statistics. These run on application
 * threads; the sender thread (sender.c) does all network work.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf_int.h"
#include "sender.h"

/* ---- reports --------------------------------------------------------------- */

static void run_acknowledgements(const kp__conf_values *c,
				 const kp_delivery_report *dr)
{
	for (size_t i = 0; i < c->interceptor_count; i++)
		if (c->interceptors[i].ic.on_acknowledgement)
			c->interceptors[i].ic.on_acknowledgement(
				dr, c->interceptors[i].opaque);
}

static void outstanding_sub(kp_producer *p, uint64_t n)
{
	if (atomic_fetch_sub(&p->outstanding, n) != n)
		return;
	pthread_mutex_lock(&p->out_lock);
	pthread_cond_broadcast(&p->out_cond);
	pthread_mutex_unlock(&p->out_lock);
}

void kp__report_batch(kp_producer *p, kp__batch *b, kp_err err,
		      int16_t kafka_err, int64_t base_offset,
		      int64_t log_append_time)
{
	kp_delivery_report dr;
	memset(&dr, 0, sizeof(dr));
	dr.topic = b->tp->topic;
	dr.partition = b->tp->partition;
	dr.err = err;
	dr.kafka_err = err == KP_OK ? 0 : kafka_err;
	dr.log_append_time = err == KP_OK && log_append_time >= 0;
	for (size_t i = 0; i < b->nrecs; i++) {
		const kp__rec_meta *m = &b->recs[i];
		dr.offset = err == KP_OK && base_offset >= 0
				    ? base_offset + (int64_t)i
				    : -1;
		dr.timestamp = dr.log_append_time ? log_append_time
						  : m->timestamp;
		dr.key_len = m->key_len;
		dr.value_len = m->value_len;
		run_acknowledgements(&p->conf, &dr);
		if (m->cb)
			m->cb(&dr, m->opaque);
		if (m->free_cb)
			m->free_cb(m->free_opaque);
	}
	size_t n = b->nrecs;
	kp__acc_release(p->acc, b);
	outstanding_sub(p, n);
}

/* ---- construction ---------------------------------------------------------- */

static void wake_sender(void *arg)
{
	kp__sender_wake(arg);
}

static uint64_t seed64(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
	}
	return s;
}

static void producer_free(kp_producer *p)
{
	kp__acc_destroy(p->acc);
	kp__md_destroy(p->md);
	if (p->loop)
		kn__loop_destroy(p->loop);
	kc__free(p->brokers);
	pthread_mutex_destroy(&p->out_lock);
	pthread_cond_destroy(&p->out_cond);
	kp__conf_values_clear(&p->conf);
	kc__free(p);
}

kp_err kp_producer_new(const kp_conf *conf, kp_producer **out, char *err,
		       size_t errlen)
{
	if (!conf || !out)
		return KP_ERR_INVALID_ARG;
	kp_producer *p = kc__malloc(sizeof(*p));
	if (!p)
		return KP_ERR_NOMEM;
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->out_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->out_cond, &ca);
	pthread_condattr_destroy(&ca);
	kp_err e = kp__conf_resolve(conf, &p->conf, err, errlen);
	if (e != KP_OK) {
		kc__free(p->brokers);
		pthread_mutex_destroy(&p->out_lock);
		pthread_cond_destroy(&p->out_cond);
		kc__free(p);
		return e;
	}
	atomic_init(&p->magic, 2);
	p->producer_id = -1;
	p->producer_epoch = -1;
	kp__rng_seed(&p->rng, seed64());
	kp__acc_conf ac = {
		.batch_size = p->conf.batch_size,
		.buffer_memory = p->conf.buffer_memory,
		.linger_ms = p->conf.linger_ms,
		.max_request_size = p->conf.max_request_size,
		.copy_max = p->conf.message_copy_max_bytes,
		.codec = (int)p->conf.compression_type,
		/* compression.level -1: the codec's own default */
		.level = p->conf.compression_level == -1
				 ? KC_LEVEL_DEFAULT
				 : (int)p->conf.compression_level,
		.partitioner = {
			.kind = (kp__partitioner_kind)p->conf.partitioner,
			.ignore_keys = (int)p->conf.partitioner_ignore_keys,
			.cb = p->conf.partitioner_cb,
			.cb_opaque = p->conf.partitioner_opaque,
		},
		.seed = kp__rng_next(&p->rng),
	};
	if (kp__backoff_init(&p->retry_backoff, p->conf.retry_backoff_ms,
			     KP__BACKOFF_MULTIPLIER,
			     p->conf.retry_backoff_max_ms,
			     KP__BACKOFF_JITTER) != 0)
		e = KP_ERR_BAD_VALUE;
	if (e == KP_OK)
		e = kp__acc_new(&p->acc, &ac);
	if (e == KP_OK)
		e = kp__md_new(&p->md, wake_sender, p);
	if (e == KP_OK && kn__loop_new(&p->loop) != 0)
		e = KP_ERR_NOMEM;
	if (e == KP_OK)
		e = kp__sender_add_bootstrap(p);
	if (e == KP_OK && pthread_create(&p->thread, NULL, kp__sender_main, p))
		e = KP_ERR_NOMEM;
	else if (e == KP_OK)
		pthread_setname_np(p->thread, "kafkit-sender");
	if (e != KP_OK) {
		for (size_t i = 0; i < p->nbrokers; i++)
			kp__broker_destroy(p->brokers[i]);
		producer_free(p);
		return e;
	}
	*out = p;
	return KP_OK;
}

/* ---- send ------------------------------------------------------------------ */

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* kp_send() failed a record itself: interceptors hear of it (as the Java
 * client's onAcknowledgement with the exception), the callback never. */
static kp_err refuse(kp_producer *p, const kp_record *r, int32_t partition,
		     kp_err err, int16_t kafka_err)
{
	kp_delivery_report dr;
	memset(&dr, 0, sizeof(dr));
	dr.topic = r->topic;
	dr.partition = partition;
	dr.offset = -1;
	dr.timestamp = r->timestamp;
	dr.err = err;
	dr.kafka_err = kafka_err;
	dr.key_len = r->key ? r->key_len : 0;
	dr.value_len = r->value ? r->value_len : 0;
	run_acknowledgements(&p->conf, &dr);
	return err;
}

kp_err kp_send(kp_producer *p, const kp_record *rec, kp_delivery_cb cb,
	       void *opaque)
{
	if (!p || !rec || !rec->topic || !rec->topic[0] || rec->partition < -1)
		return KP_ERR_INVALID_ARG;
	if (atomic_load(&p->closing))
		return KP_ERR_CLOSED;
	if (atomic_load(&p->fatal))
		return KP_ERR_FATAL;
	kp_record r = *rec;
	for (size_t i = 0; i < p->conf.interceptor_count; i++)
		if (p->conf.interceptors[i].ic.on_send)
			p->conf.interceptors[i].ic.on_send(
				&r, p->conf.interceptors[i].opaque);
	if (!r.topic || !r.topic[0] || r.partition < -1)
		return refuse(p, &r, -1, KP_ERR_INVALID_ARG, 0);
	if (r.timestamp == KP_TIMESTAMP_NOW)
		r.timestamp = wall_ms();
	if ((r.key && r.key_len > INT32_MAX) ||
	    (r.value && r.value_len > INT32_MAX))
		return refuse(p, &r, r.partition, KP_ERR_RECORD_TOO_LARGE, 0);
	/* The sender thread never blocks (delivery callbacks send too). */
	kp__deadline deadline = {
		.budget_ms = kp__on_sender_thread(p) ? 0 : p->conf.max_block_ms};
	kp__md_topic *t = NULL;
	int16_t kerr = 0;
	kp_err err = kp__md_topic_get(p->md, r.topic, &deadline, &t, &kerr);
	if (err != KP_OK)
		return refuse(p, &r, r.partition, err, kerr);
	if (r.partition >= t->count) {
		kp__md_topic_put(t);
		return refuse(p, &r, r.partition, KP_ERR_UNKNOWN_PARTITION, 0);
	}
	kp__append a = {
		.topic = r.topic,
		.partition = r.partition,
		.partition_count = t->count,
		.available = t->available,
		.navail = t->navail,
		.magic = atomic_load(&p->magic),
		.timestamp = r.timestamp,
		.key = r.key ? kc_bytes_of(r.key, r.key_len)
			     : (kc_bytes){NULL, -1},
		.value = r.value ? kc_bytes_of(r.value, r.value_len)
				 : (kc_bytes){NULL, -1},
		.headers = r.headers,
		.nheaders = r.header_count,
		.cb = cb,
		.opaque = opaque,
		.free_cb = r.free_cb,
		.free_opaque = r.free_opaque,
	};
	atomic_fetch_add(&p->outstanding, 1);
	kp__append_result res;
	err = kp__acc_append(p->acc, &a, &deadline, &res);
	kp__md_topic_put(t);
	if (err != KP_OK) {
		outstanding_sub(p, 1);
		return refuse(p, &r, r.partition, err, 0);
	}
	if (res.new_batch || res.batch_full)
		kp__sender_wake(p);
	return KP_OK;
}

typedef struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	kp_delivery_report dr;
} sync_wait;

static void sync_cb(const kp_delivery_report *dr, void *opaque)
{
	sync_wait *w = opaque;
	pthread_mutex_lock(&w->lock);
	w->dr = *dr;
	w->done = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

kp_err kp_send_sync(kp_producer *p, const kp_record *rec,
		    kp_delivery_report *dr)
{
	if (!p || !rec)
		return KP_ERR_INVALID_ARG;
	if (kp__on_sender_thread(p))
		return KP_ERR_WRONG_THREAD;
	sync_wait w;
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	kp_err err = kp_send(p, rec, sync_cb, &w);
	if (err == KP_OK) {
		/* A report always comes: delivery.timeout.ms bounds it. */
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		err = w.dr.err;
		if (dr) {
			*dr = w.dr;
			dr->topic = rec->topic;
		}
	}
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	return err;
}

/* ---- flush, close ---------------------------------------------------------- */

/* Wait until nothing is outstanding or timeout_ms (-1: forever) passed.
 * Returns KP_OK or KP_ERR_TIMED_OUT. */
static kp_err wait_outstanding(kp_producer *p, int64_t timeout_ms)
{
	int64_t deadline = (int64_t)kn__now_ms() + timeout_ms;
	kp_err err = KP_OK;
	pthread_mutex_lock(&p->out_lock);
	while (atomic_load(&p->outstanding) > 0) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&p->out_cond, &p->out_lock);
			continue;
		}
		if ((int64_t)kn__now_ms() >= deadline) {
			err = KP_ERR_TIMED_OUT;
			break;
		}
		struct timespec ts = {(time_t)(deadline / 1000),
				      (long)(deadline % 1000) * 1000000L};
		pthread_cond_timedwait(&p->out_cond, &p->out_lock, &ts);
	}
	pthread_mutex_unlock(&p->out_lock);
	return err;
}

kp_err kp_flush(kp_producer *p, int64_t timeout_ms)
{
	if (!p || timeout_ms < -1)
		return KP_ERR_INVALID_ARG;
	if (kp__on_sender_thread(p))
		return KP_ERR_WRONG_THREAD;
	kp__acc_flush_begin(p->acc);
	kp__sender_wake(p);
	kp_err err = wait_outstanding(p, timeout_ms);
	kp__acc_flush_end(p->acc);
	return err;
}

kp_err kp_close(kp_producer *p, int64_t timeout_ms)
{
	if (!p)
		return KP_ERR_INVALID_ARG;
	if (kp__on_sender_thread(p))
		return KP_ERR_WRONG_THREAD;
	atomic_store(&p->closing, 1);
	kp__acc_close(p->acc);
	kp__md_close(p->md);
	kp__sender_wake(p);
	kp_err err = wait_outstanding(p, timeout_ms < -1 ? 0 : timeout_ms);
	atomic_store(&p->stop, 1);
	kp__sender_wake(p);
	pthread_join(p->thread, NULL);
	for (size_t i = 0; i < p->conf.interceptor_count; i++)
		if (p->conf.interceptors[i].ic.on_close)
			p->conf.interceptors[i].ic.on_close(
				p->conf.interceptors[i].opaque);
	producer_free(p);
	return err;
}

/* ---- metadata and statistics ------------------------------------------------ */

kp_err kp_partitions_for(kp_producer *p, const char *topic,
			 int64_t timeout_ms, kp_partition_info **parts,
			 size_t *count)
{
	if (!p || !topic || !topic[0] || !parts || !count || timeout_ms < -1)
		return KP_ERR_INVALID_ARG;
	if (kp__on_sender_thread(p))
		return KP_ERR_WRONG_THREAD;
	int64_t wait = timeout_ms < 0 ? p->conf.max_block_ms : timeout_ms;
	kp__md_topic *t = NULL;
	kp__deadline dl = {.budget_ms = wait};
	kp_err err = kp__md_topic_get(p->md, topic, &dl, &t, NULL);
	if (err != KP_OK)
		return err == KP_ERR_CLOSED ? KP_ERR_UNKNOWN_TOPIC : err;
	kp_partition_info *v = kc__malloc((size_t)t->count * sizeof(*v));
	if (!v) {
		kp__md_topic_put(t);
		return KP_ERR_NOMEM;
	}
	for (int32_t i = 0; i < t->count; i++)
		v[i] = (kp_partition_info){i, t->parts[i].leader,
					   t->parts[i].leader_epoch};
	*parts = v;
	*count = (size_t)t->count;
	kp__md_topic_put(t);
	return KP_OK;
}

typedef struct stats_wait {
	kp_producer *p;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	kp_err err;
	char *json;
	size_t len;
} stats_wait;

static void stats_on_loop(kn__loop *loop, void *arg)
{
	stats_wait *w = arg;
	(void)loop;
	char *json = NULL;
	size_t len = 0;
	kp_err err = kp__stats_build(w->p, &json, &len);
	pthread_mutex_lock(&w->lock);
	w->err = err;
	w->json = json;
	w->len = len;
	w->done = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

kp_err kp_stats_json(kp_producer *p, char **json, size_t *len)
{
	if (!p || !json || !len)
		return KP_ERR_INVALID_ARG;
	if (kp__on_sender_thread(p))
		return kp__stats_build(p, json, len);
	stats_wait w;
	memset(&w, 0, sizeof(w));
	w.p = p;
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	kp_err err = KP_OK;
	if (kn__loop_post(p->loop, stats_on_loop, &w) != 0) {
		err = KP_ERR_NOMEM;
	} else {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		err = w.err;
		*json = w.json;
		*len = w.len;
	}
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	return err;
}
