/*
 * paging.c - the kernel's own page tables: build, switch, map, unmap, protect.
 *
 * The loader leaves the kernel on temporary tables (boot/boot_info.h). This
 * file replaces them with tables the kernel owns, built from frames of the
 * buddy allocator, laid out by mm/layout.h:
 *
 *   - the direct map: physical [0, direct_map_size) at LAYOUT_DIRECT_MAP_BASE,
 *     read/write, no-execute, with 1 GiB pages when CPUID says the CPU has them
 *     (leaf 0x80000001 EDX bit 26; `-cpu qemu64` has not) and 2 MiB otherwise;
 *   - the kernel image, 4 KiB pages copied entry by entry from the loader's
 *     mapping, which already gives each ELF segment its permissions (text RX,
 *     rodata R+NX, data/bss RW+NX: one segment per permission, see
 *     linker/kernel.ld), so W^X holds page by page;
 *   - nothing in the low half: NULL and small integers fault;
 *   - the dynamic regions (runtime heap/stacks/metadata, kernel mappings,
 *     kernel stacks) empty, filled later by vm_map with 4 KiB pages.
 *
 * Invariants:
 *   - A leaf is present (P set) or holds a software state in bits 9..10
 *     (enum vm_page_state: PREPARED or FAULT) or is zero; sys_* (mm/sysmem.c)
 *     keeps its state machine there and the fault reporter reads it back.
 *   - Every page-table page is one order-0 frame owned by FRAME_OWNER_PAGETABLE,
 *     reached through the direct map; g_stats.table_pages counts them.
 *   - vm_map/vm_unmap/vm_protect touch only the dynamic regions and only 4 KiB
 *     leaves; the direct map and the kernel image are fixed after paging_init.
 *   - A table of a dynamic region that becomes empty is freed at once, so an
 *     unmap of everything returns every frame (tests check the free count).
 *   - CR0.WP is on (the kernel itself cannot write read-only pages) and
 *     EFER.NXE is on when the CPU has NX.
 *
 * TLB rules: adding a mapping where none was needs no invalidation (x86 does
 * not cache non-present entries); removing or restricting one needs invlpg per
 * page before the call returns; freeing a table page reloads CR3 so no
 * paging-structure cache keeps a pointer to it. Other CPUs: vm_unmap and
 * vm_protect end with tlb_shootdown, which returns only when every other
 * online CPU has invalidated the range too (mm/tlb.c).
 *
 * Locking: the tables change only under g_paging_lock (rank SPIN_RANK_PAGING),
 * taken without disabling interrupts so that waiters still answer shootdown
 * IPIs; lock-free readers (the fault report) may see a range mid-change.
 *
 * Map steps (vm_map): 1. check alignment and region; 2. for each page walk
 * from the PML4, allocating missing tables (zeroed); 3. refuse an existing
 * leaf (panic) or a large page in the way; 4. write the leaf; 5. on a failed
 * table allocation, unmap what this call mapped and return -1.
 *
 * Reference: Intel SDM Vol. 3A, chapter 4.5 (4-level paging) and 4.10 (TLBs).
 */
#include "mm/paging.h"

#include "boot/boot_info.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/spinlock.h"
#include "kernel/lib/x86.h"
#include "mm/buddy.h"
#include "mm/tlb.h"

#define PTE_P    ((uint64_t)1 << 0)
#define PTE_W    ((uint64_t)1 << 1)
#define PTE_PS   ((uint64_t)1 << 7)
#define PTE_NX   ((uint64_t)1 << 63)
#define PTE_ADDR ((uint64_t)0x000ffffffffff000)
/* Non-present leaves: bits 9..10 hold an enum vm_page_state (P clear). */
#define PTE_SOFT_SHIFT 9
#define PTE_SOFT(state) ((uint64_t)(state) << PTE_SOFT_SHIFT)
#define PTE_SOFT_MASK   (3ull << PTE_SOFT_SHIFT)

#define SIZE_1G (1ull << 30)
#define SIZE_2M (1ull << 21)

