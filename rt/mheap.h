/*
 * mheap.h - the page heap: arenas, the page-to-span map, the page allocator,
 * span allocation. See mheap.c (arenas, spans) and mpagealloc.c (free runs).
 */
#ifndef RT_MHEAP_H
#define RT_MHEAP_H

#include "rt/fixalloc.h"
#include "rt/mcentral.h"
#include "rt/mspan.h"
#include "rt/port.h"

#define RT_ARENA_SHIFT 26
#define RT_ARENA_SIZE ((uintptr_t)1 << RT_ARENA_SHIFT)          /* 64 MiB */
#define RT_PAGES_PER_ARENA (RT_ARENA_SIZE / RT_PAGE_SIZE)        /* 8192 */
#define RT_ARENA_WORDS (RT_ARENA_SIZE / 8)                       /* pointer-sized words */
/* The heap maps (sys_map) arena space in chunks of this much, as Go's mheap.grow
 * maps in pallocChunkBytes: commit follows use, not the 64 MiB reservation. */
#define RT_HEAP_MAP_CHUNK ((uintptr_t)4 << 20)

/* The arena index: two levels over the heap region (Go's arenaL1/arenaL2). */
#define RT_ARENA_COUNT (RT_HEAP_REGION_SIZE >> RT_ARENA_SHIFT)
#define RT_ARENA_L2_BITS 12
#define RT_ARENA_L2_SIZE ((uintptr_t)1 << RT_ARENA_L2_BITS)
#define RT_ARENA_L1_SIZE ((RT_ARENA_COUNT + RT_ARENA_L2_SIZE - 1) >> RT_ARENA_L2_BITS)

/* Per-arena metadata, off-heap. Every field is under the heap lock except heapbits. */
struct heaparena {
	uintptr_t base;
	/* [base, mapped_end) went through sys_map; the rest is only Reserved and
	 * belongs to no run (the heap maps an arena chunk by chunk as it grows). */
	uintptr_t mapped_end;
	/* Page -> span: all pages of in-use/manual spans; first and last page of free runs. */
	struct mspan *spans[RT_PAGES_PER_ARENA];
	/* Page is Prepared (released to the OS or never used): sys_used before use. */
	uint64_t scav[RT_PAGES_PER_ARENA / 64];
	/* Page may hold non-zero bytes (allocated since it was last zero). */
	uint64_t dirty[RT_PAGES_PER_ARENA / 64];
	/*
	 * One bit per word of the arena: 1 = the word holds a pointer. Written at
	 * allocation for objects in scan spans of small size classes (mbitmap.c);
	 * owned by whoever owns the object's span. The collector reads it.
	 */
	uint64_t *heapbits;
};

/* Free-run buckets (mpagealloc.c): 127 exact sizes, then 4 per power of two. */
#define PAGEFREE_EXACT 128
#define PAGEFREE_NBUCKETS 256

struct mheap {
	struct rt_lock lock;   /* rank LOCKRANK_MHEAP; protects all fields below unless noted */
	bool initialized;
	struct heaparena **arenas[RT_ARENA_L1_SIZE];
	uintptr_t arena_hint;  /* next address to try for new arenas (grows upward) */
	/* The arena space being mapped: [cur_next, cur_end) is Reserved, not yet mapped. */
	uintptr_t cur_next, cur_end;
	uint64_t narenas;
	uint32_t sweepgen;     /* +2 per GC cycle (none yet) */

	struct spanlist free[PAGEFREE_NBUCKETS];        /* free runs by size bucket */
	uint64_t free_nonempty[PAGEFREE_NBUCKETS / 64]; /* bit b: free[b] not empty */

	struct fixalloc spanalloc;        /* struct mspan */
	struct fixalloc bitsalloc[5];     /* alloc+mark bit arrays of 1,2,4,8,16 words each */
	uint64_t bits_inuse;

	char error[192];                  /* why the last growth failed */

	struct mcentral central[RT_NUM_SPAN_CLASSES];   /* own locks */
};

extern struct mheap mheap_;

/* The heap's sweepgen h (+2 per cycle, only with the world stopped; rt/mgcsweep.c). */
static inline uint32_t mheap_sweepgen(void) { return __atomic_load_n(&mheap_.sweepgen, __ATOMIC_ACQUIRE); }

