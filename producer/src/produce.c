/*
 * ProduceRequests: drained batches grouped by topic into one request per
 * leader (batch bytes referenced, not copied, so writev sends them from
 * the accumulator's buffers), and every partition's answer turned into a
 * delivery report, a retry or a split. Runs on the sender thread.
 */
#include <string.h>

#include "buf_int.h"
#include "kafkit/err.h"
#include "sender.h"

/* Kafka ErrorCodes with their own handling. */
#define KP__E_UNKNOWN_SERVER_ERROR (-1)
#define KP__E_UNKNOWN_TOPIC_OR_PARTITION 3
#define KP__E_LEADER_NOT_AVAILABLE 5
#define KP__E_NOT_LEADER_OR_FOLLOWER 6
#define KP__E_REQUEST_TIMED_OUT 7
#define KP__E_MESSAGE_TOO_LARGE 10
#define KP__E_NETWORK_EXCEPTION 13
#define KP__E_OUT_OF_ORDER_SEQUENCE_NUMBER 45
#define KP__E_DUPLICATE_SEQUENCE_NUMBER 46
#define KP__E_INVALID_PRODUCER_EPOCH 47
#define KP__E_UNKNOWN_PRODUCER_ID 59
#define KP__E_FENCED_LEADER_EPOCH 74
#define KP__E_UNKNOWN_LEADER_EPOCH 75
#define KP__E_PRODUCER_FENCED 90

/* Batches at least this large travel as iovec entries pointing into the
 * batch; smaller ones are cheaper to copy into the request buffer. */
#define KP__REF_THRESHOLD 512

/* One ProduceRequest in flight. */
typedef struct produce_ctx {
	kp_producer *p;
	size_t cap;   /* batches the arrays below hold */
	size_t n;
	kp__batch **batches;
	kc_produce_request_topic_produce_data *topics;
	kc_produce_request_partition_produce_data *parts;
	kp__splice *splices; /* batches referencing lent values */
	int32_t ntopics;
} produce_ctx;

/* Contexts are pooled so a steady stream of requests allocates none;
 * capacities are rounded up so one context fits most requests. */
#define KP__CTX_ROUND 16

static produce_ctx *ctx_get(kp_producer *p, size_t n)
{
	for (size_t i = 0; i < p->produce_ctx_pooled; i++) {
		produce_ctx *c = p->produce_ctx_pool[i];
		if (c->cap >= n) {
			p->produce_ctx_pool[i] =
				p->produce_ctx_pool[--p->produce_ctx_pooled];
			return c;
		}
	}
	size_t cap = (n + KP__CTX_ROUND - 1) / KP__CTX_ROUND * KP__CTX_ROUND;
	produce_ctx *c = kc__malloc(sizeof(*c) + cap * sizeof(kp__batch *) +
				    cap * sizeof(*c->topics) +
				    cap * sizeof(*c->parts) +
				    cap * sizeof(*c->splices));
	if (!c)
		return NULL;
	c->cap = cap;
	c->batches = (kp__batch **)(c + 1);
	c->topics = (kc_produce_request_topic_produce_data *)(c->batches + cap);
	c->parts = (kc_produce_request_partition_produce_data *)(c->topics + cap);
	c->splices = (kp__splice *)(c->parts + cap);
	return c;
}

static void ctx_put(kp_producer *p, produce_ctx *c)
{
	size_t max = sizeof(p->produce_ctx_pool) / sizeof(p->produce_ctx_pool[0]);
	if (p->produce_ctx_pooled < max)
		p->produce_ctx_pool[p->produce_ctx_pooled++] = c;
	else
		kc__free(c);
}

void kp__produce_pool_free(kp_producer *p)
{
	while (p->produce_ctx_pooled)
		kc__free(p->produce_ctx_pool[--p->produce_ctx_pooled]);
}

/* Last sequence of b, or -1 when b carries none under the current
 * producer id and epoch. */
