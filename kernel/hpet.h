/*
 * hpet.h - the HPET's main counter, read-only use: a fixed-rate clock to
 * calibrate the TSC and the local APIC timer against (kernel/time.c). No
 * HPET comparator or interrupt is used. Cites: IA-PC HPET Specification
 * 1.0a, sections 2.3 (register block) and 2.3.4-2.3.5 (capabilities,
 * configuration).
 */
#ifndef KERNEL_HPET_H
#define KERNEL_HPET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Checks the register block at physical phys (capabilities readable, a
 * revision, a period of at most 100 ns), enables the main counter if the
 * firmware left it stopped and checks that it advances. Returns 0, or -1 with
 * err naming the problem (the caller falls back to the PIT). Idempotent.
 */
int hpet_init(uint64_t phys, char *err, size_t n);
bool hpet_ready(void);

uint64_t hpet_counter(void);   /* the main counter (32 or 64 bits wide) */
uint64_t hpet_mask(void);      /* its width: deltas are (b - a) & hpet_mask() */
uint32_t hpet_period_fs(void); /* femtoseconds per tick */
uint64_t hpet_ticks_to_ns(uint64_t ticks);
uint64_t hpet_ns_to_ticks(uint64_t ns);

void hpet_report(void);

#endif
