/*
 * kafkit-mock: a standalone mock Kafka cluster for any client.
 *
 * Prints the bootstrap list on the first line of stdout, applies the
 * scenario (file, then --fault commands), then serves until SIGINT or
 * SIGTERM while taking more scenario commands, one per line, from stdin
 * and/or a Unix control socket; each line is answered "ok" or
 * "error: ...". At exit the partition logs can be dumped as NDJSON.
 * The main thread runs a poll loop over a signalfd, stdin and the control
 * socket; the cluster has its own I/O thread.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kafkit/err.h"
#include "kafkit/messages.h"
#include "kafkit/mock.h"
#include "scenario.h"

#define MAX_CLIENTS 64
#define LINE_MAX_BYTES 4096

/* A line-oriented peer: stdin or a control socket client. */
typedef struct peer {
	int in, out; /* -1: closed */
	char buf[LINE_MAX_BYTES];
	size_t len;
} peer;

typedef struct tool {
	km_cluster *c;
	km__sc_ids ids; /* rule names, for `cancel` */
	peer peers[MAX_CLIENTS + 1]; /* [0]: stdin */
	int ctl_fd;
	const char *ctl_path;
} tool;

static void usage(FILE *f)
{
	fputs("usage: kafkit-mock [--brokers N] [--topic NAME:PARTITIONS]...\n"
	      "  [--port-base PORT] [--scenario FILE] [--fault 'COMMAND']...\n"
	      "  [--control SOCKET] [--stdin] [--dump FILE.ndjson]\n"
	      "  [--no-auto-create] [--log-requests] [--pcap FILE]\n"
	      "Serves until SIGINT or SIGTERM. Scenario language: "
	      "docs/mockbroker.md.\n",
	      f);
}

/* Parse and apply `len` bytes of commands; err gets the first failure. */
static km_err run_text(tool *t, const char *text, size_t len, char *err,
		       size_t errlen)
{
	km__scenario s;
	km__scenario_init(&s);
	km_err e = km__scenario_parse(&s, text, len, 1, err, errlen);
	for (size_t i = 0; e == KM_OK && i < s.n; i++)
		e = km__scenario_apply(t->c, &t->ids, &s.cmds[i], err, errlen);
	km__scenario_free(&s);
	return e;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);
	size_t r;
	while (s && (r = fread(s + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *m = realloc(s, cap *= 2);
			if (!m)
				free(s);
			s = m;
		}
	}
	if (ferror(f)) {
		free(s);
		s = NULL;
	}
	fclose(f);
	*len = n;
	return s;
}

/* ---- request log ---------------------------------------------------------- */

static void log_request(void *opaque, const km_request_info *r)
{
	(void)opaque;
	const kc_api *api = kc_api_find(r->api_key);
	fprintf(stderr,
		"kafkit-mock: request broker=%" PRId32 " api=%s v%d corr=%" PRId32
		" client=%.*s peer=%s req=%zu resp=%zu error=%s faults=%s%s%s%s%s\n",
		r->broker_id, api ? api->name : "?", r->api_version,
		r->correlation_id, r->client_id.len < 0 ? 0 : (int)r->client_id.len,
		r->client_id.ptr ? r->client_id.ptr : "", r->peer,
		r->request_size, r->response_size,
		kc_kafka_err_name(r->error_code),
		r->faults & KM_FAULT_F_DELAYED ? "d" : "",
		r->faults & KM_FAULT_F_SWALLOWED ? "s" : "",
		r->faults & KM_FAULT_F_CLOSED ? "c" : "",
		r->faults & KM_FAULT_F_ERROR ? "e" : "",
		r->faults & KM_FAULT_F_THROTTLED ? "t" : "");
}

/* ---- NDJSON dump ----------------------------------------------------------- */

