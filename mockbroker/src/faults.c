/*
 * Fault injection: rules matched against requests at the server's
 * decision point, topic-partition error queues asked by the handlers,
 * leader moves (now and on timers), stalled and downed brokers, dropped
 * connections. The km_fault_* entry points post to the I/O thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "buf_int.h"
#include "faults.h"
#include "kafkit/mock.h"

#define MAX_MS 3600000u
#define MAX_CODES 100000u

typedef enum rule_kind {
	R_DELAY,
	R_SWALLOW,
	R_CLOSE,
	R_THROTTLE,
	R_ERRORS,
} rule_kind;

typedef struct rule {
	struct rule *next;
	km_fault_id id;
	rule_kind kind;
	km_fault_match m;
	uint32_t left; /* hits before the rule ends; 0: no end (not R_ERRORS) */
	uint32_t delay_ms, jitter_ms;
	int32_t throttle_ms;
	char *topic; /* R_ERRORS per partition; NULL: per request */
	int32_t partition;
	int16_t *codes;
	size_t ncodes, next_code;
} rule;

typedef struct sched {
	struct sched *next;
	km_fault_id id;
	km_cluster *c;
	char *topic; /* NULL: every topic */
	int32_t partition;
	km_leader_pick pick;
	uint32_t left; /* ticks before it ends; 0: no end */
	kn__timer timer;
} sched;

struct km__faults {
	rule *rules; /* oldest first: the oldest error rule answers */
	sched *scheds;
	km_fault_id last_id;
	uint64_t rng;
};

/* ---- randomness --------------------------------------------------------- */

/* splitmix64: reproducible from the seed, no libc state shared with the
 * application. */
