/*
 * malloc.c - the allocator's front door: rt_alloc, rt_new, rt_alloc_array.
 *
 * Design (after Go's malloc.go, itself after TCMalloc, Ghemawat & Menage):
 *
 *   mcache (per P, no lock) --refill--> mcentral (per span class, locked)
 *          --grow--> mheap (pages, locked) --sys_reserve/map/used--> the OS
 *
 * Objects of at most 32 KiB are rounded to one of 67 size classes
 * (sizeclasses.c). Each P's mcache holds a span per span class (size class x
 * noscan), so pointer-free and pointer-holding objects never share a span:
 * the collector can skip noscan spans wholesale. Larger objects get their own
 * span straight from the heap. Pointer-free objects under 16 bytes are packed
 * into 16-byte blocks by the tiny allocator.
 *
 * Steps of rt_alloc(size, type):
 *   1. size 0: a shared address (rt_zerobase).
 *   2. size <= 32 KiB, no pointers, < 16 bytes, alignment allows: tiny
 *      allocator. Bump tinyoffset in the current 16-byte block (aligned to the
 *      size's natural alignment); if it does not fit, take a fresh zeroed block
 *      from the 16-byte noscan class and keep whichever block has more room.
 *   3. Other small objects (the fast path, rt_alloc, a few lines): class =
 *      size_to_class (a table lookup), span = mcache->alloc[class<<1|noscan],
 *      slot = mspan_next_free_fast (ctz of alloc_cache). On a miss the named
 *      slow path rt_alloc_slow -> malloc_refill -> mcache_next_free refills
 *      (mcache.c). If the span's needzero is set, clear the object: pages
 *      fresh from the OS or the scavenger are known zero and are not cleared
 *      again (Go's needzero). Pointer-free requests take this path without
 *      a stack frame (about 30 instructions, measured with callgrind).
 *   4. Objects with pointers: also record the layout in the heap bitmap
 *      (mbitmap.c), one bit per word, so the collector can scan precisely.
 *      They have fast paths of their own (rt_alloc_typed): the scan span of
 *      the size's class caches the slot bits of its last (type, size); on a
 *      hit the object costs the pointer-free path plus one read-modify-write
 *      of a bitmap word (about 80 instructions at 16 B against 55). On a
 *      miss, or for slots over 512 B, the P's memo of (type, size) -> class
 *      and layout (malloc_typed_memo); only a request this P has never made
 *      takes the slow path (malloc_typed: the type's checks, the alignment's
 *      class search, the layout computed and memoized).
 *   5. Large objects: mheap_alloc(ceil(size / 8 KiB) pages) as one span; the
 *      type is kept on the span (largetype) instead of in the bitmap.
 *   6. If the heap cannot grow, panic: "runtime: out of memory: cannot
 *      allocate N-byte object ...: <why, from mheap_error()>".
 *
 * Alignment: slots are at multiples of the class size from an 8 KiB boundary;
 * every class from 16 bytes on is a multiple of 16, so types aligned to 16 or
 * less are aligned. A stricter alignment picks the first class whose size is a
 * multiple of it, or a page-aligned large span.
 *
 * Statistics: per-P counters in the mcache (mcache.c, mstats.c); no atomics
 * on the fast path.
 *
 * The heap profile (mprof.c): every path subtracts the object's size from
 * its P's next_sample (sample_due: a subtraction and a branch on its borrow,
 * 4 instructions on the fast path) and, when the object is more than what
 * was left, records it once it is complete (malloc_sampled; rt_alloc_slow). The entry points are in section
 * rt_alloc_text (RT_ALLOC_TEXT), so a sample's call stack starts at their
 * caller.
 *
 * The collector (rt/mgc.c): every slow path ends in gc_alloc_slow_hook, once
 * the object is complete (cleared, its heap bits or largetype written), which
 * may start a cycle; the fast path never does (it cannot: it has no frame),
 * but every span refill passes through the slow path. A large object's span
 * goes on its class's mcentral full list, where the sweeper finds it. Memory
 * handed out again is cleared by gc_clear_checked, which at RT_DEBUG >= 1
 * first checks that a freed slot still holds the sweeper's poison.
 */
