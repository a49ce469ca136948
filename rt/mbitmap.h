/*
 * mbitmap.h - the heap bitmap: which words of heap objects hold pointers.
 */
#ifndef RT_MBITMAP_H
#define RT_MBITMAP_H

#include <stdbool.h>
#include <stdint.h>

struct rt_type;

/*
 * Records the layout of a new object at v occupying a slot of `slotsize`
 * bytes: size / t->size elements of t, then non-pointer words to the slot's end.
 * Caller owns the object's span.
 */
void heapbits_set_type(uintptr_t v, uintptr_t size, uintptr_t slotsize, const struct rt_type *t);

/* The word at addr (8-aligned, in a small-object scan span) holds a pointer. */
bool heapbits_is_pointer(uintptr_t addr);

/*
 * The collector's reader: the pointer bits of the n words (1 <= n <= 64)
 * starting at addr (8-aligned), bit i for the word at addr + 8 * i. The words
 * lie in one allocated object of a small-object scan span.
 */
uint64_t heapbits_read(uintptr_t addr, unsigned n);

#endif
