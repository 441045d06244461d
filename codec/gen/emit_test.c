/*
 * kafkit-gen: messages_test.h and messages_test.c, the helpers the codec's
 * message suite uses to fill every message with deterministic values and
 * to compare two decoded messages field by field.
 */
#include "emit_int.h"

/* Statements filling lv (type t) with a non-default value. */
static void fill_value(kg__buf *b, const kg_type *t, const char *lv, const kg_field *f,
		       bool elem)
{
	const kg_value *v = &f->dflt;
	switch (t->kind) {
	case KG_T_SCALAR:
		switch (t->scalar) {
		case KG_UUID:
			kg__ln(b, "rnd_uuid(g, &%s);", lv);
			return;
		case KG_BOOL:
			kg__ln(b, "%s = %s;", lv,
			       !elem && v->kind == KG_V_BOOL && v->b ? "false" : "true");
			return;
		case KG_FLOAT64:
			kg__ln(b, "%s = (double)(int32_t)rnd(g) / 8.0 + 0.5;", lv);
			return;
		default: {
			const char *ct = kg__scalar_ctype(t->scalar);
			kg__ln(b, "%s = (%s)rnd(g);", lv, ct);
			if (t->scalar == KG_INT64 || t->scalar == KG_VARLONG)
				kg__ln(b, "%s = (%s)((uint64_t)%s << 20 ^ rnd(g));", lv, ct, lv);
			if (!elem) {
				const char *dv =
					v->kind == KG_V_INT ? kg__int_lit(v->i, t->scalar) : "0";
				kg__ln(b, "if (%s == %s)", lv, dv);
				kg__ln(b, "\t%s = (%s)(%s ^ 1);", lv, ct, lv);
			}
			return;
		}
		}
	case KG_T_STRING: {
		int min = !elem && !(v->kind == KG_V_NULL) ? 1 : 0;
		kg__ln(b, "%s = rnd_str(g, a, %d);", lv, min);
		return;
	}
	case KG_T_BYTES:
	case KG_T_RECORDS: {
		bool null_dflt = v->kind == KG_V_NULL ||
				 (t->kind == KG_T_RECORDS && v->kind == KG_V_NONE);
		kg__ln(b, "%s = rnd_bytes(g, a, %d);", lv, !elem && !null_dflt ? 1 : 0);
		return;
	}
	case KG_T_STRUCT:
		kg__ln(b, "fill_%s(&%s, version, g, a);", kg__sname(t->st), lv);
		return;
	case KG_T_ARRAY:
		break;
	}
	const kg_type *e = t->elem;
	const char *cnt = f->count ? kg_fmt("m->%s", f->count->name) : kg_fmt("%s_count", lv);
	kg__ln(b, "{");
	kg__ln(b, "int32_t n;");
	kg__ln(b, "%s *e = rnd_array(g, a, sizeof *e, &n);", kg__elem_ctype(e));
	kg__ln(b, "for (int32_t i = 0; i < n; i++) {");
	if (e->kind == KG_T_STRUCT)
		kg__ln(b, "%s_init(&e[i]);", e->st->cname);
	fill_value(b, e, "e[i]", f, true);
	kg__ln(b, "}");
	kg__ln(b, "%s = e;", lv);
	if (f->count)
		kg__ln(b, "%s = (%s)n;", cnt, kg__scalar_ctype(f->count->type.scalar));
	else
		kg__ln(b, "%s = n;", cnt);
	kg__ln(b, "}");
}

static void emit_fill(kg__buf *b, const kg_struct *s)
{
	const kg_decl *d = s->decl;
	kg__buf body = kg__body_buf();
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		if (kg__computed(f) || f->count_of)
			continue;
		const char *lv = kg_fmt("m->%s", f->name);
		const char *inv = kg__vcond(f->versions, d);
		if (kg__is0(inv))
			continue;
		const char *c = inv;
		const char *tg = kg__vcond(f->tagged, d);
		/* tagged fields stay at their default now and then */
		if (!kg__is0(tg))
			c = kg__c_and(c, kg_fmt("(%s || pick(g, 3) != 0)", kg__c_not(tg)));
		bool o = kg__open_if(&body, c);
		const char *nl = kg__vcond(f->nullable, d);
		if (!kg__is0(nl)) {
			kg__ln(&body, "if (%s) {", kg__c_and(nl, "pick(g, 4) == 0"));
			if (f->type.kind == KG_T_STRING)
				kg__ln(&body, "%s = KC_STR_NULL;", lv);
			else if (f->type.kind == KG_T_ARRAY)
				kg__ln(&body, "%s = NULL;\n%*s%s_count = -1;", lv, body.ind, "",
				       lv);
			else
				kg__ln(&body, "%s = KC_BYTES_NULL;", lv);
			kg__ln(&body, "} else {");
			fill_value(&body, &f->type, lv, f, false);
			kg__ln(&body, "}");
		} else {
			fill_value(&body, &f->type, lv, f, false);
		}
		kg__close_if(&body, o);
		if (f->comp) {
			/* a codec the format allows: zstd only from magic 2 */
			const kg_field *c2 = f->comp;
			kg__ln(&body, "%s = (%s)((m->%s & ~7) | pick(g, version >= 2 ? 5 : 4));",
			       kg_fmt("m->%s",
				      c2->name), kg__scalar_ctype(c2->type.scalar), c2->name);
		}
	}
	kg__emit_fn(b, kg_fmt("static void fill_%s(%s *m, int16_t version, rng *g, kc_arena *a)",
			      kg__sname(s), s->cname), "m version g a", &body);
}

