/*
 * kafkit mock broker: the names scenario commands give their fault rules
 * (`id=NAME`), so that `cancel NAME` can remove them (internal).
 *
 * A small table of NAME -> km_fault_id owned by whoever applies commands
 * (kafkit-mock keeps one for its whole run). A name stays taken until it
 * is cancelled or `clear` runs, even when its rule has removed itself.
 *
 * Threading: the caller's; the table is not shared.
 */
#ifndef KAFKIT_MOCK_SCENARIO_IDS_H
#define KAFKIT_MOCK_SCENARIO_IDS_H

#include <stddef.h>

#include "kafkit/mock.h"

/* Longest rule name, plus the NUL. */
#define KM__SC_NAME_MAX 64

typedef struct km__sc_id {
	char name[KM__SC_NAME_MAX];
	km_fault_id id;
} km__sc_id;

typedef struct km__sc_ids {
	km__sc_id *v;
	size_t n, cap;
} km__sc_ids;

/* An empty table. Never fails. */
void km__sc_ids_init(km__sc_ids *t);

/* Release the table; it is empty (and usable) afterwards. */
void km__sc_ids_free(km__sc_ids *t);

/* The rule named `name`, or 0 when the name is not taken. */
km_fault_id km__sc_ids_find(const km__sc_ids *t, const char *name);

/* Take `name` (not taken, shorter than KM__SC_NAME_MAX) for rule id.
 * Returns 0 or -ENOMEM (the table is unchanged). */
int km__sc_ids_add(km__sc_ids *t, const char *name, km_fault_id id);

/* Free `name`; no-op when it is not taken. */
void km__sc_ids_remove(km__sc_ids *t, const char *name);

/* Free every name (as `clear` removes every rule). */
void km__sc_ids_clear(km__sc_ids *t);

#endif
