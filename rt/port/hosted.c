/*
 * hosted.c - the runtime's port to Linux user space (tests under ASan/UBSan,
 * benchmarks). Implements rt/port.h and the sys_port_* half of rt/sys.h.
 *
 * State mapping onto mmap (see sys.h for the states):
 *   Reserved   mmap(PROT_NONE, MAP_NORESERVE) at the exact hint (MAP_FIXED_NOREPLACE)
 *   Prepared   strict (RT_DEBUG >= 1): still PROT_NONE, so a stray access faults;
 *              otherwise PROT_READ|WRITE already (as Go on Linux), no frames yet
 *   Ready      PROT_READ|WRITE; frames appear on first touch, zero-filled
 *   unused     madvise(MADV_DONTNEED): frames dropped now, next touch reads zero
 *              (rule 5 of sys.h); strict mode also re-protects PROT_NONE
 *   fault      mprotect(PROT_NONE) after dropping the frames
 * Locks are test-and-test-and-set spinlocks that yield the CPU after a while.
 */
#define _GNU_SOURCE
#include "rt/port.h"
#include "rt/port/hosted.h"
#include "rt/sys.h"

#include "rt/runtime2.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define SYS_STRICT (RT_DEBUG >= 1)

__thread int rt_hosted_current_p;
static __thread struct rt_lockrank_state lockrank_state;
static __thread uintptr_t stack_lo, stack_hi;

void rt_hosted_set_p(int p)
{
	if (p < 0 || p >= RT_MAX_PROCS)
		rt_throw("rt_hosted_set_p(%d): P out of range [0, %d)", p, RT_MAX_PROCS);
	if (rt_tls_m == NULL && rt_sched.main_g != NULL)
		rt_throw("rt_hosted_set_p(%d) from a thread outside the running world: P %d belongs to "
			 "its M now (bind threads to Ps only between worlds)", p, p);
	rt_hosted_current_p = p;
}

/* ---- locks ---- */

void rt_lock(struct rt_lock *l)
{
	rt_lockrank_acquire(l);
	for (unsigned spins = 0;; spins++) {
		if (__atomic_load_n(&l->word, __ATOMIC_RELAXED) == 0 &&
		    __atomic_exchange_n(&l->word, 1, __ATOMIC_ACQUIRE) == 0)
			return;
		if (spins < 64)
			__builtin_ia32_pause();
		else
			sched_yield();
	}
}

void rt_unlock(struct rt_lock *l)
{
	rt_lockrank_release(l);
	__atomic_store_n(&l->word, 0, __ATOMIC_RELEASE);
}

struct rt_lockrank_state *rt_port_lockrank_state(void)
{
	return &lockrank_state;
}

/* ---- output and failure ---- */

void rt_port_vprintf(const char *fmt, va_list ap) { vprintf(fmt, ap); }

int rt_port_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap) { return vsnprintf(buf, n, fmt, ap); }

