/*
 * platform_lapic.c - in-kernel tests of the local APIC: a self-IPI is held
 * while interrupts are off and delivered once they are on, to the handler
 * installed for its vector, with an EOI (a second one arrives too); bad
 * requests are refused rather than sent; the wake IPI ends a hlt, on this
 * CPU and on every other. And the KRUN program
 * platform.probe, which prints what the platform layer found.
 */
#include "kernel/acpi.h"
#include "kernel/krun.h"
#include "kernel/ktest.h"
#include "kernel/lapic.h"
#include "kernel/lib/percpu.h"
#include "kernel/time.h"
#include "kernel/lib/x86.h"
#include "tests/kernel/platform_test.h"

static volatile unsigned g_hits;
static volatile uint64_t g_vector;
static volatile unsigned g_cpu;

static void on_test_ipi(struct trap_frame *f)
{
    g_vector = f->vector;
    g_cpu = cpu_id();
    g_hits = g_hits + 1;
}

static void irq_on(void) { __asm__ volatile("sti" ::: "memory"); }

/* Waits up to ns with interrupts on for g_hits to reach want; returns g_hits. */
static unsigned wait_hits(unsigned want, uint64_t ns)
{
    uint64_t end = nanotime() + ns;
    irq_on();
    while (g_hits < want && nanotime() < end)
        cpu_relax();
    cli();
    return g_hits;
}

KTEST(platform_lapic_self_ipi, "platform.lapic.self_ipi")
{
    platform_test_setup();
    uint64_t was = read_rflags() & RFLAGS_IF;
    g_hits = 0;
    irq_set_handler(LAPIC_VEC_TEST, on_test_ipi);
    cli();
    KT_EQ(lapic_send_ipi(lapic_id(), LAPIC_VEC_TEST), 0);
    for (int i = 0; i < 1000; i++)
        cpu_relax();
    unsigned held = g_hits;            /* IF = 0: must still be pending */
    unsigned first = wait_hits(1, 100000000ull);
    KT_EQ(lapic_send_ipi(lapic_id(), LAPIC_VEC_TEST), 0); /* needs the first EOI to be delivered */
    unsigned second = wait_hits(2, 100000000ull);
    irq_set_handler(LAPIC_VEC_TEST, NULL);
    if (was)
        irq_on();
    KT_EQ(held, 0);
    KT_EQ(first, 1);
    KT_EQ(second, 2);
    KT_EQ(g_vector, LAPIC_VEC_TEST);
    KT_EQ(g_cpu, cpu_id());
}

KTEST(platform_lapic_refuses, "platform.lapic.refuses_bad_ipis")
{
    platform_test_setup();
    KT_EQ(lapic_send_ipi(lapic_id(), 5), -1);     /* an exception vector */
    KT_EQ(lapic_send_ipi(0xff, LAPIC_VEC_TEST), -1); /* the xAPIC broadcast id */
    KT_EQ(lapic_send_ipi(300, LAPIC_VEC_TEST), -1);  /* x2APIC-only id */
    struct lapic_stats s;
    lapic_stats(&s);
    KT_EQ(s.icr_stuck, 0);
    KT_EQ(s.errors, 0); /* nothing illegal reached the APIC */
}

KTEST(platform_lapic_id, "platform.lapic.id_is_this_cpus")
{
    platform_test_setup();
    KT_ASSERT(lapic_ready_this_cpu());
    /* The boot CPU's id as the BSP flag of IA32_APIC_BASE says: this is CPU 0. */
    KT_EQ(cpu_id(), 0);
    KT_NE(rdmsr(0x1b) & (1ull << 8), 0);
    KT_NE(acpi_cpu_by_apic_id(lapic_id()), NULL);
}

KRUN(platform_probe, "platform.probe", "ACPI tables, the local APIC, the HPET and the calibrated clocks")
{
    platform_test_setup();
    acpi_report();
    lapic_report();
    time_report();
    struct time_calib c;
    char err[160];
    if (time_calibrate(TIME_REF_PIT, &c, err, sizeof(err)) == 0)
        kprintf("probe: against the PIT: TSC %llu Hz, LAPIC timer %llu Hz (spread %llu ppm)\n",
                (unsigned long long)c.tsc_hz, (unsigned long long)c.lapic_hz, (unsigned long long)c.spread_ppm);
    else
        kprintf("probe: PIT calibration failed: %s\n", err);
    lapic_timer_start(100);
    uint64_t t0 = nanotime(), k0 = ticks(cpu_id());
    irq_on();
    time_delay_ns(500000000ull);
    cli();
    lapic_timer_start(0);
    kprintf("probe: 100 Hz tick: %llu ticks in %llu ms\n", (unsigned long long)(ticks(cpu_id()) - k0),
            (unsigned long long)((nanotime() - t0) / 1000000));
}

/*
 * The wake IPI ends a hlt. Here: with interrupts off, send it to this CPU,
 * then `sti; hlt`: the pending IPI is taken right after sti's one-instruction
 * shadow, which ends the hlt. A 10 Hz tick is the safety net, so a lost IPI
 * fails the test (the count does not move) instead of hanging it. Then every
 * other CPU, idle in its `sti; hlt` loop, is woken from here and counts it.
 * The wait for each is generous: with 8 vCPUs on 2 host cores a vCPU thread
 * can stay descheduled for a good part of a second, and a long bound costs
 * nothing when the IPI arrives (the wait ends at once).
 */
#define WAKE_WAIT_NS 3000000000ull
KTEST(platform_lapic_wake, "platform.lapic.wake_ends_hlt")
{
    platform_test_setup();
    unsigned me = cpu_id();
    uint64_t was = read_rflags() & RFLAGS_IF;
    cli();
    lapic_timer_start(10);
    uint64_t w0 = lapic_wakes(me), t0 = ticks(me);
    cpu_wake(me);
    __asm__ volatile("sti; hlt; cli" ::: "memory");
    uint64_t w1 = lapic_wakes(me), t1 = ticks(me);
    lapic_timer_start(0);
    unsigned others = 0, woken = 0;
    for (unsigned c = 0; c < cpu_count(); c++) {
        if (c == me || !cpus[c].online)
            continue;
        others++;
        uint64_t w = lapic_wakes(c), end = nanotime() + WAKE_WAIT_NS;
        cpu_wake(c);
        while (lapic_wakes(c) == w && nanotime() < end)
            cpu_relax();
        if (lapic_wakes(c) == w + 1)
            woken++;
        else
            ktest_diag("CPU %u: %llu wake IPIs taken, expected %llu", c, (unsigned long long)lapic_wakes(c),
                       (unsigned long long)(w + 1));
    }
    if (was)
        irq_on();
    KT_EQ(w1, w0 + 1);
    KT_EQ(t1, t0); /* the hlt ended by the IPI, not the safety-net tick */
    KT_EQ(woken, others);
}
