/*
 * mgc.c - the garbage collector's cycle: when a cycle starts, its phases, the
 * heap goal, and its statistics (Go's mgc.go and the goal of mgcpacer.go).
 *
 * What. A non-moving mark-sweep collector, tri-color, marking on every P at
 * once: precise for heap objects (the heap bitmap, or a large span's type),
 * conservative for stacks, saved registers and the image's data. In this
 * version the mark runs with the world stopped (every M marks); the sweep
 * runs concurrently with the program (rt/mgcsweep.c). Concurrent marking
 * (issue 13) adds the write barrier, assists and the pacer to these same
 * structures (DESIGN.md 7.9).
 *
 * The cycle (DESIGN.md 7.2 has the reasons for each step):
 *   1. Trigger. rt_alloc's slow path, once its object is complete, calls
 *      gc_alloc_slow_hook: if gc_heap_live >= gc_next_goal (or gcstress's
 *      countdown ran out), and the caller is a coroutine that may stop here
 *      (no M lock, no kernel spinlock), it asks for a cycle. rt_gc() asks
 *      for one too (forced). Allocation outside a world never triggers.
 *   2. Stop the world (rt/proc.c, sched_stop_the_world): the asking G
 *      enters through rt_mcall (its registers pushed on its own stack) and
 *      becomes G_WAITING; its M is the stopper. A G asking while a stop is
 *      under way parks on the cycle's wait list instead (it would keep its M
 *      from stopping). Every other M stops at a safe point and waits in
 *      gc_stopped_m, marking when asked.
 *   3. Sweep termination (gc_run_stopped, world stopped): every P's mcache
 *      goes back to the mcentrals (rt_allp_mcache[], also Ps with no M in
 *      this world), the tiny blocks are dropped, the previous sweep is
 *      finished: every in-use span is swept, listed, and has clear marks.
 *   4. Mark: root jobs prepared (mgcmark.c), every M runs gc_mark_worker on
 *      its g0 with its P's gcwork until termination (mgcwork.c).
 *      With gccheckmark=1 a second mark follows with separate bits and
 *      panics on any object the first one missed.
 *   5. Mark termination: every buffer empty; mheap_.sweepgen += 2 (every
 *      span unswept, every mcentral's lists flipped); gc_heap_live = bytes
 *      marked; the next goal (Go 1.18's): marked + (marked + stacks scanned
 *      + globals scanned) * GOGC / 100, at least 4 MiB * GOGC / 100; the
 *      statistics (NumGC, the pause, LastGC).
 *   6. Start the world: the stopped Ms resume, the parked askers and the
 *      background sweeper are readied, the asking G continues.
 *   7. Sweep, concurrently (mgcsweep.c). rt_gc() returns only after the
 *      sweep is done too, as Go's runtime.GC.
 * Outside a world, rt_gc() runs steps 3-5 on the calling thread alone with
 * its own stack and registers as the only non-global root (mgcmark.c root 7).
 *
 * Invariants: one cycle at a time (rt_sched.gcwaiting, set under the sched
 * lock); gc_phase != GC_OFF only while the world is stopped, and then no
 * heap allocation happens (rt_alloc asserts it); after step 3 every in-use
 * span is on exactly one mcentral list with sweepgen == h.
 *
 * Settings: gogc=N|off (rt_set_gc_percent), gctrace=1 (a line per cycle in
 * Go's format), gccheckmark=1, gcstress=N (a cycle every N allocations). The
 * kernel reads them from its command line, the hosted port from GOGC and
 * RT_GODEBUG=gctrace=1,gccheckmark=1,gcstress=N.
 *
 * Cites: Go's mgc.go (gcStart, gcMarkDone, gcMarkTermination, the phases),
 * mgcpacer.go (the Go 1.18 heap goal, heapMinimum), mgcmark.go (roots),
 * mgcwork.go, mgcsweep.go; Dijkstra et al., "On-the-fly garbage collection:
 * an exercise in cooperation" (CACM 1978) for the tri-color abstraction.
 */
#include "rt/mcache.h"
#include "rt/mgc.h"
#include "rt/mheap.h"
#include "rt/mstats.h"
#include "rt/runtime2.h"

