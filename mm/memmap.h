/*
 * memmap.h - the firmware's memory map, normalized for the frame allocator.
 *
 * memmap_parse() turns the UEFI memory map handed over in struct boot_info
 * into (a) the descriptors, validated, page-rounded and sorted, and (b) the
 * list of usable physical ranges the buddy allocator (mm/buddy.h) manages:
 * sorted, merged, frame-aligned, never containing frame 0. It is pure logic
 * (no kernel headers) so the host tests run it under ASan/UBSan.
 *
 * Usable memory: conventional, boot-services code/data and loader code/data
 * (boot services are gone and the loader is dead once the kernel runs; what
 * the kernel keeps from the loader has the OS types BOOT_MEMTYPE_KERNEL_IMAGE
 * and BOOT_MEMTYPE_BOOT_DATA). Everything else, unknown types included, is
 * reserved, and reserved wins over usable where they overlap.
 *
 * Normalized (counted in struct memmap_notes, printed by the boot report):
 * unsorted entries, overlapping entries, zero-length entries, unaligned starts
 * (usable ranges shrink inward, reserved ones grow outward), frame 0.
 * Rejected (enum memmap_err, with the offending entry): bad descriptor stride,
 * a map size that is not a whole number of descriptors, more than
 * MEMMAP_MAX_DESCS entries, an end that overflows or lies beyond the 52-bit
 * physical limit, a map without usable memory.
 */
#ifndef MM_MEMMAP_H
#define MM_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot_info.h"

struct boot_info;

typedef uint64_t phys_addr_t;

#define FRAME_SHIFT 12
#define FRAME_SIZE  (1ull << FRAME_SHIFT)
/* x86-64 MAXPHYADDR is at most 52 bits: no range may end above this. */
#define PHYS_ADDR_LIMIT (1ull << 52)

/* Fixed cap on descriptors (OVMF gives ~120 at 512 MiB, large servers a few hundred). */
#define MEMMAP_MAX_DESCS BOOT_MMAP_MAX_ENTRIES /* the hand-over's limit, checked before parsing */
/* Usable ranges: union of U usable minus R reserved intervals has at most U + R pieces. */
#define MEMMAP_MAX_RANGES MEMMAP_MAX_DESCS
/* Smallest legal descriptor stride (sizeof(EFI_MEMORY_DESCRIPTOR) version 1). */
#define MEMMAP_MIN_DESC_SIZE 40

/* A half-open physical interval [base, end), both frame-aligned. */
struct memmap_range {
    phys_addr_t base;
    phys_addr_t end;
};

/* Type slots for the per-type summary: UEFI types 0..14, then the OS types. */
enum memmap_slot {
    MEMMAP_SLOT_KERNEL_IMAGE = 15, /* BOOT_MEMTYPE_KERNEL_IMAGE */
    MEMMAP_SLOT_BOOT_DATA = 16,    /* BOOT_MEMTYPE_BOOT_DATA */
    MEMMAP_SLOT_OTHER = 17,        /* unknown, OEM or other OS types: reserved */
    MEMMAP_NSLOTS = 18,
};

/* One descriptor after validation: page-rounded (see the header comment). */
struct memmap_entry {
    phys_addr_t base;
    phys_addr_t end;   /* > base */
    uint32_t type;     /* the firmware's type, unchanged */
    uint16_t index;    /* position in the firmware's map */
    uint8_t usable;    /* 1 if memmap_type_usable(type) */
    uint8_t slot;      /* enum memmap_slot or the UEFI type */
};

struct memmap_type_stat {
    uint32_t count;
    uint64_t bytes; /* page-rounded sizes; overlaps counted for each entry */
};

