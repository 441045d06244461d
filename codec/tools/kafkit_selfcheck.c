/*
 * kafkit-selfcheck: decode every Kafka frame of pcap captures through the
 * codec and say what was found.
 *
 *   kafkit-selfcheck [-v] [-p PORT[,PORT...]] [-d DIR] [FILE...]
 *
 * One line per request and response (api, version, correlation id, client
 * id; for Produce the topics, partitions, batches, record counts, codecs
 * and CRC results), then a summary per file. Every decoded frame is also
 * re-encoded and compared with the captured bytes. Exit status: 0 when
 * every file held Kafka frames, every frame decoded, every CRC matched
 * and every frame re-encoded byte-exact; 1 otherwise; 2 for usage errors.
 * ApiVersions refusals with a malformed body (see on_refusal()) are
 * counted apart and do not fail a file.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "framecheck.h"
#include "kafkit/codec.h"
#include "kafkit/messages.h"

#define MAX_PORTS 64
#define MAX_APIVERS 128

/* How often one (api key, version) was requested. */
typedef struct api_count {
	int16_t key, version;
	unsigned long n;
} api_count;

/* Everything counted for one capture file. */
typedef struct file_stats {
	api_count apis[MAX_APIVERS];
	int napis;
	unsigned long batches, records, crc_failures, decode_errors;
	unsigned long reencode_mismatches, codecs[8];
	unsigned long malformed_refusals; /* ApiVersions, see on_refusal() */
} file_stats;

typedef struct selfcheck {
	bool verbose;
	kc_arena arena;
	kc_writer w;
	file_stats fs;
} selfcheck;

static void count_api(file_stats *fs, int16_t key, int16_t version)
{
	for (int i = 0; i < fs->napis; i++) {
		if (fs->apis[i].key == key && fs->apis[i].version == version) {
			fs->apis[i].n++;
			return;
		}
	}
	if (fs->napis < MAX_APIVERS)
		fs->apis[fs->napis++] = (api_count){key, version, 1};
}

/* Print a key, value or string: printable ASCII as is, the rest escaped,
 * long values cut; in quotes unless `bare` (topic names). */
static void print_text(const void *p, int32_t len, bool bare)
{
	const uint8_t *u = p;
	if (len < 0) {
		fputs("null", stdout);
		return;
	}
	if (!bare)
		putchar('"');
	for (int32_t i = 0; i < len && i < 64; i++) {
		if (u[i] >= 0x20 && u[i] < 0x7f && u[i] != '"' && u[i] != '\\')
			putchar(u[i]);
		else
			printf("\\x%02x", u[i]);
	}
	if (!bare)
		putchar('"');
	if (len > 64)
		printf("...(%d bytes)", (int)len);
}

static void print_str(const char *prefix, kc_str s)
{
	fputs(prefix, stdout);
	print_text(s.ptr, s.len, false);
}

static void print_topic(const char *prefix, kc_str s)
{
	fputs(prefix, stdout);
	print_text(s.ptr, s.len, true);
}

/* What one partition's records blob held. */
typedef struct blob_summary {
	long batches, records, bad_crc;
	int magic, codec; /* of the first batch; -2 once they differ */
} blob_summary;

static void print_batch(const kc_batch_info *bi)
{
	printf("\n      batch at byte %zu: magic %d %s, %d records, base "
	       "offset %lld, producer id %lld, crc %08x %s",
	       bi->offset, bi->magic, kc_codec_name(bi->codec),
	       (int)bi->records_count,
	       (long long)bi->base_offset, (long long)bi->producer_id,
	       (unsigned)bi->crc, bi->crc_ok ? "ok" : "BAD");
}

static void print_record(const kc_record_view *rv)
{
	printf("\n        offset %lld ts %lld key ", (long long)rv->offset,
	       (long long)rv->timestamp);
	print_text(rv->key.ptr, rv->key.len, false);
	fputs(" value ", stdout);
	print_text(rv->value.ptr, rv->value.len, false);
	if (rv->headers_count)
		printf(" (%d headers)", (int)rv->headers_count);
}

/* Walk one batch's records (printing them with -v); returns how many
 * were read, with the last kc_records_next() result in *rc. */
static long walk_batch(selfcheck *sc, kc_records_iter *it, int *rc)
{
	kc_record_view rv;
	long n = 0;
	while ((*rc = kc_records_next(it, &rv)) == 1) {
		n++;
		if (sc->verbose)
			print_record(&rv);
	}
	return n;
}