#define GC_HEAP_MINIMUM ((uint64_t)4 << 20)   /* Go's heapMinimum at GOGC=100 */

volatile uint32_t gc_phase;
int gc_percent = 100;
bool gc_checkmark;
bool gc_trace;
uint64_t gc_stress;
volatile uint64_t gc_heap_live;
volatile uint64_t gc_next_goal = GC_HEAP_MINIMUM;

static volatile uint32_t mark_epoch;   /* +1 per mark: stopped Ms join each one */
static uint64_t gc_start_ns;           /* the first cycle's clock base (for gctrace's @) */
static uint64_t gc_busy_ns;            /* total stop-the-world time */

/* ---- settings ---- */

static uint64_t goal_from(uint64_t marked, uint64_t stacks, uint64_t globals)
{
	if (gc_percent < 0)
		return UINT64_MAX;
	/* Saturating: GOGC may be any int (Go's is), the products must not wrap. */
	uint64_t pct = (uint64_t)gc_percent, base = marked + stacks + globals;
	uint64_t growth = base > UINT64_MAX / (pct + 1) ? UINT64_MAX : base * pct / 100;
	uint64_t goal = growth > UINT64_MAX - marked ? UINT64_MAX - 1 : marked + growth;
	uint64_t min = GC_HEAP_MINIMUM * pct / 100;   /* 2^22 * 2^31: fits */
	return goal < min ? min : goal;
}

static uint64_t last_marked, last_stacks, last_globals;

int rt_set_gc_percent(int pct)
{
	int old = gc_percent;
	gc_percent = pct < 0 ? -1 : pct;
	__atomic_store_n(&gc_next_goal, goal_from(last_marked, last_stacks, last_globals),
			 __ATOMIC_RELAXED);
	rt_mstats.next_gc = gc_next_goal == UINT64_MAX ? 0 : gc_next_goal;
	return old;
}

void rt_gc_set_trace(bool on) { gc_trace = on; }
void rt_gc_set_checkmark(bool on) { gc_checkmark = on; }
void rt_gc_set_stress(uint64_t every) { gc_stress = every; }

/* ---- the trigger ---- */

static uint64_t stress_count;   /* allocations since the last stress cycle (atomic) */

static bool may_collect_here(struct rt_m *m)
{
	return m != NULL && m->curg != NULL && m->locks == 0 && !m->on_systemstack &&
	       rt_port_may_stop() && __atomic_load_n(&gc_phase, __ATOMIC_RELAXED) == GC_OFF;
}

void gc_alloc_slow_hook(void)
{
	bool want = false;
	if (unlikely(gc_stress != 0)) {
		struct mcache *c = mcache_current();
		for (unsigned i = 0; i < RT_NUM_SPAN_CLASSES; i++)
			c->alloc[i]->alloc_cache = 0;   /* the next allocation comes back here */
		if (__atomic_add_fetch(&stress_count, 1, __ATOMIC_RELAXED) % gc_stress == 0)
			want = true;
	}
	if (__atomic_load_n(&gc_heap_live, __ATOMIC_RELAXED) >= __atomic_load_n(&gc_next_goal, __ATOMIC_RELAXED))
		want = true;
	if (!want)
		return;
	struct rt_m *m = rt_getm();
	if (!may_collect_here(m))
		return;
	sched_stop_the_world_gc(false, (uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE));
}

/* ---- the stopped cycle ---- */

static void flush_mcaches(void)
{
	for (int p = 0; p < RT_MAX_PROCS; p++) {
		struct mcache *c = __atomic_load_n(&rt_allp_mcache[p], __ATOMIC_ACQUIRE);
		if (c != NULL)
			mcache_release_all(c);
	}
}

/* One mark on nproc workers, this M (or this thread outside a world) among them. */
static void mark_once(struct rt_m *m, int nproc, bool in_world)
{
	gcmark_prepare(in_world);
	gcwork_begin(nproc);
	__atomic_store_n(&gc_phase, GC_MARK, __ATOMIC_RELEASE);
	__atomic_add_fetch(&mark_epoch, 1, __ATOMIC_SEQ_CST);
	if (in_world)
		sched_wake_all();
	gc_mark_worker(m, rt_port_current_p());
	gcwork_wait_exited();
	__atomic_store_n(&gc_phase, GC_STOPPED, __ATOMIC_RELEASE);
}

