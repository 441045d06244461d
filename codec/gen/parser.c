/*
 * kafkit-gen: recursive-descent parser for kdef files, then the semantic
 * checks that make the AST safe to emit. The first error ends the run
 * (longjmp back to kg_parse_files), as a compiler's first error would.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"
#include "parser.h"

/* ---- pool ----------------------------------------------------------------- */

typedef struct pool_chunk {
	struct pool_chunk *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
} pool_chunk;

static pool_chunk *pool;

void *kg_alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!pool || pool->size - pool->used < n) {
		size_t size = n > 65536 ? n : 65536;
		pool_chunk *c = malloc(sizeof *c + size);
		if (!c) {
			fprintf(stderr, "kafkit-gen: out of memory\n");
			exit(1);
		}
		c->next = pool;
		c->used = 0;
		c->size = size;
		pool = c;
	}
	void *p = pool->data + pool->used;
	pool->used += n;
	memset(p, 0, n);
	return p;
}

char *kg_strndup(const char *s, size_t n)
{
	char *p = kg_alloc(n + 1);
	memcpy(p, s, n);
	return p;
}

char *kg_fmt(const char *fmt, ...)
{
	/* Measure with a real buffer; the fmt check keeps gcc's sanitizer
	 * builds from seeing a null format on some path. */
	if (!fmt)
		fmt = "";
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	char *p = kg_alloc((size_t)n + 1);
	if ((size_t)n < sizeof small) {
		memcpy(p, small, (size_t)n + 1);
		return p;
	}
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void kg_pool_free(void)
{
	while (pool) {
		pool_chunk *next = pool->next;
		free(pool);
		pool = next;
	}
}

/* ---- errors ------------------------------------------------------------ */

static jmp_buf fail_jmp;

static _Noreturn void fail(kg_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static _Noreturn void fail(kg_pos pos, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d:%d: ", pos.file, pos.line, pos.col);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	longjmp(fail_jmp, 1);
}

/* ---- token cursor ------------------------------------------------------ */

typedef struct parser {
	const char *file;
	kg_token *t;
	size_t i;
} parser;

static kg_token *peek(parser *p)
{
	return &p->t[p->i];
}
static kg_token *peek2(parser *p)
{
	return p->t[p->i].kind == KG_TOK_EOF ? &p->t[p->i] : &p->t[p->i + 1];
}
static kg_pos pos_of(parser *p, const kg_token *t)
{
	return (kg_pos){p->file, t->line, t->col};
}
static kg_pos here(parser *p)
{
	return pos_of(p, peek(p));
}
static kg_token *next(parser *p)
{
	kg_token *t = &p->t[p->i];
	if (t->kind != KG_TOK_EOF)
		p->i++;
	return t;
}

static const char *describe(const kg_token *t)
{
	switch (t->kind) {
	case KG_TOK_EOF:
		return "end of file";
	case KG_TOK_IDENT:
		return kg_fmt("'%s'", t->text);
	case KG_TOK_INT:
		return kg_fmt("integer %llu", (unsigned long long)t->ival);
	case KG_TOK_STRING:
		return "a string";
	case KG_TOK_PUNCT:
		return kg_fmt("'%c'", t->punct);
	}
	return "?";
}

static bool is_punct(const kg_token *t, char c)
{
	return t->kind == KG_TOK_PUNCT && t->punct == c;
}
static bool is_word(const kg_token *t, const char *w)
{
	return t->kind == KG_TOK_IDENT && strcmp(t->text, w) == 0;
}

static void expect_punct(parser *p, char c)
{
	if (!is_punct(peek(p), c))
		fail(here(p), "expected '%c', got %s", c, describe(peek(p)));
	next(p);
}

static const char *expect_ident(parser *p, const char *what)
{
	if (peek(p)->kind != KG_TOK_IDENT)
		fail(here(p), "expected %s, got %s", what, describe(peek(p)));
	return next(p)->text;
}

/* An integer, with a '-' directly in front for negative values. */
static int64_t parse_int(parser *p, int64_t min, int64_t max, const char *what)
{
	kg_pos at = here(p);
	bool neg = false;
	if (is_punct(peek(p), '-') && peek2(p)->kind == KG_TOK_INT &&
	    peek2(p)->line == peek(p)->line &&
	    peek2(p)->col == peek(p)->col + 1) {
		neg = true;
		next(p);
	}
	if (peek(p)->kind != KG_TOK_INT)
		fail(here(p), "expected %s, got %s", what, describe(peek(p)));
	uint64_t u = next(p)->ival;
	if (u > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
		fail(at, "%s out of range", what);
	int64_t v = neg ? (int64_t)(0 - u) : (int64_t)u;
	if (v < min || v > max)
		fail(at, "%s %lld out of range %lld..%lld", what, (long long)v,
		     (long long)min, (long long)max);
	return v;
}

/* range := INT | INT '+' | INT '-' INT | 'none'. An open range ends at
 * KG_VMAX until the checks clip it to the declaration. */
static kg_range parse_range(parser *p)
{
	if (is_word(peek(p), "none")) {
		next(p);
		return (kg_range){1, 0};
	}
	kg_pos at = here(p);
	if (peek(p)->kind != KG_TOK_INT)
		fail(at, "expected a version range, got %s", describe(peek(p)));
	int lo = (int)parse_int(p, 0, KG_VMAX, "version");
	if (is_punct(peek(p), '+')) {
		next(p);
		return (kg_range){lo, KG_VMAX};
	}
	if (is_punct(peek(p), '-')) {
		next(p);
		int hi = (int)parse_int(p, 0, KG_VMAX, "version");
		if (hi < lo)
			fail(at, "empty version range %d-%d", lo, hi);
		return (kg_range){lo, hi};
	}
	return (kg_range){lo, lo};
}

static bool starts_range(parser *p)
{
	return peek(p)->kind == KG_TOK_INT || is_word(peek(p), "none");
}

/* ---- types ------------------------------------------------------------- */

static const struct {
	const char *name;
	kg_scalar s;
} scalars[] = {
	{"int8", KG_INT8},     {"int16", KG_INT16},     {"int32", KG_INT32},
	{"int64", KG_INT64},   {"uint16", KG_UINT16},   {"uint32", KG_UINT32},
	{"float64", KG_FLOAT64}, {"bool", KG_BOOL},     {"uuid", KG_UUID},
	{"varint", KG_VARINT}, {"varlong", KG_VARLONG}, {"uvarint", KG_UVARINT},
};

static kg_lenspec parse_lenspec(parser *p)
{
	if (!is_punct(peek(p), '<'))
		return KG_LEN_AUTO;
	next(p);
	kg_lenspec l;
	kg_token *t = peek(p);
	if (is_word(t, "int16"))
		l = KG_LEN_I16;
	else if (is_word(t, "int32"))
		l = KG_LEN_I32;
	else if (is_word(t, "compact"))
		l = KG_LEN_COMPACT;
	else if (is_word(t, "varint"))
		l = KG_LEN_VARINT;
	else
		fail(here(p), "expected int16, int32, compact or varint, got %s",
		     describe(t));
	next(p);
	expect_punct(p, '>');
	return l;
}

/* A type other than an array; `elem` refuses 'records'. */
static void parse_base_type(parser *p, kg_type *ty, bool elem)
{
	ty->pos = here(p);
	const char *w = expect_ident(p, "a type");
	for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
		if (strcmp(w, scalars[i].name) == 0) {
			ty->kind = KG_T_SCALAR;
			ty->scalar = scalars[i].s;
			return;
		}
	}
	if (strcmp(w, "string") == 0) {
		ty->kind = KG_T_STRING;
		ty->len = parse_lenspec(p);
	} else if (strcmp(w, "bytes") == 0) {
		ty->kind = KG_T_BYTES;
		ty->len = parse_lenspec(p);
	} else if (strcmp(w, "records") == 0) {
		if (elem)
			fail(ty->pos, "records cannot be an array element");
		ty->kind = KG_T_RECORDS;
	} else {
		ty->kind = KG_T_STRUCT;
		ty->name = w;
	}
}

static void parse_type(parser *p, kg_type *ty)
{
	if (!is_punct(peek(p), '[')) {
		parse_base_type(p, ty, false);
		return;
	}
	ty->pos = here(p);
	next(p);
	ty->kind = KG_T_ARRAY;
	ty->elem = kg_alloc(sizeof *ty->elem);
	parse_base_type(p, ty->elem, true);
	expect_punct(p, ']');
	ty->len = parse_lenspec(p);
}

/* ---- fields and declarations ------------------------------------------- */

static kg_value parse_value(parser *p)
{
	kg_value v = {.pos = here(p)};
	kg_token *t = peek(p);
	if (t->kind == KG_TOK_STRING) {
		v.kind = KG_V_STRING;
		v.s = t->text;
		v.slen = t->text_len;
		next(p);
	} else if (is_word(t, "true") || is_word(t, "false")) {
		v.kind = KG_V_BOOL;
		v.b = is_word(t, "true");
		next(p);
	} else if (is_word(t, "null")) {
		v.kind = KG_V_NULL;
		next(p);
	} else {
		v.kind = KG_V_INT;
		v.i = parse_int(p, INT64_MIN, INT64_MAX, "a default value");
	}
	return v;
}

typedef struct field_list {
	kg_field **v;
	size_t n, cap;
} field_list;

static void push_field(field_list *l, kg_field *f)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		kg_field **v = kg_alloc(cap * sizeof *v);
		if (l->n)
			memcpy(v, l->v, l->n * sizeof *v);
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = f;
}

static kg_struct *parse_struct_body(parser *p, const char *name, kg_pos pos);

static void dup_attr(parser *p, bool seen, const char *w)
{
	if (seen)
		fail(here(p), "duplicate attribute '%s'", w);
}

static kg_field *parse_field(parser *p)
{
	kg_field *f = kg_alloc(sizeof *f);
	f->pos = here(p);
	f->name = expect_ident(p, "a field name");
	expect_punct(p, ':');
	parse_type(p, &f->type);
	bool seen_dflt = false, seen_ign = false, seen_len = false;
	bool seen_crc = false, seen_count = false, seen_comp = false;
	while (peek(p)->kind == KG_TOK_IDENT) {
		kg_pos at = here(p);
		const char *w = peek(p)->text;
		if (strcmp(w, "versions") == 0) {
			dup_attr(p, f->has_versions, w);
			next(p);
			f->has_versions = true;
			f->versions_pos = at;
			f->versions = parse_range(p);
		} else if (strcmp(w, "nullable") == 0) {
			dup_attr(p, f->has_nullable, w);
			next(p);
			f->has_nullable = true;
			f->nullable_pos = at;
			/* lo -1: every version of the declaration */
			f->nullable = starts_range(p) ? parse_range(p)
						      : (kg_range){-1, KG_VMAX};
		} else if (strcmp(w, "tagged") == 0) {
			dup_attr(p, f->has_tagged, w);
			next(p);
			f->has_tagged = true;
			f->tagged_pos = at;
			f->tagged = parse_range(p);
			if (!is_word(peek(p), "tag"))
				fail(here(p), "expected 'tag', got %s",
				     describe(peek(p)));
			next(p);
			f->tag = parse_int(p, 0, INT32_MAX, "tag");
		} else if (strcmp(w, "default") == 0) {
			dup_attr(p, seen_dflt, w);
			next(p);
			seen_dflt = true;
			f->dflt = parse_value(p);
		} else if (strcmp(w, "ignorable") == 0) {
			dup_attr(p, seen_ign, w);
			next(p);
			seen_ign = true;
			f->ignorable = true;
		} else if (strcmp(w, "flexible") == 0) {
			dup_attr(p, f->has_flexible, w);
			next(p);
			f->has_flexible = true;
			f->flexible_pos = at;
			f->flexible = parse_range(p);
		} else if (strcmp(w, "length") == 0) {
			dup_attr(p, seen_len, w);
			next(p);
			seen_len = true;
			f->is_length = true;
			f->len_pos = at;
		} else if (strcmp(w, "crc32c") == 0 || strcmp(w, "crc32") == 0) {
			dup_attr(p, seen_crc, "crc");
			next(p);
			seen_crc = true;
			f->crc = w[5] == 'c' ? KG_CRC32C : KG_CRC32;
			f->crc_pos = at;
		} else if (strcmp(w, "count") == 0) {
			dup_attr(p, seen_count, w);
			next(p);
			seen_count = true;
			f->count_pos = at;
			f->count_name = expect_ident(p, "a field name");
		} else if (strcmp(w, "compressed") == 0) {
			dup_attr(p, seen_comp, w);
			next(p);
			seen_comp = true;
			f->comp_pos = at;
			f->comp_name = expect_ident(p, "a field name");
		} else {
			fail(at, "unknown attribute '%s'", w);
		}
	}
	if (is_punct(peek(p), '{')) {
		kg_type *st = f->type.kind == KG_T_ARRAY ? f->type.elem : &f->type;
		if (st->kind != KG_T_STRUCT)
			fail(here(p), "a field body needs a struct type");
		f->body = parse_struct_body(p, st->name, st->pos);
	} else if (!is_punct(peek(p), ';')) {
		fail(here(p), "expected ';' or '{', got %s", describe(peek(p)));
	} else {
		next(p);
	}
	return f;
}

static kg_struct *parse_struct_body(parser *p, const char *name, kg_pos pos)
{
	kg_struct *s = kg_alloc(sizeof *s);
	s->name = name;
	s->pos = pos;
	field_list l = {0};
	expect_punct(p, '{');
	while (!is_punct(peek(p), '}')) {
		if (peek(p)->kind == KG_TOK_EOF)
			fail(here(p), "expected '}', got end of file");
		push_field(&l, parse_field(p));
	}
	next(p);
	s->fields = l.v;
	s->nfields = l.n;
	return s;
}

typedef struct struct_list {
	kg_struct **v;
	size_t n, cap;
} struct_list;

static void push_struct(struct_list *l, kg_struct *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		kg_struct **v = kg_alloc(cap * sizeof *v);
		if (l->n)
			memcpy(v, l->v, l->n * sizeof *v);
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
}

static kg_decl *parse_decl(parser *p, struct_list *shared)
{
	kg_decl *d = kg_alloc(sizeof *d);
	kg_token *t = peek(p);
	if (is_word(t, "request"))
		d->kind = KG_REQUEST;
	else if (is_word(t, "response"))
		d->kind = KG_RESPONSE;
	else if (is_word(t, "header"))
		d->kind = KG_HEADER;
	else if (is_word(t, "format"))
		d->kind = KG_FORMAT;
	else
		fail(here(p),
		     "expected 'request', 'response', 'header' or 'format', got %s",
		     describe(t));
	next(p);
	d->pos = here(p);
	d->name = expect_ident(p, "a declaration name");
	d->flexible = (kg_range){1, 0};
	d->root = kg_alloc(sizeof *d->root);
	d->root->name = d->name;
	d->root->pos = d->pos;
	field_list l = {0};
	expect_punct(p, '{');
	while (!is_punct(peek(p), '}')) {
		kg_token *w = peek(p);
		kg_pos at = here(p);
		if (w->kind == KG_TOK_EOF)
			fail(at, "expected '}', got end of file");
		if (w->kind != KG_TOK_IDENT)
			fail(at, "expected a field or item, got %s", describe(w));
		if (is_punct(peek2(p), ':')) {
			push_field(&l, parse_field(p));
		} else if (is_word(w, "apikey")) {
			if (d->has_apikey)
				fail(at, "duplicate apikey");
			next(p);
			d->has_apikey = true;
			d->apikey = (int)parse_int(p, 0, INT16_MAX, "api key");
			expect_punct(p, ';');
		} else if (is_word(w, "versions")) {
			if (d->has_versions)
				fail(at, "duplicate versions");
			next(p);
			d->has_versions = true;
			d->versions = parse_range(p);
			if (kg_range_empty(d->versions))
				fail(at, "a declaration needs at least one version");
			if (d->versions.hi == KG_VMAX)
				fail(at, "declaration versions need an upper bound");
			expect_punct(p, ';');
		} else if (is_word(w, "flexible")) {
			if (d->has_flexible)
				fail(at, "duplicate flexible");
			next(p);
			d->has_flexible = true;
			d->flexible = parse_range(p);
			expect_punct(p, ';');
		} else if (is_word(w, "struct")) {
			next(p);
			kg_pos spos = here(p);
			const char *name = expect_ident(p, "a struct name");
			kg_struct *s = parse_struct_body(p, name, spos);
			s->shared = true;
			s->decl = d;
			push_struct(shared, s);
		} else {
			fail(at, "expected a field or item, got %s", describe(w));
		}
	}
	next(p);
	d->root->fields = l.v;
	d->root->nfields = l.n;
	d->root->decl = d;
	return d;
}

/* ---- semantic checks ----------------------------------------------------- */

/* ProduceRequest -> produce_request; ABCFoo -> abc_foo. */
static const char *snake(const char *s)
{
	size_t n = strlen(s);
	char *o = kg_alloc(2 * n + 1), *q = o;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isupper(c) && i > 0) {
			unsigned char pc = (unsigned char)s[i - 1];
			unsigned char nc = (unsigned char)s[i + 1];
			if (islower(pc) || isdigit(pc) ||
			    (isupper(pc) && nc && islower(nc)))
				*q++ = '_';
		}
		*q++ = (char)tolower(c);
	}
	return o;
}

