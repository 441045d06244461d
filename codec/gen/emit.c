/*
 * kafkit-gen: C emitter driver. Orders the structs, decides which need an
 * isdef_T() helper, and writes the six generated files.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "emit.h"
#include "emit_int.h"

static void slist_push(kg__slist *l, const kg_struct *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		const kg_struct **v = kg_alloc(cap * sizeof *v);
		if (l->n)
			memcpy(v, l->v, l->n * sizeof *v);
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
}

/* Depth first: a struct comes after every struct it contains. */
static void order_visit(kg_struct *s, kg__slist *l)
{
	if (s->mark == 3)
		return;
	s->mark = 3;
	for (size_t i = 0; i < s->nfields; i++) {
		kg_type *t = &s->fields[i]->type;
		if (t->kind == KG_T_ARRAY)
			t = t->elem;
		if (t->kind == KG_T_STRUCT)
			order_visit(t->st, l);
	}
	slist_push(l, s);
}

static void mark_isdef(kg_struct *s)
{
	if (s->need_isdef)
		return;
	s->need_isdef = true;
	for (size_t i = 0; i < s->nfields; i++)
		if (s->fields[i]->type.kind == KG_T_STRUCT)
			mark_isdef(s->fields[i]->type.st);
}

/* isdef_T() exists for structs whose default-ness is asked: tagged struct
 * fields and struct fields some versions lack. */
static void mark_isdefs(const kg__slist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const kg_struct *s = l->v[i];
		for (size_t k = 0; k < s->nfields; k++) {
			const kg_field *f = s->fields[k];
			if (f->type.kind != KG_T_STRUCT)
				continue;
			if (!kg_range_empty(f->tagged) ||
			    (!f->ignorable && !kg__is1(kg__vcond(f->versions, s->decl))))
				mark_isdef(f->type.st);
		}
	}
}

static kg__slist struct_order(const kg_schema *sc)
{
	kg__slist l = {0};
	for (size_t i = 0; i < sc->ndecls; i++) {
		sc->decls[i]->root->mark = 0;
		for (size_t k = 0; k < sc->decls[i]->nstructs; k++)
			sc->decls[i]->structs[k]->mark = 0;
	}
	for (size_t i = 0; i < sc->ndecls; i++) {
		order_visit(sc->decls[i]->root, &l);
		for (size_t k = 0; k < sc->decls[i]->nstructs; k++)
			order_visit(sc->decls[i]->structs[k], &l);
	}
	return l;
}

static int write_file(const char *dir, const char *name, const kg__buf *b)
{
	const char *path = kg_fmt("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "kafkit-gen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t n = b->n ? fwrite(b->p, 1, b->n, f) : 0;
	if (n != b->n || fclose(f) != 0) {
		fprintf(stderr, "kafkit-gen: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

int kg_emit(const kg_schema *s, const char *dir, char *const *files, size_t nfiles)
{
	kg__slist order = struct_order(s);
	mark_isdefs(&order);
	kg__buf h = {0}, c = {0}, th = {0}, tc = {0}, jh = {0}, jc = {0};
	kg__emit_header(&h, &order, files, nfiles);
	kg__emit_source(&c, s, &order);
	kg__emit_test_header(&th);
	kg__emit_test_source(&tc, s, &order);
	kg__emit_json_header(&jh, &order);
	kg__emit_json_source(&jc, s, &order);
	if (write_file(dir, "messages.h", &h) || write_file(dir, "messages.c", &c) ||
	    write_file(dir, "messages_test.h", &th) ||
	    write_file(dir, "messages_test.c", &tc) ||
	    write_file(dir, "messages_json.h", &jh) ||
	    write_file(dir, "messages_json.c", &jc))
		return -1;
	return 0;
}
