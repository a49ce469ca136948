/*
 * ktest.c - the in-kernel test runner (the test-writer's side is ktest.h).
 *
 * What it does
 *   Finds the tests registered in the .ktest section (linker/kernel.ld
 *   bounds it with __ktest_start/__ktest_end), selects those whose names
 *   match the command line's glob, runs them one by one in name order, and
 *   reports in TAP version 13 over the serial console:
 *
 *     TAP version 13
 *     1..3
 *     # <anything the test printed, and failure details>
 *     ok 1 - core.cmdline.good
 *     not ok 2 - core.fmt.width
 *     ok 3 - core.trap.pf
 *     2 passed, 1 failed
 *
 *   then ends QEMU with DEBUG_EXIT_SUCCESS (nothing failed) or
 *   DEBUG_EXIT_TESTS_FAILED. The last line is the contract the launcher and
 *   tests/run-all key on (DESIGN.md section 5).
 *
 * How one test runs (run_one)
 *   1. Set the console line prefix to "# ": whatever the test prints is a
 *      diagnostic and cannot be mistaken for a TAP line.
 *   2. Arm a reporting fault catcher (trap.h) and kjmp_save into it.
 *   3. Call the test. Three ways back:
 *      - it returns: passed;
 *      - an assertion fails: ktest_fail_* prints the details and
 *        kjmp_restore()s to the saved context (returning 2);
 *      - a CPU exception nobody expected: trap_dispatch prints the full
 *        report (with the prefix, so as diagnostics) and resumes the same
 *        context (returning 1).
 *   4. Drop any catchers the test left armed, clear the prefix.
 *   5. A test that passed but left fewer free frames than it found (the
 *      frame allocator's count, as xv6's usertests count free pages) fails
 *      with the difference and each owner's change, unless it is flagged
 *      KTEST_F_KEEPS_FRAMES, or every frame it kept is runtime metadata
 *      made for a new peak of live coroutines or spans and the page tables
 *      mapping it (kept_only_runtime_metadata; said in a diagnostic line).
 *   6. Print "ok N - name" or "not ok N - name"; before a "not ok", the
 *      command that reruns that test alone with this run's seed.
 *   The stack the test was using is abandoned, not unwound: tests must not
 *   leave locks held or state half-built that a later test depends on.
 *
 * Seeds
 *   Randomized tests seed their generators from ktest_seed() when they
 *   start: seed=N from the command line, or a fresh seed from the TSC when
 *   none was given. The runner prints it ("# seed=N") before the first
 *   test, so any run - and any one failing test, run alone with
 *   test=NAME seed=N - can be repeated exactly.
 *
 * Invariants
 *   - Test names are unique (checked before anything runs; a duplicate is
 *     a build error and bails out).
 *   - "selftest." tests run only if the glob spells out that prefix
 *     (glob_has_literal_prefix): they fail or hang on purpose.
 *   - Exactly one "ok"/"not ok" line per selected test, numbered 1..N, and
 *     the plan "1..N" printed before the first.
 *
 * Cites: the TAP version 13 specification (testanything.org/tap-version-13-
 * specification.html) for the line formats.
 */
#include "kernel/ktest.h"

#include <stdarg.h>

#include "boot/boot_info.h"
#include "kernel/glob.h"
#include "kernel/lib/panic.h"
#include "kernel/sections.h"
#include "kernel/lib/percpu.h"
#include "kernel/profile.h"
#include "kernel/lib/string.h"
#include "kernel/lib/x86.h"
#include "mm/buddy.h"

#define KTEST_MAX 2048 /* tests in one kernel; more is a build error */
#define SELFTEST_PREFIX "selftest."

#define RESUME_ASSERT 2 /* kjmp_restore value after a failed assertion */

static const struct ktest *selected[KTEST_MAX];

/* The running test's state: the runner's catcher is the resume point of
 * every early end; current is NULL between tests. */
static struct {
    struct trap_catch catcher;
    const struct ktest *current;
    unsigned index; /* TAP number of current */
    unsigned total, passed, failed;
} run;

static const struct ktest *tests_begin(void) { return (const struct ktest *)__ktest_start; }
static const struct ktest *tests_end(void) { return (const struct ktest *)__ktest_end; }

