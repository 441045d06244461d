/* Names of scenario fault rules: a linear table (scenarios name a few). */
#include <errno.h>
#include <string.h>

#include "buf_int.h"
#include "scenario_ids.h"

void km__sc_ids_init(km__sc_ids *t)
{
	*t = (km__sc_ids){0};
}

void km__sc_ids_free(km__sc_ids *t)
{
	kc__free(t->v);
	km__sc_ids_init(t);
}

static size_t index_of(const km__sc_ids *t, const char *name)
{
	size_t i = 0;
	while (i < t->n && strcmp(t->v[i].name, name))
		i++;
	return i;
}

km_fault_id km__sc_ids_find(const km__sc_ids *t, const char *name)
{
	size_t i = index_of(t, name);
	return i < t->n ? t->v[i].id : 0;
}

int km__sc_ids_add(km__sc_ids *t, const char *name, km_fault_id id)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		km__sc_id *v = kc__realloc(t->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	km__sc_id *e = &t->v[t->n++];
	memset(e->name, 0, sizeof e->name);
	strncpy(e->name, name, sizeof e->name - 1);
	e->id = id;
	return 0;
}

void km__sc_ids_remove(km__sc_ids *t, const char *name)
{
	size_t i = index_of(t, name);
	if (i < t->n)
		t->v[i] = t->v[--t->n];
}

void km__sc_ids_clear(km__sc_ids *t)
{
	t->n = 0;
}
