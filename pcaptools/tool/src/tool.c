/* kafkit-pcap's pipeline: events in, filtered and formatted output out. */
#include <string.h>

#include "decode.h"
#include "kafkit/pcap.h"
#include "ndjson.h"
#include "pending.h"
#include "recfmt.h"
#include "stats.h"
#include "text.h"
#include "tool.h"

typedef struct tool {
	const kx__opts *o;
	FILE *out, *err;
	kc_arena arena;
	kx__pending pend;
	kx__recs recs;
	kx__stats stats;
	kc_json json;
	size_t json_done;  /* json.buf[0..json_done): complete events not
			    * written yet */
	uint64_t shown;
	bool nomem;
} tool;

/* The reader being run, for kx__tool_stop (one run at a time per process
 * is what a signal can reach). */
static kx_reader *volatile running;

void kx__tool_stop(void)
{
	kx_reader *r = running;
	if (r)
		kx_reader_stop(r);
}

static bool want_api(const tool *t, int16_t key)
{
	if (!t->o->napis)
		return true;
	for (size_t i = 0; i < t->o->napis; i++)
		if (t->o->apis[i] == key)
			return true;
	return false;
}

static bool want_client(const tool *t, const char *p, int32_t n)
{
	if (!t->o->nclients)
		return true;
	for (size_t i = 0; i < t->o->nclients; i++)
		if (n >= 0 && strlen(t->o->clients[i]) == (size_t)n &&
		    !memcmp(t->o->clients[i], p, (size_t)n))
			return true;
	return false;
}

static bool topic_ok(kc_str topic, void *opaque)
{
	const tool *t = opaque;
	if (!t->o->ntopics)
		return true;
	for (size_t i = 0; i < t->o->ntopics; i++)
		if (topic.len >= 0 && strlen(t->o->topics[i]) == (size_t)topic.len &&
		    !memcmp(t->o->topics[i], topic.ptr, (size_t)topic.len))
			return true;
	return false;
}

/* Whether a decoded body names a wanted topic (only apis with topic
 * names: a topic filter drops every other request). */
static bool want_topic(tool *t, const kx__msg *m)
{
	if (!t->o->ntopics)
		return true;
	if (!m->body)
		return false;
	switch (m->api_key) {
	case KC_PRODUCE_REQUEST_API_KEY:
		if (m->request) {
			const kc_produce_request *p = m->body;
			for (int32_t i = 0; i < p->topic_data_count; i++)
				if (topic_ok(p->topic_data[i].name, t))
					return true;
		} else {
			const kc_produce_response *p = m->body;
			for (int32_t i = 0; i < p->responses_count; i++)
				if (topic_ok(p->responses[i].name, t))
					return true;
		}
		return false;
	case KC_FETCH_REQUEST_API_KEY:
		if (m->request) {
			const kc_fetch_request *p = m->body;
			for (int32_t i = 0; i < p->topics_count; i++)
				if (topic_ok(p->topics[i].topic, t))
					return true;
		} else {
			const kc_fetch_response *p = m->body;
			for (int32_t i = 0; i < p->responses_count; i++)
				if (topic_ok(p->responses[i].topic, t))
					return true;
		}
		return false;
	case KC_METADATA_REQUEST_API_KEY:
		if (m->request) {
			const kc_metadata_request *p = m->body;
			for (int32_t i = 0; i < p->topics_count; i++)
				if (topic_ok(p->topics[i].name, t))
					return true;
		} else {
			const kc_metadata_response *p = m->body;
			for (int32_t i = 0; i < p->topics_count; i++)
				if (topic_ok(p->topics[i].name, t))
					return true;
		}
		return false;
	default:
		return false;
	}
}

/* NDJSON read from a file leaves in chunks of at least this much: few,
 * large writes (the program's stdout is then unbuffered, so a chunk is
 * one write(2) and is not copied again). Live captures write each event
 * as it comes. */
#define JSON_CHUNK ((size_t)256 << 10)

/* Write the complete events held and empty the buffer (a partial event
 * left by a failed allocation is dropped). */
