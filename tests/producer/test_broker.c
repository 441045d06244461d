/*
 * The producer's broker connection (producer/src/broker.c) against a
 * scripted server on 127.0.0.1: the ApiVersions handshake (including the
 * v0 fallback and librdkafka 2.0's malformed refusal), responses matched
 * in order, and a bad server (wrong correlation id, truncated header,
 * oversized frame, silence, refused connection, an answer to a request
 * it has not read yet) turning into a clean
 * DOWN with every pending request failed exactly once.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "kafkit/protocol.h"

/* ---- a scripted server ----------------------------------------------------- */

/* How the server answers the i-th request it reads. */
typedef enum reply {
	R_API_VERSIONS,      /* a good ApiVersions answer in the asked version */
	R_RDK_REFUSAL,       /* librdkafka 2.0 mock's refusal of v3 */
	R_METADATA_EMPTY,    /* Metadata v(asked) with no brokers or topics */
	R_WRONG_CORR,        /* the right body under another correlation id */
	R_BAD_TAGS,          /* a flexible header whose tags run past the end */
	R_HUGE_FRAME,        /* a Size of 2 GiB - 1 */
	R_SILENCE,           /* read the request, answer nothing */
	R_EARLY,             /* answer after reading only the request header,
	                        read the rest half a second later */
	R_END,
} reply;

typedef struct server {
	int lfd;
	uint16_t port;
	const reply *script;
	pthread_t thread;
	int16_t versions_seen[8];
	int nseen;
} server;

static int read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		ssize_t r = read(fd, b, n);
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static void write_frame(int fd, const kc_writer *w)
{
	ck_assert_int_eq(write(fd, kc_writer_data(w), kc_writer_pos(w)),
			 (ssize_t)kc_writer_pos(w));
}

static void *server_main(void *arg)
{
	server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	for (const reply *r = s->script; *r != R_END; r++) {
		uint8_t size[4], hdr[8];
		if (read_full(fd, size, 4) != 0)
			break;
		uint32_t n = (uint32_t)size[0] << 24 | (uint32_t)size[1] << 16 |
			     (uint32_t)size[2] << 8 | size[3];
		/* An early answer reads only the header before answering. */
		size_t first = *r == R_EARLY && n > 8 ? 8 : n;
		uint8_t *frame = malloc(n);
		if (read_full(fd, frame, first) != 0) {
			free(frame);
			break;
		}
		memcpy(hdr, frame, 8);
		int16_t key = (int16_t)(hdr[0] << 8 | hdr[1]);
		int16_t version = (int16_t)(hdr[2] << 8 | hdr[3]);
		int32_t corr = (int32_t)((uint32_t)hdr[4] << 24 |
					 (uint32_t)hdr[5] << 16 |
					 (uint32_t)hdr[6] << 8 | hdr[7]);
		if (key == KC_API_KEY_API_VERSIONS && s->nseen < 8)
			s->versions_seen[s->nseen++] = version;
		kc_writer w;
		kc_writer_init(&w);
		if (*r == R_API_VERSIONS) {
			kc_api_versions_response_api_version v[2] = {
				{KC_API_KEY_API_VERSIONS, 0, 3},
				{KC_METADATA_REQUEST_API_KEY, 0, 12},
			};
			kc_api_versions_response m;
			kc_api_versions_response_init(&m);
			m.api_keys = v;
			m.api_keys_count = 2;
			ck_assert_int_eq(kc_response_frame_encode(&w, key, version,
								  corr, &m),
					 KC_OK);
		} else if (*r == R_RDK_REFUSAL) {
			/* ErrorCode 35, then bytes that fit no version. */
			static const uint8_t body[] = {0x00, 0x23, 0x01, 0x00,
						       0x12, 0x00, 0x00, 0x00,
						       0x02, 0, 0, 0, 0};
			uint8_t head[8] = {0, 0, 0, 4 + sizeof body};
			head[4] = (uint8_t)(corr >> 24);
			head[5] = (uint8_t)(corr >> 16);
			head[6] = (uint8_t)(corr >> 8);
			head[7] = (uint8_t)corr;
			kc_writer_put(&w, head, 8);
			kc_writer_put(&w, body, sizeof body);
		} else if (*r == R_METADATA_EMPTY || *r == R_WRONG_CORR ||
			   *r == R_BAD_TAGS || *r == R_EARLY) {
			kc_metadata_response m;
			kc_metadata_response_init(&m);
			m.brokers_count = 0;
			m.topics_count = 0;
			ck_assert_int_eq(
				kc_response_frame_encode(
					&w, key, version,
					*r == R_WRONG_CORR ? corr + 7 : corr, &m),
				KC_OK);
			if (*r == R_BAD_TAGS) {
				/* The header's tag count claims 127 tags. */
				uint8_t *p = (uint8_t *)kc_writer_data(&w);
				p[8] = 0x7f;
			}
		} else if (*r == R_HUGE_FRAME) {
			static const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff};
			kc_writer_put(&w, huge, 4);
		}
		if (kc_writer_pos(&w))
			write_frame(fd, &w);
		kc_writer_free(&w);
		if (first < n) {
			usleep(500 * 1000);
			(void)read_full(fd, frame + first, n - first);
		}
		free(frame);
	}
	/* Hold the connection until the client closes it. */
	uint8_t b;
	while (read(fd, &b, 1) > 0)
		;
	close(fd);
	return NULL;
}

