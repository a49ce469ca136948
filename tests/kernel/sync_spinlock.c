/*
 * sync_spinlock.c - the spinlock on one CPU: semantics, and every debug
 * check caught (kernel/lib/spinlock.h).
 *
 * The debug checks are tested through their pure functions (spin_check_*,
 * spin_wait_ticket), which spin_lock and friends call and panic on: the
 * framework has no "expect panic". A failed KT_* assertion leaves the test
 * at once, so each test releases its locks before asserting on what it
 * recorded (a lock left held would poison every later test on this CPU).
 */
#include "kernel/ktest.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/spinlock.h"
#include "kernel/lib/string.h"
#include "kernel/lib/x86.h"

/* Whether s contains sub (the kernel has no strstr). */
static bool contains(const char *s, const char *sub)
{
    size_t n = strlen(sub);
    for (; *s != '\0'; s++)
        if (strncmp(s, sub, n) == 0)
            return true;
    return false;
}

#define KT_CONTAINS(s, sub)                                                                        \
    do {                                                                                           \
        if (!contains((s), (sub))) {                                                               \
            ktest_diag("message: \"%s\"", (s));                                                    \
            ktest_diag("expected it to contain \"%s\"", (sub));                                     \
            KT_ASSERT(contains((s), (sub)));                                                       \
        }                                                                                          \
    } while (0)

#define SKIP_UNLESS_DEBUG()                                                                        \
    do {                                                                                           \
        if (SPIN_DEBUG < 1) {                                                                      \
            ktest_diag("SPIN_DEBUG is 0: the checks are compiled out");                            \
            return;                                                                                \
        }                                                                                          \
    } while (0)

KTEST(sync_spin_basic, "sync.spin.lock_unlock_owner")
{
    struct spinlock l = SPINLOCK_INIT("test.basic", SPIN_RANK_TEST);
    unsigned held0 = spin_held_count();
    KT_EQ(l.cpu, -1);
    KT_ASSERT(!spin_is_locked(&l));
    KT_ASSERT(!spin_held_by_me(&l));

    spin_lock(&l);
    int32_t owner = l.cpu;
    bool mine = spin_held_by_me(&l), locked = spin_is_locked(&l);
    unsigned held1 = spin_held_count();
    uint16_t serving = l.ticket.half.serving, next = l.ticket.half.next;
    spin_unlock(&l);

    KT_EQ(owner, cpu_id());
    KT_ASSERT(mine);
    KT_ASSERT(locked);
    KT_EQ(held1, held0 + 1);
    KT_EQ(serving, 0);
    KT_EQ(next, 1);
    /* released: the ticket moved on, nobody owns it */
    KT_EQ(l.ticket.half.serving, 1);
    KT_EQ(l.ticket.half.next, 1);
    KT_EQ(l.cpu, -1);
    KT_ASSERT(!spin_held_by_me(&l));
    KT_EQ(spin_held_count(), held0);
}

KTEST(sync_spin_init, "sync.spin.init")
{
    struct spinlock l;
    memset(&l, 0xa5, sizeof(l));
    spin_init(&l, "test.init", SPIN_RANK_TEST + 5);
    KT_EQ(l.ticket.word, 0);
    KT_EQ(l.cpu, -1);
    KT_EQ(l.rank, SPIN_RANK_TEST + 5);
    KT_STREQ(l.name, "test.init");
    spin_lock(&l);
    bool mine = spin_held_by_me(&l);
    spin_unlock(&l);
    KT_ASSERT(mine);
}

KTEST(sync_spin_trylock, "sync.spin.trylock")
{
    struct spinlock l = SPINLOCK_INIT("test.try", SPIN_RANK_TEST);
    bool first = spin_trylock(&l);
    bool again = first ? spin_trylock(&l) : true; /* held (by me): must fail, not deadlock */
    bool mine = spin_held_by_me(&l);
    uint16_t next = l.ticket.half.next;
    if (first)
        spin_unlock(&l);
    KT_ASSERT(first);
    KT_ASSERT(!again);
    KT_ASSERT(mine);
    KT_EQ(next, 1); /* the failed trylock took no ticket */

    /* held by "another CPU" (a ticket out, owner 7): fails too */
    l.ticket.half.next++;
    l.cpu = 7;
    bool other = spin_trylock(&l);
    KT_ASSERT(!other);
    KT_EQ(l.cpu, 7);
    l.ticket.half.serving++; /* "CPU 7" releases */
    l.cpu = -1;
    bool after = spin_trylock(&l);
    if (after)
        spin_unlock(&l);
    KT_ASSERT(after);
}

