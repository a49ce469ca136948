/*
 * tour.c - the runtime part of `make run`'s tour: both views of one heap.
 *
 * The runtime (rt/) allocates a few kinds of objects on P 0; the tour prints
 * the runtime view (arenas, the mcache's spans, memstats) beside the OS view
 * (frames per owner from the frame allocator, sys_* state from mm), then
 * drops its only reference to an 8 MiB object and 4000 small ones and runs
 * a collection (rt_gc, with its gctrace line): the mark keeps the list that
 * is still referenced, the sweep frees the rest, and the scavenger returns
 * the idle pages: the frame allocator's free count shows them come back.
 * Only the runtime's public headers are used, as everywhere outside rt/.
 *
 * Then coroutines (tour_coroutines): 64 workers spread over the CPUs, and one
 * coroutine that recurses until its 4 KiB stack has been copied to 64 KiB;
 * each copy prints its old and new ranges (the runtime's copy hook), and the
 * shrink at the following safe points prints them again.
 *
 * Then the collector beside the program (tour_collector): coroutines on
 * every CPU replace a live set of small trees while cycles start by
 * themselves; a few gctrace lines show the two short stops, the mark
 * between them (assists / workers / idle Ps in the CPU field), and the
 * tour ends with the pause percentiles from MemStats' PauseNs ring.
 */
#include "kernel/tour.h"

#include <stdarg.h>

#include "kernel/diagram.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/percpu.h"
#include "kernel/sections.h"
#include "kernel/smp.h"
#include "mm/layout.h"
#include "mm/buddy.h"
#include "mm/sysmem.h"
#include "rt/mbarrier.h"
#include "rt/rt.h"
#include "rt/sched.h"
#include "rt/sys.h"

struct tour_node {
    struct tour_node *next;
    uint64_t value;
};

/* What the tour saw, for the checklist at its end (tour_checklist). Its heap
 * addresses are figures, not references: RT_NOSCAN keeps them from being roots. */
RT_NOSCAN static struct {
    uint64_t large_bytes;          /* the large object's span */
    uint32_t tiny_used;            /* bytes of P 0's tiny block after the 3 x 8 B */
    uint64_t heap_alloc, heap_inuse; /* after allocating, before the collection */
    uint64_t frames_back;          /* frames the collection and the scavenger returned */
    uint64_t freed_objects;
    uintptr_t largest_stack;       /* the biggest stack a copy made */
    uint32_t unswept_seen;         /* spans found on not-yet-swept lists just after a mark */
    uint32_t unswept_looks;        /* looks taken */
    uint32_t cycles, concurrent_cycles;
    struct rt_object_view node;    /* where the list's head sat */
    bool list_survived;
    uint32_t stack_grows, stack_shrinks;
    uint64_t pause_p50, pause_max;
    struct rt_gc_cycle last;
} seen;

static const uint8_t tour_node_ptrmask[] = {0x1}; /* word 0 (next) is a pointer */
static const struct rt_type tour_node_type = {sizeof(struct tour_node), 8, 8, tour_node_ptrmask,
                                              "tour_node"};

RT_NOSCAN static struct rt_heap_view tour_view; /* 20 KiB: not on a stack; figures, not roots */

static void os_view(const char *when)
{
    struct frame_stats st;
    frame_stats(&st);
    kprintf("OS view %s: %lu frames free; heap %lu, runtime metadata %lu, page tables %lu frames\n", when,
            st.free_frames, st.used_frames[FRAME_OWNER_HEAP], st.used_frames[FRAME_OWNER_RTMETA],
            st.used_frames[FRAME_OWNER_PAGETABLE]);
    sysmem_report();
}

/* Objects only this frame refers to: garbage once it returns (its frame is
 * below the caller's stack pointer, which the collector never reads). */
