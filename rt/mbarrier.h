/*
 * mbarrier.h - the one door for pointer stores into heap objects and globals.
 *
 *   RT_STORE_PTR(obj->next, p);     instead of   obj->next = p;
 *
 * What. Go's write barrier, as issue 13 needs it (DESIGN.md 7.11 item 1):
 * the store is an asm block that loads rt_wb_enabled, branches, and stores;
 * with the flag set it jumps to rt_wb_slow, which shades and then does the
 * store itself. The flag is set only while a mark runs beside the program
 * (rt/mgc.c); off, the barrier costs one load and one branch beside the
 * store: three instructions for one.
 *
 * Why asm. A stop for a collection must never fall between the flag test
 * and the store: a barrier turned on in between would miss a deletion. Only
 * the kernel's asynchronous preemption can stop user code at an arbitrary
 * PC, so each store records its PC range [test, after the store) in the
 * section rt_restart, and rt/port/kernel.c's tick, stopping a G inside one,
 * resumes it at the range's first instruction (rt_restart_pc): the test
 * runs again after the stop, so it always sees the phase its store lands
 * in. Restarting is safe because nothing in a range writes memory or a
 * register but the flags before its last instruction, the store. (Refusing
 * to stop there instead is not enough: under QEMU's TCG a tick lands only
 * at a translated block's start, and in a loop of stores nearly all of
 * those are inside ranges, so the loop was never stopped.) A yield at a
 * prologue is harmless: rt_wb_slow is runtime text, never a preemption
 * point, and it reads the flag again itself (mbarrier.c).
 *
 * At RT_DEBUG >= 1 it also enforces Go's invariant "no heap object points
 * into a stack" (Go proves it with escape analysis; C cannot, so it is
 * checked): storing an address of the current stack into a heap slot panics,
 * naming both addresses. The stack's bounds come from rt_port_stack_bounds.
 * Under ASan the slot is read first, in C, so a store into freed or
 * unowned memory is still reported (the asm store is not instrumented).
 *
 * A public header (code outside rt/ stores heap pointers too); it needs
 * nothing from rt/ but rt/rt.h.
 */
#ifndef RT_MBARRIER_H
#define RT_MBARRIER_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/rt.h"   /* RT_DEBUG */

/* Panics if slot is in the heap and val points into the current stack. */
void rt_barrier_check(const void *slot, const void *val);

/* The barrier's flag: nonzero while marking runs beside the program (set and
 * cleared only with the world stopped). A byte, read by every store. Tests
 * may set it by hand outside a mark: the slow path then stores and counts. */
extern volatile uint8_t rt_wb_enabled;
/* The slow path: shade *slot and val, then *slot = val. */
void rt_wb_slow(void **slot, void *val);
extern uint64_t rt_wb_slow_calls;   /* statistics: stores that took the slow path */
/* An atomic exchange of *slot for val with the barrier (Go's atomic.SwapPointer
 * and its atomicwb): both values shaded while marking. Runtime text, so no
 * preemption (and no stop) falls between its test and its exchange. */
void *rt_swap_ptr(void **slot, void *val);
/*
 * The bulk barrier (Go's bulkBarrierPreWrite), before n bytes at dst are
 * overwritten by src (a copy) or cleared (src NULL): with the barrier on,
 * each word that may be a pointer (bit i of ptrmask for word i; ptrmask NULL:
 * every word) has its old value in dst and its new one in src shaded (a
 * misaligned dst holds no pointer the collector sees: nothing). Callers run
 * in runtime text, so the flag test and the copy after it are one step (no
 * preemption stops runtime text between them).
 */
void rt_bulk_barrier(void *dst, const void *src, size_t n, const uint8_t *ptrmask);
extern uint64_t rt_wb_bulk_words;   /* statistics: pointer words the bulk barrier saw (atomic) */

/*
 * Copies one value of type t from src to dst (which may overlap) through the
 * barrier: C code's way to copy memory holding pointers into the heap or a
 * global (Go's typedmemmove). Off, a memmove.
 */
void rt_typedmemmove(const struct rt_type *t, void *dst, const void *src);

/* Where a G stopped at pc resumes: the start of the pointer store's
 * [test, store] range holding pc, or pc itself outside every range. */
uintptr_t rt_restart_pc(uintptr_t pc);
/* The ranges, one per RT_STORE_PTR site in the image ([lo, hi) each). */
struct rt_restart_range {
	uintptr_t lo, hi;
};
const struct rt_restart_range *rt_restart_table(size_t *n);

#if defined(__SANITIZE_ADDRESS__)
#define RT_WB_ASAN_TOUCH_(slot) ((void)*(void *volatile *)(slot))
#else
#define RT_WB_ASAN_TOUCH_(slot) ((void)0)
#endif

static inline __attribute__((always_inline)) void rt_store_ptr_(void **slot, void *val)
{
	RT_WB_ASAN_TOUCH_(slot);
	__asm__ goto("1:\tcmpb $0, rt_wb_enabled(%%rip)\n\t"
		     "jne %l[slow]\n\t"
		     "movq %1, %0\n"
		     "2:\n\t"
		     ".pushsection rt_restart, \"aw\"\n\t"
		     ".balign 8\n\t"
		     ".quad 1b, 2b\n\t"
		     ".popsection"
		     : "=m"(*slot)   /* the store, and nothing else: no memory clobber, */
		     : "r"(val)      /* so the compiler keeps its other loads in registers */
		     : "cc"
		     : slow);
	return;
slow:
	rt_wb_slow(slot, val);
}

#define RT_STORE_PTR(lvalue, value)                                                \
	do {                                                                       \
		_Static_assert(sizeof(lvalue) == sizeof(void *), "RT_STORE_PTR stores a pointer"); \
		__typeof__(&(lvalue)) rt_slot_ = &(lvalue);                        \
		__typeof__(lvalue) rt_val_ = (value);                              \
		if (RT_DEBUG >= 1)                                                 \
			rt_barrier_check((const void *)(uintptr_t)rt_slot_, (const void *)rt_val_);       \
		rt_store_ptr_((void **)(uintptr_t)rt_slot_, (void *)rt_val_);       \
	} while (0)

#endif
