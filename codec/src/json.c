/* The JSON writer under the generated T_json() functions. */
#include <math.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>

#include "buf_int.h"
#include "kafkit/json.h"

void kc_json_init(kc_json *j)
{
	memset(j, 0, sizeof *j);
}

void kc_json_free(kc_json *j)
{
	kc__free(j->buf);
	j->buf = NULL;
	j->len = j->cap = 0;
}

void kc_json_reset(kc_json *j)
{
	j->len = 0;
	j->err = KC_OK;
	j->comma = false;
}

kc_err kc_json_err(const kc_json *j)
{
	return j->err;
}

/* Slow path of room(): grow the buffer. */
static char *grow(kc_json *j, size_t n)
{
	if (j->err)
		return NULL;
	size_t cap = j->cap ? j->cap : 1024;
	while (cap - j->len < n) {
		if (cap > SIZE_MAX / 2) {
			j->err = KC_ERR_NOMEM;
			return NULL;
		}
		cap *= 2;
	}
	char *p = kc__realloc(j->buf, cap);
	if (!p) {
		j->err = KC_ERR_NOMEM;
		return NULL;
	}
	j->buf = p;
	j->cap = cap;
	return j->buf + j->len;
}

/* Room for n more bytes, or NULL with the sticky error set; inline,
 * since every key and value asks. */
static inline char *room(kc_json *j, size_t n)
{
	if (j->cap - j->len >= n && !j->err)
		return j->buf + j->len;
	return grow(j, n);
}

static void put(kc_json *j, const char *s, size_t n)
{
	char *p = room(j, n);
	if (!p)
		return;
	memcpy(p, s, n);
	j->len += n;
}

static void putc1(kc_json *j, char c)
{
	char *p = room(j, 1);
	if (!p)
		return;
	*p = c;
	j->len++;
}

/* Before a value or key: the separator from the previous one. */
static void sep(kc_json *j)
{
	if (j->comma)
		putc1(j, ',');
}

void kc_json_begin_object(kc_json *j)
{
	sep(j);
	putc1(j, '{');
	j->comma = false;
}

void kc_json_end_object(kc_json *j)
{
	putc1(j, '}');
	j->comma = true;
}

void kc_json_begin_array(kc_json *j)
{
	sep(j);
	putc1(j, '[');
	j->comma = false;
}

void kc_json_end_array(kc_json *j)
{
	putc1(j, ']');
	j->comma = true;
}

void kc_json_key(kc_json *j, const char *key)
{
	size_t n = strlen(key);
	sep(j);
	char *p = room(j, n + 3);
	if (!p)
		return;
	p[0] = '"';
	memcpy(p + 1, key, n);
	p[n + 1] = '"';
	p[n + 2] = ':';
	j->len += n + 3;
	j->comma = false;
}

void kc_json_raw(kc_json *j, const char *s, size_t n)
{
	sep(j);
	put(j, s, n);
	j->comma = true;
}

void kc_json_null(kc_json *j)
{
	kc_json_raw(j, "null", 4);
}

void kc_json_bool(kc_json *j, bool v)
{
	if (v)
		kc_json_raw(j, "true", 4);
	else
		kc_json_raw(j, "false", 5);
}

/* Decimal digits of v, ending at end; returns where they start. Numbers
 * are most of a JSON event: snprintf would be a fifth of the time. */
