/*
 * amd64.S - the runtime's few instructions that C cannot say: switching
 * stacks, gcc's __morestack, and the timer-injected preemption call. Shared by
 * both ports; they differ only in where the current M lives (GETM).
 *
 * Register contract with gcc's -fsplit-stack prologue (checked on gcc 12, see
 * DESIGN.md section 6). A function F whose frame does not fit executes
 *     mov $frame, %r10 ; mov $args, %r11 ; call __morestack ; ret ; <body>
 * where <body> is "jmp to F's normal start" (or, for a varargs F, first
 * "lea 24(%rbp), %r11" to find its stack arguments). libgcc's __morestack
 * calls the body on a new stack segment. Ours instead copies the whole stack
 * (rt/stack.c) and continues F's body on it:
 *   1. __morestack saves every register F may need into m->morebuf (F's
 *      arguments, the callee-saved ones and %rsp), zeroes the guard and
 *      switches to the M's system stack (g0) to call rt_newstack(m).
 *   2. rt_newstack grows the stack (or yields, when the guard was poisoned
 *      for preemption) and calls rt_morestack_tail(mb, guard).
 *   3. rt_morestack_tail builds, on the (new) stack below F's return address
 *      S, the frame libgcc's body expects: [S-16] = F's caller's %rbp with
 *      %rbp = S-16 (so "24(%rbp)" is F's stack arguments, S+8), a copy of the
 *      `args` bytes of stack arguments, and a return address into
 *      rt_morestack_return. It restores the registers and jumps to the body.
 *   4. When F returns, rt_morestack_return restores the caller's %rbp and
 *      returns to F's caller with %rsp = S+8, %rax/%rdx untouched.
 * Every pointer into the old stack among the saved words, including the
 * chain of saved %rbp, is relocated by the copier before step 3.
 *
 * Saved contexts are pushed on the stack they belong to ([r15 r14 r13 r12
 * rbx rbp ret], lowest first), so one saved %rsp restores a coroutine.
 *
 * Everything here is in the runtime's text (rt_asm_text_start..end): never a
 * point where the timer may inject a preemption.
 */
#include "rt/port.h"   /* RT_GS_M, RT_FS_STACK_GUARD */

#if defined(HOSTED)
#define GETM(reg) movq %fs:rt_tls_m@tpoff, reg
#else
#define GETM(reg) movq %gs:RT_GS_M, reg
#endif

/* struct rt_m (rt/runtime2.h) */
#define M_CURG     0
#define M_G0SP     8
#define M_MOREBUF  16
/* struct rt_g */
#define G_SCHEDSP  24
/* struct morebuf */
#define MB_RAX   0
#define MB_RBX   8
#define MB_RCX   16
#define MB_RDX   24
#define MB_RSI   32
#define MB_RDI   40
#define MB_RBP   48
#define MB_R8    56
#define MB_R9    64
#define MB_R12   72
#define MB_R13   80
#define MB_R14   88
#define MB_R15   96
#define MB_SP    104
#define MB_FRAME 112
#define MB_ARGS  120
#define M_EXITSP (M_MOREBUF + 136)

    .text
    .globl rt_asm_text_start
rt_asm_text_start:

/* void rt_mcall(void (*fn)(struct rt_g *)) */
    .globl rt_mcall
    .type rt_mcall, @function
rt_mcall:
    pushq %rbp
    movq %rsp, %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    GETM(%rax)
    movq M_CURG(%rax), %rsi
    movq %rsp, G_SCHEDSP(%rsi)
    movq $0, %fs:RT_FS_STACK_GUARD
    movq M_G0SP(%rax), %rsp
    movq %rdi, %rcx
    movq %rsi, %rdi
    call *%rcx
    ud2
    .size rt_mcall, . - rt_mcall

/* void rt_gogo(uintptr_t sp, uintptr_t guard): never returns */
    .globl rt_gogo
    .type rt_gogo, @function
rt_gogo:
    movq %rdi, %rsp
    movq %rsi, %fs:RT_FS_STACK_GUARD
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size rt_gogo, . - rt_gogo

/* void rt_mstart_asm(struct rt_m *m, void (*fn)(struct rt_m *)) */
    .globl rt_mstart_asm
    .type rt_mstart_asm, @function