void rt_port_vthrow(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "fatal error: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

/* ---- memory helpers ---- */

void rt_memclr(void *p, size_t n) { memset(p, 0, n); }
void rt_memcpy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

/* A stack handed to a coroutine: ASan's shadow may still hold the redzones of
 * frames that lived there before (a copied-from or exited stack). */
void rt_port_stack_fresh(uintptr_t lo, size_t n)
{
#if defined(__SANITIZE_ADDRESS__)
	__asan_unpoison_memory_region((void *)lo, n);
#else
	(void)lo;
	(void)n;
#endif
}

/* ---- the running context ---- */

void rt_port_stack_bounds(uintptr_t *lo, uintptr_t *hi)
{
	if (stack_hi == 0) {
		pthread_attr_t attr;
		void *addr;
		size_t size;
		if (pthread_getattr_np(pthread_self(), &attr) != 0 ||
		    pthread_attr_getstack(&attr, &addr, &size) != 0)
			rt_throw("rt_port_stack_bounds: cannot read this thread's stack bounds");
		pthread_attr_destroy(&attr);
		stack_lo = (uintptr_t)addr;
		stack_hi = (uintptr_t)addr + size;
	}
	*lo = stack_lo;
	*hi = stack_hi;
}

/* ---- sys_port_* ---- */

int sys_port_reserve(enum sys_region r, void *hint, size_t n, void **out)
{
	(void)r;   /* hosted: the heap and stacks pass exact hints; metadata goes anywhere */
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	if (hint != NULL)
		flags |= MAP_FIXED_NOREPLACE;
	void *p = mmap(hint, n, PROT_NONE, flags, -1, 0);
	if (p == MAP_FAILED)
		return errno == EEXIST ? SYS_EBUSY : SYS_ENOMEM;
	if (hint != NULL && p != hint) {   /* kernels before 4.17 treat the flag as a hint */
		munmap(p, n);
		return SYS_EBUSY;
	}
	*out = p;
	return SYS_OK;
}

static void protect(const char *what, void *v, size_t n, int prot)
{
	if (mprotect(v, n, prot) != 0)
		rt_throw("%s(%p, %zu): mprotect failed: %s", what, v, n, strerror(errno));
}

int sys_port_map(void *v, size_t n)
{
	if (!SYS_STRICT && mprotect(v, n, PROT_READ | PROT_WRITE) != 0)
		return SYS_ENOMEM;
	return SYS_OK;
}

void sys_port_used(void *v, size_t n)
{
	if (SYS_STRICT)
		protect("sys_used", v, n, PROT_READ | PROT_WRITE);
}

void sys_port_unused(void *v, size_t n)
{
	if (madvise(v, n, MADV_DONTNEED) != 0)
		rt_throw("sys_unused(%p, %zu): madvise failed: %s", v, n, strerror(errno));
	if (SYS_STRICT)
		protect("sys_unused", v, n, PROT_NONE);
}

void sys_port_free(void *v, size_t n)
{
	if (munmap(v, n) != 0)
		rt_throw("sys_free(%p, %zu): munmap failed: %s", v, n, strerror(errno));
}

void sys_port_fault(void *v, size_t n)
{
	if (madvise(v, n, MADV_DONTNEED) != 0)
		rt_throw("sys_fault(%p, %zu): madvise failed: %s", v, n, strerror(errno));
	protect("sys_fault", v, n, PROT_NONE);
}

/* ---- the scheduler's port: one thread per M ---- */

__thread struct rt_m *rt_tls_m;
static int hosted_default_procs = 1;

void rt_hosted_set_default_procs(int n) { hosted_default_procs = n; }
int rt_port_default_procs(void) { return hosted_default_procs; }

uint64_t rt_port_nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void m_thread_bind(struct rt_m *m);
static void m_thread_unbind(void);

void rt_port_setm(struct rt_m *m)
{
	if (m == NULL && rt_tls_m != NULL)
		m_thread_unbind();
	rt_tls_m = m;
	if (m != NULL) {
		rt_hosted_set_p(m->id);
		/* glibc's TCB keeps %fs:0x70 for split stacks (tcbhead_t.__private_ss). */
		uintptr_t tcb;
		__asm__ volatile("movq %%fs:0, %0" : "=r"(tcb));
		m->guard_slot = (uintptr_t *)(tcb + RT_FS_STACK_GUARD);
		m_thread_bind(m);
	}
}

static void (*ms_start)(int id);
static void *m_thread(void *arg)
{
	ms_start((int)(intptr_t)arg);
	return NULL;
}

void rt_port_run_ms(int n, void (*mstart)(int id))
{
	pthread_t threads[RT_MAX_PROCS];
	ms_start = mstart;
	for (int i = 1; i < n; i++) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 1 << 20);
		if (pthread_create(&threads[i], &attr, m_thread, (void *)(intptr_t)i) != 0)
			rt_throw("rt_run: cannot start thread for M %d", i);
		pthread_attr_destroy(&attr);
	}
	int saved_p = rt_hosted_current_p;
	mstart(0);
	for (int i = 1; i < n; i++)
		pthread_join(threads[i], NULL);
	rt_hosted_current_p = saved_p;
}

