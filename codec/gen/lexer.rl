/*
 * kafkit-gen: the kdef scanner. Ragel 6 scanner machine, compiled with
 * `ragel -G2`; it turns a whole file into a token array so the parser can
 * look ahead freely.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "lexer.h"

%%{
	machine kdef;

	ident = [A-Za-z_] [A-Za-z0-9_]*;
	dec = digit+;
	hex = '0' [xX] xdigit+;
	str_char = [^"\\\n] | '\\' ["\\];

	main := |*
		[ \t\r\f\v]+;
		'\n' => { ts_.line++; ts_.line_start = te; };
		'#' [^\n]*;
		ident => { if (push_text(&ts_, KG_TOK_IDENT, ts, te)) goto fail; };
		hex => { if (push_int(&ts_, ts + 2, te, 16)) goto fail; };
		dec => { if (push_int(&ts_, ts, te, 10)) goto fail; };
		'"' str_char* '"' => {
			if (push_string(&ts_, ts, te)) goto fail;
		};
		'"' str_char* '\\' [^"\\\n] => {
			err_at(&ts_, te - 2, "bad escape in string");
			goto fail;
		};
		'"' str_char* => {
			err_at(&ts_, ts, "unterminated string");
			goto fail;
		};
		[{}\[\]<>:;+\-] => {
			kg_token *t = push(&ts_, KG_TOK_PUNCT, ts);
			if (!t) goto fail;
			t->punct = (char)*ts;
		};
		any => {
			if (*ts >= 0x21 && *ts < 0x7f)
				err_at(&ts_, ts, "unexpected character '%c'", *ts);
			else
				err_at(&ts_, ts, "unexpected byte 0x%02x",
				       (unsigned)(unsigned char)*ts);
			goto fail;
		};
	*|;

	write data;
}%%

/* Scanner state shared with the helpers below. */
typedef struct scan {
	const char *file;
	kg_token *toks;
	size_t n, cap;
	int line;
	const char *line_start;
} scan;

static void err_at(scan *s, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void err_at(scan *s, const char *at, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d:%d: ", s->file, s->line,
		(int)(at - s->line_start) + 1);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static kg_token *push(scan *s, kg_tok kind, const char *at)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		kg_token *t = realloc(s->toks, cap * sizeof *t);
		if (!t) {
			err_at(s, at, "out of memory");
			return NULL;
		}
		s->toks = t;
		s->cap = cap;
	}
	kg_token *t = &s->toks[s->n++];
	memset(t, 0, sizeof *t);
	t->kind = kind;
	t->line = s->line;
	t->col = (int)(at - s->line_start) + 1;
	return t;
}

static int push_text(scan *s, kg_tok kind, const char *b, const char *e)
{
	kg_token *t = push(s, kind, b);
	if (!t)
		return -1;
	t->text = kg_strndup(b, (size_t)(e - b));
	t->text_len = (size_t)(e - b);
	return 0;
}

static int push_int(scan *s, const char *b, const char *e, unsigned base)
{
	const char *at = base == 16 ? b - 2 : b;
	uint64_t v = 0;
	for (const char *p = b; p < e; p++) {
		unsigned d = *p <= '9' ? (unsigned)(*p - '0')
				       : (unsigned)((*p | 0x20) - 'a' + 10);
		if (v > (UINT64_MAX - d) / base) {
			err_at(s, at, "integer out of range");
			return -1;
		}
		v = v * base + d;
	}
	kg_token *t = push(s, KG_TOK_INT, at);
	if (!t)
		return -1;
	t->ival = v;
	return 0;
}

/* A quoted string with \" and \\ resolved. */
static int push_string(scan *s, const char *b, const char *e)
{
	kg_token *t = push(s, KG_TOK_STRING, b);
	if (!t)
		return -1;
	char *out = kg_alloc((size_t)(e - b));
	size_t n = 0;
	for (const char *p = b + 1; p < e - 1; p++) {
		if (*p == '\\')
			p++;
		out[n++] = *p;
	}
	out[n] = '\0';
	t->text = out;
	t->text_len = n;
	return 0;
}

int kg_lex(const char *file, const char *src, size_t n, kg_token **out,
	   size_t *count)
{
	scan ts_ = {file, NULL, 0, 0, 1, src};
	const char *p = src, *pe = src + n, *eof = pe;
	const char *ts, *te;
	int cs, act;

	%% write init;
	%% write exec;
	(void)act;

	if (cs == kdef_error) {
		err_at(&ts_, p, "unexpected input");
		goto fail;
	}
	if (!push(&ts_, KG_TOK_EOF, pe))
		goto fail;
	*out = ts_.toks;
	*count = ts_.n;
	return 0;
fail:
	free(ts_.toks);
	return -1;
}
