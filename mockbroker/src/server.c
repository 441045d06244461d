/*
 * Serving connections: per-request dispatch, ordered responses (delayed
 * ones included), parked Fetch requests, request log and counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf_int.h"
#include "capture.h"
#include "conn.h"
#include "handlers.h"
#include "kafkit/protocol.h"
#include "server.h"

/* Stop reading a connection while this much output waits for a client
 * that does not read its responses. */
#define OUT_HIGH_WATER ((size_t)32 << 20)
/* Fetch responses reference stored batches of at least this size. */
#define REF_THRESHOLD 512
#define IOV_STACK 16

/* A response that cannot go out as a plain copy: delayed, or referencing
 * segments (iovec mode). */
typedef struct outbuf {
	struct outbuf *next;
	km__session *s;
	uint64_t due; /* monotonic ms */
	kc_writer w;
	km__segment **refs;
	size_t nrefs;
} outbuf;

struct km__parked {
	km__session *s;
	km__parked *prev, *next; /* cluster list */
	uint8_t *frame;
	size_t len;
	uint64_t deadline;
	kn__timer timer;
	km__decision d;
};

static const struct {
	int16_t key;
	km__handler_fn fn;
} handlers[] = {
	{0, km__handle_produce},
	{1, km__handle_fetch},
	{2, km__handle_list_offsets},
	{3, km__handle_metadata},
	{10, km__handle_find_coordinator},
	{18, km__handle_api_versions},
	{22, km__handle_init_producer_id},
};

km__handler_fn km__handler_for(int16_t api_key)
{
	for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
		if (handlers[i].key == api_key)
			return handlers[i].fn;
	return NULL;
}

void km__server_set_pre_handler(km_cluster *c, km__pre_fn fn, void *opaque)
{
	c->pre_fn = fn;
	c->pre_opaque = opaque;
}

void *km__req_array(km__req *rq, size_t n, size_t sz)
{
	if (!n)
		return NULL;
	void *p = kc_arena_alloc(rq->arena, n * sz);
	if (p)
		memset(p, 0, n * sz);
	return p;
}

int km__req_ref(km__req *rq, km__segment *seg)
{
	if (rq->nrefs == rq->refs_cap) {
		size_t cap = rq->refs_cap ? rq->refs_cap * 2 : 4;
		km__segment **r = kc__realloc(rq->refs, cap * sizeof *r);
		if (!r)
			return -ENOMEM;
		rq->refs = r;
		rq->refs_cap = cap;
	}
	km__segment_ref(seg);
	rq->refs[rq->nrefs++] = seg;
	return 0;
}

static void release_refs(km__segment **refs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		km__segment_unref(refs[i]);
	kc__free(refs);
}

/* ---- output ------------------------------------------------------------- */

static void outbuf_free(void *arg)
{
	outbuf *ob = arg;
	release_refs(ob->refs, ob->nrefs);
	kc_writer_free(&ob->w);
	kc__free(ob);
}

/* Hand ob to the connection (which frees it once written). */
static int outbuf_send(kn__conn *conn, outbuf *ob)
{
	struct iovec stack[IOV_STACK], *iov = stack;
	size_t n = kc_writer_iov(&ob->w, stack, IOV_STACK);
	if (n > IOV_STACK) {
		iov = kc__malloc(n * sizeof *iov);
		if (!iov) {
			outbuf_free(ob);
			return -ENOMEM;
		}
		kc_writer_iov(&ob->w, iov, n);
	}
	int rc = kn__conn_sendv(conn, iov, (int)n, outbuf_free, ob);
	if (iov != stack)
		kc__free(iov);
	if (rc)
		outbuf_free(ob);
	return rc;
}

static void flush_due(kn__loop *loop, void *arg)
{
	km__session *s = arg;
	uint64_t now = kn__now_ms();
	while (s->q_head && s->q_head->due <= now) {
		outbuf *ob = s->q_head;
		s->q_head = ob->next;
		if (!s->q_head)
			s->q_tail = NULL;
		int rc = outbuf_send(s->conn, ob);
		if (rc) {
			kn__conn_close(s->conn, rc, "queueing a delayed response");
			return;
		}
	}
	if (s->q_head &&
	    kn__timer_start(loop, &s->q_timer, s->q_head->due - now, 0))
		kn__conn_close(s->conn, -ENOMEM, "arming the response timer");
}

