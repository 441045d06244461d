/* Producer configuration: defaults, parsing, errors, the Java client's
 * construction checks, interceptors, allocation failures. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "helpers.h"
#include "kafkit/compress.h"
#include "partitioner.h"

static kp_conf *new_conf(void)
{
	kp_conf *c = kp_conf_new();
	ck_assert_ptr_nonnull(c);
	return c;
}

static void set_ok(kp_conf *c, const char *k, const char *v)
{
	char err[256] = "";
	kp_err e = kp_conf_set(c, k, v, err, sizeof(err));
	ck_assert_msg(e == KP_OK, "%s=%s: %s (%s)", k, v, kp_err_name(e), err);
}

static void expect_get(const kp_conf *c, const char *k, const char *want)
{
	char buf[512];
	size_t len = sizeof(buf);
	ck_assert_int_eq(kp_conf_get(c, k, buf, &len), KP_OK);
	ck_assert_str_eq(buf, want);
	ck_assert_uint_eq(len, strlen(want) + 1);
}

START_TEST(defaults_are_javas)
{
	static const char *const d[][2] = {
		{"bootstrap.servers", ""},
		{"client.id", ""},
		{"acks", "all"},
		{"linger.ms", "5"},
		{"batch.size", "16384"},
		{"buffer.memory", "33554432"},
		{"max.block.ms", "60000"},
		{"compression.type", "none"},
		{"compression.level", "-1"},
		{"max.request.size", "1048576"},
		{"message.copy.max.bytes", "16383"},
		{"request.timeout.ms", "30000"},
		{"delivery.timeout.ms", "120000"},
		{"retries", "2147483647"},
		{"retry.backoff.ms", "100"},
		{"retry.backoff.max.ms", "1000"},
		{"max.in.flight.requests.per.connection", "5"},
		{"enable.idempotence", "true"},
		{"metadata.max.age.ms", "300000"},
		{"partitioner", "murmur2"},
		{"partitioner.ignore.keys", "false"},
		{"socket.connection.setup.timeout.ms", "10000"},
		{"socket.connection.setup.timeout.max.ms", "30000"},
		{"reconnect.backoff.ms", "50"},
		{"reconnect.backoff.max.ms", "1000"},
	};
	kp_conf *c = new_conf();
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		expect_get(c, d[i][0], d[i][1]);
	kp_conf_destroy(c);
}
END_TEST

START_TEST(set_and_canonical_get)
{
	kp_conf *c = new_conf();
	set_ok(c, "acks", "-1");
	expect_get(c, "acks", "all");
	set_ok(c, "acks", " 1 ");
	expect_get(c, "acks", "1");
	set_ok(c, "acks", "ALL");
	expect_get(c, "acks", "all");
	set_ok(c, "acks", "0");
	expect_get(c, "acks", "0");
	set_ok(c, "linger.ms", "  250\t");
	expect_get(c, "linger.ms", "250");
	set_ok(c, "linger.ms", "+7");
	expect_get(c, "linger.ms", "7");
	set_ok(c, "buffer.memory", "9223372036854775807");
	expect_get(c, "buffer.memory", "9223372036854775807");
	set_ok(c, "batch.size", "2147483647");
	expect_get(c, "batch.size", "2147483647");
	set_ok(c, "enable.idempotence", "FALSE");
	expect_get(c, "enable.idempotence", "false");
	set_ok(c, "enable.idempotence", "True");
	expect_get(c, "enable.idempotence", "true");
	set_ok(c, "compression.type", "Zstd");
	expect_get(c, "compression.type", "zstd");
	set_ok(c, "compression.level", "-5");
	expect_get(c, "compression.level", "-5");
	set_ok(c, "partitioner", "fnv1a");
	expect_get(c, "partitioner", "fnv1a");
	set_ok(c, "client.id", " my app ");
	expect_get(c, "client.id", "my app");
	set_ok(c, "client.id", "");
	expect_get(c, "client.id", "");
	set_ok(c, "bootstrap.servers", "a:1, [::1]:9092 ,b.example:65535");
	expect_get(c, "bootstrap.servers", "a:1, [::1]:9092 ,b.example:65535");
	set_ok(c, "retries", "0");
	expect_get(c, "retries", "0");
	set_ok(c, "max.in.flight.requests.per.connection", "1");
	expect_get(c, "max.in.flight.requests.per.connection", "1");
	kp_conf_destroy(c);
}
END_TEST

static void set_bad(kp_conf *c, const char *k, const char *v, kp_err want,
		    const char *msg_part)
{
	char before[512], err[256] = "";
	size_t len = sizeof(before);
	int known = kp_conf_get(c, k, before, &len) == KP_OK;
	ck_assert_int_eq(kp_conf_set(c, k, v, err, sizeof(err)), want);
	ck_assert_msg(strstr(err, msg_part) != NULL, "%s=%s: \"%s\" lacks \"%s\"",
		      k, v, err, msg_part);
	if (known)
		expect_get(c, k, before); /* unchanged */
}

