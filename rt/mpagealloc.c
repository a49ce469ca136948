/*
 * mpagealloc.c - the page allocator: free page runs, found fast, coalesced on free.
 *
 * What. The heap's address space is a sequence of runs of 8 KiB pages; each
 * run is either an in-use span or a free run (a struct mspan in state
 * MSPAN_FREE). This file indexes the free runs and keeps per-page bits that
 * say whether a page was released to the OS (scav) and whether it may hold
 * stale data (dirty).
 *
 * Index: segregated free lists (the idea of TLSF, Masmano et al. 2004, and of
 * TCMalloc's page heap before its radix-tree rewrite; Go instead keeps a
 * bitmap with a radix tree of summaries, mpagealloc.go). Bucket b holds runs of
 *   b + 1 pages                         for b < 127 (exact sizes), then
 *   [ (4 + k) << (l - 2), (5 + k) << (l - 2) )  for b = 127 + 4 (l - 7) + k,
 * i.e. four buckets per power of two above 127 pages. A bitmap of non-empty
 * buckets makes "the first non-empty bucket >= b" a count-trailing-zeros.
 *
 * Steps of pagefree_take(n):
 *   1. b = bucket(n). If n < 128 every run in bucket b fits; otherwise only
 *      the buckets above b are sure to, so start at b + 1.
 *   2. Take the first run of the first non-empty bucket at or above the start
 *      (smallest sufficient class: a good fit).
 *   3. If none, scan bucket b itself for a run of >= n pages (first fit).
 *   4. The caller splits the run: it keeps the low n pages, the rest goes back
 *      through pagefree_insert.
 * Steps of pagefree_insert(s) (a run that became free):
 *   1. Look at the page before s and the page after it in the page map. A
 *      free neighbour's boundary tag is there; if it is free, unlink it and
 *      absorb it (its struct goes back to the span fixalloc).
 *   2. Write s's boundary tags (first and last page) and link it into its bucket.
 * Runs coalesce across arena boundaries when the arenas are contiguous, which
 * is how objects larger than an arena are placed.
 *
 * Cost as the heap grows: take and insert are O(1) (bitmap scan of 4 words,
 * list operations, two page-map lookups), except step 3, which is linear in
 * the number of runs in one bucket whose sizes are within 25% of the request;
 * it runs only for requests >= 128 pages (1 MiB) when no larger run exists,
 * just before the heap would otherwise grow. Memory: one struct mspan per
 * free run. The scavenger walks all free runs (O(free runs)). Go's radix tree
 * costs O(log heap) per search but finds the lowest-addressed fit, which
 * packs the heap tighter; this index trades that for O(1).
 *
 * Page bits (struct heaparena scav/dirty), per page:
 *   scav  = 1: Prepared (fresh from sys_map, or given back by the scavenger);
 *               the allocator calls sys_used before handing it out.
 *   dirty = 1: may hold non-zero bytes. Cleared when the scavenger releases
 *               the page (sys.h rule 5: it comes back zero).
 *   Invariants: in-use pages have scav == 0; scav == 1 implies dirty == 0;
 *   HeapReleased == bytes of free pages with scav == 1.
 *
 * Locking: everything here runs with the heap lock held.
 */
#include "rt/mheap.h"
#include "rt/mstats.h"

unsigned pagefree_bucket(uintptr_t npages)
{
	RT_DASSERT(npages > 0);
	if (npages < PAGEFREE_EXACT)
		return (unsigned)(npages - 1);
	unsigned l = 63u - (unsigned)__builtin_clzll(npages);
	unsigned k = (unsigned)(npages >> (l - 2)) & 3u;
	unsigned b = PAGEFREE_EXACT - 1 + 4 * (l - 7) + k;
	return b < PAGEFREE_NBUCKETS ? b : PAGEFREE_NBUCKETS - 1;
}

static void bucket_mark(unsigned b, bool nonempty)
{
	if (nonempty)
		mheap_.free_nonempty[b / 64] |= (uint64_t)1 << (b % 64);
	else
		mheap_.free_nonempty[b / 64] &= ~((uint64_t)1 << (b % 64));
}

/* First non-empty bucket >= b, or -1. */
static int bucket_find(unsigned b)
{
	for (unsigned w = b / 64; w < PAGEFREE_NBUCKETS / 64; w++) {
		uint64_t m = mheap_.free_nonempty[w];
		if (w == b / 64)
			m &= ~(uint64_t)0 << (b % 64);
		if (m != 0)
			return (int)(w * 64 + (unsigned)__builtin_ctzll(m));
	}
	return -1;
}

