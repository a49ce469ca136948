/*
 * time.c - calibrate the TSC and the local APIC timer, keep nanotime(), and
 * count each CPU's periodic tick.
 *
 * What: two free-running counters have unknown rates: the TSC (read in one
 * unprivileged instruction: the clock) and the LAPIC timer (the per-CPU
 * interrupt source: the tick). Under QEMU's TCG neither CPUID leaf 0x15 nor
 * an invariant-TSC bit tells their rates (DESIGN.md section 6), so both are
 * measured against a clock of known rate: the HPET main counter (period in
 * its capabilities register) or, without an HPET, the 8254 PIT's channel 2
 * at 1.193182 MHz, polled through port 0x61.
 *
 * nanotime() = (TSC - TSC at time_init) * mult >> 32, with
 * mult = 10^9 * 2^32 / tsc_hz computed once (fits 64 bits for any TSC above
 * 1 GHz / 4; the product is taken in 128 bits, so it never overflows).
 * Across CPUs this is one clock only if the TSCs agree: under TCG the TSC is
 * the host's own counter, shared by all vCPU threads, so they do; on
 * hardware it needs an invariant, synchronized TSC (checked by CPUID, and a
 * cross-CPU test belongs with the SMP bring-up). A CPU whose TSC reads
 * behind the origin gets 0, never a wrapped huge value.
 *
 * Invariants:
 *   - g_calib, g_tsc0 and g_mult are written once by time_init on the boot
 *     CPU, before any other CPU runs or any tick is enabled; read-only after.
 *   - g_ticks[c] and g_hz[c] are written only by CPU c (its own interrupt
 *     handler / lapic_timer_start); others read them with relaxed atomics.
 *   - The LAPIC timer rate is measured on the boot CPU and assumed equal on
 *     all CPUs (one bus clock feeds every APIC; QEMU uses one virtual clock).
 *   - The tick handler counts first, then calls the tick hook (if any) with
 *     the interrupted frame; the hook pointer is read once per tick
 *     (acquire), so a hook installed with release is seen whole.
 *
 * Calibration steps (time_calibrate), for each of CALIB_WINDOWS windows:
 *   1. Arm the LAPIC timer one-shot, masked, from 0xffffffff (it only
 *      counts). For the PIT, load channel 2 with 0xffff in mode 0 (counts
 *      down once; OUT2 rises if it ever reaches 0).
 *   2. Sample: reference, TSC, LAPIC count, reference again. Under TCG a
 *      vCPU is a host thread that can lose the CPU between any two reads, so
 *      a sample counts only if its two reference reads are within
 *      SAMPLE_GAP_NS; else retry (the tightest of SAMPLE_TRIES is kept). The
 *      reference value is the bracket's midpoint.
 *   3. Poll the reference until it has advanced CALIB_WINDOW_NS (the PIT's
 *      count through its latch command). The wait is bounded in TSC cycles,
 *      so a dead reference is an error, not a hang.
 *   4. Sample again; rate = counter delta / reference delta.
 *   The median window wins; the spread and the widest bracket are reported.
 *
 * Cites: IA-PC HPET Specification 1.0a (2.3.4 period, 2.3.5 enable);
 * Intel 8254 datasheet (mode 0, counter latch; 1.193182 MHz input) and the
 * PC/AT port 0x61 layout (bit 0 gate 2, bit 1 speaker, bit 5 OUT2);
 * Intel SDM vol. 3B 18.17 (time-stamp counter, invariant TSC) and vol. 3A
 * 11.5.4 (APIC timer).
 */
#include "kernel/time.h"

#include "kernel/acpi.h"
#include "kernel/cpu.h"
#include "kernel/hpet.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lapic.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "kernel/smp.h"
#include "kernel/lib/x86.h"

#define NS_PER_SEC       1000000000ull
#define CALIB_WINDOW_NS  20000000ull  /* 20 ms: long against TCG's jitter, short for boot */
#define CALIB_WINDOWS    3
#define PIT_HZ           1193182ull
#define PIT_MAX_COUNT    0xffffull    /* 54.9 ms */
#define REF_TIMEOUT_TSC  (200ull * 1000 * 1000 * 1000) /* >= 20 s at any TSC rate we run on */
#define SAMPLE_GAP_NS    20000ull     /* a sample's bracket must be this tight ... */
#define SAMPLE_TRIES     64           /* ... or the tightest of this many is used */

