/*
 * proc.c - the coroutine scheduler: Gs on Ms with Ps, as Go's proc.go.
 *
 * What it does. rt_run starts one M per P (kernel: every CPU; hosted: one
 * thread each) and the main coroutine; each M loops in schedule() on its own
 * system stack ("g0") picking a runnable G and switching to it. A G leaves
 * the CPU only at defined points: it yields (rt_gosched), parks (a channel,
 * mutex, wait group or sleep: rt_park), exits, or is preempted. When the main
 * coroutine returns, the world ends: every M leaves its loop, the Gs still
 * alive are destroyed and their stacks go back to the OS.
 *
 * Run queues (Go's design, with its sizes):
 *   - each P has a 256-entry ring plus a runnext slot. The owner puts at the
 *     tail and takes at the head; thieves take half from the head with a CAS,
 *     so the ring needs no lock (head and tail are atomics; entries are
 *     published by the tail store's release);
 *   - a new or readied G goes to runnext (a producer/consumer pair keeps
 *     handing off on one CPU; the displaced one goes to the tail);
 *   - a full ring moves half of itself and the new G to the global queue;
 *   - every 61st round a P looks at the global queue first, so it cannot starve;
 *     and at the other Ps' due sleepers and at the queue of any P whose M has
 *     not switched for HANDOFF_STALE_NS (one G), so neither can a P held by
 *     one G while every other M always has local work (no M spins then);
 *   - rt_gosched and preemption put the G on the global queue (Go does too).
 * Creating and exiting touch no shared cache line (a creator on one P and
 * the Ps that run its Gs, issue 14: at 2 Ps the shared counters and a lock
 * per G made create + exit 1.6x slower than at 1 P): dead Gs keep their
 * stacks on a per-P list that spills to the global one and refills from it
 * GFREE_BATCH at a time (Go's gfput/gfget); ids come from a per-P batch of
 * GOID_BATCH (Go's goidcache); the created/exited counts are per P, summed
 * by rt_read_sched_stats; and a switch to local work reads no clock.
 * Finding work (findrunnable): its P's due timers (rt/time.c; a spinning M
 * looks at them once per SPIN_TIMERS_NS, 10 us), the local queue,
 * the global queue (the cheap sources); then, if the M spins, stealing from the other Ps in a
 * random order (the last of four passes may take a P's runnext, after a 3 us
 * grace if that P is running, so a hand-off pair stays on one CPU); with
 * nothing found for SPIN_NS (50 us) the M stops and sleeps in rt_port_idle
 * (kernel: hlt with interrupts on, woken by an IPI or the tick; hosted: a
 * futex with the next timer's deadline).
 *
 * Spinning and waking (Go's findrunnable/wakep/resetspinning/stopm, with our
 * Ms keeping their Ps). A thread wake costs ~19 us here (futex or IPI), so a
 * new G wakes an M only when no M is already looking. State: the count
 * rt_sched.nmspinning (spinning Ms, plus a waker's claim in flight) and the
 * idle set rt_sched.idle_mask (bit i: M i is idle and may be claimed; O(1)
 * to claim with ctz, up to 64 Ms). All of it is seq_cst atomics.
 *   Submitting (wakep, after rt_go/rt_ready/gosched/timers put a G in a queue):
 *   W1. fence (the queue store before the loads); if the idle set is empty,
 *       return; if nmspinning != 0, return (a spinner will look); else CAS
 *       nmspinning 0 -> 1 (failed: someone else spins; return).
 *   W2. claim an M from the idle set (fetch_and of its bit), set its wake
 *       word and wake it: it owns the count and wakes spinning.
 *   W3. the set emptied meanwhile: give the count back and go to W1 (a
 *       submitter that saw our count relied on it).
 *   Spinning and stopping (findrunnable, stopm):
 *   S1. an M with nothing local may start spinning if 2 * nmspinning < busy
 *       Ms (nprocs minus the idle set); it steals for up to SPIN_NS. When it
 *       finds work it stops spinning (decrement) and calls wakep: more work
 *       may have come that relied on it (Go's resetspinning).
 *   S2. giving up: drop the count (decrement), clear its wake word, join the
 *       idle set (fetch_or);
 *   S3. fence, then re-check every source: the global queue, every P's ring
 *       and runnext (but see R2), a due timer, the end of the world;
 *   S4. work seen: leave the set (fetch_and); if the bit was already gone a
 *       waker claimed us and its count is ours, else take a count; steal;
 *   S5. else sleep until the wake word is set (or the tick, or the timer
 *       deadline), then leave the set; a bit already gone means "claimed":
 *       spin. An M that woke unclaimed takes only the cheap sources and goes
 *       back to S2 (no idle CPU spins on every tick).
 *   Hand-offs (issue 14: beside a ping-pong pair, every rt_ready's wakep woke
 *   an M that spun, found the pair's runnext guarded by runnext_grace, and
 *   saw it again in S3: the other Ms spun 9-19% of the time, never slept):
 *   R1. rt_ready that puts gp into runnext skips wakep if its M has switched
 *       within the preemption monitor's last two looks (m_switched_lately:
 *       it is handing off and will run gp at its next switch) and nothing
 *       was displaced into the ring; p->runnext_nowake marks such a G
 *       (stored before runnext, whose exchange releases it);
 *   R2. S3 passes by a marked runnext while its M is awake and not stuck
 *       (m_stuck: no switch for HANDOFF_STALE_NS, 1 ms); unmarked ones
 *       (rt_go's, woken for) and rings always count;
 *   R3. the monitor (kernel: each CPU's 1 kHz tick; hosted: the 1 ms monitor
 *       thread) calls wakep for a marked runnext whose M is m_stuck; the
 *       thief's runnext_grace sees no switch and takes it.
 *   The cost: a G readied by an M that then computes without switching
 *   waits up to one monitor period for the first look at the new count,
 *   HANDOFF_STALE_NS, and one more period (~2-3 ms, more if the host
 *   delays the monitor) instead of a thread wake (~19 us); a hand-off pair
 *   no longer keeps the other CPUs awake.
 * Why no wake-up is lost (a G published in a queue at time w while the other
 * Ms are idle or going idle must be taken by one of them, without the
 * submitter's M). Every M that sleeps did S2 then S3. Take any M X asleep
 * after w. If X joined the set after the submitter's loads in W1 (which
 * follow w), X's S3 re-check follows w and sees the G (seq_cst: the
 * fetch_or, then the loads, against the store, then the loads). Otherwise X
 * was in the set when the submitter looked, so the submitter either (a) saw
 * nmspinning == 0 and got the count: W2 claims X or another idle M, which
 * wakes spinning and steals after the claim, so after w; or W3 loops;
 * (b) lost the CAS or saw nmspinning != 0: some count existed when it read,
 * so its release comes after w in the total order; a spinner's release (S1
 * or S2) is followed by wakep or the S3 re-check, a waker's release (W3) by
 * a new look at the set, so again after w someone looks at the queue or
 * wakes an idle M. Each release is followed by a look, and counts are only
 * taken by Ms that then look (steal) before releasing: the chain ends with
 * the G taken. The exception is a marked G in runnext (R1: no wakep; R2 lets
 * S3 pass it by): its owner M takes it first at its next switch (runqget),
 * and if that M stops switching, R3 wakes a thief within the bound above,
 * whatever the other Ms are doing (the wake is W1-W3's, so the argument
 * above covers it from then on); in the kernel the tick also wakes every
 * idle M, whose S3 then counts the stuck runnext (R2). rt.sched.no_lost_handoff
 * readies a G while holding its M: hosted, it stalls without R3; in the
 * kernel, without R3 and R2's m_stuck. (Not bounded: an owner that keeps
 * switching without reaching runqget, e.g. a park whose unlock keeps
 * failing; no such loop exists.) R3 ignores unmarked runnexts, so
 * tests/host/test_rt_sched.c ("no lost wake-up") still checks the rest: a
 * submitter that holds its M (so its own P never runs the G) starts a G
 * 3000 times after random delays that land in every phase above; removing
 * the S3 re-check makes it stall within a few thousand rounds.
 * Memory order: x86 makes every atomic RMW a full fence; the explicit
 * seq_cst fences state the StoreLoad order for the C model (one mfence per
 * wakep and per stop; the fast path, "an M spins", is two loads).
 *
 * Preemption (Go's sysmon retake + async preemption). A G that has run for
 * RT_TIMESLICE_NS is asked to yield: g->preempt is set, and then
 *   - synchronously: its stack guard is poisoned (STACK_PREEMPT), so the next
 *     checked call enters __morestack, which yields (rt/stack.c step 1);
 *   - asynchronously: if the timer (kernel) or the preemption signal
 *     (hosted: sent by the monitor to a G asked at its last look, and by a
 *     stopper from its second request) interrupted preemptible code (not the
 *     runtime's or the OS's or libc's, no runtime lock or kernel spinlock
 *     held, room on the stack), the handler makes the G "call"
 *     rt_async_preempt(_hosted), which saves every register on the G's
 *     stack and yields. That stops a loop without calls. The port decides
 *     (rt/port/kernel.c, rt/port/hosted.c).
 *
 * Invariants:
 *   - a G is in at most one run queue, and only when G_RUNNABLE;
 *   - m->curg != NULL exactly while a user G runs on m (or is being switched);
 *   - runtime code never migrates mid-function: it is never a preemption
 *     point, and m->locks > 0 (rt_acquirem) wherever it uses the P's state.
 *
 * Locking: rt_sched.lock (LOCKRANK_SCHED) for the global queue and the
 * G lists; the sleep heap and its lock are rt/time.c's; run rings, the
 * spinning count and the idle set are lock-free (above); everything in an M
 * or P is its own M's.
 *
 * Timers (issue 14). With one global heap, every findrunnable took its
 * lock while any G slept, due or not (1.0-1.3 acquisitions per switch with
 * one long sleeper; on 4 vCPUs of this 2-core host up to 43% of them
 * waited): a serialization point on every CPU's schedule(). Now each P has
 * its own heap with an atomic earliest deadline (Go 1.14's timer0When,
 * rt/time.c): findrunnable looks at its own P's word (and the clock if a G
 * sleeps there) and locks only to take what is due; steal_work's last pass
 * takes other Ps' due sleepers, as does every M's 61st look (the fair
 * check, for Ms that always have local work, which also takes one G queued
 * on a P whose M has not switched for HANDOFF_STALE_NS); a stopping M
 * sleeps no later than the earliest deadline of every P (work_anywhere);
 * the monitor wakes a thief
 * for a due sleeper on a P whose M has not switched for HANDOFF_STALE_NS.
 * rt.sched.timers_not_due_take_no_lock: 0 acquisitions in 20000 switches.
 *
 * Cites: Go's proc.go (runqput/runqget/runqsteal, findrunnable, schedule,
 * gopark/goready, the 61-round global-queue check, "Worker thread
 * parking/unparking" for spinning Ms: wakep, resetspinning, stopm), and "Scalable Go
 * Scheduler Design Doc" (Vyukov, 2012) for the G/M/P split.
 */
