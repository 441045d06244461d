/*
 * One client connection: Kafka frame extraction on input, a queue of
 * buffers flushed with gathered writes on output.
 *
 * Every entry from the loop (socket readiness, the deferred flush) runs
 * between enter() and leave(). leave() settles the connection: dispatches
 * buffered frames, flushes output, brings the epoll interest in line, and
 * frees the connection if it was closed meanwhile. API calls made outside
 * such an entry only change state and queue the deferred flush, so no call
 * but kn__conn_close ever frees the connection under its caller.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf_int.h"
#include "conn.h"

/* Read size while no frame header asks for more. */
#define IN_CHUNK ((size_t)16384)
/* An emptied input buffer larger than this is freed, so one big request
 * does not pin memory for the life of the connection. */
#define IN_KEEP ((size_t)65536)
/* Block size for kn__conn_send_copy; small responses share one. */
#define COPY_BLOCK ((size_t)8192)
/* iovec entries per sendmsg. */
#define IOV_BATCH 64
/* Reads per readiness event while each one fills the room offered: enough
 * for the requests a client pipelines (librdkafka keeps up to 5 in flight
 * per connection), bounded so one busy connection cannot hold the loop. */
#define READ_BURST 8

typedef struct out_chunk {
	const uint8_t *base;
	size_t len;
	size_t cap; /* > 0: base is our copy block of cap bytes */
	kn__release_fn release;
	void *ctx;
} out_chunk;

struct kn__conn {
	kn__loop *loop;
	int fd;
	kn__conn_handler h;
	void *ud;
	size_t max_frame;
	size_t out_high_water;
	char peer[64];

	kn__block *in_blk; /* NULL until the first read */
	uint8_t *in;       /* in_blk->data; unconsumed input is
			    * [in_start, in_end) */
	size_t in_cap, in_start, in_end;
	/* in_blk was taken: never write to it again, read on into a fresh
	 * block of in_next_cap bytes (the next frame is likely as big) */
	int in_taken;
	size_t in_next_cap;

	out_chunk *out; /* ring of out_cap (a power of 2) entries */
	size_t out_cap, out_head, out_count;
	size_t out_off;   /* bytes of the head chunk already written */
	size_t out_bytes; /* bytes queued and unwritten */

	uint64_t budget; /* close-after: bytes still allowed */
	uint64_t budget_total;
	int budget_set;

	unsigned interest; /* what the loop watches for us */
	int paused;
	int closed;
	int depth; /* nesting of enter(); free waits for 0 */
	kn__defer flush;
};

static out_chunk *chunk_at(const kn__conn *c, size_t i)
{
	return &c->out[(c->out_head + i) & (c->out_cap - 1)];
}

static void chunk_release(out_chunk *ch)
{
	if (ch->cap)
		kc__free((void *)(uintptr_t)ch->base);
	else if (ch->release)
		ch->release(ch->ctx);
}

static int can_read(const kn__conn *c)
{
	return !c->closed && !c->paused &&
	       !(c->out_high_water && c->out_bytes > c->out_high_water);
}

static void in_set(kn__conn *c, kn__block *b)
{
	c->in_blk = b;
	c->in = b ? b->data : NULL;
	c->in_cap = b ? b->cap : 0;
	c->in_taken = 0;
}

static void conn_free(kn__conn *c)
{
	kn__block_unref(c->in_blk);
	kc__free(c->out);
	kc__free(c);
}