static const char *const c_keywords[] = {
	"auto", "break", "case", "char", "const", "continue", "default",
	"do", "double", "else", "enum", "extern", "float", "for", "goto",
	"if", "inline", "int", "long", "register", "restrict", "return",
	"short", "signed", "sizeof", "static", "struct", "switch", "typedef",
	"union", "unsigned", "void", "volatile", "while", "bool", "true",
	"false",
};

static bool is_int_scalar(const kg_type *t)
{
	if (t->kind != KG_T_SCALAR)
		return false;
	switch (t->scalar) {
	case KG_FLOAT64:
	case KG_BOOL:
	case KG_UUID:
		return false;
	default:
		return true;
	}
}

static void int_limits(kg_scalar s, int64_t *lo, int64_t *hi)
{
	switch (s) {
	case KG_INT8:
		*lo = INT8_MIN, *hi = INT8_MAX;
		break;
	case KG_INT16:
		*lo = INT16_MIN, *hi = INT16_MAX;
		break;
	case KG_INT32:
	case KG_VARINT:
		*lo = INT32_MIN, *hi = INT32_MAX;
		break;
	case KG_UINT16:
		*lo = 0, *hi = UINT16_MAX;
		break;
	case KG_UINT32:
	case KG_UVARINT:
		*lo = 0, *hi = UINT32_MAX;
		break;
	default:
		*lo = INT64_MIN, *hi = INT64_MAX;
		break;
	}
}

