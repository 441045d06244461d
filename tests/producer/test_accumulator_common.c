/* Helpers the two accumulator suites share (test_accumulator.c: the
 * application side; test_accumulator_drain.c: the sender side). */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "accumulator.h"
#include "helpers.h"
#include "loop.h"

/* Shared with the other accumulator suite (test_accumulator_common.c). */
kp__acc_conf conf_default(void);
kp__append rec(const char *topic, int32_t partition, const char *key,
	       const char *value);
kp__acc *acc_new(const kp__acc_conf *c);
size_t list_len(const kp__batch *b);
void release_all(kp__acc *a, kp__batch *b);
void set_leader(kp__tp *tp, void *arg);
void acc_done(kp__acc *a);
const char *value_of(size_t n);

kp__acc_conf conf_default(void)
{
	return (kp__acc_conf){
		.batch_size = 16384,
		.buffer_memory = 32 << 20,
		.linger_ms = 5,
		.max_request_size = 1 << 20,
		.codec = KC_CODEC_NONE,
		.level = KC_LEVEL_DEFAULT,
		.partitioner = {.kind = KP__PART_MURMUR2},
		.seed = 42,
	};
}

kp__append rec(const char *topic, int32_t partition, const char *key,
	       const char *value)
{
	return (kp__append){
		.topic = topic,
		.partition = partition,
		.partition_count = 4,
		.magic = 2,
		.timestamp = 1700000000000,
		.key = key ? th_bstr(key) : KC_BYTES_NULL,
		.value = value ? th_bstr(value) : KC_BYTES_NULL,
	};
}

kp__acc *acc_new(const kp__acc_conf *c)
{
	kp__acc *a = NULL;
	ck_assert_int_eq(kp__acc_new(&a, c), KP_OK);
	return a;
}

size_t list_len(const kp__batch *b)
{
	size_t n = 0;
	for (; b; b = b->next)
		n++;
	return n;
}

void release_all(kp__acc *a, kp__batch *b)
{
	while (b) {
		kp__batch *next = b->next;
		kp__acc_release(a, b);
		b = next;
	}
}

void set_leader(kp__tp *tp, void *arg)
{
	tp->leader = *(int32_t *)arg;
}

/* Abort what is queued, release it and free the accumulator. */
void acc_done(kp__acc *a)
{
	kp__batch *list = NULL;
	kp__acc_abort(a, &list);
	release_all(a, list);
	ck_assert_uint_eq(kp__acc_memory_used(a), 0);
	kp__acc_destroy(a);
}

static char value_buf[4096];

/* A value of n bytes ('v' repeated). */
const char *value_of(size_t n)
{
	ck_assert_uint_lt(n, sizeof value_buf);
	memset(value_buf, 'v', n);
	value_buf[n] = 0;
	return value_buf;
}