static void json_base64(FILE *f, const uint8_t *p, int32_t n)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (n < 0) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (int32_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		fputc(b64[v >> 18], f);
		fputc(b64[(v >> 12) & 63], f);
		fputc(i + 1 < n ? b64[(v >> 6) & 63] : '=', f);
		fputc(i + 2 < n ? b64[v & 63] : '=', f);
	}
	fputc('"', f);
}

/* Header keys are UTF-8 text: escaped as JSON requires, other bytes as
 * they are. */
static void json_string(FILE *f, const char *p, int32_t n)
{
	fputc('"', f);
	for (int32_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

typedef struct dump_ctx {
	FILE *f;
	km_cluster *c;
	const char *topic;
	int32_t partition;
	bool failed;
} dump_ctx;

static int dump_record(void *opaque, const km_record *r)
{
	dump_ctx *d = opaque;
	FILE *f = d->f;
	fprintf(f,
		"{\"topic\":\"%s\",\"partition\":%" PRId32 ",\"offset\":%" PRId64
		",\"timestamp\":%" PRId64 ",\"timestamp_type\":\"%s\",\"key\":",
		d->topic, d->partition, r->offset, r->timestamp,
		r->log_append_time ? "log_append" : "create");
	json_base64(f, r->key.ptr, r->key.len);
	fputs(",\"value\":", f);
	json_base64(f, r->value.ptr, r->value.len);
	fputs(",\"headers\":[", f);
	for (int32_t i = 0; i < r->headers_count; i++) {
		fputs(i ? ",{\"key\":" : "{\"key\":", f);
		json_string(f, r->headers[i].key.ptr, r->headers[i].key.len);
		fputs(",\"value\":", f);
		json_base64(f, r->headers[i].value.ptr,
			    r->headers[i].value.len);
		fputc('}', f);
	}
	fprintf(f,
		"],\"producer_id\":%" PRId64 ",\"producer_epoch\":%d,"
		"\"sequence\":%" PRId32 "}\n",
		r->producer_id, r->producer_epoch, r->sequence);
	return 0;
}

/* Every partition of one topic (a km_topic_fn). */
static int dump_topic(void *opaque, const char *name, int32_t partitions)
{
	dump_ctx *base = opaque;
	dump_ctx d = *base;
	d.topic = name;
	for (d.partition = 0; d.partition < partitions; d.partition++)
		if (km_cluster_partition_log(d.c, name, d.partition,
					     dump_record, &d) != KM_OK) {
			base->failed = true;
			return -1;
		}
	return 0;
}

static int dump(tool *t, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "kafkit-mock: %s: %s\n", path, strerror(errno));
		return -1;
	}
	dump_ctx d = {.f = f, .c = t->c};
	int rc = km_cluster_topics(t->c, dump_topic, &d) == KM_OK && !d.failed
			 ? 0
			 : -1;
	if (fclose(f) || rc) {
		fprintf(stderr, "kafkit-mock: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

/* ---- control: stdin and the Unix socket ------------------------------------ */

static void answer(peer *p, const char *s)
{
	size_t n = strlen(s), off = 0;
	while (p->out >= 0 && off < n) {
		ssize_t w = send(p->out, s + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == ENOTSOCK)
			w = write(p->out, s + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static void close_peer(peer *p, bool is_stdin)
{
	if (!is_stdin && p->in >= 0)
		close(p->in);
	p->in = p->out = -1;
	p->len = 0;
}

/* Read what is there; run each complete line. */
static void peer_read(tool *t, peer *p, bool is_stdin)
{
	ssize_t r = read(p->in, p->buf + p->len, sizeof p->buf - p->len);
	if (r < 0 && errno == EINTR)
		return;
	if (r <= 0) {
		close_peer(p, is_stdin);
		return;
	}
	p->len += (size_t)r;
	char *nl;
	while (p->in >= 0 && (nl = memchr(p->buf, '\n', p->len))) {
		size_t n = (size_t)(nl - p->buf);
		char err[512], line[600];
		if (run_text(t, p->buf, n, err, sizeof err) == KM_OK)
			answer(p, "ok\n");
		else {
			snprintf(line, sizeof line, "error: %s\n", err);
			answer(p, line);
		}
		memmove(p->buf, nl + 1, p->len - n - 1);
		p->len -= n + 1;
	}
	if (p->len == sizeof p->buf) {
		answer(p, "error: line too long\n");
		close_peer(p, is_stdin);
	}
}

static int control_open(tool *t, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "kafkit-mock: socket path too long\n");
		return -1;
	}
	strcpy(sa.sun_path, path);
	struct stat st;
	/* a stale socket from an earlier run; never remove anything else */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	t->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t->ctl_fd < 0 ||
	    bind(t->ctl_fd, (struct sockaddr *)&sa, sizeof sa) ||
	    listen(t->ctl_fd, 16)) {
		fprintf(stderr, "kafkit-mock: %s: %s\n", path, strerror(errno));
		return -1;
	}
	t->ctl_path = path;
	return 0;
}

static void control_accept(tool *t)
{
	int fd = accept4(t->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 1; i <= MAX_CLIENTS; i++)
		if (t->peers[i].in < 0) {
			t->peers[i] = (peer){.in = fd, .out = fd};
			return;
		}
	const char busy[] = "error: too many control connections\n";
	(void)!send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
	close(fd);
}

/* Serve control input until SIGINT or SIGTERM. */
static int serve(tool *t, int sig_fd)
{
	for (;;) {
		struct pollfd pf[MAX_CLIENTS + 3];
		int who[MAX_CLIENTS + 3];
		nfds_t n = 0;
		pf[n] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
		who[n++] = -2;
		if (t->ctl_fd >= 0) {
			pf[n] = (struct pollfd){.fd = t->ctl_fd, .events = POLLIN};
			who[n++] = -1;
		}
		for (int i = 0; i <= MAX_CLIENTS; i++)
			if (t->peers[i].in >= 0) {
				pf[n] = (struct pollfd){.fd = t->peers[i].in,
							.events = POLLIN};
				who[n++] = i;
			}
		if (poll(pf, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (!pf[i].revents)
				continue;
			if (who[i] == -2)
				return 0;
			if (who[i] == -1)
				control_accept(t);
			else
				peer_read(t, &t->peers[who[i]], who[i] == 0);
		}
	}
}

/* ---- main ------------------------------------------------------------------- */

typedef struct args {
	int brokers;
	long port_base;
	const char *scenario, *control, *dump;
	const char *pcap; /* km_options.pcap_path */
	bool use_stdin, log_requests, no_auto_create;
	/* scenario lines made of --topic and of --fault options */
	char *topics, *faults;
	size_t topics_len, faults_len;
} args;

static int add_line(char **text, size_t *len, const char *prefix,
		    const char *s)
{
	size_t n = strlen(prefix) + strlen(s) + 1;
	char *m = realloc(*text, *len + n + 1);
	if (!m)
		return -1;
	*text = m;
	*len += (size_t)sprintf(m + *len, "%s%s\n", prefix, s);
	return 0;
}

static int parse_args(int argc, char **argv, args *a)
{
	static const struct option opts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"port-base", required_argument, NULL, 'p'},
		{"scenario", required_argument, NULL, 's'},
		{"fault", required_argument, NULL, 'f'},
		{"control", required_argument, NULL, 'c'},
		{"stdin", no_argument, NULL, 'i'},
		{"dump", required_argument, NULL, 'd'},
		{"log-requests", no_argument, NULL, 'l'},
		{"no-auto-create", no_argument, NULL, 'n'},
		{"pcap", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	*a = (args){.brokers = 1};
	int o;
	char *end;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			a->brokers = (int)strtol(optarg, &end, 10);
			if (*end || a->brokers < 1 || a->brokers > 1024)
				return -1;
			break;
		case 'p':
			a->port_base = strtol(optarg, &end, 10);
			if (*end || a->port_base < 1 || a->port_base > 65535)
				return -1;
			break;
		case 't':
			if (add_line(&a->topics, &a->topics_len, "topic ",
				     optarg))
				return -1;
			break;
		case 'f':
			if (add_line(&a->faults, &a->faults_len, "", optarg))
				return -1;
			break;
		case 's': a->scenario = optarg; break;
		case 'c': a->control = optarg; break;
		case 'i': a->use_stdin = true; break;
		case 'd': a->dump = optarg; break;
		case 'l': a->log_requests = true; break;
		case 'n': a->no_auto_create = true; break;
		case 'P': a->pcap = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc || a->port_base + a->brokers - 1 > 65535)
		return -1;
	return 0;
}

/* --topic, then the scenario file, then --fault, each in its own order;
 * the first error stops. */
static int run_startup(tool *t, const args *a)
{
	char err[512];
	size_t len = 0;
	char *text = NULL;
	if (a->scenario) {
		text = read_file(a->scenario, &len);
		if (!text) {
			fprintf(stderr, "kafkit-mock: %s: %s\n", a->scenario,
				strerror(errno));
			return -1;
		}
	}
	const char *src = "--topic";
	km_err e = run_text(t, a->topics, a->topics_len, err, sizeof err);
	if (e == KM_OK && text) {
		src = a->scenario;
		e = run_text(t, text, len, err, sizeof err);
	}
	if (e == KM_OK) {
		src = "--fault";
		e = run_text(t, a->faults, a->faults_len, err, sizeof err);
	}
	free(text);
	if (e != KM_OK)
		fprintf(stderr, "kafkit-mock: %s: %s\n", src, err);
	return e == KM_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
	args a;
	if (parse_args(argc, argv, &a)) {
		usage(stderr);
		free(a.topics);
		free(a.faults);
		return 2;
	}
	/* Taken through a signalfd; the cluster's thread blocks every signal
	 * itself. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);

	tool t = {.ctl_fd = -1};
	for (int i = 0; i <= MAX_CLIENTS; i++)
		t.peers[i] = (peer){.in = -1, .out = -1};
	km_options o;
	km_options_init(&o);
	uint16_t ports[1024];
	if (a.port_base) {
		for (int i = 0; i < a.brokers; i++)
			ports[i] = (uint16_t)(a.port_base + i);
		o.ports = ports;
	}
	o.auto_create_topics = !a.no_auto_create;
	o.pcap_path = a.pcap;
	if (a.log_requests)
		o.request_fn = log_request;
	int rc = 1;
	km_err e = km_cluster_new(&t.c, a.brokers, &o);
	if (e != KM_OK)
		fprintf(stderr, "kafkit-mock: cannot start: %s\n",
			km_err_name(e));
	else if (sig_fd >= 0 && !run_startup(&t, &a) &&
		 (!a.control || !control_open(&t, a.control)) &&
		 km_cluster_start(t.c) == KM_OK) {
		if (a.use_stdin)
			t.peers[0] = (peer){.in = 0, .out = 1};
		printf("%s\n", km_cluster_bootstraps(t.c));
		fflush(stdout);
		rc = serve(&t, sig_fd) ? 1 : 0;
		/* no append may race the dump */
		for (int i = 1; i <= a.brokers; i++)
			km_fault_broker_down(t.c, i, false);
		if (a.dump && dump(&t, a.dump))
			rc = 1;
	}
	for (int i = 1; i <= MAX_CLIENTS; i++)
		close_peer(&t.peers[i], false);
	if (t.ctl_fd >= 0) {
		close(t.ctl_fd);
		unlink(t.ctl_path);
	}
	km_cluster_destroy(t.c);
	km__sc_ids_free(&t.ids);
	free(a.topics);
	free(a.faults);
	if (sig_fd >= 0)
		close(sig_fd);
	return rc;
}
