/* Pending requests: open addressing with linear probing, removal by
 * backward shift so lookups never meet tombstones. */
#include <string.h>

#include "buf_int.h"
#include "pending.h"

void kx__pending_init(kx__pending *p)
{
	memset(p, 0, sizeof *p);
}

void kx__pending_free(kx__pending *p)
{
	for (size_t i = 0; i < p->cap; i++)
		if (p->v[i].used)
			kc__free(p->v[i].parts);
	kc__free(p->v);
	memset(p, 0, sizeof *p);
}

static size_t hash(uint64_t conn, int32_t corr)
{
	uint64_t h = conn * 0x9E3779B97F4A7C15u ^ (uint32_t)corr;
	h ^= h >> 29;
	h *= 0xBF58476D1CE4E5B9u;
	return (size_t)(h ^ h >> 32);
}

static kx__pend *slot(const kx__pending *p, uint64_t conn, int32_t corr)
{
	size_t m = p->cap - 1;
	for (size_t i = hash(conn, corr) & m;; i = (i + 1) & m)
		if (!p->v[i].used || (p->v[i].conn == conn && p->v[i].corr == corr))
			return &p->v[i];
}

static int grow(kx__pending *p)
{
	size_t cap = p->cap ? p->cap * 2 : 64;
	kx__pend *v = kc__malloc(cap * sizeof *v);
	if (!v)
		return -1;
	memset(v, 0, cap * sizeof *v);
	kx__pending old = *p;
	p->v = v;
	p->cap = cap;
	for (size_t i = 0; i < old.cap; i++)
		if (old.v[i].used)
			*slot(p, old.v[i].conn, old.v[i].corr) = old.v[i];
	kc__free(old.v);
	return 0;
}

kx__pend *kx__pending_find(kx__pending *p, uint64_t conn, int32_t corr)
{
	if (!p->cap)
		return NULL;
	kx__pend *e = slot(p, conn, corr);
	return e->used ? e : NULL;
}

kx__pend *kx__pending_add(kx__pending *p, uint64_t conn, int32_t corr)
{
	/* at most half full: probes stay short */
	if ((p->n + 1) * 2 > p->cap && grow(p) != 0)
		return NULL;
	kx__pend *e = slot(p, conn, corr);
	if (e->used)
		kc__free(e->parts);
	else
		p->n++;
	memset(e, 0, sizeof *e);
	e->used = true;
	e->conn = conn;
	e->corr = corr;
	e->client_id_len = -1;
	return e;
}

void kx__pending_remove(kx__pending *p, kx__pend *e)
{
	size_t m = p->cap - 1, i = (size_t)(e - p->v);
	kc__free(e->parts);
	e->used = false;
	p->n--;
	/* backward shift: move later members of the run into the hole when
	 * their home slot is not between the hole and them */
	for (size_t k = (i + 1) & m; p->v[k].used; k = (k + 1) & m) {
		size_t home = hash(p->v[k].conn, p->v[k].corr) & m;
		bool stays = i <= k ? (home > i && home <= k) : (home > i || home <= k);
		if (stays)
			continue;
		p->v[i] = p->v[k];
		p->v[k].used = false;
		p->v[k].parts = NULL;
		i = k;
	}
}

void kx__pending_drop_conn(kx__pending *p, uint64_t conn)
{
	for (size_t i = 0; i < p->cap;) {
		if (p->v[i].used && p->v[i].conn == conn)
			kx__pending_remove(p, &p->v[i]); /* may shift another into i */
		else
			i++;
	}
}

void kx__pend_set_client(kx__pend *e, kc_str client_id)
{
	e->client_id_len = client_id.len;
	if (client_id.len > KX__CLIENT_ID_MAX)
		e->client_id_len = KX__CLIENT_ID_MAX;
	if (e->client_id_len > 0)
		memcpy(e->client_id, client_id.ptr, (size_t)e->client_id_len);
}

kc_err kx__pend_set_parts(kx__pend *e, const uint32_t *parts, uint32_t n)
{
	kc__free(e->parts);
	e->parts = NULL;
	e->nparts = 0;
	if (!n)
		return KC_OK;
	e->parts = kc__malloc(n * sizeof *parts);
	if (!e->parts)
		return KC_ERR_NOMEM;
	memcpy(e->parts, parts, n * sizeof *parts);
	e->nparts = n;
	return KC_OK;
}