#include "rt/fixalloc.h"
#include "rt/mbarrier.h"
#include "rt/mgc.h"
#include "rt/mprof.h"
#include "rt/mstats.h"
#include "rt/rt.h"
#include "rt/runtime2.h"

#define RT_TIMESLICE_NS 10000000ull   /* 10 ms, Go's forcePreemptNS */
#define GFREE_LOCAL_MAX 64   /* a P's dead-G list beyond this goes to the global list ... */
#define GFREE_BATCH     32   /* ... down to this; a P that runs dry takes this many back */
#define GOID_BATCH      16   /* coroutine ids a P takes from rt_sched.goidgen at a time (Go's _GoidCacheBatch) */
#define SPIN_NS         50000ull  /* how long an M spins with nothing found before it sleeps */
#define RUNNEXT_WAIT_NS 3000ull   /* a thief's grace before it takes a running P's runnext */
#define SPIN_TIMERS_NS  10000ull  /* how often a spinning M looks at the timers */
#define HANDOFF_STALE_NS 1000000ull /* R2/R3: an M that has not switched this long is not handing off */

struct schedt rt_sched;
struct rt_m *rt_allm[RT_MAX_PROCS];
struct rt_p *rt_allp[RT_MAX_PROCS];
static struct fixalloc g_alloc;
static uint64_t g_inuse;             /* bytes of G structs ever made (sched lock; read atomically) */
static struct rt_g *allgs;            /* every G struct ever made, through alllink (sched lock) */

static void schedule(struct rt_m *m) __attribute__((noreturn));
void rt_gstart(void);
void rt_async_preempt_yield(void);

uint64_t rt_nanotime(void) { return rt_port_nanotime(); }
uint64_t rt_goid(void) { struct rt_g *g = rt_getg_user(); return g ? g->id : 0; }
int rt_current_proc(void) { return rt_port_current_p(); }

/* ---- local run queues (Go's runqput/runqget/runqsteal) ------------------------ */

static void globrunqput_batch(struct rt_g *head, struct rt_g *tail, uint32_t n)
{
	rt_lock(&rt_sched.lock);
	tail->schedlink = NULL;
	if (rt_sched.runq_tail)
		rt_sched.runq_tail->schedlink = head;
	else
		rt_sched.runq_head = head;
	rt_sched.runq_tail = tail;
	rt_sched.runq_size += n;
	rt_unlock(&rt_sched.lock);
}

static void globrunqput(struct rt_g *g) { globrunqput_batch(g, g, 1); }

