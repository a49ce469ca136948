/*
 * rt_sched.c - in-kernel tests of coroutines: the scheduler on every CPU,
 * stacks that grow by copying and shrink, preemption of code that never
 * yields, and that nothing is left behind (the runner checks free frames
 * after each test; these tests also check the runtime's own counts).
 *
 * Each test calls rt_run from the boot CPU's system stack; the coroutines'
 * results go to statics and are asserted after the world has ended.
 */
#include "kernel/ktest.h"
#include "kernel/lib/percpu.h"
#include "kernel/trap.h"
#include "mm/buddy.h"
#include "rt/rt.h"
#include "rt/sched.h"

#define NOINLINE __attribute__((noinline))

static void expect_nothing_held(void)
{
    struct rt_sched_stats ss;
    rt_read_sched_stats(&ss);
    KT_EQ(ss.stacks_inuse, 0);
    KT_EQ(ss.stack_chunks, 0);
    struct rt_memstats ms;
    rt_read_memstats(&ms);
    KT_EQ(ms.stack_inuse, 0);
    KT_EQ(ms.stack_sys, 0);
}

/* ---- work spreads to every CPU ---- */

#define NSPREAD 4000
static volatile uint64_t spread_done;
static volatile uint64_t spread_per_cpu[MAX_CPUS];

static void spread_worker(void *arg)
{
    (void)arg;
    for (volatile int i = 0; i < 3000; i++)
        ;
    __atomic_add_fetch(&spread_per_cpu[cpu_id()], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&spread_done, 1, __ATOMIC_RELAXED);
}

static void spread_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < NSPREAD; i++)
        rt_go(spread_worker, NULL);
    while (__atomic_load_n(&spread_done, __ATOMIC_RELAXED) < NSPREAD)
        rt_gosched();
}

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

/* ---- growth past 64 MiB, pointers to outer locals, shrink ---- */

struct level {
    uint64_t value;
    struct level *outer;
    char pad[2000];
};

static uintptr_t grow_target;
static volatile uint64_t grow_bad, grow_levels, grow_size, grow_copies, initial_size;
static volatile uint64_t shrink_before, shrink_after;

NOINLINE static uint64_t deep(struct level *outer, uint64_t n)
{
    struct level here;
    here.value = n * 0x9e3779b97f4a7c15ull;
    here.outer = outer;
    here.pad[0] = (char)n;
    here.pad[sizeof here.pad - 1] = (char)(n >> 3);
    struct rt_stack_info si;
    rt_stack_info(&si);
    uint64_t r = 0;
    if (si.used < grow_target) {
        r = deep(&here, n + 1);
    } else {
        grow_levels = n;
        grow_size = si.hi - si.lo;
        grow_copies = si.ncopies;
    }
    /* On the way back, at every level: the pointer to the caller's local is
     * inside the current stack and the local holds what the caller wrote. */
    rt_stack_info(&si);
    if (outer != NULL && ((uintptr_t)outer < si.lo || (uintptr_t)outer >= si.hi ||
                          outer->value != (n - 1) * 0x9e3779b97f4a7c15ull ||
                          outer->pad[0] != (char)(n - 1) ||
                          outer->pad[sizeof outer->pad - 1] != (char)((n - 1) >> 3)))
        grow_bad++;
    if (here.outer != outer || here.value != n * 0x9e3779b97f4a7c15ull)
        grow_bad++;
    return r + 1;
}

static void grow_main(void *arg)
{
    (void)arg;
    struct rt_stack_info si;
    rt_stack_info(&si);
    initial_size = si.hi - si.lo;
    deep(NULL, 0);
    rt_stack_info(&si);
    shrink_before = si.hi - si.lo;
    for (int i = 0; i < 40; i++)
        rt_gosched();
    rt_stack_info(&si);
    shrink_after = si.hi - si.lo;
}

KTEST(rt_sched_grow_shrink, "rt.stack.grow_64m_and_shrink")
{
    /* 64 MiB needs ~192 MiB at the last copy (old + new); smaller machines
     * grow as far as a sixth of their free memory allows, and say so. */
    uint64_t free_bytes = frame_free_count() * 4096;
    grow_target = (uintptr_t)64 << 20;
    if (free_bytes / 6 < grow_target) {
        grow_target = (uintptr_t)1 << (63 - __builtin_clzll(free_bytes / 6));
        ktest_diag("only %lu MiB free: growing to %lu MiB instead of 64", (unsigned long)(free_bytes >> 20),
                   (unsigned long)(grow_target >> 20));
    }
    grow_bad = 0;
    rt_run(grow_main, NULL, 1);
    ktest_diag("%lu KiB grew to %lu KiB in %lu copies over %lu frames of ~2 KiB", (unsigned long)(initial_size >> 10),
               (unsigned long)(grow_size >> 10), (unsigned long)grow_copies, (unsigned long)grow_levels);
    KT_EQ(initial_size, 4096);
    KT_GE(grow_size, grow_target);
    KT_GE(grow_copies, (uint64_t)__builtin_ctzll(grow_target / 4096));
    KT_EQ(grow_bad, 0);
    ktest_diag("shrink at safe points: %lu KiB -> %lu KiB", (unsigned long)(shrink_before >> 10),
               (unsigned long)(shrink_after >> 10));
    KT_LE(shrink_after, 16384);   /* (preemptions on the way back may have shrunk it already) */
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

/* ---- a loop with calls is preempted at its next prologue ---- */

NOINLINE static void opaque(void) { __asm__ volatile("" ::: "memory"); }

static void call_loop_main(void *arg)
{
    (void)arg;
    rt_go(loop_setter, NULL);
    while (!loop_flag)
        opaque();
}

KTEST(rt_sched_preempt_calls, "rt.sched.preempt_loop_with_calls")
{
    loop_flag = 0;
    rt_run(call_loop_main, NULL, 1);
    KT_EQ(loop_flag, 1);
    expect_nothing_held();
}

/* ---- sleep ---- */

static volatile uint64_t slept[8];
static volatile uint64_t sleepers_done;

static void sleeper(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    uint64_t t0 = rt_nanotime();
    rt_sleep((i + 1) * 2000000);
    slept[i] = rt_nanotime() - t0;
    __atomic_add_fetch(&sleepers_done, 1, __ATOMIC_RELAXED);
}

static void sleep_main(void *arg)
{
    (void)arg;
    for (uintptr_t i = 0; i < 8; i++)
        rt_go(sleeper, (void *)i);
    while (__atomic_load_n(&sleepers_done, __ATOMIC_RELAXED) < 8)
        rt_sleep(1000000);
}

KTEST(rt_sched_sleep, "rt.sched.sleep")
{
    sleepers_done = 0;
    rt_run(sleep_main, NULL, 0);
    for (int i = 0; i < 8; i++)
        KT_GE(slept[i], (uint64_t)(i + 1) * 2000000);
    expect_nothing_held();
}

/* ---- the end of the world destroys blocked coroutines ---- */

static void forever_sleeper(void *arg)
{
    (void)arg;
    rt_sleep(3600ull * 1000000000ull);
}

static void abandon_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        rt_go(forever_sleeper, NULL);
    rt_sleep(2000000);
}

KTEST(rt_sched_end_of_world, "rt.sched.end_of_world")
{
    KT_EQ(rt_run(abandon_main, NULL, 0), 100);
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
