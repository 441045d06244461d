/* Producer throughput: the kafkit producer against librdkafka's producer,
 * in one process, against the same kind of broker: kafkit's in-process
 * mock cluster and librdkafka's mock cluster (3 brokers, one topic of 4
 * partitions, replication factor 3; a fresh cluster for every run).
 * Values of 100 B and 1 KiB (random capital letters, each message cut
 * from another place of one pool), null keys, acks=1, linger.ms=5, codecs
 * none, lz4 and zstd; batch.size the same for both clients (each setting
 * of -b in turn: 16384, the Java client's default and kafkit's, and
 * 1000000, librdkafka's; the defaults differ, so comparing them would
 * compare batch sizes, not clients); every other setting at each client's
 * default. Both clients copy the payload (kafkit's default;
 * RD_KAFKA_MSG_F_COPY); with -z both lend it instead, each keeping the
 * caller's bytes until the report (kafkit: a free_cb; librdkafka: no
 * flag) and copying into the batch only what is at most its
 * message.copy.max.bytes (kafkit 16383, librdkafka 65535; -k sets
 * kafkit's).
 *
 * For each run: messages/s and payload MB/s from the first send to the
 * last delivery report, the CPU time of the client per message (the
 * sending thread plus every thread the client started: /proc schedstat
 * per thread, so the in-process broker's threads are left out; the
 * broker's is printed apart), the process's peak RSS above its level
 * before the run, and kafkit/librdkafka ratios.
 *
 *   bench_producer [-n messages-100B] [-N messages-1KiB] [-s large-size]
 *                  [-r rounds] [-p partitions] [-c none,lz4,zstd]
 *                  [-B kafkit,rdkafka] [-b batch.size,...] [-z]
 *                  [-k key=value]...
 *
 * -s sets the size of the "1 KiB" messages (up to 256 KiB).
 *
 * With several rounds, each line is the median of the rounds, and the
 * spread (slowest/fastest msg/s of the rounds) is printed to show the
 * noise. -k adds a kafkit producer setting (up to 8; it overrides -b), to
 * study what limits it; the figures are then no longer like for like.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"
#include "kafkit/mock.h"
#include "kafkit/producer.h"

#define TOPIC "bench"
#define MAX_ROUNDS 25
#define POOL_SPAN (1 << 20)
#define MAX_LARGE (256 << 10)

enum { BROKER_KAFKIT, BROKER_RDKAFKA, NBROKERS };
enum { CLIENT_KAFKIT, CLIENT_RDKAFKA, NCLIENTS };

static const char *broker_names[] = {"kafkit-mock", "rdkafka-mock"};
static const char *client_names[] = {"kafkit", "librdkafka"};

typedef struct opts {
	long n_small, n_large;
	int rounds;
	int partitions;
	char codecs[64];
	char brokers[64];
	char batch_sizes[128]; /* -b: each run with every size in turn */
	int n_conf;
	const char *conf[8]; /* -k "key=value" for the kafkit producer */
	size_t large_size;   /* -s */
} opts;

typedef struct result {
	double secs, client_cpu, broker_cpu, rss_mb;
	double spread; /* of the medians: slowest/fastest round's time */
} result;

/* A broker under test: one of the two set. */
typedef struct target {
	km_cluster *km;
	rd_kafka_t *host;
	rd_kafka_mock_cluster_t *rdm;
	const char *bootstraps;
} target;

static uint8_t *pool;
static atomic_long delivered, failed;
static bool lend; /* -z */

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_producer: %s: %s\n", what, why);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- process measurements -------------------------------------------- */

/* CPU seconds between a and b of the client (the main thread and the
 * threads absent from `infra`, the sample taken once the broker ran but
 * before the client started) and of the rest (the broker). */
static void split_cpu(const bp_threads *infra, const bp_threads *a,
		      const bp_threads *b, result *r)
{
	long self = (long)getpid();
	r->client_cpu = r->broker_cpu = 0;
	for (int i = 0; i < b->n; i++) {
		int j;
		unsigned long long before =
			bp_thread_find(a, b->tid[i], &j) ? a->ns[j] : 0;
		double s = (double)(b->ns[i] - before) / 1e9;
		if (b->tid[i] == self || !bp_thread_find(infra, b->tid[i], &j))
			r->client_cpu += s;
		else
			r->broker_cpu += s;
	}
}

/* ---- brokers ----------------------------------------------------------- */

