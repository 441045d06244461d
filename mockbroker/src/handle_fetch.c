/*
 * Fetch (api key 1): stored batches from the fetch offset on, up to the
 * partition and response byte limits, sent without a copy. Like Kafka:
 *  - the batch holding the fetch offset is returned whole (readers skip
 *    its earlier records); from v3 the first partition with data gets at
 *    least one whole batch whatever the limits (KIP-74), before v3 a
 *    batch larger than partition_max_bytes is cut (the client sees a
 *    partial batch);
 *  - data is read from one segment per partition per request;
 *  - fewer than min_bytes and max_wait_ms > 0 parks the request until
 *    data arrives or the wait ends (errors answer at once);
 *  - no fetch sessions are created (session id 0, as a broker whose
 *    session cache is full); an incremental request (epoch > 0) gets
 *    FETCH_SESSION_ID_NOT_FOUND.
 * Record formats are not down-converted: a version too old for a stored
 * batch's magic (v0-1 read magic 0, v2-3 magic 0-1) answers that partition
 * UNSUPPORTED_VERSION, as Kafka does with message.downconversion.enable =
 * false; zstd batches before v10 answer UNSUPPORTED_COMPRESSION_TYPE.
 */
#include <errno.h>

#include "faults.h"
#include "handlers.h"

typedef kc_fetch_response_partition_data part_resp;

typedef struct fetch_state {
	size_t budget;     /* bytes the response may still carry */
	size_t total;      /* record bytes in the response */
	bool any_error;
	bool *named;       /* brokers named in current_leader hints */
} fetch_state;

static int max_magic(int16_t version)
{
	return version >= 4 ? 2 : version >= 2 ? 1 : 0;
}

static int16_t read_partition(km__req *rq, fetch_state *st, km__partition *p,
			      const kc_fetch_request_fetch_partition *q,
			      part_resp *pr)
{
	int16_t v = rq->api_version;
	km__plog *log = &p->log;
	if (q->fetch_offset < log->log_start || q->fetch_offset > log->end_offset)
		return KM__E_OFFSET_OUT_OF_RANGE;
	pr->high_watermark = log->end_offset;
	pr->last_stable_offset = log->end_offset;
	pr->log_start_offset = log->log_start;
	size_t limit = q->partition_max_bytes > 0 ? (size_t)q->partition_max_bytes
						  : 0;
	if (v >= 3 && limit > st->budget)
		limit = st->budget;
	km__span span;
	km__plog_read(log, q->fetch_offset, limit, v >= 3 && st->total == 0,
		      &span);
	if (!span.len)
		return 0;
	if (span.max_magic > max_magic(v))
		return KM__E_UNSUPPORTED_VERSION;
	if (span.has_zstd && v < 10)
		return KM__E_UNSUPPORTED_COMPRESSION_TYPE;
	if (km__req_ref(rq, span.seg))
		return KM__E_UNKNOWN_SERVER_ERROR;
	pr->records = (kc_bytes){span.p, (int32_t)span.len};
	st->total += span.len;
	st->budget = span.len < st->budget ? st->budget - span.len : 0;
	return 0;
}

static void answer(km__req *rq, const kc_fetch_request *req, fetch_state *st,
		   const km__topic *t, int16_t topic_err,
		   const kc_fetch_request_fetch_partition *q, part_resp *pr)
{
	kc_fetch_response_partition_data_init(pr);
	pr->partition_index = q->partition;
	pr->high_watermark = -1;
	pr->records = (kc_bytes){(const uint8_t *)"", 0};
	/* READ_UNCOMMITTED: null; READ_COMMITTED: none aborted */
	if (req->isolation_level == 0)
		pr->aborted_transactions_count = -1;
	km__partition *p = t ? km__topic_partition(t, q->partition) : NULL;
	int16_t err = rq->forced_error ? rq->forced_error : topic_err;
	if (!err && !p)
		err = KM__E_UNKNOWN_TOPIC_OR_PARTITION;
	if (!err)
		err = km__faults_partition_error(rq, p);
	if (!err) {
		err = km__partition_check(p, rq->broker->id,
					  rq->api_version >= 9
						  ? q->current_leader_epoch
						  : -1);
		if (rq->api_version >= 12 &&
		    (err == KM__E_NOT_LEADER_OR_FOLLOWER ||
		     err == KM__E_FENCED_LEADER_EPOCH)) {
			/* v12+: the leader to go to (KIP-951) */
			pr->current_leader.leader_id = p->leader;
			pr->current_leader.leader_epoch = p->leader_epoch;
			st->named[p->leader - 1] = true;
		}
	}
	if (!err)
		err = read_partition(rq, st, p, q, pr);
	pr->error_code = err;
	if (err) {
		st->any_error = true;
		km__req_error(rq, err);
	}
}