/* Walk one partition's records blob: batches, codecs, CRCs, counts. */
static void check_records(selfcheck *sc, kc_bytes recs)
{
	kc_decode_error err = {0};
	kc_records_iter it;
	kc_batch_info bi;
	blob_summary bs = {0, 0, 0, -1, -1};
	int rc;

	if (recs.len < 0) {
		fputs(" null", stdout);
		return;
	}
	kc_records_iter_init(&it, recs.ptr, (size_t)recs.len,
			     KC_ITER_CRC_LENIENT | KC_ITER_STRICT_END, &err);
	while ((rc = kc_records_next_batch(&it, &bi)) == 1) {
		if (sc->verbose)
			print_batch(&bi);
		long n = walk_batch(sc, &it, &rc);
		bs.batches++;
		bs.records += n;
		bs.bad_crc += !bi.crc_ok;
		bs.magic = bs.batches == 1 || bs.magic == bi.magic ? bi.magic
								  : -2;
		bs.codec = bs.batches == 1 || bs.codec == bi.codec ? bi.codec
								  : -2;
		sc->fs.codecs[bi.codec & 7]++;
		if (rc < 0)
			break;
	}
	kc_records_iter_free(&it);
	sc->fs.batches += (unsigned long)bs.batches;
	sc->fs.records += (unsigned long)bs.records;
	sc->fs.crc_failures += (unsigned long)bs.bad_crc;
	printf("%s %ld rec in %ld batch%s", sc->verbose ? "\n      =" : "",
	       bs.records, bs.batches,
	       bs.batches == 1 ? "" : "es");
	if (bs.batches) {
		if (bs.magic == -2)
			fputs(" (mixed magic", stdout);
		else
			printf(" (magic %d", bs.magic);
		printf(" %s) crc %s",
		       bs.codec == -2 ? "mixed codecs"
				      : kc_codec_name(bs.codec),
		       bs.bad_crc ? "BAD" : "ok");
	}
	if (rc < 0) {
		char msg[256];
		kc_decode_error_format(&err, msg, sizeof msg);
		printf(" RECORDS ERROR %s", msg);
		sc->fs.decode_errors++;
	}
}

static void show_produce_request(selfcheck *sc, const kc_produce_request *m)
{
	printf(" acks %d timeout %d", m->acks, m->timeout_ms);
	if (m->transactional_id.len >= 0)
		print_str(" txn ", m->transactional_id);
	for (int32_t t = 0; t < m->topic_data_count; t++) {
		const kc_produce_request_topic_produce_data *td =
			&m->topic_data[t];
		for (int32_t p = 0; p < td->partition_data_count; p++) {
			const kc_produce_request_partition_produce_data *pd =
				&td->partition_data[p];
			print_topic(sc->verbose ? "\n    " : " | ", td->name);
			printf("/%d:", pd->index);
			check_records(sc, pd->records);
		}
	}
}

static void show_produce_response(const kc_produce_response *m)
{
	for (int32_t t = 0; t < m->responses_count; t++) {
		const kc_produce_response_topic_produce_response *tr =
			&m->responses[t];
		for (int32_t p = 0; p < tr->partition_responses_count; p++) {
			const kc_produce_response_partition_produce_response
				*pr = &tr->partition_responses[p];
			print_topic(" | ", tr->name);
			printf("/%d: ", pr->index);
			if (pr->error_code)
				printf("%s(%d)",
				       kc_kafka_err_name(pr->error_code),
				       pr->error_code);
			else
				printf("base offset %lld",
				       (long long)pr->base_offset);
		}
	}
}

static void show_metadata_request(const kc_metadata_request *m)
{
	if (m->topics_count < 0) {
		fputs(" all topics", stdout);
		return;
	}
	fputs(" topics", stdout);
	for (int32_t i = 0; i < m->topics_count; i++)
		print_topic(" ", m->topics[i].name);
	if (!m->topics_count)
		fputs(" (none; v0: all)", stdout);
}

static void show_metadata_response(const kc_metadata_response *m)
{
	printf(" %d brokers", m->brokers_count);
	for (int32_t i = 0; i < m->topics_count; i++) {
		const kc_metadata_response_metadata_response_topic *t =
			&m->topics[i];
		print_topic(" | ", t->name);
		printf(": %d partitions", t->partitions_count);
		if (t->error_code)
			printf(" %s(%d)", kc_kafka_err_name(t->error_code),
			       t->error_code);
	}
}

static void show_body(selfcheck *sc, const kct_frame *f)
{
	switch (f->api_key) {
	case KC_PRODUCE_REQUEST_API_KEY:
		if (f->request)
			show_produce_request(sc, f->body);
		else
			show_produce_response(f->body);
		break;
	case KC_METADATA_REQUEST_API_KEY:
		if (f->request)
			show_metadata_request(f->body);
		else
			show_metadata_response(f->body);
		break;
	case KC_API_VERSIONS_REQUEST_API_KEY:
		if (!f->request) {
			const kc_api_versions_response *m = f->body;
			printf(" %s(%d) %d api keys",
			       kc_kafka_err_name(m->error_code), m->error_code,
			       m->api_keys_count);
		}
		break;
	default:
		break;
	}
}

