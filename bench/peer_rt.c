/*
 * bench/peer_rt.c: ours, the runtime's hosted build as rt/build.mk makes it
 * for benchmarks (RT_BENCH_LIB: -O2, no sanitizers, RT_DEBUG=0).
 *   ours      rt_alloc(size, NULL): pointer-free (noscan) spans, tiny allocator
 *             under 16 bytes.
 *   ours-ptr  rt_alloc(size, &bench_ptr_word): an array of pointer words, so
 *             scanned spans and the heap bitmap are written (Go's make([]*T)).
 * The slots array lives outside the heap (mmap): there is no collector yet to
 * keep the live set alive or reclaim it. When rt/ collects, slots must become
 * a root (a heap array of pointers held in a global) and its stores go
 * through RT_STORE_PTR, as Go's slot stores go through its write barrier.
 */
#include "rt/rt.h"

#include "bench/alloc_bench.h"

static const uint8_t bench_ptr_word_mask[1] = { 1 };
static const struct rt_type bench_ptr_word = {
	.size = 8, .align = 8, .ptrdata = 8, .ptrmask = bench_ptr_word_mask, .name = "void *",
};

static void *rt_alloc_noscan(size_t n)
{
	return rt_alloc(n, NULL);
}

static void *rt_alloc_ptrs(size_t n)
{
	return rt_alloc(n, &bench_ptr_word);
}

static uint64_t rt_round_noscan(void **slots, const struct bench_workload *w)
{
	return bench_round_batch(rt_alloc_noscan, slots, w);
}

static uint64_t rt_round_ptrs(void **slots, const struct bench_workload *w)
{
	return bench_round_batch(rt_alloc_ptrs, slots, w);
}

static uint64_t rt_gc_count(void)
{
	struct rt_memstats ms;
	rt_read_memstats(&ms);
	return ms.num_gc;
}

const struct bench_impl bench_impls[] = {
	{ .name = "ours", .init = rt_init, .slots_new = bench_slots_mmap,
	  .round = rt_round_noscan, .release = bench_release_clear, .gc_count = rt_gc_count },
	{ .name = "ours-ptr", .init = rt_init, .slots_new = bench_slots_mmap,
	  .round = rt_round_ptrs, .release = bench_release_clear, .gc_count = rt_gc_count },
};
const size_t bench_nimpls = sizeof(bench_impls) / sizeof(bench_impls[0]);
