/*
 * core_stacks.c - interrupts and exceptions never run on the interrupted
 * stack, and the -fsplit-stack guard (%fs:0x70) is saved, zeroed and
 * restored around every handler (kernel/gdt.h, kernel/trap_frame.inc).
 *
 * One probe runs on every online CPU (smp_run_on) and records what its
 * handlers saw; the tests then assert on the boot CPU, so a failed check
 * never unwinds an AP. The probe:
 *   1. checks FS base is this CPU's struct cpu, so %fs:0x70 is its guard;
 *   2. sets the guard to 0x1000 (below every kernel stack: nothing would
 *      call __morestack) and takes a self-IPI on LAPIC_VEC_TEST; the handler
 *      records its %rsp, its frame, the guard it sees and a backtrace, and
 *      then writes a new guard into its frame (second IPI); it also takes a
 *      #PF inside the IRQ handler through a catcher armed there;
 *   3. raises #UD under a catcher: where the handler's frame was;
 *   4. raises int3 with a #BP hook installed; the hook records its frame
 *      and TSS.IST5, then takes a #PF under a catcher of its own: the nested
 *      frame must lie EXC_IST_SHIFT below, and IST5 must come back.
 * A first-level handler's frame sits exactly at its IST stack's top: the
 * CPU enters an IST stack at the top (16-byte aligned), and the stub pushes
 * a whole struct trap_frame.
 */
#include "kernel/backtrace.h"
#include "kernel/bootstacks.h"
#include "kernel/crash.h"
#include "kernel/gdt.h"
#include "kernel/lib/kprintf.h"
#include "kernel/ksyms.h"
#include "kernel/ktest.h"
#include "kernel/lapic.h"
#include "kernel/lib/percpu.h"
#include "kernel/smp.h"
#include "kernel/lib/string.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/lib/x86.h"
#include "mm/kstack.h"

#define IST_STACK_SIZE 0x4000ull
_Static_assert(BOOTSTACKS_IST_SIZE == IST_STACK_SIZE && KSTACK_IST_SIZE == IST_STACK_SIZE,
               "the boot CPU's and the APs' IST stacks have one size");

#define GUARD_A 0x1000ull /* below every kernel stack: would never call __morestack */
#define GUARD_B 0x2000ull
#define IPI_WAIT_NS 200000000ull
#define FRAME_SIZE ((uint64_t)sizeof(struct trap_frame))

enum irq_mode { IRQ_RECORD, IRQ_SET_GUARD, IRQ_FAULT };

struct probe {
    bool ran, fs_base_ok, guard_mirrors;
    uint64_t irq_top, exc_top;
    /* 2: the IRQ handler */
    enum irq_mode mode;
    volatile unsigned hits;
    uint64_t irq_rsp, irq_frame, irq_interrupted_rsp, irq_guard_seen, irq_frame_guard;
    uint64_t guard_after_a, guard_after_b;
    int bt_n;
    uint64_t bt[16];
    bool irq_pf_fired;
    uint64_t irq_pf_vector, irq_pf_frame;
    bool irq_timeout;
    /* 3: #UD */
    bool ud_fired;
    uint64_t ud_frame, ud_interrupted_rsp;
    /* 4: #BP and a nested #PF */
    bool bp_ran, pf_fired;
    uint64_t bp_frame, bp_ist5, bp_guard_seen, pf_vector, pf_frame, ist5_after_pf, ist5_end, guard_after_bp;
};

static struct probe probes[MAX_CPUS];

static uint64_t rsp_now(void)
{
    uint64_t r;
    __asm__ volatile("mov %%rsp, %0" : "=r"(r));
    return r;
}

static bool in_stack(uint64_t a, uint64_t top) { return a >= top - IST_STACK_SIZE && a < top; }

