/* Mock broker ingest: kafkit's in-process mock cluster against
 * librdkafka's own mock cluster, one after the other in this process, with
 * the same layout (3 brokers, one topic of 4 partitions, replication 3),
 * under two loads:
 *
 *   producer  one librdkafka producer in this process, 100-byte values,
 *             acks=1, linger.ms=5 (the issue's setup); the client costs
 *             ~20x the broker per message, so this measures the client
 *   replay    a load generator that saturates the broker: -C connections
 *             (threads "loadgen"), each replaying one pre-encoded
 *             ProduceRequest v7 (acks=1, one uncompressed batch of -B
 *             100-byte records for one partition, sent to its leader) with
 *             -W requests in flight, checking every response
 *             (bench_mock_replay.c)
 *
 * For each it prints messages/s, MB/s, the CPU time of the broker thread
 * per message, the process's peak RSS during the run, the ratio kafkit /
 * librdkafka, and the bytes each kafkit partition still holds.
 *
 *   bench_mock [-n messages] [-N messages] [-r rounds] [-b brokers] [-p partitions]
 *              [-R retention-bytes] [-s] [-c key=value]...
 *              [-1 kafkit|librdkafka] [-m producer|replay|both]
 *              [-C connections] [-B records-per-batch] [-W in-flight]
 *
 * -n  messages per producer run (default 1000000)
 * -N  messages per replay run (default 10000000; rounded up to whole
 *     batches)
 * -r  rounds; each round runs both clusters (default 1, at most 100);
 *     with several, the medians are compared too
 * -R  kafkit's per-partition retention (default 5 MiB: librdkafka's mock
 *     keeps at most 5 MiB or 100000 batches per partition, not settable)
 * -s  run librdkafka's mock first in each round (default: kafkit first)
 * -c  extra producer setting (up to 16), to study what limits the rate;
 *     the figures are then no longer the issue's configuration
 * -1  run only this cluster (for profiling); no ratio
 * -m  which loads (default both)
 * -C, -B, -W  replay connections (default 8), records per batch (default
 *     500), requests in flight per connection (default 5)
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_mock_replay.h"
#include "bench_proc.h"
#include "kafkit/codec.h"
#include "kafkit/mock.h"
#include "kafkit/protocol.h"

enum {
	VALUE_LEN = 100, MAX_ROUNDS = 100, MAX_CONF = 16,
	MAX_CONNS = 64
};

#define TOPIC "bench"

typedef struct opts {
	long n, n_replay;
	int rounds;
	int brokers;
	int partitions;
	size_t retention;
	bool rdkafka_first;
	int n_conf;
	const char *conf[MAX_CONF]; /* "key=value" */
	const char *only;           /* NULL: both */
	bool load_producer, load_replay;
	int conns, batch_records, window;
} opts;

/* One broker implementation under test: either cluster is set. */
typedef struct target {
	const char *name;
	km_cluster *km;
	rd_kafka_t *mock_host; /* the handle librdkafka's mock lives in */
	rd_kafka_mock_cluster_t *rdm;
	const char *bootstraps;
} target;

typedef struct result {
	double secs;
	double peak_rss_mb, base_rss_mb;
	double cpu_broker, cpu_client, cpu_main, cpu_load; /* seconds */
	unsigned long long broker_runs; /* the broker thread's time slices */
	long queue_full;        /* producer load: sends refused for a full
	                           queue (each waits up to 1 ms in poll) */
	long n;                 /* messages timed */
	int64_t stored;         /* sum of high watermarks (messages) */
	size_t retained_bytes;  /* kafkit only; 0 for librdkafka */
	size_t retained_batches;
} result;

static atomic_long delivered, failed;
static long queue_full; /* the producing thread's only */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_mock: %s: %s\n", what, why);
	exit(1);
}

/* Split the CPU used between two samples: the main thread (producing,
 * delivery reports), the replay load generator ("loadgen" threads), the
 * broker (librdkafka's "rdk:mock" thread, or kafkit's I/O thread, which
 * keeps the program's name), and librdkafka's other "rdk:" threads (the
 * client, plus the idle threads of the handle hosting librdkafka's
 * mock). */
