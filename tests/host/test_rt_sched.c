/*
 * test_rt_sched.c - coroutines on Linux threads: the scheduler and copyable
 * stacks of rt/proc.c and rt/stack.c under UBSan and ASan (hosted port).
 *
 * Everything a coroutine runs here is built with -fsplit-stack (tests/host/
 * rt.mk), and nothing prints from a coroutine: results go to globals and are
 * checked with tap_check after rt_run returns (libc is not stack-checked).
 */
#include "rt/port/hosted.h"
#include "rt/rt.h"
#include "rt/runtime2.h"
#include "rt/sched.h"
#include "tests/host/tap.h"
#include "tests/xorshift.h"

#include <stdint.h>
#include <string.h>

int run_child(void (*fn)(void), char *out, size_t outsize);
bool died_with(int status, const char *out, const char *what);

#define NOINLINE __attribute__((noinline))

/* ---- 1. many coroutines, exact count, every P used ---- */

#define NSPAWN 2000
static volatile uint64_t spawn_done;
static volatile uint64_t per_proc[64];

static void spawned(void *arg)
{
	(void)arg;
	for (volatile int i = 0; i < 2000; i++)
		;
	__atomic_add_fetch(&per_proc[rt_current_proc()], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&spawn_done, 1, __ATOMIC_RELAXED);
}

static void spawn_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < NSPAWN; i++)
		rt_go(spawned, NULL);
	while (__atomic_load_n(&spawn_done, __ATOMIC_RELAXED) < NSPAWN)
		rt_gosched();
}

/* ---- 2. growth past 64 MiB with pointers to outer locals ---- */

struct level {
	uint64_t value;
	struct level *outer;   /* a pointer into an outer frame: must be relocated */
	char pad[1000];
};

static volatile uint64_t grow_bad, grow_levels, grow_size, grow_copies;
static uintptr_t grow_target = (uintptr_t)64 << 20;

NOINLINE static uint64_t deep(struct level *outer, uint64_t n)
{
	struct level here;
	here.value = n * 2654435761u;
	here.outer = outer;
	memset(here.pad, (int)(n & 0xff), sizeof here.pad);
	struct rt_stack_info si;
	rt_stack_info(&si);
	uint64_t r = 0;
	if (si.used < grow_target)
		r = deep(&here, n + 1);
	else {
		grow_levels = n;
		grow_size = si.hi - si.lo;
		grow_copies = si.ncopies;
	}
	/* On the way back: the outer frame's local is reachable, and holds its value. */
	rt_stack_info(&si);
	if (outer != NULL) {
		if ((uintptr_t)outer < si.lo || (uintptr_t)outer >= si.hi ||
		    outer->value != (n - 1) * 2654435761u || outer->pad[999] != (char)((n - 1) & 0xff))
			grow_bad++;
	}
	if (here.outer != outer || here.pad[0] != (char)(n & 0xff))
		grow_bad++;
	return r + 1;
}

static volatile uint64_t shrink_before, shrink_after, shrink_used, initial_size;

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
		rt_gosched();   /* each safe point may halve the stack */
	rt_stack_info(&si);
	shrink_after = si.hi - si.lo;
	shrink_used = si.used;
}

/* ---- 3. arguments in registers, on the stack and varargs across a growth ---- */

NOINLINE static long nine(long a, long b, long c, long d, long e, long f, long g, long h, long i)
{
	volatile char big[3000];   /* a frame large enough to need __morestack */
	big[0] = (char)a;
	big[2999] = (char)i;
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + big[0] - (char)a +
	       big[2999] - (char)i;
}

#include <stdarg.h>
NOINLINE static long vsum(int n, ...)
{
	volatile char big[3000];
	big[0] = 1;
	va_list ap;
	va_start(ap, n);
	long s = 0;
	for (int k = 0; k < n; k++)
		s += va_arg(ap, long) * (k + 1);
	va_end(ap);
	return s + big[0] - 1;
}

static volatile uint64_t args_bad, args_calls;

