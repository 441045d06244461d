/*
 * Check suite for the listener and connections
 * (net/src/listener.c, conn.c), over real sockets on 127.0.0.1.
 *
 * The server loop and the test's client sockets share the test thread:
 * clients are non-blocking and every wait turns the loop (SPIN_UNTIL), so
 * each step is deterministic without sleeps.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "helpers.h"
#include "listener.h"
#include "loop.h"

#define MAX_CONNS 1100
#define SPIN_MS 10000

/* What the server does with each frame. */
enum mode {
	MODE_ECHO,        /* send the frame back, Size included */
	MODE_BIG,         /* answer big_len pattern bytes, zero-copy */
	MODE_CLOSE_AFTER, /* close after 10 bytes, then queue 100 */
	MODE_PAUSE,       /* pause after each frame */
	MODE_TAKE,        /* keep the frame (kn__conn_take_input), echo it */
};

/* A frame kept past on_frame. */
typedef struct held {
	kn__block *b;
	uint8_t *f;
	size_t len;
} held;

/* Server-side record of one accepted connection. */
typedef struct sconn {
	kn__conn *c; /* NULL once closed */
	enum mode mode;
	size_t nframes;
	uint8_t *rx; /* frames received, re-framed: Size + bytes */
	size_t rx_len, rx_cap;
	held *held; /* MODE_TAKE */
	size_t nheld;
	int closed, err;
	char reason[160];
} sconn;

static struct {
	kn__loop *loop;
	kn__listener *ls;
	uint16_t port;
	kn__conn_opts opts;
	enum mode mode;
	int sndbuf; /* > 0: SO_SNDBUF of accepted sockets */
	size_t big_len;
	sconn *conns[MAX_CONNS];
	int naccepted, nclosed, naccept_failed, nomem;
	int releases;
	int rel_log[8], nrel;
	char log[600];
	int nlogs;
} S;

static uint8_t *pattern; /* 4 MiB of pattern(i) */

