/*
 * kafkit-gen: C emitter. Writes straight-line encoders and decoders with
 * inline version checks, one set of functions per struct, plus the api
 * table and the test helpers. Output reads like hand-written code: every
 * condition is folded against the declaration's version range first.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"

/* ---- output buffer ------------------------------------------------------ */

typedef struct buf {
	char *p;
	size_t n, cap;
	int ind;
} buf;

static void bput(buf *b, const char *s, size_t n)
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

static void vout(buf *b, const char *fmt, va_list ap)
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
		bput(b, small, (size_t)n);
		return;
	}
	char *t = kg_alloc((size_t)n + 1);
	vsnprintf(t, (size_t)n + 1, fmt, ap);
	bput(b, t, (size_t)n);
}

/* Raw text. */
static void out(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vout(b, fmt, ap);
	va_end(ap);
}

/* One line at the current indentation. A line starting with '}' closes a
 * level first; one ending with '{' opens one. */
static void ln(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ln(buf *b, const char *fmt, ...)
{
	if (fmt[0] == '}')
		b->ind--;
	for (int i = 0; i < b->ind; i++)
		bput(b, "\t", 1);
	va_list ap;
	va_start(ap, fmt);
	vout(b, fmt, ap);
	va_end(ap);
	bput(b, "\n", 1);
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
static void put_used(buf *b, const char *const *parts, size_t n, const char *code)
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
			bput(b, parts[i], strlen(parts[i]));
}

/* ---- names and literals -------------------------------------------------- */

static const char *upper(const char *s)
{
	char *o = kg_strndup(s, strlen(s));
	for (char *p = o; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return o;
}

/* cname without its "kc_" prefix, for static helpers. */
static const char *sname(const kg_struct *s)
{
	return s->cname + 3;
}

static const char *scalar_ctype(kg_scalar s)
{
	static const char *const n[] = {
		"int8_t", "int16_t", "int32_t", "int64_t", "uint16_t", "uint32_t",
		"double", "bool", "kc_uuid", "int32_t", "int64_t", "uint32_t",
	};
	return n[s];
}

/* Fixed wire width of a scalar; 0 for varints. */
static int scalar_width(kg_scalar s)
{
	static const int w[] = {1, 2, 4, 8, 2, 4, 8, 1, 16, 0, 0, 0};
	return w[s];
}

static const char *scalar_suffix(kg_scalar s)
{
	static const char *const n[] = {
		"i8", "i16", "i32", "i64", "u16", "u32", "f64", "bool", "uuid",
		"varint", "varlong", "uvarint",
	};
	return n[s];
}

static const char *elem_ctype(const kg_type *t)
{
	switch (t->kind) {
	case KG_T_SCALAR:
		return scalar_ctype(t->scalar);
	case KG_T_STRING:
		return "kc_str";
	case KG_T_BYTES:
	case KG_T_RECORDS:
		return "kc_bytes";
	case KG_T_STRUCT:
		return t->st->cname;
	case KG_T_ARRAY:
		break;
	}
	return "?";
}

/* Integer literal for a C expression of the field's type. */
static const char *int_lit(int64_t v, kg_scalar s)
{
	if (v == INT64_MIN)
		return "INT64_MIN";
	if (v == INT32_MIN && s != KG_INT64 && s != KG_VARLONG)
		return "INT32_MIN";
	if (s == KG_UINT32 || s == KG_UVARINT)
		return kg_fmt("%lldu", (long long)v);
	return kg_fmt("%lld", (long long)v);
}

/* A C string literal for n bytes. */
static const char *c_string(const char *s, size_t n)
{
	buf b = {0};
	bput(&b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			out(&b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			out(&b, "\\%03o", c);
		else
			bput(&b, (const char *)&c, 1);
	}
	bput(&b, "\"", 1);
	return b.p;
}

/* ---- version conditions -------------------------------------------------- */

/* C condition "version in r", folded against the declaration: "1" when
 * every version qualifies, "0" when none does. */
static const char *vcond_in(kg_range r, kg_range ctx)
{
	kg_range m = kg_range_meet(r, ctx);
	if (kg_range_empty(m))
		return "0";
	if (m.lo == ctx.lo && m.hi == ctx.hi)
		return "1";
	if (m.lo == m.hi)
		return kg_fmt("version == %d", m.lo);
	if (m.lo == ctx.lo)
		return kg_fmt("version <= %d", m.hi);
	if (m.hi == ctx.hi)
		return kg_fmt("version >= %d", m.lo);
	return kg_fmt("version >= %d && version <= %d", m.lo, m.hi);
}

static const char *vcond(kg_range r, const kg_decl *d)
{
	return vcond_in(r, d->versions);
}

/* The versions of the declaration the field's code runs in: a condition
 * inside it need not repeat what the enclosing if already checked. */
static kg_range field_ctx(const kg_field *f, const kg_decl *d)
{
	return kg_range_meet(f->versions, d->versions);
}

static bool is1(const char *c)
{
	return strcmp(c, "1") == 0;
}
static bool is0(const char *c)
{
	return strcmp(c, "0") == 0;
}

static const char *c_and(const char *a, const char *b)
{
	if (is0(a) || is0(b))
		return "0";
	if (is1(a))
		return b;
	if (is1(b))
		return a;
	return kg_fmt("%s && %s", a, b);
}

static const char *c_not(const char *a)
{
	if (is0(a))
		return "1";
	if (is1(a))
		return "0";
	return kg_fmt("!(%s)", a);
}

/* Versions in which the field is a regular (not tagged) field: its
 * versions less its tagged ones (one or two intervals). */
static const char *regular_cond(const kg_field *f, const kg_decl *d)
{
	kg_range v = field_ctx(f, d), t = kg_range_meet(f->tagged, v);
	if (kg_range_empty(t))
		return vcond(v, d);
	kg_range below = {v.lo, t.lo - 1}, above = {t.hi + 1, v.hi};
	if (kg_range_empty(below))
		return vcond(above, d);
	if (kg_range_empty(above))
		return vcond(below, d);
	return kg_fmt("(%s) || (%s)", vcond(below, d), vcond(above, d));
}

/* Open "if (cond) {" unless cond is "1"; returns whether it did. */
static bool open_if(buf *b, const char *cond)
{
	if (is1(cond))
		return false;
	ln(b, "if (%s) {", cond);
	return true;
}
static void close_if(buf *b, bool opened)
{
	if (opened)
		ln(b, "}");
}

/* ---- prefixes --------------------------------------------------------------- */

/* Prefix kind expression of a string/bytes/records/array value. `flex` is
 * the field's flexible condition (or "1" inside a tag section). */
static const char *kind_expr(const kg_type *t, const char *flex)
{
	switch (t->len) {
	case KG_LEN_I16:
		return "L_I16";
	case KG_LEN_I32:
		return "L_I32";
	case KG_LEN_COMPACT:
		return "L_COMPACT";
	case KG_LEN_VARINT:
		return "L_VARINT";
	case KG_LEN_AUTO:
		break;
	}
	const char *base = t->kind == KG_T_STRING ? "L_I16" : "L_I32";
	if (is1(flex))
		return "L_COMPACT";
	if (is0(flex))
		return base;
	return kg_fmt("(%s ? L_COMPACT : %s)", flex, base);
}

static int prefix_min(const kg_type *t, bool flexible)
{
	switch (t->len) {
	case KG_LEN_I16:
		return 2;
	case KG_LEN_I32:
		return 4;
	case KG_LEN_COMPACT:
	case KG_LEN_VARINT:
		return 1;
	case KG_LEN_AUTO:
		break;
	}
	if (flexible)
		return 1;
	return t->kind == KG_T_STRING ? 2 : 4;
}

/* ---- minimum wire sizes (array count checks) ------------------------------ */

static int struct_min(const kg_struct *s, int v);

static int type_min(const kg_type *t, const kg_field *f, int v)
{
	bool flex = kg_range_has(f->flexible, v);
	switch (t->kind) {
	case KG_T_SCALAR: {
		int w = scalar_width(t->scalar);
		return w ? w : 1;
	}
	case KG_T_STRING:
	case KG_T_BYTES:
	case KG_T_RECORDS:
		return prefix_min(t, flex);
	case KG_T_ARRAY:
		return f->count ? 0 : prefix_min(t, flex);
	case KG_T_STRUCT:
		return struct_min(t->st, v);
	}
	return 0;
}

static int struct_min(const kg_struct *s, int v)
{
	int n = kg_range_has(s->decl->flexible, v) ? 1 : 0;
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		if (!kg_range_has(f->versions, v) || kg_range_has(f->tagged, v))
			continue;
		n += type_min(&f->type, f, v);
	}
	return n;
}

static const char *flex_of(const kg_field *f, const kg_decl *d);

/* Minimum element size expression for the array field f (at least 1, so a
 * count is always bounded by the bytes left). */
static const char *elem_min_expr(const kg_field *f, const kg_decl *d)
{
	const kg_type *e = f->type.elem;
	int lo = -1, hi = -1;
	kg_range vr = kg_range_meet(f->versions, d->versions);
	for (int v = vr.lo; v <= vr.hi; v++) {
		int m = type_min(e, f, v);
		if (m < 1)
			m = 1;
		if (lo < 0 || m < lo)
			lo = m;
		if (m > hi)
			hi = m;
	}
	if (lo == hi)
		return kg_fmt("%d", lo);
	if (e->kind == KG_T_STRUCT)
		return kg_fmt("minsz_%s[version - %d]", sname(e->st),
			      e->st->decl->versions.lo);
	return kg_fmt("(%s ? %d : %d)", flex_of(f, d),
		      prefix_min(e, true), prefix_min(e, false));
}

/* Emit "sig {" + (void) for each parameter the body does not use + body +
 * "}". `params` is a space-separated list. */
/* A declaration line wrapped at 80 columns after a comma, continuing
 * two tabs in. */
static const char *wrap80(const char *line)
{
	buf b = {0};
	int col = 0;
	const char *p = line;
	while (*p) {
		const char *comma = strstr(p, ", ");
		size_t n = comma ? (size_t)(comma - p) + 1 : strlen(p);
		if (col > 0 && col + (int)n + 1 > 80) {
			bput(&b, "\n\t\t", 3);
			col = 16;
		} else if (col > 0) {
			bput(&b, " ", 1);
			col++;
		}
		bput(&b, p, n);
		col += (int)n;
		p += n;
		if (*p == ' ')
			p++;
	}
	return b.p;
}

static void emit_fn(buf *b, const char *sig, const char *params, const buf *body)
{
	out(b, "%s\n{\n", wrap80(sig));
	char *ps = kg_strndup(params, strlen(params));
	for (char *p = strtok(ps, " "); p; p = strtok(NULL, " "))
		if (!uses_ident(body->p, p))
			out(b, "\t(void)%s;\n", p);
	if (body->p)
		out(b, "%s", body->p);
	out(b, "}\n\n");
}

static buf body_buf(void)
{
	buf b = {0};
	b.ind = 1;
	return b;
}

/* ---- per-struct facts ------------------------------------------------------- */

static bool always_regular(const kg_field *f, const kg_decl *d)
{
	return is1(regular_cond(f, d));
}

static bool has_tagged(const kg_struct *s)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (!kg_range_empty(s->fields[i]->tagged))
			return true;
	return false;
}

static const kg_field *length_field(const kg_struct *s)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (s->fields[i]->is_length)
			return s->fields[i];
	return NULL;
}

/* Whether init() must do more than zero the struct. */
static bool nonzero_init(const kg_struct *s)
{
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const kg_value *v = &f->dflt;
		if (f->type.kind == KG_T_STRUCT) {
			if (nonzero_init(f->type.st))
				return true;
			continue;
		}
		if (f->type.kind == KG_T_RECORDS && v->kind == KG_V_NONE)
			return true;
		if ((v->kind == KG_V_INT && v->i != 0) ||
		    (v->kind == KG_V_BOOL && v->b) || v->kind == KG_V_NULL ||
		    (v->kind == KG_V_STRING && v->slen > 0))
			return true;
	}
	return false;
}

static const char *codec_flags(const kg_decl *d)
{
	/* Magic 0 messages carry LZ4 with Kafka's old header checksum. */
	if (kg_range_has(d->versions, 0))
		return d->versions.hi == 0 ? "KC_COMPRESS_LZ4_LEGACY_HC"
					  : "(version == 0 ? KC_COMPRESS_LZ4_LEGACY_HC : 0u)";
	return "0u";
}

/* ---- default values ------------------------------------------------------- */

/* Statement(s) giving lv its default. */
static void emit_default(buf *b, const kg_field *f, const char *lv)
{
	const kg_type *t = &f->type;
	const kg_value *v = &f->dflt;
	switch (t->kind) {
	case KG_T_SCALAR:
		if (t->scalar == KG_UUID)
			ln(b, "memset(&%s, 0, sizeof %s);", lv, lv);
		else if (t->scalar == KG_BOOL)
			ln(b, "%s = %s;", lv, v->kind == KG_V_BOOL && v->b ? "true" : "false");
		else if (t->scalar == KG_FLOAT64)
			ln(b, "%s = %s;", lv, v->kind == KG_V_INT ? kg_fmt("%lld.0", (long long)v->i) : "0.0");
		else
			ln(b, "%s = %s;", lv, v->kind == KG_V_INT ? int_lit(v->i, t->scalar) : "0");
		break;
	case KG_T_STRING:
		if (v->kind == KG_V_NULL)
			ln(b, "%s = KC_STR_NULL;", lv);
		else if (v->kind == KG_V_STRING && v->slen)
			ln(b, "%s = KC_STR_LIT(%s);", lv, c_string(v->s, v->slen));
		else
			ln(b, "%s = (kc_str){NULL, 0};", lv);
		break;
	case KG_T_BYTES:
	case KG_T_RECORDS:
		if (v->kind == KG_V_NULL ||
		    (t->kind == KG_T_RECORDS && v->kind == KG_V_NONE))
			ln(b, "%s = KC_BYTES_NULL;", lv);
		else
			ln(b, "%s = (kc_bytes){NULL, 0};", lv);
		break;
	case KG_T_ARRAY:
		ln(b, "%s = NULL;", lv);
		if (!f->count)
			ln(b, "%s_count = %d;", lv, v->kind == KG_V_NULL ? -1 : 0);
		break;
	case KG_T_STRUCT:
		ln(b, "%s_init(&%s);", t->st->cname, lv);
		break;
	}
}

