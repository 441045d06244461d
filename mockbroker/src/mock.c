/*
 * The public mock cluster API: lifecycle, the I/O thread, and control
 * calls that run on that thread while the caller waits.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "buf_int.h"
#include "capture.h"
#include "cluster.h"
#include "conn.h"
#include "faults.h"
#include "idle.h"
#include "kafkit/mock.h"
#include "server.h"

#define MAX_BROKERS 1024
/* Kafka's message.max.bytes default. */
#define DEFAULT_MAX_MESSAGE 1048588

const char *km_err_name(km_err err)
{
	switch (err) {
#define E(x)                                                                   \
	case x:                                                                \
		return #x;
		E(KM_OK)
		E(KM_ERR_NOMEM)
		E(KM_ERR_INVALID_ARG)
		E(KM_ERR_STATE)
		E(KM_ERR_EXISTS)
		E(KM_ERR_NOT_FOUND)
		E(KM_ERR_IO)
#undef E
	}
	return "KM_ERR_?";
}

void km_options_init(km_options *o)
{
	*o = (km_options){
		.auto_create_topics = true,
		.default_partitions = 1,
		.max_message_bytes = DEFAULT_MAX_MESSAGE,
		.idle_timeout_ms = 600000,
	};
}

/* ---- running on the I/O thread ------------------------------------------ */

typedef struct call {
	km_cluster *c;
	km__call_fn fn;
	void *arg;
	km_err result;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
} call;

