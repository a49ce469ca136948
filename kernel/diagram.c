/*
 * diagram.c - the memory drawn: three box diagrams and one allocation's path,
 * with this boot's live addresses and sizes in every box.
 *
 * The notes this project started from (../shared/seeds, the first note) draw
 * three pictures: an OS process's memory top to bottom by address (kernel
 * space, stack, heap, bss, data, text), the Go runtime's memory (heap
 * objects, runtime structures, goroutine stacks, runtime globals), and the
 * two combined. Here each is drawn from the running system instead of from
 * a textbook, so a student can check every box against the code:
 *
 *   diagram_os    mm/layout.h's regions high to low, the kernel image's
 *                 sections (kernel/sections.h), what the page tables map in
 *                 each region (paging_stats), what sys_* has reserved in the
 *                 runtime's three (sysmem_region_stats), and the physical
 *                 frames per owner (frame_stats). The low half and the
 *                 non-canonical hole are drawn too: where a Unix process
 *                 keeps its text, data, heap and stack, nothing is mapped.
 *   diagram_rt    rt_read_heap_view (rt/heapview.c): each arena's pages as
 *                 a map, spans per size class and where they sit (an mcache,
 *                 mcentral's partial or full list), each P's mcache, stacks,
 *                 the off-heap metadata (MemStats' *Sys fields), and the
 *                 runtime's own structures with their addresses.
 *   diagram_both  the OS regions again, each with the runtime structures
 *                 whose addresses fall inside it (layout_region_of on the
 *                 view's places, so the nesting is computed, not drawn from
 *                 memory), and an arrow from each runtime region to the
 *                 frames its pages took: sys_map + sys_used -> frames of
 *                 owner heap / stack / rtmeta (mm/sysmem.c).
 *   diagram_follow one object: rt_view_object (mcache, span, mcentral,
 *                 arena, page), sysmem_describe (its page's sys_* state),
 *                 pgwalk_path (the four page-table levels) and
 *                 frame_describe (the frame and its owner).
 *
 * Drawing: boxes nest; d_open/d_line/d_close keep every line DIAG_COLS
 * columns wide whatever the depth. Box characters are UTF-8, so widths are
 * counted in code points (every character used is one column wide); a line
 * longer than its box wraps at a space. Output goes through kprintf only;
 * nothing here allocates, so it may be drawn at any point of a run (the
 * runtime's counts are approximate while a P allocates: rt.h).
 */
#include "kernel/diagram.h"

#include <stdarg.h>
#include <stdbool.h>

#include "kernel/lib/kprintf.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/string.h"
#include "kernel/pgwalk.h"
#include "kernel/sections.h"
#include "mm/buddy.h"
#include "mm/kstack.h"
#include "mm/layout.h"
#include "mm/paging.h"
#include "mm/sysmem.h"
#include "rt/rt.h"
#include "rt/sched.h"
#include "rt/sys.h"

#define DIAG_COLS 104 /* every diagram line, borders included */

/* ---- boxes ---- */

static int d_depth; /* boxes open */