/* Re-encode f and compare with the frame it came from. */
static void check_reencode(selfcheck *sc, const kct_frame *f,
			   const uint8_t *p, size_t n)
{
	kc_writer_reset(&sc->w);
	kc_err e = kct_encode(&sc->w, f);
	if (e == KC_OK)
		e = kc_writer_err(&sc->w);
	if (e != KC_OK) {
		printf("\n    RE-ENCODE FAILED: %s", kc_err_name(e));
		sc->fs.reencode_mismatches++;
		return;
	}
	const uint8_t *out = kc_writer_data(&sc->w);
	size_t len = kc_writer_pos(&sc->w);
	if (len == n && !memcmp(out, p, n))
		return;
	size_t i = 0;
	while (i < len && i < n && out[i] == p[i])
		i++;
	printf("\n    RE-ENCODE DIFFERS: %zu bytes vs %zu captured, first "
	       "difference at byte %zu",
	       len, n, i);
	sc->fs.reencode_mismatches++;
}

/* An ApiVersions response that decodes at neither version but carries a
 * non-zero error_code is a refusal of the request's version: the client
 * only needs the code and retries lower. librdkafka's mock cluster sends
 * such refusals with a malformed body (a one-byte count of N instead of
 * a compact N+1, no tag sections), which is the peer's fault, not the
 * codec's: reported and counted, not a decode error. */
static bool on_refusal(selfcheck *sc, const kc_capture_frame *cf,
		       const char *msg)
{
	int16_t code;
	if (cf->to_broker || cf->api_key != KC_API_VERSIONS_RESPONSE_API_KEY ||
	    !kct_api_versions_error(cf->data, cf->len, &code) || code == 0)
		return false;
	printf(" %s(%d) refusal with a malformed body (%s)\n",
	       kc_kafka_err_name(code), code, msg);
	sc->fs.malformed_refusals++;
	return true;
}

static int on_frame(kc_capture_frame *cf, void *opaque)
{
	selfcheck *sc = opaque;
	kc_decode_error err;
	kct_frame f;
	kc_err e;

	kc_arena_reset(&sc->arena);
	if (cf->to_broker)
		e = kct_decode_request(cf->data, cf->len, &sc->arena, &f, &err);
	else if (cf->paired)
		e = kct_decode_response(cf->data, cf->len, cf->api_key,
					cf->api_version, &sc->arena, &f, &err);
	else {
		printf("#%llu c%u < response corr %d to no request seen\n",
		       (unsigned long long)cf->packet, cf->flow->id,
		       cf->correlation_id);
		return 0;
	}
	const kc_api *api = kc_api_find(cf->api_key);
	printf("#%llu c%u %s %s v%d corr %d", (unsigned long long)cf->packet,
	       cf->flow->id, cf->to_broker ? ">" : "<",
	       api ? api->name : "?", cf->api_version, cf->correlation_id);
	if (e != KC_OK) {
		char msg[256];
		kc_decode_error_format(&err, msg, sizeof msg);
		if (!on_refusal(sc, cf, msg)) {
			printf(" DECODE ERROR %s\n", msg);
			sc->fs.decode_errors++;
		}
		return 0;
	}
	if (cf->to_broker) {
		count_api(&sc->fs, f.api_key, f.version);
		if (f.req_hdr.client_id.len >= 0)
			print_str(" client ", f.req_hdr.client_id);
		/* acks=0: the broker sends nothing back */
		if (f.api_key == KC_PRODUCE_REQUEST_API_KEY &&
		    ((const kc_produce_request *)f.body)->acks == 0)
			cf->expect_response = false;
	}
	if (f.v0_fallback)
		fputs(" (v0 body)", stdout);
	show_body(sc, &f);
	check_reencode(sc, &f, cf->data, cf->len);
	putchar('\n');
	return 0;
}