static uint64_t *g_pml4;
/* Taken with interrupts as they are (not irqsave): a CPU waiting for it must
 * still answer the TLB-shootdown IPI of the CPU that holds it. Readers
 * (vm_translate, vm_page_state: the fault report) take no lock. */
static struct spinlock g_paging_lock = SPINLOCK_INIT("paging", SPIN_RANK_PAGING);
static bool g_have_nx;
static struct paging_stats g_stats;

static uint64_t table_phys(const uint64_t *t) { return (uint64_t)t - LAYOUT_DIRECT_MAP_BASE; }
static uint64_t *table_at(uint64_t entry) { return frame_virt(entry & PTE_ADDR); }
static unsigned pt_index(uint64_t va, int level) { return (va >> (12 + 9 * level)) & 511; }
static uint64_t level_size(int level) { return 1ull << (12 + 9 * level); }

static uint64_t *table_alloc(void)
{
    phys_addr_t p = frame_alloc(0, FRAME_ZERO, FRAME_OWNER_PAGETABLE);
    if (p == 0)
        return NULL;
    g_stats.table_pages++;
    return frame_virt(p);
}

static void table_free(uint64_t *t)
{
    frame_free(table_phys(t), 0);
    g_stats.table_pages--;
}

static bool table_empty(const uint64_t *t)
{
    for (unsigned i = 0; i < 512; i++)
        if (t[i])
            return false;
    return true;
}

/* The entry for va at `level` (0 = 4 KiB leaf) under root, creating tables on
 * the way. NULL if a table could not be allocated. Panics on a large page in the way. */
static uint64_t *walk_create(uint64_t *root, uint64_t va, int level)
{
    uint64_t *t = root;
    for (int l = 3; l > level; l--) {
        uint64_t *e = &t[pt_index(va, l)];
        if (!(*e & PTE_P)) {
            uint64_t *child = table_alloc();
            if (child == NULL)
                return NULL;
            *e = table_phys(child) | PTE_P | PTE_W;
        } else if (*e & PTE_PS) {
            panic("paging: 0x%lx lies inside a %s page", va, l == 2 ? "1 GiB" : "2 MiB");
        }
        t = table_at(*e);
    }
    return &t[pt_index(va, level)];
}

/* The present leaf entry mapping va under root and its level, or NULL. */
static uint64_t *walk_find(uint64_t *root, uint64_t va, int *level_out)
{
    uint64_t *t = root;
    for (int l = 3; l >= 0; l--) {
        uint64_t *e = &t[pt_index(va, l)];
        if (!(*e & PTE_P))
            return NULL;
        if (l == 0 || (*e & PTE_PS)) {
            *level_out = l;
            return e;
        }
        t = table_at(*e);
    }
    return NULL;
}

static uint64_t leaf_flags(unsigned prot)
{
    return PTE_P | ((prot & VM_WRITE) ? PTE_W : 0) | ((prot & VM_EXEC) || !g_have_nx ? 0 : PTE_NX);
}

static bool is_dynamic(enum layout_region_id r)
{
    return r == REGION_RT_HEAP || r == REGION_RT_STACK || r == REGION_RT_META || r == REGION_KVMAP ||
           r == REGION_KSTACK;
}

/* The region holding all of [va, va+n), which must be a dynamic one. */
static enum layout_region_id check_range(const char *op, uint64_t va, uint64_t n)
{
    enum layout_region_id r = layout_region_of(va);
    if ((va | n) & PAGE_MASK || n == 0)
        panic("%s(0x%lx, 0x%lx): address and size must be non-zero multiples of 4 KiB", op, va, n);
    if (!is_dynamic(r) || va + n - 1 < va || layout_region_of(va + n - 1) != r)
        panic("%s(0x%lx, 0x%lx): not inside one dynamic region of mm/layout.h", op, va, n);
    return r;
}

static void flush_tlb_all(void) { write_cr3(read_cr3()); }

static void unmap_locked(uint64_t va, uint64_t n, bool free_frames, enum vm_page_state leave, uint64_t counts[4]);

/*
 * Writes leaf `first + i * step` for page i of [va, va+n) (replacing a
 * software state, never a present page: that panics), under the paging lock;
 * present leaves are counted in region r's mapped bytes as they are written.
 * On a failed table allocation, clears what it wrote (and its count) and
 * returns -1.
 */
