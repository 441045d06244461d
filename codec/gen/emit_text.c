/*
 * kafkit-gen: text output. A growing buffer written line by line at an
 * indentation, and the few C-text helpers every emitter uses: function
 * wrappers, line wrapping, and copying only the runtime pieces generated
 * code calls.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "emit_int.h"

void kg__bput(kg__buf *b, const char *s, size_t n)
{
	if (b->cap - b->n < n + 1) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->n < n + 1)
			cap *= 2;
		char *p = kg_alloc(cap);
		if (b->n)
			memcpy(p, b->p, b->n);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void vout(kg__buf *b, const char *fmt, va_list ap)
{
	/* Measure with a real buffer; the fmt check keeps gcc's sanitizer
	 * builds from seeing a null format on some path. */
	if (!fmt)
		fmt = "";
	char small[256];
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(small, sizeof small, fmt, aq);
	va_end(aq);
	if ((size_t)n < sizeof small) {
		kg__bput(b, small, (size_t)n);
		return;
	}
	char *t = kg_alloc((size_t)n + 1);
	vsnprintf(t, (size_t)n + 1, fmt, ap);
	kg__bput(b, t, (size_t)n);
}

void kg__out(kg__buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vout(b, fmt, ap);
	va_end(ap);
}

void kg__ln(kg__buf *b, const char *fmt, ...)
{
	if (fmt[0] == '}')
		b->ind--;
	for (int i = 0; i < b->ind; i++)
		kg__bput(b, "\t", 1);
	va_list ap;
	va_start(ap, fmt);
	vout(b, fmt, ap);
	va_end(ap);
	kg__bput(b, "\n", 1);
	size_t len = strlen(fmt);
	if (len && fmt[len - 1] == '{')
		b->ind++;
}

/* Whether C text mentions identifier `id` (to silence unused parameters
 * only where a function body does not read them). */
static bool uses_ident(const char *text, const char *id)
{
	size_t n = strlen(id);
	for (const char *p = text ? strstr(text, id) : NULL; p; p = strstr(p + 1, id)) {
		bool before = p > text && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
					   (p[-1] >= 'A' && p[-1] <= 'Z') ||
					   (p[-1] >= '0' && p[-1] <= '9') || p[-1] == '"' ||
					   p[-1] == '.' || p[-1] == '>');
		char c = p[n];
		bool after = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '"';
		if (!before && !after)
			return true;
	}
	return false;
}

/* Name of the function a runtime piece defines: the identifier before the
 * first '(' of its first "static" line; NULL for other pieces. */
static const char *piece_fn(const char *text)
{
	const char *p = strstr(text, "static ");
	if (!p || (p != text && p[-1] != '\n'))
		return NULL;
	const char *paren = strchr(p, '(');
	const char *e = paren;
	while (e > p && (e[-1] == '_' || (e[-1] >= 'a' && e[-1] <= 'z') ||
			 (e[-1] >= '0' && e[-1] <= '9')))
		e--;
	return kg_strndup(e, (size_t)(paren - e));
}

/* The runtime pieces (kept apart: C limits one literal's length) that
 * `code` calls, directly or through other pieces, in their order. Unused
 * static functions would trip -Wunused-function. */
void kg__put_used(kg__buf *b, const char *const *parts, size_t n, const char *code)
{
	bool used[64] = {0};
	const char *name[64];
	for (size_t i = 0; i < n; i++) {
		name[i] = piece_fn(parts[i]);
		used[i] = !name[i] || uses_ident(code, name[i]);
	}
	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; used[i] && k < n; k++)
				if (!used[k] && uses_ident(parts[i], name[k]))
					used[k] = more = true;
	}
	for (size_t i = 0; i < n; i++)
		if (used[i])
			kg__bput(b, parts[i], strlen(parts[i]));
}

const char *kg__wrap80(const char *line)
{
	kg__buf b = {0};
	int col = 0;
	const char *p = line;
	while (*p) {
		const char *comma = strstr(p, ", ");
		size_t n = comma ? (size_t)(comma - p) + 1 : strlen(p);
		if (col > 0 && col + (int)n + 1 > 80) {
			kg__bput(&b, "\n\t\t", 3);
			col = 16;
		} else if (col > 0) {
			kg__bput(&b, " ", 1);
			col++;
		}
		kg__bput(&b, p, n);
		col += (int)n;
		p += n;
		if (*p == ' ')
			p++;
	}
	return b.p;
}

void kg__emit_fn(kg__buf *b, const char *sig, const char *params, const kg__buf *body)
{
	kg__out(b, "%s\n{\n", kg__wrap80(sig));
	char *ps = kg_strndup(params, strlen(params));
	for (char *p = strtok(ps, " "); p; p = strtok(NULL, " "))
		if (!uses_ident(body->p, p))
			kg__out(b, "\t(void)%s;\n", p);
	if (body->p)
		kg__out(b, "%s", body->p);
	kg__out(b, "}\n\n");
}

kg__buf kg__body_buf(void)
{
	kg__buf b = {0};
	b.ind = 1;
	return b;
}
