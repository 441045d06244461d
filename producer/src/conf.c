/* Producer configuration: one table of keys drives parsing, defaults and
 * printing; docs/producer-config.md documents the same table. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf_int.h"
#include "kafkit/compress.h"
#include "partitioner.h"

enum key_type { T_STRING, T_SERVERS, T_INT, T_BOOL, T_ENUM };

typedef struct enum_name {
	const char *name;
	int64_t value;
} enum_name;

/* The first name of each value is its canonical spelling. */
static const enum_name acks_names[] = {
	{"all", -1}, {"-1", -1}, {"0", 0}, {"1", 1}, {NULL, 0}};
static const enum_name codec_names[] = {
	{"none", KC_CODEC_NONE}, {"gzip", KC_CODEC_GZIP},
	{"snappy", KC_CODEC_SNAPPY}, {"lz4", KC_CODEC_LZ4},
	{"zstd", KC_CODEC_ZSTD}, {NULL, 0}};
static const enum_name partitioner_names[] = {
	{"murmur2", KP__PART_MURMUR2}, {"crc32", KP__PART_CRC32},
	{"fnv1a", KP__PART_FNV1A}, {"random", KP__PART_RANDOM}, {NULL, 0}};

typedef struct key_def {
	const char *name;
	enum key_type type;
	size_t off; /* into kp__conf_values */
	int64_t def, min, max;
	const enum_name *names;
} key_def;

#define OFF(f) offsetof(kp__conf_values, f)
#define I32 INT32_MAX
#define I64 INT64_MAX

/* Ranges are the Java client's: "int" keys stop at 2^31-1, "long" keys at
 * 2^63-1. */
