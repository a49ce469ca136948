/*
 * gdt.c - a GDT and TSS per CPU (contract in gdt.h; formats from
 * Intel SDM vol. 3A 3.4.5 "Segment Descriptors", 7.2.3 "TSS Descriptor in
 * 64-bit Mode", 7.7 "Task Management in 64-bit Mode").
 */
#include "kernel/gdt.h"

#include <stdint.h>

#include "kernel/bootstacks.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/x86.h"

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3]; /* stacks for privilege changes: unused (no user mode yet) */
    uint64_t reserved1;
    uint64_t ist[7]; /* ist[0] is IST1 */
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base; /* = sizeof(struct tss): no I/O permission bitmap */
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "64-bit TSS is 104 bytes");

/* Code: P=1, DPL 0, S=1, type execute/read, L=1 (64-bit), G=1.
 * Data: P=1, DPL 0, S=1, type read/write, G=1, D/B=1. */
#define DESC_KCODE 0x00af9a000000ffffull
#define DESC_KDATA 0x00cf92000000ffffull

/* One of each per CPU: a TSS is busy while loaded, so CPUs cannot share one. */
static struct tss tss_of[MAX_CPUS] __attribute__((aligned(16)));
static uint64_t gdt_of[MAX_CPUS][5] __attribute__((aligned(16)));
static uint64_t ist_top_of[MAX_CPUS][IST_COUNT]; /* as set up; TSS.IST5 moves while handlers run */

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint64_t base;
};

static void tss_descriptor(uint64_t *slot, const struct tss *t)
{
    uint64_t base = (uint64_t)t;
    uint64_t limit = sizeof(*t) - 1;
    slot[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
              (0x89ull << 40) |                 /* P=1, DPL 0, type 9: available 64-bit TSS */
              (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    slot[1] = base >> 32;
}

void gdt_init(void)
{
    const uint64_t ist[IST_COUNT] = {
        [IST_DF - 1] = bootstack(STACK_DF).top,   [IST_NMI - 1] = bootstack(STACK_NMI).top,
        [IST_MC - 1] = bootstack(STACK_MC).top,   [IST_IRQ - 1] = bootstack(STACK_IRQ).top,
        [IST_EXC - 1] = bootstack(STACK_EXC).top,
    };
    gdt_init_cpu(0, ist);
}

void gdt_init_cpu(unsigned id, const uint64_t ist_tops[IST_COUNT])
{
    struct tss *tss = &tss_of[id];
    uint64_t *gdt = gdt_of[id];
    /* No ASSERT here: this runs before percpu_init, when panic cannot say
     * which CPU it is. The tops are page-aligned by construction. */
    for (unsigned k = 0; k < IST_COUNT; k++) {
        tss->ist[k] = ist_tops[k];
        ist_top_of[id][k] = ist_tops[k];
    }
    tss->iomap_base = sizeof(*tss);
    /* The word is unaligned (offset 68 of the packed TSS): fine for the CPU
     * and for the stubs' subq/addq; the pointer is formed without taking a
     * packed member's address. */
    cpus[id].exc_ist_slot =
        (uint64_t *)((uint8_t *)tss + __builtin_offsetof(struct tss, ist) + 8 * (IST_EXC - 1));

    gdt[0] = 0;
    gdt[GDT_KCODE / 8] = DESC_KCODE;
    gdt[GDT_KDATA / 8] = DESC_KDATA;
    tss_descriptor(&gdt[GDT_TSS / 8], tss);

    struct dtr d = { sizeof(gdt_of[id]) - 1, (uint64_t)gdt };
    __asm__ volatile("lgdt %0" : : "m"(d) : "memory");
    /* CS can only be reloaded by a far transfer: return to the next
     * instruction through lretq with the new selector. Loading the null
     * selector into %fs and %gs zeroes their bases (Intel, QEMU): both are
     * written back from the MSRs read before, in the same asm statement, so
     * no C code (no -fsplit-stack prologue) ever sees FS base 0. */
    __asm__ volatile("movl %[fsmsr], %%ecx\n\t"
                     "rdmsr\n\t"
                     "movl %%eax, %%r8d\n\t"
                     "movl %%edx, %%r9d\n\t"
                     "movl %[gsmsr], %%ecx\n\t"
                     "rdmsr\n\t"
                     "movl %%eax, %%r10d\n\t"
                     "movl %%edx, %%r11d\n\t"
                     "pushq %[cs]\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movl %[ds], %%eax\n\t"
                     "movl %%eax, %%ds\n\t"
                     "movl %%eax, %%es\n\t"
                     "movl %%eax, %%ss\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "movl %%eax, %%fs\n\t"
                     "movl %%eax, %%gs\n\t"
                     "movl %[fsmsr], %%ecx\n\t"
                     "movl %%r8d, %%eax\n\t"
                     "movl %%r9d, %%edx\n\t"
                     "wrmsr\n\t"
                     "movl %[gsmsr], %%ecx\n\t"
                     "movl %%r10d, %%eax\n\t"
                     "movl %%r11d, %%edx\n\t"
                     "wrmsr\n\t"
                     :
                     : [cs] "i"(GDT_KCODE), [ds] "i"(GDT_KDATA), [fsmsr] "i"(MSR_FS_BASE), [gsmsr] "i"(MSR_GS_BASE)
                     : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory");
    __asm__ volatile("ltr %w0" : : "r"(GDT_TSS) : "memory");
}

uint64_t gdt_ist_top(unsigned cpu, unsigned ist)
{
    ASSERT_MSG(cpu < MAX_CPUS && ist >= 1 && ist <= IST_COUNT, "gdt_ist_top(%u, %u)", cpu, ist);
    return ist_top_of[cpu][ist - 1];
}

uint64_t gdt_ist_now(unsigned cpu, unsigned ist)
{
    ASSERT_MSG(cpu < MAX_CPUS && ist >= 1 && ist <= IST_COUNT, "gdt_ist_now(%u, %u)", cpu, ist);
    return tss_of[cpu].ist[ist - 1];
}
