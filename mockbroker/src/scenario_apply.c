/*
 * Applying parsed scenario commands through the public control API of
 * kafkit/mock.h (km__scenario_apply, declared in scenario.h), with the
 * names rules were given for `cancel`.
 */
#include <stdio.h>

#include "buf_int.h"
#include "scenario.h"

/* ---- applying ------------------------------------------------------------ */

static km_fault_match match_of(const km__cmd *c)
{
	km_fault_match m;
	km_fault_match_init(&m);
	m.broker_id = c->broker;
	m.api_key = c->api_key;
	m.probability = c->probability;
	m.count = (uint32_t)c->count;
	return m;
}

/* leader-change T:P|T:* now to=B: every partition of the topic when *. */
static km_err set_leaders(km_cluster *cl, const km__cmd *c)
{
	if (c->partition >= 0)
		return km_cluster_set_leader(cl, c->topic, c->partition,
					     c->to_broker);
	km_partition_info info;
	km_err e = km_cluster_partition_info(cl, c->topic, 0, &info);
	for (int32_t p = 0; e == KM_OK; p++) {
		e = km_cluster_set_leader(cl, c->topic, p, c->to_broker);
		if (e == KM_OK &&
		    km_cluster_partition_info(cl, c->topic, p + 1, &info) !=
			    KM_OK)
			break;
	}
	return e;
}

static km_err queue_errors(km_cluster *cl, const km__cmd *c,
			   km_fault_id *id)
{
	int16_t *codes = kc__malloc((size_t)c->count * sizeof *codes);
	if (!codes)
		return KM_ERR_NOMEM;
	for (int32_t i = 0; i < c->count; i++)
		codes[i] = c->error_code;
	km_fault_match m = match_of(c);
	m.count = 0;
	km_err e = km_fault_errors(cl, &m, c->topic[0] ? c->topic : NULL,
				   c->partition, codes, (size_t)c->count, id);
	kc__free(codes);
	return e;
}

/* The command; *id receives the rule it created, if any. */
static km_err apply(km_cluster *cl, km__sc_ids *ids, const km__cmd *c,
		    km_fault_id *id)
{
	km_fault_match m = match_of(c);
	const char *topic = c->topic[0] ? c->topic : NULL;
	km_leader_pick pick =
		c->random ? KM_LEADER_RANDOM : KM_LEADER_ROUND_ROBIN;
	switch (c->kind) {
	case KM__CMD_TOPIC:
		return km_cluster_create_topic(cl, c->topic, c->partitions,
					       NULL);
	case KM__CMD_LEADER_CHANGE:
		if (c->every)
			return km_fault_leader_schedule(cl, topic, c->partition,
							c->ms, pick, 0, id);
		if (c->to_broker > 0)
			return set_leaders(cl, c);
		return km_fault_leader_move(cl, topic, c->partition, pick);
	case KM__CMD_DELAY:
		return km_fault_delay(cl, &m, c->ms, c->jitter_ms, id);
	case KM__CMD_SWALLOW:
		return km_fault_swallow(cl, &m, id);
	case KM__CMD_CLOSE:
		return km_fault_close(cl, &m, id);
	case KM__CMD_ERRORS:
		return queue_errors(cl, c, id);
	case KM__CMD_THROTTLE:
		return km_fault_throttle(cl, &m, (int32_t)c->ms, id);
	case KM__CMD_STALL:
	case KM__CMD_UNSTALL:
		return km_fault_stall(cl, c->broker,
				      c->kind == KM__CMD_STALL);
	case KM__CMD_BROKER_DOWN:
		return km_fault_broker_down(cl, c->broker, !c->keep_leaders);
	case KM__CMD_BROKER_UP:
		return km_fault_broker_up(cl, c->broker);
	case KM__CMD_DROP_CONNECTIONS:
		if (c->after)
			return km_fault_drop_after(cl, c->broker, c->number);
		return km_fault_drop_connections(cl, c->broker);
	case KM__CMD_SEED:
		return km_fault_seed(cl, c->number);
	case KM__CMD_CANCEL: {
		km_fault_id r = km__sc_ids_find(ids, c->name);
		km__sc_ids_remove(ids, c->name);
		return r ? km_fault_cancel(cl, r) : KM_ERR_NOT_FOUND;
	}
	default: /* KM__CMD_CLEAR */
		km__sc_ids_clear(ids);
		return km_fault_clear(cl);
	}
}

km_err km__scenario_apply(km_cluster *cl, km__sc_ids *ids, const km__cmd *c,
			  char *err, size_t errlen)
{
	km_fault_id id = 0;
	bool named = c->name[0] && c->kind != KM__CMD_CANCEL;
	km_err e = named && km__sc_ids_find(ids, c->name) ? KM_ERR_EXISTS
							   : apply(cl, ids, c,
								   &id);
	if (e == KM_OK && named && km__sc_ids_add(ids, c->name, id)) {
		/* the rule would be out of reach: take it back */
		km_fault_cancel(cl, id);
		e = KM_ERR_NOMEM;
	}
	if (e != KM_OK && errlen) {
		const char *why = km_err_name(e);
		char buf[128];
		if (c->kind == KM__CMD_CANCEL) {
			snprintf(buf, sizeof buf,
				 "no rule named '%s' (or it has ended)",
				 c->name);
			why = buf;
		} else if (named && e == KM_ERR_EXISTS) {
			snprintf(buf, sizeof buf, "a rule named '%s' exists",
				 c->name);
			why = buf;
		} else if (e == KM_ERR_NOT_FOUND) {
			why = "no such topic, partition or broker";
		} else if (e == KM_ERR_EXISTS) {
			why = "the topic already exists";
		} else if (e == KM_ERR_IO) {
			why = "the port is taken";
		}
		snprintf(err, errlen, "line %d: %s", c->line, why);
	}
	return e;
}
