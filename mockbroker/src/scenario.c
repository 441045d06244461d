/*
 * The scenario language of kafkit-mock: a line-oriented parser producing
 * km__cmd values. Words are separated by blanks; a word `key=value` is an
 * option, any other word is positional. Errors name the line and the byte
 * column of the word at fault.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf_int.h"
#include "kafkit/err.h"
#include "kafkit/messages.h"
#include "scenario.h"

#define MAX_WORDS 16
/* One day: longer delays or periods are surely typos. */
#define MAX_MS 86400000u
#define MAX_BROKER 1024
#define MAX_PARTITIONS 100000
#define MAX_COUNT 1000000
/* km_fault_errors' limit on queued codes. */
#define MAX_ERRORS 100000

typedef struct word {
	const char *p;
	size_t n;
	int col;
} word;

/* One line being parsed: its words, and where an error message goes. */
typedef struct line_ctx {
	word w[MAX_WORDS];
	int nw;
	int line;
	int end_col; /* column just after the last word */
	char *err;
	size_t errlen;
} line_ctx;

static bool fail(line_ctx *x, int col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool fail(line_ctx *x, int col, const char *fmt, ...)
{
	if (!x->errlen)
		return false;
	int n = snprintf(x->err, x->errlen, "line %d: col %d: ", x->line, col);
	if (n >= 0 && (size_t)n < x->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool word_is(const word *w, const char *s)
{
	return w->n == strlen(s) && memcmp(w->p, s, w->n) == 0;
}

/* A decimal integer in [min, max], the whole slice. */
static bool int_in(const char *p, size_t n, long long min, long long max,
		   long long *out)
{
	size_t i = 0;
	bool neg = n > 0 && p[0] == '-';
	i = neg;
	if (i == n)
		return false;
	long long v = 0;
	for (; i < n; i++) {
		if (!isdigit((unsigned char)p[i]) || v > max)
			return false;
		v = v * 10 + (p[i] - '0');
	}
	v = neg ? -v : v;
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* "250ms" or "2s". */
static bool duration(line_ctx *x, const char *p, size_t n, int col,
		     uint32_t *ms)
{
	size_t digits = 0;
	while (digits < n && isdigit((unsigned char)p[digits]))
		digits++;
	long long v;
	unsigned scale = 0;
	if (n - digits == 2 && memcmp(p + digits, "ms", 2) == 0)
		scale = 1;
	else if (n - digits == 1 && p[digits] == 's')
		scale = 1000;
	if (!scale || !int_in(p, digits, 0, MAX_MS, &v) ||
	    (unsigned long long)v * scale > MAX_MS)
		return fail(x, col,
			    "bad duration '%.*s' (want e.g. 250ms or 2s, "
			    "at most 1 day)",
			    (int)n, p);
	*ms = (uint32_t)v * scale;
	return true;
}

static bool broker_id(line_ctx *x, const char *p, size_t n, int col,
		      int32_t *out)
{
	long long v;
	if (!int_in(p, n, 1, MAX_BROKER, &v))
		return fail(x, col, "bad broker id '%.*s' (want 1..%d)",
			    (int)n, p, MAX_BROKER);
	*out = (int32_t)v;
	return true;
}

/* "produce", "list-offsets", "ListOffsets" or a key number; the names come
 * from the codec's api table, compared without case, '-' or '_'. */
static bool api_key(line_ctx *x, const char *p, size_t n, int col,
		    int16_t *out)
{
	long long v;
	if (int_in(p, n, 0, INT16_MAX, &v)) {
		*out = (int16_t)v;
		return true;
	}
	for (size_t i = 0; kc_api_at(i); i++) {
		const char *name = kc_api_at(i)->name;
		size_t j = 0, k = 0;
		while (j < n) {
			if (p[j] == '-' || p[j] == '_') {
				j++;
				continue;
			}
			if (!name[k] || tolower((unsigned char)p[j]) !=
					    tolower((unsigned char)name[k]))
				break;
			j++;
			k++;
		}
		if (j == n && !name[k]) {
			*out = kc_api_at(i)->key;
			return true;
		}
	}
	return fail(x, col, "unknown api '%.*s'", (int)n, p);
}

static bool error_code(line_ctx *x, const word *w, int16_t *out)
{
	long long v;
	int16_t code;
	if (int_in(w->p, w->n, -1, INT16_MAX, &v))
		code = (int16_t)v;
	else if (kc_kafka_err_code(w->p, w->n, &code) != KC_OK)
		return fail(x, w->col, "unknown Kafka error '%.*s'",
			    (int)w->n, w->p);
	if (code == 0)
		return fail(x, w->col, "error code 0 (NONE) is no error");
	*out = code;
	return true;
}

static bool topic_name_ok(const char *p, size_t n)
{
	if (n < 1 || n >= KM__SC_TOPIC_MAX || (n == 1 && p[0] == '.') ||
	    (n == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '.' &&
		    p[i] != '_' && p[i] != '-')
			return false;
	return true;
}

/* "t1:3", or "t1:*" when star is allowed (-1). The number after the
 * colon is a partition index, or with `count` a partition count; `what`
 * names it in messages. */
static bool topic_part(line_ctx *x, const char *p, size_t n, int col,
		       bool star, bool count, const char *what, km__cmd *c,
		       int32_t *num)
{
	const char *colon = memrchr(p, ':', n);
	if (!colon)
		return fail(x, col, "expected TOPIC:%s, got '%.*s'", what,
			    (int)n, p);
	size_t tn = (size_t)(colon - p);
	if (star && tn == 1 && p[0] == '*') {
		if (n != 3 || p[2] != '*')
			return fail(x, col + 2, "want *:* for every topic");
		c->topic[0] = '\0';
		*num = -1;
		return true;
	}
	if (!topic_name_ok(p, tn))
		return fail(x, col, "bad topic name '%.*s'", (int)tn, p);
	const char *q = colon + 1;
	size_t qn = n - tn - 1;
	int qcol = col + (int)tn + 1;
	long long v;
	if (star && qn == 1 && q[0] == '*') {
		v = -1;
	} else if (!int_in(q, qn, count, MAX_PARTITIONS - !count, &v)) {
		return fail(x, qcol, "bad %s '%.*s'", what, (int)qn, q);
	}
	memcpy(c->topic, p, tn);
	c->topic[tn] = '\0';
	*num = (int32_t)v;
	return true;
}

/* Options a command accepts. */
enum {
	OPT_API = 1,
	OPT_BROKER = 2,
	OPT_PARTITION = 4,
	OPT_P = 8,
	OPT_NEXT = 16,
	OPT_TO = 32,
	OPT_JITTER = 64,
	OPT_AFTER = 128,
	OPT_ID = 256,
};

static const char *const opt_names[] = {"api",  "broker", "partition",
					"p",    "next",   "to",
					"jitter", "after", "id"};

/* A rule name: 1..63 of [A-Za-z0-9._-], copied into c->name. */
static bool rule_name(line_ctx *x, const char *p, size_t n, int col,
		      km__cmd *c)
{
	bool ok = n >= 1 && n < KM__SC_NAME_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)p[i]) || p[i] == '.' ||
		     p[i] == '_' || p[i] == '-';
	if (!ok)
		return fail(x, col, "bad rule name '%.*s' (want 1..%d of "
			    "A-Z a-z 0-9 . _ -)", (int)n, p,
			    KM__SC_NAME_MAX - 1);
	memcpy(c->name, p, n);
	c->name[n] = '\0';
	return true;
}

static bool option(line_ctx *x, const word *w, unsigned allowed,
		   unsigned *seen, km__cmd *c)
{
	const char *eq = memchr(w->p, '=', w->n);
	size_t kn = (size_t)(eq - w->p);
	const char *v = eq + 1;
	size_t vn = w->n - kn - 1;
	int vcol = w->col + (int)kn + 1;
	unsigned bit = 0;
	for (unsigned i = 0; i < sizeof opt_names / sizeof opt_names[0]; i++)
		if (kn == strlen(opt_names[i]) &&
		    memcmp(w->p, opt_names[i], kn) == 0)
			bit = 1u << i;
	if (!(bit & allowed))
		return fail(x, w->col, "unknown option '%.*s'", (int)kn,
			    w->p);
	if (*seen & bit)
		return fail(x, w->col, "option '%.*s' given twice", (int)kn,
			    w->p);
	*seen |= bit;
	long long n;
	switch (bit) {
	case OPT_API:
		return api_key(x, v, vn, vcol, &c->api_key);
	case OPT_BROKER:
		return broker_id(x, v, vn, vcol, &c->broker);
	case OPT_TO:
		return broker_id(x, v, vn, vcol, &c->to_broker);
	case OPT_PARTITION:
		return topic_part(x, v, vn, vcol, false, false, "PARTITION", c,
				  &c->partition);
	case OPT_JITTER:
		return duration(x, v, vn, vcol, &c->jitter_ms);
	case OPT_ID:
		return rule_name(x, v, vn, vcol, c);
	case OPT_AFTER:
		if (!int_in(v, vn, 0, INT64_MAX / 10, &n))
			return fail(x, vcol, "bad byte count '%.*s'", (int)vn,
				    v);
		c->number = (uint64_t)n;
		c->after = true;
		return true;
	case OPT_NEXT:
		if (!int_in(v, vn, 1, MAX_COUNT, &n))
			return fail(x, vcol, "bad count '%.*s' (want 1..%d)",
				    (int)vn, v, MAX_COUNT);
		c->count = (int32_t)n;
		return true;
	default: { /* OPT_P */
		char buf[32];
		char *end;
		double d = -1;
		if (vn && vn < sizeof buf && (isdigit((unsigned char)v[0]) ||
					      v[0] == '.')) {
			memcpy(buf, v, vn);
			buf[vn] = '\0';
			d = strtod(buf, &end);
			if (*end)
				d = -1;
		}
		if (!(d > 0 && d <= 1))
			return fail(x, vcol,
				    "bad probability '%.*s' (want 0 < p <= 1)",
				    (int)vn, v);
		c->probability = d;
		return true;
	}
	}
}

static bool positional(line_ctx *x, km__cmd *c, const word *w, int idx);

static bool parse_line(line_ctx *x, km__cmd *c)
{
	static const struct {
		const char *name;
		km__cmd_kind kind;
		unsigned opts;
		int min_pos, max_pos;
	} cmds[] = {
		{"topic", KM__CMD_TOPIC, 0, 1, 1},
		{"leader-change", KM__CMD_LEADER_CHANGE, OPT_TO | OPT_ID, 2, 4},
		{"delay", KM__CMD_DELAY,
		 OPT_API | OPT_BROKER | OPT_JITTER | OPT_ID, 1, 1},
		{"swallow", KM__CMD_SWALLOW,
		 OPT_API | OPT_BROKER | OPT_P | OPT_NEXT | OPT_ID, 0, 0},
		{"close", KM__CMD_CLOSE,
		 OPT_API | OPT_BROKER | OPT_P | OPT_NEXT | OPT_ID, 0, 0},
		{"errors", KM__CMD_ERRORS,
		 OPT_API | OPT_BROKER | OPT_PARTITION | OPT_ID, 1, 2},
		{"throttle", KM__CMD_THROTTLE, OPT_API | OPT_BROKER | OPT_ID, 1,
		 1},
		{"stall", KM__CMD_STALL, OPT_BROKER, 0, 0},
		{"unstall", KM__CMD_UNSTALL, OPT_BROKER, 0, 0},
		{"broker-down", KM__CMD_BROKER_DOWN, 0, 1, 2},
		{"broker-up", KM__CMD_BROKER_UP, 0, 1, 1},
		{"drop-connections", KM__CMD_DROP_CONNECTIONS,
		 OPT_BROKER | OPT_AFTER, 0, 0},
		{"seed", KM__CMD_SEED, 0, 1, 1},
		{"clear", KM__CMD_CLEAR, 0, 0, 0},
		{"cancel", KM__CMD_CANCEL, 0, 1, 1},
	};
	const word *w0 = &x->w[0];
	size_t k = 0;
	while (k < sizeof cmds / sizeof cmds[0] && !word_is(w0, cmds[k].name))
		k++;
	if (k == sizeof cmds / sizeof cmds[0])
		return fail(x, w0->col, "unknown command '%.*s'", (int)w0->n,
			    w0->p);
	*c = (km__cmd){.kind = cmds[k].kind, .line = x->line, .partition = -1,
		       .broker = -1, .to_broker = -1, .api_key = -1,
		       .probability = 1};
	unsigned seen = 0;
	int npos = 0;
	for (int i = 1; i < x->nw; i++) {
		const word *w = &x->w[i];
		if (memchr(w->p, '=', w->n)) {
			if (!option(x, w, cmds[k].opts, &seen, c))
				return false;
			continue;
		}
		if (npos == cmds[k].max_pos)
			return fail(x, w->col, "unexpected '%.*s'", (int)w->n,
				    w->p);
		if (!positional(x, c, w, npos++))
			return false;
	}
	if (npos < cmds[k].min_pos)
		return positional(x, c, NULL, npos);
	if (c->kind == KM__CMD_LEADER_CHANGE && c->every && !c->ms)
		return fail(x, x->end_col, "missing DURATION after 'every'");
	/* every request forever would leave clients no way to progress */
	if ((c->kind == KM__CMD_SWALLOW || c->kind == KM__CMD_CLOSE) &&
	    !(seen & (OPT_P | OPT_NEXT)))
		return fail(x, x->end_col, "missing p=F or next=N");
	if (c->kind == KM__CMD_LEADER_CHANGE && (seen & OPT_ID) && !c->every)
		return fail(x, x->end_col, "id=NAME needs 'every DURATION'");
	if (c->kind == KM__CMD_LEADER_CHANGE && (seen & OPT_TO) &&
	    (c->every || c->random || !c->topic[0]))
		return fail(x, x->end_col,
			    "to=B needs one topic and 'now' without 'random'");
	if (c->kind == KM__CMD_ERRORS && !c->count)
		c->count = 1;
	return true;
}

/* Word number idx (0-based, after the command) of c, or NULL when the line
 * ended before a required one. */
static bool positional(line_ctx *x, km__cmd *c, const word *w, int idx)
{
	long long v;
	if (!w) {
		static const char *const missing[] = {
			[KM__CMD_TOPIC] = "TOPIC:PARTITIONS",
			[KM__CMD_LEADER_CHANGE] = "'now' or 'every DURATION'",
			[KM__CMD_DELAY] = "DURATION",
			[KM__CMD_ERRORS] = "an error name or code",
			[KM__CMD_BROKER_DOWN] = "a broker id",
			[KM__CMD_BROKER_UP] = "a broker id",
			[KM__CMD_THROTTLE] = "DURATION",
			[KM__CMD_SEED] = "a seed",
			[KM__CMD_CANCEL] = "a rule name",
		};
		const char *m = idx == 0 && c->kind == KM__CMD_LEADER_CHANGE
					? "TOPIC:PARTITION or TOPIC:*"
					: missing[c->kind];
		return fail(x, x->end_col, "missing %s", m);
	}
	switch (c->kind) {
	case KM__CMD_TOPIC:
		return topic_part(x, w->p, w->n, w->col, false, true,
				  "PARTITIONS",
				  c, &c->partitions);
	case KM__CMD_LEADER_CHANGE:
		if (idx == 0)
			return topic_part(x, w->p, w->n, w->col, true,
					  false, "PARTITION", c, &c->partition);
		if (idx == 1 && word_is(w, "now"))
			return true;
		if (idx == 1 && word_is(w, "every")) {
			c->every = true;
			return true;
		}
		if (idx == 1)
			return fail(x, w->col,
				    "expected 'now' or 'every', got '%.*s'",
				    (int)w->n, w->p);
		if (idx == 2 && c->every) {
			if (!duration(x, w->p, w->n, w->col, &c->ms))
				return false;
			if (!c->ms)
				return fail(x, w->col, "period must be > 0");
			return true;
		}
		if (word_is(w, "random") && idx == 2 + c->every) {
			c->random = true;
			return true;
		}
		if (word_is(w, "round-robin") && idx == 2 + c->every)
			return true;
		return fail(x, w->col, "unexpected '%.*s'", (int)w->n, w->p);
	case KM__CMD_DELAY:
	case KM__CMD_THROTTLE:
		return duration(x, w->p, w->n, w->col, &c->ms);
	case KM__CMD_ERRORS:
		if (idx == 0)
			return error_code(x, w, &c->error_code);
		if (w->n < 2 || w->p[0] != 'x' ||
		    !int_in(w->p + 1, w->n - 1, 1, MAX_ERRORS, &v))
			return fail(x, w->col, "bad repeat '%.*s' (want xN, N "
				    "in 1..%d)", (int)w->n, w->p, MAX_ERRORS);
		c->count = (int32_t)v;
		return true;
	case KM__CMD_BROKER_DOWN:
		if (idx == 1) {
			if (!word_is(w, "keep-leaders"))
				return fail(x, w->col,
					    "expected 'keep-leaders', got "
					    "'%.*s'", (int)w->n, w->p);
			c->keep_leaders = true;
			return true;
		}
		return broker_id(x, w->p, w->n, w->col, &c->broker);
	case KM__CMD_CANCEL:
		return rule_name(x, w->p, w->n, w->col, c);
	case KM__CMD_SEED:
		if (!int_in(w->p, w->n, 0, INT64_MAX / 10, &v))
			return fail(x, w->col, "bad seed '%.*s'", (int)w->n,
				    w->p);
		c->number = (uint64_t)v;
		return true;
	default: /* KM__CMD_BROKER_UP */
		return broker_id(x, w->p, w->n, w->col, &c->broker);
	}
}

/* Split one line (no newline) into words; a word starting with '#' starts
 * a comment. */
static bool split(line_ctx *x, const char *p, size_t n)
{
	x->nw = 0;
	size_t i = 0;
	while (i < n) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r') {
			i++;
			continue;
		}
		if (p[i] == '#')
			break;
		if (x->nw == MAX_WORDS)
			return fail(x, (int)i + 1, "too many words (at most %d)",
				    MAX_WORDS);
		word *w = &x->w[x->nw++];
		w->p = p + i;
		w->col = (int)i + 1;
		while (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			i++;
		w->n = (size_t)(p + i - w->p);
		x->end_col = (int)i + 1;
	}
	return true;
}

void km__scenario_init(km__scenario *s)
{
	*s = (km__scenario){0};
}

void km__scenario_free(km__scenario *s)
{
	kc__free(s->cmds);
	km__scenario_init(s);
}

km_err km__scenario_parse(km__scenario *s, const char *text, size_t len,
			  int first_line, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	size_t start_n = s->n;
	line_ctx x = {.line = first_line, .err = err, .errlen = errlen};
	size_t pos = 0;
	km_err e = KM_OK;
	while (pos < len && e == KM_OK) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text) - pos : len - pos;
		const char *nul = memchr(text + pos, '\0', n);
		km__cmd c;
		if (nul) {
			fail(&x, (int)(nul - (text + pos)) + 1, "NUL byte");
			e = KM_ERR_INVALID_ARG;
		} else if (!split(&x, text + pos, n)) {
			e = KM_ERR_INVALID_ARG;
		} else if (x.nw && !parse_line(&x, &c)) {
			e = KM_ERR_INVALID_ARG;
		} else if (x.nw && s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 8;
			km__cmd *m = kc__realloc(s->cmds, cap * sizeof *m);
			if (!m) {
				e = KM_ERR_NOMEM;
			} else {
				s->cmds = m;
				s->cap = cap;
			}
		}
		if (e == KM_OK && x.nw)
			s->cmds[s->n++] = c;
		pos += n + 1;
		x.line++;
	}
	if (e != KM_OK)
		s->n = start_n;
	return e;
}
