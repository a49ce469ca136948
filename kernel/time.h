/*
 * time.h - the kernel's clock and tick: nanotime() from the calibrated TSC,
 * and a periodic local APIC timer per CPU. Design essay in kernel/time.c.
 */
#ifndef KERNEL_TIME_H
#define KERNEL_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum time_ref { TIME_REF_NONE = 0, TIME_REF_HPET, TIME_REF_PIT };

/* One calibration: rates measured against a reference clock. */
struct time_calib {
    enum time_ref ref;
    uint64_t tsc_hz;    /* TSC increments per second */
    uint64_t lapic_hz;  /* LAPIC timer decrements per second (bus clock / LAPIC_TIMER_DIVIDE) */
    uint64_t window_ns; /* length of one measuring window (by the reference) */
    unsigned windows;   /* windows measured; the median is kept */
    uint64_t spread_ppm; /* (max - min) / median of the TSC rate over the windows */
    uint64_t max_gap_ns; /* the widest bracket of a sample (see time.c step 2) */
};

/*
 * Measures the TSC and this CPU's LAPIC timer against ref (HPET: needs
 * hpet_init; PIT: channel 2, polled through port 0x61, no interrupts).
 * Uses the LAPIC timer (masked) meanwhile. Returns 0, or -1 with err.
 * time_init uses it; tests call it to compare references.
 */
int time_calibrate(enum time_ref ref, struct time_calib *out, char *err, size_t n);

/*
 * Once, on the boot CPU, after acpi_init and lapic_init_this_cpu (it calls
 * the latter if needed): picks the HPET if the ACPI table names a working
 * one, else the PIT; calibrates; installs the tick handler; starts
 * nanotime(). Panics if no reference clock works. Later calls do nothing.
 */
void time_init(void);
bool time_ready(void);

/* Nanoseconds since time_init; monotonic, and the same clock on every CPU
 * (the TSC is shared; see time.c). 0 before time_init. */
uint64_t nanotime(void);

/* Busy-waits at least ns nanoseconds (needs time_init). */
void time_delay_ns(uint64_t ns);

const struct time_calib *time_calibration(void); /* what time_init measured */

/* Starts (hz > 0) or stops (hz == 0) this CPU's periodic tick on
 * LAPIC_VEC_TIMER. Needs time_init and lapic_init_this_cpu on this CPU. The
 * tick only counts (ticks()); it arrives once interrupts are enabled. */
void lapic_timer_start(unsigned hz);

/*
 * The tick hook: called from the timer interrupt on every CPU, after the
 * tick is counted, with the interrupted frame (on the IRQ stack, IF=0,
 * %fs:0x70 = 0; f->stack_guard is the interrupted code's guard, and writing
 * it changes the guard that code resumes with: kernel/trap.h). NULL removes
 * it. One hook for all CPUs; a CPU may still run the old hook briefly after
 * it is replaced.
 */
struct trap_frame;
typedef void (*tick_hook_fn)(struct trap_frame *f);
void time_set_tick_hook(tick_hook_fn fn);

/* Starts (hz > 0) or stops (hz == 0) the periodic tick on every online CPU
 * and waits until each has done so. Boot CPU only (smp_run_on_all). */
void time_tick_start_all(unsigned hz);

/* Ticks counted on cpu since boot. */
uint64_t ticks(unsigned cpu);
unsigned lapic_timer_hz(unsigned cpu); /* its current rate (0 = stopped) */

/* Prints the calibrated TSC and LAPIC timer rates and the reference used. */
void time_report(void);

#endif
