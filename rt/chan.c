/*
 * chan.c - channels: make, send, receive, close, as Go's chan.go.
 *
 * What. A channel carries elements of a fixed size from senders to receivers,
 * in order. Unbuffered (cap 0), a send and a receive meet: whichever comes
 * second copies the element straight from or into the other's memory and
 * readies it. Buffered, elements queue in a ring of cap slots; a sender
 * blocks only when the ring is full, a receiver only when it is empty.
 * close() wakes every waiter: receivers drain what is buffered, then get
 * ok = false and a zeroed element; a sender on a closed channel panics.
 * rt_select (rt/select.c) waits on several of these operations at once.
 *
 * Structures.
 *   struct rt_chan  on the heap (rt_new; its ring from rt_alloc). One lock.
 *   struct sudog    a blocked operation (rt/runtime2.h, rt/sudog.c): the G,
 *                   where its element is, the select case it stands for, and
 *                   the waker's verdict. It sits in the channel's sendq or
 *                   recvq (FIFO). A send or receive keeps it on the blocked
 *                   G's stack; a select takes it from rt/sudog.c's pool.
 *
 * Invariants (c->lock held):
 *   - qcount <= cap; the elements are buf[recvx], buf[recvx+1], ... mod cap;
 *   - sendq non-empty => the ring is full (qcount == cap) and c is open;
 *   - recvq non-empty => the ring is empty (qcount == 0);
 *   - a sudog is in at most one queue, and sg->queued says whether;
 *   - a select's sudogs share one word, *sg->selectdone: 0 while no case has
 *     fired, 1 once a waker claimed one (compare-and-swap). A waker that loses
 *     the race drops the sudog from its queue and looks at the next one.
 *
 * Locking. c->lock (LOCKRANK_CHAN) guards everything in the channel but
 * elemsize/cap/buf (immutable) and qcount's unlocked read in rt_chan_len.
 * Holding a channel lock, code never allocates and takes no other lock
 * except other channel locks (select, in increasing address order, each
 * channel once) and the scheduler's (rt_ready, LOCKRANK_SCHED; we call it
 * after unlocking anyway). Each held channel lock counts in m->locks (no
 * preemption, and the P stays ours). rt_select fills its sudog cache
 * (rt/sudog.c, its own lock) before it locks any channel.
 *
 * Send (receive is symmetric):
 *   1. Lock c. Closed: panic.
 *   2. A receiver waits: dequeue it, copy the element into its memory,
 *      record success, unlock, ready it.
 *   3. Room in the ring: copy into buf[sendx], unlock.
 *   4. Non-blocking: unlock, fail.
 *   5. Enqueue a sudog on sendq and rt_park; the G is off its stack before
 *      the park's unlock function releases c->lock, so no waker can ready a
 *      G that is still running. Woken: the waker did the copy; closed = panic.
 * A receiver that finds a sender waiting on a full ring takes the ring's
 * head and puts the sender's element at its tail, so FIFO order holds.
 *
 * rt_select (rt/select.c) uses the same queues, sudogs and element steps
 * (their prototypes are rt/chan.h's).
 *
 * Deviations from Go: send or receive on a NULL channel panics instead of
 * blocking forever (a NULL select case still never fires, as in Go).
 * Elements are copied with rt_memcpy; the ring is allocated as "every word
 * may be a pointer" when the element size is a multiple of 8 (sched.h's API
 * has no element type), so a collector must treat its words conservatively,
 * and every copy or clear of such an element goes through the bulk write
 * barrier (rt_bulk_barrier, elem_copy/elem_clear).
 *
 * Cites: Go's runtime/chan.go (hchan, sudog hand-off, closechan),
 * runtime2.go (sudog).
 */
#include "rt/chan.h"
#include "rt/mbarrier.h"
#include "rt/rt.h"
#include "rt/runtime2.h"

#define CHAN_MAGIC        0x6e616863u     /* "chan" */
#define CHAN_MAX_ELEMSIZE ((size_t)1 << 16) /* Go's limit too */

/* Only buf is a heap pointer: the queues point at stacks and off-heap sudogs. */
static const uint8_t chan_ptrmask[] = {1u << RT_PTRWORD(struct rt_chan, buf)};
static const struct rt_type chan_type = {
	sizeof(struct rt_chan), 8, (RT_PTRWORD(struct rt_chan, buf) + 1) * 8, chan_ptrmask, "rt_chan"};
