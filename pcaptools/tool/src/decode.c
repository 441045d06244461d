/* Frame bodies through the codec's api table. */
#include <stdio.h>
#include <string.h>

#include "decode.h"

const char *kx__api_name(int16_t api_key, char *buf, size_t buflen)
{
	const kc_api *a = kc_api_find(api_key);
	if (a)
		return a->name;
	snprintf(buf, buflen, "api-%d", (int)api_key);
	return buf;
}

static kc_err fail(kx__msg *m, kc_err e, const char *why)
{
	m->err = e;
	m->body = NULL;
	snprintf(m->why, sizeof m->why, "%s", why);
	return e;
}

kc_err kx__msg_decode(kx__msg *m, const kx_event *ev, kc_arena *arena)
{
	memset(m, 0, sizeof *m);
	m->request = ev->type == KX_EV_REQUEST;
	m->api_key = ev->api_key;
	m->version = ev->api_version;
	m->correlation_id = ev->correlation_id;
	m->client_id = KC_STR_NULL;
	m->raw_error_code = -1;
	if (m->request && ev->client_id_len >= 0 && ev->client_id)
		m->client_id = (kc_str){ev->client_id, ev->client_id_len};
	m->api = ev->api_key >= 0 ? kc_api_find(ev->api_key) : NULL;
	if (!ev->header_ok || ev->header_len > ev->frame_len)
		return fail(m, KC_ERR_UNKNOWN_API, m->request ? "request header did not parse"
							      : "no request to pair with");
	const kc_msg_type *t = m->api ? (m->request ? m->api->request : m->api->response) : NULL;
	if (!t)
		return fail(m, KC_ERR_UNKNOWN_API, "api key not carried by the codec");
	if (m->version < t->min_version || m->version > t->max_version)
		return fail(m, KC_ERR_UNSUPPORTED_VERSION, "version not carried by the codec");
	void *body = kc_arena_alloc(arena, t->struct_size);
	if (!body)
		return fail(m, KC_ERR_NOMEM, "out of memory");
	kc_decode_error err = {0};
	kc_reader r;
	kc_reader_init(&r, ev->frame + ev->header_len, ev->frame_len - ev->header_len, &err);
	kc_err e;
	if (!m->request && ev->api_key == KC_API_KEY_API_VERSIONS) {
		/* a broker answers an ApiVersions version it does not know with
		 * a v0 body (KIP-511) */
		int16_t used = m->version;
		e = kc_api_versions_response_decode_any(&r, body, m->version, arena, &used);
		m->v0_fallback = e == KC_OK && used != m->version;
	} else {
		e = t->decode(&r, body, m->version, arena);
	}
	if (e == KC_OK && kc_reader_left(&r) > 0) {
		/* keep what decoded: the fields are right, there is more after */
		m->body = body;
		m->err = KC_ERR_TRAILING;
		snprintf(m->why, sizeof m->why, "%s at offset %zu: %zu bytes after the body",
			 t->name, ev->header_len + kc_reader_offset(&r), kc_reader_left(&r));
		return m->err;
	}
	if (e != KC_OK && !m->request && ev->api_key == KC_API_KEY_API_VERSIONS &&
	    ev->frame_len - ev->header_len >= 2) {
		const uint8_t *p = ev->frame + ev->header_len;
		m->raw_error_code = (int16_t)(p[0] << 8 | p[1]);
	}
	if (e != KC_OK) {
		char msg[128];
		kc_decode_error_format(&err, msg, sizeof msg);
		return fail(m, e, msg);
	}
	m->body = body;
	return KC_OK;
}
