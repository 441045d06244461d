/* Helpers shared by the test suites. */
#ifndef KAFKIT_TEST_HELPERS_H
#define KAFKIT_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "kafkit/buf.h"

/* Decode a hex string (whitespace ignored) into a malloc'd buffer; aborts on
 * bad input. *len receives the byte count. */
uint8_t *th_hex(const char *hex, size_t *len);

/* Format n bytes as lowercase hex into a malloc'd string. */
char *th_tohex(const uint8_t *p, size_t n);

/* Copy n bytes so the last byte sits just before a PROT_NONE page: any
 * read past the end crashes. Free with th_guard_free(). */
uint8_t *th_guard_copy(const void *p, size_t n);
void th_guard_free(uint8_t *p, size_t n);

/* Route codec allocations through a counter that fails allocation number
 * `fail_at` (1-based) and every one after it; 0 never fails. */
void th_alloc_fail_at(unsigned long fail_at);
/* Allocations made since the last th_alloc_fail_at(). */
unsigned long th_alloc_count(void);
/* Live (not yet freed) allocations; 0 after a leak-free run. */
long th_alloc_live(void);
/* Restore the default allocator. */
void th_alloc_reset(void);

/* Path of a file in tests/data (from $KAFKIT_TEST_DATA); static buffer. */
const char *th_data_path(const char *name);

/* Read a whole file into a malloc'd buffer; aborts on failure. */
uint8_t *th_read_file(const char *path, size_t *len);

/* Check assertions: n bytes at p equal the hex string (a hex diff is
 * printed on failure); a slice equals hex (NULL hex: the slice is null); a
 * writer's contiguous output equals hex. */
void th_assert_hex(const void *p, size_t n, const char *hex);
void th_assert_bytes_hex(kc_bytes b, const char *hex);
void th_assert_writer_hex(const kc_writer *w, const char *hex);

/* How many of this process's threads are named `name` (their comm), or
 * -1 when /proc/self/task cannot be read. */
int th_threads_named(const char *name);

/* kc_bytes over a C string's characters (no NUL). */
kc_bytes th_bstr(const char *s);

#endif
