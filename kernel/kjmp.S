/*
 * kjmp.S - save and resume a kernel context (struct kjmp in kernel/trap.h),
 * the kernel's setjmp/longjmp. Used by the fault catchers and by the test
 * runner to end a test early.
 *
 * Only what the SysV ABI says survives a call is saved: rbx, rbp, r12-r15,
 * the stack pointer as it is after kjmp_save returns, and the return
 * address. Resuming restores those and returns val (forced non-zero) from
 * the original kjmp_save call. No FPU/SSE state: the kernel has none.
 */
    .text

/* int kjmp_save(struct kjmp *j)   j in %rdi */
    .globl kjmp_save
    .type kjmp_save, @function
kjmp_save:
    movq %rbx, 0(%rdi)
    movq %rbp, 8(%rdi)
    movq %r12, 16(%rdi)
    movq %r13, 24(%rdi)
    movq %r14, 32(%rdi)
    movq %r15, 40(%rdi)
    leaq 8(%rsp), %rax      /* %rsp once this call has returned */
    movq %rax, 48(%rdi)
    movq (%rsp), %rax       /* the return address */
    movq %rax, 56(%rdi)
    xorl %eax, %eax
    ret
    .size kjmp_save, . - kjmp_save

/* void kjmp_restore(const struct kjmp *j, int val)   j in %rdi, val in %esi */
    .globl kjmp_restore
    .type kjmp_restore, @function
kjmp_restore:
    movq 0(%rdi), %rbx
    movq 8(%rdi), %rbp
    movq 16(%rdi), %r12
    movq 24(%rdi), %r13
    movq 32(%rdi), %r14
    movq 40(%rdi), %r15
    movq 48(%rdi), %rsp
    movl %esi, %eax
    testl %eax, %eax
    jnz 1f
    movl $1, %eax           /* kjmp_save must see non-zero when resumed */
1:  jmpq *56(%rdi)
    .size kjmp_restore, . - kjmp_restore

    .section .note.GNU-stack, "", @progbits