/* Idle: a futex on m->wake (set by the waker before rt_port_wake). */
void rt_port_idle(struct rt_m *m, uint64_t deadline)
{
	struct timespec ts, *tsp = NULL;
	if (deadline != 0) {
		uint64_t now = rt_port_nanotime();
		uint64_t d = deadline > now ? deadline - now : 0;
		ts.tv_sec = (time_t)(d / 1000000000ull);
		ts.tv_nsec = (long)(d % 1000000000ull);
		tsp = &ts;
	}
	syscall(SYS_futex, &m->wake, FUTEX_WAIT_PRIVATE, 0, tsp, NULL, 0);
}

void rt_port_wake(struct rt_m *m)
{
	syscall(SYS_futex, &m->wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* The runtime's own text is the section rt_text (rt/build.mk renames it). */
extern char __start_rt_text[], __stop_rt_text[];
extern char __start_rt_alloc_text[], __stop_rt_alloc_text[];   /* the allocator's entries (rt/mprof.h) */
bool rt_port_preemptible_pc(uintptr_t pc)
{
	return !(pc >= (uintptr_t)__start_rt_text && pc < (uintptr_t)__stop_rt_text) &&
	       !(pc >= (uintptr_t)__start_rt_alloc_text && pc < (uintptr_t)__stop_rt_alloc_text) &&
	       !(pc >= (uintptr_t)rt_asm_text_start && pc < (uintptr_t)rt_asm_text_end);
}

/*
 * Asynchronous preemption (Go 1.14's, by signal). A G asked to yield
 * (g->preempt) that keeps running without a checked call, a loop without
 * calls, is stopped by a signal to its M's thread:
 *   1. the sender (the monitor, for a time slice asked for at its last look
 *      and still running; the stopper of the world, from its second request
 *      on, rt_port_preempt_signal) skips an M on its system stack or holding
 *      a runtime lock (it would refuse; libc there would see EINTR), takes
 *      m_threads_lock, so the thread it names is still the M's, and sends
 *      ASYNC_SIGNAL (SIGURG, as Go: a signal programs ignore);
 *   2. the handler runs on the thread's alternate signal stack (the G's
 *      stack has no room for a signal frame: an xsave area is kilobytes),
 *      its own which m_thread_bind installs where the thread has none, or
 *      ASan's. It is built without the split-stack check and zeroes the
 *      stack guard while its callees run, as the kernel's trap entry does;
 *   3. async_preempt_consider applies the kernel tick's rules: the G runs on
 *      its own stack with its own (or the poisoned) guard, the M holds no
 *      runtime lock and is not on its system stack, the interrupted pc is
 *      the executable's own text outside the runtime's sections (libc and
 *      the sanitizers' runtimes are shared objects: never stopped inside),
 *      %rbp is a frame pointer on the G's stack (the pushed frame links to
 *      it; libgcc's helpers in the executable are built without one), and
 *      the stack has ASYNC_PREEMPT_ROOM below the interrupted %rsp. Such a
 *      stop never shrinks the stack (rt/proc.c gosched_async_m);
 *   4. then it rewrites the signal context so that, when the handler
 *      returns, the G "calls" rt_async_preempt_hosted (rt/port/amd64.S)
 *      below its 128-byte red zone, which this port's user code may use:
 *      the return address is the interrupted pc (a pointer store rewound to
 *      its test, rt/mbarrier.h). That function saves the integer registers,
 *      the flags and the SSE state (fxsave) on the G's stack, where the
 *      collector scans them conservatively and the stack copier relocates
 *      them, and yields; otherwise the guard is poisoned for the next
 *      checked call (also when a request's CAS met the zeroed guard: it set
 *      g->preempt first, which the handler reads after restoring the guard).
 * The bound (rt.sched.stop_waits_briefly_for_a_loop): a stop's requests
 * repeat every 100 us (rt/proc.c) and signal from the second, so a loop
 * without calls delays a stop by ~100 us plus a signal's delivery.
 */
#define ASYNC_SIGNAL SIGURG
#define ASYNC_PREEMPT_ROOM (128 + 768)   /* the red zone, then what rt_async_preempt_hosted pushes */
#define ALTSTACK_SIZE (64 << 10)

void rt_async_preempt_hosted(void);   /* rt/port/amd64.S */
extern char __executable_start[], etext[];

static pthread_mutex_t m_threads_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t m_threads[RT_MAX_PROCS];     /* (m_threads_lock) */
static bool m_thread_bound[RT_MAX_PROCS];     /* (m_threads_lock) */
static void *altstacks[RT_MAX_PROCS];         /* each M's, made once, kept */
static __thread bool altstack_ours;           /* this thread runs on altstacks[its M] */
static struct sigaction async_old_action;
static bool async_installed;

static void m_thread_bind(struct rt_m *m)
{
	stack_t old;
	if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
		if (altstacks[m->id] == NULL) {
			void *a = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (a == MAP_FAILED)
				rt_throw("rt_run: no signal stack for M %d: %s", m->id, strerror(errno));
			altstacks[m->id] = a;
		}
		stack_t ss = {.ss_sp = altstacks[m->id], .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
		if (sigaltstack(&ss, NULL) != 0)
			rt_throw("rt_run: sigaltstack for M %d: %s", m->id, strerror(errno));
		altstack_ours = true;
	}
	pthread_mutex_lock(&m_threads_lock);
	m_threads[m->id] = pthread_self();
	m_thread_bound[m->id] = true;
	pthread_mutex_unlock(&m_threads_lock);
}

static void m_thread_unbind(void)
{
	pthread_mutex_lock(&m_threads_lock);
	m_thread_bound[rt_tls_m->id] = false;
	pthread_mutex_unlock(&m_threads_lock);
	if (altstack_ours) {
		stack_t ss = {.ss_flags = SS_DISABLE};
		(void)sigaltstack(&ss, NULL);
		altstack_ours = false;
	}
}

/* Step 1: m's running G was asked to yield; stop it if a checked call does not. */
void rt_port_preempt_signal(struct rt_m *m)
{
	if (!__atomic_load_n(&async_installed, __ATOMIC_ACQUIRE))
		return;
	/* Not an M in runtime code or libc (rt_systemstack): the handler would
	 * refuse anyway, and a signal ends a blocking system call with EINTR.
	 * (A racy look: the handler checks again.) */
	if (__atomic_load_n(&m->on_systemstack, __ATOMIC_RELAXED) != 0 ||
	    __atomic_load_n(&m->locks, __ATOMIC_RELAXED) != 0)
		return;
	pthread_mutex_lock(&m_threads_lock);
	if (m_thread_bound[m->id])
		(void)pthread_kill(m_threads[m->id], ASYNC_SIGNAL);
	pthread_mutex_unlock(&m_threads_lock);
}

/* Steps 3-4, the guard zeroed; returns the guard to restore. Not
 * instrumented: the word pushed below the red zone may lie in stale ASan
 * poison (a longjmp over a coroutine's frames leaves some). */
__attribute__((no_sanitize_address)) static uintptr_t async_preempt_consider(struct rt_m *m, ucontext_t *uc,
									      uintptr_t guard)
{
	struct rt_g *g = m->curg;
	greg_t *r = uc->uc_mcontext.gregs;
	uintptr_t rsp = (uintptr_t)r[REG_RSP], rip = (uintptr_t)r[REG_RIP], rbp = (uintptr_t)r[REG_RBP];
	if (g == NULL || m->on_systemstack || !__atomic_load_n(&g->preempt, __ATOMIC_SEQ_CST))
		return guard;
	if (!rt_async_own_context(g, rsp, guard))
		return guard;   /* in the middle of a switch: not this G's context */
	/* %rbp must be a frame pointer on this stack: the pushed frame links to it,
	 * and the copier's chain check would panic on text built without one
	 * (libgcc's helpers, crt objects). */
	bool chain_ok = (rbp & 7) == 0 && rbp >= rsp && rbp < g->stack_hi;
	if (m->locks == 0 && chain_ok && rip >= (uintptr_t)__executable_start && rip < (uintptr_t)etext &&
	    rt_port_preemptible_pc(rip) && rsp - ASYNC_PREEMPT_ROOM >= g->stack_lo) {
		uintptr_t sp = rsp - 128 - 8;
		*(uintptr_t *)sp = rt_async_resume_pc(m, rip);   /* as if the code had called rt_async_preempt_hosted past its red zone */
		r[REG_RSP] = (greg_t)sp;
		r[REG_RIP] = (greg_t)rt_async_preempt_hosted;
		return g->stackguard;   /* it yields at once: no __morestack trip on the way */
	}
	return STACK_PREEMPT;
}

/* Step 2. No split-stack check in the handler itself: %fs:0x70 is the G's guard. */
__attribute__((no_split_stack)) static void async_signal(int sig, siginfo_t *info, void *ctx)
{
	(void)sig;
	(void)info;
	int saved_errno = errno;
	struct rt_m *m = rt_tls_m;
	if (m != NULL && m->guard_slot != NULL) {
		uintptr_t guard = __atomic_exchange_n(m->guard_slot, 0, __ATOMIC_SEQ_CST);
		ucontext_t *uc = ctx;
		uintptr_t restore = async_preempt_consider(m, uc, guard);
		bool redirected = uc->uc_mcontext.gregs[REG_RIP] == (greg_t)rt_async_preempt_hosted;
		__atomic_store_n(m->guard_slot, restore, __ATOMIC_SEQ_CST);
		/* A request whose CAS met the zero set g->preempt first: poison for
		 * it now, so it is not lost until the next round. */
		struct rt_g *g = m->curg;
		uintptr_t expect = restore;
		if (!redirected && g != NULL && restore == g->stackguard &&
		    __atomic_load_n(&g->preempt, __ATOMIC_SEQ_CST))
			__atomic_compare_exchange_n(m->guard_slot, &expect, STACK_PREEMPT, false, __ATOMIC_SEQ_CST,
						    __ATOMIC_RELAXED);
	}
	errno = saved_errno;
}

static void async_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = async_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(ASYNC_SIGNAL, &sa, &async_old_action) != 0)
		rt_throw("rt_run: cannot install the preemption signal: %s", strerror(errno));
	__atomic_store_n(&async_installed, true, __ATOMIC_RELEASE);
}

