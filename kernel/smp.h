/*
 * smp.h - every CPU the firmware lists: bring-up, and running code on them.
 * (Design essay in smp.c.)
 */
#ifndef KERNEL_SMP_H
#define KERNEL_SMP_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Starts every enabled CPU of the MADT, up to max_cpus in all (procs=N; 0 = no
 * limit), one at a time. A CPU that does not report in within the timeout is
 * reported and left out; the kernel goes on with the others. Returns the
 * number of CPUs online, the boot CPU included. Needs paging_init, acpi_init,
 * time_init and the boot CPU's LAPIC.
 */
unsigned smp_start(unsigned max_cpus);

/* Runs fn(arg) on CPU cpu (which may be the caller) and waits for it to return. */
void smp_run_on(unsigned cpu, void (*fn)(void *), void *arg);

/* Runs fn(arg) on every online CPU at once (the caller too) and waits for all. */
void smp_run_on_all(void (*fn)(void *), void *arg);

/* Stops every other CPU (panic): they halt with interrupts off. Never waits long. */
void smp_stop_others(void);

/* One line per CPU: id, APIC id, state (the tour and make run). */
void smp_report(void);

#endif
