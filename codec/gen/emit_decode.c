/*
 * kafkit-gen: decoders. dec_T() reads a struct at the reader's cursor,
 * trusting no length or count: every failure names the field and its
 * offset.
 */
#include "emit_int.h"

static bool always_regular(const kg_field *f, const kg_decl *d)
{
	return kg__is1(kg__regular_cond(f, d));
}

static void dec_value(kg__buf *b, const kg_type *t, const char *lv,
		      const char *flex, const char *nullok, const kg_field *f,
		      const kg_decl *d, const char *R)
{
	switch (t->kind) {
	case KG_T_SCALAR:
		kg__ln(b, "KC__TRY(kc__r_%s(%s, &%s, \"%s\"));", kg__scalar_suffix(t->scalar), R,
		       lv, f->path);
		return;
	case KG_T_STRING:
		kg__ln(b, "KC__TRY(rd_str(%s, &%s, %s, %s, \"%s\"));", R, lv,
		       kg__kind_expr(t, flex), nullok, f->path);
		return;
	case KG_T_BYTES:
	case KG_T_RECORDS:
		kg__ln(b, "KC__TRY(rd_bytes(%s, &%s, %s, %s, \"%s\"));", R, lv,
		       kg__kind_expr(t, flex), nullok, f->path);
		return;
	case KG_T_STRUCT:
		kg__ln(b, "KC__TRY(dec_%s(%s, &%s, version, arena));", kg__sname(t->st), R, lv);
		return;
	case KG_T_ARRAY:
		break;
	}
	kg__ln(b, "{");
	kg__ln(b, "int32_t n = 0;");
	kg__ln(b, "KC__TRY(rd_count(%s, &n, %s, %s, %s, \"%s\"));", R, kg__kind_expr(t, flex),
	       nullok, kg__elem_min_expr(f, d), f->path);
	kg__ln(b, "%s *a = NULL;", kg__elem_ctype(t->elem));
	kg__ln(b, "if (n > 0) {");
	kg__ln(b, "a = kc_arena_alloc(arena, (size_t)n * sizeof *a);");
	kg__ln(b, "if (!a)");
	kg__ln(b, "\treturn kc__r_fail(%s, KC_ERR_NOMEM, \"%s\");", R, f->path);
	kg__ln(b, "for (int32_t i = 0; i < n; i++) {");
	dec_value(b, t->elem, "a[i]", flex, "false", f, d, R);
	kg__ln(b, "}");
	kg__ln(b, "}");
	kg__ln(b, "%s = a;", lv);
	kg__ln(b, "%s_count = n;", lv);
	kg__ln(b, "}");
}

void kg__emit_get_elems(kg__buf *b, const kg_struct *s, const kg_field *f)
{
	const kg_decl *d = s->decl;
	const char *cnt = kg_fmt("m->%s", f->count->name);
	kg__buf body = kg__body_buf();
	kg__ln(&body, "KC__TRY(kc__r_check_count(r, r->p, (int64_t)%s, %s, \"%s\"));", cnt,
	       kg__elem_min_expr(f, d), f->path);
	kg__ln(&body, "%s *a = NULL;", kg__elem_ctype(f->type.elem));
	kg__ln(&body, "if (%s > 0) {", cnt);
	kg__ln(&body, "a = kc_arena_alloc(arena, (size_t)%s * sizeof *a);", cnt);
	kg__ln(&body, "if (!a)");
	kg__ln(&body, "\treturn kc__r_fail(r, KC_ERR_NOMEM, \"%s\");", f->path);
	kg__ln(&body, "for (int32_t i = 0; i < (int32_t)%s; i++) {", cnt);
	dec_value(&body, f->type.elem, "a[i]", kg__flex_of(f, d), "false", f, d, "r");
	kg__ln(&body, "}");
	kg__ln(&body, "}");
	kg__ln(&body, "m->%s = a;", f->name);
	kg__ln(&body, "return KC_OK;");
	kg__emit_fn(b, kg_fmt("static kc_err get_%s_%s(kc_reader *r, %s *m, int16_t version, "
			      "kc_arena *arena)", kg__sname(s), f->name, s->cname),
		    "r m version arena", &body);
}

