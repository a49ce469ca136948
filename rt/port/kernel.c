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
 *               4 vCPUs on 2 host cores, and the heap lock is the hottest.
 *               At RT_DEBUG >= 1 taking one with a kernel spinlock held
 *               panics (kernel/lib/spinlock.h's order: runtime locks first)
 *   output      kprintf; rt_throw prints "fatal error: ..." and panics, so the
 *               report carries the backtrace and QEMU ends with the panic status
 *   P identity  one P per CPU: P n runs on CPU n (cpu_id(); kmain creates the
 *               Ps with rt_start_procs once the APs are up)
 *   facts       rt/port.h's region bases and sizes and its %gs/%fs offsets
 *               are asserted below against mm/layout.h and kernel/lib/percpu.h
 *   stack       the bounds of the kernel stack %rsp lies in: an AP's
 *               (mm/kstack.h) or the boot CPU's (kernel/bootstacks.h), or
 *               the running coroutine's
 *   scheduler   M n is CPU n (smp_run_on_all starts them, struct cpu's
 *               rt_m at %gs:RT_GS_M names it); an idle M halts with interrupts
 *               on and is woken by cpu_wake's IPI or the tick; time is
 *               nanotime(). The guard %fs:RT_FS_STACK_GUARD is struct cpu's
 *               stack_guard.
 *   preemption  a 1 kHz tick hook (RT_TICK_HZ) on every CPU while a world
 *               runs. A G past its time slice gets g->preempt and either an
 *               injected call to rt_async_preempt, when the interrupted code
 *               is a coroutine's own code (the linker script's user text:
 *               tests and benchmarks, never the kernel's or the runtime's),
 *               on its own stack with room, with no runtime lock and no
 *               kernel spinlock held; or else a poisoned guard in the frame,
 *               so its next checked call yields. A G stopped inside a pointer
 *               store's [test, store] range resumes at its test (rt/mbarrier.h).
 *               The same tick wakes a thief
 *               for a runnext its CPU left waiting (rt/proc.c R3; wakep's IPI
 *               is sent with interrupts off, as icr_send always does).
 */
#include "rt/port.h"

#include "rt/mbarrier.h"
#include "rt/runtime2.h"

#include "kernel/bootstacks.h"
#include "kernel/ksyms.h"
#include "kernel/sections.h"
#include "kernel/lapic.h"
#include "kernel/smp.h"
#include "kernel/lib/spinlock.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/string.h"
#include "kernel/lib/x86.h"
#include "mm/kstack.h"
#include "mm/layout.h"

/* The facts rt/port.h states about this kernel, checked against their source. */
_Static_assert(RT_HEAP_REGION_BASE == LAYOUT_RT_HEAP_BASE && RT_HEAP_REGION_SIZE == LAYOUT_RT_HEAP_SIZE,
               "rt/port.h's heap region is mm/layout.h's runtime heap");
_Static_assert(RT_STACK_REGION_BASE == LAYOUT_RT_STACK_BASE && RT_STACK_REGION_SIZE == LAYOUT_RT_STACK_SIZE,
               "rt/port.h's stack region is mm/layout.h's runtime stacks");
_Static_assert(RT_GS_CPU_ID == __builtin_offsetof(struct cpu, id), "rt_port_current_p reads struct cpu's id");
_Static_assert(RT_GS_M == CPU_RT_M, "rt_getm and amd64.S read struct cpu's rt_m");
_Static_assert(RT_FS_STACK_GUARD == CPU_STACK_GUARD, "the split-stack guard is struct cpu's stack_guard");
_Static_assert(MAX_CPUS <= RT_MAX_PROCS, "P n runs on CPU n: every CPU id is a P index");

static struct rt_lockrank_state g_lockrank[MAX_CPUS]; /* the locks each CPU holds */

void rt_lock(struct rt_lock *l)
{
    /* kernel/lib/spinlock.h's lock order: every runtime lock ranks below every
     * kernel spinlock (the runtime calls mm/ holding its locks, never the
     * reverse). spin_held_count() is 0 when SPIN_DEBUG is off. */
    if (RT_DEBUG >= 1 && unlikely(spin_held_count() != 0))
        rt_throw("rt_lock(%s) with %u kernel spinlock(s) held: runtime locks rank below every "
                 "spinlock (kernel/lib/spinlock.h)", l->name, spin_held_count());
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
    struct rt_m *m = rt_getm();
    if (m != NULL && m->curg != NULL && rsp >= m->curg->stack_lo && rsp < m->curg->stack_hi) {
        *lo = m->curg->stack_lo;
        *hi = m->curg->stack_hi;
        return;
    }
    if (kstack_bounds(rsp, lo, hi))
        return;
    if (!bootstack_find(rsp, &s, &in_guard) || in_guard) {
        *lo = *hi = 0;
        return;
    }
    *lo = s.base;
    *hi = s.top;
}

/* ---- the scheduler ---- */

#define RT_TICK_HZ 1000
#define ASYNC_PREEMPT_ROOM 512   /* bytes rt_async_preempt may push below the interrupted %rsp */

