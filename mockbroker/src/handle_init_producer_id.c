/*
 * InitProducerId (api key 22): a producer id and epoch. Idempotent
 * producers (null transactional id) always get a fresh id at epoch 0, on
 * any broker, as Kafka's coordinator answers them (including the v3+
 * epoch-bump requests of KIP-360). A transactional id must be sent to its
 * coordinator and gets the same id with a bumped epoch each time, which
 * fences the previous holder.
 */
#include <errno.h>

#include "handlers.h"

/* Kafka's transaction.max.timeout.ms default. */
#define MAX_TXN_TIMEOUT_MS 900000

static int16_t init_txn(km__req *rq, const kc_init_producer_id_request *req,
			kc_init_producer_id_response *resp)
{
	km_cluster *c = rq->cluster;
	if (req->transactional_id.len == 0)
		return KM__E_INVALID_REQUEST;
	if (km__cluster_coordinator(c, req->transactional_id) != rq->broker)
		return KM__E_NOT_COORDINATOR;
	if (req->transaction_timeout_ms <= 0 ||
	    req->transaction_timeout_ms > MAX_TXN_TIMEOUT_MS)
		return KM__E_INVALID_TRANSACTION_TIMEOUT;
	if (km__cluster_txn_init(c, req->transactional_id, &resp->producer_id,
				 &resp->producer_epoch))
		return KM__E_UNKNOWN_SERVER_ERROR;
	return 0;
}

int km__handle_init_producer_id(km__req *rq, const void *reqp, void *respp)
{
	const kc_init_producer_id_request *req = reqp;
	kc_init_producer_id_response *resp = respp;
	resp->throttle_time_ms = rq->throttle_ms;
	int16_t err = rq->forced_error;
	if (!err && req->transactional_id.len < 0) {
		resp->producer_id = km__cluster_next_pid(rq->cluster);
		resp->producer_epoch = 0;
	} else if (!err) {
		err = init_txn(rq, req, resp);
	}
	if (err) {
		resp->producer_id = -1;
		resp->producer_epoch = -1;
	}
	resp->error_code = err;
	km__req_error(rq, err);
	return 0;
}
