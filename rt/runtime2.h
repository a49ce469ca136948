/*
 * runtime2.h - the scheduler's structures: G (coroutine), M (CPU or thread),
 * P (logical processor), as in Go's runtime2.go. Internal to rt/; the public
 * API is rt/sched.h.
 *
 * One M per P, for good: M n always runs P n (the kernel's CPU n, or hosted
 * thread n). Go hands a P to another M when its M blocks in a system call;
 * nothing here blocks outside the scheduler, so the pairing never changes and
 * rt_port_current_p() (the allocator's "which mcache") stays right for
 * whatever coroutine runs on the M.
 *
 * A coroutine's saved context lives on its own stack (callee-saved registers
 * and the resume address, pushed by rt_mcall), so g->sched_sp is all the G
 * struct holds: copying a stack moves the context with it, and the copier
 * relocates it like any other frame. The exception is a G stopped inside
 * __morestack (grow or preempt): its argument registers are in g->morebuf.
 *
 * Field comments say who may touch a field ("own M" = only the M running the
 * G, or the M holding it while it is not running).
 */
#ifndef RT_RUNTIME2_H
#define RT_RUNTIME2_H

#include "rt/port.h"
#include "rt/sched.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- stack geometry (rt/stack.c) -------------------------------------------- */

/*
 * The smallest stack is one 4 KiB page: below it the page allocator cannot
 * place an unmapped guard page without wasting the rest of a page anyway.
 * STACK_GUARD bytes at its bottom are the "slack" that unchecked code may use
 * below the split-stack guard: gcc's prologue lets a frame under 256 bytes
 * compare %rsp itself with the guard (SPLIT_STACK_AVAILABLE), __morestack
 * pushes one word before leaving the stack, and a timer-injected preemption
 * frame needs 26 words. The hosted port adds libc's unchecked leaf functions
 * (memcpy, system-call wrappers; printf goes through rt_systemstack).
 */
#if defined(__SANITIZE_ADDRESS__)
/* ASan's interceptors (memset, memcpy...) run unchecked and use kilobytes. */
#define STACK_MIN_SHIFT 14
#define STACK_GUARD     8192
#elif defined(HOSTED)
#define STACK_MIN_SHIFT 12
#define STACK_GUARD     2048
#else
#define STACK_MIN_SHIFT 12
#define STACK_GUARD     768
#endif
#define STACK_MIN       ((uintptr_t)1 << STACK_MIN_SHIFT)
#define STACK_GUARD_PAGE 4096        /* unmapped, below every stack */
#define STACK_MAX_DEFAULT ((uintptr_t)1 << 30)
/*
 * The guard value that fails every prologue check (Go's stackPreempt): the
 * next checked call enters __morestack, which sees g->preempt and yields.
 */
#define STACK_PREEMPT   ((uintptr_t)0xfffffffffffffade)
/* Orders 0..STACK_CACHED_ORDERS-1 (4..32 KiB) are cached per P and carved from chunks. */
#define STACK_CACHED_ORDERS 4
#define STACK_NORDERS   (31 - STACK_MIN_SHIFT) /* up to 1 GiB */

/* ---- G ---------------------------------------------------------------------- */

enum g_status {
	G_IDLE,       /* allocated, not yet started or on the free list */
	G_RUNNABLE,   /* in a run queue */
	G_RUNNING,    /* on an M */
	G_WAITING,    /* parked: blocked on a channel, mutex, timer... */
	G_DEAD,       /* returned; on a P's free list */
};

/* The registers __morestack saves (its layout is rt/port/amd64.S's). */
struct morebuf {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r12, r13, r14, r15;
	uint64_t sp;          /* %rsp at __morestack's entry: [sp] = return address into F */
	uint64_t frame;       /* %r10: F's frame size */
	uint64_t args;        /* %r11: bytes of F's stack arguments */
};
#define MOREBUF_WORDS 16

