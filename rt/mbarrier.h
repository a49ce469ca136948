/*
 * mbarrier.h - the one door for pointer stores into heap objects.
 *
 *   RT_STORE_PTR(obj->next, p);     instead of   obj->next = p;
 *
 * Today it is a plain store. When the collector comes (a later issue) it
 * becomes Go's hybrid write barrier during marking (shade the old and the new
 * pointer), so every heap pointer store in C code must already go through it.
 * This file and mbarrier.c are the barrier's home, as Go's mbarrier.go.
 *
 * At RT_DEBUG >= 1 it also enforces Go's invariant "no heap object points
 * into a stack" (Go proves it with escape analysis; C cannot, so it is
 * checked): storing an address of the current stack into a heap slot panics,
 * naming both addresses. The stack's bounds come from rt_port_stack_bounds.
 *
 * A public header (code outside rt/ stores heap pointers too); it needs
 * nothing from rt/ but rt/rt.h.
 */
#ifndef RT_MBARRIER_H
#define RT_MBARRIER_H

#include "rt/rt.h"   /* RT_DEBUG */

/* Panics if slot is in the heap and val points into the current stack. */
void rt_barrier_check(const void *slot, const void *val);

#define RT_STORE_PTR(lvalue, value)                                    \
	do {                                                               \
		__typeof__(&(lvalue)) rt_slot_ = &(lvalue);                    \
		__typeof__(lvalue) rt_val_ = (value);                          \
		if (RT_DEBUG >= 1)                                             \
			rt_barrier_check(rt_slot_, (const void *)rt_val_);         \
		*rt_slot_ = rt_val_;                                           \
	} while (0)

#endif
