/*
 * One frame through the generated api table. See framecheck.h.
 */
#include "framecheck.h"

#include <string.h>

#define FC_TRY(expr)                                                           \
	do {                                                                   \
		kc_err fc_e_ = (expr);                                         \
		if (fc_e_ != KC_OK)                                            \
			return fc_e_;                                          \
	} while (0)

static kc_err fc_fail(kc_decode_error *err, kc_err code, size_t off,
		      const char *field)
{
	err->code = code;
	err->offset = off;
	err->field = field;
	err->in_compressed = 0;
	return code;
}

/* Decode `type` at `version` from r into a fresh arena struct that must
 * use the rest of r. */
static kc_err fc_body(kc_reader *r, const kc_msg_type *type, int16_t version,
		      kc_arena *arena, void **out)
{
	void *body = kc_arena_alloc(arena, type->struct_size);
	if (!body)
		return fc_fail(r->err, KC_ERR_NOMEM, kc_reader_offset(r),
			       type->name);
	FC_TRY(type->decode(r, body, version, arena));
	if (kc_reader_left(r))
		return fc_fail(r->err, KC_ERR_TRAILING, kc_reader_offset(r),
			       type->name);
	*out = body;
	return KC_OK;
}

/* The api and checked version of a frame, or an error. */
static kc_err fc_api(int16_t key, int16_t version, bool request,
		     kc_decode_error *err, const kc_api **api)
{
	const char *field = request ? "RequestHeader.request_api_key"
				    : "ResponseHeader";
	*api = kc_api_find(key);
	if (!*api || !(request ? (*api)->request : (*api)->response))
		return fc_fail(err, KC_ERR_UNKNOWN_API, 0, field);
	if (version < (*api)->min_version || version > (*api)->max_version)
		return fc_fail(err, KC_ERR_UNSUPPORTED_VERSION, request ? 2 : 0,
			       request ? "RequestHeader.request_api_version"
				       : field);
	return KC_OK;
}

kc_err kct_decode_request(const uint8_t *p, size_t n, kc_arena *arena,
			  kct_frame *f, kc_decode_error *err)
{
	kc_reader r;

	memset(f, 0, sizeof *f);
	memset(err, 0, sizeof *err);
	f->request = true;
	/* request_api_key and request_api_version pick the header version,
	 * so they are read before the header itself. */
	if (n < 4)
		return fc_fail(err, KC_ERR_TRUNCATED, n < 2 ? 0 : 2,
			       n < 2 ? "RequestHeader.request_api_key"
				     : "RequestHeader.request_api_version");
	f->api_key = (int16_t)(p[0] << 8 | p[1]);
	f->version = (int16_t)(p[2] << 8 | p[3]);
	FC_TRY(fc_api(f->api_key, f->version, true, err, &f->api));
	f->header_version = kc_request_header_version(f->api_key, f->version);
	kc_reader_init(&r, p, n, err);
	FC_TRY(kc_request_header_decode(&r, &f->req_hdr, f->header_version,
					     arena));
	f->body_offset = kc_reader_offset(&r);
	return fc_body(&r, f->api->request, f->version, arena, &f->body);
}

kc_err kct_decode_response(const uint8_t *p, size_t n, int16_t api_key,
			   int16_t version, kc_arena *arena, kct_frame *f,
			   kc_decode_error *err)
{
	kc_reader r;

	memset(f, 0, sizeof *f);
	memset(err, 0, sizeof *err);
	f->api_key = api_key;
	f->version = version;
	FC_TRY(fc_api(api_key, version, false, err, &f->api));
	f->header_version = kc_response_header_version(api_key, version);
	kc_reader_init(&r, p, n, err);
	FC_TRY(kc_response_header_decode(&r, &f->rsp_hdr, f->header_version,
					      arena));
	f->body_offset = kc_reader_offset(&r);
	kc_reader body_r = r;
	kc_err e = fc_body(&r, f->api->response, version, arena, &f->body);
	if (e == KC_OK || api_key != KC_API_VERSIONS_RESPONSE_API_KEY ||
	    version == 0)
		return e;
	/* A broker that does not know this ApiVersions version answers
	 * UNSUPPORTED_VERSION with a v0 body; clients parse it again as v0. */
	kc_decode_error first = *err;
	if (fc_body(&body_r, f->api->response, 0, arena, &f->body) != KC_OK) {
		*err = first;
		return e;
	}
	memset(err, 0, sizeof *err);
	f->version = 0;
	f->v0_fallback = true;
	return KC_OK;
}

bool kct_api_versions_error(const uint8_t *p, size_t n, int16_t *error_code)
{
	/* ResponseHeader v0 (correlation_id), then error_code */
	if (n < 6)
		return false;
	*error_code = (int16_t)(p[4] << 8 | p[5]);
	return true;
}

kc_err kct_encode(kc_writer *w, const kct_frame *f)
{
	if (f->request) {
		FC_TRY(kc_request_header_encode(w, &f->req_hdr,
						    f->header_version));
		return f->api->request->encode(w, f->body, f->version);
	}
	FC_TRY(kc_response_header_encode(w, &f->rsp_hdr, f->header_version));
	return f->api->response->encode(w, f->body, f->version);
}

size_t kct_size(const kct_frame *f)
{
	if (f->request)
		return kc_request_header_size(&f->req_hdr, f->header_version) +
		       f->api->request->size(f->body, f->version);
	return kc_response_header_size(&f->rsp_hdr, f->header_version) +
	       f->api->response->size(f->body, f->version);
}

/* Second half of kct_roundtrip_ok(), once w1 holds f's encoding. */
static const char *fc_redecode(const kct_frame *f, kc_arena *arena,
			       const kc_writer *w1, kc_writer *w2)
{
	kc_decode_error err;
	kct_frame g;
	kc_err e;

	const uint8_t *b1 = kc_writer_data(w1);
	size_t n1 = kc_writer_pos(w1);
	if (f->request)
		e = kct_decode_request(b1, n1, arena, &g, &err);
	else
		e = kct_decode_response(b1, n1, f->api_key, f->version, arena,
					&g, &err);
	if (e != KC_OK)
		return "the encoder's output does not decode";
	if (kct_encode(w2, &g) != KC_OK || kc_writer_err(w2) != KC_OK)
		return "decode(encode(x)) does not encode";
	if (kc_writer_pos(w2) != n1 || memcmp(kc_writer_data(w2), b1, n1))
		return "decode(encode(x)) encodes differently from x";
	return NULL;
}

bool kct_roundtrip_ok(const kct_frame *f, kc_arena *arena, const char **why)
{
	kc_writer w1, w2;

	kc_writer_init(&w1);
	kc_writer_init(&w2);
	*why = NULL;
	if (kct_encode(&w1, f) != KC_OK || kc_writer_err(&w1) != KC_OK)
		*why = "a decoded frame does not encode";
	else if (kct_size(f) != kc_writer_pos(&w1))
		*why = "size() differs from the bytes encode wrote";
	else
		*why = fc_redecode(f, arena, &w1, &w2);
	kc_writer_free(&w1);
	kc_writer_free(&w2);
	return *why == NULL;
}
