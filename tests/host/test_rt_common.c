/*
 * test_rt_common.c - helpers shared by the runtime's host tests, linked into
 * each test_rt_* executable (tests/host/rt.mk). Each test repeats the
 * prototypes below (the TEST_RT_COMMON block), since this directory's headers
 * are not the runtime's to add. Diagnostics are printed as TAP "# " lines;
 * the verdicts stay with the caller's tap_check.
 *
 *   rt_identities_ok(phase)   the memstats and OS-view identities hold
 *   run_child(fn, out, n)     runs fn in a forked child, captures its output,
 *                             returns the raw wait status
 *   died_with(st, out, s)     the child aborted and printed s
 *   resident_pages(p, n)      pages of [p, p+n) resident per mincore
 *   rss_kib()                 Rss of this process from /proc/self/smaps_rollup
 */
#include <stdbool.h>
#include <stddef.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt/rt.h"
#include "rt/sys.h"

bool rt_identities_ok(const char *phase);
int run_child(void (*fn)(void), char *out, size_t outsize);
bool died_with(int status, const char *out, const char *needle);
size_t resident_pages(const void *p, size_t n);
long rss_kib(void);

#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"), fflush(stdout))

bool rt_identities_ok(const char *phase)
{
	struct rt_memstats m;
	struct sys_stats os;
	rt_read_memstats(&m);
	sys_read_stats(&os);
	bool ok = true;
#define ID(cond)                                                                  \
	do {                                                                          \
		if (!(cond)) {                                                            \
			diag("%s: identity broken: %s", phase, #cond);                    \
			ok = false;                                                           \
		}                                                                         \
	} while (0)
	ID(m.heap_idle + m.heap_inuse == m.heap_sys);
	ID(m.heap_released <= m.heap_idle);
	ID(m.sys == m.heap_sys + m.stack_sys + m.mspan_sys + m.mcache_sys + m.buckhash_sys +
		    m.gc_sys + m.other_sys);
	ID(m.alloc == m.heap_alloc);
	ID(m.heap_alloc <= m.heap_inuse);
	ID(m.heap_objects == m.mallocs - m.frees);
	ID(m.mspan_inuse <= m.mspan_sys);
	ID(m.mcache_inuse <= m.mcache_sys);
	ID(m.stack_inuse <= m.stack_sys);
	ID(m.total_alloc >= m.heap_alloc);
	ID(os.prepared + os.ready == m.sys);
	ID(os.ready == m.sys - m.heap_released);
#undef ID
	if (!ok)
		diag("%s: HeapSys %llu Idle %llu Inuse %llu Released %llu Sys %llu os.ready %llu "
			 "os.prepared %llu", phase, (unsigned long long)m.heap_sys,
			 (unsigned long long)m.heap_idle, (unsigned long long)m.heap_inuse,
			 (unsigned long long)m.heap_released, (unsigned long long)m.sys,
			 (unsigned long long)os.ready, (unsigned long long)os.prepared);
	return ok;
}

/* Runs fn() in a child with stdout+stderr captured into out. Returns the wait status. */
int run_child(void (*fn)(void), char *out, size_t outsize)
{
	int fds[2];
	if (pipe(fds) != 0)
		abort();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		fn();
		fflush(stdout);
		_exit(0);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while ((r = read(fds[0], out + n, outsize - 1 - n)) > 0 && n < outsize - 1)
		n += (size_t)r;
	out[n] = 0;
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	return status;
}

bool died_with(int status, const char *out, const char *needle)
{
	bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(out, needle) != NULL;
	if (!ok) {
		diag("child status %#x (signaled %d sig %d); wanted \"%s\" in:", status,
			 WIFSIGNALED(status), WIFSIGNALED(status) ? WTERMSIG(status) : 0, needle);
		for (char *line = strtok((char *)out, "\n"); line; line = strtok(NULL, "\n"))
			diag("  | %s", line);
	}
	return ok;
}

size_t resident_pages(const void *p, size_t n)
{
	size_t pages = n / 4096, count = 0;
	unsigned char *vec = malloc(pages);
	if (mincore((void *)p, n, vec) != 0) {
		free(vec);
		return (size_t)-1;
	}
	for (size_t i = 0; i < pages; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

long rss_kib(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	if (f == NULL)
		return -1;
	char line[256];
	long kib = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Rss: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * ASan's fake stack frames (detect_stack_use_after_return) would put
 * coroutines' locals where the collector never looks (DESIGN.md 7.5): pin
 * it off instead of relying on this libasan's default.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_stack_use_after_return=0"; }
