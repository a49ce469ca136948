/*
 * entry.S - _start: the first kernel instructions, from the loader to kmain.
 *
 * Contract with the loader (boot/boot_info.h): long mode, interrupts off,
 * the loader's page tables (identity map + direct map + the kernel's
 * segments), its stack, which is identity-mapped low memory, and
 * %rdi = struct boot_info * in the direct map.
 *
 * Invariants established here, which kmain relies on:
 *   - %rsp is the top of the boot stack in .bss (kernel/bootstacks.h, 64 KiB
 *     with a guard page below), 16-byte aligned at the call as the ABI asks;
 *     nothing of the loader's stack is used again, so kmain may drop the
 *     identity map that holds it.
 *   - %rbp = 0: the end marker of every frame-pointer backtrace.
 *   - Interrupts off and the direction flag clear (the ABI's requirement).
 *   - %rdi still holds the boot_info pointer: kmain's first argument.
 *
 * Steps: cli, cld; switch stacks; clear rbp; call kmain. kmain never
 * returns; should it, panic() says so and ends the run.
 */
#include "kernel/bootstacks.h"

    .section .text.entry, "ax"
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    leaq bootstacks_area+BOOTSTACKS_BOOT_TOP(%rip), %rsp
    xorl %ebp, %ebp
    call kmain
    /* not reached: kmain is _Noreturn */
    leaq .Lreturned(%rip), %rdi
    xorl %eax, %eax
    call panic
    .size _start, . - _start

    .section .rodata
.Lreturned:
    .asciz "kmain returned to _start"

    .section .note.GNU-stack, "", @progbits
