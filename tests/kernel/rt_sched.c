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
#include "kernel/percpu.h"
#include "kernel/trap.h"
#include "mm/buddy.h"
#include "rt/rt.h"
#include "rt/runtime2.h"
#include "rt/sched.h"
#include "tests/xorshift.h"

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
#define SPREAD_DEADLINE_NS (30ull * 1000 * 1000 * 1000)
static volatile uint64_t spread_done, spread_cpus_seen, spread_deadline;
static volatile uint64_t spread_per_cpu[MAX_CPUS];

/*
 * A worker counts the CPU it started on, then stays runnable (yielding) until
 * every CPU has started one, or the deadline passes. Work that ends before a
 * slow CPU wakes would make "every CPU took part" a race against the host's
 * scheduling of vCPUs (8 vCPUs on 2 host cores); work that stays queued until
 * every CPU has taken some turns it into a property: spreading that never
 * reaches a CPU fails after the deadline, with the per-CPU counts printed.
 */
static void spread_worker(void *arg)
{
    (void)arg;
    for (volatile int i = 0; i < 3000; i++)
        ;
    if (__atomic_fetch_add(&spread_per_cpu[cpu_id()], 1, __ATOMIC_RELAXED) == 0)
        __atomic_add_fetch(&spread_cpus_seen, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&spread_cpus_seen, __ATOMIC_RELAXED) < cpu_count() &&
           rt_nanotime() < spread_deadline)
        rt_gosched();
    __atomic_add_fetch(&spread_done, 1, __ATOMIC_RELAXED);
}

static void spread_main(void *arg)
{
    (void)arg;
    spread_done = 0;
    spread_cpus_seen = 0;
    for (unsigned c = 0; c < MAX_CPUS; c++)
        spread_per_cpu[c] = 0;
    spread_deadline = rt_nanotime() + SPREAD_DEADLINE_NS;
    for (int i = 0; i < NSPREAD; i++)
        rt_go(spread_worker, NULL);
    while (__atomic_load_n(&spread_done, __ATOMIC_RELAXED) < NSPREAD)
        rt_gosched();
}

/*
 * Two identical worlds of 4000 short coroutines; every CPU must run some.
 *
 * What the second world may keep: G structs are runtime metadata, made on
 * demand and kept for reuse (as Go keeps its Gs), so a world makes as many as
 * were live at its peak. That peak depends on how quickly the other CPUs run
 * the workers while main is still creating them, so it differs from run to
 * run: when the second world peaks higher than the first, it makes more G
 * structs, and a new 256 KiB chunk of metadata (rt/fixalloc.c) costs exactly
 * 64 frames (the flake of issue 10). So the test checks what it claims: every
 * frame the second world kept is runtime metadata the OS lent through sys_*,
 * that metadata grew only if more G structs were made, and by no more than
 * their bytes plus one fixalloc and one persistent chunk of slack; with no new
 * G struct, the free-frame count is unchanged to the frame. Stacks, chunks
 * and heap frames must all have gone back (expect_nothing_held).
 */
#define FIXALLOC_CHUNK_BYTES   (16u << 10)   /* rt/fixalloc.c */
#define PERSISTENT_CHUNK_BYTES (256u << 10)  /* rt/fixalloc.c */