/* The response now in c->out, plus rq's references, as an outbuf. */
static outbuf *take_output(km_cluster *c, km__req *rq)
{
	outbuf *ob = kc__malloc(sizeof *ob);
	if (!ob)
		return NULL;
	*ob = (outbuf){.w = c->out, .refs = rq->refs, .nrefs = rq->nrefs};
	kc_writer_init(&c->out);
	rq->refs = NULL;
	rq->nrefs = rq->refs_cap = 0;
	return ob;
}

/* Queue the encoded response of rq: a plain copy when nothing is held
 * back and nothing is referenced, else as an outbuf. Returns 0 or a
 * negative errno (the caller closes the connection). */
static int queue_response(km__session *s, km__req *rq, uint32_t delay_ms)
{
	km_cluster *c = s->broker->cluster;
	km__capture_response(s, &c->out, delay_ms);
	if (!delay_ms && !s->q_head && !rq->nrefs)
		return kn__conn_send_copy(s->conn, kc_writer_data(&c->out),
					  c->out.len);
	outbuf *ob = take_output(c, rq);
	if (!ob)
		return -ENOMEM;
	if (!delay_ms && !s->q_head)
		return outbuf_send(s->conn, ob);
	ob->due = kn__now_ms() + delay_ms;
	/* Responses leave in request order: one due sooner waits. */
	if (s->q_tail && s->q_tail->due > ob->due)
		ob->due = s->q_tail->due;
	if (!s->q_head &&
	    kn__timer_start(c->loop, &s->q_timer, ob->due - kn__now_ms(), 0)) {
		outbuf_free(ob);
		return -ENOMEM;
	}
	if (s->q_tail)
		s->q_tail->next = ob;
	else
		s->q_head = ob;
	s->q_tail = ob;
	return 0;
}

/* ---- logging ------------------------------------------------------------ */

/* Printable excerpt of a client-supplied string for log lines. */
static void printable(char *dst, size_t cap, kc_str s)
{
	size_t n = 0;
	if (s.len < 0) {
		snprintf(dst, cap, "(null)");
		return;
	}
	for (int32_t i = 0; i < s.len && n + 1 < cap; i++) {
		char ch = s.ptr[i];
		dst[n++] = ch >= 0x20 && ch < 0x7f ? ch : '?';
	}
	dst[n] = '\0';
}

static void log_request(km__session *s, const km__req *rq, size_t resp_len)
{
	km_cluster *c = s->broker->cluster;
	km_counters *k = &s->broker->counters;
	k->bytes_out += resp_len;
	if (rq->error_code)
		k->error_responses++;
	if (!c->opts.request_fn)
		return;
	km_request_info info = {
		.broker_id = s->broker->id,
		.api_key = rq->api_key,
		.api_version = rq->api_version,
		.correlation_id = rq->correlation_id,
		.client_id = rq->client_id,
		.peer = kn__conn_peer(s->conn),
		.request_size = rq->frame_len,
		.response_size = resp_len,
		.error_code = rq->error_code,
		.faults = rq->faults,
	};
	c->opts.request_fn(c->opts.request_opaque, &info);
}

/* Close the connection over a request Kafka would not answer. */
static void reject(km__session *s, const km__req *rq, const char *why)
{
	char client[65], reason[320];
	printable(client, sizeof client, rq->client_id);
	const kc_api *api = kc_api_find(rq->api_key);
	snprintf(reason, sizeof reason,
		 "broker %" PRId32 ": %s (key %d) v%d request, correlation id "
		 "%" PRId32 ", client id '%s': %s",
		 s->broker->id, api ? api->name : "unknown api",
		 rq->api_key, rq->api_version, rq->correlation_id, client, why);
	s->broker->counters.requests_rejected++;
	log_request(s, rq, 0);
	kn__conn_close(s->conn, -EPROTO, reason);
}

/* ---- parked Fetch requests ---------------------------------------------- */

