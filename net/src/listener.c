/*
 * TCP listener: non-blocking accept on the event loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf_int.h"
#include "listener.h"

/* Cap per wake-up so a connection storm cannot starve served clients. */
#define ACCEPTS_PER_EVENT 256
/* Pause after running out of fds: the listening socket stays readable, so
 * retrying at once would spin. */
#define FD_EXHAUSTED_RETRY_MS 100

struct kn__listener {
	kn__loop *loop;
	struct sockaddr_in addr; /* port is 0 until the first open */
	int fd;                  /* -1 while closed */
	kn__accept_fn on_accept;
	void *arg;
	kn__timer retry;
	int in_accept; /* inside on_accept: destroy must wait */
	int doomed;    /* destroyed from on_accept */
};

static void release(kn__listener *ls)
{
	kn__listener_close(ls);
	kc__free(ls);
}

static void on_retry(kn__loop *loop, void *arg)
{
	kn__listener *ls = arg;
	if (ls->fd >= 0 && kn__loop_mod_fd(loop, ls->fd, KN__IO_READ) < 0)
		kn__timer_start(loop, &ls->retry, FD_EXHAUSTED_RETRY_MS, 0);
}

/* Errors after which the listening socket is still fine: Linux reports
 * pending network errors of the new connection through accept. */
static int transient(int err)
{
	switch (err) {
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EOPNOTSUPP:
		return 1;
	default:
		return 0;
	}
}

static void on_readable(kn__loop *loop, int lfd, unsigned events, void *arg)
{
	kn__listener *ls = arg;
	(void)events;
	ls->in_accept = 1;
	for (int i = 0; i < ACCEPTS_PER_EVENT && ls->fd == lfd && !ls->doomed;
	     i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			ls->on_accept(ls, fd, ls->arg);
			continue;
		}
		int err = errno;
		if (err == EAGAIN || err == EWOULDBLOCK)
			break;
		if (transient(err))
			continue;
		kn__loop_logf(loop, "listener :%u: accept: %s",
			      (unsigned)ntohs(ls->addr.sin_port), strerror(err));
		if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
		    err == ENOMEM) {
			/* Interest 0 keeps the registration; the timer
			 * restores it. Nothing better to do if both fail. */
			kn__loop_mod_fd(loop, lfd, 0);
			kn__timer_start(loop, &ls->retry, FD_EXHAUSTED_RETRY_MS,
					0);
		}
		break;
	}
	ls->in_accept = 0;
	if (ls->doomed)
		release(ls);
}

int kn__listener_new(kn__listener **out, kn__loop *loop, const char *host,
		     uint16_t port, kn__accept_fn on_accept, void *arg)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(port)};
	if (inet_pton(AF_INET, host ? host : "127.0.0.1", &addr.sin_addr) != 1)
		return -EINVAL;
	kn__listener *ls = kc__malloc(sizeof *ls);
	if (!ls)
		return -ENOMEM;
	*ls = (kn__listener){.loop = loop, .addr = addr, .fd = -1,
			     .on_accept = on_accept, .arg = arg};
	kn__timer_init(&ls->retry, on_retry, ls);
	*out = ls;
	return 0;
}

int kn__listener_open(kn__listener *ls)
{
	if (ls->fd >= 0)
		return 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	int rc = 0;
	struct sockaddr_in bound;
	socklen_t blen = sizeof bound;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (const struct sockaddr *)&ls->addr, sizeof ls->addr) < 0 ||
	    listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = kn__loop_add_fd(ls->loop, fd, KN__IO_READ, on_readable, ls);
	if (rc) {
		close(fd);
		return rc;
	}
	ls->addr.sin_port = bound.sin_port;
	ls->fd = fd;
	return 0;
}

void kn__listener_close(kn__listener *ls)
{
	if (ls->fd < 0)
		return;
	kn__timer_stop(ls->loop, &ls->retry);
	kn__loop_del_fd(ls->loop, ls->fd);
	close(ls->fd);
	ls->fd = -1;
}

int kn__listener_is_open(const kn__listener *ls)
{
	return ls->fd >= 0;
}

uint16_t kn__listener_port(const kn__listener *ls)
{
	return ntohs(ls->addr.sin_port);
}

void kn__listener_destroy(kn__listener *ls)
{
	if (!ls)
		return;
	if (ls->in_accept) {
		/* The accept loop still uses ls; it frees it on return. */
		kn__listener_close(ls);
		ls->doomed = 1;
		return;
	}
	release(ls);
}
