/*
 * libFuzzer: arbitrary bytes as a request frame (header + body, no size
 * prefix). What decodes must re-encode to exactly size() bytes, and those
 * bytes must decode and re-encode to themselves.
 */
#include <stdio.h>
#include <stdlib.h>

#include "framecheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const kct_frame *f, kc_arena *arena)
{
	const char *why;
	if (kct_roundtrip_ok(f, arena, &why))
		return;
	fprintf(stderr, "%s %s v%d: %s\n", f->request ? "request" : "response",
		f->api->name, f->version, why);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kc_arena arena;
	kc_decode_error err;
	kct_frame f;

	kc_arena_init(&arena);
	if (kct_decode_request(data, size, &arena, &f, &err) == KC_OK)
		check(&f, &arena);
	kc_arena_free(&arena);
	return 0;
}
