/*
 * x86.h - the handful of privileged instructions the kernel uses, as inline
 * functions, and the MSR numbers more than one file uses. Nothing here has
 * side effects beyond the instruction it names; callers own the ordering
 * rules (e.g. CR3 reload after a PTE change).
 */
#ifndef KERNEL_X86_H
#define KERNEL_X86_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }

static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }

static inline uint64_t read_rflags(void)
{
    uint64_t v;
    __asm__ volatile("pushfq; popq %0" : "=r"(v));
    return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

#define MSR_EFER    0xc0000080u
#define EFER_NXE    (1ull << 11)
#define MSR_FS_BASE 0xc0000100u /* kernel/entry.S has its own copy: assembly */
#define MSR_GS_BASE 0xc0000101u

#define RFLAGS_IF  (1ull << 9)

#ifndef HOSTED /* host builds (e.g. the spinlock's tests) bring their own stand-ins */
/* Interrupts off; returns RFLAGS as it was, for irq_restore. */
static inline uint64_t irq_save(void)
{
    uint64_t flags = read_rflags();
    cli();
    return flags;
}

/* Interrupts back on if they were on when irq_save returned flags. */
static inline void irq_restore(uint64_t flags)
{
    if (flags & RFLAGS_IF)
        __asm__ volatile("sti" ::: "memory");
}
#endif

static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline uint64_t read_rbp(void)
{
    uint64_t v;
    __asm__ volatile("mov %%rbp, %0" : "=r"(v));
    return v;
}

/* Control-register and RFLAGS bits the core reads. */
#define CR0_WP     (1ull << 16)
#define CR4_SMEP   (1ull << 20)
#define CR4_SMAP   (1ull << 21)

#endif