KTEST_KEEPS_FRAMES(rt_sched_spread, "rt.sched.spread")
{
    KT_EQ(rt_run(spread_main, NULL, 0), 0);
    uint64_t frames0 = frame_free_count();
    struct frame_stats fs0, fs1;
    frame_stats(&fs0);
    struct rt_sched_stats ss0, ss1;
    rt_read_sched_stats(&ss0);
    struct rt_memstats ms0, ms1;
    rt_read_memstats(&ms0);

    uint64_t left = rt_run(spread_main, NULL, 0);
    uint64_t frames1 = frame_free_count();
    frame_stats(&fs1);
    rt_read_sched_stats(&ss1);
    rt_read_memstats(&ms1);
    KT_EQ(left, 0);
    KT_EQ(spread_done, NSPREAD);

    uint64_t new_gs = ss1.g_structs - ss0.g_structs;
    uint64_t meta_bytes = (fs1.used_frames[FRAME_OWNER_RTMETA] - fs0.used_frames[FRAME_OWNER_RTMETA]) * 4096;
    uint64_t pt_frames = fs1.used_frames[FRAME_OWNER_PAGETABLE] - fs0.used_frames[FRAME_OWNER_PAGETABLE];
    ktest_diag("G structs: %lu after the first world, %lu after the second; +%lu metadata and +%lu page-table frames",
               (unsigned long)ss0.g_structs, (unsigned long)ss1.g_structs,
               (unsigned long)(meta_bytes / 4096), (unsigned long)pt_frames);
    KT_LE(frames1, frames0);
    /* Nothing but metadata kept (and the page tables that map it). */
    KT_EQ((frames0 - frames1) * 4096, meta_bytes + pt_frames * 4096);
    KT_EQ(ms1.sys - ms0.sys, ms1.other_sys - ms0.other_sys); /* and only G-struct metadata */
    if (new_gs == 0)
        KT_EQ(frames1, frames0);
    KT_LE(meta_bytes, (ss1.g_struct_bytes - ss0.g_struct_bytes) + FIXALLOC_CHUNK_BYTES +
                          PERSISTENT_CHUNK_BYTES);

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
     * inside the current stack and the local holds what the caller wrote.
     * Bounds and check without a preemption point between them (the M held):
     * a timer preemption there may shrink the stack, which relocates si.lo
     * (an address inside the old stack) but not si.hi (one past its end),
     * and a correct relocation would then fail the check. */
    rt_acquirem();
    rt_stack_info(&si);
    if (outer != NULL && ((uintptr_t)outer < si.lo || (uintptr_t)outer >= si.hi ||
                          outer->value != (n - 1) * 0x9e3779b97f4a7c15ull ||
                          outer->pad[0] != (char)(n - 1) ||
                          outer->pad[sizeof outer->pad - 1] != (char)((n - 1) >> 3)))
        grow_bad++;
    rt_releasem();
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

/* ---- no lost wake-up ---- */

/*
 * rt/proc.c's wake-up protocol (its essay): a G made runnable while the
 * other CPUs spin, stop spinning or halt is always taken by one of them.
 * Each round main waits a random 0-300 us (the others are spinning, giving
 * up, or halted), then, holding its M (rt_acquirem: its own CPU cannot run
 * the G and no preemption rescues a lost wake-up), starts a worker and waits
 * for it. A round where the worker does not run within WAKE_STALL_NS is a
 * lost wake-up; so is an idle CPU that never was woken (the rounds must
 * exercise the halted path: the count of wakes must grow).
 */
#define WAKE_ROUNDS   400
#define WAKE_STALL_NS (5ull * 1000 * 1000 * 1000)
static volatile uint64_t wake_ran, wake_stalls, wake_max_ns, wake_rounds_done;

static void wake_worker(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&wake_ran, 1, __ATOMIC_RELEASE);
}

static void wake_main(void *arg)
{
    (void)arg;
    uint64_t seed = 0x5eed0f14ull;
    for (int r = 0; r < WAKE_ROUNDS; r++) {
        uint64_t delay = xorshift64star(&seed) % 300000;
        uint64_t t = rt_nanotime();
        while (rt_nanotime() - t < delay)
            ;
        uint64_t target = wake_ran + 1;
        rt_acquirem();
        uint64_t t0 = rt_nanotime();
        rt_go(wake_worker, NULL);
        while (__atomic_load_n(&wake_ran, __ATOMIC_ACQUIRE) < target && rt_nanotime() - t0 < WAKE_STALL_NS)
            __builtin_ia32_pause();
        uint64_t dt = rt_nanotime() - t0;
        bool stalled = __atomic_load_n(&wake_ran, __ATOMIC_ACQUIRE) < target;
        rt_releasem();
        if (stalled)
            wake_stalls++;
        else if (dt > wake_max_ns)
            wake_max_ns = dt;
        while (__atomic_load_n(&wake_ran, __ATOMIC_ACQUIRE) < target)
            rt_gosched();
        wake_rounds_done++;
    }
}

KTEST(rt_sched_no_lost_wakeup, "rt.sched.no_lost_wakeup")
{
    if (cpu_count() < 2) {
        ktest_diag("one CPU: nothing to wake");
        return;
    }
    wake_ran = wake_stalls = wake_max_ns = wake_rounds_done = 0;
    struct rt_sched_stats s0, s1;
    rt_read_sched_stats(&s0);
    uint64_t t0 = rt_nanotime();
    KT_EQ(rt_run(wake_main, NULL, 0), 0);
    uint64_t wall = rt_nanotime() - t0;
    rt_read_sched_stats(&s1);
    ktest_diag("slowest hand-off %lu us; %lu halted CPUs woken, %lu woke unclaimed (tick)",
               (unsigned long)(wake_max_ns / 1000), (unsigned long)(s1.wakeups - s0.wakeups),
               (unsigned long)(s1.idle_wakes - s0.idle_wakes));
    for (unsigned c = 0; c < cpu_count(); c++)
        ktest_diag("CPU %u: spun %lu us, halted %lu us of %lu us", c,
                   (unsigned long)((s1.spin_ns[c] - s0.spin_ns[c]) / 1000),
                   (unsigned long)((s1.idle_ns[c] - s0.idle_ns[c]) / 1000), (unsigned long)(wall / 1000));
    KT_EQ(wake_stalls, 0);
    KT_EQ(wake_rounds_done, WAKE_ROUNDS);
    KT_EQ(wake_ran, WAKE_ROUNDS);
    KT_LE(1, s1.wakeups - s0.wakeups);
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