static int write_leaves(const char *op, enum layout_region_id r, uint64_t va, uint64_t n, uint64_t first,
                        uint64_t step)
{
    spin_lock(&g_paging_lock);
    for (uint64_t off = 0, i = 0; off < n; off += PAGE_SIZE, i++) {
        uint64_t *e = walk_create(g_pml4, va + off, 0);
        if (e == NULL) {
            uint64_t counts[4];
            if (off)
                unmap_locked(va, off, false, VM_PAGE_NONE, counts);
            spin_unlock(&g_paging_lock);
            return -1;
        }
        if (*e & PTE_P)
            panic("%s: 0x%lx is already mapped (to phys 0x%lx)", op, va + off, *e & PTE_ADDR);
        *e = first + i * step;
        if (first & PTE_P)
            g_stats.mapped_bytes[r] += PAGE_SIZE;
    }
    spin_unlock(&g_paging_lock);
    return 0;
}

int vm_map(uint64_t va, uint64_t pa, uint64_t n, unsigned prot)
{
    enum layout_region_id r = check_range("vm_map", va, n);
    if (pa & PAGE_MASK)
        panic("vm_map(0x%lx): physical address 0x%lx is not page-aligned", va, pa);
    return write_leaves("vm_map", r, va, n, pa | leaf_flags(prot), PAGE_SIZE);
}

/*
 * Unmapping with free_frames runs in two passes so that no frame goes back
 * to the allocator while another CPU's TLB may still reach it: pass 1 turns
 * each present leaf into a non-present UNMAPPING entry that keeps the frame's
 * address; the shootdown follows; pass 2 frees those frames and leaves the
 * entry as asked. Without free_frames, pass 1 does everything.
 */
#define PTE_UNMAPPING PTE_SOFT(3) /* never seen outside vm_unmap_ex (the paging lock) */

struct unmap_walk {
    bool free_frames;
    int pass;               /* 1: clear (and park frames), 2: free parked frames */
    uint64_t leave;         /* what a present leaf becomes: 0 or a PTE_SOFT value */
    bool reload;            /* a table page was freed: reload CR3 */
    uint64_t counts[4];     /* pass 1: by enum vm_page_state of the leaves found */
};

/* One leaf of unmap_level. */
static void unmap_leaf(struct unmap_walk *w, uint64_t *e, uint64_t va)
{
    if (w->pass == 2) {
        if ((*e & (PTE_P | PTE_SOFT_MASK)) == PTE_UNMAPPING) {
            frame_free(*e & PTE_ADDR, 0);
            *e = w->leave;
        }
        return;
    }
    if (*e & PTE_P) {
        *e = w->free_frames ? (*e & PTE_ADDR) | PTE_UNMAPPING : w->leave;
        invlpg(va);
        w->counts[VM_PAGE_MAPPED]++;
    } else {
        w->counts[(*e & PTE_SOFT_MASK) >> PTE_SOFT_SHIFT]++;
        if (w->leave == 0)
            *e = 0;
    }
}

/* Walks the leaves of [va, end) below table t at `level`; frees emptied child tables. */
static void unmap_level(struct unmap_walk *w, uint64_t *t, int level, uint64_t va, uint64_t end)
{
    while (va < end) {
        uint64_t next = (va & ~(level_size(level) - 1)) + level_size(level);
        if (next > end || next == 0)
            next = end;
        uint64_t *e = &t[pt_index(va, level)];
        if (level == 0 && *e) {
            unmap_leaf(w, e, va);
        } else if (*e & PTE_P) {
            if (*e & PTE_PS)
                panic("vm_unmap: 0x%lx lies inside a large page", va);
            uint64_t *child = table_at(*e);
            unmap_level(w, child, level - 1, va, next);
            if (table_empty(child)) {
                *e = 0;
                table_free(child);
                w->reload = true;
            }
        }
        va = next;
    }
}

