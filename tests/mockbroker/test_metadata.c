/*
 * Check suite for the mock broker's Metadata handler
 * (mockbroker/src/handle_metadata.c) over a real socket: brokers, every
 * version's topic selection, leaders, epochs, replicas, topic ids,
 * auto-creation as Kafka answers it, invalid names, authorized operations.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kafkit/codec.h"
#include "mock_client.h"

static km_cluster *C;
static mc_client CL;

static void setup(void)
{
	C = mc_cluster(3, NULL);
	ck_assert_int_eq(km_cluster_create_topic(C, "a", 3, NULL), KM_OK);
	km_topic_options to = {.replication_factor = 1};
	ck_assert_int_eq(km_cluster_create_topic(C, "b", 1, &to), KM_OK);
	mc_connect_broker(&CL, C, 2);
}

static void teardown(void)
{
	mc_close(&CL);
	km_cluster_destroy(C);
}

/* Metadata for the given names (n < 0: every topic; null in v1+). */
static void metadata(int16_t v, const char **names, int n, bool auto_create,
		     kc_metadata_response *resp)
{
	kc_metadata_request_metadata_request_topic q[8];
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	for (int i = 0; i < n; i++) {
		kc_metadata_request_metadata_request_topic_init(&q[i]);
		q[i].name = kc_str_c(names[i]);
	}
	req.topics = n > 0 ? q : NULL;
	req.topics_count = n < 0 ? (v == 0 ? 0 : -1) : n;
	if (v >= 4)
		req.allow_auto_topic_creation = auto_create;
	mc_call(&CL, 3, v, &req, resp);
}

static const kc_metadata_response_metadata_response_topic *
find(const kc_metadata_response *r, const char *name)
{
	for (int32_t i = 0; i < r->topics_count; i++)
		if (r->topics[i].name.len == (int32_t)strlen(name) &&
		    !memcmp(r->topics[i].name.ptr, name, strlen(name)))
			return &r->topics[i];
	return NULL;
}

START_TEST(brokers_and_topics_every_version)
{
	for (int16_t v = 0; v <= 12; v++) {
		kc_metadata_response resp;
		metadata(v, NULL, -1, true, &resp);
		ck_assert_int_eq(resp.brokers_count, 3);
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(resp.brokers[i].node_id, i + 1);
			ck_assert_int_eq(resp.brokers[i].port,
					 km_cluster_broker_port(C, i + 1));
			ck_assert_int_eq(resp.brokers[i].host.len, 9);
			ck_assert(!memcmp(resp.brokers[i].host.ptr, "127.0.0.1", 9));
		}
		if (v >= 1)
			ck_assert_int_eq(resp.controller_id, 1);
		if (v >= 2)
			ck_assert_int_eq(resp.cluster_id.len, 11);
		ck_assert_int_eq(resp.topics_count, 2);
		const kc_metadata_response_metadata_response_topic *a =
			find(&resp, "a");
		ck_assert_ptr_nonnull(a);
		ck_assert_int_eq(a->error_code, 0);
		ck_assert_int_eq(a->partitions_count, 3);
		for (int p = 0; p < 3; p++) {
			const kc_metadata_response_metadata_response_partition *pp =
				&a->partitions[p];
			km_partition_info pi;
			ck_assert_int_eq(km_cluster_partition_info(C, "a", p, &pi),
					 KM_OK);
			ck_assert_int_eq(pp->partition_index, p);
			ck_assert_int_eq(pp->leader_id, pi.leader);
			ck_assert_int_eq(pp->replica_nodes_count, 3);
			ck_assert_int_eq(pp->replica_nodes[0], pi.leader);
			ck_assert_int_eq(pp->isr_nodes_count, 3);
			if (v >= 7)
				ck_assert_int_eq(pp->leader_epoch, 0);
		}
		const kc_metadata_response_metadata_response_topic *b =
			find(&resp, "b");
		ck_assert_int_eq(b->partitions[0].replica_nodes_count, 1);
		if (v >= 10) {
			static const kc_uuid zero;
			ck_assert(memcmp(&a->topic_id, &zero, 16) != 0);
			ck_assert(memcmp(&a->topic_id, &b->topic_id, 16) != 0);
		}
	}
}
END_TEST

