/*
 * bench/peer_malloc.c: the malloc-family peers. The same source is linked
 * three times: alone (glibc malloc), with -lmimalloc and with -ljemalloc,
 * since Debian's mimalloc and jemalloc replace malloc for the whole process.
 * BENCH_PEER names the peer and BENCH_PEER_LIB the shared object that must
 * provide malloc; init() checks it with dladdr, so a link that silently fell
 * back to glibc fails loudly instead of printing glibc's numbers twice.
 */
#define _GNU_SOURCE
#include "bench/alloc_bench.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#if !defined(BENCH_PEER) || !defined(BENCH_PEER_LIB)
#error "build with -DBENCH_PEER=\"name\" -DBENCH_PEER_LIB=\"libname\""
#endif

static void malloc_init(void)
{
	Dl_info info;
	void *(*volatile m)(size_t) = malloc; /* the address the dynamic linker bound */
	if (!dladdr((void *)m, &info) || !info.dli_fname || !strstr(info.dli_fname, BENCH_PEER_LIB))
		bench_fail("%s: malloc comes from %s, expected %s (link order?)", BENCH_PEER,
			   info.dli_fname ? info.dli_fname : "?", BENCH_PEER_LIB);
}

static uint64_t malloc_batch(void **slots, const struct bench_workload *w)
{
	return bench_round_batch(malloc, slots, w);
}

static uint64_t malloc_pair(void **slots, const struct bench_workload *w)
{
	(void)slots;
	return bench_round_pair(malloc, free, w);
}

static void malloc_release(void **slots, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(slots[i]);
	bench_release_clear(slots, n);
}

const struct bench_impl bench_impls[] = {
	{ .name = BENCH_PEER, .init = malloc_init, .slots_new = bench_slots_mmap,
	  .round = malloc_batch, .release = malloc_release },
	{ .name = BENCH_PEER "-pair", .init = malloc_init, .slots_new = bench_slots_mmap,
	  .round = malloc_pair, .release = bench_release_clear },
};
const size_t bench_nimpls = sizeof(bench_impls) / sizeof(bench_impls[0]);