START_TEST(unknown_keys_and_bad_values)
{
	kp_conf *c = new_conf();
	set_bad(c, "lingerms", "5", KP_ERR_UNKNOWN_KEY, "\"lingerms\"");
	set_bad(c, "Linger.ms", "5", KP_ERR_UNKNOWN_KEY, "unknown");
	set_bad(c, "linger.ms", "abc", KP_ERR_BAD_VALUE, "linger.ms");
	set_bad(c, "linger.ms", "-1", KP_ERR_BAD_VALUE, "from 0 to");
	set_bad(c, "linger.ms", "", KP_ERR_BAD_VALUE, "integer");
	set_bad(c, "linger.ms", "5ms", KP_ERR_BAD_VALUE, "\"5ms\"");
	set_bad(c, "linger.ms", "1 2", KP_ERR_BAD_VALUE, "integer");
	set_bad(c, "linger.ms", "-", KP_ERR_BAD_VALUE, "integer");
	set_bad(c, "linger.ms", "0x10", KP_ERR_BAD_VALUE, "integer");
	set_bad(c, "buffer.memory", "9223372036854775808", KP_ERR_BAD_VALUE,
		"9223372036854775807");
	set_bad(c, "batch.size", "2147483648", KP_ERR_BAD_VALUE, "2147483647");
	set_bad(c, "message.copy.max.bytes", "1000000001", KP_ERR_BAD_VALUE,
		"from 0 to 1000000000");
	set_bad(c, "max.in.flight.requests.per.connection", "0",
		KP_ERR_BAD_VALUE, "from 1 to");
	set_bad(c, "compression.level", "23", KP_ERR_BAD_VALUE,
		"compression.level");
	set_bad(c, "acks", "2", KP_ERR_BAD_VALUE, "all, -1, 0, 1");
	set_bad(c, "acks", "", KP_ERR_BAD_VALUE, "acks");
	set_bad(c, "compression.type", "brotli", KP_ERR_BAD_VALUE,
		"none, gzip, snappy, lz4, zstd");
	set_bad(c, "partitioner", "custom", KP_ERR_BAD_VALUE,
		"murmur2, crc32, fnv1a, random");
	set_bad(c, "enable.idempotence", "yes", KP_ERR_BAD_VALUE,
		"true or false");
	set_bad(c, "enable.idempotence", "1", KP_ERR_BAD_VALUE,
		"true or false");
	static const char *const bad_servers[] = {
		"", " ", "host", "host:", "host:0", "host:65536", "host:x",
		":9092", "[::1]", "::1:9092", "[::1:9092", "a:1,", "a:1,,b:2",
		",a:1", "a b:1", "h:+1", "[]:1",
	};
	for (size_t i = 0; i < sizeof(bad_servers) / sizeof(bad_servers[0]);
	     i++)
		set_bad(c, "bootstrap.servers", bad_servers[i],
			KP_ERR_BAD_VALUE, "host:port");
	char longv[40000];
	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = 0;
	set_bad(c, "client.id", longv, KP_ERR_BAD_VALUE, "32767");

	/* NULL arguments; a NULL or empty err buffer is fine. */
	ck_assert_int_eq(kp_conf_set(NULL, "acks", "1", NULL, 0),
			 KP_ERR_INVALID_ARG);
	ck_assert_int_eq(kp_conf_set(c, NULL, "1", NULL, 0),
			 KP_ERR_INVALID_ARG);
	ck_assert_int_eq(kp_conf_set(c, "acks", NULL, NULL, 0),
			 KP_ERR_INVALID_ARG);
	ck_assert_int_eq(kp_conf_set(c, "nope", "1", NULL, 0),
			 KP_ERR_UNKNOWN_KEY);
	/* A short err buffer is truncated, still NUL-terminated. */
	char small[8];
	memset(small, 'z', sizeof(small));
	ck_assert_int_eq(kp_conf_set(c, "nope", "1", small, sizeof(small)),
			 KP_ERR_UNKNOWN_KEY);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	kp_conf_destroy(c);
}
END_TEST