static const char *range_str(kg_range r)
{
	if (kg_range_empty(r))
		return "none";
	if (r.hi == KG_VMAX)
		return kg_fmt("%d+", r.lo);
	if (r.lo == r.hi)
		return kg_fmt("%d", r.lo);
	return kg_fmt("%d-%d", r.lo, r.hi);
}

/* Clip an open range to the declaration, refusing versions it lacks. */
static kg_range check_range(const kg_decl *d, kg_range r, kg_pos at,
			    const char *what)
{
	if (kg_range_empty(r))
		return r;
	if (r.lo < d->versions.lo || r.lo > d->versions.hi ||
	    (r.hi != KG_VMAX && r.hi > d->versions.hi))
		fail(at, "%s range %s outside versions %s of %s", what,
		     range_str(r), range_str(d->versions), d->name);
	if (r.hi == KG_VMAX)
		r.hi = d->versions.hi;
	return r;
}

static kg_struct *find_struct(kg_decl *d, const char *name)
{
	for (size_t i = 0; i < d->nstructs; i++)
		if (strcmp(d->structs[i]->name, name) == 0)
			return d->structs[i];
	return NULL;
}

static void collect_inline(kg_decl *d, struct_list *all, kg_struct *s)
{
	for (size_t i = 0; i < s->nfields; i++) {
		kg_field *f = s->fields[i];
		if (!f->body)
			continue;
		f->body->decl = d;
		for (size_t k = 0; k < all->n; k++)
			if (strcmp(all->v[k]->name, f->body->name) == 0)
				fail(f->body->pos, "duplicate struct '%s'",
				     f->body->name);
		push_struct(all, f->body);
		collect_inline(d, all, f->body);
	}
}

