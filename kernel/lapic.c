/*
 * lapic.c - the local APIC in xAPIC mode: per-CPU setup, EOI, IPIs, the
 * timer's registers, and dispatch of every interrupt vector from 32 up.
 *
 * What: each CPU has a local APIC, a block of 32-bit registers at the same
 * physical address on every CPU (each CPU sees its own). It receives the
 * CPU's interrupts (its timer, IPIs from other CPUs, LINT0/LINT1 pins, its
 * own error interrupt) and delivers them by vector; the kernel answers each
 * with an EOI. It also sends IPIs through the interrupt command register
 * (ICR): fixed vectors, NMI, and the INIT/start-up pair that wakes an AP.
 *
 * Access: MMIO through the direct map (BOOT_DIRECT_MAP_BASE + phys). The
 * direct map is write-back in the page tables; on real hardware the
 * firmware's MTRRs make 0xfec00000.. uncacheable, and UC from an MTRR wins
 * over WB from the PTE, so the accesses are uncached there. QEMU's TCG
 * ignores cache types altogether. A mapping of its own with PCD|PWT would
 * not depend on the MTRRs; that is a mm/ change for later. x2APIC (MSR
 * access) is not used: QEMU's TCG does not offer it (DESIGN.md section 6);
 * firmware that left it on is switched back to xAPIC through "disabled".
 *
 * Invariants:
 *   - g_base is chosen once, by the first lapic_init_this_cpu (the boot CPU,
 *     before any AP runs), from IA32_APIC_BASE, and never changes; every CPU
 *     checks its own MSR agrees.
 *   - The IDT gates for vectors 32..255 all point at irq_entry.S stubs, on
 *     IST_IRQ; which vector does what is g_handlers[] alone (written at
 *     init, before sti).
 *   - An ICR write pair (high, then low) is never interleaved with another
 *     on the same CPU: senders run with interrupts off around it.
 *   - Every wait on the ICR's delivery-status bit is bounded
 *     (ICR_WAIT_SPINS); a stuck ICR is reported and counted, never a hang.
 *
 * Interrupt path (irq_entry.S -> irq_dispatch):
 *   1. The CPU switches to this CPU's IRQ stack (IST_IRQ, kernel/gdt.h: its
 *      top, every time) and the stub saves the registers and the stack guard
 *      there, zeroing %fs:0x70 for the handler. The interrupted stack is
 *      never written, so it may be a coroutine's 4 KiB stack (DESIGN.md
 *      section 4).
 *   2. Nesting check: handlers run with IF=0, so none can nest; one that did
 *      (a handler that enabled interrupts) has already overwritten the outer
 *      frame at the stack's top, and is a panic naming the vectors.
 *   3. The spurious vector gets no EOI (SDM: it does not set an ISR bit).
 *   4. Every other vector: EOI first, then the handler. Sending the EOI
 *      before the handler lets a handler that never returns here (a panic
 *      stop) leave the APIC clean; interrupts stay off until iretq, so
 *      nothing nests meanwhile. A handler may not switch stacks (the next
 *      interrupt reuses the IRQ stack): the runtime preempts by poisoning
 *      f->stack_guard instead (kernel/trap.h).
 *   5. A vector with no handler is a panic naming it and the CPU.
 *
 * Locking: none. Registers are per-CPU by construction; g_handlers and the
 * IDT are written only before interrupts are enabled; the counters are
 * atomic.
 *
 * Cites: Intel SDM vol. 3A, chapter 11 "Advanced Programmable Interrupt
 * Controller (APIC)" (chapter 10 in editions before 2023): 11.4.1 (the APIC
 * base MSR and global enable), 11.4.6 (local APIC id), 11.5.1 (LVT), 11.5.3
 * (error handling, ESR), 11.5.4 (the timer and its divide register), 11.6.1
 * (ICR: delivery modes, status, shorthands), 11.8.5 (EOI), 11.9 (spurious
 * interrupt), 11.12 (x2APIC mode transitions); MP bring-up in 9.4 (INIT-SIPI).
 */
#include "kernel/lapic.h"

#include "boot/boot_info.h"
#include "kernel/acpi.h"
#include "kernel/gdt.h"
#include "kernel/idt.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/x86.h"