START_TEST(get_sizes)
{
	kp_conf *c = new_conf();
	size_t len = 0;
	ck_assert_int_eq(kp_conf_get(c, "batch.size", NULL, &len),
			 KP_ERR_TRUNCATED);
	ck_assert_uint_eq(len, 6);
	char buf[6];
	len = 5;
	memset(buf, 'z', sizeof(buf));
	ck_assert_int_eq(kp_conf_get(c, "batch.size", buf, &len),
			 KP_ERR_TRUNCATED);
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(buf[0], 'z'); /* nothing written */
	ck_assert_int_eq(kp_conf_get(c, "batch.size", buf, &len), KP_OK);
	ck_assert_str_eq(buf, "16384");
	ck_assert_int_eq(kp_conf_get(c, "batch_size", buf, &len),
			 KP_ERR_UNKNOWN_KEY);
	ck_assert_int_eq(kp_conf_get(NULL, "acks", buf, &len),
			 KP_ERR_INVALID_ARG);
	ck_assert_int_eq(kp_conf_get(c, "acks", buf, NULL),
			 KP_ERR_INVALID_ARG);
	len = 4;
	ck_assert_int_eq(kp_conf_get(c, "acks", NULL, &len),
			 KP_ERR_INVALID_ARG);
	kp_conf_destroy(c);
	kp_conf_destroy(NULL);
}
END_TEST

START_TEST(servers_iterator)
{
	const char *cur = " k1:9092,[fe80::1%eth0]:19092 , 10.0.0.1:1";
	char host[64];
	uint16_t port = 0;
	ck_assert_int_eq(kp__servers_next(&cur, host, sizeof(host), &port), 1);
	ck_assert_str_eq(host, "k1");
	ck_assert_uint_eq(port, 9092);
	ck_assert_int_eq(kp__servers_next(&cur, host, sizeof(host), &port), 1);
	ck_assert_str_eq(host, "fe80::1%eth0");
	ck_assert_uint_eq(port, 19092);
	ck_assert_int_eq(kp__servers_next(&cur, host, sizeof(host), &port), 1);
	ck_assert_str_eq(host, "10.0.0.1");
	ck_assert_uint_eq(port, 1);
	ck_assert_int_eq(kp__servers_next(&cur, host, sizeof(host), &port), 0);
	/* A host that does not fit the caller's buffer is an error. */
	cur = "abcdef:1";
	ck_assert_int_eq(kp__servers_next(&cur, host, 6, &port), -1);
	cur = "abcde:1";
	ck_assert_int_eq(kp__servers_next(&cur, host, 6, &port), 1);
	ck_assert_str_eq(host, "abcde");
}
END_TEST

static kp_err validate(kp_conf *c, char *err, size_t n)
{
	err[0] = 0;
	return kp_conf_validate(c, err, n);
}

START_TEST(bootstrap_required)
{
	kp_conf *c = new_conf();
	char err[256];
	ck_assert_int_eq(validate(c, err, sizeof(err)), KP_ERR_BAD_VALUE);
	ck_assert_ptr_nonnull(strstr(err, "bootstrap.servers"));
	set_ok(c, "bootstrap.servers", "localhost:9092");
	ck_assert_int_eq(validate(c, err, sizeof(err)), KP_OK);
	ck_assert_int_eq(kp_conf_validate(NULL, err, sizeof(err)),
			 KP_ERR_INVALID_ARG);
	kp_conf_destroy(c);
}
END_TEST

/* Resolve and return the effective enable.idempotence. */
static int64_t resolved_idempotence(kp_conf *c)
{
	kp__conf_values v;
	char err[256] = "";
	kp_err e = kp__conf_resolve(c, &v, err, sizeof(err));
	ck_assert_msg(e == KP_OK, "%s", err);
	int64_t r = v.enable_idempotence;
	kp__conf_values_clear(&v);
	return r;
}

