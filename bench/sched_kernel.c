/*
 * sched_kernel.c - `run=bench.sched`: the scheduler benchmarks (method in
 * bench/sched_bench.h) in the kernel, with 1, 2 and 4 Ps (one CPU each; as
 * many as are online), one rt_run per P count running create, pingpong and
 * stackgrow in turn, each followed by where the CPUs' time went (spinning,
 * halted); then an idle world (main sleeps 200 ms) prints each CPU's busy,
 * not-halted share.
 *
 * Prints a readable line and a parse line per result (bench/run-sched reads
 * the second):
 *   bench.sched: create    1 P      1234.567 ns/op
 *   BENCH sched create kernel-p1 1234567 -          (picoseconds per op, note)
 * The figures are wall time under TCG emulation: compare them with each
 * other (1 P vs 2 Ps, one benchmark vs another), never with hosted rows.
 * Operation counts are a tenth or less of the hosted ones for the same
 * reason. A failed check is a panic naming the benchmark and what failed.
 *
 * This file runs outside any coroutine (it prints); the coroutines run
 * bench/sched_bench.c, built with -fsplit-stack.
 */
#include "bench/sched_bench.h"
#include "kernel/lib/kprintf.h"
#include "kernel/krun.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "rt/sched.h"

#define KERNEL_ROUNDS 3
#define IDLE_WORLD_NS (200ull * 1000 * 1000)

/* Static: rt_run's coroutines write it (never a pointer into a stack). */
static struct sched_bench_job jobs[SCHED_NKINDS] = {
    { .kind = SCHED_CREATE, .ops = 10000, .rounds = KERNEL_ROUNDS },
    { .kind = SCHED_PINGPONG, .ops = 10000, .rounds = KERNEL_ROUNDS },
    { .kind = SCHED_STACKGROW, .ops = 20, .rounds = KERNEL_ROUNDS },
};
static struct sched_bench_batch batch = { jobs, SCHED_NKINDS };

static void run_with(int nprocs)
{
    struct rt_sched_stats s0, s1;
    rt_read_sched_stats(&s0);
    uint64_t t0 = rt_nanotime();
    uint64_t left = rt_run(sched_bench_main, &batch, nprocs);
    uint64_t wall = rt_nanotime() - t0;
    rt_read_sched_stats(&s1);
    for (int i = 0; i < SCHED_NKINDS; i++) {
        const struct sched_bench_job *j = &jobs[i];
        const char *name = sched_bench_name(j->kind);
        if (j->error)
            panic("bench.sched: %s with %d P(s): %s", name, nprocs, j->error);
        char note[96] = "-";
        if (j->kind == SCHED_STACKGROW)
            ksnprintf(note, sizeof note, "stack=%luKiB,used=%luKiB,copies=%u", (unsigned long)(j->grow_stack_bytes >> 10),
                      (unsigned long)(j->grow_used_bytes >> 10), j->grow_copies);
        kprintf("bench.sched: %-9s %d P %12llu.%03llu ns/op  (%llu ops x %u rounds, median) %s\n", name, nprocs,
                (unsigned long long)(j->median_ps / 1000), (unsigned long long)(j->median_ps % 1000),
                (unsigned long long)j->ops, j->rounds, note);
        kprintf("BENCH sched %s kernel-p%d %llu %s\n", name, nprocs, (unsigned long long)j->median_ps, note);
    }
    if (left)
        kprintf("bench.sched: %llu coroutine(s) still alive when the main one returned (%d P)\n",
                (unsigned long long)left, nprocs);
    /* Where the CPUs' time went over the three benchmarks: awake without
     * work (spinning) is the cost of the wake-up policy; the rest of an idle
     * CPU's time must be halted (hlt), never a loop that burns it. */
    kprintf("bench.sched: %d P: %llu halted CPUs woken, %llu tick wakes; per CPU of %llu us:", nprocs,
            (unsigned long long)(s1.wakeups - s0.wakeups), (unsigned long long)(s1.idle_wakes - s0.idle_wakes),
            (unsigned long long)(wall / 1000));
    for (int c = 0; c < nprocs && c < 64; c++)
        kprintf(" cpu%d spun %llu halted %llu", c, (unsigned long long)((s1.spin_ns[c] - s0.spin_ns[c]) / 1000),
                (unsigned long long)((s1.idle_ns[c] - s0.idle_ns[c]) / 1000));
    kprintf(" (us)\n");
}

/* An idle world: main sleeps, every other CPU has nothing to do. Their time
 * must go to hlt: spinning is bounded (SPIN_NS after each piece of work),
 * and a tick wake goes back to hlt after the cheap checks. */
static void idle_main(void *arg)
{
    (void)arg;
    rt_sleep(IDLE_WORLD_NS);
}

static void idle_check(unsigned n)
{
    struct rt_sched_stats s0, s1;
    rt_read_sched_stats(&s0);
    uint64_t t0 = rt_nanotime();
    rt_run(idle_main, NULL, (int)n);
    uint64_t wall = rt_nanotime() - t0;
    rt_read_sched_stats(&s1);
    kprintf("bench.sched: idle world, %u CPUs, %llu ms: busy (not halted) per CPU:", n,
            (unsigned long long)(wall / 1000000));
    for (unsigned c = 0; c < n && c < 64; c++) {
        uint64_t halted = s1.idle_ns[c] - s0.idle_ns[c];
        uint64_t busy = wall > halted ? wall - halted : 0;
        kprintf(" cpu%u %llu.%01llu%%", c, (unsigned long long)(busy * 100 / wall),
                (unsigned long long)(busy * 1000 / wall % 10));
    }
    kprintf(" (spun: cpu1 %llu us)\n", (unsigned long long)(n > 1 ? (s1.spin_ns[1] - s0.spin_ns[1]) / 1000 : 0));
}

KRUN(bench_sched, "bench.sched", "coroutine create+exit, channel ping-pong, stack growth to 1 MiB; 1, 2 and 4 Ps")
{
    unsigned n = cpu_count();
    kprintf("bench.sched: %u CPU(s) online; wall times under TCG emulation, compare only with each other\n", n);
    run_with(1);
    if (n >= 2)
        run_with(2);
    else
        kprintf("bench.sched: only one CPU online: no 2-P rows (boot with --smp 2)\n");
    if (n >= 4)
        run_with(4);
    else
        kprintf("bench.sched: fewer than 4 CPUs online: no 4-P rows (boot with --smp 4)\n");
    idle_check(n);
}