/* Register offsets (SDM table 11-1). */
enum {
    LAPIC_ID = 0x020, LAPIC_VERSION = 0x030, LAPIC_TPR = 0x080, LAPIC_EOI = 0x0b0, LAPIC_SVR = 0x0f0,
    LAPIC_ESR = 0x280, LAPIC_LVT_CMCI = 0x2f0, LAPIC_ICR_LO = 0x300, LAPIC_ICR_HI = 0x310,
    LAPIC_LVT_TIMER = 0x320, LAPIC_LVT_THERMAL = 0x330, LAPIC_LVT_PERF = 0x340, LAPIC_LVT_LINT0 = 0x350,
    LAPIC_LVT_LINT1 = 0x360, LAPIC_LVT_ERROR = 0x370, LAPIC_TIMER_INIT = 0x380, LAPIC_TIMER_CUR = 0x390,
    LAPIC_TIMER_DIV = 0x3e0,
};

#define SVR_ENABLE        (1u << 8)
#define LVT_MASKED        (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define LVT_DM_NMI        (4u << 8)
#define LVT_ACTIVE_LOW    (1u << 13)
#define ICR_DM_FIXED      (0u << 8)
#define ICR_DM_NMI        (4u << 8)
#define ICR_DM_INIT       (5u << 8)
#define ICR_DM_STARTUP    (6u << 8)
#define ICR_PENDING       (1u << 12) /* delivery status: send pending */
#define ICR_ASSERT        (1u << 14)
#define ICR_ALL_BUT_SELF  (3u << 18)
#define TIMER_DIV_16      0x3u       /* divide configuration register encoding of /16 */
_Static_assert(LAPIC_TIMER_DIVIDE == 16, "TIMER_DIV_16 encodes the divider lapic.h promises");

#define MSR_APIC_BASE     0x1bu
#define APIC_BASE_BSP     (1ull << 8)
#define APIC_BASE_EXTD    (1ull << 10) /* x2APIC mode */
#define APIC_BASE_EN      (1ull << 11)
#define APIC_BASE_ADDR    0x000ffffffffff000ull

#define ICR_WAIT_SPINS    (1u << 20)   /* ~ms under TCG and on hardware; a healthy ICR clears in < 1 us */
#define IRQ_STUB_SIZE     16           /* irq_entry.S */

extern const char irq_stubs[], irq_stubs_end[]; /* irq_entry.S: 224 stubs for vectors 32..255 */
void irq_dispatch(struct trap_frame *f); /* called from irq_entry.S */

static volatile uint8_t *g_base = (volatile uint8_t *)(uintptr_t)(BOOT_DIRECT_MAP_BASE + ACPI_LAPIC_DEFAULT);
static uint64_t g_base_phys = ACPI_LAPIC_DEFAULT;
static bool g_global_done;
static bool g_cpu_ready[MAX_CPUS];
static irq_handler_fn g_handlers[256];
static struct lapic_stats g_stats; /* updated with atomics */
static volatile unsigned g_irq_depth[MAX_CPUS];   /* IRQ handlers running on each CPU (0 or 1) */
static volatile uint64_t g_irq_vector[MAX_CPUS];  /* the vector being handled, for the nesting panic */
static uint64_t g_wakes[MAX_CPUS];                /* written by CPU c only */

static inline uint32_t rd(unsigned reg) { return *(volatile uint32_t *)(g_base + reg); }
static inline void wr(unsigned reg, uint32_t v) { *(volatile uint32_t *)(g_base + reg) = v; }

uint32_t lapic_id(void) { return rd(LAPIC_ID) >> 24; }
void lapic_eoi(void) { wr(LAPIC_EOI, 0); }
bool lapic_ready_this_cpu(void) { return g_cpu_ready[cpu_id()]; }

/* ---- Interrupt dispatch. ---- */

static void on_spurious(void) { __atomic_add_fetch(&g_stats.spurious, 1, __ATOMIC_RELAXED); }

static void on_error(struct trap_frame *f)
{
    (void)f;
    wr(LAPIC_ESR, 0); /* a write latches the current errors into ESR (SDM 11.5.3) */
    uint32_t esr = rd(LAPIC_ESR);
    __atomic_add_fetch(&g_stats.errors, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&g_stats.last_esr, esr, __ATOMIC_RELAXED);
    kprintf("lapic: APIC error on CPU %u (APIC id %u): ESR 0x%x%s%s%s%s\n", cpu_id(), lapic_id(), esr,
            (esr & 0x20) ? " send-illegal-vector" : "", (esr & 0x40) ? " received-illegal-vector" : "",
            (esr & 0x80) ? " illegal-register" : "", (esr & 0x04) ? " send-accept" : "");
}