#include "rt/rt.h"
#include "rt/mbitmap.h"
#include "rt/mcache.h"
#include "rt/mgc.h"
#include "rt/mheap.h"
#include "rt/mprof.h"
#include "rt/mstats.h"
#include "rt/runtime2.h"
#include "rt/sched.h"

/* The address of every zero-sized allocation (Go's zerobase). */
static uint64_t rt_zerobase;
static bool rt_initialized;

void rt_init(void)
{
	if (rt_initialized)
		return;
	rt_sizeclasses_init();
	mprof_init();
	mheap_init();
	mcache_create(0);
	rt_initialized = true;
}

void rt_start_procs(int nprocs)
{
	RT_ASSERT_MSG(nprocs > 0 && nprocs <= RT_MAX_PROCS, "rt_start_procs(%d): 1..%d Ps", nprocs,
		      RT_MAX_PROCS);
	rt_init();
	for (int p = 0; p < nprocs; p++)
		mcache_for_p(p);
}

__attribute__((noreturn, noinline, cold))
static void throw_oom(size_t size, const char *what)
{
	rt_throw("runtime: out of memory: cannot allocate %zu-byte %s: %s", size, what, mheap_error());
}

/*
 * Slow path of step 3: refill through mcentral and the heap; panics on OOM.
 * Afterwards c->alloc[spc] is the span the slot came from.
 */
/*
 * The heap's slow paths run on the M's system stack (Go runs mheap.alloc
 * under systemstack for the same reason): they take the mcentral, heap and
 * sys_* locks, and a coroutine stack growing under them would take the stack
 * pool's lock (ranked below them) and might need sys_reserve itself. make
 * stress found it: a growth inside sys_port_reserve with the sys lock held
 * tripped the lock-order check on 8 CPUs. On the system stack (guard 0) no
 * function grows a stack.
 */
struct refill_call {
	struct mcache *c;
	spanclass_t spc;
	struct mspan *s;
	uintptr_t v;
};

static void refill_on_system_stack(void *arg)
{
	struct refill_call *r = arg;
	r->v = mcache_next_free(r->c, r->spc, &r->s);
}

__attribute__((noinline))
static uintptr_t malloc_refill(struct mcache *c, spanclass_t spc, size_t size)
{
	struct refill_call r = {c, spc, NULL, 0};
	rt_systemstack(refill_on_system_stack, &r);
	uintptr_t v = r.v;
	if (unlikely(v == 0)) {
		char what[96];
		unsigned sc = spanclass_sizeclass(spc);
		rt_snprintf(what, sizeof(what), "object (size class %u: %u-byte slots, %u-page spans)",
			    sc, rt_class[sc].size, rt_class[sc].npages);
		throw_oom(size, what);
	}
	return v;
}

/* Step 3: the fast path. */
static inline void *malloc_small(struct mcache *c, size_t size, unsigned sc, int noscan)
{
	spanclass_t spc = make_spanclass(sc, noscan);
	struct mspan *s = c->alloc[spc];
	uintptr_t v;
	if (unlikely(!mspan_next_free_fast(s, &v))) {
		v = malloc_refill(c, spc, size);
		s = c->alloc[spc];
	}
	if (s->needzero)
		gc_clear_checked(v, size, s);
	return (void *)v;
}

