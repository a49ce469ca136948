/*
 * case_runner.c - the host side of tests/case.h: the registry of CASEs and
 * the assertions that end one. Linked into every host test binary that
 * compiles a file of cases; the binary's main runs them with run_cases()
 * (tests/host/cases.h), which prints the TAP lines.
 *
 * How a case runs (case_exec)
 *   1. setjmp into `resume`; call the case's function.
 *   2. It returns: passed. An EXPECT_* fails: case_fail_* prints
 *      "# NAME: file:line: assertion failed" and the details (the same lines
 *      as kernel/ktest.c prints), then longjmps back: failed.
 *   The case's own stack frames are abandoned, not unwound (the kernel does
 *   the same): cases must not leave state half built that another needs.
 *
 * Invariants: the list is sorted by name as cases register (constructors
 * run in link order, so the sort gives the kernel's order); names are unique
 * (a duplicate aborts at registration, before main).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASE_GROUP "host" /* only for the header's check; this file has no cases */
#include "tests/case.h"
#include "tests/host/seed.h"

static struct test_case *cases;        /* sorted by name */
static const struct test_case *running;
static jmp_buf resume;

void case_register(struct test_case *c)
{
    struct test_case **at = &cases;
    while (*at != NULL && strcmp((*at)->name, c->name) < 0)
        at = &(*at)->next;
    if (*at != NULL && strcmp((*at)->name, c->name) == 0) {
        fprintf(stderr, "two cases named %s (%s:%d and %s:%d)\n", c->name, (*at)->file, (*at)->line,
                c->file, c->line);
        abort();
    }
    c->next = *at;
    *at = c;
}

const struct test_case *case_first(void) { return cases; }

/* Runs one case; true if it passed. */
bool case_exec(const struct test_case *c)
{
    running = c;
    bool passed = setjmp(resume) == 0;
    if (passed)
        c->fn(); /* returns only if every assertion held */
    running = NULL;
    fflush(stdout);
    return passed;
}

int case_cmp(struct case_val a, struct case_val b)
{
    bool a_neg = a.is_signed && (int64_t)a.bits < 0;
    bool b_neg = b.is_signed && (int64_t)b.bits < 0;
    if (a_neg != b_neg)
        return a_neg ? -1 : 1;
    return a.bits < b.bits ? -1 : a.bits > b.bits ? 1 : 0; /* same sign: unsigned order */
}

bool case_streq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static _Noreturn void end_case(void)
{
    fflush(stdout);
    if (running == NULL)
        abort(); /* an EXPECT outside a running case */
    longjmp(resume, 1);
}

static void fail_header(const char *file, int line)
{
    printf("# %s: %s:%d: assertion failed\n", running ? running->name : "(no case)", file, line);
}

static void print_val(const char *label, const char *expr, struct case_val v)
{
    if (v.is_signed)
        printf("#   %s %s = %lld (0x%llx)\n", label, expr, (long long)v.bits, (unsigned long long)v.bits);
    else
        printf("#   %s %s = %llu (0x%llx)\n", label, expr, (unsigned long long)v.bits,
               (unsigned long long)v.bits);
}

_Noreturn void case_fail_cmp(const char *file, int line, const char *ea, const char *op, const char *eb,
                             struct case_val a, struct case_val b)
{
    fail_header(file, line);
    printf("#   expected %s %s %s\n", ea, op, eb);
    print_val("left: ", ea, a);
    print_val("right:", eb, b);
    end_case();
}

_Noreturn void case_fail_cond(const char *file, int line, const char *expr)
{
    fail_header(file, line);
    printf("#   expected %s to be true\n", expr);
    end_case();
}

_Noreturn void case_fail_str(const char *file, int line, const char *ea, const char *eb, const char *a,
                             const char *b)
{
    fail_header(file, line);
    printf("#   expected strings %s and %s to be equal\n", ea, eb);
    printf(a ? "#   left:  \"%s\"\n" : "#   left:  %s\n", a ? a : "NULL");
    printf(b ? "#   right: \"%s\"\n" : "#   right: %s\n", b ? b : "NULL");
    end_case();
}

void case_diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

uint64_t case_seed(void) { return test_seed(); }