static void on_wake(struct trap_frame *f)
{
    (void)f; /* the interrupt itself ended the hlt */
    unsigned c = cpu_id();
    __atomic_store_n(&g_wakes[c], g_wakes[c] + 1, __ATOMIC_RELAXED);
}

unsigned irq_depth(void) { return g_irq_depth[cpu_id()]; }

void irq_dispatch(struct trap_frame *f)
{
    unsigned v = (unsigned)f->vector, c = cpu_id();
    if (g_irq_depth[c] != 0) /* 2 */
        panic("interrupt 0x%x nested inside the handler of 0x%x on CPU %u (a handler enabled interrupts; the "
              "IRQ stack's outer frame is lost)", v, (unsigned)g_irq_vector[c], c);
    if (v == LAPIC_VEC_SPURIOUS) { /* 3: no EOI */
        on_spurious();
        return;
    }
    g_irq_depth[c] = 1;
    g_irq_vector[c] = v;
    lapic_eoi(); /* 4 */
    irq_handler_fn fn = __atomic_load_n(&g_handlers[v], __ATOMIC_ACQUIRE);
    if (fn == NULL) /* 5 */
        panic("unexpected interrupt: vector 0x%x on CPU %u has no handler (interrupted rip 0x%lx)", v, c,
              (unsigned long)f->rip);
    fn(f);
    g_irq_depth[c] = 0;
}

void irq_set_handler(uint8_t vector, irq_handler_fn fn)
{
    ASSERT_MSG(vector >= 32 && vector != LAPIC_VEC_SPURIOUS, "vector 0x%x is not an interrupt vector we dispatch",
               vector);
    __atomic_store_n(&g_handlers[vector], fn, __ATOMIC_RELEASE);
}

/* ---- Per-CPU init. ---- */