/* C expression: lv (the field f of struct pointer `m`) differs from its
 * default. */
static const char *nondefault(const kg_field *f, const char *m)
{
	const kg_type *t = &f->type;
	const kg_value *v = &f->dflt;
	const char *lv = kg_fmt("%s->%s", m, f->name);
	switch (t->kind) {
	case KG_T_SCALAR:
		if (t->scalar == KG_UUID)
			return kg_fmt("!uuid_zero(&%s)", lv);
		if (t->scalar == KG_BOOL)
			return v->kind == KG_V_BOOL && v->b ? kg_fmt("!%s", lv) : lv;
		if (t->scalar == KG_FLOAT64)
			return kg_fmt("%s != %s", lv, v->kind == KG_V_INT ? kg_fmt("%lld.0", (long long)v->i) : "0.0");
		return kg_fmt("%s != %s", lv, v->kind == KG_V_INT ? int_lit(v->i, t->scalar) : "0");
	case KG_T_STRING:
		if (v->kind == KG_V_NULL)
			return kg_fmt("%s.len != -1", lv);
		if (v->kind == KG_V_STRING && v->slen)
			return kg_fmt("!kc_str_eq(%s, KC_STR_LIT(%s))", lv, c_string(v->s, v->slen));
		return kg_fmt("%s.len != 0", lv);
	case KG_T_BYTES:
	case KG_T_RECORDS:
		if (v->kind == KG_V_NULL ||
		    (t->kind == KG_T_RECORDS && v->kind == KG_V_NONE))
			return kg_fmt("%s.len != -1", lv);
		return kg_fmt("%s.len != 0", lv);
	case KG_T_ARRAY:
		if (f->count)
			return kg_fmt("%s->%s != 0", m, f->count->name);
		return kg_fmt("%s_count != %d", lv, v->kind == KG_V_NULL ? -1 : 0);
	case KG_T_STRUCT:
		return kg_fmt("!isdef_%s(&%s)", sname(t->st), lv);
	}
	return "1";
}

/* Whether lv is a length or crc field, whose value the encoder computes. */
static bool computed(const kg_field *f)
{
	return f->is_length || f->crc != KG_CRC_NONE;
}

/* ---- encode ------------------------------------------------------------- */

/* Statements writing one value of type t from lv. `flex` is the flexible
 * condition for its prefix; `nullok` whether null may be written. */
static void enc_value(buf *b, const kg_type *t, const char *lv,
		      const char *flex, const char *nullok, const kg_field *f,
		      const kg_decl *d)
{
	switch (t->kind) {
	case KG_T_SCALAR:
		if (t->scalar == KG_UUID)
			ln(b, "kc__w_uuid(w, &%s);", lv);
		else
			ln(b, "kc__w_%s(w, %s);", scalar_suffix(t->scalar), lv);
		return;
	case KG_T_STRING:
		ln(b, "KC__TRY(wr_str(w, %s, %s, %s));", lv, kind_expr(t, flex), nullok);
		return;
	case KG_T_BYTES:
	case KG_T_RECORDS:
		ln(b, "KC__TRY(wr_bytes(w, %s, %s, %s));", lv, kind_expr(t, flex), nullok);
		return;
	case KG_T_STRUCT:
		ln(b, "KC__TRY(enc_%s(w, &%s, version));", sname(t->st), lv);
		return;
	case KG_T_ARRAY:
		break;
	}
	ln(b, "KC__TRY(wr_count(w, %s_count, %s != NULL, %s, %s));", lv, lv,
	   kind_expr(t, flex), nullok);
	ln(b, "for (int32_t i = 0; i < %s_count; i++) {", lv);
	enc_value(b, t->elem, kg_fmt("%s[i]", lv), flex, "false", f, d);
	ln(b, "}");
}

/* Size statements adding one value of type t at lv to `acc`. */
static void size_value(buf *b, const kg_type *t, const char *lv,
		       const char *flex, const char *acc)
{
	switch (t->kind) {
	case KG_T_SCALAR:
		switch (t->scalar) {
		case KG_VARINT:
			ln(b, "%s += kc__varint_size(%s);", acc, lv);
			return;
		case KG_VARLONG:
			ln(b, "%s += kc__varlong_size(%s);", acc, lv);
			return;
		case KG_UVARINT:
			ln(b, "%s += kc__uvarint_size(%s);", acc, lv);
			return;
		default:
			ln(b, "%s += %d;", acc, scalar_width(t->scalar));
			return;
		}
	case KG_T_STRING:
		ln(b, "%s += sz_str(%s, %s);", acc, lv, kind_expr(t, flex));
		return;
	case KG_T_BYTES:
	case KG_T_RECORDS:
		ln(b, "%s += sz_bytes(%s, %s);", acc, lv, kind_expr(t, flex));
		return;
	case KG_T_STRUCT:
		ln(b, "%s += size_%s(&%s, version);", acc, sname(t->st), lv);
		return;
	case KG_T_ARRAY:
		break;
	}
	ln(b, "%s += sz_len(%s, %s_count);", acc, kind_expr(t, flex), lv);
	const kg_type *e = t->elem;
	if (e->kind == KG_T_SCALAR && scalar_width(e->scalar)) {
		ln(b, "if (%s_count > 0)", lv);
		b->ind++;
		ln(b, "%s += (size_t)%s_count * %d;", acc, lv, scalar_width(e->scalar));
		b->ind--;
		return;
	}
	ln(b, "for (int32_t i = 0; i < %s_count; i++)", lv);
	b->ind++;
	size_value(b, e, kg_fmt("%s[i]", lv), flex, acc);
	b->ind--;
}

/* ---- decode ------------------------------------------------------------- */

static const char *rd_scalar(kg_scalar s)
{
	switch (s) {
	case KG_VARINT:
		return "kc__r_varint";
	case KG_VARLONG:
		return "kc__r_varlong";
	case KG_UVARINT:
		return "kc__r_uvarint";
	default:
		return kg_fmt("kc__r_%s", scalar_suffix(s));
	}
}

static void dec_value(buf *b, const kg_type *t, const char *lv,
		      const char *flex, const char *nullok, const kg_field *f,
		      const kg_decl *d, const char *R)
{
	switch (t->kind) {
	case KG_T_SCALAR:
		ln(b, "KC__TRY(%s(%s, &%s, \"%s\"));", rd_scalar(t->scalar), R,
		   lv, f->path);
		return;
	case KG_T_STRING:
		ln(b, "KC__TRY(rd_str(%s, &%s, %s, %s, \"%s\"));", R, lv,
		   kind_expr(t, flex), nullok, f->path);
		return;
	case KG_T_BYTES:
	case KG_T_RECORDS:
		ln(b, "KC__TRY(rd_bytes(%s, &%s, %s, %s, \"%s\"));", R, lv,
		   kind_expr(t, flex), nullok, f->path);
		return;
	case KG_T_STRUCT:
		ln(b, "KC__TRY(dec_%s(%s, &%s, version, arena));", sname(t->st), R, lv);
		return;
	case KG_T_ARRAY:
		break;
	}
	ln(b, "{");
	ln(b, "int32_t n = 0;");
	ln(b, "KC__TRY(rd_count(%s, &n, %s, %s, %s, \"%s\"));", R, kind_expr(t, flex),
	   nullok, elem_min_expr(f, d), f->path);
	ln(b, "%s *a = NULL;", elem_ctype(t->elem));
	ln(b, "if (n > 0) {");
	ln(b, "a = kc_arena_alloc(arena, (size_t)n * sizeof *a);");
	ln(b, "if (!a)");
	ln(b, "\treturn kc__r_fail(%s, KC_ERR_NOMEM, \"%s\");", R, f->path);
	ln(b, "for (int32_t i = 0; i < n; i++) {");
	dec_value(b, t->elem, "a[i]", flex, "false", f, d, R);
	ln(b, "}");
	ln(b, "}");
	ln(b, "%s = a;", lv);
	ln(b, "%s_count = n;", lv);
	ln(b, "}");
}

/* ---- struct functions ------------------------------------------------------ */

typedef struct sctx {
	buf *b;
	const kg_struct *s;
	const kg_decl *d;
} sctx;

static const char *flex_of(const kg_field *f, const kg_decl *d)
{
	return vcond_in(f->flexible, field_ctx(f, d));
}

static const char *null_of(const kg_field *f, const kg_decl *d)
{
	const char *c = vcond_in(f->nullable, field_ctx(f, d));
	if (is1(c))
		return "true";
	if (is0(c))
		return "false";
	return kg_fmt("(%s)", c);
}

/* Fields sorted by tag, for the tagged-field section. */
static size_t tagged_sorted(const kg_struct *s, const kg_field **v)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nfields; i++)
		if (!kg_range_empty(s->fields[i]->tagged))
			v[n++] = s->fields[i];
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && v[k - 1]->tag > v[k]->tag; k--) {
			const kg_field *t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	return n;
}

static void emit_init(buf *b, const kg_struct *s)
{
	ln(b, "void %s_init(%s *m)", s->cname, s->cname);
	ln(b, "{");
	ln(b, "memset(m, 0, sizeof *m);");
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const kg_value *v = &f->dflt;
		bool zero;
		if (f->type.kind == KG_T_STRUCT)
			zero = !nonzero_init(f->type.st);
		else if (f->type.kind == KG_T_RECORDS && v->kind == KG_V_NONE)
			zero = false;
		else
			zero = v->kind == KG_V_NONE ||
			       (v->kind == KG_V_INT && v->i == 0) ||
			       (v->kind == KG_V_BOOL && !v->b) ||
			       (v->kind == KG_V_STRING && v->slen == 0);
		if (!zero)
			emit_default(b, f, kg_fmt("m->%s", f->name));
	}
	ln(b, "}");
	out(b, "\n");
}

static void emit_isdef(buf *b, const kg_struct *s)
{
	if (!s->need_isdef)
		return;
	buf body = body_buf();
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		if (computed(f) || f->count_of)
			continue;
		ln(&body, "if (%s)", nondefault(f, "m"));
		ln(&body, "\treturn false;");
	}
	ln(&body, "return true;");
	emit_fn(b, kg_fmt("static inline bool isdef_%s(const %s *m)", sname(s), s->cname),
		"m", &body);
}

/* Size statements for fields [from, nfields) and the tag section. */
static void size_fields(buf *b, const kg_struct *s, size_t from, const char *acc);

static void size_field(buf *b, const kg_struct *s, const kg_field *f,
		       const char *acc)
{
	const kg_decl *d = s->decl;
	const char *lv = kg_fmt("m->%s", f->name);
	if (f->is_length && f->type.scalar == KG_VARINT) {
		ln(b, "{");
		ln(b, "size_t rest = rest_%s(m, version);", sname(s));
		ln(b, "%s += kc__varint_size((int32_t)rest) + rest;", acc);
		ln(b, "}");
		return;
	}
	if (f->comp) {
		ln(b, "%s += zsize_%s_%s(m, version);", acc, sname(s), f->name);
		return;
	}
	if (f->count) {
		ln(b, "for (int32_t i = 0; i < (int32_t)m->%s; i++)", f->count->name);
		b->ind++;
		size_value(b, f->type.elem, kg_fmt("%s[i]", lv), flex_of(f, d), acc);
		b->ind--;
		return;
	}
	size_value(b, &f->type, lv, flex_of(f, d), acc);
}

static void size_tags(buf *b, const kg_struct *s, const char *acc)
{
	const kg_decl *d = s->decl;
	const char *flex = vcond(d->flexible, d);
	if (is0(flex))
		return;
	const kg_field *tv[s->nfields ? s->nfields : 1];
	size_t nt = tagged_sorted(s, tv);
	if (nt == 0) {
		bool o = open_if(b, flex);
		ln(b, "%s += 1; /* empty tagged-field section */", acc);
		close_if(b, o);
		return;
	}
	bool o = open_if(b, flex);
	ln(b, "uint32_t ntags = 0;");
	for (size_t i = 0; i < nt; i++) {
		const kg_field *f = tv[i];
		ln(b, "if (%s) {", c_and(vcond(f->tagged, d), nondefault(f, "m")));
		ln(b, "size_t sz = 0;");
		size_value(b, &f->type, kg_fmt("m->%s", f->name), "1", "sz");
		ln(b, "%s += kc__uvarint_size(%lld) + kc__uvarint_size(sz) + sz;", acc,
		   (long long)f->tag);
		ln(b, "ntags++;");
		ln(b, "}");
	}
	ln(b, "%s += kc__uvarint_size(ntags);", acc);
	close_if(b, o);
}

