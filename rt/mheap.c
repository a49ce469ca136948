/*
 * mheap.c - the page heap: arenas, the page-to-span map, and spans.
 *
 * What. The heap owns the runtime's heap region (RT_HEAP_REGION_BASE, a port
 * constant: 0xffffc00000000000 in the kernel). It takes address space from the
 * OS in 64 MiB arenas through sys_reserve/sys_map (sys.h), hands out runs of
 * 8 KiB pages as spans, and takes them back. Small-object spans go to the
 * mcentrals (mcentral.c), large objects get a span of their own, stacks get
 * "manual" spans. Follows Go's mheap.go; the free-run index is mpagealloc.c.
 *
 * Structures.
 *   mheap_.arenas   a two-level index from address to struct heaparena
 *                   (Go's arenaL1/arenaL2): O(1) "is this a heap address".
 *   heaparena       per 64 MiB: the page map spans[] (page -> span), per-page
 *                   scav/dirty bits, and the heap bitmap (one bit per word).
 *                   All off-heap (fixalloc.c), charged to OtherSys/GCSys.
 *   mspan           one per run of pages, from a fixalloc (MSpanSys).
 *
 * Invariants (mheap_verify checks them all):
 *   1. Every page of every mapped arena belongs to exactly one run: a free
 *      run, an in-use span or a manual span.
 *   2. Page map: all pages of in-use and manual spans map to their span; the
 *      first and last page of a free run map to it (boundary tags). Other
 *      entries may be stale and are never trusted without checking the span's
 *      state and range (spanof does).
 *   3. No two free runs are adjacent (they are coalesced on insert).
 *   4. HeapSys == HeapInuse + HeapIdle, where HeapIdle is the sum of free runs
 *      (heap_free), and HeapReleased == free pages with the scav bit.
 *   5. Pages of in-use spans are Ready (scav bit clear).
 *
 * Steps of mheap_alloc(npages, spanclass) (heap lock held throughout):
 *   1. Take a free run of >= npages from the page allocator (pagefree_take).
 *   2. None: grow, as Go 1.19's mheap.grow does. Round the request up to
 *      RT_HEAP_MAP_CHUNK (4 MiB). If the current arena space [cur_next,
 *      cur_end) is too small, reserve ceil(need / arena) more arenas at the
 *      next arena hint (skipping hints the OS has in use); space contiguous
 *      with cur_end extends it, otherwise the new space becomes current and
 *      the old one's rest stays Reserved, unused (Go maps that rest into the
 *      heap; we keep growth all-or-nothing instead; it happens only when the
 *      hint is taken, and costs address space, not memory). Then one sys_map
 *      of [start, +need); only after it succeeds create the new arenas'
 *      metadata, mark the range scavenged (Prepared) and insert it as a free
 *      run, which coalesces with the free tail before it. Objects larger than
 *      an arena are placed this way. So the commit charge (the kernel's
 *      sys_map promises frames) follows what the heap uses, not its 64 MiB
 *      reservations. If sys_* refuses, free what this growth reserved, record
 *      why in mheap_.error and return NULL: no run or statistic changed.
 *   3. Split: keep the low npages, give the rest back as a free run.
 *   4. Pages with the scav bit go Prepared -> Ready with sys_used (they read as
 *      zero, sys.h rule 5). needzero = "some page was dirty". All pages are now
 *      dirty: objects will be written.
 *   5. Write the page map for every page (O(npages)); count HeapInuse.
 *   6. For a size class: fill in nelems, elemsize, the division magic and
 *      fresh alloc/mark bit arrays (off-heap); sweepgen = the heap's.
 * mheap_free reverses 5 and 6 and inserts the pages as a free run (coalescing).
 *
 * Costs. Allocation and free are O(1) in the size of the heap plus O(npages)
 * for the page map and page bits; growth costs a few sys_* calls and ~1.1 MiB
 * of metadata per arena (64 KiB page map, 1 MiB heap bitmap, touched lazily on
 * the hosted port).
 *
 * Locking. mheap_.lock (rank LOCKRANK_MHEAP) protects everything here and in
 * mpagealloc.c/mgcscavenge.c. It may be taken with an mcentral lock held, never
 * the reverse; persistent_alloc and sys_* take their own, higher-ranked locks.
 *
 * Debug. RT_DEBUG >= 1 fills freed spans with junk (0xdb) so that a stale
 * reference reads garbage, not plausible data; RT_DEBUG >= 2 runs
 * mheap_verify after every growth.
 */
