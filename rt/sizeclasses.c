/*
 * sizeclasses.c - the size classes of small objects.
 *
 * What. Every allocation of at most 32 KiB is rounded up to one of 67 object
 * sizes ("size classes" 1..67; class 0 stands for "large", served by whole
 * pages from the heap). Each class has a span size: a run of 8 KiB runtime
 * pages that is carved into equal objects. Rounding to few sizes is what lets
 * a span hold one size only, so an object's size, its index and its mark bit
 * follow from its address with no per-object header.
 *
 * The figures. The table below is Go's (src/runtime/sizeclasses.go, generated
 * by mksizeclasses.go, Go 1.21+ with the 24-byte class), used as data with
 * citation: the sizes were chosen there by these rules, which the host test
 * tests/host/test_rt_sizeclasses.c re-derives instead of trusting the table:
 *   1. Sizes increase strictly; all are multiples of 8; from 32 B on they are
 *      multiples of 16 (so 16-byte-aligned types get 16-byte-aligned objects);
 *      above 1024 B multiples of 128 (the second lookup table's granularity).
 *   2. A class's span is the smallest number of pages whose leftover after
 *      cutting objects ("tail waste") is at most 1/8 of the span.
 *   3. Rounding a request up to its class wastes at most 12.5% for requests
 *      beyond the first few classes; the two wastes multiply to at most
 *      1.266x (Go's msize.go states this bound).
 *   4. Power-of-two sizes up to the page size are naturally aligned, because
 *      spans start on 8 KiB boundaries.
 *
 * Lookup. rt_size_to_class() is O(1) with two byte tables, as Go does: sizes up
 * to 1016 index a table in steps of 8, larger ones a table in steps of 128.
 * rt_sizeclasses_init fills both from rt_class (so the tables cannot disagree
 * with it) by walking every 8th / 128th size once.
 *
 * Division. Finding an object's index from an offset inside its span is a
 * multiply and a shift: divmul = floor((2^32 - 1) / size) + 1, and
 * (offset * divmul) >> 32 == offset / size for every offset inside a span of
 * the class (checked exhaustively by the test). Go's mbitmap.go uses the same
 * identity for objIndex.
 */
#include "rt/sizeclasses.h"
#include "rt/port.h"

#define C(size, npages, nelems) { size, npages, nelems, (uint32_t)(0xffffffffu / (size) + 1u) }