/* Step 2. */
static void *malloc_tiny(struct mcache *c, size_t size)
{
	uintptr_t off = c->tinyoffset;
	if ((size & 7) == 0)
		off = (off + 7) & ~(uintptr_t)7;
	else if ((size & 3) == 0)
		off = (off + 3) & ~(uintptr_t)3;
	else if ((size & 1) == 0)
		off = (off + 1) & ~(uintptr_t)1;
	if (c->tiny != 0 && off + size <= RT_TINY_SIZE) {
		c->tinyoffset = off + size;
		c->stats.tiny_allocs++;
		return (void *)(c->tiny + off);
	}
	uint64_t *block = malloc_small(c, RT_TINY_SIZE, rt_size_to_class(RT_TINY_SIZE), 1);
	block[0] = 0;   /* the whole block is handed out piecewise: clear it all */
	block[1] = 0;
	if (c->tiny == 0 || size < c->tinyoffset) {
		c->tiny = (uintptr_t)block;
		c->tinyoffset = size;
	}
	return block;
}

struct large_call {
	uintptr_t npages;
	spanclass_t spc;
	struct mspan *s;
};

static void large_on_system_stack(void *arg)
{
	struct large_call *l = arg;
	sweep_reclaim(l->npages);   /* free pages the sweep would give back, before growing */
	l->s = mheap_alloc(l->npages, l->spc);
}

/* Step 5. */
static void *malloc_large(struct mcache *c, size_t size, const struct rt_type *type)
{
	if (size > RT_HEAP_REGION_SIZE)
		throw_oom(size, "object (larger than the heap region)");
	uintptr_t npages = (size + RT_PAGE_SIZE - 1) >> RT_PAGE_SHIFT;
	bool noscan = type == NULL || type->ptrdata == 0;
	struct large_call l = {npages, make_spanclass(0, noscan), NULL};
	rt_systemstack(large_on_system_stack, &l);   /* see malloc_refill; it sweeps before growing */
	struct mspan *s = l.s;
	if (unlikely(s == NULL)) {
		char what[64];
		rt_snprintf(what, sizeof(what), "large object (%lu pages)", (unsigned long)npages);
		throw_oom(size, what);
	}
	s->largetype = noscan ? NULL : type;
	s->largesize = size;
	s->freeindex = 1;   /* its one slot is taken */
	s->alloc_count = 1;
	s->alloc_cache = 0;
	c->stats.large_alloc++;
	c->stats.large_bytes += npages * RT_PAGE_SIZE;
	if (s->needzero)
		gc_clear_checked(s->startaddr, size, s);
	if (__atomic_load_n(&gc_phase, __ATOMIC_RELAXED) == GC_CONCMARK)
		gc_black_large(s);   /* allocate black */
	/* Listed only now, complete: the sweeper and the mark may look at it. */
	mcentral_put_swept(&mheap_.central[s->spanclass], s);
	gc_charge(npages * RT_PAGE_SIZE);
	return (void *)s->startaddr;
}

static void check_type(size_t size, const struct rt_type *t)
{
	size_t align = t->align ? t->align : 8;
	RT_ASSERT_MSG(t->size > 0 && (align & (align - 1)) == 0 && align <= RT_PAGE_SIZE &&
		      t->ptrdata <= t->size && t->ptrdata % 8 == 0 &&
		      (t->ptrdata == 0) == (t->ptrmask == NULL),
		      "bad type descriptor %s: size %zu align %zu ptrdata %zu ptrmask %p",
		      t->name ? t->name : "?", t->size, align, t->ptrdata, (const void *)t->ptrmask);
	RT_ASSERT_MSG(size % t->size == 0,
		      "rt_alloc: %zu bytes is not a whole number of %s (%zu bytes each)", size,
		      t->name ? t->name : "?", t->size);
	RT_ASSERT_MSG(t->ptrdata == 0 || t->size % 8 == 0,
		      "type %s holds pointers but its size %zu is not a multiple of 8",
		      t->name ? t->name : "?", t->size);
}

