/* /proc readings for the benchmarks (see bench_proc.h). */
#include "bench_proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double bp_status_mb(const char *field)
{
	char line[256];
	size_t fl = strlen(field);
	double mb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, fl) && line[fl] == ':') {
			mb = strtod(line + fl + 1, NULL) / 1024.0;
			break;
		}
	fclose(f);
	return mb;
}

void bp_reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

void bp_sample_threads(bp_threads *t)
{
	char path[64];
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	t->n = 0;
	if (!d)
		return;
	while ((e = readdir(d)) && t->n < BP_MAX_THREADS) {
		if (e->d_name[0] == '.')
			continue;
		int i = t->n;
		t->tid[i] = strtol(e->d_name, NULL, 10);
		t->comm[i][0] = 0;
		t->ns[i] = 0;
		t->runs[i] = 0;
		snprintf(path, sizeof path, "/proc/self/task/%ld/comm",
			 t->tid[i]);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(t->comm[i], sizeof t->comm[i], f))
				t->comm[i][strcspn(t->comm[i], "\n")] = 0;
			fclose(f);
		}
		snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat",
			 t->tid[i]);
		f = fopen(path, "r");
		if (f) {
			/* on-CPU ns, run-queue wait ns, time slices */
			if (fscanf(f, "%llu %*u %llu", &t->ns[i],
				   &t->runs[i]) != 2)
				t->ns[i] = t->runs[i] = 0;
			fclose(f);
		}
		t->n++;
	}
	closedir(d);
}

bool bp_thread_find(const bp_threads *t, long tid, int *at)
{
	for (int i = 0; i < t->n; i++)
		if (t->tid[i] == tid) {
			*at = i;
			return true;
		}
	return false;
}