struct rt_g {
	/* Offsets used by rt/port/amd64.S: keep in step (static asserts below). */
	uintptr_t stack_lo;        /* 0: lowest usable byte; the guard page is just below */
	uintptr_t stack_hi;        /* 8: one past the top */
	uintptr_t stackguard;      /* 16: lo + STACK_GUARD: %fs:0x70 while this G runs */
	uintptr_t sched_sp;        /* 24: saved %rsp when not running (own M) */
	struct morebuf morebuf;    /* 32: registers of a stopped __morestack (own M) */

	uint64_t id;               /* 1, 2, ... (never reused) */
	volatile uint32_t status;  /* enum g_status; atomic */
	volatile bool preempt;     /* asked to yield at the next safe point (any CPU) */
	bool in_morestack;         /* stopped inside __morestack: resume with its tail */
	struct rt_g *schedlink;    /* run queue / free list link (queue's lock) */
	void (*fn)(void *);
	void *arg;

	/* Stack bookkeeping (own M). */
	void *stack_chunk;         /* the stack's chunk (rt/stack.c) */
	uint8_t stack_order;       /* size = STACK_MIN << order */
	uint32_t ncopies;          /* growths + shrinks, for the tour and tests */
	uintptr_t max_used;        /* deepest use seen at a copy (bytes) */

	/* Parking (rt/proc.c; rt/chan.c, rt/select.c, rt/sema.c): a waiter's result. */
	void *param;               /* set by whoever readies the G */
	uint64_t when;             /* rt_sleep wake-up time (its P's timers lock) */
	int timer_index;           /* position in the timer heap, -1 if none */
	struct rt_g *alllink;      /* every G ever made (rt/proc.c allgs; sched lock) */
	struct sudog *waiting;     /* a parked select's sudogs (waitlink): a GC root (own G) */
	bool system;               /* a runtime G (the sweeper): not counted as a goroutine */
	uintptr_t gc_scan_depth;   /* inside rt_gc: scan only [stack_hi - this, stack_hi), the
				    * caller's frames (rt_gc's runtime frames may hold stale words);
				    * a distance from the top, which stack copies keep (own G) */
	uint32_t gc_scan_gen;      /* gc_stack_gen of the last concurrent mark that scanned this
				    * stack (rt/mgcmark.c scan_stack_once; release, under the lock) */
	volatile uint32_t gc_scan_lock;   /* held by whoever scans this stack; execute() takes it
				    * before it runs a G not yet scanned */
	struct rt_g *gc_scan_link; /* the first stop's list of Gs to scan (rt/mgcmark.c roots.gnext;
				    * written with the world stopped, then read only) */
	int64_t gc_assist_bytes;   /* this mark's allocation credit, in bytes: negative is a debt
				    * the G pays by marking (rt/mgc.c, assists). Own G; zeroed
				    * for every G when a cycle starts (world stopped) */
};
_Static_assert(__builtin_offsetof(struct rt_g, stack_lo) == 0, "amd64.S");
_Static_assert(__builtin_offsetof(struct rt_g, stackguard) == 16, "amd64.S");
_Static_assert(__builtin_offsetof(struct rt_g, sched_sp) == 24, "amd64.S");
_Static_assert(__builtin_offsetof(struct rt_g, morebuf) == 32, "amd64.S");
_Static_assert(sizeof(struct morebuf) == MOREBUF_WORDS * 8, "amd64.S");

/* ---- sudog: a parked waiter (rt/sudog.c) ------------------------------------ */

/*
 * One G waiting in one queue: on a channel (rt/chan.c, rt/select.c) or on a
 * mutex or wait group (rt/sema.c). Where it lives and who frees it: rt/sudog.c.
 */
struct sudog {
	struct rt_g *g;            /* the waiting G */
	struct sudog *next, *prev; /* in c's sendq or recvq (c->lock); sema: next in its root (root lock) */
	struct rt_chan *c;
	void *elem;                /* send: the value; recv: its destination (NULL: drop it);
	                              sema: the mutex or wait group waited on */
	uint32_t *selectdone;      /* select: the shared fired word; NULL for send/recv */
	struct sudog *waitlink;    /* select: the G's sudogs, descending lock order (own G) */
	struct sudog *readylink;   /* close: to ready after unlocking (c->lock) */
	int caseidx;               /* select: index into the cases */
	bool isrecv;               /* in recvq (else sendq) */
	bool queued;               /* linked in its queue (c->lock) */
	bool fired;                /* claimed by a waker (its queue's lock, then read by the G) */
	bool success;              /* the waker's verdict: an element passed (false: closed) */
	uint32_t done;             /* the selectdone word of a select's first sudog */
};

