/*
 * core_selftest.c - tests that fail on purpose, to prove the framework and
 * the launcher notice (tests/boot/cases boots each one and checks the
 * verdict), or whose verdict only a fresh boot makes certain. They run only
 * when named explicitly: test=selftest.*
 */
#include "kernel/crash.h"
#include "kernel/ktest.h"
#include "kernel/lib/x86.h"
#include "mm/buddy.h"
#include "rt/sched.h"

/* The suite must report this as "not ok" and exit with status 1. */
KTEST(selftest_must_fail, "selftest.must_fail")
{
    volatile int two = 2;
    KT_EQ(two + 2, 5);
}

/* An exception nobody expected: "not ok" with the report as diagnostics,
 * and the next test still runs. */
KTEST(selftest_unexpected_fault, "selftest.unexpected_fault")
{
    kprintf("reading the NULL page without expecting a fault\n");
    crash_read(0);
}

/* Never returns, with interrupts off: only the launcher's timeout ends it. */
KTEST(selftest_hang, "selftest.hang")
{
    kprintf("hanging with interrupts off; the launcher's timeout must end this run\n");
    cli();
    for (;;)
        cpu_relax();
}

/* Unbounded recursion runs the boot stack into its guard page: the #PF
 * cannot be delivered on that stack, so the CPU raises #DF, which runs on
 * its own IST stack and reports the overflow; the verdict is a panic. */
static volatile unsigned recurse_limit = ~0u; /* opaque: the compiler cannot see it never ends */

__attribute__((noipa)) static unsigned recurse(unsigned depth)
{
    volatile char pad[512];
    pad[0] = (char)depth;
    if (depth >= recurse_limit)
        return 0;
    unsigned r = recurse(depth + 1) + pad[0];
    __asm__ volatile("" : : "r"(pad) : "memory");
    return r;
}

KTEST(selftest_stack_overflow, "selftest.stack_overflow")
{
    kprintf("recursing until the stack overflows into its guard page\n");
    recurse(0);
}

/* Takes one frame and never gives it back: the runner's free-frame check
 * must fail it (the runner is what would catch a real leak in mm or rt). */
KTEST(selftest_leak, "selftest.leak")
{
    KT_NE(frame_alloc(0, 0, FRAME_OWNER_TEST), 0);
}

/* ---- the runner's leak check and the runtime's metadata ---- */

/* A world whose peak of live coroutines beats every earlier one makes G
 * structs, whose metadata the runtime keeps for reuse: the runner must pass
 * it (saying how many frames it kept) where a fresh boot guarantees the new
 * peak. The selftest prefix keeps it out of the suite, where earlier worlds
 * decide whether this one peaks. */
#define PEAK_GS 1500
static void short_sleeper(void *arg)
{
    (void)arg;
    rt_sleep(2000000);
}

static void peak_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < PEAK_GS; i++)
        rt_go(short_sleeper, NULL);
    rt_sleep(50000000);
}

static void grow_runtime_metadata(void)
{
    struct frame_stats before, after;
    frame_stats(&before);
    KT_EQ(rt_run(peak_main, NULL, 1), 0);
    frame_stats(&after);
    KT_GT(after.used_frames[FRAME_OWNER_RTMETA], before.used_frames[FRAME_OWNER_RTMETA]);
}

KTEST(selftest_keeps_runtime_metadata, "selftest.keeps_runtime_metadata")
{
    grow_runtime_metadata();
}

/* The same new peak beside one leaked frame: the metadata must not hide it. */
KTEST(selftest_leak_beside_metadata, "selftest.leak_beside_metadata")
{
    grow_runtime_metadata();
    KT_NE(frame_alloc(0, 0, FRAME_OWNER_TEST), 0);
}
