/*
 * buddy.h - the physical frame allocator (binary buddy system over the
 * usable ranges of mm/memmap.h). The design essay is at the top of buddy.c.
 *
 * A block of order k is 2^k contiguous 4 KiB frames whose physical address is
 * a multiple of 2^k frames. Physical address 0 means "no frame".
 */
#ifndef MM_BUDDY_H
#define MM_BUDDY_H

#include <stddef.h>
#include <stdint.h>

#include "mm/memmap.h"

struct boot_info;

/* Orders 0 (4 KiB) .. 18 (1 GiB): 9 backs a 2 MiB page, 18 a 1 GiB page. */
#define FRAME_ORDER_MAX 18
#define FRAME_NORDERS   (FRAME_ORDER_MAX + 1)
#define FRAME_ORDER_2M  9
#define FRAME_ORDER_1G  18

/* frame_alloc flags. */
#define FRAME_ZERO 0x1u /* the block is zero-filled; otherwise its contents are unspecified */
#define FRAME_FLAGS_ALL FRAME_ZERO

/*
 * Who holds a used block: the per-owner counters are the OS half of the
 * "frames in use per region" report (DESIGN.md sections 2 and 3).
 */
enum frame_owner {
    FRAME_OWNER_NONE = 0,  /* free frames; not a valid argument to frame_alloc */
    FRAME_OWNER_METADATA,  /* the allocator's own frame array, carved at init */
    FRAME_OWNER_KERNEL,    /* kernel data: boot-time structures, the OS's own small objects */
    FRAME_OWNER_PAGETABLE, /* page-table pages (mm's paging code) */
    FRAME_OWNER_KSTACK,    /* per-CPU kernel and interrupt stacks */
    FRAME_OWNER_HEAP,      /* runtime heap arenas, committed through sys_* */
    FRAME_OWNER_STACK,     /* runtime coroutine stacks, through sys_* */
    FRAME_OWNER_RTMETA,    /* runtime metadata (spans, bitmaps, per-P data), through sys_* */
    FRAME_OWNER_TEST,      /* tests and benchmarks; must be zero outside them */
    FRAME_OWNER_CACHE,     /* free order-0 frames held in a CPU's cache (kernel); not for callers */
    FRAME_NOWNERS,
};
/* The owners callers may name: FRAME_OWNER_KERNEL .. FRAME_OWNER_CALLERS_END - 1. */
#define FRAME_OWNER_CALLERS_END FRAME_OWNER_CACHE

/* A consistent snapshot of the counters (frames are 4 KiB). */
struct frame_stats {
    uint64_t total_frames;  /* frames managed, the metadata included */
    uint64_t free_frames;
    uint64_t free_blocks[FRAME_NORDERS];
    uint64_t used_frames[FRAME_NOWNERS]; /* per owner; [FRAME_OWNER_NONE] is 0 */
    uint64_t allocs, frees, failed;      /* calls; failed = exhausted allocations */
    uint64_t metadata_bytes;             /* range table + frame array, before rounding */
    uint32_t nranges;
};

/*
 * Set up the allocator over ranges[0..n) (sorted, disjoint, non-adjacent,
 * frame-aligned, as memmap_parse produces), ignoring memory at or above
 * phys_limit. Physical p must be addressable at dmap_base + p: the kernel
 * passes BOOT_DIRECT_MAP_BASE, host tests the address of a buffer minus the
 * physical address it stands for. The per-frame metadata is carved from the
 * end of the highest range that can hold it. Resets any previous state.
 * Panics if the ranges break their contract or nothing is left to manage.
 */
void buddy_init(const struct memmap_range *ranges, unsigned n, phys_addr_t phys_limit,
                uintptr_t dmap_base);

/*
 * Allocate a block of 2^order frames for owner. Returns its physical address,
 * or 0 if no block of that order is free (the caller decides what to do).
 * Panics on an order above FRAME_ORDER_MAX, unknown flags or an invalid owner
 * (FRAME_OWNER_NONE and FRAME_OWNER_METADATA are not for callers).
 */
phys_addr_t frame_alloc(unsigned order, unsigned flags, enum frame_owner owner);

/*
 * Return a block. p and order must be exactly what frame_alloc returned and
 * was asked for. Panics, naming the frame (address, state, order, owner), on
 * a double free, an address never handed out, a tail frame, a misaligned
 * address or an order mismatch.
 */
void frame_free(phys_addr_t p, unsigned order);

/* Where the allocator reaches physical address p (dmap_base + p). */
void *frame_virt(phys_addr_t p);

void frame_stats(struct frame_stats *out);
/* Copies up to max managed ranges (sorted, clipped) to out; returns how many exist. */
unsigned frame_ranges(struct memmap_range *out, unsigned max);
uint64_t frame_free_count(void);
const char *frame_owner_name(enum frame_owner owner);

/* One line about the frame at p: "0x1234000: used head, order 3, owner heap". */
char *frame_describe(phys_addr_t p, char *buf, size_t len);

/*
 * Check every invariant of buddy.c's essay over all metadata and free lists
 * (O(frames)). Panics on the first violation; returns the free blocks seen.
 */
uint64_t buddy_verify(void);

/*
 * Debug level: BUDDY_DEBUG_OFF, _JUNK (junk-fill freed blocks, check free-list
 * node cookies), _VERIFY (also check junk on reuse and the free lists on every
 * call). The default is the compile-time BUDDY_DEBUG; returns the old level.
 */
#define BUDDY_DEBUG_OFF    0
#define BUDDY_DEBUG_JUNK   1
#define BUDDY_DEBUG_VERIFY 2
int buddy_set_debug(int level);

/* Frames in CPU cpu's cache of free order-0 frames (kernel only; 0 on the host). */
unsigned frame_cache_count(unsigned cpu);

/* The allocator's metadata per managed frame (its struct frame), in bytes. */
#define FRAME_METADATA_BYTES 4

/* Byte written over freed blocks at BUDDY_DEBUG_JUNK and above. */
#define FRAME_JUNK 0xfb

#ifdef HOSTED
/*
 * Host builds: a panic calls this hook with the message. The default prints
 * it and aborts; a test may install one that records it and longjmps out.
 * The allocator's state is unchanged when a bad free is detected.
 */
extern void (*buddy_panic_hook)(const char *msg);
#else
/* The kernel's front of the allocator (mm/frame_boot.c). */

/* Kernel: parse the boot map (memmap_boot), then buddy_init over what the
 * loader's direct map covers. kmain calls it once, on the kernel's own stack. */
void frame_init(const struct boot_info *bi);
/* Print the counters through kprintf (the boot report's frame section). */
void frame_report(void);

/* FRAME_LOWMEM_PAGES contiguous frames below 1 MiB that frame_init kept out of
 * the allocator for real-mode code (the SMP trampoline); 0 if the map had none. */
#define FRAME_LOWMEM_PAGES 4
phys_addr_t frame_lowmem(void);
#endif

#endif