static void set_tags(struct mspan *s)
{
	struct heaparena *a = arena_of(s->startaddr);
	a->spans[arena_page(s->startaddr)] = s;
	uintptr_t last = mspan_end(s) - RT_PAGE_SIZE;
	struct heaparena *b = arena_of(last);
	b->spans[arena_page(last)] = s;
}

void pagefree_remove(struct mspan *s)
{
	RT_ASSERT(s->state == MSPAN_FREE);
	unsigned b = pagefree_bucket(s->npages);
	spanlist_remove(&mheap_.free[b], s);
	if (spanlist_empty(&mheap_.free[b]))
		bucket_mark(b, false);
	rt_mstats.heap_free -= s->npages * RT_PAGE_SIZE;
}

/* The free run whose boundary tag is at page address p, if any. */
static struct mspan *free_run_at(uintptr_t p)
{
	struct mspan *n = spanof_unchecked(p);
	if (n == NULL || n->state != MSPAN_FREE || p < n->startaddr || p >= mspan_end(n))
		return NULL;
	return n;
}

void pagefree_insert(struct mspan *s)
{
	rt_assert_held(&mheap_.lock);
	s->state = MSPAN_FREE;
	s->spanclass = 0;
	if (s->startaddr > RT_HEAP_REGION_BASE) {
		struct mspan *left = free_run_at(s->startaddr - RT_PAGE_SIZE);
		if (left != NULL) {
			pagefree_remove(left);
			s->startaddr = left->startaddr;
			s->npages += left->npages;
			left->state = MSPAN_DEAD;
			fixalloc_free(&mheap_.spanalloc, left);
		}
	}
	struct mspan *right = free_run_at(mspan_end(s));
	if (right != NULL) {
		pagefree_remove(right);
		s->npages += right->npages;
		right->state = MSPAN_DEAD;
		fixalloc_free(&mheap_.spanalloc, right);
	}
	set_tags(s);
	unsigned b = pagefree_bucket(s->npages);
	spanlist_push(&mheap_.free[b], s);
	bucket_mark(b, true);
	rt_mstats.heap_free += s->npages * RT_PAGE_SIZE;
}

struct mspan *pagefree_take(uintptr_t npages)
{
	rt_assert_held(&mheap_.lock);
	unsigned b = pagefree_bucket(npages);
	unsigned start = npages < PAGEFREE_EXACT ? b : b + 1;
	int found = start < PAGEFREE_NBUCKETS ? bucket_find(start) : -1;
	if (found >= 0) {
		struct mspan *s = mheap_.free[found].first;
		pagefree_remove(s);
		return s;
	}
	if (npages >= PAGEFREE_EXACT)
		for (struct mspan *s = mheap_.free[b].first; s != NULL; s = s->next)
			if (s->npages >= npages) {
				pagefree_remove(s);
				return s;
			}
	return NULL;
}

/* ---- page bits ---- */

/* Bits set in x (SWAR; __builtin_popcountll would need libgcc in the kernel). */
static unsigned popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

static uint64_t *bits_of(struct heaparena *a, int which)
{
	return which == 0 ? a->scav : a->dirty;
}

uintptr_t pagebits_count(uintptr_t base, uintptr_t npages, int which)
{
	uintptr_t n = 0;
	for (uintptr_t p = base; p < base + npages * RT_PAGE_SIZE; p += RT_PAGE_SIZE) {
		struct heaparena *a = arena_of(p);
		uintptr_t i = arena_page(p);
		uint64_t *bits = bits_of(a, which);
		if (i % 64 == 0 && p + 64 * RT_PAGE_SIZE <= base + npages * RT_PAGE_SIZE) {
			n += popcount64(bits[i / 64]);   /* whole word */
			p += 63 * RT_PAGE_SIZE;
			continue;
		}
		n += (bits[i / 64] >> (i % 64)) & 1;
	}
	return n;
}

void pagebits_set(uintptr_t base, uintptr_t npages, int which, bool value)
{
	for (uintptr_t p = base; p < base + npages * RT_PAGE_SIZE; p += RT_PAGE_SIZE) {
		struct heaparena *a = arena_of(p);
		uintptr_t i = arena_page(p);
		uint64_t *bits = bits_of(a, which);
		if (i % 64 == 0 && p + 64 * RT_PAGE_SIZE <= base + npages * RT_PAGE_SIZE) {
			bits[i / 64] = value ? ~(uint64_t)0 : 0;
			p += 63 * RT_PAGE_SIZE;
			continue;
		}
		if (value)
			bits[i / 64] |= (uint64_t)1 << (i % 64);
		else
			bits[i / 64] &= ~((uint64_t)1 << (i % 64));
	}
}
