/*
 * Produce (api key 0): validate each partition's records as a broker
 * does, check idempotent producer state, append, answer offsets. acks=0
 * gets no response, or a closed connection when a partition failed
 * (KafkaApis.handleProduceRequest).
 */
#include <errno.h>

#include "faults.h"
#include "handlers.h"
#include "produce_validate.h"

typedef kc_produce_response_partition_produce_response part_resp;

/* Batches from this size on are kept in the request's input buffer
 * instead of copied into a segment, when that buffer holds little else
 * (at most twice the batch), so memory stays bounded by twice the
 * retention. Smaller ones are copied: they share segments, so a Fetch
 * reads many at once. */
#define IN_PLACE_MIN ((size_t)16384)

static int16_t fail(const char **why, const char *msg, int16_t code)
{
	*why = msg;
	return code;
}

static int16_t append(km__req *rq, km__partition *p, kc_bytes records,
		      const km__produce_info *info, part_resp *pr,
		      const char **why)
{
	km_counters *k = &rq->broker->counters;
	if (info->nrecords == 0)
		return 0; /* an empty legacy set: nothing to append */
	if (info->transactional)
		return fail(why, "transactions are not served by the mock",
			    KM__E_INVALID_TXN_STATE);
	int64_t lat = p->topic->log_append_time ? km__wall_ms() : -1;
	bool idempotent = info->magic == 2 && info->producer_id >= 0;
	int32_t last_seq = 0;
	if (idempotent) {
		last_seq = km__seq_add(info->base_sequence,
				       info->last_offset_delta);
		const km__pbatch *dup;
		int16_t err = km__pstate_check(
			&p->producers, info->producer_id, info->producer_epoch,
			info->base_sequence, last_seq, &dup);
		if (err == KM__E_INVALID_PRODUCER_EPOCH)
			return fail(why, "the producer epoch is fenced", err);
		if (err)
			return fail(why, "the sequence does not follow the "
				    "producer's last batch", err);
		if (dup) {
			/* A retry: the first append's answer, no append. */
			pr->base_offset = dup->first_offset;
			pr->log_append_time_ms = dup->timestamp;
			k->duplicate_batches++;
			return 0;
		}
		if (km__pstate_reserve(&p->producers))
			return fail(why, "out of memory",
				    KM__E_UNKNOWN_SERVER_ERROR);
	}
	km__append a = {.magic = info->magic,
			.log_append_time = lat,
			.leader_epoch = p->leader_epoch};
	int64_t base;
	size_t len = (size_t)records.len;
	kn__block *blk = NULL;
	if (info->magic == 2 && rq->frame && len >= IN_PLACE_MIN)
		blk = kn__conn_take_input(rq->session->conn, rq->frame, 2 * len);
	/* The request's bytes are ours to patch once their buffer is kept. */
	kc_err e = blk ? km__plog_append_in_place(
				 &p->log, (uint8_t *)(uintptr_t)records.ptr,
				 len, &a, blk, &base)
		       : km__plog_append(&p->log, records.ptr, len, &a, &base);
	kn__block_unref(blk);
	if (e != KC_OK)
		return fail(why, "the log could not store the records",
			    KM__E_UNKNOWN_SERVER_ERROR);
	if (idempotent) {
		km__pbatch pb = {
			.first_seq = info->base_sequence,
			.last_seq = last_seq,
			.first_offset = base,
			.last_offset = base + info->last_offset_delta,
			.timestamp = lat,
		};
		km__pstate_record(&p->producers, info->producer_id,
				  info->producer_epoch, &pb);
	}
	k->batches_appended++;
	k->records_appended += (uint64_t)info->nrecords;
	pr->base_offset = base;
	pr->log_append_time_ms = lat;
	km__server_data_arrived(rq->cluster);
	return 0;
}

/* One partition, checked in Kafka's order: existence, the request-level
 * record rules, acks, leadership, the log's validation, producer state. */