static void on_probe_ipi(struct trap_frame *f)
{
    struct probe *p = &probes[cpu_id()];
    p->irq_rsp = rsp_now();
    p->irq_frame = (uint64_t)f;
    p->irq_interrupted_rsp = f->rsp;
    if (p->mode == IRQ_SET_GUARD) {
        p->irq_guard_seen = stack_guard_read();
        p->irq_frame_guard = f->stack_guard;
        f->stack_guard = GUARD_B; /* what the interrupted code must resume with */
    }
    if (p->mode == IRQ_FAULT) {
        struct trap_catch c; /* armed inside the handler: catches the handler's own fault */
        trap_catch_push(&c, false);
        if (kjmp_save(&c.resume) == 0) {
            crash_read(0);
            trap_catch_pop(&c);
        }
        p->irq_pf_fired = c.fired;
        p->irq_pf_vector = c.fault.vector;
        p->irq_pf_frame = c.fault.frame;
    }
    p->bt_n = backtrace_collect(BACKTRACE_HERE(), p->bt, 16);
    p->hits = p->hits + 1;
}

/* Sends the probe IPI to this CPU and spins (IF=1) until it was taken; the
 * handler's backtrace must reach this function through the fake frame. */
__attribute__((noipa)) static void probe_wait_ipi(struct probe *p)
{
    unsigned before = p->hits;
    uint64_t flags = irq_save();
    lapic_send_ipi(lapic_id(), LAPIC_VEC_TEST);
    uint64_t end = nanotime() + IPI_WAIT_NS;
    __asm__ volatile("sti" ::: "memory");
    while (p->hits == before && nanotime() < end)
        cpu_relax();
    cli();
    if (p->hits == before)
        p->irq_timeout = true;
    irq_restore(flags);
}

static bool on_probe_bp(struct trap_frame *f)
{
    struct probe *p = &probes[cpu_id()];
    p->bp_ran = true;
    p->bp_frame = (uint64_t)f;
    p->bp_ist5 = gdt_ist_now(cpu_id(), IST_EXC);
    p->bp_guard_seen = stack_guard_read();
    struct trap_catch c; /* a catcher of this hook: the nested #PF comes back here */
    trap_catch_push(&c, false);
    if (kjmp_save(&c.resume) == 0) {
        crash_read(0);
        trap_catch_pop(&c);
    }
    p->pf_fired = c.fired;
    p->pf_vector = c.fault.vector;
    p->pf_frame = c.fault.frame;
    p->ist5_after_pf = gdt_ist_now(cpu_id(), IST_EXC);
    return true; /* int3 is a trap: iretq continues after it */
}

static void probe_this_cpu(void *arg)
{
    (void)arg;
    unsigned me = cpu_id();
    struct probe *p = &probes[me];
    memset(p, 0, sizeof(*p));
    p->irq_top = gdt_ist_top(me, IST_IRQ);
    p->exc_top = gdt_ist_top(me, IST_EXC);

    /* 1 */
    p->fs_base_ok = rdmsr(0xc0000100u) == (uint64_t)this_cpu();
    this_cpu()->stack_guard = 0x1234;
    p->guard_mirrors = stack_guard_read() == 0x1234;
    stack_guard_write(0);
    p->guard_mirrors = p->guard_mirrors && this_cpu()->stack_guard == 0;

    /* 2 */
    stack_guard_write(GUARD_A);
    p->mode = IRQ_RECORD;
    probe_wait_ipi(p);
    p->guard_after_a = stack_guard_read();
    p->mode = IRQ_SET_GUARD;
    probe_wait_ipi(p);
    p->guard_after_b = stack_guard_read();
    stack_guard_write(0);
    p->mode = IRQ_FAULT;
    probe_wait_ipi(p);
    p->mode = IRQ_RECORD;

    /* 3 */
    struct trap_catch c;
    trap_catch_push(&c, false);
    if (kjmp_save(&c.resume) == 0) {
        crash_ud2();
        trap_catch_pop(&c);
    }
    p->ud_fired = c.fired;
    p->ud_frame = c.fault.frame;
    p->ud_interrupted_rsp = c.fault.rsp;

    /* 4 */
    stack_guard_write(GUARD_A);
    __asm__ volatile("int3" ::: "memory");
    p->guard_after_bp = stack_guard_read();
    stack_guard_write(0);
    p->ist5_end = gdt_ist_now(me, IST_EXC);
    p->ran = true;
}

