/* Cluster state: topics, partitions, leaders, producer ids. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "buf_int.h"
#include "cluster.h"
#include "kafka_errors.h"

int64_t km__wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool km__topic_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > KM__TOPIC_NAME_MAX)
		return false;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
			  ch == '-';
		if (!ok)
			return false;
	}
	return true;
}

km__topic *km__cluster_topic(const km_cluster *c, const char *name,
			     size_t len)
{
	for (size_t i = 0; i < c->ntopics; i++) {
		km__topic *t = c->topics[i];
		if (t->name_len == len && !memcmp(t->name, name, len))
			return t;
	}
	return NULL;
}

km__topic *km__cluster_topic_by_id(const km_cluster *c, const kc_uuid *id)
{
	static const kc_uuid zero;
	if (!memcmp(id, &zero, sizeof zero))
		return NULL;
	for (size_t i = 0; i < c->ntopics; i++)
		if (!memcmp(&c->topics[i]->id, id, sizeof *id))
			return c->topics[i];
	return NULL;
}

km__partition *km__topic_partition(const km__topic *t, int32_t index)
{
	if (index < 0 || index >= t->npartitions)
		return NULL;
	return &t->partitions[index];
}

int16_t km__partition_check(const km__partition *p, int32_t broker_id,
			    int32_t current_leader_epoch)
{
	if (current_leader_epoch >= 0 && current_leader_epoch < p->leader_epoch)
		return KM__E_FENCED_LEADER_EPOCH;
	if (current_leader_epoch > p->leader_epoch)
		return KM__E_UNKNOWN_LEADER_EPOCH;
	if (p->leader != broker_id)
		return KM__E_NOT_LEADER_OR_FOLLOWER;
	return 0;
}

km__broker *km__cluster_broker(const km_cluster *c, int32_t id)
{
	if (id < 1 || id > c->nbrokers)
		return NULL;
	return &c->brokers[id - 1];
}

/* splitmix64: distinct, non-zero topic ids without a random source. */
static void next_uuid(km_cluster *c, kc_uuid *id)
{
	for (int half = 0; half < 2; half++) {
		uint64_t z = (c->uuid_state += 0x9e3779b97f4a7c15u);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
		z ^= z >> 31;
		kc__be64(id->b + 8 * half, z);
	}
}

static void topic_free(km__topic *t)
{
	if (!t)
		return;
	for (int32_t i = 0; t->partitions && i < t->npartitions; i++) {
		km__partition *p = &t->partitions[i];
		km__plog_free(&p->log);
		km__pstate_free(&p->producers);
		kc__free(p->replicas);
	}
	kc__free(t->partitions);
	kc__free(t->name);
	kc__free(t);
}

km_err km__cluster_create_topic(km_cluster *c, const char *name, size_t len,
				int32_t partitions, int32_t replication,
				bool log_append_time, km__topic **out)
{
	if (km__cluster_topic(c, name, len))
		return KM_ERR_EXISTS;
	if (replication < 1 || replication > c->nbrokers)
		replication = c->nbrokers;
	if (c->ntopics == c->topics_cap) {
		size_t cap = c->topics_cap ? c->topics_cap * 2 : 8;
		km__topic **tt = kc__realloc(c->topics, cap * sizeof *tt);
		if (!tt)
			return KM_ERR_NOMEM;
		c->topics = tt;
		c->topics_cap = cap;
	}
	km__topic *t = kc__malloc(sizeof *t);
	if (!t)
		return KM_ERR_NOMEM;
	*t = (km__topic){.name_len = len,
			 .log_append_time = log_append_time};
	t->name = kc__malloc(len + 1);
	t->partitions = kc__malloc((size_t)partitions * sizeof *t->partitions);
	if (!t->name || !t->partitions) {
		topic_free(t);
		return KM_ERR_NOMEM;
	}
	memcpy(t->name, name, len);
	t->name[len] = '\0';
	/* Each topic starts its round robin one broker further, as Kafka's
	 * replica assignment starts at a random broker. */
	int32_t start = (int32_t)(c->ntopics % (size_t)c->nbrokers);
	for (int32_t i = 0; i < partitions; i++) {
		km__partition *p = &t->partitions[i];
		*p = (km__partition){.topic = t, .index = i};
		km__plog_init(&p->log, c->opts.retention_bytes,
			      c->opts.retention_batches);
		km__pstate_init(&p->producers);
		t->npartitions = i + 1;
		p->replicas = kc__malloc((size_t)replication *
					 sizeof *p->replicas);
		if (!p->replicas) {
			topic_free(t);
			return KM_ERR_NOMEM;
		}
		p->nreplicas = replication;
		for (int32_t r = 0; r < replication; r++)
			p->replicas[r] = (start + i + r) % c->nbrokers + 1;
		p->leader = p->replicas[0];
	}
	next_uuid(c, &t->id);
	c->topics[c->ntopics++] = t;
	if (out)
		*out = t;
	return KM_OK;
}

