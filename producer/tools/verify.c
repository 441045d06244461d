/* kafkit-produce: audit of the embedded cluster's partition logs against
 * the records sent and their delivery reports. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* A delivered stdin record: where its report says it is. */
typedef struct claim {
	int64_t offset;
	uint64_t seq;
} claim;

typedef struct walk {
	const kpt__opts *o;
	kpt__table *t;
	const kpt__gen *g;      /* NULL: stdin records */
	kpt__audit *a;
	int32_t partition;
	/* generated records */
	uint8_t *seen;          /* copies stored, per sequence (saturating) */
	uint8_t *placed;        /* a copy sits where the report says */
	uint8_t *expect;        /* g->size bytes */
	int64_t last_seq;       /* highest sequence stored in the partition */
	/* stdin records */
	claim *claims;          /* this partition's, by offset */
	size_t nclaims, next;
	uint64_t *delivered;    /* hashes of this partition's records, sorted */
	size_t ndelivered;
	uint64_t *failed;       /* hashes of failed records, sorted */
	size_t nfailed;
	/* delivered without an offset (acks=0): matched by content alone */
	uint64_t *unplaced;     /* hashes, sorted */
	uint8_t *taken;         /* unplaced[i] matched a stored record */
	size_t nunplaced;
} walk;

__attribute__((format(printf, 2, 3)))
static void first(kpt__audit *a, const char *fmt, ...)
{
	if (a->first[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->first, sizeof a->first, fmt, ap);
	va_end(ap);
}

bool kpt__audit_failed(const kpt__audit *a)
{
	return a->lost || a->duplicated || a->out_of_order || a->mismatched ||
	       a->foreign;
}

static bool same_bytes(kc_bytes b, const void *p, int64_t len)
{
	if (!p)
		return b.len < 0;
	return b.len == len && (len == 0 || !memcmp(b.ptr, p, (size_t)len));
}

/* Every record carries exactly the -H headers, in order. */
static bool headers_ok(const kpt__opts *o, const km_record *r)
{
	if ((size_t)r->headers_count != o->nheaders)
		return false;
	for (size_t i = 0; i < o->nheaders; i++) {
		const kc_rec_header *h = &r->headers[i];
		const kp_header *w = &o->headers[i];
		if (h->key.len != (int32_t)strlen(w->key) ||
		    memcmp(h->key.ptr, w->key, (size_t)h->key.len) ||
		    !same_bytes(h->value, w->value, (int64_t)w->value_len))
			return false;
	}
	return true;
}

/* The sequence a generated value starts with, or -1. */
static int64_t value_seq(const walk *w, kc_bytes v)
{
	if (v.len < 0 || (size_t)v.len != w->g->size)
		return -1;
	uint64_t seq = 0;
	for (int i = 0; i < KPT__SEQ_DIGITS; i++) {
		if (v.ptr[i] < '0' || v.ptr[i] > '9')
			return -1;
		seq = seq * 10 + (uint64_t)(v.ptr[i] - '0');
	}
	return seq < w->t->n ? (int64_t)seq : -1;
}

static int on_generated(void *opaque, const km_record *r)
{
	walk *w = opaque;
	kpt__audit *a = w->a;
	a->stored++;
	int64_t seq = value_seq(w, r->value);
	if (seq < 0) {
		a->foreign++;
		first(a, "partition %" PRId32 " offset %" PRId64
		      ": a record this run did not send", w->partition,
		      r->offset);
		return 0;
	}
	char key[32];
	int klen = kpt__gen_key(w->g, (uint64_t)seq, key);
	kpt__gen_value(w->g, (uint64_t)seq, w->expect);
	if (!same_bytes(r->value, w->expect, (int64_t)w->g->size) ||
	    !same_bytes(r->key, klen < 0 ? NULL : key, klen) ||
	    !headers_ok(w->o, r)) {
		a->mismatched++;
		first(a, "partition %" PRId32 " offset %" PRId64
		      ": record %" PRId64 " stored with other bytes",
		      w->partition, r->offset, seq);
	}
	const kpt__rec *s = kpt__at(w->t, (uint64_t)seq);
	/* Without idempotence a retried record is stored twice and its
	 * report names one of the copies: any copy may match it. */
	if (s->partition == w->partition &&
	    (s->offset < 0 || s->offset == r->offset))
		w->placed[seq] = 1;
	uint8_t *seen = &w->seen[seq];
	if (*seen < UINT8_MAX)
		(*seen)++;
	if (*seen > 1) {
		a->duplicated++;
		first(a, "partition %" PRId32 " offset %" PRId64
		      ": record %" PRId64 " stored again", w->partition,
		      r->offset, seq);
		return 0;
	}
	if (s->state != KPT__DELIVERED)
		a->failed_stored++;
	if (seq < w->last_seq) {
		a->out_of_order++;
		first(a, "partition %" PRId32 " offset %" PRId64
		      ": record %" PRId64 " after record %" PRId64,
		      w->partition, r->offset, seq, w->last_seq);
	} else {
		w->last_seq = seq;
	}
	return 0;
}

static int cmp_claim(const void *x, const void *y)
{
	const claim *a = x, *b = y;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static bool has_hash(const uint64_t *v, size_t n, uint64_t h)
{
	return n && bsearch(&h, v, n, sizeof *v, cmp_u64);
}

/* Match a stored record to an unused unplaced record with hash h. */
static bool take_unplaced(walk *w, uint64_t h)
{
	size_t lo = 0, hi = w->nunplaced;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->unplaced[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < w->nunplaced && w->unplaced[lo] == h; lo++)
		if (!w->taken[lo]) {
			w->taken[lo] = 1;
			return true;
		}
	return false;
}

static void lost_claim(walk *w, const claim *c)
{
	w->a->lost++;
	first(w->a, "record %" PRIu64 " reported at %" PRId32 "/%" PRId64
	      " is not in the log", c->seq, w->partition, c->offset);
}

static int on_line(void *opaque, const km_record *r)
{
	walk *w = opaque;
	kpt__audit *a = w->a;
	a->stored++;
	while (w->next < w->nclaims && w->claims[w->next].offset < r->offset)
		lost_claim(w, &w->claims[w->next++]);
	uint64_t h = kpt__hash(r->key.len < 0 ? NULL : r->key.ptr, r->key.len,
			       r->value.len < 0 ? NULL : r->value.ptr,
			       r->value.len);
	if (!headers_ok(w->o, r)) {
		a->mismatched++;
		first(a, "partition %" PRId32 " offset %" PRId64
		      ": headers differ from -H", w->partition, r->offset);
	}
	if (w->next < w->nclaims && w->claims[w->next].offset == r->offset) {
		const claim *c = &w->claims[w->next++];
		if (kpt__at(w->t, c->seq)->hash != h) {
			a->mismatched++;
			first(a, "partition %" PRId32 " offset %" PRId64
			      ": not the bytes of line %" PRIu64,
			      w->partition, r->offset, c->seq + 1);
		}
	} else if (take_unplaced(w, h)) {
		/* acks=0: no offset to check, nor order */
	} else if (has_hash(w->delivered, w->ndelivered, h) ||
		   has_hash(w->unplaced, w->nunplaced, h)) {
		a->duplicated++;
		first(a, "partition %" PRId32 " offset %" PRId64
		      ": a copy of a delivered record", w->partition,
		      r->offset);
	} else if (has_hash(w->failed, w->nfailed, h)) {
		a->failed_stored++;
	} else {
		a->foreign++;
		first(a, "partition %" PRId32 " offset %" PRId64
		      ": a record this run did not send", w->partition,
		      r->offset);
	}
	return 0;
}

/* This partition's delivered records by offset, and their hashes; order
 * and offset uniqueness of the reports are checked here. */
static int collect_claims(walk *w)
{
	kpt__table *t = w->t;
	w->nclaims = w->ndelivered = w->next = 0;
	for (uint64_t s = 0; s < t->n; s++) {
		const kpt__rec *r = kpt__at(t, s);
		if (r->state != KPT__DELIVERED || r->partition != w->partition ||
		    r->offset < 0)
			continue;
		w->claims[w->nclaims++] = (claim){r->offset, s};
		w->delivered[w->ndelivered++] = r->hash;
	}
	qsort(w->claims, w->nclaims, sizeof *w->claims, cmp_claim);
	qsort(w->delivered, w->ndelivered, sizeof *w->delivered, cmp_u64);
	for (size_t i = 1; i < w->nclaims; i++) {
		const claim *p = &w->claims[i - 1], *c = &w->claims[i];
		if (p->offset == c->offset) {
			w->a->mismatched++;
			first(w->a, "lines %" PRIu64 " and %" PRIu64
			      " both reported at %" PRId32 "/%" PRId64,
			      p->seq + 1, c->seq + 1, w->partition, c->offset);
		} else if (p->seq > c->seq) {
			w->a->out_of_order++;
			first(w->a, "partition %" PRId32 ": line %" PRIu64
			      " stored before line %" PRIu64, w->partition,
			      p->seq + 1, c->seq + 1);
		}
	}
	return 0;
}

static int prepare(walk *w)
{
	kpt__table *t = w->t;
	size_t n = t->n ? (size_t)t->n : 1;
	if (w->g) {
		w->seen = calloc(n, 1);
		w->placed = calloc(n, 1);
		w->expect = malloc(w->g->size);
		return w->seen && w->placed && w->expect ? 0 : -1;
	}
	w->claims = malloc(n * sizeof *w->claims);
	w->delivered = malloc(n * sizeof *w->delivered);
	w->failed = malloc(n * sizeof *w->failed);
	w->unplaced = malloc(n * sizeof *w->unplaced);
	w->taken = calloc(n, 1);
	if (!w->claims || !w->delivered || !w->failed || !w->unplaced ||
	    !w->taken)
		return -1;
	for (uint64_t s = 0; s < t->n; s++) {
		const kpt__rec *r = kpt__at(t, s);
		if (r->state == KPT__FAILED || r->state == KPT__SEND_FAILED)
			w->failed[w->nfailed++] = r->hash;
		else if (r->state == KPT__DELIVERED && r->offset < 0)
			w->unplaced[w->nunplaced++] = r->hash;
	}
	qsort(w->failed, w->nfailed, sizeof *w->failed, cmp_u64);
	qsort(w->unplaced, w->nunplaced, sizeof *w->unplaced, cmp_u64);
	return 0;
}

static void release(walk *w)
{
	free(w->seen);
	free(w->placed);
	free(w->expect);
	free(w->claims);
	free(w->delivered);
	free(w->failed);
	free(w->unplaced);
	free(w->taken);
}

int kpt__audit_logs(km_cluster *c, const kpt__opts *o, kpt__table *t,
		    const kpt__gen *g, kpt__audit *a)
{
	memset(a, 0, sizeof *a);
	walk w = {.o = o, .t = t, .g = g, .a = a};
	if (prepare(&w)) {
		release(&w);
		fputs("kafkit-produce: audit: out of memory\n", stderr);
		return -1;
	}
	km_err e = KM_OK;
	for (int32_t p = 0;; p++) {
		km_partition_info pi;
		if (km_cluster_partition_info(c, o->topic, p, &pi) != KM_OK)
			break;
		a->partitions++;
		w.partition = p;
		w.last_seq = -1;
		uint64_t before = a->stored;
		if (g) {
			e = km_cluster_partition_log(c, o->topic, p,
						     on_generated, &w);
		} else {
			collect_claims(&w);
			e = km_cluster_partition_log(c, o->topic, p, on_line,
						     &w);
			while (w.next < w.nclaims)
				lost_claim(&w, &w.claims[w.next++]);
		}
		if (e != KM_OK)
			break;
		if (a->stored - before !=
		    (uint64_t)(pi.high_watermark - pi.log_start_offset)) {
			a->mismatched++;
			first(a, "partition %" PRId32 ": %" PRIu64
			      " records walked, high watermark %" PRId64, p,
			      a->stored - before, pi.high_watermark);
		}
	}
	for (uint64_t s = 0; e == KM_OK && g && s < t->n; s++) {
		const kpt__rec *r = kpt__at(t, s);
		if (r->state != KPT__DELIVERED)
			continue;
		if (!w.seen[s]) {
			a->lost++;
			first(a, "record %" PRIu64 " was delivered but is in "
			      "no partition log", s);
		} else if (!w.placed[s]) {
			a->mismatched++;
			first(a, "record %" PRIu64 " reported at %" PRId32
			      "/%" PRId64 " is stored elsewhere", s,
			      r->partition, r->offset);
		}
	}
	for (size_t i = 0; e == KM_OK && !g && i < w.nunplaced; i++)
		if (!w.taken[i]) {
			a->lost++;
			first(a, "%s", "a line delivered with acks=0 is in no "
			      "partition log");
		}
	/* Records reported at a partition the topic does not have. */
	if (e == KM_OK && !g)
		for (uint64_t s = 0; s < t->n; s++) {
			const kpt__rec *r = kpt__at(t, s);
			if (r->state == KPT__DELIVERED && r->offset >= 0 &&
			    r->partition >= a->partitions) {
				a->lost++;
				first(a, "line %" PRIu64 " reported at missing "
				      "partition %" PRId32, s + 1,
				      r->partition);
			}
		}
	release(&w);
	if (e != KM_OK) {
		fprintf(stderr, "kafkit-produce: audit: reading the log: %s\n",
			km_err_name(e));
		return -1;
	}
	return 0;
}