/* ---- M ---------------------------------------------------------------------- */

struct rt_m {
	/* Offsets used by rt/port/amd64.S. */
	struct rt_g *curg;         /* 0: the G running (or being switched) on this M; NULL on g0 */
	uintptr_t g0_sp;           /* 8: top of the scheduler's stack frame area */
	struct morebuf morebuf;    /* 16: __morestack's save area */
	uint64_t on_systemstack;   /* 16+128: >0 while curg runs a function on g0's stack */
	uintptr_t exit_sp;         /* 16+136: rt_mstart_asm's saved context: rt_gogo here leaves the M */

	int id;                    /* == its P's id */
	int locks;                 /* >0: must not be preempted (own M) */
	struct rt_p *p;
	bool spinning;             /* looking for work, counted in rt_sched.nmspinning (own M) */
	volatile uint32_t wake;    /* the idle word: a waker sets it, the M clears it before it
				    * announces itself idle (rt_port_idle sleeps while it is 0) */
	uintptr_t *guard_slot;     /* where this M's %fs:0x70 lives (hosted sysmon pokes it) */
	uint64_t schedtick;        /* scheduler rounds, for fairness checks */
	uint64_t nstolen;          /* Gs stolen from other Ps */
	uint64_t ntimers_stolen;   /* times it took other Ps' due sleepers (steal_work, fair check) */
	uint64_t nswitches;        /* Gs run */
	uint64_t npreempt_async, npreempt_sync;
	uint64_t npreempt_restarted_store; /* async preemptions that rewound a pointer store to its test (own CPU's tick) */
	uint64_t spin_ns;          /* time spent spinning (own M; read by stats) */
	uint64_t idle_ns;          /* time asleep in rt_port_idle, finished sleeps (own M; idle_seq) */
	uint64_t idle_since;       /* when the sleep under way began, 0: awake (own M; idle_seq) */
	uint32_t idle_seq;         /* odd while idle_ns/idle_since change (a seqcount for stats) */
	uint64_t nwoken;           /* times a waker claimed this M (own M) */
	uint64_t nidle_wakes;      /* times it woke unclaimed (tick, timeout, spurious; own M) */
	uint64_t preempt_seen_switches; /* nswitches at the monitor's last look (written by the
					 * monitor only; read atomically by the hand-off rules R1-R3) */
	uint64_t preempt_seen_ns;  /* when it first saw that count (as above) */
	bool preempt_seen_moved;   /* the count had moved at that last look (as above) */
	uint64_t fastrand;         /* fastrand()'s state, never 0 (own M) */
	bool (*park_unlock)(struct rt_g *gp, void *arg); /* rt_park: run on g0 after the switch */
	void *park_arg;
	uintptr_t caller_hi;       /* M 0: top of the stack rt_mstart_asm ran on, [exit_sp, caller_hi) a GC root; others 0 */
	uint32_t gc_epoch_seen;    /* the last mark this M joined (rt/mgc.c mark epochs; own M) */
	volatile uint64_t idle_state; /* enum m_idle_state | the counting stop's stopgen << 2
				       * (rt/proc.c "Stopping idle Ms"): CAS by this M, a
				       * stopper and the restarting M */
	uint32_t counted_epoch;    /* the counting stop's mark epoch: written by the stopper
				    * before its CAS to M_IDLE_COUNTED, read by the M after
				    * its CAS from it */
	bool gc_forced;            /* the stop this M asks for is rt_gc's (own M) */
	uint8_t gc_request;        /* enum gc_request: what it asks the stop for (own M) */
	uint32_t gc_seen_num_gc;   /* NumGC when it decided to ask (own M) */
};
_Static_assert(__builtin_offsetof(struct rt_m, curg) == 0, "amd64.S");
_Static_assert(__builtin_offsetof(struct rt_m, g0_sp) == 8, "amd64.S");
_Static_assert(__builtin_offsetof(struct rt_m, morebuf) == 16, "amd64.S");
_Static_assert(__builtin_offsetof(struct rt_m, on_systemstack) == 16 + MOREBUF_WORDS * 8, "amd64.S");
_Static_assert(__builtin_offsetof(struct rt_m, exit_sp) == 24 + MOREBUF_WORDS * 8, "amd64.S");

