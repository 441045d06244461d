/*
 * kafkit-gen: C names, types and literals of schema nodes.
 */
#include <string.h>

#include "emit_int.h"

const char *kg__upper(const char *s)
{
	char *o = kg_strndup(s, strlen(s));
	for (char *p = o; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return o;
}

/* cname without its "kc_" prefix, for static helpers. */
const char *kg__sname(const kg_struct *s)
{
	return s->cname + 3;
}

const char *kg__scalar_ctype(kg_scalar s)
{
	static const char *const n[] = {
		"int8_t", "int16_t", "int32_t", "int64_t", "uint16_t", "uint32_t",
		"double", "bool", "kc_uuid", "int32_t", "int64_t", "uint32_t",
	};
	return n[s];
}

/* Fixed wire width of a scalar; 0 for varints. */
int kg__scalar_width(kg_scalar s)
{
	static const int w[] = {1, 2, 4, 8, 2, 4, 8, 1, 16, 0, 0, 0};
	return w[s];
}

const char *kg__scalar_suffix(kg_scalar s)
{
	static const char *const n[] = {
		"i8", "i16", "i32", "i64", "u16", "u32", "f64", "bool", "uuid",
		"varint", "varlong", "uvarint",
	};
	return n[s];
}

const char *kg__elem_ctype(const kg_type *t)
{
	switch (t->kind) {
	case KG_T_SCALAR:
		return kg__scalar_ctype(t->scalar);
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
const char *kg__int_lit(int64_t v, kg_scalar s)
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
const char *kg__c_string(const char *s, size_t n)
{
	kg__buf b = {0};
	kg__bput(&b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			kg__out(&b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			kg__out(&b, "\\%03o", c);
		else
			kg__bput(&b, (const char *)&c, 1);
	}
	kg__bput(&b, "\"", 1);
	return b.p;
}
