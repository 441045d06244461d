/*
 * kafkit-gen: size_T(), the exact bytes enc_T() writes, plus rest_T()
 * (what a varint length field holds) and the cheap lower bound the
 * encoder uses to size that varint before writing what it covers.
 */
#include "emit_int.h"

/* Size statements adding one value of type t at lv to `acc`. */
void kg__size_value(kg__buf *b, const kg_type *t, const char *lv,
		    const char *flex, const char *acc)
{
	switch (t->kind) {
	case KG_T_SCALAR:
		switch (t->scalar) {
		case KG_VARINT:
			kg__ln(b, "%s += kc__varint_size(%s);", acc, lv);
			return;
		case KG_VARLONG:
			kg__ln(b, "%s += kc__varlong_size(%s);", acc, lv);
			return;
		case KG_UVARINT:
			kg__ln(b, "%s += kc__uvarint_size(%s);", acc, lv);
			return;
		default:
			kg__ln(b, "%s += %d;", acc, kg__scalar_width(t->scalar));
			return;
		}
	case KG_T_STRING:
		kg__ln(b, "%s += sz_str(%s, %s);", acc, lv, kg__kind_expr(t, flex));
		return;
	case KG_T_BYTES:
	case KG_T_RECORDS:
		kg__ln(b, "%s += sz_bytes(%s, %s);", acc, lv, kg__kind_expr(t, flex));
		return;
	case KG_T_STRUCT:
		kg__ln(b, "%s += size_%s(&%s, version);", acc, kg__sname(t->st), lv);
		return;
	case KG_T_ARRAY:
		break;
	}
	kg__ln(b, "%s += sz_len(%s, %s_count);", acc, kg__kind_expr(t, flex), lv);
	const kg_type *e = t->elem;
	if (e->kind == KG_T_SCALAR && kg__scalar_width(e->scalar)) {
		kg__ln(b, "if (%s_count > 0)", lv);
		b->ind++;
		kg__ln(b, "%s += (size_t)%s_count * %d;", acc, lv, kg__scalar_width(e->scalar));
		b->ind--;
		return;
	}
	kg__ln(b, "for (int32_t i = 0; i < %s_count; i++)", lv);
	b->ind++;
	kg__size_value(b, e, kg_fmt("%s[i]", lv), flex, acc);
	b->ind--;
}


/* Size statements for fields [from, nfields) and the tag section. */
static void size_fields(kg__buf *b, const kg_struct *s, size_t from, const char *acc);

static void size_field(kg__buf *b, const kg_struct *s, const kg_field *f,
		       const char *acc)
{
	const kg_decl *d = s->decl;
	const char *lv = kg_fmt("m->%s", f->name);
	if (f->is_length && f->type.scalar == KG_VARINT) {
		kg__ln(b, "{");
		kg__ln(b, "size_t rest = rest_%s(m, version);", kg__sname(s));
		kg__ln(b, "%s += kc__varint_size((int32_t)rest) + rest;", acc);
		kg__ln(b, "}");
		return;
	}
	if (f->comp) {
		kg__ln(b, "%s += zsize_%s_%s(m, version);", acc, kg__sname(s), f->name);
		return;
	}
	if (f->count) {
		kg__ln(b, "for (int32_t i = 0; i < (int32_t)m->%s; i++)", f->count->name);
		b->ind++;
		kg__size_value(b, f->type.elem, kg_fmt("%s[i]", lv), kg__flex_of(f, d), acc);
		b->ind--;
		return;
	}
	kg__size_value(b, &f->type, lv, kg__flex_of(f, d), acc);
}

static void size_tags(kg__buf *b, const kg_struct *s, const char *acc)
{
	const kg_decl *d = s->decl;
	const char *flex = kg__vcond(d->flexible, d);
	if (kg__is0(flex))
		return;
	const kg_field *tv[s->nfields ? s->nfields : 1];
	size_t nt = kg__tagged_sorted(s, tv);
	if (nt == 0) {
		bool o = kg__open_if(b, flex);
		kg__ln(b, "%s += 1; /* empty tagged-field section */", acc);
		kg__close_if(b, o);
		return;
	}
	bool o = kg__open_if(b, flex);
	kg__ln(b, "uint32_t ntags = 0;");
	for (size_t i = 0; i < nt; i++) {
		const kg_field *f = tv[i];
		kg__ln(b, "if (%s) {", kg__c_and(kg__vcond(f->tagged, d), kg__nondefault(f, "m")));
		kg__ln(b, "size_t sz = 0;");
		kg__size_value(b, &f->type, kg_fmt("m->%s", f->name), "1", "sz");
		kg__ln(b, "%s += kc__uvarint_size(%lld) + kc__uvarint_size(sz) + sz;", acc,
		       (long long)f->tag);
		kg__ln(b, "ntags++;");
		kg__ln(b, "}");
	}
	kg__ln(b, "%s += kc__uvarint_size(ntags);", acc);
	kg__close_if(b, o);
}

static void size_fields(kg__buf *b, const kg_struct *s, size_t from, const char *acc)
{
	const kg_decl *d = s->decl;
	int fixed = 0;
	for (size_t i = from; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const char *reg = kg__regular_cond(f, d);
		if (kg__is0(reg))
			continue;
		/* Fixed-width fields on the wire in every version add up to
		 * one constant. */
		if (kg__is1(reg) && f->type.kind == KG_T_SCALAR &&
		    kg__scalar_width(f->type.scalar) && !f->is_length) {
			fixed += kg__scalar_width(f->type.scalar);
			continue;
		}
		if (f->is_length && f->type.scalar == KG_INT32) {
			fixed += 4;
			continue;
		}
		bool o = kg__open_if(b, reg);
		size_field(b, s, f, acc);
		kg__close_if(b, o);
		if (f->is_length)
			break; /* rest_ covers everything after a varint length */
	}
	bool after_varint_len = false;
	for (size_t i = from; i < s->nfields; i++)
		if (s->fields[i]->is_length && s->fields[i]->type.scalar == KG_VARINT)
			after_varint_len = true;
	if (fixed)
		kg__ln(b, "%s += %d;", acc, fixed);
	if (!after_varint_len)
		size_tags(b, s, acc);
}