/* What was normalized rather than rejected. All zero for a clean map. */
struct memmap_notes {
    uint32_t zero_length;   /* entries with num_pages == 0, skipped */
    uint32_t unaligned;     /* entries whose start was not 4 KiB aligned, rounded */
    uint32_t out_of_order;  /* entries starting below their predecessor (the map was sorted) */
    uint32_t overlaps;      /* entries overlapping an earlier one */
    uint32_t unknown_types; /* types the kernel does not know, kept reserved */
    uint64_t usable_lost;   /* usable bytes dropped because a reserved entry covers them */
    uint32_t frame0;        /* 1 if frame 0 was usable and withheld */
};

enum memmap_err {
    MEMMAP_OK = 0,
    MEMMAP_E_NULL,        /* no map (NULL pointer with a non-zero size) */
    MEMMAP_E_DESC_SIZE,   /* stride < 40 or not a multiple of 8 */
    MEMMAP_E_MAP_SIZE,    /* map size not a multiple of the stride */
    MEMMAP_E_TOO_MANY,    /* more than MEMMAP_MAX_DESCS entries */
    MEMMAP_E_OVERFLOW,    /* start + num_pages * 4 KiB overflows 64 bits */
    MEMMAP_E_BEYOND_PHYS, /* entry ends above PHYS_ADDR_LIMIT */
    MEMMAP_E_NO_USABLE,   /* nothing usable after normalization */
    MEMMAP_NERRS,
};

/* The offending input when memmap_parse fails (what the error message names). */
struct memmap_error {
    enum memmap_err code;
    uint32_t index;     /* descriptor index, when the error is about one entry */
    uint32_t type;
    uint64_t phys_start;
    uint64_t num_pages;
    uint64_t value;     /* the count or size that was out of bounds */
};

struct memmap {
    /* Validated entries, sorted by base (ties keep firmware order). */
    struct memmap_entry entries[MEMMAP_MAX_DESCS];
    uint32_t nentries;
    /* Usable RAM: sorted, disjoint, non-adjacent, frame-aligned, base >= FRAME_SIZE. */
    struct memmap_range usable[MEMMAP_MAX_RANGES];
    uint32_t nusable;
    uint64_t usable_bytes;  /* sum over usable[] */
    uint64_t usable_above_4g;
    phys_addr_t phys_end;   /* highest end of any entry */

    uint32_t ndescs;        /* descriptors in the firmware's map */
    uint64_t desc_size;
    struct memmap_type_stat by_slot[MEMMAP_NSLOTS];
    struct memmap_notes notes;
    struct memmap_error error; /* valid when memmap_parse returned non-zero */
};

/*
 * Parse map_size bytes of descriptors spaced desc_size apart into *out.
 * Returns MEMMAP_OK or an error; on error out->error names the cause and
 * memmap_format_error() renders it. Never reads past map_size bytes.
 */
enum memmap_err memmap_parse(const void *descs, uint64_t map_size, uint64_t desc_size,
                             struct memmap *out);

/* 1 if frames of this firmware type may be given to the frame allocator. */
int memmap_type_usable(uint32_t type);
/* Short name of a type ("conventional", "kernel image", ...). */
const char *memmap_type_name(uint32_t type);
const char *memmap_slot_name(unsigned slot);
const char *memmap_strerror(enum memmap_err err);
/* Render m->error into buf as a one-line message; returns buf. */
char *memmap_format_error(const struct memmap *m, char *buf, size_t len);

/* Indices of the n largest usable ranges, largest first; returns how many were written. */
unsigned memmap_largest(const struct memmap *m, unsigned *idx, unsigned n);

/* Drop usable memory at or above limit (e.g. beyond what the direct map covers). */
void memmap_clip(struct memmap *m, phys_addr_t limit);

/* Render bytes as "505.3 MiB" (integer arithmetic only); returns buf. */
char *memmap_fmt_size(char *buf, size_t len, uint64_t bytes);

#ifndef HOSTED
/* Kernel only. The boot map, parsed once (panics with the error message if invalid). */
struct memmap *memmap_boot(const struct boot_info *bi);
/* Print the boot report of the memory map through kprintf. */
void memmap_report(const struct boot_info *bi);
#endif

#endif