static char *digits(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

void kc_json_int(kc_json *j, int64_t v)
{
	char t[24], *e = t + sizeof t;
	/* the magnitude as unsigned: -INT64_MIN does not fit int64 */
	char *p = digits(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, e);
	if (v < 0)
		*--p = '-';
	kc_json_raw(j, p, (size_t)(e - p));
}

void kc_json_uint(kc_json *j, uint64_t v)
{
	char t[24], *e = t + sizeof t;
	char *p = digits(v, e);
	kc_json_raw(j, p, (size_t)(e - p));
}

void kc_json_double(kc_json *j, double v)
{
	if (!isfinite(v)) {
		kc_json_null(j);
		return;
	}
	char t[32];
	int n = snprintf(t, sizeof t, "%.17g", v);
	kc_json_raw(j, t, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid
 * (overlongs, surrogates and code points above U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t k;
	unsigned cp, min;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		k = 2, cp = c & 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		k = 3, cp = c & 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		k = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (k > n)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

/* The escaped body of a string, without quotes. Runs of plain bytes are
 * copied at once: most Kafka strings need no escaping. */
static void escaped(kc_json *j, const unsigned char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' &&
		       s[run] != '\\')
			run++;
		if (run > i) {
			put(j, (const char *)s + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = s[i];
		if (c >= 0x80) {
			size_t k = utf8_len(s + i, n - i);
			if (k) {
				put(j, (const char *)s + i, k);
				i += k;
			} else {
				put(j, "\xef\xbf\xbd", 3); /* U+FFFD */
				i++;
			}
			continue;
		}
		char e[6] = {'\\', 0, 0, 0, 0, 0};
		size_t el = 2;
		switch (c) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		default:
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hexd[c >> 4];
			e[5] = hexd[c & 15];
			el = 6;
			break;
		}
		put(j, e, el);
		i++;
	}
}

void kc_json_strn(kc_json *j, const char *s, size_t n)
{
	sep(j);
	putc1(j, '"');
	escaped(j, (const unsigned char *)s, n);
	putc1(j, '"');
	j->comma = true;
}

void kc_json_str(kc_json *j, kc_str s)
{
	if (s.len < 0)
		kc_json_null(j);
	else
		kc_json_strn(j, s.ptr, (size_t)s.len);
}

void kc_json_cstr(kc_json *j, const char *s)
{
	if (!s)
		kc_json_null(j);
	else
		kc_json_strn(j, s, strlen(s));
}

/* Pairs of base64 digits for every 12-bit value of an alphabet, so the
 * hot loop turns 3 bytes into 4 digits with two table loads. Built on
 * first use (std and url alphabets differ only in the last two digits). */
typedef struct b64_pairs {
	char d[4096][2];
} b64_pairs;

static const b64_pairs *b64_table(const char *alpha, b64_pairs *t,
				  atomic_int *ready)
{
	if (!atomic_load_explicit(ready, memory_order_acquire)) {
		/* Idempotent: racing threads write the same bytes. */
		for (unsigned v = 0; v < 4096; v++) {
			t->d[v][0] = alpha[v >> 6];
			t->d[v][1] = alpha[v & 63];
		}
		atomic_store_explicit(ready, 1, memory_order_release);
	}
	return t;
}

static void b64(kc_json *j, const uint8_t *s, size_t n, const char *alpha,
		const b64_pairs *pairs, bool pad)
{
	char *p = room(j, (n + 2) / 3 * 4);
	if (!p)
		return;
	char *o = p;
	size_t i = 0;
	/* Six bytes per step from one 8-byte load (two bytes of slack past
	 * them, hence the bound): four table loads, one 8-byte store. */
	for (; i + 8 <= n; i += 6, o += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		w = __builtin_bswap64(w);
		uint32_t hi = (uint32_t)(w >> 40), lo = (uint32_t)(w >> 16) & 0xffffff;
		char out[8];
		memcpy(out, pairs->d[hi >> 12], 2);
		memcpy(out + 2, pairs->d[hi & 4095], 2);
		memcpy(out + 4, pairs->d[lo >> 12], 2);
		memcpy(out + 6, pairs->d[lo & 4095], 2);
		memcpy(o, out, 8);
	}
	for (; i + 3 <= n; i += 3, o += 4) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		memcpy(o, pairs->d[v >> 12], 2);
		memcpy(o + 2, pairs->d[v & 4095], 2);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		*o++ = alpha[v >> 18];
		*o++ = alpha[v >> 12 & 63];
		if (pad) {
			*o++ = '=';
			*o++ = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*o++ = alpha[v >> 18];
		*o++ = alpha[v >> 12 & 63];
		*o++ = alpha[v >> 6 & 63];
		if (pad)
			*o++ = '=';
	}
	j->len += (size_t)(o - p);
}

static b64_pairs std64_pairs, url64_pairs;
static atomic_int std64_ready, url64_ready;

void kc_json_bytes_as(kc_json *j, kc_bytes b, kc_json_bytes_mode mode)
{
	static const char std64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char hexd[] = "0123456789abcdef";
	if (b.len < 0) {
		kc_json_null(j);
		return;
	}
	size_t n = (size_t)b.len;
	sep(j);
	putc1(j, '"');
	switch (mode) {
	case KC_JSON_BYTES_HEX: {
		char *p = room(j, 2 * n);
		if (!p)
			break;
		for (size_t i = 0; i < n; i++) {
			p[2 * i] = hexd[b.ptr[i] >> 4];
			p[2 * i + 1] = hexd[b.ptr[i] & 15];
		}
		j->len += 2 * n;
		break;
	}
	case KC_JSON_BYTES_TEXT:
		escaped(j, b.ptr, n);
		break;
	case KC_JSON_BYTES_BASE64:
	default:
		b64(j, b.ptr, n, std64,
		    b64_table(std64, &std64_pairs, &std64_ready), true);
		break;
	}
	putc1(j, '"');
	j->comma = true;
}

void kc_json_bytes(kc_json *j, kc_bytes b)
{
	kc_json_bytes_as(j, b, j->bytes);
}

void kc_json_uuid(kc_json *j, const kc_uuid *u)
{
	static const char url64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	sep(j);
	putc1(j, '"');
	b64(j, u->b, 16, url64, b64_table(url64, &url64_pairs, &url64_ready),
	    false);
	putc1(j, '"');
	j->comma = true;
}

void kc_json_records(kc_json *j, kc_bytes records)
{
	if (records.len < 0 || !j->records_fn) {
		kc_json_bytes(j, records);
		return;
	}
	/* The callback writes one value; whatever it leaves, the next key or
	 * value of this container needs a comma. */
	j->records_fn(j, records, j->records_opaque);
	j->comma = true;
}

void kc_json_newline(kc_json *j)
{
	putc1(j, '\n');
	j->comma = false;
}
