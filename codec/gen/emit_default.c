/*
 * kafkit-gen: default values. T_init() sets them; isdef_T() and the
 * encoder's checks ask whether a field still holds one (a tagged field at
 * its default is not written, and a version lacking a field can only
 * carry its default).
 */
#include "emit_int.h"

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

/* C literal of the default of a numeric (not bool or uuid) scalar field. */
static const char *num_default(const kg_field *f)
{
	const kg_value *v = &f->dflt;
	if (f->type.scalar == KG_FLOAT64)
		return v->kind == KG_V_INT ? kg_fmt("%lld.0", (long long)v->i) : "0.0";
	return v->kind == KG_V_INT ? kg__int_lit(v->i, f->type.scalar) : "0";
}

/* Statement(s) giving lv its default. */
void kg__emit_default(kg__buf *b, const kg_field *f, const char *lv)
{
	const kg_type *t = &f->type;
	const kg_value *v = &f->dflt;
	switch (t->kind) {
	case KG_T_SCALAR:
		if (t->scalar == KG_UUID)
			kg__ln(b, "memset(&%s, 0, sizeof %s);", lv, lv);
		else if (t->scalar == KG_BOOL)
			kg__ln(b, "%s = %s;", lv, v->kind == KG_V_BOOL && v->b ? "true" : "false");
		else
			kg__ln(b, "%s = %s;", lv, num_default(f));
		break;
	case KG_T_STRING:
		if (v->kind == KG_V_NULL)
			kg__ln(b, "%s = KC_STR_NULL;", lv);
		else if (v->kind == KG_V_STRING && v->slen)
			kg__ln(b, "%s = KC_STR_LIT(%s);", lv, kg__c_string(v->s, v->slen));
		else
			kg__ln(b, "%s = (kc_str){NULL, 0};", lv);
		break;
	case KG_T_BYTES:
	case KG_T_RECORDS:
		if (v->kind == KG_V_NULL ||
		    (t->kind == KG_T_RECORDS && v->kind == KG_V_NONE))
			kg__ln(b, "%s = KC_BYTES_NULL;", lv);
		else
			kg__ln(b, "%s = (kc_bytes){NULL, 0};", lv);
		break;
	case KG_T_ARRAY:
		kg__ln(b, "%s = NULL;", lv);
		if (!f->count)
			kg__ln(b, "%s_count = %d;", lv, v->kind == KG_V_NULL ? -1 : 0);
		break;
	case KG_T_STRUCT:
		kg__ln(b, "%s_init(&%s);", t->st->cname, lv);
		break;
	}
}

/* C expression: lv (the field f of struct pointer `m`) differs from its
 * default. */
const char *kg__nondefault(const kg_field *f, const char *m)
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
		return kg_fmt("%s != %s", lv, num_default(f));
	case KG_T_STRING:
		if (v->kind == KG_V_NULL)
			return kg_fmt("%s.len != -1", lv);
		if (v->kind == KG_V_STRING && v->slen)
			return kg_fmt("!kc_str_eq(%s, KC_STR_LIT(%s))", lv,
				      kg__c_string(v->s, v->slen));
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
		return kg_fmt("!isdef_%s(&%s)", kg__sname(t->st), lv);
	}
	return "1";
}

void kg__emit_init(kg__buf *b, const kg_struct *s)
{
	kg__ln(b, "void %s_init(%s *m)", s->cname, s->cname);
	kg__ln(b, "{");
	kg__ln(b, "memset(m, 0, sizeof *m);");
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
			kg__emit_default(b, f, kg_fmt("m->%s", f->name));
	}
	kg__ln(b, "}");
	kg__out(b, "\n");
}

void kg__emit_isdef(kg__buf *b, const kg_struct *s)
{
	if (!s->need_isdef)
		return;
	kg__buf body = kg__body_buf();
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		if (kg__computed(f) || f->count_of)
			continue;
		kg__ln(&body, "if (%s)", kg__nondefault(f, "m"));
		kg__ln(&body, "\treturn false;");
	}
	kg__ln(&body, "return true;");
	kg__emit_fn(b, kg_fmt("static inline bool isdef_%s(const %s *m)", kg__sname(s), s->cname),
		    "m", &body);
}

