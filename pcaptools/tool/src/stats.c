/* kafkit-pcap --stats: groups, counting and the summary tables. */
#include <stdlib.h>
#include <string.h>

#include "buf_int.h"
#include "kafkit/messages_json.h"
#include "stats.h"

/* ---- groups by name ------------------------------------------------------ */

static uint64_t hash_name(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211u;
	return h;
}

static int gset_rehash(kx__gset *g, size_t cap)
{
	uint32_t *idx = kc__malloc(cap * sizeof *idx);
	if (!idx)
		return -1;
	memset(idx, 0, cap * sizeof *idx);
	for (size_t i = 0; i < g->n; i++) {
		size_t k = hash_name(g->v[i].name, g->v[i].name_len) & (cap - 1);
		while (idx[k])
			k = (k + 1) & (cap - 1);
		idx[k] = (uint32_t)i + 1;
	}
	kc__free(g->idx);
	g->idx = idx;
	g->idx_cap = cap;
	return 0;
}

/* The group named (p, n), created when new; NULL when out of memory. */
static kx__group *gset_get(kx__gset *g, const char *p, size_t n)
{
	if (g->idx_cap) {
		size_t k = hash_name(p, n) & (g->idx_cap - 1);
		for (; g->idx[k]; k = (k + 1) & (g->idx_cap - 1)) {
			kx__group *e = &g->v[g->idx[k] - 1];
			if (e->name_len == n && !memcmp(e->name, p, n))
				return e;
		}
	}
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		kx__group *v = kc__realloc(g->v, cap * sizeof *v);
		if (!v)
			return NULL;
		g->v = v;
		g->cap = cap;
	}
	if ((g->n + 1) * 2 > g->idx_cap && gset_rehash(g, g->idx_cap ? g->idx_cap * 2 : 64))
		return NULL;
	kx__group *e = &g->v[g->n];
	memset(e, 0, sizeof *e);
	e->name = kc__malloc(n + 1);
	if (!e->name)
		return NULL;
	memcpy(e->name, p, n);
	e->name[n] = '\0';
	e->name_len = n;
	size_t k = hash_name(p, n) & (g->idx_cap - 1);
	while (g->idx[k])
		k = (k + 1) & (g->idx_cap - 1);
	g->idx[k] = (uint32_t)g->n + 1;
	g->n++;
	return e;
}

static void gset_free(kx__gset *g)
{
	for (size_t i = 0; i < g->n; i++) {
		kc__free(g->v[i].name);
		kc__free(g->v[i].lat_ns);
		kc__free(g->v[i].errs);
	}
	kc__free(g->v);
	kc__free(g->idx);
	memset(g, 0, sizeof *g);
}

void kx__stats_init(kx__stats *s)
{
	memset(s, 0, sizeof *s);
	kx__recs_init(&s->recs, KC_JSON_BYTES_BASE64);
	kc_json_init(&s->scratch);
}

void kx__stats_free(kx__stats *s)
{
	gset_free(&s->parts);
	gset_free(&s->clients);
	gset_free(&s->conns);
	kx__recs_free(&s->recs);
	kc__free(s->tmp);
	kc_json_free(&s->scratch);
}

static kc_err nomem(kx__stats *s)
{
	s->err = KC_ERR_NOMEM;
	return s->err;
}

static int add_lat(kx__group *g, int64_t ns)
{
	if (g->nlat == g->lat_cap) {
		size_t cap = g->lat_cap ? g->lat_cap * 2 : 64;
		int64_t *v = kc__realloc(g->lat_ns, cap * sizeof *v);
		if (!v)
			return -1;
		g->lat_ns = v;
		g->lat_cap = cap;
	}
	g->lat_ns[g->nlat++] = ns;
	return 0;
}

static int add_err(kx__group *g, int16_t code)
{
	for (size_t i = 0; i < g->nerrs; i++)
		if (g->errs[i].code == code) {
			g->errs[i].n++;
			return 0;
		}
	kx__errcount *v = kc__realloc(g->errs, (g->nerrs + 1) * sizeof *v);
	if (!v)
		return -1;
	g->errs = v;
	g->errs[g->nerrs++] = (kx__errcount){code, 1};
	return 0;
}

static void add_recs(kx__group *g, const kx__recsum *r)
{
	g->batches += (uint64_t)r->batches;
	g->records += (uint64_t)r->records;
	g->bad_crc += (uint64_t)r->bad_crc;
	g->wire_bytes += r->wire_bytes;
	g->raw_bytes += r->raw_bytes;
	for (int i = 0; i < KX__NHIST; i++)
		g->hist[i] += r->hist[i];
}

static kx__group *client_group(kx__stats *s, const char *p, int32_t n)
{
	if (n < 0)
		return gset_get(&s->clients, "(null)", 6);
	return gset_get(&s->clients, p, (size_t)n);
}