static struct time_calib g_calib;
static uint64_t g_tsc0, g_mult;
static bool g_ready;
static uint64_t g_ticks[MAX_CPUS];
static unsigned g_hz[MAX_CPUS];
static tick_hook_fn g_tick_hook;

static const char *ref_name(enum time_ref r)
{
    return r == TIME_REF_HPET ? "HPET" : r == TIME_REF_PIT ? "PIT" : "none";
}

/* ---- One window against each reference. ---- */

/*
 * A reference clock as a count that only grows during a window: the HPET
 * main counter, or the PIT's channel 2 counting down from 0xffff in mode 0
 * (read back through the latch command, negated).
 */
static uint64_t pit_read(void)
{
    outb(0x43, 0x80); /* latch channel 2's count */
    uint8_t lo = inb(0x42), hi = inb(0x42);
    return PIT_MAX_COUNT - ((uint64_t)hi << 8 | lo);
}

static uint64_t ref_read(enum time_ref ref) { return ref == TIME_REF_HPET ? hpet_counter() & hpet_mask() : pit_read(); }
static uint64_t ref_ns(enum time_ref ref, uint64_t t)
{
    return ref == TIME_REF_HPET ? hpet_ticks_to_ns(t) : t * NS_PER_SEC / PIT_HZ;
}
static uint64_t ref_ticks(enum time_ref ref, uint64_t ns)
{
    return ref == TIME_REF_HPET ? hpet_ns_to_ticks(ns) : ns * PIT_HZ / NS_PER_SEC;
}

/* The three counters read "at once": the TSC and LAPIC reads bracketed by
 * two reference reads, retried until the bracket is tight, so a vCPU thread
 * descheduled mid-read (TCG) cannot skew a window. */
struct sample {
    uint64_t ref, tsc, gap;
    uint32_t lapic;
};

static void sample(enum time_ref ref, struct sample *s)
{
    uint64_t tight = ref_ticks(ref, SAMPLE_GAP_NS);
    s->gap = ~0ull;
    for (unsigned i = 0; i < SAMPLE_TRIES; i++) {
        uint64_t r0 = ref_read(ref), t = rdtsc();
        uint32_t l = lapic_timer_current();
        uint64_t r1 = ref_read(ref);
        uint64_t gap = (r1 - r0) & (ref == TIME_REF_HPET ? hpet_mask() : ~0ull);
        if (gap < s->gap)
            *s = (struct sample){ r0 + gap / 2, t, gap, l };
        if (gap <= tight)
            return;
    }
}

struct window {
    uint64_t ref_ns, tsc, lapic; /* elapsed by the reference, and the two counters' deltas */
    uint64_t gap_ns;             /* the wider of the two samples' brackets */
};

#define WINDOW_OVERRAN (-2) /* the reference wrapped inside the window: measure again */
#define WINDOW_RETRIES 5

static int window(enum time_ref ref, uint64_t ns, struct window *w, char *err, size_t n)
{
    uint64_t mask = ref == TIME_REF_HPET ? hpet_mask() : ~0ull;
    uint64_t need = ref_ticks(ref, ns);
    if (ref == TIME_REF_PIT) {
        if (need + ref_ticks(ref, 5 * SAMPLE_GAP_NS) > PIT_MAX_COUNT) {
            ksnprintf(err, n, "PIT window of %llu ns does not fit channel 2's 16-bit count", (unsigned long long)ns);
            return -1;
        }
        /* Gate 2 high, speaker off; channel 2, lobyte/hibyte, mode 0, count 0xffff. */
        outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
        outb(0x43, 0xb0);
        outb(0x42, 0xff);
        outb(0x42, 0xff);
    }
    lapic_timer_oneshot_masked(0xffffffffu);
    struct sample a, b;
    sample(ref, &a);
    uint64_t t0 = rdtsc();
    while (((ref_read(ref) - a.ref) & mask) < need) {
        if (rdtsc() - t0 > REF_TIMEOUT_TSC) {
            ksnprintf(err, n, "the %s stopped advancing during calibration (at 0x%llx)", ref_name(ref),
                      (unsigned long long)ref_read(ref));
            return -1;
        }
        cpu_relax();
    }
    sample(ref, &b);
    if (ref == TIME_REF_PIT && (inb(0x61) & 0x20)) { /* OUT2 high: the count passed 0 and wrapped */
        ksnprintf(err, n, "PIT channel 2 reached terminal count inside a %llu ns window (retried %d times: "
                  "was this vCPU descheduled?)", (unsigned long long)ns, WINDOW_RETRIES);
        return WINDOW_OVERRAN;
    }
    w->ref_ns = ref_ns(ref, (b.ref - a.ref) & mask);
    w->tsc = b.tsc - a.tsc;
    w->lapic = (uint64_t)a.lapic - b.lapic;
    w->gap_ns = ref_ns(ref, a.gap > b.gap ? a.gap : b.gap);
    return 0;
}

