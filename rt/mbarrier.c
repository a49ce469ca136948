/*
 * mbarrier.c - the debug half of the pointer-store barrier (see mbarrier.h).
 */
#include "rt/mbarrier.h"
#include "rt/mheap.h"
#include "rt/port.h"

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