#include "rt/mbitmap.h"
#include "rt/mheap.h"
#include "rt/mstats.h"
#include "rt/sys.h"

#define RT_DEBUG_JUNK_FREED (RT_DEBUG >= 1)
#define JUNK_BYTE 0xdb

RT_NOSCAN struct mheap mheap_;

void mheap_init(void)
{
	struct mheap *h = &mheap_;
	if (h->initialized)
		return;
	rt_lock_init(&h->lock, LOCKRANK_MHEAP, "mheap");
	h->arena_hint = RT_HEAP_REGION_BASE;
	fixalloc_init(&h->spanalloc, (sizeof(struct mspan) + 7) & ~(size_t)7,
		      &rt_mstats.mspan_sys, &rt_mstats.mspan_inuse, "mspan");
	for (unsigned i = 0; i < 5; i++)   /* alloc + mark bits: 2 * (1 << i) words */
		fixalloc_init(&h->bitsalloc[i], 2 * 8 * ((size_t)1 << i), &rt_mstats.gc_sys,
			      &h->bits_inuse, "gcbits");
	for (unsigned i = 0; i < RT_NUM_SPAN_CLASSES; i++)
		mcentral_init(&h->central[i], (spanclass_t)i);
	h->initialized = true;
}

const char *mheap_error(void)
{
	return mheap_.error;
}

/* ---- growth ---- */

static struct heaparena *arena_create(uintptr_t base)
{
	struct mheap *h = &mheap_;
	uintptr_t i = (base - RT_HEAP_REGION_BASE) >> RT_ARENA_SHIFT;
	struct heaparena ***l2 = &h->arenas[i >> RT_ARENA_L2_BITS];
	if (*l2 == NULL)
		*l2 = persistent_alloc(RT_ARENA_L2_SIZE * sizeof(struct heaparena *), 64,
				       &rt_mstats.other_sys);
	struct heaparena *a = persistent_alloc(sizeof(struct heaparena), 64, &rt_mstats.other_sys);
	a->base = base;
	a->mapped_end = base;
	a->heapbits = persistent_alloc(RT_ARENA_WORDS / 8, 4096, &rt_mstats.gc_sys);
	for (unsigned w = 0; w < RT_PAGES_PER_ARENA / 64; w++)
		a->scav[w] = ~(uint64_t)0;   /* fresh from sys_map: Prepared */
	(*l2)[i & (RT_ARENA_L2_SIZE - 1)] = a;
	h->narenas++;
	return a;
}

/* Reserves nbytes (whole arenas) at the next free arena hint. False with mheap_.error set. */
static bool reserve_arenas(uintptr_t nbytes, void **out)
{
	struct mheap *h = &mheap_;
	uintptr_t hint = h->arena_hint;
	int err = SYS_EBUSY;
	for (int tries = 0; err == SYS_EBUSY && tries < 64; tries++) {
		if (hint + nbytes > RT_HEAP_REGION_BASE + RT_HEAP_REGION_SIZE) {
			err = SYS_ERANGE;
			break;
		}
		err = sys_reserve(SYS_REGION_HEAP, (void *)hint, nbytes, out);
		if (err == SYS_EBUSY)
			hint += RT_ARENA_SIZE;
	}
	if (err != SYS_OK) {
		rt_snprintf(h->error, sizeof(h->error),
			    "sys_reserve of %lu MiB of heap arenas at %p failed: %s",
			    (unsigned long)(nbytes >> 20), (void *)hint, sys_strerror(err));
		return false;
	}
	return true;
}

/* Step 2 of the essay: maps at least npages more pages into the heap as one
 * free run, all or nothing. False with mheap_.error set on failure. */