START_TEST(idempotence_rules)
{
	static const char *const conflicts[][3] = {
		{"acks", "1", "acks must be all"},
		{"acks", "0", "acks must be all"},
		{"retries", "0", "retries must be greater than 0"},
		{"max.in.flight.requests.per.connection", "6", "at most 5"},
	};
	char err[256];
	for (size_t i = 0; i < sizeof(conflicts) / sizeof(conflicts[0]); i++) {
		/* Default idempotence: silently turned off, as in Java. */
		kp_conf *c = new_conf();
		set_ok(c, "bootstrap.servers", "h:1");
		set_ok(c, conflicts[i][0], conflicts[i][1]);
		ck_assert_int_eq(validate(c, err, sizeof(err)), KP_OK);
		ck_assert_int_eq(resolved_idempotence(c), 0);
		/* The conf itself still reads the default. */
		expect_get(c, "enable.idempotence", "true");
		/* Explicit: a construction error naming the cause. */
		set_ok(c, "enable.idempotence", "true");
		ck_assert_int_eq(validate(c, err, sizeof(err)),
				 KP_ERR_CONF_CONFLICT);
		ck_assert_msg(strstr(err, conflicts[i][2]) &&
				      strstr(err, "enable.idempotence"),
			      "%s", err);
		/* Explicitly off: fine. */
		set_ok(c, "enable.idempotence", "false");
		ck_assert_int_eq(validate(c, err, sizeof(err)), KP_OK);
		ck_assert_int_eq(resolved_idempotence(c), 0);
		kp_conf_destroy(c);
	}
	kp_conf *c = new_conf();
	set_ok(c, "bootstrap.servers", "h:1");
	ck_assert_int_eq(resolved_idempotence(c), 1);
	set_ok(c, "enable.idempotence", "true");
	set_ok(c, "acks", "-1");
	set_ok(c, "max.in.flight.requests.per.connection", "5");
	set_ok(c, "retries", "1");
	ck_assert_int_eq(resolved_idempotence(c), 1);
	kp_conf_destroy(c);
}
END_TEST

START_TEST(delivery_timeout_rule)
{
	char err[256];
	kp__conf_values v;
	kp_conf *c = new_conf();
	set_ok(c, "bootstrap.servers", "h:1");
	/* Default delivery.timeout.ms below the sum: raised to it. */
	set_ok(c, "linger.ms", "100000");
	ck_assert_int_eq(kp__conf_resolve(c, &v, err, sizeof(err)), KP_OK);
	ck_assert_int_eq(v.delivery_timeout_ms, 130000);
	kp__conf_values_clear(&v);
	/* Explicit: an error. */
	set_ok(c, "delivery.timeout.ms", "129999");
	ck_assert_int_eq(validate(c, err, sizeof(err)), KP_ERR_CONF_CONFLICT);
	ck_assert_ptr_nonnull(
		strstr(err, "linger.ms + request.timeout.ms (130000)"));
	/* Equal is allowed. */
	set_ok(c, "delivery.timeout.ms", "130000");
	ck_assert_int_eq(validate(c, err, sizeof(err)), KP_OK);
	/* The sum saturates at 2^31-1, as Java's int arithmetic does. */
	set_ok(c, "linger.ms", "9223372036854775807");
	set_ok(c, "delivery.timeout.ms", "2147483647");
	ck_assert_int_eq(validate(c, err, sizeof(err)), KP_OK);
	kp_conf_destroy(c);
}
END_TEST

