/*
 * kafkit-gen: minimum wire sizes. A decoder checks an array's count
 * against the bytes left before it allocates: each element takes at least
 * its minimum size.
 */
#include <string.h>

#include "emit_int.h"

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

static int struct_min(const kg_struct *s, int v);

static int type_min(const kg_type *t, const kg_field *f, int v)
{
	bool flex = kg_range_has(f->flexible, v);
	switch (t->kind) {
	case KG_T_SCALAR: {
		int w = kg__scalar_width(t->scalar);
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

/* Minimum element size expression for the array field f (at least 1, so a
 * count is always bounded by the bytes left). */
const char *kg__elem_min_expr(const kg_field *f, const kg_decl *d)
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
		return kg_fmt("minsz_%s[version - %d]", kg__sname(e->st),
			      e->st->decl->versions.lo);
	return kg_fmt("(%s ? %d : %d)", kg__flex_of(f, d),
		      prefix_min(e, true), prefix_min(e, false));
}

/* Tables of minimum struct sizes per version, for structs that are array
 * elements and whose minimum varies with the version. */
void kg__emit_min_tables(kg__buf *b, const kg__slist *order)
{
	bool need[order->n ? order->n : 1];
	memset(need, 0, sizeof need);
	for (size_t i = 0; i < order->n; i++)
		for (size_t k = 0; k < order->v[i]->nfields; k++) {
			const kg_field *f = order->v[i]->fields[k];
			if (f->type.kind != KG_T_ARRAY || f->type.elem->kind != KG_T_STRUCT)
				continue;
			if (strncmp(kg__elem_min_expr(f, order->v[i]->decl), "minsz_", 6))
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
		kg__out(b, "/* Fewest bytes a %s takes, by version from %d. */\n", s->name,
			d->versions.lo);
		kg__out(b, "static const uint32_t minsz_%s[] = {", kg__sname(s));
		for (int v = d->versions.lo; v <= d->versions.hi; v++) {
			int m = struct_min(s, v);
			kg__out(b, "%s%d", v == d->versions.lo ? "" : ", ", m < 1 ? 1 : m);
		}
		kg__out(b, "};\n\n");
	}
}
