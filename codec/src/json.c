/* The JSON writer under the generated T_json() functions. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base64_int.h"
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
static inline void sep(kc_json *j)
{
	if (j->comma)
		putc1(j, ',');
}

/* An opening bracket c after the separator: one reservation. */
static inline void open_c(kc_json *j, char c)
{
	char *p = room(j, 2);
	if (!p)
		return;
	p[0] = ',';
	p[j->comma] = c;
	j->len += 1u + j->comma;
	j->comma = false;
}

void kc_json_begin_object(kc_json *j)
{
	open_c(j, '{');
}

void kc_json_end_object(kc_json *j)
{
	putc1(j, '}');
	j->comma = true;
}

void kc_json_begin_array(kc_json *j)
{
	open_c(j, '[');
}

void kc_json_end_array(kc_json *j)
{
	putc1(j, ']');
	j->comma = true;
}

void kc_json_key(kc_json *j, const char *key)
{
	size_t n = strlen(key);
	char *p = room(j, n + 4);
	if (!p)
		return;
	*p = ',';
	p += j->comma;
	p[0] = '"';
	memcpy(p + 1, key, n);
	p[n + 1] = '"';
	p[n + 2] = ':';
	j->len = (size_t)(p + n + 3 - j->buf);
	j->comma = false;
}

void kc_json_keyq_grow(kc_json *j, const char *q, size_t n)
{
	char *p = room(j, n + 1);
	if (!p)
		return;
	*p = ',';
	p += j->comma;
	memcpy(p, q, n);
	j->len = (size_t)(p + n - j->buf);
	j->comma = false;
}

