/* Check assertions on bytes, with a hex diff when they fail. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

void th_assert_hex(const void *p, size_t n, const char *hex)
{
	size_t want_n;
	uint8_t *want = th_hex(hex, &want_n);
	if (n != want_n || (n && memcmp(p, want, n) != 0)) {
		char *got = th_tohex(p, n);
		fprintf(stderr, "got  %s\nwant %s\n", got, hex);
		free(got);
	}
	ck_assert_uint_eq(n, want_n);
	ck_assert(n == 0 || memcmp(p, want, n) == 0);
	free(want);
}

void th_assert_bytes_hex(kc_bytes b, const char *hex)
{
	if (!hex) {
		ck_assert_int_eq(b.len, -1);
		return;
	}
	ck_assert_int_ge(b.len, 0);
	th_assert_hex(b.ptr, (size_t)b.len, hex);
}

void th_assert_writer_hex(const kc_writer *w, const char *hex)
{
	ck_assert_int_eq(kc_writer_err(w), KC_OK);
	ck_assert_ptr_nonnull(kc_writer_data(w));
	th_assert_hex(kc_writer_data(w), kc_writer_pos(w), hex);
}

kc_bytes th_bstr(const char *s)
{
	return kc_bytes_of(s, strlen(s));
}
