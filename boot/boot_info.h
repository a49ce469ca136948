/*
 * boot_info.h - the hand-over from the EFI loader to the kernel.
 *
 * The one header both sides compile: the loader (boot/loader.c, PE/COFF, MS ABI
 * for firmware calls) fills a struct boot_info, exits boot services and jumps to
 * the kernel's ELF entry with %rdi = the struct's address in the direct map.
 * The kernel validates magic, version and size before it reads another field
 * (kernel/boot_check.c), so a loader and kernel from different builds fail with
 * a clear message instead of misreading each other.
 *
 * Rules of the hand-over:
 *  - Every address in this struct is PHYSICAL. The kernel reaches physical
 *    address p at BOOT_DIRECT_MAP_BASE + p.
 *  - The loader's page tables map: (a) the identity map of [0, direct_map_size)
 *    so the loader survives its own CR3 switch; the kernel drops it at once;
 *    (b) the same range at BOOT_DIRECT_MAP_BASE, RW, NX, 2 MiB pages;
 *    (c) each kernel PT_LOAD segment at its link address with the permissions
 *    of its p_flags (W^X), 4 KiB pages.
 *  - Memory the kernel must keep (its image, this struct, the memory map copy,
 *    the command line, the page tables) is allocated with the OS-defined UEFI
 *    memory types below, so the memory map itself says what is whose.
 *  - Interrupts are off, EFER.NXE and CR0.WP are set, the stack is the
 *    loader's (identity mapped): the kernel switches to its own stack first.
 *  - Bumping BOOT_INFO_VERSION is required for any layout change; fields are
 *    only appended.
 */
#ifndef BOOT_BOOT_INFO_H
#define BOOT_BOOT_INFO_H

#include <stdint.h>

#define BOOT_INFO_MAGIC   0x4f464e49544f4f42ull /* "BOOTINFO" little-endian */
#define BOOT_INFO_VERSION 1u

/* Where the loader's page tables put physical address 0 (DESIGN.md section 2). */
#define BOOT_DIRECT_MAP_BASE 0xffff800000000000ull
/* The kernel is linked here; the loader checks every segment lies above it. */
#define BOOT_KERNEL_VIRT_BASE 0xffffffff80000000ull

/* OS-defined UEFI memory types (UEFI 2.x: 0x80000000..0xffffffff belong to the OS loader). */
#define BOOT_MEMTYPE_KERNEL_IMAGE 0x80000000u /* kernel.elf's PT_LOAD segments */
#define BOOT_MEMTYPE_BOOT_DATA    0x80000001u /* boot_info, map copy, cmdline, page tables */

/* UEFI memory types the kernel interprets (UEFI spec, EFI_MEMORY_TYPE). */
enum boot_efi_memtype {
    BOOT_EFI_RESERVED = 0,
    BOOT_EFI_LOADER_CODE = 1,
    BOOT_EFI_LOADER_DATA = 2,
    BOOT_EFI_BOOT_SERVICES_CODE = 3,
    BOOT_EFI_BOOT_SERVICES_DATA = 4,
    BOOT_EFI_RUNTIME_SERVICES_CODE = 5,
    BOOT_EFI_RUNTIME_SERVICES_DATA = 6,
    BOOT_EFI_CONVENTIONAL = 7,
    BOOT_EFI_UNUSABLE = 8,
    BOOT_EFI_ACPI_RECLAIM = 9,
    BOOT_EFI_ACPI_NVS = 10,
    BOOT_EFI_MMIO = 11,
    BOOT_EFI_MMIO_PORT = 12,
    BOOT_EFI_PAL_CODE = 13,
    BOOT_EFI_PERSISTENT = 14,
    BOOT_EFI_TYPE_COUNT = 15,
};

/*
 * Layout-identical to EFI_MEMORY_DESCRIPTOR (version 1). The firmware's stride
 * (mmap_desc_size) may be larger than this struct: always step by the stride.
 */
