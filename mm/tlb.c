/*
 * tlb.c - TLB shootdown: keeping every CPU's TLB in step with the page tables.
 *
 * Why here. A CPU caches translations; when mm/paging.c removes or restricts
 * a mapping it invalidates its own TLB (invlpg), but the other CPUs may hold
 * the old entry until told. The protocol is part of the page tables'
 * contract (a vm_unmap returns only when no CPU can reach the page), so it
 * lives beside them; the interrupt that carries it is the platform's
 * (kernel/lapic.h), and kernel/smp.c installs the handler.
 *
 * Protocol (one request at a time):
 *   1. The requester takes g_shoot_lock (rank SPIN_RANK_SHOOTDOWN, under the
 *      paging lock), publishes the range and bumps the generation number.
 *   2. It sends LAPIC_VEC_TLB to all other CPUs. It has its own vector, so a
 *      CPU busy in a cross-CPU call (kernel/smp.c) still answers.
 *   3. Each CPU, in tlb_shootdown_ipi: invlpg per page of the range, or a
 *      full CR3 reload beyond 32 pages; then stores the generation it saw in
 *      its acked[] slot (release).
 *   4. The requester waits until every other online CPU's acked[] reaches its
 *      generation, bounded by SHOOTDOWN_TIMEOUT_NS, then panics naming the
 *      CPU that did not answer.
 *
 * Locking and interrupts: g_shoot_lock is taken without disabling interrupts,
 * as is the paging lock around it: a CPU waiting for either still answers the
 * shootdown of the CPU holding them, so two CPUs unmapping at once cannot
 * deadlock. acked[c] is written only by CPU c.
 *
 * Reference: Intel SDM Vol. 3A 4.10.5 (propagation of paging-structure
 * changes to multiple processors).
 */
#include "mm/tlb.h"

#include "kernel/lapic.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/spinlock.h"
#include "kernel/lib/x86.h"
#include "kernel/time.h"
#include "rt/sys.h"

#define SHOOTDOWN_TIMEOUT_NS (5ull * 1000 * 1000 * 1000)

/* One shootdown at a time (the request block is shared). Taken without
 * disabling interrupts, inside the paging lock: waiters still answer IPIs. */
static struct spinlock g_shoot_lock = SPINLOCK_INIT("shootdown", SPIN_RANK_SHOOTDOWN);

RT_NOSCAN static struct { /* va: a heap address, not a reference (rt/sys.h) */
    volatile uint64_t va, n;
    volatile uint64_t gen;               /* bumped per request */
    volatile uint64_t acked[MAX_CPUS];   /* gen each CPU has finished */
} g_shoot;

void tlb_shootdown_ipi(struct trap_frame *f)
{
    (void)f;
    unsigned me = cpu_id();
    uint64_t gen = g_shoot.gen;
    if (g_shoot.n > 32 * 4096)
        write_cr3(read_cr3());
    else
        for (uint64_t va = g_shoot.va; va < g_shoot.va + g_shoot.n; va += 4096)
            invlpg(va);
    __atomic_store_n(&g_shoot.acked[me], gen, __ATOMIC_RELEASE);
}

void tlb_shootdown(uint64_t va, uint64_t n)
{
    unsigned me = cpu_id(), count = cpu_count();
    if (count < 2)
        return;
    spin_lock(&g_shoot_lock);
    g_shoot.va = va;
    g_shoot.n = n;
    uint64_t gen = __atomic_add_fetch(&g_shoot.gen, 1, __ATOMIC_SEQ_CST);
    lapic_send_ipi_all_but_self(LAPIC_VEC_TLB);
    uint64_t deadline = nanotime() + SHOOTDOWN_TIMEOUT_NS;
    for (unsigned c = 0; c < count; c++) {
        if (c == me || !cpus[c].online)
            continue;
        while (__atomic_load_n(&g_shoot.acked[c], __ATOMIC_ACQUIRE) < gen) {
            if (nanotime() > deadline)
                panic("TLB shootdown of [0x%llx, +0x%llx): CPU %u did not acknowledge", (unsigned long long)va,
                      (unsigned long long)n, c);
            cpu_relax();
        }
    }
    spin_unlock(&g_shoot_lock);
}