struct mark_totals {
	uint64_t bytes, objs, scan, stacks, globals;
};

static struct mark_totals take_totals(void)
{
	struct mark_totals t = {0};
	for (int p = 0; p < RT_MAX_PROCS; p++) {
		struct gcwork *w = &gcwork_of[p];
		t.bytes += w->bytes_marked;
		t.objs += w->objs_marked;
		t.scan += w->scan_bytes;
		t.stacks += w->stack_bytes;
		t.globals += w->global_bytes;
		w->bytes_marked = w->objs_marked = w->scan_bytes = w->stack_bytes = w->global_bytes = 0;
	}
	return t;
}

void gc_run_stopped(struct rt_m *m, bool forced, int nproc, bool in_world, uint64_t t_request,
		    struct gc_cycle_trace *trace)
{
	uint64_t t0 = rt_port_nanotime();
	if (gc_start_ns == 0)
		gc_start_ns = t_request;
	__atomic_store_n(&gc_phase, GC_STOPPED, __ATOMIC_RELEASE);
	uint64_t heap0 = __atomic_load_n(&gc_heap_live, __ATOMIC_RELAXED);

	/* 3. Sweep termination. */
	flush_mcaches();
	sweep_finish();
	uint64_t t1 = rt_port_nanotime();

	/* 4. Mark (and the checkmark). */
	mark_once(m, nproc, in_world);
	struct mark_totals tot = take_totals();
	if (gc_checkmark) {
		gcmark_checkmark_begin();
		mark_once(m, nproc, in_world);
		gcmark_checkmark_end();
		(void)take_totals();
	}
	uint64_t t2 = rt_port_nanotime();

	/* 5. Mark termination. */
	__atomic_store_n(&gc_phase, GC_MARKTERM, __ATOMIC_RELEASE);
	RT_ASSERT_MSG(gcwork_all_empty(), "mark termination: grey objects left in a work buffer");
	__atomic_add_fetch(&mheap_.sweepgen, 2, __ATOMIC_RELEASE);
	sweep_cycle_begin();
	last_marked = tot.bytes;
	last_stacks = tot.stacks;
	last_globals = tot.globals;
	__atomic_store_n(&gc_heap_live, tot.bytes, __ATOMIC_RELAXED);
	uint64_t goal = goal_from(tot.bytes, tot.stacks, tot.globals);
	__atomic_store_n(&gc_next_goal, goal, __ATOMIC_RELAXED);

	uint64_t t3 = rt_port_nanotime();
	rt_lock(&mheap_.lock);
	uint32_t i = (uint32_t)(rt_mstats.num_gc % 256);
	rt_mstats.pause_ns[i] = t3 - t_request;
	rt_mstats.pause_end[i] = t3;
	rt_mstats.pause_stop_ns[i] = t0 - t_request;
	rt_mstats.pause_total_ns += t3 - t_request;
	rt_mstats.last_gc = t3;
	rt_mstats.next_gc = goal == UINT64_MAX ? 0 : goal;
	rt_mstats.num_forced_gc += forced;
	__atomic_add_fetch(&rt_mstats.num_gc, 1, __ATOMIC_RELEASE);
	rt_unlock(&mheap_.lock);
	gc_busy_ns += t3 - t_request;

	*trace = (struct gc_cycle_trace){
		.num_gc = rt_mstats.num_gc, .since_start = t3 - gc_start_ns, .busy_ns = gc_busy_ns,
		.heap0 = heap0, .live = tot.bytes, .goal = goal, .stacks = tot.stacks, .globals = tot.globals,
		.t_stop = t1 - t_request, .t_mark = t2 - t1, .t_term = t3 - t2,
		.nproc = nproc, .forced = forced,
	};
	__atomic_store_n(&gc_phase, GC_OFF, __ATOMIC_RELEASE);
}