static kx__group *conn_group(kx__stats *s, const kx_conn *c)
{
	char a[64], b[64], name[160];
	kx_conn_addr(c, false, a, sizeof a);
	kx_conn_addr(c, true, b, sizeof b);
	int n = snprintf(name, sizeof name, "#%llu %s > %s", (unsigned long long)c->id, a, b);
	return gset_get(&s->conns, name, (size_t)n);
}

static kx__group *part_group(kx__stats *s, kc_str topic, int32_t partition)
{
	char name[300];
	int tl = topic.len < 0 ? 0 : topic.len > 249 ? 249 : topic.len;
	int n = snprintf(name, sizeof name, "%.*s/%d", tl, topic.len > 0 ? topic.ptr : "",
			 (int)partition);
	return gset_get(&s->parts, name, (size_t)n);
}

kc_err kx__stats_request(kx__stats *s, const kx_event *ev, const kx__msg *m,
			 kx__pend *pend, bool (*topic_ok)(kc_str topic, void *opaque),
			 void *opaque)
{
	if (s->err)
		return s->err;
	s->requests++;
	kx__group *cg = client_group(s, m->client_id.ptr, m->client_id.len);
	kx__group *ng = ev->conn ? conn_group(s, ev->conn) : NULL;
	if (!cg || (ev->conn && !ng))
		return nomem(s);
	cg->requests++;
	if (ng)
		ng->requests++;
	if (!m->body) {
		s->undecoded++;
		return KC_OK;
	}
	if (m->api_key != KC_PRODUCE_REQUEST_API_KEY)
		return KC_OK;
	cg->produce_requests++;
	if (ng)
		ng->produce_requests++;
	const kc_produce_request *p = m->body;
	size_t np = 0;
	for (int32_t t = 0; t < p->topic_data_count; t++) {
		const kc_produce_request_topic_produce_data *td = &p->topic_data[t];
		if (topic_ok && !topic_ok(td->name, opaque))
			continue;
		for (int32_t k = 0; k < td->partition_data_count; k++) {
			const kc_produce_request_partition_produce_data *pd = &td->partition_data[k];
			kx__group *pg = part_group(s, td->name, pd->index);
			if (!pg)
				return nomem(s);
			kx__recsum rs;
			if (kx__recs_summary(&s->recs, pd->records, &rs) == KC_ERR_NOMEM)
				return nomem(s);
			pg->requests++;
			pg->produce_requests++;
			add_recs(pg, &rs);
			add_recs(cg, &rs);
			if (ng)
				add_recs(ng, &rs);
			if (np == s->tmp_cap) {
				size_t cap = np ? np * 2 : 16;
				uint32_t *v = kc__realloc(s->tmp, cap * sizeof *v);
				if (!v)
					return nomem(s);
				s->tmp = v;
				s->tmp_cap = cap;
			}
			s->tmp[np++] = (uint32_t)(pg - s->parts.v);
		}
	}
	if (pend && kx__pend_set_parts(pend, s->tmp, (uint32_t)np) != KC_OK)
		return nomem(s);
	return KC_OK;
}

/* Error codes of one response, to its groups. */
typedef struct err_ctx {
	kx__stats *s;
	const kx__pend *pend;
	kx__group *cg, *ng;
	bool failed;
} err_ctx;

static void on_error(int16_t code, kc_str topic, int32_t partition, void *opaque)
{
	err_ctx *c = opaque;
	if (code == 0)
		return;
	if ((c->cg && add_err(c->cg, code)) || (c->ng && add_err(c->ng, code)))
		c->failed = true;
	if (topic.len < 0 || !c->pend)
		return;
	/* a partition of the request this answers */
	for (uint32_t i = 0; i < c->pend->nparts; i++) {
		kx__group *pg = &c->s->parts.v[c->pend->parts[i]];
		char name[300];
		int tl = topic.len > 249 ? 249 : topic.len;
		int n = snprintf(name, sizeof name, "%.*s/%d", tl, topic.len ? topic.ptr : "",
				 (int)partition);
		if ((size_t)n == pg->name_len && !memcmp(pg->name, name, (size_t)n)) {
			if (add_err(pg, code))
				c->failed = true;
			break;
		}
	}
}