/* The first call: stubs, legacy PICs, the MMIO base. */
static void lapic_global_init(void)
{
    ASSERT_MSG(irq_stubs_end - irq_stubs == 224 * IRQ_STUB_SIZE, "irq_entry.S: stubs span %ld bytes",
               (long)(irq_stubs_end - irq_stubs));
    for (unsigned v = 32; v < 256; v++)
        idt_set_gate(v, (uint64_t)(uintptr_t)(irq_stubs + (v - 32) * IRQ_STUB_SIZE), IST_IRQ);
    g_handlers[LAPIC_VEC_ERROR] = on_error;
    g_handlers[LAPIC_VEC_WAKE] = on_wake;

    /* The 8259s: masked at the chips as well as at LINT0, so a firmware-armed
     * PIT tick can never arrive as a stray vector. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    uint64_t msr = rdmsr(MSR_APIC_BASE);
    uint64_t phys = msr & APIC_BASE_ADDR;
    uint64_t acpi = acpi_ready() ? acpi_lapic_phys() : 0;
    if (acpi != 0 && acpi != phys)
        kprintf("lapic: warning: the MADT says the local APIC is at 0x%llx, IA32_APIC_BASE says 0x%llx; "
                "using the MSR\n", (unsigned long long)acpi, (unsigned long long)phys);
    if (phys + 0x1000 > 0x100000000ull)
        panic("lapic: the local APIC at 0x%llx is above 4 GiB, outside the direct map this kernel relies on",
              (unsigned long long)phys);
    g_base_phys = phys;
    g_base = (volatile uint8_t *)(uintptr_t)(BOOT_DIRECT_MAP_BASE + phys);
    g_global_done = true;
}

/* Makes sure this CPU's APIC is globally enabled, in xAPIC mode, at g_base_phys. */
static void lapic_enable_msr(void)
{
    uint64_t msr = rdmsr(MSR_APIC_BASE);
    if (msr & APIC_BASE_EXTD) {
        /* x2APIC -> xAPIC is only allowed through "disabled" (SDM 11.12.5). */
        kprintf("lapic: CPU %u: firmware left x2APIC mode on; switching to xAPIC\n", cpu_id());
        wrmsr(MSR_APIC_BASE, msr & ~(APIC_BASE_EXTD | APIC_BASE_EN));
        msr &= ~(APIC_BASE_EXTD | APIC_BASE_EN);
    }
    if (!(msr & APIC_BASE_EN)) {
        msr |= APIC_BASE_EN;
        wrmsr(MSR_APIC_BASE, msr);
    }
    if ((msr & APIC_BASE_ADDR) != g_base_phys)
        panic("lapic: CPU %u has its local APIC at 0x%llx, the boot CPU at 0x%llx", cpu_id(),
              (unsigned long long)(msr & APIC_BASE_ADDR), (unsigned long long)g_base_phys);
}

/* LINT0/LINT1 of this CPU: NMI where the MADT says so, masked otherwise. */
static void lapic_setup_lint(void)
{
    uint32_t lint[2] = { LVT_MASKED, LVT_MASKED };
    const struct acpi_cpu *me = acpi_ready() ? acpi_cpu_by_apic_id(lapic_id()) : NULL;
    const struct acpi_madt *m = acpi_ready() && acpi_tables()->have_madt ? &acpi_tables()->madt : NULL;
    for (unsigned i = 0; m != NULL && i < m->nnmis; i++) {
        const struct acpi_lapic_nmi *n = &m->nmi[i];
        if (n->lint > 1 || (n->uid != ACPI_UID_ALL && (me == NULL || me->uid != n->uid)))
            continue;
        /* NMI is always edge-triggered; polarity 3 = active low (MPS INTI flags). */
        lint[n->lint] = LVT_DM_NMI | ((n->flags & 3) == 3 ? LVT_ACTIVE_LOW : 0);
    }
    if (m == NULL) /* no MADT: the PC convention, LINT1 = NMI */
        lint[1] = LVT_DM_NMI;
    wr(LAPIC_LVT_LINT0, lint[0]);
    wr(LAPIC_LVT_LINT1, lint[1]);
}

void lapic_init_this_cpu(void)
{
    unsigned me = cpu_id();
    ASSERT_MSG(me < MAX_CPUS, "cpu_id %u", me);
    if (g_cpu_ready[me])
        return;
    if (!g_global_done) {
        ASSERT_MSG(me == 0, "the boot CPU initializes its local APIC first (this is CPU %u)", me);
        lapic_global_init();
    }
    lapic_enable_msr();

    unsigned max_lvt = (rd(LAPIC_VERSION) >> 16) & 0xff;
    wr(LAPIC_TPR, 0);                                     /* accept every priority class */
    wr(LAPIC_SVR, SVR_ENABLE | LAPIC_VEC_SPURIOUS);       /* software enable */
    wr(LAPIC_LVT_TIMER, LVT_MASKED | LAPIC_VEC_TIMER);
    wr(LAPIC_TIMER_INIT, 0);
    if (max_lvt >= 4)
        wr(LAPIC_LVT_PERF, LVT_MASKED);
    if (max_lvt >= 5)
        wr(LAPIC_LVT_THERMAL, LVT_MASKED);
    if (max_lvt >= 6)
        wr(LAPIC_LVT_CMCI, LVT_MASKED);
    lapic_setup_lint();
    wr(LAPIC_LVT_ERROR, LAPIC_VEC_ERROR);
    wr(LAPIC_ESR, 0); /* clear errors left by firmware (write, then write again) */
    wr(LAPIC_ESR, 0);
    lapic_eoi();      /* retire anything the firmware left in service */
    g_cpu_ready[me] = true;
}

/* ---- IPIs. ---- */

static bool icr_idle(void)
{
    for (unsigned i = 0; i < ICR_WAIT_SPINS; i++) {
        if (!(rd(LAPIC_ICR_LO) & ICR_PENDING))
            return true;
        cpu_relax();
    }
    return false;
}

static int icr_send(uint32_t dest, uint32_t lo, const char *what)
{
    if (dest > 0xfe && (lo & ICR_ALL_BUT_SELF) == 0) {
        kprintf("lapic: cannot send %s to APIC id %u: xAPIC physical destinations are 0..254\n", what, dest);
        return -1;
    }
    uint64_t flags = read_rflags();
    cli();
    bool ok = icr_idle();
    if (ok) {
        wr(LAPIC_ICR_HI, dest << 24);
        wr(LAPIC_ICR_LO, lo); /* this write sends */
        ok = icr_idle();
    }
    if (flags & RFLAGS_IF)
        __asm__ volatile("sti" ::: "memory");
    if (!ok) {
        __atomic_add_fetch(&g_stats.icr_stuck, 1, __ATOMIC_RELAXED);
        kprintf("lapic: ICR stuck (delivery status pending after %u polls) sending %s to APIC id %u from CPU %u\n",
                ICR_WAIT_SPINS, what, dest, cpu_id());
        return -1;
    }
    return 0;
}

/* Vectors 0..31 are exceptions; the APIC refuses 0..15 with an error interrupt. */
static bool ipi_vector_ok(uint8_t vector)
{
    if (vector >= 32)
        return true;
    kprintf("lapic: refusing to send an IPI with vector %u (vectors below 32 are exceptions)\n", vector);
    return false;
}

int lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
    if (!ipi_vector_ok(vector))
        return -1;
    return icr_send(apic_id, ICR_DM_FIXED | ICR_ASSERT | vector, "an IPI");
}

