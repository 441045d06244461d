/* A broker connection of the producer's sender (see broker.h). All of it
 * runs on the sender thread. */
#include "broker.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf_int.h"
#include "conn.h"
#include "kafkit/protocol.h"

/* API keys we remember versions for (Kafka's keys are below this). */
#define KP__API_KEYS 128
/* The ApiVersions version we ask first: v3 carries the client's software
 * name and is what current clients send. */
#define KP__API_VERSIONS_FIRST 3

typedef struct kp__req {
	struct kp__req *next;
	kp__broker *owner;
	int32_t correlation_id;
	int16_t api_key, api_version;
	int64_t sent_ms;
	kp__response_fn fn;
	void *arg;
	kc_writer w;
	int expect_response;
	int written;  /* the connection released the frame's bytes */
	int answered; /* fn ran (or will never run) */
} kp__req;

struct kp__broker {
	kn__loop *loop;
	int32_t node_id;
	char host[256];
	uint16_t port;
	kp__broker_state state;
	int connect_fd;          /* CONNECTING: the socket being connected */
	kn__conn *conn;          /* HANDSHAKE, UP */
	kn__timer timer;         /* setup timeout, then request timeouts */
	kp__broker_opts opts;
	char *client_id;
	uint32_t failures;       /* consecutive failed connects */
	int64_t next_connect_ms;
	int64_t connect_started_ms;
	int16_t api_min[KP__API_KEYS], api_max[KP__API_KEYS];
	int16_t handshake_version;
	int32_t next_correlation_id;
	kp__req *head, *tail;    /* expecting a response, oldest first */
	int in_flight;
	kp__broker_stats stats;
	/* Finished requests kept for reuse with their writers' buffers, so
	 * a steady stream of requests allocates nothing per request. */
	kp__req *spare;
	int nspare;
};

static void broker_went_down(kp__broker *b, kp_err req_err,
			     const char *reason);
static kp_err send_api_versions(kp__broker *b);

/* ---- requests ------------------------------------------------------------ */

/* Spare requests a broker keeps: enough for max.in.flight (5 by
 * default) plus one being written. */
#define KP__REQ_SPARE 8
/* Writers holding more than this go back to the allocator: a large
 * copied request (Metadata for many topics) is not kept around. */
#define KP__REQ_SPARE_BYTES 65536

static void req_free(kp__req *r)
{
	kc_writer_free(&r->w);
	kc__free(r);
}

static void req_free_if_done(kp__req *r)
{
	if (!r->written || !r->answered)
		return;
	kp__broker *b = r->owner;
	if (b->nspare >= KP__REQ_SPARE || r->w.cap > KP__REQ_SPARE_BYTES) {
		req_free(r);
		return;
	}
	kc_writer_reset(&r->w);
	r->next = b->spare;
	b->spare = r;
	b->nspare++;
}

/* A zeroed request with an empty writer: a spare one, or a new one. */
static kp__req *req_new(kp__broker *b)
{
	kp__req *r = b->spare;
	kc_writer w;
	if (r) {
		b->spare = r->next;
		b->nspare--;
		w = r->w;
	} else {
		r = kc__malloc(sizeof(*r));
		if (!r)
			return NULL;
		kc_writer_init(&w);
	}
	memset(r, 0, sizeof(*r));
	r->w = w;
	return r;
}

static void req_released(void *ctx)
{
	kp__req *r = ctx;
	kp__broker *b = r->owner;
	r->written = 1;
	if (!r->expect_response) {
		/* Written, or dropped by a connection closing under it. */
		int dropped = !b->conn || kn__conn_closing(b->conn);
		r->fn(b, dropped ? KP_ERR_CLOSED : KP_OK, r->api_key,
		      r->api_version, NULL, 0, r->arg);
	}
	req_free_if_done(r);
}

static void arm_request_timer(kp__broker *b)
{
	if (!b->head) {
		kn__timer_stop(b->loop, &b->timer);
		return;
	}
	int64_t due = b->head->sent_ms + b->opts.request_timeout_ms;
	int64_t now = (int64_t)kn__now_ms();
	/* An inactive timer may fail to start only for lack of heap room;
	 * the next request or response re-arms it. */
	(void)kn__timer_start(b->loop, &b->timer,
			      (uint64_t)(due > now ? due - now : 0), 0);
}

