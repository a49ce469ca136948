/*
 * mgc.c - the garbage collector's cycle: when a cycle starts, its phases, the
 * heap goal, and its statistics (Go's mgc.go and the goal of mgcpacer.go).
 *
 * What. A non-moving mark-sweep collector, tri-color, marking on every P at
 * once and beside the program: precise for heap objects (the heap bitmap, or
 * a large span's type), conservative for stacks, saved registers and the
 * image's data. The world stops twice per cycle: to finish the last sweep
 * and queue the roots, and to terminate the mark; between them the roots
 * and the heap are marked while the program runs, and after the second the sweep runs beside
 * it too (rt/mgcsweep.c). gcstoptheworld=1 marks with the world stopped
 * instead (Go's GODEBUG setting of the same name), as does rt_gc outside a
 * world. The concurrent mark is the default; the tests run the stopped one
 * too (rt.gc.*_stopped_mark), and rt.gc.concurrent_mark_* always runs
 * concurrently. DESIGN.md 7.9 has the reasons; Go's mgc.go the model.
 *
 * The cycle:
 *   1. Trigger. rt_alloc's slow path, once its object is complete, calls
 *      gc_alloc_slow_hook: if gc_heap_live >= gc_trigger (GC_TRIGGER_RUNWAY_PCT
 *      of the way from the last marked heap to the goal, the rest the
 *      mark's runway), or gcstress's countdown ran out, and the caller is a
 *      coroutine that may stop here
 *      (no M lock, no kernel spinlock), it sweeps what the last cycle's
 *      sweep left (sweep_before_stop, Go's gcStart) and asks for a cycle
 *      (GC_REQ_START). rt_gc() sweeps and asks too (forced).
 *      Allocation outside a world never triggers.
 *   2. Stop the world (rt/proc.c, sched_stop_the_world_gc): the asking G
 *      enters through rt_mcall (its registers pushed on its own stack) and
 *      becomes G_WAITING; its M is the stopper. A G asking while a stop is
 *      under way parks on the wait list instead; a request that no longer
 *      applies (gc_request_wanted: a cycle started or ended since the G
 *      decided) is dropped. Every other M stops at a safe point and waits
 *      in gc_stopped_m, marking when asked.
 *   3. Sweep termination (gc_run_stopped): every P's mcache goes back to the
 *      mcentrals, the tiny blocks are dropped, the previous sweep is
 *      finished: every in-use span is swept, listed, and has clear marks.
 *   4. The roots are queued, not scanned (gcmark_prepare, concurrent): the
 *      global pieces and every G that may run again, each G's stack marked
 *      not yet scanned (mgcmark.c, "Roots beside the program"); only M 0's
 *      few caller frames are scanned here. Then rt_wb_enabled = 1, gc_phase
 *      = GC_CONCMARK, and the world restarts: the snapshot is taken. This
 *      stop's length no longer grows with the stacks and the image's data.
 *      The G whose allocation started the cycle scans the queued roots
 *      first, as an assist (starter_scans_roots), beside the other Ps.
 *   5. Concurrent mark (GC_CONCMARK). The G that asked goes on. Every
 *      marker's step claims a root job or a stack first while any is left
 *      (gcmark_root_step); execute() scans a G not yet scanned before it runs
 *      it. Mark
 *      workers (below) mark in steps of MARK_STEP_OBJS objects, each step
 *      on the system stack with its P's gcwork, both buffers published at
 *      the step's end, the work banked as background credit; rt_gc's
 *      caller marks the same way while it waits (help_mark), yielding
 *      between steps. A G that allocates pays by marking (the assists,
 *      below). Every
 *      pointer store through RT_STORE_PTR or the bulk barrier shades the old
 *      and the new value (rt/mbarrier.c). Allocation is black (below). The
 *      last marker out with nothing in sight asks for mark termination
 *      (mark_looks_done, marker_leaving).
 *   6. Mark termination (world stopped, GC_REQ_TERMINATE): the mcaches are
 *      flushed (black spans end) and every P's buffers published; if that
 *      found grey work, the concurrent mark restarts (at most
 *      GC_MARK_RESTARTS times a cycle, Go's gcMarkDone restart); else, if
 *      anything is left, all Ms drain it (MARK_DRAIN, the termination
 *      protocol of mgcwork.c; with nothing left no M is woken); with gccheckmark=1 every object the start's snapshot
 *      found reachable and every one allocated since must be marked
 *      (mgcmark.c's checkmark; the snapshot was taken by a whole stopped
 *      mark into separate bits just before step 4). Then the barrier is
 *      off, mheap_.sweepgen += 2 (every span unswept), gc_heap_live =
 *      bytes marked + bytes allocated black; the next goal (Go 1.18's): live + (live + stacks + globals)
 *      * GOGC / 100, at least 4 MiB * GOGC / 100, and its trigger; the statistics (NumGC,
 *      both pauses summed, LastGC).
 *   7. Start the world: the parked askers and the background sweeper are
 *      readied. Sweep, concurrently (mgcsweep.c). rt_gc() returns only
 *      after a whole cycle that began after its call (one already marking
 *      began before: it waits for the next) and its sweep, as Go's runtime.GC.
 * With gcstoptheworld=1, or outside a world (the calling thread alone, its
 * stack and registers as the only non-global root, mgcmark.c root 7),
 * steps 4-6 are one stopped mark (MARK_ALL) and the checkmark.
 * A world that ends while its mark runs has it terminated by rt_run's
 * thread (gc_world_ended), the Ms gone.
 *
 * Why the snapshot suffices (the invariant; Yuasa's snapshot-at-the-
 * beginning, which Go's hybrid barrier implies, proposal 17503). Every
 * object reachable at step 4 is marked by step 6, and every object made
 * after it is black, so nothing reachable at step 6 is white:
 *   - a G's stack is scanned before the G runs again (execute() waits for
 *     or does the scan), so what the scan reads is what the stack held at
 *     the snapshot, except words other Gs wrote into it meanwhile (a direct
 *     channel send into a parked receiver), which go through the bulk
 *     barrier; a mutator can reach afterwards only what was reachable then
 *     or is new, so its stores into its own stack need no barrier;
 *   - globals are scanned beside the program too, so a global slot is like
 *     a heap slot: it keeps its snapshot value until it is scanned or
 *     overwritten through the barrier (rt/rt.h's contract: RT_STORE_PTR, or
 *     rt_swap_ptr for an atomic exchange), which shades the old value with
 *     the roots' conservative rules (gc_shade); M 0's caller frames are
 *     scanned in the stop itself;
 *   - a heap slot holding a pointer at the snapshot keeps it until the slot
 *     is scanned or overwritten, and an overwrite through the barrier
 *     shades the old value first (the deletion half). The new value is
 *     shaded too (the insertion half: a value a scanned G stores into a
 *     global not yet scanned, then drops, is kept by it);
 *   - a store that bypasses the barrier into a heap slot holding a pointer
 *     breaks the invariant: rt/rt.h's contract forbids it;
 *   - the marker reads heap words that mutators may be storing: one
 *     aligned word at a time (the old or the new value, both covered);
 *   - objects are never freed during the mark: the sweep finished in step
 *     3 and starts only in step 6 (mspan_sweep asserts it).
 * Mark workers (Go 1.18's gcBgMarkWorker pool and findRunnableGCWorker).
 * A system G per P, made with the world, parks in a slot (worker_park_unlock
 * makes the slot claimable only once the G is G_WAITING with its context
 * saved). In the first stop, worker_pacing_begin sets Go's split of 25% of
 * the Ps: round(P / 4) dedicated workers, or, if that misses by over 30%,
 * one fewer and a fractional share per P for the rest (1-3 Ps: each P 25%
 * fractional; 4: one dedicated). schedule() asks gc_mark_worker_to_run
 * first: a free dedicated slot, or this P under its fractional share of the
 * time since the mark began; findrunnable asks again before its M sleeps
 * (an idle worker, if grey work is published or the P holds some). The
 * scheduler claims a parked worker by CAS and runs it. A worker marks until
 * nothing is grey, a stop is wanted, the tick asks it to yield, or its mode
 * says stop (fractional: past its share; idle: its P has a G to run); then
 * parks. Dedicated slots are taken by CAS, never below zero, and given
 * back only to the cycle that lent them.
 * Ending the mark: every marker (worker, assist, rt_gc's caller) that
 * stops marking calls marker_leaving: if no marker is inside a step and
 * nothing is published (mark_looks_done, one window of the full list's
 * epoch), it asks for termination; if it leaves published work (or
 * unclaimed roots) and no worker runs, it wakes an idle M (whose re-check before sleeping counts
 * published grey work when a worker is parked to take it). A P about to
 * sleep runs an idle worker even with no work in sight when no marker is
 * running, so a program that goes to sleep cannot leave its mark open.
 * Termination's restart takes what the Ps held privately (the barrier's
 * shades) back to the concurrent mark. Before the epoch and the restart,
 * any marker that found the list empty asked, and the stop drained the
 * rest: binary-trees at 2 Ps (bt-ours 18 2) paused 15-20 ms at the median;
 * after, 0.1-0.2 ms.
 * Assists (Go's gcAssistAlloc, and mgcpacer.go's assist ratio). A span
 * taken into an mcache during the mark debits the running G its free bytes
 * (gc_charge, as gc_heap_live is charged); at the slow path's end a G in
 * debt owes debt x ratio in scan work, at least GC_OVER_ASSIST_WORK, where
 * the ratio is the work still expected (the last mark's scan work, less
 * what this mark did so far) over the heap still free below the goal. It takes
 * the background credit first, then marks in steps until paid; what it did
 * beyond its debt is credit for its next allocations. Past the goal or past
 * the expected work the ratio aims at the hard goal (GC_HARD_GOAL_PCT of
 * the goal) with the worst-case work (every live byte, the stacks and
 * globals): a G that allocates faster than the mark proceeds pays for it
 * at once, so the heap at mark end stays near the goal
 * (rt.gc.assists_keep_the_heap_near_its_goal; without assists it runs out
 * of memory). Debts are per cycle: zeroed for every G in the first stop.
 * An assist that finds nothing grey forgives the rest of its debt (Go parks
 * it for background credit instead); it stops early, keeping its debt, for
 * a stop, the tick or the CPU limiter (Go's gcDrainN checks). Not built: the
 * cons/mark trigger (the trigger's runway is a fixed share).
 * The memory limit (Go 1.19's GOMEMLIMIT, rt_set_memory_limit). The goal is
 * the smaller of GOGC's and gc_limit_goal's: the limit less what is mapped
 * but is neither the live heap nor ready free pages, less any overage and a
 * headroom. It is read again at each trigger check (trigger_now) and at a
 * cycle's start, as what is mapped changes. The scavenger keeps all mapped
 * memory under 95% of the limit, and the heap returns free pages before it
 * makes pages ready past it (mgcscavenge.c). The CPU limiter (Go 1.19's
 * gcCPULimiter): a bucket, updated at each cycle's end and by assists, that
 * GC time (stops x Ps, assists, dedicated and fractional workers; an idle
 * P's marking costs the program nothing) fills and the program's drains;
 * full, assists stop, so a live heap that barely fits costs the program at
 * most about half its time and the heap exceeds the limit instead
 * (rt.gc.memory_limit_*). The limit's scavenging on the allocation path is
 * not GC time here (Go 1.19 counts it): counted, it latched the limiter on
 * once the heap was over the limit, and the heap ran away.
 * Allocate black. A span an mcache takes during the mark has each free
 * slot's mark bit set first (gc_black_span_begin, one fetch-or per word);
 * what is handed out from it is therefore marked and never scanned (it
 * holds only pointers stored since, which the insertion half or the
 * snapshot cover). When the span leaves the mcache (a refill, or step 6's
 * flush) the slots still free, at or past freeindex with a clear alloc bit,
 * get their bits cleared again (never-used slots are not objects), and the
 * objects handed out are counted (gc_black_bytes). Large objects are marked
 * when made. The allocator's fast path is untouched: the cost is at refill.
 * Races: the span's owner advances freeindex while markers read it in
 * findobject; freeindex only grows during a mark and slots it passes are
 * already black, so a stale read only makes a marker skip a black object.
 * The mark bit words are shared by markers and the owner's begin/end:
 * every change is an atomic or/and of other bits.
 * Termination. A marker's "nothing grey" is only a hint (another P may
 * hold grey objects its barrier produced, or a marker be mid-step): the
 * decision is made in step 6 with the world stopped, where the drain
 * empties every buffer. A stop cannot begin while a marker holds its M
 * (m->locks), so no step is cut in half.
 *
 * Invariants: one cycle at a time (rt_sched.gcwaiting, set under the sched
 * lock, and gc_request_wanted); gc_phase changes only with the world
 * stopped; it is GC_OFF or GC_CONCMARK whenever the world runs, and no heap
 * allocation happens in the other phases (rt_alloc asserts it); after step 3
 * every in-use span is on exactly one mcentral list with sweepgen == h;
 * rt_wb_enabled is set exactly while gc_phase is GC_CONCMARK (tests set it
 * by hand only outside a mark: the barrier then counts and does not shade).
 * The verifier of a concurrent mark, and why it checks the snapshot rather
 * than the roots at termination, is in mgcmark.c (Checkmark).
 *
 * Settings: gogc=N|off (rt_set_gc_percent), gctrace=1 (a line per cycle in
 * Go's format), gccheckmark=1, gcstress=N (a cycle every N allocations),
 * gcstoptheworld=1. The kernel reads them from its command line, the hosted
 * port from GOGC and RT_GODEBUG=gctrace=1,gccheckmark=1,gcstress=N,gcstoptheworld=1.
 *
 * Cites: Go's mgc.go (gcStart, gcMarkDone, gcMarkTermination, the phases),
 * mgcpacer.go (the Go 1.18 heap goal, heapMinimum), mgcmark.go (roots),
 * mgcwork.go, mgcsweep.go; Dijkstra et al., "On-the-fly garbage collection:
 * an exercise in cooperation" (CACM 1978) for the tri-color abstraction.
 */
