/*
 * kafkit-produce internals: options, the table of records sent (one entry
 * per record, filled by the delivery callback), the generated payload,
 * the partition log audit and the summary. See docs/kafkit-produce.md.
 *
 * Threads: the main thread parses options, sends, and at the end audits
 * and prints; the producer's sender thread runs kpt__on_delivery(); the
 * progress thread only reads the table's atomic counters.
 */
#ifndef KAFKIT_PRODUCE_TOOL_H
#define KAFKIT_PRODUCE_TOOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkit/mock.h"
#include "kafkit/producer.h"

/* Exit statuses (documented in --help and docs/kafkit-produce.md). */
enum {
	KPT__EXIT_OK = 0,
	KPT__EXIT_FAILED = 1,  /* records failed, or a runtime error */
	KPT__EXIT_USAGE = 2,   /* bad arguments or configuration */
	KPT__EXIT_VERIFY = 3,  /* the mock's logs break a guarantee */
};

/* Generated values start with the record's sequence number in this many
 * decimal digits and a space, so the audit can name every stored record. */
#define KPT__SEQ_DIGITS 15
#define KPT__MIN_RECORD_SIZE (KPT__SEQ_DIGITS + 1)

typedef struct kpt__opts {
	const char *brokers;    /* -b; NULL: the embedded mock cluster */
	const char *topic;      /* -t */
	int32_t partition;      /* -p; KP_PARTITION_ANY */
	const char *key_sep;    /* -K; NULL: stdin lines have no key */
	int64_t num_records;    /* -n; -1: read records from stdin */
	size_t record_size;     /* -s: generated value bytes */
	int64_t keys;           /* --keys: distinct generated keys; 0: null */
	double throughput;      /* records/s; <= 0: unlimited */
	int32_t partitions;     /* embedded mock: partitions of the topic */
	int mock_brokers;       /* embedded mock: brokers */
	bool chaos;
	const char **faults;    /* --fault: kafkit-mock scenario commands */
	size_t nfaults;
	uint64_t seed;
	const char *pcap;       /* --pcap: the embedded mock's traffic file */
	bool stats_json;
	bool quiet;             /* no progress bar */
	bool verbose;           /* mock log lines on stderr */
	bool verify;            /* audit the embedded mock's logs */
	const char **conf;      /* -X "key=value", in order */
	size_t nconf;
	kp_header *headers;     /* -H, keys and values owned */
	size_t nheaders;
} kpt__opts;

/* Parse argv into *o (defaults first). Returns KPT__EXIT_OK to run,
 * KPT__EXIT_USAGE after printing a one-line error naming the option to
 * stderr, or -1 after --help printed usage to stdout (exit 0).
 * Main thread. */
int kpt__parse_args(int argc, char **argv, kpt__opts *o);

/* Free what kpt__parse_args allocated; o stays valid but empty of
 * headers, -X and --fault lists. Main thread. */
void kpt__opts_free(kpt__opts *o);

/* ---- records ----------------------------------------------------------- */

enum { KPT__PENDING = 0, KPT__DELIVERED, KPT__FAILED, KPT__SEND_FAILED };

/* One record sent. Written by the main thread before kp_send(), then by
 * the delivery callback on the sender thread; read by the main thread
 * after kp_flush()/kp_close() (the producer orders those accesses). */
typedef struct kpt__rec {
	int64_t sent_ns;    /* CLOCK_MONOTONIC at kp_send() */
	int64_t offset;     /* the report's; -1 until delivered */
	uint64_t hash;      /* kpt__hash of key and value (stdin records) */
	uint32_t lat_us;    /* kp_send() to the report */
	int32_t partition;  /* the report's; -1 before */
	int32_t err;        /* kp_err of the report or of kp_send() */
	int16_t kafka_err;
	uint8_t state;      /* KPT__PENDING, ... */
} kpt__rec;

#define KPT__CHUNK_BITS 16
#define KPT__CHUNK ((size_t)1 << KPT__CHUNK_BITS)
#define KPT__MAX_CHUNKS ((size_t)1 << 16)

/* Records by sequence number (0, 1, ...), in chunks that never move, so
 * the sender thread may write entries while the main thread adds chunks. */
typedef struct kpt__table {
	kpt__rec *chunks[KPT__MAX_CHUNKS];
	uint64_t n;                     /* entries handed out (main thread) */
	atomic_uint_fast64_t delivered; /* reports with KP_OK */
	atomic_uint_fast64_t failed;    /* failed reports and kp_send()s */
	atomic_uint_fast64_t bytes;     /* key + value bytes delivered */
	atomic_uint_fast64_t extra;     /* reports beyond one per record */
} kpt__table;

/* Entry `seq` of the table; it must have been handed out. Any thread. */
static inline kpt__rec *kpt__at(kpt__table *t, uint64_t seq)
{
	return &t->chunks[seq >> KPT__CHUNK_BITS][seq & (KPT__CHUNK - 1)];
}

