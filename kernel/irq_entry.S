/*
 * irq_entry.S - entry stubs for the interrupt vectors 32..255 (exceptions
 * 0..31 have their own in trap_entry.S).
 *
 * Each stub is IRQ_STUB_SIZE bytes (kernel/lapic.c computes a vector's stub
 * as irq_stubs + (vector - 32) * 16): it pushes a zero error code and the
 * vector, so the frame has the same shape as an exception's (struct
 * trap_frame in kernel/trap.h), and jumps to irq_common. irq_common
 * (TRAP_COMMON in trap_frame.inc, without the IST5 shift) saves all 15
 * general registers and the stack guard (zeroing %fs:0x70 for the handler),
 * builds a fake call frame {interrupted rbp, interrupted rip} so a backtrace
 * from inside a handler continues into the interrupted code, calls
 * irq_dispatch(frame) (kernel/lapic.c: EOI, then the handler), restores
 * everything, the frame's stack guard included, and returns with iretq.
 *
 * Stack: this CPU's IRQ stack (IST_IRQ, kernel/gdt.h), entered at its top
 * every time: handlers run with IF=0 and never nest (irq_dispatch checks),
 * so the interrupted stack, possibly a coroutine's 2 KiB one, is never
 * written. Kernel-only, so no swapgs.
 */
#include "kernel/trap_frame.inc"

#define IRQ_STUB_SIZE 16

    .text
    .balign IRQ_STUB_SIZE
    .globl irq_stubs
    .type irq_stubs, @function
irq_stubs:
    .set vec, 32
    .rept 224
    .balign IRQ_STUB_SIZE
    pushq $0
    pushq $vec
    jmp irq_common
    .set vec, vec + 1
    .endr
    .balign IRQ_STUB_SIZE
    .globl irq_stubs_end            /* lapic.c checks end - start == 224 * 16: no stub outgrew its slot */
irq_stubs_end:
    .size irq_stubs, . - irq_stubs

    TRAP_COMMON irq_common, irq_dispatch, 0

    .section .note.GNU-stack, "", @progbits