static bool mheap_grow(uintptr_t npages)
{
	struct mheap *h = &mheap_;
	uintptr_t max_pages = RT_HEAP_REGION_SIZE / RT_PAGE_SIZE;
	if (npages > max_pages) {
		rt_snprintf(h->error, sizeof(h->error),
			    "the heap region holds only %lu pages", (unsigned long)max_pages);
		return false;
	}
	uintptr_t need = (npages * RT_PAGE_SIZE + RT_HEAP_MAP_CHUNK - 1) & ~(RT_HEAP_MAP_CHUNK - 1);
	uintptr_t start = h->cur_next;
	void *v = NULL;
	uintptr_t nbytes = 0;
	if (need > h->cur_end - h->cur_next) {
		/* Reserve for the whole request, not just the shortfall: it costs only
		 * address space, and covers the request if the space is not contiguous. */
		nbytes = (need + RT_ARENA_SIZE - 1) & ~(RT_ARENA_SIZE - 1);
		if (!reserve_arenas(nbytes, &v))
			return false;
		if ((uintptr_t)v != h->cur_end)
			start = (uintptr_t)v; /* the old space's rest stays Reserved, unused */
	}
	/* One sys_map, even across arenas reserved next to each other (sys.h rule 2). */
	int err = sys_map((void *)start, need, &rt_mstats.heap_sys);
	if (err != SYS_OK) {
		if (v != NULL)
			sys_free(v, nbytes, 0, 0, NULL);
		rt_snprintf(h->error, sizeof(h->error), "sys_map of %lu KiB of heap at %p failed: %s",
			    (unsigned long)(need >> 10), (void *)start, sys_strerror(err));
		return false;
	}
	if (v != NULL) {
		for (uintptr_t a = (uintptr_t)v; a < (uintptr_t)v + nbytes; a += RT_ARENA_SIZE)
			arena_create(a);
		h->arena_hint = (uintptr_t)v + nbytes;
		h->cur_end = (uintptr_t)v + nbytes;
	}
	for (uintptr_t p = start; p < start + need; p = (p & ~(RT_ARENA_SIZE - 1)) + RT_ARENA_SIZE) {
		uintptr_t arena_end = (p & ~(RT_ARENA_SIZE - 1)) + RT_ARENA_SIZE;
		struct heaparena *ha = arena_of(p);
		RT_ASSERT_MSG(ha != NULL && ha->mapped_end == p, "heap: arena space at %p mapped out of order",
			      (void *)p);
		ha->mapped_end = start + need < arena_end ? start + need : arena_end;
	}
	h->cur_next = start + need;
	rt_mstats.heap_released += need;
	struct mspan *s = fixalloc_alloc(&h->spanalloc);
	s->startaddr = start;
	s->npages = need / RT_PAGE_SIZE;
	pagefree_insert(s);
	if (RT_DEBUG >= 2)
		mheap_verify();
	return true;
}

/* ---- allocation ---- */

/* Brings the scavenged pages of [base, +npages) to Ready, one sys_used per run. */
static void use_scavenged(uintptr_t base, uintptr_t npages)
{
	uintptr_t end = base + npages * RT_PAGE_SIZE, run = 0;
	for (uintptr_t p = base; p <= end; p += RT_PAGE_SIZE) {
		bool scav = false;
		if (p < end) {
			struct heaparena *a = arena_of(p);
			uintptr_t i = arena_page(p);
			scav = (a->scav[i / 64] >> (i % 64)) & 1;
		}
		if (scav && run == 0)
			run = p;
		if (!scav && run != 0) {
			sys_used((void *)run, p - run);
			rt_mstats.heap_released -= p - run;
			run = 0;
		}
	}
	pagebits_set(base, npages, 0, false);
}

/* Steps 1-5 of the essay. Heap lock held. Returns NULL if the heap cannot grow. */
static struct mspan *alloc_pages_locked(uintptr_t npages, enum mspan_state state)
{
	struct mheap *h = &mheap_;
	struct mspan *s = pagefree_take(npages);
	if (s == NULL) {
		if (!mheap_grow(npages))
			return NULL;
		s = pagefree_take(npages);
		RT_ASSERT_MSG(s != NULL, "heap grew but has no run of %lu pages", (unsigned long)npages);
	}
	if (s->npages > npages) {
		struct mspan *rest = fixalloc_alloc(&h->spanalloc);
		rest->startaddr = s->startaddr + npages * RT_PAGE_SIZE;
		rest->npages = s->npages - npages;
		s->npages = npages;   /* before the insert, so rest cannot coalesce into s */
		s->state = (uint8_t)state;
		pagefree_insert(rest);
	}
	s->state = (uint8_t)state;

	uintptr_t base = s->startaddr;
	uintptr_t nscav = pagebits_count(base, npages, 0);
	if (nscav != 0) {
		(void)mheap_scavenge_for_limit_locked(nscav * RT_PAGE_SIZE);   /* s is off the free lists */
		use_scavenged(base, npages);
	}
	s->needzero = pagebits_count(base, npages, 1) != 0;
	pagebits_set(base, npages, 1, true);

