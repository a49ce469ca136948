/*
 * smp_kernel.c - `run=bench.smp`: allocation throughput on one CPU and on
 * every CPU, in one run, and the ratio (ideal: the number of CPUs).
 *
 *   frames  order-0 frame_alloc + frame_free in batches of 64 per CPU
 *   heap    rt_alloc of 64-byte pointer-free objects through each CPU's own P
 *           (nothing is freed: the collector does not exist yet)
 * Each phase runs once on every CPU unmeasured (so the heap has grown and
 * every mcache and frame cache is warm: otherwise the first, single-CPU
 * phase alone pays for that and the ratio overstates scaling), then on CPU 0
 * alone, then on all CPUs at once (smp_run_on_all); throughput = operations
 * / wall time (nanotime).
 * This machine has 2 host cores running every vCPU under TCG: with more than
 * two vCPUs, the "all CPUs" figure measures the host's scheduling as much as
 * our locks, and a lock holder descheduled by the host stalls every waiter.
 */
#include "kernel/lib/kprintf.h"
#include "kernel/krun.h"
#include "kernel/lib/percpu.h"
#include "kernel/smp.h"
#include "kernel/time.h"
#include "mm/buddy.h"
#include "rt/rt.h"

#define FRAME_BATCH 64
#define FRAME_ROUNDS 40
#define HEAP_OBJECTS 20000

static void frames_work(void *arg)
{
    (void)arg;
    phys_addr_t b[FRAME_BATCH];
    for (unsigned r = 0; r < FRAME_ROUNDS; r++) {
        for (unsigned i = 0; i < FRAME_BATCH; i++)
            b[i] = frame_alloc(0, 0, FRAME_OWNER_TEST);
        for (unsigned i = 0; i < FRAME_BATCH; i++)
            if (b[i])
                frame_free(b[i], 0);
    }
}

static void heap_work(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < HEAP_OBJECTS; i++)
        *(volatile uint64_t *)rt_alloc(64, NULL) = i;
}

/* ops per second on one CPU, then on all; prints both and the ratio. */
static void measure(const char *what, void (*fn)(void *), uint64_t ops_per_cpu)
{
    unsigned n = cpu_count();
    smp_run_on_all(fn, NULL); /* warm-up, not measured */
    uint64_t t0 = nanotime();
    fn(NULL);
    uint64_t one = nanotime() - t0;
    t0 = nanotime();
    smp_run_on_all(fn, NULL);
    uint64_t all = nanotime() - t0;
    uint64_t rate1 = ops_per_cpu * 1000000000ull / one, rate_all = ops_per_cpu * n * 1000000000ull / all;
    kprintf("bench.smp: %-6s 1 CPU %9llu ops/s, %u CPUs %9llu ops/s: %llu.%02llux\n", what,
            (unsigned long long)rate1, n, (unsigned long long)rate_all, (unsigned long long)(rate_all / rate1),
            (unsigned long long)(rate_all * 100 / rate1 % 100));
    kprintf("BENCH smp %s %u %llu %llu\n", what, n, (unsigned long long)rate1, (unsigned long long)rate_all);
}

KRUN(bench_smp, "bench.smp", "frame and heap allocation throughput, 1 CPU vs all CPUs")
{
    kprintf("bench.smp: %u CPUs online; this host has 2 cores for all of them (TCG)\n", cpu_count());
    int old = buddy_set_debug(BUDDY_DEBUG_OFF);
    measure("frames", frames_work, 2ull * FRAME_BATCH * FRAME_ROUNDS);
    buddy_set_debug(old);
    measure("heap", heap_work, HEAP_OBJECTS);
}
