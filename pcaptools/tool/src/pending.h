/*
 * kafkit-pcap: what the tool remembers about a request until its response
 * arrives, keyed by (connection id, correlation id): the client id (a
 * response header carries none), whether the request passed the filters,
 * and which statistics partitions a Produce request touched, so the
 * response's latency and error codes land in the same groups.
 *
 * Threading: a kx__pending belongs to one thread at a time.
 */
#ifndef KAFKIT_PCAP_TOOL_PENDING_H
#define KAFKIT_PCAP_TOOL_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkit/buf.h"
#include "kafkit/err.h"

#define KX__CLIENT_ID_MAX 255

typedef struct kx__pend {
	uint64_t conn;
	int32_t corr;
	bool used;
	bool matched;             /* the request passed the filters */
	int32_t client_id_len;    /* -1: null */
	char client_id[KX__CLIENT_ID_MAX]; /* cut at KX__CLIENT_ID_MAX bytes */
	uint32_t *parts;          /* statistics partition indices, owned */
	uint32_t nparts;
} kx__pend;

typedef struct kx__pending {
	kx__pend *v;
	size_t cap; /* power of two, or 0 */
	size_t n;
} kx__pending;

void kx__pending_init(kx__pending *p);
/* Release every entry and the table. */
void kx__pending_free(kx__pending *p);

/* The entry for (conn, corr), created empty (client id null, no parts)
 * or, when one exists (a correlation id reused before its response),
 * cleared and reused. Returns NULL when out of memory (KC_ERR_NOMEM; the
 * table is unchanged). The pointer is valid until the next add/remove. */
kx__pend *kx__pending_add(kx__pending *p, uint64_t conn, int32_t corr);

/* The entry for (conn, corr) or NULL. Valid until the next add/remove. */
kx__pend *kx__pending_find(kx__pending *p, uint64_t conn, int32_t corr);

/* Remove e (from find or add), freeing its parts. */
void kx__pending_remove(kx__pending *p, kx__pend *e);

/* Remove every entry of a connection (it closed). */
void kx__pending_drop_conn(kx__pending *p, uint64_t conn);

/* Set e's client id (copied, cut at KX__CLIENT_ID_MAX). */
void kx__pend_set_client(kx__pend *e, kc_str client_id);

/* Set e's partition indices (copied). Returns KC_OK or KC_ERR_NOMEM
 * (e keeps none). */
kc_err kx__pend_set_parts(kx__pend *e, const uint32_t *parts, uint32_t n);

#endif