static void print_summary(const char *path, const kc_capture *c,
			  const file_stats *fs, bool ok)
{
	const kc_capture_stats *st = kc_capture_stats_get(c);
	printf("== %s: %llu packets, %llu connections (%llu not Kafka), %llu "
	       "frames (%llu requests, %llu responses), %llu unpaired "
	       "responses, %llu unanswered requests\n",
	       path, (unsigned long long)st->packets,
	       (unsigned long long)st->flows,
	       (unsigned long long)st->flows_ignored,
	       (unsigned long long)st->frames,
	       (unsigned long long)st->requests,
	       (unsigned long long)st->responses,
	       (unsigned long long)st->unpaired_responses,
	       (unsigned long long)st->unanswered_requests);
	fputs("   requests:", stdout);
	for (int i = 0; i < fs->napis; i++) {
		const kc_api *api = kc_api_find(fs->apis[i].key);
		printf(" %s v%d x%lu", api ? api->name : "?",
		       fs->apis[i].version, fs->apis[i].n);
	}
	printf("\n   records: %lu in %lu batches", fs->records, fs->batches);
	const char *sep = " (";
	for (int k = 0; k < 8; k++) {
		if (fs->codecs[k]) {
			printf("%s%s %lu", sep, kc_codec_name(k), fs->codecs[k]);
			sep = ", ";
		}
	}
	printf("%s\n   CRC failures %lu, decode errors %lu, re-encode "
	       "mismatches %lu, malformed ApiVersions refusals %lu: %s\n",
	       *sep == ',' ? ")" : "", fs->crc_failures, fs->decode_errors,
	       fs->reencode_mismatches, fs->malformed_refusals,
	       ok ? "OK" : st->frames ? "FAILED" : "FAILED (no Kafka frames)");
}

/* Check one capture; returns true when all is well. */
static bool check_file(selfcheck *sc, const char *path,
		       const kc_capture_opts *opts)
{
	memset(&sc->fs, 0, sizeof sc->fs);
	kc_capture *c = kc_capture_new(opts, on_frame, sc);
	if (!c) {
		fprintf(stderr, "kafkit-selfcheck: out of memory\n");
		return false;
	}
	printf("== %s\n", path);
	int rc = kc_capture_read_file(c, path);
	if (rc != 0)
		printf("CAPTURE ERROR %s\n", kc_capture_error(c));
	const file_stats *fs = &sc->fs;
	/* finding nothing means wrong ports or not a Kafka capture */
	bool ok = rc == 0 && kc_capture_stats_get(c)->frames &&
		  !fs->crc_failures && !fs->decode_errors &&
		  !fs->reencode_mismatches;
	print_summary(path, c, fs, ok);
	kc_capture_free(c);
	return ok;
}

static int pcap_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return (n > 5 && !strcmp(d->d_name + n - 5, ".pcap")) ||
	       (n > 7 && !strcmp(d->d_name + n - 7, ".pcapng"));
}

static int parse_ports(const char *s, uint16_t *ports, size_t *n)
{
	while (*s) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || v == 0 || v > 65535 || *n == MAX_PORTS ||
		    (*end && *end != ','))
			return -1;
		ports[(*n)++] = (uint16_t)v;
		s = *end ? end + 1 : end;
	}
	return 0;
}

static void usage(void)
{
	fputs("usage: kafkit-selfcheck [-v] [-p PORT[,PORT...]] [-d DIR] "
	      "[FILE.pcap...]\n"
	      "  -d DIR   check every .pcap/.pcapng file in DIR\n"
	      "  -p PORTS broker ports (default: the side that accepted the "
	      "connection)\n"
	      "  -v       list every record\n",
	      stderr);
}

int main(int argc, char **argv)
{
	selfcheck sc = {0};
	uint16_t ports[MAX_PORTS];
	kc_capture_opts opts = {ports, 0, 0};
	const char *dir = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "vd:p:h")) != -1) {
		switch (opt) {
		case 'v':
			sc.verbose = true;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'p':
			if (parse_ports(optarg, ports, &opts.nbroker_ports) == 0)
				break;
			fprintf(stderr, "kafkit-selfcheck: bad ports '%s'\n",
				optarg);
			return 2;
		default:
			usage();
			return 2;
		}
	}
	if (!dir && optind == argc) {
		usage();
		return 2;
	}
	kc_arena_init(&sc.arena);
	kc_writer_init(&sc.w);
	bool ok = true;
	unsigned files = 0;
	for (int i = optind; i < argc; i++, files++)
		ok &= check_file(&sc, argv[i], &opts);
	if (dir) {
		struct dirent **names;
		int n = scandir(dir, &names, pcap_name, alphasort);
		if (n < 0) {
			perror(dir);
			ok = false;
		}
		for (int i = 0; i < n; i++, files++) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", dir,
				 names[i]->d_name);
			ok &= check_file(&sc, path, &opts);
			free(names[i]);
		}
		if (n >= 0)
			free(names);
	}
	kc_writer_free(&sc.w);
	kc_arena_free(&sc.arena);
	printf("%u files: %s\n", files, ok ? "all OK" : "FAILURES");
	return ok ? 0 : 1;
}
