/*
 * The kafkit-mock scenario language: every command parses into the
 * expected km__cmd, every error names its line and column, and applying
 * commands to a cluster has the effects mock.h documents.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "scenario.h"

/* Parse text that must hold exactly one command. */
static km__cmd one(const char *text)
{
	km__scenario s;
	km__scenario_init(&s);
	char err[256];
	km_err e = km__scenario_parse(&s, text, strlen(text), 1, err,
				      sizeof err);
	ck_assert_msg(e == KM_OK, "'%s': %s", text, err);
	ck_assert_uint_eq(s.n, 1);
	km__cmd c = s.cmds[0];
	km__scenario_free(&s);
	return c;
}

/* Parse text that must fail with exactly this message. */
static void bad(const char *text, const char *want)
{
	km__scenario s;
	km__scenario_init(&s);
	char err[256];
	km_err e = km__scenario_parse(&s, text, strlen(text), 1, err,
				      sizeof err);
	ck_assert_msg(e == KM_ERR_INVALID_ARG, "'%s' parsed", text);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(s.n, 0);
	km__scenario_free(&s);
}

START_TEST(topic_and_leader_change)
{
	km__cmd c = one("topic t2:8");
	ck_assert_int_eq(c.kind, KM__CMD_TOPIC);
	ck_assert_str_eq(c.topic, "t2");
	ck_assert_int_eq(c.partitions, 8);
	ck_assert_int_eq(c.line, 1);

	c = one("leader-change t1:* every 500ms");
	ck_assert_int_eq(c.kind, KM__CMD_LEADER_CHANGE);
	ck_assert_str_eq(c.topic, "t1");
	ck_assert_int_eq(c.partition, -1);
	ck_assert(c.every && !c.random);
	ck_assert_uint_eq(c.ms, 500);

	c = one("leader-change my.topic_x-1:3 now");
	ck_assert_str_eq(c.topic, "my.topic_x-1");
	ck_assert_int_eq(c.partition, 3);
	ck_assert(!c.every);
	ck_assert_int_eq(c.to_broker, -1);

	c = one("leader-change t1:0 now to=3");
	ck_assert_int_eq(c.to_broker, 3);
	c = one("leader-change *:* every 2s random");
	ck_assert_str_eq(c.topic, "");
	ck_assert(c.random);
	ck_assert_uint_eq(c.ms, 2000);
	c = one("leader-change t:1 now round-robin");
	ck_assert(!c.random);
}
END_TEST

START_TEST(request_faults)
{
	km__cmd c = one("delay broker=2 200ms");
	ck_assert_int_eq(c.kind, KM__CMD_DELAY);
	ck_assert_int_eq(c.broker, 2);
	ck_assert_int_eq(c.api_key, -1);
	ck_assert_uint_eq(c.ms, 200);
	c = one("delay api=fetch jitter=1s 0ms");
	ck_assert_int_eq(c.api_key, 1);
	ck_assert_int_eq(c.broker, -1);
	ck_assert_uint_eq(c.jitter_ms, 1000);
	ck_assert_uint_eq(c.ms, 0);

	c = one("swallow api=produce p=0.01");
	ck_assert_int_eq(c.kind, KM__CMD_SWALLOW);
	ck_assert_int_eq(c.api_key, 0);
	ck_assert(c.probability > 0.0099 && c.probability < 0.0101);
	ck_assert_int_eq(c.count, 0);
	c = one("swallow api=produce next=3");
	ck_assert_int_eq(c.count, 3);
	ck_assert(c.probability == 1.0);
	c = one("close api=ApiVersions broker=1 next=1 p=1");
	ck_assert_int_eq(c.kind, KM__CMD_CLOSE);
	ck_assert_int_eq(c.api_key, 18);

	c = one("errors api=produce partition=t1:0 NOT_LEADER_OR_FOLLOWER x3");
	ck_assert_int_eq(c.kind, KM__CMD_ERRORS);
	ck_assert_str_eq(c.topic, "t1");
	ck_assert_int_eq(c.partition, 0);
	ck_assert_int_eq(c.error_code, 6);
	ck_assert_int_eq(c.count, 3);
	c = one("errors api=list-offsets broker=3 7");
	ck_assert_int_eq(c.api_key, 2);
	ck_assert_int_eq(c.error_code, 7);
	ck_assert_int_eq(c.count, 1);
	ck_assert_str_eq(c.topic, "");
	c = one("errors api=init_producer_id unknown_server_error x2");
	ck_assert_int_eq(c.api_key, 22);
	ck_assert_int_eq(c.error_code, -1);

	c = one("throttle api=produce 100ms");
	ck_assert_int_eq(c.kind, KM__CMD_THROTTLE);
	ck_assert_uint_eq(c.ms, 100);
}
END_TEST