static void async_uninstall(void)
{
	__atomic_store_n(&async_installed, false, __ATOMIC_RELEASE);
	(void)sigaction(ASYNC_SIGNAL, &async_old_action, NULL);
}

/*
 * Preemption monitor (Go's sysmon): every millisecond, a G that has run for a
 * time slice gets its request flag and a poisoned guard (taken at its next
 * checked call), and one still running at the next look, asked already,
 * the signal (above); a runnext left behind by a hand-off gets a thief
 * (rt/proc.c R3).
 */
static pthread_t sysmon_thread;
static volatile bool sysmon_stop;
static void *sysmon(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&sysmon_stop, __ATOMIC_ACQUIRE)) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		uint64_t now = rt_port_nanotime();
		for (int i = 0; i < rt_sched.nprocs; i++) {
			struct rt_m *m = rt_allm[i];
			if (m == NULL || m->guard_slot == NULL)
				continue;
			struct rt_g *g = __atomic_load_n(&m->curg, __ATOMIC_ACQUIRE);
			bool due = rt_preempt_due(m, now) ||
				   __atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_RELAXED);
			if (g != NULL && due && !g->preempt)
				rt_request_preempt(m, g);
			else if (g != NULL && due)
				rt_port_preempt_signal(m);   /* asked at an earlier look and still running */
			rt_handoff_check(m, now);
		}
	}
	return NULL;
}