static void start_target(target *t, int broker, const opts *o)
{
	memset(t, 0, sizeof *t);
	if (broker == BROKER_KAFKIT) {
		km_options ko;
		km_options_init(&ko);
		/* as librdkafka's mock, which keeps at most 5 MiB per
		 * partition: memory stays the clients' */
		ko.retention_bytes = 5u << 20;
		km_err e = km_cluster_new(&t->km, 3, &ko);
		if (e == KM_OK)
			e = km_cluster_create_topic(t->km, TOPIC, o->partitions,
						    NULL);
		if (e == KM_OK)
			e = km_cluster_start(t->km);
		if (e != KM_OK)
			die("kafkit mock", km_err_name(e));
		t->bootstraps = km_cluster_bootstraps(t->km);
		return;
	}
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
	t->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!t->host)
		die("rd_kafka_new (mock host)", err);
	t->rdm = rd_kafka_mock_cluster_new(t->host, 3);
	if (!t->rdm)
		die("rd_kafka_mock_cluster_new", "failed");
	if (rd_kafka_mock_topic_create(t->rdm, TOPIC, o->partitions, 3))
		die("rd_kafka_mock_topic_create", "failed");
	t->bootstraps = rd_kafka_mock_cluster_bootstraps(t->rdm);
}

static void stop_target(target *t)
{
	km_cluster_destroy(t->km);
	if (t->rdm) {
		rd_kafka_mock_cluster_destroy(t->rdm);
		rd_kafka_destroy(t->host);
	}
}

/* ---- clients ----------------------------------------------------------- */

static const uint8_t *payload(long i, size_t size)
{
	return pool + (size_t)((unsigned long)i * 2654435761u % POOL_SPAN) %
			      (POOL_SPAN - size);
}

static void kp_report(const kp_delivery_report *dr, void *opaque)
{
	(void)opaque;
	if (dr->err == KP_OK)
		atomic_fetch_add(&delivered, 1);
	else if (atomic_fetch_add(&failed, 1) == 0)
		fprintf(stderr, "bench_producer: kafkit delivery: %s\n",
			kp_err_name(dr->err));
}

static void kp_conf_must(kp_conf *c, const char *k, const char *v)
{
	char err[256];
	if (kp_conf_set(c, k, v, err, sizeof err) != KP_OK)
		die(k, err);
}

static kp_producer *kafkit_new(const char *bootstraps, const char *codec,
			       const char *batch_size, const opts *o)
{
	char err[256];
	kp_conf *c = kp_conf_new();
	if (!c)
		die("kp_conf_new", "out of memory");
	kp_conf_must(c, "bootstrap.servers", bootstraps);
	kp_conf_must(c, "acks", "1");
	kp_conf_must(c, "linger.ms", "5");
	kp_conf_must(c, "compression.type", codec);
	kp_conf_must(c, "batch.size", batch_size);
	for (int i = 0; i < o->n_conf; i++) {
		char kv[256];
		snprintf(kv, sizeof kv, "%s", o->conf[i]);
		char *eq = strchr(kv, '=');
		*eq = 0;
		kp_conf_must(c, kv, eq + 1);
	}
	kp_producer *p;
	if (kp_producer_new(c, &p, err, sizeof err) != KP_OK)
		die("kp_producer_new", err);
	kp_conf_destroy(c);
	return p;
}

/* The pool outlives every producer: nothing to release. */
static void pool_kept(void *opaque)
{
	(void)opaque;
}

static void kafkit_send(kp_producer *p, int32_t partition, long i,
			size_t size)
{
	kp_record rec = {
		.topic = TOPIC,
		.partition = partition,
		.value = payload(i, size),
		.value_len = size,
		.timestamp = KP_TIMESTAMP_NOW,
		.free_cb = lend ? pool_kept : NULL,
	};
	kp_err e = kp_send(p, &rec, kp_report, NULL);
	if (e != KP_OK)
		die("kp_send", kp_err_name(e));
}

static void rd_report(rd_kafka_t *rk, const rd_kafka_message_t *m,
		      void *opaque)
{
	(void)rk;
	(void)opaque;
	if (!m->err)
		atomic_fetch_add(&delivered, 1);
	else if (atomic_fetch_add(&failed, 1) == 0)
		fprintf(stderr, "bench_producer: librdkafka delivery: %s\n",
			rd_kafka_err2str(m->err));
}

static rd_kafka_t *rdkafka_new(const char *bootstraps, const char *codec,
			       const char *batch_size)
{
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	const char *kv[][2] = {
		{"bootstrap.servers", bootstraps},
		{"acks", "1"},
		{"linger.ms", "5"},
		{"compression.codec", codec},
		{"batch.size", batch_size},
	};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
		if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], err, sizeof err))
			die(kv[i][0], err);
	rd_kafka_conf_set_dr_msg_cb(c, rd_report);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
	if (!rk)
		die("rd_kafka_new", err);
	return rk;
}