/* node_endpoints (v16+): the brokers named in current_leader hints. */
static int fill_endpoints(km__req *rq, kc_fetch_response *resp,
			  const bool *named)
{
	km_cluster *c = rq->cluster;
	size_t n = 0;
	for (int32_t i = 0; i < c->nbrokers; i++)
		n += named[i];
	if (!n || rq->api_version < 16)
		return 0;
	resp->node_endpoints = km__req_array(rq, n, sizeof *resp->node_endpoints);
	if (!resp->node_endpoints)
		return -ENOMEM;
	resp->node_endpoints_count = (int32_t)n;
	n = 0;
	for (int32_t i = 0; i < c->nbrokers; i++) {
		if (!named[i])
			continue;
		kc_fetch_response_node_endpoint *e = &resp->node_endpoints[n++];
		e->node_id = c->brokers[i].id;
		e->host = KC_STR_LIT("127.0.0.1");
		e->port = c->brokers[i].port;
		e->rack = KC_STR_NULL;
	}
	return 0;
}

int km__handle_fetch(km__req *rq, const void *reqp, void *respp)
{
	const kc_fetch_request *req = reqp;
	kc_fetch_response *resp = respp;
	km_cluster *c = rq->cluster;
	int16_t v = rq->api_version;
	resp->throttle_time_ms = rq->throttle_ms;
	if (v >= 7 && req->session_epoch > 0) {
		resp->error_code = KM__E_FETCH_SESSION_ID_NOT_FOUND;
		km__req_error(rq, resp->error_code);
		return 0;
	}
	fetch_state st = {
		.budget = req->max_bytes > 0 ? (size_t)req->max_bytes : 0,
		.named = km__req_array(rq, (size_t)c->nbrokers, sizeof(bool)),
	};
	int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
	resp->responses = km__req_array(rq, (size_t)nt, sizeof *resp->responses);
	if (!st.named || (nt && !resp->responses))
		return -ENOMEM;
	resp->responses_count = nt;
	for (int32_t i = 0; i < nt; i++) {
		const kc_fetch_request_fetch_topic *qt = &req->topics[i];
		kc_fetch_response_fetchable_topic_response *tr =
			&resp->responses[i];
		int32_t np = qt->partitions_count > 0 ? qt->partitions_count : 0;
		const km__topic *t;
		int16_t topic_err = 0;
		if (v >= 13) {
			t = km__cluster_topic_by_id(c, &qt->topic_id);
			if (!t)
				topic_err = KM__E_UNKNOWN_TOPIC_ID;
		} else {
			t = km__cluster_topic(c, qt->topic.ptr,
					      (size_t)qt->topic.len);
		}
		tr->topic = qt->topic;
		tr->topic_id = qt->topic_id;
		tr->partitions = km__req_array(rq, (size_t)np,
					       sizeof *tr->partitions);
		if (np && !tr->partitions)
			return -ENOMEM;
		tr->partitions_count = np;
		for (int32_t j = 0; j < np; j++)
			answer(rq, req, &st, t, topic_err, &qt->partitions[j],
			       &tr->partitions[j]);
	}
	if (rq->may_park && !st.any_error && req->max_wait_ms > 0 &&
	    st.total < (size_t)(req->min_bytes > 0 ? req->min_bytes : 0) &&
	    nt > 0)
		return KM__PARK;
	return fill_endpoints(rq, resp, st.named);
}
