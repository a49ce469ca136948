/*
 * port.h - everything the portable runtime needs from its host, besides sys.h.
 *
 * Besides each other's headers, the files of rt/ include only this header, sys.h and
 * freestanding C headers (stddef, stdint, stdbool, stdarg); only the port files
 * include their host's headers. One port file implements it for each host:
 *   rt/port/hosted.c   Linux user space (pthreads, stdio, mmap); tests, benchmarks
 *   rt/port/kernel.c   our kernel (kprintf, panic, nanotime, per-CPU data); its
 *                      sys_port_* half is the OS's own, mm/sysmem.c
 *
 * What a port provides:
 *   - address-space constants: where the heap and stack regions are, how big;
 *   - locks (rt_lock_*): mutual exclusion between CPUs/threads; ranks are
 *     checked by the portable rt/lockrank.c through rt_port_lockrank_state();
 *   - output and failure: rt_printf, rt_throw (never returns);
 *   - memory helpers: rt_memclr, rt_memcpy (byte semantics of memset/memcpy);
 *   - identity of the running context: which P it runs on, and its stack bounds;
 *   - the scheduler's needs: time, Ms, idling and waking, the preemption tick.
 *
 * What rt/port/kernel.c does for each: rt_lock/rt_unlock are spinlocks that
 * leave the interrupt flag alone (no interrupt handler takes a runtime lock)
 * and call rt_lockrank_acquire/release; rt_port_lockrank_state and
 * rt_port_current_p are per CPU (the per-CPU block, at the offsets below);
 * rt_port_vprintf, _vsnprintf and _vthrow go to kvprintf, kvsnprintf and
 * panic; rt_memclr/rt_memcpy to the kernel's memset/memcpy;
 * rt_port_stack_bounds finds the running stack (CPU or coroutine); the
 * scheduler's needs (below) use the CPUs, the LAPIC tick and hlt. The
 * sys_port_* half of sys.h is mm/sysmem.c's.
 */
#ifndef RT_PORT_H
#define RT_PORT_H

/*
 * Where the running code finds its context, as offsets from a segment base
 * (C and rt/port/amd64.S both use these names):
 *   %fs:RT_FS_STACK_GUARD  -fsplit-stack's guard word: gcc's fixed offset
 *                          (hosted: glibc's TCB; kernel: struct cpu's stack_guard)
 *   %gs:RT_GS_CPU_ID       kernel: this CPU's id, which is its P's (struct cpu's id)
 *   %gs:RT_GS_M            kernel: the M running on this CPU (struct cpu's rt_m)
 * rt/port/kernel.c asserts all three against kernel/lib/percpu.h.
 */
#define RT_FS_STACK_GUARD 0x70
#define RT_GS_CPU_ID      0x08
#define RT_GS_M           0x78

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/rt.h"   /* RT_DEBUG, RT_MAX_PROCS */

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* The heap's region of address space (DESIGN.md section 2). */
#if defined(HOSTED)
/* Above ASan's shadow (HighMem starts at 0x10007fff8000) and below the mmap area. */
#define RT_HEAP_REGION_BASE ((uintptr_t)0x200000000000ull)
#define RT_HEAP_REGION_SIZE ((uintptr_t)1 << 40)   /* 1 TiB */
#else
#define RT_HEAP_REGION_BASE ((uintptr_t)0xffffc00000000000ull)
#define RT_HEAP_REGION_SIZE ((uintptr_t)1 << 44)   /* 16 TiB, up to the stack region */
#endif

/* The coroutine stacks' region (DESIGN.md section 2): every stack address lies
 * in it, and nothing else does, which rt/stack.c's relocation relies on. */
#if defined(HOSTED)
#define RT_STACK_REGION_BASE ((uintptr_t)0x300000000000ull)
#define RT_STACK_REGION_SIZE ((uintptr_t)1 << 40)   /* 1 TiB */
#else
#define RT_STACK_REGION_BASE ((uintptr_t)0xffffd00000000000ull)
#define RT_STACK_REGION_SIZE ((uintptr_t)1 << 44)   /* 16 TiB */
#endif

/* ---- locks ---------------------------------------------------------------- */