static uint8_t pattern_at(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

#define SPIN_UNTIL(cond)                                                       \
	do {                                                                   \
		uint64_t dl_ = kn__now_ms() + SPIN_MS;                         \
		while (!(cond)) {                                              \
			ck_assert_msg(kn__now_ms() < dl_, "timed out: %s",     \
				      #cond);                                  \
			ck_assert_int_eq(kn__loop_run_once(S.loop, 5), 0);     \
		}                                                              \
	} while (0)

static void spin_for(int ms)
{
	uint64_t end = kn__now_ms() + (uint64_t)ms;
	while (kn__now_ms() < end)
		ck_assert_int_eq(kn__loop_run_once(S.loop, 5), 0);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- server ------------------------------------------------------------- */

static void record(sconn *sc, const uint8_t *f, size_t len)
{
	if (sc->rx_len + 4 + len > sc->rx_cap) {
		sc->rx_cap = (sc->rx_len + 4 + len) * 2;
		sc->rx = realloc(sc->rx, sc->rx_cap);
		ck_assert_ptr_nonnull(sc->rx);
	}
	put_be32(sc->rx + sc->rx_len, (uint32_t)len);
	if (len)
		memcpy(sc->rx + sc->rx_len + 4, f, len);
	sc->rx_len += 4 + len;
	sc->nframes++;
}

static void count_release(void *ctx)
{
	(void)ctx;
	S.releases++;
}

static int send_big(kn__conn *c)
{
	enum { SEG = 65536 };
	struct iovec iov[64];
	int n = 0;
	for (size_t off = 0; off < S.big_len; off += SEG, n++) {
		iov[n].iov_base = pattern + off;
		iov[n].iov_len = S.big_len - off < SEG ? S.big_len - off : SEG;
	}
	return kn__conn_sendv(c, iov, n, count_release, NULL);
}

static int echo(kn__conn *c, const uint8_t *f, size_t len)
{
	uint8_t size[4];
	put_be32(size, (uint32_t)len);
	int rc = kn__conn_send_copy(c, size, 4);
	return rc ? rc : kn__conn_send_copy(c, f, len);
}

/* Keep the frame, then echo it. Bytes outside the input buffer, and a
 * buffer over the size limit, are refused. */
static int take(sconn *sc, kn__conn *c, const uint8_t *f, size_t len)
{
	ck_assert_ptr_null(kn__conn_take_input(c, pattern, SIZE_MAX));
	ck_assert_ptr_null(kn__conn_take_input(c, f, len + 3));
	kn__block *b = kn__conn_take_input(c, f, SIZE_MAX);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_ge(kn__block_size(b), len + 4);
	sc->held = realloc(sc->held, (sc->nheld + 1) * sizeof *sc->held);
	ck_assert_ptr_nonnull(sc->held);
	/* The holder may write to what it keeps. */
	sc->held[sc->nheld++] = (held){b, (uint8_t *)(uintptr_t)f, len};
	int rc = echo(c, f, len);
	if (len)
		sc->held[sc->nheld - 1].f[0] ^= 0xff;
	return rc;
}

static void on_frame(kn__conn *c, const uint8_t *f, size_t len)
{
	sconn *sc = kn__conn_userdata(c);
	uint8_t size[4];
	int rc = 0;
	record(sc, f, len);
	switch (sc->mode) {
	case MODE_ECHO:
		put_be32(size, (uint32_t)len);
		rc = kn__conn_send_copy(c, size, 4);
		if (!rc)
			rc = kn__conn_send_copy(c, f, len);
		break;
	case MODE_BIG:
		rc = send_big(c);
		break;
	case MODE_CLOSE_AFTER:
		kn__conn_close_after(c, 10);
		rc = kn__conn_send_copy(c, pattern, 100);
		break;
	case MODE_PAUSE:
		kn__conn_pause(c);
		break;
	case MODE_TAKE:
		rc = take(sc, c, f, len);
		break;
	}
	if (rc) {
		if (rc == -ENOMEM)
			S.nomem++;
		kn__conn_close(c, rc, "could not queue the answer");
	}
}

static void on_close(kn__conn *c, int err, const char *reason)
{
	sconn *sc = kn__conn_userdata(c);
	ck_assert_ptr_eq(sc->c, c);
	ck_assert(!sc->closed);
	sc->closed = 1;
	sc->err = err;
	snprintf(sc->reason, sizeof sc->reason, "%s", reason);
	sc->c = NULL;
	S.nclosed++;
	if (err == -ENOMEM)
		S.nomem++;
}

static void on_accept(kn__listener *ls, int fd, void *arg)
{
	(void)ls;
	(void)arg;
	if (S.sndbuf)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &S.sndbuf, sizeof S.sndbuf);
	ck_assert_int_lt(S.naccepted, MAX_CONNS);
	sconn *sc = calloc(1, sizeof *sc);
	ck_assert_ptr_nonnull(sc);
	sc->mode = S.mode;
	static const kn__conn_handler h = {on_frame, on_close};
	int rc = kn__conn_new(&sc->c, S.loop, fd, &h, &S.opts, sc);
	if (rc) {
		ck_assert_int_eq(rc, -ENOMEM);
		S.nomem++;
		S.naccept_failed++;
		close(fd);
		free(sc);
		return;
	}
	S.conns[S.naccepted++] = sc;
}

static void capture_log(void *opaque, const char *line)
{
	(void)opaque;
	S.nlogs++;
	snprintf(S.log, sizeof S.log, "%s", line);
}

/* Start loop + listener; returns 0 or the first error (for the
 * allocation-failure walk, which expects -ENOMEM). */
static int srv_start(void)
{
	int rc = kn__loop_new(&S.loop);
	if (rc)
		return rc;
	kn__loop_set_log(S.loop, capture_log, NULL);
	rc = kn__listener_new(&S.ls, S.loop, NULL, 0, on_accept, NULL);
	if (rc)
		return rc;
	rc = kn__listener_open(S.ls);
	if (rc)
		return rc;
	S.port = kn__listener_port(S.ls);
	ck_assert_uint_ne(S.port, 0);
	return 0;
}

static void srv_stop(void)
{
	for (int i = 0; i < S.naccepted; i++) {
		if (S.conns[i]->c)
			kn__conn_close(S.conns[i]->c, 0, "test over");
		/* Kept frames outlive their connection. */
		for (size_t j = 0; j < S.conns[i]->nheld; j++)
			kn__block_unref(S.conns[i]->held[j].b);
		free(S.conns[i]->held);
		free(S.conns[i]->rx);
		free(S.conns[i]);
	}
	kn__listener_destroy(S.ls);
	kn__loop_destroy(S.loop);
	memset(&S, 0, sizeof S);
}

static void setup(void)
{
	memset(&S, 0, sizeof S);
	if (!pattern) {
		pattern = malloc(4u << 20);
		for (size_t i = 0; i < 4u << 20; i++)
			pattern[i] = pattern_at(i);
	}
	ck_assert_int_eq(srv_start(), 0);
}

static void teardown(void)
{
	srv_stop();
}

/* ---- client ------------------------------------------------------------- */

static int cli_connect_buf(int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(S.port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	/* Blocking connect: the kernel completes the handshake on its own;
	 * the loop accepts later. */
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static int cli_connect(void)
{
	return cli_connect_buf(0);
}

/* Connect and wait until the server has accepted it. */
static int cli_accepted(sconn **out)
{
	int idx = S.naccepted;
	int fd = cli_connect();
	SPIN_UNTIL(S.naccepted > idx);
	*out = S.conns[idx];
	return fd;
}

/* Send n bytes, turning the loop while the socket is full. Returns 0, or
 * -1 when the server closed the connection. */
static int cli_try_write(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t dl = kn__now_ms() + SPIN_MS;
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w > 0) {
			b += w;
			n -= (size_t)w;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			return -1;
		ck_assert_msg(errno == EAGAIN, "client send: %s",
			      strerror(errno));
		ck_assert_msg(kn__now_ms() < dl, "client send timed out");
		ck_assert_int_eq(kn__loop_run_once(S.loop, 5), 0);
	}
	return 0;
}

static void cli_write(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(cli_try_write(fd, p, n), 0);
}

/* Read n bytes, turning the loop meanwhile; stops early at EOF or reset
 * and returns the count read. */
static size_t cli_read(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;
	uint64_t dl = kn__now_ms() + SPIN_MS;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0 || errno == ECONNRESET)
			break;
		ck_assert_msg(errno == EAGAIN, "client read: %s",
			      strerror(errno));
		ck_assert_msg(kn__now_ms() < dl, "client read timed out");
		ck_assert_int_eq(kn__loop_run_once(S.loop, 5), 0);
	}
	return got;
}

/* Wait for EOF or reset with no more data. */
static void cli_expect_eof(int fd)
{
	uint8_t b;
	ck_assert_uint_eq(cli_read(fd, &b, 1), 0);
}

/* Frames of the given Sizes, payload byte j of frame i = i * 31 + j. */
static size_t build_stream(uint8_t *out, const uint32_t *sizes, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		put_be32(out + len, sizes[i]);
		len += 4;
		for (uint32_t j = 0; j < sizes[i]; j++)
			out[len++] = (uint8_t)(i * 31 + j);
	}
	return len;
}

