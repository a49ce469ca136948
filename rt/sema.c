/*
 * sema.c - the mutex and the wait group, over a table of parked waiters
 * keyed by address (Go's sema.go semaphore table under sync.Mutex and
 * sync.WaitGroup).
 *
 * What. struct rt_mutex and struct rt_waitgroup are plain words (sched.h):
 * zero is a valid initial state, so they live in static storage or on the
 * heap with no constructor. A coroutine that must wait parks in one of
 * SEMTABLE_SIZE roots chosen by hashing the object's address; a root holds a
 * FIFO list of waiters and a lock. A waiter is a struct sudog (rt/sudog.c)
 * whose elem is the object's address, on the waiting G's stack: a parked
 * stack never moves, and the waker unlinks it before it readies the G.
 *
 * Mutex. state is 0 unlocked, 1 locked, 2 locked with waiters (maybe).
 *   lock:   1. CAS 0 -> 1 (the fast path).
 *           2. With more than one P, retry that a few times (the holder may
 *              be about to unlock on another CPU; never more: no CPU burning).
 *           3. Lock the root. state 0: CAS 0 -> 1, done. state 1: CAS 1 -> 2.
 *              (A failed CAS rereads.) Then enqueue, nwait++, park.
 *           4. Woken: the unlocker handed the mutex over; we own it.
 *   unlock: 1. CAS 1 -> 0 (the fast path). state 0: panic.
 *           2. state 2: lock the root, dequeue the first waiter on this
 *              mutex, nwait--, state = nwait ? 2 : 1 (still locked: now the
 *              waiter's), unlock the root, ready the waiter.
 * The choice: hand-off (the lock passes to the first waiter) rather than
 * waking it to compete. Waiters are served strictly FIFO, so none starves,
 * and a woken G goes into the unlocker's runnext, so the hand-off costs one
 * switch on the same CPU. A waker-competes mutex has more throughput when a
 * running G re-locks at once (Go's normal mode), but a woken G can lose
 * repeatedly; Go then switches to hand-off ("starvation mode") anyway. No
 * barging: while waiters exist state stays 2, so the fast path fails and
 * newcomers queue behind them.
 *
 * Wait group. count is the outstanding work.
 *   add:    count += delta atomically; below zero panics. Reaching zero:
 *           lock the root, unlink every waiter on this group, nwait = 0,
 *           unlock, ready them all.
 *   wait:   count 0: return. Lock the root; count 0 now: unlock, return.
 *           Otherwise enqueue, nwait++, park.
 * No lost wake-up: an adder that takes count to zero takes the root lock
 * afterwards; a waiter that saw count != 0 under that lock is queued before
 * the adder can look.
 *
 * Invariants (root lock): every sudog in a root's list is a parked G's,
 * hashed to that root; mu->nwait / wg->nwait count the sudogs for that
 * object; a mutex with nwait > 0 has state 2.
 *
 * Locking. A root's lock (LOCKRANK_SEMA) is taken with no other runtime lock
 * held; under it only the scheduler's (rt_ready, after unlocking here
 * anyway). While held it also holds the M (m->locks: no preemption).
 *
 * Cites: Go's runtime/sema.go (semaRoot table, semacquire/semrelease with
 * handoff), sync/mutex.go (normal vs starvation mode), sync/waitgroup.go.
 */
#include "rt/runtime2.h"

#define SEMTABLE_SIZE 251       /* prime, as Go's */
#define MUTEX_SPINS   4

struct semroot {
	struct rt_lock lock;
	struct sudog *head, *tail; /* FIFO through next; elem = the object (lock) */
} __attribute__((aligned(64)));

static struct semroot semtable[SEMTABLE_SIZE] = {
	[0 ... SEMTABLE_SIZE - 1] = {.lock = {.rank = LOCKRANK_SEMA, .name = "sema root"}},
};

static struct semroot *semroot_of(const void *addr)
{
	return &semtable[((uintptr_t)addr >> 3) % SEMTABLE_SIZE];
}

static void sema_check(const void *addr, const char *op)
{
	if (RT_DEBUG < 1)
		return;
	struct rt_m *m = rt_getm();
	RT_ASSERT_MSG(addr != NULL, "%s(NULL)", op);
	RT_ASSERT_MSG(m != NULL && m->curg != NULL, "%s outside a coroutine", op);
	RT_ASSERT_MSG(!rt_is_stack_pointer(addr),
		      "%s: %p is on a coroutine stack (put it in static storage or on the heap)",
		      op, addr);
}

static void root_lock(struct semroot *r)
{
	rt_acquirem();
	rt_lock(&r->lock);
}

static void root_unlock(struct semroot *r)
{
	rt_unlock(&r->lock);
	rt_releasem();
}

static bool root_park_unlock(struct rt_g *gp, void *arg)
{
	(void)gp;
	struct semroot *r = arg;
	rt_unlock(&r->lock);
	rt_getm()->locks--;
	return true;
}

/* Enqueues w (on this G's stack) and parks until a waker grants it (w->fired). Root locked. */
static void root_park(struct semroot *r, struct sudog *w, const void *addr, const char *reason)
{
	struct rt_g *gp = rt_getg_user();
	*w = (struct sudog){.g = gp, .elem = (void *)addr};
	if (r->tail != NULL)
		r->tail->next = w;
	else
		r->head = w;
	r->tail = w;
	rt_park(root_park_unlock, r);
	RT_ASSERT_MSG(w->fired, "%s: G %lu woken without being granted", reason,
		      (unsigned long)gp->id);
}