static void cpu_split(const bp_threads *a, const bp_threads *b, result *r)
{
	long pid = (long)getpid();
	r->cpu_broker = r->cpu_client = r->cpu_main = r->cpu_load = 0;
	r->broker_runs = 0;
	for (int i = 0; i < b->n; i++) {
		unsigned long long before = 0, runs_before = 0;
		int j;
		if (bp_thread_find(a, b->tid[i], &j)) {
			before = a->ns[j];
			runs_before = a->runs[j];
		}
		double s = (double)(b->ns[i] - before) / 1e9;
		if (b->tid[i] == pid)
			r->cpu_main += s;
		else if (!strcmp(b->comm[i], "loadgen"))
			r->cpu_load += s;
		else if (strncmp(b->comm[i], "rdk:", 4) ||
			 !strcmp(b->comm[i], "rdk:mock")) {
			r->cpu_broker += s;
			r->broker_runs += b->runs[i] - runs_before;
		} else {
			r->cpu_client += s;
		}
	}
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
			void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err) {
		if (atomic_fetch_add(&failed, 1) == 0)
			fprintf(stderr, "bench_mock: delivery: %s\n",
				rd_kafka_err2str(m->err));
	} else {
		atomic_fetch_add(&delivered, 1);
	}
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
		die(k, err);
}

/* The producer under test: acks=1, linger.ms=5, everything else at
 * librdkafka's defaults (no compression, batch.num.messages 10000). */
static rd_kafka_t *new_producer(const char *bootstraps, const opts *o)
{
	char err[256], kv[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	conf_set(conf, "bootstrap.servers", bootstraps);
	conf_set(conf, "acks", "1");
	conf_set(conf, "linger.ms", "5");
	for (int i = 0; i < o->n_conf; i++) {
		snprintf(kv, sizeof kv, "%s", o->conf[i]);
		char *eq = strchr(kv, '=');
		*eq = 0;
		conf_set(conf, kv, eq + 1);
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk)
		die("rd_kafka_new", err);
	return rk;
}

static void start_target(target *t, const opts *o)
{
	char err[256];
	if (!strcmp(t->name, "kafkit")) {
		km_options ko;
		km_options_init(&ko);
		ko.retention_bytes = o->retention;
		ko.replication_factor = o->brokers < 3 ? o->brokers : 3;
		km_err e = km_cluster_new(&t->km, o->brokers, &ko);
		if (e == KM_OK)
			e = km_cluster_create_topic(t->km, TOPIC,
						    o->partitions, NULL);
		if (e == KM_OK)
			e = km_cluster_start(t->km);
		if (e != KM_OK)
			die("kafkit mock", km_err_name(e));
		t->bootstraps = km_cluster_bootstraps(t->km);
		return;
	}
	/* The hosting handle has no bootstrap servers: it never connects,
	 * and its notice saying so is not wanted. */
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	conf_set(conf, "log_level", "3");
	t->mock_host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!t->mock_host)
		die("rd_kafka_new (mock host)", err);
	t->rdm = rd_kafka_mock_cluster_new(t->mock_host, o->brokers);
	if (!t->rdm)
		die("rd_kafka_mock_cluster_new", "failed");
	rd_kafka_resp_err_t re = rd_kafka_mock_topic_create(
		t->rdm, TOPIC, o->partitions, o->brokers < 3 ? o->brokers : 3);
	if (re)
		die("rd_kafka_mock_topic_create", rd_kafka_err2str(re));
	t->bootstraps = rd_kafka_mock_cluster_bootstraps(t->rdm);
}

static void stop_target(target *t)
{
	if (t->km) {
		km_cluster_destroy(t->km);
		t->km = NULL;
	}
	if (t->rdm) {
		rd_kafka_mock_cluster_destroy(t->rdm);
		rd_kafka_destroy(t->mock_host);
		t->rdm = NULL;
		t->mock_host = NULL;
	}
}

static void produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition,
		    const void *value)
{
	/* No copy flag: every message points at the same buffer, so the
	 * client's own copy does not weigh on the figures. */
	while (rd_kafka_produce(rkt, partition, 0, (void *)value, VALUE_LEN,
				NULL, 0, NULL) == -1) {
		rd_kafka_resp_err_t e = rd_kafka_last_error();
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			die("rd_kafka_produce", rd_kafka_err2str(e));
		queue_full++;
		rd_kafka_poll(rk, 1);
	}
}

