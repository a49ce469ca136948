/*
 * time.c - sleeping coroutines: rt_sleep and the timer heap, as Go's time.go
 * (which also keeps a heap of timers ordered by wake time).
 *
 * What. A G that calls rt_sleep(ns) records its wake time in g->when, enters
 * a binary min-heap of sleeping Gs keyed by that time, and parks. The
 * scheduler's findrunnable asks timers_take_due for every G due by now and
 * makes them runnable on its own P; the earliest remaining deadline bounds
 * how long an idle M may sleep (rt_port_idle).
 *
 * Invariants (timers_lock held): timer_heap[0 .. ntimers) is a min-heap on
 * ->when; each G in it is G_WAITING and its timer_index is its position;
 * a G out of the heap has timer_index -1. One heap for all Ps (Go keeps one
 * per P; sleeping is rare here).
 *
 * Steps of rt_sleep:
 *   1. g->when = now + ns; lock the heap, push g (sift up).
 *   2. rt_park; the park's unlock function drops timers_lock once the G is
 *      off its stack, so the scheduler cannot ready a G still running.
 *   3. findrunnable -> timers_take_due pops every G with when <= now (sift
 *      down) and the scheduler readies them.
 *
 * Locking: timers_lock (LOCKRANK_TIMERS), below the scheduler's lock; the
 * heap array grows from the persistent allocator (its old arrays stay there,
 * as metadata). ntimers is read without the lock as a hint.
 *
 * Cites: Go's runtime/time.go (siftupTimer, siftdownTimer).
 */
#include "rt/fixalloc.h"
#include "rt/mstats.h"
#include "rt/runtime2.h"

static struct rt_lock timers_lock;
static struct rt_g **timer_heap;   /* a binary min-heap of sleeping Gs by ->when (timers_lock) */
static int ntimers, timers_cap;    /* (timers_lock; ntimers also read atomically as a hint) */

static void timer_swap(int i, int j)
{
	struct rt_g *a = timer_heap[i], *b = timer_heap[j];
	timer_heap[i] = b;
	timer_heap[j] = a;
	b->timer_index = i;
	a->timer_index = j;
}

static void timer_push(struct rt_g *g)
{
	if (ntimers == timers_cap) {
		int cap = timers_cap ? timers_cap * 2 : 256;
		struct rt_g **h = persistent_alloc((size_t)cap * sizeof(*h), 8, &rt_mstats.other_sys);
		for (int i = 0; i < ntimers; i++)
			h[i] = timer_heap[i];
		timer_heap = h;   /* the old array stays with the persistent allocator (metadata) */
		timers_cap = cap;
	}
	int i = ntimers++;
	timer_heap[i] = g;
	g->timer_index = i;
	while (i > 0 && timer_heap[(i - 1) / 2]->when > timer_heap[i]->when) {
		timer_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static struct rt_g *timer_pop(void)
{
	struct rt_g *top = timer_heap[0];
	timer_swap(0, --ntimers);
	int i = 0;
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < ntimers && timer_heap[l]->when < timer_heap[m]->when)
			m = l;
		if (r < ntimers && timer_heap[r]->when < timer_heap[m]->when)
			m = r;
		if (m == i)
			break;
		timer_swap(i, m);
		i = m;
	}
	top->timer_index = -1;
	return top;
}

/*
 * Unlinks every sleeper due by now and returns them, linked through
 * schedlink (still G_WAITING: the scheduler readies them); *next = the next
 * deadline (0: none). With no timer at all it reads neither the lock nor
 * the clock.
 */
struct rt_g *timers_take_due(uint64_t *next)
{
	*next = 0;
	if (__atomic_load_n(&ntimers, __ATOMIC_RELAXED) == 0)
		return NULL;
	uint64_t now = rt_port_nanotime();
	struct rt_g *due = NULL;
	rt_lock(&timers_lock);
	while (ntimers > 0 && timer_heap[0]->when <= now) {
		struct rt_g *g = timer_pop();
		g->schedlink = due;
		due = g;
	}
	if (ntimers > 0)
		*next = timer_heap[0]->when;
	rt_unlock(&timers_lock);
	return due;
}

void timers_init(void)
{
	rt_lock_init(&timers_lock, LOCKRANK_TIMERS, "timers");
}

/* The world ended: every sleeper is gone with it (rt/proc.c world_cleanup). */
void timers_clear(void)
{
	rt_lock(&timers_lock);
	ntimers = 0;
	rt_unlock(&timers_lock);
}

static bool sleep_unlock(struct rt_g *gp, void *arg)
{
	(void)gp;
	(void)arg;
	rt_unlock(&timers_lock);
	return true;
}

void rt_sleep(uint64_t ns)
{
	struct rt_g *g = rt_getg_user();
	RT_ASSERT_MSG(g != NULL, "rt_sleep outside a coroutine");
	g->when = rt_port_nanotime() + ns;
	rt_lock(&timers_lock);
	timer_push(g);
	rt_park(sleep_unlock, NULL);
}
