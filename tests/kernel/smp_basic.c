/*
 * smp_basic.c - every CPU at work: reporting in, IPI round trips, TLB
 * shootdown, and frames and heap objects allocated on all CPUs at once.
 * With --smp 1 these still run (on one CPU) and check what they can.
 */
#include "kernel/crash.h"
#include "kernel/krun.h"
#include "kernel/ktest.h"
#include "kernel/lapic.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "kernel/smp.h"
#include "kernel/lib/string.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "mm/buddy.h"
#include "mm/layout.h"
#include "mm/paging.h"
#include "rt/rt.h"

static volatile uint32_t seen_apic[MAX_CPUS];
static volatile uint32_t seen_id[MAX_CPUS];

static void report_in(void *arg)
{
    (void)arg;
    unsigned me = cpu_id();
    seen_apic[me] = lapic_id();
    seen_id[me] = this_cpu()->id + 1; /* +1: 0 means "did not run" */
}

KTEST(smp_report_in, "smp.cpus_report_in")
{
    unsigned n = cpu_count();
    memset((void *)seen_apic, 0xff, sizeof(seen_apic));
    memset((void *)seen_id, 0, sizeof(seen_id));
    smp_run_on_all(report_in, NULL);
    for (unsigned c = 0; c < n; c++) {
        KT_EQ(seen_id[c], c + 1);
        KT_EQ(seen_apic[c], cpus[c].apic_id);
        for (unsigned d = 0; d < c; d++)
            KT_NE(seen_apic[c], seen_apic[d]); /* every CPU its own LAPIC */
    }
    ktest_diag("%u CPU(s) reported in", n);
}

static void nothing(void *arg) { (void)arg; }

KTEST(smp_ipi_round_trip, "smp.ipi_round_trip")
{
    unsigned n = cpu_count();
    for (unsigned c = 1; c < n; c++) {
        uint64_t t0 = nanotime();
        for (int i = 0; i < 100; i++)
            smp_run_on(c, nothing, NULL);
        ktest_diag("CPU 0 -> CPU %u -> CPU 0: %llu us per round trip", c,
                   (unsigned long long)((nanotime() - t0) / 100 / 1000));
    }
    KT_GE(n, 1);
}

/* A page mapped, read on another CPU (so its TLB holds it), unmapped here:
 * the other CPU must fault on its next read, not read the stale frame. */
struct probe {
    uint64_t va;
    bool faulted;
    uint64_t value;
};

static void probe_read(void *arg)
{
    struct probe *p = arg;
    struct trap_catch c;
    trap_catch_push(&c, false);
    if (kjmp_save(&c.resume) == 0) {
        p->value = *(volatile uint64_t *)p->va;
        trap_catch_pop(&c);
        p->faulted = false;
    } else {
        p->faulted = c.fault.vector == VEC_PF && c.fault.cr2 == p->va;
    }
}

KTEST(smp_tlb_shootdown, "smp.tlb_shootdown")
{
    if (cpu_count() < 2) {
        ktest_diag("one CPU: nothing to shoot down (run with --smp 2 or more)");
        return;
    }
    uint64_t va = LAYOUT_KVMAP_BASE + (16ull << 20);
    phys_addr_t pa = frame_alloc(0, FRAME_ZERO, FRAME_OWNER_TEST);
    KT_NE(pa, 0);
    *(uint64_t *)frame_virt(pa) = 0x5107ed;
    KT_EQ(vm_map(va, pa, PAGE_SIZE, VM_WRITE), 0);
    for (unsigned c = 1; c < cpu_count(); c++) {
        struct probe p = {va, true, 0};
        smp_run_on(c, probe_read, &p);
        KT_ASSERT(!p.faulted);
        KT_EQ(p.value, 0x5107ed); /* now in CPU c's TLB */
    }
    vm_unmap(va, PAGE_SIZE, false);
    for (unsigned c = 1; c < cpu_count(); c++) {
        struct probe p = {va, false, 0};
        smp_run_on(c, probe_read, &p);
        KT_ASSERT(p.faulted); /* the stale entry is gone on CPU c too */
    }
    frame_free(pa, 0);
}

/* Every CPU allocates and frees frames in a pattern of orders; each block is
 * stamped with its owner and checked before it is freed. */