kc_err kx__stats_response(kx__stats *s, const kx_event *ev, const kx__msg *m,
			  const kx__pend *pend)
{
	if (s->err)
		return s->err;
	s->responses++;
	kx__group *cg = pend ? client_group(s, pend->client_id, pend->client_id_len) : NULL;
	kx__group *ng = ev->conn ? conn_group(s, ev->conn) : NULL;
	if ((pend && !cg) || (ev->conn && !ng))
		return nomem(s);
	if (cg)
		cg->responses++;
	if (ng)
		ng->responses++;
	if (m->api_key == KC_PRODUCE_REQUEST_API_KEY && ev->paired) {
		int64_t lat = ev->ts_ns - ev->request_ts_ns;
		if ((cg && add_lat(cg, lat)) || (ng && add_lat(ng, lat)))
			return nomem(s);
		for (uint32_t i = 0; pend && i < pend->nparts; i++) {
			kx__group *pg = &s->parts.v[pend->parts[i]];
			pg->responses++;
			if (add_lat(pg, lat))
				return nomem(s);
		}
	}
	err_ctx c = {s, pend, cg, ng, false};
	if (!m->body) {
		s->undecoded++;
		if (m->raw_error_code > 0)
			on_error(m->raw_error_code, KC_STR_NULL, -1, &c);
		return c.failed ? nomem(s) : KC_OK;
	}
	if (kx__response_errors(&s->scratch, m, on_error, &c) != KC_OK || c.failed)
		return nomem(s);
	return KC_OK;
}

/* ---- error codes of responses --------------------------------------------- */

/* Records are not needed to find error codes: skip them. */
static void no_records(kc_json *j, kc_bytes records, void *opaque)
{
	(void)records;
	(void)opaque;
	kc_json_null(j);
}

kc_err kx__response_errors(kc_json *scratch, const kx__msg *m,
			   void (*fn)(int16_t code, kc_str topic, int32_t partition,
				      void *opaque),
			   void *opaque)
{
	if (!m->body || m->request)
		return KC_OK;
	if (m->api_key == KC_PRODUCE_REQUEST_API_KEY) {
		const kc_produce_response *r = m->body;
		for (int32_t t = 0; t < r->responses_count; t++)
			for (int32_t k = 0; k < r->responses[t].partition_responses_count; k++) {
				const kc_produce_response_partition_produce_response *pr =
					&r->responses[t].partition_responses[k];
				fn(pr->error_code, r->responses[t].name, pr->index, opaque);
			}
		return KC_OK;
	}
	/* Each api keeps its error codes elsewhere (top level, per topic, per
	 * partition, per coordinator); the generated JSON writer visits every
	 * field, so its output names them all. A key cannot be faked from
	 * inside a string: quotes there are escaped. */
	kc_json_reset(scratch);
	scratch->records_fn = no_records;
	kc_json_response_body(scratch, m->api_key, m->version, m->body);
	if (kc_json_err(scratch))
		return kc_json_err(scratch);
	static const char key[] = "\"errorCode\":";
	const char *p = scratch->buf, *end = scratch->buf + scratch->len;
	while (p && p < end) {
		const char *q = memmem(p, (size_t)(end - p), key, sizeof key - 1);
		if (!q)
			break;
		q += sizeof key - 1;
		long v = strtol(q, NULL, 10); /* the writer ends numbers with , or } */
		fn((int16_t)v, KC_STR_NULL, -1, opaque);
		p = q;
	}
	return KC_OK;
}

/* ---- output ------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int64_t kx__group_pct(kx__group *g, double p)
{
	if (!g->nlat)
		return -1;
	qsort(g->lat_ns, g->nlat, sizeof *g->lat_ns, cmp_i64);
	/* nearest rank: the smallest value with at least p% at or below it */
	size_t rank = (size_t)(p / 100.0 * (double)g->nlat + 0.999999999);
	if (rank < 1)
		rank = 1;
	if (rank > g->nlat)
		rank = g->nlat;
	return g->lat_ns[rank - 1];
}

double kx__group_ratio(const kx__group *g)
{
	return g->wire_bytes ? (double)g->raw_bytes / (double)g->wire_bytes : 1.0;
}

static void ms(FILE *out, int64_t ns)
{
	if (ns < 0)
		fprintf(out, " %9s", "-");
	else
		fprintf(out, " %9.3f", (double)ns / 1e6);
}

static void print_set(FILE *out, const char *title, kx__gset *g)
{
	fprintf(out, "== %s ==\n", title);
	if (!g->n) {
		fputs("(none)\n\n", out);
		return;
	}
	fprintf(out, "%-32s %8s %8s %10s %12s %8s %6s %9s %9s %9s %9s\n", "name", "requests",
		"batches", "records", "bytes", "avgbatch", "ratio", "p50ms", "p90ms", "p99ms",
		"maxms");
	for (size_t i = 0; i < g->n; i++) {
		kx__group *e = &g->v[i];
		fprintf(out, "%-32s %8llu %8llu %10llu %12llu %8llu %6.2f", e->name,
			(unsigned long long)e->requests, (unsigned long long)e->batches,
			(unsigned long long)e->records, (unsigned long long)e->wire_bytes,
			(unsigned long long)(e->batches ? e->wire_bytes / e->batches : 0),
			kx__group_ratio(e));
		ms(out, kx__group_pct(e, 50));
		ms(out, kx__group_pct(e, 90));
		ms(out, kx__group_pct(e, 99));
		ms(out, kx__group_pct(e, 100));
		putc('\n', out);
		if (e->batches) {
			fputs("    batch sizes:", out);
			for (int k = 0; k < KX__NHIST; k++)
				if (e->hist[k])
					fprintf(out, " %s:%llu", kx__hist_label(k),
						(unsigned long long)e->hist[k]);
			putc('\n', out);
		}
		if (e->bad_crc)
			fprintf(out, "    bad CRCs: %llu\n", (unsigned long long)e->bad_crc);
		if (e->nerrs) {
			fputs("    errors:", out);
			for (size_t k = 0; k < e->nerrs; k++)
				fprintf(out, " %s(%d):%llu", kc_kafka_err_name(e->errs[k].code),
					(int)e->errs[k].code, (unsigned long long)e->errs[k].n);
			putc('\n', out);
		}
	}
	putc('\n', out);
}

