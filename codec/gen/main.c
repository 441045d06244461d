/*
 * kafkit-gen: generate the codec's C from kdef schema files.
 *
 *   kafkit-gen --out-dir DIR file.kdef...
 *
 * writes messages.h, messages.c, messages_test.h, messages_test.c,
 * messages_json.h and messages_json.c into DIR. A bad schema prints "file:line:col: message" and exits with 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "parser.h"

static int usage(void)
{
	fprintf(stderr, "usage: kafkit-gen --out-dir DIR file.kdef...\n");
	return 1;
}

int main(int argc, char **argv)
{
	const char *out_dir = NULL;
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--out-dir") == 0 && i + 1 < argc)
			out_dir = argv[++i];
		else
			return usage();
	}
	if (!out_dir || i >= argc)
		return usage();

	kg_schema schema;
	int rc = 1;
	if (kg_parse_files(argv + i, (size_t)(argc - i), &schema) == 0 &&
	    kg_emit(&schema, out_dir, argv + i, (size_t)(argc - i)) == 0)
		rc = 0;
	kg_pool_free();
	return rc;
}