/* The ring of a channel whose elements are whole words: each may hold a pointer. */
static const uint8_t word_ptrmask[] = {1};
static const struct rt_type chanbuf_word_type = {8, 8, 8, word_ptrmask, "chan ring word"};

/* ---- checks --------------------------------------------------------------------- */

void chan_check(const struct rt_chan *c, const char *op)
{
	if (unlikely(c == NULL))
		rt_throw("%s on a nil channel: it would block forever (a NULL rt_select case is the "
			 "way to never fire)", op);
	if (RT_DEBUG >= 1) {
		struct rt_m *m = rt_getm();
		RT_ASSERT_MSG(m != NULL && m->curg != NULL, "%s outside a coroutine", op);
		RT_ASSERT_MSG(!rt_is_stack_pointer(c),
			      "%s: channel %p is on a coroutine stack (channels come from rt_chan_new)",
			      op, (const void *)c);
		RT_ASSERT_MSG(c->magic == CHAN_MAGIC, "%s: %p is not a channel (magic %#x)", op,
			      (const void *)c, c->magic);
	}
}

/* ---- locks: each held channel lock also holds the M (m->locks) -------------------- */

void chan_lock(struct rt_chan *c)
{
	rt_acquirem();
	rt_lock(&c->lock);
}

void chan_unlock(struct rt_chan *c)
{
	rt_unlock(&c->lock);
	rt_releasem();
}

/* In rt_park's unlock function, on g0: the G is already off the CPU. */
void chan_unlock_g0(struct rt_chan *c)
{
	rt_unlock(&c->lock);
	rt_getm()->locks--;
}

static bool chan_park_unlock(struct rt_g *gp, void *arg)
{
	(void)gp;
	chan_unlock_g0(arg);
	return true;
}

/* ---- wait queues (c->lock) -------------------------------------------------------- */

void waitq_enqueue(struct waitq *q, struct sudog *sg)
{
	sg->next = NULL;
	sg->prev = q->last;
	if (q->last != NULL)
		q->last->next = sg;
	else
		q->first = sg;
	q->last = sg;
	sg->queued = true;
}

void waitq_remove(struct waitq *q, struct sudog *sg)
{
	RT_DASSERT(sg->queued);
	if (sg->prev != NULL)
		sg->prev->next = sg->next;
	else
		q->first = sg->next;
	if (sg->next != NULL)
		sg->next->prev = sg->prev;
	else
		q->last = sg->prev;
	sg->next = sg->prev = NULL;
	sg->queued = false;
}

/*
 * Takes the first waiter that can still be woken, or NULL. A select's sudog
 * is claimed with a CAS on its selectdone word; one whose select already
 * fired elsewhere is dropped (its G unlinks the rest in step S3).
 */
