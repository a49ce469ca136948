/*
 * sysmem.c - the OS half of the runtime boundary: sys_port_* for the kernel.
 *
 * rt/sys.h defines the state machine (None -> Reserved -> Prepared -> Ready)
 * and rt/sys.c checks its rules for every port; this file is what the kernel
 * does for each arrow. Go's runtime keeps the same machine over Linux's
 * mmap/madvise (runtime/mem_linux.go); here the "OS calls" are our own
 * page tables and frame allocator, so both views can be printed side by side.
 *
 *   Reserved  an entry in g_resv (below) and nothing in the page tables:
 *             an access faults, reported as "reserved, not committed".
 *   Prepared  leaves marked VM_PAGE_PREPARED (mm/paging.h); the commit charge
 *             g_charge_pages holds frames for them.
 *   Ready     present leaves, RW+NX, each an order-0 frame of the region's
 *             owner (FRAME_OWNER_HEAP / _STACK / _RTMETA), zeroed (rule 5).
 *   faulted   leaves marked VM_PAGE_FAULT: no frame, no charge, access faults.
 *
 * The page table is the record of every page's state, so no second map can
 * drift from it, and the frame allocator's per-owner counters are the OS's
 * view of "frames in use per region".
 *
 * Commit charge (why sys_used never fails, rt/sys.h rule 4): sys_map succeeds
 * only if the frames it promises, plus every promise not yet kept, plus a
 * reserve for the kernel's own page tables, fit in the free frames. Frames
 * the kernel takes later for itself can still break a promise; then sys_used
 * panics with the numbers instead of failing silently.
 *
 * Address space: hint-less reservations take the next free address of their
 * region (a bump pointer; 16 TiB per region is not exhausted in a boot).
 * Hinted ones (the heap's arenas) must lie in the region and overlap no
 * reservation. g_resv is a sorted array of disjoint ranges, merged when
 * adjacent in the same region, so a heap growing arena by arena is one entry.
 * It is the OS's record (which region owns an address: frame owners,
 * overlap checks, fault reports, read without any runtime lock). rt/sys.c
 * keeps the client's record beside it, each reservation as made, which
 * checks the sys.h rules for every port (sys_free names a whole one);
 * merged ranges cannot check that, and the hosted port has no OS table.
 *
 * Locking: g_sysmem_lock (SPIN_RANK_SYSMEM) around each sys_port_* call's
 * use of this file's state; the page-table and frame calls inside take their
 * own, higher-ranked locks. sysmem_describe reads without it (fault report).
 */
#include "mm/sysmem.h"

#include "kernel/lib/kprintf.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/spinlock.h"
#include "mm/buddy.h"
#include "mm/paging.h"
#include "rt/sys.h"

#define RESV_MAX 1024

struct resv {
    uint64_t start, end; /* [start, end), page-aligned */
    enum sys_region region;
};

RT_NOSCAN static struct resv g_resv[RESV_MAX]; /* sorted by start, disjoint; not a GC root (rt/sys.h) */
static unsigned g_nresv;
RT_NOSCAN static uint64_t g_bump[SYS_NREGIONS];
static uint64_t g_charge_pages; /* Prepared pages: frames promised, not yet taken */
/* Protects g_resv, g_bump and g_charge_pages; ranks below the paging lock. */
static struct spinlock g_sysmem_lock = SPINLOCK_INIT("sysmem", SPIN_RANK_SYSMEM);

static const enum layout_region_id region_layout[SYS_NREGIONS] = {
    [SYS_REGION_HEAP] = REGION_RT_HEAP,
    [SYS_REGION_STACK] = REGION_RT_STACK,
    [SYS_REGION_META] = REGION_RT_META,
};

static const enum frame_owner region_owner[SYS_NREGIONS] = {
    [SYS_REGION_HEAP] = FRAME_OWNER_HEAP,
    [SYS_REGION_STACK] = FRAME_OWNER_STACK,
    [SYS_REGION_META] = FRAME_OWNER_RTMETA,
};