/*
 * Lock ranks: a thread may acquire a lock only if its rank is greater than the
 * rank of every lock it already holds (checked at RT_DEBUG >= 1). This is the
 * runtime's lock order, written once:
 *     chan (2) < sema (3) < timers (4) < sweep (5) < sched (6) < mcentral (10)
 *       < mheap (20) < stack pool (25) < fixalloc/persistent (30) < sys (40) < gcwork (45)
 * e.g. the heap lock may be taken while holding an mcentral lock, never the
 * other way round (mcentral_grow releases its lock before calling the heap anyway).
 * A stack growth takes the stack pool's lock, so locks ranked at or above it
 * are taken only off coroutine stacks (rt_systemstack; rt/lockrank.c checks).
 */
enum rt_lockrank {
	LOCKRANK_LEAF0 = 0,
	LOCKRANK_CHAN = 2,        /* a channel (rt/chan.c); rt_ready may follow */
	LOCKRANK_SEMA = 3,        /* a mutex's or wait group's waiters (rt/sema.c) */
	LOCKRANK_TIMERS = 4,      /* a P's sleep timer heap (rt/time.c; never two held) */
	LOCKRANK_SWEEP = 5,       /* the background sweeper's parking (rt/mgcsweep.c) */
	LOCKRANK_SCHED = 6,       /* the global run queue and G lists (rt/proc.c) */
	LOCKRANK_MCENTRAL = 10,
	LOCKRANK_MHEAP = 20,
	LOCKRANK_MPROF_WRITER = 21, /* the heap profile's writer (rt/mprof.c): takes mprof per bucket */
	LOCKRANK_MPROF = 22,      /* the heap profile: buckets, span specials (rt/mprof.c) */
	LOCKRANK_STACKPOOL = 25,  /* stack chunks (rt/stack.c): takes persistent and sys */
	LOCKRANK_PERSISTENT = 30,
	LOCKRANK_SYS = 40,
	LOCKRANK_GCWORK = 45,     /* the mark's work lists (rt/mgcwork.c): nothing is taken inside */
};

struct rt_lock {
	uint32_t word;          /* 0 free, 1 held */
	uint32_t rank;          /* enum rt_lockrank */
	const char *name;       /* for reports */
};

void rt_lock_init(struct rt_lock *l, enum rt_lockrank rank, const char *name);
void rt_lock(struct rt_lock *l);
void rt_unlock(struct rt_lock *l);
/* Panics unless the calling thread holds l (RT_DEBUG >= 1; no-op otherwise). */
void rt_assert_held(const struct rt_lock *l);

/* Per-thread (hosted) / per-CPU (kernel) record of held locks, for rank checks. */
#define RT_LOCKRANK_DEPTH 72   /* rt_select holds up to 64 channel locks (RT_SELECT_MAX_CASES) */
struct rt_lockrank_state {
	int depth;
	const struct rt_lock *held[RT_LOCKRANK_DEPTH];
};
struct rt_lockrank_state *rt_port_lockrank_state(void);
/* rt/lockrank.c: called by the port's rt_lock/rt_unlock around the hardware lock. */
void rt_lockrank_acquire(const struct rt_lock *l);
void rt_lockrank_release(const struct rt_lock *l);

/* ---- output and failure --------------------------------------------------- */

__attribute__((format(printf, 1, 2)))
void rt_printf(const char *fmt, ...);

/* Formats into buf (always NUL-terminated when n > 0); returns the length it wanted. */
__attribute__((format(printf, 3, 4)))
int rt_snprintf(char *buf, size_t n, const char *fmt, ...);

/* Prints "fatal error: <message>" and stops (hosted: abort(); kernel: panic). */
__attribute__((format(printf, 1, 2), noreturn))
void rt_throw(const char *fmt, ...);

/* The port's half of the three above (rt/print.c holds the varargs wrappers). */
void rt_port_vprintf(const char *fmt, va_list ap);
int rt_port_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
__attribute__((noreturn)) void rt_port_vthrow(const char *fmt, va_list ap);

