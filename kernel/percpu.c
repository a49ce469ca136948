/*
 * percpu.c - the per-CPU blocks (see percpu.h).
 */
#include "kernel/percpu.h"

#include "kernel/x86.h"

#define MSR_GS_BASE 0xc0000101u

struct cpu cpus[MAX_CPUS];
static volatile unsigned g_count;

void percpu_init(unsigned id, uint32_t apic_id)
{
    struct cpu *c = &cpus[id];
    c->self = c;
    c->id = id;
    c->apic_id = apic_id;
    uint64_t base = (uint64_t)c;
    __asm__ volatile("wrmsr" ::"c"(MSR_GS_BASE), "a"((uint32_t)base), "d"((uint32_t)(base >> 32)));
    __atomic_add_fetch(&g_count, 1, __ATOMIC_SEQ_CST);
}

unsigned cpu_count(void) { return __atomic_load_n(&g_count, __ATOMIC_ACQUIRE); }