#define FRAMES_PER_CPU 256
static phys_addr_t held[MAX_CPUS][FRAMES_PER_CPU];
static volatile uint64_t frame_errors;

static void frames_worker(void *arg)
{
    unsigned me = cpu_id(), rounds = (unsigned)(uintptr_t)arg;
    for (unsigned r = 0; r < rounds; r++) {
        for (unsigned i = 0; i < FRAMES_PER_CPU; i++) {
            unsigned order = (i + r) % 3;
            held[me][i] = frame_alloc(order, 0, FRAME_OWNER_TEST);
            if (held[me][i] == 0) {
                __atomic_add_fetch(&frame_errors, 1, __ATOMIC_RELAXED);
                continue;
            }
            uint64_t *w = frame_virt(held[me][i]);
            w[0] = ((uint64_t)me << 32) | i;
        }
        for (unsigned i = 0; i < FRAMES_PER_CPU; i++) {
            if (held[me][i] == 0)
                continue;
            uint64_t *w = frame_virt(held[me][i]);
            if (w[0] != (((uint64_t)me << 32) | i))
                __atomic_add_fetch(&frame_errors, 1, __ATOMIC_RELAXED);
            frame_free(held[me][i], (i + r) % 3);
        }
    }
}

KTEST(smp_frames_concurrent, "smp.frames_concurrent")
{
    uint64_t free0 = frame_free_count();
    frame_errors = 0;
    uint64_t t0 = nanotime();
    smp_run_on_all(frames_worker, (void *)(uintptr_t)2);
    ktest_diag("%u CPUs x 2 rounds x %d blocks (orders 0-2; order 0 overflows each CPU cache): %llu ms", cpu_count(), FRAMES_PER_CPU,
               (unsigned long long)((nanotime() - t0) / 1000000));
    KT_EQ(frame_errors, 0);
    KT_EQ(frame_free_count(), free0); /* exact after all CPUs freed everything */
    buddy_verify();
}

/* Every CPU allocates objects through its own P's mcache and checks them all. */
#define OBJS_PER_CPU 2000
static volatile uint64_t heap_errors;

static void heap_worker(void *arg)
{
    (void)arg;
    unsigned me = cpu_id();
    static uint64_t *objs[MAX_CPUS][OBJS_PER_CPU];
    for (unsigned i = 0; i < OBJS_PER_CPU; i++) {
        size_t size = 16 + (i % 7) * 40;
        uint64_t *o = rt_alloc(size, NULL);
        if (o[0] != 0)
            __atomic_add_fetch(&heap_errors, 1, __ATOMIC_RELAXED); /* must be zeroed */
        for (size_t w = 0; w < size / 8; w++)
            o[w] = ((uint64_t)me << 48) | ((uint64_t)i << 16) | w;
        objs[me][i] = o;
    }
    for (unsigned i = 0; i < OBJS_PER_CPU; i++) {
        size_t size = 16 + (i % 7) * 40;
        for (size_t w = 0; w < size / 8; w++)
            if (objs[me][i][w] != (((uint64_t)me << 48) | ((uint64_t)i << 16) | w))
                __atomic_add_fetch(&heap_errors, 1, __ATOMIC_RELAXED);
    }
}

KTEST_KEEPS_FRAMES(smp_heap_concurrent, "smp.heap_concurrent")
{
    heap_errors = 0;
    smp_run_on_all(heap_worker, NULL);
    KT_EQ(heap_errors, 0);
    struct rt_memstats m;
    rt_read_memstats(&m);
    KT_EQ(m.heap_idle + m.heap_inuse, m.heap_sys);
    ktest_diag("%u CPUs x %d objects, each checked; HeapObjects %llu", cpu_count(), OBJS_PER_CPU,
               (unsigned long long)m.heap_objects);
}

/* For the failure-path boot: a panic on an application processor. */
static void panic_here(void *arg)
{
    (void)arg;
    panic("deliberate panic on CPU %u", cpu_id());
}

KRUN(smp_ap_panic, "smp.ap_panic", "panic on CPU 1: the report must name it and end the run")
{
    if (cpu_count() < 2)
        panic("smp.ap_panic needs --smp 2 or more");
    smp_run_on(1, panic_here, NULL);
}
