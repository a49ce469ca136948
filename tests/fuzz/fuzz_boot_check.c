/*
 * fuzz_boot_check.c - kernel/boot_check.c on arbitrary boot_info structs.
 *
 * Input: a flags byte, then the struct's bytes (zero-filled if short). Flag
 * bit 0 writes the right magic, version and size, bit 1 terminates the
 * strings and sets cmdline_len, so the fuzzer reaches the later checks.
 * Oracle: an accepted struct is re-checked field by field from boot_info.h's
 * rules, with 128-bit arithmetic so no check can wrap: every block inside the
 * direct map, the kernel not at 0, image / page tables / memory map pairwise
 * disjoint, the RSDP readable, the limits the loader and mm/memmap.c use. A
 * refusal must come with a message that fits BOOT_CHECK_ERR_MAX.
 */
#include <stdbool.h>

#include "kernel/boot_check.h"
#include "mm/memmap.h"
#include "tests/fuzz/fuzz.h"

typedef unsigned __int128 u128;

static bool inside(uint64_t base, u128 len, uint64_t limit) { return (u128)base + len <= limit; }

static bool disjoint(uint64_t a, u128 alen, uint64_t b, u128 blen)
{
    return (u128)a + alen <= b || (u128)b + blen <= a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t flags = (uint8_t)fuzz_take(&data, &size, 1);
    struct boot_info *bi = calloc(1, sizeof(*bi));
    memcpy(bi, data, size < sizeof(*bi) ? size : sizeof(*bi));
    if (flags & 1) {
        bi->magic = BOOT_INFO_MAGIC;
        bi->version = BOOT_INFO_VERSION;
        bi->size = sizeof(*bi);
    }
    if (flags & 2) {
        bi->cmdline[sizeof(bi->cmdline) - 1] = '\0';
        bi->cmdline_len = (uint32_t)strlen(bi->cmdline);
        bi->firmware_vendor[sizeof(bi->firmware_vendor) - 1] = '\0';
        bi->mmap_desc_version = 1;
    }
    char err[BOOT_CHECK_ERR_MAX];
    int rc = boot_info_check(bi, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof(err) - 1, "message empty or cut: \"%s\"", err);
        free(bi);
        return 0;
    }
    uint64_t dm = bi->direct_map_size;
    FUZZ_CHECK(bi->magic == BOOT_INFO_MAGIC && bi->version == BOOT_INFO_VERSION && bi->size == sizeof(*bi),
               "identity");
    FUZZ_CHECK(strnlen(bi->cmdline, BOOT_CMDLINE_MAX) == bi->cmdline_len, "cmdline_len");
    /* 512 GiB: what boot/loader.c can map (one PML4 slot), whatever the constants say. */
    FUZZ_CHECK(dm >= BOOT_DIRECT_MAP_MIN && dm <= (512ull << 30) && dm % (2u << 20) == 0,
               "direct_map_size 0x%llx", (unsigned long long)dm);
    FUZZ_CHECK(bi->mmap_desc_size >= 40 && bi->mmap_size % bi->mmap_desc_size == 0 &&
                   bi->mmap_size / bi->mmap_desc_size <= MEMMAP_MAX_DESCS && bi->mmap_size > 0, /* what mm holds */
               "memory map geometry");
    FUZZ_CHECK(bi->mmap_phys != 0 && inside(bi->mmap_phys, bi->mmap_size, dm), "memory map outside");
    FUZZ_CHECK(bi->kernel_phys_base != 0 && bi->kernel_phys_base % 4096 == 0 && bi->kernel_size % 4096 == 0 &&
                   bi->kernel_size != 0 && inside(bi->kernel_phys_base, bi->kernel_size, dm),
               "kernel image at 0x%llx", (unsigned long long)bi->kernel_phys_base);
    FUZZ_CHECK(bi->kernel_entry >= bi->kernel_virt_base && bi->kernel_entry - bi->kernel_virt_base < bi->kernel_size,
               "entry");
    u128 pt_len = (u128)bi->pagetable_pages * 4096;
    FUZZ_CHECK(bi->pagetable_pages != 0 && inside(bi->pagetable_phys, pt_len, dm) &&
                   bi->pml4_phys >= bi->pagetable_phys && (u128)bi->pml4_phys + 4096 <= (u128)bi->pagetable_phys + pt_len,
               "page tables");
    FUZZ_CHECK(disjoint(bi->kernel_phys_base, bi->kernel_size, bi->pagetable_phys, pt_len) &&
                   disjoint(bi->kernel_phys_base, bi->kernel_size, bi->mmap_phys, bi->mmap_size) &&
                   disjoint(bi->pagetable_phys, pt_len, bi->mmap_phys, bi->mmap_size),
               "kernel image, page tables and memory map overlap");
    if (bi->rsdp_phys != 0)
        FUZZ_CHECK((bi->rsdp_acpi_version == 1 || bi->rsdp_acpi_version == 2) &&
                       inside(bi->rsdp_phys, bi->rsdp_acpi_version == 2 ? 36 : 20, dm),
                   "rsdp_phys 0x%llx", (unsigned long long)bi->rsdp_phys);
    else
        FUZZ_CHECK(bi->rsdp_acpi_version == 0, "rsdp version without an RSDP");
    free(bi);
    return 0;
}
