/*
 * spinlock.c - fair ticket spinlocks and the checks that keep them honest
 * (API and the rank table: kernel/lib/spinlock.h).
 *
 * Why tickets
 *   The simplest spinlock is one word swapped from 0 to 1 (test-and-set, or
 *   test-and-test-and-set to spin on a shared cache line). It is correct but
 *   unfair: when the lock is released every waiter races for it, and the
 *   winner is whoever's cache happens to see the release first, usually the
 *   CPU that just released it or the one nearest to it. Under steady
 *   contention a CPU can lose every round. Mellor-Crummey and Scott ("Algorithms
 *   for Scalable Synchronization on Shared-Memory Multiprocessors", ACM TOCS
 *   9(1), 1991) compare these locks and describe the ticket lock: like the
 *   number dispenser at a shop counter, a CPU takes the next number with one
 *   atomic fetch-and-add and waits until the "now serving" display shows it.
 *   Service is first-come first-served, so no CPU starves and the wait is
 *   bounded by the number of CPUs ahead of it. Linux used the same lock on
 *   x86 from 2.6.25 (2008) until queued spinlocks replaced it in 4.2; its
 *   layout, two halves of one word, is the one used here.
 *
 *   The price, which the same paper points out, is that every waiter spins on
 *   the one shared word, so each release invalidates every waiter's cache
 *   line: traffic grows with the number of waiters. Queue locks (MCS: each
 *   waiter spins on its own node) fix that. With at most a handful of CPUs
 *   and short critical sections the ticket lock is the better trade here:
 *   one word, no per-waiter node to allocate, trivially correct.
 *
 * The algorithm (union spin_ticket: serving in the low 16 bits, next in the
 * high 16 bits of one 32-bit word)
 *   1. my = fetch_add(word, 1 << 16) >> 16 (acquire). If the old serving half
 *      equals my, the lock was free: done (the fast path, one locked add).
 *   2. Otherwise spin: load-acquire serving until it equals my, with PAUSE in
 *      the loop (it tells the CPU this is a spin-wait: it saves power and
 *      avoids the memory-order mis-speculation penalty when the line
 *      changes; under QEMU it also lets the host thread breathe). Every
 *      1024 spins, compare the TSC with the start: past SPIN_TIMEOUT_CYCLES,
 *      panic naming the lock and its holder instead of hanging.
 *   3. Release: store-release serving + 1 into the low half only. Only the
 *      holder writes serving, so a plain (atomic) store suffices, and writing
 *      16 bits means serving wrapping from 0xffff never carries into next.
 *   4. trylock: read the word; if serving == next, compare-and-swap it to
 *      next + 1; any change in between (a new ticket) makes the CAS fail.
 *   The acquire/release pair makes everything written inside one critical
 *   section visible to the next holder (C11 memory model: the release store
 *   synchronizes-with the acquire load that reads it).
 *
 * Interrupts (the IF rules)
 *   An interrupt handler that takes a lock its own CPU holds spins forever:
 *   the holder is the code it interrupted. So a lock that any handler takes
 *   must be taken with spin_lock_irqsave everywhere: save RFLAGS, cli, take
 *   the lock; release, then restore IF as saved (restoring, not setting, lets
 *   irqsave sections nest). Interrupts stay off while spinning too: enabling
 *   them during the wait would let a handler take a second lock out of order.
 *   Two checks guard the rule at SPIN_DEBUG >= 1: at spin_unlock_irqrestore
 *   IF must still be clear (something enabled interrupts inside the critical
 *   section), and IF must not come back on while the CPU still holds another
 *   lock it took with irqsave (irqsave sections released out of order).
 *   Corollary for the SMP code: never wait with interrupts off for another
 *   CPU to answer an IPI while it may be spinning, interrupts off, on a lock
 *   the waiter holds (TLB shootdown under PAGING must let the target CPUs
 *   take the IPI: they must not be waiting for PAGING with IF clear).
 *
 * Lock order (ranks)
 *   Deadlock needs a cycle: CPU 0 holds A and waits for B while CPU 1 holds B
 *   and waits for A. Giving every lock a rank and taking locks only in
 *   increasing rank makes a cycle impossible. The table is in spinlock.h.
 *   The check runs on every acquisition at SPIN_DEBUG >= 1, on one CPU, so
 *   an order that could deadlock is reported the first time it happens, even
 *   if the other CPU never shows up (Go's static lock ranking and Linux's
 *   lockdep do the same, lockdep learning the order instead of being told).
 *   Interrupt handlers are checked the same way: a handler that takes a
 *   low-rank lock while the interrupted code holds a higher one is the same
 *   cycle with one CPU playing both parts.
 *
 * What each debug check catches (SPIN_DEBUG >= 1 unless noted)
 *   - order:     taking a lock whose rank is not above every held lock's
 *                (potential deadlock between CPUs); names both locks, ranks.
 *   - recursion: taking a lock this CPU holds (certain self-deadlock).
 *   - release:   releasing a lock this CPU does not hold (double unlock, or
 *                unlock from the wrong CPU: it would let a second CPU in).
 *   - context:   assert_no_locks_held(ctx): a lock held where none may be
 *                (halting, switching stacks, taking a runtime lock).
 *   - IF:        the two interrupt-flag rules above.
 *   - too long:  (every level) a wait past SPIN_TIMEOUT_CYCLES: a lock
 *                leaked by a holder, a holder that died or a deadlock the
 *                rank check could not see; "lock X held by CPU n for too long".
 *   Each check is a pure function (spin_check_*) returning a message, so the
 *   tests call it directly; the lock operations panic with that message.
 *
 * Per-CPU state: the list of held locks of each CPU lives in spin_cpus[],
 * indexed by cpu_id() (kernel/lib/percpu.h); only that CPU touches its entry, so
 * it needs no lock, and nothing there is shared between CPUs. Locks may be
 * released in any order (the list is searched, the rank check uses the
 * maximum of what is held).
 *
 * Panics and the console: the checks call panic() while holding locks; the
 * panic path takes no spinlock. The console lock (rank CONSOLE, see
 * kernel/lib/kprintf.c) is not taken by a panicking CPU: panic first claims the
 * console for its CPU (kprintf_panic_enter), waits a bounded time for a
 * CPU in the middle of writing to finish, then writes without the lock;
 * any other CPU that reaches the console afterwards parks itself. A panic
 * inside kprintf (the console lock held by the panicking CPU itself) thus
 * cannot deadlock either.
 *
 * Hosted build (tests/host/test_spinlock.c): with HOSTED the per-CPU id, the
 * interrupt flag and panic come from the test (threads play CPUs), the rest
 * is this same code.
 */