void rt_port_preempt_start(void)
{
	async_install();
	sysmon_stop = false;
	if (pthread_create(&sysmon_thread, NULL, sysmon, NULL) != 0)
		rt_throw("rt_run: cannot start the preemption monitor");
}

void rt_port_preempt_stop(void)
{
	__atomic_store_n(&sysmon_stop, true, __ATOMIC_RELEASE);
	pthread_join(sysmon_thread, NULL);
	async_uninstall();
}

/* ---- the collector's needs ---- */

/* GNU ld and glibc define these for the executable. */
extern char __data_start[], _edata[], __bss_start[], _end[];
/* The RT_NOSCAN statics (rt/sys.h): ld bounds a section named like a C identifier. */
extern char __start_rt_noscan[] __attribute__((weak)), __stop_rt_noscan[] __attribute__((weak));

/* Adds [lo, hi) minus the RT_NOSCAN section. */
static int add_range(uintptr_t *lo, uintptr_t *hi, int n, int max, uintptr_t a, uintptr_t b)
{
	uintptr_t x = (uintptr_t)__start_rt_noscan, y = (uintptr_t)__stop_rt_noscan;
	if (x < y && x < b && y > a) {
		if (a < x && n < max) {
			lo[n] = a;
			hi[n++] = x;
		}
		a = y;
	}
	if (a < b && n < max) {
		lo[n] = a;
		hi[n++] = b;
	}
	return n;
}