/* vm_unmap_ex with the paging lock held. */
static void unmap_locked(uint64_t va, uint64_t n, bool free_frames, enum vm_page_state leave, uint64_t counts[4])
{
    enum layout_region_id r = check_range("vm_unmap", va, n);
    if (leave == VM_PAGE_MAPPED)
        panic("vm_unmap_ex: cannot leave pages mapped");
    struct unmap_walk w = {free_frames, 1, leave == VM_PAGE_NONE ? 0 : PTE_SOFT(leave), false, {0}};
    unmap_level(&w, g_pml4, 3, va, va + n);
    if (w.reload)
        flush_tlb_all();
    tlb_shootdown(va, n);
    if (free_frames) {
        w.pass = 2;
        w.reload = false;
        unmap_level(&w, g_pml4, 3, va, va + n);
        if (w.reload)
            flush_tlb_all(); /* a table freed in pass 2: no other CPU walked into it since pass 1 */
    }
    g_stats.mapped_bytes[r] -= w.counts[VM_PAGE_MAPPED] * PAGE_SIZE;
    for (int i = 0; i < 4; i++)
        counts[i] = w.counts[i];
}

void vm_unmap_ex(uint64_t va, uint64_t n, bool free_frames, enum vm_page_state leave, uint64_t *present,
                 uint64_t *prepared, uint64_t *faulted)
{
    uint64_t counts[4];
    spin_lock(&g_paging_lock);
    unmap_locked(va, n, free_frames, leave, counts);
    spin_unlock(&g_paging_lock);
    if (present)
        *present = counts[VM_PAGE_MAPPED];
    if (prepared)
        *prepared = counts[VM_PAGE_PREPARED];
    if (faulted)
        *faulted = counts[VM_PAGE_FAULT];
}

uint64_t vm_unmap(uint64_t va, uint64_t n, bool free_frames)
{
    uint64_t present;
    vm_unmap_ex(va, n, free_frames, VM_PAGE_NONE, &present, NULL, NULL);
    return present;
}

int vm_mark(uint64_t va, uint64_t n, enum vm_page_state state)
{
    enum layout_region_id r = check_range("vm_mark", va, n);
    if (state != VM_PAGE_PREPARED && state != VM_PAGE_FAULT)
        panic("vm_mark(0x%lx): state %d is not a software state", va, state);
    return write_leaves("vm_mark", r, va, n, PTE_SOFT(state), 0);
}

enum vm_page_state vm_page_state(uint64_t va)
{
    uint64_t *t = g_pml4 ? g_pml4 : frame_virt(read_cr3() & PTE_ADDR);
    for (int l = 3; l >= 0; l--) {
        uint64_t e = t[pt_index(va, l)];
        if (e & PTE_P) {
            if (l == 0 || (e & PTE_PS))
                return VM_PAGE_MAPPED;
            t = table_at(e);
        } else {
            if (l != 0 || (e & PTE_SOFT_MASK) == PTE_UNMAPPING) /* mid-unmap: as good as gone */
                return VM_PAGE_NONE;
            return (enum vm_page_state)((e & PTE_SOFT_MASK) >> PTE_SOFT_SHIFT);
        }
    }
    return VM_PAGE_NONE;
}

void vm_protect(uint64_t va, uint64_t n, unsigned prot)
{
    check_range("vm_protect", va, n);
    spin_lock(&g_paging_lock);
    for (uint64_t off = 0; off < n; off += PAGE_SIZE) {
        int level;
        uint64_t *e = walk_find(g_pml4, va + off, &level);
        if (e == NULL || level != 0)
            panic("vm_protect: 0x%lx is %s", va + off, e ? "inside a large page" : "not mapped");
        *e = (*e & PTE_ADDR) | leaf_flags(prot);
        invlpg(va + off);
    }
    tlb_shootdown(va, n);
    spin_unlock(&g_paging_lock);
}

bool vm_translate(uint64_t va, uint64_t *pa, unsigned *prot, uint64_t *page_size)
{
    int level;
    uint64_t *e = walk_find(g_pml4 ? g_pml4 : frame_virt(read_cr3() & PTE_ADDR), va, &level);
    if (e == NULL)
        return false;
    uint64_t size = level_size(level);
    if (pa)
        *pa = (*e & PTE_ADDR & ~(size - 1)) + (va & (size - 1));
    if (prot)
        *prot = ((*e & PTE_W) ? VM_WRITE : 0) | ((*e & PTE_NX) ? 0 : VM_EXEC);
    if (page_size)
        *page_size = size;
    return true;
}