START_TEST(compression_levels)
{
	static const struct {
		const char *type, *level;
		kp_err want;
	} v[] = {
		{"gzip", "-1", KP_OK},   {"gzip", "1", KP_OK},
		{"gzip", "9", KP_OK},    {"gzip", "10", KP_ERR_CONF_CONFLICT},
		{"gzip", "0", KP_ERR_CONF_CONFLICT},
		{"lz4", "17", KP_OK},    {"lz4", "18", KP_ERR_CONF_CONFLICT},
		{"zstd", "22", KP_OK},   {"zstd", "-131072", KP_OK},
		{"zstd", "0", KP_OK},    {"snappy", "22", KP_OK},
		{"none", "-7", KP_OK},
	};
	char err[256];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		kp_conf *c = new_conf();
		set_ok(c, "bootstrap.servers", "h:1");
		/* Order does not matter: checked at validation. */
		set_ok(c, "compression.level", v[i].level);
		set_ok(c, "compression.type", v[i].type);
		ck_assert_int_eq(validate(c, err, sizeof(err)), v[i].want);
		if (v[i].want != KP_OK)
			ck_assert_ptr_nonnull(strstr(err, v[i].type));
		kp_conf_destroy(c);
	}
}
END_TEST

static int32_t part_cb(const char *topic, const void *key, size_t key_len,
		       int32_t count, void *opaque)
{
	(void)topic, (void)key, (void)key_len, (void)count, (void)opaque;
	return 0;
}

START_TEST(custom_partitioner)
{
	kp_conf *c = new_conf();
	int tag;
	ck_assert_int_eq(kp_conf_set_partitioner(c, part_cb, &tag), KP_OK);
	expect_get(c, "partitioner", "custom");
	ck_assert_int_eq(c->v.partitioner, KP__PART_CUSTOM);
	ck_assert_ptr_eq(c->v.partitioner_opaque, &tag);
	/* Setting the key drops the callback. */
	set_ok(c, "partitioner", "crc32");
	expect_get(c, "partitioner", "crc32");
	ck_assert(c->v.partitioner_cb == NULL);
	ck_assert_int_eq(kp_conf_set_partitioner(c, part_cb, &tag), KP_OK);
	ck_assert_int_eq(kp_conf_set_partitioner(c, NULL, &tag), KP_OK);
	expect_get(c, "partitioner", "murmur2");
	ck_assert_ptr_null(c->v.partitioner_opaque);
	ck_assert_int_eq(kp_conf_set_partitioner(NULL, part_cb, NULL),
			 KP_ERR_INVALID_ARG);
	kp_conf_destroy(c);
}
END_TEST

static void on_close_a(void *o)
{
	(void)o;
}
static void on_close_b(void *o)
{
	(void)o;
}

START_TEST(interceptors_kept_in_order)
{
	kp_conf *c = new_conf();
	set_ok(c, "bootstrap.servers", "h:1");
	int a, b;
	kp_interceptor ia = {NULL, NULL, on_close_a};
	kp_interceptor ib = {NULL, NULL, on_close_b};
	ck_assert_int_eq(kp_conf_add_interceptor(c, &ia, &a), KP_OK);
	ck_assert_int_eq(kp_conf_add_interceptor(c, &ib, &b), KP_OK);
	ck_assert_int_eq(kp_conf_add_interceptor(c, NULL, &b),
			 KP_ERR_INVALID_ARG);
	ck_assert_int_eq(kp_conf_add_interceptor(NULL, &ia, &b),
			 KP_ERR_INVALID_ARG);
	kp__conf_values v;
	char err[128];
	ck_assert_int_eq(kp__conf_resolve(c, &v, err, sizeof(err)), KP_OK);
	kp_conf_destroy(c); /* the resolved copy is independent */
	ck_assert_uint_eq(v.interceptor_count, 2);
	ck_assert(v.interceptors[0].ic.on_close == on_close_a);
	ck_assert_ptr_eq(v.interceptors[0].opaque, &a);
	ck_assert(v.interceptors[1].ic.on_close == on_close_b);
	ck_assert_ptr_eq(v.interceptors[1].opaque, &b);
	ck_assert_str_eq(v.bootstrap_servers, "h:1");
	ck_assert_str_eq(v.client_id, "");
	kp__conf_values_clear(&v);
	kp__conf_values_clear(NULL);
}
END_TEST

