/*
 * spinlock.h - fair ticket spinlocks with lock-order checking (design essay:
 * kernel/lib/spinlock.c).
 *
 *   static struct spinlock frames_lock = SPINLOCK_INIT("buddy", SPIN_RANK_BUDDY);
 *
 *   uint64_t flags = spin_lock_irqsave(&frames_lock);   // interrupts off, lock held
 *   ...
 *   spin_unlock_irqrestore(&frames_lock, flags);        // lock free, IF as it was
 *
 * Contracts
 *   - A CPU never takes a lock it holds (no recursion) and takes locks in
 *     strictly increasing rank (the table below). Both are checked at
 *     SPIN_DEBUG >= 1 before the CPU starts to wait, so a would-be deadlock
 *     panics naming both locks instead of hanging.
 *   - Only the CPU that took a lock releases it.
 *   - A lock that an interrupt handler takes is taken everywhere with
 *     spin_lock_irqsave (otherwise the handler can spin on a lock its own CPU
 *     holds, forever). Interrupts stay off while waiting, too.
 *   - Nothing waits longer than SPIN_TIMEOUT_CYCLES for a lock: it panics
 *     with "lock X held by CPU n for too long".
 *   - Needs percpu_init() on the calling CPU (the per-CPU state is indexed by
 *     cpu_id()).
 */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Debug level (a named constant, like Go's debug switches):
 *   0  the ticket lock and the too-long check only (owner CPU and the count
 *      of locks each CPU holds still kept: spin_held_by_me, the reports and
 *      spin_held_count need them)
 *   1  + rank order, recursion, release by a non-holder, the per-CPU list of
 *      held locks (assert_no_locks_held), the interrupt-flag rules
 * On by default: this is a teaching kernel and the checks cost a few loads.
 */
#ifndef SPIN_DEBUG
#define SPIN_DEBUG 1
#endif

/* A wait longer than this many TSC cycles panics (about 23 s at 3 GHz;
 * QEMU's TCG TSC follows the host's). Long on purpose: under emulation a
 * vCPU thread can be descheduled by the host for a good part of a second, and
 * a fair lock makes a waiter wait for every ticket ahead of it, so on 8 vCPUs
 * sharing 2 host cores an honest wait passed the old 1.4 s (make stress: 2 of
 * 11 boots of the suite, sync.smp.counter_exact_and_fair). A real deadlock
 * still panics well inside the launcher's timeout. -DSPIN_TIMEOUT_CYCLES=...
 * to change. */
#ifndef SPIN_TIMEOUT_CYCLES
#define SPIN_TIMEOUT_CYCLES (1ull << 36)
#endif

/* Locks one CPU may hold at once (SPIN_DEBUG bookkeeping); more panics. */
#define SPIN_HELD_MAX 8

/* Room for an error message of the check functions below. */
#define SPIN_ERR_MAX 200

/*
 * The lock order, written once. A CPU may take a lock only if its rank is
 * greater than the rank of every lock the CPU already holds; equal ranks
 * never nest. Gaps leave room for locks to come.
 *
 *   (runtime) rt_lock ranks (rt/port.h: mcentral < mheap < persistent < sys)
 *             all sit below every kernel spinlock: the runtime calls sys_*
 *             (and so mm/) while holding its locks, never the reverse. The
 *             kernel port checks this (no spinlock held when an rt_lock is
 *             taken); rt/lockrank.c checks the runtime's own order.
 *   10-90     tests' own locks (tests/kernel/sync_*.c)
 *   100       SYSMEM      mm/sysmem.c: the sys_* state and its accounting
 *   200       PAGING      mm/paging.c: the kernel page tables (map, unmap,
 *                         protect); allocates table frames under it
 *   300       SHOOTDOWN   mm/tlb.c: the TLB-shootdown request being sent
 *                         (under PAGING)
 *   400       FRAMECACHE  a per-CPU cache of free frames, when another CPU
 *                         drains it
 *   500       BUDDY       mm/buddy.c: the free lists (a leaf of mm/)
 *   600       SMP         kernel/smp.c: the cross-CPU call/IPI mailbox
 *   1000      CONSOLE     kernel/lib/kprintf.c: the serial console. Highest:
 *                         anything may print whatever it holds; nothing is
 *                         taken while printing.
 */
enum spin_rank {
    SPIN_RANK_TEST = 10,
    SPIN_RANK_SYSMEM = 100,
    SPIN_RANK_PAGING = 200,
    SPIN_RANK_SHOOTDOWN = 300,
    SPIN_RANK_FRAMECACHE = 400,
    SPIN_RANK_BUDDY = 500,
    SPIN_RANK_SMP = 600,
    SPIN_RANK_CONSOLE = 1000,
};

/*
 * The ticket word: a waiter takes the next ticket (atomic add on `next`) and
 * waits until `serving` shows it; the holder releases by advancing
 * `serving`. Free iff serving == next. 16-bit halves wrap independently
 * (release stores only its own half), and 65535 waiters is far above
 * MAX_CPUS.
 */
union spin_ticket {
    uint32_t word;
    struct {
        uint16_t serving; /* low half: the ticket now allowed in */
        uint16_t next;    /* high half: the next ticket to hand out */
    } half;
};
_Static_assert(sizeof(union spin_ticket) == 4, "one 32-bit word");

struct spinlock {
    union spin_ticket ticket; /* the lock itself */
    int32_t cpu;              /* cpu_id() of the holder, -1 if free; written by the holder only */
    uint32_t rank;            /* enum spin_rank; > every rank the taker holds */
    const char *name;         /* for reports: "buddy", "console" */
    uint64_t since;           /* TSC when the holder got it (reports only) */
};

#define SPINLOCK_INIT(name_, rank_)                                                              \
    { .ticket = { .word = 0 }, .cpu = -1, .rank = (rank_), .name = (name_), .since = 0 }

void spin_init(struct spinlock *l, const char *name, uint32_t rank);

/* Takes l, waiting in ticket order (FIFO among CPUs). */
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);

