/*
 * The sender thread: one event loop iteration after another, each
 * followed by a pass that expires old batches, keeps metadata fresh,
 * obtains the producer id, connects to leaders and sends what the
 * accumulator has ready (produce.c). Everything here runs on the sender
 * thread.
 */
#include "sender.h"

#include <stdio.h>
#include <string.h>

#include "buf_int.h"
#include "kafkit/err.h"
#include "kafkit/protocol.h"

/* Kafka ErrorCodes the sender treats specially. */
#define KP__E_COORDINATOR_LOAD_IN_PROGRESS 14

/* Longest sleep between passes when nothing is due (the loop also wakes
 * for any I/O and for kp__sender_wake). */
#define KP__IDLE_WAIT_MS 1000
/* When data is ready but no connection can take it, look again this soon
 * (a connection coming up or a response wakes the loop earlier). */
#define KP__BLOCKED_WAIT_MS 50

void kp__sender_wake(kp_producer *p)
{
	kn__loop_wake(p->loop);
}

int kp__on_sender_thread(kp_producer *p)
{
	return atomic_load(&p->sender_started) &&
	       pthread_equal(pthread_self(), p->sender_tid);
}

/* ---- brokers --------------------------------------------------------------- */

kp__broker *kp__sender_broker(kp_producer *p, int32_t node_id)
{
	for (size_t i = 0; i < p->nbrokers; i++)
		if (kp__broker_node_id(p->brokers[i]) == node_id)
			return p->brokers[i];
	return NULL;
}

static void on_broker_up(kp__broker *b, void *arg)
{
	kp_producer *p = arg;
	int16_t v = kp__broker_version(b, KC_PRODUCE_REQUEST_API_KEY, 0,
				       KC_PRODUCE_REQUEST_MAX_VERSION);
	/* Produce v3+ carries RecordBatch v2, v2 MessageSet v1, v0-1 v0. */
	int magic = v >= 3 ? 2 : v == 2 ? 1 : 0;
	if (v >= 0 && kp__broker_node_id(b) >= 0 &&
	    magic < atomic_load(&p->magic))
		atomic_store(&p->magic, magic);
}

static void on_broker_down(kp__broker *b, const char *reason, void *arg)
{
	kp_producer *p = arg;
	(void)reason;
	/* A lost leader may have moved: look again (bootstrap connections
	 * close on purpose once real brokers are known). */
	if (kp__broker_node_id(b) >= 0)
		p->md_wanted = 1;
}

static kp_err add_broker(kp_producer *p, int32_t node_id, const char *host,
			 uint16_t port, kp__broker **out)
{
	if (p->nbrokers == p->brokers_cap) {
		size_t cap = p->brokers_cap ? p->brokers_cap * 2 : 8;
		kp__broker **v = kc__realloc(p->brokers, cap * sizeof(*v));
		if (!v)
			return KP_ERR_NOMEM;
		p->brokers = v;
		p->brokers_cap = cap;
	}
	kp__broker_opts o = {
		.client_id = p->conf.client_id,
		.request_timeout_ms = p->conf.request_timeout_ms,
		.rng = &p->rng,
		.on_up = on_broker_up,
		.on_down = on_broker_down,
		.arg = p,
	};
	if (kp__backoff_init(&o.reconnect, p->conf.reconnect_backoff_ms,
			     KP__BACKOFF_MULTIPLIER,
			     p->conf.reconnect_backoff_max_ms,
			     KP__BACKOFF_JITTER) != 0 ||
	    kp__backoff_init(&o.setup_timeout,
			     p->conf.socket_connection_setup_timeout_ms,
			     KP__BACKOFF_MULTIPLIER,
			     p->conf.socket_connection_setup_timeout_max_ms,
			     KP__BACKOFF_JITTER) != 0)
		return KP_ERR_INVALID_ARG;
	kp_err err = kp__broker_new(&p->brokers[p->nbrokers], p->loop, node_id,
				    host, port, &o);
	if (err != KP_OK)
		return err;
	if (out)
		*out = p->brokers[p->nbrokers];
	p->nbrokers++;
	return KP_OK;
}