/* ---- P ---------------------------------------------------------------------- */

#define RUNQ_SIZE 256

/* One P's sleeping Gs (rt/time.c; Go 1.14's per-P timers). */
struct rt_timers {
	struct rt_lock lock;       /* LOCKRANK_TIMERS; an M never holds two Ps' at once */
	struct rt_g **heap;        /* a min-heap of G_WAITING sleepers by ->when (lock) */
	int n, cap;                /* (lock) */
	volatile uint64_t earliest; /* heap[0]->when, 0 when empty: stored under the lock, read
				     * without it, so a P with nothing due takes no lock
				     * (Go's timer0When) */
	volatile uint64_t nlocked; /* acquisitions of lock, by anyone (statistics; under lock) */
};

struct stackcache {
	uint32_t n;
	uintptr_t lo[32];          /* cached free stacks of one order (own P) */
	void *chunk[32];
};

struct rt_p {
	int id;
	/* Local run queue: a ring written at tail by its owner, taken at head by
	 * the owner or a thief (CAS on head), as Go's runqput/runqget/runqsteal. */
	volatile uint32_t runqhead;
	volatile uint32_t runqtail;
	struct rt_g *volatile runq[RUNQ_SIZE];
	struct rt_g *volatile runnext; /* the next G to run (readied by this P): hand-off */
	bool runnext_nowake;       /* runnext's G was put there by rt/proc.c's R1, waking nobody
				    * (owner writes it before runnext; read after runnext) */
	struct rt_g *gfree;        /* dead Gs with their stacks, for reuse (own P) */
	int ngfree;
	uint64_t goidcache, goidcacheend; /* ids [cache, end) taken from goidgen (own P) */
	/* Per P, so creating and exiting touch no shared line: rt_read_sched_stats
	 * sums them (exits first, so the live count never goes below zero). */
	volatile uint64_t ncreated; /* user Gs created on this P (own P writes; any reader) */
	volatile uint64_t nexited;  /* user Gs that exited on this P (own P writes; any reader) */
	struct stackcache stackcache[STACK_CACHED_ORDERS]; /* own P */
	struct rt_timers timers;   /* Gs that slept on this P; any P's M may take the due ones */
};

/* ---- global scheduler state (rt/proc.c) --------------------------------------- */

struct schedt {
	struct rt_lock lock;
	struct rt_g *runq_head, *runq_tail;  /* global run queue (lock) */
	uint32_t runq_size;                  /* (lock) */
	volatile uint64_t idle_mask;         /* bit i: M i is idle and may be claimed (rt/proc.c's
					      * wake-up protocol; seq_cst atomics only) */
	volatile uint32_t nmspinning;        /* Ms spinning, plus wakers' claims in flight (seq_cst) */
	volatile uint64_t nwakeups;          /* Ms woken by wakep (statistics) */
	volatile uint64_t nhandoff_rescues;  /* R3 wakes for a runnext left behind (statistics) */
	volatile uint64_t ntimer_rescues;    /* monitor wakes for a sleeper due on a busy P (statistics) */
	volatile bool ending;                /* the main G returned: every M leaves */
	int nprocs;
	struct rt_g *main_g;
	uint64_t nabandoned;                 /* user Gs a world left alive (world_cleanup): live
					      * = sum of Ps' ncreated - nexited - this */
	uint64_t goidgen;                    /* ids handed to Ps in GOID_BATCHes (atomic) */
	struct rt_g *gfree_global;           /* dead Gs overflowing Ps' lists (lock) */
	int ngfree_global;
	/* Stopping the world for a collection (rt/proc.c, rt/mgc.c). */
	volatile uint32_t gcwaiting;         /* a stop is under way: every M stops (set/cleared under lock) */
	volatile int32_t stopwait;           /* Ms still to stop (atomic) */
	volatile uint32_t stopgen;           /* +1 per stop: an M still waiting in an old one leaves it */
	struct rt_g *gc_waiters;             /* Gs that asked for a cycle during a stop (lock; schedlink) */
};

