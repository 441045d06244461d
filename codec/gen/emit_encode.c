/*
 * kafkit-gen: encoders. enc_T() writes a struct in straight-line code with
 * inline version checks; length and CRC fields are reserved and patched
 * once the bytes they cover are written.
 */
#include "emit_int.h"

/* Statements writing one value of type t from lv. `flex` is the flexible
 * condition for its prefix; `nullok` whether null may be written. */
static void enc_value(kg__buf *b, const kg_type *t, const char *lv, const char *flex,
		      const char *nullok)
{
	switch (t->kind) {
	case KG_T_SCALAR:
		if (t->scalar == KG_UUID)
			kg__ln(b, "kc__w_uuid(w, &%s);", lv);
		else
			kg__ln(b, "kc__w_%s(w, %s);", kg__scalar_suffix(t->scalar), lv);
		return;
	case KG_T_STRING:
		kg__ln(b, "KC__TRY(wr_str(w, %s, %s, %s));", lv, kg__kind_expr(t, flex), nullok);
		return;
	case KG_T_BYTES:
	case KG_T_RECORDS:
		kg__ln(b, "KC__TRY(wr_bytes(w, %s, %s, %s));", lv, kg__kind_expr(t, flex), nullok);
		return;
	case KG_T_STRUCT:
		kg__ln(b, "KC__TRY(enc_%s(w, &%s, version));", kg__sname(t->st), lv);
		return;
	case KG_T_ARRAY:
		break;
	}
	kg__ln(b, "KC__TRY(wr_count(w, %s_count, %s != NULL, %s, %s));", lv, lv,
	       kg__kind_expr(t, flex), nullok);
	kg__ln(b, "for (int32_t i = 0; i < %s_count; i++) {", lv);
	enc_value(b, t->elem, kg_fmt("%s[i]", lv), flex, "false");
	kg__ln(b, "}");
}


void kg__emit_put_elems(kg__buf *b, const kg_struct *s, const kg_field *f)
{
	const kg_decl *d = s->decl;
	kg__buf body = kg__body_buf();
	kg__ln(&body, "for (int32_t i = 0; i < (int32_t)m->%s; i++) {", f->count->name);
	enc_value(&body, f->type.elem, kg_fmt("m->%s[i]", f->name), kg__flex_of(f, d), "false");
	kg__ln(&body, "}");
	kg__ln(&body, "return KC_OK;");
	kg__emit_fn(b, kg_fmt("static kc_err put_%s_%s(kc_writer *w, const %s *m, int16_t version)",
			      kg__sname(s), f->name, s->cname), "w m version", &body);
}

/* A varint length precedes bytes not yet written. When a cheap bound of
 * them fixes the varint's width (nearly always), leave a gap of that
 * width, write the rest, and fill the gap at the end of the encoder; else
 * size the rest exactly first. iovec mode always sizes first: there the
 * owned bytes are not the whole rest. */
static void enc_varint_length(kg__buf *b, const kg_struct *s, const kg_field *f)
{
	size_t idx = 0;
	while (s->fields[idx] != f)
		idx++;
	kg__ln(b, "size_t lo = 0;");
	int spread = kg__bound_fields(b, s, idx + 1, "lo");
	kg__ln(b, "len_wid = kc__varint_size((int32_t)lo);");
	kg__ln(b, "if (w->ref_threshold == 0 && lo <= INT32_MAX - %d &&", spread);
	kg__ln(b, "    len_wid == kc__varint_size((int32_t)(lo + %d))) {", spread);
	kg__ln(b, "/* %s: filled in once the rest is written */", f->name);
	kg__ln(b, "if (kc__w_room(w, len_wid))");
	kg__ln(b, "\tw->len += len_wid;");
	kg__ln(b, "len_at = w->len;");
	kg__ln(b, "} else {");
	kg__ln(b, "size_t rest = rest_%s(m, version);", kg__sname(s));
	kg__ln(b, "if (rest > INT32_MAX)");
	kg__ln(b, "\treturn KC_ERR_INVALID_ARG;");
	kg__ln(b, "kc__w_varint(w, (int32_t)rest); /* %s */", f->name);
	kg__ln(b, "}");
}

/* Fill the gap enc_varint_length() left: zigzag varint of exactly
 * len_wid bytes (the bound guaranteed that width). */
