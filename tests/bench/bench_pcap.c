/* kafkit-pcap against tshark on one large capture of produce traffic.
 *
 *   bench_pcap KAFKIT_PCAP [MB [CAPTURE [MSS [ROUNDS]]]]
 *   (defaults: 200 MB, /tmp/kafkit-bench.pcap, MSS 65000 as on loopback;
 *   1460 for an Ethernet-sized capture with many more packets; 3 rounds)
 *
 * Writes CAPTURE (pcap, Ethernet/IPv4, through the pcaptools writer):
 * 8 connections to port 9092, each sending Produce v7 requests of 4
 * partitions x one uncompressed RecordBatch of 100 records (200-byte
 * JSON-like values, 12-byte keys, one header), one every 4 ms, each
 * answered 1-3 ms later,
 * until the file holds MB megabytes. Then runs, with output to /dev/null:
 *   kafkit-pcap -r CAPTURE -q          (a line per request and response)
 *   kafkit-pcap -r CAPTURE --json -q
 *   kafkit-pcap -r CAPTURE --stats -q
 *   tshark -r CAPTURE -T fields -e frame.number -e kafka.api_key
 *          -e kafka.correlation_id -e kafka.topic_name -e kafka.partition_id
 *   tshark -r CAPTURE -T json -J kafka
 * ROUNDS times, each round running all five in turn (so a change in the
 * machine's load falls on all of them), and prints the median wall time,
 * MB/s and records/s and the largest peak RSS (wait4's ru_maxrss) of
 * each, and the like-for-like ratios: the one-line-per-frame text
 * against `-T fields`, NDJSON with every field against `-T json`.
 * Produce v7 because tshark 4.0 does not decode v9+.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "kafkit/codec.h"
#include "kafkit/pcap.h"

enum { CONNS = 8, PARTS = 4, RECS = 100, VALUE_LEN = 200, MAX_ROUNDS = 15 };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_pcap: %s\n", what);
	exit(1);
}

/* One batch of RECS records; values with some structure and entropy. */
static void batch(kc_batch_builder *b, uint32_t *x, int64_t ts, long *seq)
{
	kc_batch_builder_reset(b);
	for (int i = 0; i < RECS; i++) {
		char key[16], val[VALUE_LEN];
		snprintf(key, sizeof key, "user-%07ld", *seq % 10000000);
		int n = snprintf(val, sizeof val, "{\"seq\":%ld,\"event\":\"click\",\"data\":\"",
				 *seq);
		for (int j = n; j < VALUE_LEN - 2; j++) {
			*x ^= *x << 13;
			*x ^= *x >> 17;
			*x ^= *x << 5;
			val[j] = (char)('a' + *x % 26);
		}
		val[VALUE_LEN - 2] = '"';
		val[VALUE_LEN - 1] = '}';
		kc_rec_header h = {KC_STR_LIT("trace"), kc_bytes_of("abc123", 6)};
		if (kc_batch_append(b, ts + i, kc_bytes_of(key, strlen(key)),
				    kc_bytes_of(val, VALUE_LEN), &h, 1) != KC_OK)
			die("append failed");
		(*seq)++;
	}
}

static long long generate(const char *path, long long target, uint32_t mss, long *records)
{
	kx_pcapw_opts o = {0};
	int err = 0;
	kx_pcapw *w = kx_pcapw_open(path, &o, &err);
	if (!w)
		die("cannot write the capture");
	kx_pcapw_conn c[CONNS];
	int64_t t = 1700000000000000000;
	for (int i = 0; i < CONNS; i++) {
		uint8_t a[4] = {10, 0, 1, (uint8_t)(i + 1)}, b[4] = {10, 0, 0, 1};
		kx_pcapw_conn_init(&c[i], 4, a, (uint16_t)(40000 + i), b, 9092);
		c[i].mss = mss;
		if (kx_pcapw_conn_open(w, &c[i], t))
			die("write failed");
	}
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	kc_batch_builder bb[PARTS];
	for (int p = 0; p < PARTS; p++)
		if (kc_batch_builder_init(&bb[p], &cfg) != KC_OK)
			die("builder");
	uint32_t x = 2463534242u;
	long seq = 0;
	long long bytes = 0;
	kc_writer fw;
	kc_writer_init(&fw);
	for (int32_t corr = 1; bytes < target; corr++) {
		kx_pcapw_conn *cn = &c[corr % CONNS];
		/* responses 1-3 ms later, before the next request: packets
		 * stay in time order, as in a real capture */
		t += 4000000;
		kc_produce_request req;
		kc_produce_request_topic_produce_data td;
		kc_produce_request_partition_produce_data pd[PARTS];
		kc_produce_request_init(&req);
		kc_produce_request_topic_produce_data_init(&td);
		for (int p = 0; p < PARTS; p++) {
			const uint8_t *bp;
			size_t bl;
			batch(&bb[p], &x, t / 1000000, &seq);
			if (kc_batch_seal(&bb[p], &bp, &bl) != KC_OK)
				die("seal");
			kc_produce_request_partition_produce_data_init(&pd[p]);
			pd[p].index = (corr * PARTS + p) % 16;
			pd[p].records = (kc_bytes){bp, (int32_t)bl};
		}
		req.acks = 1;
		req.timeout_ms = 30000;
		td.name = KC_STR_LIT("events");
		td.partition_data = pd;
		td.partition_data_count = PARTS;
		req.topic_data = &td;
		req.topic_data_count = 1;
		kc_writer_reset(&fw);
		if (kc_request_frame_encode(&fw, 0, 7, corr, KC_STR_LIT("bench-producer"), &req))
			die("encode");
		if (kx_pcapw_conn_send(w, cn, KX_TO_BROKER, t, kc_writer_data(&fw),
				       kc_writer_pos(&fw)))
			die("write failed");
		bytes += (long long)kc_writer_pos(&fw);

		kc_produce_response rsp;
		kc_produce_response_topic_produce_response tr;
		kc_produce_response_partition_produce_response pr[PARTS];
		kc_produce_response_init(&rsp);
		kc_produce_response_topic_produce_response_init(&tr);
		for (int p = 0; p < PARTS; p++) {
			kc_produce_response_partition_produce_response_init(&pr[p]);
			pr[p].index = pd[p].index;
			pr[p].base_offset = seq;
		}
		tr.name = td.name;
		tr.partition_responses = pr;
		tr.partition_responses_count = PARTS;
		rsp.responses = &tr;
		rsp.responses_count = 1;
		kc_writer_reset(&fw);
		if (kc_response_frame_encode(&fw, 0, 7, corr, &rsp))
			die("encode");
		if (kx_pcapw_conn_send(w, cn, KX_TO_CLIENT, t + 1000000 + (corr % 3) * 1000000,
				       kc_writer_data(&fw), kc_writer_pos(&fw)))
			die("write failed");
		bytes += (long long)kc_writer_pos(&fw);
	}
	for (int i = 0; i < CONNS; i++)
		kx_pcapw_conn_close(w, &c[i], t + 10000000);
	if (kx_pcapw_close(w))
		die("write failed");
	for (int p = 0; p < PARTS; p++)
		kc_batch_builder_free(&bb[p]);
	kc_writer_free(&fw);
	*records = seq;
	struct stat st;
	if (stat(path, &st))
		die("stat");
	return (long long)st.st_size;
}

