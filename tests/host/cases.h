/*
 * cases.h - run a host binary's CASEs (tests/case.h) as TAP lines through
 * tap.h. Include it, after tap.h, in the one file that has main:
 *
 *   int main(void) { ...; run_cases(); ...; return tap_done(); }
 *
 * run_cases prints the seed ("# seed=N") first, then one "ok N - NAME" or
 * "not ok N - NAME" per case in name order (the kernel's order), each after
 * the case's diagnostics.
 */
#ifndef TESTS_HOST_CASES_H
#define TESTS_HOST_CASES_H

#include <stdbool.h>

#include "tests/host/tap.h"
#ifndef CASE_GROUP
#define CASE_GROUP "host" /* a main file without cases of its own */
#endif
#include "tests/case.h"

__attribute__((unused))
static void run_cases(void)
{
    tap_seed();
    for (const struct test_case *c = case_first(); c != NULL; c = c->next)
        tap_check(case_exec(c), "%s", c->name);
}

#endif