/* Every declaration, for types that name another declaration (a format's
 * RecordBatch holding Records). */
static kg_schema *all_decls;

static void resolve_type(kg_decl *d, kg_type *t, kg_range versions)
{
	if (t->kind == KG_T_ARRAY) {
		resolve_type(d, t->elem, versions);
		return;
	}
	if (t->kind != KG_T_STRUCT)
		return;
	t->st = find_struct(d, t->name);
	if (t->st)
		return;
	for (size_t i = 0; i < all_decls->ndecls; i++) {
		kg_decl *e = all_decls->decls[i];
		if (strcmp(e->name, t->name) != 0)
			continue;
		if (e == d)
			fail(t->pos, "%s contains itself", d->name);
		if (!kg_range_within(versions, e->versions))
			fail(t->pos, "%s has no version %s", e->name,
			     range_str(versions));
		t->st = e->root;
		return;
	}
	fail(t->pos, "unknown type '%s'", t->name);
}

static kg_field *find_field(kg_struct *s, size_t before, const char *name)
{
	for (size_t i = 0; i < before; i++)
		if (strcmp(s->fields[i]->name, name) == 0)
			return s->fields[i];
	return NULL;
}

static bool nullable_type(const kg_type *t)
{
	return t->kind == KG_T_STRING || t->kind == KG_T_BYTES ||
	       t->kind == KG_T_RECORDS || t->kind == KG_T_ARRAY;
}

