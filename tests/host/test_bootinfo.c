/*
 * test_bootinfo.c - kernel/boot_check.c under ASan/UBSan.
 *
 * Starts from a well-formed boot_info (shaped like OVMF's hand-over: a
 * descriptor stride larger than the struct), checks it passes, then breaks
 * one field at a time and checks the message names that field. The map's
 * descriptors are mm/memmap.c's to validate (tests/host for mm).
 */
#include <stdint.h>
#include <string.h>

#include "kernel/boot_check.h"
#include "tests/host/tap.h"

#define STRIDE 48 /* OVMF's descriptor stride: larger than the 40-byte struct */
#define NDESC 4   /* descriptors in the pretend map */

static struct boot_info bi;
static char err[BOOT_CHECK_ERR_MAX];

static void make_good(void)
{
    memset(&bi, 0, sizeof(bi));
    bi.magic = BOOT_INFO_MAGIC;
    bi.version = BOOT_INFO_VERSION;
    bi.size = sizeof(bi);
    bi.mmap_phys = 0x7000000;
    bi.mmap_size = NDESC * STRIDE;
    bi.mmap_desc_size = STRIDE;
    bi.mmap_desc_version = 1;
    bi.exit_boot_tries = 1;
    bi.rsdp_phys = 0x1f77e014;
    bi.rsdp_acpi_version = 2;
    strcpy(bi.cmdline, "test=core.*");
    bi.cmdline_len = (uint32_t)strlen(bi.cmdline);
    bi.kernel_phys_base = 0x1000000;
    bi.kernel_virt_base = BOOT_KERNEL_VIRT_BASE;
    bi.kernel_size = 0x40000;
    bi.kernel_entry = BOOT_KERNEL_VIRT_BASE + 0x10;
    bi.pagetable_phys = 0x2000000;
    bi.pagetable_pages = 16;
    bi.pml4_phys = 0x2000000;
    bi.direct_map_size = 512ull << 20;
    strcpy(bi.firmware_vendor, "EDK II");
}

static int check_all(void)
{
    return boot_info_check(&bi, err, sizeof(err));
}

static void expect_fail(const char *what, const char *want)
{
    int rc = check_all();
    bool ok = rc == -1 && strstr(err, want) != NULL && strlen(err) < sizeof(err) - 1; /* not cut */
    if (!tap_check(ok, "bootinfo.reject.%s: %s", what, rc == 0 ? "(accepted)" : err))
        tap_diag("want a message containing \"%s\"", want);
    make_good();
}

