/*
 * mgc.h - what the collector's files share (rt/mgc.c, mgcmark.c, mgcwork.c,
 * mgcsweep.c) and what the allocator and the scheduler call. Internal to rt/;
 * the public API is rt_gc, rt_set_gc_percent and friends in rt/rt.h.
 * The design is DESIGN.md section 7 and the essay at the top of rt/mgc.c.
 */
#ifndef RT_MGC_H
#define RT_MGC_H

#include "rt/mspan.h"
#include "rt/port.h"

struct rt_m;
struct rt_g;

/* ---- phases (mgc.c) ---- */

enum gc_phase {
	GC_OFF = 0,        /* mutators run; sweeping may be under way */
	GC_STOPPED,        /* world stopped: sweep termination, mark setup (no allocation) */
	GC_MARK,           /* world stopped, workers marking */
	GC_MARKTERM,       /* world stopped: mark termination */
	GC_CONCMARK,       /* world running: marking beside the program; barrier on, allocation black */
};
extern volatile uint32_t gc_phase;

/* Settings (rt/rt.h has the public setters). */
extern int gc_percent;             /* GOGC; -1 = off */
extern bool gc_stoptheworld;       /* mark with the world stopped (Go's GODEBUG gcstoptheworld=1) */
extern bool gc_checkmark;          /* verify every mark with a second one */
/* Testing the verifier only: a concurrent mark's allocation is white (the checkmark must panic). */
extern bool gc_debug_white_alloc;
extern bool gc_trace;              /* one line per cycle */
extern uint64_t gc_stress;         /* a cycle every this many allocations (0: off) */

/*
 * The heap's live bytes as the trigger sees them (Go's heapLive): bytes
 * marked by the last cycle plus every span's free slots handed to an mcache
 * since (charged a whole span at a time at refill, un-charged at a flush),
 * plus large objects. Atomic.
 */
extern volatile uint64_t gc_heap_live;
extern volatile uint64_t gc_next_goal;   /* start a cycle when gc_heap_live reaches it */

/* The allocator's hooks (malloc.c), after an object is complete. */
void gc_alloc_slow_hook(void);          /* the trigger check, gcstress countdown, and mark assist */

/*
 * Allocation during a concurrent mark is black (mgc.c's essay, "allocate
 * black"): a span an mcache takes while gc_phase is GC_CONCMARK has every
 * free slot's mark bit set (gc_black_span_begin); when the span leaves the
 * mcache, the slots still free get their bits back and the objects
 * allocated meanwhile are counted (gc_black_span_end). A large object is
 * marked when it is made (gc_black_large). The allocator calls them from
 * runtime text, where the phase cannot change.
 */
void gc_black_span_begin(struct mspan *s);
void gc_black_span_end(struct mspan *s);
void gc_black_large(struct mspan *s);
extern volatile uint64_t gc_black_bytes;   /* bytes allocated black in this mark (atomic) */
/* Adds bytes (two's complement: subtracts) to gc_heap_live; during a mark the
 * running G is debited them too, its allocation an assist must pay for. */
void gc_charge(uint64_t bytes);
extern volatile uint64_t gc_trigger;     /* a cycle starts when gc_heap_live reaches it (atomic) */
#define GC_NO_LIMIT ((uint64_t)INT64_MAX)   /* Go's default memory limit, math.MaxInt64 */
extern volatile uint64_t gc_memory_limit;   /* rt_set_memory_limit's (atomic) */
extern volatile bool gc_cpu_limited;        /* the CPU limiter is full: no assists (atomic) */
uint64_t gc_limit_goal(void);               /* the heap goal the limit allows now (UINT64_MAX: none) */

/* ---- the scheduler's side (proc.c) ---- */

/*
 * Steps 3-5 of a cycle with the world stopped (mgc.c): on the stopper's g0
 * (m, in_world) with nproc workers, or on a lone thread outside a world
 * (m NULL, nproc 1). t_request: when the stop was asked for.
 */
