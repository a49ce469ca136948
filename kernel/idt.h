/*
 * idt.h - the interrupt descriptor table (256 gates; the core fills the 32
 * exception vectors, later layers add device and IPI vectors).
 */
#ifndef KERNEL_IDT_H
#define KERNEL_IDT_H

#include <stdint.h>

/* Installs the exception gates (trap_entry.S stubs; #DF, NMI, #MC on their
 * IST stacks, every other exception on IST_EXC) and loads IDTR. Call after
 * gdt_init and percpu_init (the stubs read %gs). */
void idt_init(void);

/* Loads IDTR with the one IDT all CPUs share (each AP calls it). */
void idt_load(void);

/* Points vector at handler: an interrupt gate (IF cleared on entry), DPL 0,
 * on IST stack ist (0 = the current stack). */
void idt_set_gate(unsigned vector, uint64_t handler, unsigned ist);

#endif
