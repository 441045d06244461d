/* Growable writer with patchable reservations and an iovec mode. */
#include "buf_int.h"
#include "kafkit/crc.h"

enum { WRITER_MIN_CAP = 256 };

void kc_writer_init(kc_writer *w)
{
	*w = (kc_writer){0};
}

void kc_writer_free(kc_writer *w)
{
	kc__free(w->buf);
	kc__free(w->segs);
	*w = (kc_writer){0};
}

void kc_writer_reset(kc_writer *w)
{
	w->len = 0;
	w->ext_total = 0;
	w->nsegs = 0;
	w->owned_mark = 0;
	w->err = KC_OK;
}

void kc_writer_set_ref_threshold(kc_writer *w, size_t n)
{
	w->ref_threshold = n;
}

kc_err kc_writer_err(const kc_writer *w)
{
	return w->err;
}

size_t kc_writer_pos(const kc_writer *w)
{
	return w->len + w->ext_total;
}

const uint8_t *kc_writer_data(const kc_writer *w)
{
	if (w->ext_total)
		return NULL;
	return w->buf;
}

uint8_t *kc__writer_grow(kc_writer *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > SIZE_MAX / 2 - w->len) {
		w->err = KC_ERR_NOMEM;
		return NULL;
	}
	size_t cap = w->cap ? w->cap : WRITER_MIN_CAP;
	while (cap - w->len < n)
		cap *= 2;
	uint8_t *b = kc__realloc(w->buf, cap);
	if (!b) {
		w->err = KC_ERR_NOMEM;
		return NULL;
	}
	w->buf = b;
	w->cap = cap;
	return b + w->len;
}

uint8_t *kc_writer_space(kc_writer *w, size_t n)
{
	return kc__w_room(w, n);
}

void kc_writer_commit(kc_writer *w, size_t n)
{
	if (!w->err)
		w->len += n;
}

void kc_writer_copy(kc_writer *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	uint8_t *d = kc__w_room(w, n);
	if (d) {
		memcpy(d, p, n);
		w->len += n;
	}
}

static int push_seg(kc_writer *w, kc__wseg seg)
{
	if (w->nsegs == w->segs_cap) {
		size_t cap = w->segs_cap ? w->segs_cap * 2 : 8;
		kc__wseg *s = kc__realloc(w->segs, cap * sizeof *s);
		if (!s) {
			w->err = KC_ERR_NOMEM;
			return -1;
		}
		w->segs = s;
		w->segs_cap = cap;
	}
	w->segs[w->nsegs++] = seg;
	return 0;
}

void kc_writer_put(kc_writer *w, const void *p, size_t n)
{
	if (n == 0 || w->err)
		return;
	if (w->ref_threshold == 0 || n < w->ref_threshold) {
		kc_writer_copy(w, p, n);
		return;
	}
	/* Close the owned run written since the last segment, then refer to
	 * the caller's bytes. */
	if (w->len > w->owned_mark) {
		if (push_seg(w, (kc__wseg){NULL, w->owned_mark,
					   w->len - w->owned_mark}))
			return;
		w->owned_mark = w->len;
	}
	if (push_seg(w, (kc__wseg){p, 0, n}))
		return;
	w->ext_total += n;
}

size_t kc_writer_iov(const kc_writer *w, struct iovec *iov, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < w->nsegs; i++, k++) {
		if (k >= max)
			continue;
		const kc__wseg *s = &w->segs[i];
		iov[k].iov_base = (void *)(s->ext ? s->ext : w->buf + s->off);
		iov[k].iov_len = s->len;
	}
	if (w->len > w->owned_mark) {
		if (k < max) {
			iov[k].iov_base = w->buf + w->owned_mark;
			iov[k].iov_len = w->len - w->owned_mark;
		}
		k++;
	}
	return k;
}

kc_wslot kc_writer_reserve(kc_writer *w, size_t n)
{
	kc_wslot s = {w->len, kc_writer_pos(w), n};
	uint8_t *p = kc__w_room(w, n);
	if (p) {
		memset(p, 0, n);
		w->len += n;
	}
	return s;
}

void kc_writer_patch_i32(kc_writer *w, kc_wslot s, int32_t v)
{
	if (!w->err && s.len >= 4)
		kc__be32(w->buf + s.off, (uint32_t)v);
}