/* Run argv with stdout to /dev/null; wall seconds and peak RSS in KiB. */
static int measure(char *const *argv, double *secs, long *rss_kb)
{
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) != pid)
		die("wait4");
	*secs = now() - t0;
	*rss_kb = ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_pcap KAFKIT_PCAP [MB [CAPTURE [MSS [ROUNDS]]]]\n");
		return 2;
	}
	char *prog = argv[1];
	long long mb = argc > 2 ? atoll(argv[2]) : 200;
	char *path = argc > 3 ? argv[3] : "/tmp/kafkit-bench.pcap";
	uint32_t mss = argc > 4 ? (uint32_t)atol(argv[4]) : 65000;
	int rounds = argc > 5 ? atoi(argv[5]) : 3;
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "bench_pcap: ROUNDS must be 1..%d\n", MAX_ROUNDS);
		return 2;
	}
	long records;
	double t0 = now();
	long long size = generate(path, mb << 20, mss, &records);
	printf("capture %s: %.1f MB, %ld records in %ld requests, MSS %u, written in %.1f s\n",
	       path, (double)size / 1048576, records, records / (RECS * PARTS), (unsigned)mss,
	       now() - t0);

	char *tshark = "/usr/bin/tshark";
	char *runs[][20] = {
		{prog, "-r", path, "-q", NULL},
		{prog, "-r", path, "--json", "-q", NULL},
		{prog, "-r", path, "--stats", "-q", NULL},
		{tshark, "-n", "-r", path, "-T", "fields", "-e", "frame.number", "-e",
		 "kafka.api_key", "-e", "kafka.correlation_id", "-e", "kafka.topic_name", "-e",
		 "kafka.partition_id", NULL},
		{tshark, "-n", "-r", path, "-T", "json", "-J", "kafka", NULL},
	};
	const char *names[] = {"kafkit-pcap (text)", "kafkit-pcap --json",
			       "kafkit-pcap --stats", "tshark -T fields",
			       "tshark -T json -J kafka"};
	enum { TEXT, JSON, STATS, FIELDS, TJSON, NRUNS };
	double secs[NRUNS], all[NRUNS][MAX_ROUNDS];
	long rss[NRUNS] = {0};
	int rcs[NRUNS] = {0};
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < NRUNS; i++) {
			long kb;
			int rc = measure(runs[i], &all[i][r], &kb);
			if (rc)
				rcs[i] = rc;
			if (kb > rss[i])
				rss[i] = kb;
		}
	printf("%-26s %9s %9s %12s %10s %6s  (median of %d)\n", "run", "seconds",
	       "MB/s", "records/s", "peakRSS MB", "exit", rounds);
	for (int i = 0; i < NRUNS; i++) {
		qsort(all[i], (size_t)rounds, sizeof all[i][0], cmp_double);
		secs[i] = all[i][rounds / 2];
		printf("%-26s %9.3f %9.1f %12.0f %10.1f %6d  (%.3f-%.3f)\n", names[i],
		       secs[i], (double)size / 1048576 / secs[i],
		       (double)records / secs[i], (double)rss[i] / 1024, rcs[i],
		       all[i][0], all[i][rounds - 1]);
	}
	printf("like for like: text vs -T fields %.1fx, --json vs -T json %.1fx\n",
	       secs[FIELDS] / secs[TEXT], secs[TJSON] / secs[JSON]);
	printf("also: --stats vs -T fields %.1fx, --json vs -T fields %.1fx\n",
	       secs[FIELDS] / secs[STATS], secs[FIELDS] / secs[JSON]);
	printf("memory vs tshark: text %.3f, --json %.3f, --stats %.3f\n",
	       (double)rss[TEXT] / (double)rss[FIELDS],
	       (double)rss[JSON] / (double)rss[TJSON],
	       (double)rss[STATS] / (double)rss[FIELDS]);
	return 0;
}
