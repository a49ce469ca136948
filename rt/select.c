/*
 * select.c - rt_select: wait on several channel operations and perform
 * exactly one, as Go's select.go (selectgo). The channels, their queues and
 * their locking rules are rt/chan.c's; the sudogs come from rt/sudog.c's pool.
 *
 * Steps:
 *   S0. Poll order: a uniformly random permutation of the non-NULL cases
 *       (inside-out Fisher-Yates over the M's fastrand, rt/runtime2.h).
 *       Lock order: the cases sorted by
 *       channel address. Reserve sudogs for every case (blocking only).
 *   S1. Lock every channel in lock order, each once. In poll order, do the
 *       first case that can proceed; unlock all; return its index.
 *   S2. None: non-blocking returns -1. Otherwise enqueue one sudog per case,
 *       all sharing a selectdone word, and park; the unlock function releases
 *       the channels in reverse lock order.
 *   S3. Woken with gp->param = the sudog that fired: lock every channel
 *       again, unlink the other sudogs still queued, unlock, return the
 *       fired case's index (and its ok).
 * Fairness: S1 tries ready cases in random order, so each of k ready cases is
 * chosen with probability 1/k (the index draw is fastrandn: Lemire's
 * multiply-shift, whose bias, below n / 2^32, is far under what any test
 * can see).
 *
 * Locks: every case's channel, each once, in increasing address order (the
 * rank checker sees equal ranks in that order), released in reverse; the
 * sudog pool's lock only before the first channel lock (sudogcache_fill).
 *
 * Deviations from Go: a NULL case never fires, and a blocking select whose
 * every case is NULL panics (Go blocks forever); a select has at most
 * RT_SELECT_MAX_CASES cases (its orders are arrays on the caller's stack).
 *
 * Cites: Go's runtime/select.go (selectgo's three passes,
 * pollorder/lockorder, sellock), runtime2.go (selectDone).
 */
#include "rt/chan.h"
#include "rt/runtime2.h"

/* Locks each distinct channel of the cases, in lock order (sorted by address). */
static void sellock(struct rt_select_case *cases, const uint8_t *lockorder, int n)
{
	struct rt_chan *last = NULL;
	for (int k = 0; k < n; k++) {
		struct rt_chan *c = cases[lockorder[k]].c;
		if (c != last)
			chan_lock(c);
		last = c;
	}
}

/* Unlocks them in reverse lock order (the rank checker wants LIFO). */
static void selunlock(struct rt_select_case *cases, const uint8_t *lockorder, int n)
{
	for (int k = n - 1; k >= 0; k--) {
		struct rt_chan *c = cases[lockorder[k]].c;
		if (k == 0 || cases[lockorder[k - 1]].c != c)
			chan_unlock(c);
	}
}

/*
 * rt_park's unlock for a select, on g0. arg is the G's sudog list in
 * descending lock order; a channel is unlocked after its last sudog in that
 * list. Each unlock may let a waker ready the G, but the G's step S3 needs
 * the lowest channel, unlocked last, so the list stays valid until then; it
 * is read before each unlock and never after the last.
 */
static bool select_park_unlock(struct rt_g *gp, void *arg)
{
	(void)gp;
	struct sudog *sg = arg;
	while (sg != NULL) {
		struct sudog *next = sg->waitlink;
		struct rt_chan *c = sg->c;
		bool last_of_c = next == NULL || next->c != c;
		if (last_of_c)
			chan_unlock_g0(c);
		sg = next;
	}
	return true;
}

/* Step S1 for one case: does it if it can proceed. *readyg: a G to ready after unlocking. */
static bool select_try(struct rt_select_case *cas, struct rt_g **readyg)
{
	struct rt_chan *c = cas->c;
	struct sudog *sg;
	if (cas->dir == RT_SELECT_RECV) {
		if ((sg = waitq_dequeue(&c->sendq)) != NULL) {
			*readyg = recv_from_sender(c, sg, cas->elem);
			cas->ok = true;
		} else if (c->qcount > 0) {
			ring_take(c, cas->elem);
			cas->ok = true;
		} else if (c->closed) {
			elem_clear(c, cas->elem);
			cas->ok = false;
		} else {
			return false;
		}
		return true;
	}
	if (c->closed)
		return true;   /* the caller panics after unlocking */
	if ((sg = waitq_dequeue(&c->recvq)) != NULL)
		*readyg = send_to_receiver(c, sg, cas->elem);
	else if (c->qcount < c->cap)
		ring_put(c, cas->elem);
	else
		return false;
	return true;
}

/*
 * Step S0: fills pollorder with a random permutation of the non-NULL cases
 * and lockorder with the same cases sorted by channel address; returns how
 * many there are. Caller holds the M (its fastrand).
 */
static int select_orders(struct rt_select_case *cases, int ncases, uint8_t *pollorder,
			 uint8_t *lockorder)
{
	struct rt_m *m = rt_getm();
	int n = 0;
	for (int i = 0; i < ncases; i++) {
		if (cases[i].c == NULL)
			continue;
		chan_check(cases[i].c, "rt_select");
		RT_ASSERT_MSG(cases[i].dir == RT_SELECT_SEND || cases[i].dir == RT_SELECT_RECV,
			      "rt_select: case %d has direction %d", i, (int)cases[i].dir);
		uint32_t j = fastrandn(m, (uint32_t)n + 1);   /* inside-out Fisher-Yates */
		pollorder[n] = pollorder[j];
		pollorder[j] = (uint8_t)i;
		n++;
	}
	for (int k = 0; k < n; k++) {   /* insertion sort by channel address; n <= 64 */
		uint8_t v = pollorder[k];
		int j = k;
		while (j > 0 && (uintptr_t)cases[lockorder[j - 1]].c > (uintptr_t)cases[v].c) {
			lockorder[j] = lockorder[j - 1];
			j--;
		}
		lockorder[j] = v;
	}
	return n;
}