/* ---- framing ------------------------------------------------------------ */

START_TEST(test_split_at_every_byte_boundary)
{
	static const uint32_t sizes[] = {0, 1, 7, 300, 5};
	uint8_t stream[512], back[512];
	size_t n = build_stream(stream, sizes, 5);
	for (size_t s = 1; s < n; s++) {
		sconn *sc;
		int fd = cli_accepted(&sc);
		cli_write(fd, stream, s);
		/* Frames wholly inside the first part, and their bytes. */
		size_t whole = 0, used = 0;
		while (whole < 5 && used + 4 + sizes[whole] <= s)
			used += 4 + sizes[whole++];
		SPIN_UNTIL(sc->nframes == whole &&
			   kn__conn_in_buffered(sc->c) == s - used);
		ck_assert_uint_eq(sc->rx_len, used);
		cli_write(fd, stream + s, n - s);
		SPIN_UNTIL(sc->nframes == 5);
		ck_assert_uint_eq(sc->rx_len, n);
		ck_assert_mem_eq(sc->rx, stream, n);
		ck_assert_uint_eq(cli_read(fd, back, n), n);
		ck_assert_mem_eq(back, stream, n);
		close(fd);
		SPIN_UNTIL(sc->closed);
		ck_assert_int_eq(sc->err, 0);
		ck_assert_str_eq(sc->reason, "peer closed the connection");
	}
	ck_assert_int_eq(S.nlogs, 0); /* orderly closes are not logged */
}
END_TEST

START_TEST(test_one_byte_at_a_time)
{
	/* 17000: more than one read chunk, so the buffer grows mid-frame. */
	static const uint32_t sizes[] = {3, 0, 0, 17000, 2, 3000};
	size_t cap = 20100;
	uint8_t *stream = malloc(cap), *back = malloc(cap);
	size_t n = build_stream(stream, sizes, 6);
	sconn *sc;
	int fd = cli_accepted(&sc);
	for (size_t i = 0; i < n; i++) {
		cli_write(fd, stream + i, 1);
		/* Each byte is read on its own before the next is sent. */
		SPIN_UNTIL(sc->rx_len + kn__conn_in_buffered(sc->c) == i + 1);
	}
	ck_assert_uint_eq(sc->nframes, 6);
	ck_assert_mem_eq(sc->rx, stream, n);
	ck_assert_uint_eq(cli_read(fd, back, n), n);
	ck_assert_mem_eq(back, stream, n);
	close(fd);
	free(stream);
	free(back);
}
END_TEST

START_TEST(test_pipelined_frames_in_order)
{
	enum { NF = 2000 };
	uint32_t sizes[NF];
	size_t total = 0;
	for (int i = 0; i < NF; i++) {
		sizes[i] = (uint32_t)((i * 37) % 1000);
		if (i == 500)
			sizes[i] = 1u << 20; /* larger than any read chunk */
		total += 4 + sizes[i];
	}
	uint8_t *stream = malloc(total), *back = malloc(total);
	ck_assert_uint_eq(build_stream(stream, sizes, NF), total);
	sconn *sc;
	int fd = cli_accepted(&sc);
	/* One write; the client reads nothing until everything is sent, so
	 * the echoes queue up on the server side. */
	cli_write(fd, stream, total);
	SPIN_UNTIL(sc->nframes == NF);
	ck_assert_mem_eq(sc->rx, stream, total);
	ck_assert_uint_eq(cli_read(fd, back, total), total);
	ck_assert_mem_eq(back, stream, total);
	SPIN_UNTIL(kn__conn_out_pending(sc->c) == 0);
	ck_assert_int_eq(kn__loop_fd_events(S.loop, kn__conn_fd(sc->c)),
			 (int)KN__IO_READ);
	close(fd);
	free(stream);
	free(back);
}
END_TEST

/* Frames larger than a read chunk that arrived together are read,
 * dispatched and answered within one loop iteration, with one write: the
 * reads go on while they fill the buffer (a read sized to one frame stops
 * at its end). */
START_TEST(test_frames_arrived_together_answered_at_once)
{
	static const uint32_t sizes[] = {16400, 16400, 16400};
	enum { TOTAL = 3 * (4 + 16400) };
	uint8_t *stream = malloc(TOTAL), *back = malloc(TOTAL);
	ck_assert_uint_eq(build_stream(stream, sizes, 3), TOTAL);
	sconn *sc;
	int fd = cli_accepted(&sc);
	/* Over loopback the bytes are queued at the server when send
	 * returns; nothing has been read yet. */
	ck_assert_int_eq(send(fd, stream, TOTAL, MSG_NOSIGNAL), TOTAL);
	ck_assert_uint_eq(sc->nframes, 0);
	ck_assert_int_eq(kn__loop_run_once(S.loop, SPIN_MS), 0);
	ck_assert_uint_eq(sc->nframes, 3);
	ck_assert_uint_eq(kn__conn_in_buffered(sc->c), 0);
	ck_assert_uint_eq(kn__conn_out_pending(sc->c), 0);
	/* Every echo is at the client already: read without turning the
	 * loop. */
	size_t got = 0;
	ssize_t r;
	while (got < TOTAL && (r = read(fd, back + got, TOTAL - got)) > 0)
		got += (size_t)r;
	ck_assert_uint_eq(got, TOTAL);
	ck_assert_mem_eq(back, stream, TOTAL);
	close(fd);
	free(stream);
	free(back);
}
END_TEST