unsigned ktest_count(void) { return (unsigned)(tests_end() - tests_begin()); }

/* ---- assertions ---------------------------------------------------------- */

int ktest_cmp(struct kt_val a, struct kt_val b)
{
    bool a_neg = a.is_signed && (int64_t)a.bits < 0;
    bool b_neg = b.is_signed && (int64_t)b.bits < 0;
    if (a_neg != b_neg)
        return a_neg ? -1 : 1;
    /* Same sign: two's-complement order equals unsigned order in both cases. */
    return a.bits < b.bits ? -1 : a.bits > b.bits ? 1 : 0;
}

bool ktest_streq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static void print_val(const char *label, const char *expr, struct kt_val v)
{
    if (v.is_signed)
        kprintf("#   %s %s = %lld (0x%llx)\n", label, expr, (long long)v.bits, (unsigned long long)v.bits);
    else
        kprintf("#   %s %s = %llu (0x%llx)\n", label, expr, (unsigned long long)v.bits,
                (unsigned long long)v.bits);
}

/* Ends the running test as failed. Outside a test (a KT_ macro used from
 * ordinary kernel code) there is nothing to return to: panic. */
static _Noreturn void end_test(void)
{
    if (run.current == NULL)
        panic("a KT_ assertion failed outside a running test");
    kjmp_restore(&run.catcher.resume, RESUME_ASSERT);
}

static void fail_header(const char *file, int line)
{
    kprintf_end_line();
    kprintf_set_line_prefix(NULL); /* the details carry their own "# " */
    kprintf("# %s: %s:%d: assertion failed\n", run.current ? run.current->name : "(no test)", file, line);
}

_Noreturn void ktest_fail_cmp(const char *file, int line, const char *ea, const char *op, const char *eb,
                              struct kt_val a, struct kt_val b)
{
    fail_header(file, line);
    kprintf("#   expected %s %s %s\n", ea, op, eb);
    print_val("left: ", ea, a);
    print_val("right:", eb, b);
    end_test();
}

_Noreturn void ktest_fail_cond(const char *file, int line, const char *expr)
{
    fail_header(file, line);
    kprintf("#   expected %s to be true\n", expr);
    end_test();
}

_Noreturn void ktest_fail_str(const char *file, int line, const char *ea, const char *eb, const char *a,
                              const char *b)
{
    fail_header(file, line);
    kprintf("#   expected strings %s and %s to be equal\n", ea, eb);
    kprintf(a ? "#   left:  \"%s\"\n" : "#   left:  %s\n", a ? a : "NULL");
    kprintf(b ? "#   right: \"%s\"\n" : "#   right: %s\n", b ? b : "NULL");
    end_test();
}

_Noreturn void ktest_fail_fault(const char *file, int line, const char *stmt, uint64_t want,
                                const struct trap_fault *got)
{
    fail_header(file, line);
    kprintf("#   expected %s (%s) from: %s\n", trap_mnemonic(want), trap_name(want), stmt);
    if (got == NULL)
        kprintf("#   but it completed without a fault\n");
    else
        kprintf("#   but got %s (%s), error code 0x%llx, RIP 0x%llx, CR2 0x%llx\n", trap_mnemonic(got->vector),
                trap_name(got->vector), (unsigned long long)got->error_code, (unsigned long long)got->rip,
                (unsigned long long)got->cr2);
    end_test();
}

void ktest_diag(const char *fmt, ...)
{
    va_list ap;
    const char *old = kprintf_set_line_prefix("# ");
    kprintf_end_line();
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf_end_line();
    kprintf_set_line_prefix(old);
}

/* ---- the runner ---------------------------------------------------------- */

static bool wanted(const struct ktest *t, const char *glob)
{
    if (strncmp(t->name, SELFTEST_PREFIX, sizeof(SELFTEST_PREFIX) - 1) == 0 &&
        !glob_has_literal_prefix(glob, SELFTEST_PREFIX))
        return false;
    return glob_match(glob, t->name);
}

