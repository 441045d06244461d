/*
 * ApiVersions (api key 18): the apis the mock serves, each with the
 * version range the codec carries. Versions out of range never reach this
 * handler (server.c answers them in v0 format).
 */
#include <errno.h>

#include "handlers.h"

/* Kafka's check of client_software_name/version (v3+):
 * [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
static bool software_valid(kc_str s)
{
	if (s.len <= 0)
		return false;
	for (int32_t i = 0; i < s.len; i++) {
		char ch = s.ptr[i];
		bool alnum = (ch >= 'a' && ch <= 'z') ||
			     (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
		bool inner = ch == '-' || ch == '.';
		if (!alnum && !(inner && i > 0 && i < s.len - 1))
			return false;
	}
	return true;
}

int km__handle_api_versions(km__req *rq, const void *reqp, void *respp)
{
	const kc_api_versions_request *req = reqp;
	kc_api_versions_response *resp = respp;
	resp->throttle_time_ms = rq->throttle_ms;
	if (rq->forced_error) {
		resp->error_code = rq->forced_error;
	} else if (rq->api_version >= 3 &&
		   (!software_valid(req->client_software_name) ||
		    !software_valid(req->client_software_version))) {
		resp->error_code = KM__E_INVALID_REQUEST;
	}
	km__req_error(rq, resp->error_code);
	if (resp->error_code)
		return 0;
	size_t n = 0;
	for (int16_t k = 0; k < KM_API_KEY_LIMIT; k++)
		n += km__handler_for(k) && kc_api_find(k);
	resp->api_keys = km__req_array(rq, n, sizeof *resp->api_keys);
	if (!resp->api_keys)
		return -ENOMEM;
	resp->api_keys_count = (int32_t)n;
	n = 0;
	for (int16_t k = 0; k < KM_API_KEY_LIMIT; k++) {
		const kc_api *api = kc_api_find(k);
		if (!api || !km__handler_for(k))
			continue;
		kc_api_versions_response_api_version *v = &resp->api_keys[n++];
		v->api_key = k;
		v->min_version = api->min_version;
		v->max_version = api->max_version;
	}
	return 0;
}
