/*
 * kstack.h - kernel stacks for the application processors, in the
 * kernel-stacks region of mm/layout.h (the boot CPU's are in .bss:
 * kernel/bootstacks.h).
 *
 * CPU c's slot, KSTACK_SLOT_SIZE bytes at LAYOUT_KSTACK_BASE + c * slot:
 *   [guard][kernel stack][guard][#DF IST][guard][NMI IST][guard][#MC IST]
 *   [guard][IRQ IST][guard][exception IST]
 * (the IST stacks in IST slot order, kernel/gdt.h). Each guard page stays
 * unmapped, so running off the bottom of any stack faults (reported as
 * "guard page below CPU c's <name> stack") instead of overwriting the stack
 * below it.
 */
#ifndef MM_KSTACK_H
#define MM_KSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KSTACK_SIZE       (64u << 10)
#define KSTACK_IST_SIZE   (16u << 10)
#define KSTACK_GUARD_SIZE 4096u
#define KSTACK_SLOT_SIZE  (1u << 20)
#define KSTACK_NIST       5 /* = IST_COUNT of kernel/gdt.h (checked in kernel/smp.c) */

struct kstack_set {
    uint64_t top;                 /* initial %rsp of the kernel stack */
    uint64_t ist_top[KSTACK_NIST]; /* IST slot k's top is ist_top[k - 1]: #DF, NMI, #MC, IRQ, exceptions */
};

/* Maps CPU cpu's stacks (zeroed frames of FRAME_OWNER_KSTACK). Returns 0, or
 * -1 if frames ran out (then nothing of the slot stays mapped). */
int kstack_alloc(unsigned cpu, struct kstack_set *out);

/* If va lies in a stack slot, say which CPU's which stack or guard page it is. */
bool kstack_describe(uint64_t va, char *buf, size_t len);

/* The bounds [lo, hi) of the stack (a CPU's kernel stack or one of its IST
 * stacks) whose usable bytes hold va, if any: code running in an interrupt
 * or exception handler gets the IST stack it runs on. */
bool kstack_bounds(uint64_t va, uint64_t *lo, uint64_t *hi);

#endif
