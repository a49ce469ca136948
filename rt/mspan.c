/*
 * mspan.c - span lists and the slow half of finding a free slot in a span.
 *
 * A span's free slots are found through alloc_bits (1 = allocated, as the last
 * sweep left them; all zero for a fresh span) read 64 at a time into
 * alloc_cache inverted, so "the next free slot" is count-trailing-zeros (Go's
 * mbitmap.go nextFreeFast/nextFreeIndex). The fast half is inline in mspan.h.
 *
 * Cost: O(1) per allocation plus one reload per 64 slots.
 */
#include "rt/mspan.h"

void spanlist_push(struct spanlist *l, struct mspan *s)
{
	RT_DASSERT(s->list == NULL);
	s->prev = NULL;
	s->next = l->first;
	if (l->first != NULL)
		l->first->prev = s;
	l->first = s;
	s->list = l;
	l->n++;
}

void spanlist_remove(struct spanlist *l, struct mspan *s)
{
	RT_ASSERT_MSG(s->list == l, "span %p [%p, +%lu pages) is not on this list",
		      (void *)s, (void *)s->startaddr, (unsigned long)s->npages);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		l->first = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->list = NULL;
	l->n--;
}

void mspan_refill_alloc_cache(struct mspan *s)
{
	unsigned w = s->freeindex / 64;
	s->alloc_cache = ~s->alloc_bits[w] >> (s->freeindex % 64);
}

unsigned mspan_next_free_index(struct mspan *s)
{
	unsigned idx = s->freeindex;
	if (idx >= s->nelems)
		return s->nelems;
	uint64_t cache = s->alloc_cache;
	if (cache == 0) {
		/* Emptied by gcstress (rt/mgc.c), or used up: reloading tells which.
		 * Always, not only while gcstress is on: a cache it emptied may be
		 * met after it is turned off (review of issue 12). One load. */
		mspan_refill_alloc_cache(s);
		cache = s->alloc_cache;
	}
	while (cache == 0) {
		idx = (idx + 64) & ~63u;   /* the cache covered the rest of idx's word */
		if (idx >= s->nelems) {
			s->freeindex = s->nelems;
			return s->nelems;
		}
		s->freeindex = (uint16_t)idx;
		mspan_refill_alloc_cache(s);
		cache = s->alloc_cache;
	}
	unsigned bit = (unsigned)__builtin_ctzll(cache);
	unsigned result = idx + bit;
	if (result >= s->nelems) {
		s->freeindex = s->nelems;
		s->alloc_cache = 0;
		return s->nelems;
	}
	s->alloc_cache = (cache >> bit) >> 1;
	s->freeindex = (uint16_t)(result + 1);
	if (s->freeindex % 64 == 0 && s->freeindex < s->nelems)
		mspan_refill_alloc_cache(s);
	return result;
}

unsigned mspan_count_alloc_bits(const struct mspan *s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->nelems; i++)
		n += (unsigned)((s->alloc_bits[i / 64] >> (i % 64)) & 1);
	return n;
}