static void flush_json(tool *t)
{
	if (t->json_done)
		fwrite(t->json.buf, 1, t->json_done, t->out);
	t->json_done = 0;
	kc_json_reset(&t->json);
}

/* An event was appended to t->json. */
static void write_json(tool *t)
{
	if (kc_json_err(&t->json)) {
		t->nomem = true;
		flush_json(t);
		return;
	}
	t->json_done = t->json.len;
	if (!t->o->read || t->json_done >= JSON_CHUNK)
		flush_json(t);
}

/* Stop value for the reader: -c reached, or out of memory. */
#define STOP_COUNT 1
#define STOP_NOMEM 2

static int shown(tool *t)
{
	t->shown++;
	if (t->nomem)
		return STOP_NOMEM;
	return t->o->count && t->shown >= t->o->count ? STOP_COUNT : 0;
}

static int on_request(tool *t, kx_event *ev)
{
	kx__msg m;
	kc_arena_reset(&t->arena);
	kc_str cid = {ev->client_id, ev->client_id_len};
	bool match = want_api(t, ev->api_key) && want_client(t, cid.ptr, cid.len);
	if (match) {
		kx__msg_decode(&m, ev, &t->arena);
		match = want_topic(t, &m);
	}
	kx__pend *p = NULL;
	if (ev->expect_response && ev->conn) {
		p = kx__pending_add(&t->pend, ev->conn->id, ev->correlation_id);
		if (!p)
			return STOP_NOMEM;
		p->matched = match;
		kx__pend_set_client(p, cid);
	}
	if (!match)
		return 0;
	if (t->o->stats) {
		if (kx__stats_request(&t->stats, ev, &m, p, topic_ok, t) != KC_OK)
			return STOP_NOMEM;
		return 0;
	}
	if (t->o->json) {
		kx__json_msg(&t->json, ev, &m, KC_STR_NULL);
		write_json(t);
	} else {
		kx__text_msg(t->out, ev, &m, KC_STR_NULL, t->o->verbose, &t->recs, &t->stats.scratch);
	}
	return shown(t);
}

static int on_response(tool *t, kx_event *ev)
{
	kx__pend *p = ev->paired && ev->conn
			      ? kx__pending_find(&t->pend, ev->conn->id, ev->correlation_id)
			      : NULL;
	/* unpaired responses pass only when nothing filters */
	bool match = p ? p->matched
		       : !t->o->napis && !t->o->nclients && !t->o->ntopics;
	int rc = 0;
	if (match) {
		kx__msg m;
		kc_arena_reset(&t->arena);
		kx__msg_decode(&m, ev, &t->arena);
		kc_str client = p ? (kc_str){p->client_id, p->client_id_len} : KC_STR_NULL;
		if (t->o->stats) {
			if (kx__stats_response(&t->stats, ev, &m, p) != KC_OK)
				rc = STOP_NOMEM;
		} else if (t->o->json) {
			kx__json_msg(&t->json, ev, &m, client);
			write_json(t);
			rc = shown(t);
		} else {
			kx__text_msg(t->out, ev, &m, client, t->o->verbose, &t->recs,
				     &t->stats.scratch);
			rc = shown(t);
		}
	}
	if (p)
		kx__pending_remove(&t->pend, p);
	return rc;
}

static int on_event(kx_event *ev, void *opaque)
{
	tool *t = opaque;
	switch (ev->type) {
	case KX_EV_REQUEST:
		return on_request(t, ev);
	case KX_EV_RESPONSE:
		return on_response(t, ev);
	case KX_EV_CONN_CLOSE:
		if (ev->conn)
			kx__pending_drop_conn(&t->pend, ev->conn->id);
		break;
	default:
		break;
	}
	if (t->o->stats) {
		if (ev->type == KX_EV_WARNING && !t->o->quiet_warnings)
			kx__text_event(t->err, ev);
		return 0;
	}
	if (t->o->json) {
		kx__json_event(&t->json, ev);
		write_json(t);
	} else if (ev->type == KX_EV_WARNING) {
		if (!t->o->quiet_warnings)
			kx__text_event(t->err, ev);
	} else if (ev->type == KX_EV_GAP || ev->type == KX_EV_RESYNC || t->o->verbose) {
		kx__text_event(t->out, ev);
	}
	return t->nomem ? STOP_NOMEM : 0;
}

