/*
 * ktest.h - the in-kernel test framework (runner: kernel/ktest.c).
 *
 *   KTEST(fmt_width, "core.fmt.width") {
 *       char b[16];
 *       KT_EQ(ksnprintf(b, sizeof(b), "%5d", 42), 5);
 *       KT_STREQ(b, "   42");
 *   }
 *
 * A test registers itself by placing a struct ktest in the .ktest section;
 * `test` on the kernel command line runs them all in name order, `test=GLOB`
 * those whose name matches. Names are dotted, starting with the owning
 * group (core., mm., rt.). Tests named "selftest.*" fail on purpose (they
 * check the framework and the launcher) and run only when the glob names
 * them explicitly (test=selftest.* - not test or test=*).
 *
 * Assertions: a failing one prints "# file:line: ..." diagnostics with both
 * values and ends the test (the rest of its body does not run). Values are
 * compared as mathematical integers (signed and unsigned mix correctly;
 * pointers compare as addresses).
 *
 * Everything a test prints with kprintf appears as a "# " diagnostic line.
 * A CPU exception the test did not expect fails it with the full fault
 * report as diagnostics; the suite goes on with the next test.
 */
#ifndef KERNEL_KTEST_H
#define KERNEL_KTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/lib/kprintf.h"
#include "kernel/trap.h"

struct ktest {
    const char *name;  /* "group.sub.name" */
    void (*fn)(void);
    const char *file;
    uint32_t line;
    uint32_t flags;    /* KTEST_F_* */
};

/* The test keeps frames on purpose (e.g. the runtime heap grows and keeps its
 * arenas): the runner does not count its frames. Every other test must leave
 * the free-frame count as it found it, or it fails. */
#define KTEST_F_KEEPS_FRAMES 1u
_Static_assert(sizeof(struct ktest) == 32, "linker/kernel.ld checks .ktest in 32-byte records");

#define KTEST_FLAGS(ident, name_, flags_)                                                        \
    static void ktest_fn_##ident(void);                                                          \
    __attribute__((used, section(".ktest"), aligned(8))) static const struct ktest               \
        ktest_rec_##ident = { (name_), ktest_fn_##ident, __FILE__, __LINE__, (flags_) };         \
    static void ktest_fn_##ident(void)
#define KTEST(ident, name_) KTEST_FLAGS(ident, name_, 0)
#define KTEST_KEEPS_FRAMES(ident, name_) KTEST_FLAGS(ident, name_, KTEST_F_KEEPS_FRAMES)

/* The seed of randomized tests: seed=N from the command line, or a fresh
 * one each run (from the TSC). The runner prints it ("# seed=N"); a test
 * seeds its generator from it when it starts, so test=NAME seed=N repeats
 * that test exactly. */
uint64_t ktest_seed(void);

/* A value being compared: any integer or pointer, widened without loss. */
struct kt_val {
    bool is_signed;
    uint64_t bits; /* the value; as int64_t when is_signed */
};

#define KT_S_(x) ((struct kt_val){ true, (uint64_t)(int64_t)(x) })
#define KT_U_(x) ((struct kt_val){ false, (uint64_t)(uintptr_t)(x) })
#define KT_VAL_(x)                                                                               \
    _Generic((x), char: KT_S_(x), signed char: KT_S_(x), short: KT_S_(x), int: KT_S_(x),        \
             long: KT_S_(x), long long: KT_S_(x), default: KT_U_(x))

/* -1, 0, 1 as a <, ==, > b mathematically. */
int ktest_cmp(struct kt_val a, struct kt_val b);

_Noreturn void ktest_fail_cmp(const char *file, int line, const char *ea, const char *op, const char *eb,
                              struct kt_val a, struct kt_val b);
_Noreturn void ktest_fail_cond(const char *file, int line, const char *expr);
_Noreturn void ktest_fail_str(const char *file, int line, const char *ea, const char *eb, const char *a,
                              const char *b);
_Noreturn void ktest_fail_fault(const char *file, int line, const char *stmt, uint64_t want,
                                const struct trap_fault *got);

/* Prints one "# ..." diagnostic line (a newline is added if missing). */
void ktest_diag(const char *fmt, ...) KPRINTF_FMT(1, 2);

#define KT_ASSERT(cond)                                                                          \
    do {                                                                                         \
        if (!(cond))                                                                             \
            ktest_fail_cond(__FILE__, __LINE__, #cond);                                          \
    } while (0)

#define KT_CMP_(a, op, b, okexpr)                                                                \
    do {                                                                                         \
        struct kt_val kt_a_ = KT_VAL_(a), kt_b_ = KT_VAL_(b);                                    \
        int kt_c_ = ktest_cmp(kt_a_, kt_b_);                                                     \
        if (!(okexpr))                                                                           \
            ktest_fail_cmp(__FILE__, __LINE__, #a, op, #b, kt_a_, kt_b_);                        \
    } while (0)

#define KT_EQ(a, b) KT_CMP_(a, "==", b, kt_c_ == 0)
#define KT_NE(a, b) KT_CMP_(a, "!=", b, kt_c_ != 0)
#define KT_LT(a, b) KT_CMP_(a, "<", b, kt_c_ < 0)
#define KT_LE(a, b) KT_CMP_(a, "<=", b, kt_c_ <= 0)
#define KT_GT(a, b) KT_CMP_(a, ">", b, kt_c_ > 0)
#define KT_GE(a, b) KT_CMP_(a, ">=", b, kt_c_ >= 0)

#define KT_STREQ(a, b)                                                                           \
    do {                                                                                         \
        const char *kt_sa_ = (a), *kt_sb_ = (b);                                                 \
        if (!ktest_streq(kt_sa_, kt_sb_))                                                        \
            ktest_fail_str(__FILE__, __LINE__, #a, #b, kt_sa_, kt_sb_);                          \
    } while (0)

bool ktest_streq(const char *a, const char *b); /* NULL equals only NULL */

/*
 * Runs stmt expecting CPU exception `vector`. The test fails if stmt
 * completes without a fault or raises a different exception. Afterwards
 * trap_last_fault() (kernel/trap.h) has the vector, error code, CR2 and RIP.
 * Locals that stmt modifies must be volatile (the setjmp rule).
 */
#define KT_EXPECT_FAULT(vec_, stmt)                                                            \
    do {                                                                                         \
        struct trap_catch kt_catch_;                                                             \
        trap_catch_push(&kt_catch_, false);                                                      \
        if (kjmp_save(&kt_catch_.resume) == 0) {                                                 \
            stmt;                                                                                \
            trap_catch_pop(&kt_catch_);                                                          \
            ktest_fail_fault(__FILE__, __LINE__, #stmt, (vec_), NULL);                         \
        }                                                                                        \
        if (kt_catch_.fault.vector != (uint64_t)(vec_))                                        \
            ktest_fail_fault(__FILE__, __LINE__, #stmt, (vec_), &kt_catch_.fault);             \
    } while (0)

/* Runs the tests whose names match glob (see above), prints TAP version 13
 * and "N passed, N failed", and exits QEMU with DEBUG_EXIT_SUCCESS or
 * DEBUG_EXIT_TESTS_FAILED. */
_Noreturn void ktest_run(const char *glob, bool seed_set, uint64_t seed);

/* Number of registered tests. */
unsigned ktest_count(void);

/* For panic(): if a test is running, close the TAP stream (the running test
 * is "not ok", then "Bail out!" and the counts). */
void ktest_on_panic(void);

#endif