/*
 * Step S1, every channel locked and the M held: does the first case in poll
 * order that can proceed, then unlocks every channel, releases the M and
 * returns the case's index. Returns -1, still locked, if none can.
 */
static int select_poll(struct rt_select_case *cases, const uint8_t *pollorder,
		       const uint8_t *lockorder, int n)
{
	for (int k = 0; k < n; k++) {
		int i = pollorder[k];
		struct rt_g *readyg = NULL;
		if (!select_try(&cases[i], &readyg))
			continue;
		bool send_closed = cases[i].dir == RT_SELECT_SEND && cases[i].c->closed;
		selunlock(cases, lockorder, n);
		rt_releasem();
		if (send_closed)
			rt_throw("send on closed channel %p (rt_select case %d)", (void *)cases[i].c, i);
		if (readyg != NULL)
			rt_ready(readyg);
		return i;
	}
	return -1;
}

/*
 * Step S2, every channel locked: one sudog per case from P p's cache, all
 * sharing the first one's selectdone word, enqueued in lock order. Returns
 * them linked through waitlink in descending lock order.
 */
static struct sudog *select_enqueue(struct rt_select_case *cases, const uint8_t *lockorder, int n,
				    int p, struct rt_g *gp)
{
	struct sudog *waiting = NULL;
	uint32_t *done = NULL;
	for (int k = 0; k < n; k++) {
		int i = lockorder[k];
		struct sudog *sg = sudog_get(p);
		if (done == NULL)
			done = &sg->done;
		sg->g = gp;
		sg->c = cases[i].c;
		sg->elem = cases[i].elem;
		sg->selectdone = done;
		sg->caseidx = i;
		sg->isrecv = cases[i].dir == RT_SELECT_RECV;
		waitq_enqueue(sg->isrecv ? &sg->c->recvq : &sg->c->sendq, sg);
		sg->waitlink = waiting;
		waiting = sg;
	}
	return waiting;
}

/*
 * Step S3, after the park: relocks every channel, unlinks the sudogs that
 * did not fire, returns them all to the pool and reports the fired case
 * (its ok for a receive; a send woken by close panics).
 */
static int select_wake(struct rt_select_case *cases, const uint8_t *lockorder, int n,
		       struct rt_g *gp, struct sudog *waiting)
{
	sellock(cases, lockorder, n);
	struct sudog *fired = gp->param;
	gp->param = NULL;
	RT_ASSERT_MSG(fired != NULL && fired->fired && fired->g == gp,
		      "rt_select: G %lu woken without a case firing", (unsigned long)gp->id);
	for (struct sudog *sg = waiting; sg != NULL; sg = sg->waitlink)
		if (sg != fired && sg->queued)
			waitq_remove(sg->isrecv ? &sg->c->recvq : &sg->c->sendq, sg);
	int idx = fired->caseidx;
	bool success = fired->success;
	selunlock(cases, lockorder, n);
	sudogs_put(waiting);
	if (cases[idx].dir == RT_SELECT_RECV)
		cases[idx].ok = success;   /* false: the closer zeroed the element */
	else if (!success)
		rt_throw("send on closed channel %p (rt_select case %d)", (void *)cases[idx].c, idx);
	return idx;
}

int rt_select(struct rt_select_case *cases, int ncases, bool block)
{
	RT_ASSERT_MSG(ncases >= 0 && ncases <= RT_SELECT_MAX_CASES,
		      "rt_select: %d cases (at most %d)", ncases, RT_SELECT_MAX_CASES);
	uint8_t pollorder[RT_SELECT_MAX_CASES], lockorder[RT_SELECT_MAX_CASES];

	/* The M is held from here to the park (or the return): its fastrand
	 * and this P's sudog cache stay ours. */
	rt_acquirem();
	int p = rt_port_current_p();
	int n = select_orders(cases, ncases, pollorder, lockorder);
	if (n == 0) {
		rt_releasem();
		if (!block)
			return -1;
		rt_throw("rt_select: every case has a NULL channel: blocks forever");
	}
	if (block)
		sudogcache_fill(p, n);

	sellock(cases, lockorder, n);
	int i = select_poll(cases, pollorder, lockorder, n);
	if (i >= 0)
		return i;
	if (!block) {
		selunlock(cases, lockorder, n);
		rt_releasem();
		return -1;
	}

	struct rt_g *gp = rt_getg_user();
	struct sudog *waiting = select_enqueue(cases, lockorder, n, p, gp);
	gp->param = NULL;
	gp->waiting = waiting;   /* a root while parked (rt/mgcmark.c root 4) */
	rt_releasem();   /* the channel locks still hold the M */
	rt_park(select_park_unlock, waiting);
	gp = rt_getg_user();
	gp->waiting = NULL;
	return select_wake(cases, lockorder, n, gp, waiting);
}