START_TEST(error_names)
{
	static const kp_err all[] = {
		KP_OK, KP_ERR_NOMEM, KP_ERR_INVALID_ARG, KP_ERR_UNKNOWN_KEY,
		KP_ERR_BAD_VALUE, KP_ERR_CONF_CONFLICT, KP_ERR_TRUNCATED,
		KP_ERR_BUFFER_FULL, KP_ERR_RECORD_TOO_LARGE,
		KP_ERR_UNKNOWN_TOPIC, KP_ERR_UNKNOWN_PARTITION,
		KP_ERR_DELIVERY_TIMEOUT, KP_ERR_TIMED_OUT, KP_ERR_BROKER,
		KP_ERR_FATAL, KP_ERR_CLOSED, KP_ERR_UNSUPPORTED, KP_ERR_ENCODE,
		KP_ERR_WRONG_THREAD,
	};
	size_t n = sizeof(all) / sizeof(all[0]);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_ne(kp_err_name(all[i]), "KP_ERR_?");
		ck_assert_str_ne(kp_err_str(all[i]), "unknown error");
		if (i > 0)
			ck_assert_int_le((int)all[i], -2000);
		for (size_t j = 0; j < i; j++) {
			ck_assert_str_ne(kp_err_name(all[i]),
					 kp_err_name(all[j]));
			ck_assert_str_ne(kp_err_str(all[i]), kp_err_str(all[j]));
		}
	}
	ck_assert_str_eq(kp_err_name(KP_ERR_BUFFER_FULL), "KP_ERR_BUFFER_FULL");
	ck_assert_str_eq(kp_err_name((kp_err)-2999), "KP_ERR_?");
	ck_assert_str_eq(kp_err_str((kp_err)5), "unknown error");
	kp_free(NULL);
}
END_TEST

/* Every allocation of a full conf lifecycle, failed one at a time. */
static kp_err conf_lifecycle(void)
{
	kp_conf *c = kp_conf_new();
	if (!c)
		return KP_ERR_NOMEM;
	kp_interceptor ic = {NULL, NULL, on_close_a};
	kp__conf_values v;
	kp_err e;
	if ((e = kp_conf_set(c, "bootstrap.servers", "a:1,b:2", NULL, 0)) ||
	    (e = kp_conf_set(c, "client.id", "app", NULL, 0)) ||
	    (e = kp_conf_set(c, "client.id", "app2", NULL, 0)) ||
	    (e = kp_conf_add_interceptor(c, &ic, NULL)) ||
	    (e = kp_conf_add_interceptor(c, &ic, NULL)) ||
	    (e = kp__conf_resolve(c, &v, NULL, 0))) {
		kp_conf_destroy(c);
		return e;
	}
	kp_conf_destroy(c);
	ck_assert_str_eq(v.client_id, "app2");
	ck_assert_uint_eq(v.interceptor_count, 2);
	kp__conf_values_clear(&v);
	return KP_OK;
}

START_TEST(malloc_failures)
{
	unsigned long n;
	for (n = 1; n < 100; n++) {
		th_alloc_fail_at(n);
		kp_err e = conf_lifecycle();
		long live = th_alloc_live();
		th_alloc_reset();
		ck_assert_int_eq(live, 0);
		if (e == KP_OK)
			break;
		ck_assert_int_eq(e, KP_ERR_NOMEM);
	}
	/* new, 3 strings, 2 interceptor growths, 3 copies in resolve. */
	ck_assert_uint_eq(n, 10);
	/* A failed set leaves the old value in place. */
	kp_conf *c = new_conf();
	set_ok(c, "client.id", "old");
	th_alloc_fail_at(1);
	ck_assert_int_eq(kp_conf_set(c, "client.id", "new", NULL, 0),
			 KP_ERR_NOMEM);
	th_alloc_reset();
	expect_get(c, "client.id", "old");
	kp_conf_destroy(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("producer_conf");
	TCase *t = tcase_create("keys");
	tcase_add_test(t, defaults_are_javas);
	tcase_add_test(t, set_and_canonical_get);
	tcase_add_test(t, unknown_keys_and_bad_values);
	tcase_add_test(t, get_sizes);
	tcase_add_test(t, servers_iterator);
	suite_add_tcase(s, t);
	t = tcase_create("validate");
	tcase_add_test(t, bootstrap_required);
	tcase_add_test(t, idempotence_rules);
	tcase_add_test(t, delivery_timeout_rule);
	tcase_add_test(t, compression_levels);
	suite_add_tcase(s, t);
	t = tcase_create("callbacks");
	tcase_add_test(t, custom_partitioner);
	tcase_add_test(t, interceptors_kept_in_order);
	tcase_add_test(t, error_names);
	tcase_add_test(t, malloc_failures);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