kp_err kp__sender_add_bootstrap(kp_producer *p)
{
	const char *cur = p->conf.bootstrap_servers;
	char host[256];
	uint16_t port;
	int32_t id = -1;
	int rc;
	while ((rc = kp__servers_next(&cur, host, sizeof(host), &port)) == 1) {
		kp_err err = add_broker(p, id--, host, port, NULL);
		if (err != KP_OK)
			return err;
	}
	return rc == 0 ? KP_OK : KP_ERR_BAD_VALUE;
}

/* The UP broker with the fewest requests in flight; real nodes before
 * bootstrap entries. NULL when none is UP. */
static kp__broker *least_loaded_up(kp_producer *p)
{
	kp__broker *best = NULL;
	for (size_t i = 0; i < p->nbrokers; i++) {
		kp__broker *b = p->brokers[i];
		if (kp__broker_state_of(b) != KP__BROKER_UP)
			continue;
		if (!best ||
		    (kp__broker_node_id(b) >= 0 &&
		     kp__broker_node_id(best) < 0) ||
		    ((kp__broker_node_id(b) >= 0) ==
			     (kp__broker_node_id(best) >= 0) &&
		     kp__broker_in_flight(b) < kp__broker_in_flight(best)))
			best = b;
	}
	return best;
}

/* Make sure some broker is connecting when none is UP: real nodes once
 * Metadata named them, else the bootstrap list, round robin, each
 * after its reconnect backoff. Returns the earliest time a DOWN one may
 * be tried again (INT64_MAX when one is connecting). */
static int64_t connect_any(kp_producer *p, int64_t now)
{
	int64_t next = INT64_MAX;
	for (size_t i = 0; i < p->nbrokers; i++)
		if (kp__broker_state_of(p->brokers[i]) != KP__BROKER_DOWN)
			return INT64_MAX;
	for (size_t k = 0; k < p->nbrokers; k++) {
		kp__broker *b = p->brokers[(p->rr_connect + k) % p->nbrokers];
		if (p->md_have_brokers && kp__broker_node_id(b) < 0)
			continue;
		int64_t at = kp__broker_next_connect_ms(b);
		if (at <= now) {
			p->rr_connect = (p->rr_connect + k + 1) % p->nbrokers;
			if (kp__broker_connect(b, now) != KP__BROKER_DOWN)
				return INT64_MAX;
			at = kp__broker_next_connect_ms(b);
		}
		if (at < next)
			next = at;
	}
	if (next == INT64_MAX && p->md_have_brokers) {
		/* Every real node is gone from reach: fall back to bootstrap. */
		p->md_have_brokers = 0;
		return now;
	}
	return next;
}

/* ---- metadata ------------------------------------------------------------ */