START_TEST(selected_topics_and_epochs)
{
	const char *names[] = {"b", "a"};
	kc_metadata_response resp;
	ck_assert_int_eq(km_cluster_set_leader(C, "a", 1, 3), KM_OK);
	ck_assert_int_eq(km_cluster_set_leader(C, "a", 1, 2), KM_OK);
	metadata(9, names, 2, false, &resp);
	ck_assert_int_eq(resp.topics_count, 2);
	ck_assert_int_eq(resp.topics[0].name.ptr[0], 'b');
	ck_assert_int_eq(resp.topics[1].partitions[1].leader_id, 2);
	ck_assert_int_eq(resp.topics[1].partitions[1].leader_epoch, 2);
	/* v1+: an empty list means no topic */
	metadata(1, names, 0, false, &resp);
	ck_assert_int_eq(resp.topics_count, 0);
	/* v12: by topic id, and an unknown id */
	metadata(12, names, 2, false, &resp);
	kc_uuid id = resp.topics[1].topic_id;
	kc_metadata_request_metadata_request_topic q[2];
	for (int i = 0; i < 2; i++) {
		kc_metadata_request_metadata_request_topic_init(&q[i]);
		q[i].name = KC_STR_NULL;
		q[i].topic_id = id;
	}
	q[1].topic_id.b[0] ^= 0xff;
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	req.topics = q;
	req.topics_count = 2;
	mc_call(&CL, 3, 12, &req, &resp);
	ck_assert_int_eq(resp.topics[0].error_code, 0);
	ck_assert_int_eq(resp.topics[0].name.len, 1);
	ck_assert_int_eq(resp.topics[0].partitions_count, 3);
	ck_assert_int_eq(resp.topics[1].error_code, 100);
	ck_assert_int_eq(resp.topics[1].name.len, -1);
}
END_TEST

START_TEST(auto_creation)
{
	const char *fresh[] = {"fresh"};
	kc_metadata_response resp;
	/* v4+ may forbid it */
	metadata(4, fresh, 1, false, &resp);
	ck_assert_int_eq(resp.topics[0].error_code, 3);
	/* created: LEADER_NOT_AVAILABLE now, described next time */
	metadata(4, fresh, 1, true, &resp);
	ck_assert_int_eq(resp.topics[0].error_code, 5);
	ck_assert_int_eq(resp.topics[0].partitions_count, 0);
	metadata(4, fresh, 1, true, &resp);
	ck_assert_int_eq(resp.topics[0].error_code, 0);
	ck_assert_int_eq(resp.topics[0].partitions_count, 1); /* num.partitions */
	/* before v4 every request allows it */
	const char *old[] = {"old"};
	metadata(3, old, 1, false, &resp);
	ck_assert_int_eq(resp.topics[0].error_code, 5);
	/* invalid names */
	const char *bad[] = {"a b", ".."};
	metadata(5, bad, 2, true, &resp);
	ck_assert_int_eq(resp.topics[0].error_code, 17);
	ck_assert_int_eq(resp.topics[1].error_code, 17);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "old", 0, &pi), KM_OK);
}
END_TEST

START_TEST(auto_creation_disabled)
{
	mc_close(&CL);
	km_cluster_destroy(C);
	km_options o;
	km_options_init(&o);
	o.auto_create_topics = false;
	o.default_partitions = 6;
	o.log_fn = mc_log_fn;
	C = mc_cluster(1, &o);
	mc_connect_broker(&CL, C, 1);
	const char *fresh[] = {"fresh"};
	kc_metadata_response resp;
	metadata(2, fresh, 1, true, &resp);
	ck_assert_int_eq(resp.topics[0].error_code, 3);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(C, "fresh", 0, &pi),
			 KM_ERR_NOT_FOUND);
	ck_assert_int_eq(km_cluster_create_topic(C, "made", 6, NULL), KM_OK);
	const char *made[] = {"made"};
	metadata(2, made, 1, true, &resp);
	ck_assert_int_eq(resp.topics[0].partitions_count, 6);
}
END_TEST

START_TEST(authorized_operations)
{
	kc_metadata_request_metadata_request_topic q;
	kc_metadata_request_metadata_request_topic_init(&q);
	q.name = KC_STR_LIT("a");
	kc_metadata_request req;
	kc_metadata_request_init(&req);
	req.topics = &q;
	req.topics_count = 1;
	kc_metadata_response resp;
	mc_call(&CL, 3, 8, &req, &resp);
	ck_assert_int_eq(resp.topics[0].topic_authorized_operations, INT32_MIN);
	ck_assert_int_eq(resp.cluster_authorized_operations, INT32_MIN);
	req.include_topic_authorized_operations = true;
	req.include_cluster_authorized_operations = true;
	mc_call(&CL, 3, 8, &req, &resp);
	/* READ(3) WRITE(4) DESCRIBE(8) among them */
	int32_t ops = resp.topics[0].topic_authorized_operations;
	ck_assert_int_eq(ops & (1 << 3 | 1 << 4 | 1 << 8), 1 << 3 | 1 << 4 | 1 << 8);
	ck_assert_int_ne(resp.cluster_authorized_operations, INT32_MIN);
	/* v11 dropped the cluster field */
	req.include_cluster_authorized_operations = false;
	mc_call(&CL, 3, 11, &req, &resp);
	ck_assert_int_eq(resp.topics[0].topic_authorized_operations, ops);
}
END_TEST

static bool has_broker(const kc_metadata_response *r, int32_t id)
{
	for (int32_t i = 0; i < r->brokers_count; i++)
		if (r->brokers[i].node_id == id)
			return true;
	return false;
}

