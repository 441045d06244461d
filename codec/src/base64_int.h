/*
 * Base64 encoding for the JSON writer: the standard alphabet with padding
 * (record keys and values), with SSSE3 or AVX2 when the CPU has them, and
 * the URL alphabet without padding (Kafka's UUIDs, as its tools print
 * them). Any thread.
 */
#ifndef KAFKIT_CODEC_BASE64_INT_H
#define KAFKIT_CODEC_BASE64_INT_H

#include <stddef.h>
#include <stdint.h>

/* Standard base64 of s[0..n), padded, at o, which has room for
 * (n + 2) / 3 * 4 bytes. Returns the end of what was written. */
char *kc__base64_std(char *o, const uint8_t *s, size_t n);

/* URL-alphabet base64 of s[0..n), unpadded, at o, which has room for
 * (4 * n + 2) / 3 bytes. Returns the end. */
char *kc__base64_url_nopad(char *o, const uint8_t *s, size_t n);

#endif
