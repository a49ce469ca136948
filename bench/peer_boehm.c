/*
 * bench/peer_boehm.c: the Boehm-Demers-Weiser collector (Debian libgc, 8.2).
 * boehm: GC_MALLOC (scanned); boehm-atomic: GC_MALLOC_ATOMIC (never scanned);
 * both with the collector's default heuristics. boehm-nogc: GC_MALLOC after
 * GC_disable(), the allocation path alone. One marker thread, as Go picks
 * GOMAXPROCS=1 on the one CPU the driver pins us to. The slots array is
 * GC_MALLOC_UNCOLLECTABLE, so the collector sees the live set.
 */
#define GC_THREADS
#include <gc/gc.h>

#include "bench/alloc_bench.h"

#include <string.h>

static void boehm_init(void)
{
	GC_set_markers_count(1);
	GC_INIT();
}

static void boehm_init_nogc(void)
{
	boehm_init();
	GC_disable();
}

static void **boehm_slots_new(size_t n)
{
	void **slots = GC_MALLOC_UNCOLLECTABLE(n * sizeof(void *));
	if (!slots)
		bench_fail("boehm: no memory for %zu slots", n);
	memset(slots, 0, n * sizeof(void *));
	return slots;
}

/* GC_MALLOC is a macro; the round needs a function to take the address of. */
static void *boehm_malloc(size_t n)
{
	return GC_MALLOC(n);
}

static void *boehm_malloc_atomic(size_t n)
{
	return GC_MALLOC_ATOMIC(n);
}

static uint64_t boehm_round(void **slots, const struct bench_workload *w)
{
	return bench_round_batch(boehm_malloc, slots, w);
}

static uint64_t boehm_round_atomic(void **slots, const struct bench_workload *w)
{
	return bench_round_batch(boehm_malloc_atomic, slots, w);
}

static uint64_t boehm_gc_count(void)
{
	return GC_get_gc_no();
}

const struct bench_impl bench_impls[] = {
	{ .name = "boehm", .init = boehm_init, .slots_new = boehm_slots_new,
	  .round = boehm_round, .release = bench_release_clear, .gc_count = boehm_gc_count },
	{ .name = "boehm-atomic", .init = boehm_init, .slots_new = boehm_slots_new,
	  .round = boehm_round_atomic, .release = bench_release_clear, .gc_count = boehm_gc_count },
	{ .name = "boehm-nogc", .init = boehm_init_nogc, .slots_new = boehm_slots_new,
	  .round = boehm_round, .release = bench_release_clear, .gc_count = boehm_gc_count },
};
const size_t bench_nimpls = sizeof(bench_impls) / sizeof(bench_impls[0]);