/* Runs the probe on every online CPU, one at a time. */
static void probe_all(void)
{
    irq_set_handler(LAPIC_VEC_TEST, on_probe_ipi);
    trap_set_hook(VEC_BP, on_probe_bp);
    for (unsigned c = 0; c < cpu_count(); c++)
        if (cpus[c].online)
            smp_run_on(c, probe_this_cpu, NULL);
    trap_set_hook(VEC_BP, NULL);
    irq_set_handler(LAPIC_VEC_TEST, NULL);
}

/* The probe of CPU c, which must have run. */
static const struct probe *probe_of(unsigned c)
{
    const struct probe *p = &probes[c];
    if (!p->ran)
        ktest_diag("CPU %u: the probe did not run", c);
    return p;
}

KTEST(stacks_fs_base, "core.stacks.fs_base_is_this_cpu")
{
    probe_all();
    for (unsigned i = 0; i < CPU_EARLY_FS_SIZE; i++)
        KT_EQ(percpu_early_fs[i], 0);
    for (unsigned c = 0; c < cpu_count(); c++) {
        const struct probe *p = probe_of(c);
        KT_ASSERT(p->ran);
        ktest_diag("CPU %u: IRQ stack top 0x%llx, exception stack top 0x%llx", c, (unsigned long long)p->irq_top,
                   (unsigned long long)p->exc_top);
        KT_ASSERT(p->fs_base_ok);
        KT_ASSERT(p->guard_mirrors);
        KT_EQ(cpus[c].stack_guard, 0);
    }
}

KTEST(stacks_irq, "core.stacks.irq_runs_on_irq_stack")
{
    probe_all();
    for (unsigned c = 0; c < cpu_count(); c++) {
        const struct probe *p = probe_of(c);
        KT_ASSERT(p->ran);
        KT_ASSERT(!p->irq_timeout);
        KT_EQ(p->irq_frame, p->irq_top - FRAME_SIZE); /* entered at the top, every time */
        KT_ASSERT(in_stack(p->irq_rsp, p->irq_top));
        KT_LT(p->irq_rsp, p->irq_frame);
        KT_ASSERT(!in_stack(p->irq_interrupted_rsp, p->irq_top)); /* the interrupted stack is another one */
        KT_ASSERT(!in_stack(p->irq_interrupted_rsp, p->exc_top));
    }
}

KTEST(stacks_exc, "core.stacks.exception_runs_on_exception_stack")
{
    probe_all();
    for (unsigned c = 0; c < cpu_count(); c++) {
        const struct probe *p = probe_of(c);
        KT_ASSERT(p->ran);
        KT_ASSERT(p->ud_fired);
        KT_EQ(p->ud_frame, p->exc_top - FRAME_SIZE);
        KT_ASSERT(!in_stack(p->ud_interrupted_rsp, p->exc_top));
        /* A #PF inside an IRQ handler: on the exception stack, not the IRQ stack. */
        KT_ASSERT(p->irq_pf_fired);
        KT_EQ(p->irq_pf_vector, VEC_PF);
        KT_EQ(p->irq_pf_frame, p->exc_top - FRAME_SIZE);
    }
}

KTEST(stacks_nested, "core.stacks.nested_exception_lands_below")
{
    probe_all();
    for (unsigned c = 0; c < cpu_count(); c++) {
        const struct probe *p = probe_of(c);
        KT_ASSERT(p->ran);
        KT_ASSERT(p->bp_ran);
        KT_EQ(p->bp_frame, p->exc_top - FRAME_SIZE);
        KT_EQ(p->bp_ist5, p->exc_top - EXC_IST_SHIFT); /* moved down while #BP is handled */
        KT_ASSERT(p->pf_fired);
        KT_EQ(p->pf_vector, VEC_PF);
        KT_EQ(p->pf_frame, p->exc_top - EXC_IST_SHIFT - FRAME_SIZE); /* below the outer frame */
        KT_LT(p->pf_frame + FRAME_SIZE, p->bp_frame);
        KT_EQ(p->ist5_after_pf, p->exc_top - EXC_IST_SHIFT); /* the caught #PF gave its shift back */
        KT_EQ(p->ist5_end, p->exc_top);                      /* and so did #BP */
    }
    KT_EQ(trap_depth_now(), 0);
}

