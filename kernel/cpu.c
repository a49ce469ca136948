/*
 * cpu.c - CPUID decoding and the boot report's CPU section.
 */
#include "kernel/cpu.h"

#include "kernel/lib/kprintf.h"
#include "kernel/lib/string.h"
#include "kernel/lib/x86.h"

static struct cpu_info boot_cpu;

static bool bit(uint32_t reg, int n) { return (reg >> n) & 1; }

void cpu_identify(struct cpu_info *ci)
{
    uint32_t a, b, c, d;
    memset(ci, 0, sizeof(*ci));

    cpuid(0, 0, &a, &b, &c, &d);
    ci->max_leaf = a;
    memcpy(ci->vendor + 0, &b, 4);
    memcpy(ci->vendor + 4, &d, 4);
    memcpy(ci->vendor + 8, &c, 4);
    ci->vendor[12] = '\0';

    if (ci->max_leaf >= 1) {
        cpuid(1, 0, &a, &b, &c, &d);
        unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
        ci->stepping = a & 0xf;
        ci->family = base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family;
        ci->model = (base_family == 0x6 || base_family == 0xf) ? (((a >> 16) & 0xf) << 4) | base_model
                                                               : base_model;
        ci->pcid = bit(c, 17);
        ci->x2apic = bit(c, 21);
        ci->tsc_deadline = bit(c, 24);
        ci->xsave = bit(c, 26);
        ci->avx = bit(c, 28);
    }
    if (ci->max_leaf >= 7) {
        cpuid(7, 0, &a, &b, &c, &d);
        ci->fsgsbase = bit(b, 0);
        ci->smep = bit(b, 7);
        ci->smap = bit(b, 20);
    }

    cpuid(0x80000000u, 0, &a, &b, &c, &d);
    ci->max_ext_leaf = a >= 0x80000000u ? a : 0;
    if (ci->max_ext_leaf >= 0x80000001u) {
        cpuid(0x80000001u, 0, &a, &b, &c, &d);
        ci->nx = bit(d, 20);
        ci->page1g = bit(d, 26);
        ci->rdtscp = bit(d, 27);
    }
    if (ci->max_ext_leaf >= 0x80000004u) {
        uint32_t regs[12];
        for (uint32_t i = 0; i < 3; i++)
            cpuid(0x80000002u + i, 0, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
        char raw[49];
        memcpy(raw, regs, 48);
        raw[48] = '\0';
        const char *p = raw;
        while (*p == ' ')
            p++;
        memcpy(ci->brand, p, strlen(p) + 1);
    }
    if (ci->max_ext_leaf >= 0x80000007u) {
        cpuid(0x80000007u, 0, &a, &b, &c, &d);
        ci->invariant_tsc = bit(d, 8);
    }
}

const struct cpu_info *cpu_boot(void) { return &boot_cpu; }

static const char *yn(bool v) { return v ? "yes" : "no"; }

void cpu_report(void)
{
    struct cpu_info *ci = &boot_cpu;
    cpu_identify(ci);
    kprintf("CPU: %s \"%s\" family 0x%x model 0x%x stepping %u (max leaf 0x%x, extended 0x%x)\n", ci->vendor,
            ci->brand[0] ? ci->brand : "(no brand string)", ci->family, ci->model, ci->stepping, ci->max_leaf,
            ci->max_ext_leaf);
    kprintf("CPU features: NX %s, 1GiB-pages %s, RDTSCP %s, FSGSBASE %s, SMEP %s, SMAP %s, PCID %s\n",
            yn(ci->nx), yn(ci->page1g), yn(ci->rdtscp), yn(ci->fsgsbase), yn(ci->smep), yn(ci->smap),
            yn(ci->pcid));
    kprintf("CPU features: x2APIC %s, TSC-deadline %s, invariant-TSC %s, XSAVE %s, AVX %s\n", yn(ci->x2apic),
            yn(ci->tsc_deadline), yn(ci->invariant_tsc), yn(ci->xsave), yn(ci->avx));
}