__attribute__((noinline)) static void tour_garbage(void)
{
    for (int i = 0; i < 4000; i++)
        *(volatile uint64_t *)rt_alloc(16, NULL) = (uint64_t)i;
    for (int i = 0; i < 3; i++)
        rt_alloc(8, NULL); /* tiny: packed into one 16-byte block */
    void *kib = rt_alloc(1024, NULL);
    void *large = rt_alloc(8u << 20, NULL);
    kprintf("allocated: 1000 x tour_node (16 B, scan), 4000 x 16 B noscan, 3 x 8 B tiny, 1 KiB at %p, "
            "8 MiB at %p\n", kib, large);
    struct rt_object_view o;
    if (rt_view_object(large, &o))
        seen.large_bytes = o.size;
    diagram_follow(large, "rt_alloc(8 MiB, NULL)");
}

void tour_runtime(void)
{
    kprintf("\n== the runtime heap (rt/), seen from both sides of sys_* ==\n");
    os_view("before");

    struct tour_node *list = NULL;
    for (int i = 0; i < 1000; i++) {
        struct tour_node *n = rt_new(&tour_node_type);
        n->value = (uint64_t)i;
        RT_STORE_PTR(n->next, list); /* every heap pointer store goes through the barrier */
        list = n;
    }
    tour_garbage();

    uint64_t sum = 0;
    for (struct tour_node *n = list; n; n = n->next)
        sum += n->value;
    kprintf("list walk: sum of values %lu (expected %d)\n", sum, 999 * 1000 / 2);
    diagram_follow(list, "rt_new(&tour_node_type)");
    rt_view_object(list, &seen.node);

    rt_print_heap(0);
    rt_print_memstats();
    os_view("after allocating");
    kprintf("\nthe same memory drawn: the runtime's structures, then both views together\n");
    diagram_rt();
    diagram_both();

    struct rt_memstats before, after;
    rt_read_memstats(&before);
    struct rt_heap_view *v = &tour_view;
    rt_read_heap_view(v);
    seen.tiny_used = v->procs[0].tiny_used;
    seen.heap_alloc = before.heap_alloc;
    seen.heap_inuse = before.heap_inuse;
    uint64_t free_before_gc = frame_free_count();
    kprintf("\nnothing points to the 8 MiB object or the 4000 small ones any more; the list is still "
            "referenced. A collection (gctrace=1):\n");
    rt_gc_set_trace(true);
    rt_gc(); /* mark from the roots (this stack, globals), then sweep */
    rt_gc_set_trace(false);
    rt_read_memstats(&after);
    kprintf("collected: %lu objects freed, HeapAlloc %lu -> %lu KiB, HeapInuse %lu -> %lu KiB, NumGC %u\n",
            (unsigned long)(after.frees - before.frees), (unsigned long)(before.heap_alloc >> 10),
            (unsigned long)(after.heap_alloc >> 10), (unsigned long)(before.heap_inuse >> 10),
            (unsigned long)(after.heap_inuse >> 10), after.num_gc);
    sum = 0;
    for (struct tour_node *n = list; n; n = n->next)
        sum += n->value;
    kprintf("the list survived: sum of values %lu (expected %d)\n", sum, 999 * 1000 / 2);
    seen.list_survived = sum == 999 * 1000 / 2;

    uint64_t free0 = frame_free_count();
    rt_free_os_memory();
    uint64_t free1 = frame_free_count();
    seen.freed_objects = after.frees - before.frees;
    seen.frames_back = free1 > free_before_gc ? free1 - free_before_gc : 0;
    kprintf("frames back in the frame allocator: %ld from the collection (its sweep freed the spans and "
            "rt_gc scavenged down to the retained goal, HeapInuse + 10%%), %ld more from rt_free_os_memory "
            "(Go's debug.FreeOSMemory)\n",
            (long)(free0 - free_before_gc), (long)(free1 - free0));
    os_view("after collecting and scavenging");
    kprintf("the OS's diagram now: the heap region's frames went back to the free count\n");
    diagram_os();
    smp_report(); /* each CPU, its P, its frame cache: live */
}