#include "rt/mbarrier.h"
#include "rt/mcache.h"
#include "rt/mgc.h"
#include "rt/mheap.h"
#include "rt/mprof.h"
#include "rt/mstats.h"
#include "rt/runtime2.h"

#define GC_HEAP_MINIMUM ((uint64_t)4 << 20)   /* Go's heapMinimum at GOGC=100 */
/* A cycle starts when this much of the runway from the marked heap to the
 * goal is used (Go 1.19's lower bound on the trigger, minTriggerRatio). */
#define GC_TRIGGER_RUNWAY_PCT 70
#define GC_HARD_GOAL_PCT 110                   /* past the goal, assists aim here (Go's hard goal) */
#define GC_OVER_ASSIST_WORK ((uint64_t)64 << 10)   /* an assist's least scan work (Go's gcOverAssistWork) */
#define GC_MIN_RUNWAY ((uint64_t)64 << 10)     /* the assist ratio's least heap distance */
/* The memory limit (Go 1.19's GOMEMLIMIT): the goal keeps this headroom below
 * it (our choice: 3% and 1 MiB; Go 1.19 keeps none, later ones 3%). */
#define GC_LIMIT_HEADROOM_PCT 3
#define GC_LIMIT_HEADROOM_MIN ((uint64_t)1 << 20)
/* The CPU limiter (Go 1.19's gcCPULimiter): GC time fills a bucket that the
 * program's time drains, so it fills only while GC takes over half the CPU;
 * full, assists stop. Go's holds 1 CPU-second per P; ours 10 ms: every ms
 * the limiter is on, the program allocates unassisted, and the heap grows
 * past the limit by what it allocates meanwhile (under emulation, much). */
#define GC_LIMITER_BUCKET_NS_PER_P 10000000ull
#define GC_LIMITER_POLL_NS 1000000ull   /* an assist looks at the bucket at most this often */

