/*
 * boot_check.c - validate the loader -> kernel hand-over (boot/boot_info.h).
 *
 * The kernel receives one pointer from a separately built program. Before it
 * reads a field it proves the struct is the one it was compiled against
 * (magic, version, size), and before it follows an address in it, that the
 * address lies inside what the loader says it mapped. A mismatch ends the
 * boot with a message naming the field, its value and what was expected:
 * Limine's rule "check the revision and every response" applied to our own
 * protocol.
 *
 * Steps:
 *   1. identity: magic, version, size (nothing else is read if they are wrong);
 *   2. strings terminated (cmdline, firmware_vendor);
 *   3. direct map size: 2 MiB multiple in [BOOT_DIRECT_MAP_MIN,
 *      BOOT_DIRECT_MAP_MAX]; the maximum is the loader's own (one PML4 slot),
 *      so a value the loader cannot have built is refused, not trusted;
 *   4. memory map geometry inside the direct map, at most
 *      BOOT_MMAP_MAX_ENTRIES descriptors: the limit memmap_parse sizes its
 *      tables by, so a map this check passes is never one mm panics on;
 *   5. kernel image (not at physical 0) and page tables inside the direct
 *      map; then the three blocks the kernel keeps - image, page tables,
 *      memory map - pairwise disjoint, since frame_init reserves each and
 *      one overlapping another means the loader's bookkeeping is wrong;
 *   6. ACPI: the version matches the RSDP's presence, and the RSDP's 20
 *      (revision 1) or 36 (revision 2) bytes lie inside the direct map,
 *      where acpi_init will read them.
 * The limits live once, in boot/boot_info.h, shared with the loader and mm.
 * The descriptors themselves are mm's to judge: mm/memmap.c validates and
 * normalizes them (memmap_parse).
 *
 * Pure logic: no kernel state and no libc, so tests/host/test_bootinfo.c
 * builds it with sanitizers and feeds it corrupted structs.
 */
#include "kernel/boot_check.h"

#include <stdbool.h>
#include <stdint.h>

#include "kernel/lib/kprintf.h"

#define PAGE_4K 4096ull
#define PAGE_2M (2ull << 20)
#define RSDP_V1_LEN 20u /* ACPI 6.5, 5.2.5.3: the revision 0 RSDP */
#define RSDP_V2_LEN 36u /* ... and the revision 2 one with the XSDT address */

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Index of the first NUL in s[0..cap), or cap if there is none. */
static size_t bounded_len(const char *s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n] != '\0')
        n++;
    return n;
}

/* [base, base+len) lies inside [0, limit), without overflow. */
static bool range_within(uint64_t base, uint64_t len, uint64_t limit)
{
    return base <= limit && len <= limit - base;
}

/* A block of physical memory the hand-over gives the kernel to keep. */
struct phys_block {
    const char *what;
    uint64_t base, len; /* checked inside the direct map before use: no overflow */
};

static bool overlap(const struct phys_block *a, const struct phys_block *b)
{
    return a->base < b->base + b->len && b->base < a->base + a->len;
}