#include "kernel/lib/spinlock.h"

#include <stdarg.h>

#include "kernel/lib/compiler.h"
#include "kernel/lib/percpu.h" /* MAX_CPUS; cpu_id() in the kernel */
#include "kernel/lib/x86.h"    /* rdtsc, cpu_relax, read_rflags, cli, RFLAGS_IF */

#ifdef HOSTED
#include <stdio.h>
/* Provided by the host test: the "CPU" a thread plays, and the panic hook. */
extern __thread unsigned spin_host_cpu;
_Noreturn void spin_host_panic(const char *msg);
static unsigned my_cpu(void) { return spin_host_cpu; }
static uint64_t irq_flags(void) { return 0; }
static uint64_t irq_save(void) { return 0; }
static void irq_restore(uint64_t flags) { (void)flags; }
#define spin_vsnprintf vsnprintf
/* Threads are preempted for whole time slices: the host test sets the limit per case. */
extern uint64_t spin_host_timeout;
#define SPIN_WAIT_LIMIT spin_host_timeout
/* A waiter whose predecessor's thread is descheduled would burn its whole
 * time slice: let the host run someone else (vCPUs under QEMU cannot). */
#include <sched.h>
static void wait_yield(void) { sched_yield(); }
#else
static void wait_yield(void) {}
#define SPIN_WAIT_LIMIT SPIN_TIMEOUT_CYCLES
#include "kernel/lib/kprintf.h"
#include "kernel/lib/panic.h"
static unsigned my_cpu(void) { return cpu_id(); }
static uint64_t irq_flags(void) { return read_rflags(); }
/* irq_save and irq_restore: kernel/lib/x86.h */
#define spin_vsnprintf kvsnprintf
#endif

