/* kafkit-produce: command line. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void usage(FILE *f)
{
	fputs(
"usage: kafkit-produce [-b BROKERS] [-t TOPIC] [-p PARTITION] [OPTIONS]\n"
"Produce records with the kafkit producer and report what happened.\n"
"\n"
"Records come from stdin, one per line, or are generated with -n.\n"
"Without -b an in-process mock cluster is started (3 brokers, the topic\n"
"auto-created), optionally under faults (--chaos), and its partition logs\n"
"are audited at the end: no record lost, none duplicated, order kept per\n"
"partition.\n"
"\n"
"Source and destination:\n"
"  -b, --brokers LIST       bootstrap servers host:port[,...]\n"
"                           (default: the embedded mock cluster)\n"
"  -t, --topic NAME         topic (default kafkit-produce)\n"
"  -p, --partition N        send every record to partition N\n"
"                           (default: the partitioner chooses)\n"
"  -K, --key-delimiter SEP  stdin: the text before the first SEP of a line\n"
"                           is the key, the rest the value (no SEP: null\n"
"                           key)\n"
"  -H, --header KEY=VALUE   add this header to every record (repeatable)\n"
"  -n, --num-records N      generate N records instead of reading stdin\n"
"  -s, --record-size B      generated value size in bytes (default 100,\n"
"                           at least 16: values start with their sequence\n"
"                           number)\n"
"      --keys N             generated keys key-0..key-(N-1) in turn\n"
"                           (default: null keys)\n"
"      --throughput R       at most R records/s (default: unlimited)\n"
"\n"
"Producer:\n"
"  -X KEY=VALUE             producer configuration, Kafka's key names\n"
"                           (docs/producer-config.md); repeatable\n"
"      --stats-json         print kp_stats_json() after the summary\n"
"\n"
"Embedded mock cluster (without -b):\n"
"      --partitions P       partitions of the auto-created topic (default 3)\n"
"      --mock-brokers N     brokers (default 3)\n"
"      --chaos              faults while producing: leader changes every\n"
"                           300 ms, delayed responses, a few swallowed\n"
"                           Produce responses\n"
"      --fault 'COMMAND'    also apply this kafkit-mock scenario command\n"
"                           at start (docs/mockbroker.md), e.g.\n"
"                           'swallow api=produce next=2'; repeatable\n"
"      --seed N             seed of the fault generator (default 1)\n"
"      --no-verify          skip the audit of the partition logs\n"
"      --pcap FILE          record the cluster's traffic to FILE (pcap,\n"
"                           read it with kafkit-pcap -r FILE)\n"
"\n"
"Output:\n"
"  -q, --quiet              no progress bar (it is drawn only when stderr\n"
"                           is a terminal)\n"
"  -v, --verbose            show the mock cluster's log lines\n"
"  -h, --help               this text\n"
"\n"
"The summary goes to stdout. Exit status: 0 every record delivered (and\n"
"the audit passed), 1 some record failed or a runtime error, 2 bad\n"
"arguments or configuration, 3 the audit found a lost, duplicated,\n"
"reordered or altered record.\n",
	      f);
}

__attribute__((format(printf, 1, 2)))
static int bad(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("kafkit-produce: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\nTry 'kafkit-produce --help'.\n", stderr);
	va_end(ap);
	return KPT__EXIT_USAGE;
}

/* A whole decimal number in [lo, hi] into *out; 0 or -1. */
static int num(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int add_header(kpt__opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return -1;
	kp_header *h = realloc(o->headers, (o->nheaders + 1) * sizeof *h);
	if (!h)
		return -2;
	o->headers = h;
	char *key = strndup(arg, (size_t)(eq - arg));
	char *value = strdup(eq + 1);
	if (!key || !value) {
		free(key);
		free(value);
		return -2;
	}
	h[o->nheaders++] = (kp_header){key, value, strlen(value)};
	return 0;
}

/* Append s to a growing array of strings; 0 or -1 (out of memory). */
static int push(const char ***v, size_t *n, const char *s)
{
	const char **m = realloc(*v, (*n + 1) * sizeof *m);
	if (!m)
		return -1;
	*v = m;
	m[(*n)++] = s;
	return 0;
}

enum {
	OPT_KEYS = 256, OPT_THROUGHPUT, OPT_PARTITIONS, OPT_MOCK_BROKERS,
	OPT_CHAOS, OPT_FAULT, OPT_SEED, OPT_STATS_JSON, OPT_NO_VERIFY,
	OPT_PCAP,
};

static const struct option longopts[] = {
	{"brokers", required_argument, NULL, 'b'},
	{"topic", required_argument, NULL, 't'},
	{"partition", required_argument, NULL, 'p'},
	{"key-delimiter", required_argument, NULL, 'K'},
	{"header", required_argument, NULL, 'H'},
	{"num-records", required_argument, NULL, 'n'},
	{"record-size", required_argument, NULL, 's'},
	{"keys", required_argument, NULL, OPT_KEYS},
	{"throughput", required_argument, NULL, OPT_THROUGHPUT},
	{"partitions", required_argument, NULL, OPT_PARTITIONS},
	{"mock-brokers", required_argument, NULL, OPT_MOCK_BROKERS},
	{"chaos", no_argument, NULL, OPT_CHAOS},
	{"fault", required_argument, NULL, OPT_FAULT},
	{"seed", required_argument, NULL, OPT_SEED},
	{"stats-json", no_argument, NULL, OPT_STATS_JSON},
	{"no-verify", no_argument, NULL, OPT_NO_VERIFY},
	{"pcap", required_argument, NULL, OPT_PCAP},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Options that only make sense with the embedded cluster, or only with
 * one record source, are refused rather than silently ignored. */
static int check_combinations(const kpt__opts *o, bool size_set,
			      bool mock_opt)
{
	if (o->brokers && o->chaos)
		return bad("%s needs the embedded mock cluster (no -b)",
			   "--chaos");
	if (o->brokers && o->pcap)
		return bad("--pcap records the embedded mock cluster's traffic; "
			   "to capture traffic to external brokers (-b) use "
			   "tcpdump, e.g. tcpdump -i any -w %s port 9092",
			   o->pcap);
	if (o->brokers && mock_opt)
		return bad("%s apply to the embedded mock cluster (no -b)",
			   "--partitions, --mock-brokers, --fault and --seed");
	if (o->num_records < 0 && size_set)
		return bad("%s applies to generated records (-n)",
			   "--record-size");
	if (o->num_records < 0 && o->keys)
		return bad("%s applies to generated records (-n)", "--keys");
	if (o->num_records >= 0 && o->key_sep)
		return bad("%s applies to records read from stdin (no -n)",
			   "-K");
	if (!o->brokers && o->partition >= o->partitions)
		return bad("-p %" PRId32 ": the embedded topic has %" PRId32
			   " partitions (see --partitions)", o->partition,
			   o->partitions);
	return KPT__EXIT_OK;
}

int kpt__parse_args(int argc, char **argv, kpt__opts *o)
{
	*o = (kpt__opts){
		.topic = "kafkit-produce",
		.partition = KP_PARTITION_ANY,
		.num_records = -1,
		.record_size = 100,
		.partitions = 3,
		.mock_brokers = 3,
		.seed = 1,
		.verify = true,
	};
	bool size_set = false, mock_opt = false;
	int64_t v;
	int ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":b:t:p:K:H:n:s:X:qvh", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'b':
			if (!*optarg)
				return bad("%s: empty broker list", "-b");
			o->brokers = optarg;
			break;
		case 't':
			if (!*optarg)
				return bad("%s: empty topic name", "-t");
			o->topic = optarg;
			break;
		case 'p':
			if (num(optarg, 0, INT32_MAX, &v))
				return bad("-p '%s': want a partition number "
					   ">= 0", optarg);
			o->partition = (int32_t)v;
			break;
		case 'K':
			if (!*optarg)
				return bad("%s: empty key delimiter", "-K");
			o->key_sep = optarg;
			break;
		case 'H': {
			int r = add_header(o, optarg);
			if (r == -1)
				return bad("-H '%s': want KEY=VALUE", optarg);
			if (r)
				return bad("%s: out of memory", "-H");
			break;
		}
		case 'n':
			if (num(optarg, 1, 999999999999999, &v))
				return bad("-n '%s': want a number of records "
					   ">= 1", optarg);
			o->num_records = v;
			break;
		case 's':
			if (num(optarg, KPT__MIN_RECORD_SIZE, 100 << 20, &v))
				return bad("-s '%s': want a size from 16 to "
					   "104857600 bytes", optarg);
			o->record_size = (size_t)v;
			size_set = true;
			break;
		case OPT_KEYS:
			if (num(optarg, 0, INT64_MAX, &v))
				return bad("--keys '%s': want a number >= 0",
					   optarg);
			o->keys = v;
			break;
		case OPT_THROUGHPUT: {
			char *end;
			errno = 0;
			double d = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(d > 0) ||
			    !isfinite(d))
				return bad("--throughput '%s': want records "
					   "per second > 0", optarg);
			o->throughput = d;
			break;
		}
		case OPT_PARTITIONS:
			if (num(optarg, 1, 100000, &v))
				return bad("--partitions '%s': want 1 to "
					   "100000", optarg);
			o->partitions = (int32_t)v;
			mock_opt = true;
			break;
		case OPT_MOCK_BROKERS:
			if (num(optarg, 1, 64, &v))
				return bad("--mock-brokers '%s': want 1 to 64",
					   optarg);
			o->mock_brokers = (int)v;
			mock_opt = true;
			break;
		case OPT_CHAOS:
			o->chaos = true;
			break;
		case OPT_SEED:
			if (num(optarg, 0, INT64_MAX, &v))
				return bad("--seed '%s': want a number >= 0",
					   optarg);
			o->seed = (uint64_t)v;
			mock_opt = true;
			break;
		case 'X':
			if (!strchr(optarg, '=') || *optarg == '=')
				return bad("-X '%s': want KEY=VALUE", optarg);
			if (push(&o->conf, &o->nconf, optarg))
				return bad("%s: out of memory", "-X");
			break;
		case OPT_FAULT:
			if (push(&o->faults, &o->nfaults, optarg))
				return bad("%s: out of memory", "--fault");
			mock_opt = true;
			break;
		case OPT_STATS_JSON:
			o->stats_json = true;
			break;
		case OPT_NO_VERIFY:
			o->verify = false;
			break;
		case OPT_PCAP:
			if (!*optarg)
				return bad("%s: empty file name", "--pcap");
			o->pcap = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			return bad("%s needs a value", argv[optind - 1]);
		default:
			return bad("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	return check_combinations(o, size_set, mock_opt);
}

void kpt__opts_free(kpt__opts *o)
{
	for (size_t i = 0; i < o->nheaders; i++) {
		free((void *)o->headers[i].key);
		free((void *)o->headers[i].value);
	}
	free(o->headers);
	free(o->conf);
	free(o->faults);
}
