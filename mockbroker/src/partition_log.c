/*
 * One partition's log: segments of sealed batches and an index of them.
 *
 * Byte positions patched on append (wire-format.md §6, §8):
 *   v2:     baseOffset @0, partitionLeaderEpoch @12, crc @17 (CRC-32C of
 *           [21, end)), attributes @21, maxTimestamp @35;
 *   legacy: offset @0, crc @12 (CRC-32 of [16, end)), attributes @17,
 *           timestamp @18 (magic 1).
 */
#include <string.h>

#include "buf_int.h"
#include "kafkit/crc.h"
#include "partition_log.h"

#define FIRST_SEGMENT ((size_t)4096)
#define FIRST_RING 16

enum {
	V2_CRC_AT = 17,
	V2_ATTRS_AT = 21,
	V2_LOD_AT = 23,
	V2_MAX_TS_AT = 35,
	V2_EPOCH_AT = 12,
	MSG_CRC_AT = 12,
	MSG_MAGIC_AT = 16,
	MSG_ATTRS_AT = 17,
	MSG_TS_AT = 18,
};

void km__plog_init(km__plog *l, size_t retention_bytes,
		   size_t retention_batches)
{
	*l = (km__plog){
		.next_seg_cap = FIRST_SEGMENT,
		.retention_bytes = retention_bytes,
		.retention_batches = retention_batches,
	};
}

/* ---- segments ------------------------------------------------------------ */

static void seg_maybe_free(km__segment *s)
{
	if (s && !s->active && !s->batches && !s->inflight) {
		kn__block_unref(s->blk);
		kc__free(s);
	}
}

void km__segment_ref(km__segment *seg)
{
	seg->inflight++;
}

void km__segment_unref(km__segment *seg)
{
	seg->inflight--;
	seg_maybe_free(seg);
}

/* n bytes at the end of the active segment, starting a new one when they
 * do not fit. Nothing changes when the allocation fails. */
static uint8_t *seg_reserve(km__plog *l, size_t n, km__segment **seg)
{
	km__segment *s = l->active;
	if (!s || s->cap - s->len < n) {
		size_t cap = n > l->next_seg_cap ? n : l->next_seg_cap;
		km__segment *ns = kc__malloc(sizeof *ns + cap);
		if (!ns)
			return NULL;
		*ns = (km__segment){.cap = cap, .active = true};
		ns->data = ns->own;
		if (s) {
			s->active = false;
			seg_maybe_free(s);
		}
		l->active = s = ns;
		/* Small partitions stay small; busy ones reach 1 MiB. */
		if (l->next_seg_cap < KM__SEGMENT_MAX)
			l->next_seg_cap *= 2;
	}
	*seg = s;
	return s->data + s->len;
}

/* ---- index --------------------------------------------------------------- */

static int ring_room(km__plog *l)
{
	if (l->count < l->cap)
		return 0;
	size_t cap = l->cap ? l->cap * 2 : FIRST_RING;
	km__batch *r = kc__malloc(cap * sizeof *r);
	if (!r)
		return -1;
	for (size_t i = 0; i < l->count; i++)
		r[i] = *km__plog_at(l, i);
	kc__free(l->ring);
	l->ring = r;
	l->cap = cap;
	l->head = 0;
	return 0;
}

static void drop_oldest(km__plog *l)
{
	km__batch *b = km__plog_at(l, 0);
	km__segment *s = b->seg;
	l->bytes -= b->len;
	l->head = (l->head + 1) & (l->cap - 1);
	l->count--;
	s->batches--;
	seg_maybe_free(s);
	l->log_start = l->count ? km__plog_at(l, 0)->base_offset
				: l->end_offset;
}

static void enforce_retention(km__plog *l)
{
	while (l->count > 1 &&
	       ((l->retention_bytes && l->bytes > l->retention_bytes) ||
		(l->retention_batches && l->count > l->retention_batches)))
		drop_oldest(l);
}

static void commit(km__plog *l, km__segment *s, size_t len,
		   const km__batch *proto)
{
	km__batch *b = &l->ring[(l->head + l->count) & (l->cap - 1)];
	*b = *proto;
	b->seg = s;
	b->pos = s->len;
	b->len = len;
	s->len += len;
	s->batches++;
	l->count++;
	l->bytes += len;
	l->end_offset = b->last_offset + 1;
	enforce_retention(l);
}