/* class:              bytes  pages  objects */
const struct rt_sizeclass rt_class[RT_NUM_SIZE_CLASSES] = {
	{ 0, 0, 0, 0 },
	C(8, 1, 1024),      /*  1 */
	C(16, 1, 512),      /*  2 */
	C(24, 1, 341),      /*  3 */
	C(32, 1, 256),      /*  4 */
	C(48, 1, 170),      /*  5 */
	C(64, 1, 128),      /*  6 */
	C(80, 1, 102),      /*  7 */
	C(96, 1, 85),       /*  8 */
	C(112, 1, 73),      /*  9 */
	C(128, 1, 64),      /* 10 */
	C(144, 1, 56),      /* 11 */
	C(160, 1, 51),      /* 12 */
	C(176, 1, 46),      /* 13 */
	C(192, 1, 42),      /* 14 */
	C(208, 1, 39),      /* 15 */
	C(224, 1, 36),      /* 16 */
	C(240, 1, 34),      /* 17 */
	C(256, 1, 32),      /* 18 */
	C(288, 1, 28),      /* 19 */
	C(320, 1, 25),      /* 20 */
	C(352, 1, 23),      /* 21 */
	C(384, 1, 21),      /* 22 */
	C(416, 1, 19),      /* 23 */
	C(448, 1, 18),      /* 24 */
	C(480, 1, 17),      /* 25 */
	C(512, 1, 16),      /* 26 */
	C(576, 1, 14),      /* 27 */
	C(640, 1, 12),      /* 28 */
	C(704, 1, 11),      /* 29 */
	C(768, 1, 10),      /* 30 */
	C(896, 1, 9),       /* 31 */
	C(1024, 1, 8),      /* 32 */
	C(1152, 1, 7),      /* 33 */
	C(1280, 1, 6),      /* 34 */
	C(1408, 2, 11),     /* 35 */
	C(1536, 1, 5),      /* 36 */
	C(1792, 2, 9),      /* 37 */
	C(2048, 1, 4),      /* 38 */
	C(2304, 2, 7),      /* 39 */
	C(2688, 1, 3),      /* 40 */
	C(3072, 3, 8),      /* 41 */
	C(3200, 2, 5),      /* 42 */
	C(3456, 3, 7),      /* 43 */
	C(4096, 1, 2),      /* 44 */
	C(4864, 3, 5),      /* 45 */
	C(5376, 2, 3),      /* 46 */
	C(6144, 3, 4),      /* 47 */
	C(6528, 4, 5),      /* 48 */
	C(6784, 5, 6),      /* 49 */
	C(6912, 6, 7),      /* 50 */
	C(8192, 1, 1),      /* 51 */
	C(9472, 7, 6),      /* 52 */
	C(9728, 6, 5),      /* 53 */
	C(10240, 5, 4),     /* 54 */
	C(10880, 4, 3),     /* 55 */
	C(12288, 3, 2),     /* 56 */
	C(13568, 5, 3),     /* 57 */
	C(14336, 7, 4),     /* 58 */
	C(16384, 2, 1),     /* 59 */
	C(18432, 9, 4),     /* 60 */
	C(19072, 7, 3),     /* 61 */
	C(20480, 5, 2),     /* 62 */
	C(21760, 8, 3),     /* 63 */
	C(24576, 3, 1),     /* 64 */
	C(27264, 10, 3),    /* 65 */
	C(28672, 7, 2),     /* 66 */
	C(32768, 4, 1),     /* 67 */
};

_Static_assert(sizeof(rt_class) / sizeof(rt_class[0]) == RT_NUM_SIZE_CLASSES, "class count");

uint8_t rt_size_to_class8[RT_SMALL_SIZE_MAX / RT_SMALL_SIZE_DIV + 1];
uint8_t rt_size_to_class128[(RT_MAX_SMALL_SIZE - RT_SMALL_SIZE_MAX) / RT_LARGE_SIZE_DIV + 1];

/* The smallest class holding size bytes, by a walk of the table (init only). */
static unsigned class_for_slow(size_t size)
{
	for (unsigned c = 1; c < RT_NUM_SIZE_CLASSES; c++)
		if (rt_class[c].size >= size)
			return c;
	rt_throw("size class table: no class holds %zu bytes", size);
}

void rt_sizeclasses_init(void)
{
	RT_ASSERT(rt_class[RT_NUM_SIZE_CLASSES - 1].size == RT_MAX_SMALL_SIZE);
	for (unsigned c = 1; c < RT_NUM_SIZE_CLASSES; c++)
		RT_ASSERT_MSG(rt_class[c].nelems ==
			      rt_class[c].npages * RT_PAGE_SIZE / rt_class[c].size,
			      "size class %u: objects per span disagree with size and pages", c);
	for (size_t i = 0; i < sizeof(rt_size_to_class8); i++)
		rt_size_to_class8[i] = (uint8_t)(i == 0 ? 0 : class_for_slow(i * RT_SMALL_SIZE_DIV));
	for (size_t i = 0; i < sizeof(rt_size_to_class128); i++)
		rt_size_to_class128[i] =
			(uint8_t)class_for_slow(RT_SMALL_SIZE_MAX + i * RT_LARGE_SIZE_DIV);
}

size_t rt_roundupsize(size_t size)
{
	if (size == 0)
		return 0;
	if (size <= RT_MAX_SMALL_SIZE)
		return rt_class[rt_size_to_class(size)].size;
	if (size + RT_PAGE_SIZE < size)
		return size;
	return (size + RT_PAGE_SIZE - 1) & ~(RT_PAGE_SIZE - 1);
}