/* The tag-section reader of a struct with tagged fields. */
void kg__emit_tags_dec(kg__buf *ob, const kg_struct *s)
{
	kg__buf body = kg__body_buf(), *b = &body;
	const kg_decl *d = s->decl;
	const char *tf = kg_fmt("%s.tagged_fields", s->path);
	const kg_field *tv[s->nfields ? s->nfields : 1];
	size_t nt = kg__tagged_sorted(s, tv);
	kg__ln(b, "const uint8_t *at = r->p;");
	kg__ln(b, "uint32_t n = 0;");
	kg__ln(b, "KC__TRY(kc__r_uvarint(r, &n, \"%s\"));", tf);
	kg__ln(b, "KC__TRY(kc__r_check_count(r, at, n, 2, \"%s\"));", tf);
	kg__ln(b, "int64_t last = -1;");
	kg__ln(b, "for (uint32_t i = 0; i < n; i++) {");
	kg__ln(b, "const uint8_t *tat = r->p;");
	kg__ln(b, "uint32_t tag = 0, size = 0;");
	kg__ln(b, "KC__TRY(kc__r_uvarint(r, &tag, \"%s\"));", tf);
	kg__ln(b, "if ((int64_t)tag <= last)");
	kg__ln(b, "\treturn kc__r_fail_at(r, tat, KC_ERR_TAG_ORDER, \"%s\");", tf);
	kg__ln(b, "last = tag;");
	kg__ln(b, "KC__TRY(kc__r_uvarint(r, &size, \"%s\"));", tf);
	kg__ln(b, "kc_reader sub, *sr = &sub;");
	kg__ln(b, "KC__TRY(kc__r_sub(r, size, sr, \"%s\"));", tf);
	kg__ln(b, "switch (tag) {");
	for (size_t i = 0; i < nt; i++) {
		const kg_field *f = tv[i];
		const char *c = kg__vcond(f->tagged, d);
		b->ind--;
		kg__ln(b, "case %lld: /* %s */", (long long)f->tag, f->name);
		b->ind++;
		bool o = kg__open_if(b, c);
		dec_value(b, &f->type, kg_fmt("m->%s", f->name), "1", kg__null_of(f, d), f, d,
			  "sr");
		kg__ln(b, "if (sr->p != sr->end)");
		kg__ln(b, "\treturn kc__r_fail(sr, KC_ERR_TRAILING, \"%s\");", f->path);
		kg__close_if(b, o);
		kg__ln(b, "break;");
	}
	b->ind--;
	kg__ln(b, "default: /* unknown tags are skipped */");
	b->ind++;
	kg__ln(b, "break;");
	kg__ln(b, "}");
	kg__ln(b, "}");
	kg__ln(b, "return KC_OK;");
	kg__emit_fn(ob, kg_fmt("static kc_err tags_%s(kc_reader *r, %s *m, int16_t version, "
			       "kc_arena *arena)", kg__sname(s), s->cname),
		    "r m version arena", &body);
}