/* ---- coroutines ---- */

#define TOUR_WORKERS 64
static volatile uint64_t tour_ran_on[MAX_CPUS];
static volatile uint64_t tour_done;

static void tour_worker(void *arg)
{
    (void)arg;
    for (int round = 0; round < 4; round++) {
        for (volatile int i = 0; i < 50000; i++)
            ;
        rt_gosched();   /* back to the queue: idle CPUs steal from it */
    }
    __atomic_add_fetch(&tour_ran_on[cpu_id()], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&tour_done, 1, __ATOMIC_RELAXED);
}

__attribute__((noinline)) static uint64_t tour_deep(uint64_t n)
{
    volatile char frame[1000];
    frame[0] = (char)n;
    struct rt_stack_info si;
    rt_stack_info(&si);
    if (si.used < (60u << 10))
        return tour_deep(n + 1) + frame[0];
    return frame[0];
}

static void tour_copy_hook(uint64_t goid, uintptr_t old_lo, uintptr_t old_hi, uintptr_t new_lo, uintptr_t new_hi,
                           uintptr_t used)
{
    if (new_hi - new_lo > seen.largest_stack)
        seen.largest_stack = new_hi - new_lo;
    kprintf("  coroutine %lu on CPU %u: stack [%#lx, %#lx) %3lu KiB -> [%#lx, %#lx) %3lu KiB (%lu bytes in use)\n",
            (unsigned long)goid, cpu_id(), (unsigned long)old_lo, (unsigned long)old_hi,
            (unsigned long)((old_hi - old_lo) >> 10), (unsigned long)new_lo, (unsigned long)new_hi,
            (unsigned long)((new_hi - new_lo) >> 10), (unsigned long)used);
}

static void tour_grower(void *arg)
{
    (void)arg;
    tour_deep(0);
    for (int i = 0; i < 6; i++)
        rt_gosched();   /* safe points: the stack shrinks back */
    __atomic_add_fetch(&tour_done, 1, __ATOMIC_RELAXED);
}

static void tour_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < TOUR_WORKERS; i++)
        rt_go(tour_worker, NULL);
    rt_go(tour_grower, NULL);
    while (__atomic_load_n(&tour_done, __ATOMIC_RELAXED) < TOUR_WORKERS + 1)
        rt_sleep(1000000);
}

/* ---- the collector beside the program ---- */

#define TOUR_GC_SLOTS 2048
#define TOUR_GC_TRACE_CYCLES 6
#define TOUR_GC_ROUNDS 200000   /* lists of 8 made, over all CPUs: about 25 MiB, 8 cycles */
static struct tour_node *tour_live[TOUR_GC_SLOTS];
static uint32_t tour_gc_seen_num;   /* NumGC at the last look (from tour_gc_num0: the first look waits for a mark) */
static volatile uint64_t tour_gc_done;
static uint32_t tour_gc_num0;

static void tour_churner(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    int rounds = TOUR_GC_ROUNDS / (int)cpu_count();   /* the same garbage whatever the CPUs */
    for (int round = 0; round < rounds; round++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        struct tour_node *head = NULL;
        for (int i = 0; i < 8; i++) {   /* a fresh list of 8 replaces one slot's */
            struct tour_node *n = rt_new(&tour_node_type);
            n->value = (uint64_t)round;
            RT_STORE_PTR(n->next, head);
            head = n;
        }
        RT_STORE_PTR(tour_live[seed % TOUR_GC_SLOTS], head);
        struct rt_gc_cycle c;
        if (round % 256 == 0) {
            rt_gc_last_cycle(&c);
            if (c.num_gc - tour_gc_num0 >= TOUR_GC_TRACE_CYCLES)
                rt_gc_set_trace(false);
            if (arg == (void *)1 && c.num_gc != tour_gc_seen_num) {   /* a mark just ended: lazy sweep */
                tour_gc_seen_num = c.num_gc;
                rt_read_heap_view(&tour_view);
                uint32_t unswept = 0;
                for (unsigned k = 0; k < RT_VIEW_CLASSES; k++)
                    unswept += tour_view.classes[k].unswept;
                seen.unswept_seen += unswept;
                seen.unswept_looks++;
            }
        }
    }
    __atomic_add_fetch(&tour_gc_done, 1, __ATOMIC_RELAXED);
}

