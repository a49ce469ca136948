/*
 * tap.h - a tiny TAP version 13 helper for host tests (header-only).
 *
 *   tap_check(cond, "name %d", i)   prints "ok N - name" or "not ok N - name"
 *                                   and returns cond
 *   tap_diag("fmt", ...)            prints "# ..." (one line; newline added)
 *   uint64_t s = tap_seed();         the run's seed (seed.h: TEST_SEED=N or a fresh
 *                                   one); the first call prints "# seed=N"
 *   return tap_done();              prints "1..N" and "P passed, F failed";
 *                                   returns the exit status (0 only if none failed);
 *                                   after a failure in a run that used a seed, also
 *                                   "# rerun: TEST_SEED=N <this executable>"
 *
 * The plan line comes last (TAP allows a trailing plan) so a test need not
 * count its cases up front. Output is flushed after every line so a crash
 * under a sanitizer still leaves the lines before it.
 */
#ifndef TESTS_HOST_TAP_H
#define TESTS_HOST_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/host/seed.h"

static int tap_count_;
static int tap_failed_;
static bool tap_started_;
static bool tap_seed_printed_;

extern char *program_invocation_name; /* glibc: argv[0] as the test was started */

static inline void tap_start_(void)
{
    if (!tap_started_) {
        tap_started_ = true;
        printf("TAP version 13\n");
    }
}

__attribute__((format(printf, 2, 3), unused))
static bool tap_check(bool cond, const char *fmt, ...)
{
    va_list ap;
    tap_start_();
    tap_count_++;
    if (!cond)
        tap_failed_++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_count_);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

__attribute__((format(printf, 1, 2), unused))
static void tap_diag(const char *fmt, ...)
{
    va_list ap;
    tap_start_();
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

__attribute__((unused))
static uint64_t tap_seed(void)
{
    uint64_t seed = test_seed();
    if (!tap_seed_printed_) {
        tap_seed_printed_ = true;
        tap_diag("seed=%llu", (unsigned long long)seed);
    }
    return seed;
}

__attribute__((unused))
static int tap_done(void)
{
    tap_start_();
    if (tap_failed_ > 0 && getenv("TEST_SEED") != NULL)
        tap_diag("rerun: TEST_SEED=%llu %s", (unsigned long long)test_seed(), program_invocation_name);
    printf("1..%d\n", tap_count_);
    printf("%d passed, %d failed\n", tap_count_ - tap_failed_, tap_failed_);
    fflush(stdout);
    return tap_failed_ == 0 ? 0 : 1;
}

#endif
