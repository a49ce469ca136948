/*
 * mbitmap.h - the heap bitmap: which words of heap objects hold pointers
 * (see mbitmap.c for the essay).
 */
#ifndef RT_MBITMAP_H
#define RT_MBITMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/mheap.h"

struct rt_type;

/* Largest slot whose bits a span caches in one word (mspan.bits_slot): 64 words. */
#define HEAPBITS_SLOT_MAX 512

/* A new in-use span: heapbits, and an empty bits cache (heap lock held, class set). */
void heapbits_span_init(struct mspan *s);

/*
 * Records the layout of a new object at v in a slot of span s: size / t->size
 * elements of t, then non-pointer words to the slot's end, word by word from
 * t's mask (any slot size, any span). Caller owns s.
 */
void heapbits_set_type(struct mspan *s, uintptr_t v, uintptr_t size, const struct rt_type *t);

/*
 * A P's memo of typed allocations (struct mcache.layouts), the second level
 * behind each span's one entry: (type, size) -> the size class rt_alloc
 * chose, the element's mask as a pattern of 33..64 words, and for slots of
 * at most 64 words the slot's bits. Direct-mapped by a hash of the key. An
 * entry is a pure function of its key (the size and the type's alignment fix
 * the class), so it never goes stale; it exists only after the slow path
 * checked the request. Owned by the P.
 */
struct heapbits_layout {
	const struct rt_type *type;   /* NULL: empty */
	uint32_t size;                /* bytes, a small object's (<= 32 KiB) */
	uint16_t sizeclass;
	uint16_t period;              /* words of pattern; 0: the element is over 64 words */
	uint64_t pattern;             /* bit j: word j of every period holds a pointer */
	uint64_t slotbits;            /* slots of at most 64 words: the slot's bits */
};
#define HEAPBITS_LAYOUTS_LOG2 6
#define HEAPBITS_LAYOUTS (1 << HEAPBITS_LAYOUTS_LOG2)   /* entries per P */

/* The entry of table where (t, size) lives if memoized (compare its key). */
static inline struct heapbits_layout *heapbits_layout_slot(struct heapbits_layout *table,
							   const struct rt_type *t, uintptr_t size)
{
	/* Fibonacci hashing; type pointers and sizes are multiples of 8 */
	uint64_t h = ((uint64_t)(uintptr_t)t ^ ((uint64_t)size << 40)) * 0x9e3779b97f4a7c15ull;
	return &table[h >> (64 - HEAPBITS_LAYOUTS_LOG2)];
}

/* Fills e for objects of `size` bytes of t in class sizeclass (slots of slotsize bytes). */
void heapbits_layout_fill(struct heapbits_layout *e, const struct rt_type *t, uintptr_t size,
			  unsigned sizeclass, uintptr_t slotsize);

/*
 * Records the layout of a new object at v of span s (with heapbits; any slot
 * size) from e's pattern (period != 0): whole bitmap words are stored, only
 * the first and last are read-modify-written. Caller owns s.
 */
void heapbits_write_pattern(struct mspan *s, uintptr_t v, const struct heapbits_layout *e);

/* s caches the slot bits of objects of `size` bytes of t: heapbits_write_cached may run. */
static inline bool heapbits_cached(const struct mspan *s, const struct rt_type *t, uintptr_t size)
{
	return s->bits_type == t && s->bits_size == size;
}

/*
 * The typed fast path's writer: the cached slot bits for the object at v, one
 * read-modify-write of a bitmap word, two when the slot straddles a word
 * boundary. Caller owns s; heapbits_cached(s, ...) holds for the object.
 */
static inline void heapbits_write_cached(struct mspan *s, uintptr_t v)
{
	uintptr_t w = (v - s->startaddr) >> 3;
	uint64_t *word = s->heapbits + (w >> 6);
	unsigned bit = (unsigned)(w & 63);
	word[0] = (word[0] & ~(s->bits_slotmask << bit)) | (s->bits_slot << bit);
	if (unlikely(bit > s->bits_lastbit)) {
		/* rare: reading the fields again spares the common case two register copies */
		unsigned done = 64 - bit;
		word[1] = (word[1] & ~(s->bits_slotmask >> done)) | (s->bits_slot >> done);
	}
}

/* Makes (t, size) with slot bits `bits` the cached entry of s, a span with heapbits. */
static inline void heapbits_cache_slot(struct mspan *s, const struct rt_type *t, uintptr_t size,
				       uint64_t bits)
{
	RT_DASSERT(s->heapbits != NULL && s->elemsize <= HEAPBITS_SLOT_MAX);
	s->bits_type = t;
	s->bits_size = size;
	s->bits_slot = bits;
}

/* The word at addr (8-aligned, in a small-object scan span) holds a pointer. */
bool heapbits_is_pointer(uintptr_t addr);

/* heapbits_read's rare case: a run that crosses from one arena's bitmap into the next's. */
uint64_t heapbits_read_next_arena(uintptr_t addr, unsigned bit);

/*
 * The collector's reader: the pointer bits of the n words (1 <= n <= 64)
 * starting at addr (8-aligned), bit i for the word at addr + 8 * i. The words
 * lie in one allocated object of a small-object scan span.
 */
static inline uint64_t heapbits_read(uintptr_t addr, unsigned n)
{
	RT_DASSERT(n >= 1 && n <= 64 && addr % 8 == 0);
	struct heaparena *a = arena_of(addr);
	RT_DASSERT(a != NULL);
	uintptr_t w = (addr - a->base) >> 3;
	const uint64_t *word = a->heapbits + (w >> 6);
	unsigned bit = (unsigned)(w & 63);
	uint64_t bits = word[0] >> bit;
	if (bit != 0 && bit + n > 64) {
		/* the rest is in the next bitmap word, unless the run crosses into the next arena */
		if (likely(((addr + 8 * (64 - bit)) & (RT_ARENA_SIZE - 1)) != 0))
			bits |= word[1] << (64 - bit);
		else
			bits |= heapbits_read_next_arena(addr, bit);
	}
	return bits & (~(uint64_t)0 >> (64 - n));
}

/*
 * The same bits when the caller has the object's span s (an in-use small scan
 * span containing [addr, addr + 8n)): no arena lookup. A span crossing into
 * a second arena has no heapbits and takes heapbits_read.
 */
static inline uint64_t heapbits_read_span(const struct mspan *s, uintptr_t addr, unsigned n)
{
	RT_DASSERT(n >= 1 && n <= 64 && addr % 8 == 0 && addr >= s->startaddr &&
		   addr + 8 * n <= mspan_end(s));
	if (unlikely(s->heapbits == NULL))
		return heapbits_read(addr, n);
	uintptr_t w = (addr - s->startaddr) >> 3;
	const uint64_t *word = s->heapbits + (w >> 6);
	unsigned bit = (unsigned)(w & 63);
	uint64_t bits = word[0] >> bit;
	if (bit != 0 && bit + n > 64)
		bits |= word[1] << (64 - bit);
	return bits & (~(uint64_t)0 >> (64 - n));
}

#endif