static const key_def keys[] = {
	{"bootstrap.servers", T_SERVERS, OFF(bootstrap_servers), 0, 0, 0, NULL},
	{"client.id", T_STRING, OFF(client_id), 0, 0, 0, NULL},
	{"acks", T_ENUM, OFF(acks), -1, 0, 0, acks_names},
	/* Kafka 4.0's default (KIP-1030), also librdkafka's. */
	{"linger.ms", T_INT, OFF(linger_ms), 5, 0, I64, NULL},
	{"batch.size", T_INT, OFF(batch_size), 16384, 0, I32, NULL},
	{"buffer.memory", T_INT, OFF(buffer_memory), 33554432, 0, I64, NULL},
	{"max.block.ms", T_INT, OFF(max_block_ms), 60000, 0, I64, NULL},
	{"compression.type", T_ENUM, OFF(compression_type), KC_CODEC_NONE, 0,
	 0, codec_names},
	{"compression.level", T_INT, OFF(compression_level), -1, -131072, 22,
	 NULL},
	{"max.request.size", T_INT, OFF(max_request_size), 1048576, 0, I32,
	 NULL},
	/* librdkafka's key, for records sent with a free_cb (the only ones
	 * whose bytes the producer may keep). Not its default, 65535:
	 * docs/benchmarks.md measures a reference as dearer than a copy up
	 * to 8 KiB and cheaper from 16 KiB. */
	{"message.copy.max.bytes", T_INT, OFF(message_copy_max_bytes), 16383,
	 0, 1000000000, NULL},
	{"request.timeout.ms", T_INT, OFF(request_timeout_ms), 30000, 0, I32,
	 NULL},
	{"delivery.timeout.ms", T_INT, OFF(delivery_timeout_ms), 120000, 0, I32,
	 NULL},
	{"retries", T_INT, OFF(retries), I32, 0, I32, NULL},
	{"retry.backoff.ms", T_INT, OFF(retry_backoff_ms), 100, 0, I64, NULL},
	{"retry.backoff.max.ms", T_INT, OFF(retry_backoff_max_ms), 1000, 0, I64,
	 NULL},
	{"max.in.flight.requests.per.connection", T_INT, OFF(max_in_flight), 5,
	 1, I32, NULL},
	{"enable.idempotence", T_BOOL, OFF(enable_idempotence), 1, 0, 1, NULL},
	{"metadata.max.age.ms", T_INT, OFF(metadata_max_age_ms), 300000, 0, I64,
	 NULL},
	{"partitioner", T_ENUM, OFF(partitioner), KP__PART_MURMUR2, 0, 0,
	 partitioner_names},
	{"partitioner.ignore.keys", T_BOOL, OFF(partitioner_ignore_keys), 0, 0,
	 1, NULL},
	{"socket.connection.setup.timeout.ms", T_INT,
	 OFF(socket_connection_setup_timeout_ms), 10000, 0, I64, NULL},
	{"socket.connection.setup.timeout.max.ms", T_INT,
	 OFF(socket_connection_setup_timeout_max_ms), 30000, 0, I64, NULL},
	{"reconnect.backoff.ms", T_INT, OFF(reconnect_backoff_ms), 50, 0, I64,
	 NULL},
	{"reconnect.backoff.max.ms", T_INT, OFF(reconnect_backoff_max_ms), 1000,
	 0, I64, NULL},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Kafka strings carry an int16 length (the request header's client_id). */
#define MAX_STRING 32767

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int64_t *num_field(kp__conf_values *v, const key_def *k)
{
	return (int64_t *)(void *)((char *)v + k->off);
}
static const int64_t *cnum_field(const kp__conf_values *v, const key_def *k)
{
	return (const int64_t *)(const void *)((const char *)v + k->off);
}
static char **str_field(kp__conf_values *v, const key_def *k)
{
	return (char **)(void *)((char *)v + k->off);
}
static char *const *cstr_field(const kp__conf_values *v, const key_def *k)
{
	return (char *const *)(const void *)((const char *)v + k->off);
}

static const key_def *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = kc__malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

kp_conf *kp_conf_new(void)
{
	kp_conf *c = kc__malloc(sizeof(*c));
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type != T_STRING && keys[i].type != T_SERVERS)
			*num_field(&c->v, &keys[i]) = keys[i].def;
	return c;
}

void kp__conf_values_clear(kp__conf_values *v)
{
	if (!v)
		return;
	kc__free(v->bootstrap_servers);
	kc__free(v->client_id);
	kc__free(v->interceptors);
	memset(v, 0, sizeof(*v));
}

void kp_conf_destroy(kp_conf *conf)
{
	if (!conf)
		return;
	kp__conf_values_clear(&conf->v);
	kc__free(conf);
}

/* Decimal integer with an optional sign, nothing else. Returns 0 or -1
 * (not a number, or outside int64). */
static int parse_int(const char *s, size_t n, int64_t *out)
{
	char buf[32];
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	size_t i = (buf[0] == '-' || buf[0] == '+') ? 1 : 0;
	if (!buf[i])
		return -1;
	for (size_t j = i; buf[j]; j++)
		if (!isdigit((unsigned char)buf[j]))
			return -1;
	errno = 0;
	long long v = strtoll(buf, NULL, 10);
	if (errno == ERANGE)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int kp__servers_next(const char **cursor, char *host, size_t hostlen,
		     uint16_t *port)
{
	const char *p = *cursor;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 0;
	const char *end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	const char *e = end;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	/* The port follows the last colon; IPv6 hosts come in brackets. */
	const char *colon = NULL;
	for (const char *q = p; q < e; q++)
		if (*q == ':')
			colon = q;
	if (!colon)
		return -1;
	const char *h = p, *he = colon;
	if (*h == '[') {
		if (he - h < 2 || he[-1] != ']')
			return -1;
		h++;
		he--;
	} else if (memchr(h, ':', (size_t)(he - h)) ||
		   memchr(h, ']', (size_t)(he - h))) {
		return -1;
	}
	if (he == h || (size_t)(he - h) >= hostlen)
		return -1;
	for (const char *q = h; q < he; q++)
		if (isspace((unsigned char)*q) || *q == '[')
			return -1;
	int64_t pv;
	if (e - colon - 1 < 1 || !isdigit((unsigned char)colon[1]) ||
	    parse_int(colon + 1, (size_t)(e - colon - 1), &pv) != 0 || pv < 1 ||
	    pv > 65535)
		return -1;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = 0;
	*port = (uint16_t)pv;
	if (*end == ',') {
		/* A trailing comma is an empty entry, not the end. */
		const char *q = end + 1;
		while (*q == ' ' || *q == '\t')
			q++;
		if (!*q)
			return -1;
		end++;
	}
	*cursor = end;
	return 1;
}

static int servers_valid(const char *list)
{
	char host[256];
	uint16_t port;
	const char *cur = list;
	int n = 0, r;
	while ((r = kp__servers_next(&cur, host, sizeof(host), &port)) == 1)
		n++;
	return r == 0 && n > 0;
}

static void range_err(const key_def *k, const char *v, char *err,
		      size_t errlen)
{
	errf(err, errlen,
	     "%s: invalid value \"%s\": expected an integer from %" PRId64
	     " to %" PRId64,
	     k->name, v, k->min, k->max);
}

static void enum_err(const key_def *k, const char *v, char *err,
		     size_t errlen)
{
	char list[128] = "";
	size_t used = 0;
	for (const enum_name *e = k->names; e->name; e++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s",
				 used ? ", " : "", e->name);
		if (w < 0 || (size_t)w >= sizeof(list) - used)
			break;
		used += (size_t)w;
	}
	errf(err, errlen, "%s: invalid value \"%s\": expected one of %s",
	     k->name, v, list);
}

kp_err kp_conf_set(kp_conf *conf, const char *key, const char *value,
		   char *err, size_t errlen)
{
	if (!conf || !key || !value) {
		errf(err, errlen, "kp_conf_set: NULL argument");
		return KP_ERR_INVALID_ARG;
	}
	const key_def *k = find_key(key);
	if (!k) {
		errf(err, errlen, "unknown configuration key \"%s\"", key);
		return KP_ERR_UNKNOWN_KEY;
	}
	const char *s = value;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;

	int64_t num = 0;
	switch (k->type) {
	case T_SERVERS:
	case T_STRING: {
		if (n > MAX_STRING) {
			errf(err, errlen, "%s: value longer than %d bytes",
			     k->name, MAX_STRING);
			return KP_ERR_BAD_VALUE;
		}
		char *d = dup_n(s, n);
		if (!d) {
			errf(err, errlen, "%s: out of memory", k->name);
			return KP_ERR_NOMEM;
		}
		if (k->type == T_SERVERS && !servers_valid(d)) {
			errf(err, errlen,
			     "%s: invalid value \"%s\": expected host:port "
			     "entries separated by commas ([addr]:port for "
			     "IPv6, port 1 to 65535)",
			     k->name, d);
			kc__free(d);
			return KP_ERR_BAD_VALUE;
		}
		char **f = str_field(&conf->v, k);
		kc__free(*f);
		*f = d;
		break;
	}
	case T_INT:
		if (parse_int(s, n, &num) != 0 || num < k->min ||
		    num > k->max) {
			range_err(k, value, err, errlen);
			return KP_ERR_BAD_VALUE;
		}
		*num_field(&conf->v, k) = num;
		break;
	case T_BOOL:
		if (n == 4 && strncasecmp(s, "true", 4) == 0) {
			num = 1;
		} else if (n == 5 && strncasecmp(s, "false", 5) == 0) {
			num = 0;
		} else {
			errf(err, errlen,
			     "%s: invalid value \"%s\": expected true or false",
			     k->name, value);
			return KP_ERR_BAD_VALUE;
		}
		*num_field(&conf->v, k) = num;
		break;
	case T_ENUM: {
		const enum_name *e = k->names;
		while (e->name && !(strlen(e->name) == n &&
				    strncasecmp(e->name, s, n) == 0))
			e++;
		if (!e->name) {
			enum_err(k, value, err, errlen);
			return KP_ERR_BAD_VALUE;
		}
		*num_field(&conf->v, k) = e->value;
		if (num_field(&conf->v, k) == &conf->v.partitioner) {
			conf->v.partitioner_cb = NULL;
			conf->v.partitioner_opaque = NULL;
		}
		break;
	}
	}
	conf->user_set |= UINT64_C(1) << (k - keys);
	return KP_OK;
}

kp_err kp_conf_get(const kp_conf *conf, const char *key, char *buf,
		   size_t *len)
{
	if (!conf || !key || !len || (!buf && *len))
		return KP_ERR_INVALID_ARG;
	const key_def *k = find_key(key);
	if (!k)
		return KP_ERR_UNKNOWN_KEY;
	char tmp[32];
	const char *out = tmp;
	if (k->type == T_STRING || k->type == T_SERVERS) {
		char *const *f = cstr_field(&conf->v, k);
		out = *f ? *f : "";
	} else {
		int64_t v = *cnum_field(&conf->v, k);
		if (k->type == T_BOOL) {
			out = v ? "true" : "false";
		} else if (k->type == T_ENUM) {
			const enum_name *e = k->names;
			while (e->name && e->value != v)
				e++;
			out = e->name ? e->name : "custom";
		} else {
			snprintf(tmp, sizeof(tmp), "%" PRId64, v);
		}
	}
	size_t need = strlen(out) + 1;
	if (*len < need) {
		*len = need;
		return KP_ERR_TRUNCATED;
	}
	memcpy(buf, out, need);
	*len = need;
	return KP_OK;
}

kp_err kp_conf_set_partitioner(kp_conf *conf, kp_partitioner_cb cb,
			       void *opaque)
{
	if (!conf)
		return KP_ERR_INVALID_ARG;
	conf->v.partitioner = cb ? KP__PART_CUSTOM : KP__PART_MURMUR2;
	conf->v.partitioner_cb = cb;
	conf->v.partitioner_opaque = cb ? opaque : NULL;
	return KP_OK;
}

kp_err kp_conf_add_interceptor(kp_conf *conf, const kp_interceptor *ic,
			       void *opaque)
{
	if (!conf || !ic)
		return KP_ERR_INVALID_ARG;
	size_t n = conf->v.interceptor_count;
	kp__interceptor_slot *a =
		kc__realloc(conf->v.interceptors, (n + 1) * sizeof(*a));
	if (!a)
		return KP_ERR_NOMEM;
	a[n].ic = *ic;
	a[n].opaque = opaque;
	conf->v.interceptors = a;
	conf->v.interceptor_count = n + 1;
	return KP_OK;
}

static int user_set(const kp_conf *conf, const char *name)
{
	return (conf->user_set >> (find_key(name) - keys)) & 1;
}

/* The Java client's postProcessAndValidateIdempotenceConfigs. */
static kp_err check_idempotence(const kp_conf *conf, kp__conf_values *v,
				char *err, size_t errlen)
{
	if (!v->enable_idempotence)
		return KP_OK;
	const char *why = NULL;
	if (v->acks != -1)
		why = "acks must be all (or -1)";
	else if (v->retries == 0)
		why = "retries must be greater than 0";
	else if (v->max_in_flight > 5)
		why = "max.in.flight.requests.per.connection must be at most 5";
	if (!why)
		return KP_OK;
	if (user_set(conf, "enable.idempotence")) {
		errf(err, errlen,
		     "enable.idempotence=true: %s for the idempotent producer",
		     why);
		return KP_ERR_CONF_CONFLICT;
	}
	v->enable_idempotence = 0;
	return KP_OK;
}

static kp_err check_level(const kp__conf_values *v, char *err, size_t errlen)
{
	int64_t lv = v->compression_level, lo, hi;
	switch (v->compression_type) {
	case KC_CODEC_GZIP: lo = 1, hi = 9; break;
	case KC_CODEC_LZ4: lo = 1, hi = 17; break;
	case KC_CODEC_ZSTD: lo = -131072, hi = 22; break;
	default: return KP_OK; /* none and snappy have no levels */
	}
	if (lv == -1 || (lv >= lo && lv <= hi))
		return KP_OK;
	errf(err, errlen,
	     "compression.level=%" PRId64 ": %s takes -1 (its default) or %"
	     PRId64 " to %" PRId64,
	     lv, kc_codec_name((int)v->compression_type), lo, hi);
	return KP_ERR_CONF_CONFLICT;
}

kp_err kp__conf_resolve(const kp_conf *conf, kp__conf_values *out, char *err,
			size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const kp__conf_values *in = &conf->v;
	if (!in->bootstrap_servers || !*in->bootstrap_servers) {
		errf(err, errlen,
		     "bootstrap.servers: required, and it has no default");
		return KP_ERR_BAD_VALUE;
	}
	kp__conf_values v = *in;
	kp_err e = check_idempotence(conf, &v, err, errlen);
	if (e == KP_OK)
		e = check_level(&v, err, errlen);
	if (e != KP_OK)
		return e;

	/* Java adds linger.ms (capped to an int first) and request.timeout.ms
	 * in longs, then caps the sum to an int. */
	int64_t linger = v.linger_ms < INT32_MAX ? v.linger_ms : INT32_MAX;
	int64_t floor = linger + v.request_timeout_ms;
	if (floor > INT32_MAX)
		floor = INT32_MAX;
	if (v.delivery_timeout_ms < floor) {
		if (user_set(conf, "delivery.timeout.ms")) {
			errf(err, errlen,
			     "delivery.timeout.ms=%" PRId64
			     " must be at least linger.ms + request.timeout.ms "
			     "(%" PRId64 ")",
			     v.delivery_timeout_ms, floor);
			return KP_ERR_CONF_CONFLICT;
		}
		v.delivery_timeout_ms = floor;
	}

	v.bootstrap_servers = NULL;
	v.client_id = NULL;
	v.interceptors = NULL;
	v.bootstrap_servers =
		dup_n(in->bootstrap_servers, strlen(in->bootstrap_servers));
	v.client_id = dup_n(in->client_id ? in->client_id : "",
			    in->client_id ? strlen(in->client_id) : 0);
	if (in->interceptor_count) {
		size_t sz = in->interceptor_count * sizeof(*v.interceptors);
		v.interceptors = kc__malloc(sz);
		if (v.interceptors)
			memcpy(v.interceptors, in->interceptors, sz);
	}
	if (!v.bootstrap_servers || !v.client_id ||
	    (in->interceptor_count && !v.interceptors)) {
		kp__conf_values_clear(&v);
		errf(err, errlen, "out of memory");
		return KP_ERR_NOMEM;
	}
	*out = v;
	return KP_OK;
}

kp_err kp_conf_validate(const kp_conf *conf, char *err, size_t errlen)
{
	if (!conf) {
		errf(err, errlen, "kp_conf_validate: NULL conf");
		return KP_ERR_INVALID_ARG;
	}
	kp__conf_values v;
	kp_err e = kp__conf_resolve(conf, &v, err, errlen);
	kp__conf_values_clear(&v);
	return e;
}
