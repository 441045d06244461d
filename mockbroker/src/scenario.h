/*
 * kafkit mock broker: the scenario language of kafkit-mock (internal).
 *
 * A scenario is text, one command per line, `#` to the end of the line a
 * comment. km__scenario_parse() turns it into a list of km__cmd without any
 * I/O, so that it can be tested alone; km__scenario_apply() then carries
 * one command out through the public control API of kafkit/mock.h. The
 * grammar is documented in docs/mockbroker.md ("kafkit-mock").
 */
#ifndef KAFKIT_MOCK_SCENARIO_H
#define KAFKIT_MOCK_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkit/mock.h"
#include "scenario_ids.h"

/* Kafka's Topic.MAX_NAME_LENGTH, plus the NUL. */
#define KM__SC_TOPIC_MAX 250

typedef enum km__cmd_kind {
	KM__CMD_TOPIC,            /* topic NAME:PARTITIONS */
	KM__CMD_LEADER_CHANGE,    /* leader-change T:P|T:*|*:* now|every D ... */
	/* the rules below (and leader-change every) also take id=NAME */
	KM__CMD_DELAY,            /* delay [api=A] [broker=B] [jitter=D] D */
	KM__CMD_SWALLOW,          /* swallow [api=A] [broker=B] [p=F] [next=N] */
	KM__CMD_CLOSE,            /* close [api=A] [broker=B] [p=F] [next=N] */
	KM__CMD_ERRORS,           /* errors [api=A] [broker=B] [partition=T:P] E [xK] */
	KM__CMD_THROTTLE,         /* throttle [api=A] [broker=B] D */
	KM__CMD_STALL,            /* stall [broker=B] */
	KM__CMD_UNSTALL,          /* unstall [broker=B] */
	KM__CMD_BROKER_DOWN,      /* broker-down B [keep-leaders] */
	KM__CMD_BROKER_UP,        /* broker-up B */
	KM__CMD_DROP_CONNECTIONS, /* drop-connections [broker=B] [after=N] */
	KM__CMD_SEED,             /* seed N */
	KM__CMD_CLEAR,            /* clear */
	KM__CMD_CANCEL,           /* cancel NAME */
} km__cmd_kind;

/* One parsed command. Fields a command does not use keep the values
 * noted here. */
typedef struct km__cmd {
	km__cmd_kind kind;
	int line;                    /* 1-based line of the source text */
	char topic[KM__SC_TOPIC_MAX]; /* "": none, or every topic (*:*) */
	int32_t partition;  /* -1: every partition (t1:*) or none */
	int32_t partitions; /* TOPIC; else 0 */
	int32_t broker;     /* -1: every broker (not given) */
	int32_t to_broker;  /* LEADER_CHANGE to=B; -1: the next replica */
	int16_t api_key;    /* -1: every api (not given) */
	int16_t error_code; /* ERRORS; else 0 */
	int32_t count;      /* ERRORS xK (default 1), next=N; else 0 */
	double probability; /* p=F; else 1 */
	uint32_t ms;        /* DELAY, THROTTLE, LEADER_CHANGE every D; else 0 */
	uint32_t jitter_ms; /* DELAY jitter=D; else 0 */
	uint64_t number;    /* DROP_CONNECTIONS after=N (bytes), SEED N */
	bool after;         /* DROP_CONNECTIONS: after= given */
	bool every;         /* LEADER_CHANGE scheduled (else now) */
	bool random;        /* LEADER_CHANGE random (else round robin) */
	bool keep_leaders;  /* BROKER_DOWN: leaders stay on the down broker */
	char name[KM__SC_NAME_MAX]; /* id=NAME of a rule, CANCEL's NAME;
				     * else "" */
} km__cmd;

typedef struct km__scenario {
	km__cmd *cmds;
	size_t n, cap;
} km__scenario;

/* An empty scenario. Any thread. */
void km__scenario_init(km__scenario *s);

/* Release the command list; s is empty afterwards. Any thread. */
void km__scenario_free(km__scenario *s);

/* Parse `len` bytes of scenario text and append its commands to s, with
 * their line numbers counted from first_line (1 for a file). Nothing is
 * appended on error. On KM_ERR_INVALID_ARG, err receives (truncated to
 * errlen, always NUL-terminated when errlen > 0) "line N: col M: message",
 * where M is the 1-based byte column of the offending word.
 * Errors: KM_ERR_INVALID_ARG (a syntax error), KM_ERR_NOMEM.
 * Pure: no I/O, no global state. Any thread. */
km_err km__scenario_parse(km__scenario *s, const char *text, size_t len,
			  int first_line, char *err, size_t errlen);

/* Carry out one command on cluster c through kafkit/mock.h. A rule with
 * id=NAME is recorded in ids under NAME; `cancel NAME` removes that rule
 * (km_fault_cancel) and frees the name; `clear` frees every name. On an
 * error, err receives "line N: message" (as km__scenario_parse does).
 * Errors: those of the mock.h call it makes (KM_ERR_NOT_FOUND for an
 * unknown topic, partition or broker, KM_ERR_EXISTS, KM_ERR_INVALID_ARG,
 * KM_ERR_NOMEM, KM_ERR_STATE); KM_ERR_EXISTS when NAME is taken (nothing
 * applied); KM_ERR_NOT_FOUND when `cancel` names no rule, or one that
 * already removed itself (its name is freed). Any thread but the
 * cluster's I/O thread. */
km_err km__scenario_apply(km_cluster *c, km__sc_ids *ids, const km__cmd *cmd,
			  char *err, size_t errlen);

#endif
