/*
 * kafkit net: a TCP listening socket on the event loop (internal).
 *
 * A listener binds an IPv4 address (127.0.0.1 by default) and hands each
 * accepted socket to a callback. It can be closed and opened again, on the
 * same port, to take a broker down and bring it back up; connections already
 * accepted are not the listener's and survive a close.
 *
 * Threading: loop thread only, like the loop it is attached to.
 * Errors are negative errno values; 0 is success.
 */
#ifndef KAFKIT_NET_LISTENER_H
#define KAFKIT_NET_LISTENER_H

#include <stdint.h>

#include "loop.h"

typedef struct kn__listener kn__listener;

/* Receives an accepted socket: non-blocking, close-on-exec, owned by the
 * callee from now on (it must close it, e.g. through kn__conn_close).
 * Called on the loop thread; it may close or destroy the listener. */
typedef void (*kn__accept_fn)(kn__listener *ls, int fd, void *arg);

/* Create a closed listener for host:port on loop. host is a dotted IPv4
 * address (NULL: "127.0.0.1"; "0.0.0.0" listens on every interface); port
 * 0 asks the kernel for a free port at the first open.
 * Returns 0, -EINVAL (host is not an IPv4 address) or -ENOMEM.
 * Thread: the loop thread. */
int kn__listener_new(kn__listener **out, kn__loop *loop, const char *host,
		     uint16_t port, kn__accept_fn on_accept, void *arg);

/* Bind (SO_REUSEADDR, so a port whose old connections linger in TIME_WAIT
 * can be bound again), listen and start accepting. After the first
 * successful open, every later open binds the port that open got, so a
 * broker keeps its address across down/up. Accepting runs at most 256
 * sockets per loop iteration; when the process runs out of fds (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM) the listener logs it and retries 100 ms later
 * instead of spinning.
 * Returns 0 (also when already open), or the negative errno of
 * socket/bind/listen/epoll_ctl, e.g. -EADDRINUSE when another socket took
 * the port while the listener was closed. Thread: the loop thread. */
int kn__listener_open(kn__listener *ls);

/* Stop accepting and close the listening socket; clients connecting now are
 * refused. Accepted connections are untouched. No-op when closed.
 * Thread: the loop thread. */
void kn__listener_close(kn__listener *ls);

/* Whether the listener is open. Thread: the loop thread. */
int kn__listener_is_open(const kn__listener *ls);

/* The bound port: the configured one, or the one the kernel chose at the
 * first open (0 before it). Kept while closed. Thread: the loop thread. */
uint16_t kn__listener_port(const kn__listener *ls);

/* Close (if open) and free. NULL is a no-op. Thread: the loop thread. */
void kn__listener_destroy(kn__listener *ls);

#endif
