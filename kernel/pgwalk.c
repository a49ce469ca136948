/*
 * pgwalk.c - a four-level walk of the current page tables (contract in
 * pgwalk.h; Intel SDM vol. 3A section 4.5 for the formats).
 */
#include "kernel/pgwalk.h"

#include <stddef.h>

#include "boot/boot_info.h"
#include "kernel/lib/x86.h"

static uint64_t dm_size; /* 0 until pgwalk_init: every walk answers "unknown" */

void pgwalk_init(uint64_t direct_map_size) { dm_size = direct_map_size; }

/* The table at physical address pa, or NULL if it is outside the direct map. */
static uint64_t *table_at(uint64_t pa)
{
    pa &= PTE_ADDR_MASK;
    if (dm_size == 0 || pa >= dm_size)
        return NULL;
    return (uint64_t *)(BOOT_DIRECT_MAP_BASE + pa);
}

/* Walks to the entry mapping va; returns a pointer to it (leaf or not
 * present) and its level (3 = PML4 ... 0 = PT), or NULL (not canonical, or a
 * table outside the direct map). With path non-NULL, also records every
 * entry read and its index, the PML4's first, and their count. */
struct walk_path {
    uint64_t *entry;
    unsigned *index;
    int n;
};
static uint64_t *walk_recording(uint64_t va, int *level, struct walk_path *path)
{
    if (!va_canonical(va))
        return NULL;
    uint64_t *t = table_at(read_cr3());
    for (int l = 3; t != NULL; l--) {
        unsigned i = (unsigned)(va >> (12 + 9 * l)) & 511;
        uint64_t *e = &t[i];
        if (path != NULL) {
            path->entry[path->n] = *e;
            path->index[path->n++] = i;
        }
        if (!(*e & PTE_P) || l == 0 || ((*e & PTE_PS) && l <= 2)) {
            *level = l;
            return e;
        }
        t = table_at(*e);
    }
    return NULL;
}

static uint64_t *walk(uint64_t va, int *level) { return walk_recording(va, level, NULL); }

int pgwalk_path(uint64_t va, uint64_t entry[4], unsigned index[4])
{
    struct walk_path path = {entry, index, 0};
    int level;
    walk_recording(va, &level, &path);
    return path.n;
}

uint64_t pgwalk_lookup(uint64_t va, uint64_t *page_size)
{
    int level;
    uint64_t *e = walk(va, &level);
    if (e == NULL || !(*e & PTE_P))
        return 0;
    *page_size = 1ull << (12 + 9 * level);
    return *e;
}

bool pgwalk_mapped(uint64_t va, uint64_t len)
{
    uint64_t end = va + len;
    if (end < va)
        return false;
    while (va < end) {
        uint64_t size;
        if (pgwalk_lookup(va, &size) == 0)
            return false;
        va = (va & ~(size - 1)) + size;
        if (va == 0) /* wrapped past the top of the address space */
            break;
    }
    return true;
}

bool pgwalk_unmap_4k(uint64_t va)
{
    int level;
    uint64_t *e = walk(va, &level);
    if (e == NULL || level != 0 || !(*e & PTE_P))
        return false;
    *e = 0;
    invlpg(va);
    return true;
}

int pgwalk_drop_low_half(void)
{
    uint64_t *pml4 = table_at(read_cr3());
    int n = 0;
    if (pml4 == NULL)
        return 0;
    for (int i = 0; i < 256; i++) {
        if (pml4[i] & PTE_P)
            n++;
        pml4[i] = 0;
    }
    write_cr3(read_cr3()); /* flushes every non-global translation */
    return n;
}
