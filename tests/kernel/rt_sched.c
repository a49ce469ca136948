/*
 * rt_sched.c - the in-kernel tests of coroutines that only the kernel can
 * make: work spreads to every CPU with the free-frame count checked, a loop
 * without calls is preempted (the timer's asynchronous preemption), and a
 * freed stack faults in debug mode. The cases both harnesses run (growth,
 * arguments across __morestack, sleep, the end of the world...) are
 * tests/rt/sched_cases.c.
 *
 * Each test calls rt_run from the boot CPU's system stack; the coroutines'
 * results go to statics and are asserted after the world has ended.
 */
#define CASE_GROUP "rt.sched"
#include "tests/case.h"

#include "kernel/percpu.h"
#include "kernel/trap.h"
#include "mm/buddy.h"
#include "rt/rt.h"
#include "rt/sched.h"
#include "tests/rt/rt_cases.h"

/* ---- work spreads to every CPU (spread_main: tests/rt/sched_cases.c) ---- */

/*
 * The first world with 4000 coroutines makes 4000 G structs, which the
 * runtime keeps for reuse (runtime metadata, as Go keeps its Gs); a second
 * identical world must then leave the free-frame count exactly as it was.
 */
KTEST_KEEPS_FRAMES(rt_sched_spread, "rt.sched.spread")
{
    spread_done = 0;
    KT_EQ(rt_run(spread_main, NULL, 0), 0);
    uint64_t frames0 = frame_free_count();
    spread_done = 0;
    for (unsigned c = 0; c < MAX_CPUS; c++)
        spread_per_cpu[c] = 0;
    uint64_t left = rt_run(spread_main, NULL, 0);
    KT_EQ(frame_free_count(), frames0);
    KT_EQ(left, 0);
    KT_EQ(spread_done, NSPREAD);
    unsigned used = 0;
    uint64_t sum = 0;
    for (unsigned c = 0; c < cpu_count(); c++) {
        ktest_diag("CPU %u ran %lu coroutines", c, (unsigned long)spread_per_cpu[c]);
        used += spread_per_cpu[c] != 0;
        sum += spread_per_cpu[c];
    }
    KT_EQ(sum, NSPREAD);
    KT_EQ(used, cpu_count());   /* every CPU took part */
    expect_nothing_held();
}

/* ---- a loop without calls is preempted ---- */

static volatile int loop_flag;
static volatile uint64_t loop_spins;

static void loop_setter(void *arg)
{
    (void)arg;
    loop_flag = 1;
}

static void loop_main(void *arg)
{
    (void)arg;
    rt_go(loop_setter, NULL);
    while (!loop_flag)   /* no call in the loop: only the timer can stop it */
        loop_spins++;
}

KTEST(rt_sched_preempt_loop, "rt.sched.preempt_loop_without_calls")
{
    loop_flag = 0;
    struct rt_sched_stats s0, s1;
    rt_read_sched_stats(&s0);
    rt_run(loop_main, NULL, 1);   /* one CPU: the setter runs only if the loop is preempted */
    rt_read_sched_stats(&s1);
    ktest_diag("spun %lu times; %lu async preemptions", (unsigned long)loop_spins,
               (unsigned long)(s1.preempt_async - s0.preempt_async));
    KT_EQ(loop_flag, 1);
    KT_GT(s1.preempt_async - s0.preempt_async, 0);
    expect_nothing_held();
}

/* ---- debug mode: a freed stack faults ---- */

static volatile uintptr_t child_stack_lo;
static volatile int child_done;
static volatile uint64_t freed_fault_vector;

static void record_stack(void *arg)
{
    (void)arg;
    struct rt_stack_info si;
    rt_stack_info(&si);
    child_stack_lo = si.lo;
    child_done = 1;
}

static void freed_main(void *arg)
{
    (void)arg;
    rt_go(record_stack, NULL);
    while (!child_done)
        rt_gosched();
    rt_gosched();   /* let the child's exit free its stack */
    struct trap_catch c;
    trap_catch_push(&c, false);
    if (kjmp_save(&c.resume) == 0) {
        (void)*(volatile uint64_t *)(child_stack_lo + 64);
        trap_catch_pop(&c);
    }
    freed_fault_vector = c.fault.vector;
}

KTEST(rt_stack_fault_freed, "rt.stack.debug_freed_stack_faults")
{
    child_done = 0;
    freed_fault_vector = ~0ull;
    rt_stack_debug_fault_freed(true);
    rt_run(freed_main, NULL, 1);
    rt_stack_debug_fault_freed(false);
    KT_EQ(freed_fault_vector, VEC_PF);
    expect_nothing_held();
}