static void tour_gc_main(void *arg)
{
    (void)arg;
    unsigned n = cpu_count();
    for (unsigned i = 0; i < n; i++)
        rt_go(tour_churner, (void *)(uintptr_t)(i + 1));
    while (__atomic_load_n(&tour_gc_done, __ATOMIC_RELAXED) < n)
        rt_sleep(1000000);
    for (int i = 0; i < TOUR_GC_SLOTS; i++)
        RT_STORE_PTR(tour_live[i], NULL);
}

static void tour_collector(void)
{
    kprintf("\n== the collector beside the program: %u coroutines replace lists while cycles start by "
            "themselves (the first %d gctrace lines) ==\n", cpu_count(), TOUR_GC_TRACE_CYCLES);
    struct rt_memstats m0, m1;
    rt_read_memstats(&m0);
    tour_gc_num0 = m0.num_gc;
    tour_gc_seen_num = m0.num_gc;
    rt_gc_set_trace(true);
    rt_run(tour_gc_main, NULL, 0);
    rt_gc_set_trace(false);
    rt_read_memstats(&m1);
    struct rt_gc_cycle c;
    rt_gc_last_cycle(&c);
    unsigned np = m1.num_gc - m0.num_gc < 256 ? m1.num_gc - m0.num_gc : 256;
    kprintf("  %u cycles; pause per cycle (both stops; the last %u): p50 %lu us, p99 %lu us, max %lu us "
            "(TCG: compare within this run)\n", m1.num_gc - m0.num_gc, np,
            (unsigned long)(rt_pause_percentile(&m1, m0.num_gc, 50) / 1000),
            (unsigned long)(rt_pause_percentile(&m1, m0.num_gc, 99) / 1000),
            (unsigned long)(rt_pause_percentile(&m1, m0.num_gc, 100) / 1000));
    seen.cycles = m1.num_gc;
    seen.concurrent_cycles = m1.num_gc - m0.num_gc;
    seen.pause_p50 = rt_pause_percentile(&m1, m0.num_gc, 50);
    seen.pause_max = rt_pause_percentile(&m1, m0.num_gc, 100);
    seen.last = c;
    kprintf("  the last cycle: heap %lu -> %lu -> %lu KiB for a %lu KiB goal; scan work %lu KiB, of it assists "
            "%lu KiB and workers %lu KiB beside the program\n",
            (unsigned long)(c.heap_start >> 10), (unsigned long)(c.heap_end >> 10),
            (unsigned long)(c.heap_marked >> 10), (unsigned long)(c.goal >> 10), (unsigned long)(c.scan_work >> 10),
            (unsigned long)(c.assist_work >> 10), (unsigned long)(c.background_work >> 10));
    char per_p[200];
    size_t n = 0;
    per_p[0] = '\0';
    for (unsigned p = 0; p < cpu_count() && p < RT_MAX_PROCS && n + 40 < sizeof per_p; p++)
        n += (size_t)ksnprintf(per_p + n, sizeof per_p - n, "%sP%u %lu (%lu KiB)", p ? ", " : "", p,
                               (unsigned long)c.objs_marked[p], (unsigned long)(c.bytes_marked[p] >> 10));
    kprintf("  objects it marked, per P (the markers running there: assists, workers, the stops): %s\n", per_p);
    kprintf("  the sweep of the cycle before it: %lu spans swept, %lu pages (%lu KiB) given back to the heap\n",
            (unsigned long)c.spans_swept, (unsigned long)c.pages_freed, (unsigned long)(c.pages_freed * 8));
}