/* Takes l only if it is free right now; returns whether it did. Never
 * waits, so it is exempt from the rank check (it cannot deadlock) and a lock
 * this CPU holds simply fails. */
bool spin_trylock(struct spinlock *l);

/* Saves RFLAGS, clears IF, then takes l; returns the saved RFLAGS. */
uint64_t spin_lock_irqsave(struct spinlock *l);
/* Releases l, then sets IF back to what flags says (only IF is restored). */
void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags);

/* Whether the calling CPU holds l (exact for the caller; other CPUs' view
 * of a lock is a snapshot). */
bool spin_held_by_me(const struct spinlock *l);
/* Whether anybody holds l (a snapshot; for reports and waits, not logic). */
bool spin_is_locked(const struct spinlock *l);

/* Panics unless this CPU holds l: the "lock must be held" contract as code. */
void spin_assert_held(const struct spinlock *l);

/* Panics if this CPU holds any spinlock, naming context and the lock:
 * before halting, before switching stacks, before sleeping or taking a
 * runtime lock. (No-op at SPIN_DEBUG 0.) */
void assert_no_locks_held(const char *context);

/* Spinlocks this CPU holds now, at every SPIN_DEBUG level: the runtime's
 * port asks it before stopping a G (rt/port/kernel.c). */
unsigned spin_held_count(void);

/*
 * The bare ticket algorithm, for lock structs that are not ours (the
 * runtime's rt_lock keeps a 32-bit word: rt/port/kernel.c): fair and with
 * the too-long check (name is for that report), but no owner or rank
 * bookkeeping; the caller brings its own.
 */
void ticket_lock(union spin_ticket *t, const char *name);
bool ticket_trylock(union spin_ticket *t);
void ticket_unlock(union spin_ticket *t);

/*
 * The debug checks as pure functions, for spin_lock/spin_unlock (which
 * panic with the message) and for tests (which call them directly). Each
 * returns 0 if the operation is allowed for the calling CPU, or -1 with a
 * message in err (at most n bytes, NUL-terminated) naming the locks, their
 * ranks and the CPUs. At SPIN_DEBUG 0 they always return 0.
 */
int spin_check_acquire(const struct spinlock *l, char *err, size_t n);
int spin_check_release(const struct spinlock *l, char *err, size_t n);
int spin_check_none_held(const char *context, char *err, size_t n);
/* Restoring flags after releasing l: IF must still be off, and it must not
 * come back on while this CPU holds another lock taken with irqsave. */
int spin_check_irqrestore(const struct spinlock *l, uint64_t flags, char *err, size_t n);

/* The wait of spin_lock: spins until t serves ticket. Returns false after
 * timeout TSC cycles with "lock NAME held by CPU n for too long ..." in err
 * (the caller still owns the ticket; spin_lock panics). owner_cpu may be NULL. */
bool spin_wait_ticket(union spin_ticket *t, uint16_t ticket, const char *name, const int32_t *owner_cpu,
                      uint64_t timeout, char *err, size_t n);

#endif