/* Insertion sort by name: a few hundred tests at most, run once. */
static void sort_by_name(const struct ktest **v, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        const struct ktest *t = v[i];
        unsigned j = i;
        while (j > 0 && strcmp(v[j - 1]->name, t->name) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

static _Noreturn void bail_out(const char *why, const struct ktest *a, const struct ktest *b)
{
    kprintf("Bail out! %s: %s (%s:%u)", why, a->name, a->file, a->line);
    if (b != NULL)
        kprintf(" and %s:%u", b->file, b->line);
    kprintf("\n0 passed, 1 failed\n");
    kernel_exit(DEBUG_EXIT_TESTS_FAILED);
}

static uint64_t g_seed;

uint64_t ktest_seed(void) { return g_seed; }

/* A seed for a run without seed=N: the TSC, mixed (splitmix64's finalizer)
 * so that runs a few cycles apart differ in every bit; below 2^53 so it is
 * short to type back, and never 0 (xorshift's fixed point). */
static uint64_t fresh_seed(void)
{
    uint64_t z = rdtsc() + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z = (z ^ (z >> 31)) & ((1ull << 53) - 1);
    return z ? z : 1;
}

/*
 * True if every frame a test kept (before -> after) is runtime metadata the
 * runtime keeps for reuse (FRAME_OWNER_RTMETA: G structs, span structs, made
 * on demand at a new peak and never returned, as Go keeps them) and the page
 * tables that map it; *meta and *pt say how many of each. The runtime cannot
 * make this deterministic: a world makes G structs for its own peak of live
 * coroutines, and whether that peak beats every earlier world's depends on
 * how fast the other CPUs ran earlier tests' workers (issue 10: end_of_world's
 * 101 coroutines, 64 frames = one 256 KiB persistent chunk). Any other
 * owner's growth, frames that appeared, or page tables beyond what mapping
 * the metadata needs (one per 2 MiB, plus a directory and a pointer table at
 * each end) is a leak. rt.sched.spread checks that metadata growth is
 * bounded by the G structs made.
 */
static bool kept_only_runtime_metadata(const struct frame_stats *before, const struct frame_stats *after,
                                       uint64_t *meta, uint64_t *pt)
{
    *meta = after->used_frames[FRAME_OWNER_RTMETA] - before->used_frames[FRAME_OWNER_RTMETA];
    *pt = after->used_frames[FRAME_OWNER_PAGETABLE] - before->used_frames[FRAME_OWNER_PAGETABLE];
    if (after->used_frames[FRAME_OWNER_RTMETA] <= before->used_frames[FRAME_OWNER_RTMETA] ||
        after->used_frames[FRAME_OWNER_PAGETABLE] < before->used_frames[FRAME_OWNER_PAGETABLE] ||
        *pt > *meta / 512 + 3)
        return false;
    for (unsigned o = FRAME_OWNER_METADATA; o < FRAME_NOWNERS; o++)
        if (o != FRAME_OWNER_RTMETA && o != FRAME_OWNER_PAGETABLE && o != FRAME_OWNER_CACHE &&
            after->used_frames[o] != before->used_frames[o])
            return false;
    uint64_t free_before = before->free_frames + before->used_frames[FRAME_OWNER_CACHE]; /* cached are free */
    uint64_t free_after = after->free_frames + after->used_frames[FRAME_OWNER_CACHE];
    return free_before > free_after && free_before - free_after == *meta + *pt;
}

/* The frames a test left, per owner, for a failing leak check. */
static void print_owner_changes(const struct frame_stats *before, const struct frame_stats *after)
{
    for (unsigned o = FRAME_OWNER_METADATA; o < FRAME_NOWNERS; o++)
        if (after->used_frames[o] != before->used_frames[o])
            kprintf("  %s: %llu -> %llu frames\n", frame_owner_name((enum frame_owner)o),
                    (unsigned long long)before->used_frames[o], (unsigned long long)after->used_frames[o]);
}

static void run_one(const struct ktest *t, unsigned index)
{
    struct frame_stats stats_before, stats_after;
    frame_stats(&stats_before);
    uint64_t free_before = frame_free_count();
    run.current = t;
    run.index = index;
    kprintf_set_line_prefix("# ");

    trap_catch_push(&run.catcher, true);
    int how = kjmp_save(&run.catcher.resume);
    if (how == 0) {
        t->fn();
        trap_catch_pop(&run.catcher);
    }
    /* Catchers the test armed and never popped (it ended early) are dead. */
    trap_catch_unwind_to(NULL);

    kprintf_end_line();
    uint64_t free_after = frame_free_count();
    if (how == 0 && !(t->flags & KTEST_F_KEEPS_FRAMES) && free_after != free_before) {
        frame_stats(&stats_after);
        uint64_t meta, pt;
        if (kept_only_runtime_metadata(&stats_before, &stats_after, &meta, &pt)) {
            kprintf("%s: kept %llu frames of runtime metadata and %llu page tables mapping it (a new peak)\n",
                    t->name, (unsigned long long)meta, (unsigned long long)pt);
        } else {
            kprintf("%s: the free-frame count went from %llu to %llu (%lld frames %s); by owner:\n", t->name,
                    (unsigned long long)free_before, (unsigned long long)free_after,
                    (long long)(free_before > free_after ? free_before - free_after : free_after - free_before),
                    free_before > free_after ? "leaked" : "appeared");
            print_owner_changes(&stats_before, &stats_after);
            how = RESUME_ASSERT;
        }
    }
    kprintf_set_line_prefix(NULL);
    if (how == 0) {
        run.passed++;
        kprintf("ok %u - %s\n", index, t->name);
    } else {
        run.failed++;
        if (how != RESUME_ASSERT)
            kprintf("# %s: unexpected CPU exception (report above); the suite continues\n", t->name);
        /* The kernel does not know the launcher's other flags (--machine,
         * --cpu, --mem): the line says what it knows. */
        kprintf("# rerun: scripts/qemu --cmdline \"test=%s seed=%llu\" --smp %u (and this run's other flags)\n",
                t->name, (unsigned long long)g_seed, cpu_count());
        kprintf("not ok %u - %s\n", index, t->name);
    }
    run.current = NULL;
}

_Noreturn void ktest_run(const char *glob, bool seed_set, uint64_t seed)
{
    g_seed = seed_set ? seed : fresh_seed();
    unsigned n = 0, skipped_selftests = 0;
    for (const struct ktest *t = tests_begin(); t < tests_end(); t++) {
        if (!wanted(t, glob)) {
            if (strncmp(t->name, SELFTEST_PREFIX, sizeof(SELFTEST_PREFIX) - 1) == 0 && glob_match(glob, t->name))
                skipped_selftests++;
            continue;
        }
        if (n == KTEST_MAX)
            bail_out("more tests than KTEST_MAX", t, NULL);
        selected[n++] = t;
    }
    sort_by_name(selected, n);

    kprintf("TAP version 13\n");
    for (unsigned i = 1; i < n; i++)
        if (strcmp(selected[i - 1]->name, selected[i]->name) == 0)
            bail_out("two tests share a name", selected[i - 1], selected[i]);

    kprintf("1..%u\n", n);
    kprintf("# %u of %u registered tests match test=%s\n", n, ktest_count(), glob);
    kprintf("# seed=%llu%s\n", (unsigned long long)g_seed,
            seed_set ? " (from the command line)" : " (fresh; boot with this seed=N to repeat the run)");
    if (skipped_selftests)
        kprintf("# %u selftest.* tests not run: they fail on purpose; select them with test=selftest.*\n",
                skipped_selftests);
    run.total = n;
    for (unsigned i = 0; i < n; i++)
        run_one(selected[i], i + 1);

    if (n == 0)
        kprintf("# no test name matches test=%s: nothing ran, which counts as failure\n", glob);
    kprintf("%u passed, %u failed\n", run.passed, run.failed);
    profile_at_exit();
    kernel_exit(run.failed == 0 && n > 0 ? DEBUG_EXIT_SUCCESS : DEBUG_EXIT_TESTS_FAILED);
}

void ktest_on_panic(void)
{
    if (run.current == NULL)
        return;
    kprintf_end_line();
    kprintf_set_line_prefix(NULL);
    kprintf("not ok %u - %s\n", run.index, run.current->name);
    kprintf("Bail out! kernel panic during %s\n", run.current->name);
    kprintf("%u passed, %u failed\n", run.passed, run.failed + 1);
    run.current = NULL;
}