_Static_assert(RT_MAX_PROCS <= 64, "rt_sched.idle_mask has one bit per M");

extern struct schedt rt_sched;
extern struct rt_m *rt_allm[RT_MAX_PROCS];
extern struct rt_p *rt_allp[RT_MAX_PROCS];
extern uintptr_t rt_stack_max;

/* The M this code runs on (%gs:RT_GS_M in the kernel: struct cpu's rt_m; a TLS word hosted). */
#if defined(HOSTED)
extern __thread struct rt_m *rt_tls_m;
static inline struct rt_m *rt_getm(void) { return rt_tls_m; }
#else
static inline struct rt_m *rt_getm(void)
{
	struct rt_m *m;
	__asm__ volatile("movq %%gs:%c1, %0" : "=r"(m) : "i"(RT_GS_M));
	return m;
}
#endif
static inline struct rt_g *rt_getg_user(void) { return rt_getm() ? rt_getm()->curg : NULL; }

/* Sets the running stack guard (%fs:RT_FS_STACK_GUARD, both ports). */
static inline void rt_set_stackguard(uintptr_t v)
{
	__asm__ volatile("movq %0, %%fs:%c1" : : "r"(v), "i"(RT_FS_STACK_GUARD) : "memory");
}
static inline uintptr_t rt_get_stackguard(void)
{
	uintptr_t v;
	__asm__ volatile("movq %%fs:%c1, %0" : "=r"(v) : "i"(RT_FS_STACK_GUARD));
	return v;
}
static inline uintptr_t rt_getsp(void)
{
	uintptr_t sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return sp;
}

/* ---- assembly (rt/port/amd64.S) ---------------------------------------------- */

/* Saves curg's context on its stack, switches to g0's stack and calls fn(curg).
 * fn must not return; the G continues when someone rt_gogo's it. */
void rt_mcall(void (*fn)(struct rt_g *));
/* Saves the caller's context at m->exit_sp, moves to a fresh g0 area below it
 * (m->g0_sp) and calls fn(m), which never returns: rt_gogo(m->exit_sp, 0)
 * makes rt_mstart_asm return instead. */
void rt_mstart_asm(struct rt_m *m, void (*fn)(struct rt_m *));
/* Switches to g's saved context with %fs:0x70 = guard. */
__attribute__((noreturn)) void rt_gogo(uintptr_t sp, uintptr_t guard);
/* Finishes a __morestack: the registers in *mb, F's body on the stack mb->sp says. */
__attribute__((noreturn)) void rt_morestack_tail(struct morebuf *mb, uintptr_t guard);
/* A new G's first frame returns here: it calls rt_gstart (rt/proc.c). */
void rt_gstart_trampoline(void);
/* Runs fn(arg) on g0's stack (the M's system stack). */
void rt_systemstack_switch(void (*fn)(void *), void *arg, uintptr_t sp);
/* The timer interrupt makes a coroutine "call" this: it saves every register and yields. */
void rt_async_preempt(void);
extern char rt_asm_text_start[], rt_asm_text_end[];

/* ---- between the files of rt/ ------------------------------------------------- */

/* rt/stack.c */
void stack_init(void);
void stack_alloc(struct rt_g *g, unsigned order);
void stack_free(struct rt_g *g);
void stack_release_all(void);                      /* end of world: every cached stack back to the OS */
bool stack_keep_with_dead_g(const struct rt_g *g); /* a dead G may keep its (smallest) stack */
void stack_maybe_shrink(struct rt_g *g);/* at a safe point, g not running */
__attribute__((noreturn)) void rt_newstack(struct rt_m *m);