/* Fail every request still expecting a response, oldest first. */
static void fail_pending(kp__broker *b, kp_err err)
{
	kp__req *r = b->head;
	b->head = b->tail = NULL;
	b->in_flight = 0;
	while (r) {
		kp__req *next = r->next;
		r->answered = 1;
		r->fn(b, err, r->api_key, r->api_version, NULL, 0, r->arg);
		req_free_if_done(r);
		r = next;
	}
}

static void rtt_record(kp__broker *b, int64_t rtt)
{
	if (rtt < 0)
		rtt = 0;
	kp__broker_stats *s = &b->stats;
	s->rtt_count++;
	s->rtt_sum_ms += (uint64_t)rtt;
	if ((uint64_t)rtt > s->rtt_max_ms)
		s->rtt_max_ms = (uint64_t)rtt;
	unsigned i = 0;
	while (i < 31 && ((uint64_t)1 << i) <= (uint64_t)rtt)
		i++;
	s->rtt_hist[i]++;
}

/* ---- reading responses --------------------------------------------------- */

/* Read an unsigned varint of at most 5 bytes at *off. Returns 0, or -1
 * when it runs past len or is too long. */
static int read_uvarint(const uint8_t *p, size_t len, size_t *off,
			uint32_t *v)
{
	uint32_t x = 0;
	for (int shift = 0; shift <= 28; shift += 7) {
		if (*off >= len)
			return -1;
		uint8_t c = p[(*off)++];
		x |= (uint32_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* Skip a flexible response header's tagged fields at *off. Returns 0, or
 * -1 when they run past len. */
static int skip_tagged_fields(const uint8_t *p, size_t len, size_t *off)
{
	uint32_t count, tag, size;
	if (read_uvarint(p, len, off, &count) != 0)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		if (read_uvarint(p, len, off, &tag) != 0 ||
		    read_uvarint(p, len, off, &size) != 0 || size > len - *off)
			return -1;
		*off += size;
	}
	return 0;
}

static void on_frame(kn__conn *c, const uint8_t *frame, size_t len)
{
	kp__broker *b = kn__conn_userdata(c);
	kp__req *r = b->head;
	char why[128];
	if (len < 4 || !r) {
		kp__broker_disconnect(b, r ? "response shorter than its header"
					   : "response to no request");
		return;
	}
	int32_t corr = (int32_t)((uint32_t)frame[0] << 24 |
				 (uint32_t)frame[1] << 16 |
				 (uint32_t)frame[2] << 8 | frame[3]);
	if (corr != r->correlation_id) {
		snprintf(why, sizeof(why),
			 "response correlation id %d, expected %d", (int)corr,
			 (int)r->correlation_id);
		kp__broker_disconnect(b, why);
		return;
	}
	/* The frame still references its batches and the caller's lent
	 * values: answering it would let them be freed mid-write. Closing
	 * drops the unwritten rest first. */
	if (!r->written) {
		kp__broker_disconnect(b, "response before its request was "
					 "fully written");
		return;
	}
	size_t off = 4;
	if (kc_response_header_version(r->api_key, r->api_version) >= 1 &&
	    skip_tagged_fields(frame, len, &off) != 0) {
		kp__broker_disconnect(b, "response header tagged fields run "
					 "past the frame");
		return;
	}
	b->head = r->next;
	if (!b->head)
		b->tail = NULL;
	b->in_flight--;
	rtt_record(b, (int64_t)kn__now_ms() - r->sent_ms);
	arm_request_timer(b);
	r->answered = 1;
	r->fn(b, KP_OK, r->api_key, r->api_version, frame + off, len - off,
	      r->arg);
	req_free_if_done(r);
}

static void on_conn_close(kn__conn *c, int err, const char *reason)
{
	kp__broker *b = kn__conn_userdata(c);
	(void)err;
	b->conn = NULL;
	broker_went_down(b, KP_ERR_CLOSED, reason ? reason : "closed");
}

static const kn__conn_handler conn_handler = {on_frame, on_conn_close};

/* ---- state changes ------------------------------------------------------- */

static void broker_went_down(kp__broker *b, kp_err req_err,
			     const char *reason)
{
	kp__broker_state was = b->state;
	if (was == KP__BROKER_DOWN)
		return;
	b->state = KP__BROKER_DOWN;
	kn__timer_stop(b->loop, &b->timer);
	if (b->connect_fd >= 0) {
		kn__loop_del_fd(b->loop, b->connect_fd);
		close(b->connect_fd);
		b->connect_fd = -1;
	}
	if (was != KP__BROKER_UP)
		b->failures++;
	else
		b->failures = 0;
	b->next_connect_ms =
		(int64_t)kn__now_ms() +
		kp__backoff_ms(&b->opts.reconnect, b->failures ? b->failures - 1 : 0,
			       b->opts.rng);
	b->stats.disconnects++;
	fail_pending(b, req_err);
	for (int i = 0; i < KP__API_KEYS; i++)
		b->api_min[i] = b->api_max[i] = -1;
	if (b->opts.on_down)
		b->opts.on_down(b, reason, b->opts.arg);
}

static void disconnect(kp__broker *b, int err, const char *reason)
{
	if (b->conn) {
		/* on_conn_close runs inside and marks the broker DOWN. */
		kn__conn_close(b->conn, err, reason);
		return;
	}
	broker_went_down(b, KP_ERR_CLOSED, reason);
}

void kp__broker_disconnect(kp__broker *b, const char *reason)
{
	disconnect(b, -ECONNABORTED, reason);
}

void kp__broker_close_quietly(kp__broker *b, const char *reason)
{
	disconnect(b, 0, reason);
}

static void on_timer(kn__loop *loop, void *arg)
{
	kp__broker *b = arg;
	(void)loop;
	char why[96];
	if (b->state == KP__BROKER_CONNECTING) {
		snprintf(why, sizeof(why),
			 "connection setup timed out after %lld ms",
			 (long long)(kn__now_ms() - (uint64_t)b->connect_started_ms));
		broker_went_down(b, KP_ERR_TIMED_OUT, why);
		return;
	}
	if (!b->head)
		return;
	int64_t late = (int64_t)kn__now_ms() - b->head->sent_ms;
	if (late < b->opts.request_timeout_ms) {
		arm_request_timer(b);
		return;
	}
	snprintf(why, sizeof(why), "request timed out after %lld ms",
		 (long long)late);
	/* Like the Java client: a request past request.timeout.ms closes
	 * the connection; its requests fail as timed out. */
	kp__req *pending = b->head;
	b->head = b->tail = NULL;
	b->in_flight = 0;
	for (kp__req *r = pending; r;) {
		kp__req *next = r->next;
		r->answered = 1;
		r->fn(b, KP_ERR_TIMED_OUT, r->api_key, r->api_version, NULL, 0,
		      r->arg);
		req_free_if_done(r);
		r = next;
	}
	b->stats.errors++;
	kp__broker_disconnect(b, why);
}

static void on_connected(kn__loop *loop, int fd, unsigned events, void *arg)
{
	kp__broker *b = arg;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	(void)events;
	kn__loop_del_fd(loop, fd);
	b->connect_fd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		soerr = errno;
	char why[320];
	if (soerr != 0) {
		close(fd);
		snprintf(why, sizeof(why), "connect to %s:%u failed: %s",
			 b->host, b->port, strerror(soerr));
		broker_went_down(b, KP_ERR_CLOSED, why);
		return;
	}
	int rc = kn__conn_new(&b->conn, loop, fd, &conn_handler, NULL, b);
	if (rc != 0) {
		close(fd);
		b->conn = NULL;
		snprintf(why, sizeof(why), "connection to %s:%u: %s", b->host,
			 b->port, strerror(-rc));
		broker_went_down(b, KP_ERR_CLOSED, why);
		return;
	}
	kn__timer_stop(loop, &b->timer);
	b->state = KP__BROKER_HANDSHAKE;
	b->handshake_version = KP__API_VERSIONS_FIRST;
	if (send_api_versions(b) != KP_OK)
		kp__broker_disconnect(b, "cannot send ApiVersions");
}

kp__broker_state kp__broker_connect(kp__broker *b, int64_t now)
{
	if (b->state != KP__BROKER_DOWN || now < b->next_connect_ms)
		return b->state;
	char port[8], why[320];
	snprintf(port, sizeof(port), "%u", b->port);
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int gai = getaddrinfo(b->host, port, &hints, &res);
	b->state = KP__BROKER_CONNECTING; /* so went_down counts a failure */
	b->stats.connects++;
	if (gai != 0) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s", b->host,
			 gai_strerror(gai));
		broker_went_down(b, KP_ERR_CLOSED, why);
		return b->state;
	}
	int fd = socket(res->ai_family,
			res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -1 : connect(fd, res->ai_addr, res->ai_addrlen);
	int e = errno;
	freeaddrinfo(res);
	if (fd < 0 || (rc != 0 && e != EINPROGRESS)) {
		if (fd >= 0)
			close(fd);
		snprintf(why, sizeof(why), "connect to %s:%u failed: %s",
			 b->host, b->port, strerror(e));
		broker_went_down(b, KP_ERR_CLOSED, why);
		return b->state;
	}
	rc = kn__loop_add_fd(b->loop, fd, KN__IO_WRITE, on_connected, b);
	if (rc != 0) {
		close(fd);
		broker_went_down(b, KP_ERR_CLOSED, "cannot watch the socket");
		return b->state;
	}
	b->connect_fd = fd;
	b->connect_started_ms = now;
	(void)kn__timer_start(b->loop, &b->timer,
			      (uint64_t)kp__backoff_ms(&b->opts.setup_timeout,
						       b->failures, b->opts.rng),
			      0);
	return b->state;
}

/* ---- handshake ----------------------------------------------------------- */

static void on_api_versions(kp__broker *b, kp_err err, int16_t api_key,
			    int16_t version, const uint8_t *body, size_t len,
			    void *arg)
{
	(void)api_key;
	(void)arg;
	if (err != KP_OK)
		return; /* the connection is going down already */
	kc_decode_error derr = {0};
	kc_reader r;
	kc_reader_init(&r, body, len, &derr);
	kc_arena arena;
	kc_arena_init(&arena);
	kc_api_versions_response resp;
	int16_t used = version;
	kc_err kerr = kc_api_versions_response_decode_any(&r, &resp, version,
							  &arena, &used);
	char why[200];
	if (kerr != KC_OK && version > 0 && len >= 2 &&
	    ((body[0] << 8) | body[1]) == KC_KAFKA_UNSUPPORTED_VERSION) {
		/* librdkafka 2.0's mock refuses v3 with a body that is
		 * neither v3 nor v0; its ErrorCode still says what to do:
		 * ask again in v0, which every broker answers. */
		kc_arena_free(&arena);
		b->handshake_version = 0;
		if (send_api_versions(b) != KP_OK)
			kp__broker_disconnect(b, "cannot send ApiVersions");
		return;
	}
	if (kerr != KC_OK) {
		char detail[128];
		kc_decode_error_format(&derr, detail, sizeof(detail));
		snprintf(why, sizeof(why), "bad ApiVersions response: %s",
			 detail);
		kc_arena_free(&arena);
		kp__broker_disconnect(b, why);
		return;
	}
	if (resp.error_code == KC_KAFKA_UNSUPPORTED_VERSION && version > 0) {
		/* The broker listed ApiVersions' own range: retry within it. */
		int16_t next = 0;
		for (int32_t i = 0; i < resp.api_keys_count; i++)
			if (resp.api_keys[i].api_key == KC_API_KEY_API_VERSIONS)
				next = resp.api_keys[i].max_version;
		if (next >= version)
			next = (int16_t)(version - 1);
		kc_arena_free(&arena);
		b->handshake_version = next < 0 ? 0 : next;
		if (send_api_versions(b) != KP_OK)
			kp__broker_disconnect(b, "cannot send ApiVersions");
		return;
	}
	if (resp.error_code != 0) {
		snprintf(why, sizeof(why), "ApiVersions refused: %s",
			 kc_kafka_err_name(resp.error_code));
		kc_arena_free(&arena);
		kp__broker_disconnect(b, why);
		return;
	}
	for (int32_t i = 0; i < resp.api_keys_count; i++) {
		const kc_api_versions_response_api_version *v =
			&resp.api_keys[i];
		if (v->api_key >= 0 && v->api_key < KP__API_KEYS &&
		    v->min_version <= v->max_version && v->min_version >= 0) {
			b->api_min[v->api_key] = v->min_version;
			b->api_max[v->api_key] = v->max_version;
		}
	}
	kc_arena_free(&arena);
	b->state = KP__BROKER_UP;
	b->failures = 0;
	if (b->opts.on_up)
		b->opts.on_up(b, b->opts.arg);
}

static kp_err send_api_versions(kp__broker *b)
{
	kc_api_versions_request req;
	kc_api_versions_request_init(&req);
	if (b->handshake_version >= 3) {
		/* ClientSoftwareName, ClientSoftwareVersion (v3+) */
		req.client_software_name = kc_str_c("kafkit");
		req.client_software_version = kc_str_c("0.1.0");
	}
	kp__broker_state st = b->state;
	b->state = KP__BROKER_UP; /* kp__broker_send only sends when UP */
	kp_err err = kp__broker_send(b, KC_API_KEY_API_VERSIONS,
				     b->handshake_version, &req, 0, 1,
				     on_api_versions, NULL);
	b->state = st;
	return err;
}

/* ---- public -------------------------------------------------------------- */

kp_err kp__broker_new(kp__broker **out, kn__loop *loop, int32_t node_id,
		      const char *host, uint16_t port,
		      const kp__broker_opts *opts)
{
	if (strlen(host) >= sizeof(((kp__broker *)0)->host))
		return KP_ERR_INVALID_ARG;
	kp__broker *b = kc__malloc(sizeof(*b));
	if (!b)
		return KP_ERR_NOMEM;
	memset(b, 0, sizeof(*b));
	const char *cid = opts->client_id ? opts->client_id : "";
	b->client_id = kc__malloc(strlen(cid) + 1);
	if (!b->client_id) {
		kc__free(b);
		return KP_ERR_NOMEM;
	}
	memcpy(b->client_id, cid, strlen(cid) + 1);
	b->loop = loop;
	b->node_id = node_id;
	snprintf(b->host, sizeof(b->host), "%s", host);
	b->port = port;
	b->connect_fd = -1;
	b->opts = *opts;
	b->opts.client_id = b->client_id;
	for (int i = 0; i < KP__API_KEYS; i++)
		b->api_min[i] = b->api_max[i] = -1;
	kn__timer_init(&b->timer, on_timer, b);
	*out = b;
	return KP_OK;
}

void kp__broker_destroy(kp__broker *b)
{
	if (!b)
		return;
	b->opts.on_down = NULL;
	if (b->conn)
		kn__conn_close(b->conn, 0, "producer closing");
	else
		broker_went_down(b, KP_ERR_CLOSED, "producer closing");
	kn__timer_stop(b->loop, &b->timer);
	/* The connection released every frame above: no request is
	 * written after this, so the spares are all there is left. */
	while (b->spare) {
		kp__req *r = b->spare;
		b->spare = r->next;
		req_free(r);
	}
	kc__free(b->client_id);
	kc__free(b);
}

kp_err kp__broker_set_address(kp__broker *b, const char *host, uint16_t port)
{
	if (strlen(host) >= sizeof(b->host))
		return KP_ERR_INVALID_ARG;
	snprintf(b->host, sizeof(b->host), "%s", host);
	b->port = port;
	return KP_OK;
}

kp__broker_state kp__broker_state_of(const kp__broker *b)
{
	return b->state;
}

int32_t kp__broker_node_id(const kp__broker *b)
{
	return b->node_id;
}

const char *kp__broker_host(const kp__broker *b)
{
	return b->host;
}

uint16_t kp__broker_port(const kp__broker *b)
{
	return b->port;
}

int64_t kp__broker_next_connect_ms(const kp__broker *b)
{
	return b->next_connect_ms;
}

int16_t kp__broker_version(const kp__broker *b, int16_t api_key,
			   int16_t ours_min, int16_t ours_max)
{
	if (b->state != KP__BROKER_UP || api_key < 0 ||
	    api_key >= KP__API_KEYS || b->api_max[api_key] < 0)
		return -1;
	int16_t v = ours_max < b->api_max[api_key] ? ours_max
						   : b->api_max[api_key];
	if (v < ours_min || v < b->api_min[api_key])
		return -1;
	return v;
}

kp_err kp__broker_send(kp__broker *b, int16_t api_key, int16_t api_version,
		       const void *body, size_t ref_threshold,
		       int expect_response, kp__response_fn fn, void *arg)
{
	return kp__broker_send_spliced(b, api_key, api_version, body,
				       ref_threshold, NULL, 0,
				       expect_response, fn, arg);
}

kp_err kp__broker_send_spliced(kp__broker *b, int16_t api_key,
			       int16_t api_version, const void *body,
			       size_t ref_threshold, const kp__splice *splices,
			       size_t nsplices, int expect_response,
			       kp__response_fn fn, void *arg)
{
	if (b->state != KP__BROKER_UP || !b->conn)
		return KP_ERR_INVALID_ARG;
	kp__req *r = req_new(b);
	if (!r)
		return KP_ERR_NOMEM;
	/* 0 (copy everything) too: a spare writer keeps its last one. */
	kc_writer_set_ref_threshold(&r->w, ref_threshold);
	r->owner = b;
	r->correlation_id = b->next_correlation_id;
	r->api_key = api_key;
	r->api_version = api_version;
	r->fn = fn;
	r->arg = arg;
	r->expect_response = expect_response;
	r->answered = !expect_response;
	kc_err kerr = kc_request_frame_encode(&r->w, api_key, api_version,
					      r->correlation_id,
					      kc_str_c(b->client_id), body);
	for (size_t i = 0; kerr == KC_OK && i < nsplices; i++)
		kerr = kc_writer_splice(&r->w, splices[i].placeholder,
					splices[i].src);
	if (kerr != KC_OK) {
		req_free(r);
		return kerr == KC_ERR_NOMEM ? KP_ERR_NOMEM : KP_ERR_ENCODE;
	}
	struct iovec small[16];
	struct iovec *iov = small;
	size_t n = kc_writer_iov(&r->w, NULL, 0);
	if (n > 16) {
		iov = kc__malloc(n * sizeof(*iov));
		if (!iov) {
			req_free(r);
			return KP_ERR_NOMEM;
		}
	}
	kc_writer_iov(&r->w, iov, n);
	size_t bytes = kc_writer_pos(&r->w);
	int rc = kn__conn_sendv(b->conn, iov, (int)n, req_released, r);
	if (iov != small)
		kc__free(iov);
	if (rc != 0) {
		req_free(r);
		return rc == -ENOMEM ? KP_ERR_NOMEM : KP_ERR_INVALID_ARG;
	}
	b->next_correlation_id =
		b->next_correlation_id == INT32_MAX ? 0
						    : b->next_correlation_id + 1;
	b->stats.requests++;
	b->stats.bytes_out += bytes;
	if (expect_response) {
		r->sent_ms = (int64_t)kn__now_ms();
		if (b->tail)
			b->tail->next = r;
		else
			b->head = r;
		b->tail = r;
		b->in_flight++;
		if (b->head == r)
			arm_request_timer(b);
	}
	return KP_OK;
}

int kp__broker_in_flight(const kp__broker *b)
{
	return b->in_flight;
}

kp__broker_stats *kp__broker_stats_of(kp__broker *b)
{
	return &b->stats;
}