static uint64_t next_rand(km__faults *f)
{
	uint64_t z = (f->rng += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static bool roll(km__faults *f, double probability)
{
	if (probability >= 1.0)
		return true;
	return (double)(next_rand(f) >> 11) * 0x1p-53 < probability;
}

/* ---- state -------------------------------------------------------------- */

static void rule_free(rule *r)
{
	kc__free(r->topic);
	kc__free(r->codes);
	kc__free(r);
}

static void sched_free(km_cluster *c, sched *s)
{
	kn__timer_stop(c->loop, &s->timer);
	kc__free(s->topic);
	kc__free(s);
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = kc__malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static bool match_req(const km_fault_match *m, const km__req *rq)
{
	return (m->broker_id == KM_ANY || m->broker_id == rq->broker->id) &&
	       (m->api_key == KM_ANY || m->api_key == rq->api_key);
}

/* One hit on r: whether r is used up now (the caller unlinks it). */
static bool consume(rule *r)
{
	if (r->kind == R_ERRORS)
		return r->next_code == r->ncodes;
	return r->left && --r->left == 0;
}

static void apply(km__faults *f, rule *r, km__decision *d)
{
	switch (r->kind) {
	case R_DELAY: {
		uint64_t ms = r->delay_ms;
		if (r->jitter_ms)
			ms += next_rand(f) % ((uint64_t)r->jitter_ms + 1);
		ms += d->delay_ms;
		d->delay_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
		break;
	}
	case R_SWALLOW:
		d->swallow = true;
		break;
	case R_CLOSE:
		d->close = true;
		break;
	case R_THROTTLE:
		if (r->throttle_ms > d->throttle_ms)
			d->throttle_ms = r->throttle_ms;
		break;
	case R_ERRORS:
		d->error_code = r->codes[r->next_code++];
		break;
	}
}

/* km__pre_fn: every request-level rule that matches rq and rolls a hit
 * shapes the decision; an error rule only while no code is chosen. */
static void decide(void *opaque, const km__req *rq, km__decision *d)
{
	km__faults *f = opaque;
	for (rule **pp = &f->rules, *r; (r = *pp);) {
		bool taken = r->kind == R_ERRORS &&
			     (r->topic || d->error_code);
		bool skip = taken || !match_req(&r->m, rq) ||
			    !roll(f, r->m.probability);
		if (!skip) {
			apply(f, r, d);
			if (consume(r)) {
				*pp = r->next;
				rule_free(r);
				continue;
			}
		}
		pp = &r->next;
	}
}

int16_t km__faults_partition_error(km__req *rq, const km__partition *p)
{
	km__faults *f = rq->cluster->faults;
	if (!f)
		return 0;
	for (rule **pp = &f->rules, *r; (r = *pp); pp = &r->next) {
		if (r->kind != R_ERRORS || !r->topic ||
		    strcmp(r->topic, p->topic->name) ||
		    (r->partition != KM_ANY && r->partition != p->index) ||
		    !match_req(&r->m, rq) || !roll(f, r->m.probability))
			continue;
		int16_t code = r->codes[r->next_code++];
		if (consume(r)) {
			*pp = r->next;
			rule_free(r);
		}
		if (code) {
			rq->faults |= KM_FAULT_F_ERROR;
			rq->broker->counters.faults_errors++;
		}
		return code;
	}
	return 0;
}

static km__faults *get_faults(km_cluster *c)
{
	if (c->faults)
		return c->faults;
	km__faults *f = kc__malloc(sizeof *f);
	if (!f)
		return NULL;
	*f = (km__faults){.rng = 1};
	c->faults = f;
	km__server_set_pre_handler(c, decide, f);
	return f;
}

void km__faults_free(km_cluster *c)
{
	km__faults *f = c->faults;
	if (!f)
		return;
	while (f->rules) {
		rule *r = f->rules;
		f->rules = r->next;
		rule_free(r);
	}
	while (f->scheds) {
		sched *s = f->scheds;
		f->scheds = s->next;
		sched_free(c, s);
	}
	km__server_set_pre_handler(c, NULL, NULL);
	kc__free(f);
	c->faults = NULL;
}

/* ---- leaders ------------------------------------------------------------ */

km_err km__faults_set_leader(km_cluster *c, km__partition *p, int32_t to)
{
	int32_t from = p->leader;
	km_err e = km__partition_set_leader(p, to);
	km__broker *b = km__cluster_broker(c, from);
	if (e == KM_OK && from != to && b)
		b->counters.leader_changes++;
	return e;
}

/* Candidates are the replicas, or every broker for a single replica. */
static int32_t candidate_at(const km__partition *p, int32_t i)
{
	return p->nreplicas > 1 ? p->replicas[i] : i + 1;
}

static bool eligible(const km_cluster *c, const km__partition *p, int32_t id)
{
	const km__broker *b = km__cluster_broker(c, id);
	return b && !b->down && id != p->leader;
}

/* The broker `pick` selects for p, or 0 when no other broker is up. f is
 * only used by KM_LEADER_RANDOM. */
static int32_t pick_leader(km_cluster *c, km__faults *f,
			   const km__partition *p, km_leader_pick pick)
{
	int32_t n = p->nreplicas > 1 ? p->nreplicas : c->nbrokers;
	int32_t at = -1; /* the leader's place; candidates follow it */
	for (int32_t i = 0; i < n; i++)
		if (candidate_at(p, i) == p->leader)
			at = i;
	int32_t count = 0;
	for (int32_t k = 1; k <= n; k++)
		count += eligible(c, p, candidate_at(p, (at + k) % n));
	if (!count)
		return 0;
	int32_t want = pick == KM_LEADER_RANDOM
			       ? (int32_t)(next_rand(f) % (uint64_t)count)
			       : 0;
	for (int32_t k = 1; k <= n; k++) {
		int32_t id = candidate_at(p, (at + k) % n);
		if (eligible(c, p, id) && want-- == 0)
			return id;
	}
	return 0;
}

static km_err move_partition(km_cluster *c, km__faults *f, km__partition *p,
			     km_leader_pick pick)
{
	int32_t to = pick_leader(c, f, p, pick);
	return to ? km__faults_set_leader(c, p, to) : KM_OK;
}

/* Partition `partition` (KM_ANY: all) of t; a missing index is
 * KM_ERR_NOT_FOUND when strict, else skipped. */
static km_err move_topic(km_cluster *c, km__faults *f, km__topic *t,
			 int32_t partition, km_leader_pick pick, bool strict)
{
	if (partition != KM_ANY) {
		km__partition *p = km__topic_partition(t, partition);
		if (!p)
			return strict ? KM_ERR_NOT_FOUND : KM_OK;
		return move_partition(c, f, p, pick);
	}
	for (int32_t i = 0; i < t->npartitions; i++) {
		km_err e = move_partition(c, f, &t->partitions[i], pick);
		if (e != KM_OK)
			return e;
	}
	return KM_OK;
}

static km_err move_leaders(km_cluster *c, km__faults *f, const char *topic,
			   int32_t partition, km_leader_pick pick, bool strict)
{
	if (topic) {
		km__topic *t = km__cluster_topic(c, topic, strlen(topic));
		if (!t)
			return strict ? KM_ERR_NOT_FOUND : KM_OK;
		return move_topic(c, f, t, partition, pick, strict);
	}
	for (size_t i = 0; i < c->ntopics; i++) {
		km_err e = move_topic(c, f, c->topics[i], partition, pick,
				      false);
		if (e != KM_OK)
			return e;
	}
	return KM_OK;
}

static void sched_unlink(km__faults *f, sched *s)
{
	for (sched **pp = &f->scheds; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			return;
		}
	}
}

static void sched_tick(kn__loop *loop, void *arg)
{
	sched *s = arg;
	km_cluster *c = s->c;
	km__faults *f = c->faults;
	if (move_leaders(c, f, s->topic, s->partition, s->pick, false) !=
	    KM_OK)
		kn__loop_logf(loop, "scheduled leader change: out of memory");
	if (s->left && --s->left == 0) {
		sched_unlink(f, s);
		sched_free(c, s);
	}
}

/* ---- control calls (I/O thread) ----------------------------------------- */

static km_err check_match(const km_cluster *c, const km_fault_match *m)
{
	if (!c || !m || m->broker_id == 0 || m->broker_id < KM_ANY ||
	    m->api_key < KM_ANY ||
	    !(m->probability > 0.0 && m->probability <= 1.0))
		return KM_ERR_INVALID_ARG;
	return m->broker_id > c->nbrokers ? KM_ERR_NOT_FOUND : KM_OK;
}

/* A broker id or KM_ANY: KM_OK, KM_ERR_INVALID_ARG or KM_ERR_NOT_FOUND. */
static km_err check_broker(const km_cluster *c, int32_t id, bool any_ok)
{
	if (!c)
		return KM_ERR_INVALID_ARG;
	if (id == KM_ANY && any_ok)
		return KM_OK;
	return km__cluster_broker(c, id) ? KM_OK : KM_ERR_NOT_FOUND;
}

typedef struct rule_args {
	rule proto; /* kind, match and parameters */
	const char *topic;
	const int16_t *codes;
	km_fault_id *id;
} rule_args;

static km_err do_add_rule(km_cluster *c, void *arg)
{
	rule_args *a = arg;
	km__faults *f = get_faults(c);
	rule *r = f ? kc__malloc(sizeof *r) : NULL;
	if (!r)
		return KM_ERR_NOMEM;
	*r = a->proto;
	r->topic = NULL;
	r->codes = NULL;
	if (a->topic && !(r->topic = dup_str(a->topic))) {
		rule_free(r);
		return KM_ERR_NOMEM;
	}
	if (a->codes) {
		r->codes = kc__malloc(r->ncodes * sizeof *r->codes);
		if (!r->codes) {
			rule_free(r);
			return KM_ERR_NOMEM;
		}
		memcpy(r->codes, a->codes, r->ncodes * sizeof *r->codes);
	}
	r->id = ++f->last_id;
	rule **pp = &f->rules;
	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
	if (a->id)
		*a->id = r->id;
	return KM_OK;
}

static km_err add_rule(km_cluster *c, const km_fault_match *m, rule proto,
		       km_fault_id *id)
{
	km_err e = check_match(c, m);
	if (e != KM_OK)
		return e;
	proto.m = *m;
	proto.left = m->count;
	rule_args a = {.proto = proto, .id = id};
	return km__cluster_call(c, do_add_rule, &a);
}

void km_fault_match_init(km_fault_match *m)
{
	*m = (km_fault_match){.broker_id = KM_ANY, .api_key = KM_ANY,
			      .probability = 1.0};
}

static km_err do_seed(km_cluster *c, void *arg)
{
	km__faults *f = get_faults(c);
	if (!f)
		return KM_ERR_NOMEM;
	f->rng = *(uint64_t *)arg;
	return KM_OK;
}

km_err km_fault_seed(km_cluster *c, uint64_t seed)
{
	if (!c)
		return KM_ERR_INVALID_ARG;
	if (!seed)
		seed = 1;
	return km__cluster_call(c, do_seed, &seed);
}

km_err km_fault_delay(km_cluster *c, const km_fault_match *m,
		      uint32_t delay_ms, uint32_t jitter_ms, km_fault_id *id)
{
	if ((uint64_t)delay_ms + jitter_ms > MAX_MS)
		return KM_ERR_INVALID_ARG;
	return add_rule(c, m,
			(rule){.kind = R_DELAY, .delay_ms = delay_ms,
			       .jitter_ms = jitter_ms},
			id);
}

km_err km_fault_swallow(km_cluster *c, const km_fault_match *m,
			km_fault_id *id)
{
	return add_rule(c, m, (rule){.kind = R_SWALLOW}, id);
}

km_err km_fault_close(km_cluster *c, const km_fault_match *m,
		      km_fault_id *id)
{
	return add_rule(c, m, (rule){.kind = R_CLOSE}, id);
}

km_err km_fault_throttle(km_cluster *c, const km_fault_match *m,
			 int32_t throttle_ms, km_fault_id *id)
{
	if (throttle_ms < 0)
		return KM_ERR_INVALID_ARG;
	return add_rule(c, m,
			(rule){.kind = R_THROTTLE, .throttle_ms = throttle_ms},
			id);
}

km_err km_fault_errors(km_cluster *c, const km_fault_match *m,
		       const char *topic, int32_t partition,
		       const int16_t *codes, size_t ncodes, km_fault_id *id)
{
	km_err e = check_match(c, m);
	if (e != KM_OK)
		return e;
	if (!codes || !ncodes || ncodes > MAX_CODES || partition < KM_ANY ||
	    (topic && !km__topic_name_valid(topic, strlen(topic))))
		return KM_ERR_INVALID_ARG;
	rule_args a = {
		.proto = {.kind = R_ERRORS, .m = *m, .partition = partition,
			  .ncodes = ncodes},
		.topic = topic,
		.codes = codes,
		.id = id,
	};
	return km__cluster_call(c, do_add_rule, &a);
}

typedef struct leader_args {
	const char *topic;
	int32_t partition;
	uint32_t every_ms;
	km_leader_pick pick;
	uint32_t count;
	km_fault_id *id;
} leader_args;

static km_err do_leader_move(km_cluster *c, void *arg)
{
	leader_args *a = arg;
	km__faults *f = get_faults(c);
	if (!f)
		return KM_ERR_NOMEM;
	return move_leaders(c, f, a->topic, a->partition, a->pick, true);
}

static bool pick_valid(km_leader_pick pick)
{
	return pick == KM_LEADER_ROUND_ROBIN || pick == KM_LEADER_RANDOM;
}

km_err km_fault_leader_move(km_cluster *c, const char *topic,
			    int32_t partition, km_leader_pick pick)
{
	if (!c || !pick_valid(pick) || partition < KM_ANY)
		return KM_ERR_INVALID_ARG;
	leader_args a = {.topic = topic, .partition = partition, .pick = pick};
	return km__cluster_call(c, do_leader_move, &a);
}

static km_err do_leader_schedule(km_cluster *c, void *arg)
{
	leader_args *a = arg;
	km__faults *f = get_faults(c);
	sched *s = f ? kc__malloc(sizeof *s) : NULL;
	if (!s)
		return KM_ERR_NOMEM;
	*s = (sched){.c = c, .partition = a->partition, .pick = a->pick,
		     .left = a->count};
	kn__timer_init(&s->timer, sched_tick, s);
	if ((a->topic && !(s->topic = dup_str(a->topic))) ||
	    kn__timer_start(c->loop, &s->timer, a->every_ms, a->every_ms)) {
		kc__free(s->topic);
		kc__free(s);
		return KM_ERR_NOMEM;
	}
	s->id = ++f->last_id;
	s->next = f->scheds;
	f->scheds = s;
	if (a->id)
		*a->id = s->id;
	return KM_OK;
}

km_err km_fault_leader_schedule(km_cluster *c, const char *topic,
				int32_t partition, uint32_t every_ms,
				km_leader_pick pick, uint32_t count,
				km_fault_id *id)
{
	if (!c || !pick_valid(pick) || partition < KM_ANY || !every_ms ||
	    every_ms > MAX_MS ||
	    (topic && !km__topic_name_valid(topic, strlen(topic))))
		return KM_ERR_INVALID_ARG;
	leader_args a = {.topic = topic, .partition = partition,
			 .every_ms = every_ms, .pick = pick, .count = count,
			 .id = id};
	return km__cluster_call(c, do_leader_schedule, &a);
}

static km_err do_cancel(km_cluster *c, void *arg)
{
	km_fault_id id = *(km_fault_id *)arg;
	km__faults *f = c->faults;
	if (!f)
		return KM_ERR_NOT_FOUND;
	for (rule **pp = &f->rules, *r; (r = *pp); pp = &r->next) {
		if (r->id == id) {
			*pp = r->next;
			rule_free(r);
			return KM_OK;
		}
	}
	for (sched **pp = &f->scheds, *s; (s = *pp); pp = &s->next) {
		if (s->id == id) {
			*pp = s->next;
			sched_free(c, s);
			return KM_OK;
		}
	}
	return KM_ERR_NOT_FOUND;
}

km_err km_fault_cancel(km_cluster *c, km_fault_id id)
{
	if (!c)
		return KM_ERR_INVALID_ARG;
	return km__cluster_call(c, do_cancel, &id);
}

typedef struct broker_args {
	int32_t broker;
	bool flag;
	uint64_t n;
	int up;
} broker_args;

static km_err do_clear(km_cluster *c, void *arg)
{
	(void)arg;
	for (int32_t i = 0; i < c->nbrokers; i++)
		if (c->brokers[i].stalled)
			km__server_stall(&c->brokers[i], false);
	km__faults *f = c->faults;
	while (f && f->rules) {
		rule *r = f->rules;
		f->rules = r->next;
		rule_free(r);
	}
	while (f && f->scheds) {
		sched *s = f->scheds;
		f->scheds = s->next;
		sched_free(c, s);
	}
	return KM_OK;
}

km_err km_fault_clear(km_cluster *c)
{
	if (!c)
		return KM_ERR_INVALID_ARG;
	return km__cluster_call(c, do_clear, NULL);
}

/* The brokers a call names: one, or all for KM_ANY. */
static void broker_range(const km_cluster *c, int32_t id, int32_t *lo,
			 int32_t *hi)
{
	*lo = id == KM_ANY ? 1 : id;
	*hi = id == KM_ANY ? c->nbrokers : id;
}

static km_err do_stall(km_cluster *c, void *arg)
{
	broker_args *a = arg;
	int32_t lo, hi;
	broker_range(c, a->broker, &lo, &hi);
	for (int32_t id = lo; id <= hi; id++)
		km__server_stall(km__cluster_broker(c, id), a->flag);
	return KM_OK;
}

km_err km_fault_stall(km_cluster *c, int32_t broker_id, bool stalled)
{
	km_err e = check_broker(c, broker_id, true);
	if (e != KM_OK)
		return e;
	broker_args a = {.broker = broker_id, .flag = stalled};
	return km__cluster_call(c, do_stall, &a);
}

static km_err do_broker_down(km_cluster *c, void *arg)
{
	broker_args *a = arg;
	km__broker *b = km__cluster_broker(c, a->broker);
	if (b->down)
		return KM_OK;
	kn__listener_close(b->ls);
	km__server_close_all(b, 0, "fault: broker down");
	b->down = true;
	for (size_t i = 0; a->flag && i < c->ntopics; i++) {
		km__topic *t = c->topics[i];
		for (int32_t j = 0; j < t->npartitions; j++) {
			km__partition *p = &t->partitions[j];
			if (p->leader != b->id)
				continue;
			km_err e = move_partition(c, NULL, p,
						  KM_LEADER_ROUND_ROBIN);
			if (e != KM_OK)
				return e;
		}
	}
	return KM_OK;
}

km_err km_fault_broker_down(km_cluster *c, int32_t broker_id,
			    bool move_leaders)
{
	km_err e = check_broker(c, broker_id, false);
	if (e != KM_OK)
		return e;
	broker_args a = {.broker = broker_id, .flag = move_leaders};
	return km__cluster_call(c, do_broker_down, &a);
}

static km_err do_broker_up(km_cluster *c, void *arg)
{
	broker_args *a = arg;
	km__broker *b = km__cluster_broker(c, a->broker);
	if (!b->down)
		return KM_OK;
	int rc = kn__listener_open(b->ls);
	if (rc) {
		kn__loop_logf(c->loop,
			      "broker %" PRId32 ": cannot listen again on "
			      "127.0.0.1:%u: %s",
			      b->id, (unsigned)b->port, strerror(-rc));
		return rc == -ENOMEM ? KM_ERR_NOMEM : KM_ERR_IO;
	}
	b->down = false;
	return KM_OK;
}

km_err km_fault_broker_up(km_cluster *c, int32_t broker_id)
{
	km_err e = check_broker(c, broker_id, false);
	if (e != KM_OK)
		return e;
	broker_args a = {.broker = broker_id};
	return km__cluster_call(c, do_broker_up, &a);
}

static km_err do_is_up(km_cluster *c, void *arg)
{
	broker_args *a = arg;
	a->up = !km__cluster_broker(c, a->broker)->down;
	return KM_OK;
}

int km_fault_broker_is_up(km_cluster *c, int32_t broker_id)
{
	km_err e = check_broker(c, broker_id, false);
	if (e != KM_OK)
		return e;
	broker_args a = {.broker = broker_id};
	e = km__cluster_call(c, do_is_up, &a);
	return e == KM_OK ? a.up : e;
}

static km_err do_drop(km_cluster *c, void *arg)
{
	broker_args *a = arg;
	int32_t lo, hi;
	broker_range(c, a->broker, &lo, &hi);
	for (int32_t id = lo; id <= hi; id++) {
		km__broker *b = km__cluster_broker(c, id);
		if (a->flag)
			km__server_close_after(b, a->n);
		else
			km__server_close_all(b, 0,
					     "fault: connections dropped");
	}
	return KM_OK;
}

km_err km_fault_drop_connections(km_cluster *c, int32_t broker_id)
{
	km_err e = check_broker(c, broker_id, true);
	if (e != KM_OK)
		return e;
	broker_args a = {.broker = broker_id};
	return km__cluster_call(c, do_drop, &a);
}

km_err km_fault_drop_after(km_cluster *c, int32_t broker_id, uint64_t nbytes)
{
	km_err e = check_broker(c, broker_id, true);
	if (e != KM_OK)
		return e;
	broker_args a = {.broker = broker_id, .flag = true, .n = nbytes};
	return km__cluster_call(c, do_drop, &a);
}
