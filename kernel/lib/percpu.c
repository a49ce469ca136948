/*
 * percpu.c - the per-CPU blocks (see percpu.h).
 */
#include "kernel/lib/percpu.h"

#include "kernel/lib/x86.h"

struct cpu cpus[MAX_CPUS];
static volatile unsigned g_count;

void percpu_init(unsigned id, uint32_t apic_id)
{
    struct cpu *c = &cpus[id];
    c->self = c;
    c->id = id;
    c->apic_id = apic_id;
    c->stack_guard = 0; /* the CPU runs on its kernel stack: no __morestack */
    wrmsr(MSR_GS_BASE, (uint64_t)c);
    wrmsr(MSR_FS_BASE, (uint64_t)c); /* from the early zero block to this CPU's own guard */
    __atomic_add_fetch(&g_count, 1, __ATOMIC_SEQ_CST);
}

unsigned cpu_count(void) { return __atomic_load_n(&g_count, __ATOMIC_ACQUIRE); }