/* Unlinks the first waiter on addr, or returns NULL. Root locked. */
static struct sudog *root_dequeue(struct semroot *r, const void *addr)
{
	struct sudog *prev = NULL;
	for (struct sudog *w = r->head; w != NULL; prev = w, w = w->next) {
		if (w->elem != addr)
			continue;
		if (prev != NULL)
			prev->next = w->next;
		else
			r->head = w->next;
		if (r->tail == w)
			r->tail = prev;
		w->next = NULL;
		return w;
	}
	return NULL;
}

/* ---- mutex ---------------------------------------------------------------------- */

static bool mutex_cas(struct rt_mutex *mu, uint32_t from, uint32_t to)
{
	return __atomic_compare_exchange_n(&mu->state, &from, to, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static void mutex_lock_slow(struct rt_mutex *mu)
{
	if (rt_sched.nprocs > 1) {
		for (int i = 0; i < MUTEX_SPINS; i++) {
			__builtin_ia32_pause();
			if (__atomic_load_n(&mu->state, __ATOMIC_RELAXED) == 0 && mutex_cas(mu, 0, 1))
				return;
		}
	}
	struct semroot *r = semroot_of(mu);
	root_lock(r);
	for (;;) {
		uint32_t s = __atomic_load_n(&mu->state, __ATOMIC_RELAXED);
		if (s == 0) {
			if (mutex_cas(mu, 0, 1)) {
				root_unlock(r);
				return;
			}
		} else if (s == 2 || mutex_cas(mu, 1, 2)) {
			break;
		}
	}
	mu->nwait++;
	struct sudog w;
	root_park(r, &w, mu, "mutex");
	/* Handed over: state stayed non-zero from the unlocker to us. */
}

void rt_mutex_lock(struct rt_mutex *mu)
{
	sema_check(mu, "rt_mutex_lock");
	if (likely(mutex_cas(mu, 0, 1)))
		return;
	mutex_lock_slow(mu);
}

bool rt_mutex_trylock(struct rt_mutex *mu)
{
	sema_check(mu, "rt_mutex_trylock");
	return mutex_cas(mu, 0, 1);
}

static void mutex_unlock_slow(struct rt_mutex *mu)
{
	struct semroot *r = semroot_of(mu);
	root_lock(r);
	struct sudog *w = root_dequeue(r, mu);
	RT_ASSERT_MSG(w != NULL && mu->nwait > 0,
		      "rt_mutex_unlock: mutex %p has state 2 but no waiter (nwait %u)",
		      (void *)mu, mu->nwait);
	mu->nwait--;
	__atomic_store_n(&mu->state, mu->nwait > 0 ? 2u : 1u, __ATOMIC_RELEASE);
	struct rt_g *gp = w->g;
	w->fired = true;
	root_unlock(r);
	rt_ready(gp);
}

void rt_mutex_unlock(struct rt_mutex *mu)
{
	sema_check(mu, "rt_mutex_unlock");
	uint32_t one = 1;
	if (likely(__atomic_compare_exchange_n(&mu->state, &one, 0, false, __ATOMIC_RELEASE,
					       __ATOMIC_RELAXED)))
		return;
	if (one == 0)
		rt_throw("rt_mutex_unlock: mutex %p is not locked", (void *)mu);
	mutex_unlock_slow(mu);
}

/* ---- wait group ------------------------------------------------------------------ */

/* Grants and readies every waiter on wg, in FIFO order, under the root lock
 * (rt_ready's rank allows it); each sudog is read before its G is readied. */
static void wg_wake_all(struct rt_waitgroup *wg)
{
	struct semroot *r = semroot_of(wg);
	root_lock(r);
	struct sudog *w;
	while ((w = root_dequeue(r, wg)) != NULL) {
		struct rt_g *gp = w->g;
		w->fired = true;
		rt_ready(gp);
	}
	wg->nwait = 0;
	root_unlock(r);
}

void rt_wg_add(struct rt_waitgroup *wg, int64_t delta)
{
	sema_check(wg, "rt_wg_add");
	int64_t v = __atomic_add_fetch(&wg->count, delta, __ATOMIC_ACQ_REL);
	if (unlikely(v < 0))
		rt_throw("rt_wg_add: negative wait group counter %lld (wait group %p, delta %lld)",
			 (long long)v, (void *)wg, (long long)delta);
	if (v == 0 && delta != 0)
		wg_wake_all(wg);
}

void rt_wg_done(struct rt_waitgroup *wg)
{
	rt_wg_add(wg, -1);
}

void rt_wg_wait(struct rt_waitgroup *wg)
{
	sema_check(wg, "rt_wg_wait");
	if (__atomic_load_n(&wg->count, __ATOMIC_ACQUIRE) == 0)
		return;
	struct semroot *r = semroot_of(wg);
	root_lock(r);
	if (__atomic_load_n(&wg->count, __ATOMIC_ACQUIRE) == 0) {
		root_unlock(r);
		return;
	}
	wg->nwait++;
	struct sudog w;
	root_park(r, &w, wg, "wait group");
}
