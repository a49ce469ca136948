/*
 * mgcwork.c - the grey set: work buffers, each P's gcwork, and the mark's
 * termination (Go's mgcwork.go and the getfull of Go 1.4's mgc0.c).
 *
 * What. A grey object is one whose mark bit is set and whose fields are not
 * yet scanned. Grey objects' addresses live in 2 KiB work buffers
 * (struct workbuf, 254 addresses): each P's worker owns two (struct gcwork),
 * and full buffers that a worker published wait on the global list work.full
 * for any worker to take. Empty buffers wait on work.empty. Buffers come
 * off-heap from persistent_alloc (charged to GCSys) and are never freed: a
 * mark needs about as many as it ever needed.
 *
 * A worker's two buffers (Go's wbuf1/wbuf2 hysteresis). put pushes onto wbuf1;
 * when it is full, swap with wbuf2; when both are full, publish wbuf1 and take
 * an empty one. tryget pops from wbuf1, swaps when it is empty, and only when
 * both are empty takes a full buffer from the list (giving back an empty
 * one). So a worker crossing a buffer boundary back and forth never touches
 * the global lists. Balancing: while other workers wait, a worker with a
 * non-empty wbuf2 publishes it (gcw_balance, called every few objects).
 *
 * Termination (DESIGN.md 7.4). Global state `work`: full, empty, nproc
 * (workers in this mark), nwait (workers waiting), done, nexited, under one
 * leaf lock work.lock (LOCKRANK_GCWORK: nothing is taken while it is held).
 * A worker whose buffers are empty calls gcwork_getfull:
 *   1. lock; a full buffer? take it, unlock, return true;
 *   2. nwait++; if nwait == nproc set done; unlock;
 *   3. spin without the lock until full is non-empty or done (after a while,
 *      doze: an M of a 2-core host may be descheduled, and spinning Ms steal
 *      its time; whoever publishes a buffer or sets done wakes the dozers,
 *      work.dozing); if done, return false;
 *   4. lock; a full buffer? nwait--, take it, unlock, return true; else
 *      unlock, go to 3.
 * Why it cannot end early: grey objects exist only in an active worker's
 * buffers, on full, or in root jobs not yet claimed. A worker waits only with
 * both buffers empty and the root jobs exhausted (mgcmark.c claims them
 * first); only active workers publish; and becoming a waiter, taking from
 * full and declaring done happen under one lock with the counter. So when
 * done is set, every worker waits, full is empty, and nothing is grey.
 * Leaving: a worker that saw done counts itself in nexited; the stopper
 * waits until all have, before it resets work for another mark, so a worker
 * delayed between its last look at full and its look at done (a descheduled
 * vCPU) cannot miss the done of this mark and wait in the next.
 *
 * Concurrent marking (mgc.c) keeps these structures and uses the protocol
 * above only with the world stopped. While the program runs, whoever marks
 * (the cycle's starter, mark assists) takes buffers with gcw_tryget on its
 * current P with the M held, and publishes both of its buffers (gcw_dispose)
 * before it lets go of the M, so no grey object stays behind on a P nobody
 * marks on. The write barrier greys into its P's gcwork (gcw_put: a buffer
 * is published when both are full; what is left waits for a marker on that
 * P or for mark termination). The
 * first stop greys only M 0's frames, published; mark termination (world stopped)
 * publishes every P's (gcwork_dispose_all) and drains with the protocol
 * above, so "nothing grey" is decided only with the world stopped.
 */
#include "rt/fixalloc.h"
#include "rt/mgc.h"
#include "rt/mstats.h"
#include "rt/runtime2.h"

struct gcwork gcwork_of[RT_MAX_PROCS];

static struct {
	struct rt_lock lock;        /* LOCKRANK_GCWORK: full, empty, nwait, done */
	struct workbuf *full;       /* published grey buffers (lock) */
	struct workbuf *empty;      /* spare buffers (lock) */
	volatile uint64_t nfull;    /* buffers on full: read without the lock to spin */
	volatile uint64_t epoch;    /* +1 at every put on and take off full (lock; read without) */
	int nproc;                  /* workers in this mark */
	volatile int nwait;         /* workers waiting in getfull (lock; read without it) */
	volatile bool done;         /* every worker waits and full is empty (lock) */
	volatile int nexited;       /* workers that saw done (atomic) */
	volatile uint64_t dozing;   /* bit m->id: that worker dozes in step 3 (atomic) */
	bool inited;
} work;