static void flush_all(rd_kafka_t *rk)
{
	while (rd_kafka_outq_len(rk) > 0)
		rd_kafka_flush(rk, 1000);
}

/* Messages stored, read back from the partitions' high watermarks. */
static int64_t stored_messages(rd_kafka_t *rk, int partitions)
{
	int64_t sum = 0;
	for (int32_t p = 0; p < partitions; p++) {
		int64_t lo, hi;
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
			rk, TOPIC, p, &lo, &hi, 10000);
		if (e)
			die("rd_kafka_query_watermark_offsets",
			    rd_kafka_err2str(e));
		sum += hi;
	}
	return sum;
}

/* ---- replay ------------------------------------------------------------ */

/* Port of the leader of each partition, from a Metadata request. */
static void leader_ports(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int n,
			 uint16_t *ports)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	if (e)
		die("rd_kafka_metadata", rd_kafka_err2str(e));
	if (md->topic_cnt != 1 || md->topics[0].partition_cnt != n)
		die("rd_kafka_metadata", "unexpected topic layout");
	for (int i = 0; i < n; i++) {
		const rd_kafka_metadata_partition_t *mp =
			&md->topics[0].partitions[i];
		ports[mp->id] = 0;
		for (int b = 0; b < md->broker_cnt; b++)
			if (md->brokers[b].id == mp->leader)
				ports[mp->id] = (uint16_t)md->brokers[b].port;
		if (!ports[mp->id])
			die("rd_kafka_metadata", "a partition has no leader");
	}
	rd_kafka_metadata_destroy(md);
}

typedef struct replay_marks {
	bp_threads before, after;
} replay_marks;

static void replay_mark(void *arg, int end)
{
	replay_marks *m = arg;
	bp_sample_threads(end ? &m->after : &m->before);
}

/* The timed replay: returns the messages sent, with r's times filled. */
static long replay(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const opts *o,
		   const uint8_t *value, result *r)
{
	/* a leader port per partition */
	uint16_t *ports = calloc((size_t)o->partitions, sizeof *ports);
	replay_marks m;
	const char *fail;
	if (!ports)
		die("replay", "out of memory");
	leader_ports(rk, rkt, o->partitions, ports);
	bm_replay_cfg cfg = {
		.topic = TOPIC, .ports = ports, .partitions = o->partitions,
		.conns = o->conns, .batch_records = o->batch_records,
		.window = o->window, .messages = o->n_replay,
		.value = value, .value_len = VALUE_LEN};
	long n = bm_replay_run(&cfg, replay_mark, &m, &r->secs, &fail);
	free(ports);
	if (n < 0)
		die("replay", fail);
	cpu_split(&m.before, &m.after, r);
	return n;
}

/* ---- runs --------------------------------------------------------------- */

/* The timed single producer: the issue's setup. */
static void produce_timed(rd_kafka_t *rk, rd_kafka_topic_t *rkt,
			  const opts *o, const uint8_t *value, result *r)
{
	bp_threads before, after;
	atomic_store(&delivered, 0);
	queue_full = 0;
	bp_sample_threads(&before);
	double t0 = now();
	for (long i = 0; i < o->n; i++)
		produce(rk, rkt, (int32_t)(i % o->partitions), value);
	flush_all(rk);
	r->secs = now() - t0;
	bp_sample_threads(&after);
	cpu_split(&before, &after, r);
	r->queue_full = queue_full;
	if (atomic_load(&delivered) != o->n || atomic_load(&failed))
		die("producer", "not every message was delivered");
}

