/*
 * kafkit net: one framed connection on the event loop (internal).
 *
 * Input: the bytes read are cut into Kafka frames (int32 Size, then Size
 * bytes); each complete frame is handed to on_frame in arrival order, as a
 * pointer into the input buffer (no copy). A Size below 0 or above the
 * configured maximum closes the connection as soon as its 4 bytes arrive.
 * One readiness event reads on (a few reads at most) while the socket
 * keeps filling the buffer, dispatching frames as they complete, so the
 * answers to requests that arrived together leave in one write.
 *
 * Output: buffers queued by kn__conn_send* go out in queue order through
 * sendmsg with an iovec array (writev without SIGPIPE). Nothing is written
 * inside the send call itself: output is flushed when the running callback
 * of this connection returns, or else at the end of the current loop
 * iteration, so answers to pipelined requests leave in one system call. A partial write waits for
 * EPOLLOUT, which is armed only while output is pending.
 *
 * Faults: reading can be paused (a stalled broker) and a connection can be
 * told to close after N more bytes are written (a drop mid-response).
 *
 * Lifetime: a connection lives until kn__conn_close, which the connection
 * also calls itself on EOF, I/O errors, bad frame sizes and allocation
 * failures. on_close is called exactly once, then the memory is freed; no
 * callback of this connection runs after on_close.
 *
 * Threading: loop thread only. Other threads reach a connection by posting
 * a closure to the loop (kn__loop_post).
 * Errors are negative errno values; 0 is success.
 */
#ifndef KAFKIT_NET_CONN_H
#define KAFKIT_NET_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "block.h"
#include "loop.h"

typedef struct kn__conn kn__conn;

/* A reference-counted block of input bytes, handed out by
 * kn__conn_take_input so that a frame can outlive its on_frame call
 * without a copy. */

/* Kafka's default socket.request.max.bytes (100 MiB). */
#define KN__DEFAULT_MAX_FRAME ((size_t)104857600)

typedef struct kn__conn_handler {
	/* A complete frame: the len bytes after its Size field (len may be
	 * 0). The bytes are valid until on_frame returns; copy what must live
	 * longer, or keep them with kn__conn_take_input. It may send, pause, set close-after, or close c. */
	void (*on_frame)(kn__conn *c, const uint8_t *frame, size_t len);
	/* The connection is closing: err is 0 for an orderly close (the peer
	 * closed, or kn__conn_close was given 0), else a negative errno
	 * (-EMSGSIZE and -EPROTO for bad frame sizes, -ENOMEM, -ECONNRESET,
	 * ...); reason is a sentence for logs, valid during the call. Queued
	 * output was already released. c may still be queried here (userdata,
	 * peer) but nothing else. May be NULL. */
	void (*on_close)(kn__conn *c, int err, const char *reason);
} kn__conn_handler;

typedef struct kn__conn_opts {
	/* Largest accepted frame Size; 0 means KN__DEFAULT_MAX_FRAME. At most
	 * INT32_MAX is meaningful. */
	size_t max_frame;
	/* Stop reading and dispatching frames while more than this many bytes
	 * of output are queued, as a broker that answers a client that does
	 * not read must; 0 disables the limit. */
	size_t out_high_water;
} kn__conn_opts;

/* Called with the argument given to kn__conn_send/_sendv once the bytes are
 * no longer needed (written, or dropped by a close). It must not call
 * kn__conn functions on that connection. */
typedef void (*kn__release_fn)(void *ctx);

/* Serve the connected socket fd with handler h (copied) on loop. The fd is
 * made non-blocking, TCP_NODELAY is set when it is a TCP socket, and it
 * becomes the connection's on success (closed by kn__conn_close); on
 * failure it stays the caller's. opts may be NULL for defaults. ud is the
 * owner's pointer, returned by kn__conn_userdata.
 * Returns 0, -ENOMEM, -EINVAL (fd < 0 or h->on_frame NULL), or the
 * negative errno of fcntl/epoll_ctl. Thread: the loop thread. */
int kn__conn_new(kn__conn **out, kn__loop *loop, int fd,
		 const kn__conn_handler *h, const kn__conn_opts *opts,
		 void *ud);