#define GETFULL_SPIN_NS 50000ull    /* spin this long before dozing */
#define GETFULL_DOZE_NS 1000000ull  /* then sleep in rt_port_idle up to this long (kernel: the tick) */

static void work_init(void)
{
	if (!work.inited) {
		rt_lock_init(&work.lock, LOCKRANK_GCWORK, "gcwork");
		work.inited = true;
	}
}

static struct workbuf *getempty(void)
{
	rt_lock(&work.lock);
	struct workbuf *b = work.empty;
	if (b != NULL)
		work.empty = b->next;
	rt_unlock(&work.lock);
	if (b == NULL)
		b = persistent_alloc(sizeof(struct workbuf), 64, &rt_mstats.gc_sys);
	b->next = NULL;
	b->nobj = 0;
	return b;
}

static void putempty(struct workbuf *b)
{
	RT_DASSERT(b->nobj == 0);
	rt_lock(&work.lock);
	b->next = work.empty;
	work.empty = b;
	rt_unlock(&work.lock);
}

/*
 * Ends the doze of every worker dozing in step 3: called after publishing a
 * buffer or declaring done, both stored SEQ_CST before the bits are read,
 * as a dozer stores its bit before its last look at nfull and done (a
 * Dekker pair: either the dozer sees the work or this sees the dozer).
 */
static void wake_dozers(void)
{
	uint64_t bits = __atomic_load_n(&work.dozing, __ATOMIC_SEQ_CST);
	while (bits != 0) {
		sched_wake_m(rt_allm[__builtin_ctzll(bits)]);
		bits &= bits - 1;
	}
}

static void putfull(struct workbuf *b)
{
	RT_DASSERT(b->nobj > 0);
	rt_lock(&work.lock);
	b->next = work.full;
	work.full = b;
	__atomic_add_fetch(&work.nfull, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&work.epoch, 1, __ATOMIC_SEQ_CST);
	rt_unlock(&work.lock);
	wake_dozers();
}

/* A full buffer off the list, or NULL. work.lock held. */
static struct workbuf *takefull_locked(void)
{
	struct workbuf *b = work.full;
	if (b != NULL) {
		work.full = b->next;
		b->next = NULL;
		__atomic_sub_fetch(&work.nfull, 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&work.epoch, 1, __ATOMIC_SEQ_CST);
	}
	return b;
}

static void gcw_init(struct gcwork *w)
{
	w->wbuf1 = getempty();
	w->wbuf2 = getempty();
}

void gcw_put(struct gcwork *w, uintptr_t obj)
{
	if (unlikely(w->wbuf1 == NULL))
		gcw_init(w);
	struct workbuf *b = w->wbuf1;
	if (unlikely(b->nobj == WORKBUF_NOBJ)) {
		w->wbuf1 = w->wbuf2;
		w->wbuf2 = b;
		b = w->wbuf1;
		if (b->nobj == WORKBUF_NOBJ) {
			putfull(b);
			b = w->wbuf1 = getempty();
		}
	}
	b->obj[b->nobj++] = obj;
}

uintptr_t gcw_tryget(struct gcwork *w)
{
	if (unlikely(w->wbuf1 == NULL))
		gcw_init(w);
	struct workbuf *b = w->wbuf1;
	if (unlikely(b->nobj == 0)) {
		w->wbuf1 = w->wbuf2;
		w->wbuf2 = b;
		b = w->wbuf1;
		if (b->nobj == 0) {
			rt_lock(&work.lock);
			struct workbuf *f = takefull_locked();
			rt_unlock(&work.lock);
			if (f == NULL)
				return 0;
			putempty(b);
			b = w->wbuf1 = f;
		}
	}
	return b->obj[--b->nobj];
}

void gcw_balance(struct gcwork *w)
{
	if (__atomic_load_n(&work.nwait, __ATOMIC_RELAXED) == 0 || w->wbuf2 == NULL ||
	    w->wbuf2->nobj == 0)
		return;
	putfull(w->wbuf2);
	w->wbuf2 = getempty();
}