static void call_on_loop(kn__loop *loop, void *arg)
{
	call *k = arg;
	(void)loop;
	k->result = k->fn(k->c, k->arg);
	pthread_mutex_lock(&k->mu);
	k->done = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

km_err km__cluster_call(km_cluster *c, km__call_fn fn, void *arg)
{
	if (!c->started || pthread_equal(pthread_self(), c->thread))
		return fn(c, arg);
	call k = {.c = c, .fn = fn, .arg = arg};
	pthread_mutex_init(&k.mu, NULL);
	pthread_cond_init(&k.cv, NULL);
	km_err e = KM_OK;
	if (kn__loop_post(c->loop, call_on_loop, &k)) {
		e = KM_ERR_NOMEM;
	} else {
		pthread_mutex_lock(&k.mu);
		while (!k.done)
			pthread_cond_wait(&k.cv, &k.mu);
		pthread_mutex_unlock(&k.mu);
		e = k.result;
	}
	pthread_cond_destroy(&k.cv);
	pthread_mutex_destroy(&k.mu);
	return e;
}

/* ---- lifecycle ------------------------------------------------------------ */

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = kc__malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static void cluster_free(km_cluster *c)
{
	for (int32_t i = 0; c->brokers && i < c->nbrokers; i++) {
		km__broker *b = &c->brokers[i];
		km__server_close_all(b, 0, "the cluster is shutting down");
		kn__listener_destroy(b->ls);
	}
	if (c->loop)
		kn__defer_cancel(c->loop, &c->recheck);
	km__capture_free(c); /* after the connections' FINs */
	km__idle_stop(c);
	km__faults_free(c);
	km__cluster_free_state(c);
	kc_arena_free(&c->arena);
	kc_writer_free(&c->out);
	kn__loop_destroy(c->loop);
	kc__free(c->brokers);
	kc__free(c->ports);
	kc__free(c->cluster_id);
	kc__free(c->bootstraps);
	kc__free(c);
}

static km_err check_options(int n_brokers, const km_options *o)
{
	if (n_brokers < 1 || n_brokers > MAX_BROKERS ||
	    o->default_partitions < 0 ||
	    o->default_partitions > KM__PARTITIONS_MAX ||
	    o->replication_factor < 0 || o->max_message_bytes < 0)
		return KM_ERR_INVALID_ARG;
	return KM_OK;
}

/* Brokers 1..n with their listeners open, and the bootstrap list. */
static km_err open_brokers(km_cluster *c)
{
	c->brokers = kc__malloc((size_t)c->nbrokers * sizeof *c->brokers);
	if (!c->brokers)
		return KM_ERR_NOMEM;
	memset(c->brokers, 0, (size_t)c->nbrokers * sizeof *c->brokers);
	/* "127.0.0.1:65535," per broker */
	c->bootstraps = kc__malloc((size_t)c->nbrokers * 16 + 1);
	if (!c->bootstraps)
		return KM_ERR_NOMEM;
	size_t pos = 0;
	for (int32_t i = 0; i < c->nbrokers; i++) {
		km__broker *b = &c->brokers[i];
		b->cluster = c;
		b->id = i + 1;
		uint16_t port = c->ports ? c->ports[i] : 0;
		int rc = kn__listener_new(&b->ls, c->loop, NULL, port,
					  km__server_accept, b);
		if (rc)
			return KM_ERR_NOMEM;
		rc = kn__listener_open(b->ls);
		if (rc) {
			kn__loop_logf(c->loop,
				      "broker %" PRId32 ": cannot listen on "
				      "127.0.0.1:%u: %s",
				      b->id, (unsigned)port, strerror(-rc));
			return rc == -ENOMEM ? KM_ERR_NOMEM : KM_ERR_IO;
		}
		b->port = kn__listener_port(b->ls);
		pos += (size_t)sprintf(c->bootstraps + pos, "%s127.0.0.1:%u",
				       i ? "," : "", (unsigned)b->port);
	}
	return KM_OK;
}

km_err km_cluster_new(km_cluster **out, int n_brokers, const km_options *opts)
{
	km_options defaults;
	if (!opts) {
		km_options_init(&defaults);
		opts = &defaults;
	}
	if (!out)
		return KM_ERR_INVALID_ARG;
	if (check_options(n_brokers, opts) != KM_OK)
		return KM_ERR_INVALID_ARG;
	km_cluster *c = kc__malloc(sizeof *c);
	if (!c)
		return KM_ERR_NOMEM;
	*c = (km_cluster){.opts = *opts, .nbrokers = n_brokers, .next_pid = 1};
	km__idle_init(c);
	kc_arena_init(&c->arena);
	kc_writer_init(&c->out);
	if (!c->opts.default_partitions)
		c->opts.default_partitions = 1;
	if (!c->opts.replication_factor)
		c->opts.replication_factor = n_brokers < 3 ? n_brokers : 3;
	if (c->opts.replication_factor > n_brokers)
		c->opts.replication_factor = n_brokers;
	if (!c->opts.max_frame)
		c->opts.max_frame = KN__DEFAULT_MAX_FRAME;
	if (!c->opts.max_message_bytes)
		c->opts.max_message_bytes = DEFAULT_MAX_MESSAGE;
	km_err e = KM_OK;
	c->cluster_id = dup_str(opts->cluster_id ? opts->cluster_id
						 : "kafkit-mock");
	if (!c->cluster_id)
		e = KM_ERR_NOMEM;
	if (e == KM_OK && opts->ports) {
		c->ports = kc__malloc((size_t)n_brokers * sizeof *c->ports);
		if (c->ports)
			memcpy(c->ports, opts->ports,
			       (size_t)n_brokers * sizeof *c->ports);
		else
			e = KM_ERR_NOMEM;
	}
	c->opts.ports = c->ports;
	c->opts.cluster_id = c->cluster_id;
	if (e == KM_OK) {
		int rc = kn__loop_new(&c->loop);
		if (rc)
			e = rc == -ENOMEM ? KM_ERR_NOMEM : KM_ERR_IO;
	}
	if (e == KM_OK) {
		kn__loop_set_log(c->loop, opts->log_fn, opts->log_opaque);
		km__server_init(c);
		e = open_brokers(c);
	}
	if (e == KM_OK && km__idle_start(c))
		e = KM_ERR_NOMEM;
	/* opened here, not kept: the caller's string may go away */
	c->opts.pcap_path = NULL;
	if (e == KM_OK && opts->pcap_path)
		e = km__capture_start(c, opts->pcap_path);
	if (e != KM_OK) {
		cluster_free(c);
		return e;
	}
	*out = c;
	return KM_OK;
}

static void *io_main(void *arg)
{
	km_cluster *c = arg;
	int rc = kn__loop_run(c->loop);
	if (rc)
		kn__loop_logf(c->loop, "the I/O loop failed: %s",
			      strerror(-rc));
	return NULL;
}

km_err km_cluster_start(km_cluster *c)
{
	if (!c)
		return KM_ERR_INVALID_ARG;
	if (c->started)
		return KM_ERR_STATE;
	/* Signals go to the application's threads, never to the I/O one. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&c->thread, NULL, io_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return KM_ERR_IO;
	/* As librdkafka's rdk:mock: found at once in top -H, perf, gdb. */
	pthread_setname_np(c->thread, "kafkit-mock");
	c->started = true;
	return KM_OK;
}

void km_cluster_destroy(km_cluster *c)
{
	if (!c)
		return;
	if (c->started) {
		kn__loop_stop(c->loop);
		pthread_join(c->thread, NULL);
		c->started = false;
	}
	cluster_free(c);
}

const char *km_cluster_bootstraps(const km_cluster *c)
{
	return c->bootstraps;
}

uint16_t km_cluster_broker_port(const km_cluster *c, int32_t broker_id)
{
	if (broker_id < 1 || broker_id > c->nbrokers)
		return 0;
	return c->brokers[broker_id - 1].port;
}

/* ---- control ------------------------------------------------------------ */

typedef struct topic_args {
	const char *name;
	int32_t partitions;
	const km_topic_options *opts;
} topic_args;

static km_err do_create_topic(km_cluster *c, void *arg)
{
	topic_args *a = arg;
	bool lat = a->opts && a->opts->log_append_time;
	int32_t rf = a->opts && a->opts->replication_factor
			     ? a->opts->replication_factor
			     : c->opts.replication_factor;
	return km__cluster_create_topic(c, a->name, strlen(a->name),
					a->partitions, rf, lat, NULL);
}

km_err km_cluster_create_topic(km_cluster *c, const char *name,
			       int32_t partitions,
			       const km_topic_options *opts)
{
	if (!c || !name || !km__topic_name_valid(name, strlen(name)) ||
	    partitions < 1 || partitions > KM__PARTITIONS_MAX ||
	    (opts && opts->replication_factor < 0))
		return KM_ERR_INVALID_ARG;
	topic_args a = {name, partitions, opts};
	return km__cluster_call(c, do_create_topic, &a);
}

typedef struct part_args {
	const char *topic;
	int32_t partition;
	int32_t broker;
	km_partition_info *info;
	km_record_fn fn;
	void *opaque;
} part_args;

static km__partition *lookup(km_cluster *c, const part_args *a)
{
	km__topic *t = km__cluster_topic(c, a->topic, strlen(a->topic));
	return t ? km__topic_partition(t, a->partition) : NULL;
}

static km_err do_set_leader(km_cluster *c, void *arg)
{
	part_args *a = arg;
	km__partition *p = lookup(c, a);
	if (!p || !km__cluster_broker(c, a->broker))
		return KM_ERR_NOT_FOUND;
	return km__faults_set_leader(c, p, a->broker);
}

km_err km_cluster_set_leader(km_cluster *c, const char *topic,
			     int32_t partition, int32_t broker_id)
{
	if (!c || !topic)
		return KM_ERR_INVALID_ARG;
	part_args a = {.topic = topic, .partition = partition,
		       .broker = broker_id};
	return km__cluster_call(c, do_set_leader, &a);
}

static km_err do_partition_info(km_cluster *c, void *arg)
{
	part_args *a = arg;
	km__partition *p = lookup(c, a);
	if (!p)
		return KM_ERR_NOT_FOUND;
	*a->info = (km_partition_info){
		.leader = p->leader,
		.leader_epoch = p->leader_epoch,
		.log_start_offset = p->log.log_start,
		.high_watermark = p->log.end_offset,
		.batches = p->log.count,
		.bytes = p->log.bytes,
	};
	return KM_OK;
}

km_err km_cluster_partition_info(km_cluster *c, const char *topic,
				 int32_t partition, km_partition_info *out)
{
	if (!c || !topic || !out)
		return KM_ERR_INVALID_ARG;
	part_args a = {.topic = topic, .partition = partition, .info = out};
	return km__cluster_call(c, do_partition_info, &a);
}

static km_err do_partition_log(km_cluster *c, void *arg)
{
	part_args *a = arg;
	km__partition *p = lookup(c, a);
	if (!p)
		return KM_ERR_NOT_FOUND;
	kc_err e = km__plog_walk(&p->log, a->fn, a->opaque);
	return e == KC_OK ? KM_OK : KM_ERR_NOMEM;
}

km_err km_cluster_partition_log(km_cluster *c, const char *topic,
				int32_t partition, km_record_fn fn,
				void *opaque)
{
	if (!c || !topic || !fn)
		return KM_ERR_INVALID_ARG;
	part_args a = {.topic = topic, .partition = partition, .fn = fn,
		       .opaque = opaque};
	return km__cluster_call(c, do_partition_log, &a);
}

typedef struct topics_args {
	km_topic_fn fn;
	void *opaque;
} topics_args;

static km_err do_topics(km_cluster *c, void *arg)
{
	topics_args *a = arg;
	/* by index: fn may create topics, which grows c->topics */
	for (size_t i = 0; i < c->ntopics; i++)
		if (a->fn(a->opaque, c->topics[i]->name,
			  c->topics[i]->npartitions))
			break;
	return KM_OK;
}

km_err km_cluster_topics(km_cluster *c, km_topic_fn fn, void *opaque)
{
	if (!c || !fn)
		return KM_ERR_INVALID_ARG;
	topics_args a = {fn, opaque};
	return km__cluster_call(c, do_topics, &a);
}

typedef struct counter_args {
	int32_t broker;
	km_counters *out;
} counter_args;

static void add_counters(km_counters *sum, const km_counters *k)
{
	sum->connections_accepted += k->connections_accepted;
	sum->connections_open += k->connections_open;
	sum->connections_failed += k->connections_failed;
	sum->requests += k->requests;
	for (size_t i = 0; i < KM_API_KEY_LIMIT; i++)
		sum->requests_by_api[i] += k->requests_by_api[i];
	sum->requests_rejected += k->requests_rejected;
	sum->error_responses += k->error_responses;
	sum->bytes_in += k->bytes_in;
	sum->bytes_out += k->bytes_out;
	sum->batches_appended += k->batches_appended;
	sum->records_appended += k->records_appended;
	sum->duplicate_batches += k->duplicate_batches;
	sum->faults_delayed += k->faults_delayed;
	sum->faults_swallowed += k->faults_swallowed;
	sum->faults_closed += k->faults_closed;
	sum->faults_errors += k->faults_errors;
	sum->faults_throttled += k->faults_throttled;
	sum->leader_changes += k->leader_changes;
}

static km_err do_counters(km_cluster *c, void *arg)
{
	counter_args *a = arg;
	*a->out = (km_counters){0};
	if (a->broker != -1) {
		km__broker *b = km__cluster_broker(c, a->broker);
		if (!b)
			return KM_ERR_NOT_FOUND;
		*a->out = b->counters;
		return KM_OK;
	}
	for (int32_t i = 0; i < c->nbrokers; i++)
		add_counters(a->out, &c->brokers[i].counters);
	return KM_OK;
}

km_err km_cluster_counters(km_cluster *c, int32_t broker_id,
			   km_counters *out)
{
	if (!c || !out)
		return KM_ERR_INVALID_ARG;
	counter_args a = {broker_id, out};
	return km__cluster_call(c, do_counters, &a);
}
