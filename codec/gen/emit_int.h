/*
 * kafkit-gen: the emitter's internal interface, shared by the emit_*.c
 * files. Everything here is single-threaded and allocates from the
 * generator pool (kg_alloc), which exits the program when memory runs out:
 * no function below can fail.
 *
 * Conventions: `b` is the output being written; `d` a field's declaration;
 * `lv` the C lvalue of a value ("m->topics[i]"); a condition is C text
 * folded against the declaration's versions, "1" (always) or "0" (never)
 * when it folds to a constant.
 */
#ifndef KAFKIT_GEN_EMIT_INT_H
#define KAFKIT_GEN_EMIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ast.h"

/* Structs in emit order: each after every struct it contains. */
typedef struct kg__slist {
	const kg_struct **v;
	size_t n, cap;
} kg__slist;

/* ---- text output (emit_text.c) -------------------------------------------- */

/* Growing text; zero-initialise. `ind` is the tab depth kg__ln() writes. */
typedef struct kg__buf {
	char *p; /* NUL-terminated; NULL while empty */
	size_t n, cap;
	int ind;
} kg__buf;

/* Append n raw bytes. */
void kg__bput(kg__buf *b, const char *s, size_t n);
/* Append printf text as is. */
void kg__out(kg__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append one line at the current indentation. A line starting with '}'
 * closes a level first; one ending with '{' opens one. */
void kg__ln(kg__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An empty function body: indented one level. */
kg__buf kg__body_buf(void);
/* A declaration line wrapped at 80 columns after a comma, continuing
 * two tabs in. */
const char *kg__wrap80(const char *line);
/* Append the function `sig` with `body`, opening it with "(void)p;" for
 * each parameter p of `params` (a space-separated list) the body does not
 * use. */
void kg__emit_fn(kg__buf *b, const char *sig, const char *params, const kg__buf *body);
/* Append the runtime pieces of parts[0..n) (n <= 64) that `code` calls,
 * directly or through other pieces, in their order. A piece defining a
 * function starts with its "static" line; other pieces always go in. */
void kg__put_used(kg__buf *b, const char *const *parts, size_t n, const char *code);

/* ---- C names, types and literals (emit_names.c) -------------------------- */

/* s in upper case. */
const char *kg__upper(const char *s);
/* The struct's cname without its "kc_" prefix, for static helpers. */
const char *kg__sname(const kg_struct *s);
/* C type of a scalar. */
const char *kg__scalar_ctype(kg_scalar s);
/* Fixed wire width of a scalar; 0 for varints. */
int kg__scalar_width(kg_scalar s);
/* The scalar's suffix in the kc__w_ / kc__r_ primitives ("i32"). */
const char *kg__scalar_suffix(kg_scalar s);
/* C type of one value of t (an array's element type for an array). */
const char *kg__elem_ctype(const kg_type *t);
/* Integer literal for a C expression of the scalar type s. */
const char *kg__int_lit(int64_t v, kg_scalar s);
/* A C string literal for n bytes. */
const char *kg__c_string(const char *s, size_t n);

/* ---- version conditions (emit_cond.c) ------------------------------------ */

/* Condition "version in r" within declaration d. */
const char *kg__vcond(kg_range r, const kg_decl *d);
bool kg__is1(const char *c);
bool kg__is0(const char *c);
/* a && b, folded. */
const char *kg__c_and(const char *a, const char *b);
/* !a, folded. */
const char *kg__c_not(const char *a);
/* Condition: f is a regular (not tagged) field of this version. */
const char *kg__regular_cond(const kg_field *f, const kg_decl *d);
/* Condition: f is in a flexible version (within f's own versions). */
const char *kg__flex_of(const kg_field *f, const kg_decl *d);
/* C bool expression: f may be null (within f's own versions). */
const char *kg__null_of(const kg_field *f, const kg_decl *d);
/* Open "if (cond) {" unless cond is "1"; returns whether it did. */
bool kg__open_if(kg__buf *b, const char *cond);
/* Close what kg__open_if() opened. */
void kg__close_if(kg__buf *b, bool opened);
/* Prefix kind expression (L_I16...) of a string/bytes/records/array
 * value. `flex` is the field's flexible condition ("1" inside a tag
 * section). */
const char *kg__kind_expr(const kg_type *t, const char *flex);

/* ---- wire layout facts (emit_layout.c) ------------------------------------ */

/* Whether s is a declaration's top-level struct. */
bool kg__is_root(const kg_struct *s);
/* Whether any field of s is tagged in some version. */
bool kg__has_tagged(const kg_struct *s);
/* s's length field, or NULL. */
const kg_field *kg__length_field(const kg_struct *s);
/* Whether f is a length or crc field, whose value the encoder computes. */
bool kg__computed(const kg_field *f);
/* The tagged fields of s into v (room for s->nfields), sorted by tag, for
 * the tagged-field section; returns how many. */
size_t kg__tagged_sorted(const kg_struct *s, const kg_field **v);
/* kc_compress()/kc_decompress() flags expression for d's compressed data. */
const char *kg__codec_flags(const kg_decl *d);

/* ---- defaults (emit_default.c) -------------------------------------------- */

/* Statement(s) giving lv (field f) its default. */
void kg__emit_default(kg__buf *b, const kg_field *f, const char *lv);
/* Expression: field f of struct pointer `m` differs from its default. */
const char *kg__nondefault(const kg_field *f, const char *m);
/* T_init(). */
void kg__emit_init(kg__buf *b, const kg_struct *s);
/* isdef_T(), when s->need_isdef. */
void kg__emit_isdef(kg__buf *b, const kg_struct *s);

/* ---- minimum wire sizes (emit_minsize.c) ---------------------------------- */

/* Expression: fewest bytes one element of the array field f takes (at
 * least 1, so a count is always bounded by the bytes left). */
const char *kg__elem_min_expr(const kg_field *f, const kg_decl *d);
/* The minsz_T[] tables kg__elem_min_expr() refers to. */
void kg__emit_min_tables(kg__buf *b, const kg__slist *order);

/* ---- size, encode, decode (emit_size.c, emit_encode.c, emit_decode.c) ----- */

/* Statements adding the wire size of one value of type t at lv to `acc`. */
void kg__size_value(kg__buf *b, const kg_type *t, const char *lv, const char *flex,
		    const char *acc);
/* Statements adding to `acc` a lower bound of the bytes of fields
 * [from, nfields) and the tag section; returns the constant by which the
 * exact size may exceed it. */
int kg__bound_fields(kg__buf *b, const kg_struct *s, size_t from, const char *acc);
/* rest_T(): the value of s's varint length field, if it has one. */
void kg__emit_rest(kg__buf *b, const kg_struct *s);
/* size_T(). */
void kg__emit_size(kg__buf *b, const kg_struct *s);
/* zsize_T_f(): wire size of the compressed field f. */
void kg__emit_zsize(kg__buf *b, const kg_struct *s, const kg_field *f);
/* put_T_f(): the elements of the count array f, no prefix. */
void kg__emit_put_elems(kg__buf *b, const kg_struct *s, const kg_field *f);
/* enc_T(). */
void kg__emit_enc(kg__buf *b, const kg_struct *s);
/* get_T_f(): reads the elements of the count array f. */
void kg__emit_get_elems(kg__buf *b, const kg_struct *s, const kg_field *f);
/* tags_T(), for a struct with tagged fields in a flexible declaration. */
void kg__emit_tags_dec(kg__buf *b, const kg_struct *s);
/* dec_T(). */
void kg__emit_dec(kg__buf *b, const kg_struct *s);

/* ---- the files ----------------------------------------------------------- */

/* Runtime pieces copied into messages.c (emit_runtime.c). */
extern const char *const kg__rt_prefix[];
extern const size_t kg__rt_prefix_n;
extern const char *const kg__rt_compress[];
extern const size_t kg__rt_compress_n;
/* ... and into messages_test.c. */
extern const char *const kg__rt_test[];
extern const size_t kg__rt_test_n;

/* messages.h (emit_header.c). */
void kg__emit_header(kg__buf *b, const kg__slist *order, char *const *files,
		     size_t nfiles);
/* messages.c (emit_source.c), with the tables of emit_table.c. */
void kg__emit_source(kg__buf *b, const kg_schema *sc, const kg__slist *order);
/* The kc_msg_type objects and the api table (emit_table.c). */
void kg__emit_tables(kg__buf *b, const kg_schema *sc);
/* messages_test.h and messages_test.c (emit_test.c). */
void kg__emit_test_header(kg__buf *b);
void kg__emit_test_source(kg__buf *b, const kg_schema *sc, const kg__slist *order);
/* messages_json.h and messages_json.c: a JSON writer per struct and the
 * dispatch by type and api key (emit_json.c). */
void kg__emit_json_header(kg__buf *b, const kg__slist *order);
void kg__emit_json_source(kg__buf *b, const kg_schema *sc, const kg__slist *order);

#endif