/* The ring is full: move half of it and g to the global queue. */
static bool runqputslow(struct rt_p *pp, struct rt_g *g, uint32_t h, uint32_t t)
{
	struct rt_g *batch[RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2;
	RT_ASSERT(n == RUNQ_SIZE / 2);
	for (uint32_t i = 0; i < n; i++)
		batch[i] = pp->runq[(h + i) % RUNQ_SIZE];
	if (!__atomic_compare_exchange_n(&pp->runqhead, &h, h + n, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		return false;
	batch[n] = g;
	for (uint32_t i = 0; i < n; i++)
		batch[i]->schedlink = batch[i + 1];
	globrunqput_batch(batch[0], batch[n], n + 1);
	return true;
}

/* With next, g goes to runnext (nowake: by R1, waking nobody; published
 * with it) and the G it displaces to the ring. Returns true if g took an
 * empty runnext (nothing was displaced into the ring). */
static bool runqput(struct rt_p *pp, struct rt_g *g, bool next, bool nowake)
{
	if (next) {
		__atomic_store_n(&pp->runnext_nowake, nowake, __ATOMIC_RELAXED);   /* released by the exchange */
		struct rt_g *old = __atomic_exchange_n(&pp->runnext, g, __ATOMIC_ACQ_REL);
		if (old == NULL)
			return true;
		g = old;   /* the displaced one goes to the tail */
	}
	for (;;) {
		uint32_t h = __atomic_load_n(&pp->runqhead, __ATOMIC_ACQUIRE);
		uint32_t t = pp->runqtail;
		if (t - h < RUNQ_SIZE) {
			pp->runq[t % RUNQ_SIZE] = g;
			__atomic_store_n(&pp->runqtail, t + 1, __ATOMIC_RELEASE);
			return false;
		}
		if (runqputslow(pp, g, h, t))
			return false;
	}
}

/* The next G of pp: runnext, else the ring's head. Its owner's fast path;
 * also safe for a thief (both take with a CAS): the fair check takes one G
 * this way from a P whose M has stopped switching. */
static struct rt_g *runqget(struct rt_p *pp)
{
	struct rt_g *next = __atomic_load_n(&pp->runnext, __ATOMIC_RELAXED);
	if (next != NULL && __atomic_compare_exchange_n(&pp->runnext, &next, NULL, false, __ATOMIC_ACQ_REL,
							 __ATOMIC_RELAXED))
		return next;
	for (;;) {
		uint32_t h = __atomic_load_n(&pp->runqhead, __ATOMIC_ACQUIRE);
		uint32_t t = __atomic_load_n(&pp->runqtail, __ATOMIC_ACQUIRE);   /* a thief may call it */
		if (t == h)
			return NULL;
		struct rt_g *g = pp->runq[h % RUNQ_SIZE];
		if (__atomic_compare_exchange_n(&pp->runqhead, &h, h + 1, false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return g;
	}
}

static bool runq_ring_empty(struct rt_p *pp)
{
	return __atomic_load_n(&pp->runqhead, __ATOMIC_ACQUIRE) == __atomic_load_n(&pp->runqtail, __ATOMIC_ACQUIRE);
}

static bool runq_empty(struct rt_p *pp)
{
	return runq_ring_empty(pp) && __atomic_load_n(&pp->runnext, __ATOMIC_ACQUIRE) == NULL;
}

static inline uint64_t m_bit(const struct rt_m *m) { return 1ull << m->id; }

/*
 * The hand-off rules R1-R3 (essay) read the preemption monitor's view of an
 * M (rt_preempt_due keeps it: the switch count at its last look and when it
 * first saw that count), so the switch path reads no clock.
 * m_switched_lately: m ran another G since the monitor's last look, or
 * between its last two (so at most two ticks ago): it is handing off and
 * will reach its runnext soon. (Not "since the last look" alone: the first
 * hand-off after each look would then wake an M, ten times in 10 ms.)
 * m_stuck: m's count has not moved for HANDOFF_STALE_NS: one G holds it.
 */
static bool m_switched_lately(const struct rt_m *m)
{
	return __atomic_load_n(&m->nswitches, __ATOMIC_RELAXED) !=
		       __atomic_load_n(&m->preempt_seen_switches, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&m->preempt_seen_moved, __ATOMIC_RELAXED);
}

static bool m_stuck(const struct rt_m *m, uint64_t now)
{
	uint64_t seen_ns = __atomic_load_n(&m->preempt_seen_ns, __ATOMIC_RELAXED);
	return __atomic_load_n(&m->nswitches, __ATOMIC_RELAXED) ==
		       __atomic_load_n(&m->preempt_seen_switches, __ATOMIC_RELAXED) &&
	       seen_ns != 0 && now - seen_ns >= HANDOFF_STALE_NS;
}
static bool runnext_grace(struct rt_p *victim);

/* Takes half of victim's queue into pp's (empty) ring; returns one G to run.
 * With take_next, an empty ring's runnext may be taken (see steal_work). */
static struct rt_g *runqsteal(struct rt_p *pp, struct rt_p *victim, bool take_next)
{
	for (;;) {
		uint32_t h = __atomic_load_n(&victim->runqhead, __ATOMIC_ACQUIRE);
		uint32_t t = __atomic_load_n(&victim->runqtail, __ATOMIC_ACQUIRE);
		uint32_t n = t - h;
		n -= n / 2;
		if (n == 0) {
			/* Take runnext too: its P may be about to run it, but it is not running yet. */
			if (!take_next || __atomic_load_n(&victim->runnext, __ATOMIC_RELAXED) == NULL)
				return NULL;
			if (!runnext_grace(victim))
				return NULL;
			struct rt_g *next = __atomic_load_n(&victim->runnext, __ATOMIC_ACQUIRE);
			if (next != NULL && __atomic_compare_exchange_n(&victim->runnext, &next, NULL, false,
									 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				return next;
			return NULL;
		}
		if (n > RUNQ_SIZE / 2)
			continue;   /* read h and t inconsistently; retry */
		struct rt_g *batch[RUNQ_SIZE / 2];
		for (uint32_t i = 0; i < n; i++)
			batch[i] = victim->runq[(h + i) % RUNQ_SIZE];
		if (!__atomic_compare_exchange_n(&victim->runqhead, &h, h + n, false, __ATOMIC_RELEASE,
						 __ATOMIC_RELAXED))
			continue;
		uint32_t tt = pp->runqtail;
		for (uint32_t i = 1; i < n; i++)
			pp->runq[(tt + i - 1) % RUNQ_SIZE] = batch[i];
		__atomic_store_n(&pp->runqtail, tt + n - 1, __ATOMIC_RELEASE);
		return batch[0];
	}
}

/*
 * Before taking a P's runnext, give its M (awake: running a G or in the
 * scheduler about to pick one) a moment to run it itself (Go sleeps 3 us
 * there): a hand-off pair should stay on one P. Returns
 * false if the owner switched Gs meanwhile: it is handing off actively (a
 * ping-pong pair refills runnext every few hundred ns, so the pointer seen
 * after the grace may be the same G again; taking it would split the pair).
 */
static bool runnext_grace(struct rt_p *victim)
{
	struct rt_m *owner = rt_allm[victim->id];
	if (__atomic_load_n(&rt_sched.idle_mask, __ATOMIC_RELAXED) & m_bit(owner))
		return true;   /* asleep: it will not run it */
	uint64_t switches = __atomic_load_n(&owner->nswitches, __ATOMIC_RELAXED);
	uint64_t until = rt_port_nanotime() + RUNNEXT_WAIT_NS;
	while (rt_port_nanotime() < until)
		__builtin_ia32_pause();
	return __atomic_load_n(&owner->nswitches, __ATOMIC_RELAXED) == switches;
}

static struct rt_g *globrunqget(struct rt_p *pp, bool batch)
{
	if (__atomic_load_n(&rt_sched.runq_size, __ATOMIC_RELAXED) == 0)
		return NULL;
	rt_lock(&rt_sched.lock);
	struct rt_g *g = rt_sched.runq_head;
	if (g == NULL) {
		rt_unlock(&rt_sched.lock);
		return NULL;
	}
	uint32_t n = 1;
	if (batch) {   /* a fair share, as Go's globrunqget */
		n = rt_sched.runq_size / (uint32_t)rt_sched.nprocs + 1;
		if (n > RUNQ_SIZE / 2)
			n = RUNQ_SIZE / 2;
	}
	rt_sched.runq_head = g->schedlink;
	rt_sched.runq_size--;
	for (uint32_t i = 1; i < n && rt_sched.runq_head != NULL; i++) {
		struct rt_g *x = rt_sched.runq_head;
		rt_sched.runq_head = x->schedlink;
		rt_sched.runq_size--;
		runqput(pp, x, false, false);
	}
	if (rt_sched.runq_head == NULL)
		rt_sched.runq_tail = NULL;
	rt_unlock(&rt_sched.lock);
	return g;
}

/* ---- spinning and idle Ms (the wake-up protocol, essay steps W1-W3, S1-S5) ---- */

static void cpu_pause(void) { __builtin_ia32_pause(); }

/* S2: m joins the idle set (it may now be claimed by a waker). */
static void midle_put(struct rt_m *m)
{
	__atomic_fetch_or(&rt_sched.idle_mask, m_bit(m), __ATOMIC_SEQ_CST);
}

/*
 * S5: m leaves the idle set itself. Returns false if a waker had claimed it
 * already (W2): the claim carries a spinning count, which m now owns.
 */
static bool midle_remove_self(struct rt_m *m)
{
	return (__atomic_fetch_and(&rt_sched.idle_mask, ~m_bit(m), __ATOMIC_SEQ_CST) & m_bit(m)) != 0;
}

/* W2: takes one M out of the idle set (the first after self, so wakes spread); NULL if none. */
static struct rt_m *midle_claim(const struct rt_m *self)
{
	uint64_t mask = __atomic_load_n(&rt_sched.idle_mask, __ATOMIC_SEQ_CST);
	while (mask != 0) {
		unsigned rot = self ? (unsigned)(self->id + 1) % 64u : 0;
		uint64_t r = rot ? (mask >> rot) | (mask << (64u - rot)) : mask;
		unsigned id = ((unsigned)__builtin_ctzll(r) + rot) % 64u;
		uint64_t bit = 1ull << id;
		uint64_t old = __atomic_fetch_and(&rt_sched.idle_mask, ~bit, __ATOMIC_SEQ_CST);
		if (old & bit)
			return rt_allm[id];
		mask = old & ~bit;   /* someone else took it: try the rest */
	}
	return NULL;
}

/*
 * W1-W3 (Go's wakep): there is new work; make sure an M will look for it.
 * If an M spins, it will (S1/S3); otherwise take the one spinning slot and
 * wake an idle M into it. The caller has published the work before this.
 * Returns true if it woke an M.
 */
static bool wakep(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);   /* the publish before the loads below (StoreLoad) */
	struct rt_m *self = rt_getm();
	for (;;) {
		if (__atomic_load_n(&rt_sched.idle_mask, __ATOMIC_SEQ_CST) == 0)
			return false;   /* every M awake: each re-checks before it sleeps (S3) */
		uint32_t zero = 0;
		if (__atomic_load_n(&rt_sched.nmspinning, __ATOMIC_SEQ_CST) != 0 ||
		    !__atomic_compare_exchange_n(&rt_sched.nmspinning, &zero, 1, false, __ATOMIC_SEQ_CST,
						 __ATOMIC_SEQ_CST))
			return false;   /* a spinner will see the work: its count's release re-checks (S1, W3) */
		struct rt_m *m = midle_claim(self);
		if (m != NULL) {
			/* m owns the count now (S5); it wakes spinning. */
			sched_wake_m(m);
			__atomic_add_fetch(&rt_sched.nwakeups, 1, __ATOMIC_RELAXED);
			return true;
		}
		/* W3: the set emptied under us. A submitter may have counted on the
		 * count we held: give it back, then look at the idle set again. */
		__atomic_sub_fetch(&rt_sched.nmspinning, 1, __ATOMIC_SEQ_CST);
	}
}

/* S1: m found work while spinning: stop spinning, and keep one M spinning if
 * none does (Go's resetspinning): more work may have come without a wake. */
static void resetspinning(struct rt_m *m)
{
	RT_ASSERT(m->spinning);
	m->spinning = false;
	uint32_t n = __atomic_sub_fetch(&rt_sched.nmspinning, 1, __ATOMIC_SEQ_CST);
	RT_ASSERT(n < (uint32_t)RT_MAX_PROCS * 2);   /* no underflow */
	wakep();
}

/* May m start spinning? At most half the busy Ms spin (Go's rule), so a
 * mostly idle machine does not burn its CPUs looking for work. */
static bool spin_allowed(void)
{
	uint32_t idle = 0;   /* a bit count without libgcc or POPCNT (the kernel has neither) */
	for (uint64_t x = __atomic_load_n(&rt_sched.idle_mask, __ATOMIC_RELAXED); x != 0; x &= x - 1)
		idle++;
	uint32_t busy = (uint32_t)rt_sched.nprocs - idle;
	return 2 * __atomic_load_n(&rt_sched.nmspinning, __ATOMIC_RELAXED) < busy;
}

static void spin_start(struct rt_m *m)
{
	m->spinning = true;
	__atomic_add_fetch(&rt_sched.nmspinning, 1, __ATOMIC_SEQ_CST);
}

/* Is any work queued anywhere (S3's re-check; after the announcement)?
 * *deadline = the earliest sleeper's wake time over every P (0: none), the
 * latest an idle M may sleep (a sleeper on a P whose M keeps computing is
 * taken by a thief, steal_work). */
static bool work_anywhere(uint64_t *deadline)
{
	*deadline = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);   /* the announcement before these loads (StoreLoad) */
	if (rt_sched.ending || __atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_SEQ_CST) ||
	    __atomic_load_n(&rt_sched.runq_size, __ATOMIC_SEQ_CST) != 0)
		return true;
	if (gc_mark_work_published())
		return true;   /* grey work for an idle worker (its publisher's wakep, mgc.c) */
	uint64_t now = rt_port_nanotime();
	for (int i = 0; i < rt_sched.nprocs; i++) {
		struct rt_p *pp = rt_allp[i];
		if (!runq_ring_empty(pp))
			return true;
		uint64_t when = timers_earliest(&pp->timers);
		if (when != 0 && when <= now)
			return true;
		if (when != 0 && (*deadline == 0 || when < *deadline))
			*deadline = when;
		/* R2: R1's runnext (no wake) is its owner's to run while it keeps
		 * switching; any other runnext counts, as the protocol needs. */
		if (__atomic_load_n(&pp->runnext, __ATOMIC_ACQUIRE) != NULL) {
			struct rt_m *owner = rt_allm[pp->id];
			if (!__atomic_load_n(&pp->runnext_nowake, __ATOMIC_RELAXED) ||
			    (__atomic_load_n(&rt_sched.idle_mask, __ATOMIC_SEQ_CST) & m_bit(owner)) ||
			    m_stuck(owner, now))
				return true;
		}
	}
	return false;
}

/*
 * m's sleep accounting, a seqcount so rt_read_sched_stats can add a sleep
 * still under way (an M asleep for a whole window must show as asleep).
 * idle_mark(m, true) at the start of a sleep, (m, false) at its end (own M
 * only); the clock is read inside the odd window, after the reader's own
 * clock read or before its retry, so a reader's total never goes backwards.
 */
static void idle_mark(struct rt_m *m, bool start)
{
	__atomic_store_n(&m->idle_seq, m->idle_seq + 1, __ATOMIC_RELAXED);   /* odd: changing */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);   /* the odd count before the clock read */
	uint64_t now = rt_port_nanotime();
	if (start) {
		__atomic_store_n(&m->idle_since, now, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&m->idle_ns, m->idle_ns + (now - m->idle_since), __ATOMIC_RELAXED);
		__atomic_store_n(&m->idle_since, 0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&m->idle_seq, m->idle_seq + 1, __ATOMIC_RELEASE);
}

/* m's total sleep including one under way (any thread). */
static uint64_t idle_read(const struct rt_m *m)
{
	for (;;) {
		uint32_t s = __atomic_load_n(&m->idle_seq, __ATOMIC_SEQ_CST);
		uint64_t now = rt_port_nanotime();
		uint64_t total = __atomic_load_n(&m->idle_ns, __ATOMIC_RELAXED);
		uint64_t since = __atomic_load_n(&m->idle_since, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if ((s & 1) == 0 && __atomic_load_n(&m->idle_seq, __ATOMIC_RELAXED) == s)
			return total + (since != 0 && now > since ? now - since : 0);
		cpu_pause();
	}
}

/* m->idle_state ("Stopping idle Ms" below). */
enum m_idle_state { M_BUSY = 0, M_IDLE, M_IDLE_COUNTED };
static void idle_end(struct rt_m *m);

/*
 * S2-S5 (Go's stopm, our Ms keeping their Ps): m found nothing. Drop the
 * spinning count, join the idle set, re-check every queue, and sleep unless
 * something turned up. On return m looks again; m->spinning says whether a
 * waker claimed it (then it steals), *alone whether it woke unclaimed.
 */
static void stopm(struct rt_m *m, bool *alone)
{
	bool was_spinning = m->spinning;
	if (was_spinning) {
		m->spinning = false;
		__atomic_sub_fetch(&rt_sched.nmspinning, 1, __ATOMIC_SEQ_CST);
	}
	__atomic_store_n(&m->wake, 0, __ATOMIC_SEQ_CST);
	midle_put(m);
	__atomic_store_n(&m->idle_state, M_IDLE, __ATOMIC_SEQ_CST);   /* I1: before S3's look at gcwaiting */
	*alone = false;
	uint64_t deadline;
	if (work_anywhere(&deadline)) {
		idle_end(m);
		/* S4: out again. A claim raced with us: its count is ours. */
		if (!midle_remove_self(m)) {
			m->spinning = true;
			m->nwoken++;
		} else {
			spin_start(m);   /* steal what we saw (over the limit: it is there) */
		}
		return;
	}
	idle_mark(m, true);
	rt_port_idle(m, deadline);
	idle_mark(m, false);
	idle_end(m);
	if (!midle_remove_self(m)) {   /* S5 */
		m->spinning = true;
		m->nwoken++;
	} else {
		m->nidle_wakes++;
		*alone = true;
	}
}

/* Ends m's sleep in rt_port_idle, or its next one before it starts (m->wake). */
void sched_wake_m(struct rt_m *m)
{
	__atomic_store_n(&m->wake, 1, __ATOMIC_SEQ_CST);
	rt_port_wake(m);
}

static void wake_all(void)
{
	for (int i = 0; i < rt_sched.nprocs; i++)
		sched_wake_m(rt_allm[i]);
}

/* ---- due timers (rt/time.c) ------------------------------------------------------ */

/* Makes every sleeper of t due by now runnable on pp; whether it readied any. */
static bool ready_due_timers(struct rt_p *pp, struct rt_timers *t)
{
	struct rt_g *due = timers_take_due(t);
	bool any = due != NULL;
	while (due != NULL) {
		struct rt_g *g = due;
		due = g->schedlink;
		RT_ASSERT(g->status == G_WAITING);
		__atomic_store_n(&g->status, G_RUNNABLE, __ATOMIC_RELEASE);
		runqput(pp, g, false, false);
	}
	return any;
}

/* ---- running a G ---------------------------------------------------------------- */

static void execute(struct rt_m *m, struct rt_g *g) __attribute__((noreturn));
static void execute(struct rt_m *m, struct rt_g *g)
{
	RT_ASSERT_MSG(g->status == G_RUNNABLE, "execute: G %lu status %u", (unsigned long)g->id, g->status);
	if (unlikely(__atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE) == GC_CONCMARK) &&
	    __atomic_load_n(&g->gc_scan_gen, __ATOMIC_ACQUIRE) != __atomic_load_n(&gc_stack_gen, __ATOMIC_RELAXED))
		gc_scan_before_run(g);   /* a G runs only once its stack is scanned (rt/mgcmark.c) */
	__atomic_store_n(&g->status, G_RUNNING, __ATOMIC_RELAXED);
	g->preempt = false;
	m->curg = g;
	__atomic_store_n(&m->nswitches, m->nswitches + 1, __ATOMIC_RELAXED);   /* read by thieves, R1-R3 */
	if (g->in_morestack) {
		g->in_morestack = false;
		m->morebuf = g->morebuf;
		rt_morestack_tail(&m->morebuf, g->stackguard);
	}
	rt_gogo(g->sched_sp, g->stackguard);
}

/* Makes victim's due sleepers runnable on m's P; whether there were any. */
static bool steal_due_timers(struct rt_m *m, struct rt_p *victim)
{
	if (!ready_due_timers(m->p, &victim->timers))
		return false;
	m->ntimers_stolen++;
	return true;
}

/* The cheap sources, in Go's order: due timers (if check_timers), every
 * 61st round the global queue, the local queue, a batch of the global queue. */
static struct rt_g *find_local_work(struct rt_m *m, bool check_timers)
{
	struct rt_p *pp = m->p;
	bool ran_timers = false;
	if (check_timers) {
		bool was_empty = runq_empty(pp);
		ready_due_timers(pp, &pp->timers);   /* nothing due: no lock */
		ran_timers = was_empty && !runq_empty(pp);
	}
	struct rt_g *g = NULL;
	if (m->schedtick++ % 61 == 0) {
		/* Fairness for a P whose M stopped switching (a G holding it, or
		 * a call-free loop hosted) while every other M always has local
		 * work, so none reaches steal_work and none is idle for the
		 * monitor to wake: take its due sleepers, and one G of its queue. */
		uint64_t now = 0;
		for (int i = 0; i < rt_sched.nprocs; i++) {
			struct rt_p *v = rt_allp[i];
			if (v == pp)
				continue;
			steal_due_timers(m, v);
			if (g == NULL && !runq_empty(v)) {
				if (now == 0)
					now = rt_port_nanotime();
				if (m_stuck(rt_allm[v->id], now) && (g = runqget(v)) != NULL)
					m->nstolen++;
			}
		}
		if (g == NULL)
			g = globrunqget(pp, false);
	}
	if (g == NULL)
		g = runqget(pp);
	if (g == NULL)
		g = globrunqget(pp, true);
	if (ran_timers && g != NULL && !runq_empty(pp))
		wakep();   /* timers readied more than this M will run now */
	return g;
}

/* Steals from the other Ps: four passes in a random order; the last one may
 * take a P's runnext (after a grace, if that P is running: Go's rule, so a
 * producer/consumer pair on one P is not split) and takes the P's due
 * sleepers onto pp (Go's stealWork: a P whose M keeps computing would
 * otherwise keep them until it switches). */
static struct rt_g *steal_work(struct rt_m *m)
{
	struct rt_p *pp = m->p;
	for (int pass = 0; pass < 4 && rt_sched.nprocs > 1; pass++) {
		bool take_next = pass == 3;
		uint32_t start = fastrand(m);
		for (int i = 0; i < rt_sched.nprocs; i++) {
			struct rt_p *v = rt_allp[(start + (uint32_t)i) % (uint32_t)rt_sched.nprocs];
			if (v == pp)
				continue;
			if (take_next && steal_due_timers(m, v)) {
				struct rt_g *g = runqget(pp);
				if (g != NULL)
					return g;
			}
			if (runq_empty(v))
				continue;
			struct rt_g *g = runqsteal(pp, v, take_next);
			if (g != NULL) {
				m->nstolen++;
				return g;
			}
		}
	}
	return NULL;
}

/*
 * Finds a G to run (Go's findrunnable): the cheap sources; then, if m spins
 * or may start (spin_allowed), stealing, for up to SPIN_NS; then stopm. An
 * M that woke unclaimed (tick, timer deadline) takes only the cheap sources
 * before it sleeps again: no idle CPU spins on every tick.
 */
static struct rt_g *findrunnable(struct rt_m *m)
{
	uint64_t spin_t0 = 0, timers_checked = 0, last_now = 0;
	bool alone = false;
	for (;;) {
		if (__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_ACQUIRE)) {
			/* A stop for a collection comes before everything, the end of the world included. */
			if (m->spinning) {
				m->spinning = false;
				__atomic_sub_fetch(&rt_sched.nmspinning, 1, __ATOMIC_SEQ_CST);
			}
			gc_stopped_m(m);
			spin_t0 = 0;
			alone = false;
			continue;
		}
		if (rt_sched.ending) {
			/* A stop set before the end (both under the sched lock) wins: look again. */
			if (__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_ACQUIRE))
				continue;
			if (m->spinning) {
				m->spinning = false;
				__atomic_sub_fetch(&rt_sched.nmspinning, 1, __ATOMIC_SEQ_CST);
			}
			return NULL;
		}
		/* A spinning M loops here every few hundred ns: it looks at its
		 * P's timers (a clock read when any G sleeps there) once per
		 * SPIN_TIMERS_NS, not each time, by the clock its last loop read. */
		bool check_timers = spin_t0 == 0 || last_now - timers_checked >= SPIN_TIMERS_NS;
		if (check_timers)
			timers_checked = last_now;
		struct rt_g *g = find_local_work(m, check_timers);
		if (g == NULL && !alone && (m->spinning || spin_allowed())) {
			if (!m->spinning)
				spin_start(m);
			g = steal_work(m);
			uint64_t now = rt_port_nanotime();
			if (spin_t0 == 0)
				spin_t0 = timers_checked = now;   /* this spin's first look was just now */
			last_now = now;
			if (g == NULL && now - spin_t0 < SPIN_NS) {
				cpu_pause();
				continue;
			}
			m->spin_ns += now - spin_t0;
			spin_t0 = 0;
		}
		if (g == NULL)
			g = gc_mark_worker_to_run(m->p->id, true);   /* an idle P marks (mgc.c) */
		if (g != NULL) {
			if (m->spinning)
				resetspinning(m);
			return g;
		}
		stopm(m, &alone);
	}
}

static void schedule(struct rt_m *m)
{
	RT_ASSERT(m->curg == NULL && m->locks == 0);
	for (;;) {
		struct rt_g *g = NULL;
		if (!__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_ACQUIRE) && !rt_sched.ending)
			g = gc_mark_worker_to_run(m->p->id, false);   /* a dedicated or fractional worker */
		if (g == NULL)
			g = findrunnable(m);
		if (g == NULL)   /* the world ended: leave the M (rt_mstart_asm returns) */
			rt_gogo(m->exit_sp, 0);
		if (__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_ACQUIRE)) {
			runqput(m->p, g, true, false);   /* a stop began meanwhile: keep it for later */
			continue;
		}
		execute(m, g);
	}
}

