/*
 * trampoline.S - where an application processor starts: real mode to long mode.
 *
 * The boot CPU copies [trampoline_start, trampoline_end) to a page P below
 * 1 MiB (frame_lowmem) and sends INIT-SIPI-SIPI with vector P >> 12. The AP
 * wakes in 16-bit real mode with CS = P >> 4, IP = 0, and:
 *   1. loads the trampoline's own GDT (32-bit code/data, 64-bit code), sets
 *      CR0.PE and far-jumps into 32-bit code;
 *   2. enables PAE, loads CR3 with the temporary PML4 (in low memory: a
 *      32-bit mov to CR3 cannot reach the kernel's tables above 4 GiB), sets
 *      EFER.LME (and NXE when the boot CPU uses it), enables paging and WP,
 *      and far-jumps into 64-bit code, still identity-mapped;
 *   3. takes its stack, CPU id and the kernel's real CR3 from the parameter
 *      block and jumps to smp_ap_start64 in the kernel's higher half, which
 *      the temporary PML4 maps too (its upper half is the kernel's); only
 *      there, no longer fetching from this page, does it load the real CR3,
 *      and point FS base at percpu_early_fs before the first C function.
 * The code is position-independent: %ebx/%rbx holds P from step 1 on, and
 * every absolute address is P + an offset, or comes from the parameter block
 * that the boot CPU fills in before each start (kernel/smp.c, struct
 * trampoline_params: the offsets below must match it, and are checked there).
 * Reference: Intel SDM Vol. 3A, 9.9 (switching to IA-32e mode) and 8.4.4
 * (the MP initialization protocol).
 */
#define TR(x) ((x) - trampoline_start)

/* Offsets of struct trampoline_params inside the copied page (kernel/smp.c). */
#define PARAMS       0x800
#define P_GDTR       (PARAMS + 0)   /* u16 limit, u32 base (P + gdt) */
#define P_PM32       (PARAMS + 8)   /* u32 P + pm32, u16 selector 0x08 */
#define P_LM64       (PARAMS + 16)  /* u32 P + lm64, u16 selector 0x18 */
#define P_CR3_LOW    (PARAMS + 24)  /* u32 temporary PML4, below 4 GiB */
#define P_EFER_OR    (PARAMS + 28)  /* u32 bits to set in EFER */
#define P_CR3        (PARAMS + 32)  /* u64 the kernel's PML4 */
#define P_STACK      (PARAMS + 40)  /* u64 initial %rsp */
#define P_ENTRY      (PARAMS + 48)  /* u64 smp_ap_start64 */
#define P_CPU        (PARAMS + 56)  /* u64 CPU id, passed in %rdi */
#define P_ARRIVED    (PARAMS + 64)  /* u32 set to 1 by the AP once in 64-bit mode */

    .section .rodata.trampoline, "a"
    .globl trampoline_start, trampoline_end
    .code16
trampoline_start:
    cli
    cld
    mov %cs, %bx
    mov %bx, %ds
    movzwl %bx, %ebx
    shl $4, %ebx                    /* %ebx = P, for the rest of the way */
    lgdtl P_GDTR
    mov %cr0, %eax
    or $1, %eax                     /* CR0.PE */
    mov %eax, %cr0
    ljmpl *P_PM32

    .code32
pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $(1 << 5), %eax              /* CR4.PAE */
    mov %eax, %cr4
    mov P_CR3_LOW(%ebx), %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx           /* EFER */
    rdmsr
    or P_EFER_OR(%ebx), %eax        /* LME, and NXE if used */
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16)), %eax /* CR0.PG, CR0.WP */
    mov %eax, %cr0
    ljmp *P_LM64(%ebx)

    .code64
lm64:
    movl $1, P_ARRIVED(%rbx)
    mov P_STACK(%rbx), %rsp
    mov P_CPU(%rbx), %rdi
    mov P_CR3(%rbx), %rsi
    mov P_ENTRY(%rbx), %rcx
    xor %ebp, %ebp
    jmp *%rcx                       /* smp_ap_start64(cpu, cr3), in the higher half */

    .balign 16
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code, base 0, 4 GiB */
    .quad 0x00cf92000000ffff        /* 0x10: 32-bit data */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
gdt_end:
trampoline_end:

    /* Step 3's landing, in the kernel's text: switch to the kernel's own tables
     * (the trampoline page is not mapped there), point FS base at the zeroed
     * early block (-fsplit-stack prologues read %fs:0x70 from the first C
     * function on; kernel/lib/percpu.h) and enter C. */
    .text
    .globl smp_ap_start64
smp_ap_start64:                     /* %rdi = CPU id, %rsi = the kernel's CR3 */
    mov %rsi, %cr3
    mov $0xc0000100, %ecx           /* IA32_FS_BASE; %rdi is kept for smp_ap_main */
    lea percpu_early_fs(%rip), %rax
    mov %rax, %rdx
    shr $32, %rdx
    wrmsr
    call smp_ap_main                /* never returns */
    ud2

    /* Offsets the C side needs (absolute symbols, not addresses). */
    .globl trampoline_gdt_off, trampoline_gdt_size, trampoline_pm32_off, trampoline_lm64_off
    .set trampoline_gdt_off, TR(gdt)
    .set trampoline_gdt_size, gdt_end - gdt
    .set trampoline_pm32_off, TR(pm32)
    .set trampoline_lm64_off, TR(lm64)

    .section .note.GNU-stack, "", @progbits
