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

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SYS_STRICT (RT_DEBUG >= 1)

__thread int rt_hosted_current_p;
static __thread struct rt_lockrank_state lockrank_state;
static __thread uintptr_t stack_lo, stack_hi;

void rt_hosted_set_p(int p)
{
	if (p < 0 || p >= RT_MAX_PROCS)
		rt_throw("rt_hosted_set_p(%d): P out of range [0, %d)", p, RT_MAX_PROCS);
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
	(void)r;   /* hosted: only the heap passes a hint; others go anywhere */
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