/* rt/proc.c */
void rt_ready(struct rt_g *gp);             /* G_WAITING -> G_RUNNABLE, into this P's runnext */
/*
 * Parks the calling G (G_RUNNING -> G_WAITING) and runs unlock(gp, arg) on
 * g0 after the switch: a waiter registers itself under a lock, calls rt_park,
 * and the lock is dropped only once the G is off its stack, so a waker that
 * takes the lock can never ready a G that is still running. If unlock
 * returns false the G is made runnable again at once (a wake-up raced).
 */
void rt_park(bool (*unlock)(struct rt_g *gp, void *arg), void *arg);
void rt_gosched_preempted(void);          /* yield from a preemption point */
void rt_preempt_check(struct rt_m *m);    /* after locks drop to 0 */
/* Asks g, running on m, to yield at its next checked call: g->preempt and
 * m's guard poisoned by CAS from g's own guard (the hosted monitor, the stopper). */
void rt_request_preempt(struct rt_m *m, struct rt_g *g);
/* What every port's asynchronous stop checks and does (rt/proc.c). */
bool rt_async_own_context(const struct rt_g *g, uintptr_t rsp, uintptr_t guard);
uintptr_t rt_async_resume_pc(struct rt_m *m, uintptr_t pc);
/* Should the G running on m be asked to yield? (the preemption tick) */
bool rt_preempt_due(struct rt_m *m, uint64_t now);
/* Then: wake a thief for a runnext m has left waiting (rt/proc.c hand-off rule R3). */
void rt_handoff_check(struct rt_m *m, uint64_t now);
/* p lies in the coroutine stacks' region. */
bool rt_is_stack_pointer(const void *p);
void stack_read_stats(uint64_t *grows, uint64_t *shrinks, uint64_t *inuse, uint64_t *nchunks);

/* rt/time.c: the sleep timers. */
void timers_init(struct rt_timers *t);    /* once per P, when it is made */
/* t's sleepers due by now (schedlink), still G_WAITING. Nothing due: no
 * lock (one clock read if t holds a sleeper, none if it is empty). */
struct rt_g *timers_take_due(struct rt_timers *t);
static inline uint64_t timers_earliest(const struct rt_timers *t)   /* 0: empty */
{
	return __atomic_load_n(&t->earliest, __ATOMIC_ACQUIRE);
}
void timers_clear(struct rt_timers *t);   /* the world ended: forget every sleeper */

/* rt/sudog.c: select's sudogs, from P p's cache (p: the caller's P, M held). */
void sudogcache_fill(int p, int n);       /* the cache holds at least n; takes the pool lock */
struct sudog *sudog_get(int p);           /* a zeroed sudog from the cache, filled beforehand */
void sudogs_put(struct sudog *list);      /* a select's sudogs (waitlink) back; holds the M itself */

/* rt/chan.c and rt/select.c share rt/chan.h; their public API, and rt/sema.c's, is sched.h's. */

/*
 * fastrand: the runtime's one pseudo-random number generator (Go's
 * fastrand), one state per M: Vigna's xorshift64* (tests/xorshift.h uses it
 * too), seeded in procs_create from the clock and the M's id. Cheap, not
 * unpredictable. It chooses the order in which findrunnable tries to steal
 * from the other Ps and the order in which rt_select polls its cases. The
 * caller runs on m and cannot be preempted (g0, or m->locks > 0).
 */
static inline uint32_t fastrand(struct rt_m *m)
{
	uint64_t x = m->fastrand;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	m->fastrand = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/* Uniform in [0, n): Lemire's multiply-shift ("Fast Random Integer
 * Generation in an Interval", 2019); its bias is below n / 2^32. */
static inline uint32_t fastrandn(struct rt_m *m, uint32_t n)
{
	return (uint32_t)(((uint64_t)fastrand(m) * n) >> 32);
}

/* Runtime text only (never preempted between the load and the count); user
 * code holds its M with rt/sched.h's rt_hold_m. */
static inline void rt_acquirem(void) { rt_getm()->locks++; }
static inline void rt_releasem(void)
{
	struct rt_m *m = rt_getm();
	if (--m->locks == 0 && m->curg != NULL && m->curg->preempt)
		rt_preempt_check(m);
}

#endif