static void on_metadata(kp__broker *b, kp_err err, int16_t api_key,
			int16_t version, const uint8_t *body, size_t len,
			void *arg)
{
	kp_producer *p = arg;
	(void)api_key;
	p->md_in_flight = 0;
	p->md_last_ms = (int64_t)kn__now_ms();
	if (err != KP_OK) {
		p->md_wanted = 1;
		return;
	}
	kc_decode_error derr = {0};
	kc_reader r;
	kc_reader_init(&r, body, len, &derr);
	kc_arena arena;
	kc_arena_init(&arena);
	kc_metadata_response resp;
	if (kc_metadata_response_decode(&r, &resp, version, &arena) != KC_OK) {
		char detail[128], why[160];
		kc_decode_error_format(&derr, detail, sizeof(detail));
		snprintf(why, sizeof(why), "bad Metadata response: %s", detail);
		kc_arena_free(&arena);
		p->md_wanted = 1;
		kp__broker_disconnect(b, why);
		return;
	}
	for (int32_t i = 0; i < resp.brokers_count; i++) {
		const kc_metadata_response_metadata_response_broker *rb =
			&resp.brokers[i];
		char host[256];
		if (rb->node_id < 0 || rb->port <= 0 || rb->port > 65535 ||
		    !rb->host.ptr || (size_t)rb->host.len >= sizeof(host))
			continue;
		memcpy(host, rb->host.ptr, (size_t)rb->host.len);
		host[rb->host.len] = '\0';
		kp__broker *known = kp__sender_broker(p, rb->node_id);
		if (!known)
			(void)add_broker(p, rb->node_id, host,
					 (uint16_t)rb->port, NULL);
		else if (strcmp(kp__broker_host(known), host) != 0 ||
			 kp__broker_port(known) != rb->port)
			(void)kp__broker_set_address(known, host,
						     (uint16_t)rb->port);
		p->md_have_brokers = 1;
	}
	if (kp__md_apply(p->md, &resp) != KP_OK)
		p->md_wanted = 1;
	kc_arena_free(&arena);
	/* Bootstrap connections have done their job. */
	if (p->md_have_brokers)
		for (size_t i = 0; i < p->nbrokers; i++)
			if (kp__broker_node_id(p->brokers[i]) < 0 &&
			    kp__broker_in_flight(p->brokers[i]) == 0)
				kp__broker_close_quietly(p->brokers[i],
							 "bootstrap done");
}

/* Send a MetadataRequest for every registered topic when one is due.
 * Returns when the next one is due. */
static int64_t metadata_pass(kp_producer *p, int64_t now)
{
	if (kp__md_take_update_request(p->md))
		p->md_wanted = 1;
	int64_t due = p->md_last_ms + p->conf.metadata_max_age_ms;
	if (p->md_wanted || kp__md_incomplete(p->md)) {
		int64_t soon = p->md_last_ms + p->conf.retry_backoff_ms;
		if (p->md_wanted && p->md_last_ms == 0)
			soon = now;
		if (soon < due)
			due = soon;
	}
	if (p->md_in_flight || due > now)
		return p->md_in_flight ? INT64_MAX : due;
	kp__broker *b = least_loaded_up(p);
	if (!b)
		return connect_any(p, now);
	const char **names = NULL;
	size_t n = 0;
	if (kp__md_topic_names(p->md, &names, &n) != KP_OK)
		return now + p->conf.retry_backoff_ms;
	kc_metadata_request_metadata_request_topic *topics =
		kc__malloc((n ? n : 1) * sizeof(*topics));
	if (!topics) {
		kc__free(names);
		return now + p->conf.retry_backoff_ms;
	}
	for (size_t i = 0; i < n; i++) {
		kc_metadata_request_metadata_request_topic_init(&topics[i]);
		topics[i].name = kc_str_c(names[i]);
	}
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	req.topics = topics;
	req.topics_count = (int32_t)n;
	req.allow_auto_topic_creation = true;
	/* v4+ carries allow_auto_topic_creation; v0 means "all topics" for an
	 * empty list, so an empty list waits for v1+. */
	int16_t v = kp__broker_version(b, KC_METADATA_REQUEST_API_KEY, n ? 0 : 1,
				       KC_METADATA_REQUEST_MAX_VERSION);
	kp_err err = v < 0 ? KP_ERR_UNSUPPORTED
			   : kp__broker_send(b, KC_METADATA_REQUEST_API_KEY, v,
					     &req, 0, 1, on_metadata, p);
	kc__free(topics);
	kc__free(names);
	if (err != KP_OK) {
		p->md_last_ms = now;
		return now + p->conf.retry_backoff_ms;
	}
	p->md_in_flight = 1;
	p->md_wanted = 0;
	return INT64_MAX;
}

/* ---- producer id ------------------------------------------------------- */

void kp__sender_fail_fatal(kp_producer *p, int16_t kafka_err)
{
	atomic_store(&p->fatal_kafka_err, kafka_err);
	atomic_store(&p->fatal, 1);
}