/* Hand out the next entry, zeroed, with offset and partition -1; its
 * sequence number is t->n - 1 afterwards. Returns NULL when out of memory
 * or past KPT__MAX_CHUNKS * KPT__CHUNK records. Main thread. */
kpt__rec *kpt__table_add(kpt__table *t);

/* Free the chunks. Main thread, after kp_close() (no report may still
 * come). */
void kpt__table_free(kpt__table *t);

/* The delivery callback: `opaque` is the record's kpt__rec; `t` is found
 * through kpt__table_use(). Sender thread. */
void kpt__on_delivery(const kp_delivery_report *dr, void *opaque);

/* Make `t` the table kpt__on_delivery counts in (one per process). Main
 * thread, before the first kp_send(). */
void kpt__table_use(kpt__table *t);

/* FNV-1a (64) of a key and a value (a NULL pointer is a null field,
 * distinct from an empty one; lengths are ignored then). Pure; any
 * thread. */
uint64_t kpt__hash(const void *key, int64_t key_len, const void *value,
		   int64_t value_len);

/* Monotonic clock in ns. Any thread. */
int64_t kpt__now_ns(void);

/* ---- generated records ------------------------------------------------- */

/* Payload generator: values of `size` bytes (>= KPT__MIN_RECORD_SIZE) and
 * keys "key-<seq % keys>" (keys 0: null keys). */
typedef struct kpt__gen {
	size_t size;
	int64_t keys;
	uint8_t *pool;  /* random letters the filler is cut from */
	size_t pool_len;
} kpt__gen;

/* Fill the pool (the same for every run, so a value can be rebuilt from
 * its sequence). size >= KPT__MIN_RECORD_SIZE. Returns 0, or -1 when out
 * of memory. Main thread. */
int kpt__gen_init(kpt__gen *g, size_t size, int64_t keys);
/* Free the pool; a zeroed or freed g is a no-op. Main thread. */
void kpt__gen_free(kpt__gen *g);

/* Write record `seq`'s value into buf (g->size bytes). seq below 10^15.
 * Reads g only; any thread. */
void kpt__gen_value(const kpt__gen *g, uint64_t seq, uint8_t *buf);

/* Write record `seq`'s key into buf (at least 32 bytes); returns its
 * length, or -1 for a null key. Reads g only; any thread. */
int kpt__gen_key(const kpt__gen *g, uint64_t seq, char *buf);

/* ---- audit of the embedded cluster's logs ------------------------------ */

typedef struct kpt__audit {
	int32_t partitions;
	uint64_t stored;         /* records in the logs */
	uint64_t lost;           /* delivered, but not in the log */
	uint64_t duplicated;     /* extra copies of a record */
	uint64_t out_of_order;   /* stored after a later record */
	uint64_t mismatched;     /* bytes or place differ from what was sent */
	uint64_t foreign;        /* stored records this run did not send */
	uint64_t failed_stored;  /* reported failed, yet stored (allowed) */
	char first[256];         /* the first violation, in words */
} kpt__audit;

/* Walk every partition of o->topic in cluster c and compare with the
 * table: generated records by the sequence in their value, stdin records
 * by the (partition, offset) of their reports. Returns 0, or -1 on an
 * error (message printed). Main thread, after kp_close(). */
int kpt__audit_logs(km_cluster *c, const kpt__opts *o, kpt__table *t,
		    const kpt__gen *g, kpt__audit *a);

/* Whether *a found a broken guarantee (failed_stored is not one). Pure. */
bool kpt__audit_failed(const kpt__audit *a);

/* ---- progress and summary ---------------------------------------------- */

typedef struct kpt__progress kpt__progress;

/* Start a thread redrawing a progress line on stderr every 200 ms
 * (total -1: unknown). Returns NULL when it could not start (the run goes
 * on without it). Main thread. */
kpt__progress *kpt__progress_start(kpt__table *t, int64_t total);

/* Stop and join the thread, and erase the line. NULL is a no-op. The
 * thread that started it. */
void kpt__progress_stop(kpt__progress *p);

/* What the summary shows besides the table. */
typedef struct kpt__run {
	double secs;             /* first send to the last report */
	int64_t retries;         /* from kp_stats_json; -1 when unknown */
	bool embedded;
	km_counters mock;        /* embedded cluster's counters */
	const kpt__audit *audit; /* NULL: not audited */
} kpt__run;

/* Sum of the "retries" counters of the "partitions" array of a
 * kp_stats_json() document; -1 when json is NULL, has no "partitions"
 * key or a "retries" member without a number. Pure; any thread. */
int64_t kpt__stats_retries(const char *json);

/* Print the summary to f. Main thread, after kp_close(). */
void kpt__summary(FILE *f, const kpt__opts *o, kpt__table *t,
		  const kpt__run *r);

#endif