static bool in_list(const int32_t *v, int32_t n, int32_t id)
{
	for (int32_t i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

/* Each partition of topic "a" as Metadata v`v` shows it with broker
 * `down` down: not led by it (error 0, its leader), or
 * LEADER_NOT_AVAILABLE with leader -1; `down` out of the ISR and (v5+)
 * in offline_replicas. */
static void check_partitions(int16_t v, int32_t down)
{
	kc_metadata_response r;
	const char *names[] = {"a"};
	metadata(v, names, 1, false, &r);
	const kc_metadata_response_metadata_response_topic *a = find(&r, "a");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->error_code, 0);
	ck_assert_int_eq(a->partitions_count, 3);
	ck_assert(!has_broker(&r, down));
	ck_assert_int_ne(r.controller_id, down);
	for (int32_t i = 0; i < 3; i++) {
		const kc_metadata_response_metadata_response_partition *p =
			&a->partitions[i];
		km_partition_info pi;
		ck_assert_int_eq(km_cluster_partition_info(
					 C, "a", p->partition_index, &pi),
				 KM_OK);
		if (pi.leader == down) {
			ck_assert_int_eq(p->error_code, 5);
			ck_assert_int_eq(p->leader_id, -1);
		} else {
			ck_assert_int_eq(p->error_code, 0);
			ck_assert_int_eq(p->leader_id, pi.leader);
			ck_assert(has_broker(&r, pi.leader));
		}
		ck_assert_int_eq(p->replica_nodes_count, 3);
		ck_assert_int_eq(p->isr_nodes_count, 2);
		ck_assert(!in_list(p->isr_nodes, p->isr_nodes_count, down));
		if (v >= 5) {
			ck_assert_int_eq(p->offline_replicas_count, 1);
			ck_assert_int_eq(p->offline_replicas[0], down);
		}
	}
}

/* Kafka lists live brokers only: a broker taken down disappears from
 * Metadata; what it led answers LEADER_NOT_AVAILABLE unless the fault
 * moved it; back up, everything is listed again. */
START_TEST(down_brokers_not_listed)
{
	ck_assert_int_eq(km_fault_broker_down(C, 3, false), KM_OK);
	static const int16_t versions[] = {0, 1, 5, 9, 12};
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		kc_metadata_response r;
		metadata(versions[i], NULL, -1, false, &r);
		ck_assert_int_eq(r.brokers_count, 2);
		ck_assert(has_broker(&r, 1) && has_broker(&r, 2));
		check_partitions(versions[i], 3);
	}
	/* down with its leaderships moved: they went to broker 2, the
	 * only one up, and answer normally */
	ck_assert_int_eq(km_fault_broker_down(C, 1, true), KM_OK);
	kc_metadata_response r;
	metadata(9, NULL, -1, false, &r);
	ck_assert_int_eq(r.brokers_count, 1);
	ck_assert_int_eq(r.brokers[0].node_id, 2);
	ck_assert_int_eq(r.controller_id, 2);
	const kc_metadata_response_metadata_response_topic *b = find(&r, "b");
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(b->partitions[0].error_code, 0);
	ck_assert_int_eq(b->partitions[0].leader_id, 2);
	const kc_metadata_response_metadata_response_topic *a = find(&r, "a");
	int unavailable = 0;
	for (int32_t i = 0; i < 3; i++) {
		const kc_metadata_response_metadata_response_partition *p =
			&a->partitions[i];
		if (p->error_code) {
			ck_assert_int_eq(p->error_code, 5);
			unavailable++;
		} else {
			ck_assert_int_eq(p->leader_id, 2);
		}
		ck_assert_int_eq(p->isr_nodes_count, 1);
		ck_assert_int_eq(p->offline_replicas_count, 2);
	}
	ck_assert_int_eq(unavailable, 1); /* the one broker 3 led */
	ck_assert_int_eq(km_fault_broker_up(C, 1), KM_OK);
	ck_assert_int_eq(km_fault_broker_up(C, 3), KM_OK);
	metadata(9, NULL, -1, false, &r);
	ck_assert_int_eq(r.brokers_count, 3);
	ck_assert_int_eq(r.controller_id, 1);
	a = find(&r, "a");
	for (int32_t i = 0; i < 3; i++) {
		ck_assert_int_eq(a->partitions[i].error_code, 0);
		ck_assert_int_eq(a->partitions[i].isr_nodes_count, 3);
		ck_assert_int_eq(a->partitions[i].offline_replicas_count, 0);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mock_metadata");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, brokers_and_topics_every_version);
	tcase_add_test(t, selected_topics_and_epochs);
	tcase_add_test(t, auto_creation);
	tcase_add_test(t, auto_creation_disabled);
	tcase_add_test(t, authorized_operations);
	tcase_add_test(t, down_brokers_not_listed);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