rt_mstart_asm:
    pushq %rbp
    movq %rsp, %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, M_EXITSP(%rdi)
    leaq -64(%rsp), %rax
    andq $-16, %rax
    movq %rax, M_G0SP(%rdi)
    movq %rax, %rsp
    call *%rsi
    ud2
    .size rt_mstart_asm, . - rt_mstart_asm

/* A new coroutine's first "return" lands here (rt/proc.c builds the frame). */
    .globl rt_gstart_trampoline
    .type rt_gstart_trampoline, @function
rt_gstart_trampoline:
    xorl %ebp, %ebp
    pushq %rbp                  /* a zero saved %rbp ends every backtrace */
    movq %rsp, %rbp
    call rt_gstart
    ud2
    .size rt_gstart_trampoline, . - rt_gstart_trampoline

/* void rt_systemstack_switch(void (*fn)(void *), void *arg, uintptr_t sp) */
    .globl rt_systemstack_switch
    .type rt_systemstack_switch, @function
rt_systemstack_switch:
    pushq %rbp
    movq %rsp, %rbp             /* fn's backtrace continues into the coroutine */
    movq %rdx, %rsp
    movq %rdi, %rax
    movq %rsi, %rdi
    call *%rax
    movq %rbp, %rsp
    popq %rbp
    ret
    .size rt_systemstack_switch, . - rt_systemstack_switch

/* gcc's entry: [rsp] = R (the `ret` after F's call), r10 = frame, r11 = args. */
    .globl __morestack
    .type __morestack, @function
__morestack:
    pushq %rax                  /* the one word of slack it uses (STACK_GUARD) */
    GETM(%rax)
    movq %rbx, M_MOREBUF+MB_RBX(%rax)
    movq %rcx, M_MOREBUF+MB_RCX(%rax)
    movq %rdx, M_MOREBUF+MB_RDX(%rax)
    movq %rsi, M_MOREBUF+MB_RSI(%rax)
    movq %rdi, M_MOREBUF+MB_RDI(%rax)
    movq %rbp, M_MOREBUF+MB_RBP(%rax)
    movq %r8, M_MOREBUF+MB_R8(%rax)
    movq %r9, M_MOREBUF+MB_R9(%rax)
    movq %r12, M_MOREBUF+MB_R12(%rax)
    movq %r13, M_MOREBUF+MB_R13(%rax)
    movq %r14, M_MOREBUF+MB_R14(%rax)
    movq %r15, M_MOREBUF+MB_R15(%rax)
    movq %r10, M_MOREBUF+MB_FRAME(%rax)
    movq %r11, M_MOREBUF+MB_ARGS(%rax)
    popq %rbx
    movq %rbx, M_MOREBUF+MB_RAX(%rax)
    movq %rsp, M_MOREBUF+MB_SP(%rax)
    movq $0, %fs:RT_FS_STACK_GUARD
    movq M_G0SP(%rax), %rsp
    movq %rax, %rdi
    call rt_newstack
    ud2
    .size __morestack, . - __morestack

/* void rt_morestack_tail(struct morebuf *mb, uintptr_t guard): never returns */
    .globl rt_morestack_tail
    .type rt_morestack_tail, @function
rt_morestack_tail:
    movq MB_SP(%rdi), %rax      /* [rax] = R; S = rax + 8 */
    movq MB_ARGS(%rdi), %r8
    leaq 24+15(%r8), %rdx
    andq $-16, %rdx
    leaq 8(%rax), %r9
    subq %rdx, %r9              /* B = S - roundup(24 + args, 16): body's entry %rsp */
    movq MB_RBP(%rdi), %rdx
    movq %rdx, -8(%rax)         /* [S-16] = the caller's %rbp ([S-8] = R already) */
    xorl %ecx, %ecx             /* copy the stack arguments: S+8.. -> B+8.. */
1:  cmpq %r8, %rcx
    jae 2f
    movq 16(%rax,%rcx), %rdx
    movq %rdx, 8(%r9,%rcx)
    addq $8, %rcx
    jmp 1b