int lapic_send_ipi_all_but_self(uint8_t vector)
{
    if (!ipi_vector_ok(vector))
        return -1;
    return icr_send(0, ICR_ALL_BUT_SELF | ICR_DM_FIXED | ICR_ASSERT | vector, "a broadcast IPI");
}

int lapic_send_nmi(uint32_t apic_id) { return icr_send(apic_id, ICR_DM_NMI | ICR_ASSERT, "an NMI"); }

int lapic_send_init(uint32_t apic_id) { return icr_send(apic_id, ICR_DM_INIT | ICR_ASSERT, "INIT"); }

int lapic_send_sipi(uint32_t apic_id, uint8_t page)
{
    return icr_send(apic_id, ICR_DM_STARTUP | ICR_ASSERT | page, "a start-up IPI");
}

/* ---- Wake-up. ---- */

void cpu_wake(unsigned cpu)
{
    ASSERT_MSG(cpu < cpu_count() && cpus[cpu].online, "cpu_wake(%u): not an online CPU (%u up)", cpu, cpu_count());
    lapic_send_ipi(cpus[cpu].apic_id, LAPIC_VEC_WAKE);
}

uint64_t lapic_wakes(unsigned cpu) { return cpu < MAX_CPUS ? __atomic_load_n(&g_wakes[cpu], __ATOMIC_RELAXED) : 0; }

/* ---- Timer. ---- */

void lapic_timer_periodic(uint32_t initial_count, uint8_t vector)
{
    wr(LAPIC_TIMER_DIV, TIMER_DIV_16);
    wr(LAPIC_LVT_TIMER, LVT_TIMER_PERIODIC | vector);
    wr(LAPIC_TIMER_INIT, initial_count); /* starts counting */
}

void lapic_timer_oneshot_masked(uint32_t initial_count)
{
    wr(LAPIC_TIMER_DIV, TIMER_DIV_16);
    wr(LAPIC_LVT_TIMER, LVT_MASKED | LAPIC_VEC_TIMER);
    wr(LAPIC_TIMER_INIT, initial_count);
}

uint32_t lapic_timer_current(void) { return rd(LAPIC_TIMER_CUR); }

void lapic_timer_stop(void)
{
    wr(LAPIC_LVT_TIMER, LVT_MASKED | LAPIC_VEC_TIMER);
    wr(LAPIC_TIMER_INIT, 0);
}

/* ---- Reports. ---- */

void lapic_stats(struct lapic_stats *out)
{
    out->spurious = __atomic_load_n(&g_stats.spurious, __ATOMIC_RELAXED);
    out->errors = __atomic_load_n(&g_stats.errors, __ATOMIC_RELAXED);
    out->icr_stuck = __atomic_load_n(&g_stats.icr_stuck, __ATOMIC_RELAXED);
    out->last_esr = __atomic_load_n(&g_stats.last_esr, __ATOMIC_RELAXED);
}

void lapic_report(void)
{
    uint32_t ver = rd(LAPIC_VERSION);
    kprintf("lapic: xAPIC at phys 0x%llx (%s), CPU %u has APIC id %u, version 0x%x, %u LVT entries%s\n",
            (unsigned long long)g_base_phys, (rdmsr(MSR_APIC_BASE) & APIC_BASE_BSP) ? "BSP" : "AP", cpu_id(),
            lapic_id(), ver & 0xff, ((ver >> 16) & 0xff) + 1, g_cpu_ready[cpu_id()] ? "" : " (not initialized)");
    kprintf("lapic: vectors: timer 0x%x, call 0x%x, TLB 0x%x, stop 0x%x, wake 0x%x, test 0x%x, error 0x%x, "
            "spurious 0x%x\n", LAPIC_VEC_TIMER, LAPIC_VEC_CALL, LAPIC_VEC_TLB, LAPIC_VEC_STOP, LAPIC_VEC_WAKE,
            LAPIC_VEC_TEST, LAPIC_VEC_ERROR, LAPIC_VEC_SPURIOUS);
    struct lapic_stats s;
    lapic_stats(&s);
    kprintf("lapic: %llu spurious, %llu errors (last ESR 0x%x), %llu stuck ICRs\n", (unsigned long long)s.spurious,
            (unsigned long long)s.errors, s.last_esr, (unsigned long long)s.icr_stuck);
}
