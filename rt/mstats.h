/*
 * mstats.h - the runtime's internal statistics (public view: struct rt_memstats
 * in rt.h, assembled by rt_read_memstats in mstats.c).
 *
 * Two kinds of counters (consistency rules in mstats.c):
 *   - global *_sys / *_inuse byte counts, changed under the lock named on
 *     each field (or atomically by sys.c for the *_sys fields it is handed);
 *   - per-P allocation counters in each mcache (struct mcache_stats), changed
 *     only by the P that owns the mcache, with no lock.
 */
#ifndef RT_MSTATS_H
#define RT_MSTATS_H

#include <stdint.h>

struct mstats_global {
	/* Sys counters: bytes mapped through sys_map for each use. */
	uint64_t heap_sys;      /* heap arenas mapped, minus pages lent to stacks (mheap lock) */
	uint64_t stack_sys;     /* stack memory mapped: rt/stack.c's chunks and manual heap spans (atomic) */
	uint64_t mspan_sys;     /* memory carved for struct mspan (persistent lock) */
	uint64_t mcache_sys;    /* memory carved for struct mcache (persistent lock) */
	uint64_t gc_sys;        /* GC metadata: heap bitmaps, alloc/mark bits (persistent lock) */
	uint64_t other_sys;     /* other metadata, and persistent chunks not yet carved */
	uint64_t buckhash_sys;  /* heap profile buckets and specials (rt/mprof.c; persistent lock) */

	/* In-use counters. */
	uint64_t heap_inuse;    /* bytes in spans in state MSPAN_INUSE (mheap lock) */
	uint64_t heap_free;     /* bytes in free page runs (mheap lock); == HeapIdle */
	uint64_t heap_released; /* free bytes returned with sys_unused (mheap lock) */
	uint64_t stack_inuse;   /* bytes of stacks held by coroutines, and manual spans (atomic) */
	uint64_t heap_manual;   /* bytes in MSPAN_MANUAL spans (mheap lock) */
	uint64_t mspan_inuse;   /* bytes of live struct mspan (mheap lock) */
	uint64_t mcache_inuse;  /* bytes of live struct mcache (mheap lock) */

	/* Large objects freed (mheap_free_large, called by the sweeper). Small
	 * objects' frees are the sweeper's counts (rt/mgcsweep.c sweep_frees). */
	uint64_t large_frees;       /* (mheap lock) */
	uint64_t large_free_bytes;  /* (mheap lock) */

	/* Collector (rt/mgc.c; written at mark termination under the mheap lock, num_gc atomic). */
	uint64_t num_gc, num_forced_gc, pause_total_ns, next_gc, last_gc;
	uint64_t pause_ns[256], pause_end[256], pause_stop_ns[256];
};

extern struct mstats_global rt_mstats;

/* Go's mappedReady: every *_sys byte not returned to the OS (relaxed reads: a hint). */
uint64_t mstats_mapped_ready(void);
/* Free heap pages still holding frames (HeapIdle - HeapReleased; relaxed reads). */
uint64_t mstats_heap_free_ready(void);

#endif
