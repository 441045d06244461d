/* Idempotent producer state of one partition: sequences and epochs. */
#include <errno.h>

#include "buf_int.h"
#include "kafka_errors.h"
#include "producer_state.h"

#define FIRST_CAP 8

void km__pstate_init(km__pstate *s)
{
	*s = (km__pstate){0};
}

void km__pstate_free(km__pstate *s)
{
	kc__free(s->slots);
	*s = (km__pstate){0};
}

int32_t km__seq_add(int32_t first, int32_t delta)
{
	if (first > INT32_MAX - delta)
		return delta - (INT32_MAX - first) - 1;
	return first + delta;
}

static size_t slot_of(int64_t pid, size_t cap)
{
	uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15u;
	return (size_t)(h >> 32) & (cap - 1);
}

static km__pentry *find(const km__pstate *s, int64_t pid)
{
	if (!s->cap)
		return NULL;
	for (size_t i = slot_of(pid, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i].pid == pid)
			return &s->slots[i];
		if (s->slots[i].pid < 0)
			return NULL;
	}
}

static int in_sequence(int32_t last, int32_t next)
{
	return (int64_t)next == (int64_t)last + 1 ||
	       (next == 0 && last == INT32_MAX);
}

int16_t km__pstate_check(const km__pstate *s, int64_t pid, int16_t epoch,
			 int32_t first_seq, int32_t last_seq,
			 const km__pbatch **dup)
{
	*dup = NULL;
	const km__pentry *e = find(s, pid);
	if (!e)
		return 0; /* unknown here: any sequence starts it */
	if (epoch < e->epoch)
		return KM__E_INVALID_PRODUCER_EPOCH;
	if (epoch != e->epoch)
		return first_seq == 0 ? 0 : KM__E_OUT_OF_ORDER_SEQUENCE_NUMBER;
	for (unsigned i = 0; i < e->n; i++) {
		const km__pbatch *b = &e->b[i];
		if (b->first_seq == first_seq && b->last_seq == last_seq) {
			*dup = b;
			return 0;
		}
	}
	if (e->n == 0)
		return 0;
	unsigned newest = (e->next + KM__PRODUCER_BATCHES - 1) %
			  KM__PRODUCER_BATCHES;
	if (!in_sequence(e->b[newest].last_seq, first_seq))
		return KM__E_OUT_OF_ORDER_SEQUENCE_NUMBER;
	return 0;
}

static int grow(km__pstate *s)
{
	size_t cap = s->cap ? s->cap * 2 : FIRST_CAP;
	km__pentry *slots = kc__malloc(cap * sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		slots[i].pid = -1;
	for (size_t i = 0; i < s->cap; i++) {
		if (s->slots[i].pid < 0)
			continue;
		size_t j = slot_of(s->slots[i].pid, cap);
		while (slots[j].pid >= 0)
			j = (j + 1) & (cap - 1);
		slots[j] = s->slots[i];
	}
	kc__free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

int km__pstate_reserve(km__pstate *s)
{
	/* Keep the table at most 3/4 full so probes stay short. */
	if ((s->count + 1) * 4 > s->cap * 3)
		return grow(s);
	return 0;
}

void km__pstate_record(km__pstate *s, int64_t pid, int16_t epoch,
		       const km__pbatch *b)
{
	km__pentry *e = find(s, pid);
	if (!e) {
		size_t i = slot_of(pid, s->cap);
		while (s->slots[i].pid >= 0)
			i = (i + 1) & (s->cap - 1);
		e = &s->slots[i];
		*e = (km__pentry){.pid = pid, .epoch = epoch};
		s->count++;
	}
	if (e->epoch != epoch) {
		e->epoch = epoch;
		e->n = 0;
		e->next = 0;
	}
	e->b[e->next] = *b;
	e->next = (uint8_t)((e->next + 1) % KM__PRODUCER_BATCHES);
	if (e->n < KM__PRODUCER_BATCHES)
		e->n++;
}
