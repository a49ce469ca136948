/*
 * gdt.c - a GDT and TSS per CPU (contract in gdt.h; formats from
 * Intel SDM vol. 3A 3.4.5 "Segment Descriptors", 7.2.3 "TSS Descriptor in
 * 64-bit Mode", 7.7 "Task Management in 64-bit Mode").
 */
#include "kernel/gdt.h"

#include <stdint.h>

#include "kernel/bootstacks.h"
#include "kernel/percpu.h"

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
    const uint64_t ist[3] = {bootstack(STACK_DF).top, bootstack(STACK_NMI).top, bootstack(STACK_MC).top};
    gdt_init_cpu(0, ist);
}

void gdt_init_cpu(unsigned id, const uint64_t ist_tops[3])
{
    struct tss *tss = &tss_of[id];
    uint64_t *gdt = gdt_of[id];
    tss->ist[IST_DF - 1] = ist_tops[0];
    tss->ist[IST_NMI - 1] = ist_tops[1];
    tss->ist[IST_MC - 1] = ist_tops[2];
    tss->iomap_base = sizeof(*tss);

    gdt[0] = 0;
    gdt[GDT_KCODE / 8] = DESC_KCODE;
    gdt[GDT_KDATA / 8] = DESC_KDATA;
    tss_descriptor(&gdt[GDT_TSS / 8], tss);

    struct dtr d = { sizeof(gdt_of[id]) - 1, (uint64_t)gdt };
    __asm__ volatile("lgdt %0" : : "m"(d) : "memory");
    /* CS can only be reloaded by a far transfer: return to the next
     * instruction through lretq with the new selector. */
    __asm__ volatile("pushq %[cs]\n\t"
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
                     :
                     : [cs] "i"(GDT_KCODE), [ds] "i"(GDT_KDATA)
                     : "rax", "memory");
    __asm__ volatile("ltr %w0" : : "r"(GDT_TSS) : "memory");
}
