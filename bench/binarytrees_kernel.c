/*
 * binarytrees_kernel.c - `run=bench.binarytrees [bt_depth=N]`: binary-trees
 * (program and method in bench/binarytrees.h) in the kernel, ours with one P
 * per online CPU (boot with scripts/qemu --smp 1 or --smp 4), depth N from
 * the command line (default BT_KERNEL_DEFAULT_DEPTH).
 *
 * Prints the program's output exactly as the hosted implementations do (its
 * lines alone, so bench/run-gc can compare them with Go's), then a readable
 * line and a parse line:
 *   bench.binarytrees: depth 16, 4 P, wall 1.234567 s, num_gc 12, pause_total_ns 345678
 *   BENCH binarytrees kernel-p4 16 1234567000 12 345678 20000 41000 45000
 *     (wall ns, cycles, pause ns; each cycle's pause p50, p99, max over the
 *     last 256 cycles, nearest rank)
 * Wall time is rt_nanotime around rt_run, under TCG emulation: compare it
 * with other kernel rows, never with hosted ones (bench/README.md).
 *
 * Without a collector (BENCH_RT_HAS_GC 0, from bench/build.mk) nothing is
 * reclaimed, so a depth whose allocation would take more than half of the
 * free frames is refused up front with a message, rather than ending in the
 * runtime's out-of-memory panic.
 *
 * `run=bench.binarytrees.plot [bt_depth=N]` (make plot, scripts/plot) runs the
 * same program with a sampler coroutine beside it (every PLOT_SAMPLE_MS of
 * rt_nanotime): the heap's figures and the frame allocator's, kept in a
 * buffer from the heap itself (pointer-free, never scanned), printed after
 * the run as lines the plot script reads:
 *   plot: T_MS HEAP_ALLOC MARKED GOAL HEAP_SYS RELEASED STACKS HEAP_FRAMES FREE_FRAMES NUM_GC   (KiB)
 *   plotgc: N END_MS PAUSE_US   (each cycle of the run, from MemStats' pause ring)
 *
 * This file runs outside any coroutine (it prints); the program runs in
 * bench/binarytrees_rt.c (the sampler too: plot_sample runs in a coroutine).
 */
#include "bench/binarytrees.h"
#include "kernel/krun.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "mm/buddy.h"
#include "mm/paging.h"
#include "rt/rt.h"
#include "rt/sched.h"

#ifndef BENCH_RT_HAS_GC
#error "build with -DBENCH_RT_HAS_GC=0 or 1 (bench/build.mk)"
#endif

#define BT_KERNEL_DEFAULT_DEPTH 16
_Static_assert(CMDLINE_BT_DEPTH_MAX == BT_MAX_DEPTH, "bt_depth=N takes what bench/binarytrees.c can run");

/* Static: written by the main coroutine, read after rt_run returns. */
static struct bt_rt_job job;

#define PLOT_SAMPLE_MS 5
#define PLOT_MAX 8192

struct plot_sample {
    uint64_t t_ns, heap_alloc, marked, goal, heap_sys, released, stacks, heap_frames, free_frames, num_gc;
};
static struct plot_sample *plot_buf; /* on the heap: a pointer-free large object; this root keeps it */
static unsigned plot_n;
static uint64_t plot_t0;
static struct rt_memstats plot_ms; /* 6 KiB: not on the sampler's stack */
static struct frame_stats plot_fs;

/* In the sampler coroutine: one row. */
static void plot_sample(void)
{
    if (plot_n == PLOT_MAX)
        return;
    struct rt_gc_cycle c;
    rt_read_memstats(&plot_ms);
    rt_gc_last_cycle(&c);
    frame_stats(&plot_fs);
    plot_buf[plot_n++] = (struct plot_sample){
        .t_ns = rt_nanotime() - plot_t0, .heap_alloc = plot_ms.heap_alloc, .marked = c.heap_marked,
        .goal = plot_ms.next_gc, .heap_sys = plot_ms.heap_sys, .released = plot_ms.heap_released,
        .stacks = plot_ms.stack_inuse, .heap_frames = plot_fs.used_frames[FRAME_OWNER_HEAP] * PAGE_SIZE,
        .free_frames = plot_fs.free_frames * PAGE_SIZE, .num_gc = plot_ms.num_gc,
    };
}

