/* Deterministic test records (see record_gen.h). */
#include "record_gen.h"

#include <stdio.h>

int rg_key(int i, char *buf)
{
	return i % 10 == 3 ? -1 : snprintf(buf, RG_KEY_MAX, "key-%d", i);
}

int rg_value(int i, uint8_t *buf)
{
	if (i % 17 == 5)
		return -1;
	int n = snprintf((char *)buf, RG_KEY_MAX, "value-%d:", i);
	for (int j = 0; j < i % 300; j++)
		buf[n++] = (uint8_t)((i * 31 + j * 7) & 0xff);
	return n;
}

size_t rg_headers(int i, kp_header *h, char (*vals)[RG_KEY_MAX])
{
	size_t n = (size_t)(i % 3);
	for (size_t j = 0; j < n; j++) {
		h[j].key = j ? "second" : "h-first";
		int vn = snprintf(vals[j], RG_KEY_MAX, "hv%zu-%d", j, i);
		h[j].value = (j == 1 && i % 5 == 0) ? NULL : vals[j];
		h[j].value_len = h[j].value ? (size_t)vn : 0;
	}
	return n;
}
