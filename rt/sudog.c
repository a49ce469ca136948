/*
 * sudog.c - the record of a parked waiter (struct sudog, rt/runtime2.h) and
 * the pool that select's records come from, as Go's sudog and its
 * acquireSudog/releaseSudog.
 *
 * What. Every G that parks until another G wakes it (a channel send or
 * receive, a select, a mutex, a wait group) is represented by a sudog: the G,
 * the address it waits on (elem), its links in one wait queue, and the
 * waker's verdict (fired, success). A waker unlinks the sudog and sets the
 * verdict before it readies the G, so once the G runs nothing else points at
 * its sudog, except select's leftovers (below). It is the one kind of parked
 * waiter: whatever must find every parked G's pending element (the collector,
 * when it comes) reads sudogs only.
 *
 * Where a sudog lives:
 *   - channel send/recv (rt/chan.c), mutex and wait group (rt/sema.c): on the
 *     blocked G's own stack. A parked G's stack never moves, and the waker
 *     unlinks the sudog before it readies the G (rt/sched.h's contract).
 *   - select (rt/select.c): off-heap (fixalloc), from this file's pool. A
 *     select's sudogs stay linked in the other channels' queues after the G
 *     wakes, until the G unlinks them; meanwhile the G runs and its stack may
 *     grow by copying, so they cannot be on that stack.
 *
 * The pool. Each P caches up to SUDOG_CACHE_MAX sudogs (used with the M
 * held, so without a lock); beyond that it spills half to a central list,
 * and a cache short of what a select needs refills from that list or from
 * fresh fixalloc memory. Sudogs are never given back to the OS (Go's are
 * not either); other_sys counts them.
 *
 * Locking. The central list has its own lock (LOCKRANK_LEAF0), taken with no
 * other runtime lock held; a P's cache is its own M's (m->locks held).
 *
 * Cites: Go's runtime/runtime2.go (sudog), proc.go (acquireSudog,
 * releaseSudog).
 */
#include "rt/fixalloc.h"
#include "rt/mstats.h"
#include "rt/runtime2.h"

#define SUDOG_CACHE_MAX 64   /* per-P cached sudogs; half spills beyond */

static struct {
	struct sudog *list;
	int n;
} sudogcache[RT_MAX_PROCS];        /* own P, m->locks held */

static struct {
	struct rt_lock lock;            /* LOCKRANK_LEAF0: taken with no other lock held */
	struct sudog *list;             /* spilled from the per-P caches (lock) */
	struct fixalloc alloc;          /* fresh sudogs (lock) */
	uint64_t inuse;                 /* bytes handed out by alloc (lock) */
} sudogpool;

static void sudogpool_init_once(void)
{
	/* Racing first callers: the CAS elects one initializer, the others wait for it. */
	static uint32_t state;   /* 0 none, 1 initializing, 2 ready */
	uint32_t zero = 0;
	if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) == 2)
		return;
	if (__atomic_compare_exchange_n(&state, &zero, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		rt_lock_init(&sudogpool.lock, LOCKRANK_LEAF0, "sudog pool");
		fixalloc_init(&sudogpool.alloc, (sizeof(struct sudog) + 7) & ~(size_t)7,
			      &rt_mstats.other_sys, &sudogpool.inuse, "sudog");
		__atomic_store_n(&state, 2, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&state, __ATOMIC_ACQUIRE) != 2)
		__builtin_ia32_pause();
}

/* Makes this P's cache hold at least n sudogs. Caller holds the M, no lock. */
void sudogcache_fill(int p, int n)
{
	if (sudogcache[p].n >= n)
		return;
	sudogpool_init_once();
	rt_lock(&sudogpool.lock);
	while (sudogcache[p].n < n) {
		struct sudog *sg = sudogpool.list;
		if (sg != NULL)
			sudogpool.list = sg->next;
		else
			sg = fixalloc_alloc(&sudogpool.alloc);
		sg->next = sudogcache[p].list;
		sudogcache[p].list = sg;
		sudogcache[p].n++;
	}
	rt_unlock(&sudogpool.lock);
}

/* Pops one sudog from this P's cache, filled beforehand; no lock needed. */
struct sudog *sudog_get(int p)
{
	struct sudog *sg = sudogcache[p].list;
	RT_ASSERT(sg != NULL);
	sudogcache[p].list = sg->next;
	sudogcache[p].n--;
	rt_memclr(sg, sizeof *sg);
	return sg;
}

/* Returns a select's sudogs (linked through waitlink) to this P's cache. */
void sudogs_put(struct sudog *list)
{
	rt_acquirem();
	int p = rt_port_current_p();
	while (list != NULL) {
		struct sudog *next = list->waitlink;
		RT_DASSERT(!list->queued);
		list->g = NULL;
		list->elem = NULL;
		list->next = sudogcache[p].list;
		sudogcache[p].list = list;
		sudogcache[p].n++;
		list = next;
	}
	if (sudogcache[p].n > SUDOG_CACHE_MAX) {   /* spill half to the central list */
		rt_lock(&sudogpool.lock);
		while (sudogcache[p].n > SUDOG_CACHE_MAX / 2) {
			struct sudog *sg = sudogcache[p].list;
			sudogcache[p].list = sg->next;
			sudogcache[p].n--;
			sg->next = sudogpool.list;
			sudogpool.list = sg;
		}
		rt_unlock(&sudogpool.lock);
	}
	rt_releasem();
}
