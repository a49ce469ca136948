/*
 * mspan.h - a span: a run of runtime pages, either free, one large object, a
 * run of equal small objects, or a manually managed range (a stack).
 *
 * The structure follows Go's mheap.go mspan. Invariants, written where they live:
 *   - startaddr is RT_PAGE_SIZE-aligned; the span covers [startaddr, startaddr +
 *     npages * RT_PAGE_SIZE).
 *   - For an in-use span, every page of it maps to it in its arena's page map;
 *     for a free run only its first and last page do (boundary tags).
 *   - Slots [0, freeindex) are allocated. alloc_cache holds the complement of
 *     alloc_bits for slots freeindex .. the end of freeindex's 64-slot word,
 *     shifted so that bit 0 is slot freeindex ("1 = free"). Slots at or past
 *     nelems may show as free in the cache; allocation checks nelems.
 *   - alloc_count == number of allocated slots (exact; the fast path keeps it).
 *   - needzero == 0 promises that every free slot reads as zero.
 * Ownership: a span cached in an mcache belongs to that mcache's P (no lock);
 * on an mcentral list its mcentral lock protects it; free runs and the
 * heap-owned fields (npages, next/prev while free, state) are under the heap lock.
 */
#ifndef RT_MSPAN_H
#define RT_MSPAN_H

#include "rt/port.h"
#include "rt/sizeclasses.h"

struct rt_type;

enum mspan_state {
	MSPAN_DEAD = 0,   /* struct not describing memory (on the fixalloc free list) */
	MSPAN_FREE,       /* free page run, indexed by the page allocator */
	MSPAN_INUSE,      /* heap objects (small or one large) */
	MSPAN_MANUAL,     /* manually managed (stacks): not scanned, not swept */
};

struct spanlist;

struct mspan {
	/* Fast-path fields first. */
	uint64_t alloc_cache;      /* see invariants above */
	uint16_t freeindex;        /* first slot not known to be allocated */
	uint16_t nelems;           /* objects in the span (1 for large spans) */
	uint16_t alloc_count;      /* allocated objects */
	uint8_t needzero;          /* free slots may be dirty: clear on allocation */
	spanclass_t spanclass;     /* size class << 1 | noscan; class 0 = large */
	uintptr_t elemsize;        /* object size (npages * RT_PAGE_SIZE for large spans) */
	uintptr_t startaddr;
	/*
	 * The heap bitmap's part of the span (mbitmap.c), set by heapbits_span_init.
	 * heapbits: the bitmap word of startaddr's word, for a small scan span
	 * inside one arena (the span's words are then bits 0.. of heapbits[0..]);
	 * NULL otherwise. bits_type, bits_size, bits_slot: the slot bits of an
	 * object of bits_size bytes of bits_type (elements, then zeros to the
	 * slot's end), cached for the typed fast path; bits_type NULL = none.
	 * Written only by the span's owner; a pure function of the key and the
	 * slot size, so it stays valid for the span's life as this class.
	 * For slots of at most 64 words: bits_slotmask has one bit per slot word,
	 * and a slot starting at bit b of a bitmap word ends in the next word iff
	 * b > bits_lastbit (64 - slot words).
	 */
	uint64_t *heapbits;
	const struct rt_type *bits_type;
	uintptr_t bits_size;
	uint64_t bits_slot;
	uint64_t bits_slotmask;
	uint32_t bits_lastbit;

