/*
 * sizeclasses.h - small-object size classes (see sizeclasses.c for the essay).
 */
#ifndef RT_SIZECLASSES_H
#define RT_SIZECLASSES_H

#include <stddef.h>
#include <stdint.h>

#define RT_PAGE_SHIFT 13
#define RT_PAGE_SIZE  ((uintptr_t)1 << RT_PAGE_SHIFT)   /* runtime page: 8 KiB */

#define RT_NUM_SIZE_CLASSES 68        /* class 0 means "large" */
#define RT_MAX_SMALL_SIZE   32768     /* largest size served by a size class */
#define RT_SMALL_SIZE_DIV   8         /* granularity of the first lookup table */
#define RT_SMALL_SIZE_MAX   1024      /* where the second table takes over */
#define RT_LARGE_SIZE_DIV   128       /* granularity of the second lookup table */
#define RT_TINY_SIZE        16        /* tiny allocator block (pointer-free objects < 16 B) */
#define RT_NUM_SPAN_CLASSES (RT_NUM_SIZE_CLASSES << 1)

struct rt_sizeclass {
	uint16_t size;     /* bytes per object */
	uint8_t npages;    /* runtime pages per span */
	uint16_t nelems;   /* objects per span = npages * RT_PAGE_SIZE / size */
	uint32_t divmul;   /* offset * divmul >> 32 == offset / size for offsets in a span */
};

extern const struct rt_sizeclass rt_class[RT_NUM_SIZE_CLASSES];
extern uint8_t rt_size_to_class8[RT_SMALL_SIZE_MAX / RT_SMALL_SIZE_DIV + 1];
extern uint8_t rt_size_to_class128[(RT_MAX_SMALL_SIZE - RT_SMALL_SIZE_MAX) / RT_LARGE_SIZE_DIV + 1];

/* Fills the lookup tables from rt_class; checks the table's basic shape. */
void rt_sizeclasses_init(void);

/* The smallest class whose objects hold `size` bytes; 1 <= size <= RT_MAX_SMALL_SIZE. O(1). */
static inline unsigned rt_size_to_class(size_t size)
{
	if (size <= RT_SMALL_SIZE_MAX - 8)
		return rt_size_to_class8[(size + RT_SMALL_SIZE_DIV - 1) / RT_SMALL_SIZE_DIV];
	return rt_size_to_class128[(size - RT_SMALL_SIZE_MAX + RT_LARGE_SIZE_DIV - 1) /
				   RT_LARGE_SIZE_DIV];
}

/* Span class: size class and the noscan bit, as Go's spanClass. */
typedef uint8_t spanclass_t;
static inline spanclass_t make_spanclass(unsigned sizeclass, int noscan)
{
	return (spanclass_t)((sizeclass << 1) | (noscan ? 1 : 0));
}
static inline unsigned spanclass_sizeclass(spanclass_t sc) { return sc >> 1; }
static inline int spanclass_noscan(spanclass_t sc) { return sc & 1; }

/* Bytes a request of `size` actually occupies (Go's roundupsize). */
size_t rt_roundupsize(size_t size);

#endif