/* Statements comparing a->lv with b->lv; `name` names it in the diff. */
static void eq_value(kg__buf *b, const kg_type *t, const char *x, const char *y,
		     const char *name, const kg_field *f)
{
	switch (t->kind) {
	case KG_T_SCALAR:
		if (t->scalar == KG_UUID) {
			kg__ln(b, "if (memcmp(%s.b, %s.b, 16) != 0)", x, y);
			kg__ln(b, "\treturn differ(diff, n, path, %s, \"uuids differ\");", name);
		} else if (t->scalar == KG_FLOAT64) {
			kg__ln(b, "if (%s != %s)", x, y);
			kg__ln(b, "\treturn differ(diff, n, path, %s, \"doubles differ\");", name);
		} else {
			kg__ln(b, "if (%s != %s)", x, y);
			kg__ln(b,
			       "\treturn differ_num(diff, n, path, %s, (long long)%s, (long long)%s);",
			       name, x, y);
		}
		return;
	case KG_T_STRING:
		kg__ln(b, "if (!kc_str_eq(%s, %s))", x, y);
		kg__ln(b,
		       "\treturn differ_slice(diff, n, path, %s, %s.ptr, %s.len, %s.ptr, %s.len);",
		       name, x, x, y, y);
		return;
	case KG_T_BYTES:
	case KG_T_RECORDS:
		kg__ln(b, "if (!kc_bytes_eq(%s, %s))", x, y);
		kg__ln(b,
		       "\treturn differ_slice(diff, n, path, %s, %s.ptr, %s.len, %s.ptr, %s.len);",
		       name, x, x, y, y);
		return;
	case KG_T_STRUCT:
		kg__ln(b, "{");
		kg__ln(b, "char p[512];");
		kg__ln(b, "join(p, sizeof p, path, %s);", name);
		kg__ln(b, "if (!eq_%s(&%s, &%s, version, p, diff, n))", kg__sname(t->st), x, y);
		kg__ln(b, "\treturn 0;");
		kg__ln(b, "}");
		return;
	case KG_T_ARRAY:
		break;
	}
	const char *xc = f->count ? kg_fmt("(int32_t)a->%s", f->count->name) : kg_fmt("%s_count",
										      x);
	const char *yc = f->count ? kg_fmt("(int32_t)b->%s", f->count->name) : kg_fmt("%s_count",
										      y);
	if (!f->count) {
		kg__ln(b, "if (%s != %s)", xc, yc);
		kg__ln(b, "\treturn differ_num(diff, n, path, \"%s_count\", %s, %s);", f->name, xc,
		       yc);
	}
	kg__ln(b, "for (int32_t i = 0; i < %s; i++) {", xc);
	kg__ln(b, "char nm[128];");
	kg__ln(b, "snprintf(nm, sizeof nm, \"%s[%%d]\", (int)i);", f->name);
	eq_value(b, t->elem, kg_fmt("%s[i]", x), kg_fmt("%s[i]", y), "nm", f);
	kg__ln(b, "}");
}

static void emit_eq(kg__buf *b, const kg_struct *s)
{
	kg__buf body = kg__body_buf();
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		if (kg__computed(f))
			continue;
		eq_value(&body, &f->type, kg_fmt("a->%s", f->name), kg_fmt("b->%s", f->name),
			 kg_fmt("\"%s\"", f->name), f);
	}
	kg__ln(&body, "return 1;");
	kg__emit_fn(b, kg_fmt("static int eq_%s(const %s *a, const %s *b, "
			      "int16_t version, const char *path, char *diff, size_t n)",
			      kg__sname(s), s->cname, s->cname), "a b version path diff n", &body);
}

void kg__emit_test_source(kg__buf *b, const kg_schema *sc, const kg__slist *order)
{
	kg__out(b, "/* Generated by kafkit-gen; do not edit. Test helpers, see\n"
		   " * messages_test.h. */\n");
	kg__out(b, "#include <stdio.h>\n#include <string.h>\n\n#include \"messages_test.h\"\n\n");
	kg__buf code = {0};
	for (size_t i = 0; i < order->n; i++) {
		emit_fill(&code, order->v[i]);
		emit_eq(&code, order->v[i]);
	}
	kg__put_used(b, kg__rt_test, kg__rt_test_n, kg_fmt("%s kc__test_fill rnd", code.p));
	kg__out(b, "%s", code.p);
	kg__out(b, "void kc__test_fill(const kc_msg_type *t, void *m, int16_t version,\n"
		   "\t\t   uint32_t seed, kc_arena *arena)\n{\n"
		   "\trng g = {((uint64_t)seed << 1 | 1) * 0x9E3779B97F4A7C15u};\n"
		   "\tt->init(m);\n");
	for (size_t i = 0; i < sc->ndecls; i++) {
		const kg_struct *r = sc->decls[i]->root;
		kg__out(b, "\t%sif (t == &%s_type)\n\t\tfill_%s(m, version, &g, arena);\n",
			i ? "else " : "", r->cname, kg__sname(r));
	}
	kg__out(b, "}\n\n");
	kg__out(b, "int kc__test_equal(const kc_msg_type *t, const void *a, const void *b,\n"
		   "\t\t    int16_t version, char *diff, size_t n)\n{\n"
		   "\tif (n)\n\t\tdiff[0] = '\\0';\n");
	for (size_t i = 0; i < sc->ndecls; i++) {
		const kg_struct *r = sc->decls[i]->root;
		kg__out(b,
			"\tif (t == &%s_type)\n\t\treturn eq_%s(a, b, version, t->name, diff, n);\n",
			r->cname, kg__sname(r));
	}
	kg__out(b, "\tif (n)\n\t\tsnprintf(diff, n, \"unknown message type\");\n\treturn 0;\n}\n");
}

void kg__emit_test_header(kg__buf *b)
{
	kg__out(b, "%s",
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