int rt_port_data_ranges(uintptr_t *lo, uintptr_t *hi, int max)
{
	int n = add_range(lo, hi, 0, max, (uintptr_t)__data_start, (uintptr_t)_edata);
	return add_range(lo, hi, n, max, (uintptr_t)__bss_start, (uintptr_t)_end);
}

bool rt_port_may_stop(void) { return true; }

/*
 * Settings from the environment, before main: GOGC=N|off, GOMEMLIMIT=SIZE|off and
 * RT_GODEBUG=gctrace=1,gccheckmark=1,gcstress=N,gcstoptheworld=1 (the kernel's command-line
 * keys). A malformed value is an error, named, as the kernel's are.
 */
__attribute__((noreturn)) static void bad_setting(const char *what)
{
	fprintf(stderr, "runtime: bad setting %s\n", what);
	exit(2);
}

static uint64_t parse_u64(const char *v, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno != 0 || end == v || (*end != 0 && *end != ','))
		bad_setting(what);
	return x;
}

/* GOMEMLIMIT as Go reads it: a byte count with an optional B, KiB, MiB, GiB or TiB suffix. */
static int64_t parse_memlimit(const char *v)
{
	static const struct { const char *suffix; unsigned shift; } units[] = {
		{"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40},
	};
	const char *what = "GOMEMLIMIT (expected a byte count with an optional B, KiB, MiB, GiB or TiB suffix, or off)";
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *v == '-')
		bad_setting(what);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].suffix) == 0) {
			if (x > (unsigned long long)INT64_MAX >> units[i].shift)
				bad_setting(what);
			return (int64_t)(x << units[i].shift);
		}
	bad_setting(what);
}

/* ---- the heap profile (rt/mprof.c) ---- */

struct fd_sink {
	int fd;
	int err;   /* the first write's errno, 0 if none failed */
};