static void check_default(const kg_field *f)
{
	const kg_value *v = &f->dflt;
	const kg_type *t = &f->type;
	if (v->kind == KG_V_NONE)
		return;
	if (v->kind == KG_V_NULL) {
		if (!nullable_type(t))
			fail(v->pos, "default null for a %s field",
			     t->kind == KG_T_STRUCT ? "struct" : "scalar");
		if (kg_range_empty(f->nullable))
			fail(v->pos, "default null for '%s', which is not nullable",
			     f->name);
		return;
	}
	switch (t->kind) {
	case KG_T_SCALAR:
		if (t->scalar == KG_BOOL) {
			if (v->kind != KG_V_BOOL)
				fail(v->pos, "default of a bool must be true or false");
		} else if (t->scalar == KG_UUID) {
			fail(v->pos, "a uuid default can only be the zero uuid (omit it)");
		} else if (v->kind != KG_V_INT) {
			fail(v->pos, "default of '%s' must be an integer", f->name);
		} else if (t->scalar != KG_FLOAT64) {
			int64_t lo, hi;
			int_limits(t->scalar, &lo, &hi);
			if (v->i < lo || v->i > hi)
				fail(v->pos, "default %lld does not fit '%s'",
				     (long long)v->i, f->name);
		}
		return;
	case KG_T_STRING:
		if (v->kind != KG_V_STRING)
			fail(v->pos, "default of a string must be a string or null");
		return;
	default:
		fail(v->pos, "only null can be the default of '%s'", f->name);
	}
}