static void run_binarytrees(bool plot)
{
    typedef unsigned long long ull;
    const struct cmdline *cl = krun_cmdline();
    int n = cl->bt_depth_set ? (int)cl->bt_depth : BT_KERNEL_DEFAULT_DEPTH;
    int nprocs = (int)cpu_count();
    uint64_t bytes = bt_nodes_total(n) * sizeof(struct node);
    kprintf("bench.binarytrees: depth %d, %d CPU(s), %llu nodes (%llu MiB) allocated in all%s\n", n, nprocs,
            (ull)bt_nodes_total(n), (ull)(bytes >> 20), BENCH_RT_HAS_GC ? "" : "; no collector yet: none reclaimed");
    if (!BENCH_RT_HAS_GC) {
        uint64_t free_bytes = frame_free_count() * PAGE_SIZE;
        if (bytes > free_bytes / 2)
            panic("bench.binarytrees: no collector yet: depth %d allocates %llu MiB and nothing reclaims it; "
                  "%llu MiB of frames are free: boot with more memory (scripts/qemu --mem) or a smaller bt_depth",
                  n, (ull)(bytes >> 20), (ull)(free_bytes >> 20));
    }

    struct rt_memstats m0, m1;
    job.sample_ns = 0;
    if (plot) {
        plot_buf = rt_alloc(PLOT_MAX * sizeof(struct plot_sample), NULL);
        plot_n = 0;
        job.sample_ns = PLOT_SAMPLE_MS * 1000000ull;
        job.sample = plot_sample;
    }
    rt_read_memstats(&m0);
    job.n = n;
    uint64_t t0 = rt_nanotime();
    plot_t0 = t0;
    uint64_t left = rt_run(bt_rt_main, &job, nprocs);
    uint64_t wall = rt_nanotime() - t0;
    rt_read_memstats(&m1);
    if (left != 0)
        panic("bench.binarytrees: %llu coroutine(s) alive after the program (it starts none)", (ull)left);

    char line[BT_LINE_MAX];
    for (int i = 0; i < bt_nlines(&job.result); i++) {
        bt_format_line(&job.result, i, line);
        kprintf("%s\n", line);
    }
    uint32_t cycles = m1.num_gc - m0.num_gc;
    uint64_t pause = m1.pause_total_ns - m0.pause_total_ns;
    kprintf("bench.binarytrees: depth %d, %d P, wall %llu.%06llu s, num_gc %u, pause_total_ns %llu, "
            "heap_sys %llu MiB\n", n, nprocs, (ull)(wall / 1000000000), (ull)(wall / 1000 % 1000000), cycles,
            (ull)pause, (ull)(m1.heap_sys >> 20));
    kprintf("BENCH binarytrees kernel-p%d %d %llu %u %llu %llu %llu %llu\n", nprocs, n, (ull)wall, cycles,
            (ull)pause, (ull)rt_pause_percentile(&m1, m0.num_gc, 50), (ull)rt_pause_percentile(&m1, m0.num_gc, 99),
            (ull)rt_pause_percentile(&m1, m0.num_gc, 100));
    if (!plot)
        return;
    const uint64_t k = 1024;
    kprintf("plot: t_ms heap_alloc marked goal heap_sys released stacks heap_frames free_frames num_gc (KiB; "
            "%u samples, every %d ms)\n", plot_n, PLOT_SAMPLE_MS);
    for (unsigned i = 0; i < plot_n; i++) {
        const struct plot_sample *p = &plot_buf[i];
        kprintf("plot: %llu.%03llu %llu %llu %llu %llu %llu %llu %llu %llu %llu\n", (ull)(p->t_ns / 1000000),
                (ull)(p->t_ns / 1000 % 1000), (ull)(p->heap_alloc / k), (ull)(p->marked / k), (ull)(p->goal / k),
                (ull)(p->heap_sys / k), (ull)(p->released / k), (ull)(p->stacks / k), (ull)(p->heap_frames / k),
                (ull)(p->free_frames / k), (ull)p->num_gc);
    }
    uint32_t first = m1.num_gc - m0.num_gc > 256 ? m1.num_gc - 256 : m0.num_gc;
    for (uint32_t g = first; g < m1.num_gc; g++) {
        uint64_t end = m1.pause_end[g % 256];
        kprintf("plotgc: %u %llu.%03llu %llu.%03llu\n", g + 1, (ull)((end - t0) / 1000000),
                (ull)((end - t0) / 1000 % 1000), (ull)(m1.pause_ns[g % 256] / 1000),
                (ull)(m1.pause_ns[g % 256] % 1000));
    }
    plot_buf = NULL;
}

KRUN(bench_binarytrees, "bench.binarytrees", "binary-trees (Benchmarks Game rules), bt_depth=N, one P per CPU")
{
    run_binarytrees(false);
}

KRUN(bench_binarytrees_plot, "bench.binarytrees.plot",
     "binary-trees with the heap sampled every 5 ms, printed as plot: lines (make plot)")
{
    run_binarytrees(true);
}
