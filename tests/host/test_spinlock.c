/*
 * test_spinlock.c - kernel/lib/spinlock.c on the host: threads play CPUs.
 *
 * The same source as the kernel's, built with HOSTED=1 (the CPU id, the
 * interrupt flag, panic and the too-long limit come from here).
 * Built twice by tests/host/sync.mk: under ASan+UBSan (HOST_CFLAGS) and, if
 * the compiler has it, under ThreadSanitizer, which checks that the lock's
 * acquire/release orders every access made under it (a missing barrier is a
 * reported data race on the counter).
 *
 * What it checks
 *   - mutual exclusion: THREADS threads add to a plain counter ROUNDS times
 *     each under the lock; the total is exact;
 *   - fairness (ticket order): a thread that releases while others wait
 *     never gets the lock back before them;
 *   - that spin_lock/spin_unlock/assert_no_locks_held really panic on each
 *     debug check (the panic hook longjmps back here), with the message;
 *   - a holder that never lets go: the waiter panics "held by CPU n for too long".
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/lib/spinlock.h"
#include "tests/host/tap.h"

#define THREADS 4
#define ROUNDS 10000

/* ---- The port the hosted spinlock.c expects. ---- */

__thread unsigned spin_host_cpu;
uint64_t spin_host_timeout = 1ull << 36; /* tens of seconds: a preempted holder is normal here */

static __thread jmp_buf *panic_jmp; /* armed by EXPECT_PANIC */
static __thread char panic_msg[SPIN_ERR_MAX];

_Noreturn void spin_host_panic(const char *msg);
_Noreturn void spin_host_panic(const char *msg)
{
    if (panic_jmp != NULL) {
        snprintf(panic_msg, sizeof(panic_msg), "%s", msg);
        jmp_buf *j = panic_jmp;
        panic_jmp = NULL;
        longjmp(*j, 1);
    }
    fprintf(stderr, "unexpected spinlock panic: %s\n", msg);
    abort();
}

/* Runs stmt expecting a spinlock panic whose message contains want. */
#define EXPECT_PANIC(name, stmt, want)                                                             \
    do {                                                                                           \
        jmp_buf j_;                                                                                \
        panic_msg[0] = '\0';                                                                       \
        if (setjmp(j_) == 0) {                                                                     \
            panic_jmp = &j_;                                                                       \
            stmt;                                                                                  \
            panic_jmp = NULL;                                                                      \
            tap_check(false, "%s (no panic)", name);                                               \
        } else if (!tap_check(strstr(panic_msg, (want)) != NULL, "%s", name)) {                    \
            tap_diag("panic message: \"%s\", wanted \"%s\"", panic_msg, (want));                   \
        }                                                                                          \
    } while (0)

/* ---- Contention and fairness. ---- */

static struct spinlock counter_lock = SPINLOCK_INIT("test.counter", SPIN_RANK_TEST);
static struct {
    uint64_t counter, unfair, contended, owner_wrong;
    int32_t last_owner;
    int last_saw_waiters;
} shared = { .last_owner = -1 };
static unsigned start_count;

static void *hammer(void *arg)
{
    spin_host_cpu = (unsigned)(uintptr_t)arg;
    __atomic_add_fetch(&start_count, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&start_count, __ATOMIC_ACQUIRE) < THREADS)
        ;
    for (int i = 0; i < ROUNDS; i++) {
        uint64_t flags = 0;
        if (i & 1)
            flags = spin_lock_irqsave(&counter_lock);
        else
            spin_lock(&counter_lock);
        if (shared.last_saw_waiters && shared.last_owner == (int32_t)spin_host_cpu)
            shared.unfair++;
        if (!spin_held_by_me(&counter_lock))
            shared.owner_wrong++;
        shared.counter++;
        union spin_ticket t = { .word = __atomic_load_n(&counter_lock.ticket.word, __ATOMIC_RELAXED) };
        int waiters = (uint16_t)(t.half.next - t.half.serving) > 1;
        shared.contended += (uint64_t)waiters;
        shared.last_saw_waiters = waiters;
        shared.last_owner = (int32_t)spin_host_cpu;
        if (i & 1)
            spin_unlock_irqrestore(&counter_lock, flags);
        else
            spin_unlock(&counter_lock);
    }
    return (void *)(uintptr_t)spin_held_count();
}