void kn__conn_close(kn__conn *c, int err, const char *reason)
{
	if (c->closed)
		return;
	c->closed = 1;
	if (!reason)
		reason = "closed";
	kn__defer_cancel(c->loop, &c->flush);
	kn__loop_del_fd(c->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	for (size_t i = 0; i < c->out_count; i++)
		chunk_release(chunk_at(c, i));
	c->out_count = 0;
	c->out_bytes = 0;
	if (err)
		kn__loop_logf(c->loop, "conn %s: closed: %s (%s)", c->peer,
			      reason, strerror(-err));
	c->depth++;
	if (c->h.on_close)
		c->h.on_close(c, err, reason);
	c->depth--;
	if (!c->depth)
		conn_free(c);
}

static void close_errno(kn__conn *c, int err, const char *what)
{
	char reason[128];
	snprintf(reason, sizeof reason, "%s: %s", what, strerror(-err));
	kn__conn_close(c, err, reason);
}

/* ---- input -------------------------------------------------------------- */

/* Room to read into: the whole current frame when its Size is known (so a
 * large request is read in place and handed over without a copy), else
 * IN_CHUNK. Moves a partial frame to the front before growing. */
static int in_reserve(kn__conn *c)
{
	size_t avail = c->in_end - c->in_start;
	size_t need = IN_CHUNK;
	if (avail >= 4) {
		size_t frame = 4 + (size_t)kc__get_be32(c->in + c->in_start);
		if (frame > need && frame - 4 <= c->max_frame)
			need = frame;
	}
	if (need <= avail)
		need = avail + IN_CHUNK;
	if (c->in_taken || !c->in_blk) {
		/* A fresh block, with the unconsumed bytes (the start of the
		 * next frames) copied over. */
		size_t cap = need > c->in_next_cap ? need : c->in_next_cap;
		kn__block *b = kn__block_new(cap);
		if (!b)
			return -ENOMEM;
		if (avail)
			memcpy(b->data, c->in + c->in_start, avail);
		kn__block_unref(c->in_blk);
		in_set(c, b);
		c->in_next_cap = 0;
		c->in_start = 0;
		c->in_end = avail;
		return 0;
	}
	if (c->in_cap - c->in_start >= need && c->in_end < c->in_cap)
		return 0;
	if (c->in_start) {
		memmove(c->in, c->in + c->in_start, avail);
		c->in_start = 0;
		c->in_end = avail;
	}
	if (c->in_cap >= need && c->in_end < c->in_cap)
		return 0;
	kn__block *b = kc__realloc(c->in_blk, sizeof *b + need);
	if (!b)
		return -ENOMEM;
	b->cap = need;
	in_set(c, b);
	return 0;
}

/* One read into the room in_reserve makes. Returns 1 when the read filled
 * that room (more may be waiting in the socket), else 0 (the socket is
 * drained for now, or c was closed). */
static int read_some(kn__conn *c)
{
	if (in_reserve(c)) {
		kn__conn_close(c, -ENOMEM, "no memory for the input buffer");
		return 0;
	}
	size_t room = c->in_cap - c->in_end;
	ssize_t n = read(c->fd, c->in + c->in_end, room);
	if (n > 0) {
		c->in_end += (size_t)n;
		return (size_t)n == room;
	}
	if (n == 0)
		kn__conn_close(c, 0, "peer closed the connection");
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		close_errno(c, -errno, "read");
	return 0;
}

/* Hand complete frames to on_frame while reading is allowed. */
static void dispatch(kn__conn *c)
{
	while (can_read(c) && c->in_end - c->in_start >= 4) {
		const uint8_t *p = c->in + c->in_start;
		/* Size: int32 count of the bytes that follow */
		int32_t size = (int32_t)kc__get_be32(p);
		char reason[96];
		if (size < 0) {
			snprintf(reason, sizeof reason,
				 "frame Size %" PRId32 " is negative", size);
			kn__conn_close(c, -EPROTO, reason);
			return;
		}
		if ((size_t)size > c->max_frame) {
			snprintf(reason, sizeof reason,
				 "frame Size %" PRId32 " exceeds the maximum %zu",
				 size, c->max_frame);
			kn__conn_close(c, -EMSGSIZE, reason);
			return;
		}
		if (c->in_end - c->in_start - 4 < (size_t)size)
			break;
		c->in_start += 4 + (size_t)size;
		c->h.on_frame(c, p + 4, (size_t)size);
	}
	if (!c->closed && c->in_start == c->in_end) {
		c->in_start = c->in_end = 0;
		if (c->in_taken || c->in_cap > IN_KEEP) {
			kn__block_unref(c->in_blk);
			in_set(c, NULL);
		}
	}
}

static int frame_ready(const kn__conn *c)
{
	size_t avail = c->in_end - c->in_start;
	return avail >= 4 &&
	       avail - 4 >= (size_t)kc__get_be32(c->in + c->in_start);
}

/* ---- output ------------------------------------------------------------- */

/* Drop n written bytes from the front of the queue. Chunks left empty are
 * released, zero-length ones included. */
static void out_consume(kn__conn *c, size_t n)
{
	c->out_bytes -= n;
	while (c->out_count) {
		out_chunk *ch = chunk_at(c, 0);
		size_t left = ch->len - c->out_off;
		if (n < left) {
			c->out_off += n;
			return;
		}
		n -= left;
		out_chunk done = *ch;
		c->out_head = (c->out_head + 1) & (c->out_cap - 1);
		c->out_count--;
		c->out_off = 0;
		chunk_release(&done);
	}
}

static int budget_spent(const kn__conn *c)
{
	return c->budget_set && c->budget == 0;
}

/* Write until the queue is empty, the socket is full or the close-after
 * budget is spent. May close c. */
static void flush(kn__conn *c)
{
	while (c->out_count && !budget_spent(c)) {
		struct iovec iov[IOV_BATCH];
		int n = 0;
		size_t total = 0;
		uint64_t limit = c->budget_set ? c->budget : UINT64_MAX;
		for (size_t i = 0; i < c->out_count && n < IOV_BATCH &&
				   total < limit;
		     i++) {
			const out_chunk *ch = chunk_at(c, i);
			size_t skip = i ? 0 : c->out_off;
			size_t len = ch->len - skip;
			if (len > limit - total)
				len = (size_t)(limit - total);
			if (!len)
				continue;
			iov[n].iov_base = (void *)(uintptr_t)(ch->base + skip);
			iov[n].iov_len = len;
			n++;
			total += len;
		}
		if (!total) { /* only zero-length chunks in front */
			out_consume(c, 0);
			continue;
		}
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				close_errno(c, -errno, "write");
			return;
		}
		out_consume(c, (size_t)w);
		if (c->budget_set)
			c->budget -= (uint64_t)w;
		if ((size_t)w < total)
			return; /* socket buffer full: wait for EPOLLOUT */
	}
}