START_TEST(broker_faults)
{
	km__cmd c = one("stall broker=1");
	ck_assert_int_eq(c.kind, KM__CMD_STALL);
	ck_assert_int_eq(c.broker, 1);
	c = one("unstall");
	ck_assert_int_eq(c.kind, KM__CMD_UNSTALL);
	ck_assert_int_eq(c.broker, -1);
	c = one("broker-down 2");
	ck_assert_int_eq(c.kind, KM__CMD_BROKER_DOWN);
	ck_assert_int_eq(c.broker, 2);
	ck_assert(!c.keep_leaders);
	c = one("broker-down 2 keep-leaders");
	ck_assert(c.keep_leaders);
	c = one("broker-up 2");
	ck_assert_int_eq(c.kind, KM__CMD_BROKER_UP);
	ck_assert_int_eq(c.broker, 2);
	c = one("drop-connections");
	ck_assert_int_eq(c.kind, KM__CMD_DROP_CONNECTIONS);
	ck_assert(!c.after);
	c = one("drop-connections broker=3 after=100");
	ck_assert(c.after);
	ck_assert_uint_eq(c.number, 100);
	c = one("seed 42");
	ck_assert_int_eq(c.kind, KM__CMD_SEED);
	ck_assert_uint_eq(c.number, 42);
	c = one("clear");
	ck_assert_int_eq(c.kind, KM__CMD_CLEAR);
}
END_TEST

