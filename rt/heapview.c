/*
 * heapview.c - a printable view of the heap's structures, for the tour.
 *
 * memstats (mstats.c) give the totals; this shows the structures behind them:
 * the arenas with what each page is doing, and what one P's mcache holds per
 * span class. It takes the heap lock while it walks the arenas, and reads an
 * mcache without its P's cooperation, so call it only while that P is not
 * allocating (the tour calls it from the P itself).
 */
#include "rt/mcache.h"
#include "rt/mheap.h"
#include "rt/port.h"
#include "rt/rt.h"
#include "rt/sizeclasses.h"

static void print_arenas(void)
{
	rt_lock(&mheap_.lock);
	rt_printf("heap: %llu arena(s) of %llu MiB\n", (unsigned long long)mheap_.narenas,
		  (unsigned long long)(RT_ARENA_SIZE >> 20));
	for (uintptr_t i = 0; i < RT_ARENA_L1_SIZE; i++) {
		struct heaparena **l2 = mheap_.arenas[i];
		if (l2 == NULL)
			continue;
		for (uintptr_t j = 0; j < RT_ARENA_L2_SIZE; j++) {
			struct heaparena *a = l2[j];
			if (a == NULL)
				continue;
			uintptr_t inspan = 0, mapped = (a->mapped_end - a->base) / RT_PAGE_SIZE;
			for (uintptr_t pg = 0; pg < mapped; pg++) {
				struct mspan *s = a->spans[pg];
				if (s != NULL && s->state != MSPAN_FREE)
					inspan++;
			}
			uintptr_t released = mapped ? pagebits_count(a->base, mapped, 0) : 0;
			rt_printf("  arena %#lx: %lu of %lu pages (8 KiB) mapped (sys_map); %lu in spans, "
				  "%lu idle and not backed (never used or released to the OS)\n",
				  (unsigned long)a->base, (unsigned long)mapped,
				  (unsigned long)RT_PAGES_PER_ARENA, (unsigned long)inspan,
				  (unsigned long)released);
		}
	}
	rt_unlock(&mheap_.lock);
}

static void print_mcache(int p)
{
	struct mcache *c = mcache_for_p(p);
	rt_printf("mcache of P %d: cached spans by span class\n", p);
	rt_printf("  %5s %8s %6s %7s %9s %s\n", "class", "size", "kind", "objects", "allocated", "span");
	for (spanclass_t sc = 0; sc < RT_NUM_SPAN_CLASSES; sc++) {
		struct mspan *s = c->alloc[sc];
		if (s == &mspan_empty || s == NULL)
			continue;
		rt_printf("  %5u %8lu %6s %7u %9u %#lx (%lu page%s)\n", spanclass_sizeclass(sc),
			  (unsigned long)s->elemsize, spanclass_noscan(sc) ? "noscan" : "scan",
			  (unsigned)s->nelems, (unsigned)s->alloc_count, (unsigned long)s->startaddr,
			  (unsigned long)s->npages, s->npages == 1 ? "" : "s");
	}
	if (c->tiny != 0)
		rt_printf("  tiny block %#lx: %lu of 16 bytes used\n", (unsigned long)c->tiny,
			  (unsigned long)c->tinyoffset);
}

void rt_print_heap(int p)
{
	print_arenas();
	print_mcache(p);
}