static void run(target *t, const opts *o, bool use_replay,
		const uint8_t *value, result *r)
{
	memset(r, 0, sizeof *r);
	malloc_trim(0);
	r->base_rss_mb = bp_status_mb("VmRSS");
	bp_reset_peak_rss();

	start_target(t, o);
	rd_kafka_t *rk = new_producer(t->bootstraps, o);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, TOPIC, NULL);
	if (!rkt)
		die("rd_kafka_topic_new",
		    rd_kafka_err2str(rd_kafka_last_error()));
	/* Warm-up, untimed: metadata, connections to every leader. */
	atomic_store(&delivered, 0);
	atomic_store(&failed, 0);
	for (int32_t p = 0; p < o->partitions; p++)
		produce(rk, rkt, p, value);
	flush_all(rk);
	if (atomic_load(&failed))
		die(t->name, "warm-up delivery failed");

	if (use_replay) {
		r->n = replay(rk, rkt, o, value, r);
	} else {
		r->n = o->n;
		produce_timed(rk, rkt, o, value, r);
	}
	r->peak_rss_mb = bp_status_mb("VmHWM");
	r->stored = stored_messages(rk, o->partitions);
	if (r->stored != r->n + o->partitions)
		die(t->name, "high watermarks do not add up to the messages");
	if (t->km)
		for (int32_t p = 0; p < o->partitions; p++) {
			km_partition_info pi;
			if (km_cluster_partition_info(t->km, TOPIC, p, &pi) !=
			    KM_OK)
				die(t->name, "partition info");
			r->retained_bytes += pi.bytes;
			r->retained_batches += pi.batches;
		}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	stop_target(t);
}

static void print_result(const target *t, const opts *o, const result *r)
{
	double mps = (double)r->n / r->secs;
	printf("%-10s %7.3f s %9.0f msg/s %6.1f MB/s  peak RSS %5.1f MB "
	       "(+%4.1f)\n",
	       t->name, r->secs, mps, mps * VALUE_LEN / 1e6, r->peak_rss_mb,
	       r->peak_rss_mb - r->base_rss_mb);
	printf("%-10s CPU: broker %.2f s (%.0f ns/msg), client threads "
	       "%.2f s, main %.2f s, loadgen %.2f s; %.2f cores busy\n",
	       "", r->cpu_broker, r->cpu_broker * 1e9 / (double)r->n,
	       r->cpu_client, r->cpu_main, r->cpu_load,
	       (r->cpu_broker + r->cpu_client + r->cpu_main + r->cpu_load) /
		       r->secs);
	/* Each time slice is a wake-up (or a preemption): a broker that
	 * sleeps and wakes per request pays the scheduler every time. */
	printf("%-10s broker thread scheduled %llu times (%.2f per 1000 msg)"
	       "; producer found its queue full %ld times\n",
	       "", r->broker_runs, (double)r->broker_runs * 1000 / (double)r->n,
	       r->queue_full);
	if (!strcmp(t->name, "kafkit"))
		printf("%-10s retained: %.1f MB in %zu batches (%d partitions)\n",
		       "", (double)r->retained_bytes / 1e6, r->retained_batches,
		       o->partitions);
	fflush(stdout);
}

static long parse_num(const char *s, const char *flag)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 1)
		die(flag, "expects a positive number");
	return v;
}

