/*
 * test_rt_gc.c - the collector on coroutines over Linux threads, under ASan
 * and UBSan. The cases are tests/rt/gc_cases.c, which the in-kernel suite
 * runs too (tests/case.h); they run first. What only the host can check
 * follows, each in a forked child (test_rt_common.c): that the verifier
 * catches a broken mark, that a write to a freed object is caught when
 * its slot is handed out again, and that bad GOGC/RT_GODEBUG values are
 * refused by name (they once wrapped: GOGC=4294967396 became 100).
 */
#include "rt/mgc.h"   /* gc_debug_skip_globals: breaking the mark on purpose */
#include "rt/port/hosted.h"
#include "rt/rt.h"
#include "rt/sched.h"
#include "tests/host/cases.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int run_child(void (*fn)(void), char *out, size_t outsize);
bool died_with(int status, const char *out, const char *what);

#define HIDE 0x5a5a5a5a5a5a5a5aull

/* The checkmark: a mark that misses the globals leaves a live object white; the second mark finds it. */
static const uint8_t one_ptr_mask[] = {1};
static const struct rt_type one_ptr_type = {8, 8, 8, one_ptr_mask, "test_rt_gc.box"};
static void **global_box;

static void broken_mark_child(void)
{
	global_box = rt_new(&one_ptr_type);
	*global_box = rt_alloc(64, NULL);
	rt_gc_set_checkmark(true);
	gc_debug_skip_globals = true;
	rt_gc();
}

/* The same for a concurrent mark, whose checkmark verifies the start's
 * snapshot at termination (rt/mgcmark.c): a mark whose roots miss the
 * globals, then one whose allocation is white. A chain from a global makes
 * the mark take several steps, between which another coroutine allocates. */
struct link {
	struct link *next;
	uint64_t pad;
};
static const uint8_t link_mask[] = {1};
static const struct rt_type link_type = {sizeof(struct link), 8, 8, link_mask, "test_rt_gc.link"};
static struct link *chain;
static volatile bool chain_done;

static void allocate_during_mark(void *unused)
{
	(void)unused;
	while (!chain_done) {
		(void)rt_new(&link_type);
		rt_gosched();
	}
}

static void concurrent_main(void *unused)
{
	(void)unused;
	for (int i = 0; i < 4000; i++) {
		struct link *l = rt_new(&link_type);
		l->next = chain;   /* no mark runs yet: no barrier needed */
		chain = l;
	}
	global_box = rt_new(&one_ptr_type);
	*global_box = rt_alloc(64, NULL);
	rt_go(allocate_during_mark, NULL);
	rt_gc();
	chain_done = true;
}

static void broken_concurrent_roots_child(void)
{
	rt_gc_set_checkmark(true);
	rt_gc_set_stoptheworld(false);
	gc_debug_skip_globals = true;
	rt_run(concurrent_main, NULL, 1);
}

static void white_allocation_child(void)
{
	rt_gc_set_checkmark(true);
	rt_gc_set_stoptheworld(false);
	gc_debug_white_alloc = true;
	rt_run(concurrent_main, NULL, 1);
}

/* A use after free: the freed slot's poison is overwritten, then the slot is
 * handed out again. A live neighbour keeps the span in use (an empty span's
 * pages go back to the heap, and the scavenger may unmap them). */
static uint64_t *volatile live_neighbour;   /* volatile: a store never read back is not elided */
__attribute__((noinline)) static uintptr_t garbage_hidden(void)
{
	uint64_t *p = rt_alloc(64, NULL);
	p[0] = 1;
	do   /* a neighbour in the same one-page span (64-byte slots), not the next
	      * slot: p + 64 would keep p alive (the one-past-the-end rule) */
		live_neighbour = rt_alloc(64, NULL);
	while ((uintptr_t)live_neighbour / 8192 != (uintptr_t)p / 8192 || live_neighbour == p + 8);
	return (uintptr_t)p ^ HIDE;
}

static void use_after_free_child(void)
{
	uintptr_t h = garbage_hidden();
	rt_gc();   /* frees and poisons it */
	((volatile uint64_t *)(h ^ HIDE))[3] = 0x1234;   /* the bug */
	for (int i = 0; i < 1000000; i++)
		rt_alloc(64, NULL);   /* the slot comes back, and is checked */
}

/* The settings: one child per value, each must exit 2 naming it. */
static const char *setting_name, *setting_value;
static void setting_child(void)
{
	setenv(setting_name, setting_value, 1);
	rt_hosted_read_settings();
}

static bool setting_refused(const char *name, const char *value, const char *needle)
{
	char out[1024];
	setting_name = name;
	setting_value = value;
	int st = run_child(setting_child, out, sizeof out);
	bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 2 && strstr(out, needle) != NULL;
	if (!ok)
		printf("# %s=%s: child status %#x, output: %s\n", name, value, (unsigned)st, out);
	return ok;
}

static void setting_ok_child(void)
{
	setenv("GOGC", "2147483647", 1);
	rt_hosted_read_settings();
	if (rt_set_gc_percent(100) != 2147483647)
		abort();
	rt_set_gc_percent(2147483647);
	for (int i = 0; i < 1000; i++)
		rt_alloc(4096, NULL);   /* the goal is computed without wrapping: no cycle starts */
	rt_gc();
}

int main(void)
{
	rt_init();
	run_cases();

	char out[4096];
	int st = run_child(broken_mark_child, out, sizeof out);
	tap_check(died_with(st, out, "gccheckmark: object") && strstr(out, "reached from a global") != NULL,
		  "checkmark: a live object the mark missed panics, naming the root it hangs from");
	st = run_child(broken_concurrent_roots_child, out, sizeof out);
	tap_check(died_with(st, out, "was reachable from the roots when the mark began, but the concurrent "
				     "mark did not mark it"),
		  "concurrent checkmark: an object reachable at the start that the mark missed panics");
	st = run_child(white_allocation_child, out, sizeof out);
	tap_check(died_with(st, out, "was allocated during the mark, but the concurrent mark did not mark it"),
		  "concurrent checkmark: an object allocated white during the mark panics");
	st = run_child(use_after_free_child, out, sizeof out);
	tap_check(died_with(st, out, "use after free: word +24"),
		  "a write into a freed object is caught when its slot is reused");
	tap_check(setting_refused("GOGC", "4294967396", "bad setting GOGC") &&
			  setting_refused("GOGC", "-5", "bad setting GOGC") &&
			  setting_refused("GOGC", "100,5", "bad setting GOGC") &&
			  setting_refused("RT_GODEBUG", "gcstress=x", "bad setting RT_GODEBUG gcstress") &&
			  setting_refused("RT_GODEBUG", "gcfoo=1", "known: gctrace=N"),
		  "GOGC and RT_GODEBUG values that do not parse or fit are refused, by name");
	st = run_child(setting_ok_child, out, sizeof out);
	tap_check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "GOGC=2147483647 is taken and a cycle runs under it");
	return tap_done();
}
