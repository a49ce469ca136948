/*
 * layout.h - the kernel's virtual address space: the one table of regions.
 *
 * x86-64 with 4-level paging gives 48-bit addresses: a low half
 * [0, 0x0000_8000_0000_0000) and a high half [0xffff_8000_0000_0000, 2^64),
 * 256 PML4 slots of 512 GiB each. The kernel runs entirely in the high half;
 * the low half stays unmapped so that NULL and small-integer pointers fault.
 *
 *   region            base                    size     PML4 slots  owner
 *   direct map        0xffff_8000_0000_0000   64 TiB   256..383    OS: all RAM, phys p at base+p
 *   runtime heap      0xffff_c000_0000_0000   16 TiB   384..415    runtime via sys_* (arenas)
 *   runtime stacks    0xffff_d000_0000_0000   16 TiB   416..447    runtime via sys_* (coroutine stacks)
 *   runtime metadata  0xffff_e000_0000_0000   16 TiB   448..479    runtime via sys_* (spans, bitmaps)
 *   kernel mappings   0xffff_fe80_0000_0000   512 GiB  509         OS: vm_map'd pages (tests, devices)
 *   kernel stacks     0xffff_ff00_0000_0000   512 GiB  510         OS: per-CPU stacks, guard page below each
 *   kernel image      0xffff_ffff_8000_0000   2 GiB    511         OS: text RX, rodata R, data+bss RW
 *
 * Every other address faults, and the fault report names the region (or "no
 * region") of the address (kernel/trap.c with layout_describe). Regions are PML4-slot aligned so that no page-table
 * page is shared between two owners. The table is printed at boot with live
 * numbers (mm/paging.c: layout_report).
 */
#ifndef MM_LAYOUT_H
#define MM_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAYOUT_DIRECT_MAP_BASE 0xffff800000000000ull
#define LAYOUT_DIRECT_MAP_SIZE (64ull << 40)
#define LAYOUT_RT_HEAP_BASE    0xffffc00000000000ull
#define LAYOUT_RT_HEAP_SIZE    (16ull << 40)
#define LAYOUT_RT_STACK_BASE   0xffffd00000000000ull
#define LAYOUT_RT_STACK_SIZE   (16ull << 40)
#define LAYOUT_RT_META_BASE    0xffffe00000000000ull
#define LAYOUT_RT_META_SIZE    (16ull << 40)
#define LAYOUT_KVMAP_BASE      0xfffffe8000000000ull
#define LAYOUT_KVMAP_SIZE      (512ull << 30)
#define LAYOUT_KSTACK_BASE     0xffffff0000000000ull
#define LAYOUT_KSTACK_SIZE     (512ull << 30)
#define LAYOUT_KERNEL_BASE     0xffffffff80000000ull
#define LAYOUT_KERNEL_SIZE     (2ull << 30)

enum layout_region_id {
    REGION_DIRECT_MAP,
    REGION_RT_HEAP,
    REGION_RT_STACK,
    REGION_RT_META,
    REGION_KVMAP,
    REGION_KSTACK,
    REGION_KERNEL,
    REGION_COUNT,
    REGION_NONE = REGION_COUNT,
};

struct layout_region {
    const char *name;  /* "runtime heap" */
    uint64_t base;
    uint64_t size;
    const char *owner; /* "OS" or "runtime via sys_*" */
    const char *what;  /* one line: what lives there */
};

/* The table, indexed by enum layout_region_id. */
extern const struct layout_region layout_regions[REGION_COUNT];

/* The region containing va, or REGION_NONE. */
enum layout_region_id layout_region_of(uint64_t va);

/*
 * For the fault report: if va lies in a region whose contents only mm knows
 * (the runtime regions with their sys_* state, kernel mappings, kernel
 * stacks, the direct map beyond RAM), write what it is into buf and return
 * true ("runtime heap: reserved, not committed"). The kernel image and the
 * boot stacks are described by kernel/trap.c itself. Never faults.
 */
bool layout_describe(uint64_t va, char *buf, size_t len);

_Static_assert(LAYOUT_DIRECT_MAP_BASE == 0xffff800000000000ull, "boot_info.h's BOOT_DIRECT_MAP_BASE");

#endif
