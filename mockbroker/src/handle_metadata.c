/*
 * Metadata (api key 3): brokers, and topics with their partitions' leaders,
 * leader epochs, replicas and ISR. Unknown topics are created when the
 * cluster and the request allow it; like Kafka, the response that creates
 * a topic answers it LEADER_NOT_AVAILABLE without partitions, and the next
 * Metadata request sees it.
 *
 * Brokers taken down by a fault are left out, as Kafka lists live brokers
 * only; a partition whose leader is down answers LEADER_NOT_AVAILABLE with
 * leader -1, its down replicas leave the ISR and are listed in
 * offline_replicas (v5+), as Kafka's metadata cache does.
 */
#include <errno.h>

#include "handlers.h"

typedef kc_metadata_response_metadata_response_topic topic_resp;

/* Kafka's operation bits (AclOperation codes) allowed without ACLs:
 * topics READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
 * DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11; the cluster CREATE 5, ALTER 7,
 * DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
 * IDEMPOTENT_WRITE 12. */
#define TOPIC_OPS 0x0df8
#define CLUSTER_OPS 0x1fa0

static bool is_down(const km_cluster *c, int32_t id)
{
	return id >= 1 && id <= c->nbrokers && c->brokers[id - 1].down;
}

/* Some broker is down: the partition's leader may be gone, and its down
 * replicas leave the ISR for offline_replicas. */
static int down_replicas(km__req *rq, const km__partition *p,
			 kc_metadata_response_metadata_response_partition *pr)
{
	km_cluster *c = rq->cluster;
	int32_t nup = 0;
	for (int32_t r = 0; r < p->nreplicas; r++)
		nup += !is_down(c, p->replicas[r]);
	if (is_down(c, p->leader)) {
		pr->error_code = KM__E_LEADER_NOT_AVAILABLE;
		pr->leader_id = -1;
		km__req_error(rq, pr->error_code);
	}
	if (nup == p->nreplicas)
		return 0;
	int32_t *isr = km__req_array(rq, (size_t)p->nreplicas, sizeof *isr);
	int32_t *off = km__req_array(rq, (size_t)p->nreplicas, sizeof *off);
	if (!isr || !off)
		return -ENOMEM;
	int32_t ni = 0, no = 0;
	for (int32_t r = 0; r < p->nreplicas; r++) {
		if (is_down(c, p->replicas[r]))
			off[no++] = p->replicas[r];
		else
			isr[ni++] = p->replicas[r];
	}
	pr->isr_nodes = isr;
	pr->isr_nodes_count = ni;
	pr->offline_replicas = off;
	pr->offline_replicas_count = no;
	return 0;
}

static int describe(km__req *rq, const kc_metadata_request *req,
		    const km__topic *t, topic_resp *tr)
{
	tr->name = km__str(t->name, t->name_len);
	tr->topic_id = t->id;
	if (rq->api_version >= 8 && req->include_topic_authorized_operations)
		tr->topic_authorized_operations = TOPIC_OPS;
	tr->partitions = km__req_array(rq, (size_t)t->npartitions,
				       sizeof *tr->partitions);
	if (!tr->partitions)
		return -ENOMEM;
	tr->partitions_count = t->npartitions;
	bool some_down = false;
	for (int32_t b = 0; b < rq->cluster->nbrokers; b++)
		some_down |= rq->cluster->brokers[b].down;
	for (int32_t i = 0; i < t->npartitions; i++) {
		const km__partition *p = &t->partitions[i];
		kc_metadata_response_metadata_response_partition *pr =
			&tr->partitions[i];
		pr->partition_index = p->index;
		pr->leader_id = p->leader;
		pr->leader_epoch = p->leader_epoch;
		pr->replica_nodes = p->replicas;
		pr->replica_nodes_count = p->nreplicas;
		/* every replica that is up is in sync */
		pr->isr_nodes = p->replicas;
		pr->isr_nodes_count = p->nreplicas;
		if (some_down && down_replicas(rq, p, pr))
			return -ENOMEM;
	}
	return 0;
}