void tour_coroutines(void)
{
    kprintf("\n== coroutines: %d workers on %u CPUs, and a stack growing by copy ==\n", TOUR_WORKERS,
            cpu_count());
    rt_set_stack_copy_hook(tour_copy_hook);
    uint64_t t0 = rt_nanotime();
    rt_run(tour_main, NULL, 0);
    uint64_t t1 = rt_nanotime();
    rt_set_stack_copy_hook(NULL);
    for (unsigned c = 0; c < cpu_count(); c++)
        kprintf("  CPU %u finished %lu workers\n", c, (unsigned long)tour_ran_on[c]);
    struct rt_sched_stats ss;
    rt_read_sched_stats(&ss);
    seen.stack_grows = (uint32_t)ss.stack_grows;
    seen.stack_shrinks = (uint32_t)ss.stack_shrinks;
    kprintf("  %lu coroutines created, %lu stack growths, %lu shrinks, %lu preemptions; %lu us; "
            "stacks held after the world ended: %lu\n",
            (unsigned long)ss.created, (unsigned long)ss.stack_grows, (unsigned long)ss.stack_shrinks,
            (unsigned long)(ss.preempt_async + ss.preempt_sync), (unsigned long)((t1 - t0) / 1000),
            (unsigned long)ss.stacks_inuse);
    tour_collector();
}

/* ---- the checklist ---- */

static unsigned check_done, check_total;

KPRINTF_FMT(3, 4) static void check(bool shown, const char *concept, const char *fmt, ...)
{
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    check_total++;
    check_done += shown;
    kprintf("  [%c] %-34s %s\n", shown ? 'x' : ' ', concept, buf);
}

static struct rt_memstats tour_ms;