/* ---- G creation and exit ------------------------------------------------------- */

static struct rt_g *gfget_global(struct rt_p *pp);

/* Fast path: the P's own list. Slow path (gfget_global): a batch from the
 * global list under the sched lock, or a new G struct. */
static struct rt_g *gfget(struct rt_p *pp)
{
	struct rt_g *g = pp->gfree;
	if (likely(g != NULL)) {
		pp->gfree = g->schedlink;
		pp->ngfree--;
		return g;
	}
	return gfget_global(pp);
}

/* pp's list is empty: refill it with up to GFREE_BATCH Gs in one lock
 * (a creator on one P and an exiter on another meet here once per batch,
 * not once per G), or make a G struct if there are none. */
static struct rt_g *gfget_global(struct rt_p *pp)
{
	rt_lock(&rt_sched.lock);
	while (pp->ngfree < GFREE_BATCH && rt_sched.gfree_global != NULL) {
		struct rt_g *g = rt_sched.gfree_global;
		rt_sched.gfree_global = g->schedlink;
		rt_sched.ngfree_global--;
		g->schedlink = pp->gfree;
		pp->gfree = g;
		pp->ngfree++;
	}
	struct rt_g *g = pp->gfree;
	if (g != NULL) {
		pp->gfree = g->schedlink;
		pp->ngfree--;
	} else {
		g = fixalloc_alloc(&g_alloc);
		g->timer_index = -1;
		g->alllink = allgs;
		allgs = g;
	}
	rt_unlock(&rt_sched.lock);
	return g;
}