	for (uintptr_t p = base; p < mspan_end(s); p += RT_PAGE_SIZE)
		arena_of(p)->spans[arena_page(p)] = s;
	return s;
}

static void init_span_class(struct mspan *s, spanclass_t spc)
{
	unsigned sc = spanclass_sizeclass(spc);
	s->spanclass = spc;
	if (sc != 0) {
		RT_ASSERT(s->npages == rt_class[sc].npages);
		s->elemsize = rt_class[sc].size;
		s->nelems = rt_class[sc].nelems;
		s->divmul = rt_class[sc].divmul;
	} else {
		s->elemsize = s->npages * RT_PAGE_SIZE;
		s->nelems = 1;
		s->divmul = 0;   /* every offset is object 0 */
	}
	unsigned nwords = (s->nelems + 63u) / 64u, lg = 0;
	while ((1u << lg) < nwords)
		lg++;
	s->nbitwords_log2 = (uint8_t)lg;
	s->alloc_bits = fixalloc_alloc(&mheap_.bitsalloc[lg]);
	s->gcmark_bits = s->alloc_bits + ((size_t)1 << lg);
	s->freeindex = 0;
	s->alloc_count = 0;
	mspan_refill_alloc_cache(s);
	s->sweepgen = mheap_.sweepgen;
	s->largetype = NULL;
	s->allocblack = 0;
	s->checkmark_bits = NULL;
	s->mark_start_freeindex = 0;
	s->specials = NULL;
	heapbits_span_init(s);
	s->list = NULL;
	s->next = s->prev = NULL;
}

struct mspan *mheap_alloc(uintptr_t npages, spanclass_t spc)
{
	struct mheap *h = &mheap_;
	RT_ASSERT_MSG(npages > 0, "mheap_alloc: zero pages");
	rt_lock(&h->lock);
	/* DEAD until its fields are set: a concurrent mark's findobject (a word
	 * the bulk barrier shades may be any integer) reads spans without the
	 * lock, and must see a complete span or none (release, its acquire). */
	struct mspan *s = alloc_pages_locked(npages, MSPAN_DEAD);
	if (s != NULL) {
		init_span_class(s, spc);
		__atomic_store_n(&s->state, (uint8_t)MSPAN_INUSE, __ATOMIC_RELEASE);
		rt_mstats.heap_inuse += npages * RT_PAGE_SIZE;
	}
	rt_unlock(&h->lock);
	return s;
}

static void junk_fill(struct mspan *s)
{
	if (RT_DEBUG_JUNK_FREED) {
		uint64_t *w = (uint64_t *)s->startaddr;
		for (uintptr_t i = 0; i < s->npages * RT_PAGE_SIZE / 8; i++)
			w[i] = 0x0101010101010101ull * JUNK_BYTE;
	}
}

void mheap_free(struct mspan *s)
{
	struct mheap *h = &mheap_;
	rt_lock(&h->lock);
	RT_ASSERT_MSG(s->state == MSPAN_INUSE && s->list == NULL,
		      "mheap_free: span %p at %p is not an in-use span off every list", (void *)s,
		      (void *)s->startaddr);
	RT_ASSERT_MSG(s->checkmark_bits == NULL, "mheap_free: span at %p freed during a checkmark",
		      (void *)s->startaddr);
	RT_ASSERT_MSG(s->specials == NULL, "mheap_free: span at %p still has sampled objects (mprof)",
		      (void *)s->startaddr);
	junk_fill(s);
	fixalloc_free(&h->bitsalloc[s->nbitwords_log2], s->alloc_bits);
	s->alloc_bits = s->gcmark_bits = NULL;
	rt_mstats.heap_inuse -= s->npages * RT_PAGE_SIZE;
	pagefree_insert(s);
	rt_unlock(&h->lock);
}

void mheap_free_large(struct mspan *s)
{
	RT_ASSERT_MSG(s->state == MSPAN_INUSE && spanclass_sizeclass(s->spanclass) == 0 &&
		      s->alloc_count == 1, "mheap_free_large: span at %p is not a live large object",
		      (void *)s->startaddr);
	rt_lock(&mheap_.lock);
	rt_mstats.large_frees++;
	rt_mstats.large_free_bytes += s->npages * RT_PAGE_SIZE;
	rt_unlock(&mheap_.lock);
	mheap_free(s);
}