struct boot_mem_desc {
    uint32_t type;
    uint32_t pad;
    uint64_t phys_start;
    uint64_t virt_start;
    uint64_t num_pages; /* 4 KiB pages */
    uint64_t attribute;
};
_Static_assert(sizeof(struct boot_mem_desc) == 40, "EFI_MEMORY_DESCRIPTOR layout");

#define BOOT_CMDLINE_MAX 1024 /* bytes, including the terminating NUL */

/* Limits of the hand-over, written once: the loader refuses a machine beyond
 * them before ExitBootServices (RAM past the direct map; a memory map with
 * more descriptors, as far as the map it sizes with shows), kernel/boot_check.c
 * refuses a boot_info beyond them, and mm/memmap.c sizes its tables by them. */
#define BOOT_DIRECT_MAP_MAX   (512ull << 30) /* one PML4 slot of direct map (boot/loader.c) */
#define BOOT_MMAP_MAX_ENTRIES 1024           /* memory-map descriptors (mm/memmap.c's tables) */

struct boot_info {
    uint64_t magic;   /* BOOT_INFO_MAGIC */
    uint32_t version; /* BOOT_INFO_VERSION */
    uint32_t size;    /* sizeof(struct boot_info) as the loader built it */

    /* The UEFI memory map as the final GetMemoryMap returned it (before ExitBootServices). */
    uint64_t mmap_phys;
    uint64_t mmap_size;      /* bytes */
    uint64_t mmap_desc_size; /* stride between descriptors, >= sizeof(struct boot_mem_desc) */
    uint32_t mmap_desc_version;
    uint32_t exit_boot_tries; /* ExitBootServices attempts (a stale map key forces a retry) */

    /* ACPI: the RSDP found in the EFI configuration table, 0 if none. */
    uint64_t rsdp_phys;
    uint32_t rsdp_acpi_version; /* 2 if found under the ACPI 2.0 GUID, 1 for the 1.0 GUID */
    uint32_t cmdline_len;       /* bytes, without the NUL */

    /* Kernel command line (NUL-terminated, read from \cmdline.txt; empty if absent). */
    char cmdline[BOOT_CMDLINE_MAX];

    /* The kernel image as loaded. */
    uint64_t kernel_phys_base; /* physical address of the lowest PT_LOAD page */
    uint64_t kernel_virt_base; /* its link address */
    uint64_t kernel_size;      /* bytes spanned by all PT_LOAD segments, page-rounded */
    uint64_t kernel_entry;     /* e_entry */

    /* The loader's page tables and what they map (see the rules above). */
    uint64_t pml4_phys;
    uint64_t pagetable_phys; /* all page-table pages: one BOOT_DATA block */
    uint64_t pagetable_pages;
    uint64_t direct_map_size; /* bytes of physical space mapped at BOOT_DIRECT_MAP_BASE */

    /* Firmware identity, for the boot report. */
    uint32_t uefi_revision; /* e.g. 0x00020046 = 2.70 */
    uint32_t firmware_revision;
    char firmware_vendor[64]; /* ASCII, NUL-terminated, truncated */

    /* Timing: TSC at loader entry and just before the jump. */
    uint64_t tsc_loader_start;
    uint64_t tsc_loader_end;
};

/* Values written to the isa-debug-exit port (0xf4). QEMU exits with (v << 1) | 1;
 * scripts/qemu maps them to its documented statuses (DESIGN.md section 5). */
#define DEBUG_EXIT_PORT         0xf4
#define DEBUG_EXIT_SUCCESS      0x10 /* qemu status 33 -> launcher 0 */
#define DEBUG_EXIT_TESTS_FAILED 0x11 /* qemu status 35 -> launcher 1 */
#define DEBUG_EXIT_PANIC        0x12 /* qemu status 37 -> launcher 2 */
#define DEBUG_EXIT_LOADER_ERROR 0x13 /* qemu status 39 -> launcher 3 */

#endif