static unsigned columns(const char *s, unsigned nbytes)
{
    unsigned n = 0;
    for (unsigned i = 0; i < nbytes && s[i]; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

static void repeat(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        kprintf("%s", s);
}

static void d_borders_left(void) { repeat("│ ", d_depth); }
static void d_borders_right(void) { repeat(" │", d_depth); }
static int d_width(void) { return DIAG_COLS - 4 * d_depth; }

/* One text line inside the open boxes: wrapped at a space if too long. */
static void d_text(const char *text)
{
    int width = d_width();
    const char *p = text;
    bool first = true;
    while (first || *p) {
        int indent = first ? 0 : 4;
        unsigned len = (unsigned)strlen(p), cut = len;
        if ((int)columns(p, len) > width - indent) {
            unsigned i = 0, cols = 0, last_space = 0;
            for (; p[i] && (int)cols < width - indent; i++) {
                cols += ((unsigned char)p[i] & 0xc0) != 0x80;
                if (p[i] == ' ')
                    last_space = i;
            }
            while (p[i] && ((unsigned char)p[i] & 0xc0) == 0x80)
                i++;
            cut = last_space > 0 ? last_space : i;
        }
        d_borders_left();
        repeat(" ", indent);
        kprintf("%.*s", (int)cut, p);
        repeat(" ", width - indent - (int)columns(p, cut));
        d_borders_right();
        kprintf("\n");
        p += cut;
        while (*p == ' ')
            p++;
        first = false;
    }
}

KPRINTF_FMT(1, 2) static void d_line(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    d_text(buf);
}

KPRINTF_FMT(1, 2) static void d_open(const char *fmt, ...)
{
    char title[256];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(title, sizeof title, fmt, ap);
    va_end(ap);
    int width = d_width(), cols = (int)columns(title, sizeof title);
    d_borders_left();
    kprintf("┌─ %s ", title); /* titles are kept shorter than their box */
    repeat("─", width - 4 - cols - 1);
    kprintf("┐");
    d_borders_right();
    kprintf("\n");
    d_depth++;
}

static void d_close(void)
{
    d_depth--;
    d_borders_left();
    kprintf("└");
    repeat("─", d_width() - 2);
    kprintf("┘");
    d_borders_right();
    kprintf("\n");
}

/* ---- numbers ---- */

/* bytes in the largest unit that keeps at least 10 of them whole: "2612 KiB". */
static const char *human(uint64_t bytes, char buf[24])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    unsigned u = 0;
    while (bytes >= 10240 && u < 5) {
        bytes >>= 10;
        u++;
    }
    ksnprintf(buf, 24, "%lu %s", (unsigned long)bytes, units[u]);
    return buf;
}

static uint64_t frames_of(const struct frame_stats *fs, enum frame_owner o) { return fs->used_frames[o]; }

/* ---- the OS's view ---- */

struct section {
    const char *name, *perms, *what;
    uintptr_t lo, hi;
};

static void os_image_sections(void)
{
    const struct section secs[] = {
        {"ksyms", "R ", "symbols for the backtraces", (uintptr_t)__ksyms_start,
         (uintptr_t)__ksyms_end},
        {"bss", "RW", "zeroed globals: mheap_, rt_sched, MemStats; boot stacks",
         (uintptr_t)__bss_start, (uintptr_t)__bss_end},
        {"data", "RW", "initialised globals (RT_NOSCAN first: no root)", (uintptr_t)__data_start,
         (uintptr_t)__data_end},
        {"rodata", "R ", "constants, strings, size classes, tests", (uintptr_t)__rodata_start,
         (uintptr_t)__rodata_end},
        {"text", "RX", "code: the kernel and the runtime", (uintptr_t)__text_start,
         (uintptr_t)__text_end},
    };
    for (unsigned i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        char b[24];
        d_line("%-6s 0x%016lx-0x%016lx %8s %s  %s", secs[i].name, (unsigned long)secs[i].lo,
               (unsigned long)secs[i].hi - 1, human(secs[i].hi - secs[i].lo, b), secs[i].perms, secs[i].what);
    }
}

static const int region_sys[REGION_COUNT] = {
    [REGION_DIRECT_MAP] = -1, [REGION_RT_HEAP] = SYS_REGION_HEAP, [REGION_RT_STACK] = SYS_REGION_STACK,
    [REGION_RT_META] = SYS_REGION_META, [REGION_KVMAP] = -1, [REGION_KSTACK] = -1, [REGION_KERNEL] = -1,
};

static const enum frame_owner region_frames[REGION_COUNT] = {
    [REGION_RT_HEAP] = FRAME_OWNER_HEAP,   [REGION_RT_STACK] = FRAME_OWNER_STACK,
    [REGION_RT_META] = FRAME_OWNER_RTMETA, [REGION_KVMAP] = FRAME_OWNER_TEST,
    [REGION_KSTACK] = FRAME_OWNER_KSTACK,
};

/* What a Unix process calls the part of its address space a region plays. */
static const char *const region_unix_role[REGION_COUNT] = {
    [REGION_DIRECT_MAP] = "kernel space: its window on all of RAM",
    [REGION_RT_HEAP] = "in a Unix process: the heap (brk and mmap)",
    [REGION_RT_STACK] = "in a Unix process: the stack, here one small growing stack per coroutine",
    [REGION_RT_META] = "in a Unix process: the allocator's own mmap'd bookkeeping",
    [REGION_KVMAP] = "kernel space",
    [REGION_KSTACK] = "kernel space: an M's g0 stack is its CPU's kernel stack",
    [REGION_KERNEL] = "a process's text, data and bss, for the kernel and the runtime at once",
};

static void os_region_box(enum layout_region_id r, const struct paging_stats *ps, const struct frame_stats *fs)
{
    const struct layout_region *lr = &layout_regions[r];
    char b1[24], b2[24], b3[24];
    d_open("%s  0x%016lx-0x%016lx  %s  owner: %s", lr->name, (unsigned long)lr->base,
           (unsigned long)(lr->base + lr->size - 1), human(lr->size, b1), lr->owner);
    d_line("%s; %s", lr->what, region_unix_role[r]);
    if (region_sys[r] >= 0) {
        struct sysmem_region sr;
        sysmem_region_stats(region_sys[r], &sr);
        char span[64] = "";
        if (sr.ranges)
            ksnprintf(span, sizeof span, " within [0x%lx, 0x%lx)", (unsigned long)sr.lo, (unsigned long)sr.hi);
        d_line("sys_* reserved %s in %u range(s)%s; the page tables map %s (Ready); %lu frames (owner %s)",
               human(sr.reserved, b1), sr.ranges, span, human(ps->mapped_bytes[r], b2),
               (unsigned long)frames_of(fs, region_frames[r]), frame_owner_name(region_frames[r]));
        if (sr.ranges)
            d_line("(the rest of the region is unreserved: any access faults, and the report names it)");
    } else if (r == REGION_KERNEL) {
        os_image_sections();
        d_line("mapped %s from the loader's frames (not the frame allocator's)", human(ps->mapped_bytes[r], b1));
    } else if (r == REGION_KSTACK) {
        for (unsigned c = 1; c < cpu_count(); c++)
            d_line("CPU %u: slot 0x%016lx: a %s kernel stack and %d IST stacks, each above an unmapped guard "
                   "page", c, (unsigned long)(LAYOUT_KSTACK_BASE + (uint64_t)c * KSTACK_SLOT_SIZE),
                   human(KSTACK_SIZE, b1), KSTACK_NIST);
        d_line("mapped %s, %lu frames (owner kstack); CPU 0 runs on its boot stack in .bss",
               human(ps->mapped_bytes[r], b1), (unsigned long)frames_of(fs, FRAME_OWNER_KSTACK));
    } else if (r == REGION_KVMAP) {
        d_line("mapped %s", human(ps->mapped_bytes[r], b1));
    } else if (r == REGION_DIRECT_MAP) {
        d_line("all %s of physical space with %s pages: physical p is at 0x%lx + p",
               human(ps->direct_map_bytes, b1), ps->direct_map_page_size == (1ull << 30) ? "1 GiB" : "2 MiB",
               (unsigned long)LAYOUT_DIRECT_MAP_BASE);
        d_open("physical frames (mm/buddy.c): %s managed", human(fs->total_frames * 4096, b1));
        d_line("free %lu frames (%s); page tables %lu frames in %lu table pages", (unsigned long)fs->free_frames,
               human(fs->free_frames * 4096, b2), (unsigned long)frames_of(fs, FRAME_OWNER_PAGETABLE),
               (unsigned long)ps->table_pages);
        char line[256];
        int n = ksnprintf(line, sizeof line, "in use by owner:");
        for (int o = FRAME_OWNER_METADATA; o < FRAME_NOWNERS && n < (int)sizeof line; o++)
            if (fs->used_frames[o])
                n += ksnprintf(line + n, sizeof line - (size_t)n, " %s %lu (%s)",
                               frame_owner_name((enum frame_owner)o), (unsigned long)fs->used_frames[o],
                               human(fs->used_frames[o] * 4096, b3));
        d_text(line);
        d_close();
    }
    d_close();
}

void diagram_os(void)
{
    struct paging_stats ps;
    struct frame_stats fs;
    paging_stats(&ps);
    frame_stats(&fs);
    kprintf("\n");
    d_open("the OS's view: this kernel's virtual address space, high to low (mm/layout.h, live)");
    d_line("0xffffffffffffffff  the top: 4-level paging gives 48-bit addresses, two halves of 128 TiB");
    for (int r = REGION_COUNT - 1; r >= 0; r--) {
        os_region_box((enum layout_region_id)r, &ps, &fs);
        if (r == REGION_KVMAP)
            d_line("   ... (unused kernel-half addresses between regions fault: 'in no region')");
    }
    d_line("0x0000800000000000-0xffff7fffffffffff  the non-canonical hole: no such addresses (#GP)");
    d_open("the low half  0x0000000000000000-0x00007fffffffffff  128 TiB  owner: nobody");
    d_line("where a Unix process keeps its text, data, bss, heap and stack; here nothing is mapped (the "
           "loader's identity map was dropped at boot), so NULL and small integers fault");
    d_close();
    d_line("0x0000000000000000");
    d_close();
}

/* ---- the runtime's view ---- */

RT_NOSCAN static struct rt_heap_view g_view;   /* 20 KiB: not on a coroutine's small stack; its heap
                                                * addresses are figures, not roots */
static struct rt_memstats g_ms;

static void rt_arenas_box(const struct rt_heap_view *v)
{
    char b1[24], b2[24];
    d_open("the heap: %u arena(s) of 64 MiB (mheap_.arenas): objects the collector manages", v->narenas);
    for (uint32_t k = 0; k < v->narenas && k < RT_VIEW_ARENAS; k++) {
        const typeof(v->arenas[0]) *a = &v->arenas[k];
        d_line("arena %u  0x%016lx-0x%016lx: %u of 8192 pages (8 KiB) mapped, %u in %u spans, %u free "
               "(%u released to the OS)", k, (unsigned long)a->base, (unsigned long)(a->base + a->size - 1),
               a->pages_mapped, a->pages_in_spans, a->spans, a->pages_free, a->pages_released);
        d_line("  [%s]  128 pages per cell, low to high: # in spans  = free  _ released  . not mapped",
               a->pagemap);
    }
    if (v->narenas > RT_VIEW_ARENAS)
        d_line("(%u more arenas not drawn)", v->narenas - RT_VIEW_ARENAS);
    d_open("mspans by size class: in use now, and where each sits");
    d_line("%5s %7s %5s %6s %6s %9s %9s  %s", "class", "size", "pages", "scan", "noscan", "slots", "allocated",
           "held by");
    unsigned shown = 0;
    for (unsigned c = 1; c < RT_VIEW_CLASSES; c++) {
        const typeof(v->classes[0]) *k = &v->classes[c];
        if (k->spans[0] + k->spans[1] == 0)
            continue;
        shown++;
        char unswept[24] = "";
        if (k->unswept)
            ksnprintf(unswept, sizeof unswept, " (%u unswept)", k->unswept);
        d_line("%5u %5u B %5u %6u %6u %9lu %9lu  %u mcache, %u mcentral partial, %u full%s", c, k->size,
               k->pages_per_span, k->spans[0], k->spans[1], (unsigned long)(k->slots[0] + k->slots[1]),
               (unsigned long)(k->allocated[0] + k->allocated[1]), k->cached, k->partial, k->full, unswept);
    }
    if (shown == 0)
        d_line("(no small-object spans in use)");
    d_line("large objects (class 0: a span of their own): %u span(s), %s", v->classes[0].spans[0] + v->classes[0].spans[1],
           human(v->classes[0].large_bytes, b1));
    d_line("free page runs (mheap_.free, best fit): %u runs, %lu pages = %s", v->free_runs,
           (unsigned long)v->free_pages, human(v->free_pages * 8192, b2));
    d_close();
    d_close();
}

static void rt_caches_box(const struct rt_heap_view *v)
{
    char b1[24];
    d_open("mcentral: one per span class (136 in mheap_): the spans no P holds, swept or not");
    d_line("a P whose span fills asks its class's mcentral for one with free slots (partial list), sweeping "
           "one first if needed; full spans wait there for the sweeper. sweepgen now %u", v->sweepgen);
    d_close();
    d_open("mcache: one per P, no lock: a span per class, and a 16-byte tiny block for small noscan bits");
    for (uint32_t p = 0; p < v->nprocs; p++) {
        if (v->procs[p].mcache == 0)
            continue;
        char tiny[64] = "no tiny block";
        if (v->procs[p].tiny)
            ksnprintf(tiny, sizeof tiny, "tiny block 0x%lx (%u of 16 B used)", (unsigned long)v->procs[p].tiny,
                      v->procs[p].tiny_used);
        d_line("P %u: mcache at 0x%016lx: %u span(s) cached, %u free slots in them; %s", p,
               (unsigned long)v->procs[p].mcache, v->procs[p].spans, v->procs[p].free_slots, tiny);
    }
    d_close();
    d_open("coroutine stacks (rt/stack.c): 4 KiB at first, doubled by copying, halved at GC");
    d_line("StackInuse %s held by coroutines, StackSys %s mapped; each stack sits above an unmapped guard page",
           human(g_ms.stack_inuse, b1), human(g_ms.stack_sys, (char[24]){0}));
    d_line("the system stacks (g0): each M runs the scheduler and the collector's stops on its CPU's own "
           "kernel stack");
    d_close();
    d_open("off-heap metadata: fixalloc and persistent chunks, never collected");
    d_line("mspan structs %s of %s (MSpanInuse/Sys); mcaches %s of %s (MCacheInuse/Sys)",
           human(g_ms.mspan_inuse, b1), human(g_ms.mspan_sys, (char[24]){0}), human(g_ms.mcache_inuse, (char[24]){0}),
           human(g_ms.mcache_sys, (char[24]){0}));
    d_line("mark and alloc bits, heap bitmaps, span maps: %s (GCSys); G structs, Ps, Ms and the rest: %s "
           "(OtherSys)", human(g_ms.gc_sys, b1), human(g_ms.other_sys, (char[24]){0}));
    d_close();
}

void diagram_rt(void)
{
    rt_read_heap_view(&g_view);
    rt_read_memstats(&g_ms);
    const struct rt_heap_view *v = &g_view;
    char b1[24], b2[24];
    kprintf("\n");
    d_open("the runtime's view: the memory rt/ manages (Go's mheap, mcentral, mcache, stacks; live)");
    d_line("HeapSys %s = HeapInuse %s in spans + HeapIdle %s free (HeapReleased %s of it given back); "
           "HeapAlloc %s in %lu objects", human(g_ms.heap_sys, b1), human(g_ms.heap_inuse, b2),
           human(g_ms.heap_idle, (char[24]){0}), human(g_ms.heap_released, (char[24]){0}),
           human(g_ms.heap_alloc, (char[24]){0}), (unsigned long)g_ms.heap_objects);
    rt_arenas_box(v);
    rt_caches_box(v);
    d_open("the runtime's own structures, by address (%u)", v->nplaces);
    for (uint32_t i = 0; i < v->nplaces; i++)
        d_line("0x%016lx %8s  %-21s %s", (unsigned long)v->places[i].addr, human(v->places[i].size, b1),
               v->places[i].name, v->places[i].what);
    d_close();
    d_close();
}

/* ---- both ---- */

static const char *const region_both_note[REGION_COUNT] = {
    [REGION_DIRECT_MAP] = "every frame drawn above is also here, at this base + its physical address: the frame "
                          "allocator's window (it keeps its own metadata here too)",
    [REGION_RT_HEAP] = "the arenas: sys_reserve 64 MiB each, sys_map as the heap grows, sys_used when a page is "
                       "first handed out, sys_unused when the scavenger gives it back",
    [REGION_RT_STACK] = "coroutine stacks, carved from chunks of up to 32 slots per size",
    [REGION_RT_META] = "what the runtime allocates for itself: span structs, bitmaps, mcaches, Ps, Ms, G structs",
    [REGION_KVMAP] = "nothing of the runtime: the kernel's own mappings",
    [REGION_KSTACK] = "each CPU's kernel stack is its M's g0 stack: the scheduler's and the stops' frames",
    [REGION_KERNEL] = "the runtime's globals live in the image's bss and data: the collector scans both as "
                      "roots (the RT_NOSCAN tables excepted)",
};

void diagram_both(void)
{
    rt_read_heap_view(&g_view);
    rt_read_memstats(&g_ms);
    struct paging_stats ps;
    struct frame_stats fs;
    paging_stats(&ps);
    frame_stats(&fs);
    char b1[24], b2[24];
    kprintf("\n");
    d_open("both views: each OS region, the runtime structures inside it, and who owns its pages");
    for (int r = REGION_COUNT - 1; r >= 0; r--) {
        const struct layout_region *lr = &layout_regions[r];
        d_open("%s  0x%016lx  (OS region, owner: %s)", lr->name, (unsigned long)lr->base, lr->owner);
        d_line("%s", region_both_note[r]);
        for (uint32_t i = 0; i < g_view.nplaces; i++)
            if (layout_region_of(g_view.places[i].addr) == (enum layout_region_id)r)
                d_line("  %-22s 0x%016lx %9s", g_view.places[i].name, (unsigned long)g_view.places[i].addr,
                       human(g_view.places[i].size, b1));
        if (r == REGION_RT_HEAP)
            d_line("  HeapInuse %s in spans, HeapIdle %s free, of it HeapReleased %s not backed by frames",
                   human(g_ms.heap_inuse, b1), human(g_ms.heap_idle, b2), human(g_ms.heap_released, (char[24]){0}));
        if (r == REGION_RT_STACK)
            d_line("  StackInuse %s, StackSys %s", human(g_ms.stack_inuse, b1), human(g_ms.stack_sys, b2));
        if (region_sys[r] >= 0)
            d_line("──► sys_map + sys_used: %lu frames of owner %s (%s) from the frame allocator, "
                   "mapped %s in the page tables", (unsigned long)frames_of(&fs, region_frames[r]),
                   frame_owner_name(region_frames[r]), human(frames_of(&fs, region_frames[r]) * 4096, b1),
                   human(ps.mapped_bytes[r], b2));
        if (r == REGION_RT_HEAP)
            d_line("    (HeapSys - HeapReleased = %s: the heap's Ready pages, one frame per 4 KiB)",
                   human(g_ms.heap_sys - g_ms.heap_released, b1));
        if (r == REGION_KSTACK)
            d_line("──► %lu frames of owner kstack", (unsigned long)frames_of(&fs, FRAME_OWNER_KSTACK));
        if (r == REGION_DIRECT_MAP)
            d_line("──► all %lu managed frames: %lu free", (unsigned long)fs.total_frames,
                   (unsigned long)fs.free_frames);
        d_close();
    }
    d_close();
}

/* ---- one address, one object ---- */

static const char *const level_names[4] = {"PML4", "PDPT", "PD", "PT"};

static void entry_flags(uint64_t e, char *buf, size_t len)
{
    if (!(e & PTE_P)) {
        ksnprintf(buf, len, " not present");
        return;
    }
    ksnprintf(buf, len, " present%s%s%s%s", e & PTE_W ? " writable" : " read-only", e & PTE_U ? " user" : " supervisor",
              e & PTE_NX ? " no-exec" : " exec", e & PTE_PS ? " large" : "");
}

void diagram_walk(uint64_t va)
{
    if (!va_canonical(va)) {
        kprintf("walk %#lx: not a canonical address (bits 63..47 must all be equal): the CPU faults on it\n",
                (unsigned long)va);
        return;
    }
    enum layout_region_id r = layout_region_of(va);
    if (r == REGION_NONE)
        kprintf("walk %#lx: in no region of the layout\n", (unsigned long)va);
    else
        kprintf("walk %#lx: region '%s' (%s): %s\n", (unsigned long)va, layout_regions[r].name,
                layout_regions[r].owner, layout_regions[r].what);
    uint64_t entry[4];
    unsigned index[4];
    int n = pgwalk_path(va, entry, index);
    for (int i = 0; i < n; i++) {
        char flags[80];
        entry_flags(entry[i], flags, sizeof flags);
        kprintf("  %-4s[%3u] = 0x%016lx%s\n", level_names[i], index[i], (unsigned long)entry[i], flags);
    }
    uint64_t last = n > 0 ? entry[n - 1] : 0;
    int leaf_level = 4 - n; /* 3 = PML4 ... 0 = PT */
    if (n > 0 && (last & PTE_P) && leaf_level > 0 && !(leaf_level <= 2 && (last & PTE_PS))) {
        kprintf("  the next table lies outside the direct map: the walk stops here\n");
        return;
    }
    char what[120];
    if (n == 0 || !(last & PTE_P)) {
        if (layout_describe(va, what, sizeof what))
            kprintf("  not mapped: %s\n", what);
        else
            kprintf("  not mapped\n");
        return;
    }
    uint64_t page = 1ull << (12 + 9 * leaf_level);
    uint64_t pa = (last & PTE_ADDR_MASK & ~(page - 1)) + (va & (page - 1));
    kprintf("  -> physical 0x%lx in a %lu KiB page; its frame: %s\n", (unsigned long)pa, (unsigned long)(page >> 10),
            frame_describe(pa & ~0xfffull, what, sizeof what));
}

void diagram_follow(const void *obj, const char *how)
{
    struct rt_object_view o;
    if (how != NULL)
        kprintf("\nfollow one allocation: %s returned %p\n", how, obj);
    else
        kprintf("follow %p:\n", obj);
    if (!rt_view_object(obj, &o)) {
        kprintf("  %p is not inside a live heap object: nothing to follow\n", obj);
        return;
    }
    char b1[24], what[120];
    if (o.sizeclass != 0)
        kprintf("  1. mcache    span class %u (size class %u, %u B, %s); the object is slot %u of %u (%u "
                "allocated)\n", o.sizeclass * 2 + o.noscan, o.sizeclass, (unsigned)o.size,
                o.noscan ? "noscan" : "scan", o.slot, o.nelems, o.allocated);
    else
        kprintf("  1. mcache    a large object (%s): no mcache or mcentral, its own span straight from the "
                "page heap\n", human(o.size, b1));
    if (o.cached_by >= 0)
        kprintf("               the span is P %d's mcache's: the next slot of this class comes from it, "
                "without a lock\n", o.cached_by);
    else if (o.sizeclass != 0)
        kprintf("               no mcache holds the span now (%s)\n", o.list);
    kprintf("  2. mspan     span 0x%lx, %lu page(s) of 8 KiB; its struct mspan at 0x%lx (runtime metadata); "
            "mark bit %d; %s\n", (unsigned long)o.span, (unsigned long)o.span_pages, (unsigned long)o.mspan,
            o.marked, o.list);
    if (o.sizeclass != 0)
        kprintf("  3. mcentral  class %u %s at 0x%lx (inside mheap_): where the mcache got this span with free "
                "slots, and where it goes back\n", o.sizeclass, o.noscan ? "noscan" : "scan",
                (unsigned long)o.mcentral);
    kprintf("  4. mheap     arena 0x%lx, page %u of 8192: the arena's span map sends the page to the span\n",
            (unsigned long)o.arena, o.arena_page);
    if (!sysmem_describe(o.base, what, sizeof what))
        ksnprintf(what, sizeof what, "outside the runtime regions");
    kprintf("  5. sys_*     %s (mm/sysmem.c: its page went Reserved -> Prepared -> Ready)\n", what);
    uint64_t entry[4];
    unsigned index[4];
    int n = pgwalk_path(o.base, entry, index);
    kprintf("  6. paging   ");
    for (int i = 0; i < n; i++)
        kprintf(" %s[%u]=0x%lx", level_names[i], index[i], (unsigned long)entry[i]);
    kprintf("\n");
    uint64_t page_size, pa;
    unsigned prot;
    if (!vm_translate(o.base, &pa, &prot, &page_size))
        kprintf("  7. frame     not mapped\n");
    else
        kprintf("  7. frame     physical 0x%lx in frame %s\n", (unsigned long)pa,
                frame_describe(pa & ~0xfffull, what, sizeof what));
}

/* ---- coroutines ---- */

#define STACKS_SHOWN 64
static struct rt_g_view g_gs[STACKS_SHOWN];

void diagram_stacks(void)
{
    size_t n = rt_read_goroutines(g_gs, STACKS_SHOWN);
    kprintf("stacks: %lu live coroutine(s)%s\n", (unsigned long)n, n > STACKS_SHOWN ? " (the newest 64 shown)" : "");
    kprintf("  %6s %-8s %-37s %7s %8s %8s %6s\n", "id", "status", "stack [lo, hi)", "size", "in use", "deepest",
            "copies");
    for (size_t i = 0; i < n && i < STACKS_SHOWN; i++) {
        const struct rt_g_view *g = &g_gs[i];
        char used[16] = "?";
        if (g->used)
            ksnprintf(used, sizeof used, "%lu", (unsigned long)g->used);
        kprintf("  %6lu %-8s [0x%016lx, 0x%016lx) %5lu K %8s %8lu %6u%s%s\n", (unsigned long)g->id, g->status,
                (unsigned long)g->stack_lo, (unsigned long)g->stack_hi,
                (unsigned long)((g->stack_hi - g->stack_lo) >> 10), used, (unsigned long)g->max_used, g->ncopies,
                g->system ? " (runtime)" : "", g->self ? " (this one)" : "");
    }
}
