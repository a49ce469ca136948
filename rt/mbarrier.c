/*
 * mbarrier.c - the pointer-store barrier's out-of-line half (see mbarrier.h):
 * the debug check, the slow path, and the table of store ranges an
 * asynchronous preemption restarts.
 *
 * Invariants: rt_wb_enabled changes only with the world stopped (DESIGN.md
 * 7.11, "Phases"); a store's range covers its flag test and its store and
 * writes nothing but the flags register before the store, so it can be
 * restarted from its first instruction at any PC inside it.
 *
 * The slow path reads the flag again: it is reached by a jump out of a
 * range, and the code between that jump and the call is ordinary user code
 * that can be preempted, so the phase may have changed by the time
 * rt_wb_slow runs. rt_wb_slow itself is runtime text (never an asynchronous
 * preemption point), so its test and its store are one step.
 * Today nothing sets the flag: the mark stops the world (issue 12), so the
 * slow path only stores and counts. Issue 13's concurrent mark adds the
 * shading (both pointers into the P's wbBuf, 7.11 item 2) here.
 */
#include "rt/mbarrier.h"
#include "rt/mheap.h"
#include "rt/port.h"

volatile uint8_t rt_wb_enabled;
uint64_t rt_wb_slow_calls;   /* statistics: slow-path stores (atomic) */

void rt_barrier_check(const void *slot, const void *val)
{
	if (!mheap_contains(slot))
		return;
	uintptr_t lo, hi, v = (uintptr_t)val;
	rt_port_stack_bounds(&lo, &hi);
	if (v >= lo && v < hi)
		rt_throw("write barrier: storing stack address %p into heap slot %p "
			 "(heap objects must not point into a stack; stack is [%p, %p))",
			 val, slot, (void *)lo, (void *)hi);
}

/* noinline: inlined into user text (LTO), its test and store could be preempted apart. */
__attribute__((noinline)) void rt_wb_slow(void **slot, void *val)
{
	__atomic_add_fetch(&rt_wb_slow_calls, 1, __ATOMIC_RELAXED);
	if (rt_wb_enabled) {
		/* issue 13: shade *slot and val here */
	}
	*slot = val;
}

/* The linker bounds the section (a C-identifier name; kernel.ld names it too). */
extern const struct rt_restart_range __start_rt_restart[] __attribute__((weak));
extern const struct rt_restart_range __stop_rt_restart[] __attribute__((weak));

const struct rt_restart_range *rt_restart_table(size_t *n)
{
	*n = (size_t)(__stop_rt_restart - __start_rt_restart);
	return __start_rt_restart;
}

uintptr_t rt_restart_pc(uintptr_t pc)
{
	/* Linear: it runs only when a tick is about to inject a preemption. */
	for (const struct rt_restart_range *r = __start_rt_restart; r < __stop_rt_restart; r++)
		if (pc >= r->lo && pc < r->hi)
			return r->lo;
	return pc;
}
