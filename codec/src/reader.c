/* Bounds-checked reader: construction and failure recording. The read
 * primitives themselves are inline in buf_int.h. */
#include "buf_int.h"

void kc_reader_init(kc_reader *r, const void *p, size_t n, kc_decode_error *err)
{
	r->p = p;
	r->end = r->p + n;
	r->base = p;
	r->err = err;
	r->flags = 0;
	r->max_decompressed = 0;
	*err = (kc_decode_error){KC_OK, 0, NULL, 0};
}

size_t kc_reader_left(const kc_reader *r)
{
	return kc__r_left(r);
}

size_t kc_reader_offset(const kc_reader *r)
{
	return (size_t)(r->p - r->base);
}

kc_err kc__r_fail_at(kc_reader *r, const uint8_t *at, kc_err code,
		     const char *field)
{
	/* The innermost failure is the informative one: keep the first. */
	if (r->err->code == KC_OK) {
		r->err->code = code;
		r->err->offset = (size_t)(at - r->base);
		r->err->field = field;
	}
	return code;
}

kc_err kc__r_fail(kc_reader *r, kc_err code, const char *field)
{
	return kc__r_fail_at(r, r->p, code, field);
}