static void enc_varint_length_fill(kg__buf *b, const kg_field *f)
{
	kg__ln(b, "if (len_at && w->err == KC_OK) {");
	kg__ln(b, "uint8_t *p = w->buf + len_at - len_wid; /* %s */", f->name);
	kg__ln(b, "uint32_t u = kc__zigzag32((int32_t)(w->len - len_at));");
	kg__ln(b, "for (size_t i = 0; i + 1 < len_wid; i++, u >>= 7)");
	kg__ln(b, "\tp[i] = (uint8_t)(u | 0x80);");
	kg__ln(b, "p[len_wid - 1] = (uint8_t)u;");
	kg__ln(b, "}");
}

static void enc_field(kg__buf *b, const kg_struct *s, const kg_field *f)
{
	const kg_decl *d = s->decl;
	const char *lv = kg_fmt("m->%s", f->name);
	const char *flex = kg__flex_of(f, d);
	if (f->is_length) {
		if (f->type.scalar == KG_INT32) {
			kg__ln(b, "/* %s: patched once the rest is written */", f->name);
			kg__ln(b, "kc_wslot len_slot = kc_writer_reserve(w, 4);");
		} else {
			enc_varint_length(b, s, f);
		}
		return;
	}
	if (f->crc) {
		kg__ln(b, "/* %s: patched once the rest is written */", f->name);
		kg__ln(b, "kc_wslot crc_slot = kc_writer_reserve(w, 4);");
		return;
	}
	if (f->count_of) {
		/* The count must index the array it counts. */
		const kg_field *a = f->count_of;
		kg_scalar sc = f->type.scalar;
		bool uns = sc == KG_UINT16 || sc == KG_UINT32 || sc == KG_UVARINT;
		bool wide = sc == KG_UINT32 || sc == KG_UVARINT || sc == KG_INT64 ||
			    sc == KG_VARLONG;
		kg__ln(b, "if (%s%s(%s > 0 && !m->%s))",
		       uns ? "" : kg_fmt("%s < 0 || ", lv),
		       wide ? kg_fmt("%s > INT32_MAX || ", lv) : "", lv, a->name);
		kg__ln(b, "\treturn KC_ERR_INVALID_ARG;");
		enc_value(b, &f->type, lv, flex, "false");
		return;
	}
	if (f->comp && f->type.kind == KG_T_ARRAY) {
		kg__ln(b, "/* %s: compressed with the codec in %s */", f->name, f->comp->name);
		kg__ln(b, "int codec = m->%s & 7;", f->comp->name);
		kg__ln(b, "if (codec == KC_CODEC_NONE) {");
		kg__ln(b, "KC__TRY(put_%s_%s(w, m, version));", kg__sname(s), f->name);
		kg__ln(b, "} else {");
		kg__ln(b, "kc_writer zw;");
		kg__ln(b, "kc_writer_init(&zw);");
		kg__ln(b, "kc_err e = put_%s_%s(&zw, m, version);", kg__sname(s), f->name);
		kg__ln(b, "if (e == KC_OK)");
		kg__ln(b, "\te = zw.err;");
		kg__ln(b, "if (e == KC_OK)");
		kg__ln(b, "\te = wr_deflate(w, codec, %s, zw.buf, zw.len, -1);",
		       kg__codec_flags(d));
		kg__ln(b, "kc_writer_free(&zw);");
		kg__ln(b, "KC__TRY(e);");
		kg__ln(b, "}");
		return;
	}
	if (f->comp) {
		const char *kind = kg__kind_expr(&f->type, flex);
		kg__ln(b, "/* %s: compressed with the codec in %s */", f->name, f->comp->name);
		kg__ln(b, "if ((m->%s & 7) == KC_CODEC_NONE || %s.len < 0) {", f->comp->name, lv);
		kg__ln(b, "KC__TRY(wr_bytes(w, %s, %s, %s));", lv, kind, kg__null_of(f, d));
		kg__ln(b, "} else {");
		kg__ln(b, "if (%s.len > 0 && !%s.ptr)", lv, lv);
		kg__ln(b, "\treturn KC_ERR_INVALID_ARG;");
		kg__ln(b, "KC__TRY(wr_deflate(w, m->%s & 7, %s, %s.ptr, (size_t)%s.len, %s));",
		       f->comp->name, kg__codec_flags(d), lv, lv, kind);
		kg__ln(b, "}");
		return;
	}
	if (f->count) {
		kg__ln(b, "KC__TRY(put_%s_%s(w, m, version));", kg__sname(s), f->name);
		return;
	}
	enc_value(b, &f->type, lv, flex, kg__null_of(f, d));
}