volatile uint32_t gc_phase;
int gc_percent = 100;
bool gc_stoptheworld;   /* gcstoptheworld=1: the whole mark with the world stopped */
bool gc_checkmark;
bool gc_debug_white_alloc;
bool gc_trace;
uint64_t gc_stress;
volatile uint64_t gc_heap_live;
volatile uint64_t gc_next_goal = GC_HEAP_MINIMUM;
volatile uint64_t gc_trigger = GC_HEAP_MINIMUM * GC_TRIGGER_RUNWAY_PCT / 100;
volatile uint64_t gc_memory_limit = GC_NO_LIMIT;
volatile bool gc_cpu_limited;
static volatile bool cycle_limited;   /* the limiter was full at some update during this cycle */
static volatile uint64_t gc_cpu_ns;   /* all GC CPU time: stops x Ps, assists, workers (atomic) */
static struct {
	volatile uint32_t busy;   /* an updater holds the fields below (CAS 0 -> 1) */
	uint64_t fill;            /* GC ns less program ns since the bucket was empty, capped */
	volatile uint64_t last_ns;/* its last update */
	uint64_t gc_seen;         /* gc_cpu_ns at the last update */
	uint32_t engaged;         /* updates that found it full */
} limiter;

static volatile uint32_t mark_epoch;   /* +1 per mark: stopped Ms join each one */
static uint64_t gc_start_ns;           /* the first cycle's clock base (for gctrace's @) */
static uint64_t gc_busy_ns;            /* total stop-the-world time, and marking beside the program */
static struct rt_gc_cycle last_cycle;  /* rt_gc_last_cycle's (mheap_.lock) */
volatile uint64_t gc_black_bytes;

/*
 * The pacer's assist accounting for the mark under way (Go's gcControllerState):
 * all atomic, reset in the first stop. Work is scan bytes (gcwork.scan_bytes).
 */
static volatile uint64_t scan_work_done;   /* scanned beside the program (and M 0's frames in the stop) */
static volatile int64_t bg_scan_credit;    /* background markers' work not yet taken by an assist */
static volatile uint64_t assist_work, bg_work, assist_ns, bg_ns;   /* this cycle's, for the trace */

/* The concurrent cycle under way (written while the world is stopped). */
static struct {
	uint64_t heap0;           /* gc_heap_live when it began */
	uint64_t pause1_ns;       /* its first stop: request to restart */
	uint64_t t_stop;          /* of which sweep termination (the rest: the roots) */
	uint64_t t_started;       /* when the world restarted */
	uint64_t stop_ns;         /* of its pause, stopping the world */
	uint64_t goal;            /* its heap goal (gctrace's "MB goal"): gc_next_goal when it began */
	uint64_t expected_work;   /* scan work it should take: the last mark's (Go's heapScan + stacks + globals) */
	uint64_t worst_work;      /* at most: every live byte, the stacks and the globals */
	int nproc;
	bool forced;
	bool concurrent;          /* its mark runs beside the program (else all in the first stop) */
	unsigned restarts;        /* terminations that found grey work and restarted the mark */
	bool snapshot;            /* gccheckmark took the start's reachable set: verify at the end */
} cyc;

#define MARK_STEP_OBJS 256   /* objects a marker scans between yields (and an assist per slow path) */

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

static uint64_t last_marked, last_stacks, last_globals, last_scan;

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The trigger for goal: GC_TRIGGER_RUNWAY_PCT of the way from the last marked heap to it. */
static uint64_t trigger_for(uint64_t goal)
{
	if (goal == UINT64_MAX)
		return UINT64_MAX;
	uint64_t marked = min_u64(last_marked, goal);
	return marked + (goal - marked) / 100 * GC_TRIGGER_RUNWAY_PCT;
}

/*
 * The heap goal the memory limit allows now (Go 1.19's memoryLimitHeapGoal):
 * the limit less what is mapped and is neither the live heap nor free heap
 * pages still ready (stacks, runtime metadata, span tails: the scavenger
 * cannot shrink it), less what is mapped past the limit already, less a
 * headroom. UINT64_MAX with no limit.
 */
uint64_t gc_limit_goal(void)
{
	uint64_t limit = __atomic_load_n(&gc_memory_limit, __ATOMIC_RELAXED);
	if (limit == GC_NO_LIMIT)
		return UINT64_MAX;
	uint64_t ready = mstats_mapped_ready(), free_ready = mstats_heap_free_ready();
	uint64_t live = __atomic_load_n(&gc_heap_live, __ATOMIC_RELAXED);
	uint64_t other = ready > free_ready + live ? ready - free_ready - live : 0;
	uint64_t over = ready > limit ? ready - limit : 0;
	uint64_t headroom = limit / 100 * GC_LIMIT_HEADROOM_PCT;
	if (headroom < GC_LIMIT_HEADROOM_MIN)
		headroom = GC_LIMIT_HEADROOM_MIN;
	uint64_t keep = other + over + headroom;
	return keep >= limit ? 0 : limit - keep;
}

/* The trigger under the memory limit, now: the limit's goal's, if lower than gc_trigger. */
static uint64_t trigger_now(void)
{
	uint64_t t = __atomic_load_n(&gc_trigger, __ATOMIC_RELAXED);
	if (likely(__atomic_load_n(&gc_memory_limit, __ATOMIC_RELAXED) == GC_NO_LIMIT))
		return t;
	return min_u64(t, trigger_for(gc_limit_goal()));
}

/* Sets the next goal, capped by the memory limit, and its trigger; returns the goal set. */
static uint64_t set_goal(uint64_t goal)
{
	goal = min_u64(goal, gc_limit_goal());
	__atomic_store_n(&gc_next_goal, goal, __ATOMIC_RELAXED);
	__atomic_store_n(&gc_trigger, trigger_for(goal), __ATOMIC_RELAXED);
	return goal;
}

/* A setting changed (GOGC, the limit): the goal again from the last mark's figures. */
static void goal_refresh(void)
{
	uint64_t goal = set_goal(goal_from(last_marked, last_stacks, last_globals));
	rt_mstats.next_gc = goal == UINT64_MAX ? 0 : goal;
}

int64_t rt_set_memory_limit(int64_t limit)
{
	int64_t old = (int64_t)__atomic_load_n(&gc_memory_limit, __ATOMIC_RELAXED);
	if (limit < 0)
		return old;   /* Go's SetMemoryLimit: a negative limit only reads it */
	__atomic_store_n(&gc_memory_limit, (uint64_t)limit, __ATOMIC_RELAXED);
	goal_refresh();
	return old;
}

/* Go 1.19's gcCPULimiter: adds the GC time since the last update, takes away
 * the program's (every P's time counts). At each cycle's end (world
 * stopped) and from assists during the mark; one updater at a time, the
 * others skip. */