#define SPIN_TSC_CHECK_MASK 1023u /* read the TSC every 1024 spins */

/* One CPU's view: the locks it holds, in acquisition order. */
struct spin_cpu {
    const struct spinlock *held[SPIN_HELD_MAX];
    bool irqsave[SPIN_HELD_MAX]; /* held[i] was taken by spin_lock_irqsave */
    unsigned depth;              /* locks held now (every SPIN_DEBUG level: the runtime's
                                  * preemption reads it); entries used in held[] at >= 1 */
} __attribute__((aligned(64)));  /* one cache line each: no false sharing */

static struct spin_cpu spin_cpus[MAX_CPUS];

__attribute__((format(printf, 3, 4))) static int errf(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    spin_vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

_Noreturn static void spin_panic(const char *msg)
{
#ifdef HOSTED
    spin_host_panic(msg);
#else
    panic("%s", msg);
#endif
}

static struct spin_cpu *me_state(void)
{
    unsigned id = my_cpu();
    if (unlikely(id >= MAX_CPUS)) /* GS base not set up: percpu_init was skipped */
        spin_panic("spinlock: cpu_id() out of range (percpu_init not called on this CPU?)");
    return &spin_cpus[id];
}

/* ---- The ticket algorithm. ---- */

bool spin_wait_ticket(union spin_ticket *t, uint16_t ticket, const char *name, const int32_t *owner_cpu,
                      uint64_t timeout, char *err, size_t n)
{
    uint64_t start = rdtsc();
    for (uint32_t spins = 1;; spins++) {
        if (__atomic_load_n(&t->half.serving, __ATOMIC_ACQUIRE) == ticket)
            return true;
        cpu_relax();
        if ((spins & SPIN_TSC_CHECK_MASK) == 0) {
            wait_yield();
            uint64_t waited = rdtsc() - start;
            if (unlikely(waited > timeout)) {
                uint16_t serving = __atomic_load_n(&t->half.serving, __ATOMIC_RELAXED);
                int32_t holder = owner_cpu ? __atomic_load_n(owner_cpu, __ATOMIC_RELAXED) : -1;
                if (holder >= 0)
                    errf(err, n, "lock %s held by CPU %d for too long: CPU %u waited %llu TSC cycles "
                         "(ticket %u, serving %u)", name, (int)holder, my_cpu(), (unsigned long long)waited,
                         ticket, serving);
                else
                    errf(err, n, "lock %s held for too long (holder unknown): CPU %u waited %llu TSC "
                         "cycles (ticket %u, serving %u)", name, my_cpu(), (unsigned long long)waited,
                         ticket, serving);
                return false;
            }
        }
    }
}

/* Takes a ticket and waits for it; owner_cpu only feeds the too-long report. */
static inline void ticket_acquire(union spin_ticket *t, const char *name, const int32_t *owner_cpu)
{
    uint32_t old = __atomic_fetch_add(&t->word, 1u << 16, __ATOMIC_ACQUIRE);
    uint16_t mine = (uint16_t)(old >> 16);
    if (likely((uint16_t)old == mine))
        return;
    char err[SPIN_ERR_MAX];
    if (!spin_wait_ticket(t, mine, name, owner_cpu, SPIN_WAIT_LIMIT, err, sizeof(err)))
        spin_panic(err);
}

static inline bool ticket_try(union spin_ticket *t)
{
    uint32_t old = __atomic_load_n(&t->word, __ATOMIC_RELAXED);
    if ((uint16_t)old != (uint16_t)(old >> 16))
        return false;
    return __atomic_compare_exchange_n(&t->word, &old, old + (1u << 16), false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

static inline void ticket_release(union spin_ticket *t)
{
    uint16_t next = (uint16_t)(__atomic_load_n(&t->half.serving, __ATOMIC_RELAXED) + 1);
    __atomic_store_n(&t->half.serving, next, __ATOMIC_RELEASE);
}

void ticket_lock(union spin_ticket *t, const char *name) { ticket_acquire(t, name, NULL); }
bool ticket_trylock(union spin_ticket *t) { return ticket_try(t); }
void ticket_unlock(union spin_ticket *t) { ticket_release(t); }

/* ---- The checks (pure: they only read). ---- */

int spin_check_acquire(const struct spinlock *l, char *err, size_t n)
{
    if (SPIN_DEBUG < 1)
        return 0;
    unsigned id = my_cpu();
    const struct spin_cpu *c = me_state();
    const struct spinlock *top = NULL; /* the highest-ranked lock held */
    for (unsigned i = 0; i < c->depth; i++) {
        if (c->held[i] == l)
            return errf(err, n, "lock %s (rank %u) taken again by CPU %u, which already holds it: "
                        "self-deadlock", l->name, l->rank, id);
        if (top == NULL || c->held[i]->rank > top->rank)
            top = c->held[i];
    }
    if (top != NULL && l->rank <= top->rank)
        return errf(err, n, "lock order: CPU %u takes %s (rank %u) while holding %s (rank %u); "
                    "ranks must increase (kernel/lib/spinlock.h)", id, l->name, l->rank, top->name, top->rank);
    if (c->depth >= SPIN_HELD_MAX)
        return errf(err, n, "CPU %u takes %s while holding %u locks already (SPIN_HELD_MAX)", id, l->name,
                    c->depth);
    return 0;
}

int spin_check_release(const struct spinlock *l, char *err, size_t n)
{
    if (SPIN_DEBUG < 1)
        return 0;
    unsigned id = my_cpu();
    const struct spin_cpu *c = me_state();
    for (unsigned i = 0; i < c->depth; i++)
        if (c->held[i] == l)
            return 0;
    int32_t holder = __atomic_load_n(&l->cpu, __ATOMIC_RELAXED);
    if (holder >= 0)
        return errf(err, n, "CPU %u releases lock %s (rank %u) held by CPU %d", id, l->name, l->rank,
                    (int)holder);
    return errf(err, n, "CPU %u releases lock %s (rank %u), which is not held", id, l->name, l->rank);
}

int spin_check_none_held(const char *context, char *err, size_t n)
{
    if (SPIN_DEBUG < 1)
        return 0;
    const struct spin_cpu *c = me_state();
    if (c->depth == 0)
        return 0;
    const struct spinlock *last = c->held[c->depth - 1];
    if (c->depth == 1)
        return errf(err, n, "%s: CPU %u holds lock %s (rank %u); no spinlock may be held here", context,
                    my_cpu(), last->name, last->rank);
    return errf(err, n, "%s: CPU %u holds lock %s (rank %u) and %u more; no spinlock may be held here",
                context, my_cpu(), last->name, last->rank, c->depth - 1);
}

int spin_check_irqrestore(const struct spinlock *l, uint64_t flags, char *err, size_t n)
{
    if (SPIN_DEBUG < 1)
        return 0;
    if (irq_flags() & RFLAGS_IF)
        return errf(err, n, "interrupts were enabled while CPU %u held irq-safe lock %s", my_cpu(), l->name);
    if (!(flags & RFLAGS_IF))
        return 0;
    const struct spin_cpu *c = me_state();
    for (unsigned i = 0; i < c->depth; i++)
        if (c->held[i] != l && c->irqsave[i])
            return errf(err, n, "CPU %u re-enables interrupts releasing %s while it still holds irq-safe "
                        "lock %s (irqsave sections released out of order)", my_cpu(), l->name,
                        c->held[i]->name);
    return 0;
}

/* ---- Bookkeeping around the ticket. ---- */

static void check_or_panic(int rc, const char *err)
{
    if (unlikely(rc != 0))
        spin_panic(err);
}

static inline void note_acquired(struct spinlock *l, bool irqsave)
{
    __atomic_store_n(&l->cpu, (int32_t)my_cpu(), __ATOMIC_RELAXED);
    l->since = rdtsc();
    struct spin_cpu *c = me_state();
    if (SPIN_DEBUG >= 1) {
        c->held[c->depth] = l; /* room checked by spin_check_acquire or below */
        c->irqsave[c->depth] = irqsave;
    }
    c->depth++;
}

static inline void note_released(struct spinlock *l)
{
    struct spin_cpu *c = me_state();
    if (SPIN_DEBUG >= 1) {
        unsigned i = c->depth;
        while (i-- > 0)
            if (c->held[i] == l)
                break;
        for (; i + 1 < c->depth; i++) { /* keep acquisition order */
            c->held[i] = c->held[i + 1];
            c->irqsave[i] = c->irqsave[i + 1];
        }
    }
    c->depth--;
    __atomic_store_n(&l->cpu, -1, __ATOMIC_RELAXED); /* ordered before the release below */
}

static inline void lock_common(struct spinlock *l, bool irqsave)
{
    if (SPIN_DEBUG >= 1) {
        char err[SPIN_ERR_MAX];
        check_or_panic(spin_check_acquire(l, err, sizeof(err)), err);
    }
    ticket_acquire(&l->ticket, l->name, &l->cpu);
    note_acquired(l, irqsave);
}

static inline void unlock_common(struct spinlock *l)
{
    if (SPIN_DEBUG >= 1) {
        char err[SPIN_ERR_MAX];
        check_or_panic(spin_check_release(l, err, sizeof(err)), err);
    }
    note_released(l);
    ticket_release(&l->ticket);
}

/* ---- The API. ---- */

void spin_init(struct spinlock *l, const char *name, uint32_t rank)
{
    l->ticket.word = 0;
    l->cpu = -1;
    l->rank = rank;
    l->name = name;
    l->since = 0;
}

void spin_lock(struct spinlock *l) { lock_common(l, false); }

void spin_unlock(struct spinlock *l) { unlock_common(l); }

bool spin_trylock(struct spinlock *l)
{
    if (SPIN_DEBUG >= 1 && unlikely(me_state()->depth >= SPIN_HELD_MAX)) {
        char err[SPIN_ERR_MAX];
        errf(err, sizeof(err), "CPU %u trylocks %s while holding %u locks already (SPIN_HELD_MAX)", my_cpu(),
             l->name, me_state()->depth);
        spin_panic(err);
    }
    if (!ticket_try(&l->ticket))
        return false;
    note_acquired(l, false);
    return true;
}

uint64_t spin_lock_irqsave(struct spinlock *l)
{
    uint64_t flags = irq_save();
    lock_common(l, true);
    return flags;
}

void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags)
{
    if (SPIN_DEBUG >= 1) {
        char err[SPIN_ERR_MAX];
        check_or_panic(spin_check_irqrestore(l, flags, err, sizeof(err)), err);
    }
    unlock_common(l);
    irq_restore(flags);
}

bool spin_held_by_me(const struct spinlock *l)
{
    return __atomic_load_n(&l->cpu, __ATOMIC_RELAXED) == (int32_t)my_cpu();
}

bool spin_is_locked(const struct spinlock *l)
{
    uint32_t w = __atomic_load_n(&l->ticket.word, __ATOMIC_RELAXED);
    return (uint16_t)w != (uint16_t)(w >> 16);
}

void spin_assert_held(const struct spinlock *l)
{
    if (likely(spin_held_by_me(l)))
        return;
    char err[SPIN_ERR_MAX];
    int32_t holder = __atomic_load_n(&l->cpu, __ATOMIC_RELAXED);
    if (holder >= 0)
        errf(err, sizeof(err), "lock %s must be held by CPU %u here (held by CPU %d)", l->name, my_cpu(),
             (int)holder);
    else
        errf(err, sizeof(err), "lock %s must be held by CPU %u here (it is free)", l->name, my_cpu());
    spin_panic(err);
}

void assert_no_locks_held(const char *context)
{
    char err[SPIN_ERR_MAX];
    check_or_panic(spin_check_none_held(context, err, sizeof(err)), err);
}

unsigned spin_held_count(void) { return me_state()->depth; }
