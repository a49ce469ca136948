/*
 * test_rt_chan.c - channels, select, mutex and wait group (rt/chan.c,
 * rt/sema.c) on coroutines over Linux threads, under ASan and UBSan.
 *
 * The cases are tests/rt/chan_cases.c, which the in-kernel suite runs too
 * (tests/case.h); they run first, one TAP line each. What only the host can
 * check follows: the panics, each in a forked child (test_rt_common.c).
 * Coroutine code is built with -fsplit-stack and never prints.
 */
#include "rt/rt.h"
#include "rt/sched.h"
#include "tests/host/cases.h"

#include <stdint.h>
#include <string.h>

int run_child(void (*fn)(void), char *out, size_t outsize);
bool died_with(int status, const char *out, const char *what);

/* ---- panics (children) ---- */

static void send_closed_main(void *arg)
{
	(void)arg;
	struct rt_chan *c = rt_chan_new(8, 1);
	uint64_t v = 1;
	rt_chan_close(c);
	rt_chan_send(c, &v);
}
static void send_closed_child(void) { rt_run(send_closed_main, NULL, 1); }

static struct rt_chan *blocked_sender_chan;
static void blocked_sender(void *arg)
{
	(void)arg;
	uint64_t v = 1;
	rt_chan_send(blocked_sender_chan, &v);
}
static void close_blocked_sender_main(void *arg)
{
	(void)arg;
	blocked_sender_chan = rt_chan_new(8, 0);
	rt_go(blocked_sender, NULL);
	rt_sleep(5 * 1000 * 1000);
	rt_chan_close(blocked_sender_chan);   /* the parked sender wakes and panics */
	rt_sleep(1000 * 1000 * 1000);
}
static void close_blocked_sender_child(void) { rt_run(close_blocked_sender_main, NULL, 2); }

static void close_closed_main(void *arg)
{
	(void)arg;
	struct rt_chan *c = rt_chan_new(8, 0);
	rt_chan_close(c);
	rt_chan_close(c);
}
static void close_closed_child(void) { rt_run(close_closed_main, NULL, 1); }

static void nil_send_main(void *arg)
{
	(void)arg;
	uint64_t v = 1;
	rt_chan_send(NULL, &v);
}
static void nil_send_child(void) { rt_run(nil_send_main, NULL, 1); }

static void wg_negative_main(void *arg)
{
	(void)arg;
	static struct rt_waitgroup w;
	rt_wg_add(&w, 1);
	rt_wg_done(&w);
	rt_wg_done(&w);
}
static void wg_negative_child(void) { rt_run(wg_negative_main, NULL, 1); }

static void mutex_on_stack_main(void *arg)
{
	(void)arg;
	struct rt_mutex mu = RT_MUTEX_INIT;
	rt_mutex_lock(&mu);
}
static void mutex_on_stack_child(void) { rt_run(mutex_on_stack_main, NULL, 1); }

static void unlock_unlocked_main(void *arg)
{
	(void)arg;
	static struct rt_mutex mu;
	rt_mutex_unlock(&mu);
}
static void unlock_unlocked_child(void) { rt_run(unlock_unlocked_main, NULL, 1); }

int main(void)
{
	rt_init();
	run_cases();

	char out[4096];
	int st = run_child(send_closed_child, out, sizeof out);
	tap_check(died_with(st, out, "send on closed channel"), "send on a closed channel panics");
	st = run_child(close_blocked_sender_child, out, sizeof out);
	tap_check(died_with(st, out, "send on closed channel"), "close makes a blocked sender panic");
	st = run_child(close_closed_child, out, sizeof out);
	tap_check(died_with(st, out, "close of closed channel"), "close of a closed channel panics");
	st = run_child(nil_send_child, out, sizeof out);
	tap_check(died_with(st, out, "nil channel"), "send on a NULL channel panics instead of hanging");
	st = run_child(wg_negative_child, out, sizeof out);
	tap_check(died_with(st, out, "negative wait group counter"), "a negative wait group counter panics");
	st = run_child(mutex_on_stack_child, out, sizeof out);
	tap_check(died_with(st, out, "is on a coroutine stack"), "a mutex on a coroutine stack is refused");
	st = run_child(unlock_unlocked_child, out, sizeof out);
	tap_check(died_with(st, out, "is not locked"), "unlock of an unlocked mutex panics");

	return tap_done();
}