/*
 * One cycle's gctrace figures, copied while the world is still stopped: the
 * line is printed after the restart, when another cycle may already be
 * under way, so it must not read the collector's live state.
 */
struct gc_cycle_trace {
	uint64_t num_gc;                  /* this cycle's number (1 for the first) */
	uint64_t since_start, busy_ns;    /* ns since the first cycle; stopped time in all */
	uint64_t heap0, heap_end, live, goal, stacks, globals;   /* gc_heap_live at its start and mark end */
	uint64_t t_stop, t_mark, t_term;  /* ns: sweep termination, mark, mark termination */
	uint64_t cpu_assist, cpu_background, cpu_idle;   /* ns of marking beside the program, by kind */
	int nproc;
	bool forced;
};
/*
 * What the world is stopped for: START (phase GC_OFF: sweep termination,
 * then the roots and a concurrent mark, or the whole stopped mark with
 * gc_stoptheworld or outside a world) or TERMINATE (phase GC_CONCMARK: mark
 * termination). Returns true if a cycle completed (*trace filled).
 */
bool gc_run_stopped(struct rt_m *m, bool forced, int nproc, bool in_world, uint64_t t_request,
		    struct gc_cycle_trace *trace);
enum gc_request { GC_REQ_START, GC_REQ_TERMINATE };
/* Whether a request made when NumGC was seen_num_gc still applies (world not stopped, sched lock held). */
bool gc_request_wanted(enum gc_request req, uint32_t seen_num_gc);
/* A world ended (rt_run, its Ms gone): a concurrent mark still running is finished here. */
void gc_world_ended(void);
uint32_t gc_mark_epoch(void);          /* +1 per mark: a stopped M joins each */
void gc_print_trace(const struct gc_cycle_trace *trace);   /* its gctrace line (world running) */
uint64_t gc_cpu_fraction_ppm(void);
/*
 * Stops the world and collects (proc.c), from a coroutine that may stop.
 * seen_num_gc: NumGC when the caller decided; a cycle that completed since
 * makes this one unneeded. Returns false if the world is ending (no cycle).
 */
bool sched_stop_the_world_gc(enum gc_request req, bool forced, uint32_t seen_num_gc);
/* An M found rt_sched.gcwaiting: waits, marking when asked, until the world restarts. */
void gc_stopped_m(struct rt_m *m);
/* Every G ever made, through alllink (proc.c; stable while the world is stopped). */
struct rt_g *sched_allgs(void);
/* Wakes every M of the world (their idle or doze ends). */
void sched_wake_all(void);
/* Wakes one M (m->wake, then rt_port_wake). */
void sched_wake_m(struct rt_m *m);

/* ---- background mark workers (mgc.c; the scheduler's side in proc.c) ---- */

/*
 * Go 1.18's gcBgMarkWorker pool: a parked system G per P, made when a world
 * starts. During a concurrent mark the scheduler runs one instead of a
 * program G when a dedicated slot is free or its P is under its fractional
 * share (schedule's first look), or when the P would go idle and there is
 * grey work (findrunnable's last); it claims the worker, which is
 * G_WAITING, makes it G_RUNNABLE and executes it.
 */
void gc_mark_worker_main(void *slot);            /* a worker G's body (system G) */
void *gc_mark_worker_slot(int i);                /* the slot of worker i, its G's argument */
void gc_mark_workers_world_start(int nworkers);  /* before the world's Ms run */
void gc_mark_workers_world_end(void);
/* A worker G to run on P p now, claimed and G_RUNNABLE, or NULL. idle: p has nothing else. */
struct rt_g *gc_mark_worker_to_run(int p, bool idle);
/* The scheduler's answer for an idle worker: does P p have a G to run (its queue or the global one)? */
bool sched_p_has_work(int p);
void sched_wakep(void);   /* wakes an idle M if none spins (proc.c's wakep): work was published */
/* During a concurrent mark: grey work is on the global list (the idle Ms' re-check before sleeping). */
bool gc_mark_work_published(void);