struct mspan *mheap_alloc_manual(uintptr_t npages)
{
	struct mheap *h = &mheap_;
	rt_lock(&h->lock);
	struct mspan *s = alloc_pages_locked(npages, MSPAN_MANUAL);
	if (s != NULL) {
		uintptr_t n = npages * RT_PAGE_SIZE;
		s->spanclass = 0;
		s->elemsize = n;
		s->nelems = 0;
		s->alloc_cache = 0;   /* never a source of objects */
		rt_mstats.heap_sys -= n;
		rt_mstats.heap_manual += n;
		/* stack_* are shared with rt/stack.c's chunks: atomics */
		__atomic_add_fetch(&rt_mstats.stack_sys, n, __ATOMIC_RELAXED);
		__atomic_add_fetch(&rt_mstats.stack_inuse, n, __ATOMIC_RELAXED);
	}
	rt_unlock(&h->lock);
	return s;
}

void mheap_free_manual(struct mspan *s)
{
	struct mheap *h = &mheap_;
	rt_lock(&h->lock);
	RT_ASSERT_MSG(s->state == MSPAN_MANUAL, "mheap_free_manual: span at %p is not manual",
		      (void *)s->startaddr);
	uintptr_t n = s->npages * RT_PAGE_SIZE;
	junk_fill(s);
	rt_mstats.heap_sys += n;
	rt_mstats.heap_manual -= n;
	__atomic_sub_fetch(&rt_mstats.stack_sys, n, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&rt_mstats.stack_inuse, n, __ATOMIC_RELAXED);
	pagefree_insert(s);
	rt_unlock(&h->lock);
}

uintptr_t mheap_object_base(const void *p)
{
	struct mspan *s = spanof(p);
	if (s == NULL || s->state != MSPAN_INUSE)
		return 0;
	uintptr_t idx = mspan_obj_index(s, (uintptr_t)p);
	if (idx >= s->nelems)
		return 0;   /* in the span's tail waste */
	if (idx >= s->freeindex && !((s->alloc_bits[idx / 64] >> (idx % 64)) & 1))
		return 0;   /* a free slot */
	return s->startaddr + idx * s->elemsize;
}

/* ---- verification ---- */

static unsigned page_bit(uintptr_t p, int which)
{
	struct heaparena *a = arena_of(p);
	uintptr_t i = arena_page(p);
	uint64_t *bits = which == 0 ? a->scav : a->dirty;
	return (unsigned)((bits[i / 64] >> (i % 64)) & 1);
}

/* What a walk of the arenas finds, to compare with the heap's counters. */
struct verify_totals {
	uint64_t free_bytes, inuse, manual, released, nfree;
};

/* One free run at p: end tag, bucket, coalesced with prev, no page both released and dirty. */
static void verify_free_run(struct mheap *h, struct mspan *s, const struct mspan *prev,
			    struct verify_totals *t)
{
	uintptr_t p = s->startaddr;
	RT_ASSERT_MSG(spanof_unchecked(mspan_end(s) - RT_PAGE_SIZE) == s,
		      "verify: free run at %p lacks its end tag", (void *)p);
	RT_ASSERT_MSG(s->list == &h->free[pagefree_bucket(s->npages)],
		      "verify: free run at %p (%lu pages) in the wrong bucket",
		      (void *)p, (unsigned long)s->npages);
	RT_ASSERT_MSG(prev == NULL || prev->state != MSPAN_FREE,
		      "verify: free runs at %p and %p not coalesced",
		      (void *)prev->startaddr, (void *)p);
	t->free_bytes += s->npages * RT_PAGE_SIZE;
	t->nfree++;
	for (uintptr_t q = p; q < mspan_end(s); q += RT_PAGE_SIZE) {
		unsigned sc = page_bit(q, 0);
		RT_ASSERT_MSG(!(sc && page_bit(q, 1)),
			      "verify: page %p both released and dirty", (void *)q);
		t->released += sc * RT_PAGE_SIZE;
	}
}