static void size_fields(buf *b, const kg_struct *s, size_t from, const char *acc)
{
	const kg_decl *d = s->decl;
	int fixed = 0;
	for (size_t i = from; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const char *reg = regular_cond(f, d);
		if (is0(reg))
			continue;
		/* Fixed-width fields on the wire in every version add up to
		 * one constant. */
		if (is1(reg) && f->type.kind == KG_T_SCALAR &&
		    scalar_width(f->type.scalar) && !f->is_length) {
			fixed += scalar_width(f->type.scalar);
			continue;
		}
		if (f->is_length && f->type.scalar == KG_INT32) {
			fixed += 4;
			continue;
		}
		bool o = open_if(b, reg);
		size_field(b, s, f, acc);
		close_if(b, o);
		if (f->is_length)
			break; /* rest_ covers everything after a varint length */
	}
	bool after_varint_len = false;
	for (size_t i = from; i < s->nfields; i++)
		if (s->fields[i]->is_length && s->fields[i]->type.scalar == KG_VARINT)
			after_varint_len = true;
	if (fixed)
		ln(b, "%s += %d;", acc, fixed);
	if (!after_varint_len)
		size_tags(b, s, acc);
}

static void emit_rest(buf *b, const kg_struct *s)
{
	const kg_field *lf = length_field(s);
	if (!lf || lf->type.scalar != KG_VARINT)
		return;
	size_t idx = 0;
	while (s->fields[idx] != lf)
		idx++;
	ln(b, "/* Bytes after %s up to the end of the struct: the value of the", lf->name);
	ln(b, " * varint length, needed before those bytes are written. */");
	buf body = body_buf();
	ln(&body, "size_t n = 0;");
	size_fields(&body, s, idx + 1, "n");
	ln(&body, "return n;");
	emit_fn(b, kg_fmt("static size_t rest_%s(const %s *m, int16_t version)", sname(s),
			  s->cname), "m version", &body);
}

/* Statements adding to `acc` a lower bound of the bytes of fields
 * [from, nfields) and the tag section; returns the constant by which the
 * exact size may exceed it. Varints and the prefixes of strings and bytes
 * (1 to 5 bytes, whatever their kind) are bounded, not sized: that skips
 * most of the size pass. Anything else is sized exactly. */
static int bound_fields(buf *b, const kg_struct *s, size_t from, const char *acc)
{
	const kg_decl *d = s->decl;
	int fixed = 0, spread = 0;
	for (size_t i = from; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const char *reg = regular_cond(f, d);
		const kg_type *t = &f->type;
		if (is0(reg))
			continue;
		if (is1(reg) && t->kind == KG_T_SCALAR && scalar_width(t->scalar)) {
			fixed += scalar_width(t->scalar);
			continue;
		}
		/* A field of some versions only still widens the bound in
		 * all: the bound stays safe. */
		bool o = open_if(b, reg);
		if (t->kind == KG_T_SCALAR && !scalar_width(t->scalar)) {
			ln(b, "%s += 1;", acc);
			spread += t->scalar == KG_VARLONG ? 9 : 4;
		} else if ((t->kind == KG_T_STRING || t->kind == KG_T_BYTES) &&
			   !f->comp) {
			ln(b, "%s += 1 + (m->%s.len > 0 ? (size_t)m->%s.len : 0);", acc,
			   f->name, f->name);
			spread += 4;
		} else {
			size_field(b, s, f, acc);
		}
		close_if(b, o);
	}
	if (fixed)
		ln(b, "%s += %d;", acc, fixed);
	size_tags(b, s, acc);
	return spread;
}

static void emit_size(buf *b, const kg_struct *s)
{
	buf body = body_buf();
	ln(&body, "size_t n = 0;");
	size_fields(&body, s, 0, "n");
	ln(&body, "return n;");
	emit_fn(b, kg_fmt("static size_t size_%s(const %s *m, int16_t version)", sname(s),
			  s->cname), "m version", &body);
}

/* Helpers of a count array (and a compressed one): its elements without a
 * prefix, and for compression the compressed size. */
static void emit_count_helpers(buf *b, const kg_struct *s, const kg_field *f)
{
	const kg_decl *d = s->decl;
	const kg_type *e = f->type.elem;
	const char *flex = flex_of(f, d);
	const char *cnt = kg_fmt("m->%s", f->count->name);
	ln(b, "/* %s: the elements, no prefix; %s holds the count. */", f->path,
	   f->count->name);
	buf pb = body_buf(), gb = body_buf();
	ln(&pb, "for (int32_t i = 0; i < (int32_t)%s; i++) {", cnt);
	enc_value(&pb, e, kg_fmt("m->%s[i]", f->name), flex, "false", f, d);
	ln(&pb, "}");
	ln(&pb, "return KC_OK;");
	emit_fn(b, kg_fmt("static kc_err put_%s_%s(kc_writer *w, const %s *m, int16_t version)",
			  sname(s), f->name, s->cname), "w m version", &pb);
	buf *ob = b;
	b = &gb;
	ln(b, "KC__TRY(kc__r_check_count(r, r->p, (int64_t)%s, %s, \"%s\"));", cnt,
	   elem_min_expr(f, d), f->path);
	ln(b, "%s *a = NULL;", elem_ctype(e));
	ln(b, "if (%s > 0) {", cnt);
	ln(b, "a = kc_arena_alloc(arena, (size_t)%s * sizeof *a);", cnt);
	ln(b, "if (!a)");
	ln(b, "\treturn kc__r_fail(r, KC_ERR_NOMEM, \"%s\");", f->path);
	ln(b, "for (int32_t i = 0; i < (int32_t)%s; i++) {", cnt);
	dec_value(b, e, "a[i]", flex, "false", f, d, "r");
	ln(b, "}");
	ln(b, "}");
	ln(b, "m->%s = a;", f->name);
	ln(b, "return KC_OK;");
	emit_fn(ob, kg_fmt("static kc_err get_%s_%s(kc_reader *r, %s *m, int16_t version, "
			   "kc_arena *arena)", sname(s), f->name, s->cname),
		"r m version arena", &gb);
}

static void emit_comp_helpers(buf *b, const kg_struct *s, const kg_field *f)
{
	const kg_decl *d = s->decl;
	const char *flags = codec_flags(d);
	ln(b, "/* Wire size of %s, compressing it when its codec says so. */", f->path);
	buf *ob = b, zb = body_buf();
	b = &zb;
	ln(b, "int codec = m->%s & 7;", f->comp->name);
	if (f->type.kind == KG_T_ARRAY) {
		ln(b, "size_t n = 0;");
		ln(b, "if (codec == KC_CODEC_NONE) {");
		ln(b, "for (int32_t i = 0; i < (int32_t)m->%s; i++)", f->count->name);
		b->ind++;
		size_value(b, f->type.elem, kg_fmt("m->%s[i]", f->name), flex_of(f, d), "n");
		b->ind--;
		ln(b, "return n;");
		ln(b, "}");
		ln(b, "kc_writer zw;");
		ln(b, "kc_writer_init(&zw);");
		ln(b, "if (put_%s_%s(&zw, m, version) == KC_OK && zw.err == KC_OK)",
		   sname(s), f->name);
		ln(b, "\tn = sz_deflate(codec, %s, zw.buf, zw.len);", flags);
		ln(b, "kc_writer_free(&zw);");
		ln(b, "return n;");
	} else {
		const char *kind = kind_expr(&f->type, flex_of(f, d));
		ln(b, "if (codec == KC_CODEC_NONE || m->%s.len < 0)", f->name);
		ln(b, "\treturn sz_bytes(m->%s, %s);", f->name, kind);
		ln(b, "size_t n = sz_deflate(codec, %s, m->%s.ptr, (size_t)m->%s.len);",
		   flags, f->name, f->name);
		ln(b, "return sz_len(%s, (int32_t)n) + n;", kind);
	}
	emit_fn(ob, kg_fmt("static size_t zsize_%s_%s(const %s *m, int16_t version)", sname(s),
			   f->name, s->cname), "m version", &zb);
}

/* A varint length precedes bytes not yet written. When a cheap bound of
 * them fixes the varint's width (nearly always), leave a gap of that
 * width, write the rest, and fill the gap at the end of the encoder; else
 * size the rest exactly first. iovec mode always sizes first: there the
 * owned bytes are not the whole rest. */
static void enc_varint_length(buf *b, const kg_struct *s, const kg_field *f)
{
	size_t idx = 0;
	while (s->fields[idx] != f)
		idx++;
	ln(b, "size_t lo = 0;");
	int spread = bound_fields(b, s, idx + 1, "lo");
	ln(b, "len_wid = kc__varint_size((int32_t)lo);");
	ln(b, "if (w->ref_threshold == 0 && lo <= INT32_MAX - %d &&", spread);
	ln(b, "    len_wid == kc__varint_size((int32_t)(lo + %d))) {", spread);
	ln(b, "/* %s: filled in once the rest is written */", f->name);
	ln(b, "if (kc__w_room(w, len_wid))");
	ln(b, "\tw->len += len_wid;");
	ln(b, "len_at = w->len;");
	ln(b, "} else {");
	ln(b, "size_t rest = rest_%s(m, version);", sname(s));
	ln(b, "if (rest > INT32_MAX)");
	ln(b, "\treturn KC_ERR_INVALID_ARG;");
	ln(b, "kc__w_varint(w, (int32_t)rest); /* %s */", f->name);
	ln(b, "}");
}

/* Fill the gap enc_varint_length() left: zigzag varint of exactly
 * len_wid bytes (the bound guaranteed that width). */
static void enc_varint_length_fill(buf *b, const kg_field *f)
{
	ln(b, "if (len_at && w->err == KC_OK) {");
	ln(b, "uint8_t *p = w->buf + len_at - len_wid; /* %s */", f->name);
	ln(b, "uint32_t u = kc__zigzag32((int32_t)(w->len - len_at));");
	ln(b, "for (size_t i = 0; i + 1 < len_wid; i++, u >>= 7)");
	ln(b, "\tp[i] = (uint8_t)(u | 0x80);");
	ln(b, "p[len_wid - 1] = (uint8_t)u;");
	ln(b, "}");
}

static void enc_field(buf *b, const kg_struct *s, const kg_field *f)
{
	const kg_decl *d = s->decl;
	const char *lv = kg_fmt("m->%s", f->name);
	const char *flex = flex_of(f, d);
	if (f->is_length) {
		if (f->type.scalar == KG_INT32) {
			ln(b, "/* %s: patched once the rest is written */", f->name);
			ln(b, "kc_wslot len_slot = kc_writer_reserve(w, 4);");
		} else {
			enc_varint_length(b, s, f);
		}
		return;
	}
	if (f->crc) {
		ln(b, "/* %s: patched once the rest is written */", f->name);
		ln(b, "kc_wslot crc_slot = kc_writer_reserve(w, 4);");
		return;
	}
	if (f->count_of) {
		/* The count must index the array it counts. */
		const kg_field *a = f->count_of;
		kg_scalar sc = f->type.scalar;
		bool uns = sc == KG_UINT16 || sc == KG_UINT32 || sc == KG_UVARINT;
		bool wide = sc == KG_UINT32 || sc == KG_UVARINT || sc == KG_INT64 ||
			    sc == KG_VARLONG;
		ln(b, "if (%s%s(%s > 0 && !m->%s))",
		   uns ? "" : kg_fmt("%s < 0 || ", lv),
		   wide ? kg_fmt("%s > INT32_MAX || ", lv) : "", lv, a->name);
		ln(b, "\treturn KC_ERR_INVALID_ARG;");
		enc_value(b, &f->type, lv, flex, "false", f, d);
		return;
	}
	if (f->comp && f->type.kind == KG_T_ARRAY) {
		ln(b, "/* %s: compressed with the codec in %s */", f->name, f->comp->name);
		ln(b, "int codec = m->%s & 7;", f->comp->name);
		ln(b, "if (codec == KC_CODEC_NONE) {");
		ln(b, "KC__TRY(put_%s_%s(w, m, version));", sname(s), f->name);
		ln(b, "} else {");
		ln(b, "kc_writer zw;");
		ln(b, "kc_writer_init(&zw);");
		ln(b, "kc_err e = put_%s_%s(&zw, m, version);", sname(s), f->name);
		ln(b, "if (e == KC_OK)");
		ln(b, "\te = zw.err;");
		ln(b, "if (e == KC_OK)");
		ln(b, "\te = wr_deflate(w, codec, %s, zw.buf, zw.len, -1);", codec_flags(d));
		ln(b, "kc_writer_free(&zw);");
		ln(b, "KC__TRY(e);");
		ln(b, "}");
		return;
	}
	if (f->comp) {
		const char *kind = kind_expr(&f->type, flex);
		ln(b, "/* %s: compressed with the codec in %s */", f->name, f->comp->name);
		ln(b, "if ((m->%s & 7) == KC_CODEC_NONE || %s.len < 0) {", f->comp->name, lv);
		ln(b, "KC__TRY(wr_bytes(w, %s, %s, %s));", lv, kind, null_of(f, d));
		ln(b, "} else {");
		ln(b, "if (%s.len > 0 && !%s.ptr)", lv, lv);
		ln(b, "\treturn KC_ERR_INVALID_ARG;");
		ln(b, "KC__TRY(wr_deflate(w, m->%s & 7, %s, %s.ptr, (size_t)%s.len, %s));",
		   f->comp->name, codec_flags(d), lv, lv, kind);
		ln(b, "}");
		return;
	}
	if (f->count) {
		ln(b, "KC__TRY(put_%s_%s(w, m, version));", sname(s), f->name);
		return;
	}
	enc_value(b, &f->type, lv, flex, null_of(f, d), f, d);
}