static void rdkafka_send(rd_kafka_t *rk, rd_kafka_topic_t *rkt,
			 int32_t partition, long i, size_t size)
{
	while (rd_kafka_produce(rkt, partition, lend ? 0 : RD_KAFKA_MSG_F_COPY,
				(void *)payload(i, size), size, NULL, 0,
				NULL) == -1) {
		rd_kafka_resp_err_t e = rd_kafka_last_error();
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			die("rd_kafka_produce", rd_kafka_err2str(e));
		rd_kafka_poll(rk, 1);
	}
	if ((i & 1023) == 0)
		rd_kafka_poll(rk, 0);
}

static void rdkafka_flush(rd_kafka_t *rk)
{
	while (rd_kafka_outq_len(rk) > 0)
		rd_kafka_flush(rk, 1000);
}

/* One timed run of n messages of `size` bytes: fresh broker and client;
 * one untimed message per partition first (metadata, connections). */
static void run(int broker, int client, const char *codec,
		const char *batch_size, size_t size, long n, const opts *o,
		result *r)
{
	target t;
	bp_threads infra, a, b;
	malloc_trim(0);
	double base_rss = bp_status_mb("VmRSS");
	bp_reset_peak_rss();
	start_target(&t, broker, o);
	bp_sample_threads(&infra);
	atomic_store(&delivered, 0);
	atomic_store(&failed, 0);
	kp_producer *p = NULL;
	rd_kafka_t *rk = NULL;
	rd_kafka_topic_t *rkt = NULL;
	if (client == CLIENT_KAFKIT) {
		p = kafkit_new(t.bootstraps, codec, batch_size, o);
		for (int32_t q = 0; q < o->partitions; q++)
			kafkit_send(p, q, q, size);
		if (kp_flush(p, 30000) != KP_OK)
			die("kafkit warm-up", "flush timed out");
	} else {
		rk = rdkafka_new(t.bootstraps, codec, batch_size);
		rkt = rd_kafka_topic_new(rk, TOPIC, NULL);
		for (int32_t q = 0; q < o->partitions; q++)
			rdkafka_send(rk, rkt, q, q, size);
		rdkafka_flush(rk);
	}
	if (atomic_load(&failed))
		die(client_names[client], "warm-up delivery failed");
	atomic_store(&delivered, 0);

	bp_sample_threads(&a);
	double t0 = now();
	if (client == CLIENT_KAFKIT) {
		for (long i = 0; i < n; i++)
			kafkit_send(p, KP_PARTITION_ANY, i, size);
		if (kp_flush(p, -1) != KP_OK)
			die("kp_flush", "failed");
	} else {
		for (long i = 0; i < n; i++)
			rdkafka_send(rk, rkt, RD_KAFKA_PARTITION_UA, i, size);
		rdkafka_flush(rk);
	}
	r->secs = now() - t0;
	bp_sample_threads(&b);
	split_cpu(&infra, &a, &b, r);
	r->rss_mb = bp_status_mb("VmHWM") - base_rss;
	if (atomic_load(&delivered) != n || atomic_load(&failed))
		die(client_names[client], "not every message was delivered");
	if (p) {
		kp_close(p, 10000);
	} else {
		rd_kafka_topic_destroy(rkt);
		rd_kafka_destroy(rk);
	}
	stop_target(&t);
}

/* ---- driver ------------------------------------------------------------ */

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Medians over the rounds of each field. */
static result med(const result *rs, int n)
{
	double v[4][MAX_ROUNDS];
	for (int i = 0; i < n; i++) {
		v[0][i] = rs[i].secs;
		v[1][i] = rs[i].client_cpu;
		v[2][i] = rs[i].broker_cpu;
		v[3][i] = rs[i].rss_mb;
	}
	result m = {median(v[0], n), median(v[1], n), median(v[2], n),
		    median(v[3], n), 1};
	/* median() sorted v[0] */
	if (v[0][0] > 0)
		m.spread = v[0][n - 1] / v[0][0];
	return m;
}

static void print_row(const char *broker, const char *codec, size_t size,
		      int client, long n, const result *r)
{
	double mps = (double)n / r->secs;
	printf("%-12s %-5s %5zu B  %-10s %9.0f msg/s %7.1f MB/s  "
	       "client %6.0f ns/msg  broker %6.0f ns/msg  RSS +%6.1f MB  "
	       "spread %.2f\n",
	       broker, codec, size, client_names[client], mps,
	       mps * (double)size / 1e6, r->client_cpu * 1e9 / (double)n,
	       r->broker_cpu * 1e9 / (double)n, r->rss_mb, r->spread);
}

static long parse_num(const char *s, const char *flag, long max)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 1 || v > max)
		die(flag, "expects a positive number in range");
	return v;
}

