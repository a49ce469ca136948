/*
 * bench/alloc_bench.c: the harness half of every allocation benchmark
 * executable (the method is described in alloc_bench.h). It builds the
 * workload, runs warm-up and timed rounds, and prints one raw result line:
 *
 *   benchmark <TAB> implementation <TAB> ns_per_op <TAB> bytes_per_round
 *             <TAB> minor_faults_per_1000_objects <TAB> collections
 *
 * Usage:
 *   alloc-X list                        implementations in this executable
 *   alloc-X run IMPL BENCH              BENCH: a size in bytes, or "mixed"
 *   alloc-X callgrind IMPL SIZE N       one warm-up round, then one round of
 *                                       N objects inside bench_cg_round (for
 *                                       callgrind --toggle-collect); IMPL may
 *                                       be "loop-overhead" (a null allocator)
 *   alloc-X faultcost                   ns to fault in one fresh 4 KiB page
 *                                       (first write), median of 5 x 64 MiB
 */
#define _GNU_SOURCE
#include "bench/alloc_bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

void bench_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("alloc-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Harness memory stays out of the measured heap: mmap, pre-touched. */
static void *bench_mmap(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		bench_fail("mmap of %zu bytes for the harness: %s", bytes, strerror(errno));
	memset(p, 0, bytes);
	return p;
}

void **bench_slots_mmap(size_t n)
{
	return bench_mmap(n * sizeof(void *));
}

void bench_release_clear(void **slots, size_t n)
{
	memset(slots, 0, n * sizeof(void *));
}

/*
 * The mixed workload: bucket [lo, hi] is drawn with probability weight/10000,
 * then a multiple of 8 uniformly inside it. A shape, not a measurement: about
 * 70% of objects are 64 B or less, 95% 256 B or less, 1 in 2000 is large.
 * bench/alloc.go has the same table and generator; keep them in step.
 */
static const struct { uint32_t lo, hi, weight; } bench_mixed_buckets[] = {
	{ 8, 16, 2500 },      { 24, 32, 2500 },    { 40, 64, 2000 },
	{ 72, 128, 1200 },    { 136, 256, 800 },   { 264, 512, 500 },
	{ 520, 1024, 300 },   { 1032, 4096, 150 }, { 4104, 32768, 45 },
	{ 65536, 262144, 5 },
};
enum { BENCH_MIXED_WEIGHTS = 10000 };
#define BENCH_MIXED_SEED 0x5eeda110c0ffee01ull

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t bench_mixed_size(uint64_t *state)
{
	uint64_t r = splitmix64(state) % BENCH_MIXED_WEIGHTS;
	size_t b = 0;
	while (r >= bench_mixed_buckets[b].weight)
		r -= bench_mixed_buckets[b++].weight;
	uint32_t lo = bench_mixed_buckets[b].lo, hi = bench_mixed_buckets[b].hi;
	return lo + 8 * (uint32_t)(splitmix64(state) % ((hi - lo) / 8 + 1));
}

static size_t bench_objects_for(uint64_t size)
{
	uint64_t n = BENCH_ROUND_BYTES / size;
	return n < BENCH_MIN_OBJECTS ? BENCH_MIN_OBJECTS : n > BENCH_MAX_OBJECTS ? BENCH_MAX_OBJECTS : n;
}

/* Builds the workload named by arg; n_override > 0 fixes the object count. */
static struct bench_workload bench_workload_make(const char *arg, size_t n_override)
{
	struct bench_workload w = { .name = arg };
	uint64_t fixed = 0;
	if (strcmp(arg, "mixed") != 0) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(arg, &end, 10);
		if (errno || *end || v < 8 || v > (1u << 30) || v % 8)
			bench_fail("benchmark '%s': want \"mixed\" or a size in bytes, "
				   "a multiple of 8 in [8, 1 GiB]", arg);
		fixed = v;
	}
	w.n = n_override ? n_override : fixed ? bench_objects_for(fixed) : BENCH_MIXED_OBJECTS;
	uint32_t *sizes = bench_mmap(w.n * sizeof(*sizes));
	uint64_t state = BENCH_MIXED_SEED;
	for (size_t i = 0; i < w.n; i++) {
		sizes[i] = fixed ? (uint32_t)fixed : bench_mixed_size(&state);
		w.bytes += sizes[i];
	}
	w.sizes = sizes;
	return w;
}

static const struct bench_impl *bench_find(const char *name)
{
	for (size_t i = 0; i < bench_nimpls; i++)
		if (strcmp(bench_impls[i].name, name) == 0)
			return &bench_impls[i];
	return NULL;
}