static void update_interest(kn__conn *c)
{
	unsigned want = (can_read(c) ? KN__IO_READ : 0u) |
			(c->out_count ? KN__IO_WRITE : 0u);
	if (want == c->interest)
		return;
	int rc = kn__loop_mod_fd(c->loop, c->fd, want);
	if (rc)
		close_errno(c, rc, "epoll_ctl");
	else
		c->interest = want;
}

/* ---- entries from the loop ---------------------------------------------- */

static void enter(kn__conn *c)
{
	c->depth++;
}

static void settle(kn__conn *c)
{
	char reason[96];
	dispatch(c);
	if (!c->closed)
		flush(c);
	if (!c->closed && budget_spent(c)) {
		snprintf(reason, sizeof reason,
			 "fault: closed after %" PRIu64 " bytes written",
			 c->budget_total);
		kn__conn_close(c, 0, reason);
	}
	if (c->closed)
		return;
	/* A flush that drained below the high-water mark unblocks frames
	 * already buffered; the socket may have nothing new to wake us. */
	if (can_read(c) && frame_ready(c))
		kn__defer_schedule(c->loop, &c->flush);
	update_interest(c);
}

static void leave(kn__conn *c)
{
	if (c->depth == 1 && !c->closed)
		settle(c);
	if (--c->depth == 0 && c->closed)
		conn_free(c);
}

static void on_io(kn__loop *loop, int fd, unsigned events, void *arg)
{
	kn__conn *c = arg;
	(void)loop;
	enter(c);
	if (events & KN__IO_READ) {
		/* A pause or the high-water mark may have been set since the
		 * interest was last updated; it applies at once, and to every
		 * frame of the burst. Reading on while the socket has more
		 * (a read sized to one large frame stops at its end) answers
		 * the requests that arrived together with one write: the
		 * peer then wakes once for all of them, not once per
		 * response, which costs both sides more than the reads. */
		for (int i = 0; i < READ_BURST && can_read(c) && read_some(c);
		     i++)
			dispatch(c);
	} else if (events & KN__IO_ERROR) {
		/* Not reading, so no read will report it: take the socket
		 * error now rather than see it again every iteration. */
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			close_errno(c, -err, "socket error");
		else
			kn__conn_close(c, 0, "peer hung up");
	}
	leave(c);
}

static void on_flush(kn__loop *loop, void *arg)
{
	kn__conn *c = arg;
	(void)loop;
	enter(c);
	leave(c);
}

/* Apply a state change made outside our own callbacks: leave() of the
 * running entry does it otherwise. */
static void kick(kn__conn *c)
{
	if (!c->depth)
		kn__defer_schedule(c->loop, &c->flush);
}

/* ---- API ---------------------------------------------------------------- */

static void format_peer(kn__conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN];
	snprintf(c->peer, sizeof c->peer, "?");
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
		snprintf(c->peer, sizeof c->peer, "%s:%u", host,
			 (unsigned)ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
		snprintf(c->peer, sizeof c->peer, "[%s]:%u", host,
			 (unsigned)ntohs(a->sin6_port));
	}
}

int kn__conn_new(kn__conn **out, kn__loop *loop, int fd,
		 const kn__conn_handler *h, const kn__conn_opts *opts,
		 void *ud)
{
	if (fd < 0 || !h || !h->on_frame)
		return -EINVAL;
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 ||
	    (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0))
		return -errno;
	/* Responses are written whole; Nagle would only delay them. Fails
	 * harmlessly on non-TCP sockets. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	kn__conn *c = kc__malloc(sizeof *c);
	if (!c)
		return -ENOMEM;
	*c = (kn__conn){.loop = loop, .fd = fd, .h = *h, .ud = ud,
			.max_frame = KN__DEFAULT_MAX_FRAME,
			.interest = KN__IO_READ};
	if (opts && opts->max_frame)
		c->max_frame = opts->max_frame;
	if (opts)
		c->out_high_water = opts->out_high_water;
	kn__defer_init(&c->flush, on_flush, c);
	format_peer(c);
	int rc = kn__loop_add_fd(loop, fd, KN__IO_READ, on_io, c);
	if (rc) {
		kc__free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* Room for n more chunks in the ring. */
