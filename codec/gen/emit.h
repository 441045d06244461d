/*
 * kafkit-gen: C emitter. Turns a checked schema into the codec's
 * messages.h/.c, the JSON writers messages_json.h/.c and the test helpers
 * messages_test.h/.c.
 */
#ifndef KAFKIT_GEN_EMIT_H
#define KAFKIT_GEN_EMIT_H

#include "ast.h"

#include <stddef.h>

/* Write messages.h, messages.c, messages_test.h, messages_test.c,
 * messages_json.h and messages_json.c into the existing directory `dir`;
 * `files` (the schema paths) are named in the header comment. Returns 0, or -1 after printing why to stderr (a file
 * could not be written). Single-threaded. */
int kg_emit(const kg_schema *s, const char *dir, char *const *files,
	    size_t nfiles);

#endif
