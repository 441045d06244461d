/* kp_stats_json's document, built on the sender thread (see producer.h
 * for its shape). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf_int.h"
#include "sender.h"

static void put(kc_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(kc_writer *w, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		kc_writer_put(w, tmp, (size_t)n < sizeof(tmp) ? (size_t)n
							       : sizeof(tmp) - 1);
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void put_str(kc_writer *w, const char *s)
{
	kc_writer_put(w, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			put(w, "\\%c", c);
		else if (c < 0x20)
			put(w, "\\u%04x", c);
		else
			kc_writer_put(w, s, 1);
	}
	kc_writer_put(w, "\"", 1);
}

/* The upper bound in ms of the histogram bucket holding the q-quantile. */
static uint64_t rtt_quantile(const kp__broker_stats *s, double q)
{
	if (!s->rtt_count)
		return 0;
	uint64_t want = (uint64_t)((double)s->rtt_count * q);
	if (want >= s->rtt_count)
		want = s->rtt_count - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < 32; i++) {
		seen += s->rtt_hist[i];
		if (seen > want) {
			uint64_t hi = i ? (uint64_t)1 << i : 1;
			return hi < s->rtt_max_ms ? hi : s->rtt_max_ms;
		}
	}
	return s->rtt_max_ms;
}

typedef struct tp_walk {
	kc_writer *w;
	int first;
} tp_walk;

static void put_tp(kp__tp *tp, void *arg)
{
	tp_walk *t = arg;
	pthread_mutex_lock(&tp->lock);
	size_t qrec = tp->queued_records, qbytes = tp->queued_bytes;
	pthread_mutex_unlock(&tp->lock);
	put(t->w, "%s{\"topic\":", t->first ? "" : ",");
	t->first = 0;
	put_str(t->w, tp->topic);
	put(t->w,
	    ",\"partition\":%" PRId32 ",\"leader\":%" PRId32
	    ",\"records\":%" PRIu64 ",\"batches\":%" PRIu64
	    ",\"bytes\":%" PRIu64 ",\"retries\":%" PRIu64
	    ",\"errors\":%" PRIu64 ",\"queue_records\":%zu"
	    ",\"queue_bytes\":%zu}",
	    tp->partition, tp->leader, tp->stat_records, tp->stat_batches,
	    tp->stat_bytes, tp->stat_retries, tp->stat_errors, qrec, qbytes);
}

kp_err kp__stats_build(kp_producer *p, char **json, size_t *len)
{
	kc_writer w;
	kc_writer_init(&w);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	put(&w, "{\"client_id\":");
	put_str(&w, p->conf.client_id ? p->conf.client_id : "");
	put(&w,
	    ",\"time_ms\":%" PRId64 ",\"buffer\":{\"used_bytes\":%zu,"
	    "\"total_bytes\":%zu},\"brokers\":[",
	    (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
	    kp__acc_memory_used(p->acc), kp__acc_memory_total(p->acc));
	int first = 1;
	for (size_t i = 0; i < p->nbrokers; i++) {
		kp__broker *b = p->brokers[i];
		if (kp__broker_node_id(b) < 0)
			continue;
		const kp__broker_stats *s = kp__broker_stats_of(b);
		put(&w, "%s{\"node_id\":%" PRId32 ",\"host\":", first ? "" : ",",
		    kp__broker_node_id(b));
		first = 0;
		put_str(&w, kp__broker_host(b));
		put(&w,
		    ",\"port\":%u,\"connected\":%s,\"requests\":%" PRIu64
		    ",\"retries\":%" PRIu64 ",\"batches\":%" PRIu64
		    ",\"bytes\":%" PRIu64 ",\"errors\":%" PRIu64
		    ",\"in_flight\":%d",
		    kp__broker_port(b),
		    kp__broker_state_of(b) == KP__BROKER_UP ? "true" : "false",
		    s->requests, s->retries, s->batches, s->bytes_out,
		    s->errors, kp__broker_in_flight(b));
		put(&w,
		    ",\"latency_ms\":{\"avg\":%" PRIu64 ",\"p50\":%" PRIu64
		    ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 "}}",
		    s->rtt_count ? s->rtt_sum_ms / s->rtt_count : 0,
		    rtt_quantile(s, 0.50), rtt_quantile(s, 0.99), s->rtt_max_ms);
	}
	put(&w, "],\"partitions\":[");
	tp_walk t = {&w, 1};
	kp__acc_foreach_tp(p->acc, put_tp, &t);
	put(&w, "]}");
	kc_writer_put(&w, "", 1);
	if (kc_writer_err(&w) != KC_OK) {
		kc_writer_free(&w);
		return KP_ERR_NOMEM;
	}
	size_t n = kc_writer_pos(&w);
	char *out = kc__malloc(n);
	if (!out) {
		kc_writer_free(&w);
		return KP_ERR_NOMEM;
	}
	memcpy(out, kc_writer_data(&w), n);
	kc_writer_free(&w);
	*json = out;
	*len = n - 1;
	return KP_OK;
}