static int64_t last_sequence(const kp_producer *p, const kp__batch *b)
{
	if (!p->conf.enable_idempotence || b->base_sequence < 0 ||
	    b->producer_id != p->producer_id ||
	    b->producer_epoch != p->producer_epoch)
		return -1;
	return (int64_t)b->base_sequence + (int64_t)kp__batch_count(b) - 1;
}

static void note_acked(kp_producer *p, kp__batch *b)
{
	int64_t last = last_sequence(p, b);
	if (last > b->tp->acked_sequence && last <= INT32_MAX)
		b->tp->acked_sequence = (int32_t)last;
}

void kp__fail_list(kp_producer *p, kp__batch *list, kp_err err)
{
	while (list) {
		kp__batch *next = list->next;
		if (last_sequence(p, list) >= 0)
			p->epoch_bump = 1; /* see fail_batch */
		list->tp->stat_errors++;
		p->stat_errors++;
		kp__report_batch(p, list, err, list->last_kafka_err, -1, -1);
		list = next;
	}
}

static void reset_sequence(kp__tp *tp, void *arg)
{
	(void)arg;
	tp->next_sequence = 0;
	tp->acked_sequence = -1;
}

void kp__sender_reset_sequences(kp_producer *p)
{
	kp__acc_foreach_tp(p->acc, reset_sequence, NULL);
}

static int guarantees_order(const kp_producer *p)
{
	return !p->conf.enable_idempotence && p->conf.max_in_flight == 1;
}

static void fail_batch(kp_producer *p, kp__batch *b, kp_err err,
		       int16_t code)
{
	/* A sequence given up leaves a hole the broker would wait for
	 * forever: restart the sequences under a bumped epoch, as the Java
	 * client does for a failed idempotent batch. */
	if (last_sequence(p, b) >= 0)
		p->epoch_bump = 1;
	b->tp->stat_errors++;
	p->stat_errors++;
	kp__report_batch(p, b, err, code, -1, -1);
}

/* A batch came back with `code` (transport failures arrive as
 * REQUEST_TIMED_OUT or NETWORK_EXCEPTION): retry it, split it or fail
 * it, as the Java client decides. Returns 1 when it will be sent again. */
static int retry_or_fail(kp_producer *p, kp__batch *b, int16_t code)
{
	int64_t now = (int64_t)kn__now_ms();
	int idem = (int)p->conf.enable_idempotence;
	if (atomic_load(&p->stop)) {
		fail_batch(p, b, KP_ERR_CLOSED, code);
		return 0;
	}
	if (code == KP__E_MESSAGE_TOO_LARGE && kp__batch_count(b) > 1) {
		if (kp__acc_split(p->acc, b) == KP_OK) {
			/* The split batches need fresh sequences. */
			if (idem)
				p->epoch_bump = 1;
			return 1;
		}
	}
	if ((code == KP__E_INVALID_PRODUCER_EPOCH ||
	     code == KP__E_PRODUCER_FENCED) && idem) {
		kp__sender_fail_fatal(p, code);
		fail_batch(p, b, KP_ERR_FATAL, code);
		return 0;
	}
	int64_t last = last_sequence(p, b);
	if (code == KP__E_OUT_OF_ORDER_SEQUENCE_NUMBER && last >= 0 &&
	    last <= b->tp->acked_sequence) {
		/* The broker acknowledged a later sequence of this epoch, and
		 * it appends only in sequence: this batch was written before
		 * (its answer was lost) and has left the broker's five-batch
		 * memory. Success, offsets unknown, as the Java client
		 * resolves such a sequence. */
		b->tp->stat_records += kp__batch_count(b);
		b->tp->stat_batches++;
		p->stat_records += kp__batch_count(b);
		p->stat_batches++;
		kp__report_batch(p, b, KP_OK, 0, -1, -1);
		return 0;
	}
	/* The broker lost track of us only when the refused batch is the
	 * next one it should take; a later one waits for the earlier
	 * batches' retries instead of restarting the sequences. */
	int lost_state =
		idem && (code == KP__E_UNKNOWN_PRODUCER_ID ||
			 (code == KP__E_OUT_OF_ORDER_SEQUENCE_NUMBER &&
			  (last < 0 ||
			   b->base_sequence == b->tp->acked_sequence + 1)));
	/* Out of order behind a batch still to be retried, or after a
	 * sequence given up (the epoch bump restamps it): send it again. */
	int out_of_order = idem && (code == KP__E_OUT_OF_ORDER_SEQUENCE_NUMBER ||
				    code == KP__E_UNKNOWN_PRODUCER_ID);
	if (!kc_kafka_err_retriable(code) && !out_of_order) {
		fail_batch(p, b, KP_ERR_BROKER, code);
		return 0;
	}
	b->last_kafka_err = code;
	if (now - b->created_ms >= p->conf.delivery_timeout_ms) {
		fail_batch(p, b, KP_ERR_DELIVERY_TIMEOUT, code);
		return 0;
	}
	if ((int64_t)b->attempts > p->conf.retries) {
		fail_batch(p, b, KP_ERR_BROKER, code);
		return 0;
	}
	switch (code) {
	case KP__E_UNKNOWN_TOPIC_OR_PARTITION:
	case KP__E_LEADER_NOT_AVAILABLE:
	case KP__E_NOT_LEADER_OR_FOLLOWER:
	case KP__E_FENCED_LEADER_EPOCH:
	case KP__E_UNKNOWN_LEADER_EPOCH:
	case KP__E_NETWORK_EXCEPTION:
	case KP__E_REQUEST_TIMED_OUT:
		p->md_wanted = 1;
		break;
	default:
		break;
	}
	if (lost_state)
		p->epoch_bump = 1; /* the broker forgot us: KIP-360 bump */
	b->retry_at_ms = now + kp__backoff_ms(&p->retry_backoff,
					      b->attempts ? b->attempts - 1 : 0,
					      &p->rng);
	b->tp->stat_retries++;
	p->stat_retries++;
	kp__acc_reenqueue(p->acc, b);
	return 1;
}

