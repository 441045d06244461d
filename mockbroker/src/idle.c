/* Idle connections: the periodic sweep of every broker's sessions. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "idle.h"
#include "server.h"

static void sweep_broker(km__broker *b, uint64_t now, uint64_t limit)
{
	km__session *next;
	for (km__session *s = b->sessions; s; s = next) {
		next = s->next;
		size_t in = kn__conn_in_buffered(s->conn);
		size_t out = kn__conn_out_pending(s->conn);
		if (s->frames != s->seen_frames || in != s->seen_in ||
		    out != s->seen_out || s->parked || s->q_head ||
		    b->stalled) {
			s->seen_frames = s->frames;
			s->seen_in = in;
			s->seen_out = out;
			s->last_active = now;
			continue;
		}
		if (now - s->last_active < limit)
			continue;
		char why[96];
		snprintf(why, sizeof why,
			 "broker %" PRId32 ": idle for %" PRIu64
			 " ms (idle_timeout_ms)",
			 b->id, now - s->last_active);
		/* Kafka logs and closes idle connections quietly: an orderly
		 * close, not a failure. */
		kn__loop_logf(b->cluster->loop, "%s: %s",
			      kn__conn_peer(s->conn), why);
		kn__conn_close(s->conn, 0, why);
	}
}

static void sweep(kn__loop *loop, void *arg)
{
	km_cluster *c = arg;
	uint64_t now = kn__now_ms();
	(void)loop;
	for (int32_t i = 0; i < c->nbrokers; i++)
		sweep_broker(&c->brokers[i], now, c->opts.idle_timeout_ms);
}

void km__idle_init(km_cluster *c)
{
	kn__timer_init(&c->idle_timer, sweep, c);
}

int km__idle_start(km_cluster *c)
{
	uint64_t every = c->opts.idle_timeout_ms / 2;
	if (!c->opts.idle_timeout_ms)
		return 0;
	if (every > 1000)
		every = 1000;
	if (every == 0)
		every = 1;
	return kn__timer_start(c->loop, &c->idle_timer, every, every);
}

void km__idle_stop(km_cluster *c)
{
	if (c->loop)
		kn__timer_stop(c->loop, &c->idle_timer);
}