/* Keeps g on pp's list; at GFREE_LOCAL_MAX, hands all but GFREE_BATCH to
 * the global list in one lock (Go's gfput: the exiting P of a creator on
 * another P fills up steadily). */
static void gfput(struct rt_p *pp, struct rt_g *g)
{
	if (g->stack_chunk != NULL && !stack_keep_with_dead_g(g))
		stack_free(g);   /* only standard-size stacks stay with a free G */
	g->schedlink = pp->gfree;
	pp->gfree = g;
	if (likely(++pp->ngfree < GFREE_LOCAL_MAX))
		return;
	rt_lock(&rt_sched.lock);
	while (pp->ngfree > GFREE_BATCH) {
		struct rt_g *x = pp->gfree;
		pp->gfree = x->schedlink;
		pp->ngfree--;
		x->schedlink = rt_sched.gfree_global;
		rt_sched.gfree_global = x;
		rt_sched.ngfree_global++;
	}
	rt_unlock(&rt_sched.lock);
}

/* Makes g's stack start at rt_gstart_trampoline. */
static void gsetup(struct rt_g *g)
{
	uintptr_t *top = (uintptr_t *)g->stack_hi;
	/* [r15 r14 r13 r12 rbx rbp ret] then the trampoline's own word */
	uintptr_t *sp = top - 8;
	for (int i = 0; i < 6; i++)
		sp[i] = 0;
	sp[6] = (uintptr_t)rt_gstart_trampoline;
	sp[7] = 0;
	g->sched_sp = (uintptr_t)sp;
	g->ncopies = 0;
	g->max_used = 0;
	g->in_morestack = false;
	g->preempt = false;
}

/* A coroutine id: from pp's batch, refilled from the global counter (Go's goidcache). */
static uint64_t goid_next(struct rt_p *pp)
{
	if (unlikely(pp->goidcache == pp->goidcacheend)) {
		pp->goidcache = __atomic_fetch_add(&rt_sched.goidgen, GOID_BATCH, __ATOMIC_RELAXED) + 1;
		pp->goidcacheend = pp->goidcache + GOID_BATCH;
	}
	return pp->goidcache++;
}

/* A runnable G for fn(arg) on pp; a system G (the sweeper) is not counted as a goroutine. */
static struct rt_g *newproc(struct rt_p *pp, void (*fn)(void *), void *arg, bool system)
{
	struct rt_g *g = gfget(pp);
	if (g->stack_chunk == NULL)
		stack_alloc(g, 0);
	else   /* the previous G may have abandoned frames (rt_goexit) */
		rt_port_stack_fresh(g->stack_lo, g->stack_hi - g->stack_lo);
	g->fn = fn;
	if (__atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE) == GC_CONCMARK) {
		/* Born during a mark: its stack holds nothing yet (scanned, as Go's new Gs),
		 * and its argument, which it alone may hold soon, is shaded. */
		rt_bulk_barrier(&g->arg, &arg, sizeof(arg), NULL);
	}
	g->gc_scan_gen = __atomic_load_n(&gc_stack_gen, __ATOMIC_RELAXED);
	g->arg = arg;
	g->param = NULL;
	g->waiting = NULL;
	g->system = system;
	g->gc_scan_depth = 0;
	g->id = goid_next(pp);
	gsetup(g);
	if (!system)
		__atomic_store_n(&pp->ncreated, pp->ncreated + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&g->status, G_RUNNABLE, __ATOMIC_RELEASE);
	return g;
}

struct newproc_call {
	struct rt_p *pp;
	void (*fn)(void *);
	void *arg;
	struct rt_g *g;
};

static void newproc_on_system_stack(void *arg)
{
	struct newproc_call *c = arg;
	c->g = newproc(c->pp, c->fn, c->arg, false);
}

uint64_t rt_go(void (*fn)(void *), void *arg)
{
	RT_ASSERT_MSG(!rt_is_stack_pointer(arg),
		      "rt_go: argument %p points into a coroutine stack; share heap or static objects "
		      "(rt/sched.h)", arg);
	struct rt_m *m = rt_getm();
	RT_ASSERT_MSG(m != NULL && m->curg != NULL, "rt_go outside a coroutine (use rt_run)");
	rt_acquirem();
	/* On the system stack, as Go's newproc: the stack pool and the G
	 * allocator take locks and may sys_map under them, and the caller's
	 * stack growing there would take the stack pool's lock again (the
	 * kernel caught it: a growth in sys_port_map under the VM spinlock,
	 * from rt.sched.no_lost_handoff's main with 4 KiB of locals). */
	struct newproc_call call = {m->p, fn, arg, NULL};
	rt_systemstack(newproc_on_system_stack, &call);
	struct rt_g *g = call.g;
	uint64_t id = g->id;
	runqput(m->p, g, true, false);
	wakep();
	rt_releasem();
	return id;
}

static void goexit0(struct rt_g *gp)
{
	struct rt_m *m = rt_getm();
	m->curg = NULL;
	__atomic_store_n(&gp->status, G_DEAD, __ATOMIC_RELEASE);
	gp->fn = NULL;   /* a dead G holds no root */
	gp->arg = NULL;
	gp->param = NULL;
	if (!gp->system)   /* release: a reader that sees this exit sees the G's creation */
		__atomic_store_n(&m->p->nexited, m->p->nexited + 1, __ATOMIC_RELEASE);
	if (gp == rt_sched.main_g) {
		/* Under the lock: a stop for a collection is refused from now on (DESIGN.md 7.6.7). */
		rt_lock(&rt_sched.lock);
		rt_sched.ending = true;
		rt_unlock(&rt_sched.lock);
		wake_all();
	}
	gfput(m->p, gp);
	schedule(m);
}

/* Not declared noreturn, so ASan does not try to unpoison "the" thread
 * stack (it does not know coroutine stacks) before the call. */
static void goexit1(void)
{
	RT_ASSERT_MSG(rt_getg_user() != NULL, "rt_goexit outside a coroutine");
	rt_mcall(goexit0);
}

void rt_goexit(void)
{
	goexit1();
	__builtin_unreachable();
}

void rt_gstart(void)
{
	struct rt_g *g = rt_getg_user();
	void *arg = g->arg;
	g->arg = NULL;   /* from now on fn keeps its argument alive, not the G */
	g->fn(arg);
	goexit1();
}

/* ---- yielding and parking -------------------------------------------------------- */

static void gosched_common(struct rt_g *gp, bool may_shrink)
{
	struct rt_m *m = rt_getm();
	m->curg = NULL;
	__atomic_store_n(&gp->status, G_RUNNABLE, __ATOMIC_RELEASE);
	if (may_shrink)
		stack_maybe_shrink(gp);
	globrunqput(gp);
	wakep();
	schedule(m);
}

static void gosched_m(struct rt_g *gp) { gosched_common(gp, true); }

/* An asynchronous stop never shrinks the stack (Go's shrinkstack refuses at
 * an async safe point too): the interrupted function may have checked its
 * prologue's room against the old stack and not yet allocated the frame, and
 * the shrink measures only what is in use below the saved %rsp (a helper's
 * review: a 200 KiB frame checked on a 256 KiB stack would run past a
 * 128 KiB one). */
static void gosched_async_m(struct rt_g *gp) { gosched_common(gp, false); }

