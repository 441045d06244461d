/* kafkit-produce: progress line and summary. */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkit/err.h"
#include "tool.h"

struct kpt__progress {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	kpt__table *t;
	int64_t total;
	int64_t t0;
};

static void draw(kpt__progress *p, double *last_done, int64_t *last_ns)
{
	uint64_t ok = atomic_load(&p->t->delivered);
	uint64_t bad = atomic_load(&p->t->failed);
	int64_t now = kpt__now_ns();
	double done = (double)(ok + bad);
	double rate = now > *last_ns ?
		(done - *last_done) * 1e9 / (double)(now - *last_ns) : 0;
	*last_done = done;
	*last_ns = now;
	if (p->total > 0) {
		enum { WIDTH = 30 };
		int fill = (int)(done * WIDTH / (double)p->total);
		char bar[WIDTH + 1];
		for (int i = 0; i < WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[WIDTH] = 0;
		fprintf(stderr, "\r[%s] %3d%%  %" PRIu64 " ok  %" PRIu64
			" failed  %.0f rec/s   ", bar,
			(int)(done * 100 / (double)p->total), ok, bad, rate);
	} else {
		fprintf(stderr, "\r%" PRIu64 " ok  %" PRIu64
			" failed  %.0f rec/s   ", ok, bad, rate);
	}
	fflush(stderr);
}

static void *progress_main(void *arg)
{
	kpt__progress *p = arg;
	double last_done = 0;
	int64_t last_ns = p->t0;
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &ts);
		if (!p->stop)
			draw(p, &last_done, &last_ns);
	}
	pthread_mutex_unlock(&p->lock);
	fputs("\r\033[K", stderr);
	fflush(stderr);
	return NULL;
}

kpt__progress *kpt__progress_start(kpt__table *t, int64_t total)
{
	kpt__progress *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->t = t;
	p->total = total;
	p->t0 = kpt__now_ns();
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->thread, NULL, progress_main, p)) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->wake);
		free(p);
		return NULL;
	}
	return p;
}

void kpt__progress_stop(kpt__progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p);
}

/* ---- stats JSON -------------------------------------------------------- */

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

int64_t kpt__stats_retries(const char *json)
{
	/* Partition objects are flat, so every "retries" member after the
	 * "partitions" key belongs to one of them. */
	const char *s = json ? strstr(json, "\"partitions\"") : NULL;
	if (!s)
		return -1;
	int64_t sum = 0;
	while ((s = strstr(s, "\"retries\""))) {
		s = skip_ws(s + strlen("\"retries\""));
		if (*s != ':')
			return -1;
		char *end;
		long long v = strtoll(skip_ws(s + 1), &end, 10);
		if (end == skip_ws(s + 1))
			return -1;
		sum += v;
		s = end;
	}
	return sum;
}

/* ---- summary ----------------------------------------------------------- */

typedef struct tally {
	int32_t err;
	int16_t kafka_err;
	uint64_t n;
} tally;

enum { MAX_TALLY = 64 };

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

static double pct(const uint32_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);
	return (double)v[i < n ? i : n - 1] / 1000.0;
}

static void print_latency(FILE *f, kpt__table *t, uint64_t delivered)
{
	uint32_t *lat = delivered ? malloc(delivered * sizeof *lat) : NULL;
	if (!lat) {
		fputs("latency ms:       -\n", f);
		return;
	}
	size_t n = 0;
	for (uint64_t s = 0; s < t->n && n < delivered; s++)
		if (kpt__at(t, s)->state == KPT__DELIVERED)
			lat[n++] = kpt__at(t, s)->lat_us;
	qsort(lat, n, sizeof *lat, cmp_u32);
	fprintf(f, "latency ms:       p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
		pct(lat, n, 0.50), pct(lat, n, 0.90), pct(lat, n, 0.99),
		(double)lat[n - 1] / 1000.0);
	free(lat);
}

void kpt__summary(FILE *f, const kpt__opts *o, kpt__table *t,
		  const kpt__run *r)
{
	tally tl[MAX_TALLY];
	size_t ntl = 0;
	uint64_t delivered = 0, failed = 0, unreported = 0;
	for (uint64_t s = 0; s < t->n; s++) {
		const kpt__rec *x = kpt__at(t, s);
		if (x->state == KPT__DELIVERED) {
			delivered++;
			continue;
		}
		if (x->state == KPT__PENDING) {
			unreported++;
			continue;
		}
		failed++;
		size_t i = 0;
		while (i < ntl && (tl[i].err != x->err ||
				   tl[i].kafka_err != x->kafka_err))
			i++;
		if (i == ntl && ntl < MAX_TALLY)
			tl[ntl++] = (tally){x->err, x->kafka_err, 0};
		if (i < ntl)
			tl[i].n++;
	}
	fprintf(f, "topic:            %s", o->topic);
	if (r->embedded)
		fprintf(f, " (embedded mock: %d brokers, %" PRId32
			" partitions%s)", o->mock_brokers, o->partitions,
			o->chaos ? ", chaos" : "");
	fprintf(f, "\nrecords sent:     %" PRIu64 "\n", t->n);
	fprintf(f, "delivered:        %" PRIu64 "\n", delivered);
	fprintf(f, "failed:           %" PRIu64 "\n", failed);
	for (size_t i = 0; i < ntl; i++)
		fprintf(f, "  %-28s %-26s %" PRIu64 "\n",
			kp_err_name((kp_err)tl[i].err),
			tl[i].kafka_err ? kc_kafka_err_name(tl[i].kafka_err) :
					  "",
			tl[i].n);
	if (unreported)
		fprintf(f, "unreported:       %" PRIu64
			" (no delivery report: a producer bug)\n", unreported);
	if (atomic_load(&t->extra))
		fprintf(f, "extra reports:    %" PRIu64
			" (a record reported twice: a producer bug)\n",
			(uint64_t)atomic_load(&t->extra));
	if (r->retries >= 0)
		fprintf(f, "retries:          %" PRId64 "\n", r->retries);
	else
		fputs("retries:          unknown\n", f);
	if (r->embedded) {
		fprintf(f, "leader changes:   %" PRIu64 " survived\n",
			r->mock.leader_changes);
		fprintf(f, "mock faults:      %" PRIu64 " delayed, %" PRIu64
			" swallowed; %" PRIu64 " duplicate batches dropped\n",
			r->mock.faults_delayed, r->mock.faults_swallowed,
			r->mock.duplicate_batches);
	}
	double secs = r->secs > 0 ? r->secs : 1e-9;
	fprintf(f, "duration:         %.3f s\n", r->secs);
	fprintf(f, "throughput:       %.0f records/s, %.2f MB/s\n",
		(double)delivered / secs,
		(double)atomic_load(&t->bytes) / secs / 1e6);
	print_latency(f, t, delivered);
	const kpt__audit *a = r->audit;
	if (!a) {
		fputs("verify:           skipped\n", f);
		return;
	}
	fprintf(f, "verify:           %s: %" PRIu64 " records in %" PRId32
		" partitions, %" PRIu64 " lost, %" PRIu64 " duplicated, %"
		PRIu64 " out of order, %" PRIu64 " altered, %" PRIu64
		" foreign\n", kpt__audit_failed(a) ? "FAILED" : "ok",
		a->stored, a->partitions, a->lost, a->duplicated,
		a->out_of_order, a->mismatched, a->foreign);
	if (a->failed_stored)
		fprintf(f, "                  %" PRIu64 " records reported "
			"failed were stored anyway (allowed)\n",
			a->failed_stored);
	if (a->first[0])
		fprintf(f, "                  first: %s\n", a->first);
}
