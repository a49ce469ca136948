/*
 * case.h - a test case written once, run by both harnesses: the host's TAP
 * executables (tests/host/, under ASan/UBSan) and the in-kernel suite
 * (kernel/ktest.h). A file of cases (tests/rt/NAME_cases.c, tests/mm/NAME_cases.c)
 * is compiled into a host test binary and into the kernel image:
 *
 *   #define CASE_GROUP "rt.chan"
 *   #include "tests/case.h"
 *
 *   CASE(fifo) {                         // named "rt.chan.fifo" in both
 *       EXPECT_EQ(rt_run(fifo_main, NULL, CASE_ALL_PROCS), 0);
 *       EXPECT_TRUE(fifo_received > 0);
 *       CASE_DIAG("%lu received", (unsigned long)fifo_received);
 *   }
 *
 * What each side does
 *   kernel  CASE is KTEST: registered in .ktest, selected by test=GLOB, its
 *           free frames counted by the runner (CASE_KEEPS_FRAMES opts out,
 *           as KTEST_KEEPS_FRAMES). EXPECT_* are the KT_ assertions.
 *   host    CASE registers the case from a constructor; the binary's main
 *           runs them all by name order (tests/host/cases.h: run_cases), one
 *           TAP line each. EXPECT_* print the same diagnostics as the
 *           kernel's ("# NAME: file:line: assertion failed", the expression,
 *           both values in decimal and hex) and end the case.
 *
 * Contract for case bodies
 *   - An assertion that fails ends the case at once (the kernel abandons its
 *     stack; the host longjmps): no cleanup after it runs, so a case must not
 *     leave state a later case depends on half built.
 *   - Assert only from the case's own thread, never from inside a coroutine
 *     (hosted coroutines must not call libc; both sides record findings in
 *     statics and assert after rt_run returns).
 *   - CASE_DIAG prints one "# " line (format checked like printf; %lu for
 *     uint64_t works on both sides, which are LP64).
 *   - Randomized cases seed their generator with case_seed() at their start,
 *     so one seed reproduces a case run alone or in the suite. The seed comes
 *     from seed=N (kernel command line) or TEST_SEED=N (host environment), or
 *     is fresh each run; both harnesses print it ("# seed=N") and, when a case
 *     fails, the command that reruns it.
 *   - CASE_ALL_PROCS is the rt_run processor count of "every P": all CPUs in
 *     the kernel, 4 threads on the host (so the host run is the same on any
 *     machine); CASE_NPROCS() is how many Ps that gives.
 *   - HOSTED is defined on the host side; a few #ifndef HOSTED lines may add
 *     checks only one side can make (e.g. the kernel's frame owners).
 */
#ifndef TESTS_CASE_H
#define TESTS_CASE_H

#ifndef CASE_GROUP
#error "define CASE_GROUP (the dotted name prefix, e.g. \"rt.chan\") before including tests/case.h"
#endif

#include <stdbool.h>
#include <stdint.h>

#ifndef HOSTED
/* ---- kernel: the KTEST framework ---- */
#include "kernel/ktest.h"
#include "kernel/lib/percpu.h"

#define CASE_FLAGS_(ident, flags) KTEST_FLAGS(case_##ident, CASE_GROUP "." #ident, flags)
#define CASE_KEEPS_FRAMES_F KTEST_F_KEEPS_FRAMES

#define EXPECT_TRUE(cond) KT_ASSERT(cond)
#define EXPECT_EQ(a, b) KT_EQ(a, b)
#define EXPECT_NE(a, b) KT_NE(a, b)
#define EXPECT_LT(a, b) KT_LT(a, b)
#define EXPECT_LE(a, b) KT_LE(a, b)
#define EXPECT_GT(a, b) KT_GT(a, b)
#define EXPECT_GE(a, b) KT_GE(a, b)
#define EXPECT_STREQ(a, b) KT_STREQ(a, b)
#define CASE_DIAG(...) ktest_diag(__VA_ARGS__)

static inline uint64_t case_seed(void) { return ktest_seed(); }
#define CASE_ALL_PROCS 0
#define CASE_NPROCS() cpu_count()

#else
/* ---- host: tests/host/case_runner.c ---- */
struct test_case {
    const char *name;
    void (*fn)(void);
    const char *file;
    int line;
    struct test_case *next; /* the registry's list (case_runner.c) */
};