static void check_member_clash(kg_struct *s, const kg_field *f,
			       const char *member)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (strcmp(s->fields[i]->name, member) == 0)
			fail(f->pos, "member '%s' of '%s' clashes with field '%s'",
			     member, f->name, member);
}

static void check_struct(kg_decl *d, kg_struct *s)
{
	bool fmt = d->kind == KG_FORMAT;
	kg_field *len_field = NULL, *crc_field = NULL;
	for (size_t i = 0; i < s->nfields; i++) {
		kg_field *f = s->fields[i];
		for (size_t k = 0; k < sizeof c_keywords / sizeof c_keywords[0]; k++)
			if (strcmp(f->name, c_keywords[k]) == 0)
				fail(f->pos, "field name '%s' is reserved in C",
				     f->name);
		if (find_field(s, i, f->name))
			fail(f->pos, "duplicate field '%s'", f->name);
		if (f->has_versions)
			f->versions = check_range(d, f->versions, f->versions_pos,
						  "versions");
		if (f->has_tagged) {
			f->tagged = check_range(d, f->tagged, f->tagged_pos,
						"tagged");
			if (!f->has_versions)
				f->versions = f->tagged;
			else if (!kg_range_within(f->tagged, f->versions))
				fail(f->tagged_pos,
				     "tagged range %s outside the versions %s of '%s'",
				     range_str(f->tagged), range_str(f->versions),
				     f->name);
			for (int v = f->tagged.lo; v <= f->tagged.hi; v++)
				if (!kg_range_has(d->flexible, v))
					fail(f->tagged_pos,
					     "tagged field '%s' in non-flexible version %d",
					     f->name, v);
			if (f->has_flexible)
				fail(f->flexible_pos,
				     "a tagged field cannot override flexible");
			for (size_t k = 0; k < i; k++)
				if (s->fields[k]->has_tagged &&
				    s->fields[k]->tag == f->tag)
					fail(f->tagged_pos, "duplicate tag %lld",
					     (long long)f->tag);
		} else {
			f->tagged = (kg_range){1, 0};
		}
		if (!f->has_versions && !f->has_tagged)
			f->versions = d->versions;
		resolve_type(d, &f->type, f->versions);

		if (f->has_nullable) {
			if (!nullable_type(&f->type))
				fail(f->nullable_pos,
				     "nullable needs a string, bytes, records or array field");
			if (f->nullable.lo == -1)
				f->nullable = d->versions;
			f->nullable = check_range(d, f->nullable, f->nullable_pos,
						  "nullable");
		} else {
			f->nullable = (kg_range){1, 0};
		}
		if (f->has_flexible) {
			if (!nullable_type(&f->type))
				fail(f->flexible_pos,
				     "flexible override needs a string, bytes, records or array field");
			f->flexible = check_range(d, f->flexible, f->flexible_pos,
						  "flexible");
		} else {
			f->flexible = d->flexible;
		}
		check_default(f);

		if (f->is_length) {
			if (!fmt)
				fail(f->len_pos, "'length' outside a format");
			if (f->type.kind != KG_T_SCALAR ||
			    (f->type.scalar != KG_INT32 && f->type.scalar != KG_VARINT))
				fail(f->len_pos, "'length' needs an int32 or varint field");
			if (len_field)
				fail(f->pos, "a struct can have only one length field");
			len_field = f;
		}
		if (f->crc != KG_CRC_NONE) {
			if (!fmt)
				fail(f->crc_pos, "'%s' outside a format",
				     f->crc == KG_CRC32C ? "crc32c" : "crc32");
			if (f->type.kind != KG_T_SCALAR || f->type.scalar != KG_UINT32)
				fail(f->crc_pos, "a crc field must be uint32");
			if (f->is_length)
				fail(f->crc_pos, "a field cannot be both length and crc");
			check_member_clash(s, f, kg_fmt("%s_ok", f->name));
			if (crc_field)
				fail(f->pos, "a struct can have only one crc field");
			crc_field = f;
		}
		if ((f->is_length || f->crc) &&
		    (f->has_versions || f->has_tagged))
			fail(f->pos, "length and crc fields must be in every version");

		if (f->count_name) {
			if (!fmt)
				fail(f->count_pos, "'count' outside a format");
			if (f->type.kind != KG_T_ARRAY)
				fail(f->count_pos, "'count' needs an array");
			if (f->type.len != KG_LEN_AUTO)
				fail(f->count_pos, "an array with 'count' has no prefix of its own");
			kg_field *c = find_field(s, i, f->count_name);
			if (!c)
				fail(f->count_pos, "count names missing field '%s'",
				     f->count_name);
			if (!is_int_scalar(&c->type) || c->is_length || c->crc)
				fail(f->count_pos, "count field '%s' is not an integer",
				     f->count_name);
			if (c->count_of)
				fail(f->count_pos, "count field '%s' already counts '%s'",
				     c->name, c->count_of->name);
			if (c->has_tagged || !kg_range_within(f->versions, c->versions))
				fail(f->count_pos,
				     "count field '%s' must be on the wire whenever '%s' is",
				     c->name, f->name);
			if (f->has_nullable)
				fail(f->nullable_pos, "an array with 'count' cannot be nullable");
			f->count = c;
			c->count_of = f;
		} else if (f->type.kind == KG_T_ARRAY) {
			check_member_clash(s, f, kg_fmt("%s_count", f->name));
		}
		if (f->comp_name) {
			if (!fmt)
				fail(f->comp_pos, "'compressed' outside a format");
			if (f->type.kind != KG_T_BYTES && f->type.kind != KG_T_ARRAY)
				fail(f->comp_pos, "'compressed' needs an array or bytes");
			if (f->type.kind == KG_T_ARRAY && !f->count_name)
				fail(f->comp_pos, "a compressed array needs 'count'");
			kg_field *c = find_field(s, i, f->comp_name);
			if (!c)
				fail(f->comp_pos, "compressed names missing field '%s'",
				     f->comp_name);
			if (!is_int_scalar(&c->type))
				fail(f->comp_pos, "compressed field '%s' is not an integer",
				     f->comp_name);
			if (i + 1 != s->nfields)
				fail(f->comp_pos, "a compressed field must be the last of its struct");
			if (f->type.kind == KG_T_ARRAY && !len_field)
				fail(f->comp_pos, "a compressed array needs a length field before it");
			if (f->has_tagged || !kg_range_within(f->versions, c->versions))
				fail(f->comp_pos,
				     "codec field '%s' must be on the wire whenever '%s' is",
				     c->name, f->name);
			f->comp = c;
		}
	}
}

