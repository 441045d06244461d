/*
 * The pcap tap: the brokers' own frames as synthesized TCP connections.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "buf_int.h"
#include "capture.h"
#include "conn.h"
#include "kafkit/pcap.h"

/* Loopback's MTU is 65536: its segments carry a whole frame far more
 * often than Ethernet-sized ones would, as a real capture on lo shows. */
#define CAPTURE_MSS 65000
#define FLUSH_EVERY_MS 1000
#define IOV_STACK 16

struct km__capture {
	km_cluster *c;
	kx_pcapw *w;
	char *path;
	bool off;           /* an error turned the tap off */
	kn__timer flush_timer;
	uint8_t *scratch;   /* one frame, Size included */
	size_t scratch_cap;
};

struct km__capture_conn {
	kx_pcapw_conn pc;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Log what failed and stop recording: the brokers never depend on the
 * file. */
static void turn_off(km__capture *k, const char *what, int err)
{
	if (k->off)
		return;
	k->off = true;
	kn__loop_logf(k->c->loop, "pcap %s: %s %s; recording stopped",
		      k->path, what,
		      err == -ENOMEM ? strerror(ENOMEM) : kx_err_str(err));
}

static void flush_tick(kn__loop *loop, void *arg)
{
	km__capture *k = arg;
	(void)loop;
	if (!k->off) {
		int rc = kx_pcapw_flush(k->w);
		if (rc)
			turn_off(k, "writing failed:", rc);
	}
}

km_err km__capture_start(km_cluster *c, const char *path)
{
	km__capture *k = kc__malloc(sizeof *k);
	size_t n = strlen(path) + 1;
	char *p = kc__malloc(n);
	if (!k || !p) {
		kc__free(k);
		kc__free(p);
		return KM_ERR_NOMEM;
	}
	memcpy(p, path, n);
	*k = (km__capture){.c = c, .path = p};
	int err = 0;
	/* kx_pcapw_open sets errno from fopen when it fails there */
	errno = 0;
	k->w = kx_pcapw_open(path, NULL, &err);
	if (!k->w) {
		int os_err = errno;
		kc__free(p);
		kc__free(k);
		if (err == KX_ERR_NOMEM)
			return KM_ERR_NOMEM;
		kn__loop_logf(c->loop, "cannot open pcap file %s: %s", path,
			      os_err ? strerror(os_err) : kx_err_str(err));
		return KM_ERR_IO;
	}
	kn__timer_init(&k->flush_timer, flush_tick, k);
	if (kn__timer_start(c->loop, &k->flush_timer, FLUSH_EVERY_MS,
			    FLUSH_EVERY_MS)) {
		kx_pcapw_close(k->w);
		kc__free(p);
		kc__free(k);
		return KM_ERR_NOMEM;
	}
	c->capture = k;
	return KM_OK;
}

void km__capture_free(km_cluster *c)
{
	km__capture *k = c->capture;
	if (!k)
		return;
	kn__timer_stop(c->loop, &k->flush_timer);
	int rc = kx_pcapw_close(k->w);
	if (rc)
		turn_off(k, "writing failed:", rc);
	kc__free(k->scratch);
	kc__free(k->path);
	kc__free(k);
	c->capture = NULL;
}

static km__capture *tap_of(const km__session *s)
{
	km__capture *k = s->broker->cluster->capture;
	return k && !k->off ? k : NULL;
}

void km__capture_conn_open(km__session *s)
{
	km__capture *k = tap_of(s);
	if (!k)
		return;
	struct sockaddr_in peer;
	socklen_t plen = sizeof peer;
	uint16_t client_port = 0;
	if (!getpeername(kn__conn_fd(s->conn), (struct sockaddr *)&peer,
			 &plen) &&
	    peer.sin_family == AF_INET)
		client_port = ntohs(peer.sin_port);
	km__capture_conn *cc = kc__malloc(sizeof *cc);
	if (!cc) {
		turn_off(k, "recording a connection failed:", -ENOMEM);
		return;
	}
	static const uint8_t loopback[4] = {127, 0, 0, 1};
	kx_pcapw_conn_init(&cc->pc, 4, loopback, client_port, loopback,
			   s->broker->port);
	cc->pc.mss = CAPTURE_MSS;
	s->capture = cc;
	int rc = kx_pcapw_conn_open(k->w, &cc->pc, now_ns());
	if (rc)
		turn_off(k, "writing failed:", rc);
}

/* Room for n bytes in the scratch buffer, or NULL (the tap is off). */
static uint8_t *scratch(km__capture *k, size_t n)
{
	if (n > k->scratch_cap) {
		uint8_t *p = kc__realloc(k->scratch, n);
		if (!p) {
			turn_off(k, "recording a frame failed:", -ENOMEM);
			return NULL;
		}
		k->scratch = p;
		k->scratch_cap = n;
	}
	return k->scratch;
}

static void send_frame(km__capture *k, km__session *s, kx_dir dir,
		       int64_t ts, const uint8_t *p, size_t n)
{
	int rc = kx_pcapw_conn_send(k->w, &s->capture->pc, dir, ts, p, n);
	if (rc)
		turn_off(k, "writing failed:", rc);
}

void km__capture_request(km__session *s, const uint8_t *frame, size_t len)
{
	km__capture *k = tap_of(s);
	if (!k || !s->capture)
		return;
	uint8_t *p = scratch(k, len + 4);
	if (!p)
		return;
	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	memcpy(p + 4, frame, len);
	send_frame(k, s, KX_TO_BROKER, now_ns(), p, len + 4);
}

void km__capture_response(km__session *s, const kc_writer *w,
			  uint32_t delay_ms)
{
	km__capture *k = tap_of(s);
	if (!k || !s->capture)
		return;
	struct iovec stack[IOV_STACK], *iov = stack;
	size_t niov = kc_writer_iov(w, stack, IOV_STACK);
	if (niov > IOV_STACK) {
		iov = kc__malloc(niov * sizeof *iov);
		if (!iov) {
			turn_off(k, "recording a frame failed:", -ENOMEM);
			return;
		}
		kc_writer_iov(w, iov, niov);
	}
	size_t n = 0;
	for (size_t i = 0; i < niov; i++)
		n += iov[i].iov_len;
	uint8_t *p = scratch(k, n);
	if (p) {
		size_t at = 0;
		for (size_t i = 0; i < niov; i++) {
			memcpy(p + at, iov[i].iov_base, iov[i].iov_len);
			at += iov[i].iov_len;
		}
		send_frame(k, s, KX_TO_CLIENT,
			   now_ns() + (int64_t)delay_ms * 1000000, p, n);
	}
	if (iov != stack)
		kc__free(iov);
}

void km__capture_conn_close(km__session *s)
{
	km__capture_conn *cc = s->capture;
	if (!cc)
		return;
	km__capture *k = tap_of(s);
	if (k) {
		int rc = kx_pcapw_conn_close(k->w, &cc->pc, now_ns());
		if (rc)
			turn_off(k, "writing failed:", rc);
	}
	s->capture = NULL;
	kc__free(cc);
}