void case_register(struct test_case *c);    /* from CASE's constructor */
const struct test_case *case_first(void);   /* the list, in name order */
bool case_exec(const struct test_case *c);  /* runs one; true if it passed */

#define CASE_FLAGS_(ident, flags)                                                                \
    static void case_fn_##ident(void);                                                           \
    static struct test_case case_rec_##ident = { CASE_GROUP "." #ident, case_fn_##ident,         \
                                                 __FILE__, __LINE__, 0 };                        \
    __attribute__((constructor)) static void case_reg_##ident(void)                              \
    {                                                                                            \
        (void)(flags);                                                                           \
        case_register(&case_rec_##ident);                                                        \
    }                                                                                            \
    static void case_fn_##ident(void)
#define CASE_KEEPS_FRAMES_F 1 /* no frames on the host: ignored */

/* A value being compared, widened without loss (as the kernel's kt_val). */
struct case_val {
    bool is_signed;
    uint64_t bits;
};
#define CASE_S_(x) ((struct case_val){ true, (uint64_t)(int64_t)(x) })
#define CASE_U_(x) ((struct case_val){ false, (uint64_t)(uintptr_t)(x) })
#define CASE_VAL_(x)                                                                             \
    _Generic((x), char: CASE_S_(x), signed char: CASE_S_(x), short: CASE_S_(x), int: CASE_S_(x), \
             long: CASE_S_(x), long long: CASE_S_(x), default: CASE_U_(x))

int case_cmp(struct case_val a, struct case_val b); /* -1, 0, 1 mathematically */
_Noreturn void case_fail_cmp(const char *file, int line, const char *ea, const char *op, const char *eb,
                             struct case_val a, struct case_val b);
_Noreturn void case_fail_cond(const char *file, int line, const char *expr);
_Noreturn void case_fail_str(const char *file, int line, const char *ea, const char *eb, const char *a,
                             const char *b);
bool case_streq(const char *a, const char *b); /* NULL equals only NULL */
void case_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t case_seed(void);

#define EXPECT_TRUE(cond)                                                                        \
    do {                                                                                         \
        if (!(cond))                                                                             \
            case_fail_cond(__FILE__, __LINE__, #cond);                                           \
    } while (0)
#define CASE_CMP_(a, op, b, okexpr)                                                              \
    do {                                                                                         \
        struct case_val case_a_ = CASE_VAL_(a), case_b_ = CASE_VAL_(b);                          \
        int case_c_ = case_cmp(case_a_, case_b_);                                                \
        if (!(okexpr))                                                                           \
            case_fail_cmp(__FILE__, __LINE__, #a, op, #b, case_a_, case_b_);                     \
    } while (0)
#define EXPECT_EQ(a, b) CASE_CMP_(a, "==", b, case_c_ == 0)
#define EXPECT_NE(a, b) CASE_CMP_(a, "!=", b, case_c_ != 0)
#define EXPECT_LT(a, b) CASE_CMP_(a, "<", b, case_c_ < 0)
#define EXPECT_LE(a, b) CASE_CMP_(a, "<=", b, case_c_ <= 0)
#define EXPECT_GT(a, b) CASE_CMP_(a, ">", b, case_c_ > 0)
#define EXPECT_GE(a, b) CASE_CMP_(a, ">=", b, case_c_ >= 0)
#define EXPECT_STREQ(a, b)                                                                       \
    do {                                                                                         \
        const char *case_sa_ = (a), *case_sb_ = (b);                                             \
        if (!case_streq(case_sa_, case_sb_))                                                     \
            case_fail_str(__FILE__, __LINE__, #a, #b, case_sa_, case_sb_);                       \
    } while (0)
#define CASE_DIAG(...) case_diag(__VA_ARGS__)
#define CASE_ALL_PROCS 4
#define CASE_NPROCS() 4u
#endif

#define CASE(ident) CASE_FLAGS_(ident, 0)
/* The case keeps frames on purpose (the runtime's heap arenas, G structs):
 * the kernel runner does not count its frames (KTEST_F_KEEPS_FRAMES). */
#define CASE_KEEPS_FRAMES(ident) CASE_FLAGS_(ident, CASE_KEEPS_FRAMES_F)

#endif
