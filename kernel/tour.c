/*
 * tour.c - the runtime part of `make run`'s tour: both views of one heap.
 *
 * The runtime (rt/) allocates a few kinds of objects on P 0; the tour prints
 * the runtime view (arenas, the mcache's spans, memstats) beside the OS view
 * (frames per owner from the frame allocator, sys_* state from mm), then
 * frees one large span by hand (what the sweeper will do once the collector
 * exists) and asks the scavenger to return idle pages: the frame allocator's
 * free count shows them come back.
 */
#include "kernel/tour.h"

#include "kernel/kprintf.h"
#include "kernel/smp.h"
#include "mm/buddy.h"
#include "mm/sysmem.h"
#include "rt/mheap.h"
#include "rt/rt.h"

struct tour_node {
    struct tour_node *next;
    uint64_t value;
};

static const uint8_t tour_node_ptrmask[] = {0x1}; /* word 0 (next) is a pointer */
static const struct rt_type tour_node_type = {sizeof(struct tour_node), 8, 8, tour_node_ptrmask,
                                              "tour_node"};

static void os_view(const char *when)
{
    struct frame_stats st;
    frame_stats(&st);
    kprintf("OS view %s: %lu frames free; heap %lu, runtime metadata %lu, page tables %lu frames\n", when,
            st.free_frames, st.used_frames[FRAME_OWNER_HEAP], st.used_frames[FRAME_OWNER_RTMETA],
            st.used_frames[FRAME_OWNER_PAGETABLE]);
    sysmem_report();
}

void tour_runtime(void)
{
    kprintf("\n== the runtime heap (rt/), seen from both sides of sys_* ==\n");
    os_view("before");

    struct tour_node *list = NULL;
    for (int i = 0; i < 1000; i++) {
        struct tour_node *n = rt_new(&tour_node_type);
        n->value = (uint64_t)i;
        n->next = list; /* a store into a fresh object: no barrier needed yet */
        list = n;
    }
    for (int i = 0; i < 4000; i++)
        *(volatile uint64_t *)rt_alloc(16, NULL) = (uint64_t)i;
    for (int i = 0; i < 3; i++)
        rt_alloc(8, NULL); /* tiny: packed into one 16-byte block */
    void *kib = rt_alloc(1024, NULL);
    void *large = rt_alloc(8u << 20, NULL);
    kprintf("allocated: 1000 x tour_node (16 B, scan), 4000 x 16 B noscan, 3 x 8 B tiny, 1 KiB at %p, "
            "8 MiB at %p\n", kib, large);

    uint64_t sum = 0;
    for (struct tour_node *n = list; n; n = n->next)
        sum += n->value;
    kprintf("list walk: sum of values %lu (expected %d)\n", sum, 999 * 1000 / 2);

    rt_print_heap(0);
    rt_print_memstats();
    os_view("after allocating");

    uint64_t free0 = frame_free_count();
    mheap_free_large(spanof(large)); /* what the sweeper will do for an unreachable object */
    rt_free_os_memory();
    uint64_t free1 = frame_free_count();
    kprintf("freed the 8 MiB span by hand and ran the scavenger (rt_free_os_memory): %lu frames "
            "(%lu KiB) went back to the frame allocator\n",
            free1 - free0, (free1 - free0) * 4);
    os_view("after scavenging");
    smp_report(); /* each CPU, its P, its frame cache: live */
}