void kg__emit_rest(kg__buf *b, const kg_struct *s)
{
	const kg_field *lf = kg__length_field(s);
	if (!lf || lf->type.scalar != KG_VARINT)
		return;
	size_t idx = 0;
	while (s->fields[idx] != lf)
		idx++;
	kg__ln(b, "/* Bytes after %s up to the end of the struct: the value of the", lf->name);
	kg__ln(b, " * varint length, needed before those bytes are written. */");
	kg__buf body = kg__body_buf();
	kg__ln(&body, "size_t n = 0;");
	size_fields(&body, s, idx + 1, "n");
	kg__ln(&body, "return n;");
	kg__emit_fn(b, kg_fmt("static size_t rest_%s(const %s *m, int16_t version)", kg__sname(s),
			      s->cname), "m version", &body);
}

/* Statements adding to `acc` a lower bound of the bytes of fields
 * [from, nfields) and the tag section; returns the constant by which the
 * exact size may exceed it. Varints and the prefixes of strings and bytes
 * (1 to 5 bytes, whatever their kind) are bounded, not sized: that skips
 * most of the size pass. Anything else is sized exactly. */
int kg__bound_fields(kg__buf *b, const kg_struct *s, size_t from, const char *acc)
{
	const kg_decl *d = s->decl;
	int fixed = 0, spread = 0;
	for (size_t i = from; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const char *reg = kg__regular_cond(f, d);
		const kg_type *t = &f->type;
		if (kg__is0(reg))
			continue;
		if (kg__is1(reg) && t->kind == KG_T_SCALAR && kg__scalar_width(t->scalar)) {
			fixed += kg__scalar_width(t->scalar);
			continue;
		}
		/* A field of some versions only still widens the bound in
		 * all: the bound stays safe. */
		bool o = kg__open_if(b, reg);
		if (t->kind == KG_T_SCALAR && !kg__scalar_width(t->scalar)) {
			kg__ln(b, "%s += 1;", acc);
			spread += t->scalar == KG_VARLONG ? 9 : 4;
		} else if ((t->kind == KG_T_STRING || t->kind == KG_T_BYTES) &&
			   !f->comp) {
			kg__ln(b, "%s += 1 + (m->%s.len > 0 ? (size_t)m->%s.len : 0);", acc,
			       f->name, f->name);
			spread += 4;
		} else {
			size_field(b, s, f, acc);
		}
		kg__close_if(b, o);
	}
	if (fixed)
		kg__ln(b, "%s += %d;", acc, fixed);
	size_tags(b, s, acc);
	return spread;
}

void kg__emit_size(kg__buf *b, const kg_struct *s)
{
	kg__buf body = kg__body_buf();
	kg__ln(&body, "size_t n = 0;");
	size_fields(&body, s, 0, "n");
	kg__ln(&body, "return n;");
	kg__emit_fn(b, kg_fmt("static size_t size_%s(const %s *m, int16_t version)", kg__sname(s),
			      s->cname), "m version", &body);
}

void kg__emit_zsize(kg__buf *b, const kg_struct *s, const kg_field *f)
{
	const kg_decl *d = s->decl;
	const char *flags = kg__codec_flags(d);
	kg__ln(b, "/* Wire size of %s, compressing it when its codec says so. */", f->path);
	kg__buf *ob = b, zb = kg__body_buf();
	b = &zb;
	kg__ln(b, "int codec = m->%s & 7;", f->comp->name);
	if (f->type.kind == KG_T_ARRAY) {
		kg__ln(b, "size_t n = 0;");
		kg__ln(b, "if (codec == KC_CODEC_NONE) {");
		kg__ln(b, "for (int32_t i = 0; i < (int32_t)m->%s; i++)", f->count->name);
		b->ind++;
		kg__size_value(b, f->type.elem, kg_fmt("m->%s[i]", f->name), kg__flex_of(f, d),
			       "n");
		b->ind--;
		kg__ln(b, "return n;");
		kg__ln(b, "}");
		kg__ln(b, "kc_writer zw;");
		kg__ln(b, "kc_writer_init(&zw);");
		kg__ln(b, "if (put_%s_%s(&zw, m, version) == KC_OK && zw.err == KC_OK)",
		       kg__sname(s), f->name);
		kg__ln(b, "\tn = sz_deflate(codec, %s, zw.buf, zw.len);", flags);
		kg__ln(b, "kc_writer_free(&zw);");
		kg__ln(b, "return n;");
	} else {
		const char *kind = kg__kind_expr(&f->type, kg__flex_of(f, d));
		kg__ln(b, "if (codec == KC_CODEC_NONE || m->%s.len < 0)", f->name);
		kg__ln(b, "\treturn sz_bytes(m->%s, %s);", f->name, kind);
		kg__ln(b, "size_t n = sz_deflate(codec, %s, m->%s.ptr, (size_t)m->%s.len);",
		       flags, f->name, f->name);
		kg__ln(b, "return sz_len(%s, (int32_t)n) + n;", kind);
	}
	kg__emit_fn(ob, kg_fmt("static size_t zsize_%s_%s(const %s *m, int16_t version)",
			       kg__sname(s), f->name, s->cname), "m version", &zb);
}