/* Index of the first reservation ending after va. */
static unsigned resv_search(uint64_t va)
{
    unsigned lo = 0, hi = g_nresv;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (g_resv[mid].end <= va)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct resv *resv_find(uint64_t va)
{
    unsigned i = resv_search(va);
    return i < g_nresv && g_resv[i].start <= va ? &g_resv[i] : NULL;
}

static bool resv_overlaps(uint64_t start, uint64_t end)
{
    unsigned i = resv_search(start);
    return i < g_nresv && g_resv[i].start < end;
}

/* Inserts [start, end), merging with neighbours of the same region. 0 or SYS_ENOMEM. */
static int resv_insert(uint64_t start, uint64_t end, enum sys_region r)
{
    unsigned i = resv_search(start);
    bool merge_prev = i > 0 && g_resv[i - 1].end == start && g_resv[i - 1].region == r;
    bool merge_next = i < g_nresv && g_resv[i].start == end && g_resv[i].region == r;
    if (merge_prev && merge_next) {
        g_resv[i - 1].end = g_resv[i].end;
        for (unsigned j = i; j + 1 < g_nresv; j++)
            g_resv[j] = g_resv[j + 1];
        g_nresv--;
    } else if (merge_prev) {
        g_resv[i - 1].end = end;
    } else if (merge_next) {
        g_resv[i].start = start;
    } else {
        if (g_nresv == RESV_MAX)
            return SYS_ENOMEM;
        for (unsigned j = g_nresv; j > i; j--)
            g_resv[j] = g_resv[j - 1];
        g_resv[i] = (struct resv){start, end, r};
        g_nresv++;
    }
    return SYS_OK;
}

/* Removes [start, end), which lies inside one reservation; may split it. */
static void resv_remove(uint64_t start, uint64_t end)
{
    unsigned i = resv_search(start);
    if (i == g_nresv || g_resv[i].start > start || g_resv[i].end < end)
        panic("sys_free(0x%lx, 0x%lx): not inside one kernel reservation", start, end - start);
    struct resv *r = &g_resv[i];
    if (r->start < start && r->end > end) { /* split in two */
        if (g_nresv == RESV_MAX)
            panic("sys_free: reservation table full (%d entries) splitting 0x%lx", RESV_MAX, start);
        for (unsigned j = g_nresv; j > i + 1; j--)
            g_resv[j] = g_resv[j - 1];
        g_resv[i + 1] = (struct resv){end, r->end, r->region};
        r->end = start;
        g_nresv++;
    } else if (r->start < start) {
        r->end = start;
    } else if (r->end > end) {
        r->start = end;
    } else {
        for (unsigned j = i; j + 1 < g_nresv; j++)
            g_resv[j] = g_resv[j + 1];
        g_nresv--;
    }
}

static int reserve_locked(enum sys_region r, void *hint, size_t n, void **out)
{
    const struct layout_region *lr = &layout_regions[region_layout[r]];
    uint64_t start = (uint64_t)hint;
    if (hint == NULL) {
        start = lr->base + g_bump[r];
        if (n > lr->size - g_bump[r])
            return SYS_ENOMEM;
    } else if (start < lr->base || n > lr->size || start - lr->base > lr->size - n) {
        return SYS_ERANGE;
    }
    if (resv_overlaps(start, start + n))
        return SYS_EBUSY;
    int err = resv_insert(start, start + n, r);
    if (err != SYS_OK)
        return err;
    if (start + n - lr->base > g_bump[r])
        g_bump[r] = start + n - lr->base;
    *out = (void *)start;
    return SYS_OK;
}

static int map_locked(void *v, size_t n)
{
    uint64_t pages = n / PAGE_SIZE;
    uint64_t free = frame_free_count();
    if (g_charge_pages + pages + SYSMEM_RESERVE_FRAMES > free)
        return SYS_ENOMEM;
    if (vm_mark((uint64_t)v, n, VM_PAGE_PREPARED) != 0)
        return SYS_ENOMEM;
    g_charge_pages += pages;
    return SYS_OK;
}

static void used_locked(void *v, size_t n)
{
    const struct resv *r = resv_find((uint64_t)v);
    enum frame_owner owner = region_owner[r->region];
    for (uint64_t va = (uint64_t)v; va < (uint64_t)v + n; va += PAGE_SIZE) {
        enum vm_page_state st = vm_page_state(va);
        if (st != VM_PAGE_PREPARED)
            panic("sys_used(%p, 0x%lx): page 0x%lx is %s, not Prepared", v, n, va,
                  st == VM_PAGE_MAPPED ? "already Ready" : st == VM_PAGE_FAULT ? "faulted" : "only Reserved");
        phys_addr_t pa = frame_alloc(0, FRAME_ZERO, owner);
        if (pa == 0 || vm_map(va, pa, PAGE_SIZE, VM_WRITE) != 0)
            panic("sys_used(%p, 0x%lx): out of frames at 0x%lx although %lu pages were promised "
                  "(free frames: %lu)",
                  v, n, va, g_charge_pages, frame_free_count());
        g_charge_pages--;
    }
}

static void unused_locked(void *v, size_t n)
{
    uint64_t present;
    vm_unmap_ex((uint64_t)v, n, true, VM_PAGE_PREPARED, &present, NULL, NULL);
    if (present != n / PAGE_SIZE)
        panic("sys_unused(%p, 0x%lx): %lu of %lu pages were not Ready", v, n, n / PAGE_SIZE - present,
              n / PAGE_SIZE);
    g_charge_pages += present;
}

static void free_locked(void *v, size_t n)
{
    uint64_t prepared;
    vm_unmap_ex((uint64_t)v, n, true, VM_PAGE_NONE, NULL, &prepared, NULL);
    g_charge_pages -= prepared;
    resv_remove((uint64_t)v, (uint64_t)v + n);
}

static void fault_locked(void *v, size_t n)
{
    uint64_t prepared;
    vm_unmap_ex((uint64_t)v, n, true, VM_PAGE_FAULT, NULL, &prepared, NULL);
    g_charge_pages -= prepared;
    /* Pages that were only Prepared become faulting too: mark them. */
    for (uint64_t va = (uint64_t)v; va < (uint64_t)v + n; va += PAGE_SIZE)
        if (vm_page_state(va) != VM_PAGE_FAULT && vm_mark(va, PAGE_SIZE, VM_PAGE_FAULT) != 0)
            panic("sys_fault(%p, 0x%lx): no frame for a page table at 0x%lx", v, n, va);
}

int sys_port_reserve(enum sys_region r, void *hint, size_t n, void **out)
{
    spin_lock(&g_sysmem_lock);
    int err = reserve_locked(r, hint, n, out);
    spin_unlock(&g_sysmem_lock);
    return err;
}

int sys_port_map(void *v, size_t n)
{
    spin_lock(&g_sysmem_lock);
    int err = map_locked(v, n);
    spin_unlock(&g_sysmem_lock);
    return err;
}

void sys_port_used(void *v, size_t n)
{
    spin_lock(&g_sysmem_lock);
    used_locked(v, n);
    spin_unlock(&g_sysmem_lock);
}

void sys_port_unused(void *v, size_t n)
{
    spin_lock(&g_sysmem_lock);
    unused_locked(v, n);
    spin_unlock(&g_sysmem_lock);
}

void sys_port_free(void *v, size_t n)
{
    spin_lock(&g_sysmem_lock);
    free_locked(v, n);
    spin_unlock(&g_sysmem_lock);
}

void sys_port_fault(void *v, size_t n)
{
    spin_lock(&g_sysmem_lock);
    fault_locked(v, n);
    spin_unlock(&g_sysmem_lock);
}

uint64_t sysmem_charge_pages(void) { return g_charge_pages; }

bool sysmem_describe(uint64_t va, char *buf, size_t len)
{
    enum layout_region_id lr = layout_region_of(va);
    if (lr != REGION_RT_HEAP && lr != REGION_RT_STACK && lr != REGION_RT_META)
        return false;
    const char *name = layout_regions[lr].name;
    const struct resv *r = resv_find(va);
    switch (vm_page_state(va)) {
    case VM_PAGE_PREPARED:
        ksnprintf(buf, len, "%s: committed (Prepared) but not in use (no sys_used)", name);
        break;
    case VM_PAGE_FAULT:
        ksnprintf(buf, len, "%s: made to fault by sys_fault (freed memory)", name);
        break;
    case VM_PAGE_MAPPED:
        ksnprintf(buf, len, "%s: Ready (mapped)", name);
        break;
    default:
        ksnprintf(buf, len, r ? "%s: reserved, not committed" : "%s: not reserved", name);
        break;
    }
    return true;
}

void sysmem_report(void)
{
    struct sys_stats st;
    sys_read_stats(&st);
    kprintf("sys_* (OS view): %u reservations; reserved %lu KiB, prepared %lu KiB, ready %lu KiB; "
            "promised frames %lu\n",
            g_nresv, st.reserved >> 10, st.prepared >> 10, st.ready >> 10, g_charge_pages);
}

void sysmem_region_stats(int sys_region, struct sysmem_region *out)
{
    *out = (struct sysmem_region){0};
    spin_lock(&g_sysmem_lock);
    for (unsigned i = 0; i < g_nresv; i++) {
        if ((int)g_resv[i].region != sys_region)
            continue;
        out->reserved += g_resv[i].end - g_resv[i].start;
        out->ranges++;
        if (out->lo == 0)
            out->lo = g_resv[i].start;
        out->hi = g_resv[i].end;
    }
    spin_unlock(&g_sysmem_lock);
}