/* Queue len bytes at data without copying them. release(ctx), unless
 * release is NULL, runs once the bytes were written or the connection
 * closed; until then data must stay valid and unchanged.
 * Returns 0 (ownership passed), -ENOMEM or -EPIPE (the connection is
 * closing): on failure release is not called and data stays the caller's.
 * Thread: the loop thread. */
int kn__conn_send(kn__conn *c, const void *data, size_t len,
		  kn__release_fn release, void *ctx);

/* Like kn__conn_send for iovcnt segments sent back to back (e.g. from
 * kc_writer_iov); release(ctx) runs once, after the last segment.
 * Returns 0, -EINVAL (iovcnt < 0), -ENOMEM or -EPIPE; all or nothing.
 * Thread: the loop thread. */
int kn__conn_sendv(kn__conn *c, const struct iovec *iov, int iovcnt,
		   kn__release_fn release, void *ctx);

/* Copy len bytes into the output queue (small sends share a block).
 * Returns 0, -ENOMEM or -EPIPE (nothing queued). Thread: the loop thread. */
int kn__conn_send_copy(kn__conn *c, const void *data, size_t len);

/* Stop reading from the socket and dispatching frames already buffered
 * (the kernel buffers fill, then the peer's writes block). Output still
 * flushes. Idempotent. Thread: the loop thread. */
void kn__conn_pause(kn__conn *c);

/* Undo kn__conn_pause: frames already buffered are dispatched when the
 * running callback of c returns, or else at the end of the current loop
 * iteration; then reading resumes. Idempotent. Thread: the loop thread. */
void kn__conn_resume(kn__conn *c);

/* Inside on_frame, for the frame it was given (or one dispatched before
 * it from the same read): keep the input buffer holding it, so the frame's
 * bytes stay valid, and writable by the holder, after on_frame returns.
 * Returns a new reference to the buffer (release it with kn__block_unref),
 * or NULL, leaving everything as it was, when frame does not lie in the
 * current input buffer, when that buffer is larger than max_size bytes
 * (so a holder never pins much more than it asked for), or when c is
 * closing. The connection never writes to a taken buffer again: frames
 * already in it are still dispatched from it, and it reads on into a fresh
 * buffer of the same size, to which the unconsumed bytes (the start of the
 * next frame) are copied. Thread: the loop thread. */
kn__block *kn__conn_take_input(kn__conn *c, const uint8_t *frame,
			       size_t max_size);

/* Whether kn__conn_pause is in effect. Thread: the loop thread. */
int kn__conn_paused(const kn__conn *c);

/* Whether c is closing: true inside the release callbacks that
 * kn__conn_close runs for output it drops unsent (and in on_close), so a
 * release callback can tell written bytes from dropped ones. Thread: the
 * loop thread. */
int kn__conn_closing(const kn__conn *c);

/* Close the connection once exactly n more bytes have been written,
 * counted from now (n = 0: as soon as the running callback of c returns, or
 * else at the end of the current iteration), with err 0 and a reason
 * naming the fault. Writes are cut at that byte, so the peer sees a
 * truncated stream. A later call replaces the budget.
 * Thread: the loop thread. */
void kn__conn_close_after(kn__conn *c, uint64_t n);

/* Close now: stop watching and close the socket, release queued output
 * unsent, call on_close(c, err, reason), free c. err is 0 or a negative
 * errno, reason a sentence (NULL: "closed"); the close is logged with the
 * peer address when err is not 0. c must not be used after this returns.
 * A second call is a no-op. Thread: the loop thread. */
void kn__conn_close(kn__conn *c, int err, const char *reason);

/* Bytes queued and not yet written. Thread: the loop thread. */
size_t kn__conn_out_pending(const kn__conn *c);

/* Bytes read but not yet handed to on_frame (a partial frame, or frames
 * held back by a pause). Thread: the loop thread. */
size_t kn__conn_in_buffered(const kn__conn *c);

/* The socket, for inspection (kn__loop_fd_events, getsockopt); do not
 * read, write or close it. Thread: the loop thread. */
int kn__conn_fd(const kn__conn *c);

/* "ip:port" of the peer, or "?" when unknown; valid while c lives.
 * Thread: the loop thread. */
const char *kn__conn_peer(const kn__conn *c);

/* The ud given to kn__conn_new, or set later. Thread: the loop thread. */
void *kn__conn_userdata(const kn__conn *c);
void kn__conn_set_userdata(kn__conn *c, void *ud);

#endif