void rt_gosched(void)
{
	RT_ASSERT_MSG(rt_getg_user() != NULL, "rt_gosched outside a coroutine");
	rt_mcall(gosched_m);
}

/* From rt_newstack (already on g0, registers in g->morebuf). */
void rt_gosched_preempted(void)
{
	struct rt_m *m = rt_getm();
	gosched_m(m->curg);
}

/* An interrupt or signal found g on its own stack with its own guard, or the
 * poisoned one: not in the middle of a switch, whose guard is the system
 * stack's and must stay 0 (the kernel's tick and the hosted signal). */
bool rt_async_own_context(const struct rt_g *g, uintptr_t rsp, uintptr_t guard)
{
	return rsp > g->stack_lo && rsp <= g->stack_hi && (guard == g->stackguard || guard == STACK_PREEMPT);
}

/* Where an injected call returns: a pointer store interrupted between its
 * flag test and its store runs again from the test (rt/mbarrier.h). */
uintptr_t rt_async_resume_pc(struct rt_m *m, uintptr_t pc)
{
	uintptr_t at = rt_restart_pc(pc);
	if (at != pc)
		m->npreempt_restarted_store++;
	return at;
}

/* The timer made the G call rt_async_preempt; we are on its stack. */
void rt_async_preempt_yield(void)
{
	struct rt_m *m = rt_getm();
	m->npreempt_async++;
	rt_mcall(gosched_async_m);
}

void rt_preempt_check(struct rt_m *m)
{
	/* Locks dropped with a request pending: let the next checked call yield. */
	if (m->curg != NULL && m->curg->preempt && !m->on_systemstack)
		rt_set_stackguard(STACK_PREEMPT);
}

static void park_m(struct rt_g *gp)
{
	struct rt_m *m = rt_getm();
	m->curg = NULL;
	__atomic_store_n(&gp->status, G_WAITING, __ATOMIC_RELEASE);
	bool (*unlock)(struct rt_g *, void *) = m->park_unlock;
	void *arg = m->park_arg;
	m->park_unlock = NULL;
	m->park_arg = NULL;
	if (unlock != NULL && !unlock(gp, arg)) {
		__atomic_store_n(&gp->status, G_RUNNABLE, __ATOMIC_RELEASE);
		execute(m, gp);
	}
	schedule(m);
}

void rt_park(bool (*unlock)(struct rt_g *gp, void *arg), void *arg)
{
	struct rt_m *m = rt_getm();
	RT_ASSERT_MSG(m != NULL && m->curg != NULL, "rt_park outside a coroutine");
	m->park_unlock = unlock;
	m->park_arg = arg;
	rt_mcall(park_m);
}

void rt_ready(struct rt_g *gp)
{
	struct rt_m *m = rt_getm();
	uint32_t st = __atomic_load_n(&gp->status, __ATOMIC_ACQUIRE);
	RT_ASSERT_MSG(st == G_WAITING, "rt_ready: G %lu is not waiting (status %u)", (unsigned long)gp->id, st);
	__atomic_store_n(&gp->status, G_RUNNABLE, __ATOMIC_RELEASE);
	rt_acquirem();
	/* R1: a hand-off to an M that keeps switching wakes nobody: this M runs
	 * gp at its next switch, or R3 wakes a thief if it stops switching. */
	bool nowake = m_switched_lately(m);
	if (!runqput(m->p, gp, true, nowake) || !nowake)
		wakep();   /* (a G displaced into the ring is not a hand-off: W1-W3) */
	rt_releasem();
}

/* ---- stopping the world for a collection (DESIGN.md 7.2 step 2) ---------------------- */

#define STOP_REPOKE_NS 100000ull   /* the stopper repeats its preemption requests this often */

struct rt_g *sched_allgs(void) { return allgs; }

size_t rt_read_goroutines(struct rt_g_view *out, size_t max)
{
	static const char *const names[] = {[G_RUNNABLE] = "runnable", [G_RUNNING] = "running",
					    [G_WAITING] = "waiting"};
	struct rt_g *self = rt_getm() != NULL ? rt_getm()->curg : NULL;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	size_t n = 0;
	rt_lock(&rt_sched.lock);
	for (struct rt_g *g = allgs; g != NULL; g = g->alllink) {
		uint32_t st = __atomic_load_n(&g->status, __ATOMIC_ACQUIRE);
		if (st != G_RUNNABLE && st != G_RUNNING && st != G_WAITING)
			continue;
		if (n < max) {
			struct rt_g_view *v = &out[n];
			*v = (struct rt_g_view){.id = g->id, .status = names[st], .system = g->system,
						.self = g == self, .stack_lo = g->stack_lo, .stack_hi = g->stack_hi,
						.max_used = g->max_used, .ncopies = g->ncopies};
			if (g == self)
				v->used = g->stack_hi - sp;
			else if (st != G_RUNNING && g->sched_sp - g->stack_lo <= g->stack_hi - g->stack_lo)
				v->used = g->stack_hi - g->sched_sp;
		}
		n++;
	}
	rt_unlock(&rt_sched.lock);
	return n;
}

void sched_wakep(void) { (void)wakep(); }

bool sched_p_has_work(int p)
{
	return !runq_empty(rt_allp[p]) || __atomic_load_n(&rt_sched.runq_size, __ATOMIC_RELAXED) != 0;
}
void sched_wake_all(void) { wake_all(); }

/* Asks every other M's running G to stop at its next safe point (what the
 * hosted monitor does for a time slice: the flag, and the guard poisoned by
 * CAS from that G's own guard, so a system stack never sees the poison);
 * from the second request on (signal), also where it is, if it may stop
 * there (a loop without calls: rt_port_preempt_signal). */
static void preempt_all(struct rt_m *self, bool signal)
{
	for (int i = 0; i < rt_sched.nprocs; i++) {
		struct rt_m *m = rt_allm[i];
		if (m == self || m->guard_slot == NULL)
			continue;
		struct rt_g *g = __atomic_load_n(&m->curg, __ATOMIC_ACQUIRE);
		if (g == NULL)
			continue;
		rt_request_preempt(m, g);
		if (signal)
			rt_port_preempt_signal(m);
	}
}

void rt_request_preempt(struct rt_m *m, struct rt_g *g)
{
	g->preempt = true;
	/* Poison only g's own guard: if the M has moved on (to its system
	 * stack, or another G), the slot holds something else and the system
	 * stack must never see the poison. */
	uintptr_t expect = g->stackguard;
	__atomic_compare_exchange_n(m->guard_slot, &expect, STACK_PREEMPT, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_RELAXED);
}

/*
 * Stopping idle Ms without waking them. Go's stopTheWorld takes idle Ps off
 * the idle list under sched.lock and never wakes their Ms; ours keep their
 * Ps, so each M's idle_state word is CASed instead. Waking every idle M to
 * count itself cost 41-59 us of each stop at 2 Ps (a futex wake and the
 * host's thread switch; issue 13), and the restart's wake of every M,
 * itself included, another 30.
 *   I1. an M going to sleep in stopm stores M_IDLE (seq_cst) before S3's
 *       re-check, which looks at gcwaiting;
 *   I2. the stopper, after gcwaiting = 1 (seq_cst), CASes every other M's
 *       M_IDLE to M_IDLE_COUNTED with its stop's generation in the word,
 *       having written counted_epoch, and counts each success in stopwait:
 *       that M holds no G and is at a safe point while its word says so;
 *   I3. every way out of the idle state (idle_end) CASes M_IDLE to M_BUSY;
 *       if that fails, the word is M_IDLE_COUNTED: the M CASes it to M_BUSY
 *       and waits out the stop that counted it (gc_stop_wait, not counting
 *       itself again), joining each of its marks from counted_epoch;
 *   I4. the restarting M, under the sched lock as it clears gcwaiting,
 *       CASes every other M's word from M_IDLE_COUNTED of its own stop back
 *       to M_IDLE (still asleep: it never learns of the stop), and after
 *       the unlock wakes the others: they wait in gc_stop_wait, or run. The
 *       lock matters: once gcwaiting is 0 the Ms may run, and one may stop
 *       the world again (gcwaiting is set under the lock); a restart pass
 *       after the unlock turned a count of that next stop back into M_IDLE,
 *       and the M ran a G in the stopped world (make test, 8 CPUs:
 *       "coroutine ... is still running"; a helper's review found the same
 *       and the hang of its mirror image, a count skipped). The generation
 *       in the word makes the CAS name its own stop's counts all the same.
 * Why each M is counted exactly once: by the seq_cst order of I1 and I2,
 * the M's re-check sees gcwaiting or the stopper's CAS sees M_IDLE (or
 * both). An M that sees gcwaiting leaves through I3: if its CAS from M_IDLE
 * wins, it goes on to findrunnable's gcwaiting check and counts itself in
 * gc_stopped_m; if the stopper's wins, the stopper counted it. The word
 * leaves M_IDLE once per stop, to one of the two. A mark in the pause wakes
 * every M (mark_once): a counted M joins it through I3, from the epoch the
 * stopper saw before any mark began, so the mark's wait for every worker
 * ends. A counted M woken late, after the restart, finds its word M_IDLE
 * again (I4 came first) or wins the CAS and finds the stop over in
 * gc_stop_wait (then I4's CAS fails and wakes it: harmless).
 */
/* Waits until the stop numbered gen ends, joining every mark it starts
 * after m->gc_epoch_seen as a worker on m's P. m is counted in stopwait. */
static void gc_stop_wait(struct rt_m *m, uint32_t gen)
{
	for (;;) {
		if (!__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_SEQ_CST) ||
		    __atomic_load_n(&rt_sched.stopgen, __ATOMIC_SEQ_CST) != gen)
			return;
		uint32_t e = gc_mark_epoch();
		if (e != m->gc_epoch_seen) {
			/* Every mark waits for all nprocs workers: this one cannot be over yet. */
			m->gc_epoch_seen = e;
			gc_mark_worker(m, m->id);
			continue;
		}
		__atomic_store_n(&m->wake, 0, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_SEQ_CST) && gc_mark_epoch() == e &&
		    __atomic_load_n(&rt_sched.stopgen, __ATOMIC_SEQ_CST) == gen)
			rt_port_idle(m, 0);
	}
}