/* Kept frames: the connection never writes to a kept buffer again, so
 * every kept frame still holds its bytes (less the one byte the holder
 * flipped) after later reads, including a frame split across reads and
 * one larger than a read chunk; frames sharing a read share a block. */
START_TEST(test_take_input_keeps_frames)
{
	static const uint32_t sizes[] = {5, 0, 300, 70000, 9, 16000, 3, 1};
	enum { NF = sizeof sizes / sizeof sizes[0] };
	size_t cap = 100000;
	uint8_t *stream = malloc(cap), *back = malloc(cap);
	size_t n = build_stream(stream, sizes, NF);
	S.mode = MODE_TAKE;
	for (size_t split = 1; split < n; split += 7919) {
		sconn *sc;
		int fd = cli_accepted(&sc);
		cli_write(fd, stream, split);
		SPIN_UNTIL(sc->rx_len + kn__conn_in_buffered(sc->c) == split);
		cli_write(fd, stream + split, n - split);
		SPIN_UNTIL(sc->nframes == NF);
		ck_assert_uint_eq(cli_read(fd, back, n), n);
		ck_assert_mem_eq(back, stream, n);
		ck_assert_uint_eq(sc->nheld, NF);
		size_t off = 0;
		int shared = 0;
		for (size_t i = 0; i < NF; i++) {
			held *h = &sc->held[i];
			ck_assert_uint_eq(h->len, sizes[i]);
			if (h->len)
				h->f[0] ^= 0xff;
			ck_assert_mem_eq(h->f, stream + off + 4, h->len);
			off += 4 + h->len;
			shared += i && h->b == sc->held[i - 1].b;
		}
		/* the small frames at the start arrive in one read */
		if (split > 320)
			ck_assert_int_gt(shared, 0);
		close(fd);
		SPIN_UNTIL(sc->closed);
		ck_assert_int_eq(sc->err, 0);
	}
	free(stream);
	free(back);
}
END_TEST

