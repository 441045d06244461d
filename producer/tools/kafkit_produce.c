/*
 * kafkit-produce: a command-line producer (kcat -P, and
 * kafka-producer-perf-test's generator) over the kafkit producer, with an
 * embedded mock cluster, optional faults, and an audit of what the
 * brokers stored. Usage: --help and docs/kafkit-produce.md.
 *
 * Threads: main (options, sending, summary), the producer's sender thread
 * (delivery reports into the record table), the mock cluster's I/O
 * thread, and the progress thread. SIGINT/SIGTERM reach the main thread
 * only: they stop the sending, and the run still flushes and reports.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scenario.h"
#include "tool.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void mock_log(void *opaque, const char *line)
{
	const kpt__opts *o = opaque;
	/* --pcap was asked for: its failures are shown even without -v */
	if (o->verbose || !strncmp(line, "pcap ", 5) ||
	    !strncmp(line, "cannot open pcap file", 21))
		fprintf(stderr, "kafkit-mock: %s\n", line);
}

/* Faults of --chaos: moving leaders, slow responses, and a few lost
 * Produce responses (the broker appended, the client must retry and the
 * broker recognise the retry). */
static km_err chaos(km_cluster *c, const kpt__opts *o)
{
	km_fault_match m;
	km_err e = km_fault_seed(c, o->seed);
	if (e == KM_OK)
		e = km_fault_leader_schedule(c, o->topic, KM_ANY, 300,
					     KM_LEADER_RANDOM, 0, NULL);
	km_fault_match_init(&m);
	m.probability = 0.05;
	if (e == KM_OK)
		e = km_fault_delay(c, &m, 10, 90, NULL);
	km_fault_match_init(&m);
	m.api_key = 0; /* Produce */
	m.probability = 0.002;
	if (e == KM_OK)
		e = km_fault_swallow(c, &m, NULL);
	return e;
}

/* --fault commands, in order. Returns 0, or the exit status after
 * printing the error: a command that does not parse is a usage error. */
static int apply_faults(km_cluster *c, const kpt__opts *o)
{
	km__sc_ids ids; /* id=NAME rules, for a later `cancel NAME` */
	km__sc_ids_init(&ids);
	int rc = 0;
	for (size_t i = 0; !rc && i < o->nfaults; i++) {
		char err[512];
		km__scenario s;
		km__scenario_init(&s);
		km_err e = km__scenario_parse(&s, o->faults[i],
					      strlen(o->faults[i]), 1, err,
					      sizeof err);
		int bad = e == KM_ERR_NOMEM ? KPT__EXIT_FAILED : KPT__EXIT_USAGE;
		for (size_t j = 0; e == KM_OK && j < s.n; j++) {
			e = km__scenario_apply(c, &ids, &s.cmds[j], err,
					       sizeof err);
			bad = KPT__EXIT_FAILED;
		}
		km__scenario_free(&s);
		if (e != KM_OK) {
			fprintf(stderr, "kafkit-produce: --fault '%s': %s\n",
				o->faults[i], err);
			rc = bad;
		}
	}
	km__sc_ids_free(&ids);
	return rc;
}

/* The embedded cluster, started, with --chaos and --fault applied; NULL
 * with *rc set (the error printed) on failure. */
static km_cluster *start_mock(const kpt__opts *o, int *rc)
{
	km_options ko;
	km_options_init(&ko);
	ko.default_partitions = o->partitions;
	ko.log_fn = mock_log;
	ko.log_opaque = (void *)o;
	ko.pcap_path = o->pcap;
	km_cluster *c = NULL;
	km_err e = km_cluster_new(&c, o->mock_brokers, &ko);
	if (e == KM_OK)
		e = km_cluster_start(c);
	if (e == KM_OK && o->chaos)
		e = chaos(c, o);
	*rc = KPT__EXIT_FAILED;
	if (e != KM_OK)
		fprintf(stderr, "kafkit-produce: embedded mock cluster: %s\n",
			km_err_name(e));
	else if (!(*rc = apply_faults(c, o)))
		return c;
	km_cluster_destroy(c);
	return NULL;
}

static int conf_set(kp_conf *conf, const char *key, const char *value,
		    const char *what)
{
	char err[512];
	kp_err e = kp_conf_set(conf, key, value, err, sizeof err);
	if (e == KP_OK)
		return 0;
	fprintf(stderr, "kafkit-produce: %s: %s\n", what,
		e == KP_ERR_NOMEM ? "out of memory" : err);
	return -1;
}

/* The producer: the tool's defaults, then every -X in order (so -X
 * overrides them). *rc receives the exit status on failure. */