static void emit_enc(buf *ob, const kg_struct *s)
{
	const kg_decl *d = s->decl;
	buf body = body_buf(), *b = &body;
	const kg_field *lenf = NULL, *crcf = NULL;
	const kg_field *lf = length_field(s);
	if (lf && lf->type.scalar == KG_VARINT)
		ln(b, "size_t len_at = 0, len_wid = 0; /* %s's gap */", lf->name);
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const char *inv = vcond(f->versions, d);
		const char *reg = regular_cond(f, d);
		if (f->is_length)
			lenf = f;
		if (f->crc)
			crcf = f;
		if (!is0(reg)) {
			bool o = open_if(b, reg);
			enc_field(b, s, f);
			close_if(b, o);
		}
		if (!f->ignorable && !is1(inv) && !computed(f) && !f->count_of) {
			ln(b, "if (%s)", c_and(c_not(inv), nondefault(f, "m")));
			ln(b, "\treturn KC_ERR_UNSUPPORTED_FIELD; /* %s */", f->name);
		}
	}
	/* tagged-field section */
	const char *flex = vcond(d->flexible, d);
	if (!is0(flex)) {
		const kg_field *tv[s->nfields ? s->nfields : 1];
		size_t nt = tagged_sorted(s, tv);
		bool o = open_if(b, flex);
		if (nt == 0) {
			ln(b, "kc__w_uvarint(w, 0); /* no tagged fields */");
		} else {
			ln(b, "uint32_t ntags = 0;");
			for (size_t i = 0; i < nt; i++) {
				ln(b, "if (%s)", c_and(vcond(tv[i]->tagged, d), nondefault(tv[i], "m")));
				ln(b, "\tntags++;");
			}
			ln(b, "kc__w_uvarint(w, ntags);");
			for (size_t i = 0; i < nt; i++) {
				const kg_field *f = tv[i];
				const char *lv = kg_fmt("m->%s", f->name);
				ln(b, "if (%s) {", c_and(vcond(f->tagged, d), nondefault(f, "m")));
				ln(b, "size_t sz = 0;");
				size_value(b, &f->type, lv, "1", "sz");
				ln(b, "kc__w_uvarint(w, %lld); /* tag: %s */", (long long)f->tag, f->name);
				ln(b, "kc__w_uvarint(w, sz);");
				enc_value(b, &f->type, lv, "1", null_of(f, d), f, d);
				ln(b, "}");
			}
		}
		close_if(b, o);
	}
	/* Before any CRC, which may cover the gap. */
	if (lenf && lenf->type.scalar == KG_VARINT)
		enc_varint_length_fill(b, lenf);
	if ((lenf && lenf->type.scalar == KG_INT32) || crcf) {
		/* A failed write left the slots unreserved: nothing to patch. */
		ln(b, "if (w->err != KC_OK)");
		ln(b, "\treturn KC_OK;");
	}
	if (lenf && lenf->type.scalar == KG_INT32) {
		ln(b, "size_t len = kc_writer_since(w, len_slot);");
		ln(b, "if (len > INT32_MAX)");
		ln(b, "\treturn KC_ERR_INVALID_ARG;");
		ln(b, "kc_writer_patch_i32(w, len_slot, (int32_t)len);");
	}
	if (crcf)
		ln(b, "kc_writer_patch_u32(w, crc_slot, kc_writer_%s_from(w, crc_slot.pos + 4));",
		   crcf->crc == KG_CRC32C ? "crc32c" : "crc32");
	ln(b, "return KC_OK;");
	emit_fn(ob, kg_fmt("static kc_err enc_%s(kc_writer *w, const %s *m, int16_t version)",
			   sname(s), s->cname),
		"w m version", &body);
}

/* The tag-section reader of a struct with tagged fields. */
static void emit_tags_dec(buf *ob, const kg_struct *s)
{
	buf body = body_buf(), *b = &body;
	const kg_decl *d = s->decl;
	const char *tf = kg_fmt("%s.tagged_fields", s->path);
	const kg_field *tv[s->nfields ? s->nfields : 1];
	size_t nt = tagged_sorted(s, tv);
	ln(b, "const uint8_t *at = r->p;");
	ln(b, "uint32_t n = 0;");
	ln(b, "KC__TRY(kc__r_uvarint(r, &n, \"%s\"));", tf);
	ln(b, "KC__TRY(kc__r_check_count(r, at, n, 2, \"%s\"));", tf);
	ln(b, "int64_t last = -1;");
	ln(b, "for (uint32_t i = 0; i < n; i++) {");
	ln(b, "const uint8_t *tat = r->p;");
	ln(b, "uint32_t tag = 0, size = 0;");
	ln(b, "KC__TRY(kc__r_uvarint(r, &tag, \"%s\"));", tf);
	ln(b, "if ((int64_t)tag <= last)");
	ln(b, "\treturn kc__r_fail_at(r, tat, KC_ERR_TAG_ORDER, \"%s\");", tf);
	ln(b, "last = tag;");
	ln(b, "KC__TRY(kc__r_uvarint(r, &size, \"%s\"));", tf);
	ln(b, "kc_reader sub, *sr = &sub;");
	ln(b, "KC__TRY(kc__r_sub(r, size, sr, \"%s\"));", tf);
	ln(b, "switch (tag) {");
	for (size_t i = 0; i < nt; i++) {
		const kg_field *f = tv[i];
		const char *c = vcond(f->tagged, d);
		b->ind--;
		ln(b, "case %lld: /* %s */", (long long)f->tag, f->name);
		b->ind++;
		bool o = open_if(b, c);
		dec_value(b, &f->type, kg_fmt("m->%s", f->name), "1", null_of(f, d), f, d, "sr");
		ln(b, "if (sr->p != sr->end)");
		ln(b, "\treturn kc__r_fail(sr, KC_ERR_TRAILING, \"%s\");", f->path);
		close_if(b, o);
		ln(b, "break;");
	}
	b->ind--;
	ln(b, "default: /* unknown tags are skipped */");
	b->ind++;
	ln(b, "break;");
	ln(b, "}");
	ln(b, "}");
	ln(b, "return KC_OK;");
	emit_fn(ob, kg_fmt("static kc_err tags_%s(kc_reader *r, %s *m, int16_t version, "
			   "kc_arena *arena)", sname(s), s->cname),
		"r m version arena", &body);
}

static void dec_field(buf *b, const kg_struct *s, const kg_field *f,
		      const char **R, bool *bounded)
{
	const kg_decl *d = s->decl;
	const char *lv = kg_fmt("m->%s", f->name);
	const char *flex = flex_of(f, d);
	const char *r = *R;
	if (f->is_length) {
		ln(b, "const uint8_t *len_at = %s->p;", r);
		dec_value(b, &f->type, lv, flex, "false", f, d, r);
		ln(b, "if (%s < 0 || (size_t)%s > kc__r_left(%s))", lv, lv, r);
		ln(b, "\treturn kc__r_fail_at(%s, len_at, KC_ERR_BAD_LENGTH, \"%s\");", r, f->path);
		ln(b, "kc_reader lsub, *lr = &lsub;");
		ln(b, "KC__TRY(kc__r_sub(%s, (size_t)%s, lr, \"%s\"));", r, lv, f->path);
		*R = "lr";
		*bounded = true;
		return;
	}
	if (f->crc) {
		const char *fn = f->crc == KG_CRC32C ? "kc_crc32c" : "kc_crc32";
		ln(b, "const uint8_t *crc_at = %s->p;", r);
		dec_value(b, &f->type, lv, flex, "false", f, d, r);
		if (*bounded) {
			/* The struct ends where the length says: verify now,
			 * before anything inside is trusted. */
			ln(b, "m->%s_ok = %s(0, %s->p, kc__r_left(%s)) == %s;", f->name, fn, r, r, lv);
			ln(b, "if (!m->%s_ok && !(%s->flags & KC_READ_CRC_LENIENT))", f->name, r);
			ln(b, "\treturn kc__r_fail_at(%s, crc_at, KC_ERR_CRC, \"%s\");", r, f->path);
		} else {
			ln(b, "const uint8_t *crc_from = %s->p;", r);
		}
		return;
	}
	if (f->comp && f->type.kind == KG_T_ARRAY) {
		ln(b, "int codec = m->%s & 7;", f->comp->name);
		ln(b, "if (codec == KC_CODEC_NONE) {");
		ln(b, "KC__TRY(get_%s_%s(%s, m, version, arena));", sname(s), f->name, r);
		ln(b, "} else {");
		ln(b, "kc_reader z;");
		ln(b, "KC__TRY(rd_inflate_rest(%s, &z, codec, %s, arena, \"%s\"));", r,
		   codec_flags(d), f->path);
		ln(b, "kc_err e = get_%s_%s(&z, m, version, arena);", sname(s), f->name);
		ln(b, "if (e == KC_OK && z.p != z.end)");
		ln(b, "\te = kc__r_fail(&z, KC_ERR_TRAILING, \"%s\");", f->path);
		ln(b, "if (e != KC_OK) {");
		ln(b, "%s->err->in_compressed = 1;", r);
		ln(b, "return e;");
		ln(b, "}");
		ln(b, "}");
		return;
	}
	if (f->comp) {
		ln(b, "KC__TRY(rd_bytes(%s, &%s, %s, %s, \"%s\"));", r, lv,
		   kind_expr(&f->type, flex), null_of(f, d), f->path);
		ln(b, "if ((m->%s & 7) != KC_CODEC_NONE && %s.len >= 0) {", f->comp->name, lv);
		ln(b, "const uint8_t *p = NULL;");
		ln(b, "size_t n = 0;");
		ln(b, "KC__TRY(rd_inflate(%s, %s.ptr, (size_t)%s.len, m->%s & 7, %s, arena, &p, &n,",
		   r, lv, lv, f->comp->name, codec_flags(d));
		ln(b, "\t\t   \"%s\"));", f->path);
		ln(b, "if (n > INT32_MAX)");
		ln(b, "\treturn kc__r_fail_at(%s, %s.ptr, KC_ERR_TOO_LARGE, \"%s\");", r, lv, f->path);
		ln(b, "%s = (kc_bytes){p, (int32_t)n};", lv);
		ln(b, "}");
		return;
	}
	if (f->count) {
		ln(b, "KC__TRY(get_%s_%s(%s, m, version, arena));", sname(s), f->name, r);
		return;
	}
	dec_value(b, &f->type, lv, flex, null_of(f, d), f, d, r);
}

static void emit_dec(buf *b, const kg_struct *s)
{
	const kg_decl *d = s->decl;
	buf body = {0};
	body.ind = 1;
	/* Fields some versions lack keep their defaults. */
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		if (!always_regular(f, d))
			emit_default(&body, f, kg_fmt("m->%s", f->name));
	}
	const char *R = "r";
	bool bounded = false;
	const kg_field *crcf = NULL, *lenf = NULL;
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const char *reg = regular_cond(f, d);
		if (f->crc)
			crcf = f;
		if (f->is_length)
			lenf = f;
		if (is0(reg))
			continue;
		bool o = open_if(&body, reg);
		dec_field(&body, s, f, &R, &bounded);
		close_if(&body, o);
	}
	const char *flex = vcond(d->flexible, d);
	if (!is0(flex)) {
		bool o = open_if(&body, flex);
		if (has_tagged(s))
			ln(&body, "KC__TRY(tags_%s(%s, m, version, arena));", sname(s), R);
		else
			ln(&body, "KC__TRY(rd_skip_tags(%s, \"%s.tagged_fields\"));", R, s->path);
		close_if(&body, o);
	}
	if (crcf) {
		size_t li = 0, ci = 0;
		for (size_t i = 0; i < s->nfields; i++) {
			if (s->fields[i] == lenf)
				li = i + 1;
			if (s->fields[i] == crcf)
				ci = i + 1;
		}
		if (!(li && li < ci)) {
			const char *fn = crcf->crc == KG_CRC32C ? "kc_crc32c" : "kc_crc32";
			ln(&body, "m->%s_ok = %s(0, crc_from, (size_t)(%s->p - crc_from)) == m->%s;",
			   crcf->name, fn, R, crcf->name);
			ln(&body, "if (!m->%s_ok && !(%s->flags & KC_READ_CRC_LENIENT))", crcf->name, R);
			ln(&body, "\treturn kc__r_fail_at(%s, crc_at, KC_ERR_CRC, \"%s\");", R,
			   crcf->path);
		}
	}
	if (lenf) {
		ln(&body, "if (lr->p != lr->end)");
		ln(&body, "\treturn kc__r_fail(lr, KC_ERR_TRAILING, \"%s\");", lenf->path);
	}
	ln(&body, "return KC_OK;");

	emit_fn(b, kg_fmt("static kc_err dec_%s(kc_reader *r, %s *m, int16_t version, "
			  "kc_arena *arena)", sname(s), s->cname),
		"r m version arena", &body);
}

static void emit_public(buf *b, const kg_struct *s)
{
	const kg_decl *d = s->decl;
	const char *vr = d->versions.lo == d->versions.hi
				 ? kg_fmt("version != %d", d->versions.lo)
				 : kg_fmt("version < %d || version > %d", d->versions.lo,
					  d->versions.hi);
	ln(b, "%s", wrap80(kg_fmt("kc_err %s_encode(kc_writer *w, const %s *m, int16_t version)",
				  s->cname, s->cname)));
	ln(b, "{");
	ln(b, "if (%s)", vr);
	ln(b, "\treturn KC_ERR_UNSUPPORTED_VERSION;");
	ln(b, "KC__TRY(enc_%s(w, m, version));", sname(s));
	ln(b, "return w->err;");
	ln(b, "}");
	out(b, "\n");
	ln(b, "%s", wrap80(kg_fmt("kc_err %s_decode(kc_reader *r, %s *m, int16_t version, "
				  "kc_arena *arena)", s->cname, s->cname)));
	ln(b, "{");
	ln(b, "if (%s)", vr);
	ln(b, "\treturn kc__r_fail(r, KC_ERR_UNSUPPORTED_VERSION, \"%s\");", s->path);
	ln(b, "return dec_%s(r, m, version, arena);", sname(s));
	ln(b, "}");
	out(b, "\n");
	ln(b, "%s", wrap80(kg_fmt("size_t %s_size(const %s *m, int16_t version)", s->cname,
				  s->cname)));
	ln(b, "{");
	ln(b, "if (%s)", vr);
	ln(b, "\treturn 0;");
	ln(b, "return size_%s(m, version);", sname(s));
	ln(b, "}");
	out(b, "\n");
}

