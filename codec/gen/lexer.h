/*
 * kafkit-gen: tokens of the kdef schema language (scanner in lexer.rl).
 */
#ifndef KAFKIT_GEN_LEXER_H
#define KAFKIT_GEN_LEXER_H

#include <stddef.h>
#include <stdint.h>

typedef enum kg_tok {
	KG_TOK_EOF = 0,
	KG_TOK_IDENT,
	KG_TOK_INT,    /* unsigned; a leading '-' is its own token */
	KG_TOK_STRING, /* escapes already resolved */
	KG_TOK_PUNCT,  /* one of { } [ ] < > : ; + - */
} kg_tok;

typedef struct kg_token {
	kg_tok kind;
	int line, col;       /* 1-based */
	const char *text;    /* IDENT, STRING: NUL-terminated copy */
	size_t text_len;     /* STRING may hold \0-free bytes only */
	uint64_t ival;       /* INT */
	char punct;          /* PUNCT */
} kg_token;

/* Tokenize n bytes of `src` (named `file` in messages). On success returns
 * 0 with *out (allocated from the generator pool) ending in KG_TOK_EOF. On
 * a lexical error prints "file:line:col: message" to stderr and returns -1.
 * Single-threaded. */
int kg_lex(const char *file, const char *src, size_t n, kg_token **out,
	   size_t *count);

#endif