uint64_t rt_port_nanotime(void) { return nanotime(); }
int rt_port_default_procs(void) { return (int)cpu_count(); }

void rt_port_setm(struct rt_m *m)
{
    struct cpu *c = this_cpu();
    c->rt_m = m;
    if (m != NULL)
        m->guard_slot = (uintptr_t *)&c->stack_guard;
}

static int run_nms;
static void (*run_mstart)(int id);

static void run_on_cpu(void *arg)
{
    (void)arg;
    int id = (int)cpu_id();
    if (id < run_nms)
        run_mstart(id);
}

void rt_port_run_ms(int n, void (*mstart)(int id))
{
    ASSERT_MSG(n >= 1 && (unsigned)n <= cpu_count(), "rt_run: %d Ms, but %u CPUs are online", n, cpu_count());
    ASSERT_MSG(cpu_id() == 0, "rt_run from CPU %u: only the boot CPU starts the world", cpu_id());
    run_nms = n;
    run_mstart = mstart;
    smp_run_on_all(run_on_cpu, NULL);
}

void rt_port_idle(struct rt_m *m, uint64_t deadline)
{
    (void)deadline;   /* the tick ends every hlt: timers are checked each millisecond */
    assert_no_locks_held("an idle M halting");
    __asm__ volatile("cli" ::: "memory");
    if (__atomic_load_n(&m->wake, __ATOMIC_SEQ_CST) == 0)
        __asm__ volatile("sti; hlt" ::: "memory");   /* a wake IPI after the check still ends the hlt */
    else
        __asm__ volatile("sti" ::: "memory");
}

void rt_port_wake(struct rt_m *m) { cpu_wake((unsigned)m->id); }

extern char __user_text_start[], __user_text_end[];
bool rt_port_preemptible_pc(uintptr_t pc)
{
    return pc >= (uintptr_t)__user_text_start && pc < (uintptr_t)__user_text_end;
}

static void preempt_tick(struct trap_frame *f)
{
    struct rt_m *m = rt_getm();
    if (m == NULL)
        return;
    struct rt_g *g = m->curg;
    /* A stop for a collection makes every running G due now (DESIGN.md 7.2). */
    uint64_t now = nanotime();
    bool due = rt_preempt_due(m, now) || __atomic_load_n(&rt_sched.gcwaiting, __ATOMIC_RELAXED);
    rt_handoff_check(m, now);
    if (g == NULL || m->on_systemstack || !due)
        return;
    /* Only a G interrupted on its own stack; in the middle of a switch the
     * frame's guard is the system stack's and must stay 0. */
    if (!rt_async_own_context(g, f->rsp, f->stack_guard))
        return;   /* (an earlier tick may have poisoned it already: a loop without calls never consumes it) */
    g->preempt = true;
    if (m->locks == 0 && spin_held_count() == 0 && rt_port_preemptible_pc(f->rip) &&
        f->rsp - ASYNC_PREEMPT_ROOM >= g->stack_lo) {
        f->rsp -= 8;
        *(uint64_t *)f->rsp = rt_async_resume_pc(m, f->rip);   /* as if the code had called rt_async_preempt */
        f->rip = (uint64_t)rt_async_preempt;
        return;
    }
    f->stack_guard = STACK_PREEMPT;
}

void rt_port_preempt_signal(struct rt_m *m) { (void)m; }   /* the tick looks at every CPU each ms */

void rt_port_preempt_start(void)
{
    time_set_tick_hook(preempt_tick);
    time_tick_start_all(RT_TICK_HZ);
}

void rt_port_preempt_stop(void)
{
    time_tick_start_all(0);
    time_set_tick_hook(NULL);
}

/* The collector's roots in the image: .data, and .bss minus the boot stacks
 * (their guard pages are unmapped; their live frames are the world's Ms'). */
int rt_port_data_ranges(uintptr_t *lo, uintptr_t *hi, int max)
{
    if (max < 2)
        return 0;
    lo[0] = (uintptr_t)__stop_rt_noscan; /* .data starts with the RT_NOSCAN statics (rt/sys.h) */
    hi[0] = (uintptr_t)__data_end;
    lo[1] = (uintptr_t)__bss_kstacks_end;
    hi[1] = (uintptr_t)__bss_end;
    return 2;
}

/* A G holding a kernel spinlock must not stop: the collector prints (console lock). */
bool rt_port_may_stop(void) { return spin_held_count() == 0; }

void rt_port_stack_fresh(uintptr_t lo, size_t n)
{
    (void)lo;
    (void)n;
}

/* The heap profile (rt/mprof.c): names from the kernel's own symbol table. */
bool rt_port_symbolize(uintptr_t pc, const char **name, uintptr_t *start)
{
    uint64_t off;
    if (!ksym_lookup(pc, name, &off))
        return false;
    *start = pc - off;
    return true;
}

void rt_port_image_text(uintptr_t *start, uintptr_t *limit, uint64_t *file_offset, const char **file)
{
    *start = (uintptr_t)__text_start;
    *limit = (uintptr_t)__text_end;
    *file_offset = 0;
    *file = "kernel.elf";
}