/* ---- ordering -------------------------------------------------------------- */

typedef struct slist {
	const kg_struct **v;
	size_t n, cap;
} slist;

static void slist_push(slist *l, const kg_struct *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		const kg_struct **v = kg_alloc(cap * sizeof *v);
		if (l->n)
			memcpy(v, l->v, l->n * sizeof *v);
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
}

/* Depth first: a struct comes after every struct it contains. */
static void order_visit(kg_struct *s, slist *l)
{
	if (s->mark == 3)
		return;
	s->mark = 3;
	for (size_t i = 0; i < s->nfields; i++) {
		kg_type *t = &s->fields[i]->type;
		if (t->kind == KG_T_ARRAY)
			t = t->elem;
		if (t->kind == KG_T_STRUCT)
			order_visit(t->st, l);
	}
	slist_push(l, s);
}

static void mark_isdef(kg_struct *s)
{
	if (s->need_isdef)
		return;
	s->need_isdef = true;
	for (size_t i = 0; i < s->nfields; i++)
		if (s->fields[i]->type.kind == KG_T_STRUCT)
			mark_isdef(s->fields[i]->type.st);
}

/* isdef_T() exists for structs whose default-ness is asked: tagged struct
 * fields and struct fields some versions lack. */
static void mark_isdefs(const slist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const kg_struct *s = l->v[i];
		for (size_t k = 0; k < s->nfields; k++) {
			const kg_field *f = s->fields[k];
			if (f->type.kind != KG_T_STRUCT)
				continue;
			if (!kg_range_empty(f->tagged) ||
			    (!f->ignorable && !is1(vcond(f->versions, s->decl))))
				mark_isdef(f->type.st);
		}
	}
}

static slist struct_order(const kg_schema *sc)
{
	slist l = {0};
	for (size_t i = 0; i < sc->ndecls; i++) {
		sc->decls[i]->root->mark = 0;
		for (size_t k = 0; k < sc->decls[i]->nstructs; k++)
			sc->decls[i]->structs[k]->mark = 0;
	}
	for (size_t i = 0; i < sc->ndecls; i++) {
		order_visit(sc->decls[i]->root, &l);
		for (size_t k = 0; k < sc->decls[i]->nstructs; k++)
			order_visit(sc->decls[i]->structs[k], &l);
	}
	return l;
}

static bool is_root(const kg_struct *s)
{
	return s->decl->root == s;
}

/* ---- messages.h ------------------------------------------------------------ */

static const char *field_note(const kg_field *f, const kg_decl *d)
{
	buf b = {0};
	const char *sep = "";
	if (!kg_range_empty(f->tagged)) {
		out(&b, "tag %lld in v%d-%d", (long long)f->tag, f->tagged.lo, f->tagged.hi);
		sep = ", ";
	}
	if (f->versions.lo != d->versions.lo || f->versions.hi != d->versions.hi) {
		if (kg_range_empty(f->versions))
			out(&b, "%sno version", sep);
		else if (f->versions.lo == f->versions.hi)
			out(&b, "%sv%d", sep, f->versions.lo);
		else
			out(&b, "%sv%d-%d", sep, f->versions.lo, f->versions.hi);
		sep = ", ";
	}
	if (!kg_range_empty(f->nullable)) {
		out(&b, "%snullable v%d-%d", sep, f->nullable.lo, f->nullable.hi);
		sep = ", ";
	}
	if (f->is_length) {
		out(&b, "%slength of the rest", sep);
		sep = ", ";
	}
	if (f->crc) {
		out(&b, "%s%s of the rest", sep, f->crc == KG_CRC32C ? "CRC-32C" : "CRC-32");
		sep = ", ";
	}
	if (f->count_of) {
		out(&b, "%scount of %s", sep, f->count_of->name);
		sep = ", ";
	}
	if (f->comp) {
		out(&b, "%scompressed by %s", sep, f->comp->name);
		sep = ", ";
	}
	const kg_value *v = &f->dflt;
	if (v->kind == KG_V_INT)
		out(&b, "%sdefault %lld", sep, (long long)v->i);
	else if (v->kind == KG_V_BOOL)
		out(&b, "%sdefault %s", sep, v->b ? "true" : "false");
	else if (v->kind == KG_V_NULL)
		out(&b, "%sdefault null", sep);
	else if (v->kind == KG_V_STRING && v->slen)
		out(&b, "%sdefault %s", sep, c_string(v->s, v->slen));
	if (!b.p)
		return "";
	/* keep comments free of a closing star-slash */
	for (char *p = b.p; *p; p++)
		if (p[0] == '*' && p[1] == '/')
			p[0] = '.';
	return kg_fmt(" /* %s */", b.p);
}

