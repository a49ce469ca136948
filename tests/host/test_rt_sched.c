/*
 * test_rt_sched.c - coroutines on Linux threads: the scheduler and copyable
 * stacks of rt/proc.c and rt/stack.c under UBSan and ASan (hosted port).
 *
 * The cases are tests/rt/sched_cases.c, which the in-kernel suite runs too
 * (tests/case.h); they run first. What only the host checks follows: the
 * panics, each in a forked child (test_rt_common.c). Everything a coroutine
 * runs here is built with -fsplit-stack (tests/host/rt.mk), and nothing
 * prints from a coroutine (libc is not stack-checked).
 */
#include "rt/port/hosted.h"
#include "rt/rt.h"
#include "rt/sched.h"
#include "tests/host/cases.h"

#include <stdint.h>
#include <string.h>

int run_child(void (*fn)(void), char *out, size_t outsize);
bool died_with(int status, const char *out, const char *what);

#define NOINLINE __attribute__((noinline))

/* ---- panics (children) ---- */

/* the limit */

static volatile uint64_t forever_limit = ~0ull;   /* never reached: recursion until the limit */
NOINLINE static uint64_t forever(uint64_t n)
{
	volatile char pad[512];
	pad[0] = (char)n;
	if (n == forever_limit)
		return 0;
	return forever(n + 1) + pad[0];
}

static void limit_main(void *arg)
{
	(void)arg;
	forever(0);
}

static void limit_child(void)
{
	rt_set_max_stack(1 << 20);
	rt_run(limit_main, NULL, 1);
}

static void setter(void *arg) { (void)arg; }

static void stack_arg_child_main(void *arg)
{
	int local = 0;
	(void)arg;
	rt_go(setter, &local);   /* a pointer into this coroutine's stack: refused */
}

static void stack_arg_child(void) { rt_run(stack_arg_child_main, NULL, 1); }

int main(void)
{
	rt_init();
	run_cases();

	char out[4096];
	int st = run_child(limit_child, out, sizeof out);
	tap_check(died_with(st, out, "stack overflow: coroutine"), "the stack limit panics naming the coroutine");
	st = run_child(stack_arg_child, out, sizeof out);
	tap_check(died_with(st, out, "points into a coroutine stack"), "rt_go refuses a pointer into a stack");
	return tap_done();
}