static void test_contention(void)
{
    pthread_t th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, hammer, (void *)i);
    int leftover = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        leftover += (int)(uintptr_t)r;
    }
    tap_check(shared.counter == (uint64_t)THREADS * ROUNDS, "contention: counter exact (%llu of %llu)",
              (unsigned long long)shared.counter, (unsigned long long)THREADS * ROUNDS);
    tap_check(shared.unfair == 0, "fairness: never retaken over a waiter (%llu times)",
              (unsigned long long)shared.unfair);
    tap_check(shared.owner_wrong == 0, "owner recorded in every critical section");
    tap_check(leftover == 0, "no thread ends holding a lock");
    tap_check(!spin_is_locked(&counter_lock) &&
                  counter_lock.ticket.half.serving == (uint16_t)(THREADS * ROUNDS),
              "every ticket served once");
    tap_diag("%llu of %llu releases had a waiter queued", (unsigned long long)shared.contended,
             (unsigned long long)THREADS * ROUNDS);
}

/* ---- The debug checks panic. ---- */

static void test_checks_panic(void)
{
    spin_host_cpu = 0;
    struct spinlock lo = SPINLOCK_INIT("test.lo", SPIN_RANK_TEST + 1);
    struct spinlock hi = SPINLOCK_INIT("test.hi", SPIN_RANK_TEST + 2);

    spin_lock(&hi);
    EXPECT_PANIC("order: spin_lock(lo) under hi panics", spin_lock(&lo),
                 "CPU 0 takes test.lo (rank 11) while holding test.hi (rank 12)");
    tap_check(!spin_is_locked(&lo), "order: the check runs before taking a ticket");
    EXPECT_PANIC("recursion: spin_lock(hi) twice panics", spin_lock(&hi), "already holds it");
    EXPECT_PANIC("context: assert_no_locks_held panics", assert_no_locks_held("before hlt"),
                 "before hlt: CPU 0 holds lock test.hi (rank 12)");
    EXPECT_PANIC("spin_assert_held(lo) panics", spin_assert_held(&lo), "lock test.lo must be held by CPU 0");
    spin_assert_held(&hi);
    spin_unlock(&hi);
    EXPECT_PANIC("release: unlock of a free lock panics", spin_unlock(&hi), "not held");
    assert_no_locks_held("after"); /* must not panic */
    tap_check(spin_held_count() == 0, "held count back to 0");

    tap_check(spin_trylock(&lo), "trylock: free lock taken");
    tap_check(!spin_trylock(&lo), "trylock: held lock fails (no recursion panic)");
    spin_unlock(&lo);
}

/* ---- A holder that never lets go. ---- */

static struct spinlock stuck = SPINLOCK_INIT("test.stuck", SPIN_RANK_TEST);
static int holder_go, holder_done;

static void *holder(void *arg)
{
    (void)arg;
    spin_host_cpu = 3;
    spin_lock(&stuck);
    __atomic_store_n(&holder_go, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&holder_done, __ATOMIC_ACQUIRE))
        ;
    spin_unlock(&stuck);
    return NULL;
}

static void test_too_long(void)
{
    spin_host_cpu = 0;
    pthread_t th;
    pthread_create(&th, NULL, holder, NULL);
    while (!__atomic_load_n(&holder_go, __ATOMIC_ACQUIRE))
        ;
    spin_host_timeout = 1ull << 26; /* ~20 ms */
    EXPECT_PANIC("too long: a waiter panics naming the holder", spin_lock(&stuck),
                 "lock test.stuck held by CPU 3 for too long");
    __atomic_store_n(&holder_done, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    /* our abandoned ticket is still queued: the lock now waits for it forever (test lock only) */
    tap_check(spin_is_locked(&stuck), "too long: the abandoned ticket keeps the lock from being free");
}

int main(void)
{
    test_contention();
    test_checks_panic();
    test_too_long();
    return tap_done();
}
