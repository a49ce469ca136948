/*
 * percpu.h - which CPU am I, in one instruction.
 *
 * Every CPU's GS base (IA32_GS_BASE) and FS base (IA32_FS_BASE) point at its
 * own struct cpu. Its first words are its address and its dense id, so
 * this_cpu() and cpu_id() are a single %gs-relative load and need no lock.
 *
 * FS base is for code built with gcc's -fsplit-stack: every prologue compares
 * %rsp (minus its frame) with the word at %fs:0x70, the stack guard, and
 * calls __morestack when below it (DESIGN.md sections 4 and 6). So:
 *   - stack_guard (%fs:0x70) is the lowest %rsp the running code may reach
 *     without asking for more stack. 0 means "never call __morestack": the
 *     kernel's own stacks (boot, per-CPU kernel and IST stacks) all lie above
 *     every coroutine stack. The runtime sets it when it switches to a
 *     coroutine, and poisons it to ask one to yield.
 *   - Interrupt and exception entry (kernel/trap_frame.inc) saves the word in
 *     the trap frame, zeroes it for the handler and restores the frame's copy
 *     on the way out: handlers never run against a coroutine's guard.
 *   - Before percpu_init, FS base points at percpu_early_fs, a zero-filled
 *     block (kernel/entry.S for the boot CPU, kernel/trampoline.S for the
 *     APs), so the very first C function already reads a guard of 0.
 *   - rt_m (%gs:0x78) is the runtime's M on this CPU (read by its assembly).
 *   - exc_ist_slot is the address of this CPU's TSS.IST5 word, which the
 *     exception stubs move down on entry and back on exit so that nested
 *     exceptions land below each other (kernel/gdt.h, IST_EXC).
 * The offsets are ABI (gcc's and our assembly's) and checked below.
 *
 * Subsystems keep their per-CPU state in arrays indexed by cpu_id() (or in
 * struct cpu when the field is the CPU's identity itself, or read from
 * assembly), so no header needs every subsystem's types. Ids are dense,
 * 0 = the boot CPU, in MADT order.
 */
#ifndef KERNEL_PERCPU_H
#define KERNEL_PERCPU_H

#define MAX_CPUS 64

/* Offsets in struct cpu that assembly and the compiler use. */
#define CPU_EXC_IST_SLOT 0x18 /* %gs: the address of this CPU's TSS.IST5 word */
#define CPU_STACK_GUARD  0x70 /* %fs: -fsplit-stack's guard (gcc's fixed offset) */
#define CPU_RT_M         0x78 /* %gs: the runtime's M pointer */
#define CPU_EARLY_FS_SIZE 0x80 /* percpu_early_fs covers every %fs-read field */

#ifndef __ASSEMBLY__
#include <stdbool.h>
#include <stdint.h>

struct cpu {
    struct cpu *self;          /* %gs:0 (this_cpu) */
    uint32_t id;               /* %gs:8 (cpu_id): dense, 0 = the boot CPU */
    uint32_t apic_id;          /* the local APIC's id (MADT) */
    volatile uint32_t online;  /* set by the CPU itself once it runs kernel C code */
    uint32_t pad0;
    uint64_t *exc_ist_slot;    /* %gs:0x18: &TSS.ist[IST_EXC - 1]; set by gdt_init_cpu */
    uint64_t reserved[10];     /* free; keeps stack_guard at gcc's offset */
    uint64_t stack_guard;      /* %fs:0x70: lowest %rsp without __morestack; 0 = none (see above) */
    void *rt_m;                /* %gs:0x78: the runtime's M on this CPU; NULL until it sets it */
};
_Static_assert(__builtin_offsetof(struct cpu, id) == 8, "cpu_id() reads %gs:8");
_Static_assert(__builtin_offsetof(struct cpu, exc_ist_slot) == CPU_EXC_IST_SLOT, "trap_entry.S reads %gs:0x18");
_Static_assert(__builtin_offsetof(struct cpu, stack_guard) == CPU_STACK_GUARD, "-fsplit-stack reads %fs:0x70");
_Static_assert(__builtin_offsetof(struct cpu, rt_m) == CPU_RT_M, "the runtime reads %gs:0x78");
_Static_assert(sizeof(struct cpu) <= CPU_EARLY_FS_SIZE, "percpu_early_fs covers struct cpu");

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

/* The guard as the running code sees it (%fs:0x70), and a write to it. */
static inline uint64_t stack_guard_read(void)
{
    uint64_t g;
    __asm__ volatile("movq %%fs:0x70, %0" : "=r"(g));
    return g;
}

static inline void stack_guard_write(uint64_t g)
{
    __asm__ volatile("movq %0, %%fs:0x70" : : "r"(g) : "memory");
}

/* Points this CPU's GS and FS bases at cpus[id] and fills its identity.
 * Called first thing on each CPU (after gdt_init_cpu), before anything that
 * may take a lock or print. */
void percpu_init(unsigned id, uint32_t apic_id);

/* CPUs brought up so far (the boot CPU counts); ids are 0..cpu_count()-1. */
unsigned cpu_count(void);

/* The zero-filled block FS base points at until percpu_init (kernel/entry.S,
 * .bss: writable, because interrupt entry stores 0 to %fs:0x70). */
extern uint8_t percpu_early_fs[CPU_EARLY_FS_SIZE];
#endif

#endif