/* ---- work buffers (mgcwork.c) ---- */

#define WORKBUF_BYTES 2048
#define WORKBUF_NOBJ ((WORKBUF_BYTES - 16) / 8)

struct workbuf {
	struct workbuf *next;        /* on work.full or work.empty (work.lock) */
	uint64_t nobj;
	uintptr_t obj[WORKBUF_NOBJ]; /* grey objects (or large objects' oblets) */
};
_Static_assert(sizeof(struct workbuf) == WORKBUF_BYTES, "workbuf size");

/*
 * A P's share of the grey set (Go's gcWork). Owned by the one worker running
 * on that P. Invariant: wbuf1 and wbuf2 are both NULL or both set.
 */
struct gcwork {
	struct workbuf *wbuf1, *wbuf2;
	uint64_t bytes_marked;   /* bytes of objects this worker greyed (slot sizes) */
	uint64_t objs_marked;
	uint64_t scan_bytes;     /* bytes scanned: heap objects, stacks and globals */
	uint64_t stack_bytes;    /* of which stacks */
	uint64_t global_bytes;   /* of which data and bss */
} __attribute__((aligned(64)));

extern struct gcwork gcwork_of[RT_MAX_PROCS];

void gcw_put(struct gcwork *w, uintptr_t obj);
/* A grey object or 0 if this worker and the global list have none. */
uintptr_t gcw_tryget(struct gcwork *w);
/* Publishes wbuf2 if other workers wait for work and it holds some (balancing). */
void gcw_balance(struct gcwork *w);
bool gcw_empty(const struct gcwork *w);
/* Publishes w's non-empty buffers on the global list (a concurrent worker
 * leaving its P, the roots' stop, mark termination). Owner of w only. */
void gcw_dispose(struct gcwork *w);
void gcwork_dispose_all(void);   /* every P's (world stopped) */

/* Termination (DESIGN.md 7.4). drain_only: full may hold work already. */
void gcwork_begin(int nproc, bool drain_only);
/* Blocks until a full buffer is available (returns it into w) or every worker waits (false). */
bool gcwork_getfull(struct gcwork *w, struct rt_m *m);
void gcwork_exit(void);          /* a worker saw done and leaves */
/* The stopper waits for every worker to leave; drained: the mark ended by termination
 * (not a roots-only mark, which leaves its work on full). */
void gcwork_wait_exited(bool drained);
bool gcwork_all_empty(void);
bool gcwork_has_full(void);      /* a hint: some published buffer waits (no lock) */
uint64_t gcwork_epoch(void);     /* changes at every put on or take off the full list */

/* ---- marking (mgcmark.c) ---- */

/*
 * Root jobs for a new mark: in a world (the Ms' caller frames, every G) or
 * outside one (root 7). concurrent: a concurrent mark's first stop; it
 * scans only M 0's caller frames and queues the rest for the markers.
 * gcmark_prepare_drain: drain what is grey, and any root a concurrent mark
 * left (mark termination).
 */
void gcmark_prepare(bool in_world, bool concurrent);
void gcmark_prepare_drain(void);
/*
 * A concurrent mark's roots (concurrent above), scanned beside the program:
 * gcmark_root_step claims and scans one root job or one G's stack (a marker,
 * inside its step), false when none is left to claim; gcmark_roots_pending,
 * whether any is still unclaimed; gcmark_roots_done, at termination (world
 * stopped, drained), asserts all were scanned. gc_scan_before_run: execute()
 * scans a G not yet scanned this mark before it runs it (on g0).
 */
extern volatile uint32_t gc_stack_gen;
bool gcmark_root_step(struct gcwork *w);
bool gcmark_roots_pending(void);
void gcmark_roots_done(void);
void gc_scan_before_run(struct rt_g *g);
void gc_scan_work_add(uint64_t bytes);   /* scan work done beside the program (the pacer's) */
/*
 * Concurrent marking, on the current P with the M held: scans up to max
 * grey objects from w and the global list. Returns false if it found none
 * (this P and the list empty: time to ask for mark termination).
 */