/* Struct nesting must be finite: a struct cannot contain itself. */
static void check_cycles(kg_struct *s)
{
	if (s->mark == 2)
		return;
	if (s->mark == 1)
		fail(s->pos, "struct '%s' contains itself", s->name);
	s->mark = 1;
	for (size_t i = 0; i < s->nfields; i++) {
		kg_type *t = &s->fields[i]->type;
		if (t->kind == KG_T_ARRAY)
			t = t->elem;
		if (t->kind == KG_T_STRUCT)
			check_cycles(t->st);
	}
	s->mark = 2;
}

/* Error names: a struct's fields are named under the first path that
 * reaches it from the declaration. */
static void assign_paths(kg_struct *s, const char *path)
{
	if (s->path)
		return;
	s->path = path;
	s->used = true;
	for (size_t i = 0; i < s->nfields; i++) {
		kg_field *f = s->fields[i];
		f->path = kg_fmt("%s.%s", path, f->name);
		kg_type *t = &f->type;
		if (t->kind == KG_T_ARRAY)
			t = t->elem;
		if (t->kind == KG_T_STRUCT && t->st->decl == s->decl)
			assign_paths(t->st, f->path);
	}
}

static void check_decl(kg_decl *d)
{
	struct_list sh = {d->structs, d->nstructs, d->nstructs};
	struct_list *shared = &sh;
	d->structs = NULL;
	d->nstructs = 0;
	if (!d->has_versions)
		fail(d->pos, "%s has no versions", d->name);
	if ((d->kind == KG_REQUEST || d->kind == KG_RESPONSE) && !d->has_apikey)
		fail(d->pos, "%s has no apikey", d->name);
	if ((d->kind == KG_HEADER || d->kind == KG_FORMAT) && d->has_apikey)
		fail(d->pos, "apikey outside a request or response");
	if (d->kind == KG_FORMAT && !kg_range_empty(d->flexible))
		fail(d->pos, "a format cannot be flexible");
	if (!kg_range_empty(d->flexible)) {
		if (d->flexible.lo < d->versions.lo || d->flexible.lo > d->versions.hi ||
		    (d->flexible.hi != KG_VMAX && d->flexible.hi > d->versions.hi))
			fail(d->pos, "flexible range %s outside versions %s of %s",
			     range_str(d->flexible), range_str(d->versions), d->name);
		if (d->flexible.hi == KG_VMAX)
			d->flexible.hi = d->versions.hi;
	}
	struct_list all = {0};
	for (size_t i = 0; i < shared->n; i++) {
		kg_struct *s = shared->v[i];
		if (find_struct(d, s->name))
			fail(s->pos, "duplicate struct '%s'", s->name);
		push_struct(&all, s);
		d->structs = all.v;
		d->nstructs = all.n;
	}
	collect_inline(d, &all, d->root);
	for (size_t i = 0; i < shared->n; i++)
		collect_inline(d, &all, shared->v[i]);
	d->structs = all.v;
	d->nstructs = all.n;
	for (size_t i = 0; i < all.n; i++) {
		kg_struct *s = all.v[i];
		if (strcmp(s->name, d->name) == 0)
			fail(s->pos, "struct '%s' has the declaration's name", s->name);
		s->cname = kg_fmt("kc_%s_%s", d->stem, snake(s->name));
	}
	d->root->cname = kg_fmt("kc_%s", d->stem);

	check_struct(d, d->root);
	for (size_t i = 0; i < all.n; i++)
		check_struct(d, all.v[i]);
	assign_paths(d->root, d->name);
	for (size_t i = 0; i < all.n; i++)
		assign_paths(all.v[i], kg_fmt("%s.%s", d->name, all.v[i]->name));
}

