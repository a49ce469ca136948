/*
 * trap_entry.S - the 32 exception entry stubs and their common path.
 *
 * Each stub makes the stack look the same whatever the vector: the CPU
 * switched to the vector's IST stack (IST_EXC for all but #DF, NMI and #MC,
 * kernel/gdt.h) and pushed ss, rsp, rflags, cs, rip and, for some vectors,
 * an error code; the stub pushes a 0 in place of a missing error code, then
 * the vector number. The common path (TRAP_COMMON in trap_frame.inc, with
 * the IST5 shift) saves the registers and the stack guard into a struct
 * trap_frame (kernel/trap.h), moves TSS.IST5 down by EXC_IST_SHIFT so a
 * nested exception lands below this one, pushes a two-word fake call frame
 * {saved rbp, faulting rip} so that a frame-pointer backtrace taken inside
 * the handler walks from trap_dispatch straight into the interrupted code,
 * faulting function included. It calls trap_dispatch(frame) and, if that
 * returns, moves TSS.IST5 back, restores the (possibly edited) frame and
 * iretq's: a fault catcher edits rip, rsp and the callee-saved registers to
 * resume elsewhere, and the shift is undone on that path too.
 *
 * #DF, NMI and #MC shift IST5 as well (they use their own stacks): the
 * shifts stay balanced whatever nests inside what, and an NMI that arrives
 * between an exception's delivery and its stub's shift moves IST5 below
 * that exception's frame before anything of its own can fault.
 */
#include "kernel/trap_frame.inc"

    .text

.macro STUB vec, has_err
    .type trap_stub_\vec, @function
trap_stub_\vec:
    .if \has_err == 0
    pushq $0
    .endif
    pushq $\vec
    jmp trap_common
    .size trap_stub_\vec, . - trap_stub_\vec
.endm

    /* Vectors with an error code: 8, 10-14, 17, 21, 29, 30 (SDM table 6-1). */
    STUB 0, 0
    STUB 1, 0
    STUB 2, 0
    STUB 3, 0
    STUB 4, 0
    STUB 5, 0
    STUB 6, 0
    STUB 7, 0
    STUB 8, 1
    STUB 9, 0
    STUB 10, 1
    STUB 11, 1
    STUB 12, 1
    STUB 13, 1
    STUB 14, 1
    STUB 15, 0
    STUB 16, 0
    STUB 17, 1
    STUB 18, 0
    STUB 19, 0
    STUB 20, 0
    STUB 21, 1
    STUB 22, 0
    STUB 23, 0
    STUB 24, 0
    STUB 25, 0
    STUB 26, 0
    STUB 27, 0
    STUB 28, 0
    STUB 29, 1
    STUB 30, 1
    STUB 31, 0

    TRAP_COMMON trap_common, trap_dispatch, 1

    /* The stub addresses, indexed by vector, for kernel/idt.c. */
    .section .rodata
    .balign 8
    .globl trap_stubs
trap_stubs:
    .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad trap_stub_\vec
    .endr
    .size trap_stubs, . - trap_stubs

    .section .note.GNU-stack, "", @progbits
