/*
 * gdt.h - each CPU's GDT and TSS.
 *
 * Long mode ignores segment bases and limits, but still needs a code
 * segment with L=1, a data segment for %ss, and a TSS: the only way to give
 * an interrupt or exception its own known-good stack (the IST, SDM 6.14.5).
 *
 * No handler runs on the interrupted stack, because that stack may be a
 * coroutine's 4 KiB stack (DESIGN.md section 4). Each CPU has five IST
 * stacks (kernel/bootstacks.h for the boot CPU, mm/kstack.h for the APs),
 * each with an unmapped guard page below:
 *   IST_DF, IST_NMI, IST_MC  #DF, NMI, #MC: each can arrive when the current
 *                            stack is unusable (overflowed into its guard
 *                            page, or in the middle of a switch).
 *   IST_IRQ                  every interrupt vector 32..255. IRQ handlers
 *                            run with IF=0 and never nest, so the stack is
 *                            always entered at its top (lapic.c checks).
 *   IST_EXC                  every other exception. Exceptions do nest (a
 *                            fault in a handler, a #PF in an IRQ handler),
 *                            so the exception stubs move TSS.IST5 down by
 *                            EXC_IST_SHIFT while a handler runs and back
 *                            when it returns (kernel/trap_entry.S), the way
 *                            Linux shifts its #DB stack: a nested exception
 *                            lands below the outer one's frame. 16 KiB / 4 KiB
 *                            = 4 levels; a fifth would be delivered onto the
 *                            guard page, which the CPU turns into #DF (its
 *                            report names the guard page through CR2).
 * A handler must stay within EXC_IST_SHIFT bytes of stack if it can be
 * nested into (trap_dispatch with its full report and backtrace needs about
 * 1.5 KiB, by gcc -fstack-usage).
 */
#ifndef KERNEL_GDT_H
#define KERNEL_GDT_H

#define GDT_KCODE 0x08
#define GDT_KDATA 0x10
#define GDT_TSS   0x18 /* 16-byte descriptor: slots 3 and 4 */

/* IST slots (1-based, as the IDT gate field counts them). */
#define IST_DF    1
#define IST_NMI   2
#define IST_MC    3
#define IST_IRQ   4
#define IST_EXC   5
#define IST_COUNT 5

/* How far an exception stub moves TSS.IST5 down while its handler runs. */
#define EXC_IST_SHIFT 4096

#ifndef __ASSEMBLY__
#include <stdint.h>

/* The boot CPU: gdt_init_cpu(0, ...) with its IST stacks from kernel/bootstacks.h. */
void gdt_init(void);

/*
 * Builds CPU id's own GDT and TSS (IST slot k = ist_tops[k - 1]), loads
 * them, reloads every segment register and loads the task register. The FS
 * and GS bases survive (loading a null selector would clear them on Intel
 * and under QEMU): FS base must stay valid for -fsplit-stack prologues.
 * Also sets cpus[id].exc_ist_slot for the exception stubs.
 */
void gdt_init_cpu(unsigned id, const uint64_t ist_tops[IST_COUNT]);

/* The top CPU cpu's IST slot ist (1..IST_COUNT) was set up with, and the
 * value its TSS holds now (lower while exception handlers run for IST_EXC). */
uint64_t gdt_ist_top(unsigned cpu, unsigned ist);
uint64_t gdt_ist_now(unsigned cpu, unsigned ist);
#endif

#endif