/* serving wraps from 0xffff to 0 without carrying into next. */
KTEST(sync_spin_wrap, "sync.spin.ticket_wraps")
{
    struct spinlock l = SPINLOCK_INIT("test.wrap", SPIN_RANK_TEST);
    l.ticket.half.serving = 0xffff;
    l.ticket.half.next = 0xffff;
    spin_lock(&l); /* ticket 0xffff: next wraps to 0 */
    uint32_t held = l.ticket.word;
    spin_unlock(&l); /* serving wraps to 0 */
    KT_EQ(held, 0x0000ffffu);
    KT_EQ(l.ticket.word, 0);
    KT_ASSERT(!spin_is_locked(&l));
    bool again = spin_trylock(&l);
    if (again)
        spin_unlock(&l);
    KT_ASSERT(again);
    KT_EQ(l.ticket.word, 0x00010001u);
}

/* The kernel runs tests with interrupts off: irqsave must report IF clear,
 * keep it clear and leave it clear. */
KTEST(sync_spin_irqsave_if_off, "sync.spin.irqsave_if_off")
{
    struct spinlock a = SPINLOCK_INIT("test.irq.a", SPIN_RANK_TEST);
    struct spinlock b = SPINLOCK_INIT("test.irq.b", SPIN_RANK_TEST + 1);
    uint64_t before = read_rflags();
    uint64_t fa = spin_lock_irqsave(&a);
    uint64_t inside_a = read_rflags();
    uint64_t fb = spin_lock_irqsave(&b);
    uint64_t inside_b = read_rflags();
    spin_unlock_irqrestore(&b, fb);
    spin_unlock_irqrestore(&a, fa);
    uint64_t after = read_rflags();

    if (before & RFLAGS_IF)
        ktest_diag("interrupts were on at the start of the test");
    KT_EQ(fa & RFLAGS_IF, before & RFLAGS_IF);
    KT_EQ(fb & RFLAGS_IF, 0); /* nested: b saw a's cli */
    KT_EQ(inside_a & RFLAGS_IF, 0);
    KT_EQ(inside_b & RFLAGS_IF, 0);
    KT_EQ(after & RFLAGS_IF, before & RFLAGS_IF);
}

/* With IF on: irqsave clears it while held and restores it exactly. The
 * window with interrupts on is a few instructions, and every vector >= 32
 * has a handler once the LAPIC is up (kernel/lapic.h); the 8259s are masked. */
KTEST(sync_spin_irqsave_if_on, "sync.spin.irqsave_if_on")
{
    struct spinlock a = SPINLOCK_INIT("test.irqon", SPIN_RANK_TEST);
    uint64_t entry = read_rflags();
    __asm__ volatile("sti" ::: "memory");
    uint64_t flags = spin_lock_irqsave(&a);
    uint64_t inside = read_rflags();
    spin_unlock_irqrestore(&a, flags);
    uint64_t after = read_rflags();
    if (!(entry & RFLAGS_IF))
        cli();
    KT_NE(flags & RFLAGS_IF, 0);
    KT_EQ(inside & RFLAGS_IF, 0);
    KT_NE(after & RFLAGS_IF, 0);
}

KTEST(sync_check_order, "sync.check.lock_order")
{
    SKIP_UNLESS_DEBUG();
    struct spinlock lo = SPINLOCK_INIT("test.low", SPIN_RANK_TEST + 10);
    struct spinlock hi = SPINLOCK_INIT("test.high", SPIN_RANK_TEST + 20);
    struct spinlock top = SPINLOCK_INIT("test.top", SPIN_RANK_TEST + 30);
    struct spinlock same = SPINLOCK_INIT("test.same", SPIN_RANK_TEST + 20);
    char down[SPIN_ERR_MAX] = "", eq[SPIN_ERR_MAX] = "", up[SPIN_ERR_MAX] = "";

    int rc_empty = spin_check_acquire(&hi, up, sizeof(up));
    spin_lock(&hi);
    int rc_down = spin_check_acquire(&lo, down, sizeof(down));
    int rc_eq = spin_check_acquire(&same, eq, sizeof(eq));
    int rc_up = spin_check_acquire(&top, up, sizeof(up));
    spin_unlock(&hi);
    int rc_after = spin_check_acquire(&lo, up, sizeof(up));

    KT_EQ(rc_empty, 0);
    KT_EQ(rc_up, 0);
    KT_EQ(rc_after, 0);
    KT_EQ(rc_down, -1);
    KT_CONTAINS(down, "lock order");
    KT_CONTAINS(down, "takes test.low (rank 20) while holding test.high (rank 30)");
    KT_EQ(rc_eq, -1); /* equal ranks never nest */
    KT_CONTAINS(eq, "test.same (rank 30) while holding test.high (rank 30)");
}