static void batch_done(kp_producer *p, kp__batch *b)
{
	b->tp->in_flight--;
	if (guarantees_order(p))
		b->tp->muted = 0;
}

static void on_produce_response(kp__broker *br, kp_err err, int16_t api_key,
				int16_t version, const uint8_t *body,
				size_t len, void *arg)
{
	produce_ctx *ctx = arg;
	kp_producer *p = ctx->p;
	(void)api_key;
	kp__broker_stats *stats = kp__broker_stats_of(br);
	p->produce_in_flight--;
	kc_arena arena;
	kc_arena_init(&arena);
	kc_produce_response resp;
	int ok = err == KP_OK;
	if (ok && p->conf.acks == 0) {
		/* acks=0: written is all there will be; no offsets. */
		for (size_t i = 0; i < ctx->n; i++) {
			kp__batch *b = ctx->batches[i];
			batch_done(p, b);
			b->tp->stat_records += kp__batch_count(b);
			b->tp->stat_batches++;
			b->tp->stat_bytes += b->wire_len;
			p->stat_records += kp__batch_count(b);
			p->stat_batches++;
			kp__report_batch(p, b, KP_OK, 0, -1, -1);
		}
		ctx_put(p, ctx);
		return;
	}
	if (ok) {
		kc_decode_error derr = {0};
		kc_reader r;
		kc_reader_init(&r, body, len, &derr);
		ok = kc_produce_response_decode(&r, &resp, version, &arena) ==
		     KC_OK;
		if (!ok)
			kp__broker_disconnect(br, "bad Produce response");
	}
	int16_t transport = err == KP_ERR_TIMED_OUT ? KP__E_REQUEST_TIMED_OUT
						    : KP__E_NETWORK_EXCEPTION;
	for (size_t i = 0; i < ctx->n; i++) {
		kp__batch *b = ctx->batches[i];
		batch_done(p, b);
		if (!ok) {
			stats->retries += (uint64_t)retry_or_fail(p, b, transport);
			continue;
		}
		const kc_produce_response_partition_produce_response *pr = NULL;
		for (int32_t t = 0; t < resp.responses_count && !pr; t++) {
			const kc_produce_response_topic_produce_response *rt =
				&resp.responses[t];
			if (!rt->name.ptr ||
			    strlen(b->tp->topic) != (size_t)rt->name.len ||
			    memcmp(rt->name.ptr, b->tp->topic,
				   (size_t)rt->name.len) != 0)
				continue;
			for (int32_t k = 0; k < rt->partition_responses_count;
			     k++)
				if (rt->partition_responses[k].index ==
				    b->tp->partition)
					pr = &rt->partition_responses[k];
		}
		if (!pr) {
			/* A broker that drops a partition from its answer
			 * leaves its fate unknown: retry (the sequence
			 * number makes that safe with idempotence). */
			stats->retries +=
				(uint64_t)retry_or_fail(p, b, KP__E_NETWORK_EXCEPTION);
			continue;
		}
		if (version >= 10 && pr->current_leader.leader_id >= 0 &&
		    kp__md_set_leader(p->md, b->tp->topic, b->tp->partition,
				      pr->current_leader.leader_id,
				      pr->current_leader.leader_epoch) == 1 &&
		    !kp__sender_broker(p, pr->current_leader.leader_id))
			p->md_wanted = 1;
		if (pr->error_code == 0 ||
		    (pr->error_code == KP__E_DUPLICATE_SEQUENCE_NUMBER &&
		     p->conf.enable_idempotence)) {
			b->tp->stat_records += kp__batch_count(b);
			b->tp->stat_batches++;
			b->tp->stat_bytes += b->wire_len;
			p->stat_records += kp__batch_count(b);
			p->stat_batches++;
			note_acked(p, b);
			kp__report_batch(p, b, KP_OK, 0, pr->base_offset,
					 pr->log_append_time_ms);
			continue;
		}
		stats->errors++;
		stats->retries += (uint64_t)retry_or_fail(p, b, pr->error_code);
	}
	kc_arena_free(&arena);
	ctx_put(p, ctx);
}