static void fd_sink_write(void *ctx, const void *buf, size_t n)
{
	struct fd_sink *s = ctx;
	const char *p = buf;
	while (n > 0 && s->err == 0) {
		ssize_t w = write(s->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->err = w < 0 ? errno : EIO;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
}

long rt_hosted_write_heap_profile(int fd)
{
	struct fd_sink s = {fd, 0};
	uint64_t n = rt_write_heap_profile(fd_sink_write, &s);
	if (s.err != 0) {
		errno = s.err;
		return -1;
	}
	return (long)n;
}

static void heap_profile_at_exit(void)
{
	const char *path = getenv("RT_HEAPPROFILE");
	if (path == NULL || *path == 0)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	long n = fd < 0 ? -1 : rt_hosted_write_heap_profile(fd);
	if (n < 0 || (fd >= 0 && close(fd) != 0))
		fprintf(stderr, "runtime: RT_HEAPPROFILE=%s: cannot write the heap profile: %s\n", path,
			strerror(errno));
	else
		fprintf(stderr, "runtime: heap profile: %ld bytes in %s (go tool pprof BINARY %s)\n", n, path, path);
}

bool rt_port_symbolize(uintptr_t pc, const char **name, uintptr_t *start)
{
	(void)pc, (void)name, (void)start;
	return false;   /* pprof symbolizes from the binary (the profile's Mapping) */
}

/* The executable mapping holding this function, from /proc/self/maps. */
void rt_port_image_text(uintptr_t *start, uintptr_t *limit, uint64_t *file_offset, const char **file)
{
	static char path[512];
	*start = *limit = 0;
	*file_offset = 0;
	*file = "";
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return;
	uintptr_t here = (uintptr_t)rt_port_image_text;
	char line[768];
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi, off;
		int pathat = 0;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %n", &lo, &hi, &off, &pathat) < 3)
			continue;
		if (here < lo || here >= hi)
			continue;
		*start = lo;
		*limit = hi;
		*file_offset = off;
		if (pathat > 0) {
			snprintf(path, sizeof(path), "%s", line + pathat);
			path[strcspn(path, "\n")] = 0;
			*file = path;
		}
		break;
	}
	fclose(f);
}

void rt_hosted_read_settings(void)
{
	const char *gogc = getenv("GOGC");
	if (gogc != NULL && *gogc != 0) {
		if (strcmp(gogc, "off") == 0) {
			rt_set_gc_percent(-1);
		} else {
			uint64_t pct = parse_u64(gogc, "GOGC (expected a percent 0..2147483647 or off)");
			if (pct > INT_MAX || strchr(gogc, ',') != NULL)
				bad_setting("GOGC (expected a percent 0..2147483647 or off)");
			rt_set_gc_percent((int)pct);
		}
	}
	const char *limit = getenv("GOMEMLIMIT");
	if (limit != NULL && *limit != 0 && strcmp(limit, "off") != 0)
		rt_set_memory_limit(parse_memlimit(limit));
	const char *dbg = getenv("RT_GODEBUG");
	for (const char *p = dbg; p != NULL && *p != 0;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n > 8 && strncmp(p, "gctrace=", 8) == 0)
			rt_gc_set_trace(parse_u64(p + 8, "RT_GODEBUG gctrace=N") != 0);
		else if (n > 12 && strncmp(p, "gccheckmark=", 12) == 0)
			rt_gc_set_checkmark(parse_u64(p + 12, "RT_GODEBUG gccheckmark=N") != 0);
		else if (n > 9 && strncmp(p, "gcstress=", 9) == 0)
			rt_gc_set_stress(parse_u64(p + 9, "RT_GODEBUG gcstress=N"));
		else if (n > 15 && strncmp(p, "gcstoptheworld=", 15) == 0)
			rt_gc_set_stoptheworld(parse_u64(p + 15, "RT_GODEBUG gcstoptheworld=N") != 0);
		else if (n > 15 && strncmp(p, "memprofilerate=", 15) == 0)
			rt_set_mem_profile_rate(parse_u64(p + 15, "RT_GODEBUG memprofilerate=N"));
		else
			bad_setting("RT_GODEBUG (known: gctrace=N, gccheckmark=N, gcstress=N, gcstoptheworld=N, "
				    "memprofilerate=N)");
		p = comma ? comma + 1 : p + n;
	}
	static bool at_exit_set;
	const char *prof = getenv("RT_HEAPPROFILE");
	if (prof != NULL && *prof != 0 && !at_exit_set) {
		at_exit_set = true;
		atexit(heap_profile_at_exit);
	}
}

__attribute__((constructor)) static void gc_settings_from_env(void) { rt_hosted_read_settings(); }