/* Releases in any order; the rule is against the highest rank still held. */
KTEST(sync_check_order_after_release, "sync.check.lock_order_out_of_order_release")
{
    SKIP_UNLESS_DEBUG();
    struct spinlock a = SPINLOCK_INIT("test.a", SPIN_RANK_TEST + 1);
    struct spinlock b = SPINLOCK_INIT("test.b", SPIN_RANK_TEST + 2);
    struct spinlock c = SPINLOCK_INIT("test.c", SPIN_RANK_TEST + 3);
    char err[SPIN_ERR_MAX] = "";
    unsigned held0 = spin_held_count();

    spin_lock(&a);
    spin_lock(&b);
    spin_unlock(&a); /* b stays */
    unsigned held_b = spin_held_count();
    int rc_a = spin_check_acquire(&a, err, sizeof(err));
    spin_lock(&c);
    spin_unlock(&b);
    spin_unlock(&c);

    KT_EQ(held_b, held0 + 1);
    KT_EQ(rc_a, -1);
    KT_CONTAINS(err, "while holding test.b");
    KT_EQ(spin_held_count(), held0);
}

KTEST(sync_check_recursion, "sync.check.recursion")
{
    SKIP_UNLESS_DEBUG();
    struct spinlock l = SPINLOCK_INIT("test.rec", SPIN_RANK_TEST);
    char err[SPIN_ERR_MAX] = "";
    spin_lock(&l);
    int rc = spin_check_acquire(&l, err, sizeof(err));
    spin_unlock(&l);
    KT_EQ(rc, -1);
    KT_CONTAINS(err, "test.rec");
    KT_CONTAINS(err, "already holds it");
}

KTEST(sync_check_release, "sync.check.release_not_held")
{
    SKIP_UNLESS_DEBUG();
    struct spinlock l = SPINLOCK_INIT("test.rel", SPIN_RANK_TEST);
    char free_err[SPIN_ERR_MAX] = "", other_err[SPIN_ERR_MAX] = "", ok_err[SPIN_ERR_MAX] = "";

    int rc_free = spin_check_release(&l, free_err, sizeof(free_err));
    /* held by "CPU 5": a ticket out and its owner recorded */
    l.ticket.half.next = 1;
    l.cpu = 5;
    int rc_other = spin_check_release(&l, other_err, sizeof(other_err));
    l.ticket.word = 0;
    l.cpu = -1;
    spin_lock(&l);
    int rc_ok = spin_check_release(&l, ok_err, sizeof(ok_err));
    spin_unlock(&l);

    KT_EQ(rc_free, -1);
    KT_CONTAINS(free_err, "releases lock test.rel");
    KT_CONTAINS(free_err, "not held");
    KT_EQ(rc_other, -1);
    KT_CONTAINS(other_err, "held by CPU 5");
    KT_EQ(rc_ok, 0);
}

KTEST(sync_check_none_held, "sync.check.no_locks_held")
{
    SKIP_UNLESS_DEBUG();
    struct spinlock a = SPINLOCK_INIT("test.ctx.a", SPIN_RANK_TEST + 1);
    struct spinlock b = SPINLOCK_INIT("test.ctx.b", SPIN_RANK_TEST + 2);
    char none[SPIN_ERR_MAX] = "", one[SPIN_ERR_MAX] = "", two[SPIN_ERR_MAX] = "";

    int rc_none = spin_check_none_held("before hlt", none, sizeof(none));
    assert_no_locks_held("sync.check.no_locks_held"); /* must not panic: nothing held */
    spin_lock(&a);
    int rc_one = spin_check_none_held("before hlt", one, sizeof(one));
    spin_lock(&b);
    int rc_two = spin_check_none_held("switching stacks", two, sizeof(two));
    spin_unlock(&b);
    spin_unlock(&a);

    KT_EQ(rc_none, 0);
    KT_EQ(rc_one, -1);
    KT_CONTAINS(one, "before hlt: CPU ");
    KT_CONTAINS(one, "holds lock test.ctx.a (rank 11)");
    KT_EQ(rc_two, -1);
    KT_CONTAINS(two, "switching stacks");
    KT_CONTAINS(two, "test.ctx.b (rank 12) and 1 more");
}

