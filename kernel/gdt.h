/*
 * gdt.h - the boot CPU's GDT and TSS.
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

#define GDT_KCODE 0x08
#define GDT_KDATA 0x10
#define GDT_TSS   0x18 /* 16-byte descriptor: slots 3 and 4 */

/* IST slots (1-based, as the IDT gate field counts them). */
#define IST_DF  1
#define IST_NMI 2
#define IST_MC  3

/* Loads the GDT, reloads every segment register and loads the task register. */
void gdt_init(void);

#endif
