/*
 * mbitmap.c - the heap bitmap: one bit per heap word, 1 = "holds a pointer".
 *
 * What. Precise scanning needs to know which words of an object are pointers.
 * Each arena has a bitmap with one bit per 8-byte word (1/64 of the arena,
 * allocated off-heap with the arena; Go 1.20's heap bitmap had the same
 * density). rt_alloc writes the bits of an object in a small scan span when
 * it allocates it: the element type's ptrmask repeated over the elements,
 * zero for the words past the last element up to the slot's end. Objects in
 * noscan spans have no bits (the collector never looks); large objects keep
 * their type on the span (mspan.largetype) instead, since a 1 GiB object
 * would need 16 MiB of bit writes.
 *
 * Invariant: for every allocated object in a small scan span, the bits of its
 * slot describe it exactly. Bits of free slots are garbage.
 *
 * Cost: O(slot words / 64) word writes plus one step per word to expand the
 * mask, only for objects with pointers. Slots never cross an arena in the
 * common case; when a span does straddle two contiguous arenas, the writer
 * moves to the next arena's bitmap at the boundary.
 */
#include "rt/mbitmap.h"
#include "rt/mheap.h"
#include "rt/rt.h"

static uint64_t *bitword(uintptr_t addr, unsigned *bit)
{
	struct heaparena *a = arena_of(addr);
	RT_ASSERT_MSG(a != NULL, "heap bitmap: %p is not in the heap", (void *)addr);
	uintptr_t w = (addr - a->base) / 8;
	*bit = (unsigned)(w % 64);
	return &a->heapbits[w / 64];
}

void heapbits_set_type(uintptr_t v, uintptr_t size, uintptr_t slotsize, const struct rt_type *t)
{
	uintptr_t nwords = slotsize / 8;
	uintptr_t datawords = size / 8;        /* words covered by elements */
	uintptr_t elemwords = t->size / 8;
	uintptr_t ptrwords = t->ptrdata / 8;
	uintptr_t e = 0;                       /* word index inside the current element */
	for (uintptr_t i = 0; i < nwords;) {
		unsigned bit;
		uint64_t *w = bitword(v + i * 8, &bit);
		unsigned k = 64 - bit;
		if (k > nwords - i)
			k = (unsigned)(nwords - i);
		uint64_t bits = 0;
		for (unsigned j = 0; j < k; j++, i++) {
			if (i < datawords && e < ptrwords && ((t->ptrmask[e / 8] >> (e % 8)) & 1))
				bits |= (uint64_t)1 << j;
			if (++e == elemwords)
				e = 0;
		}
		uint64_t mask = (k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << bit;
		*w = (*w & ~mask) | (bits << bit);
	}
}

bool heapbits_is_pointer(uintptr_t addr)
{
	unsigned bit;
	uint64_t *w = bitword(addr, &bit);
	return (*w >> bit) & 1;
}

uint64_t heapbits_read(uintptr_t addr, unsigned n)
{
	RT_DASSERT(n >= 1 && n <= 64 && addr % 8 == 0);
	unsigned bit;
	uint64_t *w = bitword(addr, &bit);
	uint64_t bits = w[0] >> bit;
	if (bit != 0 && bit + n > 64) {
		/* the rest is in the next bitmap word, unless the run crosses into the next arena */
		if (((addr + 8 * (64 - bit)) & (RT_ARENA_SIZE - 1)) != 0)
			bits |= w[1] << (64 - bit);
		else
			bits |= *bitword(addr + 8 * (64 - bit), &bit) << (64 - bit);
	}
	return n == 64 ? bits : bits & (((uint64_t)1 << n) - 1);
}
