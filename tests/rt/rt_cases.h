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
 * spread_done and in spread_per_cpu[the P it started on] (P n runs on CPU n
 * in the kernel), and none ends before spread_want_procs Ps have started
 * one (or SPREAD_DEADLINE_NS passed). The caller zeroes the counts and sets
 * spread_want_procs (the world's P count) first. */
#define NSPREAD 4000
#define SPREAD_SLOTS 64 /* >= MAX_CPUS, and the host's Ps */
#define SPREAD_DEADLINE_NS (30ull * 1000 * 1000 * 1000)
extern volatile uint64_t spread_done, spread_want_procs;
extern volatile uint64_t spread_per_cpu[SPREAD_SLOTS];
void spread_main(void *arg);

#endif