2:  leaq rt_morestack_return(%rip), %rdx
    movq %rdx, (%r9)
    movq (%rax), %r11
    incq %r11                   /* R + 1: past the `ret`, F's body */
    leaq -8(%rax), %rbp         /* S - 16 */
    movq %r9, %rsp
    movq %rsi, %fs:RT_FS_STACK_GUARD
    movq %rdi, %r10
    movq MB_RAX(%r10), %rax
    movq MB_RBX(%r10), %rbx
    movq MB_RCX(%r10), %rcx
    movq MB_RDX(%r10), %rdx
    movq MB_RSI(%r10), %rsi
    movq MB_RDI(%r10), %rdi
    movq MB_R8(%r10), %r8
    movq MB_R9(%r10), %r9
    movq MB_R12(%r10), %r12
    movq MB_R13(%r10), %r13
    movq MB_R14(%r10), %r14
    movq MB_R15(%r10), %r15
    jmp *%r11
    .size rt_morestack_tail, . - rt_morestack_tail

/* F's body returns here: %rsp = B+8, %rbp = S-16. */
    .type rt_morestack_return, @function
rt_morestack_return:
    movq %rbp, %rsp
    popq %rbp
    addq $8, %rsp
    ret
    .size rt_morestack_return, . - rt_morestack_return

/*
 * An asynchronous stop's frame: %rbp linked (the copier walks the chain
 * through it), the flags and every general register, on the coroutine's own
 * stack; and its undoing.
 */
.macro ASYNC_SAVE_GPRS
    pushq %rbp
    movq %rsp, %rbp
    pushfq
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
.endm

.macro ASYNC_RESTORE_GPRS
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    popfq
    popq %rbp
.endm

/*
 * The timer handler made the interrupted coroutine "call" this: [rsp] is the
 * interrupted %rip. Saves every register and the flags on the coroutine's own
 * stack (so a stack copy relocates them), yields, restores, returns there.
 */
    .globl rt_async_preempt
    .type rt_async_preempt, @function
rt_async_preempt:
    ASYNC_SAVE_GPRS
    cld
    movq %rsp, %rbx
    andq $-16, %rsp
    call rt_async_preempt_yield
    movq %rbx, %rsp
    ASYNC_RESTORE_GPRS
    ret
    .size rt_async_preempt, . - rt_async_preempt

#if defined(HOSTED)
/*
 * The hosted port's signal handler made the coroutine "call" this past its
 * 128-byte red zone (rt/port/hosted.c, asynchronous preemption): [rsp] is the
 * interrupted %rip, the interrupted %rsp is rsp + 8 + 128. As rt_async_preempt,
 * plus the SSE and x87 state (fxsave: user code here may use the xmm
 * registers, and so may the next G this M runs); returns with `ret $128`.
 */
    .globl rt_async_preempt_hosted
    .type rt_async_preempt_hosted, @function
rt_async_preempt_hosted:
    ASYNC_SAVE_GPRS
    cld
    movq %rsp, %rbx
    subq $512, %rsp
    andq $-16, %rsp
    fxsave64 (%rsp)
    call rt_async_preempt_yield
    fxrstor64 (%rsp)
    movq %rbx, %rsp
    ASYNC_RESTORE_GPRS
    ret $128
    .size rt_async_preempt_hosted, . - rt_async_preempt_hosted
#endif

/*
 * void rt_gc(void): the collector's public entry. It pushes the caller's
 * callee-saved registers exactly as the caller left them, then calls
 * rt_gc_c(saved): saved[0..5] = r15 r14 r13 r12 rbx rbp, saved[6] = the
 * return address, and the caller's own frame starts at saved + 7. Outside a
 * world the collector scans exactly [saved, stack top): no slot of a runtime
 * frame, which could hold a stale copy of a dead pointer, lies in between.
 */
    .globl rt_gc
    .type rt_gc, @function
rt_gc:
    pushq %rbp
    movq %rsp, %rbp             /* an ordinary frame: backtraces climb through it */
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    subq $8, %rsp               /* 16-byte alignment at the call */
    call rt_gc_c
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size rt_gc, . - rt_gc

    .globl rt_asm_text_end
rt_asm_text_end:

    .section .note.GNU-stack, "", @progbits