/*
 * An M that found rt_sched.gcwaiting (findrunnable's loop top): it counts
 * itself stopped, then waits until the world restarts, joining every mark
 * the stopper starts (a new mark epoch) as a worker on its own P. It sleeps
 * in rt_port_idle between marks; the stopper's wakes end the sleep.
 */
void gc_stopped_m(struct rt_m *m)
{
	/* This stop's generation: the world may restart and stop again before this
	 * M wakes, and the new stop counts only Ms that entered it (make test
	 * found the hang: a late M kept waiting in the old stop, uncounted). */
	uint32_t gen = __atomic_load_n(&rt_sched.stopgen, __ATOMIC_SEQ_CST);
	m->gc_epoch_seen = gc_mark_epoch();
	__atomic_sub_fetch(&rt_sched.stopwait, 1, __ATOMIC_SEQ_CST);
	gc_stop_wait(m, gen);
}

static uint64_t counted_word(uint32_t gen) { return (uint64_t)gen << 2 | M_IDLE_COUNTED; }

/* I3: m leaves its idle state; if a stopper counted it meanwhile, m waits
 * here for that stop to end. */
static void idle_end(struct rt_m *m)
{
	for (;;) {
		uint64_t s = M_IDLE;
		if (__atomic_compare_exchange_n(&m->idle_state, &s, M_BUSY, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return;
		RT_ASSERT_MSG((s & 3) == M_IDLE_COUNTED, "M %d leaves an idle state it is not in (%lu)", m->id,
			      (unsigned long)s);
		if (__atomic_compare_exchange_n(&m->idle_state, &s, M_BUSY, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST)) {
			m->gc_epoch_seen = m->counted_epoch;
			gc_stop_wait(m, (uint32_t)(s >> 2));
			return;
		}
		/* I4 made it M_IDLE again: the stop ended; leave as from any sleep. */
	}
}

/* I2: counts every idle M stopped for stop gen without waking it. */
static void count_idle_ms(struct rt_m *self, uint32_t gen)
{
	uint32_t epoch = gc_mark_epoch();
	for (int i = 0; i < rt_sched.nprocs; i++) {
		struct rt_m *m = rt_allm[i];
		if (m == self || __atomic_load_n(&m->idle_state, __ATOMIC_SEQ_CST) != M_IDLE)
			continue;
		m->counted_epoch = epoch;
		uint64_t s = M_IDLE;
		if (__atomic_compare_exchange_n(&m->idle_state, &s, counted_word(gen), false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			__atomic_sub_fetch(&rt_sched.stopwait, 1, __ATOMIC_SEQ_CST);
	}
}

/* I4, under the sched lock with gcwaiting just cleared (so no next stop can
 * count between): the Ms stop gen counted sleep on; returns the others,
 * which wait in gc_stop_wait or run, to be woken once the lock is dropped. */
static uint64_t uncount_idle_ms(struct rt_m *self, uint32_t gen)
{
	uint64_t wake = 0;
	for (int i = 0; i < rt_sched.nprocs; i++) {
		struct rt_m *m = rt_allm[i];
		if (m == self)
			continue;
		uint64_t s = counted_word(gen);
		if (!__atomic_compare_exchange_n(&m->idle_state, &s, M_IDLE, false, __ATOMIC_SEQ_CST,
						 __ATOMIC_SEQ_CST))
			wake |= m_bit(m);
	}
	return wake;
}

/* The stopper (on g0, its G parked): every other M stops; returns when all have. */
static void stop_others(struct rt_m *self, uint32_t gen)
{
	count_idle_ms(self, gen);   /* the rest see gcwaiting: running, spinning, or in S3 */
	uint64_t last = 0;
	unsigned rounds = 0;
	while (__atomic_load_n(&rt_sched.stopwait, __ATOMIC_SEQ_CST) > 0) {
		uint64_t now = rt_port_nanotime();
		if (now - last >= STOP_REPOKE_NS) {
			/* Again and again: an M may have picked a G after its last look at
			 * gcwaiting, and a request consumed in runtime code is dropped. */
			preempt_all(self, rounds++ > 0);
			last = now;
		}
		__builtin_ia32_pause();
	}
	for (struct rt_g *g = allgs; g != NULL; g = g->alllink)
		RT_ASSERT_MSG(__atomic_load_n(&g->status, __ATOMIC_ACQUIRE) != G_RUNNING,
			      "stop the world: coroutine %lu is still running", (unsigned long)g->id);
	for (int i = 0; i < rt_sched.nprocs; i++)
		RT_ASSERT_MSG(rt_allm[i]->on_systemstack == 0, "stop the world: M %d is on its system stack", i);
}

static void gc_stw_m(struct rt_g *gp)
{
	struct rt_m *m = rt_getm();
	m->curg = NULL;
	__atomic_store_n(&gp->status, G_WAITING, __ATOMIC_RELEASE);
	rt_lock(&rt_sched.lock);
	if (rt_sched.ending) {
		rt_unlock(&rt_sched.lock);
		__atomic_store_n(&gp->status, G_RUNNABLE, __ATOMIC_RELEASE);
		execute(m, gp);
	}
	if (rt_sched.gcwaiting) {
		/* A stop is under way: wait for it off this M, which must stop too. */
		gp->schedlink = rt_sched.gc_waiters;
		rt_sched.gc_waiters = gp;
		rt_unlock(&rt_sched.lock);
		schedule(m);
	}
	/* No stop under way (the lock held): the phase cannot change while this decides. */
	if (!gc_request_wanted(m->gc_request, m->gc_seen_num_gc)) {
		/* A cycle started or ended since the caller decided. */
		rt_unlock(&rt_sched.lock);
		__atomic_store_n(&gp->status, G_RUNNABLE, __ATOMIC_RELEASE);
		execute(m, gp);
	}
	__atomic_store_n(&rt_sched.stopwait, rt_sched.nprocs - 1, __ATOMIC_SEQ_CST);
	uint32_t gen = __atomic_add_fetch(&rt_sched.stopgen, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&rt_sched.gcwaiting, 1, __ATOMIC_SEQ_CST);
	rt_unlock(&rt_sched.lock);
	uint64_t t_request = rt_port_nanotime();
	stop_others(m, gen);

	struct gc_cycle_trace trace;
	bool completed = gc_run_stopped(m, m->gc_forced, rt_sched.nprocs, true, t_request, &trace);

	/* Start the world. */
	rt_lock(&rt_sched.lock);
	__atomic_store_n(&rt_sched.gcwaiting, 0, __ATOMIC_SEQ_CST);
	struct rt_g *waiters = rt_sched.gc_waiters;
	rt_sched.gc_waiters = NULL;
	uint64_t wake = uncount_idle_ms(m, gen);
	rt_unlock(&rt_sched.lock);
	for (int i = 0; i < rt_sched.nprocs; i++)
		if (wake & m_bit(rt_allm[i]))
			sched_wake_m(rt_allm[i]);
	while (waiters != NULL) {
		struct rt_g *w = waiters;
		waiters = w->schedlink;
		rt_ready(w);
	}
	if (completed) {
		sweeper_wake();
		gc_print_trace(&trace);
	} else {
		/* A concurrent mark began: publish the heap profile of the sweep
		 * sweep_finish just ended, outside the pause (it walks every bucket;
		 * this M stops for the mark's termination only after it). */
		mprof_post_sweep();
		/* The idle Ms slept through the stop: wake one to mark the queued
		 * roots beside the starter (Go's startTheWorld wakes one P too). */
		(void)wakep();
	}
	__atomic_store_n(&gp->status, G_RUNNABLE, __ATOMIC_RELEASE);
	execute(m, gp);
}

bool sched_stop_the_world_gc(enum gc_request req, bool forced, uint32_t seen_num_gc)
{
	struct rt_m *m = rt_getm();
	RT_ASSERT_MSG(m != NULL && m->curg != NULL && m->locks == 0,
		      "a collection asked for outside a coroutine or with the M held");
	m->gc_request = req;
	m->gc_forced = forced;
	m->gc_seen_num_gc = seen_num_gc;
	rt_mcall(gc_stw_m);
	return !(rt_sched.ending &&
		 (uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE) == seen_num_gc);
}

/* ---- holding the M, for user code (rt/sched.h) -------------------------------------- */

/* In runtime text: never a preemption point, so the load of the M and the count are one step. */
void rt_hold_m(void) { rt_acquirem(); }
void rt_release_m(void) { rt_releasem(); }

/* ---- systemstack ----------------------------------------------------------------- */

void rt_systemstack(void (*fn)(void *), void *arg)
{
	struct rt_m *m = rt_getm();
	if (m == NULL || m->curg == NULL || m->on_systemstack) {
		fn(arg);
		return;
	}
	m->locks++;
	m->on_systemstack++;
	uintptr_t guard = rt_get_stackguard();
	rt_set_stackguard(0);
	rt_systemstack_switch(fn, arg, m->g0_sp);
	rt_set_stackguard(guard == STACK_PREEMPT ? m->curg->stackguard : guard);
	m->on_systemstack--;
	rt_releasem();
}

/* ---- Ms and the world --------------------------------------------------------------- */

static void mstart_on_g0(struct rt_m *m) { schedule(m); }

static void mstart(int id)
{
	struct rt_m *m = rt_allm[id];
	RT_ASSERT_MSG(m->idle_state == M_BUSY, "M %d starts a world in idle state %lu", id, (unsigned long)m->idle_state);
	rt_port_setm(m);
	m->curg = NULL;
	m->locks = 0;
	/* Root 5: the frames above exit_sp, on the caller of rt_run only (M 0:
	 * both ports run it there); the other Ms' callers are the port's. */
	uintptr_t lo;
	m->caller_hi = 0;
	if (id == 0)
		rt_port_stack_bounds(&lo, &m->caller_hi);
	rt_set_stackguard(0);
	rt_mstart_asm(m, mstart_on_g0);
	m->exit_sp = 0;
	rt_port_setm(NULL);
}

static void procs_create(int n)
{
	for (int i = 0; i < n; i++) {
		if (rt_allm[i] != NULL)
			continue;
		struct rt_p *pp = persistent_alloc(sizeof(struct rt_p), 64, &rt_mstats.other_sys);
		struct rt_m *m = persistent_alloc(sizeof(struct rt_m), 64, &rt_mstats.other_sys);
		pp->id = i;
		timers_init(&pp->timers);
		m->id = i;
		m->p = pp;
		m->fastrand = (rt_port_nanotime() ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1))) | 1;
		rt_allp[i] = pp;
		__atomic_store_n(&rt_allm[i], m, __ATOMIC_RELEASE);
	}
}

/* The Ps' user-G counts summed, exits first (acquire: a G whose exit is
 * seen has its creation seen too), so created - exited never goes negative. */
static void goroutine_counts(uint64_t *created, uint64_t *exited)
{
	*exited = *created = 0;
	for (int i = 0; i < RT_MAX_PROCS; i++)
		if (rt_allp[i] != NULL)
			*exited += __atomic_load_n(&rt_allp[i]->nexited, __ATOMIC_ACQUIRE);
	for (int i = 0; i < RT_MAX_PROCS; i++)
		if (rt_allp[i] != NULL)
			*created += __atomic_load_n(&rt_allp[i]->ncreated, __ATOMIC_RELAXED);
}

/* Destroys what the ended world left: Gs still alive, free Gs' stacks. */
static uint64_t world_cleanup(void)
{
	uint64_t abandoned = 0;
	rt_lock(&rt_sched.lock);
	rt_sched.runq_head = rt_sched.runq_tail = NULL;
	rt_sched.runq_size = 0;
	rt_unlock(&rt_sched.lock);
	for (int i = 0; i < rt_sched.nprocs; i++) {
		struct rt_p *pp = rt_allp[i];
		timers_clear(&pp->timers);
		pp->runqhead = pp->runqtail = 0;
		pp->runnext = NULL;
		pp->gfree = NULL;
		pp->ngfree = 0;
	}
	rt_sched.gfree_global = NULL;
	rt_sched.ngfree_global = 0;
	for (struct rt_g *g = allgs; g != NULL; g = g->alllink) {
		if (g->status != G_DEAD && g->status != G_IDLE && !g->system)
			abandoned++;
		g->fn = NULL;
		g->arg = NULL;
		g->param = NULL;
		g->waiting = NULL;
		g->system = false;
		if (g->stack_chunk != NULL)
			stack_free(g);
		g->status = G_IDLE;
		g->timer_index = -1;
		g->in_morestack = false;
		g->schedlink = rt_sched.gfree_global;
		rt_sched.gfree_global = g;
		rt_sched.ngfree_global++;
	}
	uint64_t created, exited;   /* the live count starts the next world at zero */
	goroutine_counts(&created, &exited);
	rt_sched.nabandoned = created - exited;
	/* Every M left through findrunnable's top: no count or idle bit is left. */
	RT_ASSERT_MSG(rt_sched.nmspinning == 0 && rt_sched.idle_mask == 0,
		      "end of the world: %u spinning, idle set %#lx", rt_sched.nmspinning,
		      (unsigned long)rt_sched.idle_mask);
	stack_release_all();
	return abandoned;
}

uint64_t rt_run(void (*main_fn)(void *), void *arg, int nprocs)
{
	static bool inited;
	RT_ASSERT_MSG(rt_getm() == NULL, "rt_run inside a running world");
	rt_init();
	stack_init();
	if (!inited) {
		rt_lock_init(&rt_sched.lock, LOCKRANK_SCHED, "sched");
		fixalloc_init(&g_alloc, sizeof(struct rt_g), &rt_mstats.other_sys, &g_inuse, "G");
		inited = true;
	}
	if (nprocs <= 0)
		nprocs = rt_port_default_procs();
	RT_ASSERT_MSG(nprocs <= RT_MAX_PROCS, "rt_run: %d procs (max %d)", nprocs, RT_MAX_PROCS);
	rt_start_procs(nprocs);
	procs_create(nprocs);
	rt_sched.nprocs = nprocs;
	rt_sched.ending = false;
	rt_sched.main_g = newproc(rt_allp[0], main_fn, arg, false);
	runqput(rt_allp[0], rt_sched.main_g, false, false);
	/* The background sweeper: a system G, not counted among the goroutines. */
	struct rt_g *sweeper = newproc(rt_allp[0], bgsweep, NULL, true);
	sweeper_world_start(sweeper);
	runqput(rt_allp[0], sweeper, false, false);
	/* A mark worker per P (system Gs): each parks at once, until a mark claims it. */
	gc_mark_workers_world_start(nprocs);
	for (int i = 0; i < nprocs; i++)
		runqput(rt_allp[i], newproc(rt_allp[i], gc_mark_worker_main, gc_mark_worker_slot(i), true), false,
			false);
	rt_port_preempt_start();
	rt_port_run_ms(nprocs, mstart);
	rt_port_preempt_stop();
	gc_world_ended();   /* a mark the world left running is finished here */
	sweeper_world_end();
	gc_mark_workers_world_end();
	uint64_t abandoned = world_cleanup();
	rt_sched.main_g = NULL;
	return abandoned;
}

void rt_read_sched_stats(struct rt_sched_stats *out)
{
	rt_memclr(out, sizeof *out);
	uint64_t exited;
	goroutine_counts(&out->created, &exited);
	out->goroutines = out->created - exited - rt_sched.nabandoned;
	out->wakeups = __atomic_load_n(&rt_sched.nwakeups, __ATOMIC_RELAXED);
	out->handoff_rescues = __atomic_load_n(&rt_sched.nhandoff_rescues, __ATOMIC_RELAXED);
	out->timer_rescues = __atomic_load_n(&rt_sched.ntimer_rescues, __ATOMIC_RELAXED);
	out->g_struct_bytes = __atomic_load_n(&g_inuse, __ATOMIC_RELAXED);   /* callable before any world */
	out->g_structs = out->g_struct_bytes / sizeof(struct rt_g);
	for (int i = 0; i < RT_MAX_PROCS; i++) {
		struct rt_m *m = rt_allm[i];
		if (m == NULL)
			continue;
		out->switches[i] = m->nswitches;
		out->stolen[i] = m->nstolen;
		out->timers_stolen[i] = m->ntimers_stolen;
		out->timer_locks += __atomic_load_n(&rt_allp[i]->timers.nlocked, __ATOMIC_RELAXED);
		out->preempt_async += m->npreempt_async;
		out->preempt_restarted_store += m->npreempt_restarted_store;
		out->preempt_sync += m->npreempt_sync;
		out->spin_ns[i] = m->spin_ns;
		out->idle_ns[i] = idle_read(m);
		out->idle_wakes += m->nidle_wakes;
	}
	stack_read_stats(&out->stack_grows, &out->stack_shrinks, &out->stacks_inuse, &out->stack_chunks);
}

/*
 * Should the G running on m be asked to yield? Called by the preemption tick
 * or monitor for each M, as Go's sysmon: a switch count that has not moved
 * since the first look RT_TIMESLICE_NS ago means one G ran all that time.
 * (No clock read on the switch path: it costs 100+ ns hosted.)
 */
bool rt_preempt_due(struct rt_m *m, uint64_t now)
{
	uint64_t n = __atomic_load_n(&m->nswitches, __ATOMIC_RELAXED);
	bool moved = n != m->preempt_seen_switches;
	__atomic_store_n(&m->preempt_seen_moved, moved, __ATOMIC_RELAXED);
	if (moved) {
		__atomic_store_n(&m->preempt_seen_ns, now, __ATOMIC_RELAXED);
		__atomic_store_n(&m->preempt_seen_switches, n, __ATOMIC_RELAXED);
		return false;
	}
	return m->curg != NULL && now - m->preempt_seen_ns >= RT_TIMESLICE_NS;
}

/*
 * R3, by the same monitor after rt_preempt_due: a G left in m's runnext by
 * R1 (no wake) while m has not switched for HANDOFF_STALE_NS is waiting on
 * one G that keeps m: wake an M to steal it (runnext_grace lets it, as m
 * does not switch). Bounds R1's delay by about two monitor periods. The
 * same for a sleeper due on m's P while m, awake, has not switched: the
 * woken M takes it in steal_work's last pass (rt/time.c).
 * Kernel: the tick on m's own CPU (interrupts off); hosted: the monitor thread.
 */
void rt_handoff_check(struct rt_m *m, uint64_t now)
{
	struct rt_p *pp = m->p;
	if (pp == NULL || !m_stuck(m, now))
		return;
	if (__atomic_load_n(&pp->runnext, __ATOMIC_ACQUIRE) != NULL &&
	    __atomic_load_n(&pp->runnext_nowake, __ATOMIC_RELAXED) && wakep())
		__atomic_add_fetch(&rt_sched.nhandoff_rescues, 1, __ATOMIC_RELAXED);
	/* The same for a due sleeper on m's P (rt/time.c): a thief takes it.
	 * (An idle m wakes for its own deadline and takes it itself.) */
	uint64_t when = timers_earliest(&pp->timers);
	if (when != 0 && when <= now && !(__atomic_load_n(&rt_sched.idle_mask, __ATOMIC_SEQ_CST) & m_bit(m)) &&
	    wakep())
		__atomic_add_fetch(&rt_sched.ntimer_rescues, 1, __ATOMIC_RELAXED);
}