static int out_reserve(kn__conn *c, size_t n)
{
	if (c->out_count + n <= c->out_cap)
		return 0;
	size_t cap = c->out_cap ? c->out_cap : 8;
	while (cap < c->out_count + n)
		cap *= 2;
	out_chunk *ring = kc__malloc(cap * sizeof *ring);
	if (!ring)
		return -ENOMEM;
	for (size_t i = 0; i < c->out_count; i++)
		ring[i] = *chunk_at(c, i);
	kc__free(c->out);
	c->out = ring;
	c->out_cap = cap;
	c->out_head = 0;
	return 0;
}

static void out_push(kn__conn *c, out_chunk ch)
{
	*chunk_at(c, c->out_count++) = ch;
	c->out_bytes += ch.len;
}

int kn__conn_sendv(kn__conn *c, const struct iovec *iov, int iovcnt,
		   kn__release_fn release, void *ctx)
{
	if (c->closed)
		return -EPIPE;
	if (iovcnt < 0)
		return -EINVAL;
	/* An empty send still queues one entry so release runs in order. */
	size_t n = iovcnt ? (size_t)iovcnt : 1;
	if (out_reserve(c, n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		out_chunk ch = {0};
		if (iovcnt) {
			ch.base = iov[i].iov_base;
			ch.len = iov[i].iov_len;
		}
		if (i == n - 1) {
			ch.release = release;
			ch.ctx = ctx;
		}
		out_push(c, ch);
	}
	kick(c);
	return 0;
}

int kn__conn_send(kn__conn *c, const void *data, size_t len,
		  kn__release_fn release, void *ctx)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)data, .iov_len = len};
	return kn__conn_sendv(c, &iov, 1, release, ctx);
}

int kn__conn_send_copy(kn__conn *c, const void *data, size_t len)
{
	if (c->closed)
		return -EPIPE;
	if (c->out_count) {
		out_chunk *tail = chunk_at(c, c->out_count - 1);
		if (tail->cap && tail->cap - tail->len >= len) {
			memcpy((uint8_t *)(uintptr_t)tail->base + tail->len,
			       data, len);
			tail->len += len;
			c->out_bytes += len;
			kick(c);
			return 0;
		}
	}
	if (out_reserve(c, 1))
		return -ENOMEM;
	size_t cap = len > COPY_BLOCK ? len : COPY_BLOCK;
	uint8_t *block = kc__malloc(cap);
	if (!block)
		return -ENOMEM;
	if (len)
		memcpy(block, data, len);
	out_push(c, (out_chunk){.base = block, .len = len, .cap = cap});
	kick(c);
	return 0;
}

void kn__conn_pause(kn__conn *c)
{
	if (c->closed || c->paused)
		return;
	c->paused = 1;
	kick(c);
}

void kn__conn_resume(kn__conn *c)
{
	if (c->closed || !c->paused)
		return;
	c->paused = 0;
	kick(c);
}

kn__block *kn__conn_take_input(kn__conn *c, const uint8_t *frame,
				size_t max_size)
{
	/* Frames dispatched from this buffer lie in its consumed part
	 * (compared as integers: frame may point anywhere). */
	uintptr_t f = (uintptr_t)frame, base = (uintptr_t)c->in;
	if (c->closed || !c->in_blk || f < base + 4 ||
	    f > base + c->in_start || c->in_cap > max_size)
		return NULL;
	kn__block_ref(c->in_blk);
	c->in_taken = 1;
	c->in_next_cap = c->in_cap;
	return c->in_blk;
}

int kn__conn_paused(const kn__conn *c)
{
	return c->paused;
}

int kn__conn_closing(const kn__conn *c)
{
	return c->closed;
}

void kn__conn_close_after(kn__conn *c, uint64_t n)
{
	if (c->closed)
		return;
	c->budget_set = 1;
	c->budget = c->budget_total = n;
	kick(c);
}

size_t kn__conn_out_pending(const kn__conn *c)
{
	return c->out_bytes;
}

size_t kn__conn_in_buffered(const kn__conn *c)
{
	return c->in_end - c->in_start;
}

int kn__conn_fd(const kn__conn *c)
{
	return c->fd;
}

const char *kn__conn_peer(const kn__conn *c)
{
	return c->peer;
}

void *kn__conn_userdata(const kn__conn *c)
{
	return c->ud;
}

void kn__conn_set_userdata(kn__conn *c, void *ud)
{
	c->ud = ud;
}
