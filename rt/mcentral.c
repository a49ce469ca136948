/*
 * mcentral.c - the free lists of one span class, shared by all Ps.
 *
 * What. An mcentral holds the spans of one span class (size class + noscan)
 * that are not cached by any mcache, and hands them to mcaches that ran out
 * (Go's mcentral.go; TCMalloc's central free list). Spans it cannot supply
 * come from the heap.
 *
 * Structures. Four lists: partial (some slot free) and full (none), each in
 * two generations indexed by the heap's sweepgen: partial[sweepgen/2 % 2] are
 * the spans already swept in this GC cycle, partial[1 - that] those still to
 * sweep; the same for full. When a cycle ends the heap adds 2 to sweepgen and
 * every "swept" list becomes the "unswept" one at once, with no list walk.
 *
 * Steps of mcentral_cache_span:
 *   1. A swept partial span: take it.
 *   2. An unswept partial span: sweep it, take it.
 *   3. Unswept full spans: sweep each; take the first that now has a free
 *      slot; move the others to the swept full list.
 *   4. Otherwise grow: a fresh span of the class's page count from the heap
 *      (mcentral lock released first: never hold it while taking the heap lock
 *      for long work).
 *   5. Mark the span "swept and cached" (sweepgen + 3) and reload its alloc_cache.
 * mcentral_uncache_span is the reverse: a span comes back from an mcache
 * (refill or flush); if a sweep began while it was cached (sweepgen + 1) it is
 * swept now; it goes to the swept partial or full list.
 *
 * Sweeping is a no-op until the collector exists (a later issue): with no mark
 * phase nothing is known dead, and sweeping would wrongly free every object.
 * mspan_sweep below only advances sweepgen; the collector will make it copy
 * gcmark_bits into alloc_bits, count the survivors and free empty spans. Since
 * the heap's sweepgen never changes yet, the unswept lists stay empty. When
 * the collector makes mspan_sweep real, it moves to rt/mgcsweep.c (Go's
 * mgcsweep.go) with the rest of the sweeper; this file keeps the lists.
 *
 * Locking. c->lock (rank LOCKRANK_MCENTRAL) protects the lists and the spans
 * on them. It is never held across mheap_alloc.
 */
#include "rt/mcentral.h"
#include "rt/mheap.h"

void mcentral_init(struct mcentral *c, spanclass_t spc)
{
	rt_lock_init(&c->lock, LOCKRANK_MCENTRAL, "mcentral");
	c->spanclass = spc;
}

static struct spanlist *partial_swept(struct mcentral *c, uint32_t sg) { return &c->partial[(sg / 2) % 2]; }
static struct spanlist *partial_unswept(struct mcentral *c, uint32_t sg) { return &c->partial[1 - (sg / 2) % 2]; }
static struct spanlist *full_swept(struct mcentral *c, uint32_t sg) { return &c->full[(sg / 2) % 2]; }
static struct spanlist *full_unswept(struct mcentral *c, uint32_t sg) { return &c->full[1 - (sg / 2) % 2]; }

/* Sweeping without a collector: records the span as swept (see the essay). */
static void mspan_sweep(struct mspan *s, uint32_t sg)
{
	s->sweepgen = sg;
}

static struct mspan *mcentral_grow(struct mcentral *c)
{
	unsigned sc = spanclass_sizeclass(c->spanclass);
	struct mspan *s = mheap_alloc(rt_class[sc].npages, c->spanclass);
	if (s != NULL)
		__atomic_add_fetch(&c->ngrow, 1, __ATOMIC_RELAXED);
	return s;
}

struct mspan *mcentral_cache_span(struct mcentral *c)
{
	uint32_t sg = mheap_.sweepgen;
	struct mspan *s;
	rt_lock(&c->lock);
	if ((s = partial_swept(c, sg)->first) != NULL) {
		spanlist_remove(partial_swept(c, sg), s);
		goto have;
	}
	if ((s = partial_unswept(c, sg)->first) != NULL) {
		spanlist_remove(partial_unswept(c, sg), s);
		mspan_sweep(s, sg);
		goto have;
	}
	while ((s = full_unswept(c, sg)->first) != NULL) {
		spanlist_remove(full_unswept(c, sg), s);
		mspan_sweep(s, sg);
		if (s->alloc_count < s->nelems)
			goto have;
		spanlist_push(full_swept(c, sg), s);
	}
	rt_unlock(&c->lock);
	s = mcentral_grow(c);
	if (s == NULL)
		return NULL;
	goto cached;
have:
	rt_unlock(&c->lock);
cached:
	RT_DASSERT(s->spanclass == c->spanclass && s->alloc_count < s->nelems);
	s->sweepgen = sg + 3;
	mspan_refill_alloc_cache(s);
	__atomic_add_fetch(&c->nmalloc_spans, 1, __ATOMIC_RELAXED);
	return s;
}

void mcentral_uncache_span(struct mcentral *c, struct mspan *s)
{
	uint32_t sg = mheap_.sweepgen;
	RT_ASSERT_MSG(s->sweepgen == sg + 3 || s->sweepgen == sg + 1,
		      "mcentral_uncache_span: span at %p has sweepgen %u, heap %u (not cached?)",
		      (void *)s->startaddr, s->sweepgen, sg);
	RT_DASSERT(s->spanclass == c->spanclass && s->list == NULL);
	if (s->sweepgen == sg + 1)   /* cached before a sweep began: sweep it now */
		mspan_sweep(s, sg);
	else
		s->sweepgen = sg;
	rt_lock(&c->lock);
	if (s->alloc_count < s->nelems)
		spanlist_push(partial_swept(c, sg), s);
	else
		spanlist_push(full_swept(c, sg), s);
	rt_unlock(&c->lock);
}
