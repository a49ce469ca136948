/*
 * percpu.h - which CPU am I, in one instruction.
 *
 * Every CPU's GS base points at its own struct cpu (IA32_GS_BASE), whose
 * first words are its address and its dense id, so this_cpu() and cpu_id()
 * are a single %gs-relative load and need no lock. FS base stays free for the
 * runtime (the per-coroutine stack guard at %fs:0x70, DESIGN.md section 4).
 *
 * Subsystems keep their per-CPU state in arrays indexed by cpu_id() (or in
 * struct cpu when the field is the CPU's identity itself), so no header needs
 * every subsystem's types. Ids are dense, 0 = the boot CPU, in MADT order.
 */
#ifndef KERNEL_PERCPU_H
#define KERNEL_PERCPU_H

#include <stdbool.h>
#include <stdint.h>

#define MAX_CPUS 64

struct cpu {
    struct cpu *self;          /* %gs:0 (this_cpu) */
    uint32_t id;               /* %gs:8 (cpu_id): dense, 0 = the boot CPU */
    uint32_t apic_id;          /* the local APIC's id (MADT) */
    volatile uint32_t online;  /* set by the CPU itself once it runs kernel C code */
};
_Static_assert(__builtin_offsetof(struct cpu, id) == 8, "cpu_id() reads %gs:8");

extern struct cpu cpus[MAX_CPUS];

static inline struct cpu *this_cpu(void)
{
    struct cpu *c;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(c));
    return c;
}

static inline unsigned cpu_id(void)
{
    uint32_t id;
    __asm__ volatile("movl %%gs:8, %0" : "=r"(id));
    return id;
}

/* Points this CPU's GS base at cpus[id] and fills its identity. Called first
 * thing on each CPU, before anything that may take a lock or print. */
void percpu_init(unsigned id, uint32_t apic_id);

/* CPUs brought up so far (the boot CPU counts); ids are 0..cpu_count()-1. */
unsigned cpu_count(void);

#endif
