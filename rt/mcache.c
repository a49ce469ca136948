/*
 * mcache.c - per-P caches of spans: the lock-free half of allocation.
 *
 * What. Each P (logical processor) owns one mcache holding one span per span
 * class; small objects are carved from it with no lock (Go's mcache.go,
 * TCMalloc's thread cache). Only the owning P touches its mcache, so the fast
 * path (malloc.c) is: look up the span of the class, take the next free slot
 * with count-trailing-zeros on its alloc_cache.
 *
 * Steps of the slow path (mcache_next_free), when the fast path returns 0:
 *   1. Ask the span for its next free slot through alloc_bits (refilling
 *      alloc_cache); this covers the 64-slot boundary the fast path refuses.
 *   2. If the span is full: hand it back to its mcentral (uncache) and get a
 *      span with free slots (mcentral_cache_span, which may grow the heap).
 *   3. Charge the new span's free slots to this P's small_alloc count (Go's
 *      trick: count a whole span at refill, not each object on the fast path;
 *      mstats.c subtracts slots still free in cached spans when it reads).
 * Flush (mcache_release_all): every cached span goes back to its mcentral and
 * the uncounted slots are un-charged; the tiny block is dropped. Done when a P
 * stops, and at the start and the mark termination of each GC cycle.
 * During a concurrent mark a span is cached black (gc_black_span_begin: its
 * free slots pre-marked) and un-blackened when it leaves (gc_black_span_end).
 *
 * Locking: none for the mcache itself (single owner). mcache structures come
 * from a fixalloc under the heap lock.
 */
#include "rt/mcache.h"
#include "rt/mgc.h"
#include "rt/mheap.h"
#include "rt/mprof.h"
#include "rt/mstats.h"

struct mspan mspan_empty;   /* nelems 0, alloc_cache 0: every fast path misses */
struct mcache *rt_allp_mcache[RT_MAX_PROCS];
static struct fixalloc mcache_alloc;   /* under the heap lock */

struct mcache *mcache_create(int p)
{
	RT_ASSERT_MSG(p >= 0 && p < RT_MAX_PROCS, "mcache_create: P %d out of range", p);
	rt_lock(&mheap_.lock);
	if (mcache_alloc.size == 0)
		fixalloc_init(&mcache_alloc, (sizeof(struct mcache) + 7) & ~(size_t)7,
			      &rt_mstats.mcache_sys, &rt_mstats.mcache_inuse, "mcache");
	struct mcache *c = fixalloc_alloc(&mcache_alloc);
	rt_unlock(&mheap_.lock);
	for (unsigned i = 0; i < RT_NUM_SPAN_CLASSES; i++)
		c->alloc[i] = &mspan_empty;
	for (unsigned i = 0; i < HEAPBITS_LAYOUTS; i++)
		c->layouts[i].type = NULL;
	c->p = p;
	mprof_reset_sample(c);
	__atomic_store_n(&rt_allp_mcache[p], c, __ATOMIC_RELEASE);
	return c;
}

struct mcache *mcache_for_p(int p)
{
	RT_ASSERT_MSG(p >= 0 && p < RT_MAX_PROCS, "mcache_for_p: P %d out of range", p);
	struct mcache *c = __atomic_load_n(&rt_allp_mcache[p], __ATOMIC_ACQUIRE);
	return c != NULL ? c : mcache_create(p);
}

/* Step 2: replace the full span of class spc. Returns false if the heap cannot grow. */
static bool mcache_refill(struct mcache *c, spanclass_t spc)
{
	struct mspan *s = c->alloc[spc];
	if (s != &mspan_empty) {
		RT_ASSERT_MSG(s->alloc_count == s->nelems,
			      "mcache_refill: span at %p still has %u free slots",
			      (void *)s->startaddr, (unsigned)(s->nelems - s->alloc_count));
		if (s->allocblack)
			gc_black_span_end(s);
		mcentral_uncache_span(&mheap_.central[spc], s);
	}
	c->alloc[spc] = &mspan_empty;
	s = mcentral_cache_span(&mheap_.central[spc]);
	if (s == NULL)
		return false;
	if (__atomic_load_n(&gc_phase, __ATOMIC_RELAXED) == GC_CONCMARK)
		gc_black_span_begin(s);   /* allocate black (mgc.c) */
	c->stats.small_alloc[spanclass_sizeclass(spc)] += (uint64_t)(s->nelems - s->alloc_count);
	gc_charge((uint64_t)(s->nelems - s->alloc_count) * s->elemsize);   /* Go's heapLive */
	c->alloc[spc] = s;
	return true;
}

uintptr_t mcache_next_free(struct mcache *c, spanclass_t spc, struct mspan **span)
{
	struct mspan *s = c->alloc[spc];
	unsigned idx = mspan_next_free_index(s);
	if (idx >= s->nelems) {
		if (!mcache_refill(c, spc))
			return 0;
		s = c->alloc[spc];
		idx = mspan_next_free_index(s);
		RT_ASSERT_MSG(idx < s->nelems, "mcache: fresh span at %p has no free slot",
			      (void *)s->startaddr);
	}
	s->alloc_count++;
	*span = s;
	return s->startaddr + (uintptr_t)idx * s->elemsize;
}

void mcache_release_all(struct mcache *c)
{
	for (unsigned i = 0; i < RT_NUM_SPAN_CLASSES; i++) {
		struct mspan *s = c->alloc[i];
		if (s == &mspan_empty)
			continue;
		c->stats.small_alloc[spanclass_sizeclass((spanclass_t)i)] -=
			(uint64_t)(s->nelems - s->alloc_count);
		gc_charge(-(uint64_t)(s->nelems - s->alloc_count) * s->elemsize);
		if (s->allocblack)
			gc_black_span_end(s);
		mcentral_uncache_span(&mheap_.central[i], s);
		c->alloc[i] = &mspan_empty;
	}
	c->tiny = 0;
	c->tinyoffset = 0;
	if (c->sample_gen != __atomic_load_n(&mprof_rate_gen, __ATOMIC_ACQUIRE))
		mprof_reset_sample(c);   /* a rate changed since: take it up (its P is stopped) */
}