static int answer_topic(km__req *rq, const kc_metadata_request *req,
			const kc_metadata_request_metadata_request_topic *q,
			topic_resp *tr)
{
	km_cluster *c = rq->cluster;
	km__topic *t = NULL;
	if (q->name.len < 0) {
		/* by id (v12; v10-11 brokers take names only); the name is
		 * null for an unknown id */
		bool v12 = rq->api_version >= 12;
		t = v12 ? km__cluster_topic_by_id(c, &q->topic_id) : NULL;
		tr->topic_id = q->topic_id;
		if (t && !rq->forced_error)
			return describe(rq, req, t, tr);
		tr->name = t ? km__str(t->name, t->name_len)
			     : v12 ? KC_STR_NULL : KC_STR_LIT("");
		tr->error_code = rq->forced_error ? rq->forced_error
				 : v12		  ? KM__E_UNKNOWN_TOPIC_ID
						  : KM__E_INVALID_REQUEST;
		return 0;
	}
	tr->name = q->name;
	if (rq->forced_error) {
		tr->error_code = rq->forced_error;
		return 0;
	}
	t = km__cluster_topic(c, q->name.ptr, (size_t)q->name.len);
	if (t)
		return describe(rq, req, t, tr);
	bool allow = c->opts.auto_create_topics &&
		     (rq->api_version < 4 || req->allow_auto_topic_creation);
	if (!km__topic_name_valid(q->name.ptr, (size_t)q->name.len)) {
		tr->error_code = KM__E_INVALID_TOPIC_EXCEPTION;
	} else if (!allow) {
		tr->error_code = KM__E_UNKNOWN_TOPIC_OR_PARTITION;
	} else {
		km_err e = km__cluster_create_topic(
			c, q->name.ptr, (size_t)q->name.len,
			c->opts.default_partitions, c->opts.replication_factor,
			false, &t);
		if (e == KM_ERR_NOMEM)
			return -ENOMEM;
		tr->topic_id = t->id;
		tr->error_code = KM__E_LEADER_NOT_AVAILABLE;
	}
	return 0;
}

/* The brokers that are up; the controller is the first of them (-1 when
 * every broker is down, which no client can see anyway). */
static int fill_brokers(km__req *rq, kc_metadata_response *resp)
{
	km_cluster *c = rq->cluster;
	resp->brokers = km__req_array(rq, (size_t)c->nbrokers,
				      sizeof *resp->brokers);
	if (!resp->brokers)
		return -ENOMEM;
	int32_t n = 0;
	resp->controller_id = -1;
	for (int32_t i = 0; i < c->nbrokers; i++) {
		if (c->brokers[i].down)
			continue;
		if (resp->controller_id < 0)
			resp->controller_id = c->brokers[i].id;
		resp->brokers[n].node_id = c->brokers[i].id;
		resp->brokers[n].host = KC_STR_LIT("127.0.0.1");
		resp->brokers[n].port = c->brokers[i].port;
		resp->brokers[n].rack = KC_STR_NULL;
		n++;
	}
	resp->brokers_count = n;
	resp->cluster_id = kc_str_c(c->cluster_id);
	return 0;
}

int km__handle_metadata(km__req *rq, const void *reqp, void *respp)
{
	const kc_metadata_request *req = reqp;
	kc_metadata_response *resp = respp;
	km_cluster *c = rq->cluster;
	resp->throttle_time_ms = rq->throttle_ms;
	if (fill_brokers(rq, resp))
		return -ENOMEM;
	if (rq->api_version >= 8 && rq->api_version <= 10 &&
	    req->include_cluster_authorized_operations)
		resp->cluster_authorized_operations = CLUSTER_OPS;
	/* every topic: null in v1+, empty in v0 */
	bool all = req->topics_count < 0 ||
		   (rq->api_version == 0 && req->topics_count == 0);
	size_t n = all ? c->ntopics : (size_t)req->topics_count;
	resp->topics = km__req_array(rq, n, sizeof *resp->topics);
	if (n && !resp->topics)
		return -ENOMEM;
	resp->topics_count = (int32_t)n;
	for (size_t i = 0; i < n; i++) {
		topic_resp *tr = &resp->topics[i];
		kc_metadata_response_metadata_response_topic_init(tr);
		int rc;
		if (all) {
			const km__topic *t = c->topics[i];
			tr->error_code = rq->forced_error;
			tr->name = km__str(t->name, t->name_len);
			tr->topic_id = t->id;
			rc = rq->forced_error ? 0 : describe(rq, req, t, tr);
		} else {
			rc = answer_topic(rq, req, &req->topics[i], tr);
		}
		if (rc)
			return rc;
		km__req_error(rq, tr->error_code);
	}
	return 0;
}