int main(void)
{
    make_good();
    int rc = check_all();
    tap_check(rc == 0, "bootinfo.good_accepted%s%s", rc ? ": " : "", rc ? err : "");

    tap_check(boot_info_check(NULL, err, sizeof(err)) == -1 && strstr(err, "NULL"), "bootinfo.reject.null");

    bi.magic ^= 1;                         expect_fail("magic", "magic is 0x");
    bi.version = 2;                        expect_fail("version", "version 2");
    bi.size = sizeof(bi) - 8;              expect_fail("size", "size");
    memset(bi.cmdline, 'x', sizeof(bi.cmdline));
                                           expect_fail("cmdline_unterminated", "cmdline is not NUL-terminated");
    bi.cmdline_len = 3;                    expect_fail("cmdline_len", "cmdline_len is 3");
    memset(bi.firmware_vendor, 'v', sizeof(bi.firmware_vendor));
                                           expect_fail("firmware_vendor", "firmware_vendor");
    bi.direct_map_size = 0;                expect_fail("direct_map_zero", "direct_map_size");
    bi.direct_map_size = (512ull << 20) + 4096;
                                           expect_fail("direct_map_unaligned", "direct_map_size");
    bi.direct_map_size = 128ull << 40;     expect_fail("direct_map_huge", "direct_map_size");
    /* Issue 16: up to 64 TiB passed while the loader maps at most 512 GiB. */
    bi.direct_map_size = 1ull << 40;       expect_fail("direct_map_over_loader_max", "[16 MiB, 512 GiB]");
    bi.mmap_desc_size = 32;                expect_fail("desc_size_small", "mmap_desc_size 32");
    bi.mmap_desc_size = 44;                expect_fail("desc_size_odd", "mmap_desc_size 44");
    bi.mmap_desc_size = 8192;              expect_fail("desc_size_huge", "mmap_desc_size 8192");
    bi.mmap_desc_version = 2;              expect_fail("desc_version", "mmap_desc_version 2");
    bi.mmap_size = 0;                      expect_fail("mmap_size_zero", "mmap_size 0");
    bi.mmap_size = NDESC * STRIDE - 1;     expect_fail("mmap_size_ragged", "mmap_size");
    bi.mmap_size = 5000ull * STRIDE;       expect_fail("mmap_too_many", "at most 1024 entries");
    /* Issue 16: 4096 passed here while mm/memmap.c caps at 1024 and panics. */
    bi.mmap_size = (BOOT_MMAP_MAX_ENTRIES + 1ull) * STRIDE;
                                           expect_fail("mmap_over_memmap_cap", "at most 1024 entries");
    bi.mmap_phys = 0;                      expect_fail("mmap_null", "memory map at 0x0");
    bi.mmap_phys = (512ull << 20) - 64;    expect_fail("mmap_past_direct_map", "inside the direct map");
    bi.mmap_phys = UINT64_MAX - 7;         expect_fail("mmap_wraps", "inside the direct map");
    bi.kernel_virt_base = 0xffffffff80200000ull;
                                           expect_fail("kernel_virt_base", "kernel_virt_base");
    bi.kernel_size = 0;                    expect_fail("kernel_size_zero", "kernel image");
    bi.kernel_phys_base = 0x1000010;       expect_fail("kernel_phys_unaligned", "kernel image");
    bi.kernel_entry = BOOT_KERNEL_VIRT_BASE + 0x40000;
                                           expect_fail("kernel_entry", "kernel_entry");
    bi.pml4_phys = 0x2000800;              expect_fail("pml4_unaligned", "pml4_phys");
    bi.pml4_phys = 0x3000000;              expect_fail("pml4_outside_tables", "do not contain pml4_phys");
    bi.pagetable_pages = 0;                expect_fail("pagetables_none", "page tables");
    bi.pagetable_pages = UINT64_MAX / 2;   expect_fail("pagetables_huge", "page tables");
    bi.rsdp_acpi_version = 3;              expect_fail("rsdp_version", "rsdp_acpi_version 3");
    bi.rsdp_phys = 0;                      expect_fail("rsdp_missing_version_set", "rsdp_acpi_version 2");

    /* Issue 16: rsdp_phys was never range-checked; overlaps and phys 0 passed. */
    bi.rsdp_phys = UINT64_MAX;             expect_fail("rsdp_all_ones", "rsdp_phys 0xffffffffffffffff");
    bi.rsdp_phys = (512ull << 20) - 20;    expect_fail("rsdp_v2_past_direct_map", "rsdp_phys");
    bi.rsdp_phys = (512ull << 20) - 20;
    bi.rsdp_acpi_version = 1;
    rc = check_all();
    tap_check(rc == 0, "bootinfo.rsdp_v1_in_last_20_bytes_accepted%s%s", rc ? ": " : "", rc ? err : "");
    make_good();
    bi.kernel_phys_base = 0;               expect_fail("kernel_at_phys_0", "kernel_phys_base is 0");
    bi.pagetable_phys = bi.pml4_phys = 0x1000000 + 0x3f000;
                                           expect_fail("kernel_overlaps_page_tables", "overlaps");
    bi.mmap_phys = 0x2000000 + 15 * 4096 + 8;
                                           expect_fail("page_tables_overlap_mmap", "overlaps");
    bi.mmap_phys = 0x1000000;              expect_fail("kernel_overlaps_mmap", "the kernel image");
    bi.mmap_phys = 0x1040000;
    rc = check_all();
    tap_check(rc == 0, "bootinfo.mmap_right_after_kernel_accepted%s%s", rc ? ": " : "", rc ? err : "");
    make_good();

    bi.rsdp_phys = 0;
    bi.rsdp_acpi_version = 0;
    rc = check_all();
    tap_check(rc == 0, "bootinfo.no_rsdp_accepted%s%s", rc ? ": " : "", rc ? err : "");

    return tap_done();
}
