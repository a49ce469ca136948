/*
 * sync_smp.c - the spinlock on every CPU at once (smp_run_on_all): mutual
 * exclusion (a shared counter incremented without atomics ends exact) and
 * fairness (ticket order: a CPU that releases while others wait never gets
 * the lock straight back). With --smp 1 it runs on one CPU and checks the
 * counts only.
 */
#include "kernel/ktest.h"
#include "kernel/lib/percpu.h"
#include "kernel/smp.h"
#include "kernel/lib/spinlock.h"
#include "kernel/lib/string.h"
#include "kernel/lib/x86.h"

#define ROUNDS 500u
#define BARRIER_CYCLES (1ull << 34) /* start together; give up (and say so) after this */

static struct spinlock counter_lock = SPINLOCK_INIT("test.counter", SPIN_RANK_TEST);

/* Under counter_lock. */
static struct {
    uint64_t counter;      /* read-pause-write: a lost update shows as a short count */
    int32_t last_owner;    /* CPU of the previous critical section */
    bool last_saw_waiters; /* that CPU saw tickets waiting when it released */
    uint64_t unfair;       /* a CPU took the lock again over a waiter */
    uint64_t contended;    /* releases with a waiter queued */
    uint64_t owner_wrong;  /* the lock did not name its holder */
} shared;

static uint64_t per_cpu_rounds[MAX_CPUS];
static unsigned per_cpu_held_after[MAX_CPUS];
static unsigned arrived;
static bool barrier_timed_out;

static void hammer(void *arg)
{
    unsigned n = (unsigned)(uintptr_t)arg, me = cpu_id();
    __atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
    uint64_t t0 = rdtsc();
    while (__atomic_load_n(&arrived, __ATOMIC_ACQUIRE) < n) {
        if (rdtsc() - t0 > BARRIER_CYCLES) {
            __atomic_store_n(&barrier_timed_out, true, __ATOMIC_RELAXED);
            break;
        }
        cpu_relax();
    }

    for (unsigned i = 0; i < ROUNDS; i++) {
        uint64_t flags = 0;
        bool irqsave = (i & 1) != 0; /* both entry points, same lock */
        if (irqsave)
            flags = spin_lock_irqsave(&counter_lock);
        else
            spin_lock(&counter_lock);

        if (shared.last_saw_waiters && shared.last_owner == (int32_t)me)
            shared.unfair++;
        if (counter_lock.cpu != (int32_t)me)
            shared.owner_wrong++;
        uint64_t v = shared.counter;
        cpu_relax(); /* widen the window a broken lock would lose an update in */
        shared.counter = v + 1;
        per_cpu_rounds[me]++;

        union spin_ticket t = { .word = __atomic_load_n(&counter_lock.ticket.word, __ATOMIC_RELAXED) };
        bool waiters = (uint16_t)(t.half.next - t.half.serving) > 1;
        shared.contended += waiters;
        shared.last_saw_waiters = waiters;
        shared.last_owner = (int32_t)me;

        if (irqsave)
            spin_unlock_irqrestore(&counter_lock, flags);
        else
            spin_unlock(&counter_lock);
    }
    per_cpu_held_after[me] = spin_held_count();
}

KTEST(sync_smp_contention, "sync.smp.counter_exact_and_fair")
{
    unsigned n = cpu_count();
    spin_init(&counter_lock, "test.counter", SPIN_RANK_TEST);
    memset(&shared, 0, sizeof(shared));
    shared.last_owner = -1;
    memset(per_cpu_rounds, 0, sizeof(per_cpu_rounds));
    memset(per_cpu_held_after, 0xff, sizeof(per_cpu_held_after));
    arrived = 0;
    barrier_timed_out = false;

    uint64_t t0 = rdtsc();
    smp_run_on_all(hammer, (void *)(uintptr_t)n);
    uint64_t cycles = rdtsc() - t0;

    ktest_diag("%u CPU(s) x %u rounds: %llu TSC cycles per critical section; %llu of %llu releases had a "
               "waiter queued%s", n, ROUNDS, (unsigned long long)(cycles / ((uint64_t)n * ROUNDS)),
               (unsigned long long)shared.contended, (unsigned long long)n * ROUNDS,
               barrier_timed_out ? " (start barrier timed out)" : "");
    KT_EQ(shared.counter, (uint64_t)n * ROUNDS);
    for (unsigned c = 0; c < n; c++) {
        KT_EQ(per_cpu_rounds[c], ROUNDS);
        KT_EQ(per_cpu_held_after[c], 0);
    }
    KT_EQ(shared.unfair, 0);
    KT_EQ(shared.owner_wrong, 0);
    KT_ASSERT(!spin_is_locked(&counter_lock));
    KT_EQ(counter_lock.ticket.half.serving, (uint16_t)(n * ROUNDS)); /* every ticket served once */
}
