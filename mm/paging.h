/*
 * paging.h - the kernel's own 4-level page tables (design essay in paging.c).
 */
#ifndef MM_PAGING_H
#define MM_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/layout.h"

struct boot_info;

#define PAGE_SIZE ((uint64_t)4096)
#define PAGE_MASK (PAGE_SIZE - 1)

/* Protections for vm_map / vm_protect. Every mapping is readable and kernel-only. */
#define VM_READ  0u
#define VM_WRITE 1u
#define VM_EXEC  2u

/*
 * Build the kernel's tables (direct map of all RAM with the largest pages the
 * CPU has, the kernel image copied from the loader's W^X mapping, nothing in
 * the low half), switch CR3 to them and turn on CR0.WP and EFER.NXE.
 * Needs the frame allocator. Panics if the tables cannot be built.
 */
void paging_init(const struct boot_info *bi);

/*
 * Map [va, va+n) to [pa, pa+n) with 4 KiB pages. va, pa, n page-aligned, va in
 * a region of mm/layout.h. Returns 0, or -1 when a page-table page cannot be
 * allocated (then nothing of the range stays mapped). Panics if a page of the
 * range is already mapped: a double map is always a bug.
 */
int vm_map(uint64_t va, uint64_t pa, uint64_t n, unsigned prot);

/*
 * Unmap whatever is mapped in [va, va+n) (4 KiB pages only) and invalidate the
 * TLB. With free_frames, each unmapped frame goes back to the frame allocator
 * (as an order-0 block: only for frames that were allocated that way).
 * Page-table pages left empty are freed. Returns the number of pages unmapped.
 */
uint64_t vm_unmap(uint64_t va, uint64_t n, bool free_frames);

/*
 * Software states of unmapped pages, kept in non-present leaf entries (the
 * hardware ignores every other bit of an entry whose P bit is clear). They let
 * the page table be the one record of the sys_* state machine (mm/sysmem.c)
 * and let the fault reporter say what an unmapped page is.
 */
enum vm_page_state {
    VM_PAGE_NONE = 0,     /* no entry */
    VM_PAGE_PREPARED = 1, /* committed (sys_map), not backed by a frame yet */
    VM_PAGE_FAULT = 2,    /* made to fault on purpose (sys_fault, freed stacks) */
    VM_PAGE_MAPPED = 3,   /* present */
};

/*
 * Give every page of [va, va+n) the software state `state` (PREPARED or
 * FAULT). Pages must be unmapped (panics on a present page). Creates tables;
 * returns 0, or -1 when a table page cannot be allocated (then nothing
 * changed).
 */
int vm_mark(uint64_t va, uint64_t n, enum vm_page_state state);

/*
 * Like vm_unmap, but every present page becomes `leave` (NONE, PREPARED or
 * FAULT) and, with leave == VM_PAGE_NONE, software states are cleared too.
 * Counts (may be NULL): present pages unmapped, and software-marked pages
 * found, by state.
 */
void vm_unmap_ex(uint64_t va, uint64_t n, bool free_frames, enum vm_page_state leave, uint64_t *present,
                 uint64_t *prepared, uint64_t *faulted);

/* The state of the page holding va (MAPPED for large pages too). */
enum vm_page_state vm_page_state(uint64_t va);

/* Change the protection of [va, va+n); every page must be mapped with 4 KiB pages. */
void vm_protect(uint64_t va, uint64_t n, unsigned prot);

/*
 * Translate va. Returns false if unmapped; otherwise fills pa (may be NULL),
 * prot (VM_*; may be NULL) and page_size (4 KiB, 2 MiB or 1 GiB; may be NULL).
 */
bool vm_translate(uint64_t va, uint64_t *pa, unsigned *prot, uint64_t *page_size);

/* Live numbers per region, for the boot report and tests. */
struct paging_stats {
    uint64_t mapped_bytes[REGION_COUNT]; /* bytes mapped per region (large pages count fully) */
    uint64_t table_pages;                /* page-table pages in use */
    uint64_t direct_map_bytes;
    uint64_t direct_map_page_size;       /* 1 GiB or 2 MiB */
};
void paging_stats(struct paging_stats *out);

/* Print the layout table with live numbers: region, range, size, mapped, permissions. */
void layout_report(void);

#endif