static kp_producer *make_producer(const kpt__opts *o, const char *bootstrap,
				  int *rc)
{
	*rc = KPT__EXIT_USAGE;
	kp_conf *conf = kp_conf_new();
	if (!conf) {
		fputs("kafkit-produce: out of memory\n", stderr);
		*rc = KPT__EXIT_FAILED;
		return NULL;
	}
	kp_producer *p = NULL;
	int bad = conf_set(conf, "bootstrap.servers", bootstrap, "-b") ||
		  conf_set(conf, "client.id", "kafkit-produce", "client.id");
	/* Swallowed responses cost a request timeout each; 30 s would
	 * stall the run, 1.5 s still outlasts the injected delays. */
	if (!bad && o->chaos)
		bad = conf_set(conf, "request.timeout.ms", "1500", "--chaos");
	for (size_t i = 0; !bad && i < o->nconf; i++) {
		char key[256];
		const char *eq = strchr(o->conf[i], '=');
		size_t kl = (size_t)(eq - o->conf[i]);
		if (kl >= sizeof key) {
			fprintf(stderr, "kafkit-produce: -X %s: key too long\n",
				o->conf[i]);
			bad = 1;
			break;
		}
		memcpy(key, o->conf[i], kl);
		key[kl] = 0;
		char what[300];
		snprintf(what, sizeof what, "-X %s", key);
		bad = conf_set(conf, key, eq + 1, what);
	}
	if (!bad) {
		char err[512];
		kp_err e = kp_producer_new(conf, &p, err, sizeof err);
		if (e != KP_OK) {
			fprintf(stderr, "kafkit-produce: producer: %s\n",
				e == KP_ERR_CONF_CONFLICT || e == KP_ERR_BAD_VALUE ?
					err : kp_err_str(e));
			if (e != KP_ERR_CONF_CONFLICT && e != KP_ERR_BAD_VALUE)
				*rc = KPT__EXIT_FAILED;
			p = NULL;
		}
	}
	kp_conf_destroy(conf);
	return p;
}

/* Errors of kp_send() after which every later record would fail too. */
static bool fatal_send(kp_err e)
{
	return e == KP_ERR_FATAL || e == KP_ERR_CLOSED ||
	       e == KP_ERR_UNKNOWN_TOPIC || e == KP_ERR_UNKNOWN_PARTITION ||
	       e == KP_ERR_INVALID_ARG || e == KP_ERR_NOMEM;
}

/* Send one record, its table entry filled first. Returns kp_send()'s
 * result (KP_ERR_NOMEM when the table is full). */
static kp_err send_one(kp_producer *p, kpt__table *t, const kpt__opts *o,
		       const void *key, int64_t klen, const void *value,
		       size_t vlen, bool hash)
{
	kpt__rec *r = kpt__table_add(t);
	if (!r)
		return KP_ERR_NOMEM;
	if (hash)
		r->hash = kpt__hash(key, klen, value, (int64_t)vlen);
	kp_record rec = {
		.topic = o->topic,
		.partition = o->partition,
		.key = key,
		.key_len = key ? (size_t)klen : 0,
		.value = value,
		.value_len = vlen,
		.headers = o->headers,
		.header_count = o->nheaders,
		.timestamp = KP_TIMESTAMP_NOW,
	};
	r->sent_ns = kpt__now_ns();
	kp_err e = kp_send(p, &rec, kpt__on_delivery, r);
	if (e != KP_OK) {
		r->state = KPT__SEND_FAILED;
		r->err = e;
		atomic_fetch_add(&t->failed, 1);
	}
	return e;
}

/* --throughput: sleep until record i is due. */
static void pace(const kpt__opts *o, int64_t t0, uint64_t i)
{
	if (o->throughput <= 0)
		return;
	int64_t due = t0 + (int64_t)((double)i * 1e9 / o->throughput);
	int64_t wait = due - kpt__now_ns();
	if (wait <= 0)
		return;
	struct timespec ts = {wait / 1000000000, wait % 1000000000};
	nanosleep(&ts, NULL);
}

static kp_err send_generated(kp_producer *p, kpt__table *t,
			     const kpt__opts *o, const kpt__gen *g, int64_t t0)
{
	uint8_t *value = malloc(g->size);
	if (!value)
		return KP_ERR_NOMEM;
	kp_err last = KP_OK;
	for (uint64_t i = 0; i < (uint64_t)o->num_records && !stopping; i++) {
		pace(o, t0, i);
		char key[32];
		int klen = kpt__gen_key(g, i, key);
		kpt__gen_value(g, i, value);
		last = send_one(p, t, o, klen < 0 ? NULL : key, klen, value,
				g->size, false);
		if (fatal_send(last))
			break;
	}
	free(value);
	return last;
}