static long bench_minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void bench_run(const struct bench_impl *impl, const char *bench)
{
	struct bench_workload w = bench_workload_make(bench, 0);
	uint64_t ns[BENCH_ROUNDS];

	if (impl->init)
		impl->init();
	void **slots = impl->slots_new(w.n);
	for (int r = 0; r < BENCH_WARMUP_ROUNDS; r++) {
		impl->round(slots, &w);
		impl->release(slots, w.n);
	}
	uint64_t gc0 = impl->gc_count ? impl->gc_count() : 0;
	long flt0 = bench_minflt();
	for (int r = 0; r < BENCH_ROUNDS; r++) {
		ns[r] = impl->round(slots, &w);
		impl->release(slots, w.n);
	}
	long flt1 = bench_minflt();
	uint64_t gcs = impl->gc_count ? impl->gc_count() - gc0 : 0;

	qsort(ns, BENCH_ROUNDS, sizeof(ns[0]), bench_cmp_u64);
	printf("%s\t%s\t%.3f\t%llu\t%.2f\t%llu\n", w.name, impl->name,
	       (double)ns[BENCH_ROUNDS / 2] / (double)w.n, (unsigned long long)w.bytes,
	       1000.0 * (double)(flt1 - flt0) / ((double)w.n * BENCH_ROUNDS),
	       (unsigned long long)gcs);
}

/* A null allocator: the loop, call and touch without any allocation. */
static char bench_null_object[64] __attribute__((aligned(64)));

__attribute__((noinline)) static void *bench_null_alloc(size_t size)
{
	(void)size;
	return bench_null_object;
}

static uint64_t bench_null_round(void **slots, const struct bench_workload *w)
{
	return bench_round_batch(bench_null_alloc, slots, w);
}

static const struct bench_impl bench_loop_overhead = {
	.name = "loop-overhead",
	.slots_new = bench_slots_mmap,
	.round = bench_null_round,
	.release = bench_release_clear,
};

/* callgrind --toggle-collect=bench_cg_round counts only this call. */
__attribute__((noinline)) uint64_t bench_cg_round(const struct bench_impl *impl, void **slots,
						  const struct bench_workload *w);
uint64_t bench_cg_round(const struct bench_impl *impl, void **slots, const struct bench_workload *w)
{
	return impl->round(slots, w);
}

static void bench_callgrind(const struct bench_impl *impl, const char *size, const char *count)
{
	char *end;
	unsigned long n = strtoul(count, &end, 10);
	if (*end || n == 0 || n > BENCH_MAX_OBJECTS)
		bench_fail("callgrind: object count '%s' not in [1, %d]", count, BENCH_MAX_OBJECTS);
	struct bench_workload w = bench_workload_make(size, n);

	if (impl->init)
		impl->init();
	void **slots = impl->slots_new(w.n);
	impl->round(slots, &w); /* warm-up: not counted */
	impl->release(slots, w.n);
	bench_cg_round(impl, slots, &w);
	impl->release(slots, w.n);
	printf("%s\t%s\t%lu objects\n", w.name, impl->name, n);
}

/* What a fresh-memory allocator pays per page on this machine. */
static void bench_faultcost(void)
{
	enum { BYTES = 64 << 20, PAGE = 4096, RUNS = 5 };
	uint64_t ns[RUNS];
	for (int r = 0; r < RUNS; r++) {
		char *p = mmap(NULL, BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			bench_fail("faultcost: mmap: %s", strerror(errno));
		uint64_t t0 = bench_now_ns();
		for (size_t i = 0; i < BYTES; i += PAGE)
			*(volatile char *)(p + i) = 1;
		ns[r] = bench_now_ns() - t0;
		munmap(p, BYTES);
	}
	qsort(ns, RUNS, sizeof(ns[0]), bench_cmp_u64);
	printf("%.0f\n", (double)ns[RUNS / 2] / (BYTES / PAGE));
}

static _Noreturn void bench_usage(void)
{
	fprintf(stderr, "usage: alloc-bench list | faultcost | run IMPL BENCH | callgrind IMPL SIZE N\n"
			"implementations here:");
	for (size_t i = 0; i < bench_nimpls; i++)
		fprintf(stderr, " %s", bench_impls[i].name);
	fputc('\n', stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		for (size_t i = 0; i < bench_nimpls; i++)
			printf("%s\n", bench_impls[i].name);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "faultcost") == 0) {
		bench_faultcost();
		return 0;
	}
	if (argc < 4)
		bench_usage();
	const struct bench_impl *impl = bench_find(argv[2]);
	if (!impl && strcmp(argv[2], bench_loop_overhead.name) == 0)
		impl = &bench_loop_overhead;
	if (!impl) {
		fprintf(stderr, "alloc-bench: no implementation '%s' here\n", argv[2]);
		bench_usage();
	}
	if (argc == 4 && strcmp(argv[1], "run") == 0)
		bench_run(impl, argv[3]);
	else if (argc == 5 && strcmp(argv[1], "callgrind") == 0)
		bench_callgrind(impl, argv[3], argv[4]);
	else
		bench_usage();
	return 0;
}