	uintptr_t npages;
	struct mspan *next, *prev; /* on a spanlist (mcentral set or free bucket) */
	struct spanlist *list;     /* the list it is on, NULL if none */
	uint64_t *alloc_bits;      /* nelems bits, 1 = allocated as of the last sweep */
	uint64_t *gcmark_bits;     /* nelems bits, 1 = marked in the current cycle */
	uint32_t divmul;           /* object index = (offset * divmul) >> 32 */
	/*
	 * sweepgen, relative to the heap's sweepgen h (which grows by 2 per GC cycle):
	 *   h - 2: needs sweeping        h - 1: being swept       h: swept, usable
	 *   h + 1: cached before the sweep began, still cached; sweep when uncached
	 *   h + 3: swept and then cached
	 */
	uint32_t sweepgen;
	uint8_t state;             /* enum mspan_state */
	uint8_t nbitwords_log2;    /* the bit arrays hold 1 << this uint64 words each */
	uint8_t allocblack;        /* cached during a concurrent mark: free slots pre-marked (mgc.c) */
	uint16_t black_base;       /* alloc_count when it was cached so (owner's mcache) */
	const struct rt_type *largetype;   /* large span with pointers: its element type */
	uintptr_t largesize;       /* large span: the bytes asked for (the rest of the pages is stale) */
	uint64_t *checkmark_bits;  /* gccheckmark's second mark bits, only during that mark (mgcmark.c) */
	uint16_t mark_start_freeindex;   /* gccheckmark, concurrent: freeindex when the mark began
					  * (0 for a span made since); slots handed out past it must be black */
	struct mprof_special *specials;  /* sampled objects (rt/mprof.c; its lock, the span's owner) */
};

struct spanlist {
	struct mspan *first;
	uint64_t n;
};

void spanlist_push(struct spanlist *l, struct mspan *s);
void spanlist_remove(struct spanlist *l, struct mspan *s);
static inline bool spanlist_empty(const struct spanlist *l) { return l->first == NULL; }

static inline uintptr_t mspan_base(const struct mspan *s) { return s->startaddr; }

/* The bits of bit-array word w that stand for the slots [lo, hi). */
static inline uint64_t mspan_slot_mask(unsigned w, unsigned lo, unsigned hi)
{
	unsigned first = 64 * w;
	unsigned a = lo > first ? lo - first : 0;
	unsigned b = hi <= first ? 0 : hi - first < 64 ? hi - first : 64;
	if (a >= b)
		return 0;
	uint64_t upto_b = b == 64 ? ~0ull : (1ull << b) - 1;
	return upto_b & ~((1ull << a) - 1);
}
static inline uintptr_t mspan_end(const struct mspan *s)
{
	return s->startaddr + s->npages * RT_PAGE_SIZE;
}
static inline uintptr_t mspan_obj_index(const struct mspan *s, uintptr_t p)
{
	return (uintptr_t)(((uint64_t)(p - s->startaddr) * s->divmul) >> 32);
}

/*
 * The allocation fast path over one span (Go's nextFreeFast): stores a free
 * slot in *v and returns true, or returns false when the cache is exhausted
 * or would need a refill (the slow path mspan_next_free_index handles both).
 */
static inline bool mspan_next_free_fast(struct mspan *s, uintptr_t *v)
{
	uint64_t cache = s->alloc_cache;
	if (unlikely(cache == 0))
		return false;
	unsigned bit = (unsigned)__builtin_ctzll(cache);
	unsigned result = s->freeindex + bit;
	if (unlikely(result >= s->nelems))
		return false;
	unsigned next = result + 1;
	if (unlikely(next % 64 == 0 && next != s->nelems))
		return false;   /* the next call would need a refill */
	s->alloc_cache = (cache >> bit) >> 1;
	s->freeindex = (uint16_t)next;
	s->alloc_count++;
	*v = s->startaddr + (uintptr_t)result * s->elemsize;
	return true;
}

/* gcstress (rt/mgc.c) empties alloc caches so that each allocation comes
 * through the slow path; mspan_next_free_index therefore reloads an empty
 * cache from freeindex's word before it takes the word as used up. */

/* Slow path: next free slot index, refilling alloc_cache; nelems if none. */
unsigned mspan_next_free_index(struct mspan *s);
/* Reload alloc_cache for the 64-slot word containing freeindex. */
void mspan_refill_alloc_cache(struct mspan *s);
/* Count of slots marked allocated in alloc_bits (verification). */
unsigned mspan_count_alloc_bits(const struct mspan *s);

#endif