static kp_err send_stdin(kp_producer *p, kpt__table *t, const kpt__opts *o,
			 int64_t t0)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	kp_err last = KP_OK;
	size_t seplen = o->key_sep ? strlen(o->key_sep) : 0;
	while (!stopping && (n = getline(&line, &cap, stdin)) >= 0) {
		pace(o, t0, t->n);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = 0;
		const char *key = NULL, *value = line;
		int64_t klen = 0;
		char *sep = o->key_sep ? strstr(line, o->key_sep) : NULL;
		if (sep) {
			key = line;
			klen = sep - line;
			value = sep + seplen;
		}
		last = send_one(p, t, o, key, klen, value,
				(size_t)(line + n - value), true);
		if (fatal_send(last))
			break;
	}
	if (ferror(stdin) && errno != EINTR)
		perror("kafkit-produce: stdin");
	free(line);
	return last;
}

/* SIGINT and SIGTERM go to the main thread: blocked while the other
 * threads start (they inherit the mask), then unblocked here. */
static void signals(int how)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(how, &set, NULL);
	if (how == SIG_UNBLOCK) {
		struct sigaction sa = {.sa_handler = on_signal};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
}

typedef struct tool {
	kpt__opts o;
	kpt__table *t;
	kpt__gen g;
	km_cluster *c;
	kp_producer *p;
	char *stats;
	kpt__audit audit;
	kpt__run run;
} tool;

/* Everything after the options: returns the exit status. */
static int produce(tool *x)
{
	const kpt__opts *o = &x->o;
	int rc;
	if (o->num_records > 0 &&
	    kpt__gen_init(&x->g, o->record_size, o->keys)) {
		fputs("kafkit-produce: out of memory\n", stderr);
		return KPT__EXIT_FAILED;
	}
	signals(SIG_BLOCK);
	x->run.embedded = !o->brokers;
	if (x->run.embedded && !(x->c = start_mock(o, &rc)))
		return rc;
	x->p = make_producer(o, o->brokers ? o->brokers :
			     km_cluster_bootstraps(x->c), &rc);
	if (!x->p)
		return rc;
	kpt__table_use(x->t);
	kpt__progress *bar = NULL;
	if (!o->quiet && isatty(STDERR_FILENO))
		bar = kpt__progress_start(x->t, o->num_records);
	signals(SIG_UNBLOCK);

	int64_t t0 = kpt__now_ns();
	kp_err last = o->num_records > 0 ?
		send_generated(x->p, x->t, o, &x->g, t0) :
		send_stdin(x->p, x->t, o, t0);
	kp_err fe = kp_flush(x->p, -1);
	x->run.secs = (double)(kpt__now_ns() - t0) / 1e9;
	kpt__progress_stop(bar);
	if (fatal_send(last))
		fprintf(stderr, "kafkit-produce: stopped sending: %s (%s)\n",
			kp_err_name(last), kp_err_str(last));
	if (fe != KP_OK)
		fprintf(stderr, "kafkit-produce: flush: %s\n", kp_err_str(fe));

	size_t len;
	x->run.retries = -1;
	if (kp_stats_json(x->p, &x->stats, &len) == KP_OK)
		x->run.retries = kpt__stats_retries(x->stats);
	kp_err ce = kp_close(x->p, 10000);
	x->p = NULL;
	if (ce != KP_OK)
		fprintf(stderr, "kafkit-produce: close: %s\n", kp_err_str(ce));

	if (x->c) {
		km_fault_clear(x->c);
		km_cluster_counters(x->c, -1, &x->run.mock);
		if (o->verify) {
			if (kpt__audit_logs(x->c, o, x->t,
					    o->num_records > 0 ? &x->g : NULL,
					    &x->audit))
				return KPT__EXIT_FAILED;
			x->run.audit = &x->audit;
		}
	}
	kpt__summary(stdout, o, x->t, &x->run);
	if (o->stats_json && x->stats)
		printf("%s\n", x->stats);
	fflush(stdout);
	if (x->run.audit && kpt__audit_failed(x->run.audit))
		return KPT__EXIT_VERIFY;
	bool all = atomic_load(&x->t->delivered) == x->t->n &&
		   !atomic_load(&x->t->extra);
	return all && !fatal_send(last) && fe == KP_OK && ce == KP_OK ?
		KPT__EXIT_OK : KPT__EXIT_FAILED;
}

int main(int argc, char **argv)
{
	tool x = {0};
	int rc = kpt__parse_args(argc, argv, &x.o);
	if (rc) {
		kpt__opts_free(&x.o);
		return rc < 0 ? KPT__EXIT_OK : rc;
	}
	x.t = calloc(1, sizeof *x.t);
	if (!x.t) {
		fputs("kafkit-produce: out of memory\n", stderr);
		kpt__opts_free(&x.o);
		return KPT__EXIT_FAILED;
	}
	rc = produce(&x);
	km_cluster_destroy(x.c);
	kp_free(x.stats);
	kpt__table_free(x.t);
	free(x.t);
	kpt__gen_free(&x.g);
	kpt__opts_free(&x.o);
	return rc;
}
