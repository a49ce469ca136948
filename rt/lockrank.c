/*
 * lockrank.c - checks the runtime's lock order (port.h, enum rt_lockrank).
 *
 * Each thread (hosted) or CPU (kernel) keeps a short stack of the locks it
 * holds (struct rt_lockrank_state, found through the port). Acquiring a lock
 * whose rank is not greater than the top of that stack is a potential
 * deadlock and panics naming both locks, as Go's lockrank.go does under
 * GOEXPERIMENT=staticlockranking. Checked at RT_DEBUG >= 1.
 *
 * The same check finds a second kind of deadlock: a stack growth takes the
 * stack pool's lock (rt/stack.c), so a lock ranked at or above it must
 * never be held on a coroutine's stack, where any checked call may grow it
 * (run that code through rt_systemstack). The growth itself happens only
 * when the frame lands near the guard, a rare and layout-dependent event
 * (make stress hit one in 30 boots: persistent_alloc under select's sudog
 * refill); taking such a lock on a coroutine stack panics every time.
 */
#include "rt/port.h"
#include "rt/runtime2.h"   /* rt_is_stack_pointer */

void rt_lockrank_acquire(const struct rt_lock *l)
{
	if (RT_DEBUG < 1)
		return;
	struct rt_lockrank_state *st = rt_port_lockrank_state();
	if (st->depth > 0) {
		const struct rt_lock *top = st->held[st->depth - 1];
		RT_ASSERT_MSG(top != l, "lock %s acquired twice by one thread", l->name);
		/* Channels share one rank: rt_select holds several, locked in
		 * increasing address order (Go's hchan -> hchan edge). */
		bool chan_order = top->rank == LOCKRANK_CHAN && l->rank == LOCKRANK_CHAN &&
				  (uintptr_t)top < (uintptr_t)l;
		RT_ASSERT_MSG(top->rank < l->rank || chan_order,
			      "lock order violated: acquiring %s (rank %u) while holding %s (rank %u)",
			      l->name, l->rank, top->name, top->rank);
	}
	RT_ASSERT_MSG(l->rank < LOCKRANK_STACKPOOL || !rt_is_stack_pointer(__builtin_frame_address(0)),
		      "lock %s (rank %u) taken on a coroutine stack: a stack growth under it would take "
		      "the stack pool (rank %u); take it on the system stack (rt_systemstack)",
		      l->name, l->rank, (unsigned)LOCKRANK_STACKPOOL);
	RT_ASSERT_MSG(st->depth < RT_LOCKRANK_DEPTH, "too many locks held acquiring %s", l->name);
	st->held[st->depth++] = l;
}

void rt_lockrank_release(const struct rt_lock *l)
{
	if (RT_DEBUG < 1)
		return;
	struct rt_lockrank_state *st = rt_port_lockrank_state();
	RT_ASSERT_MSG(st->depth > 0 && st->held[st->depth - 1] == l,
		      "lock %s released out of order or not held", l->name);
	st->depth--;
}

void rt_assert_held(const struct rt_lock *l)
{
	if (RT_DEBUG < 1)
		return;
	struct rt_lockrank_state *st = rt_port_lockrank_state();
	for (int i = 0; i < st->depth; i++)
		if (st->held[i] == l)
			return;
	rt_throw("lock %s must be held here", l->name);
}

void rt_lock_init(struct rt_lock *l, enum rt_lockrank rank, const char *name)
{
	l->word = 0;
	l->rank = (uint32_t)rank;
	l->name = name;
}