KTEST(sync_check_irqrestore, "sync.check.irqrestore_order")
{
    SKIP_UNLESS_DEBUG();
    struct spinlock a = SPINLOCK_INIT("test.irq.outer", SPIN_RANK_TEST + 1);
    struct spinlock b = SPINLOCK_INIT("test.irq.inner", SPIN_RANK_TEST + 2);
    struct spinlock p = SPINLOCK_INIT("test.irq.plain", SPIN_RANK_TEST + 3);
    char err[SPIN_ERR_MAX] = "";

    uint64_t fa = spin_lock_irqsave(&a);
    uint64_t fb = spin_lock_irqsave(&b);
    /* releasing a (as if IF had been on) while b, irq-safe, is still held */
    int rc_bad = spin_check_irqrestore(&a, fa | RFLAGS_IF, err, sizeof(err));
    /* restoring IF off is always fine */
    int rc_off = spin_check_irqrestore(&a, fa & ~RFLAGS_IF, NULL, 0);
    spin_unlock_irqrestore(&b, fb);
    /* only a is irq-safe and held now: releasing it with IF on is the normal case */
    int rc_last = spin_check_irqrestore(&a, fa | RFLAGS_IF, NULL, 0);
    spin_lock(&p); /* a plain lock does not forbid IF */
    int rc_plain = spin_check_irqrestore(&a, fa | RFLAGS_IF, NULL, 0);
    spin_unlock(&p);
    spin_unlock_irqrestore(&a, fa);

    KT_EQ(rc_bad, -1);
    KT_CONTAINS(err, "releasing test.irq.outer while it still holds irq-safe lock test.irq.inner");
    KT_EQ(rc_off, 0);
    KT_EQ(rc_last, 0);
    KT_EQ(rc_plain, 0);
}

/* IF switched on inside an irqsave section is caught at the release. */
KTEST(sync_check_if_enabled_inside, "sync.check.interrupts_enabled_inside")
{
    SKIP_UNLESS_DEBUG();
    struct spinlock a = SPINLOCK_INIT("test.irq.leak", SPIN_RANK_TEST);
    char err[SPIN_ERR_MAX] = "";
    uint64_t entry = read_rflags();
    uint64_t fa = spin_lock_irqsave(&a);
    __asm__ volatile("sti" ::: "memory");
    int rc = spin_check_irqrestore(&a, fa, err, sizeof(err));
    cli();
    spin_unlock_irqrestore(&a, fa);
    if (entry & RFLAGS_IF)
        __asm__ volatile("sti" ::: "memory");
    KT_EQ(rc, -1);
    KT_CONTAINS(err, "interrupts were enabled while CPU ");
    KT_CONTAINS(err, "held irq-safe lock test.irq.leak");
}

/* A holder that never releases: the wait spin_lock uses gives up after the
 * timeout with a message naming the lock and its holder. */
KTEST(sync_check_too_long, "sync.check.held_too_long")
{
    union spin_ticket t = { .half = { .serving = 0, .next = 2 } }; /* ticket 0 held, 1 waiting */
    int32_t owner = 3;
    char err[SPIN_ERR_MAX] = "", err2[SPIN_ERR_MAX] = "";
    uint64_t t0 = rdtsc();
    bool got = spin_wait_ticket(&t, 1, "test.stuck", &owner, 1u << 20, err, sizeof(err));
    uint64_t waited = rdtsc() - t0;
    bool got_unknown = spin_wait_ticket(&t, 1, "test.stuck2", NULL, 1u << 16, err2, sizeof(err2));
    t.half.serving = 1; /* now it is our turn: no wait */
    bool served = spin_wait_ticket(&t, 1, "test.served", &owner, 1u << 20, NULL, 0);

    KT_ASSERT(!got);
    KT_GE(waited, 1u << 20);
    KT_CONTAINS(err, "lock test.stuck held by CPU 3 for too long");
    KT_CONTAINS(err, "ticket 1, serving 0");
    KT_ASSERT(!got_unknown);
    KT_CONTAINS(err2, "lock test.stuck2 held for too long (holder unknown)");
    KT_ASSERT(served);
}

/* The bare algorithm (for the runtime's rt_lock). */
KTEST(sync_ticket_bare, "sync.ticket.bare")
{
    union spin_ticket t = { .word = 0 };
    ticket_lock(&t, "test.bare");
    bool try_held = ticket_trylock(&t);
    uint32_t held = t.word;
    ticket_unlock(&t);
    bool try_free = ticket_trylock(&t);
    uint32_t held2 = t.word;
    if (try_free)
        ticket_unlock(&t);
    KT_ASSERT(!try_held);
    KT_EQ(held, 0x00010000u);
    KT_ASSERT(try_free);
    KT_EQ(held2, 0x00020001u);
    KT_EQ(t.word, 0x00020002u);
}
