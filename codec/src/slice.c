/* kc_str / kc_bytes helpers. */
#include <string.h>

#include "buf_int.h"

kc_str kc_str_c(const char *s)
{
	if (!s)
		return KC_STR_NULL;
	return (kc_str){s, (int32_t)strlen(s)};
}

kc_bytes kc_bytes_of(const void *p, size_t n)
{
	if (!p)
		return KC_BYTES_NULL;
	return (kc_bytes){p, (int32_t)n};
}

static int slices_eq(const void *a, int32_t alen, const void *b, int32_t blen)
{
	if (alen < 0 || blen < 0)
		return alen < 0 && blen < 0;
	return alen == blen && (alen == 0 || memcmp(a, b, (size_t)alen) == 0);
}

int kc_str_eq(kc_str a, kc_str b)
{
	return slices_eq(a.ptr, a.len, b.ptr, b.len);
}

int kc_bytes_eq(kc_bytes a, kc_bytes b)
{
	return slices_eq(a.ptr, a.len, b.ptr, b.len);
}
