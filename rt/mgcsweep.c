/*
 * mgcsweep.c - sweeping: turning a mark's result into free slots and free
 * pages (Go's mgcsweep.go), concurrently with the program.
 *
 * The sweepgen protocol (DESIGN.md 7.7; the states are written on
 * mspan.sweepgen). With h = mheap_.sweepgen, which mark termination raises by
 * 2 with the world stopped: a span at h - 2 needs sweeping, h - 1 is being
 * swept, h is swept. Raising h turns every swept span unswept at once, and
 * every mcentral's swept lists into its unswept ones (mcentral.c indexes its
 * lists by h / 2 % 2), with no walk. Every in-use span that may need sweeping
 * is on exactly one mcentral list, large spans included (their class's full
 * list), because the cycle's start flushed every mcache: so a span is claimed
 * for sweeping by taking it off an unswept list under its mcentral's lock,
 * which makes the taker the only one, and no span is ever in the "cached
 * before the sweep began" state h + 1 (mcentral_uncache_span still handles it).
 *
 * mspan_sweep(s, preserve), for a claimed span:
 *   1. Small span: the marked slots are the live ones. Count them; at
 *      RT_DEBUG >= 1 fill every slot that was allocated and is not marked
 *      with GC_POISON_WORD (Go's clobberfree), so a use after free reads the
 *      pattern, and the allocator checks it is intact when it hands the slot
 *      out again (gc_clear_checked).
 *   2. alloc_bits = gcmark_bits (a copy: the two arrays share one block), then
 *      gcmark_bits = 0; alloc_count = the marks; freeindex = 0; alloc_cache
 *      reloaded; needzero = 1 if a slot was freed. The new alloc_bits are
 *      stored before freeindex drops (release order): rt_object_base of a
 *      live object in a span being swept never sees "free".
 *   3. Count the freed objects per size class (MemStats' Frees, BySize).
 *      The sampled ones among them (the span's specials) are counted in the
 *      heap profile before the marks are cleared (mprof_sweep_span), and so
 *      is a dead large object that was sampled.
 *   4. sweepgen = h. A span left with no live object goes back to the heap
 *      (mheap_free), unless preserve: mcentral_cache_span's sweeps keep an
 *      empty span to allocate from (Go's sweep(preserve)). The caller learns
 *      it from the result and must not list a freed span.
 *   Large span: marked: clear the mark, swept; unmarked: mheap_free_large.
 *
 * Who sweeps (all through sweepone or mcentral_cache_span):
 *   - lazily, mcentral_cache_span's steps 2 and 3 (an mcache needing a span
 *     sweeps the unswept spans of its class first);
 *   - proportionally, every mcentral_cache_span that finds the sweep
 *     unfinished sweeps one more span of any class first, so the sweep keeps
 *     pace with allocation (a simple stand-in for Go's sweep credit);
 *   - before the heap grows (sweep_reclaim, Go's mheap.reclaim): freed pages
 *     are reused before new ones are mapped;
 *   - the background sweeper, a system G of each world (bgsweep): a few
 *     spans at a time on the system stack, yielding between batches, parked
 *     when nothing is left and readied when a mark ends;
 *     When the sweep is done it returns free memory beyond the scavenger's
 *     goal to the OS (rt_scavenge_to_goal), as rt_gc does after its sweep,
 *     and publishes the heap profile (mprof_post_sweep);
 *   - the next cycle's start (sweep_finish, world stopped) sweeps whatever
 *     is left, so a mark always starts with every span swept and every mark
 *     bit clear. If the background sweeper had not finished, the profile is
 *     published by the collector once the world runs again (rt/mgc.c), not
 *     in the pause: it walks every bucket.
 * sweep.nunswept counts the spans on unswept lists (set at mark termination,
 * decremented by each take), so "is every span taken" is one load. A taken
 * span is swept by its taker after the take, so sweep.nactive counts those
 * taken and not yet swept: raised before nunswept drops (both SEQ_CST),
 * lowered when mspan_sweep returns. sweep_finish waits for both to reach 0,
 * so rt_gc returns only when every span is swept, not merely taken by
 * another M that is still sweeping it (make stress saw rt.gc.root_global on
 * 8 CPUs check its garbage a moment too early: none freed, then all).
 *
 * Locking: an mcentral's lock to take a span off or put it on a list; the
 * sweep itself runs on a span no one else can reach; mheap_free takes the
 * heap lock (ranked above the mcentrals': never held across it here).
 * sweeper.lock (LOCKRANK_SWEEP) guards the sweeper's parking.
 */
