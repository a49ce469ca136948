/*
 * sched_kernel.c - `run=bench.sched`: the scheduler benchmarks (method in
 * bench/sched_bench.h) in the kernel, with 1 P and with 2 Ps (one CPU each),
 * one rt_run per P count running create, pingpong and stackgrow in turn.
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

/* Static: rt_run's coroutines write it (never a pointer into a stack). */
static struct sched_bench_job jobs[SCHED_NKINDS] = {
    { .kind = SCHED_CREATE, .ops = 10000, .rounds = KERNEL_ROUNDS },
    { .kind = SCHED_PINGPONG, .ops = 10000, .rounds = KERNEL_ROUNDS },
    { .kind = SCHED_STACKGROW, .ops = 20, .rounds = KERNEL_ROUNDS },
};
static struct sched_bench_batch batch = { jobs, SCHED_NKINDS };

static void run_with(int nprocs)
{
    uint64_t left = rt_run(sched_bench_main, &batch, nprocs);
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
}

KRUN(bench_sched, "bench.sched", "coroutine create+exit, channel ping-pong, stack growth to 1 MiB; 1 and 2 Ps")
{
    unsigned n = cpu_count();
    kprintf("bench.sched: %u CPU(s) online; wall times under TCG emulation, compare only with each other\n", n);
    run_with(1);
    if (n >= 2)
        run_with(2);
    else
        kprintf("bench.sched: only one CPU online: no 2-P rows (boot with --smp 2)\n");
}