static void emit_struct_h(buf *b, const kg_struct *s)
{
	const kg_decl *d = s->decl;
	if (is_root(s)) {
		static const char *const kinds[] = {"request", "response", "header", "format"};
		out(b, "/* ---- %s (%s", d->name, kinds[d->kind]);
		if (d->has_apikey)
			out(b, ", api key %d", d->apikey);
		out(b, ") ---- */\n\n");
		const char *U = upper(d->stem);
		if (d->has_apikey)
			out(b, "#define KC_%s_API_KEY %d\n", U, d->apikey);
		out(b, "#define KC_%s_MIN_VERSION %d\n", U, d->versions.lo);
		out(b, "#define KC_%s_MAX_VERSION %d\n", U, d->versions.hi);
		out(b, "#define KC_%s_FLEXIBLE_MIN %d\n\n", U,
		    kg_range_empty(d->flexible) ? KG_VMAX : d->flexible.lo);
	} else {
		out(b, "/* %s (struct %s) */\n", s->path, s->name);
	}
	ln(b, "typedef struct %s {", s->cname);
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const char *note = field_note(f, d);
		switch (f->type.kind) {
		case KG_T_ARRAY:
			ln(b, "%s *%s;%s", elem_ctype(f->type.elem), f->name, note);
			if (!f->count)
				ln(b, "int32_t %s_count; /* -1: null */", f->name);
			break;
		default:
			ln(b, "%s %s;%s", elem_ctype(&f->type), f->name, note);
			break;
		}
		if (f->crc)
			ln(b, "bool %s_ok; /* decode: the CRC matched */", f->name);
	}
	if (s->nfields == 0)
		ln(b, "char unused_; /* C needs a member */");
	ln(b, "} %s;", s->cname);
	out(b, "\n");
	out(b, "/* See the top of this file. */\n");
	out(b, "%s\n", wrap80(kg_fmt("void %s_init(%s *m);", s->cname, s->cname)));
	out(b, "%s\n", wrap80(kg_fmt("kc_err %s_encode(kc_writer *w, const %s *m, "
				     "int16_t version);", s->cname, s->cname)));
	out(b, "%s\n", wrap80(kg_fmt("kc_err %s_decode(kc_reader *r, %s *m, "
				     "int16_t version, kc_arena *arena);", s->cname, s->cname)));
	out(b, "%s\n", wrap80(kg_fmt("size_t %s_size(const %s *m, int16_t version);",
				     s->cname, s->cname)));
	if (is_root(s))
		out(b, "extern const kc_msg_type %s_type;\n", s->cname);
	out(b, "\n");
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void emit_header(buf *b, const kg_schema *sc, const slist *order,
			char *const *files, size_t nfiles)
{
	out(b, "/*\n * kafkit codec: messages generated by kafkit-gen from");
	for (size_t i = 0; i < nfiles; i++)
		out(b, "%s %s", i % 6 == 5 ? "\n *" : "", base_name(files[i]));
	out(b, ".\n * Do not edit; see docs/schema-language.md.\n");
	out(b, "%s",
	    " *\n"
	    " * Every struct T below (a declaration or a struct nested in one) has:\n"
	    " *\n"
	    " *   void   T_init(T *m)\n"
	    " *     Set every field to its default.\n"
	    " *   kc_err T_encode(kc_writer *w, const T *m, int16_t version)\n"
	    " *     Append m in that version. Returns KC_OK, KC_ERR_UNSUPPORTED_VERSION,\n"
	    " *     KC_ERR_NULL (null where the version forbids it),\n"
	    " *     KC_ERR_UNSUPPORTED_FIELD (a non-ignorable field the version lacks\n"
	    " *     holds a non-default value), KC_ERR_INVALID_ARG (a length or count\n"
	    " *     that does not fit its prefix), KC_ERR_UNSUPPORTED_CODEC,\n"
	    " *     KC_ERR_COMPRESS, or the writer's sticky KC_ERR_NOMEM. After an error\n"
	    " *     the writer holds a partial encoding: discard it.\n"
	    " *   kc_err T_decode(kc_reader *r, T *m, int16_t version, kc_arena *arena)\n"
	    " *     Read one T at the cursor (bytes after it are left unread). Strings\n"
	    " *     and bytes point into the input; arrays and decompressed data come\n"
	    " *     from `arena` (which may be NULL only for a T without arrays or\n"
	    " *     compressed fields). Every error is recorded in r->err with the field\n"
	    " *     (\"ProduceRequest.topic_data.name\") and byte offset: KC_ERR_TRUNCATED,\n"
	    " *     KC_ERR_BAD_LENGTH, KC_ERR_BAD_COUNT, KC_ERR_VARINT, KC_ERR_NULL,\n"
	    " *     KC_ERR_TAG_ORDER, KC_ERR_TRAILING, KC_ERR_CRC, KC_ERR_NOMEM,\n"
	    " *     KC_ERR_UNSUPPORTED_VERSION and the kc_decompress() errors. On error\n"
	    " *     *m is partly filled and must not be used.\n"
	    " *   size_t T_size(const T *m, int16_t version)\n"
	    " *     Bytes T_encode writes (0 for an unsupported version). A compressed\n"
	    " *     region is compressed to be measured.\n"
	    " *\n"
	    " * All functions are reentrant: each object belongs to one thread at a time.\n"
	    " */\n");
	out(b, "#ifndef KAFKIT_MESSAGES_H\n#define KAFKIT_MESSAGES_H\n\n");
	out(b, "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n\n");
	out(b, "#include \"kafkit/buf.h\"\n#include \"kafkit/err.h\"\n\n");
	out(b, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
	out(b, "%s",
	    "/* One top-level declaration (request, response, header or format), for\n"
	    " * code that handles messages without knowing their C types. */\n"
	    "typedef struct kc_msg_type {\n"
	    "\tconst char *name;   /* \"ProduceRequest\" */\n"
	    "\tsize_t struct_size; /* sizeof the C struct */\n"
	    "\tint16_t min_version, max_version;\n"
	    "\tint16_t flexible_min; /* 32767: never flexible */\n"
	    "\tvoid (*init)(void *m);\n"
	    "\tkc_err (*encode)(kc_writer *w, const void *m, int16_t version);\n"
	    "\tkc_err (*decode)(kc_reader *r, void *m, int16_t version, kc_arena *arena);\n"
	    "\tsize_t (*size)(const void *m, int16_t version);\n"
	    "} kc_msg_type;\n\n"
	    "/* One API this codec carries. */\n"
	    "typedef struct kc_api {\n"
	    "\tint16_t key;\n"
	    "\tconst char *name; /* \"Produce\" */\n"
	    "\tint16_t min_version, max_version;\n"
	    "\tint16_t flexible_min; /* first flexible version; 32767: none */\n"
	    "\tconst kc_msg_type *request, *response; /* NULL if not carried */\n"
	    "} kc_api;\n\n"
	    "/* The API with that key, or NULL when the codec does not carry it.\n"
	    " * Thread-safe (static data). */\n"
	    "const kc_api *kc_api_find(int16_t api_key);\n"
	    "/* The i-th carried API in key order, NULL past the end. Thread-safe. */\n"
	    "const kc_api *kc_api_at(size_t i);\n"
	    "/* Request header version for a request: 2 when that request version is\n"
	    " * flexible, else 1 (0 for ControlledShutdown v0); -1 for an api key not\n"
	    " * carried. Thread-safe. */\n"
	    "int16_t kc_request_header_version(int16_t api_key, int16_t api_version);\n"
	    "/* Response header version: 1 when that response version is flexible,\n"
	    " * else 0; always 0 for ApiVersions (key 18); -1 for an api key not\n"
	    " * carried. Thread-safe. */\n"
	    "int16_t kc_response_header_version(int16_t api_key, int16_t api_version);\n"
	    "/* The i-th top-level declaration in schema order, NULL past the end\n"
	    " * (tests walk every message with it). Thread-safe. */\n"
	    "const kc_msg_type *kc_msg_type_at(size_t i);\n\n");
	for (size_t i = 0; i < order->n; i++)
		emit_struct_h(b, order->v[i]);
	(void)sc;
	out(b, "#ifdef __cplusplus\n}\n#endif\n#endif\n");
}

/* ---- messages.c ------------------------------------------------------------ */

static const char *const rt_prefix[] = {
	"/* Length and count prefixes. */\n"
	"enum { L_I16, L_I32, L_COMPACT, L_VARINT };\n"
	"\n"
	"/* The helpers below take the prefix kind as an argument; forced inline\n"
	" * (KC__INLINE), the kind folds away and each call site is straight-line\n"
	" * code. */\n"
	"\n",
	"/* A length or count prefix; *n = -1 for null. A compact value that does\n"
	" * not fit an int32_t fails with `code`. */\n"
	"static KC__INLINE kc_err rd_len(kc_reader *r, int kind, int32_t *n, kc_err code,\n"
	"\t\t\t    const char *f)\n"
	"{\n"
	"\tswitch (kind) {\n"
	"\tcase L_I16: {\n"
	"\t\tint16_t v = 0;\n"
	"\t\tKC__TRY(kc__r_i16(r, &v, f));\n"
	"\t\t*n = v;\n"
	"\t\treturn KC_OK;\n"
	"\t}\n"
	"\tcase L_I32:\n"
	"\t\treturn kc__r_i32(r, n, f);\n"
	"\tcase L_COMPACT: {\n"
	"\t\tconst uint8_t *at = r->p;\n"
	"\t\tuint32_t v = 0;\n"
	"\t\tKC__TRY(kc__r_uvarint(r, &v, f));\n"
	"\t\tif (v > (uint32_t)INT32_MAX)\n"
	"\t\t\treturn kc__r_fail_at(r, at, code, f);\n"
	"\t\t*n = (int32_t)v - 1;\n"
	"\t\treturn KC_OK;\n"
	"\t}\n"
	"\tdefault:\n"
	"\t\treturn kc__r_varint(r, n, f);\n"
	"\t}\n"
	"}\n"
	"\n",
	"/* A length-prefixed value as a slice of the input; null is -1. */\n"
	"static KC__INLINE kc_err rd_slice(kc_reader *r, int kind, bool nullok,\n"
	"\t\t\t      const uint8_t **p, int32_t *len, const char *f)\n"
	"{\n"
	"\tconst uint8_t *at = r->p;\n"
	"\tint32_t n = 0;\n"
	"\tKC__TRY(rd_len(r, kind, &n, KC_ERR_BAD_LENGTH, f));\n"
	"\tif (n < 0) {\n"
	"\t\tif (n != -1)\n"
	"\t\t\treturn kc__r_fail_at(r, at, KC_ERR_BAD_LENGTH, f);\n"
	"\t\tif (!nullok)\n"
	"\t\t\treturn kc__r_fail_at(r, at, KC_ERR_NULL, f);\n"
	"\t\t*p = NULL;\n"
	"\t\t*len = -1;\n"
	"\t\treturn KC_OK;\n"
	"\t}\n"
	"\tif ((size_t)n > kc__r_left(r))\n"
	"\t\treturn kc__r_fail_at(r, at, KC_ERR_BAD_LENGTH, f);\n"
	"\t*p = r->p;\n"
	"\t*len = n;\n"
	"\tr->p += n;\n"
	"\treturn KC_OK;\n"
	"}\n"
	"\n",
	"static KC__INLINE kc_err rd_str(kc_reader *r, kc_str *s, int kind, bool nullok,\n"
	"\t\t\t    const char *f)\n"
	"{\n"
	"\tconst uint8_t *p = NULL;\n"
	"\tKC__TRY(rd_slice(r, kind, nullok, &p, &s->len, f));\n"
	"\ts->ptr = (const char *)p;\n"
	"\treturn KC_OK;\n"
	"}\n"
	"\n",
	"static KC__INLINE kc_err rd_bytes(kc_reader *r, kc_bytes *s, int kind, bool nullok,\n"
	"\t\t\t      const char *f)\n"
	"{\n"
	"\treturn rd_slice(r, kind, nullok, &s->ptr, &s->len, f);\n"
	"}\n"
	"\n",
	"/* An array count, checked against the bytes left before anything is\n"
	" * allocated: each element takes at least `min` bytes. */\n"
	"static KC__INLINE kc_err rd_count(kc_reader *r, int32_t *n, int kind, bool nullok,\n"
	"\t\t\t      size_t min, const char *f)\n"
	"{\n"
	"\tconst uint8_t *at = r->p;\n"
	"\tKC__TRY(rd_len(r, kind, n, KC_ERR_BAD_COUNT, f));\n"
	"\tif (*n > 0) {\n"
	"\t\t/* min is a constant here: no division at run time */\n"
	"\t\tif ((size_t)*n > kc__r_left(r) / min)\n"
	"\t\t\treturn kc__r_fail_at(r, at, KC_ERR_BAD_COUNT, f);\n"
	"\t\treturn KC_OK;\n"
	"\t}\n"
	"\tif (*n == -1 && !nullok)\n"
	"\t\treturn kc__r_fail_at(r, at, KC_ERR_NULL, f);\n"
	"\tif (*n < -1)\n"
	"\t\treturn kc__r_fail_at(r, at, KC_ERR_BAD_COUNT, f);\n"
	"\treturn KC_OK;\n"
	"}\n"
	"\n",
	"/* Skip a tagged-field section whose tags this struct does not know. */\n"
	"static kc_err rd_skip_tags(kc_reader *r, const char *f)\n"
	"{\n"
	"\tconst uint8_t *at = r->p;\n"
	"\tuint32_t n = 0;\n"
	"\tKC__TRY(kc__r_uvarint(r, &n, f));\n"
	"\tKC__TRY(kc__r_check_count(r, at, n, 2, f));\n"
	"\tint64_t last = -1;\n"
	"\tfor (uint32_t i = 0; i < n; i++) {\n"
	"\t\tconst uint8_t *tat = r->p;\n"
	"\t\tuint32_t tag = 0, size = 0;\n"
	"\t\tKC__TRY(kc__r_uvarint(r, &tag, f));\n"
	"\t\tif ((int64_t)tag <= last)\n"
	"\t\t\treturn kc__r_fail_at(r, tat, KC_ERR_TAG_ORDER, f);\n"
	"\t\tlast = tag;\n"
	"\t\tKC__TRY(kc__r_uvarint(r, &size, f));\n"
	"\t\tif (size > kc__r_left(r))\n"
	"\t\t\treturn kc__r_fail(r, KC_ERR_BAD_LENGTH, f);\n"
	"\t\tr->p += size;\n"
	"\t}\n"
	"\treturn KC_OK;\n"
	"}\n"
	"\n",
	"static KC__INLINE void wr_len(kc_writer *w, int kind, int32_t n)\n"
	"{\n"
	"\tswitch (kind) {\n"
	"\tcase L_I16:\n"
	"\t\tkc__w_i16(w, (int16_t)n);\n"
	"\t\tbreak;\n"
	"\tcase L_I32:\n"
	"\t\tkc__w_i32(w, n);\n"
	"\t\tbreak;\n"
	"\tcase L_COMPACT:\n"
	"\t\tkc__w_uvarint(w, (uint32_t)n + 1u); /* -1 (null) becomes 0 */\n"
	"\t\tbreak;\n"
	"\tdefault:\n"
	"\t\tkc__w_varint(w, n);\n"
	"\t\tbreak;\n"
	"\t}\n"
	"}\n"
	"\n",
	"static KC__INLINE size_t sz_len(int kind, int32_t n)\n"
	"{\n"
	"\tswitch (kind) {\n"
	"\tcase L_I16:\n"
	"\t\treturn 2;\n"
	"\tcase L_I32:\n"
	"\t\treturn 4;\n"
	"\tcase L_COMPACT:\n"
	"\t\treturn kc__uvarint_size((uint32_t)n + 1u);\n"
	"\tdefault:\n"
	"\t\treturn kc__varint_size(n);\n"
	"\t}\n"
	"}\n"
	"\n",
	"/* KC_OK when n (a length or count, -1 = null) fits the prefix. */\n"
	"static KC__INLINE kc_err ok_len(int kind, int32_t n, bool nullok)\n"
	"{\n"
	"\tif (n == -1)\n"
	"\t\treturn nullok ? KC_OK : KC_ERR_NULL;\n"
	"\tif (n < -1 || (kind == L_I16 && n > INT16_MAX))\n"
	"\t\treturn KC_ERR_INVALID_ARG;\n"
	"\treturn KC_OK;\n"
	"}\n"
	"\n",
	"static KC__INLINE kc_err wr_slice(kc_writer *w, const void *p, int32_t len, int kind,\n"
	"\t\t\t      bool nullok)\n"
	"{\n"
	"\tKC__TRY(ok_len(kind, len, nullok));\n"
	"\tif (len > 0 && !p)\n"
	"\t\treturn KC_ERR_INVALID_ARG;\n"
	"\twr_len(w, kind, len);\n"
	"\tif (len > 0)\n"
	"\t\tkc__w_raw(w, p, (size_t)len);\n"
	"\treturn KC_OK;\n"
	"}\n"
	"\n",
	"static KC__INLINE kc_err wr_str(kc_writer *w, kc_str s, int kind, bool nullok)\n"
	"{\n"
	"\treturn wr_slice(w, s.ptr, s.len, kind, nullok);\n"
	"}\n"
	"\n",
	"static KC__INLINE kc_err wr_bytes(kc_writer *w, kc_bytes s, int kind, bool nullok)\n"
	"{\n"
	"\treturn wr_slice(w, s.ptr, s.len, kind, nullok);\n"
	"}\n"
	"\n",
	"static KC__INLINE kc_err wr_count(kc_writer *w, int32_t n, bool have, int kind,\n"
	"\t\t\t      bool nullok)\n"
	"{\n"
	"\tKC__TRY(ok_len(kind, n, nullok));\n"
	"\tif (n > 0 && !have)\n"
	"\t\treturn KC_ERR_INVALID_ARG;\n"
	"\twr_len(w, kind, n);\n"
	"\treturn KC_OK;\n"
	"}\n"
	"\n",
	"static KC__INLINE size_t sz_str(kc_str s, int kind)\n"
	"{\n"
	"\treturn sz_len(kind, s.len) + (s.len > 0 ? (size_t)s.len : 0);\n"
	"}\n"
	"\n",
	"static KC__INLINE size_t sz_bytes(kc_bytes s, int kind)\n"
	"{\n"
	"\treturn sz_len(kind, s.len) + (s.len > 0 ? (size_t)s.len : 0);\n"
	"}\n"
	"\n",
	"static inline bool uuid_zero(const kc_uuid *u)\n"
	"{\n"
	"\tstatic const kc_uuid zero;\n"
	"\treturn memcmp(u->b, zero.b, sizeof zero.b) == 0;\n"
	"}\n"
	"\n",
};

static const char *const rt_compress[] = {
	"/* Decompress n bytes at src (codec from kafkit/compress.h) into the arena,\n"
	" * where they outlive the slices decoded from them. */\n"
	"static kc_err rd_inflate(kc_reader *r, const uint8_t *src, size_t n, int codec,\n"
	"\t\t\t unsigned flags, kc_arena *arena, const uint8_t **out,\n"
	"\t\t\t size_t *out_len, const char *f)\n"
	"{\n"
	"\tsize_t cap = r->max_decompressed ? r->max_decompressed\n"
	"\t\t\t\t\t : KC_DEFAULT_MAX_DECOMPRESSED;\n"
	"\tuint8_t *buf = NULL;\n"
	"\tsize_t len = 0;\n"
	"\tkc_err e = kc_decompress(codec, flags, src, n, cap, &buf, &len);\n"
	"\tif (e != KC_OK)\n"
	"\t\treturn kc__r_fail_at(r, src, e, f);\n"
	"\tuint8_t *copy = kc_arena_alloc(arena, len);\n"
	"\tif (!copy) {\n"
	"\t\tkc_free(buf);\n"
	"\t\treturn kc__r_fail_at(r, src, KC_ERR_NOMEM, f);\n"
	"\t}\n"
	"\tif (len)\n"
	"\t\tmemcpy(copy, buf, len);\n"
	"\tkc_free(buf);\n"
	"\t*out = copy;\n"
	"\t*out_len = len;\n"
	"\treturn KC_OK;\n"
	"}\n"
	"\n",
	"/* Decompress the rest of r; *z reads the result (error offsets count\n"
	" * from its start). */\n"
	"static kc_err rd_inflate_rest(kc_reader *r, kc_reader *z, int codec,\n"
	"\t\t\t      unsigned flags, kc_arena *arena, const char *f)\n"
	"{\n"
	"\tconst uint8_t *p = NULL;\n"
	"\tsize_t n = 0;\n"
	"\tKC__TRY(rd_inflate(r, r->p, kc__r_left(r), codec, flags, arena, &p, &n, f));\n"
	"\tr->p = r->end;\n"
	"\t*z = *r;\n"
	"\tz->p = z->base = p;\n"
	"\tz->end = p + n;\n"
	"\treturn KC_OK;\n"
	"}\n"
	"\n",
	"/* Compress n bytes and append them, after a prefix of `kind` unless\n"
	" * kind < 0. */\n"
	"static kc_err wr_deflate(kc_writer *w, int codec, unsigned flags,\n"
	"\t\t\t const uint8_t *p, size_t n, int kind)\n"
	"{\n"
	"\tstatic const uint8_t none[1];\n"
	"\tuint8_t *z = NULL;\n"
	"\tsize_t zn = 0;\n"
	"\tKC__TRY(kc_compress(codec, KC_LEVEL_DEFAULT, flags, p ? p : none, n, &z, &zn));\n"
	"\tif (kind >= 0 && (zn > INT32_MAX || ok_len(kind, (int32_t)zn, false))) {\n"
	"\t\tkc_free(z);\n"
	"\t\treturn KC_ERR_INVALID_ARG;\n"
	"\t}\n"
	"\tif (kind >= 0)\n"
	"\t\twr_len(w, kind, (int32_t)zn);\n"
	"\tkc_writer_copy(w, z, zn);\n"
	"\tkc_free(z);\n"
	"\treturn KC_OK;\n"
	"}\n"
	"\n",
	"/* Compressed size of n bytes; 0 when compression fails (encode then\n"
	" * reports the error). */\n"
	"static size_t sz_deflate(int codec, unsigned flags, const uint8_t *p, size_t n)\n"
	"{\n"
	"\tstatic const uint8_t none[1];\n"
	"\tuint8_t *z = NULL;\n"
	"\tsize_t zn = 0;\n"
	"\tif (kc_compress(codec, KC_LEVEL_DEFAULT, flags, p ? p : none, n, &z, &zn))\n"
	"\t\treturn 0;\n"
	"\tkc_free(z);\n"
	"\treturn zn;\n"
	"}\n"
	"\n",
};

typedef struct uses {
	bool comp, crc;
} uses;

static uses schema_uses(const slist *order)
{
	uses u = {0};
	for (size_t i = 0; i < order->n; i++)
		for (size_t k = 0; k < order->v[i]->nfields; k++) {
			const kg_field *f = order->v[i]->fields[k];
			u.comp |= f->comp != NULL;
			u.crc |= f->crc != KG_CRC_NONE;
		}
	return u;
}

/* Tables of minimum struct sizes per version, for structs that are array
 * elements and whose minimum varies with the version. */
static void emit_min_tables(buf *b, const slist *order)
{
	bool need[order->n ? order->n : 1];
	memset(need, 0, sizeof need);
	for (size_t i = 0; i < order->n; i++)
		for (size_t k = 0; k < order->v[i]->nfields; k++) {
			const kg_field *f = order->v[i]->fields[k];
			if (f->type.kind != KG_T_ARRAY || f->type.elem->kind != KG_T_STRUCT)
				continue;
			if (strncmp(elem_min_expr(f, order->v[i]->decl), "minsz_", 6))
				continue;
			for (size_t j = 0; j < order->n; j++)
				if (order->v[j] == f->type.elem->st)
					need[j] = true;
		}
	for (size_t i = 0; i < order->n; i++) {
		if (!need[i])
			continue;
		const kg_struct *s = order->v[i];
		const kg_decl *d = s->decl;
		out(b, "/* Fewest bytes a %s takes, by version from %d. */\n", s->name,
		    d->versions.lo);
		out(b, "static const uint32_t minsz_%s[] = {", sname(s));
		for (int v = d->versions.lo; v <= d->versions.hi; v++) {
			int m = struct_min(s, v);
			out(b, "%s%d", v == d->versions.lo ? "" : ", ", m < 1 ? 1 : m);
		}
		out(b, "};\n\n");
	}
}

static const char *api_name(const kg_decl *d)
{
	const char *suffix = d->kind == KG_REQUEST ? "Request" : "Response";
	size_t n = strlen(d->name), k = strlen(suffix);
	if (n > k && strcmp(d->name + n - k, suffix) == 0)
		return kg_strndup(d->name, n - k);
	return d->name;
}

static void emit_tables(buf *b, const kg_schema *sc)
{
	for (size_t i = 0; i < sc->ndecls; i++) {
		const kg_decl *d = sc->decls[i];
		const char *c = d->root->cname;
		out(b, "static void v_init_%s(void *m)\n{\n\t%s_init(m);\n}\n", d->stem, c);
		out(b, "static kc_err v_encode_%s(kc_writer *w, const void *m, int16_t v)\n"
		       "{\n\treturn %s_encode(w, m, v);\n}\n", d->stem, c);
		out(b, "static kc_err v_decode_%s(kc_reader *r, void *m, int16_t v,\n"
		       "\t\t\t%*skc_arena *a)\n{\n\treturn %s_decode(r, m, v, a);\n}\n",
		    d->stem, (int)strlen(d->stem), "", c);
		out(b, "static size_t v_size_%s(const void *m, int16_t v)\n"
		       "{\n\treturn %s_size(m, v);\n}\n", d->stem, c);
		out(b, "const kc_msg_type %s_type = {\n", c);
		out(b, "\t\"%s\", sizeof(%s), %d, %d, %d,\n", d->name, c, d->versions.lo,
		    d->versions.hi, kg_range_empty(d->flexible) ? KG_VMAX : d->flexible.lo);
		out(b, "\tv_init_%s, v_encode_%s, v_decode_%s, v_size_%s,\n};\n\n", d->stem,
		    d->stem, d->stem, d->stem);
	}
	out(b, "static const kc_msg_type *const msg_types[] = {\n");
	for (size_t i = 0; i < sc->ndecls; i++)
		out(b, "\t&%s_type,\n", sc->decls[i]->root->cname);
	out(b, "};\n\n");
	out(b, "const kc_msg_type *kc_msg_type_at(size_t i)\n{\n"
	       "\treturn i < sizeof msg_types / sizeof msg_types[0] ? msg_types[i] : NULL;\n}\n\n");

	/* APIs by key */
	out(b, "/* Sorted by key for kc_api_find(). */\n");
	out(b, "static const kc_api apis[] = {\n");
	size_t napi = 0;
	for (int key = 0; key <= INT16_MAX; key++) {
		const kg_decl *rq = NULL, *rs = NULL;
		for (size_t i = 0; i < sc->ndecls; i++) {
			const kg_decl *d = sc->decls[i];
			if (!d->has_apikey || d->apikey != key)
				continue;
			if (d->kind == KG_REQUEST)
				rq = d;
			else
				rs = d;
		}
		if (!rq && !rs)
			continue;
		const kg_decl *m = rq ? rq : rs;
		out(b, "\t{%d, \"%s\", %d, %d, %d, %s%s%s, %s%s%s},\n", key, api_name(m),
		    m->versions.lo, m->versions.hi,
		    kg_range_empty(m->flexible) ? KG_VMAX : m->flexible.lo,
		    rq ? "&" : "", rq ? rq->root->cname : "NULL", rq ? "_type" : "",
		    rs ? "&" : "", rs ? rs->root->cname : "NULL", rs ? "_type" : "");
		napi++;
	}
	if (napi == 0)
		out(b, "\t{0, NULL, 0, 0, 0, NULL, NULL},\n");
	out(b, "};\n\n");
	out(b, "static const size_t napis = %zu;\n\n", napi);
	out(b, "%s",
	    "const kc_api *kc_api_find(int16_t api_key)\n"
	    "{\n"
	    "\tsize_t lo = 0, hi = napis;\n"
	    "\twhile (lo < hi) {\n"
	    "\t\tsize_t mid = lo + (hi - lo) / 2;\n"
	    "\t\tif (apis[mid].key == api_key)\n"
	    "\t\t\treturn &apis[mid];\n"
	    "\t\tif (apis[mid].key < api_key)\n"
	    "\t\t\tlo = mid + 1;\n"
	    "\t\telse\n"
	    "\t\t\thi = mid;\n"
	    "\t}\n"
	    "\treturn NULL;\n"
	    "}\n"
	    "\n"
	    "const kc_api *kc_api_at(size_t i)\n"
	    "{\n"
	    "\treturn i < napis ? &apis[i] : NULL;\n"
	    "}\n"
	    "\n"
	    "int16_t kc_request_header_version(int16_t api_key, int16_t api_version)\n"
	    "{\n"
	    "\tconst kc_api *a = kc_api_find(api_key);\n"
	    "\tif (!a || !a->request)\n"
	    "\t\treturn -1;\n"
	    "\tif (api_key == 7 && api_version == 0)\n"
	    "\t\treturn 0; /* ControlledShutdown v0 predates client_id */\n"
	    "\treturn api_version >= a->request->flexible_min ? 2 : 1;\n"
	    "}\n"
	    "\n"
	    "int16_t kc_response_header_version(int16_t api_key, int16_t api_version)\n"
	    "{\n"
	    "\tconst kc_api *a = kc_api_find(api_key);\n"
	    "\tif (!a || !a->response)\n"
	    "\t\treturn -1;\n"
	    "\t/* ApiVersions: v0 header always, so a client can read it before it\n"
	    "\t * knows what the broker speaks (KIP-511) */\n"
	    "\tif (api_key == 18)\n"
	    "\t\treturn 0;\n"
	    "\treturn api_version >= a->response->flexible_min ? 1 : 0;\n"
	    "}\n");
}

static void emit_source(buf *b, const kg_schema *sc, const slist *order)
{
	uses u = schema_uses(order);
	out(b, "/* Generated by kafkit-gen; do not edit. See messages.h. */\n");
	out(b, "#include <string.h>\n\n#include \"buf_int.h\"\n");
	if (u.comp)
		out(b, "#include \"kafkit/compress.h\"\n");
	if (u.crc)
		out(b, "#include \"kafkit/crc.h\"\n");
	out(b, "#include \"messages.h\"\n\n");
	buf code = {0}, *ob = b;
	b = &code;
	for (size_t i = 0; i < order->n; i++) {
		const kg_struct *s = order->v[i];
		out(b, "/* ---- %s ---- */\n\n", is_root(s) ? s->name : s->path);
		emit_isdef(b, s);
		for (size_t k = 0; k < s->nfields; k++) {
			if (s->fields[k]->count)
				emit_count_helpers(b, s, s->fields[k]);
			if (s->fields[k]->comp)
				emit_comp_helpers(b, s, s->fields[k]);
		}
		emit_rest(b, s);
		emit_size(b, s);
		emit_enc(b, s);
		if (has_tagged(s) && !kg_range_empty(s->decl->flexible))
			emit_tags_dec(b, s);
		emit_dec(b, s);
		emit_init(b, s);
		emit_public(b, s);
	}
	emit_tables(b, sc);
	buf rt = {0};
	put_used(&rt, rt_compress, sizeof rt_compress / sizeof rt_compress[0], code.p);
	put_used(ob, rt_prefix, sizeof rt_prefix / sizeof rt_prefix[0],
		 kg_fmt("%s%s", code.p, rt.p ? rt.p : ""));
	if (rt.p)
		out(ob, "%s", rt.p);
	emit_min_tables(ob, order);
	out(ob, "%s", code.p);
}

/* ---- messages_test.c ------------------------------------------------------- */

static const char *const rt_test[] = {
	"/* Deterministic values: xorshift64. */\n"
	"typedef struct rng {\n"
	"\tuint64_t s;\n"
	"} rng;\n"
	"\n",
	"static uint32_t rnd(rng *g)\n"
	"{\n"
	"\tg->s ^= g->s << 13;\n"
	"\tg->s ^= g->s >> 7;\n"
	"\tg->s ^= g->s << 17;\n"
	"\treturn (uint32_t)(g->s >> 16);\n"
	"}\n"
	"\n",
	"static int pick(rng *g, int n)\n"
	"{\n"
	"\treturn (int)(rnd(g) % (uint32_t)n);\n"
	"}\n"
	"\n",
	"static uint8_t *rnd_fill(rng *g, kc_arena *a, int32_t *len, int min, bool text)\n"
	"{\n"
	"\t*len = min + pick(g, text ? 8 : 24);\n"
	"\tuint8_t *p = kc_arena_alloc(a, (size_t)*len);\n"
	"\tif (!p) {\n"
	"\t\t*len = 0;\n"
	"\t\treturn NULL;\n"
	"\t}\n"
	"\tfor (int32_t i = 0; i < *len; i++)\n"
	"\t\tp[i] = text ? (uint8_t)('a' + pick(g, 26)) : (uint8_t)rnd(g);\n"
	"\treturn p;\n"
	"}\n"
	"\n",
	"static kc_str rnd_str(rng *g, kc_arena *a, int min)\n"
	"{\n"
	"\tkc_str s;\n"
	"\ts.ptr = (const char *)rnd_fill(g, a, &s.len, min, true);\n"
	"\treturn s;\n"
	"}\n"
	"\n",
	"static kc_bytes rnd_bytes(rng *g, kc_arena *a, int min)\n"
	"{\n"
	"\tkc_bytes s;\n"
	"\ts.ptr = rnd_fill(g, a, &s.len, min, false);\n"
	"\treturn s;\n"
	"}\n"
	"\n",
	"static void rnd_uuid(rng *g, kc_uuid *u)\n"
	"{\n"
	"\tfor (size_t i = 0; i < sizeof u->b; i++)\n"
	"\t\tu->b[i] = (uint8_t)rnd(g);\n"
	"\tu->b[0] |= 1; /* never the zero uuid */\n"
	"}\n"
	"\n",
	"static void *rnd_array(rng *g, kc_arena *a, size_t elem, int32_t *n)\n"
	"{\n"
	"\t*n = pick(g, 4);\n"
	"\tvoid *p = *n ? kc_arena_alloc(a, (size_t)*n * elem) : NULL;\n"
	"\tif (!p)\n"
	"\t\t*n = 0;\n"
	"\treturn p;\n"
	"}\n"
	"\n",
	"/* \"a.b\" into p, cut to n bytes. */\n"
	"static void join(char *p, size_t n, const char *a, const char *b)\n"
	"{\n"
	"\tif (snprintf(p, n, \"%s.%s\", a, b) >= (int)n)\n"
	"\t\tp[n - 1] = '\\0';\n"
	"}\n"
	"\n"
	"static int differ(char *diff, size_t n, const char *path, const char *name,\n"
	"\t\t  const char *what)\n"
	"{\n"
	"\tchar p[512];\n"
	"\tjoin(p, sizeof p, path, name);\n"
	"\tif (n && snprintf(diff, n, \"%s: %s\", p, what) >= (int)n)\n"
	"\t\tdiff[n - 1] = '\\0';\n"
	"\treturn 0;\n"
	"}\n"
	"\n",
	"static const char *show(char *b, size_t n, const void *p, int32_t len)\n"
	"{\n"
	"\tif (len < 0)\n"
	"\t\tsnprintf(b, n, \"null\");\n"
	"\telse\n"
	"\t\tsnprintf(b, n, \"%d bytes \\\"%.*s\\\"\", (int)len, (int)(len > 16 ? 16 : len),\n"
	"\t\t\t (const char *)p);\n"
	"\treturn b;\n"
	"}\n"
	"\n",
	"static int differ_slice(char *diff, size_t n, const char *path, const char *name,\n"
	"\t\t\tconst void *a, int32_t alen, const void *b, int32_t blen)\n"
	"{\n"
	"\tchar x[64], y[64], w[160];\n"
	"\tsnprintf(w, sizeof w, \"%s != %s\", show(x, sizeof x, a, alen),\n"
	"\t\t show(y, sizeof y, b, blen));\n"
	"\treturn differ(diff, n, path, name, w);\n"
	"}\n"
	"\n",
	"static int differ_num(char *diff, size_t n, const char *path, const char *name,\n"
	"\t\t      long long a, long long b)\n"
	"{\n"
	"\tchar w[64];\n"
	"\tsnprintf(w, sizeof w, \"%lld != %lld\", a, b);\n"
	"\treturn differ(diff, n, path, name, w);\n"
	"}\n"
	"\n",
};

/* Statements filling lv (type t) with a non-default value. */
static void fill_value(buf *b, const kg_type *t, const char *lv, const kg_field *f,
		       bool elem)
{
	const kg_value *v = &f->dflt;
	switch (t->kind) {
	case KG_T_SCALAR:
		switch (t->scalar) {
		case KG_UUID:
			ln(b, "rnd_uuid(g, &%s);", lv);
			return;
		case KG_BOOL:
			ln(b, "%s = %s;", lv, !elem && v->kind == KG_V_BOOL && v->b ? "false" : "true");
			return;
		case KG_FLOAT64:
			ln(b, "%s = (double)(int32_t)rnd(g) / 8.0 + 0.5;", lv);
			return;
		default: {
			const char *ct = scalar_ctype(t->scalar);
			ln(b, "%s = (%s)rnd(g);", lv, ct);
			if (t->scalar == KG_INT64 || t->scalar == KG_VARLONG)
				ln(b, "%s = (%s)((uint64_t)%s << 20 ^ rnd(g));", lv, ct, lv);
			if (!elem) {
				const char *dv = v->kind == KG_V_INT ? int_lit(v->i, t->scalar) : "0";
				ln(b, "if (%s == %s)", lv, dv);
				ln(b, "\t%s = (%s)(%s ^ 1);", lv, ct, lv);
			}
			return;
		}
		}
	case KG_T_STRING: {
		int min = !elem && !(v->kind == KG_V_NULL) ? 1 : 0;
		ln(b, "%s = rnd_str(g, a, %d);", lv, min);
		return;
	}
	case KG_T_BYTES:
	case KG_T_RECORDS: {
		bool null_dflt = v->kind == KG_V_NULL ||
				 (t->kind == KG_T_RECORDS && v->kind == KG_V_NONE);
		ln(b, "%s = rnd_bytes(g, a, %d);", lv, !elem && !null_dflt ? 1 : 0);
		return;
	}
	case KG_T_STRUCT:
		ln(b, "fill_%s(&%s, version, g, a);", sname(t->st), lv);
		return;
	case KG_T_ARRAY:
		break;
	}
	const kg_type *e = t->elem;
	const char *cnt = f->count ? kg_fmt("m->%s", f->count->name) : kg_fmt("%s_count", lv);
	ln(b, "{");
	ln(b, "int32_t n;");
	ln(b, "%s *e = rnd_array(g, a, sizeof *e, &n);", elem_ctype(e));
	ln(b, "for (int32_t i = 0; i < n; i++) {");
	if (e->kind == KG_T_STRUCT)
		ln(b, "%s_init(&e[i]);", e->st->cname);
	fill_value(b, e, "e[i]", f, true);
	ln(b, "}");
	ln(b, "%s = e;", lv);
	if (f->count)
		ln(b, "%s = (%s)n;", cnt, scalar_ctype(f->count->type.scalar));
	else
		ln(b, "%s = n;", cnt);
	ln(b, "}");
}

static void emit_fill(buf *b, const kg_struct *s)
{
	const kg_decl *d = s->decl;
	buf body = {0};
	body.ind = 1;
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		if (computed(f) || f->count_of)
			continue;
		const char *lv = kg_fmt("m->%s", f->name);
		const char *inv = vcond(f->versions, d);
		if (is0(inv))
			continue;
		const char *c = inv;
		const char *tg = vcond(f->tagged, d);
		/* tagged fields stay at their default now and then */
		if (!is0(tg))
			c = c_and(c, kg_fmt("(%s || pick(g, 3) != 0)", c_not(tg)));
		bool o = open_if(&body, c);
		const char *nl = vcond(f->nullable, d);
		if (!is0(nl)) {
			ln(&body, "if (%s) {", c_and(nl, "pick(g, 4) == 0"));
			if (f->type.kind == KG_T_STRING)
				ln(&body, "%s = KC_STR_NULL;", lv);
			else if (f->type.kind == KG_T_ARRAY)
				ln(&body, "%s = NULL;\n%*s%s_count = -1;", lv, body.ind, "", lv);
			else
				ln(&body, "%s = KC_BYTES_NULL;", lv);
			ln(&body, "} else {");
			fill_value(&body, &f->type, lv, f, false);
			ln(&body, "}");
		} else {
			fill_value(&body, &f->type, lv, f, false);
		}
		close_if(&body, o);
		if (f->comp) {
			/* a codec the format allows: zstd only from magic 2 */
			const kg_field *c2 = f->comp;
			ln(&body, "%s = (%s)((m->%s & ~7) | pick(g, version >= 2 ? 5 : 4));",
			   kg_fmt("m->%s", c2->name), scalar_ctype(c2->type.scalar), c2->name);
		}
	}
	emit_fn(b, kg_fmt("static void fill_%s(%s *m, int16_t version, rng *g, kc_arena *a)",
			  sname(s), s->cname), "m version g a", &body);
}

