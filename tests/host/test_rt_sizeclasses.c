/*
 * test_rt_sizeclasses.c - checks the size-class table's properties instead of
 * trusting it (rules in rt/sizeclasses.c), and the O(1) lookup against a
 * linear search for every size.
 */
#include "rt/sizeclasses.h"
#include "tests/host/tap.h"

static bool pow2(unsigned x) { return x != 0 && (x & (x - 1)) == 0; }

int main(void)
{
	rt_sizeclasses_init();
	bool ok;

	tap_check(RT_NUM_SIZE_CLASSES == 68 && rt_class[0].size == 0,
		  "68 classes counting class 0 (large)");

	ok = true;
	for (unsigned c = 2; c < RT_NUM_SIZE_CLASSES; c++)
		if (rt_class[c].size <= rt_class[c - 1].size) {
			tap_diag("class %u size %u <= class %u size %u", c, rt_class[c].size, c - 1,
				 rt_class[c - 1].size);
			ok = false;
		}
	tap_check(ok && rt_class[RT_NUM_SIZE_CLASSES - 1].size == RT_MAX_SMALL_SIZE,
		  "sizes strictly increase up to 32 KiB");

	ok = true;
	for (unsigned c = 1; c < RT_NUM_SIZE_CLASSES; c++) {
		unsigned s = rt_class[c].size;
		if (s % 8 != 0 || (s >= 32 && s % 16 != 0) || (s > 1024 && s % 128 != 0)) {
			tap_diag("class %u size %u breaks the alignment rule", c, s);
			ok = false;
		}
	}
	tap_check(ok, "sizes: multiples of 8; of 16 from 32 B; of 128 above 1 KiB");

	ok = true;
	for (unsigned c = 1; c < RT_NUM_SIZE_CLASSES; c++) {
		unsigned s = rt_class[c].size, lowbit = s & -s;
		unsigned align = lowbit < RT_PAGE_SIZE ? lowbit : (unsigned)RT_PAGE_SIZE;
		/* every slot offset i*s inside an 8 KiB-aligned span is a multiple of align */
		for (unsigned i = 0; i < rt_class[c].nelems; i++)
			if ((i * s) % align != 0)
				ok = false;
		if (pow2(s) && s <= RT_PAGE_SIZE && align != s)
			ok = false;
		if (s >= 16 && align < 16 && s != 24) {
			tap_diag("class %u (%u B) gives only %u-byte alignment", c, s, align);
			ok = false;
		}
	}
	tap_check(ok, "power-of-two sizes are naturally aligned; 16-byte alignment from 16 B (24 B: 8)");

	ok = true;
	for (unsigned c = 1; c < RT_NUM_SIZE_CLASSES; c++) {
		const struct rt_sizeclass *k = &rt_class[c];
		uintptr_t span = k->npages * RT_PAGE_SIZE;
		if (k->npages < 1 || k->nelems < 1 || k->nelems != span / k->size) {
			tap_diag("class %u: %u pages, %u objects of %u B", c, k->npages, k->nelems, k->size);
			ok = false;
		}
		if (k->nelems > 1024 || (k->npages > 1 && k->nelems < 2 && k->size <= RT_PAGE_SIZE))
			ok = false;
	}
	tap_check(ok, "objects per span == pages * 8 KiB / size, between 1 and 1024");

	ok = true;
	for (unsigned c = 1; c < RT_NUM_SIZE_CLASSES; c++) {
		uintptr_t span = rt_class[c].npages * RT_PAGE_SIZE, tail = span % rt_class[c].size;
		if (tail * 8 > span) {
			tap_diag("class %u: tail waste %lu of %lu", c, (unsigned long)tail,
				 (unsigned long)span);
			ok = false;
		}
	}
	tap_check(ok, "tail waste <= 1/8 of the span (Go's page-count rule)");

	ok = true;
	unsigned worst = 0;
	double worst_w = 0;
	for (unsigned c = 1; c < RT_NUM_SIZE_CLASSES; c++) {
		const struct rt_sizeclass *k = &rt_class[c];
		unsigned prev = rt_class[c - 1].size;
		uintptr_t span = k->npages * RT_PAGE_SIZE, tail = span % k->size;
		/* worst case: every object is prev+1 bytes */
		double w = (double)((k->size - prev - 1) * k->nelems + tail) / (double)span;
		if (k->size >= 80 && w > 1.0 - 1.0 / 1.266) {
			tap_diag("class %u (%u B): max waste %.2f%%", c, k->size, w * 100);
			ok = false;
		}
		if (c == 1 && (w < 0.874 || w > 0.876))
			ok = false;   /* 8-byte class: a 1-byte object wastes 7/8 */
		if (k->size >= 80 && w > worst_w) {
			worst_w = w;
			worst = c;
		}
	}
	tap_diag("worst max waste from 80 B on: class %u, %.2f%%", worst, worst_w * 100);
	tap_check(ok, "max internal fragmentation within Go's 1.266x bound from 80 B on");

	ok = true;
	for (size_t size = 1; size <= RT_MAX_SMALL_SIZE; size++) {
		unsigned c = rt_size_to_class(size), want = 1;
		while (rt_class[want].size < size)
			want++;
		if (c != want) {
			if (ok)
				tap_diag("size %zu -> class %u, smallest fitting is %u", size, c, want);
			ok = false;
		}
	}
	tap_check(ok, "size_to_class(n) is the smallest fitting class for every n in 1..32768");

	ok = true;
	for (unsigned c = 1; c < RT_NUM_SIZE_CLASSES; c++) {
		uintptr_t span = rt_class[c].npages * RT_PAGE_SIZE;
		for (uintptr_t off = 0; off < span; off++)
			if ((uintptr_t)(((uint64_t)off * rt_class[c].divmul) >> 32) != off / rt_class[c].size) {
				if (ok)
					tap_diag("class %u offset %lu: magic division wrong", c,
						 (unsigned long)off);
				ok = false;
				break;
			}
	}
	tap_check(ok, "divmul gives offset / size exactly for every byte offset of every span");

	tap_check(rt_roundupsize(1) == 8 && rt_roundupsize(17) == 24 && rt_roundupsize(1025) == 1152 &&
		  rt_roundupsize(32769) == 40960 && rt_roundupsize(65536) == 65536,
		  "roundupsize: classes below 32 KiB, whole pages above");

	return tap_done();
}
