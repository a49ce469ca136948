/*
 * kernel.c - the runtime's port to our kernel: rt/port.h on kernel services.
 * (The sys_port_* half of rt/sys.h is the OS's: mm/sysmem.c.)
 *
 *   locks       test-and-test-and-set spinlocks that leave the interrupt flag
 *               alone: no interrupt handler allocates, and a CPU holding the
 *               heap lock while it waits for the paging lock (sys_used) must
 *               still answer another CPU's TLB-shootdown IPI. Unfair on
 *               purpose, like Go's runtime locks: measured here, a fair ticket
 *               hand-off to a vCPU the host has descheduled costs ~1 ms with
 *               4 vCPUs on 2 host cores, and the heap lock is the hottest
 *   output      kprintf; rt_throw prints "fatal error: ..." and panics, so the
 *               report carries the backtrace and QEMU ends with the panic status
 *   P identity  one P per CPU: P n runs on CPU n (cpu_id(); kmain creates the
 *               Ps with rt_start_procs once the APs are up)
 *   stack       the bounds of the kernel stack %rsp lies in: an AP's
 *               (mm/kstack.h) or the boot CPU's (kernel/bootstacks.h);
 *               coroutine stacks join with the scheduler
 */
#include "rt/port.h"

#include "kernel/bootstacks.h"
#include "kernel/kprintf.h"
#include "kernel/percpu.h"
#include "kernel/panic.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "mm/kstack.h"

static struct rt_lockrank_state g_lockrank[MAX_CPUS]; /* the locks each CPU holds */

void rt_lock(struct rt_lock *l)
{
    rt_lockrank_acquire(l);
    while (__atomic_load_n(&l->word, __ATOMIC_RELAXED) != 0 ||
           __atomic_exchange_n(&l->word, 1, __ATOMIC_ACQUIRE) != 0)
        cpu_relax();
}

void rt_unlock(struct rt_lock *l)
{
    rt_lockrank_release(l);
    __atomic_store_n(&l->word, 0, __ATOMIC_RELEASE);
}

struct rt_lockrank_state *rt_port_lockrank_state(void) { return &g_lockrank[cpu_id()]; }

void rt_port_vprintf(const char *fmt, va_list ap) { kvprintf(fmt, ap); }

int rt_port_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap) { return kvsnprintf(buf, n, fmt, ap); }

void rt_port_vthrow(const char *fmt, va_list ap)
{
    char msg[256];
    kvsnprintf(msg, sizeof msg, fmt, ap);
    panic("fatal error: %s", msg);
}

void rt_memclr(void *p, size_t n) { memset(p, 0, n); }
void rt_memcpy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }

void rt_port_stack_bounds(uintptr_t *lo, uintptr_t *hi)
{
    uint64_t rsp;
    struct bootstack s;
    bool in_guard;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    if (kstack_bounds(rsp, lo, hi))
        return;
    if (!bootstack_find(rsp, &s, &in_guard) || in_guard) {
        *lo = *hi = 0;
        return;
    }
    *lo = s.base;
    *hi = s.top;
}