NOINLINE static void args_rec(int depth, long *local)
{
	long mine = depth;
	if (nine(depth, 2, 3, 4, 5, 6, 7, 8, depth) != depth + 4 + 9 + 16 + 25 + 36 + 49 + 64 + 9L * depth)
		args_bad++;
	if (vsum(10, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, (long)depth) != 1 + 4 + 9 + 16 + 25 + 36 + 49 + 64 + 81 + 10L * depth)
		args_bad++;
	if (local != NULL && *local != depth - 1)
		args_bad++;
	args_calls++;
	if (depth < 300)
		args_rec(depth + 1, &mine);
	if (local != NULL && *local != depth - 1)
		args_bad++;
}

static void args_main(void *arg)
{
	(void)arg;
	args_rec(0, NULL);
}

/* ---- 4. a busy loop is preempted (one M) ---- */

static volatile int flag_set;
static volatile uint64_t spins;

NOINLINE static void opaque(void) { __asm__ volatile("" ::: "memory"); spins++; }

static void setter(void *arg)
{
	(void)arg;
	flag_set = 1;
}

static void busy_main(void *arg)
{
	(void)arg;
	rt_go(setter, NULL);
	while (!flag_set)   /* never yields by itself: only preemption lets setter run */
		opaque();
}

/* ---- 5. sleep ---- */

static volatile uint64_t slept_ns;
static void sleep_main(void *arg)
{
	(void)arg;
	uint64_t t0 = rt_nanotime();
	rt_sleep(5000000);
	slept_ns = rt_nanotime() - t0;
}

/* ---- 6. the end of the world destroys blocked coroutines ---- */

static void sleeper(void *arg)
{
	(void)arg;
	rt_sleep(3600ull * 1000000000ull);
}

static void abandon_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++)
		rt_go(sleeper, NULL);
	rt_sleep(1000000);
}

/* ---- 7. the limit ---- */

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

static void stack_arg_child_main(void *arg)
{
	int local = 0;
	(void)arg;
	rt_go(setter, &local);   /* a pointer into this coroutine's stack: refused */
}

static void stack_arg_child(void) { rt_run(stack_arg_child_main, NULL, 1); }

/* ---- 8. no lost wake-up: work submitted while the other Ms go idle always runs ---- */

/*
 * The wake-up protocol's claim (rt/proc.c essay): a G made runnable while
 * other Ms spin, stop spinning or sleep is always picked up by one of them.
 * Each round, main waits a random time (0-300 us: the others are spinning,
 * dropping their count, or asleep), then, holding its M (rt_acquirem: its
 * own P cannot run anything, and no preemption rescues a lost wake-up),
 * starts one worker and waits for it to run. A lost wake-up is a round where
 * the worker does not run within WAKE_STALL_NS (a stall that only ends
 * when main lets go of its M).
 */
#define WAKE_ROUNDS   3000
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
		uint64_t dt;
		while (__atomic_load_n(&wake_ran, __ATOMIC_ACQUIRE) < target &&
		       (dt = rt_nanotime() - t0) < WAKE_STALL_NS)
			__builtin_ia32_pause();
		dt = rt_nanotime() - t0;
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

