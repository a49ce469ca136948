/*
 * test_rt_gc.c - the collector on coroutines over Linux threads, under ASan
 * and UBSan. The cases are tests/rt/gc_cases.c, which the in-kernel suite
 * runs too (tests/case.h); they run first. What only the host can check
 * follows, each in a forked child (test_rt_common.c): that the verifier
 * catches a broken mark, and that a write to a freed object is caught when
 * its slot is handed out again.
 */
#include "rt/mgc.h"   /* gc_debug_skip_globals: breaking the mark on purpose */
#include "rt/rt.h"
#include "rt/sched.h"
#include "tests/host/cases.h"

#include <stdint.h>
#include <string.h>

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

int main(void)
{
	rt_init();
	run_cases();

	char out[4096];
	int st = run_child(broken_mark_child, out, sizeof out);
	tap_check(died_with(st, out, "gccheckmark: object") && strstr(out, "reached from a global") != NULL,
		  "checkmark: a live object the mark missed panics, naming the root it hangs from");
	st = run_child(use_after_free_child, out, sizeof out);
	tap_check(died_with(st, out, "use after free: word +24"),
		  "a write into a freed object is caught when its slot is reused");
	return tap_done();
}