static void detect_features(bool *have_1g)
{
    uint32_t a, b, c, d;
    cpuid(0x80000000u, 0, &a, &b, &c, &d);
    if (a < 0x80000001u) {
        g_have_nx = *have_1g = false;
        return;
    }
    cpuid(0x80000001u, 0, &a, &b, &c, &d);
    g_have_nx = (d >> 20) & 1;
    *have_1g = (d >> 26) & 1;
}

static void map_direct(uint64_t size, bool have_1g)
{
    int level = have_1g ? 2 : 1;
    uint64_t step = level_size(level);
    for (uint64_t pa = 0; pa < size; pa += step) {
        uint64_t *e = walk_create(g_pml4, LAYOUT_DIRECT_MAP_BASE + pa, level);
        if (e == NULL)
            panic("paging_init: out of frames building the direct map at 0x%lx", pa);
        *e = pa | PTE_P | PTE_W | PTE_PS | (g_have_nx ? PTE_NX : 0);
    }
    g_stats.direct_map_bytes = size;
    g_stats.direct_map_page_size = step;
    g_stats.mapped_bytes[REGION_DIRECT_MAP] = size;
}

/* Copies the loader's 4 KiB leaves for the kernel image: same frames, same rights. */
static void map_kernel_image(const struct boot_info *bi)
{
    uint64_t *loader_root = frame_virt(read_cr3() & PTE_ADDR);
    for (uint64_t va = bi->kernel_virt_base; va < bi->kernel_virt_base + bi->kernel_size; va += PAGE_SIZE) {
        int level;
        uint64_t *src = walk_find(loader_root, va, &level);
        if (src == NULL) /* a hole between segments: stays unmapped */
            continue;
        if (level != 0)
            panic("paging_init: the loader mapped kernel page 0x%lx with a large page", va);
        uint64_t *dst = walk_create(g_pml4, va, 0);
        if (dst == NULL)
            panic("paging_init: out of frames mapping the kernel image at 0x%lx", va);
        *dst = *src & (PTE_ADDR | PTE_P | PTE_W | PTE_NX);
        g_stats.mapped_bytes[REGION_KERNEL] += PAGE_SIZE;
    }
}

void paging_init(const struct boot_info *bi)
{
    bool have_1g;
    detect_features(&have_1g);
    g_pml4 = table_alloc();
    if (g_pml4 == NULL)
        panic("paging_init: no frame for the PML4");
    map_direct(bi->direct_map_size, have_1g);
    map_kernel_image(bi);

    if (g_have_nx)
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr3(table_phys(g_pml4));
    __asm__ volatile("mov %0, %%cr0" ::"r"(read_cr0() | CR0_WP));
}

void paging_stats(struct paging_stats *out) { *out = g_stats; }

static const char *region_perms(enum layout_region_id r)
{
    switch (r) {
    case REGION_DIRECT_MAP: return "RW NX";
    case REGION_KERNEL: return "RX/R/RW (W^X)";
    default: return "RW NX (as mapped)";
    }
}

void layout_report(void)
{
    kprintf("virtual address space (mm/layout.h), live:\n");
    kprintf("  %-17s %-18s %-18s %10s %12s  %s\n", "region", "start", "end", "size", "mapped", "perms");
    for (int r = 0; r < REGION_COUNT; r++) {
        const struct layout_region *lr = &layout_regions[r];
        kprintf("  %-17s 0x%016lx 0x%016lx %7lu GiB %8lu KiB  %s\n", lr->name, lr->base,
                lr->base + lr->size - 1, lr->size >> 30, g_stats.mapped_bytes[r] >> 10, region_perms(r));
    }
    kprintf("  direct map uses %s pages over %lu MiB; %lu page-table pages (%lu KiB)\n",
            g_stats.direct_map_page_size == SIZE_1G ? "1 GiB" : "2 MiB", g_stats.direct_map_bytes >> 20,
            g_stats.table_pages, g_stats.table_pages * 4);
}