static void parse_args(int argc, char **argv, opts *o)
{
	*o = (opts){.n_small = 2000000, .n_large = 600000, .rounds = 1,
		    .partitions = 4, .large_size = 1024};
	snprintf(o->codecs, sizeof o->codecs, "none,lz4,zstd");
	snprintf(o->brokers, sizeof o->brokers, "kafkit,rdkafka");
	snprintf(o->batch_sizes, sizeof o->batch_sizes, "16384,1000000");
	int ch;
	while ((ch = getopt(argc, argv, "n:N:s:r:p:c:B:b:k:z")) != -1)
		switch (ch) {
		case 'n': o->n_small = parse_num(optarg, "-n", 1L << 40); break;
		case 'N': o->n_large = parse_num(optarg, "-N", 1L << 40); break;
		case 's':
			o->large_size = (size_t)parse_num(optarg, "-s",
							  MAX_LARGE);
			break;
		case 'z': lend = true; break;
		case 'r':
			o->rounds = (int)parse_num(optarg, "-r", MAX_ROUNDS);
			break;
		case 'p':
			o->partitions = (int)parse_num(optarg, "-p", 1000);
			break;
		case 'c':
			snprintf(o->codecs, sizeof o->codecs, "%s", optarg);
			break;
		case 'B':
			snprintf(o->brokers, sizeof o->brokers, "%s", optarg);
			break;
		case 'b':
			snprintf(o->batch_sizes, sizeof o->batch_sizes, "%s",
				 optarg);
			break;
		case 'k':
			if (o->n_conf == 8 || !strchr(optarg, '='))
				die("-k", "expects key=value, at most 8");
			o->conf[o->n_conf++] = optarg;
			break;
		default:
			fputs("usage: bench_producer [-n messages-100B] "
			      "[-N messages-1KiB] [-s large-size] [-r rounds] "
			      "[-p partitions] [-c none,lz4,zstd] "
			      "[-B kafkit,rdkafka] [-b batch.size,...] [-z] "
			      "[-k key=value]...\n",
			      stderr);
			exit(2);
		}
}

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *s = list; (s = strstr(s, name)); s += n)
		if ((s == list || s[-1] == ',') && (s[n] == ',' || !s[n]))
			return true;
	return false;
}

/* Every broker, size and codec with both clients at one batch.size. */
static void one_batch_size(const opts *o, const char *batch_size)
{
	static const char *codecs[] = {"none", "lz4", "zstd"};
	const size_t sizes[] = {100, o->large_size};
	printf("bench_producer: acks=1 linger.ms=5 batch.size=%s (both "
	       "clients), null keys, %d partitions, 3 brokers; %ld x 100 B, "
	       "%ld x %zu B; payload %s; %d round(s), medians\n",
	       batch_size, o->partitions, o->n_small, o->n_large,
	       o->large_size, lend ? "lent" : "copied", o->rounds);
	for (int br = 0; br < NBROKERS; br++) {
		if (!listed(o->brokers, br ? "rdkafka" : "kafkit"))
			continue;
		for (size_t si = 0; si < 2; si++)
			for (size_t ci = 0; ci < 3; ci++) {
				if (!listed(o->codecs, codecs[ci]))
					continue;
				long n = si ? o->n_large : o->n_small;
				result rs[NCLIENTS][MAX_ROUNDS], m[NCLIENTS];
				for (int k = 0; k < o->rounds; k++)
					/* alternate who goes first */
					for (int j = 0; j < NCLIENTS; j++) {
						int cl = (j + k) % NCLIENTS;
						run(br, cl, codecs[ci],
						    batch_size, sizes[si], n,
						    o, &rs[cl][k]);
					}
				for (int cl = 0; cl < NCLIENTS; cl++) {
					m[cl] = med(rs[cl], o->rounds);
					print_row(broker_names[br], codecs[ci],
						  sizes[si], cl, n, &m[cl]);
				}
				printf("%-12s %-5s %5zu B  kafkit/librdkafka: "
				       "%.2fx msg/s, %.2fx client CPU/msg\n",
				       broker_names[br], codecs[ci], sizes[si],
				       m[1].secs / m[0].secs,
				       m[0].client_cpu / m[1].client_cpu);
				fflush(stdout);
			}
	}
}

int main(int argc, char **argv)
{
	opts o;
	parse_args(argc, argv, &o);
	pool = malloc(POOL_SPAN);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < POOL_SPAN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pool[i] = (uint8_t)('A' + x % 26);
	}
	char sizes_list[sizeof o.batch_sizes];
	snprintf(sizes_list, sizeof sizes_list, "%s", o.batch_sizes);
	char *save = NULL;
	for (char *bs = strtok_r(sizes_list, ",", &save); bs;
	     bs = strtok_r(NULL, ",", &save)) {
		parse_num(bs, "-b", 2147483647L);
		one_batch_size(&o, bs);
	}
	free(pool);
	return 0;
}
