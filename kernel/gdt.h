/*
 * gdt.h - each CPU's GDT and TSS.
 *
 * Long mode ignores segment bases and limits, but still needs a code
 * segment with L=1, a data segment for %ss, and a TSS: the only way to give
 * an exception its own known-good stack (the IST, SDM 6.14.5). #DF, NMI and
 * #MC run on IST stacks (kernel/bootstacks.h) because each can arrive when
 * the current stack is unusable (overflowed into its guard page, or in the
 * middle of a switch).
 */
#ifndef KERNEL_GDT_H
#define KERNEL_GDT_H

#include <stdint.h>

#define GDT_KCODE 0x08
#define GDT_KDATA 0x10
#define GDT_TSS   0x18 /* 16-byte descriptor: slots 3 and 4 */

/* IST slots (1-based, as the IDT gate field counts them). */
#define IST_DF  1
#define IST_NMI 2
#define IST_MC  3

/* The boot CPU: gdt_init_cpu(0, ...) with its IST stacks from kernel/bootstacks.h. */
void gdt_init(void);

/*
 * Builds CPU id's own GDT and TSS (IST1..3 = ist_tops[0..2]), loads them,
 * reloads every segment register and loads the task register. Loading the
 * null selector into %gs may clear the GS base: call percpu_init afterwards.
 */
void gdt_init_cpu(unsigned id, const uint64_t ist_tops[3]);

#endif
