/*
 * bootstacks.h - the boot CPU's stacks, in .bss: the boot stack kmain runs
 * on, and its five IST stacks: #DF, NMI, #MC, interrupts (IST_IRQ) and the
 * other exceptions (IST_EXC); kernel/gdt.h says which vector uses which, and
 * kernel/gdt.c puts them in the TSS. Each stack has a guard page directly
 * below it, unmapped by bootstacks_guard() once the page tables can be
 * edited, so running off the bottom of a stack faults instead of corrupting
 * its neighbour.
 *
 * Layout of the .bss.kstacks area (page-aligned, offsets usable from asm):
 *   [guard][boot stack 64 KiB][guard][#DF 16 KiB][guard][NMI 16 KiB][guard][#MC 16 KiB]
 *   [guard][IRQ 16 KiB][guard][exception 16 KiB]
 *
 * Per-CPU stacks for the other CPUs come with SMP (mm/layout.h reserves the
 * region); these are the boot CPU's alone.
 */
#ifndef KERNEL_BOOTSTACKS_H
#define KERNEL_BOOTSTACKS_H

#define BOOTSTACKS_GUARD     0x1000
#define BOOTSTACKS_BOOT_SIZE 0x10000
#define BOOTSTACKS_IST_SIZE  0x4000

/* Offsets of each stack's top from the start of the area. */
#define BOOTSTACKS_BOOT_TOP (BOOTSTACKS_GUARD + BOOTSTACKS_BOOT_SIZE)
#define BOOTSTACKS_DF_TOP   (BOOTSTACKS_BOOT_TOP + BOOTSTACKS_GUARD + BOOTSTACKS_IST_SIZE)
#define BOOTSTACKS_NMI_TOP  (BOOTSTACKS_DF_TOP + BOOTSTACKS_GUARD + BOOTSTACKS_IST_SIZE)
#define BOOTSTACKS_MC_TOP   (BOOTSTACKS_NMI_TOP + BOOTSTACKS_GUARD + BOOTSTACKS_IST_SIZE)
#define BOOTSTACKS_IRQ_TOP  (BOOTSTACKS_MC_TOP + BOOTSTACKS_GUARD + BOOTSTACKS_IST_SIZE)
#define BOOTSTACKS_EXC_TOP  (BOOTSTACKS_IRQ_TOP + BOOTSTACKS_GUARD + BOOTSTACKS_IST_SIZE)
#define BOOTSTACKS_AREA     BOOTSTACKS_EXC_TOP

#ifndef __ASSEMBLY__
#include <stdbool.h>
#include <stdint.h>

enum bootstack_id { STACK_BOOT, STACK_DF, STACK_NMI, STACK_MC, STACK_IRQ, STACK_EXC, STACK_COUNT };

struct bootstack {
    const char *name; /* "boot", "#DF IST", ..., "IRQ IST", "exception IST" */
    uint64_t guard;   /* the guard page's address */
    uint64_t base;    /* lowest usable byte = guard + 4 KiB */
    uint64_t top;     /* one past the highest byte; the initial %rsp */
};

/* The stack with this id (addresses computed from the .bss area). */
struct bootstack bootstack(enum bootstack_id id);

/* The stack whose usable bytes or guard page contain addr; false if none.
 * *in_guard tells which. */
bool bootstack_find(uint64_t addr, struct bootstack *out, bool *in_guard);

/* Unmaps the guard pages (kernel/pgwalk.c). Returns how many were unmapped
 * (STACK_COUNT unless the page tables map .bss with large pages). */
int bootstacks_guard(void);

/* True once bootstacks_guard() has unmapped them. */
bool bootstacks_guarded(void);
#endif

#endif