static void sort3(uint64_t *v, unsigned k)
{
    for (unsigned i = 1; i < k; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

int time_calibrate(enum time_ref ref, struct time_calib *out, char *err, size_t n)
{
    uint64_t tsc_hz[CALIB_WINDOWS], lapic_hz[CALIB_WINDOWS], gap = 0;
    if (ref == TIME_REF_HPET && !hpet_ready()) {
        ksnprintf(err, n, "calibration against the HPET needs hpet_init");
        return -1;
    }
    if (ref != TIME_REF_HPET && ref != TIME_REF_PIT) {
        ksnprintf(err, n, "no such reference clock %d", (int)ref);
        return -1;
    }
    if (!lapic_ready_this_cpu())
        lapic_init_this_cpu();
    for (unsigned i = 0; i < CALIB_WINDOWS; i++) {
        struct window w;
        int rc, tries = 0;
        do /* a vCPU descheduled mid-window overruns it: measure that window again */
            rc = window(ref, CALIB_WINDOW_NS, &w, err, n);
        while (rc == WINDOW_OVERRAN && ++tries < WINDOW_RETRIES);
        if (rc != 0) {
            lapic_timer_stop();
            return -1;
        }
        if (w.gap_ns > gap)
            gap = w.gap_ns;
        if (w.ref_ns == 0 || w.lapic == 0 || w.tsc == 0) {
            lapic_timer_stop();
            ksnprintf(err, n, "%s window: elapsed %llu ns, TSC +%llu, LAPIC timer -%llu: a counter stood still",
                      ref_name(ref), (unsigned long long)w.ref_ns, (unsigned long long)w.tsc,
                      (unsigned long long)w.lapic);
            return -1;
        }
        tsc_hz[i] = w.tsc * NS_PER_SEC / w.ref_ns;
        lapic_hz[i] = w.lapic * NS_PER_SEC / w.ref_ns;
    }
    lapic_timer_stop();
    sort3(tsc_hz, CALIB_WINDOWS);
    sort3(lapic_hz, CALIB_WINDOWS);
    uint64_t mid = tsc_hz[CALIB_WINDOWS / 2];
    *out = (struct time_calib){
        .ref = ref,
        .tsc_hz = mid,
        .lapic_hz = lapic_hz[CALIB_WINDOWS / 2],
        .window_ns = CALIB_WINDOW_NS,
        .windows = CALIB_WINDOWS,
        .spread_ppm = (tsc_hz[CALIB_WINDOWS - 1] - tsc_hz[0]) * 1000000ull / mid,
        .max_gap_ns = gap,
    };
    return 0;
}

/* ---- The tick. ---- */

static void on_tick(struct trap_frame *f)
{
    unsigned c = cpu_id();
    __atomic_store_n(&g_ticks[c], g_ticks[c] + 1, __ATOMIC_RELAXED); /* only CPU c writes it */
    tick_hook_fn hook = __atomic_load_n(&g_tick_hook, __ATOMIC_ACQUIRE);
    if (hook != NULL)
        hook(f);
}

void time_set_tick_hook(tick_hook_fn fn) { __atomic_store_n(&g_tick_hook, fn, __ATOMIC_RELEASE); }

static void tick_start_here(void *arg) { lapic_timer_start(*(const unsigned *)arg); }

void time_tick_start_all(unsigned hz)
{
    ASSERT_MSG(g_ready, "time_tick_start_all before time_init");
    smp_run_on_all(tick_start_here, &hz);
}

uint64_t ticks(unsigned cpu) { return cpu < MAX_CPUS ? __atomic_load_n(&g_ticks[cpu], __ATOMIC_RELAXED) : 0; }
unsigned lapic_timer_hz(unsigned cpu) { return cpu < MAX_CPUS ? __atomic_load_n(&g_hz[cpu], __ATOMIC_RELAXED) : 0; }

void lapic_timer_start(unsigned hz)
{
    unsigned c = cpu_id();
    ASSERT_MSG(g_ready, "lapic_timer_start before time_init");
    ASSERT_MSG(lapic_ready_this_cpu(), "lapic_timer_start on CPU %u before lapic_init_this_cpu", c);
    if (hz == 0) {
        lapic_timer_stop();
        __atomic_store_n(&g_hz[c], 0, __ATOMIC_RELAXED);
        return;
    }
    uint64_t count = g_calib.lapic_hz / hz;
    ASSERT_MSG(count >= 1 && count <= 0xffffffffull, "a %u Hz tick needs a LAPIC count of %llu (timer at %llu Hz)",
               hz, (unsigned long long)count, (unsigned long long)g_calib.lapic_hz);
    lapic_timer_periodic((uint32_t)count, LAPIC_VEC_TIMER);
    __atomic_store_n(&g_hz[c], hz, __ATOMIC_RELAXED);
}

/* ---- The clock. ---- */

uint64_t nanotime(void)
{
    if (__builtin_expect(!g_ready, 0))
        return 0;
    int64_t d = (int64_t)(rdtsc() - g_tsc0);
    if (d < 0)
        return 0;
    return (uint64_t)(((unsigned __int128)(uint64_t)d * g_mult) >> 32);
}

void time_delay_ns(uint64_t ns)
{
    ASSERT_MSG(g_ready, "time_delay_ns before time_init");
    uint64_t end = nanotime() + ns;
    while (nanotime() < end)
        cpu_relax();
}

bool time_ready(void) { return g_ready; }
const struct time_calib *time_calibration(void) { return &g_calib; }

void time_init(void)
{
    char err[160], herr[160] = "no HPET table";
    if (g_ready)
        return;
    if (!lapic_ready_this_cpu())
        lapic_init_this_cpu();
    int rc = -1;
    uint64_t hp = acpi_ready() ? acpi_hpet_phys() : 0;
    if (hp != 0 && hpet_init(hp, herr, sizeof(herr)) == 0)
        rc = time_calibrate(TIME_REF_HPET, &g_calib, herr, sizeof(herr));
    if (rc != 0) {
        kprintf("time: HPET unusable (%s); calibrating against the PIT\n", herr);
        rc = time_calibrate(TIME_REF_PIT, &g_calib, err, sizeof(err));
        if (rc != 0)
            panic("time: no working reference clock: HPET: %s; PIT: %s", herr, err);
    }
    if (g_calib.tsc_hz < NS_PER_SEC / 4)
        panic("time: the TSC runs at %llu Hz by the %s; nanotime needs at least 250 MHz",
              (unsigned long long)g_calib.tsc_hz, ref_name(g_calib.ref));
    g_mult = (NS_PER_SEC << 32) / g_calib.tsc_hz;
    irq_set_handler(LAPIC_VEC_TIMER, on_tick);
    g_tsc0 = rdtsc();
    g_ready = true;
}

static void print_hz(const char *what, uint64_t hz)
{
    kprintf("%s %llu.%06llu MHz", what, (unsigned long long)(hz / 1000000), (unsigned long long)(hz % 1000000));
}

void time_report(void)
{
    if (!g_ready) {
        kprintf("time: not initialized\n");
        return;
    }
    const struct time_calib *c = &g_calib;
    kprintf("time: against the %s (%u windows of %llu ms, TSC spread %llu ppm, samples within %llu ns): ",
            ref_name(c->ref), c->windows, (unsigned long long)(c->window_ns / 1000000),
            (unsigned long long)c->spread_ppm, (unsigned long long)c->max_gap_ns);
    print_hz("TSC", c->tsc_hz);
    print_hz(", LAPIC timer", c->lapic_hz);
    kprintf(" (bus %llu MHz / %u)\n", (unsigned long long)(c->lapic_hz * LAPIC_TIMER_DIVIDE / 1000000),
            LAPIC_TIMER_DIVIDE);
    const struct cpu_info *ci = cpu_boot();
    kprintf("time: invariant TSC: %s%s; nanotime = TSC * %llu >> 32 ns, now %llu ns\n", ci->invariant_tsc ? "yes" : "no",
            ci->invariant_tsc ? "" : " (under TCG the TSC is the host's, shared by every vCPU)",
            (unsigned long long)g_mult, (unsigned long long)nanotime());
    if (c->ref == TIME_REF_HPET)
        hpet_report();
}
