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
 *   - rt_gosched and preemption put the G on the global queue (Go does too).
 * Finding work (findrunnable): due timers (rt/time.c), the local queue, the global queue,
 * then stealing from the other Ps in a random order; with nothing found the
 * M announces itself idle, checks everything once more (a waker that missed
 * the announcement must not find it asleep with work queued), and sleeps in
 * rt_port_idle (kernel: hlt with interrupts on, woken by an IPI or the tick;
 * hosted: a futex with the next timer's deadline). A waker that queues work
 * wakes one idle M (wakep).
 *
 * Preemption (Go's sysmon retake + async preemption). A G that has run for
 * RT_TIMESLICE_NS is asked to yield: g->preempt is set, and then
 *   - synchronously: its stack guard is poisoned (STACK_PREEMPT), so the next
 *     checked call enters __morestack, which yields (rt/stack.c step 1);
 *   - asynchronously (kernel): if the timer interrupted preemptible code (not
 *     the runtime's or the OS's, no runtime lock or kernel spinlock held,
 *     room on the stack), the handler makes the G "call" rt_async_preempt,
 *     which saves every register on the G's stack and yields. That stops a
 *     loop without calls. The port decides (rt/port/kernel.c).
 *
 * Invariants:
 *   - a G is in at most one run queue, and only when G_RUNNABLE;
 *   - m->curg != NULL exactly while a user G runs on m (or is being switched);
 *   - runtime code never migrates mid-function: it is never a preemption
 *     point, and m->locks > 0 (rt_acquirem) wherever it uses the P's state.
 *
 * Locking: rt_sched.lock (LOCKRANK_SCHED) for the global queue and the
 * G lists; run rings are lock-free; everything in an M or P is its own M's.
 * The sleep heap and its lock are rt/time.c's.
 *
 * Cites: Go's proc.go (runqput/runqget/runqsteal, findrunnable, schedule,
 * gopark/goready, the 61-round global-queue check), and "Scalable Go
 * Scheduler Design Doc" (Vyukov, 2012) for the G/M/P split.
 */
#include "rt/fixalloc.h"
#include "rt/mstats.h"
#include "rt/rt.h"
#include "rt/runtime2.h"

#define RT_TIMESLICE_NS 10000000ull   /* 10 ms, Go's forcePreemptNS */
#define GFREE_LOCAL_MAX 64

struct schedt rt_sched;
struct rt_m *rt_allm[RT_MAX_PROCS];
struct rt_p *rt_allp[RT_MAX_PROCS];
static struct fixalloc g_alloc;
static uint64_t g_inuse;             /* bytes of G structs ever made (sched lock) */
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

static void runqput(struct rt_p *pp, struct rt_g *g, bool next)
{
	if (next) {
		struct rt_g *old = __atomic_exchange_n(&pp->runnext, g, __ATOMIC_ACQ_REL);
		if (old == NULL)
			return;
		g = old;   /* the displaced one goes to the tail */
	}
	for (;;) {
		uint32_t h = __atomic_load_n(&pp->runqhead, __ATOMIC_ACQUIRE);
		uint32_t t = pp->runqtail;
		if (t - h < RUNQ_SIZE) {
			pp->runq[t % RUNQ_SIZE] = g;
			__atomic_store_n(&pp->runqtail, t + 1, __ATOMIC_RELEASE);
			return;
		}
		if (runqputslow(pp, g, h, t))
			return;
	}
}

static struct rt_g *runqget(struct rt_p *pp)
{
	struct rt_g *next = __atomic_load_n(&pp->runnext, __ATOMIC_RELAXED);
	if (next != NULL && __atomic_compare_exchange_n(&pp->runnext, &next, NULL, false, __ATOMIC_ACQ_REL,
							 __ATOMIC_RELAXED))
		return next;
	for (;;) {
		uint32_t h = __atomic_load_n(&pp->runqhead, __ATOMIC_ACQUIRE);
		uint32_t t = pp->runqtail;
		if (t == h)
			return NULL;
		struct rt_g *g = pp->runq[h % RUNQ_SIZE];
		if (__atomic_compare_exchange_n(&pp->runqhead, &h, h + 1, false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return g;
	}
}

static bool runq_empty(struct rt_p *pp)
{
	return __atomic_load_n(&pp->runqhead, __ATOMIC_ACQUIRE) ==
		       __atomic_load_n(&pp->runqtail, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&pp->runnext, __ATOMIC_ACQUIRE) == NULL;
}

/* Takes half of victim's queue into pp's (empty) ring; returns one G to run. */
static struct rt_g *runqsteal(struct rt_p *pp, struct rt_p *victim)
{
	for (;;) {
		uint32_t h = __atomic_load_n(&victim->runqhead, __ATOMIC_ACQUIRE);
		uint32_t t = __atomic_load_n(&victim->runqtail, __ATOMIC_ACQUIRE);
		uint32_t n = t - h;
		n -= n / 2;
		if (n == 0) {
			/* Take runnext too: its P may be about to run it, but it is not running yet. */
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
		runqput(pp, x, false);
	}
	if (rt_sched.runq_head == NULL)
		rt_sched.runq_tail = NULL;
	rt_unlock(&rt_sched.lock);
	return g;
}

/* ---- idle Ms ---------------------------------------------------------------- */

/* Wakes one idle M, if any: there is new work. */
static void wakep(void)
{
	if (__atomic_load_n(&rt_sched.nmidle, __ATOMIC_SEQ_CST) == 0)
		return;
	struct rt_m *self = rt_getm();
	int start = self ? self->id + 1 : 0;
	for (int i = 0; i < rt_sched.nprocs; i++) {
		struct rt_m *m = rt_allm[(start + i) % rt_sched.nprocs];
		uint32_t zero = 0;
		if (m != self && __atomic_load_n(&m->idle, __ATOMIC_SEQ_CST) &&
		    __atomic_compare_exchange_n(&m->wake, &zero, 1, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			rt_port_wake(m);
			return;
		}
	}
}

static void wake_all(void)
{
	for (int i = 0; i < rt_sched.nprocs; i++) {
		__atomic_store_n(&rt_allm[i]->wake, 1, __ATOMIC_SEQ_CST);
		rt_port_wake(rt_allm[i]);
	}
}

/* ---- due timers (rt/time.c) ------------------------------------------------------ */

/* Makes every sleeper due by now runnable on pp; *next = the next deadline (0: none). */
static void ready_due_timers(struct rt_p *pp, uint64_t *next)
{
	struct rt_g *due = timers_take_due(next);
	while (due != NULL) {
		struct rt_g *g = due;
		due = g->schedlink;
		RT_ASSERT(g->status == G_WAITING);
		__atomic_store_n(&g->status, G_RUNNABLE, __ATOMIC_RELEASE);
		runqput(pp, g, false);
	}
}

/* ---- running a G ---------------------------------------------------------------- */

static void execute(struct rt_m *m, struct rt_g *g) __attribute__((noreturn));
static void execute(struct rt_m *m, struct rt_g *g)
{
	RT_ASSERT_MSG(g->status == G_RUNNABLE, "execute: G %lu status %u", (unsigned long)g->id, g->status);
	__atomic_store_n(&g->status, G_RUNNING, __ATOMIC_RELAXED);
	g->preempt = false;
	m->curg = g;
	m->nswitches++;
	if (g->in_morestack) {
		g->in_morestack = false;
		m->morebuf = g->morebuf;
		rt_morestack_tail(&m->morebuf, g->stackguard);
	}
	rt_gogo(g->sched_sp, g->stackguard);
}

static struct rt_g *findrunnable(struct rt_m *m)
{
	struct rt_p *pp = m->p;
	for (;;) {
		if (rt_sched.ending)
			return NULL;
		uint64_t next_timer = 0;
		ready_due_timers(pp, &next_timer);
		struct rt_g *g = NULL;
		if (m->schedtick++ % 61 == 0)
			g = globrunqget(pp, false);
		if (g == NULL)
			g = runqget(pp);
		if (g == NULL)
			g = globrunqget(pp, true);
		/* Steal: four passes over the other Ps, each from a random start (fastrand). */
		for (int pass = 0; g == NULL && pass < 4 && rt_sched.nprocs > 1; pass++) {
			uint32_t start = fastrand(m);
			for (int i = 0; i < rt_sched.nprocs && g == NULL; i++) {
				struct rt_p *v = rt_allp[(start + (uint32_t)i) % (uint32_t)rt_sched.nprocs];
				if (v != pp && !runq_empty(v)) {
					g = runqsteal(pp, v);
					if (g != NULL)
						m->nstolen++;
				}
			}
		}
		if (g != NULL)
			return g;

		/* Idle: announce, re-check everything, then sleep. */
		__atomic_store_n(&m->idle, 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&rt_sched.nmidle, 1, __ATOMIC_SEQ_CST);
		bool work = rt_sched.ending || __atomic_load_n(&rt_sched.runq_size, __ATOMIC_SEQ_CST) != 0;
		for (int i = 0; !work && i < rt_sched.nprocs; i++)
			work = !runq_empty(rt_allp[i]);
		if (!work && next_timer != 0 && next_timer <= rt_port_nanotime())
			work = true;
		if (!work)
			rt_port_idle(m, next_timer);
		__atomic_sub_fetch(&rt_sched.nmidle, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&m->idle, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&m->wake, 0, __ATOMIC_SEQ_CST);
	}
}

static void schedule(struct rt_m *m)
{
	RT_ASSERT(m->curg == NULL && m->locks == 0);
	struct rt_g *g = findrunnable(m);
	if (g == NULL)   /* the world ended: leave the M (rt_mstart_asm returns) */
		rt_gogo(m->exit_sp, 0);
	execute(m, g);
}

/* ---- G creation and exit ------------------------------------------------------- */

static struct rt_g *gfget(struct rt_p *pp)
{
	struct rt_g *g = pp->gfree;
	if (g != NULL) {
		pp->gfree = g->schedlink;
		pp->ngfree--;
		return g;
	}
	rt_lock(&rt_sched.lock);
	g = rt_sched.gfree_global;
	if (g != NULL) {
		rt_sched.gfree_global = g->schedlink;
		rt_sched.ngfree_global--;
	} else {
		g = fixalloc_alloc(&g_alloc);
		g->timer_index = -1;
		g->alllink = allgs;
		allgs = g;
	}
	rt_unlock(&rt_sched.lock);
	return g;
}

static void gfput(struct rt_p *pp, struct rt_g *g)
{
	if (g->stack_chunk != NULL && !stack_keep_with_dead_g(g))
		stack_free(g);   /* only standard-size stacks stay with a free G */
	if (pp->ngfree < GFREE_LOCAL_MAX) {
		g->schedlink = pp->gfree;
		pp->gfree = g;
		pp->ngfree++;
		return;
	}
	rt_lock(&rt_sched.lock);
	g->schedlink = rt_sched.gfree_global;
	rt_sched.gfree_global = g;
	rt_sched.ngfree_global++;
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

static struct rt_g *newproc(struct rt_p *pp, void (*fn)(void *), void *arg)
{
	struct rt_g *g = gfget(pp);
	if (g->stack_chunk == NULL)
		stack_alloc(g, 0);
	else   /* the previous G may have abandoned frames (rt_goexit) */
		rt_port_stack_fresh(g->stack_lo, g->stack_hi - g->stack_lo);
	g->fn = fn;
	g->arg = arg;
	g->param = NULL;
	g->id = __atomic_add_fetch(&rt_sched.goidgen, 1, __ATOMIC_RELAXED);
	gsetup(g);
	__atomic_add_fetch(&rt_sched.ngoroutines, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&rt_sched.ncreated, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&g->status, G_RUNNABLE, __ATOMIC_RELEASE);
	return g;
}

uint64_t rt_go(void (*fn)(void *), void *arg)
{
	RT_ASSERT_MSG(!rt_is_stack_pointer(arg),
		      "rt_go: argument %p points into a coroutine stack; share heap or static objects "
		      "(rt/sched.h)", arg);
	struct rt_m *m = rt_getm();
	RT_ASSERT_MSG(m != NULL && m->curg != NULL, "rt_go outside a coroutine (use rt_run)");
	rt_acquirem();
	struct rt_g *g = newproc(m->p, fn, arg);
	uint64_t id = g->id;
	runqput(m->p, g, true);
	wakep();
	rt_releasem();
	return id;
}

static void goexit0(struct rt_g *gp)
{
	struct rt_m *m = rt_getm();
	m->curg = NULL;
	__atomic_store_n(&gp->status, G_DEAD, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&rt_sched.ngoroutines, 1, __ATOMIC_RELAXED);
	if (gp == rt_sched.main_g) {
		rt_sched.ending = true;
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
	g->fn(g->arg);
	goexit1();
}

/* ---- yielding and parking -------------------------------------------------------- */

static void gosched_m(struct rt_g *gp)
{
	struct rt_m *m = rt_getm();
	m->curg = NULL;
	__atomic_store_n(&gp->status, G_RUNNABLE, __ATOMIC_RELEASE);
	stack_maybe_shrink(gp);
	globrunqput(gp);
	wakep();
	schedule(m);
}

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

/* The timer made the G call rt_async_preempt; we are on its stack. */
void rt_async_preempt_yield(void)
{
	struct rt_m *m = rt_getm();
	m->npreempt_async++;
	rt_mcall(gosched_m);
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
	runqput(m->p, gp, true);
	wakep();
	rt_releasem();
}

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
	rt_port_setm(m);
	m->curg = NULL;
	m->locks = 0;
	rt_set_stackguard(0);
	rt_mstart_asm(m, mstart_on_g0);
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
		m->id = i;
		m->p = pp;
		m->fastrand = (rt_port_nanotime() ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1))) | 1;
		rt_allp[i] = pp;
		__atomic_store_n(&rt_allm[i], m, __ATOMIC_RELEASE);
	}
}

/* Destroys what the ended world left: Gs still alive, free Gs' stacks. */
static uint64_t world_cleanup(void)
{
	uint64_t abandoned = 0;
	rt_lock(&rt_sched.lock);
	rt_sched.runq_head = rt_sched.runq_tail = NULL;
	rt_sched.runq_size = 0;
	rt_unlock(&rt_sched.lock);
	timers_clear();
	for (int i = 0; i < rt_sched.nprocs; i++) {
		struct rt_p *pp = rt_allp[i];
		pp->runqhead = pp->runqtail = 0;
		pp->runnext = NULL;
		pp->gfree = NULL;
		pp->ngfree = 0;
	}
	rt_sched.gfree_global = NULL;
	rt_sched.ngfree_global = 0;
	for (struct rt_g *g = allgs; g != NULL; g = g->alllink) {
		if (g->status != G_DEAD && g->status != G_IDLE)
			abandoned++;
		if (g->stack_chunk != NULL)
			stack_free(g);
		g->status = G_IDLE;
		g->timer_index = -1;
		g->in_morestack = false;
		g->schedlink = rt_sched.gfree_global;
		rt_sched.gfree_global = g;
		rt_sched.ngfree_global++;
	}
	__atomic_store_n(&rt_sched.ngoroutines, 0, __ATOMIC_RELAXED);
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
		timers_init();
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
	rt_sched.main_g = newproc(rt_allp[0], main_fn, arg);
	runqput(rt_allp[0], rt_sched.main_g, false);
	rt_port_preempt_start();
	rt_port_run_ms(nprocs, mstart);
	rt_port_preempt_stop();
	uint64_t abandoned = world_cleanup();
	rt_sched.main_g = NULL;
	return abandoned;
}

void rt_read_sched_stats(struct rt_sched_stats *out)
{
	rt_memclr(out, sizeof *out);
	out->goroutines = __atomic_load_n(&rt_sched.ngoroutines, __ATOMIC_RELAXED);
	out->created = __atomic_load_n(&rt_sched.ncreated, __ATOMIC_RELAXED);
	rt_lock(&rt_sched.lock);
	out->g_struct_bytes = g_inuse;
	rt_unlock(&rt_sched.lock);
	out->g_structs = out->g_struct_bytes / sizeof(struct rt_g);
	for (int i = 0; i < RT_MAX_PROCS; i++) {
		struct rt_m *m = rt_allm[i];
		if (m == NULL)
			continue;
		out->switches[i] = m->nswitches;
		out->stolen[i] = m->nstolen;
		out->preempt_async += m->npreempt_async;
		out->preempt_sync += m->npreempt_sync;
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
	if (n != m->preempt_seen_switches) {
		m->preempt_seen_switches = n;
		m->preempt_seen_ns = now;
		return false;
	}
	return m->curg != NULL && now - m->preempt_seen_ns >= RT_TIMESLICE_NS;
}
