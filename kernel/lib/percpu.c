/*
 * percpu.c - the per-CPU blocks (see percpu.h).
 */
#include "kernel/lib/percpu.h"

#include "kernel/lib/x86.h"

#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u

struct cpu cpus[MAX_CPUS];
static volatile unsigned g_count;

static void wrmsr_base(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

void percpu_init(unsigned id, uint32_t apic_id)
{
    struct cpu *c = &cpus[id];
    c->self = c;
    c->id = id;
    c->apic_id = apic_id;
    c->stack_guard = 0; /* the CPU runs on its kernel stack: no __morestack */
    wrmsr_base(MSR_GS_BASE, (uint64_t)c);
    wrmsr_base(MSR_FS_BASE, (uint64_t)c); /* from the early zero block to this CPU's own guard */
    __atomic_add_fetch(&g_count, 1, __ATOMIC_SEQ_CST);
}

unsigned cpu_count(void) { return __atomic_load_n(&g_count, __ATOMIC_ACQUIRE); }
