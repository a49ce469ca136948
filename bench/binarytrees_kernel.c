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
 * This file runs outside any coroutine (it prints); the program runs in
 * bench/binarytrees_rt.c.
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

KRUN(bench_binarytrees, "bench.binarytrees", "binary-trees (Benchmarks Game rules), bt_depth=N, one P per CPU")
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
    rt_read_memstats(&m0);
    job.n = n;
    uint64_t t0 = rt_nanotime();
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
}
