/* kafkit-produce: the table of records sent, delivery reports, and the
 * generated payload. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool.h"

static kpt__table *reports_to;

int64_t kpt__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

kpt__rec *kpt__table_add(kpt__table *t)
{
	size_t chunk = (size_t)(t->n >> KPT__CHUNK_BITS);
	if (chunk >= KPT__MAX_CHUNKS)
		return NULL;
	if (!t->chunks[chunk]) {
		t->chunks[chunk] = malloc(KPT__CHUNK * sizeof(kpt__rec));
		if (!t->chunks[chunk])
			return NULL;
	}
	kpt__rec *r = kpt__at(t, t->n++);
	*r = (kpt__rec){.offset = -1, .partition = -1};
	return r;
}

void kpt__table_free(kpt__table *t)
{
	for (size_t i = 0; i < KPT__MAX_CHUNKS && t->chunks[i]; i++) {
		free(t->chunks[i]);
		t->chunks[i] = NULL;
	}
}

void kpt__table_use(kpt__table *t)
{
	reports_to = t;
}

void kpt__on_delivery(const kp_delivery_report *dr, void *opaque)
{
	kpt__rec *r = opaque;
	if (r->state != KPT__PENDING) {
		atomic_fetch_add(&reports_to->extra, 1);
		return;
	}
	int64_t lat = (kpt__now_ns() - r->sent_ns) / 1000;
	r->lat_us = lat > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
	r->partition = dr->partition;
	r->offset = dr->offset;
	r->err = dr->err;
	r->kafka_err = dr->kafka_err;
	if (dr->err == KP_OK) {
		r->state = KPT__DELIVERED;
		atomic_fetch_add(&reports_to->bytes,
				 dr->key_len + dr->value_len);
		atomic_fetch_add(&reports_to->delivered, 1);
	} else {
		r->state = KPT__FAILED;
		atomic_fetch_add(&reports_to->failed, 1);
	}
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

uint64_t kpt__hash(const void *key, int64_t key_len, const void *value,
		   int64_t value_len)
{
	/* Lengths go in first (-1 for null) so that a null and an empty
	 * field, or a byte moved from key to value, hash apart. */
	int64_t lens[2] = {key ? key_len : -1, value ? value_len : -1};
	uint64_t h = fnv(0xcbf29ce484222325ull, lens, sizeof lens);
	if (key)
		h = fnv(h, key, (size_t)key_len);
	if (value)
		h = fnv(h, value, (size_t)value_len);
	return h;
}

/* A pool of random capital letters, as kafka-producer-perf-test fills its
 * payloads, so that codecs see text-like data and not a constant. */
#define POOL_SPAN 65536

int kpt__gen_init(kpt__gen *g, size_t size, int64_t keys)
{
	g->size = size;
	g->keys = keys;
	g->pool_len = POOL_SPAN + size;
	g->pool = malloc(g->pool_len);
	if (!g->pool)
		return -1;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < g->pool_len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		g->pool[i] = (uint8_t)('A' + x % 26);
	}
	return 0;
}

void kpt__gen_free(kpt__gen *g)
{
	free(g->pool);
	g->pool = NULL;
}

void kpt__gen_value(const kpt__gen *g, uint64_t seq, uint8_t *buf)
{
	char head[KPT__SEQ_DIGITS + 2];
	snprintf(head, sizeof head, "%0*" PRIu64 "", KPT__SEQ_DIGITS, seq);
	memcpy(buf, head, KPT__SEQ_DIGITS);
	buf[KPT__SEQ_DIGITS] = ' ';
	/* Each record starts its filler elsewhere in the pool, so batches
	 * are not runs of one repeated value. */
	size_t at = (size_t)((seq * 2654435761u) % POOL_SPAN);
	memcpy(buf + KPT__SEQ_DIGITS + 1, g->pool + at,
	       g->size - KPT__SEQ_DIGITS - 1);
}

int kpt__gen_key(const kpt__gen *g, uint64_t seq, char *buf)
{
	if (!g->keys)
		return -1;
	return snprintf(buf, 32, "key-%" PRIu64, seq % (uint64_t)g->keys);
}