int boot_info_check(const struct boot_info *bi, char *err, size_t errlen)
{
    typedef unsigned long long ull;

    if (bi == NULL)
        return fail(err, errlen, "boot_info: NULL pointer from the loader");
    if (bi->magic != BOOT_INFO_MAGIC)
        return fail(err, errlen, "boot_info: magic is 0x%016llx, expected 0x%016llx (\"BOOTINFO\"): "
                    "not a boot_info, or the pointer is wrong", (ull)bi->magic, (ull)BOOT_INFO_MAGIC);
    if (bi->version != BOOT_INFO_VERSION)
        return fail(err, errlen, "boot_info: version %u, this kernel understands version %u: rebuild the "
                    "loader and the kernel from one tree", bi->version, BOOT_INFO_VERSION);
    if (bi->size != sizeof(struct boot_info))
        return fail(err, errlen, "boot_info: size %u bytes, expected %zu for version %u", bi->size,
                    sizeof(struct boot_info), BOOT_INFO_VERSION);

    size_t cl = bounded_len(bi->cmdline, BOOT_CMDLINE_MAX);
    if (cl == BOOT_CMDLINE_MAX)
        return fail(err, errlen, "boot_info: cmdline is not NUL-terminated within %d bytes", BOOT_CMDLINE_MAX);
    if (cl != bi->cmdline_len)
        return fail(err, errlen, "boot_info: cmdline_len is %u but the string is %zu bytes", bi->cmdline_len, cl);
    if (bounded_len(bi->firmware_vendor, sizeof(bi->firmware_vendor)) == sizeof(bi->firmware_vendor))
        return fail(err, errlen, "boot_info: firmware_vendor is not NUL-terminated within %zu bytes",
                    sizeof(bi->firmware_vendor));

    uint64_t dm = bi->direct_map_size;
    if (dm < BOOT_DIRECT_MAP_MIN || dm > BOOT_DIRECT_MAP_MAX || dm % PAGE_2M != 0)
        return fail(err, errlen, "boot_info: direct_map_size 0x%llx, expected a multiple of 2 MiB in "
                    "[%llu MiB, %llu GiB]", (ull)dm, (ull)BOOT_DIRECT_MAP_MIN >> 20, (ull)BOOT_DIRECT_MAP_MAX >> 30);

    if (bi->mmap_desc_size < sizeof(struct boot_mem_desc) || bi->mmap_desc_size > BOOT_MMAP_MAX_DESC ||
        bi->mmap_desc_size % 8 != 0)
        return fail(err, errlen, "boot_info: mmap_desc_size %llu, expected a multiple of 8 in [%zu, %d]",
                    (ull)bi->mmap_desc_size, sizeof(struct boot_mem_desc), BOOT_MMAP_MAX_DESC);
    if (bi->mmap_desc_version != 1)
        return fail(err, errlen, "boot_info: mmap_desc_version %u, expected 1 (EFI_MEMORY_DESCRIPTOR_VERSION)",
                    bi->mmap_desc_version);
    if (bi->mmap_size == 0 || bi->mmap_size % bi->mmap_desc_size != 0 ||
        bi->mmap_size / bi->mmap_desc_size > BOOT_MMAP_MAX_ENTRIES)
        return fail(err, errlen, "boot_info: mmap_size %llu, expected a non-zero multiple of mmap_desc_size "
                    "%llu, at most %d entries", (ull)bi->mmap_size, (ull)bi->mmap_desc_size,
                    BOOT_MMAP_MAX_ENTRIES);
    if (bi->mmap_phys == 0 || bi->mmap_phys % 8 != 0 || !range_within(bi->mmap_phys, bi->mmap_size, dm))
        return fail(err, errlen, "boot_info: memory map at 0x%llx+0x%llx is not an aligned range inside the "
                    "direct map [0, 0x%llx)", (ull)bi->mmap_phys, (ull)bi->mmap_size, (ull)dm);

    if (bi->kernel_virt_base != BOOT_KERNEL_VIRT_BASE)
        return fail(err, errlen, "boot_info: kernel_virt_base 0x%llx, expected 0x%llx (the link address)",
                    (ull)bi->kernel_virt_base, (ull)BOOT_KERNEL_VIRT_BASE);
    if (bi->kernel_phys_base == 0)
        return fail(err, errlen, "boot_info: kernel_phys_base is 0: page 0 is never loaded memory (the "
                    "real-mode vector table, and a null pointer)");
    if (bi->kernel_size == 0 || bi->kernel_size % PAGE_4K != 0 || bi->kernel_phys_base % PAGE_4K != 0 ||
        !range_within(bi->kernel_phys_base, bi->kernel_size, dm))
        return fail(err, errlen, "boot_info: kernel image at phys 0x%llx size 0x%llx is not page-aligned "
                    "inside the direct map", (ull)bi->kernel_phys_base, (ull)bi->kernel_size);
    if (bi->kernel_entry < bi->kernel_virt_base || bi->kernel_entry - bi->kernel_virt_base >= bi->kernel_size)
        return fail(err, errlen, "boot_info: kernel_entry 0x%llx lies outside the image [0x%llx, +0x%llx)",
                    (ull)bi->kernel_entry, (ull)bi->kernel_virt_base, (ull)bi->kernel_size);

    if (bi->pml4_phys == 0 || bi->pml4_phys % PAGE_4K != 0 || !range_within(bi->pml4_phys, PAGE_4K, dm))
        return fail(err, errlen, "boot_info: pml4_phys 0x%llx is not a page inside the direct map",
                    (ull)bi->pml4_phys);
    if (bi->pagetable_pages == 0 || bi->pagetable_phys % PAGE_4K != 0 ||
        bi->pagetable_pages > dm / PAGE_4K ||
        !range_within(bi->pagetable_phys, bi->pagetable_pages * PAGE_4K, dm) ||
        bi->pml4_phys < bi->pagetable_phys || bi->pml4_phys - bi->pagetable_phys >= bi->pagetable_pages * PAGE_4K)
        return fail(err, errlen, "boot_info: page tables at 0x%llx (%llu pages) are not inside the direct "
                    "map, or do not contain pml4_phys 0x%llx", (ull)bi->pagetable_phys,
                    (ull)bi->pagetable_pages, (ull)bi->pml4_phys);

    const struct phys_block blocks[] = {
        { "the kernel image", bi->kernel_phys_base, bi->kernel_size },
        { "the page tables", bi->pagetable_phys, bi->pagetable_pages * PAGE_4K },
        { "the memory map", bi->mmap_phys, bi->mmap_size },
    };
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
        for (size_t j = i + 1; j < sizeof(blocks) / sizeof(blocks[0]); j++)
            if (overlap(&blocks[i], &blocks[j]))
                return fail(err, errlen, "boot_info: %s [0x%llx, +0x%llx) overlaps %s [0x%llx, +0x%llx)",
                            blocks[i].what, (ull)blocks[i].base, (ull)blocks[i].len, blocks[j].what,
                            (ull)blocks[j].base, (ull)blocks[j].len);

    if (bi->rsdp_phys == 0 ? bi->rsdp_acpi_version != 0
                           : (bi->rsdp_acpi_version != 1 && bi->rsdp_acpi_version != 2))
        return fail(err, errlen, "boot_info: rsdp_acpi_version %u with rsdp_phys 0x%llx; expected 1 or 2 "
                    "(0 when there is no RSDP)", bi->rsdp_acpi_version, (ull)bi->rsdp_phys);
    uint64_t rsdp_len = bi->rsdp_acpi_version >= 2 ? RSDP_V2_LEN : RSDP_V1_LEN;
    if (bi->rsdp_phys != 0 && !range_within(bi->rsdp_phys, rsdp_len, dm))
        return fail(err, errlen, "boot_info: rsdp_phys 0x%llx (+%llu bytes) lies outside the direct map "
                    "[0, 0x%llx)", (ull)bi->rsdp_phys, (ull)rsdp_len, (ull)dm);
    return 0;
}