#include "rt/mcentral.h"
#include "rt/mgc.h"
#include "rt/mheap.h"
#include "rt/mprof.h"
#include "rt/mstats.h"
#include "rt/rt.h"
#include "rt/runtime2.h"

#define BGSWEEP_BATCH 16   /* spans per system-stack call of the background sweeper */
#define SCAVENGE_CHUNK (256u << 10)   /* bytes it returns to the OS per system-stack call */

uint64_t sweep_frees[RT_NUM_SIZE_CLASSES];
uint64_t sweep_freed_bytes;
uint64_t sweep_spans_swept, sweep_pages_freed;   /* since the last mark termination (struct rt_gc_cycle) */

#define SWEEP_WAIT_NS (30ull * 1000 * 1000 * 1000)   /* sweep_finish's bound on other sweepers */

static struct {
	volatile int64_t nunswept;   /* spans on unswept lists (atomic) */
	volatile int64_t nactive;    /* spans taken off those lists whose sweep is not done (atomic) */
	volatile uint32_t cursor;    /* next span class sweepone looks at (atomic) */
} sweep;

static struct {
	struct rt_lock lock;         /* LOCKRANK_SWEEP */
	struct rt_g *g;              /* the background sweeper of this world */
	bool parked;                 /* (lock) */
	bool inited;
} sweeper;

static inline bool bit(const uint64_t *bits, uintptr_t i) { return (bits[i / 64] >> (i % 64)) & 1; }

static void poison_slot(uintptr_t v, uintptr_t size)
{
	uint64_t *w = (uint64_t *)v;
	for (uintptr_t i = 0; i < size / 8; i++)
		w[i] = GC_POISON_WORD;
}

static bool sweep_large(struct mspan *s, uint32_t h)
{
	if (s->gcmark_bits[0] & 1) {
		s->gcmark_bits[0] = 0;
		__atomic_store_n(&s->sweepgen, h, __ATOMIC_RELEASE);
		__atomic_add_fetch(&sweep_spans_swept, 1, __ATOMIC_RELAXED);
		return true;
	}
	if (__atomic_load_n(&s->specials, __ATOMIC_ACQUIRE) != NULL)
		mprof_sweep_span(s, NULL);   /* a sampled large object died */
	__atomic_add_fetch(&sweep_frees[0], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sweep_freed_bytes, s->npages * RT_PAGE_SIZE, __ATOMIC_RELAXED);
	__atomic_store_n(&s->sweepgen, h, __ATOMIC_RELEASE);
	__atomic_add_fetch(&sweep_spans_swept, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sweep_pages_freed, s->npages, __ATOMIC_RELAXED);
	mheap_free_large(s);
	return false;
}

