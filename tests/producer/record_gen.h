/*
 * Deterministic test records for the producer's peer tests (librdkafka's
 * mock cluster, kafka-python): record i is rebuilt from i alone, so what a
 * consumer read back can be compared byte for byte with what was sent.
 */
#ifndef KAFKIT_TESTS_RECORD_GEN_H
#define KAFKIT_TESTS_RECORD_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "kafkit/producer.h"

/* Buffer sizes the functions below need. */
#define RG_KEY_MAX 32
#define RG_VALUE_MAX 400
#define RG_HEADERS_MAX 2

/* Key "key-<i>" into buf (RG_KEY_MAX bytes): its length, or -1 for a
 * null key (every 10th record). */
int rg_key(int i, char *buf);

/* Value "value-<i>:" then i % 300 binary bytes into buf (RG_VALUE_MAX
 * bytes): its length, or -1 for a null value, a tombstone (every 17th). */
int rg_value(int i, uint8_t *buf);

/* 0 to 2 headers into h, their values in vals (the second header's value
 * is null every 5th record). Returns how many. */
size_t rg_headers(int i, kp_header *h, char (*vals)[RG_KEY_MAX]);

#endif