bool gcw_empty(const struct gcwork *w)
{
	return w->wbuf1 == NULL || (w->wbuf1->nobj == 0 && w->wbuf2->nobj == 0);
}

void gcw_dispose(struct gcwork *w)
{
	if (w->wbuf1 == NULL)
		return;
	if (w->wbuf1->nobj != 0) {
		putfull(w->wbuf1);
		w->wbuf1 = getempty();
	}
	if (w->wbuf2->nobj != 0) {
		putfull(w->wbuf2);
		w->wbuf2 = getempty();
	}
}

void gcwork_dispose_all(void)
{
	work_init();
	for (int p = 0; p < RT_MAX_PROCS; p++)
		gcw_dispose(&gcwork_of[p]);
}

void gcwork_begin(int nproc, bool drain_only)
{
	work_init();
	RT_ASSERT_MSG(drain_only || (work.full == NULL && work.nfull == 0),
		      "gcwork_begin: %lu full buffers left", (unsigned long)work.nfull);
	work.nproc = nproc;
	work.nwait = 0;
	work.done = false;
	work.nexited = 0;
}

bool gcwork_getfull(struct gcwork *w, struct rt_m *m)
{
	RT_DASSERT(gcw_empty(w));
	if (w->wbuf1 == NULL)
		gcw_init(w);
	/* Steps 1 and 2. */
	rt_lock(&work.lock);
	struct workbuf *f = takefull_locked();
	bool declared_done = false;
	if (f == NULL && ++work.nwait == work.nproc) {
		__atomic_store_n(&work.done, true, __ATOMIC_SEQ_CST);
		declared_done = true;
	}
	rt_unlock(&work.lock);
	if (declared_done)
		wake_dozers();
	uint64_t t0 = 0;
	while (f == NULL) {
		/* Step 3. */
		if (__atomic_load_n(&work.done, __ATOMIC_ACQUIRE))
			return false;
		if (__atomic_load_n(&work.nfull, __ATOMIC_ACQUIRE) == 0) {
			uint64_t now = rt_port_nanotime();
			if (t0 == 0)
				t0 = now;
			if (now - t0 < GETFULL_SPIN_NS) {
				__builtin_ia32_pause();
			} else {
				/* Doze until a buffer is published or done is set
				 * (wake_dozers), at most GETFULL_DOZE_NS. */
				uint64_t bit = 1ull << m->id;
				__atomic_store_n(&m->wake, 0, __ATOMIC_SEQ_CST);
				__atomic_or_fetch(&work.dozing, bit, __ATOMIC_SEQ_CST);
				if (__atomic_load_n(&work.nfull, __ATOMIC_SEQ_CST) == 0 &&
				    !__atomic_load_n(&work.done, __ATOMIC_SEQ_CST))
					rt_port_idle(m, now + GETFULL_DOZE_NS);
				__atomic_and_fetch(&work.dozing, ~bit, __ATOMIC_SEQ_CST);
			}
			continue;
		}
		/* Step 4. */
		rt_lock(&work.lock);
		f = takefull_locked();
		if (f != NULL)
			work.nwait--;
		rt_unlock(&work.lock);
	}
	putempty(w->wbuf1);
	w->wbuf1 = f;
	return true;
}

void gcwork_exit(void)
{
	__atomic_add_fetch(&work.nexited, 1, __ATOMIC_ACQ_REL);
}

void gcwork_wait_exited(bool drained)
{
	while (__atomic_load_n(&work.nexited, __ATOMIC_ACQUIRE) != work.nproc)
		__builtin_ia32_pause();
	RT_ASSERT_MSG(!drained || (work.full == NULL && work.nwait == work.nproc),
		      "mark ended with %lu full buffers, %d of %d workers waiting",
		      (unsigned long)work.nfull, work.nwait, work.nproc);
}

bool gcwork_has_full(void)
{
	return __atomic_load_n(&work.nfull, __ATOMIC_SEQ_CST) != 0;
}

uint64_t gcwork_epoch(void)
{
	return __atomic_load_n(&work.epoch, __ATOMIC_SEQ_CST);
}

bool gcwork_all_empty(void)
{
	if (work.full != NULL)
		return false;
	for (int p = 0; p < RT_MAX_PROCS; p++)
		if (!gcw_empty(&gcwork_of[p]))
			return false;
	return true;
}