/* Steps 3-5 for a typed request the typed fast paths did not finish. */
__attribute__((noinline))
static void *malloc_typed(struct mcache *c, size_t size, const struct rt_type *t)
{
	if (RT_DEBUG >= 1)
		check_type(size, t);
	int noscan = t->ptrdata == 0;
	size_t align = t->align ? t->align : 8;
	size_t want = size;
	unsigned sc = 0;
	while (want <= RT_MAX_SMALL_SIZE) {
		sc = rt_size_to_class(want);
		if ((rt_class[sc].size & (align - 1)) == 0)   /* align: a power of two */
			break;
		want = rt_class[sc].size + 1;   /* a stricter alignment: try the next class */
		sc = 0;
	}
	if (sc == 0)
		return malloc_large(c, size, t);
	if (noscan && size < RT_TINY_SIZE && align <= 8)
		return malloc_tiny(c, size);
	void *v = malloc_small(c, size, sc, noscan);
	if (noscan)
		return v;
	/* Step 4: the span's entry, else the P's memo (filled now if need be). */
	struct mspan *s = c->alloc[make_spanclass(sc, 0)];   /* the slot's span, after any refill */
	if (heapbits_cached(s, t, size)) {
		heapbits_write_cached(s, (uintptr_t)v);
		return v;
	}
	uintptr_t slotsize = rt_class[sc].size;
	struct heapbits_layout *e = heapbits_layout_slot(c->layouts, t, size);
	if (e->type != t || e->size != size)
		heapbits_layout_fill(e, t, size, sc, slotsize);
	RT_DASSERT(e->sizeclass == sc);
	if (unlikely(s->heapbits == NULL || e->period == 0)) {
		/* a span straddling two arenas, or elements over 64 words: from the mask */
		heapbits_set_type(s, (uintptr_t)v, size, t);
	} else if (slotsize <= HEAPBITS_SLOT_MAX) {
		heapbits_cache_slot(s, t, size, e->slotbits);
		heapbits_write_cached(s, (uintptr_t)v);
	} else {
		heapbits_write_pattern(s, (uintptr_t)v, e);
	}
	return v;
}

static void *malloc_any(struct mcache *c, size_t size, const struct rt_type *type)
{
	if (likely(size <= RT_MAX_SMALL_SIZE)) {
		if (type == NULL) {
			if (size < RT_TINY_SIZE)
				return malloc_tiny(c, size);
			return malloc_small(c, size, rt_size_to_class(size), 1);
		}
		return malloc_typed(c, size, type);
	}
	if (type != NULL && RT_DEBUG >= 1)
		check_type(size, type);
	return malloc_large(c, size, type);
}

/*
 * Counts an object of `bytes` against its P's sampling interval: true if the
 * interval ends inside it (the countdown would go below zero), and then the
 * caller records it (mprof_malloc draws the next interval). One subtraction
 * and one branch on the borrow: a memory operand, no compare.
 */
static inline bool sample_due(struct mcache *c, uintptr_t bytes)
{
	return __builtin_sub_overflow(c->next_sample, bytes, &c->next_sample);
}

/* What an object counts against the sampling interval (mprof.c): a tiny one
 * its size; any other its slot (the span's elemsize: a large object's pages,
 * and for a stricter alignment the class malloc_typed chose), as the fast
 * paths count it. */
static uintptr_t sampled_size(const void *v, size_t size, const struct rt_type *type)
{
	if (size < RT_TINY_SIZE && (type == NULL || (type->ptrdata == 0 && type->align <= 8)))
		return size;
	return spanof(v)->elemsize;
}

