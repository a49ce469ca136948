/*
 * rt_cases.h - what the runtime's case files (tests/rt/NAME_cases.c) and the
 * kernel-only runtime tests (tests/kernel/rt_NAME.c) share. Include after
 * tests/case.h (the checks are EXPECT_*).
 */
#ifndef TESTS_RT_RT_CASES_H
#define TESTS_RT_RT_CASES_H

#include <stdint.h>

#include "rt/rt.h"
#include "rt/sched.h"

/* Every stack went back to the OS when the world ended: the scheduler's and
 * the memstats' stack counts are zero. */
static inline void expect_nothing_held(void)
{
    struct rt_sched_stats ss;
    rt_read_sched_stats(&ss);
    EXPECT_EQ(ss.stacks_inuse, 0);
    EXPECT_EQ(ss.stack_chunks, 0);
    struct rt_memstats ms;
    rt_read_memstats(&ms);
    EXPECT_EQ(ms.stack_inuse, 0);
    EXPECT_EQ(ms.stack_sys, 0);
}

/* Spreading work (sched_cases.c): rt_run(spread_main, NULL, n) starts
 * NSPREAD short coroutines and returns when all ran; each counts itself in
 * spread_done and once in spread_per_cpu[a P it ran on] (P n runs on CPU n
 * in the kernel), and none ends before spread_want_procs Ps have started
 * one (or SPREAD_DEADLINE_NS passed). spread_reset() zeroes the counts and
 * sets spread_want_procs to the world's P count; call it before each world. */
#define NSPREAD 4000
#define SPREAD_SLOTS 64 /* >= MAX_CPUS, and the host's Ps */
#define SPREAD_DEADLINE_NS (30ull * 1000 * 1000 * 1000)
extern volatile uint64_t spread_done, spread_want_procs;
extern volatile uint64_t spread_per_cpu[SPREAD_SLOTS];
void spread_main(void *arg);
void spread_reset(void);

/*
 * rt_run(fn, arg, nprocs) for cases that expect no coroutine left: the main
 * coroutine runs fn(arg), then waits (yielding, up to JOIN_DEADLINE_NS) until
 * it is the only coroutine alive, so rt_run returns how many were still
 * blocked. Without the wait, "none left" races with the exit of a worker
 * whose last act woke main (a wait-group done, a counter main polls): main
 * can return while that worker is still running its epilogue, and rt_run
 * rightly counts it (make stress: rt.chan.select_exactly_once on 8 CPUs,
 * 1 left, once in 100 boots). A worker blocked for good still counts.
 */
/* gc_cases.c: a live set of live_bytes churned under 8x its size of garbage in
 * a world of nprocs; true if the heap stayed bounded (the run=rt.gc_live16m
 * boot uses it too). */
bool gc_live_set_bounded(uint64_t live_bytes, int nprocs);

#define JOIN_DEADLINE_NS (10ull * 1000 * 1000 * 1000)
struct join_call {
    void (*fn)(void *);
    void *arg;
};
static struct join_call join_call;   /* one world at a time */

static inline void join_main(void *unused)
{
    (void)unused;
    join_call.fn(join_call.arg);
    uint64_t deadline = rt_nanotime() + JOIN_DEADLINE_NS;
    for (;;) {
        struct rt_sched_stats ss;
        rt_read_sched_stats(&ss);
        if (ss.goroutines <= 1 || rt_nanotime() >= deadline)
            break;
        rt_gosched();
    }
}

static inline uint64_t rt_run_joined(void (*fn)(void *), void *arg, int nprocs)
{
    join_call.fn = fn;
    join_call.arg = arg;
    return rt_run(join_main, NULL, nprocs);
}

#endif
