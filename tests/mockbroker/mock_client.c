/* Blocking test client and fixtures for the mock broker suites. */
#include "mock_client.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void mc_connect(mc_client *cl, uint16_t port)
{
	memset(cl, 0, sizeof *cl);
	kc_arena_init(&cl->arena);
	cl->next_corr = 1;
	cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(cl->fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(cl->fd, (struct sockaddr *)&a, sizeof a), 0);
	int one = 1;
	setsockopt(cl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void mc_connect_broker(mc_client *cl, km_cluster *c, int32_t id)
{
	uint16_t port = km_cluster_broker_port(c, id);
	ck_assert_uint_ne(port, 0);
	mc_connect(cl, port);
}

void mc_close(mc_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	kc_arena_free(&cl->arena);
	free(cl->frame);
	cl->frame = NULL;
}

void mc_send_raw(mc_client *cl, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = send(cl->fd, b, n, MSG_NOSIGNAL);
		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
}

int32_t mc_send(mc_client *cl, int16_t api_key, int16_t version,
		const void *body)
{
	kc_writer w;
	kc_writer_init(&w);
	int32_t corr = cl->next_corr++;
	kc_err e = kc_request_frame_encode(&w, api_key, version, corr,
					   KC_STR_LIT("mock-test"), body);
	ck_assert_msg(e == KC_OK, "encode: %s", kc_err_name(e));
	mc_send_raw(cl, kc_writer_data(&w), w.len);
	kc_writer_free(&w);
	return corr;
}

/* Read exactly n bytes; 0, -1 closed, -2 timeout. */
static int read_full(int fd, uint8_t *p, size_t n, int timeout_ms)
{
	while (n) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int rc = poll(&pf, 1, timeout_ms);
		if (rc == 0)
			return -2;
		if (rc < 0 && errno == EINTR)
			continue;
		ssize_t r = recv(fd, p, n, 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return -1;
		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_msg(r > 0, "recv: %s", strerror(errno));
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int mc_recv_frame(mc_client *cl, int timeout_ms)
{
	uint8_t sz[4];
	int rc = read_full(cl->fd, sz, 4, timeout_ms);
	if (rc)
		return rc;
	uint32_t n = (uint32_t)sz[0] << 24 | (uint32_t)sz[1] << 16 |
		     (uint32_t)sz[2] << 8 | sz[3];
	ck_assert_uint_lt(n, 1u << 30);
	free(cl->frame);
	cl->frame = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(cl->frame);
	cl->frame_len = n;
	rc = read_full(cl->fd, cl->frame, n, timeout_ms);
	ck_assert_msg(rc == 0, "response frame cut short");
	return 0;
}

void mc_recv(mc_client *cl, int16_t api_key, int16_t version, int32_t corr,
	     void *resp)
{
	ck_assert_int_eq(mc_recv_frame(cl, 10000), 0);
	const kc_api *api = kc_api_find(api_key);
	ck_assert_ptr_nonnull(api);
	kc_decode_error de = {0};
	kc_reader r;
	kc_reader_init(&r, cl->frame, cl->frame_len, &de);
	kc_response_header h;
	kc_arena_reset(&cl->arena);
	kc_err e = kc_response_header_decode(
		&r, &h, kc_response_header_version(api_key, version),
		&cl->arena);
	ck_assert_int_eq(e, KC_OK);
	ck_assert_int_eq(h.correlation_id, corr);
	e = api->response->decode(&r, resp, version, &cl->arena);
	char msg[200];
	kc_decode_error_format(&de, msg, sizeof msg);
	ck_assert_msg(e == KC_OK, "decode %s v%d: %s", api->name, version, msg);
	ck_assert_uint_eq(kc_reader_left(&r), 0);
}

void mc_call(mc_client *cl, int16_t api_key, int16_t version,
	     const void *req, void *resp)
{
	int32_t corr = mc_send(cl, api_key, version, req);
	mc_recv(cl, api_key, version, corr, resp);
}

int mc_wait_closed(mc_client *cl, int timeout_ms)
{
	uint8_t buf[4096];
	for (;;) {
		struct pollfd pf = {.fd = cl->fd, .events = POLLIN};
		int rc = poll(&pf, 1, timeout_ms);
		if (rc == 0)
			return 0;
		ssize_t r = recv(cl->fd, buf, sizeof buf, 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 1;
		if (r < 0 && errno != EINTR)
			return 1;
	}
}

uint8_t *mc_batch(int magic, int codec, int first, int n, int64_t ts0,
		  int64_t pid, int16_t epoch, int32_t seq, size_t *len)
{
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	cfg.magic = magic;
	cfg.codec = codec;
	cfg.producer_id = pid;
	cfg.producer_epoch = epoch;
	cfg.base_sequence = seq;
	kc_batch_builder b;
	ck_assert_int_eq(kc_batch_builder_init(&b, &cfg), KC_OK);
	for (int i = first; i < first + n; i++) {
		char k[32], v[32];
		int kn = snprintf(k, sizeof k, "k%d", i);
		int vn = snprintf(v, sizeof v, "v%d", i);
		ck_assert_int_eq(kc_batch_append(&b, ts0 + (i - first),
						 kc_bytes_of(k, (size_t)kn),
						 kc_bytes_of(v, (size_t)vn),
						 NULL, 0),
				 KC_OK);
	}
	const uint8_t *p;
	ck_assert_int_eq(kc_batch_seal(&b, &p, len), KC_OK);
	uint8_t *copy = malloc(*len ? *len : 1);
	memcpy(copy, p, *len);
	kc_batch_builder_free(&b);
	return copy;
}

int16_t mc_produce(mc_client *cl, int16_t version, int16_t acks,
		   const char *topic, int32_t partition, const uint8_t *records,
		   size_t len, int64_t *base)
{
	kc_produce_request_partition_produce_data pd = {
		.index = partition,
		.records = {records, (int32_t)len},
	};
	kc_produce_request_topic_produce_data td = {
		.name = kc_str_c(topic),
		.partition_data = &pd,
		.partition_data_count = 1,
	};
	kc_produce_request req;
	kc_produce_request_init(&req);
	req.acks = acks;
	req.timeout_ms = 5000;
	req.topic_data = &td;
	req.topic_data_count = 1;
	kc_produce_response resp;
	mc_call(cl, 0, version, &req, &resp);
	ck_assert_int_eq(resp.responses_count, 1);
	ck_assert_int_eq(resp.responses[0].partition_responses_count, 1);
	const kc_produce_response_partition_produce_response *pr =
		&resp.responses[0].partition_responses[0];
	ck_assert_int_eq(pr->index, partition);
	if (base)
		*base = pr->base_offset;
	return pr->error_code;
}

/* ---- cluster fixture ---------------------------------------------------- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char *log_buf;
static size_t log_len, log_cap;

void mc_log_fn(void *opaque, const char *line)
{
	(void)opaque;
	size_t n = strlen(line);
	pthread_mutex_lock(&log_mu);
	if (log_len + n + 2 > log_cap) {
		log_cap = (log_len + n + 2) * 2;
		log_buf = realloc(log_buf, log_cap);
	}
	memcpy(log_buf + log_len, line, n);
	log_len += n;
	log_buf[log_len++] = '\n';
	log_buf[log_len] = '\0';
	pthread_mutex_unlock(&log_mu);
}

int mc_log_has(const char *needle)
{
	pthread_mutex_lock(&log_mu);
	int found = log_buf && strstr(log_buf, needle) != NULL;
	pthread_mutex_unlock(&log_mu);
	return found;
}

void mc_log_reset(void)
{
	pthread_mutex_lock(&log_mu);
	log_len = 0;
	if (log_buf)
		log_buf[0] = '\0';
	pthread_mutex_unlock(&log_mu);
}

km_cluster *mc_cluster(int n, km_options *o)
{
	km_options def;
	if (!o) {
		km_options_init(&def);
		def.log_fn = mc_log_fn;
		o = &def;
	}
	km_cluster *c = NULL;
	km_err e = km_cluster_new(&c, n, o);
	ck_assert_msg(e == KM_OK, "km_cluster_new: %s", km_err_name(e));
	ck_assert_int_eq(km_cluster_start(c), KM_OK);
	return c;
}

typedef struct dump {
	char *s;
	size_t len, cap;
} dump;

static void dump_bytes(dump *d, kc_bytes b)
{
	char tmp[64];
	if (b.len < 0) {
		snprintf(tmp, sizeof tmp, "null");
	} else {
		snprintf(tmp, sizeof tmp, "%.*s", b.len > 40 ? 40 : b.len,
			 (const char *)b.ptr);
	}
	size_t n = strlen(tmp);
	if (d->len + n + 32 > d->cap) {
		d->cap = (d->len + n + 32) * 2;
		d->s = realloc(d->s, d->cap);
	}
	memcpy(d->s + d->len, tmp, n + 1);
	d->len += n;
}

static int dump_rec(void *opaque, const km_record *r)
{
	dump *d = opaque;
	char tmp[32];
	snprintf(tmp, sizeof tmp, "%lld:", (long long)r->offset);
	dump_bytes(d, (kc_bytes){(const uint8_t *)tmp, (int32_t)strlen(tmp)});
	dump_bytes(d, r->key);
	dump_bytes(d, (kc_bytes){(const uint8_t *)"=", 1});
	dump_bytes(d, r->value);
	dump_bytes(d, (kc_bytes){(const uint8_t *)"\n", 1});
	return 0;
}

char *mc_dump(km_cluster *c, const char *topic, int32_t partition)
{
	dump d = {.s = calloc(1, 64), .cap = 64};
	km_err e = km_cluster_partition_log(c, topic, partition, dump_rec, &d);
	ck_assert_msg(e == KM_OK, "partition_log: %s", km_err_name(e));
	return d.s;
}

/* ---- subprocesses --------------------------------------------------------- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mc_run(char *const argv[], const char *in, size_t in_len, char **out,
	   int timeout_ms)
{
	int pin[2], pout[2];
	/* A child that exits early must not kill us through its stdin. */
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe2(pin, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pout, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	size_t cap = 4096, len = 0, sent = 0;
	char *buf = malloc(cap);
	int64_t deadline = mono_ms() + timeout_ms;
	int wfd = pin[1];
	if (in_len == 0) {
		close(wfd);
		wfd = -1;
	}
	int rfd = pout[0];
	int killed = 0;
	while (rfd >= 0) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		struct pollfd pf[2] = {{.fd = rfd, .events = POLLIN},
				       {.fd = wfd, .events = POLLOUT}};
		if (poll(pf, wfd >= 0 ? 2 : 1, (int)left) < 0)
			continue;
		if (wfd >= 0 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(wfd, in + sent, in_len - sent);
			if (w > 0)
				sent += (size_t)w;
			if (w < 0 || sent == in_len) {
				close(wfd);
				wfd = -1;
			}
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (cap - len < 4096) {
				cap *= 2;
				buf = realloc(buf, cap);
			}
			ssize_t r = read(rfd, buf + len, cap - len - 1);
			if (r > 0) {
				len += (size_t)r;
			} else if (r == 0 || errno != EINTR) {
				close(rfd);
				rfd = -1;
			}
		}
	}
	if (wfd >= 0)
		close(wfd);
	if (rfd >= 0)
		close(rfd);
	buf[len] = '\0';
	int status;
	waitpid(pid, &status, 0);
	*out = buf;
	if (killed || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}