START_TEST(test_bad_sizes_close_only_that_connection)
{
	S.opts.max_frame = 1024;
	sconn *over, *neg, *min, *good;
	int fo = cli_accepted(&over);
	int fn = cli_accepted(&neg);
	int fm = cli_accepted(&min);
	int fg = cli_accepted(&good);
	uint8_t hdr[4];
	/* Only the 4 Size bytes: the close must not wait for a body. */
	put_be32(hdr, 1025);
	cli_write(fo, hdr, 4);
	put_be32(hdr, 0xffffffffu);
	cli_write(fn, hdr, 4);
	put_be32(hdr, 0x80000000u);
	cli_write(fm, hdr, 4);
	SPIN_UNTIL(over->closed && neg->closed && min->closed);
	ck_assert_int_eq(over->err, -EMSGSIZE);
	ck_assert_str_eq(over->reason, "frame Size 1025 exceeds the maximum 1024");
	ck_assert_int_eq(neg->err, -EPROTO);
	ck_assert_str_eq(neg->reason, "frame Size -1 is negative");
	ck_assert_int_eq(min->err, -EPROTO);
	ck_assert_str_eq(min->reason, "frame Size -2147483648 is negative");
	ck_assert_uint_eq(over->nframes + neg->nframes + min->nframes, 0);
	cli_expect_eof(fo);
	cli_expect_eof(fn);
	cli_expect_eof(fm);
	/* Logged with the peer address. */
	ck_assert_int_eq(S.nlogs, 3);
	ck_assert_ptr_nonnull(strstr(S.log, "conn 127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(S.log, ": closed: frame Size "));

	/* The others are still served; exactly the maximum is accepted. */
	static const uint32_t sizes[] = {1024, 0};
	uint8_t stream[1100], back[1100];
	size_t n = build_stream(stream, sizes, 2);
	cli_write(fg, stream, n);
	ck_assert_uint_eq(cli_read(fg, back, n), n);
	ck_assert_mem_eq(back, stream, n);
	ck_assert(!good->closed);
	close(fo);
	close(fn);
	close(fm);
	close(fg);
}
END_TEST

/* ---- output ------------------------------------------------------------- */

START_TEST(test_slow_reader_output_buffered_then_flushed)
{
	S.mode = MODE_BIG;
	S.big_len = 4u << 20;
	S.sndbuf = 4096;
	int idx = S.naccepted;
	int fd = cli_connect_buf(4096);
	SPIN_UNTIL(S.naccepted > idx);
	sconn *sc = S.conns[idx];
	uint8_t req[4] = {0};
	cli_write(fd, req, 4);
	SPIN_UNTIL(sc->nframes == 1 && kn__conn_out_pending(sc->c) > 0 &&
		   kn__conn_out_pending(sc->c) < S.big_len);
	/* Partly written, the rest waits for EPOLLOUT and stays put while
	 * the peer does not read. */
	spin_for(50);
	size_t pending = kn__conn_out_pending(sc->c);
	ck_assert_uint_gt(pending, 0);
	ck_assert_uint_lt(pending, S.big_len);
	ck_assert_int_eq(kn__loop_fd_events(S.loop, kn__conn_fd(sc->c)),
			 (int)(KN__IO_READ | KN__IO_WRITE));
	spin_for(30);
	ck_assert_uint_eq(kn__conn_out_pending(sc->c), pending);
	ck_assert_int_eq(S.releases, 0);

	/* Other connections are served meanwhile. */
	S.mode = MODE_ECHO;
	sconn *other;
	int fo = cli_accepted(&other);
	uint8_t small[6] = {0, 0, 0, 2, 'h', 'i'}, back[6];
	cli_write(fo, small, 6);
	ck_assert_uint_eq(cli_read(fo, back, 6), 6);
	ck_assert_mem_eq(back, small, 6);

	uint8_t *got = malloc(S.big_len);
	ck_assert_uint_eq(cli_read(fd, got, S.big_len), S.big_len);
	ck_assert_mem_eq(got, pattern, S.big_len);
	free(got);
	SPIN_UNTIL(kn__conn_out_pending(sc->c) == 0 && S.releases == 1);
	SPIN_UNTIL(kn__loop_fd_events(S.loop, kn__conn_fd(sc->c)) ==
		   (int)KN__IO_READ);
	spin_for(20);
	ck_assert_int_eq(S.releases, 1);
	close(fd);
	close(fo);
}
END_TEST

START_TEST(test_high_water_stops_reading)
{
	S.mode = MODE_BIG;
	S.big_len = 1u << 20;
	S.sndbuf = 4096;
	S.opts.out_high_water = 65536;
	int idx = S.naccepted;
	int fd = cli_connect_buf(4096);
	SPIN_UNTIL(S.naccepted > idx);
	sconn *sc = S.conns[idx];
	uint8_t reqs[12] = {0};
	cli_write(fd, reqs, sizeof reqs); /* three empty frames at once */
	SPIN_UNTIL(sc->nframes == 1 &&
		   kn__conn_out_pending(sc->c) < S.big_len);
	spin_for(50);
	/* The answer to the first is stuck above the mark: the other two
	 * wait, read or not, and reading is off. */
	ck_assert_uint_eq(sc->nframes, 1);
	ck_assert_uint_gt(kn__conn_out_pending(sc->c), 65536);
	ck_assert_int_eq(kn__loop_fd_events(S.loop, kn__conn_fd(sc->c)),
			 (int)KN__IO_WRITE);
	size_t total = 3 * S.big_len;
	uint8_t *got = malloc(total);
	ck_assert_uint_eq(cli_read(fd, got, total), total);
	for (int i = 0; i < 3; i++)
		ck_assert_mem_eq(got + (size_t)i * S.big_len, pattern, S.big_len);
	ck_assert_uint_eq(sc->nframes, 3);
	SPIN_UNTIL(S.releases == 3);
	free(got);
	close(fd);
}
END_TEST

static void log_release(void *ctx)
{
	S.rel_log[S.nrel++] = (int)(intptr_t)ctx;
}

START_TEST(test_send_variants_keep_order)
{
	sconn *sc;
	int fd = cli_accepted(&sc);
	static const char ab[] = "ab", cd[] = "cd", ef[] = "ef";
	struct iovec iov[3] = {{(void *)cd, 2}, {(void *)ef, 0}, {(void *)ef, 2}};
	ck_assert_int_eq(kn__conn_send(sc->c, ab, 2, log_release, (void *)1), 0);
	ck_assert_int_eq(kn__conn_sendv(sc->c, iov, 3, log_release, (void *)2),
			 0);
	ck_assert_int_eq(kn__conn_send_copy(sc->c, "gh", 2), 0);
	ck_assert_int_eq(kn__conn_send(sc->c, NULL, 0, log_release, (void *)3),
			 0);
	ck_assert_int_eq(kn__conn_sendv(sc->c, NULL, 0, log_release, (void *)4),
			 0);
	ck_assert_int_eq(kn__conn_send_copy(sc->c, "ij", 2), 0);
	ck_assert_int_eq(kn__conn_sendv(sc->c, iov, -1, log_release, NULL),
			 -EINVAL);
	ck_assert_uint_eq(kn__conn_out_pending(sc->c), 10);
	/* Nothing is written inside the calls. */
	ck_assert_int_eq(S.nrel, 0);
	uint8_t back[10];
	ck_assert_uint_eq(cli_read(fd, back, 10), 10);
	ck_assert_mem_eq(back, "abcdefghij", 10);
	SPIN_UNTIL(S.nrel == 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(S.rel_log[i], i + 1);
	close(fd);
}
END_TEST

START_TEST(test_close_releases_pending_output)
{
	S.mode = MODE_BIG;
	S.big_len = 4u << 20;
	S.sndbuf = 4096;
	int idx = S.naccepted;
	int fd = cli_connect_buf(4096);
	SPIN_UNTIL(S.naccepted > idx);
	sconn *sc = S.conns[idx];
	uint8_t req[4] = {0};
	cli_write(fd, req, 4);
	SPIN_UNTIL(sc->nframes == 1 && kn__conn_out_pending(sc->c) > 0);
	ck_assert_int_eq(S.releases, 0);
	kn__conn_close(sc->c, 0, "dropped by test");
	ck_assert_int_eq(S.releases, 1);
	ck_assert(sc->closed);
	ck_assert_str_eq(sc->reason, "dropped by test");
	ck_assert_int_eq(S.nlogs, 0);
	close(fd);
}
END_TEST

/* ---- faults ------------------------------------------------------------- */

START_TEST(test_pause_and_resume)
{
	sconn *sc;
	int fd = cli_accepted(&sc);
	kn__conn_pause(sc->c);
	kn__conn_pause(sc->c);
	ck_assert(kn__conn_paused(sc->c));
	static const uint32_t sizes[] = {4, 5};
	uint8_t stream[32], back[32];
	size_t n = build_stream(stream, sizes, 2);
	cli_write(fd, stream, n);
	spin_for(50);
	/* Not even read: the bytes wait in the kernel. */
	ck_assert_uint_eq(sc->nframes, 0);
	ck_assert_uint_eq(kn__conn_in_buffered(sc->c), 0);
	ck_assert_int_eq(kn__loop_fd_events(S.loop, kn__conn_fd(sc->c)), 0);
	kn__conn_resume(sc->c);
	ck_assert(!kn__conn_paused(sc->c));
	SPIN_UNTIL(sc->nframes == 2);
	ck_assert_uint_eq(cli_read(fd, back, n), n);
	ck_assert_mem_eq(back, stream, n);
	close(fd);
}
END_TEST

START_TEST(test_pause_from_frame_holds_buffered_frames)
{
	S.mode = MODE_PAUSE;
	sconn *sc;
	int fd = cli_accepted(&sc);
	static const uint32_t sizes[] = {1, 2, 3};
	uint8_t stream[32];
	size_t n = build_stream(stream, sizes, 3);
	cli_write(fd, stream, n);
	SPIN_UNTIL(sc->nframes == 1);
	spin_for(30);
	ck_assert_uint_eq(sc->nframes, 1);
	ck_assert_uint_eq(kn__conn_in_buffered(sc->c), n - 5);
	/* Resuming dispatches from the buffer: no new socket data. */
	kn__conn_resume(sc->c);
	SPIN_UNTIL(sc->nframes == 2);
	kn__conn_resume(sc->c);
	SPIN_UNTIL(sc->nframes == 3);
	ck_assert_mem_eq(sc->rx, stream, n);
	close(fd);
}
END_TEST

START_TEST(test_close_after_n_bytes_from_frame)
{
	S.mode = MODE_CLOSE_AFTER;
	sconn *sc;
	int fd = cli_accepted(&sc);
	uint8_t req[4] = {0}, back[100];
	cli_write(fd, req, 4);
	ck_assert_uint_eq(cli_read(fd, back, 100), 10);
	ck_assert_mem_eq(back, pattern, 10);
	SPIN_UNTIL(sc->closed);
	ck_assert_int_eq(sc->err, 0);
	ck_assert_str_eq(sc->reason, "fault: closed after 10 bytes written");
	close(fd);
}
END_TEST

START_TEST(test_close_after_spans_sends)
{
	sconn *sc;
	int fd = cli_accepted(&sc);
	uint8_t back[200];
	kn__conn_close_after(sc->c, 150);
	ck_assert_int_eq(kn__conn_send_copy(sc->c, pattern, 100), 0);
	ck_assert_uint_eq(cli_read(fd, back, 100), 100);
	spin_for(20);
	ck_assert(!sc->closed); /* 50 bytes of budget left */
	ck_assert_int_eq(kn__conn_send(sc->c, pattern + 100, 100, NULL, NULL),
			 0);
	ck_assert_uint_eq(cli_read(fd, back + 100, 100), 50);
	ck_assert_mem_eq(back, pattern, 150);
	SPIN_UNTIL(sc->closed);
	ck_assert_str_eq(sc->reason, "fault: closed after 150 bytes written");
	close(fd);

	/* 0: close in the next iteration, nothing written. */
	fd = cli_accepted(&sc);
	kn__conn_close_after(sc->c, 0);
	ck_assert(!sc->closed);
	SPIN_UNTIL(sc->closed);
	cli_expect_eof(fd);
	close(fd);
}
END_TEST

START_TEST(test_peer_reset)
{
	struct linger lg = {1, 0}; /* close() sends RST */
	sconn *sc;
	int fd = cli_accepted(&sc);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg),
			 0);
	close(fd);
	SPIN_UNTIL(sc->closed);
	ck_assert_int_eq(sc->err, -ECONNRESET);
	ck_assert_ptr_nonnull(strstr(sc->reason, "read: "));

	/* Paused (nothing reads): the error is still noticed. */
	fd = cli_accepted(&sc);
	kn__conn_pause(sc->c);
	SPIN_UNTIL(kn__loop_fd_events(S.loop, kn__conn_fd(sc->c)) == 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg),
			 0);
	close(fd);
	SPIN_UNTIL(sc->closed);
	ck_assert_int_eq(sc->err, -ECONNRESET);
	ck_assert_ptr_nonnull(strstr(sc->reason, "socket error: "));
	ck_assert_int_eq(S.nlogs, 2);
}
END_TEST