bool gcmark_drain_some(struct gcwork *w, unsigned max);
/* The write barrier's shade: greys the heap object v points into, if any. */
void gc_shade(uintptr_t v);
/* The wbBuf (rt/mbarrier.c): every P's buffered shades greyed (world stopped); the
 * calling G's P's (from a coroutine); whether every buffer is empty. */
void wb_flush_all(void);
void wb_flush_current(void);
bool wb_all_empty(void);
void gcmark_set_outside_root(uintptr_t lo, uintptr_t hi);   /* root 7's stack range */
extern bool gc_checkmark_active;
/* Testing the verifier only: the first mark skips the globals (the checkmark must panic). */
extern bool gc_debug_skip_globals;
/* Debugging: the mark prints the slot it reaches this object's base from (0: off). */
extern uintptr_t gc_debug_why;
void gc_mark_worker(struct rt_m *m, int p);   /* one worker's whole mark (roots, drain, wait) */
/* Gives every in-use span checkmark bits; a snapshot's mark (a concurrent
 * mark's start) sets them without checking each object is marked. */
void gcmark_checkmark_begin(bool snapshot);
void gcmark_checkmark_end(bool keep_bits);    /* keep_bits: a snapshot, verified at termination */
/* Mark termination of a concurrent mark: the snapshot's bits and the objects
 * allocated since are all marked (panics naming one that is not); frees the bits. */
void gcmark_checkmark_verify(void);
/* Marks (greys) what a conservative word v, found at address slot, refers to. */
void gc_mark_conservative_word(struct gcwork *w, uintptr_t v, uintptr_t slot);

/* ---- sweeping (mgcsweep.c) ---- */

/*
 * Sweeps s (claimed by the caller: taken off its list, or its sweepgen CAS'd
 * to h - 1). Returns false if s had no live object and went back to the heap,
 * unless preserve (the caller keeps an empty span to allocate from).
 */
bool mspan_sweep(struct mspan *s, bool preserve);
/* Sweeps one unswept span of any class; false if none is left. *freed_pages: the
 * pages that went back to the heap (0 if the span kept a live object). */
bool sweepone(uintptr_t *freed_pages);
void sweep_note_taken(void);       /* a span left an unswept list (its mcentral's lock held) */
void sweep_note_swept(void);       /* its taker finished sweeping it (mspan_sweep returned) */
/* Sweeps until npages pages went back to the heap or nothing is unswept (Go's reclaim). */
void sweep_reclaim(uintptr_t npages);
void sweep_finish(void);           /* sweeps everything left (world stopped, or rt_gc's caller) */
void sweep_cycle_begin(void);      /* mark termination: a new sweep starts */
bool sweep_done(void);
/* Frees counted by the sweeper, per size class ([0]: large); atomic. */
extern uint64_t sweep_frees[RT_NUM_SIZE_CLASSES];
extern uint64_t sweep_freed_bytes;
extern uint64_t sweep_spans_swept, sweep_pages_freed;   /* since the last mark termination */
/* The background sweeper G's body (proc.c starts it), and its parking. */
void bgsweep(void *arg);
void sweeper_world_start(struct rt_g *g);
void sweeper_wake(void);           /* a mark ended: unpark it (stopper, on g0) */
void sweeper_world_end(void);

/* At RT_DEBUG >= 1 freed slots hold this pattern (Go's clobberfree): a use after free reads it. */
#define GC_POISON_WORD 0xdeadbeefdeadbeefull
#define GC_DEBUG_POISON_FREED (RT_DEBUG >= 1)
/* Clears the slot of a new object, first checking (debug) that a freed slot was not written. */
void gc_clear_checked(uintptr_t v, uintptr_t size, const struct mspan *s);

#endif