static void serve(km__session *s, const uint8_t *frame, size_t len,
		  km__parked *pk);

static void unpark(km__parked *pk, bool resume)
{
	km__session *s = pk->s;
	km_cluster *c = s->broker->cluster;
	if (pk->prev)
		pk->prev->next = pk->next;
	else
		c->parked = pk->next;
	if (pk->next)
		pk->next->prev = pk->prev;
	kn__timer_stop(c->loop, &pk->timer);
	kc__free(pk->frame);
	kc__free(pk);
	s->parked = NULL;
	if (resume && !s->broker->stalled)
		kn__conn_resume(s->conn);
}

static void park_expired(kn__loop *loop, void *arg)
{
	km__parked *pk = arg;
	(void)loop;
	serve(pk->s, pk->frame, pk->len, pk);
}

static void recheck_parked(kn__loop *loop, void *arg)
{
	km_cluster *c = arg;
	(void)loop;
	/* serve() may unpark pk or close its session (freeing pk), never
	 * another session's entry. */
	for (km__parked *pk = c->parked, *next; pk; pk = next) {
		next = pk->next;
		serve(pk->s, pk->frame, pk->len, pk);
	}
}

void km__server_init(km_cluster *c)
{
	kn__defer_init(&c->recheck, recheck_parked, c);
}

void km__server_data_arrived(km_cluster *c)
{
	if (c->parked)
		kn__defer_schedule(c->loop, &c->recheck);
}

/* Keep the frame until data arrives or the wait ends; stop reading the
 * connection meanwhile. Returns 0 or -ENOMEM. */