KTEST(stacks_guard_zeroed, "core.stacks.guard_zeroed_in_handlers_and_restored")
{
    probe_all();
    for (unsigned c = 0; c < cpu_count(); c++) {
        const struct probe *p = probe_of(c);
        KT_ASSERT(p->ran);
        KT_EQ(p->irq_guard_seen, 0);      /* the handler never sees a coroutine's guard */
        KT_EQ(p->guard_after_a, GUARD_A); /* and the interrupted code gets its own back */
        KT_EQ(p->bp_guard_seen, 0);
        KT_EQ(p->guard_after_bp, GUARD_A);
        KT_EQ(cpus[c].stack_guard, 0);
    }
}

KTEST(stacks_guard_poison, "core.stacks.handler_sets_interrupted_guard")
{
    probe_all();
    for (unsigned c = 0; c < cpu_count(); c++) {
        const struct probe *p = probe_of(c);
        KT_ASSERT(p->ran);
        KT_EQ(p->irq_frame_guard, GUARD_A); /* the frame held the interrupted guard ... */
        KT_EQ(p->guard_after_b, GUARD_B);   /* ... and the handler's write is what iretq restored */
    }
}

KTEST(stacks_backtrace, "core.stacks.backtrace_leaves_the_irq_stack")
{
    probe_all();
    for (unsigned c = 0; c < cpu_count(); c++) {
        const struct probe *p = probe_of(c);
        KT_ASSERT(p->ran);
        bool waited = false, prober = false;
        for (int i = 0; i < p->bt_n; i++) {
            const char *name;
            uint64_t off;
            if (!ksym_lookup(p->bt[i], &name, &off))
                continue;
            waited = waited || strcmp(name, "probe_wait_ipi") == 0;
            prober = prober || strcmp(name, "probe_this_cpu") == 0;
        }
        if (!waited || !prober)
            ktest_diag("CPU %u: %d frames from the IRQ handler", c, p->bt_n);
        KT_ASSERT(waited); /* the fake frame's interrupted rip */
        KT_ASSERT(prober); /* a caller on the interrupted (kernel) stack */
    }
}

KTEST(stacks_named, "core.stacks.ist_stacks_named_in_reports")
{
    char want[128], got[128];
    for (unsigned c = 0; c < cpu_count(); c++) {
        static const struct { unsigned ist; const char *name; } ists[] = {{IST_IRQ, "IRQ IST"},
                                                                         {IST_EXC, "exception IST"}};
        for (unsigned k = 0; k < 2; k++) {
            uint64_t top = gdt_ist_top(c, ists[k].ist), lo = 0, hi = 0;
            uint64_t guard = top - IST_STACK_SIZE - 4096;
            if (c == 0) {
                struct bootstack s;
                bool in_guard = false;
                KT_ASSERT(bootstack_find(guard + 8, &s, &in_guard));
                KT_ASSERT(in_guard);
                KT_STREQ(s.name, ists[k].name);
                KT_ASSERT(bootstack_find(top - 8, &s, &in_guard) && !in_guard);
                KT_EQ(s.base, top - IST_STACK_SIZE);
                KT_EQ(s.top, top);
            } else {
                ksnprintf(want, sizeof(want), "guard page below CPU %u's %s stack: stack overflow", c,
                          ists[k].name);
                KT_ASSERT(kstack_describe(guard + 8, got, sizeof(got)));
                KT_STREQ(got, want);
                KT_ASSERT(kstack_bounds(top - 8, &lo, &hi)); /* rt_port_stack_bounds inside a handler */
                KT_EQ(lo, top - IST_STACK_SIZE);
                KT_EQ(hi, top);
                KT_ASSERT(!kstack_bounds(guard + 8, &lo, &hi));
            }
        }
    }
}
