/* Events, warnings, error messages and address formatting. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pcap_int.h"

const char *kx_err_str(int err)
{
	switch (err) {
	case KX_OK:
		return "ok";
	case KX_ERR_NOMEM:
		return "out of memory";
	case KX_ERR_IO:
		return "capture input/output error";
	case KX_ERR_FILTER:
		return "bad capture filter";
	case KX_ERR_LINKTYPE:
		return "unsupported link type";
	case KX_ERR_STATE:
		return "call out of order";
	case KX_ERR_ARG:
		return "bad argument";
	default:
		return err > 0 ? "stopped by callback" : "unknown error";
	}
}

int kx__emit(kx_reader *r, kx__conn *k, kx_event *ev)
{
	if (r->stop_rc)
		return r->stop_rc;
	if (k)
		ev->conn = &k->pub;
	ev->packet = r->packet;
	ev->ts_ns = r->ts_ns;
	int rc = r->cb(ev, r->opaque);
	/* Negative values are ours; a callback only stops with positive. */
	if (rc > 0)
		r->stop_rc = rc;
	return r->stop_rc;
}

static int vwarn(kx_reader *r, kx__conn *k, kx_dir dir, kx_warning w,
		 const char *fmt, va_list ap)
{
	char msg[256];
	vsnprintf(msg, sizeof msg, fmt, ap);
	r->st.warnings++;
	kx_event ev = {.type = KX_EV_WARNING, .dir = dir, .warning = w,
		       .message = msg};
	return kx__emit(r, k, &ev);
}

int kx__warn(kx_reader *r, kx__conn *k, kx_dir dir, kx_warning w,
	     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vwarn(r, k, dir, w, fmt, ap);
	va_end(ap);
	return rc;
}

int kx__warn_once(kx_reader *r, kx_warning w, const char *fmt, ...)
{
	if (r->warned & (1u << w))
		return r->stop_rc;
	r->warned |= 1u << w;
	va_list ap;
	va_start(ap, fmt);
	int rc = vwarn(r, NULL, KX_TO_BROKER, w, fmt, ap);
	va_end(ap);
	return rc;
}

int kx__fail(kx_reader *r, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	return err;
}

/* RFC 5952: the longest run (>= 2) of zero groups becomes "::", first
 * one on ties; hex lowercase without leading zeros. */
static void fmt_v6(const uint8_t *a, char *out, size_t n)
{
	unsigned g[8];
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	int best = -1, best_len = 1;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	size_t o = 0;
	for (int i = 0; i < 8 && o < n; i++) {
		if (i == best) {
			o += (size_t)snprintf(out + o, n - o, "::");
			i += best_len - 1;
			continue;
		}
		bool colon = i > 0 && i != best + best_len;
		o += (size_t)snprintf(out + o, n - o, "%s%x", colon ? ":" : "",
				      g[i]);
	}
}

int kx_conn_addr(const kx_conn *c, bool broker, char *buf, size_t buflen)
{
	const uint8_t *a = broker ? c->broker_ip : c->client_ip;
	unsigned port = broker ? c->broker_port : c->client_port;
	if (c->ip_version == 4) {
		/* by hand: every text line formats two addresses */
		char t[24], *p = t;
		for (int i = 0; i < 4; i++) {
			if (a[i] >= 100)
				*p++ = (char)('0' + a[i] / 100);
			if (a[i] >= 10)
				*p++ = (char)('0' + a[i] / 10 % 10);
			*p++ = (char)('0' + a[i] % 10);
			*p++ = i < 3 ? '.' : ':';
		}
		char d[8], *e = d + sizeof d, *q = e;
		do {
			*--q = (char)('0' + port % 10);
			port /= 10;
		} while (port);
		memcpy(p, q, (size_t)(e - q));
		p += e - q;
		size_t n = (size_t)(p - t);
		if (buflen) {
			size_t k = n < buflen - 1 ? n : buflen - 1;
			memcpy(buf, t, k);
			buf[k] = 0;
		}
		return (int)n;
	}
	char v6[48];
	fmt_v6(a, v6, sizeof v6);
	return snprintf(buf, buflen, "[%s]:%u", v6, port);
}
