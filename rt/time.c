/*
 * time.c - sleeping coroutines: rt_sleep and the per-P timer heaps, as Go's
 * time.go (Go 1.14 and later keep one heap of timers per P).
 *
 * What. A G that calls rt_sleep(ns) records its wake time in g->when, enters
 * the timer heap of the P it runs on (a binary min-heap keyed by that time)
 * and parks. The scheduler's findrunnable asks timers_take_due for its own
 * P's due Gs and makes them runnable there; a spinning M takes the due Gs
 * of the other Ps too (steal_work's last pass), so a sleeper on a P whose
 * M keeps computing still wakes; the earliest deadline of every P bounds
 * how long an idle M may sleep (rt_port_idle).
 *
 * Why per P (issue 14). With one heap, every findrunnable took its lock
 * while any G slept, due or not: 1.0-1.3 acquisitions per switch with one
 * long sleeper, and on 4 vCPUs up to 43% of them waited. Now each heap
 * publishes its earliest deadline in an atomic word: a P with nothing due
 * reads that word and the clock and takes no lock, and the lock is its own
 * P's but for a thief taking what is due (rt.sched.timers_not_due_take_no_lock
 * counts the acquisitions; rt.sched.sleeper_on_held_m_wakes holds the
 * sleeper's M).
 *
 * Invariants (t->lock held): t->heap[0 .. n) is a min-heap on ->when; each
 * G in it is G_WAITING and its timer_index is its position; a G out of every
 * heap has timer_index -1; t->earliest == (n ? heap[0]->when : 0) whenever
 * the lock is free (->when >= 1, so 0 means empty).
 *
 * Steps of rt_sleep:
 *   1. g->when = now + ns; lock the current P's heap, push g (sift up),
 *      publish earliest. (Runtime code is never a preemption point and Ms
 *      keep their Ps: only a P's own M pushes onto its heap.)
 *   2. rt_park; the park's unlock function drops the heap's lock once the G
 *      is off its stack, so the scheduler cannot ready a G still running.
 *   3. findrunnable -> timers_take_due: earliest is 0 or later than now:
 *      done, no lock; else lock, pop every G with when <= now (sift down),
 *      publish earliest, unlock; the scheduler readies them.
 * A sleeper is never lost: the M that pushed it looks at its own heap in
 * its next findrunnable (it parks right after); if that M then stops
 * switching, another M takes it: a spinning M in steal_work's last pass,
 * any M at its 61st look (find_local_work's fair check: the Ms may all
 * have local work; it also takes a G queued on that P, such as a sleeper
 * the P readied just before its M stopped switching), an M that stops (its S3 re-check counts every P's due
 * sleeper, and it sleeps no later than the earliest of all), or an idle M
 * the monitor wakes for a P whose M has not switched for 1 ms with a due
 * sleeper (rt_handoff_check). Hosted, an idle M that slept before the push
 * knows no deadline, so such a sleeper wakes up to ~3 ms late.
 *
 * Locking: each P's t->lock (LOCKRANK_TIMERS), below the scheduler's lock,
 * never two at once; the heap arrays grow from the persistent allocator
 * (their old arrays stay there, as metadata).
 *
 * Cites: Go's runtime/time.go (siftupTimer, siftdownTimer, timer0When) and
 * proc.go (checkTimers, stealWork's timer pass).
 */
#include "rt/fixalloc.h"
#include "rt/mstats.h"
#include "rt/runtime2.h"

static void timer_swap(struct rt_timers *t, int i, int j)
{
	struct rt_g *a = t->heap[i], *b = t->heap[j];
	t->heap[i] = b;
	t->heap[j] = a;
	b->timer_index = i;
	a->timer_index = j;
}

static void timers_publish(struct rt_timers *t)
{
	__atomic_store_n(&t->earliest, t->n > 0 ? t->heap[0]->when : 0, __ATOMIC_RELEASE);
}

static void timer_push(struct rt_timers *t, struct rt_g *g)
{
	if (t->n == t->cap) {
		int cap = t->cap ? t->cap * 2 : 64;
		struct rt_g **h = persistent_alloc((size_t)cap * sizeof(*h), 8, &rt_mstats.other_sys);
		for (int i = 0; i < t->n; i++)
			h[i] = t->heap[i];
		t->heap = h;   /* the old array stays with the persistent allocator (metadata) */
		t->cap = cap;
	}
	int i = t->n++;
	t->heap[i] = g;
	g->timer_index = i;
	while (i > 0 && t->heap[(i - 1) / 2]->when > t->heap[i]->when) {
		timer_swap(t, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	timers_publish(t);
}

static struct rt_g *timer_pop(struct rt_timers *t)
{
	struct rt_g *top = t->heap[0];
	timer_swap(t, 0, --t->n);
	int i = 0;
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < t->n && t->heap[l]->when < t->heap[m]->when)
			m = l;
		if (r < t->n && t->heap[r]->when < t->heap[m]->when)
			m = r;
		if (m == i)
			break;
		timer_swap(t, i, m);
		i = m;
	}
	top->timer_index = -1;
	return top;
}

static void timers_lock(struct rt_timers *t)
{
	rt_lock(&t->lock);
	__atomic_store_n(&t->nlocked, t->nlocked + 1, __ATOMIC_RELAXED);
}

struct rt_g *timers_take_due(struct rt_timers *t)
{
	uint64_t when = timers_earliest(t);
	if (when == 0)
		return NULL;
	uint64_t now = rt_port_nanotime();
	if (when > now)
		return NULL;   /* the fast path: nothing due, no lock */
	struct rt_g *due = NULL;
	timers_lock(t);
	while (t->n > 0 && t->heap[0]->when <= now) {
		struct rt_g *g = timer_pop(t);
		g->schedlink = due;
		due = g;
	}
	timers_publish(t);
	rt_unlock(&t->lock);
	return due;
}

void timers_init(struct rt_timers *t)
{
	rt_lock_init(&t->lock, LOCKRANK_TIMERS, "timers");
}

/* The world ended: every sleeper is gone with it (rt/proc.c world_cleanup). */
void timers_clear(struct rt_timers *t)
{
	timers_lock(t);
	t->n = 0;
	timers_publish(t);
	rt_unlock(&t->lock);
}

static bool sleep_unlock(struct rt_g *gp, void *arg)
{
	(void)gp;
	rt_unlock(&((struct rt_timers *)arg)->lock);
	return true;
}

void rt_sleep(uint64_t ns)
{
	struct rt_g *g = rt_getg_user();
	RT_ASSERT_MSG(g != NULL, "rt_sleep outside a coroutine");
	struct rt_timers *t = &rt_getm()->p->timers;
	uint64_t when = rt_port_nanotime() + ns;
	if (when < ns)
		when = UINT64_MAX;   /* an overflowing sleep sleeps forever */
	g->when = when != 0 ? when : 1;   /* 0 is "empty" in earliest */
	timers_lock(t);
	timer_push(t, g);
	rt_park(sleep_unlock, t);
}
