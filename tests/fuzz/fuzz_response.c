/*
 * libFuzzer: the first 4 bytes pick the request a response answers (int16
 * api key, int16 version, big-endian); the rest is the response frame
 * (header + body, no size prefix). What decodes must re-encode to exactly
 * size() bytes, and those bytes must decode and re-encode to themselves.
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

	if (size < 4)
		return 0;
	int16_t key = (int16_t)(data[0] << 8 | data[1]);
	int16_t version = (int16_t)(data[2] << 8 | data[3]);
	kc_arena_init(&arena);
	if (kct_decode_response(data + 4, size - 4, key, version, &arena, &f,
				&err) == KC_OK)
		check(&f, &arena);
	kc_arena_free(&arena);
	return 0;
}
