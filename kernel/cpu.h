/*
 * cpu.h - what the CPU is and can do, from CPUID (Intel SDM vol. 2A, CPUID;
 * AMD APM vol. 3, appendix E). Every leaf is read only if the CPU reports
 * it exists; a feature in a missing leaf is "no".
 */
#ifndef KERNEL_CPU_H
#define KERNEL_CPU_H

#include <stdbool.h>
#include <stdint.h>

struct cpu_info {
    char vendor[13];  /* "GenuineIntel", "AuthenticAMD", ... */
    char brand[49];   /* brand string, leading spaces dropped; "" if none */
    uint32_t max_leaf, max_ext_leaf;
    unsigned family, model, stepping; /* with the extended fields folded in */
    bool nx, page1g, rdtscp, fsgsbase, smep, smap, pcid, x2apic, tsc_deadline, invariant_tsc, xsave, avx;
};

/* Reads CPUID on the calling CPU into *ci. */
void cpu_identify(struct cpu_info *ci);

/* The boot CPU's info (filled by cpu_identify at boot). */
const struct cpu_info *cpu_boot(void);

/* Identifies the boot CPU and prints the report. */
void cpu_report(void);

#endif