/* The slow path of rt_alloc: every case the fast path does not finish. */
RT_ALLOC_TEXT __attribute__((noinline))
static void *rt_alloc_slow(size_t size, const struct rt_type *type)
{
	if (unlikely(size == 0))
		return &rt_zerobase;
	struct mcache *c = mcache_current();
	RT_ASSERT_MSG(c != NULL, "rt_alloc: P %d has no mcache (rt_init / rt_start_procs?)",
		      rt_port_current_p());
	/* A thread outside the world would share its P's mcache with that P's M. */
	RT_ASSERT_MSG(rt_getm() != NULL || rt_sched.main_g == NULL,
		      "rt_alloc(%zu) from a thread that is not one of the running world's Ms "
		      "(it would share P %d's mcache with that P's M): allocate from a coroutine",
		      size, rt_port_current_p());
	RT_ASSERT_MSG(__atomic_load_n(&gc_phase, __ATOMIC_RELAXED) == GC_OFF ||
			      __atomic_load_n(&gc_phase, __ATOMIC_RELAXED) == GC_CONCMARK || rt_getm() == NULL,
		      "rt_alloc(%zu) while the world is stopped for a collection (phase %u)", size,
		      gc_phase);
	void *v = malloc_any(c, size, type);
	uintptr_t charge = sampled_size(v, size, type);
	if (unlikely(c->sample_gen != __atomic_load_n(&mprof_rate_gen, __ATOMIC_RELAXED)))
		mprof_reset_sample(c);   /* the rate changed: every refill passes here */
	if (unlikely(sample_due(c, charge)))
		mprof_malloc(c, (uintptr_t)v, charge, NULL);
	/* The new object lives in v, which this frame keeps across the call. */
	gc_alloc_slow_hook();
	return v;
}

__attribute__((noinline))
static void *malloc_clear(uintptr_t v, size_t size, const struct mspan *s)
{
	gc_clear_checked(v, size, s);
	return (void *)v;
}

/* A fast path's object that ends its P's sampling interval: complete it (clear
 * it if need be), then record it (mprof.c). */
RT_ALLOC_TEXT __attribute__((noinline))
static void *malloc_sampled(struct mcache *c, uintptr_t v, size_t size, struct mspan *s)
{
	if (s->needzero)
		gc_clear_checked(v, size, s);
	mprof_malloc(c, v, s->elemsize, s);
	return (void *)v;
}

/* malloc_typed_memo's ending for a slot over 64 words: the pattern writer, then the clearing. */
RT_ALLOC_TEXT __attribute__((noinline))
static void *malloc_typed_pattern(struct mcache *c, struct mspan *s, uintptr_t v,
				  const struct heapbits_layout *e)
{
	heapbits_write_pattern(s, v, e);
	if (unlikely(sample_due(c, s->elemsize)))
		return malloc_sampled(c, v, e->size, s);
	if (s->needzero)
		gc_clear_checked(v, e->size, s);
	return (void *)v;
}

/*
 * The second typed path: a span whose cached entry is another (type, size),
 * or an object over the fast path's sizes. The P's memo (heapbits_layout)
 * knows the class and the layout of (type, size) if this P has allocated it
 * before; then allocate from that class's span, make the entry its cached
 * one (slots of at most 64 words) and write the bits. Types mixed in one
 * class cost a hash and a compare more than the fast path, not a trip
 * through the slow path. No stack frame either.
 */
RT_ALLOC_TEXT __attribute__((noinline))
static void *malloc_typed_memo(struct mcache *c, size_t size, const struct rt_type *type)
{
	const struct heapbits_layout *e = heapbits_layout_slot(c->layouts, type, size);
	if (likely(e->type == type && e->size == size)) {
		struct mspan *s = c->alloc[make_spanclass(e->sizeclass, 0)];
		uintptr_t v;
		if (likely(s->heapbits != NULL && e->period != 0) && likely(mspan_next_free_fast(s, &v))) {
			if (unlikely(s->elemsize > HEAPBITS_SLOT_MAX))
				return malloc_typed_pattern(c, s, v, e);
			heapbits_cache_slot(s, type, size, e->slotbits);
			heapbits_write_cached(s, v);
			if (unlikely(sample_due(c, s->elemsize)))
				return malloc_sampled(c, v, size, s);
			if (likely(!s->needzero))
				return (void *)v;
			return malloc_clear(v, size, s);
		}
	}
	return rt_alloc_slow(size, type);
}

