/*
 * ListOffsets (api key 2): earliest (-2, and -4 earliest local), latest
 * (-1), max timestamp (-3, v7+), latest tiered (-5, v9+: -1, there is no
 * tiered storage), or the first offset whose timestamp is at least the
 * one asked. v0 answers at most one offset in old_style_offsets. The
 * leader epoch answered (v4+) is the partition's current one.
 */
#include <errno.h>

#include "faults.h"
#include "handlers.h"

typedef kc_list_offsets_response_list_offsets_partition_response part_resp;

static int16_t lookup(const km__plog *log, int16_t version, int64_t ts,
		      int64_t *offset, int64_t *found_ts)
{
	*found_ts = -1;
	kc_err e = KC_OK;
	if (ts == -1) {
		*offset = log->end_offset;
	} else if (ts == -2 || (ts == -4 && version >= 8)) {
		*offset = log->log_start;
	} else if (ts == -3 && version >= 7) {
		e = km__plog_max_timestamp(log, offset, found_ts);
	} else if (ts == -5 && version >= 9) {
		*offset = -1;
	} else {
		e = km__plog_offset_for_time(log, ts, offset, found_ts);
	}
	return e == KC_OK ? 0 : KM__E_UNKNOWN_SERVER_ERROR;
}

static int answer(km__req *rq, const km__topic *t,
		  const kc_list_offsets_request_list_offsets_partition *q,
		  part_resp *pr)
{
	int16_t v = rq->api_version;
	pr->partition_index = q->partition_index;
	const km__partition *p = t ? km__topic_partition(t, q->partition_index)
				   : NULL;
	int16_t err = rq->forced_error;
	if (!err && !p)
		err = KM__E_UNKNOWN_TOPIC_OR_PARTITION;
	if (!err)
		err = km__faults_partition_error(rq, p);
	if (!err)
		err = km__partition_check(p, rq->broker->id,
					  v >= 4 ? q->current_leader_epoch : -1);
	int64_t offset = -1, ts = -1;
	if (!err)
		err = lookup(&p->log, v, q->timestamp, &offset, &ts);
	pr->error_code = err;
	km__req_error(rq, err);
	if (err)
		return 0;
	if (v >= 4)
		pr->leader_epoch = p->leader_epoch;
	if (v >= 1) {
		pr->offset = offset;
		pr->timestamp = ts;
		return 0;
	}
	if (offset < 0 || q->max_num_offsets < 1)
		return 0;
	pr->old_style_offsets = km__req_array(rq, 1, sizeof(int64_t));
	if (!pr->old_style_offsets)
		return -ENOMEM;
	pr->old_style_offsets[0] = offset;
	pr->old_style_offsets_count = 1;
	return 0;
}

int km__handle_list_offsets(km__req *rq, const void *reqp, void *respp)
{
	const kc_list_offsets_request *req = reqp;
	kc_list_offsets_response *resp = respp;
	resp->throttle_time_ms = rq->throttle_ms;
	int32_t nt = req->topics_count > 0 ? req->topics_count : 0;
	resp->topics = km__req_array(rq, (size_t)nt, sizeof *resp->topics);
	if (nt && !resp->topics)
		return -ENOMEM;
	resp->topics_count = nt;
	for (int32_t i = 0; i < nt; i++) {
		const kc_list_offsets_request_list_offsets_topic *qt =
			&req->topics[i];
		kc_list_offsets_response_list_offsets_topic_response *tr =
			&resp->topics[i];
		int32_t np = qt->partitions_count > 0 ? qt->partitions_count : 0;
		tr->name = qt->name;
		tr->partitions = km__req_array(rq, (size_t)np,
					       sizeof *tr->partitions);
		if (np && !tr->partitions)
			return -ENOMEM;
		tr->partitions_count = np;
		const km__topic *t = km__cluster_topic(rq->cluster, qt->name.ptr,
						       (size_t)qt->name.len);
		for (int32_t j = 0; j < np; j++) {
			part_resp *pr = &tr->partitions[j];
			kc_list_offsets_response_list_offsets_partition_response_init(pr);
			if (answer(rq, t, &qt->partitions[j], pr))
				return -ENOMEM;
		}
	}
	return 0;
}