/* Statements comparing a->lv with b->lv; `name` names it in the diff. */
static void eq_value(buf *b, const kg_type *t, const char *x, const char *y,
		     const char *name, const kg_field *f)
{
	switch (t->kind) {
	case KG_T_SCALAR:
		if (t->scalar == KG_UUID) {
			ln(b, "if (memcmp(%s.b, %s.b, 16) != 0)", x, y);
			ln(b, "\treturn differ(diff, n, path, %s, \"uuids differ\");", name);
		} else if (t->scalar == KG_FLOAT64) {
			ln(b, "if (%s != %s)", x, y);
			ln(b, "\treturn differ(diff, n, path, %s, \"doubles differ\");", name);
		} else {
			ln(b, "if (%s != %s)", x, y);
			ln(b, "\treturn differ_num(diff, n, path, %s, (long long)%s, (long long)%s);",
			   name, x, y);
		}
		return;
	case KG_T_STRING:
		ln(b, "if (!kc_str_eq(%s, %s))", x, y);
		ln(b, "\treturn differ_slice(diff, n, path, %s, %s.ptr, %s.len, %s.ptr, %s.len);",
		   name, x, x, y, y);
		return;
	case KG_T_BYTES:
	case KG_T_RECORDS:
		ln(b, "if (!kc_bytes_eq(%s, %s))", x, y);
		ln(b, "\treturn differ_slice(diff, n, path, %s, %s.ptr, %s.len, %s.ptr, %s.len);",
		   name, x, x, y, y);
		return;
	case KG_T_STRUCT:
		ln(b, "{");
		ln(b, "char p[512];");
		ln(b, "join(p, sizeof p, path, %s);", name);
		ln(b, "if (!eq_%s(&%s, &%s, version, p, diff, n))", sname(t->st), x, y);
		ln(b, "\treturn 0;");
		ln(b, "}");
		return;
	case KG_T_ARRAY:
		break;
	}
	const char *xc = f->count ? kg_fmt("(int32_t)a->%s", f->count->name) : kg_fmt("%s_count", x);
	const char *yc = f->count ? kg_fmt("(int32_t)b->%s", f->count->name) : kg_fmt("%s_count", y);
	if (!f->count) {
		ln(b, "if (%s != %s)", xc, yc);
		ln(b, "\treturn differ_num(diff, n, path, \"%s_count\", %s, %s);", f->name, xc, yc);
	}
	ln(b, "for (int32_t i = 0; i < %s; i++) {", xc);
	ln(b, "char nm[128];");
	ln(b, "snprintf(nm, sizeof nm, \"%s[%%d]\", (int)i);", f->name);
	eq_value(b, t->elem, kg_fmt("%s[i]", x), kg_fmt("%s[i]", y), "nm", f);
	ln(b, "}");
}