/* Always-on invariant check: names the file, line and the expression. */
#define RT_ASSERT(cond)                                                          \
	do {                                                                         \
		if (unlikely(!(cond)))                                                   \
			rt_throw("%s:%d: %s: assertion failed: %s", __FILE__, __LINE__,      \
				 __func__, #cond);                                               \
	} while (0)
#define RT_ASSERT_MSG(cond, fmt, ...)                                            \
	do {                                                                         \
		if (unlikely(!(cond)))                                                   \
			rt_throw("%s:%d: %s: " fmt, __FILE__, __LINE__, __func__,            \
				 ##__VA_ARGS__);                                                 \
	} while (0)
/* Checked only at RT_DEBUG >= 1. */
#define RT_DASSERT(cond)                                                         \
	do {                                                                         \
		if (RT_DEBUG >= 1)                                                       \
			RT_ASSERT(cond);                                                     \
	} while (0)

/* ---- memory helpers ------------------------------------------------------- */

void rt_memclr(void *p, size_t n);
void rt_memcpy(void *dst, const void *src, size_t n);

/* ---- the running context -------------------------------------------------- */

/* Index of the P the caller runs on, in [0, RT_MAX_PROCS). Inline: the fast path uses it. */
#if defined(HOSTED)
extern __thread int rt_hosted_current_p;   /* set by rt_hosted_set_p (rt/port/hosted.h) */
static inline int rt_port_current_p(void) { return rt_hosted_current_p; }
#else
/* The kernel: P n runs on CPU n, whose id is at %gs:RT_GS_CPU_ID. */
static inline int rt_port_current_p(void)
{
	uint32_t id;
	__asm__ volatile("movl %%gs:%c1, %0" : "=r"(id) : "i"(RT_GS_CPU_ID));
	return (int)id;
}
#endif

/* Bounds [lo, hi) of the stack the caller runs on (the barrier's debug check). */
void rt_port_stack_bounds(uintptr_t *lo, uintptr_t *hi);

/*
 * The collector's needs (rt/mgc.c, rt/mgcmark.c):
 * rt_port_data_ranges: the image's writable data and bss, as up to max
 * [lo, hi) ranges that are safe to read (kernel: minus the boot stacks and
 * their unmapped guard pages); returns how many.
 * rt_port_may_stop: may the running coroutine stop here for a collection
 * (kernel: no kernel spinlock held, since a stopped G keeps its spinlocks
 * and the collector prints)? */
int rt_port_data_ranges(uintptr_t *lo, uintptr_t *hi, int max);
bool rt_port_may_stop(void);

/*
 * The heap profile's needs (rt/mprof.c):
 * rt_port_symbolize: the function containing pc, its name and start; false
 * if the port has no symbols (hosted: pprof symbolizes from the binary).
 * rt_port_image_text: the mapping of the program's code, for the profile's
 * Mapping: [start, limit), its offset in the file, the file's name.
 */
bool rt_port_symbolize(uintptr_t pc, const char **name, uintptr_t *start);
void rt_port_image_text(uintptr_t *start, uintptr_t *limit, uint64_t *file_offset, const char **file);

/* ---- the scheduler's needs (rt/proc.c) ---------------------------------------- */

struct rt_m;
/* Monotonic nanoseconds. */
uint64_t rt_port_nanotime(void);
/* Number of Ms (CPUs / threads) rt_run uses when asked for 0. */
int rt_port_default_procs(void);
/* Runs mstart(m) on n Ms at once (this thread/CPU is M 0) and waits for all. */
void rt_port_run_ms(int n, void (*mstart)(int id));
/* Binds the calling CPU/thread to m (NULL unbinds): rt_getm() returns it. */
void rt_port_setm(struct rt_m *m);
/* Sleeps until rt_port_wake(m) or until the monotonic time `deadline` (0: none). */
void rt_port_idle(struct rt_m *m, uint64_t deadline);
void rt_port_wake(struct rt_m *m);
/* May a preemption stop code at pc (user code, not the runtime's or the OS's)? */
bool rt_port_preemptible_pc(uintptr_t pc);
/* m's running G was asked to yield and has not: stop it where it is if it
 * may stop there (hosted: a signal to m's thread; kernel: nothing, the tick
 * does it within a millisecond). */
void rt_port_preempt_signal(struct rt_m *m);
/* Starts/stops the preemption tick (kernel: LAPIC timer hook; hosted: a monitor thread). */
void rt_port_preempt_start(void);
void rt_port_preempt_stop(void);
/* A stack is handed to a coroutine (hosted ASan: clear stale shadow poison). */
void rt_port_stack_fresh(uintptr_t lo, size_t n);

#endif /* !__ASSEMBLER__ */
#endif
