/*
 * mcache.h - per-P cache of spans (see mcache.c).
 */
#ifndef RT_MCACHE_H
#define RT_MCACHE_H

#include "rt/mbitmap.h"
#include "rt/mspan.h"

/* Per-P allocation counters: changed only by the owning P, read by rt_read_memstats. */
struct mcache_stats {
	uint64_t small_alloc[RT_NUM_SIZE_CLASSES];  /* objects charged at refill (see mstats.c) */
	uint64_t large_alloc;                       /* large objects */
	uint64_t large_bytes;                       /* their span bytes */
	uint64_t tiny_allocs;                       /* allocations packed into a tiny block */
};

struct mcache {
	/* Owned by one P; no lock. */
	struct mspan *alloc[RT_NUM_SPAN_CLASSES];   /* current span per class, or &mspan_empty */
	uintptr_t tiny;          /* current 16-byte tiny block, 0 if none */
	uintptr_t tinyoffset;    /* bytes of it used */
	struct mcache_stats stats;
	struct heapbits_layout layouts[HEAPBITS_LAYOUTS];   /* memo: (type, size) -> class, layout */
	int p;                   /* owning P */
	/* The heap profile (mprof.c): bytes until the next sample, its random state,
	 * the rate generation it was drawn at. */
	uint64_t next_sample;
	uint64_t sample_rand;
	uint32_t sample_gen;
};

/* A span with no free slots; the initial value of every mcache slot. */
extern struct mspan mspan_empty;

/* The mcache of each P (NULL until the P starts). */
extern struct mcache *rt_allp_mcache[RT_MAX_PROCS];

static inline struct mcache *mcache_current(void)
{
	return rt_allp_mcache[rt_port_current_p()];
}

struct mcache *mcache_create(int p);
/* Slow path: a free slot of class spc, refilling the span; 0 if the heap cannot grow. */
uintptr_t mcache_next_free(struct mcache *c, spanclass_t spc, struct mspan **span);
/* Returns every cached span to its mcentral (P stops, GC start). */
void mcache_release_all(struct mcache *c);
/* Ensures the P's mcache exists (hosted: Ps are created on first use). */
struct mcache *mcache_for_p(int p);

#endif