static void on_init_producer_id(kp__broker *b, kp_err err, int16_t api_key,
				int16_t version, const uint8_t *body,
				size_t len, void *arg)
{
	kp_producer *p = arg;
	(void)api_key;
	p->pid_in_flight = 0;
	int64_t now = (int64_t)kn__now_ms();
	p->pid_retry_at = now + kp__backoff_ms(&p->retry_backoff,
					       p->pid_attempts++, &p->rng);
	if (err != KP_OK)
		return;
	kc_decode_error derr = {0};
	kc_reader r;
	kc_reader_init(&r, body, len, &derr);
	kc_init_producer_id_response resp;
	if (kc_init_producer_id_response_decode(&r, &resp, version, NULL) !=
	    KC_OK) {
		kp__broker_disconnect(b, "bad InitProducerId response");
		return;
	}
	if (resp.error_code != 0) {
		if (!kc_kafka_err_retriable(resp.error_code) &&
		    resp.error_code != KP__E_COORDINATOR_LOAD_IN_PROGRESS)
			kp__sender_fail_fatal(p, resp.error_code);
		return;
	}
	if (resp.producer_id < 0 || resp.producer_epoch < 0) {
		kp__broker_disconnect(b, "InitProducerId gave no producer id");
		return;
	}
	p->producer_id = resp.producer_id;
	p->producer_epoch = resp.producer_epoch;
	p->pid_attempts = 0;
	p->epoch_bump = 0;
	kp__sender_reset_sequences(p);
}

/* Obtain (or bump) the producer id when idempotence needs one. Returns
 * when to look again. */
static int64_t producer_id_pass(kp_producer *p, int64_t now)
{
	if (!p->conf.enable_idempotence || atomic_load(&p->fatal))
		return INT64_MAX;
	if (p->producer_id >= 0 && !p->epoch_bump)
		return INT64_MAX;
	/* An epoch bump waits for every ProduceRequest in flight, so no
	 * answer under the old epoch arrives after sequences restart. */
	if (p->pid_in_flight || p->produce_in_flight > 0)
		return INT64_MAX;
	if (now < p->pid_retry_at)
		return p->pid_retry_at;
	kp__broker *b = least_loaded_up(p);
	if (!b || kp__broker_node_id(b) < 0)
		return p->md_have_brokers ? connect_any(p, now) : INT64_MAX;
	int16_t v = kp__broker_version(b, KC_INIT_PRODUCER_ID_REQUEST_API_KEY, 0,
				       KC_INIT_PRODUCER_ID_REQUEST_MAX_VERSION);
	if (v < 0) {
		kp__sender_fail_fatal(p, KC_KAFKA_UNSUPPORTED_VERSION);
		return INT64_MAX;
	}
	kc_init_producer_id_request req;
	kc_init_producer_id_request_init(&req);
	req.transactional_id = KC_STR_NULL;
	/* TransactionTimeoutMs: the Java client's value without transactions */
	req.transaction_timeout_ms = INT32_MAX;
	if (v >= 3 && p->producer_id >= 0) {
		/* KIP-360: bump our own epoch rather than take a new id. */
		req.producer_id = p->producer_id;
		req.producer_epoch = p->producer_epoch;
	}
	if (kp__broker_send(b, KC_INIT_PRODUCER_ID_REQUEST_API_KEY, v, &req, 0,
			    1, on_init_producer_id, p) != KP_OK)
		return now + p->conf.retry_backoff_ms;
	p->pid_in_flight = 1;
	return INT64_MAX;
}

/* ---- leaders ------------------------------------------------------------- */

/* Copy the leader of tp from the metadata snapshot; arg is {p, &all}:
 * with all 0 only partitions without a leader are looked up (new ones,
 * or ones Metadata had no leader for), the rest kept since the table has
 * not changed. */