START_TEST(test_conn_new_errors)
{
	static const kn__conn_handler none = {NULL, NULL};
	static const kn__conn_handler h = {on_frame, NULL};
	kn__conn *c = NULL;
	ck_assert_int_eq(kn__conn_new(&c, S.loop, -1, &h, NULL, NULL), -EINVAL);
	ck_assert_int_eq(kn__conn_new(&c, S.loop, 0, &none, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(kn__conn_new(&c, S.loop, 12345, &h, NULL, NULL),
			 -EBADF);
	ck_assert_ptr_null(c);
	/* A socket pair works too (no TCP_NODELAY, peer unknown). */
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(kn__conn_new(&c, S.loop, sv[0], &h, NULL, NULL), 0);
	ck_assert_str_eq(kn__conn_peer(c), "?");
	ck_assert_int_eq(fcntl(sv[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	kn__conn_close(c, 0, NULL);
	ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1); /* closed with it */
	close(sv[1]);
}
END_TEST

/* ---- listener ----------------------------------------------------------- */

static int connect_port(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int rc = connect(fd, (struct sockaddr *)&a, sizeof a) ? -errno : 0;
	close(fd);
	return rc;
}

START_TEST(test_listener_down_up_same_port)
{
	sconn *sc;
	int fd = cli_accepted(&sc);
	uint16_t port = kn__listener_port(S.ls);
	ck_assert(kn__listener_is_open(S.ls));
	ck_assert_int_eq(kn__listener_open(S.ls), 0); /* already open */
	kn__listener_close(S.ls);
	kn__listener_close(S.ls);
	ck_assert(!kn__listener_is_open(S.ls));
	ck_assert_int_eq(connect_port(port), -ECONNREFUSED);
	/* The accepted connection survives the listener going down. */
	uint8_t f[5] = {0, 0, 0, 1, 'z'}, back[5];
	cli_write(fd, f, 5);
	ck_assert_uint_eq(cli_read(fd, back, 5), 5);
	ck_assert_mem_eq(back, f, 5);
	ck_assert_int_eq(kn__listener_open(S.ls), 0);
	ck_assert_uint_eq(kn__listener_port(S.ls), port);
	sconn *sc2;
	int fd2 = cli_accepted(&sc2);
	cli_write(fd2, f, 5);
	ck_assert_uint_eq(cli_read(fd2, back, 5), 5);
	close(fd);
	close(fd2);
}
END_TEST

START_TEST(test_listener_fixed_port_and_errors)
{
	kn__listener *ls = NULL;
	ck_assert_int_eq(kn__listener_new(&ls, S.loop, "localhost", 0, on_accept,
					  NULL),
			 -EINVAL);
	ck_assert_ptr_null(ls);
	/* The port is taken by S.ls. */
	ck_assert_int_eq(kn__listener_new(&ls, S.loop, "127.0.0.1", S.port,
					  on_accept, NULL),
			 0);
	ck_assert_uint_eq(kn__listener_port(ls), S.port);
	ck_assert_int_eq(kn__listener_open(ls), -EADDRINUSE);
	ck_assert(!kn__listener_is_open(ls));
	/* Freed by S.ls's departure, the fixed port opens. */
	uint16_t port = S.port;
	kn__listener_destroy(S.ls);
	S.ls = NULL;
	ck_assert_int_eq(kn__listener_open(ls), 0);
	ck_assert_uint_eq(kn__listener_port(ls), port);
	ck_assert_int_eq(connect_port(port), 0);
	SPIN_UNTIL(S.naccepted == 1);
	kn__listener_destroy(ls);
	kn__listener_destroy(NULL);
}
END_TEST

static int destroyed_in_accept;

static void accept_and_destroy(kn__listener *ls, int fd, void *arg)
{
	(void)arg;
	close(fd);
	destroyed_in_accept++;
	kn__listener_destroy(ls);
}

START_TEST(test_listener_destroyed_from_accept)
{
	kn__listener *ls;
	ck_assert_int_eq(kn__listener_new(&ls, S.loop, NULL, 0,
					  accept_and_destroy, NULL),
			 0);
	ck_assert_int_eq(kn__listener_open(ls), 0);
	uint16_t port = kn__listener_port(ls);
	/* Two in the backlog: the second must not reach a freed listener. */
	ck_assert_int_eq(connect_port(port), 0);
	ck_assert_int_eq(connect_port(port), 0);
	SPIN_UNTIL(destroyed_in_accept == 1);
	spin_for(20);
	ck_assert_int_eq(destroyed_in_accept, 1);
	ck_assert_int_eq(connect_port(port), -ECONNREFUSED);
}
END_TEST

START_TEST(test_listener_out_of_fds_backs_off)
{
	int fd = cli_connect(); /* waits in the backlog */
	struct rlimit rl, low;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = 3; /* 0-2 are taken: accept gets EMFILE */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	spin_for(60);
	/* Logged once, then quiet until the 100 ms retry: no spinning. */
	ck_assert_int_eq(S.naccepted, 0);
	ck_assert_int_eq(S.nlogs, 1);
	ck_assert_ptr_nonnull(strstr(S.log, "accept: Too many open files"));
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	SPIN_UNTIL(S.naccepted == 1);
	ck_assert_int_le(S.nlogs, 2);
	uint8_t f[5] = {0, 0, 0, 1, 'q'}, back[5];
	cli_write(fd, f, 5);
	ck_assert_uint_eq(cli_read(fd, back, 5), 5);
	ck_assert_mem_eq(back, f, 5);
	close(fd);
}
END_TEST

/* ---- scale -------------------------------------------------------------- */

static size_t total_frames(void)
{
	size_t n = 0;
	for (int i = 0; i < S.naccepted; i++)
		n += S.conns[i]->nframes;
	return n;
}

START_TEST(test_thousand_connections)
{
	enum { N = 1000 };
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 2 * N + 64) {
		ck_assert_msg(rl.rlim_max >= 2 * N + 64,
			      "RLIMIT_NOFILE hard limit %lu too low",
			      (unsigned long)rl.rlim_max);
		rl.rlim_cur = 2 * N + 64;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	static int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = cli_connect();
		if (i % 64 == 63)
			ck_assert_int_eq(kn__loop_run_once(S.loop, 0), 0);
	}
	SPIN_UNTIL(S.naccepted == N);
	for (int i = 0; i < N; i++) {
		uint8_t f[8] = {0, 0, 0, 4};
		put_be32(f + 4, (uint32_t)i);
		cli_write(fds[i], f, 8);
	}
	SPIN_UNTIL(total_frames() == N);
	for (int i = 0; i < N; i++) {
		uint8_t back[8], want[8] = {0, 0, 0, 4};
		put_be32(want + 4, (uint32_t)i);
		ck_assert_uint_eq(cli_read(fds[i], back, 8), 8);
		ck_assert_mem_eq(back, want, 8);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
	SPIN_UNTIL(S.nclosed == N);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(S.conns[i]->err, 0);
}
END_TEST

/* ---- allocation failures ------------------------------------------------ */

/* Serve one client through every allocation failing in turn, echoing
 * (_i = 0) or keeping every frame (_i = 1): each run either completes or
 * ends in a reported -ENOMEM (a constructor's return value, or the
 * connection closed with it), and nothing leaks. */
START_TEST(test_alloc_failures)
{
	static const uint32_t sizes[] = {20000, 3, 9000};
	static uint8_t stream[30000], back[30000];
	size_t n = build_stream(stream, sizes, 3);
	if (!pattern) {
		pattern = malloc(4u << 20);
		for (size_t i = 0; i < 4u << 20; i++)
			pattern[i] = pattern_at(i);
	}
	unsigned long k;
	for (k = 1;; k++) {
		memset(&S, 0, sizeof S);
		S.mode = _i ? MODE_TAKE : MODE_ECHO;
		th_alloc_fail_at(k);
		int rc = srv_start();
		int ok = 0;
		if (rc) {
			ck_assert_int_eq(rc, -ENOMEM);
		} else {
			int fd = cli_connect();
			SPIN_UNTIL(S.naccepted + S.naccept_failed == 1);
			cli_try_write(fd, stream, n);
			size_t got = cli_read(fd, back, n);
			if (got == n) {
				ck_assert_mem_eq(back, stream, n);
				ck_assert_int_eq(S.nomem, 0);
				ok = 1;
			} else {
				/* Partial echo only if the connection died of
				 * it, never silently. */
				ck_assert_int_ge(S.nomem, 1);
				ck_assert_mem_eq(back, stream, got);
			}
			close(fd);
			if (S.naccepted)
				SPIN_UNTIL(S.conns[0]->closed);
		}
		srv_stop();
		ck_assert_int_eq(th_alloc_live(), 0);
		if (ok)
			break;
	}
	unsigned long total = th_alloc_count();
	th_alloc_reset();
	/* A kept buffer is never read into again: reading the client's
	 * close needs a fresh one, after the echo, which may be the failing
	 * allocation of the run that completes. */
	if (_i)
		ck_assert_uint_le(total, k);
	else
		ck_assert_uint_lt(total, k);
	ck_assert_uint_ge(k, 6);
}
END_TEST

static Suite *conn_suite(void)
{
	Suite *s = suite_create("net_conn");
	TCase *tc = tcase_create("framing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_split_at_every_byte_boundary);
	tcase_add_test(tc, test_one_byte_at_a_time);
	tcase_add_test(tc, test_pipelined_frames_in_order);
	tcase_add_test(tc, test_frames_arrived_together_answered_at_once);
	tcase_add_test(tc, test_take_input_keeps_frames);
	tcase_add_test(tc, test_bad_sizes_close_only_that_connection);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_slow_reader_output_buffered_then_flushed);
	tcase_add_test(tc, test_high_water_stops_reading);
	tcase_add_test(tc, test_send_variants_keep_order);
	tcase_add_test(tc, test_close_releases_pending_output);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pause_and_resume);
	tcase_add_test(tc, test_pause_from_frame_holds_buffered_frames);
	tcase_add_test(tc, test_close_after_n_bytes_from_frame);
	tcase_add_test(tc, test_close_after_spans_sends);
	tcase_add_test(tc, test_peer_reset);
	tcase_add_test(tc, test_conn_new_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("listener");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_listener_down_up_same_port);
	tcase_add_test(tc, test_listener_fixed_port_and_errors);
	tcase_add_test(tc, test_listener_destroyed_from_accept);
	tcase_add_test(tc, test_listener_out_of_fds_backs_off);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_thousand_connections);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("alloc");
	tcase_add_loop_test(tc, test_alloc_failures, 0, 2);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conn_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
