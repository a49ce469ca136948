/*
 * sched.h - coroutines, as Go's goroutines: the public API of rt/proc.c,
 * rt/stack.c, rt/chan.c, rt/select.c and rt/sema.c.
 *
 * A coroutine starts on a small stack (one 4 KiB page) that grows by copying
 * when a function's prologue finds it short, and shrinks again at safe points.
 * Functions compiled with -fsplit-stack (all of rt/, the kernel, and the code
 * the coroutines run) carry that check; see rt/stack.c.
 *
 * The contract that copying imposes (Go's escape analysis, enforced by hand):
 * nothing outside a coroutine's stack may hold a pointer into it while the
 * coroutine can grow, shrink or exit. Objects shared between coroutines
 * (channels, mutexes, wait groups, buffers) live on the heap (rt_new) or in
 * static storage, never in a coroutine's locals. rt_go checks its argument;
 * channel and sync operations check the object's address (RT_DEBUG >= 1).
 *
 * Every function here except rt_run must be called from a coroutine.
 */
#ifndef RT_SCHED_H
#define RT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/rt.h"   /* RT_MAX_PROCS */

struct rt_g;

/*
 * Runs main_fn(arg) as the first coroutine, with every P's M scheduling
 * (kernel: one per CPU, hosted: one thread per P, nprocs of them; 0 = all
 * started Ps). Returns when main_fn returns ("end of the world"): the other
 * Ms stop, coroutines still alive are destroyed (their count is returned),
 * and every stack goes back to the OS. Call from outside any coroutine.
 */
uint64_t rt_run(void (*main_fn)(void *), void *arg, int nprocs);

/* Starts fn(arg) as a new coroutine; returns its id. */
uint64_t rt_go(void (*fn)(void *), void *arg);
/* Lets other coroutines run; the caller stays runnable. */
void rt_gosched(void);
/* Blocks the calling coroutine for at least ns nanoseconds. */
void rt_sleep(uint64_t ns);
/* Ends the calling coroutine (as if its function returned). */
__attribute__((noreturn)) void rt_goexit(void);
/* The calling coroutine's id (0 outside one). */
uint64_t rt_goid(void);
/* The P (CPU) the caller runs on now. */
int rt_current_proc(void);
/* Nanoseconds, monotonic. */
uint64_t rt_nanotime(void);

/* Runs fn(arg) on the M's system stack (Go's systemstack): for code built
 * without the stack check, such as libc in the hosted port. A coroutine may
 * be stopped and moved to another thread between any two of its own
 * instructions (asynchronous preemption), so errno and thread-local
 * variables are meaningful only inside fn. Hosted, coroutine code must not
 * use AVX (only the SSE state is saved at an asynchronous stop), and SIGURG
 * belongs to the runtime while a world runs (Go's choice); a system call
 * made from coroutine code directly, not through rt_systemstack, may return
 * EINTR when the signal comes. */
void rt_systemstack(void (*fn)(void *), void *arg);
/* Holds the calling coroutine on its M (no switch, no preemption) until the
 * matching rt_release_m; they nest. User code must use these, not
 * runtime2.h's inline rt_acquirem: an asynchronous preemption between its
 * load of the M and the increment would move the coroutine and count the
 * hold on the M it left (test_rt_sched: "schedule: ... m->locks == 0"). */
void rt_hold_m(void);
void rt_release_m(void);

/* ---- stacks ---- */

struct rt_stack_info {
	uintptr_t lo, hi;          /* the current stack [lo, hi) */
	uintptr_t used;            /* hi - %rsp at the call */
	uint32_t ncopies;          /* growths + shrinks so far */
};
void rt_stack_info(struct rt_stack_info *out);
/* Maximum stack size (default 1 GiB); a growth past it panics naming the coroutine. */
void rt_set_max_stack(uintptr_t bytes);
/* Debug: freed stacks fault on access (sys_fault) instead of being reused. */
void rt_stack_debug_fault_freed(bool on);
/* Called after every copy (grow or shrink), on the system stack (the tour prints it). */
void rt_set_stack_copy_hook(void (*hook)(uint64_t goid, uintptr_t old_lo, uintptr_t old_hi,
					 uintptr_t new_lo, uintptr_t new_hi, uintptr_t used));

/* ---- seeing the coroutines (rt/proc.c) ---- */

struct rt_g_view {
	uint64_t id;
	const char *status;        /* "runnable", "running", "waiting" */
	bool system;               /* a runtime G (the background sweeper, mark workers) */
	bool self;                 /* the caller */
	uintptr_t stack_lo, stack_hi;  /* its stack [lo, hi) (0, 0: none) */
	uintptr_t used;            /* hi - its saved %rsp (the caller: now); 0 if running elsewhere */
	uintptr_t max_used;        /* the deepest use seen at a stack copy */
	uint32_t ncopies;          /* growths + shrinks */
};
/*
 * Up to max of the live coroutines (not dead or idle G structs), newest first;
 * returns how many are live. Under the scheduler lock: a G running on another
 * CPU may move its stack meanwhile, so its figures are as of its last switch.
 */
size_t rt_read_goroutines(struct rt_g_view *out, size_t max);

/* ---- statistics ---- */