/*
 * The typed fast path: an object of at most HEAPBITS_SLOT_MAX bytes whose
 * span (the scan span of its size's class) caches the slot bits of (type,
 * size) and has a free slot; heapbits_write_cached writes the bits. The
 * cache hit also vouches for the request: an entry is made only after the
 * slow path checked the type and chose a class for it, and only on a span of
 * that class (a stricter alignment than the size's class gives picks another
 * class, whose span this path never looks at); so the checks and the
 * alignment search are not repeated. Another type cached on the span, or a
 * larger object: the P's memo (malloc_typed_memo). A separate function, so
 * that rt_alloc's pointer-free path keeps its registers; like it, no stack
 * frame (tail calls only).
 */
RT_ALLOC_TEXT __attribute__((noinline))
static void *rt_alloc_typed(size_t size, const struct rt_type *type)
{
	struct mcache *c = mcache_current();
	if (RT_DEBUG >= 1 && unlikely(c == NULL))
		return rt_alloc_slow(size, type);   /* it names the missing P */
	if (likely(size <= RT_SMALL_SIZE_MAX - 8)) {   /* size 0: class 0, whose span is always empty */
		struct mspan *s = c->alloc[make_spanclass(rt_size_to_class(size), 0)];
		uintptr_t v;
		if (unlikely(!heapbits_cached(s, type, size)))
			return malloc_typed_memo(c, size, type);
		if (likely(mspan_next_free_fast(s, &v))) {
			heapbits_write_cached(s, v);
			if (unlikely(sample_due(c, s->elemsize)))
				return malloc_sampled(c, v, size, s);
			if (likely(!s->needzero))
				return (void *)v;
			return malloc_clear(v, s->bits_size, s);   /* == size: frees a register */
		}
		return rt_alloc_slow(size, type);
	}
	return malloc_typed_memo(c, size, type);
}

/*
 * The fast path: a pointer-free object of 16 B .. 32 KiB whose span has a free
 * slot in its alloc_cache; a typed request goes to rt_alloc_typed. Every other
 * case, including a slot needing a refill, goes to rt_alloc_slow; clearing a
 * dirty slot goes to malloc_clear. All are tail calls, so this function needs
 * no stack frame.
 */
RT_ALLOC_TEXT void *rt_alloc(size_t size, const struct rt_type *type)
{
	if (likely(type == NULL && size - RT_TINY_SIZE <= RT_MAX_SMALL_SIZE - RT_TINY_SIZE)) {
		struct mcache *c = mcache_current();
		if (RT_DEBUG >= 1 && unlikely(c == NULL))
			return rt_alloc_slow(size, type);   /* it names the missing P */
		struct mspan *s = c->alloc[make_spanclass(rt_size_to_class(size), 1)];
		uintptr_t v;
		if (likely(mspan_next_free_fast(s, &v))) {
			if (unlikely(sample_due(c, s->elemsize)))
				return malloc_sampled(c, v, size, s);
			if (likely(!s->needzero))
				return (void *)v;
			return malloc_clear(v, size, s);
		}
	}
	if (type != NULL)
		return rt_alloc_typed(size, type);
	return rt_alloc_slow(size, type);
}

RT_ALLOC_TEXT void *rt_new(const struct rt_type *type)
{
	RT_ASSERT_MSG(type != NULL, "rt_new: NULL type");
	return rt_alloc(type->size, type);
}

RT_ALLOC_TEXT void *rt_alloc_array(const struct rt_type *elem, size_t n)
{
	RT_ASSERT_MSG(elem != NULL, "rt_alloc_array: NULL element type");
	if (n != 0 && elem->size > SIZE_MAX / n)
		rt_throw("rt_alloc_array: %zu elements of %s (%zu bytes each) overflow the address space",
			 n, elem->name ? elem->name : "?", elem->size);
	return rt_alloc(n * elem->size, elem);
}

void *rt_object_base(const void *p)
{
	return (void *)mheap_object_base(p);
}
