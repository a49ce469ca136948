/*
 * rt_sched.c - the in-kernel tests of coroutines that only the kernel can
 * make: work spreads to every CPU with the free-frame count checked, a G
 * stopped inside a pointer store resumes at its test, and a freed stack
 * faults in debug mode. The cases both harnesses run (growth,
 * arguments across __morestack, sleep, the end of the world...) are
 * tests/rt/sched_cases.c.
 *
 * Each test calls rt_run from the boot CPU's system stack; the coroutines'
 * results go to statics and are asserted after the world has ended.
 */
#define CASE_GROUP "rt.sched"
#include "tests/case.h"

#include "kernel/lib/percpu.h"
#include "kernel/trap.h"
#include "mm/buddy.h"
#include "rt/mbarrier.h"
#include "rt/rt.h"
#include "rt/sched.h"
#include "tests/rt/rt_cases.h"

/* ---- work spreads to every CPU (spread_main: tests/rt/sched_cases.c) ---- */

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
 * and heap frames must all have gone back (expect_nothing_held). The runner's
 * leak check lets any test keep such metadata, and nothing else
 * (kernel/ktest.c: kept_only_runtime_metadata); this test also bounds it.
 * rt.sched.end_of_world's one failure in 2400 boots ("64 frames leaked",
 * log lost) has exactly one persistent chunk's size: most likely its 101
 * live coroutines found the chunk full and made a new one the same way.
 */
#define FIXALLOC_CHUNK_BYTES   (16u << 10)   /* rt/fixalloc.c */
#define PERSISTENT_CHUNK_BYTES (256u << 10)  /* rt/fixalloc.c */

KTEST_KEEPS_FRAMES(rt_sched_spread, "rt.sched.spread")
{
    spread_reset();
    KT_EQ(rt_run_joined(spread_main, NULL, 0), 0);
    uint64_t frames0 = frame_free_count();
    struct frame_stats fs0, fs1;
    frame_stats(&fs0);
    struct rt_sched_stats ss0, ss1;
    rt_read_sched_stats(&ss0);
    struct rt_memstats ms0, ms1;
    rt_read_memstats(&ms0);

    spread_reset();
    uint64_t left = rt_run_joined(spread_main, NULL, 0);
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

/* ---- a G stopped inside a pointer store resumes at its test (rt/mbarrier.h) ---- */

/*
 * A loop of one pointer store and no call: under TCG a tick lands only at a
 * translated block's start, here the store after its branch (inside the
 * store's range) or the loop's own test (outside). On one CPU each round
 * ends only by a preemption, and the first G to run then (store_setter)
 * turns the barrier on, as a stop for a mark would, before the loop
 * resumes. A G stopped inside a store must go back to the store's flag
 * test and so take the slow path: in every round whose preemption rewound
 * a store, rt_wb_slow must have run. (Resuming at the interrupted PC would
 * make that one store a fast one with the barrier on, and the loop then
 * ends at its test: zero slow calls, the deletion a concurrent mark would
 * miss. Refusing to preempt there instead hung this loop under TCG: every
 * tick refused.) Rounds go on until STORE_LOOP_REWOUND of them rewound,
 * at most STORE_LOOP_MAX_ROUNDS (about half the rounds rewind). The setter
 * may set the flag only because no collector here reads it: once the
 * barrier shades, this test needs a stop of its own.
 */
#define STORE_LOOP_REWOUND 4
#define STORE_LOOP_MAX_ROUNDS 400
static void *volatile store_slot;
static volatile int store_flag;
static uint64_t store_token;
static struct {
    int rounds, rewound, rewound_without_slow_path;
    uint64_t preemptions;
} store_loop;
static struct rt_sched_stats store_s0, store_s1;

static void store_setter(void *arg)
{
    (void)arg;
    rt_wb_enabled = 1;   /* the loop's G is stopped and this is the only P: a stopped world */
    store_flag = 1;
}

static void store_loop_main(void *arg)
{
    (void)arg;
    void **slot = (void **)&store_slot;
    while (store_loop.rounds < STORE_LOOP_MAX_ROUNDS && store_loop.rewound < STORE_LOOP_REWOUND) {
        rt_read_sched_stats(&store_s0);
        uint64_t slow0 = __atomic_load_n(&rt_wb_slow_calls, __ATOMIC_RELAXED);
        store_flag = 0;
        rt_go(store_setter, NULL);
        while (!store_flag)   /* no call: only the tick can stop it */
            rt_store_ptr_(slot, &store_token);
        rt_wb_enabled = 0;
        uint64_t slow1 = __atomic_load_n(&rt_wb_slow_calls, __ATOMIC_RELAXED);
        rt_read_sched_stats(&store_s1);
        uint64_t preemptions = store_s1.preempt_async - store_s0.preempt_async;
        store_loop.rounds++;
        store_loop.preemptions += preemptions;
        /* Judged only with one preemption: the setter ran during it, so the
         * G resumed with the flag on. (With more, the G may have resumed
         * before the setter, and a later tick may land after its store.) */
        if (preemptions == 1 && store_s1.preempt_restarted_store != store_s0.preempt_restarted_store) {
            store_loop.rewound++;
            if (slow1 == slow0)
                store_loop.rewound_without_slow_path++;
        }
    }
}

KTEST(rt_sched_preempt_rewinds_stores, "rt.sched.preempt_rewinds_pointer_stores")
{
    rt_run(store_loop_main, NULL, 1);   /* one CPU: each setter runs only if the loop is preempted */
    ktest_diag("%d rounds, %lu async preemptions, %d rewound a store", store_loop.rounds,
               (unsigned long)store_loop.preemptions, store_loop.rewound);
    KT_EQ(store_flag, 1);
    KT_EQ(rt_wb_enabled, 0);
    KT_GE(store_loop.preemptions, (uint64_t)store_loop.rounds);
    KT_EQ(store_loop.rewound, STORE_LOOP_REWOUND);
    KT_EQ(store_loop.rewound_without_slow_path, 0);
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
