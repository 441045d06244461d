/* Request/response frames and ApiVersions' version fallback. */
#include "buf_int.h"
#include "kafkit/protocol.h"

static kc_err check_api(int16_t api_key, int16_t api_version,
			const kc_api **api)
{
	*api = kc_api_find(api_key);
	if (!*api)
		return KC_ERR_UNKNOWN_API;
	if (api_version < (*api)->min_version ||
	    api_version > (*api)->max_version)
		return KC_ERR_UNSUPPORTED_VERSION;
	return KC_OK;
}

/* Patch the frame's leading size once header and body are written. */
static kc_err finish_frame(kc_writer *w, kc_wslot size, kc_err body_err)
{
	if (body_err != KC_OK)
		return body_err;
	size_t n = kc_writer_since(w, size);
	if (n > INT32_MAX)
		return KC_ERR_TOO_LARGE;
	kc_writer_patch_i32(w, size, (int32_t)n);
	return kc_writer_err(w);
}

kc_err kc_request_frame_encode(kc_writer *w, int16_t api_key,
			       int16_t api_version, int32_t correlation_id,
			       kc_str client_id, const void *body)
{
	const kc_api *api;
	KC__TRY(check_api(api_key, api_version, &api));
	kc_request_header h;
	kc_request_header_init(&h);
	h.request_api_key = api_key;
	h.request_api_version = api_version;
	h.correlation_id = correlation_id;
	h.client_id = client_id;
	kc_wslot size = kc_writer_reserve(w, 4);
	kc_err err = kc_request_header_encode(
		w, &h, kc_request_header_version(api_key, api_version));
	if (err == KC_OK)
		err = api->request->encode(w, body, api_version);
	return finish_frame(w, size, err);
}

kc_err kc_response_frame_encode(kc_writer *w, int16_t api_key,
				int16_t api_version, int32_t correlation_id,
				const void *body)
{
	const kc_api *api;
	KC__TRY(check_api(api_key, api_version, &api));
	kc_response_header h;
	kc_response_header_init(&h);
	h.correlation_id = correlation_id;
	kc_wslot size = kc_writer_reserve(w, 4);
	kc_err err = kc_response_header_encode(
		w, &h, kc_response_header_version(api_key, api_version));
	if (err == KC_OK)
		err = api->response->encode(w, body, api_version);
	return finish_frame(w, size, err);
}

kc_err kc_api_versions_unsupported_frame_encode(kc_writer *w,
						int32_t correlation_id,
						int16_t min_version,
						int16_t max_version)
{
	kc_api_versions_response_api_version own = {
		.api_key = KC_API_KEY_API_VERSIONS,
		.min_version = min_version,
		.max_version = max_version,
	};
	kc_api_versions_response body;
	kc_api_versions_response_init(&body);
	body.error_code = KC_KAFKA_UNSUPPORTED_VERSION;
	body.api_keys = &own;
	body.api_keys_count = 1;
	return kc_response_frame_encode(w, KC_API_KEY_API_VERSIONS, 0,
					correlation_id, &body);
}

kc_err kc_api_versions_response_decode_any(kc_reader *r,
					   kc_api_versions_response *m,
					   int16_t version, kc_arena *arena,
					   int16_t *decoded_version)
{
	/* error_code leads every version, so it can be read before knowing the
	 * layout: UNSUPPORTED_VERSION means the broker fell back to v0. */
	int16_t used = version;
	if (kc__r_left(r) >= 2 &&
	    (int16_t)kc__get_be16(r->p) == KC_KAFKA_UNSUPPORTED_VERSION)
		used = 0;
	if (decoded_version)
		*decoded_version = used;
	return kc_api_versions_response_decode(r, m, used, arena);
}
