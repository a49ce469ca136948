/*
 * mgcscavenge.c - the scavenger: gives free heap pages back to the OS.
 *
 * What. Free page runs keep their frames (Ready) so that the next allocation
 * is cheap. The scavenger returns frames of free pages to the OS with
 * sys_unused (Ready -> Prepared; the OS's free-frame count rises at once),
 * sets their scav bit and clears their dirty bit: when the allocator reuses
 * them it calls sys_used and knows they read as zero (sys.h rule 5), so no
 * clearing is needed. After Go's mgcscavenge.go.
 *
 * Goal. Keep retained memory (HeapSys - HeapReleased) at most the heap goal
 * (NextGC; HeapInuse if that is more, or GOGC is off) plus a 10% margin
 * (rt_scavenge_to_goal), and under a memory limit (rt_set_memory_limit)
 * all mapped memory under 95% of it, as Go 1.19's scavenger. When an
 * allocation would make pages ready past the limit, the heap first returns
 * as much from other free runs (mheap_scavenge_for_limit_locked, from
 * alloc_pages_locked: Go 1.19's allocSpan does the same). The heap grows back
 * to its goal before the next collection, so pages under the goal would be
 * faulted straight back in: over HeapInuse + 10%, binary-trees depth 18
 * returned ~9 MiB after nearly every cycle and took it back before the
 * next. rt_free_os_memory releases everything free, as Go's
 * debug.FreeOSMemory does. The background sweeper scavenges to the goal
 * when a sweep is done, SCAVENGE_CHUNK bytes per trip to the system stack
 * with a yield between (scavenge_to_goal_bounded): one such release under
 * the heap lock took ~1 ms, and a stop waited for it (the 2-P pause tail).
 * A scavenger paced to ~1% of a CPU, as Go's, is not built (DESIGN.md 7.10).
 *
 * Steps of mheap_scavenge(bytes):
 *   1. Walk the free-run buckets from the largest runs down: big runs are the
 *      least likely to be reused soon and give the most per sys call.
 *   2. In each run, walk from its high end down (allocation takes runs from
 *      their low end, so the two meet last), find maximal sub-runs of pages
 *      not yet released, sys_unused each, set scav, clear dirty.
 *   3. Stop once `bytes` (rounded up to pages) are released.
 *
 * Cost: O(free runs + pages examined), one sys_unused per contiguous sub-run.
 * Locking: runs entirely under the heap lock, sys calls included (simple; Go
 * instead takes the pages out of the free index and drops the lock around
 * the madvise, which is the next refinement once allocation contends).
 */
#include "rt/mgc.h"
#include "rt/mheap.h"
#include "rt/mstats.h"
#include "rt/rt.h"
#include "rt/sys.h"

#define SCAVENGE_LIMIT_PCT 95   /* of the memory limit: mapped memory the scavenger allows */

static bool scav_bit(uintptr_t p)
{
	struct heaparena *a = arena_of(p);
	uintptr_t i = arena_page(p);
	return (a->scav[i / 64] >> (i % 64)) & 1;
}

/* Step 2 for one free run: releases up to `want` bytes; returns bytes released. */
static uintptr_t scavenge_run(struct mspan *s, uintptr_t want)
{
	uintptr_t start = s->startaddr, hi = mspan_end(s), done = 0;
	while (hi > start && done < want) {
		if (scav_bit(hi - RT_PAGE_SIZE)) {
			hi -= RT_PAGE_SIZE;
			continue;
		}
		uintptr_t lo = hi - RT_PAGE_SIZE;
		while (lo > start && !scav_bit(lo - RT_PAGE_SIZE) && done + (hi - lo) < want)
			lo -= RT_PAGE_SIZE;
		uintptr_t n = hi - lo;
		sys_unused((void *)lo, n);
		pagebits_set(lo, n / RT_PAGE_SIZE, 0, true);
		pagebits_set(lo, n / RT_PAGE_SIZE, 1, false);
		rt_mstats.heap_released += n;
		done += n;
		hi = lo;
	}
	return done;
}

/* Steps 1-3, the heap lock held. */
static uintptr_t scavenge_locked(uintptr_t bytes)
{
	struct mheap *h = &mheap_;
	uintptr_t released = 0;
	for (int b = PAGEFREE_NBUCKETS - 1; b >= 0 && released < bytes; b--)
		for (struct mspan *s = h->free[b].first; s != NULL && released < bytes; s = s->next)
			released += scavenge_run(s, bytes - released);
	return released;
}

uintptr_t mheap_scavenge(uintptr_t bytes)
{
	rt_lock(&mheap_.lock);
	uintptr_t released = scavenge_locked(bytes);
	rt_unlock(&mheap_.lock);
	return released;
}

uintptr_t mheap_scavenge_for_limit_locked(uintptr_t becoming_ready)
{
	uint64_t limit = __atomic_load_n(&gc_memory_limit, __ATOMIC_RELAXED);
	if (likely(limit == GC_NO_LIMIT))
		return 0;
	uint64_t after = mstats_mapped_ready() + becoming_ready;
	/* Not GC time to the CPU limiter (Go 1.19 counts its scavenge assist): here
	 * it latched the limiter on once the heap was over the limit, assists
	 * stayed off, and the heap ran away (35.9 MiB for a 4.1 MiB limit). */
	return after > limit ? scavenge_locked(after - limit) : 0;
}

size_t rt_scavenge(size_t bytes)
{
	return mheap_scavenge(bytes);
}

size_t rt_scavenge_to_goal(void) { return scavenge_to_goal_bounded(UINTPTR_MAX); }

uintptr_t scavenge_to_goal_bounded(uintptr_t max)
{
	rt_lock(&mheap_.lock);
	uint64_t retained = rt_mstats.heap_sys - rt_mstats.heap_released;
	uint64_t keep = rt_mstats.next_gc > rt_mstats.heap_inuse ? rt_mstats.next_gc : rt_mstats.heap_inuse;
	uint64_t goal = keep + keep / 10;   /* Go 1.19: the heap goal + 10% (HeapInuse, if more) */
	uint64_t release = retained > goal ? retained - goal : 0;
	uint64_t limit = __atomic_load_n(&gc_memory_limit, __ATOMIC_RELAXED);
	if (limit != GC_NO_LIMIT) {
		/* Under a memory limit, all mapped memory stays under 95% of it (Go 1.19). */
		uint64_t ready = mstats_mapped_ready(), cap = limit / 100 * SCAVENGE_LIMIT_PCT;
		if (ready > cap && ready - cap > release)
			release = ready - cap;
	}
	if (release > max)
		release = max;
	uintptr_t done = release != 0 ? scavenge_locked(release) : 0;
	rt_unlock(&mheap_.lock);
	return done;
}

void rt_free_os_memory(void)
{
	mheap_scavenge(UINTPTR_MAX);
}