/* Produce version for batches of `magic` on b: RecordBatch v2 needs v3+,
 * MessageSet v1 is v2, v0 is v0-1. -1 when the broker has none. */
static int16_t produce_version(kp__broker *b, int magic)
{
	int16_t lo = magic == 2 ? 3 : magic == 1 ? 2 : 0;
	int16_t hi = magic == 2 ? KC_PRODUCE_REQUEST_MAX_VERSION
				: magic == 1 ? 2 : 1;
	return kp__broker_version(b, KC_PRODUCE_REQUEST_API_KEY, lo, hi);
}

static void stamp_if_needed(kp_producer *p, kp__batch *b)
{
	if (!p->conf.enable_idempotence)
		return;
	if (b->producer_id == p->producer_id &&
	    b->producer_epoch == p->producer_epoch)
		return; /* a retry keeps its sequence */
	kp__tp *tp = b->tp;
	(void)kp__batch_stamp(b, p->producer_id, p->producer_epoch,
			      tp->next_sequence);
	int64_t next = (int64_t)tp->next_sequence + (int64_t)kp__batch_count(b);
	tp->next_sequence = (int32_t)(next > INT32_MAX ? next - INT32_MAX - 1
						       : next);
}

/* Send one drained list to b; returns 1 when a request went out. */
static int send_batches(kp_producer *p, kp__broker *br, kp__batch *list,
			size_t n)
{
	produce_ctx *ctx = ctx_get(p, n);
	if (!ctx) {
		while (list) {
			kp__batch *next = list->next;
			retry_or_fail(p, list, KP__E_NETWORK_EXCEPTION);
			list = next;
		}
		return 0;
	}
	ctx->p = p;
	ctx->n = 0;
	ctx->ntopics = 0;
	int magic = -1;
	int16_t version = -1;
	while (list) {
		kp__batch *b = list;
		list = list->next;
		b->next = NULL;
		if (!b->wire && !b->wire_lent) {
			fail_batch(p, b, KP_ERR_ENCODE, 0);
			continue;
		}
		if (magic < 0) {
			magic = b->b.cfg.magic;
			version = produce_version(br, magic);
		}
		if (version < 0 || b->b.cfg.magic != magic) {
			fail_batch(p, b, KP_ERR_UNSUPPORTED, 0);
			continue;
		}
		stamp_if_needed(p, b);
		ctx->batches[ctx->n++] = b;
	}
	if (ctx->n == 0) {
		ctx_put(p, ctx);
		return 0;
	}
	/* Group partitions by topic, topics in order of first appearance. */
	size_t k = 0, nsplices = 0, ref_threshold = KP__REF_THRESHOLD;
	for (size_t i = 0; i < ctx->n; i++) {
		const char *topic = ctx->batches[i]->tp->topic;
		int seen = 0;
		for (int32_t t = 0; t < ctx->ntopics && !seen; t++)
			seen = strcmp(ctx->topics[t].name.ptr, topic) == 0;
		if (seen)
			continue;
		kc_produce_request_topic_produce_data *td =
			&ctx->topics[ctx->ntopics++];
		kc_produce_request_topic_produce_data_init(td);
		td->name = kc_str_c(topic);
		td->partition_data = &ctx->parts[k];
		td->partition_data_count = 0;
		for (size_t j = i; j < ctx->n; j++) {
			kp__batch *b = ctx->batches[j];
			if (strcmp(b->tp->topic, topic) != 0)
				continue;
			kc_produce_request_partition_produce_data *pd =
				&ctx->parts[k++];
			kc_produce_request_partition_produce_data_init(pd);
			pd->index = b->tp->partition;
			if (b->wire) {
				pd->records = kc_bytes_of(b->wire, b->wire_len);
			} else {
				/* The writer's address: unique per batch, and
				 * never read as bytes. */
				pd->records = kc_bytes_of(b->wire_lent,
							  b->wire_len);
				ctx->splices[nsplices++] =
					(kp__splice){b->wire_lent, b->wire_lent};
				if (b->wire_len < ref_threshold)
					ref_threshold = b->wire_len;
			}
			td->partition_data_count++;
		}
	}
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.transactional_id = KC_STR_NULL;
	req.acks = (int16_t)p->conf.acks;
	req.timeout_ms = (int32_t)p->conf.request_timeout_ms;
	req.topic_data = ctx->topics;
	req.topic_data_count = ctx->ntopics;
	int acks0 = p->conf.acks == 0;
	kp_err err = kp__broker_send_spliced(br, KC_PRODUCE_REQUEST_API_KEY,
					     version, &req, ref_threshold,
					     ctx->splices, nsplices, !acks0,
					     on_produce_response, ctx);
	if (err != KP_OK) {
		for (size_t i = 0; i < ctx->n; i++) {
			if (err == KP_ERR_ENCODE)
				fail_batch(p, ctx->batches[i], KP_ERR_ENCODE, 0);
			else
				retry_or_fail(p, ctx->batches[i],
					      KP__E_NETWORK_EXCEPTION);
		}
		ctx_put(p, ctx);
		return 0;
	}
	for (size_t i = 0; i < ctx->n; i++) {
		ctx->batches[i]->tp->in_flight++;
		if (guarantees_order(p))
			ctx->batches[i]->tp->muted = 1;
	}
	p->produce_in_flight++;
	kp__broker_stats_of(br)->batches += ctx->n;
	return 1;
}

int kp__produce_pass(kp_producer *p, int64_t now)
{
	int sent = 0;
	for (size_t i = 0; i < p->nbrokers; i++) {
		kp__broker *br = p->brokers[i];
		int32_t node = kp__broker_node_id(br);
		if (node < 0 || kp__broker_state_of(br) != KP__BROKER_UP)
			continue;
		while (kp__broker_in_flight(br) < p->conf.max_in_flight &&
		       kp__broker_state_of(br) == KP__BROKER_UP) {
			kp__batch *list = NULL;
			size_t n = kp__acc_drain(p->acc, node, now,
						 (size_t)p->conf.max_request_size,
						 &list);
			if (n == 0)
				break;
			sent += send_batches(p, br, list, n);
		}
	}
	return sent;
}
