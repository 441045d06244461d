/*
 * What the benchmarks read about their own process from /proc: resident
 * memory and its peak, and each thread's CPU time and time slices.
 */
#ifndef KAFKIT_BENCH_PROC_H
#define KAFKIT_BENCH_PROC_H

#include <stdbool.h>

#define BP_MAX_THREADS 256

/* Every thread of the process at one moment. */
typedef struct bp_threads {
	int n;
	long tid[BP_MAX_THREADS];
	char comm[BP_MAX_THREADS][20];
	unsigned long long ns[BP_MAX_THREADS];   /* on-CPU time */
	unsigned long long runs[BP_MAX_THREADS]; /* times scheduled onto a CPU */
} bp_threads;

/* A field of /proc/self/status given in kB ("VmRSS", "VmHWM"), in MB;
 * -1 when it cannot be read. */
double bp_status_mb(const char *field);

/* Reset VmHWM to the current RSS (Linux >= 4.0), so that each run's peak
 * is its own and not an earlier run's. */
void bp_reset_peak_rss(void);

/* Sample every thread (schedstat: finer than stat's ticks). At most
 * BP_MAX_THREADS; an unreadable thread counts 0. */
void bp_sample_threads(bp_threads *t);

/* The sample of thread tid in t: true with its index in *at, or false. */
bool bp_thread_find(const bp_threads *t, long tid, int *at);

#endif