/* At RT_DEBUG >= 1 freed spans are filled with this (mheap.c junk_fill). */
#define HEAP_JUNK_WORD 0xdbdbdbdbdbdbdbdbull

void mheap_init(void);

/*
 * Allocates an in-use span of npages for span class spc (class 0: one large
 * object). Returns NULL if the heap cannot grow; mheap_error() then says why.
 * needzero is set from the pages' history. Takes the heap lock.
 */
struct mspan *mheap_alloc(uintptr_t npages, spanclass_t spc);
/* Returns an in-use span's pages to the free runs (the sweeper's job later). */
void mheap_free(struct mspan *s);
/*
 * Frees a dead large object's span and counts the free in memstats (Frees,
 * HeapAlloc). The sweeper's entry point once the collector exists; host tests
 * call it standing in for the sweeper.
 */
void mheap_free_large(struct mspan *s);
/* Manual spans (stacks): pages move from HeapSys to StackSys while lent. */
struct mspan *mheap_alloc_manual(uintptr_t npages);
void mheap_free_manual(struct mspan *s);

const char *mheap_error(void);

static inline struct heaparena *arena_of(uintptr_t p)
{
	uintptr_t off = p - RT_HEAP_REGION_BASE;
	if (off >= RT_HEAP_REGION_SIZE)
		return NULL;
	uintptr_t i = off >> RT_ARENA_SHIFT;
	struct heaparena **l2 = mheap_.arenas[i >> RT_ARENA_L2_BITS];
	return l2 != NULL ? l2[i & (RT_ARENA_L2_SIZE - 1)] : NULL;
}

static inline uintptr_t arena_page(uintptr_t p)
{
	return (p & (RT_ARENA_SIZE - 1)) >> RT_PAGE_SHIFT;
}

/* The span whose page map entry covers p (may be a free run's tag or stale). */
static inline struct mspan *spanof_unchecked(uintptr_t p)
{
	struct heaparena *a = arena_of(p);
	return a != NULL ? a->spans[arena_page(p)] : NULL;
}

/* The in-use or manual span containing p, or NULL. O(1): any interior pointer works. */
static inline struct mspan *spanof(const void *ptr)
{
	uintptr_t p = (uintptr_t)ptr;
	struct mspan *s = spanof_unchecked(p);
	if (s == NULL || (s->state != MSPAN_INUSE && s->state != MSPAN_MANUAL) ||
	    p < s->startaddr || p >= mspan_end(s))
		return NULL;
	return s;
}

/* p lies in a mapped heap arena. */
static inline bool mheap_contains(const void *p) { return arena_of((uintptr_t)p) != NULL; }

/* Base of the object containing p, or 0 if p is not inside an allocated object's span. */
uintptr_t mheap_object_base(const void *p);

/* Checks every invariant of the heap and its free runs; panics naming the broken one. */
void mheap_verify(void);

/* ---- page allocator (mpagealloc.c); heap lock held ---- */
void pagefree_insert(struct mspan *s);                 /* s: a free run; coalesces */
struct mspan *pagefree_take(uintptr_t npages);         /* removes a run of >= npages, or NULL */
void pagefree_remove(struct mspan *s);
unsigned pagefree_bucket(uintptr_t npages);

/* Page-bit helpers over [base, base + npages * RT_PAGE_SIZE), possibly across arenas. */
uintptr_t pagebits_count(uintptr_t base, uintptr_t npages, int which);   /* 0 scav, 1 dirty */
void pagebits_set(uintptr_t base, uintptr_t npages, int which, bool value);

/* ---- scavenger (mgcscavenge.c) ---- */
/* Releases up to `bytes` of free, unreleased heap memory; returns bytes released. */
uintptr_t mheap_scavenge(uintptr_t bytes);
/* rt_scavenge_to_goal releasing at most max bytes (the background sweeper's chunks). */
uintptr_t scavenge_to_goal_bounded(uintptr_t max);
/* Under a memory limit: releases free pages (heap lock held) so that mapped memory plus
 * becoming_ready bytes about to be made ready stays under it. Returns the bytes released. */
uintptr_t mheap_scavenge_for_limit_locked(uintptr_t becoming_ready);

#endif