void kg__emit_enc(kg__buf *ob, const kg_struct *s)
{
	const kg_decl *d = s->decl;
	kg__buf body = kg__body_buf(), *b = &body;
	const kg_field *lenf = NULL, *crcf = NULL;
	const kg_field *lf = kg__length_field(s);
	if (lf && lf->type.scalar == KG_VARINT)
		kg__ln(b, "size_t len_at = 0, len_wid = 0; /* %s's gap */", lf->name);
	for (size_t i = 0; i < s->nfields; i++) {
		const kg_field *f = s->fields[i];
		const char *inv = kg__vcond(f->versions, d);
		const char *reg = kg__regular_cond(f, d);
		if (f->is_length)
			lenf = f;
		if (f->crc)
			crcf = f;
		if (!kg__is0(reg)) {
			bool o = kg__open_if(b, reg);
			enc_field(b, s, f);
			kg__close_if(b, o);
		}
		if (!f->ignorable && !kg__is1(inv) && !kg__computed(f) && !f->count_of) {
			kg__ln(b, "if (%s)", kg__c_and(kg__c_not(inv), kg__nondefault(f, "m")));
			kg__ln(b, "\treturn KC_ERR_UNSUPPORTED_FIELD; /* %s */", f->name);
		}
	}
	/* tagged-field section */
	const char *flex = kg__vcond(d->flexible, d);
	if (!kg__is0(flex)) {
		const kg_field *tv[s->nfields ? s->nfields : 1];
		size_t nt = kg__tagged_sorted(s, tv);
		bool o = kg__open_if(b, flex);
		if (nt == 0) {
			kg__ln(b, "kc__w_uvarint(w, 0); /* no tagged fields */");
		} else {
			kg__ln(b, "uint32_t ntags = 0;");
			for (size_t i = 0; i < nt; i++) {
				kg__ln(b, "if (%s)", kg__c_and(kg__vcond(tv[i]->tagged, d),
							       kg__nondefault(tv[i], "m")));
				kg__ln(b, "\tntags++;");
			}
			kg__ln(b, "kc__w_uvarint(w, ntags);");
			for (size_t i = 0; i < nt; i++) {
				const kg_field *f = tv[i];
				const char *lv = kg_fmt("m->%s", f->name);
				kg__ln(b, "if (%s) {", kg__c_and(kg__vcond(f->tagged, d),
								 kg__nondefault(f, "m")));
				kg__ln(b, "size_t sz = 0;");
				kg__size_value(b, &f->type, lv, "1", "sz");
				kg__ln(b, "kc__w_uvarint(w, %lld); /* tag: %s */",
				       (long long)f->tag, f->name);
				kg__ln(b, "kc__w_uvarint(w, sz);");
				enc_value(b, &f->type, lv, "1", kg__null_of(f, d));
				kg__ln(b, "}");
			}
		}
		kg__close_if(b, o);
	}
	/* Before any CRC, which may cover the gap. */
	if (lenf && lenf->type.scalar == KG_VARINT)
		enc_varint_length_fill(b, lenf);
	if ((lenf && lenf->type.scalar == KG_INT32) || crcf) {
		/* A failed write left the slots unreserved: nothing to patch. */
		kg__ln(b, "if (w->err != KC_OK)");
		kg__ln(b, "\treturn KC_OK;");
	}
	if (lenf && lenf->type.scalar == KG_INT32) {
		kg__ln(b, "size_t len = kc_writer_since(w, len_slot);");
		kg__ln(b, "if (len > INT32_MAX)");
		kg__ln(b, "\treturn KC_ERR_INVALID_ARG;");
		kg__ln(b, "kc_writer_patch_i32(w, len_slot, (int32_t)len);");
	}
	if (crcf)
		kg__ln(b,
		       "kc_writer_patch_u32(w, crc_slot, kc_writer_%s_from(w, crc_slot.pos + 4));",
		       crcf->crc == KG_CRC32C ? "crc32c" : "crc32");
	kg__ln(b, "return KC_OK;");
	kg__emit_fn(ob, kg_fmt("static kc_err enc_%s(kc_writer *w, const %s *m, int16_t version)",
			       kg__sname(s), s->cname),
		    "w m version", &body);
}