static void parse_args(int argc, char **argv, opts *o)
{
	int ch;
	*o = (opts){.n = 1000000, .n_replay = 10000000, .rounds = 1, .brokers = 3, .partitions = 4,
		    .retention = 5u << 20, .load_producer = true,
		    .load_replay = true, .conns = 8, .batch_records = 500,
		    .window = 5};
	while ((ch = getopt(argc, argv, "n:N:r:b:p:R:sc:1:m:C:B:W:")) != -1)
		switch (ch) {
		case 'n': o->n = parse_num(optarg, "-n"); break;
		case 'N': o->n_replay = parse_num(optarg, "-N"); break;
		case 'r': o->rounds = (int)parse_num(optarg, "-r"); break;
		case 'b': o->brokers = (int)parse_num(optarg, "-b"); break;
		case 'p': o->partitions = (int)parse_num(optarg, "-p"); break;
		case 'R': o->retention = (size_t)parse_num(optarg, "-R"); break;
		case 's': o->rdkafka_first = true; break;
		case 'c':
			if (o->n_conf == MAX_CONF)
				die("-c", "too many settings");
			if (!strchr(optarg, '='))
				die("-c", "expects key=value");
			o->conf[o->n_conf++] = optarg;
			break;
		case '1':
			if (strcmp(optarg, "kafkit") &&
			    strcmp(optarg, "librdkafka"))
				die("-1", "kafkit or librdkafka");
			o->only = optarg;
			break;
		case 'm':
			o->load_producer = !strcmp(optarg, "producer") ||
					   !strcmp(optarg, "both");
			o->load_replay = !strcmp(optarg, "replay") ||
					 !strcmp(optarg, "both");
			if (!o->load_producer && !o->load_replay)
				die("-m", "producer, replay or both");
			break;
		case 'C': o->conns = (int)parse_num(optarg, "-C"); break;
		case 'B': o->batch_records = (int)parse_num(optarg, "-B"); break;
		case 'W': o->window = (int)parse_num(optarg, "-W"); break;
		default:
			fprintf(stderr, "usage: bench_mock [-n messages] "
					"[-N messages] "
					"[-r rounds] [-b brokers] "
					"[-p partitions] [-R retention-bytes] "
					"[-s] [-c key=value]... "
					"[-1 kafkit|librdkafka] "
					"[-m producer|replay|both] "
					"[-C connections] [-B records-per-batch] "
					"[-W in-flight]\n");
			exit(2);
		}
	if (o->rounds > MAX_ROUNDS)
		die("-r", "at most 100 rounds");
	if (o->conns > MAX_CONNS)
		die("-C", "at most 64 connections");
	if (o->batch_records > 100000)
		die("-B", "at most 100000 records per batch");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One round of one load: both clusters (or -1's), in -s order. Stores
 * the rates in km/rd. */
static void round_of(const opts *o, bool use_replay, int round,
		     const uint8_t *value, double *km, double *rd)
{
	target tk = {.name = "kafkit"}, tr = {.name = "librdkafka"};
	target *order[2] = {&tk, &tr};
	result res_k, res_r, *res[2] = {&res_k, &res_r};
	const char *load = use_replay ? "replay" : "producer";
	if (o->rdkafka_first) {
		order[0] = &tr;
		order[1] = &tk;
		res[0] = &res_r;
		res[1] = &res_k;
	}
	for (int i = 0; i < 2; i++) {
		if (o->only && strcmp(o->only, order[i]->name))
			continue;
		run(order[i], o, use_replay, value, res[i]);
		printf("[%s] ", load);
		print_result(order[i], o, res[i]);
	}
	if (o->only)
		return;
	*km = (double)res_k.n / res_k.secs;
	*rd = (double)res_r.n / res_r.secs;
	printf("[%s] round %d: kafkit / librdkafka mock = %.2fx (broker CPU "
	       "per message %.2fx)\n",
	       load, round + 1, *km / *rd,
	       (res_k.cpu_broker / (double)res_k.n) /
		       (res_r.cpu_broker / (double)res_r.n));
}

int main(int argc, char **argv)
{
	opts o;
	uint8_t value[VALUE_LEN];
	double rate_km[2][MAX_ROUNDS], rate_rd[2][MAX_ROUNDS];
	parse_args(argc, argv, &o);
	for (int i = 0; i < VALUE_LEN; i++)
		value[i] = (uint8_t)('a' + i % 26);

	printf("librdkafka %s: messages of %d B, acks=1",
	       rd_kafka_version_str(), VALUE_LEN);
	if (o.load_producer) {
		printf("; producer: %ld messages, linger.ms=5", o.n);
		for (int i = 0; i < o.n_conf; i++)
			printf(", %s", o.conf[i]);
	}
	if (o.load_replay)
		printf("; replay: %ld messages, %d connections, %d records per "
		       "batch, %d in flight",
		       o.n_replay, o.conns, o.batch_records, o.window);
	printf("; %d brokers, 1 topic of %d partitions, replication %d; "
	       "kafkit retention %zu B per partition\n",
	       o.brokers, o.partitions, o.brokers < 3 ? o.brokers : 3,
	       o.retention);
	for (int round = 0; round < o.rounds; round++)
		for (int load = 0; load < 2; load++)
			if (load ? o.load_replay : o.load_producer)
				round_of(&o, load, round, value,
					 &rate_km[load][round],
					 &rate_rd[load][round]);
	for (int load = 0; load < 2 && o.rounds > 1 && !o.only; load++) {
		if (!(load ? o.load_replay : o.load_producer))
			continue;
		double mk = median(rate_km[load], o.rounds);
		double mr = median(rate_rd[load], o.rounds);
		printf("[%s] medians over %d rounds: kafkit %.0f msg/s "
		       "(%.1f MB/s), librdkafka %.0f msg/s (%.1f MB/s), "
		       "ratio %.2fx\n",
		       load ? "replay" : "producer", o.rounds, mk,
		       mk * VALUE_LEN / 1e6, mr, mr * VALUE_LEN / 1e6, mk / mr);
	}
	return 0;
}