static void server_start(server *s, const reply *script)
{
	memset(s, 0, sizeof(*s));
	s->script = script;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(s->lfd, 4), 0);
	socklen_t len = sizeof a;
	getsockname(s->lfd, (struct sockaddr *)&a, &len);
	s->port = ntohs(a.sin_port);
	pthread_create(&s->thread, NULL, server_main, s);
}

static void server_stop(server *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

/* ---- the client side ------------------------------------------------------- */

typedef struct events {
	int ups, downs;
	char reason[256];
	int responses;
	kp_err last_err;
	size_t last_len;
} events;

static void on_up(kp__broker *b, void *arg)
{
	(void)b;
	((events *)arg)->ups++;
}

static void on_down(kp__broker *b, const char *reason, void *arg)
{
	events *e = arg;
	(void)b;
	e->downs++;
	snprintf(e->reason, sizeof e->reason, "%s", reason);
}

static void on_response(kp__broker *b, kp_err err, int16_t api_key,
			int16_t version, const uint8_t *body, size_t len,
			void *arg)
{
	events *e = arg;
	(void)b;
	(void)api_key;
	(void)version;
	ck_assert(err != KP_OK || body != NULL);
	e->responses++;
	e->last_err = err;
	e->last_len = len;
}

static kp__rng rng;

static kp__broker *client(kn__loop *loop, uint16_t port, events *e,
			  int64_t request_timeout)
{
	kp__broker_opts o = {
		.client_id = "test",
		.request_timeout_ms = request_timeout,
		.rng = &rng,
		.on_up = on_up,
		.on_down = on_down,
		.arg = e,
	};
	kp__rng_seed(&rng, 1);
	ck_assert_int_eq(kp__backoff_init(&o.reconnect, 50, 2, 1000, 0.2), 0);
	ck_assert_int_eq(kp__backoff_init(&o.setup_timeout, 2000, 2, 4000, 0.2),
			 0);
	kp__broker *b = NULL;
	ck_assert_int_eq(kp__broker_new(&b, loop, 1, "127.0.0.1", port, &o),
			 KP_OK);
	return b;
}

/* Run the loop until cond holds or 5 s passed. */
#define RUN_UNTIL(loop, cond)                                                  \
	do {                                                                   \
		uint64_t until_ = kn__now_ms() + 5000;                         \
		while (!(cond) && kn__now_ms() < until_)                       \
			kn__loop_run_once(loop, 20);                           \
		ck_assert_msg(cond, "timed out waiting for " #cond);          \
	} while (0)

/* A Metadata request for no topic, or with big set for 1000 topics of
 * 30000-byte names: 30 MB, more than loopback sockets buffer, so the
 * request is still being written when an early answer comes. */
static void send_metadata_sized(kp__broker *b, events *e, kp_err want,
				int big)
{
	enum { NTOPICS = 1000, NAME = 30000 };
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	req.topics_count = 0;
	char *name = NULL;
	kc_metadata_request_metadata_request_topic *topics = NULL;
	if (big) {
		name = malloc(NAME);
		memset(name, 't', NAME);
		topics = calloc(NTOPICS, sizeof *topics);
		for (int i = 0; i < NTOPICS; i++) {
			kc_metadata_request_metadata_request_topic_init(&topics[i]);
			topics[i].name = (kc_str){name, NAME};
		}
		req.topics = topics;
		req.topics_count = NTOPICS;
	}
	ck_assert_int_eq(kp__broker_send(b, KC_METADATA_REQUEST_API_KEY, 1, &req,
					 0, 1, on_response, e),
			 want);
	free(topics);
	free(name);
}

static void send_metadata(kp__broker *b, events *e, kp_err want)
{
	send_metadata_sized(b, e, want, 0);
}

START_TEST(test_handshake_and_request)
{
	static const reply script[] = {R_API_VERSIONS, R_METADATA_EMPTY, R_END};
	server s;
	server_start(&s, script);
	kn__loop *loop;
	ck_assert_int_eq(kn__loop_new(&loop), 0);
	events e = {0};
	kp__broker *b = client(loop, s.port, &e, 5000);
	send_metadata(b, &e, KP_ERR_INVALID_ARG); /* not UP yet */
	ck_assert_int_eq(kp__broker_connect(b, (int64_t)kn__now_ms()),
			 KP__BROKER_CONNECTING);
	RUN_UNTIL(loop, e.ups == 1);
	ck_assert_int_eq(s.versions_seen[0], 3);
	ck_assert_int_eq(kp__broker_version(b, KC_METADATA_REQUEST_API_KEY, 0,
					    9),
			 9);
	ck_assert_int_eq(kp__broker_version(b, KC_PRODUCE_REQUEST_API_KEY, 0,
					    11),
			 -1);
	send_metadata(b, &e, KP_OK);
	ck_assert_int_eq(kp__broker_in_flight(b), 1);
	RUN_UNTIL(loop, e.responses == 1);
	ck_assert_int_eq(e.last_err, KP_OK);
	ck_assert_int_eq(kp__broker_in_flight(b), 0);
	ck_assert_uint_eq(kp__broker_stats_of(b)->rtt_count, 2);
	kp__broker_destroy(b);
	server_stop(&s);
	kn__loop_destroy(loop);
}
END_TEST

START_TEST(test_rdkafka_refusal_falls_back_to_v0)
{
	static const reply script[] = {R_RDK_REFUSAL, R_API_VERSIONS, R_END};
	server s;
	server_start(&s, script);
	kn__loop *loop;
	ck_assert_int_eq(kn__loop_new(&loop), 0);
	events e = {0};
	kp__broker *b = client(loop, s.port, &e, 5000);
	kp__broker_connect(b, (int64_t)kn__now_ms());
	RUN_UNTIL(loop, e.ups == 1);
	ck_assert_int_eq(s.nseen, 2);
	ck_assert_int_eq(s.versions_seen[0], 3);
	ck_assert_int_eq(s.versions_seen[1], 0);
	ck_assert_int_eq(e.downs, 0);
	kp__broker_destroy(b);
	server_stop(&s);
	kn__loop_destroy(loop);
}
END_TEST

/* A bad answer to a Metadata request: the request fails once, the broker
 * goes DOWN with a reason naming the problem. */
static void bad_answer(reply r, int64_t request_timeout, kp_err want,
		       const char *reason)
{
	int big = r == R_EARLY;
	reply script[] = {R_API_VERSIONS, r, R_END};
	server s;
	server_start(&s, script);
	kn__loop *loop;
	ck_assert_int_eq(kn__loop_new(&loop), 0);
	events e = {0};
	kp__broker *b = client(loop, s.port, &e, request_timeout);
	kp__broker_connect(b, (int64_t)kn__now_ms());
	RUN_UNTIL(loop, e.ups == 1);
	send_metadata_sized(b, &e, KP_OK, big);
	RUN_UNTIL(loop, e.downs == 1);
	ck_assert_int_eq(e.responses, 1);
	ck_assert_int_eq(e.last_err, want);
	ck_assert_msg(strstr(e.reason, reason), "reason: %s", e.reason);
	ck_assert_int_eq(kp__broker_state_of(b), KP__BROKER_DOWN);
	ck_assert(kp__broker_next_connect_ms(b) > (int64_t)kn__now_ms());
	send_metadata(b, &e, KP_ERR_INVALID_ARG);
	kp__broker_destroy(b);
	ck_assert_int_eq(e.responses, 1);
	server_stop(&s);
	kn__loop_destroy(loop);
}

START_TEST(test_wrong_correlation_id)
{
	bad_answer(R_WRONG_CORR, 5000, KP_ERR_CLOSED, "correlation id");
}
END_TEST

/* The request's memory (and the batches and lent values it references)
 * stays in use until written: an answer before that is refused, not
 * handed to the caller, who would free what is still being sent. */
START_TEST(test_answer_before_request_written)
{
	bad_answer(R_EARLY, 5000, KP_ERR_CLOSED, "before");
}
END_TEST

START_TEST(test_request_timeout)
{
	bad_answer(R_SILENCE, 200, KP_ERR_TIMED_OUT, "timed out");
}
END_TEST

START_TEST(test_huge_frame)
{
	bad_answer(R_HUGE_FRAME, 5000, KP_ERR_CLOSED, "");
}
END_TEST

START_TEST(test_refused_connection)
{
	server s;
	static const reply script[] = {R_END};
	server_start(&s, script);
	uint16_t port = s.port;
	server_stop(&s); /* nobody listens there now */
	kn__loop *loop;
	ck_assert_int_eq(kn__loop_new(&loop), 0);
	events e = {0};
	kp__broker *b = client(loop, port, &e, 5000);
	int64_t now = (int64_t)kn__now_ms();
	kp__broker_connect(b, now);
	RUN_UNTIL(loop, e.downs == 1);
	ck_assert_msg(strstr(e.reason, "refused"), "reason: %s", e.reason);
	int64_t next = kp__broker_next_connect_ms(b);
	ck_assert(next >= now + 40 && next <= now + 1000);
	/* Before the backoff passes nothing happens. */
	ck_assert_int_eq(kp__broker_connect(b, next - 1), KP__BROKER_DOWN);
	kp__broker_destroy(b);
	kn__loop_destroy(loop);
}
END_TEST

START_TEST(test_flexible_header_tags_past_end)
{
	reply script[] = {R_API_VERSIONS, R_BAD_TAGS, R_END};
	server s;
	server_start(&s, script);
	kn__loop *loop;
	ck_assert_int_eq(kn__loop_new(&loop), 0);
	events e = {0};
	kp__broker *b = client(loop, s.port, &e, 5000);
	kp__broker_connect(b, (int64_t)kn__now_ms());
	RUN_UNTIL(loop, e.ups == 1);
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	req.topics_count = 0;
	ck_assert_int_eq(kp__broker_send(b, KC_METADATA_REQUEST_API_KEY, 9, &req,
					 0, 1, on_response, &e),
			 KP_OK);
	RUN_UNTIL(loop, e.downs == 1);
	ck_assert_int_eq(e.last_err, KP_ERR_CLOSED);
	ck_assert_msg(strstr(e.reason, "tagged fields"), "reason: %s",
		      e.reason);
	kp__broker_destroy(b);
	server_stop(&s);
	kn__loop_destroy(loop);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_broker");
	TCase *tc = tcase_create("broker");
	tcase_add_test(tc, test_handshake_and_request);
	tcase_add_test(tc, test_rdkafka_refusal_falls_back_to_v0);
	tcase_add_test(tc, test_wrong_correlation_id);
	tcase_add_test(tc, test_answer_before_request_written);
	tcase_add_test(tc, test_request_timeout);
	tcase_add_test(tc, test_huge_frame);
	tcase_add_test(tc, test_refused_connection);
	tcase_add_test(tc, test_flexible_header_tags_past_end);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