static void limiter_update(uint64_t now, int nproc)
{
	uint32_t idle = 0;
	if (!__atomic_compare_exchange_n(&limiter.busy, &idle, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	uint64_t cap = GC_LIMITER_BUCKET_NS_PER_P * (uint64_t)nproc;
	uint64_t gc_now = __atomic_load_n(&gc_cpu_ns, __ATOMIC_RELAXED);
	if (now < limiter.last_ns)
		now = limiter.last_ns;   /* a delayed updater read its clock before the last one */
	if (limiter.last_ns != 0 && now > limiter.last_ns) {
		uint64_t total = (now - limiter.last_ns) * (uint64_t)nproc;
		uint64_t gc = min_u64(gc_now - limiter.gc_seen, total);
		uint64_t program = total - gc;
		limiter.fill += gc;
		limiter.fill = limiter.fill > program ? min_u64(limiter.fill - program, cap) : 0;
	}
	limiter.last_ns = now;
	limiter.gc_seen = gc_now;
	bool full = limiter.fill >= cap;
	limiter.engaged += full;
	if (full)
		__atomic_store_n(&cycle_limited, true, __ATOMIC_RELAXED);
	__atomic_store_n(&gc_cpu_limited, full, __ATOMIC_RELAXED);
	__atomic_store_n(&limiter.busy, 0, __ATOMIC_RELEASE);
}

/* An assist's look at the limiter: true if it is full (the assist is skipped). */
static bool limiter_full_now(void)
{
	uint64_t now = rt_port_nanotime();
	if (now - __atomic_load_n(&limiter.last_ns, __ATOMIC_RELAXED) >= GC_LIMITER_POLL_NS)
		limiter_update(now, cyc.nproc);
	return __atomic_load_n(&gc_cpu_limited, __ATOMIC_RELAXED);
}

int rt_set_gc_percent(int pct)
{
	int old = gc_percent;
	gc_percent = pct < 0 ? -1 : pct;
	goal_refresh();
	return old;
}

void rt_gc_set_trace(bool on) { gc_trace = on; }
void rt_gc_set_checkmark(bool on) { gc_checkmark = on; }
void rt_gc_set_stress(uint64_t every) { gc_stress = every; }
bool rt_gc_set_stoptheworld(bool on)
{
	bool old = gc_stoptheworld;
	gc_stoptheworld = on;
	return old;
}

/* ---- allocate black ---- */

/* The free slots of s (at or past freeindex, alloc bit clear), in word w. */
static inline uint64_t free_slots(const struct mspan *s, unsigned w)
{
	return ~s->alloc_bits[w] & mspan_slot_mask(w, s->freeindex, s->nelems);
}

void gc_black_span_begin(struct mspan *s)
{
	s->allocblack = 1;
	s->black_base = s->alloc_count;
	if (unlikely(gc_debug_white_alloc))
		return;
	for (unsigned w = s->freeindex / 64; w < (s->nelems + 63u) / 64; w++) {
		uint64_t f = free_slots(s, w);
		if (f != 0)
			__atomic_fetch_or(&s->gcmark_bits[w], f, __ATOMIC_RELAXED);
	}
}

void gc_black_span_end(struct mspan *s)
{
	/* Slots still free were never handed out: they are not objects. The
	 * ones handed out since begin are below freeindex now and stay marked. */
	for (unsigned w = s->freeindex / 64; w < (s->nelems + 63u) / 64; w++) {
		uint64_t f = free_slots(s, w);
		if (f != 0)
			__atomic_fetch_and(&s->gcmark_bits[w], ~f, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&gc_black_bytes, (uint64_t)(s->alloc_count - s->black_base) * s->elemsize,
			   __ATOMIC_RELAXED);
	s->allocblack = 0;
}

void gc_black_large(struct mspan *s)
{
	if (unlikely(gc_debug_white_alloc))
		return;
	__atomic_fetch_or(&s->gcmark_bits[0], 1ull, __ATOMIC_RELAXED);
	__atomic_add_fetch(&gc_black_bytes, s->elemsize, __ATOMIC_RELAXED);
}

/* ---- the trigger ---- */

static uint64_t stress_count;   /* allocations since the last stress cycle (atomic) */

static bool may_stop_here(struct rt_m *m)
{
	return m != NULL && m->curg != NULL && m->locks == 0 && !m->on_systemstack && rt_port_may_stop();
}

struct mark_step {
	bool found;      /* out: some grey object was scanned */
	uint64_t work;   /* out: the scan bytes it did */
};

/* Whether the mark of cycle `cycle` (NumGC before it ends) still runs beside the program. */
static bool marking(uint32_t cycle)
{
	return __atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE) == GC_CONCMARK &&
	       (uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE) == cycle;
}

/* Markers inside a step: the grey objects they took are in no published buffer. */
static volatile int32_t markers_busy;

static void mark_step_on_system_stack(void *arg)
{
	struct mark_step *st = arg;
	struct gcwork *w = &gcwork_of[rt_port_current_p()];
	__atomic_add_fetch(&markers_busy, 1, __ATOMIC_SEQ_CST);
	uint64_t scanned = w->scan_bytes;
	st->found = gcmark_root_step(w);   /* a root job or a stack first, while any is left */
	st->found |= gcmark_drain_some(w, MARK_STEP_OBJS);
	gcw_dispose(w);   /* nothing grey stays on a P this G may leave */
	st->work = w->scan_bytes - scanned;
	__atomic_sub_fetch(&markers_busy, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&scan_work_done, st->work, __ATOMIC_RELAXED);
}

static bool any_worker_parked(void);

/* Whether some marker can find work without a stop: published grey objects, or roots unclaimed. */
static bool mark_work_in_sight(void) { return gcwork_has_full() || gcmark_roots_pending(); }

void gc_scan_work_add(uint64_t bytes) { __atomic_add_fetch(&scan_work_done, bytes, __ATOMIC_RELAXED); }

bool gc_mark_work_published(void)
{
	return __atomic_load_n(&gc_phase, __ATOMIC_RELAXED) == GC_CONCMARK &&
	       mark_work_in_sight() &&
	       any_worker_parked();   /* else an M that re-checks would never sleep */
}

/*
 * Go's "last worker out" rule (gcMarkDone's condition): the mark is done as
 * far as anyone can see when no marker is inside a step and nothing is
 * published, both seen in one window of the full list's epoch. A marker
 * counts itself busy before it takes a buffer and publishes before it stops
 * counting, so a buffer taken or put inside the window changes the epoch,
 * and one taken before it leaves its taker busy at the look. What Ps hold
 * privately (the barrier's shades) the termination stop finds; it restarts
 * the mark if that is anything (mark_termination).
 */
static bool mark_looks_done(void)
{
	uint64_t e = gcwork_epoch();
	return !mark_work_in_sight() &&
	       __atomic_load_n(&markers_busy, __ATOMIC_SEQ_CST) == 0 && gcwork_epoch() == e;
}

static volatile int32_t workers_running;   /* claimed and not parked again (atomic) */

/* A background marker's run (a worker's, or one of help_mark's steps): its work
 * and time for the trace, and its time for the CPU limiter unless idle. */
static void background_done(uint64_t work, uint64_t ns, bool costs_program)
{
	__atomic_add_fetch(&bg_work, work, __ATOMIC_RELAXED);
	__atomic_add_fetch(&bg_ns, ns, __ATOMIC_RELAXED);
	if (costs_program)
		__atomic_add_fetch(&gc_cpu_ns, ns, __ATOMIC_RELAXED);
}

/* A marker of cycle `cycle` stops marking (found nothing, paid, or its share is
 * spent): the last one out asks for termination; one that leaves work with no
 * worker running wakes an idle P to take it. False if the world is ending. */
static bool marker_leaving(uint32_t cycle, bool forced)
{
	if (!marking(cycle))
		return true;
	if (mark_looks_done())
		return sched_stop_the_world_gc(GC_REQ_TERMINATE, forced, cycle);
	if (mark_work_in_sight() && __atomic_load_n(&workers_running, __ATOMIC_ACQUIRE) == 0)
		sched_wakep();   /* grey work, or roots, for an idle P's worker */
	return true;
}

/*
 * rt_gc's caller while it waits: marks in steps of MARK_STEP_OBJS objects
 * while the mark of `cycle` runs, yielding between steps, each step's work
 * banked as credit for assists. Finding nothing grey, it leaves as every
 * marker does (marker_leaving) and looks again after a yield. Returns false
 * if the world is ending.
 */
static bool help_mark(uint32_t cycle, bool forced)
{
	while (marking(cycle)) {
		uint64_t t = rt_port_nanotime();
		struct mark_step st;
		rt_systemstack(mark_step_on_system_stack, &st);
		__atomic_add_fetch(&bg_scan_credit, (int64_t)st.work, __ATOMIC_RELAXED);
		background_done(st.work, rt_port_nanotime() - t, true);
		if (!st.found && !marker_leaving(cycle, forced))
			return false;
		rt_gosched();
	}
	return true;
}

/* ---- background mark workers (Go 1.18's gcBgMarkWorker and findRunnableGCWorker) ---- */

#define GC_BG_UTILIZATION_PCT 25   /* of all Ps' time: Go's gcBackgroundUtilization */
#define GC_MAX_UTIL_ERROR_PCT 30   /* rounding the dedicated count may miss by this much (Go's maxUtilError) */

enum worker_state { WORKER_STARTING, WORKER_PARKED, WORKER_CLAIMED };
enum worker_mode { WORKER_DEDICATED, WORKER_FRACTIONAL, WORKER_IDLE };

struct mark_worker {
	struct rt_g *g;             /* set by the worker before its first park */
	volatile uint32_t state;    /* enum worker_state; PARKED -> CLAIMED by CAS (claimer) */
	uint32_t mode;              /* enum worker_mode: set by the claimer, read by the worker */
	uint32_t cycle;             /* NumGC of the mark it was claimed for */
	int p;                      /* the P that claimed it (fractional time is charged there) */
} __attribute__((aligned(64)));

static struct mark_worker workers[RT_MAX_PROCS];
static int nworkers;

/* This mark's worker pacing (set in the first stop; atomics while it runs). */
static volatile int32_t dedicated_left;       /* dedicated slots not taken */
static uint64_t frac_goal_ppm;                /* each P's fractional share, in millionths */
static uint64_t mark_start_ns;
static volatile uint64_t frac_ns[RT_MAX_PROCS];   /* fractional marking per P */
static volatile uint64_t idle_ns;                 /* idle workers' share of bg_ns (the trace) */

void *gc_mark_worker_slot(int i) { return &workers[i]; }

void gc_mark_workers_world_start(int n)
{
	RT_ASSERT(n > 0 && n <= RT_MAX_PROCS);
	for (int i = 0; i < RT_MAX_PROCS; i++)
		workers[i] = (struct mark_worker){0};
	nworkers = n;
	__atomic_store_n(&workers_running, 0, __ATOMIC_RELAXED);
}

void gc_mark_workers_world_end(void)
{
	nworkers = 0;   /* their Gs are gone with the world */
}

/* The dedicated count and fractional share for nproc Ps (Go 1.18's startCycle). */
static void worker_pacing_begin(int nproc)
{
	uint64_t total = (uint64_t)nproc * GC_BG_UTILIZATION_PCT;   /* in hundredths of a P */
	uint64_t dedicated = (total + 50) / 100;
	uint64_t err = dedicated * 100 > total ? dedicated * 100 - total : total - dedicated * 100;
	frac_goal_ppm = 0;
	if (err * 100 > total * GC_MAX_UTIL_ERROR_PCT) {
		if (dedicated * 100 > total)
			dedicated--;
		frac_goal_ppm = (total - dedicated * 100) * 10000 / (uint64_t)nproc;
	}
	__atomic_store_n(&dedicated_left, (int32_t)dedicated, __ATOMIC_RELAXED);
	for (int p = 0; p < RT_MAX_PROCS; p++)
		__atomic_store_n(&frac_ns[p], 0, __ATOMIC_RELAXED);
	mark_start_ns = rt_port_nanotime();
}

/* P p has marked as a fractional worker for less than its share of the mark so far. */
static bool fractional_wanted(int p, uint64_t extra_ns)
{
	uint64_t elapsed = rt_port_nanotime() - mark_start_ns;
	return (__atomic_load_n(&frac_ns[p], __ATOMIC_RELAXED) + extra_ns) * 1000000 < frac_goal_ppm * elapsed;
}

static bool any_worker_parked(void)
{
	for (int k = 0; k < nworkers; k++)
		if (__atomic_load_n(&workers[k].state, __ATOMIC_RELAXED) == WORKER_PARKED)
			return true;
	return false;
}

static struct mark_worker *claim_worker(int p)
{
	for (int k = 0; k < nworkers; k++) {
		struct mark_worker *w = &workers[(p + k) % nworkers];
		uint32_t parked = WORKER_PARKED;
		if (__atomic_load_n(&w->state, __ATOMIC_RELAXED) == WORKER_PARKED &&
		    __atomic_compare_exchange_n(&w->state, &parked, WORKER_CLAIMED, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return w;
	}
	return NULL;
}

/* Takes a dedicated slot if one is free (Go's decIfPositive: never below zero). */
static bool take_dedicated_slot(void)
{
	int32_t v = __atomic_load_n(&dedicated_left, __ATOMIC_RELAXED);
	while (v > 0)
		if (__atomic_compare_exchange_n(&dedicated_left, &v, v - 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return true;
	return false;
}

struct rt_g *gc_mark_worker_to_run(int p, bool idle)
{
	if (likely(__atomic_load_n(&gc_phase, __ATOMIC_RELAXED) != GC_CONCMARK) || nworkers == 0)
		return NULL;
	enum worker_mode mode;
	if (idle) {
		/* Nothing to mark: let the P sleep, unless no worker runs (then this
		 * one finds the mark done and asks for termination, so a program
		 * that went to sleep does not leave its mark open). */
		if (!mark_work_in_sight() && gcw_empty(&gcwork_of[p]) &&
		    (__atomic_load_n(&workers_running, __ATOMIC_ACQUIRE) != 0 ||
		     __atomic_load_n(&markers_busy, __ATOMIC_ACQUIRE) != 0))
			return NULL;
		mode = WORKER_IDLE;
	} else if (take_dedicated_slot()) {
		mode = WORKER_DEDICATED;
	} else if (frac_goal_ppm != 0 && fractional_wanted(p, 0)) {
		mode = WORKER_FRACTIONAL;
	} else {
		return NULL;
	}
	struct mark_worker *w = claim_worker(p);
	if (w == NULL) {
		if (mode == WORKER_DEDICATED)
			__atomic_add_fetch(&dedicated_left, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	__atomic_add_fetch(&workers_running, 1, __ATOMIC_ACQ_REL);
	w->mode = mode;
	w->cycle = (uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE);
	w->p = p;
	RT_ASSERT_MSG(w->g->status == G_WAITING, "mark worker G %lu claimed in status %u",
		      (unsigned long)w->g->id, w->g->status);
	__atomic_store_n(&w->g->status, G_RUNNABLE, __ATOMIC_RELEASE);
	return w->g;
}

/* rt_park's unlock: the worker is G_WAITING with its context saved; claimable now. */
static bool worker_park_unlock(struct rt_g *g, void *arg)
{
	(void)g;
	struct mark_worker *w = arg;
	__atomic_store_n(&w->state, WORKER_PARKED, __ATOMIC_SEQ_CST);
	/* A leaving marker's wakep may have found no worker parked (all between
	 * leaving and here): the M it woke slept again. Wake one for the work. */
	if (gc_mark_work_published() && __atomic_load_n(&workers_running, __ATOMIC_SEQ_CST) == 0)
		sched_wakep();
	return true;
}

/* Whether a worker of this mode should leave its P after a step. */
static bool worker_should_stop(const struct mark_worker *w, uint64_t ran_ns)
{
	struct rt_g *g = rt_getm()->curg;
	if (__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_ACQUIRE) || g->preempt)
		return true;   /* a stop, or the tick (the worker goes back to a run queue) */
	switch (w->mode) {
	case WORKER_FRACTIONAL:
		return !fractional_wanted(w->p, ran_ns);
	case WORKER_IDLE:
		return sched_p_has_work(rt_port_current_p());
	default:
		return false;   /* dedicated: the whole mark */
	}
}

/*
 * A worker G: parks until the scheduler claims it, then marks in steps of
 * MARK_STEP_OBJS objects until its mode says stop (dedicated: never, until
 * nothing is grey; fractional: past its P's share; idle: its P has a G to
 * run), its work banked as background credit. Then it leaves as every
 * marker does (marker_leaving: the last one out asks for termination) and
 * parks again.
 */
void gc_mark_worker_main(void *slot)
{
	struct mark_worker *w = slot;
	w->g = rt_getm()->curg;
	for (;;) {
		rt_park(worker_park_unlock, w);
		uint32_t cycle = w->cycle;
		uint64_t t0 = rt_port_nanotime(), work = 0;
		while (marking(cycle)) {
			struct mark_step st;
			rt_systemstack(mark_step_on_system_stack, &st);
			work += st.work;
			__atomic_add_fetch(&bg_scan_credit, (int64_t)st.work, __ATOMIC_RELAXED);
			if (!st.found || worker_should_stop(w, rt_port_nanotime() - t0))
				break;
		}
		uint64_t ns = rt_port_nanotime() - t0;
		/* The accounting belongs to its cycle: a worker claimed just before a
		 * stop may run only after the next cycle's pacing was set (no call
		 * between this test and the updates, so no stop falls between them). */
		if (marking(cycle)) {
			/* An idle P's marking costs the program nothing (Go 1.19's limiter). */
			background_done(work, ns, w->mode != WORKER_IDLE);
			if (w->mode == WORKER_DEDICATED)
				__atomic_add_fetch(&dedicated_left, 1, __ATOMIC_RELAXED);
			else if (w->mode == WORKER_FRACTIONAL)
				__atomic_add_fetch(&frac_ns[w->p], ns, __ATOMIC_RELAXED);
			else
				__atomic_add_fetch(&idle_ns, ns, __ATOMIC_RELAXED);
		}
		__atomic_sub_fetch(&workers_running, 1, __ATOMIC_ACQ_REL);
		(void)marker_leaving(cycle, false);
	}
}

/*
 * Scan work owed per byte allocated, in 1/65536ths (Go's assistWorkPerByte,
 * mgcpacer.go's revise): the work still expected over the heap still free
 * before the goal. Past the goal, or past the expected work, the hard goal
 * (GC_HARD_GOAL_PCT of the goal) and the worst case take their place.
 */
static uint64_t assist_ratio(void)
{
	uint64_t live = __atomic_load_n(&gc_heap_live, __ATOMIC_RELAXED);
	uint64_t done = __atomic_load_n(&scan_work_done, __ATOMIC_RELAXED);
	uint64_t goal = cyc.goal, expected = cyc.expected_work;
	if (live > goal || done > expected) {
		goal = goal > UINT64_MAX / GC_HARD_GOAL_PCT ? UINT64_MAX : goal * GC_HARD_GOAL_PCT / 100;
		expected = cyc.worst_work > done ? cyc.worst_work : done;
	}
	uint64_t left = expected - done < GC_OVER_ASSIST_WORK ? GC_OVER_ASSIST_WORK : expected - done;
	uint64_t runway = goal > live + GC_MIN_RUNWAY ? goal - live : GC_MIN_RUNWAY;
	uint64_t r = (left < (UINT64_MAX >> 16) ? left << 16 : UINT64_MAX) / runway;
	return r == 0 ? 1 : r > (1ull << 40) ? 1ull << 40 : r;
}

/*
 * A mark assist (Go's gcAssistAlloc): g allocated past its credit during
 * the mark. It owes its debt times the assist ratio in scan work, at least
 * GC_OVER_ASSIST_WORK (so it comes back rarely); it takes background credit
 * first, then marks until the work is paid, or until it finds nothing grey
 * (the rest of the debt forgiven: Go parks the G until background credit
 * comes), a stop, the tick or the limiter. Then it leaves as every marker
 * does (marker_leaving). Credit beyond the debt is kept for later.
 */
/* An assist's work and time, for the trace and the CPU limiter. */
static void assist_done(uint64_t work, uint64_t ns)
{
	__atomic_add_fetch(&assist_work, work, __ATOMIC_RELAXED);
	__atomic_add_fetch(&assist_ns, ns, __ATOMIC_RELAXED);
	__atomic_add_fetch(&gc_cpu_ns, ns, __ATOMIC_RELAXED);
}

static void gc_assist(struct rt_g *g, uint32_t cycle)
{
	uint64_t t = rt_port_nanotime();
	uint64_t ratio = assist_ratio();
	uint64_t debt = (uint64_t)-g->gc_assist_bytes, owed;
	if (__builtin_mul_overflow(debt, ratio, &owed))
		owed = UINT64_MAX;
	else
		owed >>= 16;
	if (owed < GC_OVER_ASSIST_WORK)
		owed = GC_OVER_ASSIST_WORK;
	int64_t have = __atomic_load_n(&bg_scan_credit, __ATOMIC_RELAXED);
	uint64_t paid = 0;
	while (have > 0) {
		uint64_t take = (uint64_t)have < owed ? (uint64_t)have : owed;
		if (__atomic_compare_exchange_n(&bg_scan_credit, &have, have - (int64_t)take, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			paid = take;
			break;
		}
	}
	uint64_t marked = 0;
	while (paid + marked < owed && marking(cycle)) {
		struct mark_step st;
		rt_systemstack(mark_step_on_system_stack, &st);
		marked += st.work;
		if (!st.found)
			break;   /* the rest of the debt is forgiven (Go would park for credit) */
		if (__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_ACQUIRE) || g->preempt ||
		    __atomic_load_n(&gc_cpu_limited, __ATOMIC_RELAXED))
			break;   /* a stop, the tick, or the limiter: keep the rest of the debt (Go's gcDrainN) */
	}
	if (marked != 0 || paid < owed)
		(void)marker_leaving(cycle, false);
	uint64_t credit;
	if (__builtin_mul_overflow(paid + marked, (uint64_t)65536, &credit))
		credit = UINT64_MAX;
	credit /= ratio;
	if (marking(cycle))   /* after a stop, a new cycle may have zeroed the debts */
		g->gc_assist_bytes += credit > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)credit;
	assist_done(marked, rt_port_nanotime() - t);
}

/*
 * The G whose allocation started the cycle scans the roots the first stop
 * queued, as an assist, before it goes on (ours, not Go's, whose globals are
 * small): they are most of a cycle's scan work in the kernel (1.7 MiB of data
 * and bss, test tables among them), and left to the pacer's assists and a
 * fractional worker on 1 P they took 15-37 ms of the runway instead of 1, the
 * objects allocated black meanwhile counted live, and run=rt.gc_live16m's goal
 * grew from 33 to 46 MiB and ran out of its 64 MiB. The work is done work for
 * the pacer, as the roots' stop was, but no credit for the starter: credited,
 * it let the starter allocate about 1 MiB unassisted past the goal
 * (rt.gc.assists_keep_the_heap_near_its_goal: 112% of the goal at mark end
 * on every kernel run, over its 110% bound). Other Ps claim roots beside it.
 */
static void starter_scans_roots(struct rt_g *g, uint32_t cycle)
{
	if (!marking(cycle) || !gcmark_roots_pending())
		return;
	uint64_t t = rt_port_nanotime(), marked = 0;
	while (gcmark_roots_pending() && marking(cycle)) {
		struct mark_step st;
		rt_systemstack(mark_step_on_system_stack, &st);
		marked += st.work;
		if (__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_ACQUIRE) || g->preempt)
			break;
	}
	(void)marker_leaving(cycle, false);
	assist_done(marked, rt_port_nanotime() - t);
}

void gc_charge(uint64_t bytes)
{
	__atomic_add_fetch(&gc_heap_live, bytes, __ATOMIC_RELAXED);
	if (__atomic_load_n(&gc_phase, __ATOMIC_RELAXED) != GC_CONCMARK)
		return;
	struct rt_m *m = rt_getm();
	if (m != NULL && m->curg != NULL)
		m->curg->gc_assist_bytes -= (int64_t)bytes;   /* what it took beside the mark */
}

/* Before a cycle's first stop, its starter sweeps what the last sweep left
 * (Go's gcStart), so sweep termination in the pause finds nothing to do:
 * at 1 P the leftover made 0.3-0.7 ms pauses. One span per trip to the
 * system stack, as Go's one sweepone per acquired M, so a stop another M
 * asks for meanwhile waits for one span, not the whole leftover; it ends
 * when the request no longer applies. */
static void sweep_one_span(void *arg)
{
	uintptr_t got;
	*(bool *)arg = sweepone(&got);
}

static void sweep_before_stop(uint32_t seen_num_gc)
{
	bool more = true;
	while (more && gc_request_wanted(GC_REQ_START, seen_num_gc) &&
	       !__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_RELAXED))
		rt_systemstack(sweep_one_span, &more);
}

void gc_alloc_slow_hook(void)
{
	if (unlikely(__atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_RELAXED))) {
		/* A stop waits for this M: be its safe point. An allocation loop
		 * spends most of its time in runtime text, where the tick cannot
		 * preempt, and has no other call that checks: its stops waited
		 * 30-100 ms for a tick landing in its own code (make run, 4 CPUs). */
		struct rt_m *m = rt_getm();
		if (may_stop_here(m))
			rt_gosched();
	}
	if (unlikely(__atomic_load_n(&gc_phase, __ATOMIC_RELAXED) == GC_CONCMARK)) {
		struct rt_m *m = rt_getm();
		if (may_stop_here(m) && m->curg->gc_assist_bytes < 0 && !limiter_full_now())
			gc_assist(m->curg, (uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE));
		return;
	}
	bool want = false;
	if (unlikely(gc_stress != 0)) {
		struct mcache *c = mcache_current();
		for (unsigned i = 0; i < RT_NUM_SPAN_CLASSES; i++)
			c->alloc[i]->alloc_cache = 0;   /* the next allocation comes back here */
		if (__atomic_add_fetch(&stress_count, 1, __ATOMIC_RELAXED) % gc_stress == 0)
			want = true;
	}
	if (__atomic_load_n(&gc_heap_live, __ATOMIC_RELAXED) >= trigger_now())
		want = true;
	if (!want)
		return;
	struct rt_m *m = rt_getm();
	if (!may_stop_here(m))
		return;
	uint32_t n = (uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE);
	sweep_before_stop(n);
	if (sched_stop_the_world_gc(GC_REQ_START, false, n))
		starter_scans_roots(rt_getm()->curg, n);   /* on whichever M it resumed */
}

bool gc_request_wanted(enum gc_request req, uint32_t seen_num_gc)
{
	uint32_t phase = __atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE);
	if ((uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE) != seen_num_gc)
		return false;   /* a cycle ended since the caller decided */
	return req == GC_REQ_START ? phase == GC_OFF : phase == GC_CONCMARK;
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

enum mark_mode {
	MARK_ALL,     /* roots and drain: the stopped mark, the checkmark */
	MARK_DRAIN,   /* drain what is grey (and any root left): mark termination */
};

/* One mark on nproc workers, this M (or this thread outside a world) among them. */
static void mark_once(struct rt_m *m, int nproc, bool in_world, enum mark_mode mode)
{
	if (mode == MARK_DRAIN) {
		gcwork_dispose_all();   /* every P's buffers on the list, for any worker to take */
		gcmark_prepare_drain();
	} else {
		gcmark_prepare(in_world, false);
	}
	gcwork_begin(nproc, mode == MARK_DRAIN);
	__atomic_store_n(&gc_phase, GC_MARK, __ATOMIC_RELEASE);
	__atomic_add_fetch(&mark_epoch, 1, __ATOMIC_SEQ_CST);
	if (in_world)
		sched_wake_all();
	gc_mark_worker(m, rt_port_current_p());
	gcwork_wait_exited(true);
	__atomic_store_n(&gc_phase, GC_STOPPED, __ATOMIC_RELEASE);
}

struct mark_totals {
	uint64_t bytes, objs, scan, stacks, globals;
	uint64_t objs_by_p[RT_MAX_PROCS], bytes_by_p[RT_MAX_PROCS];
};

static struct mark_totals take_totals(void)
{
	struct mark_totals t = {0};
	for (int p = 0; p < RT_MAX_PROCS; p++) {
		struct gcwork *w = &gcwork_of[p];
		t.bytes += w->bytes_marked;
		t.objs += w->objs_marked;
		t.objs_by_p[p] = w->objs_marked;
		t.bytes_by_p[p] = w->bytes_marked;
		t.scan += w->scan_bytes;
		t.stacks += w->stack_bytes;
		t.globals += w->global_bytes;
		w->bytes_marked = w->objs_marked = w->scan_bytes = w->stack_bytes = w->global_bytes = 0;
	}
	return t;
}

/* The checkmark (mgcmark.c): after a stopped mark, the marker's reachability
 * checked with separate bits; at a concurrent mark's start (snapshot), the
 * reachable set taken, verified at its termination. */
static void checkmark(struct rt_m *m, int nproc, bool in_world, bool snapshot)
{
	gcmark_checkmark_begin(snapshot);
	mark_once(m, nproc, in_world, MARK_ALL);
	gcmark_checkmark_end(snapshot);
	(void)take_totals();
}

/* Step 5 (world stopped, the mark drained): the next goal, the statistics, the trace. */
static void finish_cycle(const struct mark_totals *tot, uint64_t live, uint64_t heap0, uint64_t heap_end,
			 uint64_t t_request, uint64_t stop_ns, uint64_t pause_ns, uint64_t t_stop,
			 uint64_t t_mark, uint64_t t_term_start, int nproc, bool forced,
			 struct gc_cycle_trace *trace)
{
	__atomic_store_n(&gc_phase, GC_MARKTERM, __ATOMIC_RELEASE);
	RT_ASSERT_MSG(gcwork_all_empty(), "mark termination: grey objects left in a work buffer");
	__atomic_add_fetch(&mheap_.sweepgen, 2, __ATOMIC_RELEASE);
	sweep_cycle_begin();
	mprof_mark_terminated();   /* the heap profile's next cycle (rt/mprof.c) */
	last_marked = live;
	last_stacks = tot->stacks;
	last_globals = tot->globals;
	last_scan = tot->scan;
	__atomic_store_n(&gc_heap_live, live, __ATOMIC_RELAXED);
	uint64_t goal = set_goal(goal_from(live, tot->stacks, tot->globals));   /* limit-capped */

	uint64_t t3 = rt_port_nanotime();
	pause_ns += t3 - t_request;
	rt_lock(&mheap_.lock);
	uint32_t i = (uint32_t)(rt_mstats.num_gc % 256);
	rt_mstats.pause_ns[i] = pause_ns;
	rt_mstats.pause_end[i] = t3;
	rt_mstats.pause_stop_ns[i] = stop_ns;
	rt_mstats.pause_total_ns += pause_ns;
	rt_mstats.last_gc = t3;
	rt_mstats.next_gc = goal == UINT64_MAX ? 0 : goal;
	rt_mstats.num_forced_gc += forced;
	last_cycle = (struct rt_gc_cycle){
		.num_gc = rt_mstats.num_gc + 1, .concurrent = cyc.concurrent,
		.forced = forced, .heap_start = heap0, .heap_end = heap_end, .heap_marked = live,
		.goal = cyc.goal, .next_goal = goal, .scan_work = tot->scan,
		.assist_work = __atomic_exchange_n(&assist_work, 0, __ATOMIC_RELAXED),
		.background_work = __atomic_exchange_n(&bg_work, 0, __ATOMIC_RELAXED),
		.assist_ns = __atomic_exchange_n(&assist_ns, 0, __ATOMIC_RELAXED),
		.background_ns = __atomic_exchange_n(&bg_ns, 0, __ATOMIC_RELAXED),
		.pause_ns = pause_ns,
		.spans_swept = __atomic_exchange_n(&sweep_spans_swept, 0, __ATOMIC_RELAXED),
		.pages_freed = __atomic_exchange_n(&sweep_pages_freed, 0, __ATOMIC_RELAXED),
	};
	__builtin_memcpy(last_cycle.objs_marked, tot->objs_by_p, sizeof(last_cycle.objs_marked));
	__builtin_memcpy(last_cycle.bytes_marked, tot->bytes_by_p, sizeof(last_cycle.bytes_marked));
	__atomic_add_fetch(&rt_mstats.num_gc, 1, __ATOMIC_RELEASE);
	rt_unlock(&mheap_.lock);
	gc_busy_ns += pause_ns + last_cycle.assist_ns + last_cycle.background_ns;
	__atomic_add_fetch(&gc_cpu_ns, pause_ns * (uint64_t)nproc, __ATOMIC_RELAXED);
	limiter_update(t3, nproc);
	last_cycle.cpu_limited = __atomic_exchange_n(&cycle_limited, false, __ATOMIC_RELAXED) || gc_cpu_limited;
	last_cycle.limiter_engaged = limiter.engaged;

	uint64_t idle = __atomic_exchange_n(&idle_ns, 0, __ATOMIC_RELAXED);
	if (idle > last_cycle.background_ns)
		idle = last_cycle.background_ns;
	*trace = (struct gc_cycle_trace){
		.num_gc = rt_mstats.num_gc, .since_start = t3 - gc_start_ns, .busy_ns = gc_busy_ns,
		.heap0 = heap0, .heap_end = heap_end, .live = live, .goal = cyc.goal, .stacks = tot->stacks,
		.globals = tot->globals, .t_stop = t_stop, .t_mark = t_mark, .t_term = t3 - t_term_start,
		.nproc = nproc, .forced = forced, .cpu_assist = last_cycle.assist_ns,
		.cpu_background = last_cycle.background_ns - idle, .cpu_idle = idle,
	};
	__atomic_store_n(&gc_phase, GC_OFF, __ATOMIC_RELEASE);
}

/*
 * Step 6, the world stopped again. Returns false if it restarted the concurrent mark instead (Go's
 * gcMarkDone restart): grey work the Ps held privately (the barrier's
 * shades) or that a marker published after the last look is traced beside
 * the program again rather than in this pause, up to GC_MARK_RESTARTS times
 * a cycle (then the stop drains what is left: the shades are finite, but a
 * program could keep producing a few).
 */
#define GC_MARK_RESTARTS 4
static bool mark_termination(struct rt_m *m, int nproc, bool in_world, uint64_t t_request, bool forced,
			     bool may_restart, struct gc_cycle_trace *trace)
{
	uint64_t t0 = rt_port_nanotime();   /* every M stopped */
	uint64_t stop_wait = t0 - t_request;
	__atomic_store_n(&gc_phase, GC_STOPPED, __ATOMIC_RELEASE);
	wb_flush_all();    /* the barrier's buffered shades are grey work too */
	gcwork_dispose_all();
	if (may_restart && mark_work_in_sight() && cyc.restarts < GC_MARK_RESTARTS) {
		/* The mcaches keep their black spans: the restarted mark goes on with them. */
		cyc.restarts++;
		cyc.pause1_ns += rt_port_nanotime() - t_request;   /* this stop is part of the cycle's pause */
		cyc.stop_ns += stop_wait;
		__atomic_store_n(&gc_phase, GC_CONCMARK, __ATOMIC_RELEASE);
		return false;
	}
	uint64_t heap_end = __atomic_load_n(&gc_heap_live, __ATOMIC_RELAXED);
	flush_mcaches();   /* black spans end: their never-used slots unmarked, the rest counted */
	/* Every P's buffers are on the list now: with nothing there, no M needs waking to drain
	 * (a wake is tens of µs of the pause on a loaded host). */
	if (mark_work_in_sight())
		mark_once(m, nproc, in_world, MARK_DRAIN);
	gcmark_roots_done();
	if (m == NULL)
		t_request = rt_port_nanotime();   /* the world is gone: its drain paused no one */
	struct mark_totals tot = take_totals();
	if (cyc.snapshot)
		gcmark_checkmark_verify();
	cyc.snapshot = false;
	__atomic_store_n(&rt_wb_enabled, 0, __ATOMIC_RELEASE);
	uint64_t live = tot.bytes + __atomic_exchange_n(&gc_black_bytes, 0, __ATOMIC_RELAXED);
	finish_cycle(&tot, live, cyc.heap0, heap_end, t_request, cyc.stop_ns + stop_wait, cyc.pause1_ns,
		     cyc.t_stop,
		     t_request - cyc.t_started, t_request, cyc.nproc > nproc ? cyc.nproc : nproc,
		     forced || cyc.forced, trace);
	return true;
}

/* A concurrent mark's accounting, once its roots are queued (world stopped). */
static void pacer_begin(uint64_t heap0, int nproc)
{
	uint64_t roots = 0;
	for (int p = 0; p < RT_MAX_PROCS; p++)
		roots += gcwork_of[p].scan_bytes;
	__atomic_store_n(&scan_work_done, roots, __ATOMIC_RELAXED);
	__atomic_store_n(&bg_scan_credit, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&cycle_limited, gc_cpu_limited, __ATOMIC_RELAXED);
	cyc.worst_work = heap0 + last_stacks + last_globals;
	cyc.expected_work = last_scan != 0 && last_scan < cyc.worst_work ? last_scan : cyc.worst_work;
	for (struct rt_g *g = sched_allgs(); g != NULL; g = g->alllink)
		g->gc_assist_bytes = 0;   /* debts and credit are per cycle (Go's gcResetMarkState) */
	worker_pacing_begin(nproc);
}

void rt_gc_last_cycle(struct rt_gc_cycle *out)
{
	rt_lock(&mheap_.lock);
	*out = last_cycle;
	rt_unlock(&mheap_.lock);
}

bool gc_run_stopped(struct rt_m *m, bool forced, int nproc, bool in_world, uint64_t t_request,
		    struct gc_cycle_trace *trace)
{
	uint64_t t0 = rt_port_nanotime();   /* every M stopped */
	if (gc_start_ns == 0)
		gc_start_ns = t_request;
	if (__atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE) == GC_CONCMARK) {
		return mark_termination(m, nproc, in_world, t_request, forced, in_world, trace);
	}
	__atomic_store_n(&gc_phase, GC_STOPPED, __ATOMIC_RELEASE);
	uint64_t heap0 = __atomic_load_n(&gc_heap_live, __ATOMIC_RELAXED);
	cyc.goal = min_u64(__atomic_load_n(&gc_next_goal, __ATOMIC_RELAXED), gc_limit_goal());
	cyc.concurrent = in_world && !gc_stoptheworld;

	/* 3. Sweep termination. */
	flush_mcaches();
	sweep_finish();
	uint64_t t1 = rt_port_nanotime();

	if (in_world && !gc_stoptheworld) {
		/* 4a. The roots, then the world runs while the heap is marked. */
		cyc.snapshot = gc_checkmark;
		if (cyc.snapshot)
			checkmark(m, nproc, in_world, true);
		gcmark_prepare(true, true);   /* the roots: scanned beside the program */
		RT_ASSERT_MSG(wb_all_empty(), "a mark starts with shades buffered from the last one");
		pacer_begin(heap0, nproc);
		__atomic_store_n(&gc_black_bytes, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rt_wb_enabled, 1, __ATOMIC_SEQ_CST);
		uint64_t t2 = rt_port_nanotime();
		cyc.heap0 = heap0;
		cyc.t_stop = t1 - t_request;
		cyc.pause1_ns = t2 - t_request;
		cyc.t_started = t2;
		cyc.stop_ns = t0 - t_request;
		cyc.nproc = nproc;
		cyc.forced = forced;
		cyc.restarts = 0;
		__atomic_store_n(&gc_phase, GC_CONCMARK, __ATOMIC_RELEASE);
		return false;
	}

	/* 4b. The whole mark with the world stopped (and the checkmark). */
	mprof_post_sweep();   /* before this mark's termination counts the next profile cycle */
	mark_once(m, nproc, in_world, MARK_ALL);
	struct mark_totals tot = take_totals();
	if (gc_checkmark)
		checkmark(m, nproc, in_world, false);
	uint64_t t2 = rt_port_nanotime();
	finish_cycle(&tot, tot.bytes, heap0, heap0, t_request, t0 - t_request, 0, t1 - t_request, t2 - t1, t2,
		     nproc, forced, trace);
	return true;
}

void gc_world_ended(void)
{
	if (__atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE) != GC_CONCMARK)
		return;
	/* The world's Ms are gone: this thread terminates the mark alone. */
	struct gc_cycle_trace trace;
	(void)mark_termination(NULL, 1, false, rt_port_nanotime(), false, false, &trace);
	gc_print_trace(&trace);
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
	rt_printf(" ms clock, ");
	print_ms(c->t_stop * (uint64_t)c->nproc);   /* a stop holds every P */
	rt_printf("+");
	print_ms(c->cpu_assist);
	rt_printf("/");
	print_ms(c->cpu_background);
	rt_printf("/");
	print_ms(c->cpu_idle);
	rt_printf("+");
	print_ms(c->t_term * (uint64_t)c->nproc);
	rt_printf(" ms cpu, %lu->%lu->%lu MB, %lu MB goal, %lu MB stacks, %lu MB globals, %d P%s\n",
		  /* Go's start -> end of mark -> live (equal first two: a stopped mark) */
		  (unsigned long)(c->heap0 >> 20), (unsigned long)(c->heap_end >> 20), (unsigned long)(c->live >> 20),
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
	mprof_post_sweep();
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
	RT_ASSERT(gc_run_stopped(NULL, true, 1, false, rt_port_nanotime(), &trace));
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
	/* A full cycle that starts after this call: if a mark is under way, it
	 * began before and may keep what became garbage since (the phase is
	 * read first: a cycle that starts after it and ends before NumGC is
	 * read is counted in n). */
	uint32_t phase = __atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE);
	uint32_t n = (uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE);
	uint32_t target = n + (phase == GC_OFF ? 1 : 2);
	struct rt_g *g = m->curg;
	g->gc_scan_depth = g->stack_hi - (uintptr_t)saved;   /* see struct rt_g */
	for (;;) {
		uint32_t now = (uint32_t)__atomic_load_n(&rt_mstats.num_gc, __ATOMIC_ACQUIRE);
		if ((int32_t)(target - now) <= 0)
			break;
		bool alive;
		if (__atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE) == GC_CONCMARK) {
			alive = help_mark(now, true);
		} else {
			sweep_before_stop(now);
			alive = sched_stop_the_world_gc(GC_REQ_START, true, now);
		}
		if (!alive)
			break;   /* the world is ending */
	}
	g->gc_scan_depth = 0;
	rt_systemstack(finish_sweep_on_system_stack, NULL);
}
