/* kafkit-pcap as a whole: the command line, exit codes and messages for
 * unreadable files, unknown link types and truncated files, the filters,
 * stdin, allocation failures. test_tool_tshark.c has the synthesized
 * captures and the cross-check with tshark.
 *
 * usage: test_pcaptools_tool KAFKIT_PCAP (the program, for stdin runs) */
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "helpers.h"
#include "kafkit/codec.h"
#include "kafkit/pcap.h"
#include "opts.h"
#include "tool.h"

static const char *program;

/* ---- command line ------------------------------------------------------------- */

static int parse(kx__opts *o, char *err, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = (char *)"kafkit-pcap";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	return kx__opts_parse(o, argc, argv, err, 256);
}

START_TEST(options)
{
	kx__opts o;
	char err[256];
	const char *ok[] = {"-r", "f.pcap", "-p", "9092", "-p", "19092", "--any-port", "-v",
			    "--api", "produce", "--api", "3", "--topic", "t1", "--client-id",
			    "c", "--bytes", "hex", "-f", "tcp", "-c", "5", "-q", NULL};
	ck_assert_int_eq(parse(&o, err, ok), 0);
	ck_assert_str_eq(o.read, "f.pcap");
	ck_assert_uint_eq(o.nports, 2);
	ck_assert_uint_eq(o.ports[1], 19092);
	ck_assert(o.any_port && o.verbose && o.quiet_warnings && !o.json && !o.stats);
	ck_assert_uint_eq(o.napis, 2);
	ck_assert_int_eq(o.apis[0], 0);
	ck_assert_int_eq(o.apis[1], 3);
	ck_assert_str_eq(o.topics[0], "t1");
	ck_assert_str_eq(o.clients[0], "c");
	ck_assert_int_eq(o.bytes, KC_JSON_BYTES_HEX);
	ck_assert_str_eq(o.bpf, "tcp");
	ck_assert_uint_eq(o.count, 5);

	const char *json[] = {"-r", "-", "--json", "--stats", NULL};
	ck_assert_int_eq(parse(&o, err, json), 0);
	ck_assert(o.json && o.stats);
	ck_assert_int_eq(o.bytes, KC_JSON_BYTES_BASE64); /* JSON's default */
	const char *text[] = {"-i", "eth0", NULL};
	ck_assert_int_eq(parse(&o, err, text), 0);
	ck_assert_int_eq(o.bytes, KC_JSON_BYTES_TEXT);
	const char *help[] = {"--help", NULL};
	ck_assert_int_eq(parse(&o, err, help), 0);
	ck_assert(o.help);

	static const struct {
		const char *args[6];
		const char *msg;
	} bad[] = {
		{{NULL}, "give exactly one of -r FILE and -i IFACE"},
		{{"-r", "a", "-i", "b", NULL}, "give exactly one of -r FILE and -i IFACE"},
		{{"-r", NULL}, "option -r needs a value"},
		{{"-r", "a", "-p", "0", NULL}, "bad port '0' (1-65535)"},
		{{"-r", "a", "-p", "65536", NULL}, "bad port '65536' (1-65535)"},
		{{"-r", "a", "-p", "9x", NULL}, "bad port '9x' (1-65535)"},
		{{"-r", "a", "--api", "Nope", NULL}, "unknown api 'Nope'"},
		{{"-r", "a", "--api", "9999", NULL}, "unknown api '9999'"},
		{{"-r", "a", "--bytes", "oct", NULL}, "bad --bytes 'oct' (text, hex or base64)"},
		{{"-r", "a", "--frob", NULL}, "unknown option --frob"},
		{{"-r", "a", "stray", NULL}, "unexpected argument 'stray'"},
		{{"-r", "a", "-c", "0", NULL}, "bad count '0'"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(parse(&o, err, bad[i].args), KX__EXIT_USAGE);
		ck_assert_str_eq(err, bad[i].msg);
	}
}
END_TEST

/* ---- whole runs -------------------------------------------------------------- */

typedef struct result {
	int code;
	char *out, *err;
	size_t nout, nerr;
} result;

static result run(const char *const *args)
{
	kx__opts o;
	char why[256];
	result r = {0};
	ck_assert_msg(parse(&o, why, args) == 0, "%s", why);
	FILE *out = open_memstream(&r.out, &r.nout), *err = open_memstream(&r.err, &r.nerr);
	r.code = kx__tool_run(&o, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static void result_free(result *r)
{
	free(r->out);
	free(r->err);
}

static int count(const char *s, const char *what)
{
	int n = 0;
	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

static int lines(const char *s)
{
	return count(s, "\n");
}

START_TEST(text_run)
{
	const char *a[] = {"-r", th_data_path("kcat-none.pcap"), "--any-port", NULL};
	result r = run(a);
	ck_assert_int_eq(r.code, KX__EXIT_OK);
	/* ApiVersions v3 and v0 on 3 connections, Metadata, 4 Produce */
	ck_assert_int_eq(count(r.out, " req corr="), 11);
	ck_assert_int_eq(count(r.out, " resp corr="), 11);
	ck_assert_int_eq(lines(r.out), 22);
	ck_assert_str_eq(r.err, "");
	result_free(&r);
	/* -v adds records and connection lines */
	const char *v[] = {"-r", th_data_path("kcat-none.pcap"), "--any-port", "-v", NULL};
	r = run(v);
	ck_assert_int_eq(count(r.out, " key=\"key"), 200);
	ck_assert_int_eq(count(r.out, "connection open"), 3);
	ck_assert_int_eq(count(r.out, "connection closed"), 3);
	result_free(&r);
	/* on port 9092 only (the default) these captures hold nothing */
	const char *d[] = {"-r", th_data_path("kcat-none.pcap"), NULL};
	r = run(d);
	ck_assert_int_eq(r.code, KX__EXIT_OK);
	ck_assert_str_eq(r.out, "");
	result_free(&r);
}
END_TEST

START_TEST(filters)
{
	const char *f = th_data_path("kcat-gzip.pcap");
	const char *api[] = {"-r", f, "--any-port", "--api", "Produce", NULL};
	result r = run(api);
	ck_assert_int_eq(lines(r.out), 8);
	ck_assert_int_eq(count(r.out, " Produce v7 "), 8);
	result_free(&r);
	const char *topic[] = {"-r", f, "--any-port", "--topic", "t1", NULL};
	r = run(topic);
	/* Produce and Metadata name topics; ApiVersions does not */
	ck_assert_int_eq(lines(r.out), 10);
	ck_assert_int_eq(count(r.out, " Metadata v2 "), 2);
	result_free(&r);
	const char *none[] = {"-r", f, "--any-port", "--topic", "t2", NULL};
	r = run(none);
	ck_assert_str_eq(r.out, "");
	result_free(&r);
	const char *client[] = {"-r", f, "--any-port", "--client-id", "rdkafka", "--api", "18",
				NULL};
	r = run(client);
	ck_assert_int_eq(lines(r.out), 12);
	/* responses carry no client id: theirs comes from the request */
	ck_assert_int_eq(count(r.out, "resp corr="), 6);
	ck_assert_int_eq(count(r.out, "client=\"rdkafka\""), 12);
	result_free(&r);
	const char *other[] = {"-r", f, "--any-port", "--client-id", "x", NULL};
	r = run(other);
	ck_assert_str_eq(r.out, "");
	result_free(&r);
	const char *c[] = {"-r", f, "--any-port", "-c", "3", NULL};
	r = run(c);
	ck_assert_int_eq(lines(r.out), 3);
	ck_assert_int_eq(r.code, KX__EXIT_OK);
	result_free(&r);
	const char *stats[] = {"-r", f, "--any-port", "--stats", "--json", "--api", "0", NULL};
	r = run(stats);
	ck_assert_int_eq(lines(r.out), 1);
	ck_assert_int_eq(strncmp(r.out, "{\"type\":\"stats\",\"requests\":4,\"responses\":4,", 43),
			 0);
	result_free(&r);
}
END_TEST

START_TEST(unreadable_inputs)
{
	const char *missing[] = {"-r", "/nonexistent/x.pcap", NULL};
	result r = run(missing);
	ck_assert_int_eq(r.code, KX__EXIT_INPUT);
	ck_assert_ptr_nonnull(strstr(r.err, "kafkit-pcap: /nonexistent/x.pcap: "));
	ck_assert_str_eq(r.out, "");
	result_free(&r);

	char path[] = "/tmp/kafkit-pcap-testXXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "not a capture file at all\n", 26), 26);
	close(fd);
	const char *junk[] = {"-r", path, NULL};
	r = run(junk);
	ck_assert_int_eq(r.code, KX__EXIT_INPUT);
	ck_assert_ptr_nonnull(strstr(r.err, path));
	result_free(&r);

	/* a link type the reader does not know: USER0 */
	pcap_t *dead = pcap_open_dead(DLT_USER0, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, path);
	ck_assert_ptr_nonnull(d);
	struct pcap_pkthdr h = {{1, 0}, 4, 4};
	pcap_dump((u_char *)d, &h, (const u_char *)"abcd");
	pcap_dump_close(d);
	pcap_close(dead);
	r = run(junk);
	ck_assert_int_eq(r.code, KX__EXIT_INPUT);
	ck_assert_ptr_nonnull(strstr(r.err, "link"));
	result_free(&r);

	const char *filter[] = {"-r", th_data_path("kcat-none.pcap"), "-f", "tcp port port",
				NULL};
	r = run(filter);
	ck_assert_int_eq(r.code, KX__EXIT_INPUT);
	ck_assert_ptr_nonnull(strstr(r.err, "kcat-none.pcap"));
	result_free(&r);
	unlink(path);
}
END_TEST

/* A capture file cut inside a packet: everything before is printed, the
 * exit status says the file was not read to its end. */
START_TEST(truncated_file)
{
	size_t n;
	uint8_t *all = th_read_file(th_data_path("kcat-none.pcap"), &n);
	char path[] = "/tmp/kafkit-pcap-cutXXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	size_t cut = n * 2 / 3;
	ck_assert_int_eq(write(fd, all, cut), (ssize_t)cut);
	close(fd);
	const char *a[] = {"-r", path, "--any-port", NULL};
	result r = run(a);
	ck_assert_int_eq(r.code, KX__EXIT_TRUNCATED);
	ck_assert_int_gt(count(r.out, " req corr="), 3);
	ck_assert_ptr_nonnull(strstr(r.err, "capture not read to its end"));
	result_free(&r);
	unlink(path);
	free(all);
}
END_TEST

/* Every allocation of a whole run (reader, pending table, decoding,
 * JSON, statistics) can fail: the run ends with KX__EXIT_NOMEM and says
 * so, nothing leaks, and eventually the run completes. */
START_TEST(allocation_failures)
{
	const char *modes[][6] = {
		{"-r", th_data_path("kcat-lz4.pcap"), "--any-port", "--json", NULL},
		{"-r", th_data_path("kpy-0.10.0-gzip.pcap"), "--any-port", "--stats", NULL},
	};
	for (int m = 0; m < 2; m++) {
		bool done = false;
		int nomem = 0;
		for (unsigned long n = 1; n < 2000 && !done; n++) {
			th_alloc_fail_at(n);
			result r = run(modes[m]);
			th_alloc_reset();
			ck_assert_int_eq(th_alloc_live(), 0);
			if (r.code == KX__EXIT_NOMEM) {
				ck_assert_ptr_nonnull(strstr(r.err, "out of memory"));
				nomem++;
			} else {
				ck_assert_int_eq(r.code, KX__EXIT_OK);
				done = true;
			}
			result_free(&r);
		}
		ck_assert(done);
		ck_assert_int_gt(nomem, 3);
	}
}
END_TEST

/* stdin, through the program itself. */
START_TEST(stdin_input)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "'%s' -r - --any-port --api Produce < '%s'", program,
		 th_data_path("kpy-0.10.0-gzip.pcap"));
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[4096];
	int n = 0, legacy = 0;
	while (fgets(line, sizeof line, p)) {
		n++;
		legacy += strstr(line, "(v1)(gzip)") != NULL;
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_int_eq(n, 6);
	ck_assert_int_eq(legacy, 3);
	snprintf(cmd, sizeof cmd, "'%s' --frob 2>/dev/null", program);
	p = popen(cmd, "r");
	int st = pclose(p);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == KX__EXIT_USAGE);
}
END_TEST

static Suite *tool_suite(void)
{
	Suite *s = suite_create("pcaptools_tool");
	TCase *tc = tcase_create("tool");
	tcase_set_timeout(tc, 200);
	tcase_add_test(tc, options);
	tcase_add_test(tc, text_run);
	tcase_add_test(tc, filters);
	tcase_add_test(tc, unreadable_inputs);
	tcase_add_test(tc, truncated_file);
	tcase_add_test(tc, stdin_input);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s KAFKIT_PCAP\n", argv[0]);
		return 2;
	}
	program = argv[1];
	SRunner *sr = srunner_create(tool_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