static void dec_field(kg__buf *b, const kg_struct *s, const kg_field *f,
		      const char **R, bool *bounded)
{
	const kg_decl *d = s->decl;
	const char *lv = kg_fmt("m->%s", f->name);
	const char *flex = kg__flex_of(f, d);
	const char *r = *R;
	if (f->is_length) {
		kg__ln(b, "const uint8_t *len_at = %s->p;", r);
		dec_value(b, &f->type, lv, flex, "false", f, d, r);
		kg__ln(b, "if (%s < 0 || (size_t)%s > kc__r_left(%s))", lv, lv, r);
		kg__ln(b, "\treturn kc__r_fail_at(%s, len_at, KC_ERR_BAD_LENGTH, \"%s\");", r,
		       f->path);
		kg__ln(b, "kc_reader lsub, *lr = &lsub;");
		kg__ln(b, "KC__TRY(kc__r_sub(%s, (size_t)%s, lr, \"%s\"));", r, lv, f->path);
		*R = "lr";
		*bounded = true;
		return;
	}
	if (f->crc) {
		const char *fn = f->crc == KG_CRC32C ? "kc_crc32c" : "kc_crc32";
		kg__ln(b, "const uint8_t *crc_at = %s->p;", r);
		dec_value(b, &f->type, lv, flex, "false", f, d, r);
		if (*bounded) {
			/* The struct ends where the length says: verify now,
			 * before anything inside is trusted. */
			kg__ln(b, "m->%s_ok = %s(0, %s->p, kc__r_left(%s)) == %s;", f->name, fn, r,
			       r, lv);
			kg__ln(b, "if (!m->%s_ok && !(%s->flags & KC_READ_CRC_LENIENT))", f->name,
			       r);
			kg__ln(b, "\treturn kc__r_fail_at(%s, crc_at, KC_ERR_CRC, \"%s\");", r,
			       f->path);
		} else {
			kg__ln(b, "const uint8_t *crc_from = %s->p;", r);
		}
		return;
	}
	if (f->comp && f->type.kind == KG_T_ARRAY) {
		kg__ln(b, "int codec = m->%s & 7;", f->comp->name);
		kg__ln(b, "if (codec == KC_CODEC_NONE) {");
		kg__ln(b, "KC__TRY(get_%s_%s(%s, m, version, arena));", kg__sname(s), f->name, r);
		kg__ln(b, "} else {");
		kg__ln(b, "kc_reader z;");
		kg__ln(b, "KC__TRY(rd_inflate_rest(%s, &z, codec, %s, arena, \"%s\"));", r,
		       kg__codec_flags(d), f->path);
		kg__ln(b, "kc_err e = get_%s_%s(&z, m, version, arena);", kg__sname(s), f->name);
		kg__ln(b, "if (e == KC_OK && z.p != z.end)");
		kg__ln(b, "\te = kc__r_fail(&z, KC_ERR_TRAILING, \"%s\");", f->path);
		kg__ln(b, "if (e != KC_OK) {");
		kg__ln(b, "%s->err->in_compressed = 1;", r);
		kg__ln(b, "return e;");
		kg__ln(b, "}");
		kg__ln(b, "}");
		return;
	}
	if (f->comp) {
		kg__ln(b, "KC__TRY(rd_bytes(%s, &%s, %s, %s, \"%s\"));", r, lv,
		       kg__kind_expr(&f->type, flex), kg__null_of(f, d), f->path);
		kg__ln(b, "if ((m->%s & 7) != KC_CODEC_NONE && %s.len >= 0) {", f->comp->name, lv);
		kg__ln(b, "const uint8_t *p = NULL;");
		kg__ln(b, "size_t n = 0;");
		kg__ln(b,
		       "KC__TRY(rd_inflate(%s, %s.ptr, (size_t)%s.len, m->%s & 7, %s, arena, &p, &n,",
		       r, lv, lv, f->comp->name, kg__codec_flags(d));
		kg__ln(b, "\t\t   \"%s\"));", f->path);
		kg__ln(b, "if (n > INT32_MAX)");
		kg__ln(b, "\treturn kc__r_fail_at(%s, %s.ptr, KC_ERR_TOO_LARGE, \"%s\");", r, lv,
		       f->path);
		kg__ln(b, "%s = (kc_bytes){p, (int32_t)n};", lv);
		kg__ln(b, "}");
		return;
	}
	if (f->count) {
		kg__ln(b, "KC__TRY(get_%s_%s(%s, m, version, arena));", kg__sname(s), f->name, r);
		return;
	}
	dec_value(b, &f->type, lv, flex, kg__null_of(f, d), f, d, r);
}

void kg__emit_dec(kg__buf *b, const kg_struct *s)
{
	const kg_decl *d = s->decl;
	kg__buf body = kg__body_buf();
	/* Fields some versions lack keep their defaults. */
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		if (!always_regular(f, d))
			kg__emit_default(&body, f, kg_fmt("m->%s", f->name));
	}
	const char *R = "r";
	bool bounded = false;
	const kg_field *crcf = NULL, *lenf = NULL;
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const char *reg = kg__regular_cond(f, d);
		if (f->crc)
			crcf = f;
		if (f->is_length)
			lenf = f;
		if (kg__is0(reg))
			continue;
		bool o = kg__open_if(&body, reg);
		dec_field(&body, s, f, &R, &bounded);
		kg__close_if(&body, o);
	}
	const char *flex = kg__vcond(d->flexible, d);
	if (!kg__is0(flex)) {
		bool o = kg__open_if(&body, flex);
		if (kg__has_tagged(s))
			kg__ln(&body, "KC__TRY(tags_%s(%s, m, version, arena));", kg__sname(s), R);
		else
			kg__ln(&body, "KC__TRY(rd_skip_tags(%s, \"%s.tagged_fields\"));", R,
			       s->path);
		kg__close_if(&body, o);
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
			kg__ln(&body,
			       "m->%s_ok = %s(0, crc_from, (size_t)(%s->p - crc_from)) == m->%s;",
			       crcf->name, fn, R, crcf->name);
			kg__ln(&body, "if (!m->%s_ok && !(%s->flags & KC_READ_CRC_LENIENT))",
			       crcf->name, R);
			kg__ln(&body, "\treturn kc__r_fail_at(%s, crc_at, KC_ERR_CRC, \"%s\");", R,
			       crcf->path);
		}
	}
	if (lenf) {
		kg__ln(&body, "if (lr->p != lr->end)");
		kg__ln(&body, "\treturn kc__r_fail(lr, KC_ERR_TRAILING, \"%s\");", lenf->path);
	}
	kg__ln(&body, "return KC_OK;");

	kg__emit_fn(b, kg_fmt("static kc_err dec_%s(kc_reader *r, %s *m, int16_t version, "
			      "kc_arena *arena)", kg__sname(s), s->cname),
		    "r m version arena", &body);
}