int main(void)
{
	rt_init();
	struct rt_memstats m0, m1;
	struct rt_sched_stats ss;

	rt_read_memstats(&m0);
	uint64_t ab = rt_run(spawn_main, NULL, 4);
	tap_check(ab == 0 && spawn_done == NSPAWN, "rt_run: %d coroutines ran exactly once (%lu), none left",
		  NSPAWN, (unsigned long)spawn_done);
	int used = 0;
	for (int p = 0; p < 4; p++) {
		tap_diag("P%d ran %lu of them", p, (unsigned long)per_proc[p]);
		used += per_proc[p] != 0;
	}
	tap_check(used >= 2, "work spread to %d of 4 Ps", used);
	rt_read_sched_stats(&ss);
	tap_check(ss.stacks_inuse == 0 && ss.stack_chunks == 0, "no stack held after the world ends (%lu, %lu chunks)",
		  (unsigned long)ss.stacks_inuse, (unsigned long)ss.stack_chunks);
	rt_read_memstats(&m1);
	tap_check(m1.stack_sys == m0.stack_sys && m1.stack_inuse == m0.stack_inuse,
		  "StackSys %lu -> %lu, StackInuse %lu -> %lu", (unsigned long)m0.stack_sys,
		  (unsigned long)m1.stack_sys, (unsigned long)m0.stack_inuse, (unsigned long)m1.stack_inuse);

	rt_run(grow_main, NULL, 1);
	tap_diag("grew from %lu to %lu KiB in %lu copies, %lu levels", (unsigned long)(initial_size >> 10),
		 (unsigned long)(grow_size >> 10), (unsigned long)grow_copies, (unsigned long)grow_levels);
	unsigned doublings = 0;
	while ((initial_size << doublings) < grow_target)
		doublings++;
	tap_check(grow_size >= grow_target && grow_copies >= doublings && grow_bad == 0,
		  "a %lu KiB stack grows past 64 MiB by copying; outer locals valid at every level (%lu bad)",
		  (unsigned long)(initial_size >> 10), (unsigned long)grow_bad);
	tap_check(shrink_before >= grow_target && shrink_after <= 4 * initial_size && shrink_after < shrink_before,
		  "after the deep call returns, safe points shrink it: %lu KiB -> %lu KiB (%lu used)",
		  (unsigned long)(shrink_before >> 10), (unsigned long)(shrink_after >> 10),
		  (unsigned long)shrink_used);

	rt_run(args_main, NULL, 1);
	tap_check(args_bad == 0 && args_calls == 301,
		  "register, stack and variadic arguments survive __morestack (%lu calls, %lu bad)",
		  (unsigned long)args_calls, (unsigned long)args_bad);

	rt_run(busy_main, NULL, 1);
	rt_read_sched_stats(&ss);
	tap_check(flag_set == 1 && ss.preempt_sync > 0, "a loop that never yields is preempted (%lu sync preemptions)",
		  (unsigned long)ss.preempt_sync);

	rt_run(sleep_main, NULL, 2);
	tap_check(slept_ns >= 5000000 && slept_ns < 2000000000ull, "rt_sleep(5 ms) slept %lu us",
		  (unsigned long)(slept_ns / 1000));

	ab = rt_run(abandon_main, NULL, 2);
	rt_read_sched_stats(&ss);
	tap_check(ab == 10 && ss.stacks_inuse == 0, "the end of the world destroys %lu blocked coroutines",
		  (unsigned long)ab);

	struct rt_sched_stats ws0, ws1;
	rt_read_sched_stats(&ws0);
	uint64_t wt0 = rt_nanotime();
	ab = rt_run(wake_main, NULL, 4);
	uint64_t wt1 = rt_nanotime();
	rt_read_sched_stats(&ws1);
	tap_diag("wake-up rounds: slowest hand-off %lu us; %lu idle Ms woken; %lu unclaimed wakes",
		 (unsigned long)(wake_max_ns / 1000), (unsigned long)(ws1.wakeups - ws0.wakeups),
		 (unsigned long)(ws1.idle_wakes - ws0.idle_wakes));
	for (int p = 0; p < 4; p++)
		tap_diag("P%d: spun %lu us, slept %lu us of %lu us", p,
			 (unsigned long)((ws1.spin_ns[p] - ws0.spin_ns[p]) / 1000),
			 (unsigned long)((ws1.idle_ns[p] - ws0.idle_ns[p]) / 1000),
			 (unsigned long)((wt1 - wt0) / 1000));
	tap_check(ab == 0 && wake_rounds_done == WAKE_ROUNDS && wake_ran == WAKE_ROUNDS && wake_stalls == 0,
		  "no lost wake-up: %d workers started beside idle Ms all ran within %llu s (%lu stalled)",
		  WAKE_ROUNDS, WAKE_STALL_NS / 1000000000ull, (unsigned long)wake_stalls);
	tap_check(ws1.wakeups - ws0.wakeups > 0, "the rounds woke sleeping Ms (%lu times): the sleep path was exercised",
		  (unsigned long)(ws1.wakeups - ws0.wakeups));

	char out[4096];
	int st = run_child(limit_child, out, sizeof out);
	tap_check(died_with(st, out, "stack overflow: coroutine"), "the stack limit panics naming the coroutine");
	st = run_child(stack_arg_child, out, sizeof out);
	tap_check(died_with(st, out, "points into a coroutine stack"), "rt_go refuses a pointer into a stack");
	return tap_done();
}
