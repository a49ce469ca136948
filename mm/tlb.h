/*
 * tlb.h - TLB shootdown: a range invalidated on every other CPU (essay in tlb.c).
 */
#ifndef MM_TLB_H
#define MM_TLB_H

#include <stdint.h>

struct trap_frame;

/* Invalidates [va, va+n) in every other online CPU's TLB and returns when all
 * of them have (bounded: a CPU that does not acknowledge panics, named). The
 * caller has changed the entries and invalidated its own TLB already
 * (mm/paging.c, under the paging lock). Does nothing while only one CPU runs. */
void tlb_shootdown(uint64_t va, uint64_t n);

/* The LAPIC_VEC_TLB interrupt handler (kernel/smp.c installs it before any AP
 * starts): invalidates the published range on this CPU and acknowledges. */
void tlb_shootdown_ipi(struct trap_frame *f);

#endif