static int16_t produce_partition(km__req *rq, const kc_produce_request *req,
				 km__topic *t,
				 const kc_produce_request_partition_produce_data *pd,
				 part_resp *pr, bool *named, const char **why)
{
	*why = NULL;
	if (rq->forced_error)
		return rq->forced_error;
	km__partition *p = t ? km__topic_partition(t, pd->index) : NULL;
	if (!p)
		return KM__E_UNKNOWN_TOPIC_OR_PARTITION;
	int16_t err = km__faults_partition_error(rq, p);
	if (err)
		return err;
	err = km__produce_precheck(pd->records, rq->api_version, why);
	if (err)
		return err;
	if (req->acks != 0 && req->acks != 1 && req->acks != -1)
		return KM__E_INVALID_REQUIRED_ACKS;
	err = km__partition_check(p, rq->broker->id, -1);
	if (err && rq->api_version >= 10) {
		/* v10+: where the partition went (KIP-951) */
		pr->current_leader.leader_id = p->leader;
		pr->current_leader.leader_epoch = p->leader_epoch;
		named[p->leader - 1] = true;
	}
	if (err)
		return err;
	km__produce_info info;
	/* Records never inflate past what an uncompressed request could
	 * carry. */
	err = km__produce_validate(pd->records, rq->api_version,
				   rq->cluster->opts.max_message_bytes,
				   rq->cluster->opts.max_frame, &info, why);
	if (err)
		return err;
	err = append(rq, p, pd->records, &info, pr, why);
	if (!err)
		pr->log_start_offset = p->log.log_start;
	return err;
}

/* node_endpoints (v10+): the brokers named in current_leader hints. */
static int fill_endpoints(km__req *rq, kc_produce_response *resp,
			  const bool *named)
{
	km_cluster *c = rq->cluster;
	size_t n = 0;
	for (int32_t i = 0; i < c->nbrokers; i++)
		n += named[i];
	if (!n || rq->api_version < 10)
		return 0;
	resp->node_endpoints = km__req_array(rq, n, sizeof *resp->node_endpoints);
	if (!resp->node_endpoints)
		return -ENOMEM;
	resp->node_endpoints_count = (int32_t)n;
	n = 0;
	for (int32_t i = 0; i < c->nbrokers; i++) {
		if (!named[i])
			continue;
		kc_produce_response_node_endpoint *e = &resp->node_endpoints[n++];
		e->node_id = c->brokers[i].id;
		e->host = KC_STR_LIT("127.0.0.1");
		e->port = c->brokers[i].port;
		e->rack = KC_STR_NULL;
	}
	return 0;
}

int km__handle_produce(km__req *rq, const void *reqp, void *respp)
{
	const kc_produce_request *req = reqp;
	kc_produce_response *resp = respp;
	km_cluster *c = rq->cluster;
	resp->throttle_time_ms = rq->throttle_ms;
	bool *named = km__req_array(rq, (size_t)c->nbrokers, sizeof *named);
	int32_t ntopics = req->topic_data_count > 0 ? req->topic_data_count : 0;
	resp->responses = km__req_array(rq, (size_t)ntopics,
					sizeof *resp->responses);
	if (!named || (ntopics && !resp->responses))
		return -ENOMEM;
	resp->responses_count = ntopics;
	for (int32_t i = 0; i < ntopics; i++) {
		const kc_produce_request_topic_produce_data *td =
			&req->topic_data[i];
		kc_produce_response_topic_produce_response *tr =
			&resp->responses[i];
		int32_t nparts = td->partition_data_count > 0
					 ? td->partition_data_count
					 : 0;
		tr->name = td->name;
		tr->partition_responses = km__req_array(
			rq, (size_t)nparts, sizeof *tr->partition_responses);
		if (nparts && !tr->partition_responses)
			return -ENOMEM;
		tr->partition_responses_count = nparts;
		km__topic *t = km__cluster_topic(c, td->name.ptr,
						 (size_t)td->name.len);
		for (int32_t j = 0; j < nparts; j++) {
			part_resp *pr = &tr->partition_responses[j];
			kc_produce_response_partition_produce_response_init(pr);
			pr->index = td->partition_data[j].index;
			pr->base_offset = -1;
			const char *why;
			pr->error_code = produce_partition(
				rq, req, t, &td->partition_data[j], pr, named,
				&why);
			if (why && pr->error_code)
				pr->error_message = kc_str_c(why);
			km__req_error(rq, pr->error_code);
		}
	}
	if (req->acks == 0) {
		rq->no_response = true;
		rq->close_after = rq->error_code != 0;
		return 0;
	}
	return fill_endpoints(rq, resp, named);
}