void kc_writer_patch_u32(kc_writer *w, kc_wslot s, uint32_t v)
{
	kc_writer_patch_i32(w, s, (int32_t)v);
}

size_t kc_writer_since(const kc_writer *w, kc_wslot s)
{
	return kc_writer_pos(w) - s.pos - s.len;
}

/* Visit the logical output from `from` to the end as contiguous pieces. */
typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static uint32_t crc_from(const kc_writer *w, size_t from, crc_fn fn)
{
	uint32_t crc = 0;
	size_t pos = 0;
	for (size_t i = 0; i < w->nsegs; i++) {
		const kc__wseg *s = &w->segs[i];
		const uint8_t *p = s->ext ? s->ext : w->buf + s->off;
		if (pos + s->len > from) {
			size_t skip = from > pos ? from - pos : 0;
			crc = fn(crc, p + skip, s->len - skip);
		}
		pos += s->len;
	}
	size_t tail = w->len - w->owned_mark;
	if (pos + tail > from) {
		size_t skip = from > pos ? from - pos : 0;
		crc = fn(crc, w->buf + w->owned_mark + skip, tail - skip);
	}
	return crc;
}

uint32_t kc_writer_crc32c_from(const kc_writer *w, size_t from)
{
	return crc_from(w, from, kc_crc32c);
}

uint32_t kc_writer_crc32_from(const kc_writer *w, size_t from)
{
	return crc_from(w, from, kc_crc32);
}

kc_err kc_writer_splice(kc_writer *w, const void *placeholder,
			const kc_writer *src)
{
	if (w->err)
		return w->err;
	size_t n = kc_writer_pos(src);
	size_t at = 0;
	while (at < w->nsegs &&
	       (w->segs[at].ext != placeholder || w->segs[at].len != n))
		at++;
	if (at == w->nsegs || src == w)
		return KC_ERR_INVALID_ARG;
	size_t m = kc_writer_iov(src, NULL, 0);
	if (m == 0) {
		memmove(&w->segs[at], &w->segs[at + 1],
			(w->nsegs - at - 1) * sizeof *w->segs);
		w->nsegs--;
		return KC_OK;
	}
	if (w->nsegs - 1 > SIZE_MAX / sizeof *w->segs - m)
		return KC_ERR_NOMEM;
	size_t need = w->nsegs - 1 + m;
	if (need > w->segs_cap) {
		kc__wseg *s = kc__realloc(w->segs, need * sizeof *s);
		if (!s)
			return KC_ERR_NOMEM;
		w->segs = s;
		w->segs_cap = need;
	}
	memmove(&w->segs[at + m], &w->segs[at + 1],
		(w->nsegs - at - 1) * sizeof *w->segs);
	for (size_t i = 0; i < src->nsegs; i++) {
		const kc__wseg *s = &src->segs[i];
		w->segs[at++] = (kc__wseg){
			s->ext ? s->ext : src->buf + s->off, 0, s->len};
	}
	if (src->len > src->owned_mark)
		w->segs[at] = (kc__wseg){src->buf + src->owned_mark, 0,
					 src->len - src->owned_mark};
	w->nsegs = need;
	return KC_OK;
}

kc_err kc__writer_flatten(kc_writer *w)
{
	if (w->ext_total == 0)
		return w->err;
	size_t total = kc_writer_pos(w);
	if (!kc__w_room(w, w->ext_total)) {
		w->err = KC_OK;
		return KC_ERR_NOMEM;
	}
	/* Back to front: an owned piece only moves up (the references before
	 * it push it), and everything before it is still where it was. */
	size_t end = total;
	size_t tail = w->len - w->owned_mark;
	end -= tail;
	memmove(w->buf + end, w->buf + w->owned_mark, tail);
	for (size_t i = w->nsegs; i-- > 0;) {
		const kc__wseg *s = &w->segs[i];
		end -= s->len;
		if (s->ext)
			memcpy(w->buf + end, s->ext, s->len);
		else
			memmove(w->buf + end, w->buf + s->off, s->len);
	}
	w->len = total;
	w->nsegs = 0;
	w->ext_total = 0;
	w->owned_mark = 0;
	return KC_OK;
}