void kx__stats_print(kx__stats *s, FILE *out)
{
	print_set(out, "topic/partition (Produce)", &s->parts);
	print_set(out, "client id", &s->clients);
	print_set(out, "connection", &s->conns);
	fprintf(out, "requests %llu, responses %llu, not decoded %llu\n",
		(unsigned long long)s->requests, (unsigned long long)s->responses,
		(unsigned long long)s->undecoded);
}

static void json_set(kc_json *j, const char *key, kx__gset *g)
{
	kc_json_key(j, key);
	kc_json_begin_array(j);
	for (size_t i = 0; i < g->n; i++) {
		kx__group *e = &g->v[i];
		kc_json_begin_object(j);
		KC_JSON_KEY(j, "name");
		kc_json_strn(j, e->name, e->name_len);
		KC_JSON_KEY(j, "requests");
		kc_json_uint(j, e->requests);
		KC_JSON_KEY(j, "responses");
		kc_json_uint(j, e->responses);
		KC_JSON_KEY(j, "produceRequests");
		kc_json_uint(j, e->produce_requests);
		KC_JSON_KEY(j, "batches");
		kc_json_uint(j, e->batches);
		KC_JSON_KEY(j, "records");
		kc_json_uint(j, e->records);
		KC_JSON_KEY(j, "bytes");
		kc_json_uint(j, e->wire_bytes);
		KC_JSON_KEY(j, "uncompressedBytes");
		kc_json_uint(j, e->raw_bytes);
		KC_JSON_KEY(j, "compressionRatio");
		kc_json_double(j, kx__group_ratio(e));
		KC_JSON_KEY(j, "badCrcs");
		kc_json_uint(j, e->bad_crc);
		KC_JSON_KEY(j, "batchSizes");
		kc_json_begin_object(j);
		for (int k = 0; k < KX__NHIST; k++) {
			kc_json_key(j, kx__hist_label(k));
			kc_json_uint(j, e->hist[k]);
		}
		kc_json_end_object(j);
		KC_JSON_KEY(j, "produceLatencyMs");
		if (!e->nlat) {
			kc_json_null(j);
		} else {
			static const double ps[] = {50, 90, 99, 100};
			static const char *const names[] = {"p50", "p90", "p99", "max"};
			kc_json_begin_object(j);
			KC_JSON_KEY(j, "count");
			kc_json_uint(j, e->nlat);
			for (int k = 0; k < 4; k++) {
				kc_json_key(j, names[k]);
				kc_json_double(j, (double)kx__group_pct(e, ps[k]) / 1e6);
			}
			kc_json_end_object(j);
		}
		KC_JSON_KEY(j, "errors");
		kc_json_begin_array(j);
		for (size_t k = 0; k < e->nerrs; k++) {
			kc_json_begin_object(j);
			KC_JSON_KEY(j, "errorCode");
			kc_json_int(j, e->errs[k].code);
			KC_JSON_KEY(j, "name");
			kc_json_cstr(j, kc_kafka_err_name(e->errs[k].code));
			KC_JSON_KEY(j, "count");
			kc_json_uint(j, e->errs[k].n);
			kc_json_end_object(j);
		}
		kc_json_end_array(j);
		kc_json_end_object(j);
	}
	kc_json_end_array(j);
}

void kx__stats_json(kx__stats *s, kc_json *j)
{
	kc_json_begin_object(j);
	KC_JSON_KEY(j, "type");
	kc_json_cstr(j, "stats");
	KC_JSON_KEY(j, "requests");
	kc_json_uint(j, s->requests);
	KC_JSON_KEY(j, "responses");
	kc_json_uint(j, s->responses);
	KC_JSON_KEY(j, "undecoded");
	kc_json_uint(j, s->undecoded);
	json_set(j, "partitions", &s->parts);
	json_set(j, "clients", &s->clients);
	json_set(j, "connections", &s->conns);
	kc_json_end_object(j);
}
