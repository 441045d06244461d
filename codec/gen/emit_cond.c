/*
 * kafkit-gen: version conditions. Every condition is folded against the
 * declaration's versions (and the field's, inside a field) so generated
 * code checks only what can vary: "1" and "0" never reach the output as
 * an if.
 */
#include <string.h>

#include "emit_int.h"

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

const char *kg__vcond(kg_range r, const kg_decl *d)
{
	return vcond_in(r, d->versions);
}

/* The versions of the declaration the field's code runs in: a condition
 * inside it need not repeat what the enclosing if already checked. */
static kg_range field_ctx(const kg_field *f, const kg_decl *d)
{
	return kg_range_meet(f->versions, d->versions);
}

bool kg__is1(const char *c)
{
	return strcmp(c, "1") == 0;
}
bool kg__is0(const char *c)
{
	return strcmp(c, "0") == 0;
}

const char *kg__c_and(const char *a, const char *b)
{
	if (kg__is0(a) || kg__is0(b))
		return "0";
	if (kg__is1(a))
		return b;
	if (kg__is1(b))
		return a;
	return kg_fmt("%s && %s", a, b);
}

const char *kg__c_not(const char *a)
{
	if (kg__is0(a))
		return "1";
	if (kg__is1(a))
		return "0";
	return kg_fmt("!(%s)", a);
}

/* Versions in which the field is a regular (not tagged) field: its
 * versions less its tagged ones (one or two intervals). */
const char *kg__regular_cond(const kg_field *f, const kg_decl *d)
{
	kg_range v = field_ctx(f, d), t = kg_range_meet(f->tagged, v);
	if (kg_range_empty(t))
		return kg__vcond(v, d);
	kg_range below = {v.lo, t.lo - 1}, above = {t.hi + 1, v.hi};
	if (kg_range_empty(below))
		return kg__vcond(above, d);
	if (kg_range_empty(above))
		return kg__vcond(below, d);
	return kg_fmt("(%s) || (%s)", kg__vcond(below, d), kg__vcond(above, d));
}

/* Open "if (cond) {" unless cond is "1"; returns whether it did. */
bool kg__open_if(kg__buf *b, const char *cond)
{
	if (kg__is1(cond))
		return false;
	kg__ln(b, "if (%s) {", cond);
	return true;
}
void kg__close_if(kg__buf *b, bool opened)
{
	if (opened)
		kg__ln(b, "}");
}

/* Prefix kind expression of a string/bytes/records/array value. `flex` is
 * the field's flexible condition (or "1" inside a tag section). */
const char *kg__kind_expr(const kg_type *t, const char *flex)
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
	if (kg__is1(flex))
		return "L_COMPACT";
	if (kg__is0(flex))
		return base;
	return kg_fmt("(%s ? L_COMPACT : %s)", flex, base);
}

const char *kg__flex_of(const kg_field *f, const kg_decl *d)
{
	return vcond_in(f->flexible, field_ctx(f, d));
}

const char *kg__null_of(const kg_field *f, const kg_decl *d)
{
	const char *c = vcond_in(f->nullable, field_ctx(f, d));
	if (kg__is1(c))
		return "true";
	if (kg__is0(c))
		return "false";
	return kg_fmt("(%s)", c);
}

