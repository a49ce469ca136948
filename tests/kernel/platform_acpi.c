/*
 * platform_acpi.c - in-kernel tests of the ACPI tables as this machine's
 * firmware built them (the parsers' failure paths are host-tested in
 * tests/host/test_acpi.c), and the platform tests' shared setup.
 */
#include "boot/boot_info.h"
#include "kernel/acpi.h"
#include "kernel/ktest.h"
#include "kernel/lapic.h"
#include "kernel/lib/percpu.h"
#include "kernel/time.h"
#include "kernel/lib/x86.h"
#include "mm/memmap.h"
#include "tests/kernel/platform_test.h"

#define DIRECT_MAP_ALWAYS (4ull << 30) /* the loader maps at least 4 GiB (boot/loader.c) */

/* The RSDP in ACPI reclaimable or NVS memory, preferring revision >= 2; 0 if
 * none. UEFI does not keep the BIOS rule of 16-byte alignment (OVMF's ACPI
 * 2.0 RSDP sits at ...014, after a revision 0 copy), so step by 4. */
static uint64_t find_rsdp(void)
{
    const struct memmap *m = memmap_boot(NULL); /* parsed at boot (frame_init) */
    uint64_t found = 0;
    for (uint32_t i = 0; i < m->nentries; i++) {
        const struct memmap_entry *e = &m->entries[i];
        if (e->type != BOOT_EFI_ACPI_RECLAIM && e->type != BOOT_EFI_ACPI_NVS)
            continue;
        for (uint64_t p = e->base; p + 36 <= e->end && p + 36 <= DIRECT_MAP_ALWAYS; p += 4) {
            const uint8_t *b = (const uint8_t *)(uintptr_t)(BOOT_DIRECT_MAP_BASE + p);
            struct acpi_rsdp r;
            char err[8];
            if (b[0] == 'R' && b[1] == 'S' && acpi_rsdp_parse(b, 36, &r, err, sizeof(err)) == 0) {
                if (r.revision >= 2)
                    return p;
                if (found == 0)
                    found = p;
            }
        }
    }
    return found;
}

void platform_test_setup(void)
{
    if (!acpi_ready()) {
        char err[ACPI_ERR_MAX];
        uint64_t rsdp = find_rsdp();
        ktest_diag("kmain has not called acpi_init: RSDP found by scanning ACPI memory at 0x%llx",
                   (unsigned long long)rsdp);
        if (acpi_init_at(rsdp, DIRECT_MAP_ALWAYS, err, sizeof(err)) != 0)
            ktest_diag("acpi: %s", err);
    }
    lapic_init_this_cpu();
    time_init();
}

KTEST(platform_acpi_tables_valid, "platform.acpi.tables_valid")
{
    platform_test_setup();
    const struct acpi_tables *t = acpi_tables();
    KT_ASSERT(t->have_rsdp);
    KT_EQ(t->nerrors, 0);
    KT_GE(t->ntables, 2);
    for (unsigned i = 0; i < t->ntables; i++) {
        ktest_diag("%s at 0x%llx, %u bytes%s", t->table[i].sig, (unsigned long long)t->table[i].phys,
                   t->table[i].length, t->table[i].valid ? "" : " INVALID");
        KT_ASSERT(t->table[i].valid);
    }
    KT_ASSERT(t->have_madt);
}

KTEST(platform_acpi_madt_boot_cpu, "platform.acpi.madt_lists_boot_cpu")
{
    platform_test_setup();
    unsigned n = acpi_cpu_count(), enabled = 0;
    KT_GE(n, 1);
    for (unsigned i = 0; i < n; i++) {
        const struct acpi_cpu *c = acpi_cpu(i);
        ktest_diag("cpu uid %u apic id %u%s", c->uid, c->apic_id, c->enabled ? " enabled" : "");
        enabled += c->enabled;
    }
    const struct acpi_cpu *me = acpi_cpu_by_apic_id(lapic_id());
    KT_NE(me, NULL);
    KT_ASSERT(me->enabled);
    KT_GE(enabled, cpu_count()); /* every CPU running was listed */
    KT_EQ(acpi_cpu(n), NULL);
}

KTEST(platform_acpi_lapic_address, "platform.acpi.lapic_address_matches_msr")
{
    platform_test_setup();
    uint64_t msr = rdmsr(0x1b) & 0x000ffffffffff000ull; /* IA32_APIC_BASE */
    KT_EQ(acpi_lapic_phys(), msr);
}

static const uint8_t *map_direct(void *ctx, uint64_t phys, size_t len)
{
    (void)ctx;
    if (phys >= DIRECT_MAP_ALWAYS || len > DIRECT_MAP_ALWAYS - phys)
        return NULL;
    return (const uint8_t *)(uintptr_t)(BOOT_DIRECT_MAP_BASE + phys);
}

/* A second walk from the RSDP found by scanning gives the boot-time copy's
 * CPUs: what the loader handed over and the firmware's memory agree, and the walk is
 * deterministic. */
KTEST(platform_acpi_rewalk, "platform.acpi.rewalk_same_cpus")
{
    static struct acpi_tables again; /* a few KiB: not on the stack */
    char err[ACPI_ERR_MAX];
    platform_test_setup();
    const struct acpi_tables *t = acpi_tables();
    uint64_t rsdp = find_rsdp();
    KT_NE(rsdp, 0);
    KT_EQ(acpi_walk(rsdp, map_direct, NULL, &again, err, sizeof(err)), 0);
    KT_EQ(again.ntables, t->ntables);
    KT_EQ(again.madt.ncpus, t->madt.ncpus);
    for (unsigned i = 0; i < again.madt.ncpus; i++)
        KT_EQ(again.madt.cpu[i].apic_id, t->madt.cpu[i].apic_id);
    KT_EQ(again.hpet.phys, t->hpet.phys);
}