static void emit_eq(buf *b, const kg_struct *s)
{
	buf body = {0};
	body.ind = 1;
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		if (computed(f))
			continue;
		eq_value(&body, &f->type, kg_fmt("a->%s", f->name), kg_fmt("b->%s", f->name),
			 kg_fmt("\"%s\"", f->name), f);
	}
	ln(&body, "return 1;");
	emit_fn(b, kg_fmt("static int eq_%s(const %s *a, const %s *b, "
			  "int16_t version, const char *path, char *diff, size_t n)",
			  sname(s), s->cname, s->cname), "a b version path diff n", &body);
}

static void emit_test_source(buf *b, const kg_schema *sc, const slist *order)
{
	out(b, "/* Generated by kafkit-gen; do not edit. Test helpers, see\n"
	       " * messages_test.h. */\n");
	out(b, "#include <stdio.h>\n#include <string.h>\n\n#include \"messages_test.h\"\n\n");
	buf code = {0};
	for (size_t i = 0; i < order->n; i++) {
		emit_fill(&code, order->v[i]);
		emit_eq(&code, order->v[i]);
	}
	put_used(b, rt_test, sizeof rt_test / sizeof rt_test[0],
		 kg_fmt("%s kc__test_fill rnd", code.p));
	out(b, "%s", code.p);
	out(b, "void kc__test_fill(const kc_msg_type *t, void *m, int16_t version,\n"
	       "\t\t   uint32_t seed, kc_arena *arena)\n{\n"
	       "\trng g = {((uint64_t)seed << 1 | 1) * 0x9E3779B97F4A7C15u};\n"
	       "\tt->init(m);\n");
	for (size_t i = 0; i < sc->ndecls; i++) {
		const kg_struct *r = sc->decls[i]->root;
		out(b, "\t%sif (t == &%s_type)\n\t\tfill_%s(m, version, &g, arena);\n",
		    i ? "else " : "", r->cname, sname(r));
	}
	out(b, "}\n\n");
	out(b, "int kc__test_equal(const kc_msg_type *t, const void *a, const void *b,\n"
	       "\t\t    int16_t version, char *diff, size_t n)\n{\n"
	       "\tif (n)\n\t\tdiff[0] = '\\0';\n");
	for (size_t i = 0; i < sc->ndecls; i++) {
		const kg_struct *r = sc->decls[i]->root;
		out(b, "\tif (t == &%s_type)\n\t\treturn eq_%s(a, b, version, t->name, diff, n);\n",
		    r->cname, sname(r));
	}
	out(b, "\tif (n)\n\t\tsnprintf(diff, n, \"unknown message type\");\n\treturn 0;\n}\n");
}

static void emit_test_header(buf *b)
{
	out(b, "%s",
	    "/*\n"
	    " * kafkit codec: test-only helpers generated by kafkit-gen. Not installed.\n"
	    " */\n"
	    "#ifndef KAFKIT_MESSAGES_TEST_H\n#define KAFKIT_MESSAGES_TEST_H\n\n"
	    "#include \"messages.h\"\n\n"
	    "/* init() *m, then give every field that `version` carries a deterministic\n"
	    " * non-default value drawn from `seed`: nulls now and then where nullable,\n"
	    " * arrays of 0-3 elements, tagged fields sometimes left at their default,\n"
	    " * arbitrary bytes and records. Length, CRC and count fields are left to\n"
	    " * the encoder (a count field is set to its array's size); a compressed\n"
	    " * region gets a codec 0-4 (0-3 below version 2, i.e. legacy magic).\n"
	    " * Strings, bytes and arrays come from `arena`; on allocation failure\n"
	    " * they stay empty. Single-threaded per arena. */\n"
	    "void kc__test_fill(const kc_msg_type *t, void *m, int16_t version,\n"
	    "\t\t   uint32_t seed, kc_arena *arena);\n\n"
	    "/* 1 when *a and *b hold the same values (length and CRC fields are not\n"
	    " * compared), else 0 with the first difference described in diff\n"
	    " * (\"ProduceRequest.topic_data[0].name: ...\"; n bytes, NUL-terminated). */\n"
	    "int kc__test_equal(const kc_msg_type *t, const void *a, const void *b,\n"
	    "\t\t    int16_t version, char *diff, size_t n);\n\n"
	    "#endif\n");
}

/* ---- files ------------------------------------------------------------------ */

static int write_file(const char *dir, const char *name, const buf *b)
{
	const char *path = kg_fmt("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "kafkit-gen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t n = b->n ? fwrite(b->p, 1, b->n, f) : 0;
	if (n != b->n || fclose(f) != 0) {
		fprintf(stderr, "kafkit-gen: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

int kg_emit(const kg_schema *s, const char *dir, char *const *files, size_t nfiles)
{
	slist order = struct_order(s);
	mark_isdefs(&order);
	buf h = {0}, c = {0}, th = {0}, tc = {0};
	emit_header(&h, s, &order, files, nfiles);
	emit_source(&c, s, &order);
	emit_test_header(&th);
	emit_test_source(&tc, s, &order);
	if (write_file(dir, "messages.h", &h) || write_file(dir, "messages.c", &c) ||
	    write_file(dir, "messages_test.h", &th) ||
	    write_file(dir, "messages_test.c", &tc))
		return -1;
	return 0;
}
