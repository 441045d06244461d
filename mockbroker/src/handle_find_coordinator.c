/*
 * FindCoordinator (api key 10): the broker coordinating a group or a
 * transactional id (a hash of the key over the brokers). v4+ answers
 * several keys. Share groups (key type 2) are not served: INVALID_REQUEST.
 */
#include <errno.h>

#include "handlers.h"

static int16_t lookup(km__req *rq, int8_t key_type, kc_str key,
		      const km__broker **out)
{
	*out = NULL;
	if (rq->forced_error)
		return rq->forced_error;
	if (key_type != 0 && key_type != 1)
		return KM__E_INVALID_REQUEST;
	*out = km__cluster_coordinator(rq->cluster, key);
	return 0;
}

int km__handle_find_coordinator(km__req *rq, const void *reqp, void *respp)
{
	const kc_find_coordinator_request *req = reqp;
	kc_find_coordinator_response *resp = respp;
	resp->throttle_time_ms = rq->throttle_ms;
	const km__broker *b;
	if (rq->api_version < 4) {
		resp->error_code = lookup(rq, req->key_type, req->key, &b);
		km__req_error(rq, resp->error_code);
		resp->node_id = b ? b->id : -1;
		resp->host = b ? KC_STR_LIT("127.0.0.1") : KC_STR_LIT("");
		resp->port = b ? b->port : -1;
		return 0;
	}
	int32_t n = req->coordinator_keys_count > 0 ? req->coordinator_keys_count
						    : 0;
	resp->coordinators = km__req_array(rq, (size_t)n,
					   sizeof *resp->coordinators);
	if (n && !resp->coordinators)
		return -ENOMEM;
	resp->coordinators_count = n;
	for (int32_t i = 0; i < n; i++) {
		kc_find_coordinator_response_coordinator *co =
			&resp->coordinators[i];
		co->key = req->coordinator_keys[i];
		co->error_code = lookup(rq, req->key_type,
					req->coordinator_keys[i], &b);
		co->error_message = KC_STR_NULL;
		co->node_id = b ? b->id : -1;
		co->host = b ? KC_STR_LIT("127.0.0.1") : KC_STR_LIT("");
		co->port = b ? b->port : -1;
		km__req_error(rq, co->error_code);
	}
	return 0;
}