uint32_t gc_mark_epoch(void) { return __atomic_load_n(&mark_epoch, __ATOMIC_SEQ_CST); }

/* ms with three decimals, without floating point. */
static void print_ms(uint64_t ns)
{
	rt_printf("%lu.%03lu", (unsigned long)(ns / 1000000), (unsigned long)(ns / 1000 % 1000));
}

void gc_print_trace(const struct gc_cycle_trace *c)
{
	if (!gc_trace)
		return;
	uint64_t pct = c->since_start ? c->busy_ns * 100 / c->since_start : 0;
	rt_printf("gc %lu @%lu.%03lus %lu%%: ", (unsigned long)c->num_gc,
		  (unsigned long)(c->since_start / 1000000000), (unsigned long)(c->since_start / 1000000 % 1000),
		  (unsigned long)pct);
	print_ms(c->t_stop);
	rt_printf("+");
	print_ms(c->t_mark);
	rt_printf("+");
	print_ms(c->t_term);
	rt_printf(" ms clock, %lu->%lu->%lu MB, %lu MB goal, %lu MB stacks, %lu MB globals, %d P%s\n",
		  /* Go's start -> end of mark -> live: no allocation happens during a stopped mark */
		  (unsigned long)(c->heap0 >> 20), (unsigned long)(c->heap0 >> 20), (unsigned long)(c->live >> 20),
		  (unsigned long)(c->goal == UINT64_MAX ? 0 : c->goal >> 20),
		  (unsigned long)(c->stacks >> 20), (unsigned long)(c->globals >> 20),
		  c->nproc, c->forced ? " (forced)" : "");
}

uint64_t gc_cpu_fraction_ppm(void)
{
	uint64_t since = rt_port_nanotime() - gc_start_ns;
	return gc_start_ns == 0 || since == 0 ? 0 : gc_busy_ns * 1000000 / since;
}

/* ---- rt_gc ---- */

static void finish_sweep_on_system_stack(void *arg)
{
	(void)arg;
	sweep_finish();
	rt_scavenge_to_goal();   /* what the sweep freed beyond the goal goes back to the OS */
}

/*
 * Root 7: outside a world, the caller's stack from the registers rt_gc
 * (rt/port/amd64.S) pushed for it up to the top, and those registers.
 */
static void gc_outside_world(uint64_t *saved)
{
	uintptr_t lo, hi;
	rt_port_stack_bounds(&lo, &hi);
	RT_ASSERT_MSG((uintptr_t)saved >= lo && (uintptr_t)saved < hi,
		      "rt_gc: cannot find the caller's stack");
	gcmark_set_outside_root((uintptr_t)saved, hi);
	struct gc_cycle_trace trace;
	gc_run_stopped(NULL, true, 1, false, rt_port_nanotime(), &trace);
	gcmark_set_outside_root(0, 0);
	gc_print_trace(&trace);
	finish_sweep_on_system_stack(NULL);
}

/* rt_gc's body; saved: the caller's callee-saved registers, pushed by rt_gc. */
void rt_gc_c(uint64_t *saved);
void rt_gc_c(uint64_t *saved)
{
	struct rt_m *m = rt_getm();
	if (m == NULL || m->curg == NULL) {
		RT_ASSERT_MSG(rt_sched.main_g == NULL,
			      "rt_gc from a thread that is not running coroutines while a world runs: "
			      "call it from a coroutine (its stack would not be scanned)");
		rt_init();
		gc_outside_world(saved);
		return;
	}
	RT_ASSERT_MSG(m->locks == 0 && rt_port_may_stop(),
		      "rt_gc from a coroutine that holds a lock (m->locks %d)", m->locks);
	uint32_t n = (uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE);
	struct rt_g *g = m->curg;
	g->gc_scan_depth = g->stack_hi - (uintptr_t)saved;   /* see struct rt_g */
	while ((uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE) == n)
		if (!sched_stop_the_world_gc(true, n))
			break;   /* the world is ending */
	g->gc_scan_depth = 0;
	rt_systemstack(finish_sweep_on_system_stack, NULL);
}