static int park(km__session *s, const uint8_t *frame, size_t len,
		const km__decision *d, uint32_t wait_ms)
{
	km_cluster *c = s->broker->cluster;
	km__parked *pk = kc__malloc(sizeof *pk);
	uint8_t *copy = kc__malloc(len ? len : 1);
	if (!pk || !copy) {
		kc__free(pk);
		kc__free(copy);
		return -ENOMEM;
	}
	memcpy(copy, frame, len);
	*pk = (km__parked){.s = s, .frame = copy, .len = len, .d = *d,
			   .deadline = kn__now_ms() + wait_ms};
	kn__timer_init(&pk->timer, park_expired, pk);
	if (kn__timer_start(c->loop, &pk->timer, wait_ms, 0)) {
		kc__free(copy);
		kc__free(pk);
		return -ENOMEM;
	}
	pk->next = c->parked;
	if (c->parked)
		c->parked->prev = pk;
	c->parked = pk;
	s->parked = pk;
	kn__conn_pause(s->conn);
	return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

static int decode_request(km__req *rq, const kc_api *api, kc_reader *r,
			  void **body, char *why, size_t why_len)
{
	kc_request_header h;
	int16_t hv = kc_request_header_version(rq->api_key, rq->api_version);
	kc_err e = kc_request_header_decode(r, &h, hv, rq->arena);
	if (e == KC_OK) {
		rq->client_id = h.client_id;
		*body = kc_arena_alloc(rq->arena, api->request->struct_size);
		e = *body ? api->request->decode(r, *body, rq->api_version,
						  rq->arena)
			  : KC_ERR_NOMEM;
	}
	if (e == KC_OK)
		return 0;
	char detail[200];
	kc_decode_error_format(r->err, detail, sizeof detail);
	snprintf(why, why_len, "cannot decode it: %s", detail);
	return -1;
}

/* One fault that hit rq: its request log bit, and its counter (NULL: a
 * parked Fetch, counted when it was first decided). */
static void fault_hit(km__req *rq, uint32_t bit, uint64_t *counter)
{
	rq->faults |= bit;
	if (counter)
		(*counter)++;
}

static void apply_flags(km__req *rq, const km__decision *d, km_counters *k)
{
	if (d->delay_ms)
		fault_hit(rq, KM_FAULT_F_DELAYED,
			  k ? &k->faults_delayed : NULL);
	if (d->swallow)
		fault_hit(rq, KM_FAULT_F_SWALLOWED,
			  k ? &k->faults_swallowed : NULL);
	if (d->close)
		fault_hit(rq, KM_FAULT_F_CLOSED,
			  k ? &k->faults_closed : NULL);
	if (d->error_code)
		fault_hit(rq, KM_FAULT_F_ERROR,
			  k ? &k->faults_errors : NULL);
	if (d->throttle_ms)
		fault_hit(rq, KM_FAULT_F_THROTTLED,
			  k ? &k->faults_throttled : NULL);
}

static void serve(km__session *s, const uint8_t *frame, size_t len,
		  km__parked *pk)
{
	km__broker *b = s->broker;
	km_cluster *c = b->cluster;
	km_counters *k = &b->counters;
	kc_arena_reset(&c->arena);
	km__req rq = {
		.cluster = c,
		.broker = b,
		.session = s,
		.frame_len = len + 4,
		.frame = pk ? NULL : frame,
		.arena = &c->arena,
		.api_key = -1,
		.client_id = KC_STR_NULL,
	};
	if (!pk) {
		k->requests++;
		k->bytes_in += len + 4;
	}
	if (len < 8) {
		reject(s, &rq, "the frame is shorter than a request header");
		return;
	}
	/* request_api_key, request_api_version, correlation_id lead every
	 * request header version */
	rq.api_key = (int16_t)kc__get_be16(frame);
	rq.api_version = (int16_t)kc__get_be16(frame + 2);
	rq.correlation_id = (int32_t)kc__get_be32(frame + 4);
	if (!pk && rq.api_key >= 0 && rq.api_key < KM_API_KEY_LIMIT)
		k->requests_by_api[rq.api_key]++;
	const kc_api *api = kc_api_find(rq.api_key);
	km__handler_fn fn = km__handler_for(rq.api_key);
	if (!api || !fn) {
		reject(s, &rq, "api key not served");
		return;
	}
	if (rq.api_version < api->min_version ||
	    rq.api_version > api->max_version) {
		if (rq.api_key != KC_API_KEY_API_VERSIONS) {
			reject(s, &rq, "version not supported");
			return;
		}
		/* ApiVersions: a v0 answer with our range, so the client
		 * retries lower (KIP-511). */
		kc_writer_reset(&c->out);
		rq.error_code = KC_KAFKA_UNSUPPORTED_VERSION;
		kc_err e = kc_api_versions_unsupported_frame_encode(
			&c->out, rq.correlation_id, api->min_version,
			api->max_version);
		size_t n = c->out.len;
		if (e != KC_OK || queue_response(s, &rq, 0)) {
			kn__conn_close(s->conn, -ENOMEM, "encoding a response");
			return;
		}
		log_request(s, &rq, n);
		return;
	}
	kc_decode_error de = {0};
	kc_reader r;
	kc_reader_init(&r, frame, len, &de);
	void *body = NULL;
	char why[256];
	if (decode_request(&rq, api, &r, &body, why, sizeof why)) {
		reject(s, &rq, why);
		return;
	}
	km__decision d = {0};
	if (pk)
		d = pk->d;
	else if (c->pre_fn)
		c->pre_fn(c->pre_opaque, &rq, &d);
	apply_flags(&rq, &d, pk ? NULL : k);
	if (d.close) {
		log_request(s, &rq, 0);
		kn__conn_close(s->conn, 0, "fault: closed instead of answering");
		return;
	}
	rq.forced_error = d.error_code;
	rq.throttle_ms = d.throttle_ms;
	rq.may_park = !d.error_code && (!pk || kn__now_ms() < pk->deadline);
	void *resp = kc_arena_alloc(&c->arena, api->response->struct_size);
	int rc = resp ? 0 : -ENOMEM;
	if (!rc) {
		api->response->init(resp);
		rc = fn(&rq, body, resp);
	}
	if (rc == KM__PARK) {
		release_refs(rq.refs, rq.nrefs);
		if (!pk) {
			/* max_wait_ms of the Fetch, read by its handler */
			const kc_fetch_request *f = body;
			rc = park(s, frame, len, &d, (uint32_t)f->max_wait_ms);
			if (rc)
				kn__conn_close(s->conn, rc, "parking a fetch");
		}
		return;
	}
	if (rc < 0) {
		release_refs(rq.refs, rq.nrefs);
		kn__conn_close(s->conn, rc, "serving a request");
		return;
	}
	size_t resp_len = 0;
	if (rq.close_after) {
		release_refs(rq.refs, rq.nrefs);
		log_request(s, &rq, 0);
		kn__conn_close(s->conn, 0, "acks=0 produce failed");
		return;
	}
	if (!rq.no_response && !d.swallow) {
		kc_writer_reset(&c->out);
		kc_writer_set_ref_threshold(&c->out, rq.nrefs ? REF_THRESHOLD : 0);
		kc_err e = kc_response_frame_encode(&c->out, rq.api_key,
						    rq.api_version,
						    rq.correlation_id, resp);
		resp_len = kc_writer_pos(&c->out);
		rc = e == KC_OK ? queue_response(s, &rq, d.delay_ms) : -ENOMEM;
		kc_writer_set_ref_threshold(&c->out, 0);
		if (rc) {
			release_refs(rq.refs, rq.nrefs);
			snprintf(why, sizeof why, "encoding a response: %s",
				 kc_err_name(e));
			kn__conn_close(s->conn, rc, why);
			return;
		}
	}
	release_refs(rq.refs, rq.nrefs);
	log_request(s, &rq, resp_len);
	if (pk)
		unpark(pk, true);
}

/* ---- connections -------------------------------------------------------- */

static void on_frame(kn__conn *conn, const uint8_t *frame, size_t len)
{
	km__session *s = kn__conn_userdata(conn);
	s->frames++;
	km__capture_request(s, frame, len);
	serve(s, frame, len, NULL);
}

static void on_close(kn__conn *conn, int err, const char *reason)
{
	km__session *s = kn__conn_userdata(conn);
	km__broker *b = s->broker;
	km_cluster *c = b->cluster;
	(void)reason;
	km__capture_conn_close(s);
	if (s->parked)
		unpark(s->parked, false);
	kn__timer_stop(c->loop, &s->q_timer);
	while (s->q_head) {
		outbuf *ob = s->q_head;
		s->q_head = ob->next;
		outbuf_free(ob);
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		b->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	b->counters.connections_open--;
	if (err)
		b->counters.connections_failed++;
	kc__free(s);
}

void km__server_accept(kn__listener *ls, int fd, void *arg)
{
	km__broker *b = arg;
	km_cluster *c = b->cluster;
	(void)ls;
	static const kn__conn_handler h = {on_frame, on_close};
	kn__conn_opts o = {.max_frame = c->opts.max_frame,
			   .out_high_water = OUT_HIGH_WATER};
	km__session *s = kc__malloc(sizeof *s);
	int rc = s ? 0 : -ENOMEM;
	if (s) {
		*s = (km__session){.broker = b, .last_active = kn__now_ms()};
		kn__timer_init(&s->q_timer, flush_due, s);
		rc = kn__conn_new(&s->conn, c->loop, fd, &h, &o, s);
	}
	if (rc) {
		kn__loop_logf(c->loop, "broker %" PRId32 ": cannot serve a "
			      "new connection: %s", b->id, strerror(-rc));
		kc__free(s);
		close(fd);
		return;
	}
	s->next = b->sessions;
	if (b->sessions)
		b->sessions->prev = s;
	b->sessions = s;
	b->counters.connections_accepted++;
	b->counters.connections_open++;
	km__capture_conn_open(s);
	if (b->stalled)
		kn__conn_pause(s->conn);
}

void km__server_close_all(km__broker *b, int err, const char *reason)
{
	while (b->sessions)
		kn__conn_close(b->sessions->conn, err, reason);
}

void km__server_stall(km__broker *b, bool stalled)
{
	b->stalled = stalled;
	for (km__session *s = b->sessions; s; s = s->next) {
		if (stalled)
			kn__conn_pause(s->conn);
		else if (!s->parked)
			kn__conn_resume(s->conn);
	}
}

void km__server_close_after(km__broker *b, uint64_t n)
{
	for (km__session *s = b->sessions; s; s = s->next)
		kn__conn_close_after(s->conn, n);
}