static int open_input(tool *t, kx_reader *r)
{
	int e = t->o->read ? kx_reader_open_file(r, t->o->read)
			   : kx_reader_open_live(r, t->o->iface);
	if (e == 0)
		return KX__EXIT_OK;
	const char *what = t->o->read ? t->o->read : t->o->iface;
	if (e == KX_ERR_NOMEM) {
		fprintf(t->err, "kafkit-pcap: out of memory\n");
		return KX__EXIT_NOMEM;
	}
	const char *why = kx_reader_error(r);
	fprintf(t->err, "kafkit-pcap: %s: %s%s%s\n", strcmp(what, "-") ? what : "stdin",
		kx_err_str(e), why && *why ? ": " : "", why ? why : "");
	return KX__EXIT_INPUT;
}

int kx__tool_run(const kx__opts *o, FILE *out, FILE *err)
{
	tool t = {.o = o, .out = out, .err = err};
	kc_arena_init(&t.arena);
	kx__pending_init(&t.pend);
	kx__recs_init(&t.recs, o->bytes);
	kx__stats_init(&t.stats);
	kc_json_init(&t.json);
	t.json.bytes = o->bytes;
	kx__json_expand_records(&t.json, &t.recs);

	kx_reader_opts ro = {0};
	ro.broker_ports = o->nports ? o->ports : NULL;
	ro.nbroker_ports = o->nports;
	ro.detect_any_port = o->any_port;
	ro.filter = o->bpf;
	int code = KX__EXIT_OK;
	kx_reader *r = kx_reader_new(&ro, on_event, &t);
	if (!r) {
		fprintf(err, "kafkit-pcap: out of memory\n");
		code = KX__EXIT_NOMEM;
		goto out;
	}
	code = open_input(&t, r);
	if (code != KX__EXIT_OK)
		goto out;
	running = r;
	int rc = kx_reader_run(r);
	running = NULL;
	if (rc == STOP_COUNT)
		rc = 0; /* not finished: its events would print past -c */
	if (rc == KX_ERR_IO) {
		const char *why = kx_reader_error(r);
		fprintf(err, "kafkit-pcap: %s: capture not read to its end: %s\n",
			o->read ? o->read : o->iface, why && *why ? why : kx_err_str(rc));
		code = KX__EXIT_TRUNCATED;
	} else if (rc == STOP_NOMEM || rc == KX_ERR_NOMEM || t.nomem) {
		fprintf(err, "kafkit-pcap: out of memory\n");
		code = KX__EXIT_NOMEM;
	} else if (rc < 0) {
		fprintf(err, "kafkit-pcap: %s\n", kx_err_str(rc));
		code = KX__EXIT_INPUT;
	}
	if (o->stats && code != KX__EXIT_NOMEM) {
		if (o->json) {
			kx__stats_json(&t.stats, &t.json);
			kc_json_newline(&t.json);
			write_json(&t);
		} else {
			kx__stats_print(&t.stats, out);
		}
	}
	const kx_stats *st = kx_reader_stats(r);
	if (!o->quiet_warnings && (st->gaps || st->truncated_packets || st->resyncs))
		fprintf(err,
			"kafkit-pcap: %llu gaps (%llu bytes), %llu resyncs, %llu packets cut by "
			"the snapshot length\n",
			(unsigned long long)st->gaps, (unsigned long long)st->gap_bytes,
			(unsigned long long)st->resyncs, (unsigned long long)st->truncated_packets);
out:
	flush_json(&t);
	kx_reader_free(r);
	kc_json_free(&t.json);
	kx__stats_free(&t.stats);
	kx__recs_free(&t.recs);
	kx__pending_free(&t.pend);
	kc_arena_free(&t.arena);
	fflush(out);
	return code;
}
