/*
 * frame_boot.c - the kernel's front of the frame allocator (mm/buddy.c):
 * from the loader's memory map to buddy_init, and the boot report.
 *
 * frame_init: 1. copy the usable ranges memmap_boot parsed; 2. keep
 * FRAME_LOWMEM_PAGES frames below 1 MiB out of the allocator for real-mode
 * code (the SMP trampoline): the top pages of the highest usable range below
 * 1 MiB, splitting a range that crosses 1 MiB and dropping one left empty;
 * 3. buddy_init over those ranges, up to what the loader's direct map covers
 * (BOOT_DIRECT_MAP_BASE). No low memory just means no APs (kernel/smp.c).
 *
 * Kernel only: buddy.c builds hosted too, this file needs the boot map.
 * Called once from kmain, on the boot CPU, before any other CPU runs.
 */
#include "mm/buddy.h"

#include "boot/boot_info.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/panic.h"
#include "mm/memmap.h"

static phys_addr_t g_lowmem; /* FRAME_LOWMEM_PAGES below 1 MiB, kept out of the buddy */

void frame_init(const struct boot_info *bi)
{
    static struct memmap_range ranges[MEMMAP_MAX_RANGES];
    const struct memmap *m = memmap_boot(bi);
    unsigned n = m->nusable;
    for (unsigned i = 0; i < n; i++)
        ranges[i] = m->usable[i];
    /* Low memory for real-mode code (the SMP trampoline): the top pages of the
     * highest usable range below 1 MiB. No such memory just means no APs. */
    const phys_addr_t need = FRAME_LOWMEM_PAGES * FRAME_SIZE, limit = 0x100000;
    for (unsigned i = n; i-- > 0;) {
        phys_addr_t top = ranges[i].end < limit ? ranges[i].end : limit;
        if (ranges[i].base < top && top - ranges[i].base >= need) {
            g_lowmem = top - need;
            if (top < ranges[i].end) { /* the range crosses 1 MiB: keep the part above */
                if (n == MEMMAP_MAX_RANGES)
                    panic("frame_init: no room to split range %u around low memory", i);
                for (unsigned j = n; j > i + 1; j--)
                    ranges[j] = ranges[j - 1];
                ranges[i + 1] = (struct memmap_range){top, ranges[i].end};
                n++;
            }
            ranges[i].end = g_lowmem;
            if (ranges[i].base == ranges[i].end) { /* nothing left of it */
                for (unsigned j = i; j + 1 < n; j++)
                    ranges[j] = ranges[j + 1];
                n--;
            }
            break;
        }
    }
    buddy_init(ranges, n, bi->direct_map_size, (uintptr_t)BOOT_DIRECT_MAP_BASE);
}

phys_addr_t frame_lowmem(void) { return g_lowmem; }

void frame_report(void)
{
    struct frame_stats s;
    char a[24], b[24], c[24], d[24];
    frame_stats(&s);
    kprintf("frames: %s managed in %u ranges, %s free, metadata %s (%s per GiB)\n",
            memmap_fmt_size(a, sizeof(a), s.total_frames * FRAME_SIZE), s.nranges,
            memmap_fmt_size(b, sizeof(b), s.free_frames * FRAME_SIZE),
            memmap_fmt_size(c, sizeof(c), s.metadata_bytes),
            memmap_fmt_size(d, sizeof(d), (uint64_t)FRAME_METADATA_BYTES << (30 - FRAME_SHIFT)));
    kprintf("  free blocks by order:");
    for (unsigned k = 0; k < FRAME_NORDERS; k++)
        if (s.free_blocks[k])
            kprintf(" %u:%llu", k, (unsigned long long)s.free_blocks[k]);
    kprintf("\n  used by owner:");
    for (unsigned o = 1; o < FRAME_NOWNERS; o++)
        if (s.used_frames[o])
            kprintf(" %s %s", frame_owner_name(o),
                    memmap_fmt_size(a, sizeof(a), s.used_frames[o] * FRAME_SIZE));
    kprintf("\n");
}
