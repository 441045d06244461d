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
	KC_JSON_KEY(j, "conn");
	if (!c) {
		kc_json_null(j);
		return;
	}
	kc_json_begin_object(j);
	KC_JSON_KEY(j, "id");
	kc_json_uint(j, c->id);
	kx_conn_addr(c, false, a, sizeof a);
	KC_JSON_KEY(j, "client");
	kc_json_cstr(j, a);
	kx_conn_addr(c, true, a, sizeof a);
	KC_JSON_KEY(j, "broker");
	kc_json_cstr(j, a);
	kc_json_end_object(j);
}

/* The members every event starts with. */
static void head(kc_json *j, const kx_event *ev, const char *type)
{
	char t[40];
	kc_json_begin_object(j);
	KC_JSON_KEY(j, "type");
	kc_json_cstr(j, type);
	KC_JSON_KEY(j, "packet");
	kc_json_uint(j, ev->packet);
	kx__fmt_iso(ev->ts_ns, t, sizeof t);
	KC_JSON_KEY(j, "time");
	kc_json_cstr(j, t);
	KC_JSON_KEY(j, "tsNs");
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
	KC_JSON_KEY(j, "apiKey");
	kc_json_int(j, m->api_key);
	KC_JSON_KEY(j, "apiName");
	if (m->api_key < 0)
		kc_json_null(j);
	else
		kc_json_cstr(j, kx__api_name(m->api_key, nb, sizeof nb));
	KC_JSON_KEY(j, "apiVersion");
	kc_json_int(j, m->version);
	KC_JSON_KEY(j, "correlationId");
	kc_json_int(j, m->correlation_id);
	KC_JSON_KEY(j, "clientId");
	kc_json_str(j, m->request ? m->client_id : client);
	KC_JSON_KEY(j, "frameBytes");
	kc_json_uint(j, ev->frame_len);
	KC_JSON_KEY(j, "streamOffset");
	kc_json_uint(j, ev->stream_offset);
	if (m->request) {
		KC_JSON_KEY(j, "expectResponse");
		kc_json_bool(j, ev->expect_response);
	} else {
		KC_JSON_KEY(j, "paired");
		kc_json_bool(j, ev->paired);
		KC_JSON_KEY(j, "requestPacket");
		if (ev->paired)
			kc_json_uint(j, ev->request_packet);
		else
			kc_json_null(j);
		KC_JSON_KEY(j, "latencyNs");
		if (ev->paired)
			kc_json_int(j, ev->ts_ns - ev->request_ts_ns);
		else
			kc_json_null(j);
		KC_JSON_KEY(j, "v0Fallback");
		kc_json_bool(j, m->v0_fallback);
		/* readable even when the body is not (see decode.h) */
		KC_JSON_KEY(j, "rawErrorCode");
		if (m->raw_error_code >= 0)
			kc_json_int(j, m->raw_error_code);
		else
			kc_json_null(j);
	}
	KC_JSON_KEY(j, "body");
	if (!m->body)
		kc_json_null(j);
	else if (m->request)
		kc_json_request_body(j, m->api_key, m->version, m->body);
	else
		kc_json_response_body(j, m->api_key, m->v0_fallback ? 0 : m->version, m->body);
	KC_JSON_KEY(j, "error");
	if (m->err == KC_OK) {
		kc_json_null(j);
	} else {
		kc_json_begin_object(j);
		KC_JSON_KEY(j, "code");
		kc_json_cstr(j, kc_err_name(m->err));
		KC_JSON_KEY(j, "message");
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
		KC_JSON_KEY(j, "sawSyn");
		kc_json_bool(j, ev->conn && ev->conn->saw_syn);
		break;
	case KX_EV_CONN_CLOSE:
		head(j, ev, "connClose");
		KC_JSON_KEY(j, "reason");
		kc_json_cstr(j, reasons[ev->close_reason <= KX_CLOSE_END ? ev->close_reason : 0]);
		KC_JSON_KEY(j, "unanswered");
		kc_json_uint(j, ev->unanswered);
		break;
	case KX_EV_GAP:
	case KX_EV_RESYNC:
		head(j, ev, ev->type == KX_EV_GAP ? "gap" : "resync");
		KC_JSON_KEY(j, "direction");
		kc_json_cstr(j, dir_name(ev->dir));
		KC_JSON_KEY(j, "streamOffset");
		kc_json_uint(j, ev->stream_offset);
		KC_JSON_KEY(j, "bytes");
		kc_json_uint(j, ev->bytes);
		break;
	case KX_EV_WARNING:
		head(j, ev, "warning");
		KC_JSON_KEY(j, "kind");
		kc_json_cstr(j, warns[ev->warning <= KX_WARN_CONN_LIMIT ? ev->warning : 0]);
		KC_JSON_KEY(j, "message");
		kc_json_cstr(j, ev->message);
		break;
	default:
		return;
	}
	end(j);
}