size_t km__plog_find(const km__plog *l, int64_t offset)
{
	size_t lo = 0, hi = l->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (km__plog_at(l, mid)->last_offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- append: v2 ---------------------------------------------------------- */

/* lastOffsetDelta of a v2 batch of len bytes, or -1 when the header
 * does not hold one. */
static int32_t v2_lod(const uint8_t *data, size_t len)
{
	if (len < KC_BATCH_V2_HEADER_SIZE)
		return -1;
	int32_t lod = (int32_t)kc__get_be32(data + V2_LOD_AT);
	return lod < 0 ? -1 : lod;
}

/* Patch the batch at p (stored in s) and index it. */
static void seal_v2(km__plog *l, km__segment *s, uint8_t *p, size_t len,
		    const km__append *a, int64_t base, int32_t lod)
{
	/* baseOffset: assigned here; partitionLeaderEpoch: the leader's.
	 * Neither is covered by the CRC. */
	kc__be64(p, (uint64_t)base);
	kc__be32(p + V2_EPOCH_AT, (uint32_t)a->leader_epoch);
	if (a->log_append_time >= 0) {
		uint16_t attrs = kc__get_be16(p + V2_ATTRS_AT);
		/* attributes: timestampType = LogAppendTime */
		kc__be16(p + V2_ATTRS_AT, attrs | KC_ATTR_LOG_APPEND_TIME);
		/* maxTimestamp: the append time, every record's timestamp */
		kc__be64(p + V2_MAX_TS_AT, (uint64_t)a->log_append_time);
		kc__be32(p + V2_CRC_AT,
			 kc_crc32c(0, p + V2_ATTRS_AT, len - V2_ATTRS_AT));
	}
	km__batch proto = {
		.base_offset = base,
		.last_offset = base + lod,
		.max_timestamp = (int64_t)kc__get_be64(p + V2_MAX_TS_AT),
		.magic = 2,
		.codec = (int8_t)(kc__get_be16(p + V2_ATTRS_AT) &
				  KC_ATTR_CODEC_MASK),
	};
	commit(l, s, len, &proto);
}

static kc_err append_v2(km__plog *l, const uint8_t *data, size_t len,
			const km__append *a, int64_t base)
{
	int32_t lod = v2_lod(data, len);
	if (lod < 0)
		return KC_ERR_INVALID_ARG;
	km__segment *s;
	uint8_t *p = seg_reserve(l, len, &s);
	if (!p)
		return KC_ERR_NOMEM;
	memcpy(p, data, len);
	seal_v2(l, s, p, len, a, base, lod);
	return KC_OK;
}

kc_err km__plog_append_in_place(km__plog *l, uint8_t *data, size_t len,
				const km__append *a, kn__block *blk,
				int64_t *base_offset)
{
	int32_t lod = v2_lod(data, len);
	if (a->magic != 2 || lod < 0)
		return KC_ERR_INVALID_ARG;
	if (ring_room(l))
		return KC_ERR_NOMEM;
	km__segment *s = kc__malloc(sizeof *s);
	if (!s)
		return KC_ERR_NOMEM;
	*s = (km__segment){.data = data, .blk = blk, .cap = len};
	kn__block_ref(blk);
	*base_offset = l->end_offset;
	seal_v2(l, s, data, len, a, l->end_offset, lod);
	return KC_OK;
}

/* ---- append: legacy ------------------------------------------------------ */

/* A magic-0 wrapper re-encoded with absolute inner offsets from base. */
static kc_err reencode_v0(kc_records_iter *it, const kc_batch_info *info,
			  int64_t base, kc_writer *out)
{
	kc_batch_config cfg;
	kc_batch_config_default(&cfg);
	cfg.magic = 0;
	cfg.codec = info->codec;
	cfg.base_offset = base;
	kc_batch_builder b;
	kc_err e = kc_batch_builder_init(&b, &cfg);
	kc_record_view rec;
	int rc;
	while (e == KC_OK && (rc = kc_records_next(it, &rec)) != 0) {
		if (rc < 0)
			e = (kc_err)rc;
		else
			e = kc_batch_append(&b, -1, rec.key, rec.value, NULL, 0);
	}
	const uint8_t *sealed;
	size_t n;
	if (e == KC_OK)
		e = kc_batch_seal(&b, &sealed, &n);
	if (e == KC_OK)
		kc_writer_copy(out, sealed, n);
	kc_batch_builder_free(&b);
	return e == KC_OK ? kc_writer_err(out) : e;
}

/* Rewrite the top-level messages of a legacy set in place: offsets from
 * base (a wrapper takes its last inner offset), LogAppendTime for magic 1.
 * counts[i] is the record count of message i. Returns the next offset. */
static int64_t patch_legacy(uint8_t *p, size_t len, const int32_t *counts,
			    int64_t base, int64_t lat)
{
	size_t pos = 0;
	for (size_t i = 0; pos < len; i++) {
		uint8_t *m = p + pos;
		size_t size = kc__get_be32(m + 8);
		bool wrapper = (m[MSG_ATTRS_AT] & KC_ATTR_CODEC_MASK) != 0;
		/* offset: the message's, or a wrapper's last inner one */
		kc__be64(m, (uint64_t)(wrapper ? base + counts[i] - 1 : base));
		base += counts[i];
		if (lat >= 0 && m[MSG_MAGIC_AT] == 1) {
			/* attributes: timestampType; timestamp: append time */
			m[MSG_ATTRS_AT] |= KC_ATTR_LOG_APPEND_TIME;
			kc__be64(m + MSG_TS_AT, (uint64_t)lat);
			kc__be32(m + MSG_CRC_AT,
				 kc_crc32(0, m + MSG_MAGIC_AT,
					  KC_LEGACY_LOG_OVERHEAD + size -
						  MSG_MAGIC_AT));
		}
		pos += KC_LEGACY_LOG_OVERHEAD + size;
	}
	return base;
}

typedef struct legacy_scan {
	int32_t *counts;
	size_t n;
	int64_t records;
	int64_t max_ts;
	bool reencode; /* a magic-0 wrapper is present */
	int codec;
} legacy_scan;

static kc_err scan_legacy(const uint8_t *data, size_t len, int magic,
			  legacy_scan *sc)
{
	kc_decode_error de = {0};
	kc_records_iter it;
	kc_records_iter_init(&it, data, len, KC_ITER_STRICT_END, &de);
	size_t cap = 0;
	kc_batch_info info;
	int rc;
	*sc = (legacy_scan){.max_ts = -1, .codec = -1};
	while ((rc = kc_records_next_batch(&it, &info)) == 1) {
		if (info.magic != magic || info.records_count <= 0) {
			rc = KC_ERR_INVALID_ARG;
			break;
		}
		if (sc->n == cap) {
			cap = cap ? cap * 2 : 8;
			int32_t *c = kc__realloc(sc->counts, cap * sizeof *c);
			if (!c) {
				rc = KC_ERR_NOMEM;
				break;
			}
			sc->counts = c;
		}
		sc->counts[sc->n++] = info.records_count;
		sc->records += info.records_count;
		if (info.max_timestamp > sc->max_ts)
			sc->max_ts = info.max_timestamp;
		if (sc->codec < 0)
			sc->codec = info.codec;
		sc->reencode |= magic == 0 && info.codec != KC_CODEC_NONE;
	}
	kc_records_iter_free(&it);
	if (rc == 0 && sc->n == 0)
		rc = KC_ERR_INVALID_ARG;
	if (rc != 0) {
		kc__free(sc->counts);
		return rc == KC_ERR_NOMEM ? KC_ERR_NOMEM : KC_ERR_INVALID_ARG;
	}
	return KC_OK;
}

/* The set with every magic-0 wrapper re-encoded, into out. */
static kc_err rebuild_v0(const uint8_t *data, size_t len,
			 const legacy_scan *sc, int64_t base, kc_writer *out)
{
	kc_decode_error de = {0};
	kc_records_iter it;
	kc_records_iter_init(&it, data, len, KC_ITER_STRICT_END, &de);
	kc_batch_info info;
	kc_err e = KC_OK;
	for (size_t i = 0; e == KC_OK && i < sc->n; i++) {
		int rc = kc_records_next_batch(&it, &info);
		if (rc != 1)
			e = rc < 0 ? (kc_err)rc : KC_ERR_INVALID_ARG;
		else if (info.codec == KC_CODEC_NONE)
			kc_writer_copy(out, data + info.offset, info.wire_size);
		else
			e = reencode_v0(&it, &info, base, out);
		base += sc->counts[i];
	}
	kc_records_iter_free(&it);
	return e == KC_OK ? kc_writer_err(out) : e;
}

static kc_err append_legacy(km__plog *l, const uint8_t *data, size_t len,
			    const km__append *a, int64_t base)
{
	legacy_scan sc;
	KC__TRY(scan_legacy(data, len, a->magic, &sc));
	kc_writer w;
	kc_writer_init(&w);
	kc_err e = KC_OK;
	if (sc.reencode) {
		e = rebuild_v0(data, len, &sc, base, &w);
		data = w.buf;
		len = w.len;
	}
	km__segment *s = NULL;
	uint8_t *p = e == KC_OK ? seg_reserve(l, len, &s) : NULL;
	if (e == KC_OK && !p)
		e = KC_ERR_NOMEM;
	if (e == KC_OK) {
		memcpy(p, data, len);
		patch_legacy(p, len, sc.counts, base, a->log_append_time);
		km__batch proto = {
			.base_offset = base,
			.last_offset = base + sc.records - 1,
			.max_timestamp = a->magic == 1 && a->log_append_time >= 0
						 ? a->log_append_time
						 : sc.max_ts,
			.magic = (int8_t)a->magic,
			.codec = (int8_t)sc.codec,
		};
		commit(l, s, len, &proto);
	}
	kc_writer_free(&w);
	kc__free(sc.counts);
	return e;
}

kc_err km__plog_append(km__plog *l, const uint8_t *data, size_t len,
		       const km__append *a, int64_t *base_offset)
{
	if (ring_room(l))
		return KC_ERR_NOMEM;
	int64_t base = l->end_offset;
	kc_err e;
	if (a->magic == 2)
		e = append_v2(l, data, len, a, base);
	else if (a->magic == 0 || a->magic == 1)
		e = append_legacy(l, data, len, a, base);
	else
		e = KC_ERR_INVALID_ARG;
	if (e == KC_OK)
		*base_offset = base;
	return e;
}

void km__plog_free(km__plog *l)
{
	/* A segment's batches need not be adjacent in the index (batches
	 * kept in place come between), so each segment is looked at when
	 * its last batch goes. */
	for (size_t i = 0; i < l->count; i++) {
		km__segment *s = km__plog_at(l, i)->seg;
		if (--s->batches == 0)
			seg_maybe_free(s);
	}
	if (l->active) {
		l->active->active = false;
		seg_maybe_free(l->active);
	}
	kc__free(l->ring);
	*l = (km__plog){0};
}

/* ---- reading ------------------------------------------------------------- */

void km__plog_read(const km__plog *l, int64_t offset, size_t max_bytes,
		   bool whole_first, km__span *out)
{
	*out = (km__span){.max_magic = -1};
	size_t i = km__plog_find(l, offset);
	if (i >= l->count)
		return;
	const km__batch *first = km__plog_at(l, i);
	size_t len = 0;
	for (; i < l->count; i++) {
		const km__batch *b = km__plog_at(l, i);
		if (b->seg != first->seg)
			break;
		if (len + b->len > max_bytes) {
			if (len == 0)
				len = whole_first ? b->len : max_bytes;
			if (len == b->len) {
				out->max_magic = b->magic;
				out->has_zstd = b->codec == KC_CODEC_ZSTD;
			}
			break;
		}
		len += b->len;
		if (b->magic > out->max_magic)
			out->max_magic = b->magic;
		out->has_zstd |= b->codec == KC_CODEC_ZSTD;
	}
	out->seg = first->seg;
	out->p = first->seg->data + first->pos;
	out->len = len;
}

/* Run fn over every record of batches [from, count), stopping when fn
 * returns non-zero (returned through *stop). */
typedef int (*rec_visit_fn)(void *arg, const kc_batch_info *info,
			    const kc_record_view *rec);

static kc_err visit(const km__plog *l, size_t from, rec_visit_fn fn,
		    void *arg)
{
	kc_decode_error de = {0};
	kc_err e = KC_OK;
	for (size_t i = from; i < l->count && e == KC_OK; i++) {
		const km__batch *b = km__plog_at(l, i);
		kc_records_iter it;
		kc_records_iter_init(&it, b->seg->data + b->pos, b->len, 0, &de);
		kc_batch_info info;
		kc_record_view rec;
		int rc, stop = 0;
		while (!stop && (rc = kc_records_next_batch(&it, &info)) == 1) {
			while (!stop && (rc = kc_records_next(&it, &rec)) == 1)
				stop = fn(arg, &info, &rec);
			if (rc < 0)
				break;
		}
		if (rc < 0)
			e = (kc_err)rc;
		kc_records_iter_free(&it);
		if (stop)
			break;
	}
	return e;
}

typedef struct ts_search {
	int64_t want;
	int64_t offset, ts;
	bool max; /* MAX_TIMESTAMP: keep the first of the largest */
} ts_search;

static int ts_visit(void *arg, const kc_batch_info *info,
		    const kc_record_view *rec)
{
	ts_search *s = arg;
	(void)info;
	if (s->max) {
		if (s->offset < 0 || rec->timestamp > s->ts) {
			s->offset = rec->offset;
			s->ts = rec->timestamp;
		}
		return 0;
	}
	if (rec->timestamp >= s->want) {
		s->offset = rec->offset;
		s->ts = rec->timestamp;
		return 1;
	}
	return 0;
}

kc_err km__plog_offset_for_time(const km__plog *l, int64_t ts,
				int64_t *offset, int64_t *found_ts)
{
	ts_search s = {.want = ts, .offset = -1, .ts = -1};
	/* Batches whose max timestamp is below ts hold no match. */
	size_t i = 0;
	while (i < l->count && km__plog_at(l, i)->max_timestamp < ts)
		i++;
	kc_err e = visit(l, i, ts_visit, &s);
	*offset = s.offset;
	*found_ts = s.ts;
	return e;
}

kc_err km__plog_max_timestamp(const km__plog *l, int64_t *offset,
			      int64_t *found_ts)
{
	ts_search s = {.offset = -1, .ts = -1, .max = true};
	kc_err e = visit(l, 0, ts_visit, &s);
	*offset = s.offset;
	*found_ts = s.ts;
	return e;
}

typedef struct walk {
	km_record_fn fn;
	void *opaque;
} walk;

static int walk_visit(void *arg, const kc_batch_info *info,
		      const kc_record_view *rec)
{
	walk *w = arg;
	bool lat = info->magic > 0 &&
		   (info->attributes & KC_ATTR_LOG_APPEND_TIME);
	int32_t seq = -1;
	if (info->base_sequence >= 0) {
		/* sequence: baseSequence + offsetDelta, wrapping at
		 * INT32_MAX as producers do */
		int64_t s = (int64_t)info->base_sequence +
			    (rec->offset - info->base_offset);
		seq = (int32_t)(s > INT32_MAX ? s - INT32_MAX - 1 : s);
	}
	km_record r = {
		.offset = rec->offset,
		.timestamp = rec->timestamp,
		.log_append_time = lat,
		.key = rec->key,
		.value = rec->value,
		.headers = rec->headers,
		.headers_count = rec->headers_count,
		.magic = info->magic,
		.codec = info->codec,
		.batch_base_offset = info->base_offset,
		.batch_last_offset = info->last_offset,
		.partition_leader_epoch = info->partition_leader_epoch,
		.producer_id = info->producer_id,
		.producer_epoch = info->producer_epoch,
		.sequence = seq,
	};
	return w->fn(w->opaque, &r);
}

kc_err km__plog_walk(const km__plog *l, km_record_fn fn, void *opaque)
{
	walk w = {fn, opaque};
	return visit(l, 0, walk_visit, &w);
}
