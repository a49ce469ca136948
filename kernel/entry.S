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
 *   - FS base (IA32_FS_BASE) points at percpu_early_fs, a zero-filled .bss
 *     block, so %fs:0x70, the -fsplit-stack guard every C prologue may read,
 *     is 0 ("never call __morestack") until percpu_init points FS base at
 *     the CPU's own struct cpu (kernel/lib/percpu.h). The firmware leaves FS base
 *     0, and the word at address 0x70 is junk (or unmapped once the identity
 *     map is gone). The APs do the same in kernel/trampoline.S.
 *
 * Steps: cli, cld; FS base; switch stacks; clear rbp; call kmain. kmain
 * never returns; should it, panic() says so and ends the run.
 */
#include "kernel/bootstacks.h"
#include "kernel/lib/percpu.h"

#define MSR_FS_BASE 0xc0000100

    .section .text.entry, "ax"
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    movl $MSR_FS_BASE, %ecx         /* %rdi (boot_info) stays untouched */
    leaq percpu_early_fs(%rip), %rax
    movq %rax, %rdx
    shrq $32, %rdx
    wrmsr
    leaq bootstacks_area+BOOTSTACKS_BOOT_TOP(%rip), %rsp
    xorl %ebp, %ebp
    call kmain
    /* not reached: kmain is _Noreturn */
    leaq .Lreturned(%rip), %rdi
    xorl %eax, %eax
    call panic
    .size _start, . - _start

    /* FS base's target before percpu_init: every %fs-read field of struct cpu
     * reads 0. Shared by all CPUs until each runs percpu_init; only interrupt
     * entry writes it (the 0 it already holds). */
    .section .bss
    .balign 64
    .globl percpu_early_fs
    .type percpu_early_fs, @object
percpu_early_fs:
    .skip CPU_EARLY_FS_SIZE
    .size percpu_early_fs, . - percpu_early_fs

    .section .rodata
.Lreturned:
    .asciz "kmain returned to _start"

    .section .note.GNU-stack, "", @progbits