/* One in-use or manual span: every page maps to it, none is released. */
static void verify_live_span(struct mspan *s, struct verify_totals *t)
{
	uintptr_t p = s->startaddr;
	RT_ASSERT_MSG(s->state == MSPAN_INUSE || s->state == MSPAN_MANUAL,
		      "verify: run at %p has state %u", (void *)p, s->state);
	for (uintptr_t q = p; q < mspan_end(s); q += RT_PAGE_SIZE) {
		RT_ASSERT_MSG(spanof_unchecked(q) == s,
			      "verify: page %p of span %p maps elsewhere",
			      (void *)q, (void *)p);
		RT_ASSERT_MSG(!page_bit(q, 0),
			      "verify: page %p of a live span is released", (void *)q);
	}
	if (s->state == MSPAN_INUSE)
		t->inuse += s->npages * RT_PAGE_SIZE;
	else
		t->manual += s->npages * RT_PAGE_SIZE;
}

/* The free buckets' non-empty bits and lengths, and the counters, against the walk. */
static void verify_counters(struct mheap *h, const struct verify_totals *t)
{
	uint64_t listed = 0;
	for (unsigned b = 0; b < PAGEFREE_NBUCKETS; b++) {
		bool bit = (h->free_nonempty[b / 64] >> (b % 64)) & 1;
		RT_ASSERT_MSG(bit == !spanlist_empty(&h->free[b]),
			      "verify: bucket %u non-empty bit is wrong", b);
		listed += h->free[b].n;
	}
	RT_ASSERT_MSG(listed == t->nfree, "verify: %lu runs listed, %lu found in the arenas",
		      (unsigned long)listed, (unsigned long)t->nfree);
	RT_ASSERT_MSG(t->free_bytes == rt_mstats.heap_free, "verify: free bytes %lu, counted %lu",
		      (unsigned long)t->free_bytes, (unsigned long)rt_mstats.heap_free);
	RT_ASSERT_MSG(t->inuse == rt_mstats.heap_inuse, "verify: in-use bytes %lu, counted %lu",
		      (unsigned long)t->inuse, (unsigned long)rt_mstats.heap_inuse);
	RT_ASSERT_MSG(t->manual == rt_mstats.heap_manual, "verify: manual bytes %lu, counted %lu",
		      (unsigned long)t->manual, (unsigned long)rt_mstats.heap_manual);
	RT_ASSERT_MSG(t->released == rt_mstats.heap_released,
		      "verify: released bytes %lu, counted %lu", (unsigned long)t->released,
		      (unsigned long)rt_mstats.heap_released);
	RT_ASSERT_MSG(rt_mstats.heap_sys == t->free_bytes + t->inuse,
		      "verify: HeapSys %lu != free %lu + in use %lu",
		      (unsigned long)rt_mstats.heap_sys, (unsigned long)t->free_bytes,
		      (unsigned long)t->inuse);
}

/*
 * Walks every mapped page of every arena in address order: each starts a
 * run that lies in the mapped arenas, checked as a free run or a live span;
 * then the totals against the buckets and counters.
 */
void mheap_verify(void)
{
	struct mheap *h = &mheap_;
	rt_lock(&h->lock);
	struct verify_totals t = {0};
	uintptr_t next = 0;   /* end of the last run seen */
	struct mspan *prev = NULL;
	for (uintptr_t ai = 0; ai < RT_ARENA_COUNT; ai++) {
		struct heaparena **l2 = h->arenas[ai >> RT_ARENA_L2_BITS];
		if (l2 == NULL) {
			ai |= RT_ARENA_L2_SIZE - 1;
			continue;
		}
		struct heaparena *a = l2[ai & (RT_ARENA_L2_SIZE - 1)];
		if (a == NULL)
			continue;
		uintptr_t p = next > a->base ? next : a->base;
		if (p != next)
			prev = NULL;   /* a hole in the address space: no adjacency */
		while (p < a->mapped_end) {
			struct mspan *s = a->spans[arena_page(p)];
			RT_ASSERT_MSG(s != NULL && s->startaddr == p,
				      "verify: page %p starts no run (map entry %p)", (void *)p, (void *)s);
			RT_ASSERT_MSG(s->npages > 0 && arena_of(mspan_end(s) - 1) != NULL,
				      "verify: run at %p runs off the mapped arenas", (void *)p);
			if (s->state == MSPAN_FREE)
				verify_free_run(h, s, prev, &t);
			else
				verify_live_span(s, &t);
			prev = s;
			p = mspan_end(s);
		}
		next = p;
	}
	verify_counters(h, &t);
	rt_unlock(&h->lock);
}
