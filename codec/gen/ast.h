/*
 * kafkit-gen: the schema AST, as built and checked by parser.c and read by
 * emit.c. Every node lives in the generator's pool (kg_alloc) and is freed
 * at once by kg_pool_free().
 */
#ifndef KAFKIT_GEN_AST_H
#define KAFKIT_GEN_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Highest version a range can name; "N+" ranges end here. */
#define KG_VMAX 32767

/* Zero-filled memory from the pool; exits the program when out of memory
 * (a generator cannot do anything useful then). */
void *kg_alloc(size_t n);
/* NUL-terminated copy of n bytes, from the pool. */
char *kg_strndup(const char *s, size_t n);
/* printf into a pool string. */
char *kg_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Release everything kg_alloc handed out. */
void kg_pool_free(void);

/* Where a construct starts, for error messages. */
typedef struct kg_pos {
	const char *file;
	int line, col;
} kg_pos;

/* A version range [lo, hi]; empty when lo > hi ("none"). */
typedef struct kg_range {
	int lo, hi;
} kg_range;

typedef enum kg_scalar {
	KG_INT8,
	KG_INT16,
	KG_INT32,
	KG_INT64,
	KG_UINT16,
	KG_UINT32,
	KG_FLOAT64,
	KG_BOOL,
	KG_UUID,
	KG_VARINT,
	KG_VARLONG,
	KG_UVARINT,
} kg_scalar;

typedef enum kg_tkind {
	KG_T_SCALAR,
	KG_T_STRING,
	KG_T_BYTES,
	KG_T_RECORDS,
	KG_T_ARRAY,
	KG_T_STRUCT,
} kg_tkind;

/* Length or count prefix. AUTO: int16 (string) / int32 (bytes, records,
 * arrays), compact in flexible versions. */
typedef enum kg_lenspec {
	KG_LEN_AUTO,
	KG_LEN_I16,
	KG_LEN_I32,
	KG_LEN_COMPACT,
	KG_LEN_VARINT,
} kg_lenspec;

struct kg_struct;

typedef struct kg_type {
	kg_tkind kind;
	kg_scalar scalar;        /* KG_T_SCALAR */
	kg_lenspec len;          /* string, bytes, array */
	struct kg_type *elem;    /* KG_T_ARRAY */
	const char *name;        /* KG_T_STRUCT: as written */
	struct kg_struct *st;    /* KG_T_STRUCT: resolved */
	kg_pos pos;
} kg_type;

typedef enum kg_vkind {
	KG_V_NONE,
	KG_V_INT,
	KG_V_BOOL,
	KG_V_NULL,
	KG_V_STRING,
} kg_vkind;

typedef struct kg_value {
	kg_vkind kind;
	int64_t i;
	bool b;
	const char *s;
	size_t slen;
	kg_pos pos;
} kg_value;

typedef enum kg_crc {
	KG_CRC_NONE,
	KG_CRC32C,
	KG_CRC32,
} kg_crc;

typedef struct kg_field {
	const char *name;
	kg_pos pos;
	kg_type type;
	kg_range versions;       /* default: the declaration's */
	kg_range nullable;       /* empty unless `nullable` */
	kg_range tagged;         /* empty unless `tagged` */
	int64_t tag;
	kg_range flexible;       /* the declaration's unless overridden */
	kg_value dflt;           /* KG_V_NONE: the type's zero value */
	bool ignorable;
	bool is_length;
	kg_crc crc;
	const char *count_name;
	kg_pos count_pos;
	struct kg_field *count;  /* resolved `count` field */
	const char *comp_name;
	kg_pos comp_pos;
	struct kg_field *comp;   /* resolved `compressed` field */
	struct kg_field *count_of; /* this field holds that array's count */
	struct kg_struct *body;  /* inline struct body, if any */
	const char *path;        /* "ProduceRequest.topic_data" (errors) */
	bool has_versions, has_nullable, has_tagged, has_flexible;
	kg_pos versions_pos, nullable_pos, tagged_pos, flexible_pos;
	kg_pos len_pos, crc_pos;
} kg_field;

typedef struct kg_struct {
	const char *name;        /* as written; the declaration's for roots */
	kg_pos pos;
	kg_field **fields;
	size_t nfields;
	struct kg_decl *decl;
	const char *cname;       /* kc_produce_request_topic_produce_data */
	const char *path;        /* error-name prefix of its fields */
	bool shared;             /* defined by a `struct` item */
	bool used;
	bool need_isdef;         /* emit: isdef_T() is called */
	int mark;                /* cycle check / emit order */
} kg_struct;

typedef enum kg_kind {
	KG_REQUEST,
	KG_RESPONSE,
	KG_HEADER,
	KG_FORMAT,
} kg_kind;

typedef struct kg_decl {
	kg_kind kind;
	const char *name;
	kg_pos pos;
	bool has_apikey, has_versions, has_flexible;
	int apikey;
	kg_range versions;
	kg_range flexible;       /* empty when never flexible */
	kg_struct *root;         /* the top-level fields */
	kg_struct **structs;     /* every named struct, in definition order */
	size_t nstructs;
	const char *stem;        /* produce_request */
} kg_decl;

typedef struct kg_schema {
	kg_decl **decls;
	size_t ndecls;
} kg_schema;

/* ---- range helpers ------------------------------------------------------ */

static inline bool kg_range_empty(kg_range r)
{
	return r.lo > r.hi;
}
static inline bool kg_range_has(kg_range r, int v)
{
	return v >= r.lo && v <= r.hi;
}
/* a within b (an empty a is within anything). */
static inline bool kg_range_within(kg_range a, kg_range b)
{
	return kg_range_empty(a) || (a.lo >= b.lo && a.hi <= b.hi);
}
static inline kg_range kg_range_meet(kg_range a, kg_range b)
{
	kg_range r = {a.lo > b.lo ? a.lo : b.lo, a.hi < b.hi ? a.hi : b.hi};
	return r;
}

#endif
