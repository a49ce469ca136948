/*
 * lapic.h - the local APIC (xAPIC, MMIO): per-CPU init, ids, EOI, IPIs, the
 * timer's registers, and the interrupt vectors (>= 32) with their handlers.
 * Design essay in lapic.c.
 */
#ifndef KERNEL_LAPIC_H
#define KERNEL_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/trap.h"

/*
 * The kernel's interrupt vectors. The local APIC delivers by priority class
 * (vector >> 4, higher first), so the IPIs sit in the top class and the
 * periodic tick in the lowest. Vectors 0x21..0xef are free; 0x68..0x6f and
 * 0x70..0x77 are where OVMF left the (masked) 8259 PICs.
 */
#define LAPIC_VEC_TIMER    0x20 /* periodic tick (kernel/time.c) */
#define LAPIC_VEC_CALL     0xf0 /* IPI: run a function on another CPU (smp) */
#define LAPIC_VEC_TLB      0xf1 /* IPI: TLB shootdown (mm/tlb.c) */
#define LAPIC_VEC_STOP     0xf2 /* IPI: a panic stops the other CPUs (or use lapic_send_nmi) */
#define LAPIC_VEC_WAKE     0xf3 /* IPI: does nothing; ends a hlt (cpu_wake) */
#define LAPIC_VEC_TEST     0xf8 /* reserved for tests (self-IPI) */
#define LAPIC_VEC_ERROR    0xfe /* LVT error: the APIC reports a send/receive error */
#define LAPIC_VEC_SPURIOUS 0xff /* spurious-interrupt vector (no EOI) */

#define LAPIC_TIMER_DIVIDE 16u  /* the timer counts the bus clock / 16 */

/*
 * An interrupt handler. Runs with interrupts off, on this CPU's IRQ stack
 * (IST_IRQ, kernel/gdt.h), never on the interrupted one, with the stack
 * guard %fs:0x70 = 0 (f->stack_guard holds the interrupted code's; writing
 * it changes what that code resumes with). The EOI has already been sent.
 * It must not enable interrupts: the next interrupt would enter the IRQ
 * stack at its top again, over this frame (irq_dispatch panics if one nests).
 */
typedef void (*irq_handler_fn)(struct trap_frame *f);

/*
 * Installs fn for vector (32..254, not the spurious vector) in the shared
 * IDT; NULL removes it (a later interrupt on that vector panics as
 * unexpected). Install at init, before interrupts are enabled on any CPU.
 * Other code should use this, not idt_set_gate, for vectors >= 32.
 */
void irq_set_handler(uint8_t vector, irq_handler_fn fn);

/*
 * Per-CPU init; call once on each CPU after percpu_init (the boot CPU first;
 * later calls on the same CPU do nothing). The first call also installs the
 * interrupt stubs for vectors 32..255, masks the 8259 PICs and picks the
 * MMIO base (IA32_APIC_BASE, cross-checked with the MADT). Software-enables
 * the APIC with the spurious vector, TPR 0, LINT0 masked, LINT1 per the
 * MADT's NMI entries, timer/thermal/perf masked, errors on LAPIC_VEC_ERROR.
 * Does not enable interrupts (sti).
 */
void lapic_init_this_cpu(void);
bool lapic_ready_this_cpu(void);

uint32_t lapic_id(void);  /* this CPU's APIC id (ID register bits 31:24) */
void lapic_eoi(void);

/*
 * IPIs (physical destination mode). Each waits, bounded, for the previous
 * send to leave the ICR and for this one to be accepted; returns 0, or -1
 * after printing "lapic: ICR stuck ..." (the IPI may not have been sent).
 */
int lapic_send_ipi(uint32_t apic_id, uint8_t vector);
int lapic_send_ipi_all_but_self(uint8_t vector);
int lapic_send_nmi(uint32_t apic_id);
int lapic_send_init(uint32_t apic_id);            /* INIT, level assert (the AP waits for SIPI) */
int lapic_send_sipi(uint32_t apic_id, uint8_t page); /* start-up: the AP runs at phys page << 12 */

/* Sends LAPIC_VEC_WAKE to CPU cpu (an online id; it may be the caller): its
 * handler does nothing, so the only effect is to end a `hlt` there (or to be
 * taken at the next `sti` if the CPU runs with interrupts off). */
void cpu_wake(unsigned cpu);

/* Wake IPIs CPU cpu has taken since boot (tests). */
uint64_t lapic_wakes(unsigned cpu);

/* IRQ handlers running on this CPU: 0, or 1 inside one (they never nest). */
unsigned irq_depth(void);

/* The timer (counts down at bus clock / LAPIC_TIMER_DIVIDE). */
void lapic_timer_periodic(uint32_t initial_count, uint8_t vector);
void lapic_timer_oneshot_masked(uint32_t initial_count); /* counts, never interrupts (calibration) */
uint32_t lapic_timer_current(void);
void lapic_timer_stop(void);

/* Counters since boot, all CPUs: spurious interrupts, APIC errors, stuck ICRs. */
struct lapic_stats {
    uint64_t spurious, errors, icr_stuck;
    uint32_t last_esr;
};
void lapic_stats(struct lapic_stats *out);

/* Prints the boot CPU's APIC: base, id, version, max LVT, the vector table. */
void lapic_report(void);

#endif