START_TEST(lines_comments_blanks)
{
	const char *text = "# a scenario\n"
			   "\n"
			   "topic t1:2   # two partitions\n"
			   "\t  delay broker=1 5ms\r\n"
			   "   # nothing\n"
			   "clear";
	km__scenario s;
	km__scenario_init(&s);
	char err[128];
	ck_assert_int_eq(km__scenario_parse(&s, text, strlen(text), 1, err,
					    sizeof err),
			 KM_OK);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_int_eq(s.cmds[0].line, 3);
	ck_assert_int_eq(s.cmds[1].kind, KM__CMD_DELAY);
	ck_assert_int_eq(s.cmds[1].line, 4);
	ck_assert_int_eq(s.cmds[2].line, 6);
	/* appends; numbering from first_line; an error appends nothing */
	ck_assert_int_eq(km__scenario_parse(&s, "stall\nbad", 9, 10, err,
					    sizeof err),
			 KM_ERR_INVALID_ARG);
	ck_assert_str_eq(err, "line 11: col 1: unknown command 'bad'");
	ck_assert_uint_eq(s.n, 3);
	ck_assert_int_eq(km__scenario_parse(&s, "stall", 5, 10, err,
					    sizeof err),
			 KM_OK);
	ck_assert_uint_eq(s.n, 4);
	ck_assert_int_eq(s.cmds[3].line, 10);
	km__scenario_free(&s);
	ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(errors_with_position)
{
	bad("frobnicate", "line 1: col 1: unknown command 'frobnicate'");
	bad("\n  topic t1", "line 2: col 9: expected TOPIC:PARTITIONS, got 't1'");
	bad("topic", "line 1: col 6: missing TOPIC:PARTITIONS");
	bad("topic t1:0", "line 1: col 10: bad PARTITIONS '0'");
	bad("topic t1:100001", "line 1: col 10: bad PARTITIONS '100001'");
	bad("topic t/1:1", "line 1: col 7: bad topic name 't/1'");
	bad("topic ..:1", "line 1: col 7: bad topic name '..'");
	bad("topic t1:2 t2:2", "line 1: col 12: unexpected 't2:2'");
	bad("topic t1:* ", "line 1: col 10: bad PARTITIONS '*'");
	bad("leader-change t1:0", "line 1: col 19: missing 'now' or 'every DURATION'");
	bad("leader-change", "line 1: col 14: missing TOPIC:PARTITION or TOPIC:*");
	bad("leader-change t1:0 later",
	    "line 1: col 20: expected 'now' or 'every', got 'later'");
	bad("leader-change t1:0 every", "line 1: col 25: missing DURATION after 'every'");
	bad("leader-change t1:0 every 0ms", "line 1: col 26: period must be > 0");
	bad("leader-change t1:0 every 5 ", "line 1: col 26: bad duration '5' (want e.g. 250ms or 2s, at most 1 day)");
	bad("leader-change t1:0 now sideways", "line 1: col 24: unexpected 'sideways'");
	bad("leader-change *:0 now", "line 1: col 17: want *:* for every topic");
	bad("leader-change t1:0 every 1s to=2",
	    "line 1: col 33: to=B needs one topic and 'now' without 'random'");
	bad("leader-change t1:0 now to=0", "line 1: col 27: bad broker id '0' (want 1..1024)");
	bad("delay broker=2", "line 1: col 15: missing DURATION");
	bad("delay broker=2 200us", "line 1: col 16: bad duration '200us' (want e.g. 250ms or 2s, at most 1 day)");
	bad("delay 86401s", "line 1: col 7: bad duration '86401s' (want e.g. 250ms or 2s, at most 1 day)");
	bad("delay broker=x 1s", "line 1: col 14: bad broker id 'x' (want 1..1024)");
	bad("delay broker=1 broker=2 1s", "line 1: col 16: option 'broker' given twice");
	bad("delay partition=t:0 1s", "line 1: col 7: unknown option 'partition'");
	bad("swallow api=produce", "line 1: col 20: missing p=F or next=N");
	bad("swallow api=prodce p=1", "line 1: col 13: unknown api 'prodce'");
	bad("swallow api=produce p=0", "line 1: col 23: bad probability '0' (want 0 < p <= 1)");
	bad("swallow api=produce p=1.5", "line 1: col 23: bad probability '1.5' (want 0 < p <= 1)");
	bad("swallow api=produce p=0.1x", "line 1: col 23: bad probability '0.1x' (want 0 < p <= 1)");
	bad("swallow next=0", "line 1: col 14: bad count '0' (want 1..1000000)");
	bad("close broker=1", "line 1: col 15: missing p=F or next=N");
	bad("errors api=produce", "line 1: col 19: missing an error name or code");
	bad("errors NOT_A_THING", "line 1: col 8: unknown Kafka error 'NOT_A_THING'");
	bad("errors NONE", "line 1: col 8: error code 0 (NONE) is no error");
	bad("errors 0", "line 1: col 8: error code 0 (NONE) is no error");
	bad("errors 6 3", "line 1: col 10: bad repeat '3' (want xN, N in 1..100000)");
	bad("errors 6 x0", "line 1: col 10: bad repeat 'x0' (want xN, N in 1..100000)");
	bad("errors 6 x3 x4", "line 1: col 13: unexpected 'x4'");
	bad("errors partition=t1:* 6", "line 1: col 21: bad PARTITION '*'");
	bad("errors partition=t1 6", "line 1: col 18: expected TOPIC:PARTITION, got 't1'");
	bad("throttle api=produce", "line 1: col 21: missing DURATION");
	bad("stall broker=1025", "line 1: col 14: bad broker id '1025' (want 1..1024)");
	bad("stall 1", "line 1: col 7: unexpected '1'");
	bad("broker-down", "line 1: col 12: missing a broker id");
	bad("broker-down 2 now", "line 1: col 15: expected 'keep-leaders', got 'now'");
	bad("broker-up", "line 1: col 10: missing a broker id");
	bad("drop-connections after=-1", "line 1: col 24: bad byte count '-1'");
	bad("seed", "line 1: col 5: missing a seed");
	bad("seed -3", "line 1: col 6: bad seed '-3'");
	bad("clear now", "line 1: col 7: unexpected 'now'");
	bad("clear a b c d e f g h i j k l m n o p",
	    "line 1: col 37: too many words (at most 16)");
	/* a message longer than the buffer is cut, not overrun */
	km__scenario s;
	km__scenario_init(&s);
	char err[12];
	ck_assert_int_eq(km__scenario_parse(&s, "x", 1, 1, err, sizeof err),
			 KM_ERR_INVALID_ARG);
	ck_assert_str_eq(err, "line 1: col");
	km__scenario_free(&s);
}
END_TEST

/* bad() with an embedded NUL needs the length; checked separately. */
START_TEST(nul_byte)
{
	km__scenario s;
	km__scenario_init(&s);
	char err[64];
	ck_assert_int_eq(km__scenario_parse(&s, "clear\ncle\0ar", 12, 1, err,
					    sizeof err),
			 KM_ERR_INVALID_ARG);
	ck_assert_str_eq(err, "line 2: col 4: NUL byte");
	ck_assert_uint_eq(s.n, 0);
	km__scenario_free(&s);
}
END_TEST

START_TEST(parse_out_of_memory)
{
	char text[64 * 12 + 1] = "";
	for (int i = 0; i < 64; i++)
		strcat(text, "unstall    \n");
	for (unsigned long n = 1;; n++) {
		km__scenario s;
		km__scenario_init(&s);
		th_alloc_fail_at(n);
		km_err e = km__scenario_parse(&s, text, strlen(text), 1, NULL, 0);
		size_t got = s.n;
		km__scenario_free(&s);
		long live = th_alloc_live();
		th_alloc_reset();
		ck_assert_int_eq(live, 0);
		if (e == KM_OK) {
			ck_assert_uint_eq(got, 64);
			ck_assert_uint_gt(n, 1);
			break;
		}
		ck_assert_int_eq(e, KM_ERR_NOMEM);
		ck_assert_uint_eq(got, 0);
	}
}
END_TEST

/* Rule names, kept across run() calls as kafkit-mock keeps them. */
static km__sc_ids ids;

/* Parse and apply a whole text to c; returns the first error. */
static km_err run(km_cluster *c, const char *text, char *err, size_t n)
{
	km__scenario s;
	km__scenario_init(&s);
	km_err e = km__scenario_parse(&s, text, strlen(text), 1, err, n);
	for (size_t i = 0; e == KM_OK && i < s.n; i++)
		e = km__scenario_apply(c, &ids, &s.cmds[i], err, n);
	km__scenario_free(&s);
	return e;
}

/* The parsed form of one line (ck-asserts it parses). */
static km__cmd parse_one(const char *line)
{
	km__scenario s;
	char err[128];
	km__scenario_init(&s);
	ck_assert_int_eq(km__scenario_parse(&s, line, strlen(line), 1, err,
					    sizeof err),
			 KM_OK);
	ck_assert_uint_eq(s.n, 1);
	km__cmd c = s.cmds[0];
	km__scenario_free(&s);
	return c;
}

/* Whether a parse of `line` fails with a message holding `want`. */
static bool parse_fails(const char *line, const char *want)
{
	km__scenario s;
	char err[160];
	km__scenario_init(&s);
	km_err e = km__scenario_parse(&s, line, strlen(line), 1, err,
				      sizeof err);
	km__scenario_free(&s);
	return e == KM_ERR_INVALID_ARG && strstr(err, want);
}

START_TEST(rule_names_parse)
{
	km__cmd c = parse_one("delay broker=2 id=slow-2 200ms");
	ck_assert_int_eq(c.kind, KM__CMD_DELAY);
	ck_assert_str_eq(c.name, "slow-2");
	ck_assert_int_eq(c.ms, 200);
	c = parse_one("leader-change t:* every 1s id=moves");
	ck_assert_str_eq(c.name, "moves");
	c = parse_one("cancel slow-2");
	ck_assert_int_eq(c.kind, KM__CMD_CANCEL);
	ck_assert_str_eq(c.name, "slow-2");
	c = parse_one("swallow next=2 id=s.1");
	ck_assert_str_eq(c.name, "s.1");
	ck_assert(parse_fails("cancel", "missing a rule name"));
	ck_assert(parse_fails("cancel a b", "unexpected 'b'"));
	ck_assert(parse_fails("cancel bad/name", "bad rule name"));
	ck_assert(parse_fails("delay id= 1s", "bad rule name"));
	ck_assert(parse_fails("leader-change t:0 now id=x",
			      "id=NAME needs 'every DURATION'"));
	ck_assert(parse_fails("stall id=x", "unknown option 'id'"));
	ck_assert(parse_fails("delay id=a id=b 1s", "given twice"));
}
END_TEST

/* The name table's growth failing leaves it as it was. */
START_TEST(ids_out_of_memory)
{
	km__sc_ids t;
	km__sc_ids_init(&t);
	th_alloc_fail_at(1);
	ck_assert_int_eq(km__sc_ids_add(&t, "a", 7), -ENOMEM);
	ck_assert_uint_eq(t.n, 0);
	th_alloc_reset();
	/* past the first growth, up to the next */
	for (int i = 0; t.n < 9 || t.n < t.cap; i++) {
		char name[16];
		snprintf(name, sizeof name, "r%d", i);
		ck_assert_int_eq(km__sc_ids_add(&t, name, (km_fault_id)i + 1),
				 0);
	}
	size_t full = t.n;
	th_alloc_fail_at(1);
	ck_assert_int_eq(km__sc_ids_add(&t, "x", 99), -ENOMEM);
	th_alloc_reset();
	ck_assert_uint_eq(t.n, full);
	ck_assert_uint_eq(km__sc_ids_find(&t, "r8"), 9);
	ck_assert_uint_eq(km__sc_ids_find(&t, "x"), 0);
	km__sc_ids_remove(&t, "r0");
	ck_assert_uint_eq(km__sc_ids_find(&t, "r0"), 0);
	ck_assert_uint_eq(km__sc_ids_find(&t, "r5"), 6);
	km__sc_ids_free(&t);
	ck_assert_int_eq(th_alloc_live(), 0);
}
END_TEST

/* cancel NAME removes the named rule and frees the name; unknown names,
 * taken names and rules that ended are refused by name. */
START_TEST(cancel_named_rules)
{
	km_cluster *c;
	char err[128];
	ck_assert_int_eq(km_cluster_new(&c, 2, NULL), KM_OK);
	ck_assert_int_eq(km_cluster_start(c), KM_OK);
	ck_assert_int_eq(run(c, "topic t:2\ndelay id=d 1s\n"
				"leader-change t:* every 60s id=lc\n"
				"swallow next=1 id=once\n",
			     err, sizeof err),
			 KM_OK);
	ck_assert_uint_eq(ids.n, 3);
	ck_assert_int_eq(run(c, "delay id=d 2s", err, sizeof err),
			 KM_ERR_EXISTS);
	ck_assert_str_eq(err, "line 1: a rule named 'd' exists");
	/* the rule is gone from the cluster: cancelling its id again fails */
	km_fault_id d = km__sc_ids_find(&ids, "d");
	ck_assert_int_eq(run(c, "cancel d", err, sizeof err), KM_OK);
	ck_assert_int_eq(km_fault_cancel(c, d), KM_ERR_NOT_FOUND);
	ck_assert_int_eq(run(c, "cancel d", err, sizeof err),
			 KM_ERR_NOT_FOUND);
	ck_assert_str_eq(err, "line 1: no rule named 'd' (or it has ended)");
	/* the name is free again */
	ck_assert_int_eq(run(c, "delay id=d 2s\ncancel d", err, sizeof err),
			 KM_OK);
	km_fault_id lc = km__sc_ids_find(&ids, "lc");
	ck_assert_int_eq(run(c, "cancel lc", err, sizeof err), KM_OK);
	ck_assert_int_eq(km_fault_cancel(c, lc), KM_ERR_NOT_FOUND);
	/* clear frees every name */
	ck_assert_int_eq(run(c, "clear", err, sizeof err), KM_OK);
	ck_assert_uint_eq(ids.n, 0);
	ck_assert_int_eq(run(c, "cancel once", err, sizeof err),
			 KM_ERR_NOT_FOUND);
	km__sc_ids_free(&ids);
	km_cluster_destroy(c);
}
END_TEST

START_TEST(apply_to_cluster)
{
	km_cluster *c;
	ck_assert_int_eq(km_cluster_new(&c, 3, NULL), KM_OK);
	ck_assert_int_eq(km_cluster_start(c), KM_OK);
	char err[128];
	ck_assert_int_eq(run(c, "topic t1:4\ntopic t2:1\n", err, sizeof err),
			 KM_OK);
	km_partition_info pi;
	ck_assert_int_eq(km_cluster_partition_info(c, "t1", 3, &pi), KM_OK);

	ck_assert_int_eq(run(c, "leader-change t1:* now to=2", err, sizeof err),
			 KM_OK);
	for (int32_t p = 0; p < 4; p++) {
		ck_assert_int_eq(km_cluster_partition_info(c, "t1", p, &pi),
				 KM_OK);
		ck_assert_int_eq(pi.leader, 2);
	}
	ck_assert_int_eq(run(c, "leader-change t2:0 now to=3", err, sizeof err),
			 KM_OK);
	ck_assert_int_eq(km_cluster_partition_info(c, "t2", 0, &pi), KM_OK);
	ck_assert_int_eq(pi.leader, 3);
	int32_t epoch = pi.leader_epoch;
	ck_assert_int_eq(run(c, "leader-change t2:0 now", err, sizeof err),
			 KM_OK);
	ck_assert_int_eq(km_cluster_partition_info(c, "t2", 0, &pi), KM_OK);
	ck_assert_int_ne(pi.leader, 3);
	ck_assert_int_eq(pi.leader_epoch, epoch + 1);

	ck_assert_int_eq(run(c, "broker-down 2 keep-leaders", err, sizeof err),
			 KM_OK);
	ck_assert_int_eq(km_fault_broker_is_up(c, 2), 0);
	ck_assert_int_eq(km_cluster_partition_info(c, "t1", 0, &pi), KM_OK);
	ck_assert_int_eq(pi.leader, 2);
	ck_assert_int_eq(run(c, "broker-up 2\nbroker-down 2", err, sizeof err),
			 KM_OK);
	ck_assert_int_eq(km_cluster_partition_info(c, "t1", 0, &pi), KM_OK);
	ck_assert_int_ne(pi.leader, 2);
	ck_assert_int_eq(run(c, "broker-up 2", err, sizeof err), KM_OK);
	ck_assert_int_eq(km_fault_broker_is_up(c, 2), 1);

	ck_assert_int_eq(run(c,
			     "delay broker=2 200ms\nswallow api=produce p=0.01\n"
			     "close api=metadata next=1\n"
			     "errors api=produce partition=t1:0 "
			     "NOT_LEADER_OR_FOLLOWER x3\n"
			     "throttle api=produce 100ms\nstall broker=1\n"
			     "unstall broker=1\ndrop-connections\n"
			     "drop-connections broker=1 after=10\nseed 7\n"
			     "leader-change *:* every 1s random\nclear\n",
			     err, sizeof err),
			 KM_OK);

	/* errors from the cluster name the line */
	ck_assert_int_eq(run(c, "topic t1:1", err, sizeof err), KM_ERR_EXISTS);
	ck_assert_str_eq(err, "line 1: the topic already exists");
	ck_assert_int_eq(run(c, "\nleader-change nope:0 now", err, sizeof err),
			 KM_ERR_NOT_FOUND);
	ck_assert_str_eq(err, "line 2: no such topic, partition or broker");
	ck_assert_int_eq(run(c, "stall broker=4", err, sizeof err),
			 KM_ERR_NOT_FOUND);
	ck_assert_int_eq(run(c, "leader-change t1:0 now to=9", err, sizeof err),
			 KM_ERR_NOT_FOUND);
	ck_assert_int_eq(run(c, "leader-change t1:* now to=9", err, sizeof err),
			 KM_ERR_NOT_FOUND);
	km__sc_ids_free(&ids);
	km_cluster_destroy(c);
}
END_TEST

static Suite *scenario_suite(void)
{
	Suite *s = suite_create("mock_scenario");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, topic_and_leader_change);
	tcase_add_test(tc, request_faults);
	tcase_add_test(tc, broker_faults);
	tcase_add_test(tc, lines_comments_blanks);
	tcase_add_test(tc, errors_with_position);
	tcase_add_test(tc, nul_byte);
	tcase_add_test(tc, parse_out_of_memory);
	tcase_add_test(tc, rule_names_parse);
	tcase_add_test(tc, ids_out_of_memory);
	suite_add_tcase(s, tc);
	tc = tcase_create("apply");
	tcase_add_test(tc, apply_to_cluster);
	tcase_add_test(tc, cancel_named_rules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scenario_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
