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
 * Sweeping (rt/mgcsweep.c) takes spans off the unswept lists under the
 * lock: mcentral_take_unswept for the sweeper, steps 2 and 3 here for an
 * mcache that needs a span (they sweep with "preserve": an empty span is
 * kept and handed out instead of going back to the heap). Before step 1, an
 * unfinished sweep gets one span swept (proportional sweeping), and before
 * growing the heap frees what the sweep can (sweep_reclaim).
 * Large objects' spans (classes 0 and 1) are on the full lists too, from
 * their allocation to the sweep that frees them, so the sweeper finds every
 * in-use span through the mcentrals.
 *
 * Locking. c->lock (rank LOCKRANK_MCENTRAL) protects the lists and the spans
 * on them. It is never held across mheap_alloc.
 */
#include "rt/mcentral.h"
#include "rt/mgc.h"
#include "rt/mheap.h"

void mcentral_init(struct mcentral *c, spanclass_t spc)
{
	rt_lock_init(&c->lock, LOCKRANK_MCENTRAL, "mcentral");
	c->spanclass = spc;
}

struct spanlist *mcentral_partial_swept(struct mcentral *c, uint32_t sg) { return &c->partial[(sg / 2) % 2]; }
struct spanlist *mcentral_partial_unswept(struct mcentral *c, uint32_t sg) { return &c->partial[1 - (sg / 2) % 2]; }
struct spanlist *mcentral_full_swept(struct mcentral *c, uint32_t sg) { return &c->full[(sg / 2) % 2]; }
struct spanlist *mcentral_full_unswept(struct mcentral *c, uint32_t sg) { return &c->full[1 - (sg / 2) % 2]; }
#define partial_swept mcentral_partial_swept
#define partial_unswept mcentral_partial_unswept
#define full_swept mcentral_full_swept
#define full_unswept mcentral_full_unswept

/* Takes s off list l, counting it out of the unswept spans if l is an unswept list. */
static void take(struct mcentral *c, struct spanlist *l, struct mspan *s, uint32_t sg)
{
	spanlist_remove(l, s);
	if (l == partial_unswept(c, sg) || l == full_unswept(c, sg))
		sweep_note_taken();
}

struct mspan *mcentral_take_unswept(struct mcentral *c)
{
	uint32_t sg = mheap_sweepgen();
	if (spanlist_empty(partial_unswept(c, sg)) && spanlist_empty(full_unswept(c, sg)))
		return NULL;   /* a racy peek; the lists only shrink during a sweep */
	rt_lock(&c->lock);
	struct mspan *s = partial_unswept(c, sg)->first;
	if (s != NULL)
		take(c, partial_unswept(c, sg), s, sg);
	else if ((s = full_unswept(c, sg)->first) != NULL)
		take(c, full_unswept(c, sg), s, sg);
	rt_unlock(&c->lock);
	return s;
}

void mcentral_put_swept(struct mcentral *c, struct mspan *s)
{
	uint32_t sg = mheap_sweepgen();
	RT_DASSERT(s->spanclass == c->spanclass && s->sweepgen == sg);
	rt_lock(&c->lock);
	if (s->alloc_count < s->nelems)
		spanlist_push(partial_swept(c, sg), s);
	else
		spanlist_push(full_swept(c, sg), s);
	rt_unlock(&c->lock);
}

static struct mspan *mcentral_grow(struct mcentral *c)
{
	unsigned sc = spanclass_sizeclass(c->spanclass);
	sweep_reclaim(rt_class[sc].npages);   /* reuse swept-free pages before growing */
	struct mspan *s = mheap_alloc(rt_class[sc].npages, c->spanclass);
	if (s != NULL)
		__atomic_add_fetch(&c->ngrow, 1, __ATOMIC_RELAXED);
	return s;
}

struct mspan *mcentral_cache_span(struct mcentral *c)
{
	uint32_t sg = mheap_sweepgen();
	struct mspan *s;
	if (!sweep_done()) {   /* proportional sweeping: one span of any class */
		uintptr_t freed;
		sweepone(&freed);
	}
	rt_lock(&c->lock);
	if ((s = partial_swept(c, sg)->first) != NULL) {
		spanlist_remove(partial_swept(c, sg), s);
		goto have;
	}
	if ((s = partial_unswept(c, sg)->first) != NULL) {
		take(c, partial_unswept(c, sg), s, sg);
		rt_unlock(&c->lock);
		mspan_sweep(s, true);
		sweep_note_swept();
		goto cached;
	}
	while ((s = full_unswept(c, sg)->first) != NULL) {
		take(c, full_unswept(c, sg), s, sg);
		rt_unlock(&c->lock);
		mspan_sweep(s, true);
		sweep_note_swept();
		if (s->alloc_count < s->nelems)
			goto cached;
		rt_lock(&c->lock);
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
	uint32_t sg = mheap_sweepgen();
	RT_ASSERT_MSG(s->sweepgen == sg + 3 || s->sweepgen == sg + 1,
		      "mcentral_uncache_span: span at %p has sweepgen %u, heap %u (not cached?)",
		      (void *)s->startaddr, s->sweepgen, sg);
	RT_DASSERT(s->spanclass == c->spanclass && s->list == NULL);
	if (s->sweepgen == sg + 1) {   /* cached before a sweep began: sweep it now */
		if (!mspan_sweep(s, false))
			return;   /* it had no live object: its pages went back to the heap */
	} else {
		s->sweepgen = sg;
	}
	mcentral_put_swept(c, s);
}