struct sudog *waitq_dequeue(struct waitq *q)
{
	struct sudog *sg;
	while ((sg = q->first) != NULL) {
		waitq_remove(q, sg);
		if (sg->selectdone != NULL) {
			uint32_t zero = 0;
			if (!__atomic_compare_exchange_n(sg->selectdone, &zero, 1, false,
							 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				continue;
		}
		sg->fired = true;
		return sg;
	}
	return NULL;
}

/* ---- elements -------------------------------------------------------------------- */

static void *chanbuf(struct rt_chan *c, size_t i)
{
	return c->buf + i * c->elemsize;
}

/* Elements whose size is a multiple of 8 may hold pointers (the ring's type
 * says every word may): their copies and clears go through the bulk barrier
 * (rt/mbarrier.h). Its test and the copy are one step: this is runtime text,
 * which no preemption splits (the tick stops only user text, a poisoned guard
 * yields only at user code's prologues), lock held or not. A destination on
 * another G's stack (a parked receiver's) gets it too, as Go's sendDirect:
 * that stack may already be scanned. */
static bool elem_may_hold_pointers(const struct rt_chan *c) { return c->elemsize % 8 == 0; }

static void elem_copy(const struct rt_chan *c, void *dst, const void *src)
{
	if (dst == NULL || c->elemsize == 0)
		return;
	if (elem_may_hold_pointers(c))
		rt_bulk_barrier(dst, src, c->elemsize, NULL);
	rt_memcpy(dst, src, c->elemsize);
}

void elem_clear(const struct rt_chan *c, void *dst)
{
	if (dst == NULL || c->elemsize == 0)
		return;
	if (elem_may_hold_pointers(c))
		rt_bulk_barrier(dst, NULL, c->elemsize, NULL);
	rt_memclr(dst, c->elemsize);
}

/* Puts elem at the ring's tail (room checked by the caller). */
void ring_put(struct rt_chan *c, const void *elem)
{
	elem_copy(c, c->elemsize ? chanbuf(c, c->sendx) : NULL, elem);
	if (++c->sendx == c->cap)
		c->sendx = 0;
	__atomic_store_n(&c->qcount, c->qcount + 1, __ATOMIC_RELAXED);
}

/* Takes the ring's head into elem (may be NULL: dropped); the slot is cleared. */
void ring_take(struct rt_chan *c, void *elem)
{
	if (c->elemsize != 0) {
		void *qp = chanbuf(c, c->recvx);
		elem_copy(c, elem, qp);
		elem_clear(c, qp);   /* no stale pointers kept alive in the ring */
	}
	if (++c->recvx == c->cap)
		c->recvx = 0;
	__atomic_store_n(&c->qcount, c->qcount - 1, __ATOMIC_RELAXED);
}

/*
 * Hands elem to a dequeued receiver sg (send steps 2). The waker's side of a
 * wake-up: the G is told by gp->param and sg->success. Returns the G to ready.
 */
struct rt_g *send_to_receiver(struct rt_chan *c, struct sudog *sg, const void *elem)
{
	elem_copy(c, sg->elem, elem);
	sg->success = true;
	sg->g->param = sg;
	return sg->g;
}

/*
 * Receives from a dequeued sender sg into elem: directly (unbuffered), or the
 * ring's head, with the sender's element going to the freed tail (the ring is
 * full whenever a sender waits). Returns the G to ready.
 */
struct rt_g *recv_from_sender(struct rt_chan *c, struct sudog *sg, void *elem)
{
	if (c->cap == 0) {
		elem_copy(c, elem, sg->elem);
	} else {
		RT_DASSERT(c->qcount == c->cap);
		if (c->elemsize != 0) {
			void *qp = chanbuf(c, c->recvx);
			elem_copy(c, elem, qp);
			elem_copy(c, qp, sg->elem);
		}
		if (++c->recvx == c->cap)
			c->recvx = 0;
		c->sendx = c->recvx;
	}
	sg->success = true;
	sg->g->param = sg;
	return sg->g;
}

/* ---- make, send, receive, close ----------------------------------------------------- */

struct rt_chan *rt_chan_new(size_t elemsize, size_t cap)
{
	if (elemsize >= CHAN_MAX_ELEMSIZE)
		rt_throw("rt_chan_new: element size %zu too large (limit %zu)", elemsize,
			 CHAN_MAX_ELEMSIZE - 1);
	if (elemsize != 0 && cap > (SIZE_MAX / 2) / elemsize)
		rt_throw("rt_chan_new: %zu elements of %zu bytes: size out of range", cap, elemsize);
	struct rt_chan *c = rt_new(&chan_type);
	size_t bytes = elemsize * cap;
	if (bytes != 0)
		c->buf = rt_alloc(bytes, elemsize % 8 == 0 ? &chanbuf_word_type : NULL);
	c->elemsize = elemsize;
	c->cap = cap;
	rt_lock_init(&c->lock, LOCKRANK_CHAN, "chan");
	c->magic = CHAN_MAGIC;
	return c;
}

static bool chansend(struct rt_chan *c, const void *elem, bool block)
{
	chan_check(c, block ? "rt_chan_send" : "rt_chan_trysend");
	chan_lock(c);
	if (unlikely(c->closed)) {
		chan_unlock(c);
		rt_throw("send on closed channel %p", (void *)c);
	}
	struct sudog *sg = waitq_dequeue(&c->recvq);
	if (sg != NULL) {
		struct rt_g *gp = send_to_receiver(c, sg, elem);
		chan_unlock(c);
		rt_ready(gp);
		return true;
	}
	if (c->qcount < c->cap) {
		ring_put(c, elem);
		chan_unlock(c);
		return true;
	}
	if (!block) {
		chan_unlock(c);
		return false;
	}

	/* Step 5: park with a sudog on this stack until a receiver (or close) takes it. */
	struct rt_g *gp = rt_getg_user();
	struct sudog me = {.g = gp, .c = c, .elem = (void *)elem};
	waitq_enqueue(&c->sendq, &me);
	gp->param = NULL;
	rt_park(chan_park_unlock, c);
	RT_ASSERT_MSG(me.fired && !me.queued, "chan send: G %lu woken without its sudog firing",
		      (unsigned long)gp->id);
	gp->param = NULL;
	if (!me.success)
		rt_throw("send on closed channel %p", (void *)c);
	return true;
}

/* Returns ok (false: closed and drained); *done says whether it happened. */
static bool chanrecv(struct rt_chan *c, void *elem, bool block, bool *done)
{
	chan_check(c, block ? "rt_chan_recv" : "rt_chan_tryrecv");
	*done = true;
	chan_lock(c);
	if (c->closed && c->qcount == 0) {
		chan_unlock(c);
		elem_clear(c, elem);
		return false;
	}
	struct sudog *sg = waitq_dequeue(&c->sendq);
	if (sg != NULL) {
		struct rt_g *gp = recv_from_sender(c, sg, elem);
		chan_unlock(c);
		rt_ready(gp);
		return true;
	}
	if (c->qcount > 0) {
		ring_take(c, elem);
		chan_unlock(c);
		return true;
	}
	if (!block) {
		chan_unlock(c);
		*done = false;
		return false;
	}

	struct rt_g *gp = rt_getg_user();
	struct sudog me = {.g = gp, .c = c, .elem = elem, .isrecv = true};
	waitq_enqueue(&c->recvq, &me);
	gp->param = NULL;
	rt_park(chan_park_unlock, c);
	RT_ASSERT_MSG(me.fired && !me.queued, "chan receive: G %lu woken without its sudog firing",
		      (unsigned long)gp->id);
	gp->param = NULL;
	return me.success;   /* false: the closer zeroed *elem */
}

void rt_chan_send(struct rt_chan *c, const void *elem)
{
	chansend(c, elem, true);
}

bool rt_chan_trysend(struct rt_chan *c, const void *elem)
{
	return chansend(c, elem, false);
}

bool rt_chan_recv(struct rt_chan *c, void *elem)
{
	bool done;
	return chanrecv(c, elem, true, &done);
}

bool rt_chan_tryrecv(struct rt_chan *c, void *elem, bool *ok)
{
	bool done;
	bool got = chanrecv(c, elem, false, &done);
	if (ok != NULL)
		*ok = got;
	return done;
}

size_t rt_chan_len(struct rt_chan *c)
{
	chan_check(c, "rt_chan_len");
	return __atomic_load_n(&c->qcount, __ATOMIC_RELAXED);
}

/*
 * Marks c closed and wakes every waiter: receivers with ok = false and a
 * zeroed element, senders to panic. The woken Gs are readied after the
 * unlock, in queue order; each one's sudog is read before its G is readied
 * (afterwards it may be gone).
 */
void rt_chan_close(struct rt_chan *c)
{
	if (unlikely(c == NULL))
		rt_throw("close of nil channel");
	chan_check(c, "rt_chan_close");
	chan_lock(c);
	if (unlikely(c->closed)) {
		chan_unlock(c);
		rt_throw("close of closed channel %p", (void *)c);
	}
	c->closed = 1;
	struct sudog *head = NULL, **tail = &head, *sg;
	while ((sg = waitq_dequeue(&c->recvq)) != NULL) {
		elem_clear(c, sg->elem);
		sg->success = false;
		sg->g->param = sg;
		*tail = sg;
		tail = &sg->readylink;
	}
	while ((sg = waitq_dequeue(&c->sendq)) != NULL) {
		sg->success = false;
		sg->g->param = sg;
		*tail = sg;
		tail = &sg->readylink;
	}
	*tail = NULL;
	chan_unlock(c);
	while (head != NULL) {
		struct sudog *next = head->readylink;
		rt_ready(head->g);
		head = next;
	}
}