void kc_json_raw(kc_json *j, const char *s, size_t n)
{
	char *p = room(j, n + 1);
	if (!p)
		return;
	*p = ',';
	p += j->comma;
	memcpy(p, s, n);
	j->len = (size_t)(p + n - j->buf);
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

/* "00" to "99": numbers are most of a JSON event, and two digits per
 * division halve the work of one. */
static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233"
	"34353637383940414243444546474849505152535455565758596061626364656667"
	"6869707172737475767778798081828384858687888990919293949596979899";

static const uint64_t pow10_tab[20] = {
	1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u,
	100000000u, 1000000000u, 10000000000u, 100000000000u,
	1000000000000u, 10000000000000u, 100000000000000u,
	1000000000000000u, 10000000000000000u, 100000000000000000u,
	1000000000000000000u, 10000000000000000000u};

/* Decimal digits in v (1 to 20): log10 from the bit length (1233/4096
 * is just above log10(2)), corrected by one comparison. */
static inline unsigned ndigits(uint64_t v)
{
	v |= 1;
	unsigned t = (64u - (unsigned)__builtin_clzll(v)) * 1233u >> 12;
	return t + (v >= pow10_tab[t]);
}

/* Two digits of r < 100 ending at end. */
static inline void pair(char *end, uint32_t r)
{
	memcpy(end - 2, digit_pairs + 2 * r, 2);
}

/* The ndigits(v) digits of v written backwards from end: eight digits
 * per 64-bit division, then 32-bit arithmetic. */
static inline void digits(uint64_t v, char *end)
{
	while (v >= 100000000u) {
		uint32_t lo = (uint32_t)(v % 100000000u);
		v /= 100000000u;
		uint32_t a = lo / 10000, b = lo % 10000;
		pair(end, b % 100);
		pair(end - 2, b / 100);
		pair(end - 4, a % 100);
		pair(end - 6, a / 100);
		end -= 8;
	}
	uint32_t w = (uint32_t)v;
	while (w >= 100) {
		pair(end, w % 100);
		w /= 100;
		end -= 2;
	}
	if (w >= 10)
		pair(end, w);
	else
		end[-1] = (char)('0' + w);
}

/* A number value: separator, sign, digits, straight into the buffer. */
static inline void number(kc_json *j, uint64_t mag, bool neg)
{
	unsigned n = ndigits(mag);
	char *p = room(j, n + 2);
	if (!p)
		return;
	*p = ',';
	p += j->comma;
	*p = '-';
	p += neg;
	digits(mag, p + n);
	j->len = (size_t)(p + n - j->buf);
	j->comma = true;
}

void kc_json_int(kc_json *j, int64_t v)
{
	/* the magnitude as unsigned: -INT64_MIN does not fit int64 */
	number(j, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void kc_json_uint(kc_json *j, uint64_t v)
{
	number(j, v, false);
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

/* Whether any byte of the 8 in w needs escaping or checking: a control
 * character, a quote, a backslash or a byte >= 0x80 (SWAR: each test sets
 * the top bit of the bytes it matches). */
static inline uint64_t special8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
	uint64_t ctl = (w | high) - ones * 0x20;      /* high clear: < 0x20 */
	uint64_t q = (quote | high) - ones;           /* high clear: == '"' */
	uint64_t b = (bslash | high) - ones;          /* high clear: == '\\' */
	return (w | ~ctl | ~q | ~b) & high;
}

/* End of the run of plain bytes (printable ASCII other than quote and
 * backslash) starting at s[i], eight bytes per step. */
static inline size_t plain_run(const unsigned char *s, size_t i, size_t n)
{
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (special8(w))
			break;
	}
	while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' &&
	       s[i] != '\\')
		i++;
	return i;
}

/* The escaped body of a string, without quotes. Runs of plain bytes are
 * copied at once: most Kafka strings need no escaping. */
static void escaped(kc_json *j, const unsigned char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i = 0;
	while (i < n) {
		size_t run = plain_run(s, i, n);
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
	/* most strings need no escaping: then one reservation and one copy */
	if (plain_run((const unsigned char *)s, 0, n) == n) {
		char *p = room(j, n + 3);
		if (!p)
			return;
		*p = ',';
		p += j->comma;
		*p = '"';
		memcpy(p + 1, s, n);
		p[n + 1] = '"';
		j->len = (size_t)(p + n + 2 - j->buf);
		j->comma = true;
		return;
	}
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

void kc_json_bytes_as(kc_json *j, kc_bytes b, kc_json_bytes_mode mode)
{
	static const char hexd[] = "0123456789abcdef";
	if (b.len < 0) {
		kc_json_null(j);
		return;
	}
	size_t n = (size_t)b.len;
	if (mode == KC_JSON_BYTES_TEXT) {
		sep(j);
		putc1(j, '"');
		escaped(j, b.ptr, n);
		putc1(j, '"');
		j->comma = true;
		return;
	}
	/* hex and base64 have a known length: one reservation for the
	 * separator, the quotes and the digits */
	size_t body = mode == KC_JSON_BYTES_HEX ? 2 * n : (n + 2) / 3 * 4;
	char *p = room(j, body + 3);
	if (!p)
		return;
	*p = ',';
	p += j->comma;
	*p++ = '"';
	if (mode == KC_JSON_BYTES_HEX) {
		for (size_t i = 0; i < n; i++) {
			p[2 * i] = hexd[b.ptr[i] >> 4];
			p[2 * i + 1] = hexd[b.ptr[i] & 15];
		}
		p += 2 * n;
	} else {
		p = kc__base64_std(p, b.ptr, n);
	}
	*p++ = '"';
	j->len = (size_t)(p - j->buf);
	j->comma = true;
}

void kc_json_bytes(kc_json *j, kc_bytes b)
{
	kc_json_bytes_as(j, b, j->bytes);
}

void kc_json_uuid(kc_json *j, const kc_uuid *u)
{
	char *p = room(j, 22 + 3);
	if (!p)
		return;
	*p = ',';
	p += j->comma;
	*p++ = '"';
	p = kc__base64_url_nopad(p, u->b, 16);
	*p++ = '"';
	j->len = (size_t)(p - j->buf);
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
