/*
 * chan.h - the channel's structure and the steps rt/chan.c shares with
 * rt/select.c (Go's chan.go and select.go share hchan the same way).
 * Internal to rt/; the public API is rt/sched.h. The invariants and the
 * locking rules are rt/chan.c's essay.
 */
#ifndef RT_CHAN_H
#define RT_CHAN_H

#include "rt/runtime2.h"

struct waitq {
	struct sudog *first, *last;
};

struct rt_chan {
	struct rt_lock lock;
	uint8_t *buf;              /* cap * elemsize bytes (immutable); NULL if that is 0 */
	size_t elemsize, cap;      /* immutable */
	size_t qcount;             /* elements in the ring (lock; atomic load in rt_chan_len) */
	size_t sendx, recvx;       /* next slot to fill / to take (lock) */
	struct waitq sendq, recvq; /* blocked senders / receivers (lock) */
	uint32_t closed;           /* (lock) */
	uint32_t magic;            /* CHAN_MAGIC: catches a stray pointer passed as a channel */
};

/* Panics on NULL; at RT_DEBUG >= 1 also on a non-channel or outside a coroutine. */
void chan_check(const struct rt_chan *c, const char *op);
/* Lock and unlock c; each held channel lock also holds the M (m->locks). */
void chan_lock(struct rt_chan *c);
void chan_unlock(struct rt_chan *c);
/* The unlock of an rt_park unlock function, on g0 (the G is already off the CPU). */
void chan_unlock_g0(struct rt_chan *c);

/* Wait queues (c->lock held). */
void waitq_enqueue(struct waitq *q, struct sudog *sg);
void waitq_remove(struct waitq *q, struct sudog *sg);
/* The first waiter that can still be woken (select's: claimed by CAS), or NULL. */
struct sudog *waitq_dequeue(struct waitq *q);

/* Elements (c->lock held); a NULL destination drops the element. */
void elem_clear(const struct rt_chan *c, void *dst);
void ring_put(struct rt_chan *c, const void *elem);   /* at the tail; room checked by the caller */
void ring_take(struct rt_chan *c, void *elem);        /* the head; its slot is cleared */
/* The waker's half of a hand-off to a dequeued sudog: returns the G to ready after unlocking. */
struct rt_g *send_to_receiver(struct rt_chan *c, struct sudog *sg, const void *elem);
struct rt_g *recv_from_sender(struct rt_chan *c, struct sudog *sg, void *elem);

#endif