struct rt_sched_stats {
	uint64_t goroutines;       /* live now */
	uint64_t created;          /* since boot */
	uint64_t g_structs;        /* G structs made so far: kept for reuse, never freed (as Go's allgs) */
	uint64_t g_struct_bytes;   /* their metadata bytes (charged to MemStats.OtherSys) */
	uint64_t switches[RT_MAX_PROCS]; /* Gs run per P */
	uint64_t stolen[RT_MAX_PROCS];   /* Gs stolen per P */
	uint64_t preempt_async;    /* timer-injected preemptions */
	uint64_t preempt_sync;     /* poisoned-guard preemptions */
	uint64_t preempt_restarted_store; /* async preemptions that rewound a pointer store to its test (rt/mbarrier.h) */
	uint64_t spin_ns[RT_MAX_PROCS];     /* time each P's M spent spinning (looking for work, awake) */
	uint64_t idle_ns[RT_MAX_PROCS];     /* time each P's M slept in the port's idle wait
					     * (a sleep under way included) */
	uint64_t wakeups;          /* idle Ms woken for new work (rt/proc.c wakep) */
	uint64_t idle_wakes;       /* idle Ms that woke unclaimed (tick, timer deadline) */
	uint64_t handoff_rescues;  /* a runnext left by a hand-off to an M that then stopped
				    * switching, given to another M (rt/proc.c R3) */
	uint64_t timer_rescues;    /* Ms woken for a sleeper due on a P whose M did not switch
				    * (rt/proc.c rt_handoff_check) */
	uint64_t timers_stolen[RT_MAX_PROCS]; /* times each P's M took another P's due sleepers */
	uint64_t timer_locks;      /* timer-heap lock acquisitions, all Ps (rt/time.c: only
				    * to sleep or to take a sleeper that is due) */
	uint64_t stack_grows, stack_shrinks;
	uint64_t stacks_inuse;     /* stacks allocated to Gs (counted, not bytes) */
	uint64_t stack_chunks;     /* chunks of small stacks held from the OS */
};
void rt_read_sched_stats(struct rt_sched_stats *out);

/* ---- channels (rt/chan.c, rt/select.c) ---- */

struct rt_chan;
/* A channel of elements of elemsize bytes with cap slots (0 = unbuffered), on the heap.
 * The collector scans its ring's words as possible pointers when elemsize is a
 * multiple of 8, as every element holding an aligned pointer is; a packed
 * element (elemsize % 8 != 0) is never scanned, so must not hold the only
 * pointer to a heap object. */
struct rt_chan *rt_chan_new(size_t elemsize, size_t cap);
void rt_chan_send(struct rt_chan *c, const void *elem);
/* Returns false if c is closed and drained (*elem is then zeroed). elem may be NULL. */
bool rt_chan_recv(struct rt_chan *c, void *elem);
void rt_chan_close(struct rt_chan *c);
/* Non-blocking forms: true if the operation happened. */
bool rt_chan_trysend(struct rt_chan *c, const void *elem);
bool rt_chan_tryrecv(struct rt_chan *c, void *elem, bool *ok);
size_t rt_chan_len(struct rt_chan *c);

enum rt_select_dir { RT_SELECT_SEND, RT_SELECT_RECV };
struct rt_select_case {
	struct rt_chan *c;         /* NULL: the case never fires (Go's nil channel) */
	enum rt_select_dir dir;
	void *elem;                /* send: the value; recv: where to store (may be NULL) */
	bool ok;                   /* recv: false if it fired because c is closed */
};
/* Most cases one rt_select takes (its bookkeeping is on the caller's stack). */
#define RT_SELECT_MAX_CASES 64
/*
 * Waits until one case can proceed and does it; returns its index. Among
 * several ready cases one is chosen uniformly at random (Go's fairness).
 * With block false, returns -1 instead of waiting (Go's default case).
 * Blocking with every channel NULL panics (Go would block forever).
 */
int rt_select(struct rt_select_case *cases, int ncases, bool block);

/* ---- mutex and wait group (rt/sema.c) ---- */

/*
 * Both are plain words, valid when zeroed (static storage or the heap; never
 * a coroutine's locals). Their waiters park in rt/sema.c's table, keyed by
 * the object's address (Go's semaphore table), FIFO.
 */
struct rt_mutex {
	volatile uint32_t state;   /* 0 unlocked, 1 locked, 2 locked with waiters */
	uint32_t nwait;            /* Gs parked on it (its sema root's lock) */
};
#define RT_MUTEX_INIT {0, 0}
void rt_mutex_lock(struct rt_mutex *mu);
void rt_mutex_unlock(struct rt_mutex *mu);
/* Takes the mutex only if it is free now. */
bool rt_mutex_trylock(struct rt_mutex *mu);

struct rt_waitgroup {
	volatile int64_t count;    /* outstanding work; negative panics */
	uint32_t nwait;            /* Gs parked in rt_wg_wait (its sema root's lock) */
	uint32_t pad;
};
#define RT_WAITGROUP_INIT {0, 0, 0}
void rt_wg_add(struct rt_waitgroup *wg, int64_t delta);
void rt_wg_done(struct rt_waitgroup *wg);
void rt_wg_wait(struct rt_waitgroup *wg);

#endif