bool mspan_sweep(struct mspan *s, bool preserve)
{
	RT_ASSERT_MSG(__atomic_load_n(&gc_phase, __ATOMIC_RELAXED) != GC_CONCMARK,
		      "mspan_sweep: span %#lx swept during a concurrent mark", (unsigned long)s->startaddr);
	uint32_t h = mheap_sweepgen();
	uint32_t sg = __atomic_load_n(&s->sweepgen, __ATOMIC_RELAXED);
	RT_ASSERT_MSG(s->state == MSPAN_INUSE && (sg == h - 2 || sg == h - 1 || sg == h + 1),
		      "mspan_sweep: span at %p (state %u) has sweepgen %u, heap %u", (void *)s->startaddr,
		      s->state, sg, h);
	RT_DASSERT(s->list == NULL);
	if (spanclass_sizeclass(s->spanclass) == 0)
		return sweep_large(s, h);

	/* 1. */
	unsigned nwords = (s->nelems + 63u) / 64u;
	unsigned nalloc = 0;
	for (unsigned w = 0; w < nwords; w++) {
		uint64_t m = s->gcmark_bits[w];
		if (w == nwords - 1 && s->nelems % 64 != 0)
			m &= ((uint64_t)1 << (s->nelems % 64)) - 1;
		s->gcmark_bits[w] = m;
		for (; m != 0; m &= m - 1)
			nalloc++;
	}
	RT_ASSERT_MSG(nalloc <= s->alloc_count,
		      "mspan_sweep: span at %p marks %u objects but has %u allocated",
		      (void *)s->startaddr, nalloc, (unsigned)s->alloc_count);
	unsigned nfreed = s->alloc_count - nalloc;
	if (GC_DEBUG_POISON_FREED && nfreed != 0) {
		for (uintptr_t i = 0; i < s->nelems; i++)
			if ((i < s->freeindex || bit(s->alloc_bits, i)) && !bit(s->gcmark_bits, i))
				poison_slot(s->startaddr + i * s->elemsize, s->elemsize);
	}
	if (nfreed != 0 && __atomic_load_n(&s->specials, __ATOMIC_ACQUIRE) != NULL)
		mprof_sweep_span(s, s->gcmark_bits);   /* sampled objects among the dead */
	/* 2. */
	for (unsigned w = 0; w < nwords; w++) {
		__atomic_store_n(&s->alloc_bits[w], s->gcmark_bits[w], __ATOMIC_RELAXED);
		s->gcmark_bits[w] = 0;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->alloc_count = (uint16_t)nalloc;
	__atomic_store_n(&s->freeindex, 0, __ATOMIC_RELEASE);
	mspan_refill_alloc_cache(s);
	if (nfreed != 0)
		s->needzero = 1;
	/* 3. */
	if (nfreed != 0) {
		unsigned sc = spanclass_sizeclass(s->spanclass);
		__atomic_add_fetch(&sweep_frees[sc], nfreed, __ATOMIC_RELAXED);
		__atomic_add_fetch(&sweep_freed_bytes, (uint64_t)nfreed * s->elemsize, __ATOMIC_RELAXED);
	}
	/* 4. */
	__atomic_store_n(&s->sweepgen, h, __ATOMIC_RELEASE);
	__atomic_add_fetch(&sweep_spans_swept, 1, __ATOMIC_RELAXED);
	if (nalloc == 0 && !preserve) {
		__atomic_add_fetch(&sweep_pages_freed, s->npages, __ATOMIC_RELAXED);
		mheap_free(s);
		return false;
	}
	return true;
}

void sweep_note_taken(void)
{
	__atomic_add_fetch(&sweep.nactive, 1, __ATOMIC_SEQ_CST);   /* before the count drops */
	int64_t n = __atomic_sub_fetch(&sweep.nunswept, 1, __ATOMIC_SEQ_CST);
	RT_DASSERT(n >= 0);
	(void)n;
}

void sweep_note_swept(void)
{
	int64_t n = __atomic_sub_fetch(&sweep.nactive, 1, __ATOMIC_RELEASE);
	RT_DASSERT(n >= 0);
	(void)n;
}

bool sweepone(uintptr_t *freed_pages)
{
	*freed_pages = 0;
	while (__atomic_load_n(&sweep.nunswept, __ATOMIC_RELAXED) > 0) {
		/* One pass over the classes from the cursor. */
		uint32_t start = __atomic_fetch_add(&sweep.cursor, 1, __ATOMIC_RELAXED);
		for (uint32_t k = 0; k < RT_NUM_SPAN_CLASSES; k++) {
			struct mcentral *c = &mheap_.central[(start + k) % RT_NUM_SPAN_CLASSES];
			struct mspan *s = mcentral_take_unswept(c);
			if (s == NULL)
				continue;
			uintptr_t npages = s->npages;
			bool kept = mspan_sweep(s, false);
			sweep_note_swept();
			if (kept)
				mcentral_put_swept(c, s);
			else
				*freed_pages = npages;
			return true;
		}
		if (__atomic_load_n(&sweep.nunswept, __ATOMIC_RELAXED) > 0)
			__builtin_ia32_pause();   /* a span is in a taker's hands between list and count */
		return __atomic_load_n(&sweep.nunswept, __ATOMIC_RELAXED) > 0;
	}
	return false;
}

void sweep_reclaim(uintptr_t npages)
{
	uintptr_t freed = 0, got;
	while (freed < npages && sweepone(&got))
		freed += got;
}

/* Every span swept, none still in a taker's hands (both SEQ_CST: a taker
 * raises nactive before nunswept drops). */
static bool sweep_all_swept(void)
{
	return __atomic_load_n(&sweep.nunswept, __ATOMIC_SEQ_CST) == 0 &&
	       __atomic_load_n(&sweep.nactive, __ATOMIC_SEQ_CST) == 0;
}

void sweep_finish(void)
{
	uintptr_t got;
	while (sweepone(&got))
		;
	/* Spans other Ms took are theirs to finish (world running: rt_gc's
	 * caller; stopped, none is in flight and this returns at once). */
	uint64_t t0 = 0;
	while (!sweep_all_swept()) {
		uint64_t now = rt_port_nanotime();
		if (t0 == 0)
			t0 = now;
		RT_ASSERT_MSG(now - t0 < SWEEP_WAIT_NS, "sweep_finish: %ld spans unswept, %ld still being swept "
			      "by other Ms after 30 s", (long)sweep.nunswept, (long)sweep.nactive);
		__builtin_ia32_pause();
	}
}

bool sweep_done(void)
{
	return __atomic_load_n(&sweep.nunswept, __ATOMIC_RELAXED) == 0;
}

void sweep_cycle_begin(void)
{
	/* World stopped, sweepgen just raised: every listed span is unswept now. */
	int64_t n = 0;
	uint32_t h = mheap_sweepgen();
	for (unsigned i = 0; i < RT_NUM_SPAN_CLASSES; i++) {
		struct mcentral *c = &mheap_.central[i];
		RT_ASSERT(spanlist_empty(mcentral_partial_swept(c, h)) && spanlist_empty(mcentral_full_swept(c, h)));
		n += (int64_t)(mcentral_partial_unswept(c, h)->n + mcentral_full_unswept(c, h)->n);
	}
	__atomic_store_n(&sweep.nunswept, n, __ATOMIC_RELEASE);
}

/* ---- the background sweeper ---- */

static void sweep_batch(void *arg)
{
	unsigned *n = arg;
	uintptr_t got;
	while (*n < BGSWEEP_BATCH && sweepone(&got))
		(*n)++;
}

/* On the system stack, so no stop comes between the look and the publish:
 * a sweeper stopped after its look at a finished sweep and resumed in the
 * next cycle would publish the slots of a sweep not yet run (a helper's
 * review). */
static void sweep_publish_if_done(void *arg)
{
	(void)arg;
	if (sweep_all_swept())
		mprof_post_sweep();
}

static void scavenge_chunk(void *arg)
{
	*(uintptr_t *)arg = scavenge_to_goal_bounded(SCAVENGE_CHUNK);
}

static bool sweeper_park_unlock(struct rt_g *gp, void *arg)
{
	(void)gp;
	(void)arg;
	rt_unlock(&sweeper.lock);
	return true;
}

void bgsweep(void *arg)
{
	(void)arg;
	for (;;) {
		unsigned n = 0;
		rt_systemstack(sweep_batch, &n);
		if (n != 0) {
			rt_gosched();
			continue;
		}
		/* The sweep is done: give the OS back what the heap holds beyond its
		 * heap goal plus 10% (the scavenger's goal, rt/mgcscavenge.c), as
		 * Go's background scavenger does, so a heap that shrank frees frames;
		 * a chunk per system-stack trip, yielding between, so a stop waits
		 * for one chunk, not the whole release. */
		for (;;) {
			uintptr_t got;
			rt_systemstack(scavenge_chunk, &got);
			if (got < SCAVENGE_CHUNK)
				break;
			rt_gosched();
		}
		rt_systemstack(sweep_publish_if_done, NULL);
		rt_lock(&sweeper.lock);
		if (!sweep_done()) {
			rt_unlock(&sweeper.lock);
			continue;
		}
		sweeper.parked = true;
		rt_park(sweeper_park_unlock, NULL);
	}
}

void sweeper_world_start(struct rt_g *g)
{
	if (!sweeper.inited) {
		rt_lock_init(&sweeper.lock, LOCKRANK_SWEEP, "sweeper");
		sweeper.inited = true;
	}
	sweeper.g = g;
	sweeper.parked = false;
}

void sweeper_wake(void)
{
	if (sweeper.g == NULL)
		return;
	rt_lock(&sweeper.lock);
	bool was_parked = sweeper.parked;
	sweeper.parked = false;
	rt_unlock(&sweeper.lock);
	if (was_parked)
		rt_ready(sweeper.g);
}

void sweeper_world_end(void)
{
	sweeper.g = NULL;
	sweeper.parked = false;
}

/* ---- checking freed memory when it is handed out again ---- */

__attribute__((noinline, cold, noreturn))
static void use_after_free(uintptr_t v, uintptr_t off, uint64_t word, const struct mspan *s)
{
	rt_throw("runtime: use after free: word +%lu of a freed %lu-byte slot at %#lx (span class %u) "
		 "reads %#lx, not the sweeper's poison %#llx: it was written after the collector freed it",
		 (unsigned long)off, (unsigned long)s->elemsize, (unsigned long)v, (unsigned)s->spanclass,
		 (unsigned long)word, (unsigned long long)GC_POISON_WORD);
}

void gc_clear_checked(uintptr_t v, uintptr_t size, const struct mspan *s)
{
	if (GC_DEBUG_POISON_FREED) {
		/* A free slot holds the poison (freed by a sweep), the heap's junk
		 * (its pages came from a freed span) or zeros (fresh or released pages). */
		const uint64_t *w = (const uint64_t *)v;
		for (uintptr_t i = 0; i < size / 8; i++) {
			uint64_t x = w[i];
			if (unlikely(x != GC_POISON_WORD && x != HEAP_JUNK_WORD && x != 0))
				use_after_free(v, i * 8, x, s);
		}
	}
	rt_memclr((void *)v, size);
}
