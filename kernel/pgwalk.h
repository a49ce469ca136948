/*
 * pgwalk.h - early, minimal access to the current page tables through the
 * direct map: enough for the kernel core to drop the loader's identity map,
 * unmap its stack guard pages, and ask "is this address mapped?" before a
 * fault reporter dereferences it. The real page-table code is mm's; this
 * never allocates a table.
 *
 * Every function is safe to call from a fault handler: it only reads tables
 * whose physical address lies inside the direct map (pgwalk_init), and
 * before pgwalk_init it answers "unknown" (false / 0).
 */
#ifndef KERNEL_PGWALK_H
#define KERNEL_PGWALK_H

#include <stdbool.h>
#include <stdint.h>

#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_U   (1ull << 2)
#define PTE_PS  (1ull << 7)
#define PTE_NX  (1ull << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ull

/* Enables the walker; direct_map_size bytes of physical memory are mapped
 * at BOOT_DIRECT_MAP_BASE (from the validated boot_info). */
void pgwalk_init(uint64_t direct_map_size);

/* The leaf entry that maps va in the current CR3 (0 if unmapped or the
 * walker is not ready); *page_size gets 4 KiB, 2 MiB or 1 GiB. */
uint64_t pgwalk_lookup(uint64_t va, uint64_t *page_size);

/*
 * The walk of va level by level, the PML4 first: entry[i] is the entry read
 * at level 3 - i (3 = PML4 ... 0 = PT) and index[i] its index in that table.
 * Returns how many levels were read: the last is the leaf (4 KiB, or a large
 * page) or the first entry not present. 0 if va is not canonical or the
 * walker is not ready.
 */
int pgwalk_path(uint64_t va, uint64_t entry[4], unsigned index[4]);

/* True if every byte of [va, va+len) is mapped (any permission). */
bool pgwalk_mapped(uint64_t va, uint64_t len);

/* Clears the 4 KiB mapping of va and flushes it. False if va is not mapped
 * by a 4 KiB entry. */
bool pgwalk_unmap_4k(uint64_t va);

/* Clears PML4 entries 0..255 (the low half: the loader's identity map) and
 * reloads CR3. Returns the number of entries that were present. */
int pgwalk_drop_low_half(void);

/* True if va is canonical (bits 63..47 all equal). */
static inline bool va_canonical(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

#endif
