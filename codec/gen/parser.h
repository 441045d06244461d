/*
 * kafkit-gen: recursive-descent parser and semantic checks for kdef files.
 */
#ifndef KAFKIT_GEN_PARSER_H
#define KAFKIT_GEN_PARSER_H

#include <stddef.h>

#include "ast.h"

/* Read, parse and check the n files named in `files`, in order, into one
 * schema (declarations keep file order). Returns 0 on success; on the first
 * error prints "file:line:col: message" to stderr and returns -1.
 * Single-threaded; the AST lives in the generator pool. */
int kg_parse_files(char *const *files, size_t n, kg_schema *out);

#endif
