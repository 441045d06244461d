/* kafkit-pcap's NDJSON lines. */
#include <string.h>
#include <time.h>

#include "kafkit/messages_json.h"
#include "ndjson.h"

static void records_cb(kc_json *j, kc_bytes records, void *opaque)
{
	kx__recs_json(opaque, j, records);
}

void kx__json_expand_records(kc_json *j, kx__recs *recs)
{
	j->records_fn = records_cb;
	j->records_opaque = recs;
}

void kx__fmt_iso(int64_t ts_ns, char *buf, size_t n)
{
	time_t sec = (time_t)(ts_ns / 1000000000);
	long ns = (long)(ts_ns % 1000000000);
	if (ns < 0) {
		ns += 1000000000;
		sec--;
	}
	struct tm tm;
	gmtime_r(&sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns);
}

static void conn_obj(kc_json *j, const kx_conn *c)
{
	char a[64];
	kc_json_key(j, "conn");
	if (!c) {
		kc_json_null(j);
		return;
	}
	kc_json_begin_object(j);
	kc_json_key(j, "id");
	kc_json_uint(j, c->id);
	kx_conn_addr(c, false, a, sizeof a);
	kc_json_key(j, "client");
	kc_json_cstr(j, a);
	kx_conn_addr(c, true, a, sizeof a);
	kc_json_key(j, "broker");
	kc_json_cstr(j, a);
	kc_json_end_object(j);
}

/* The members every event starts with. */
static void head(kc_json *j, const kx_event *ev, const char *type)
{
	char t[40];
	kc_json_begin_object(j);
	kc_json_key(j, "type");
	kc_json_cstr(j, type);
	kc_json_key(j, "packet");
	kc_json_uint(j, ev->packet);
	kx__fmt_iso(ev->ts_ns, t, sizeof t);
	kc_json_key(j, "time");
	kc_json_cstr(j, t);
	kc_json_key(j, "tsNs");
	kc_json_int(j, ev->ts_ns);
	conn_obj(j, ev->conn);
}

static void end(kc_json *j)
{
	kc_json_end_object(j);
	kc_json_newline(j);
}

void kx__json_msg(kc_json *j, const kx_event *ev, const kx__msg *m, kc_str client)
{
	char nb[32];
	head(j, ev, m->request ? "request" : "response");
	kc_json_key(j, "apiKey");
	kc_json_int(j, m->api_key);
	kc_json_key(j, "apiName");
	if (m->api_key < 0)
		kc_json_null(j);
	else
		kc_json_cstr(j, kx__api_name(m->api_key, nb, sizeof nb));
	kc_json_key(j, "apiVersion");
	kc_json_int(j, m->version);
	kc_json_key(j, "correlationId");
	kc_json_int(j, m->correlation_id);
	kc_json_key(j, "clientId");
	kc_json_str(j, m->request ? m->client_id : client);
	kc_json_key(j, "frameBytes");
	kc_json_uint(j, ev->frame_len);
	kc_json_key(j, "streamOffset");
	kc_json_uint(j, ev->stream_offset);
	if (m->request) {
		kc_json_key(j, "expectResponse");
		kc_json_bool(j, ev->expect_response);
	} else {
		kc_json_key(j, "paired");
		kc_json_bool(j, ev->paired);
		kc_json_key(j, "requestPacket");
		if (ev->paired)
			kc_json_uint(j, ev->request_packet);
		else
			kc_json_null(j);
		kc_json_key(j, "latencyNs");
		if (ev->paired)
			kc_json_int(j, ev->ts_ns - ev->request_ts_ns);
		else
			kc_json_null(j);
		kc_json_key(j, "v0Fallback");
		kc_json_bool(j, m->v0_fallback);
		/* readable even when the body is not (see decode.h) */
		kc_json_key(j, "rawErrorCode");
		if (m->raw_error_code >= 0)
			kc_json_int(j, m->raw_error_code);
		else
			kc_json_null(j);
	}
	kc_json_key(j, "body");
	if (!m->body)
		kc_json_null(j);
	else if (m->request)
		kc_json_request_body(j, m->api_key, m->version, m->body);
	else
		kc_json_response_body(j, m->api_key, m->v0_fallback ? 0 : m->version, m->body);
	kc_json_key(j, "error");
	if (m->err == KC_OK) {
		kc_json_null(j);
	} else {
		kc_json_begin_object(j);
		kc_json_key(j, "code");
		kc_json_cstr(j, kc_err_name(m->err));
		kc_json_key(j, "message");
		kc_json_cstr(j, m->why);
		kc_json_end_object(j);
	}
	end(j);
}

static const char *dir_name(kx_dir d)
{
	return d == KX_TO_BROKER ? "toBroker" : "toClient";
}

void kx__json_event(kc_json *j, const kx_event *ev)
{
	static const char *const reasons[] = {"unknown", "fin", "rst", "reused", "end"};
	static const char *const warns[] = {"unknown",   "truncated",  "linktype",  "malformed",
					    "fragment",  "notKafka",   "badFrame",  "frameTooBig",
					    "unanswered", "trailing",  "connLimit"};
	switch (ev->type) {
	case KX_EV_CONN_OPEN:
		head(j, ev, "connOpen");
		kc_json_key(j, "sawSyn");
		kc_json_bool(j, ev->conn && ev->conn->saw_syn);
		break;
	case KX_EV_CONN_CLOSE:
		head(j, ev, "connClose");
		kc_json_key(j, "reason");
		kc_json_cstr(j, reasons[ev->close_reason <= KX_CLOSE_END ? ev->close_reason : 0]);
		kc_json_key(j, "unanswered");
		kc_json_uint(j, ev->unanswered);
		break;
	case KX_EV_GAP:
	case KX_EV_RESYNC:
		head(j, ev, ev->type == KX_EV_GAP ? "gap" : "resync");
		kc_json_key(j, "direction");
		kc_json_cstr(j, dir_name(ev->dir));
		kc_json_key(j, "streamOffset");
		kc_json_uint(j, ev->stream_offset);
		kc_json_key(j, "bytes");
		kc_json_uint(j, ev->bytes);
		break;
	case KX_EV_WARNING:
		head(j, ev, "warning");
		kc_json_key(j, "kind");
		kc_json_cstr(j, warns[ev->warning <= KX_WARN_CONN_LIMIT ? ev->warning : 0]);
		kc_json_key(j, "message");
		kc_json_cstr(j, ev->message);
		break;
	default:
		return;
	}
	end(j);
}