void tour_checklist(void)
{
    struct rt_memstats *m = &tour_ms;
    rt_read_memstats(m);
    rt_read_heap_view(&tour_view);
    kprintf("\n== what the tour showed (each with the value it saw) ==\n");
    check((uintptr_t)__text_end > (uintptr_t)__text_start && (uintptr_t)__bss_end > (uintptr_t)__bss_start,
          "text, data, bss, heap, stack",
          "text %lu KiB, data %lu KiB, bss %lu KiB in the image; heap at 0x%lx, stacks at 0x%lx (the OS diagram)",
          (unsigned long)((__text_end - __text_start) >> 10), (unsigned long)((__data_end - __data_start) >> 10),
          (unsigned long)((__bss_end - __bss_start) >> 10), (unsigned long)layout_regions[REGION_RT_HEAP].base,
          (unsigned long)layout_regions[REGION_RT_STACK].base);
    check(tour_view.narenas > 0, "arenas", "%u arena(s) of 64 MiB, arena 0 at 0x%lx with its span map at 0x%lx",
          tour_view.narenas, (unsigned long)tour_view.arenas[0].base, (unsigned long)tour_view.arenas[0].meta);
    check(seen.node.span != 0 && seen.node.mcentral != 0, "mheap, mspan, mcentral, mcache",
          "the list's head: slot %u of span 0x%lx (struct at 0x%lx), from mcentral 0x%lx, %s", seen.node.slot,
          (unsigned long)seen.node.span, (unsigned long)seen.node.mspan, (unsigned long)seen.node.mcentral,
          seen.node.list ? seen.node.list : "?");
    unsigned classes = 0;
    for (unsigned c = 1; c < 68; c++)
        classes += m->by_size[c].mallocs != 0;
    check(classes > 1, "size classes", "%u of Go's 67 size classes allocated from in this boot (MemStats BySize)",
          classes);
    check(seen.tiny_used > 0 && seen.large_bytes >= (8u << 20) && seen.node.sizeclass != 0,
          "tiny, small and large objects",
          "3 x 8 B packed in 16-byte tiny blocks (%u B of the last used); 16 B in size class %u; 8 MiB in a "
          "span of its own (%lu pages)", seen.tiny_used, seen.node.sizeclass,
          (unsigned long)(seen.large_bytes >> 13));
    check(seen.largest_stack >= (64u << 10) && seen.stack_shrinks > 0, "stacks start small and double",
          "4 KiB at first; a deep coroutine grew to %lu KiB in %u copies and shrank %u times",
          (unsigned long)(seen.largest_stack >> 10), seen.stack_grows, seen.stack_shrinks);
    check(seen.freed_objects > 0 && seen.list_survived, "tri-color marking",
          "the forced cycle kept the referenced list (sum checked) and freed %lu unreachable objects; the last "
          "cycle marked %lu KiB live", (unsigned long)seen.freed_objects,
          (unsigned long)(seen.last.heap_marked >> 10));
    check(seen.concurrent_cycles > 0, "stop-the-world phases",
          "2 short stops per cycle (sweep termination, mark termination) over %u cycles beside the program: "
          "pause p50 %lu us, max %lu us", seen.concurrent_cycles, (unsigned long)(seen.pause_p50 / 1000),
          (unsigned long)(seen.pause_max / 1000));
    check(seen.last.concurrent && seen.last.background_work + seen.last.assist_work > 0, "the write barrier",
          "on while %u marks ran beside the program; the last one's work beside it: %lu KiB (assists and "
          "workers), every store through RT_STORE_PTR", seen.concurrent_cycles,
          (unsigned long)((seen.last.background_work + seen.last.assist_work) >> 10));
    int gogc = rt_set_gc_percent(100);
    rt_set_gc_percent(gogc);
    check(seen.last.goal > 0 && seen.last.next_goal > 0, "GOGC pacing",
          "GOGC=%d: the last cycle aimed at %lu KiB (Go's 4 MiB minimum: little is live), ended its mark at %lu "
          "KiB and found %lu KiB live: the next goal is %lu KiB", gogc, (unsigned long)(seen.last.goal >> 10),
          (unsigned long)(seen.last.heap_end >> 10), (unsigned long)(seen.last.heap_marked >> 10),
          (unsigned long)(seen.last.next_goal >> 10));
    check(seen.unswept_seen > 0, "lazy sweeping",
          "just after %u marks, %u spans in all were still on mcentral's not-yet-swept lists: swept at refill and "
          "by the background sweeper", seen.unswept_looks, seen.unswept_seen);
    check(seen.frames_back > 0, "the scavenger",
          "%lu frames (%lu KiB) went back to the frame allocator after the forced collection (sys_unused)",
          (unsigned long)seen.frames_back, (unsigned long)(seen.frames_back * 4));
    uint64_t sum = m->heap_sys + m->stack_sys + m->mspan_sys + m->mcache_sys + m->buckhash_sys + m->gc_sys +
                   m->other_sys;
    check(sum == m->sys, "MemStats",
          "Sys %lu KiB = HeapSys + StackSys + MSpanSys + MCacheSys + BuckHashSys + GCSys + OtherSys (%lu KiB); "
          "NumGC %u", (unsigned long)(m->sys >> 10), (unsigned long)(sum >> 10), m->num_gc);
    check(seen.heap_inuse >= seen.heap_alloc && seen.heap_alloc > 0, "fragmentation",
          "after allocating: HeapInuse %lu KiB in spans vs HeapAlloc %lu KiB in objects: %lu KiB of span slots "
          "unused", (unsigned long)(seen.heap_inuse >> 10), (unsigned long)(seen.heap_alloc >> 10),
          (unsigned long)((seen.heap_inuse - seen.heap_alloc) >> 10));
    kprintf("  %u of %u concepts shown\n", check_done, check_total);
}