static void apply_leader(kp__tp *tp, void *arg)
{
	void **a = arg;
	kp_producer *p = a[0];
	if (!*(int *)a[1] && tp->leader >= 0)
		return;
	kp__md_topic *t = kp__md_topic_peek(p->md, tp->topic);
	int32_t leader = -1, epoch = -1;
	if (t && tp->partition < t->count) {
		leader = t->parts[tp->partition].leader;
		epoch = t->parts[tp->partition].leader_epoch;
	}
	kp__md_topic_put(t);
	tp->leader = leader;
	tp->leader_epoch = epoch;
}

/* Connect to the leader of tp; arg is {p, &earliest reconnect time of a
 * leader still DOWN, &the pass's now} (one clock read per pass, not per
 * partition). */
static void connect_leader(kp__tp *tp, void *arg)
{
	void **a = arg;
	kp_producer *p = a[0];
	int64_t *next = a[1];
	int64_t now = *(int64_t *)a[2];
	if (tp->leader < 0)
		return;
	kp__broker *b = kp__sender_broker(p, tp->leader);
	if (!b) {
		p->md_wanted = 1; /* a leader Metadata did not list */
		return;
	}
	if (kp__broker_connect(b, now) == KP__BROKER_DOWN &&
	    kp__broker_next_connect_ms(b) < *next)
		*next = kp__broker_next_connect_ms(b);
}

/* ---- the pass ------------------------------------------------------------ */

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* One pass of the sender's work; returns when the next is due. */
static int64_t sender_pass(kp_producer *p, int64_t now)
{
	kp__batch *expired = NULL;
	if (kp__acc_expire(p->acc, now, p->conf.delivery_timeout_ms, &expired))
		kp__fail_list(p, expired, KP_ERR_DELIVERY_TIMEOUT);
	if (atomic_load(&p->fatal)) {
		kp__batch *all = NULL;
		if (kp__acc_abort(p->acc, &all))
			kp__fail_list(p, all, KP_ERR_FATAL);
	}
	int64_t next = metadata_pass(p, now);
	next = min64(next, producer_id_pass(p, now));
	uint64_t v = kp__md_version(p->md);
	int all = v != p->md_applied;
	void *lead[2] = {p, &all};
	kp__acc_foreach_tp(p->acc, apply_leader, lead);
	p->md_applied = v;
	int64_t reconnect = INT64_MAX;
	void *args[3] = {p, &reconnect, &now};
	kp__acc_foreach_tp(p->acc, connect_leader, args);
	int sent = 0;
	if (!atomic_load(&p->fatal) &&
	    (!p->conf.enable_idempotence ||
	     (p->producer_id >= 0 && !p->epoch_bump)))
		sent = kp__produce_pass(p, now);
	int64_t ready = kp__acc_next_ready(p->acc, now);
	if (ready <= now && !sent)
		ready = now + KP__BLOCKED_WAIT_MS;
	next = min64(next, ready);
	next = min64(next, reconnect);
	return next;
}

void *kp__sender_main(void *arg)
{
	kp_producer *p = arg;
	p->sender_tid = pthread_self();
	atomic_store(&p->sender_started, 1);
	while (!atomic_load(&p->stop)) {
		int64_t now = (int64_t)kn__now_ms();
		int64_t next = sender_pass(p, now);
		int64_t wait = next == INT64_MAX ? KP__IDLE_WAIT_MS : next - now;
		if (wait < 0)
			wait = 0;
		if (wait > KP__IDLE_WAIT_MS)
			wait = KP__IDLE_WAIT_MS;
		kn__loop_run_once(p->loop, (int)wait);
	}
	/* Closing: every record still held gets its KP_ERR_CLOSED report;
	 * destroying the brokers fails the requests in flight, whose
	 * handlers see p->stop and fail their batches too. */
	kp__batch *all = NULL;
	if (kp__acc_abort(p->acc, &all))
		kp__fail_list(p, all, KP_ERR_CLOSED);
	for (size_t i = 0; i < p->nbrokers; i++)
		kp__broker_destroy(p->brokers[i]);
	p->nbrokers = 0;
	kp__produce_pool_free(p);
	return NULL;
}