static void check_schema(kg_schema *s)
{
	for (size_t i = 0; i < s->ndecls; i++) {
		kg_decl *d = s->decls[i];
		for (size_t k = 0; k < i; k++) {
			kg_decl *e = s->decls[k];
			if (strcmp(e->stem, d->stem) == 0)
				fail(d->pos, "duplicate declaration '%s'", d->name);
			if (e->kind == d->kind && d->has_apikey &&
			    e->apikey == d->apikey)
				fail(d->pos, "duplicate %s for api key %d",
				     d->kind == KG_REQUEST ? "request" : "response",
				     d->apikey);
		}
	}
}

static char *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (len < cap)
			break;
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	*n = len;
	return buf;
}

/* Token and source buffers of the file being parsed, released when an
 * error unwinds through kg_parse_files. */
static kg_token *cur_toks;
static char *cur_src;

static void parse_all(char *const *files, size_t n, kg_schema *out)
{
	kg_decl **v = NULL;
	size_t nd = 0, cap = 0;
	for (size_t fi = 0; fi < n; fi++) {
		size_t len, ntok;
		cur_src = read_file(files[fi], &len);
		if (!cur_src)
			fail((kg_pos){files[fi], 1, 1}, "cannot read file");
		if (kg_lex(files[fi], cur_src, len, &cur_toks, &ntok))
			longjmp(fail_jmp, 1);
		parser p = {files[fi], cur_toks, 0};
		while (peek(&p)->kind != KG_TOK_EOF) {
			struct_list shared = {0};
			kg_decl *d = parse_decl(&p, &shared);
			d->structs = shared.v;
			d->nstructs = shared.n;
			d->stem = snake(d->name);
			d->root->cname = kg_fmt("kc_%s", d->stem);
			if (nd == cap) {
				cap = cap ? cap * 2 : 16;
				kg_decl **nv = kg_alloc(cap * sizeof *nv);
				if (nd)
					memcpy(nv, v, nd * sizeof *nv);
				v = nv;
			}
			v[nd++] = d;
		}
		free(cur_toks);
		cur_toks = NULL;
		free(cur_src);
		cur_src = NULL;
	}
	out->decls = v;
	out->ndecls = nd;
	all_decls = out;
	check_schema(out);
	for (size_t i = 0; i < nd; i++)
		check_decl(v[i]);
	for (size_t i = 0; i < nd; i++) {
		check_cycles(v[i]->root);
		for (size_t k = 0; k < v[i]->nstructs; k++)
			check_cycles(v[i]->structs[k]);
	}
}

int kg_parse_files(char *const *files, size_t n, kg_schema *out)
{
	cur_toks = NULL;
	cur_src = NULL;
	if (setjmp(fail_jmp)) {
		free(cur_toks);
		free(cur_src);
		return -1;
	}
	parse_all(files, n, out);
	return 0;
}