km_err km__partition_set_leader(km__partition *p, int32_t broker_id)
{
	bool member = false;
	for (int32_t i = 0; i < p->nreplicas; i++)
		member |= p->replicas[i] == broker_id;
	if (!member) {
		int32_t *r = kc__realloc(p->replicas, ((size_t)p->nreplicas + 1) *
							      sizeof *r);
		if (!r)
			return KM_ERR_NOMEM;
		r[p->nreplicas++] = broker_id;
		p->replicas = r;
	}
	p->leader = broker_id;
	p->leader_epoch++;
	return KM_OK;
}

int64_t km__cluster_next_pid(km_cluster *c)
{
	return c->next_pid++;
}

int km__cluster_txn_init(km_cluster *c, kc_str txn_id, int64_t *pid,
			 int16_t *epoch)
{
	size_t len = (size_t)txn_id.len;
	for (size_t i = 0; i < c->ntxn_ids; i++) {
		km__txn_id *t = &c->txn_ids[i];
		if (t->len != len || memcmp(t->id, txn_id.ptr, len))
			continue;
		if (t->epoch == INT16_MAX - 1) {
			t->pid = km__cluster_next_pid(c);
			t->epoch = 0;
		} else {
			t->epoch++;
		}
		*pid = t->pid;
		*epoch = t->epoch;
		return 0;
	}
	if (c->ntxn_ids == c->txn_ids_cap) {
		size_t cap = c->txn_ids_cap ? c->txn_ids_cap * 2 : 4;
		km__txn_id *a = kc__realloc(c->txn_ids, cap * sizeof *a);
		if (!a)
			return -ENOMEM;
		c->txn_ids = a;
		c->txn_ids_cap = cap;
	}
	char *copy = kc__malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, txn_id.ptr, len);
	km__txn_id *t = &c->txn_ids[c->ntxn_ids++];
	*t = (km__txn_id){.id = copy, .len = len,
			  .pid = km__cluster_next_pid(c), .epoch = 0};
	*pid = t->pid;
	*epoch = t->epoch;
	return 0;
}

km__broker *km__cluster_coordinator(const km_cluster *c, kc_str key)
{
	/* Java's String.hashCode, as Kafka hashes group ids. */
	uint32_t h = 0;
	for (int32_t i = 0; i < key.len; i++)
		h = h * 31u + (uint8_t)key.ptr[i];
	return &c->brokers[(h & 0x7fffffffu) % (uint32_t)c->nbrokers];
}

void km__cluster_free_state(km_cluster *c)
{
	for (size_t i = 0; i < c->ntopics; i++)
		topic_free(c->topics[i]);
	kc__free(c->topics);
	c->topics = NULL;
	c->ntopics = c->topics_cap = 0;
	for (size_t i = 0; i < c->ntxn_ids; i++)
		kc__free(c->txn_ids[i].id);
	kc__free(c->txn_ids);
	c->txn_ids = NULL;
	c->ntxn_ids = c->txn_ids_cap = 0;
}
