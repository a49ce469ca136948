/*
 * memmap.c - from the firmware's memory map to the frame allocator's ranges.
 *
 * The UEFI map is a list of (type, start, pages) descriptors spaced by a
 * firmware-chosen stride. The spec promises 4 KiB-aligned, non-overlapping
 * entries; firmware does not always keep promises, and a kernel that trusts
 * the map blindly hands out frames that hold ACPI tables or its own image.
 * So memmap_parse() validates what it must and normalizes what it can
 * (see memmap.h for which case is which), in these steps:
 *
 *  1. Check the envelope: stride, map size, entry count against the cap.
 *  2. Per descriptor: skip zero-length entries; reject an end that overflows
 *     or passes the 52-bit physical limit; round an unaligned entry (usable
 *     inward, reserved outward, so rounding never creates usable memory);
 *     classify usable/reserved; count by type.
 *  3. Sort the entries by base (insertion sort: maps are nearly sorted, and
 *     the cap bounds the worst case) and count overlaps.
 *  4. usable = union(usable entries) - union(reserved entries) - frame 0,
 *     computed as one merge of two sorted streams over the sorted entries, so
 *     no scratch storage is needed. Reserved wins on every overlap.
 *
 * Invariant of the result (what mm/buddy.c relies on): m->usable[] is sorted,
 * its ranges are disjoint and non-adjacent, frame-aligned, non-empty, start at
 * or above FRAME_SIZE and end at or below PHYS_ADDR_LIMIT. Holes (the PCI hole
 * below 4 GiB, RAM above it) are simply gaps between ranges.
 *
 * Checked beyond the unit tests: tests/fuzz/fuzz_memmap.c compares step 4 on
 * arbitrary maps with an independent model (cut the line at every entry
 * boundary, classify each piece), and boot_check.c caps the descriptor count
 * at the same BOOT_MMAP_MAX_ENTRIES that sizes the tables here, so a map the
 * kernel accepts never exceeds them.
 *
 * This file is pure logic except the kernel-only report at the end.
 */
#include "mm/memmap.h"

#include "boot/boot_info.h"

#ifdef HOSTED
#include <stdio.h>
#include <string.h>
#define mm_snprintf snprintf
#else
#include "kernel/lib/kprintf.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/string.h"
#define mm_snprintf ksnprintf
#endif

#define FRAME_MASK (FRAME_SIZE - 1)

static const char *const slot_names[MEMMAP_NSLOTS] = {
    [BOOT_EFI_RESERVED] = "reserved",
    [BOOT_EFI_LOADER_CODE] = "loader code",
    [BOOT_EFI_LOADER_DATA] = "loader data",
    [BOOT_EFI_BOOT_SERVICES_CODE] = "boot services code",
    [BOOT_EFI_BOOT_SERVICES_DATA] = "boot services data",
    [BOOT_EFI_RUNTIME_SERVICES_CODE] = "runtime services code",
    [BOOT_EFI_RUNTIME_SERVICES_DATA] = "runtime services data",
    [BOOT_EFI_CONVENTIONAL] = "conventional",
    [BOOT_EFI_UNUSABLE] = "unusable",
    [BOOT_EFI_ACPI_RECLAIM] = "ACPI reclaimable",
    [BOOT_EFI_ACPI_NVS] = "ACPI NVS",
    [BOOT_EFI_MMIO] = "MMIO",
    [BOOT_EFI_MMIO_PORT] = "MMIO port space",
    [BOOT_EFI_PAL_CODE] = "PAL code",
    [BOOT_EFI_PERSISTENT] = "persistent",
    [MEMMAP_SLOT_KERNEL_IMAGE] = "kernel image",
    [MEMMAP_SLOT_BOOT_DATA] = "boot data",
    [MEMMAP_SLOT_OTHER] = "other/unknown",
};
_Static_assert((int)BOOT_EFI_TYPE_COUNT == (int)MEMMAP_SLOT_KERNEL_IMAGE, "slots follow the UEFI types");

static unsigned slot_of(uint32_t type)
{
    if (type < BOOT_EFI_TYPE_COUNT)
        return type;
    if (type == BOOT_MEMTYPE_KERNEL_IMAGE)
        return MEMMAP_SLOT_KERNEL_IMAGE;
    if (type == BOOT_MEMTYPE_BOOT_DATA)
        return MEMMAP_SLOT_BOOT_DATA;
    return MEMMAP_SLOT_OTHER;
}

int memmap_type_usable(uint32_t type)
{
    switch (type) {
    case BOOT_EFI_CONVENTIONAL:
    case BOOT_EFI_BOOT_SERVICES_CODE:
    case BOOT_EFI_BOOT_SERVICES_DATA:
    case BOOT_EFI_LOADER_CODE:
    case BOOT_EFI_LOADER_DATA:
        return 1;
    default:
        /* Runtime services, ACPI (reclaimable only after ACPI is parsed), MMIO,
         * persistent memory, the kernel image, boot data, unknown: reserved. */
        return 0;
    }
}

const char *memmap_slot_name(unsigned slot)
{
    return slot < MEMMAP_NSLOTS ? slot_names[slot] : "?";
}

const char *memmap_type_name(uint32_t type)
{
    return slot_names[slot_of(type)];
}

const char *memmap_strerror(enum memmap_err err)
{
    static const char *const names[MEMMAP_NERRS] = {
        [MEMMAP_OK] = "ok",
        [MEMMAP_E_NULL] = "no map",
        [MEMMAP_E_DESC_SIZE] = "bad descriptor size",
        [MEMMAP_E_MAP_SIZE] = "map size not a multiple of the descriptor size",
        [MEMMAP_E_TOO_MANY] = "too many descriptors",
        [MEMMAP_E_OVERFLOW] = "entry end overflows",
        [MEMMAP_E_BEYOND_PHYS] = "entry beyond the physical address limit",
        [MEMMAP_E_NO_USABLE] = "no usable memory",
    };
    return (unsigned)err < MEMMAP_NERRS ? names[err] : "unknown error";
}

static enum memmap_err fail_entry(struct memmap *m, enum memmap_err code, uint32_t i,
                                  const struct boot_mem_desc *d, uint64_t value)
{
    m->error.code = code;
    m->error.index = i;
    m->error.type = d->type;
    m->error.phys_start = d->phys_start;
    m->error.num_pages = d->num_pages;
    m->error.value = value;
    return code;
}

static enum memmap_err fail(struct memmap *m, enum memmap_err code, uint64_t value)
{
    m->error.code = code;
    m->error.value = value;
    return code;
}

/* Step 2 for one descriptor: validate, round, classify, append. */
static enum memmap_err add_entry(struct memmap *m, uint32_t i, const struct boot_mem_desc *d)
{
    if (d->num_pages == 0) {
        m->notes.zero_length++;
        return MEMMAP_OK;
    }
    if (d->num_pages > (UINT64_MAX >> FRAME_SHIFT) ||
        d->phys_start > UINT64_MAX - (d->num_pages << FRAME_SHIFT))
        return fail_entry(m, MEMMAP_E_OVERFLOW, i, d, 0);
    phys_addr_t end = d->phys_start + (d->num_pages << FRAME_SHIFT);
    if (end > PHYS_ADDR_LIMIT)
        return fail_entry(m, MEMMAP_E_BEYOND_PHYS, i, d, end);

    int usable = memmap_type_usable(d->type);
    phys_addr_t base = d->phys_start;
    if (base & FRAME_MASK) {
        m->notes.unaligned++;
        if (usable) { /* inward: never claim a partial frame */
            base = (base + FRAME_MASK) & ~FRAME_MASK;
            end &= ~FRAME_MASK;
        } else {      /* outward: protect every frame it touches */
            base &= ~FRAME_MASK;
            end = (end + FRAME_MASK) & ~FRAME_MASK; /* end <= 2^52: cannot overflow */
        }
        if (base >= end)
            return MEMMAP_OK; /* a usable sliver smaller than one frame */
    }

    unsigned slot = slot_of(d->type);
    if (slot == MEMMAP_SLOT_OTHER)
        m->notes.unknown_types++;
    m->by_slot[slot].count++;
    m->by_slot[slot].bytes += end - base;
    if (end > m->phys_end)
        m->phys_end = end;
    if (m->nentries > 0 && base < m->entries[m->nentries - 1].base)
        m->notes.out_of_order++;

    struct memmap_entry *e = &m->entries[m->nentries++];
    e->base = base;
    e->end = end;
    e->type = d->type;
    e->index = (uint16_t)i;
    e->usable = (uint8_t)usable;
    e->slot = (uint8_t)slot;
    return MEMMAP_OK;
}

/* Step 3: stable insertion sort by base. */
static void sort_entries(struct memmap *m)
{
    for (uint32_t i = 1; i < m->nentries; i++) {
        struct memmap_entry e = m->entries[i];
        uint32_t j = i;
        while (j > 0 && m->entries[j - 1].base > e.base) {
            m->entries[j] = m->entries[j - 1];
            j--;
        }
        m->entries[j] = e;
    }
}

/*
 * A cursor producing the union of the entries of one class (usable or not)
 * as sorted, disjoint, non-adjacent intervals, straight from the sorted entries.
 */
struct union_cursor {
    const struct memmap *m;
    uint32_t next;  /* next entry to look at */
    uint8_t usable; /* which class */
};

static int union_next(struct union_cursor *c, struct memmap_range *out)
{
    const struct memmap *m = c->m;
    while (c->next < m->nentries && m->entries[c->next].usable != c->usable)
        c->next++;
    if (c->next >= m->nentries)
        return 0;
    out->base = m->entries[c->next].base;
    out->end = m->entries[c->next].end;
    for (c->next++; c->next < m->nentries; c->next++) {
        const struct memmap_entry *e = &m->entries[c->next];
        if (e->base > out->end)
            break; /* sorted: no later entry of either class can touch this interval */
        if (e->usable == c->usable && e->end > out->end)
            out->end = e->end;
    }
    return 1;
}

static void emit_usable(struct memmap *m, phys_addr_t base, phys_addr_t end)
{
    if (base < FRAME_SIZE) { /* frame 0 is never handed out: phys 0 is NULL */
        m->notes.frame0 = 1;
        base = FRAME_SIZE;
    }
    if (base >= end)
        return;
    /* U usable and R reserved intervals yield at most U + R pieces <= nentries. */
    struct memmap_range *r = &m->usable[m->nusable++];
    r->base = base;
    r->end = end;
    m->usable_bytes += end - base;
    if (end > (1ull << 32))
        m->usable_above_4g += end - (base > (1ull << 32) ? base : (1ull << 32));
}

/* Step 4: usable union minus reserved union, one pass over both streams. */
static void build_usable(struct memmap *m)
{
    struct union_cursor uc = { m, 0, 1 }, rc = { m, 0, 0 };
    struct memmap_range u, r;
    int have_r = union_next(&rc, &r);

    while (union_next(&uc, &u)) {
        phys_addr_t cur = u.base;
        while (have_r && r.end <= cur)
            have_r = union_next(&rc, &r);
        while (have_r && r.base < u.end) {
            /* r overlaps [cur, u.end): keep what lies before it, lose the overlap. */
            if (r.base > cur)
                emit_usable(m, cur, r.base);
            phys_addr_t lo = r.base > cur ? r.base : cur;
            phys_addr_t hi = r.end < u.end ? r.end : u.end;
            m->notes.usable_lost += hi - lo;
            cur = hi;
            if (r.end >= u.end)
                break; /* r may cover the next usable interval too */
            have_r = union_next(&rc, &r);
        }
        if (cur < u.end)
            emit_usable(m, cur, u.end);
    }
}

enum memmap_err memmap_parse(const void *descs, uint64_t map_size, uint64_t desc_size,
                             struct memmap *m)
{
    memset(m, 0, sizeof(*m));
    m->desc_size = desc_size;

    /* Step 1: the envelope. */
    if (desc_size < MEMMAP_MIN_DESC_SIZE || desc_size % 8 != 0)
        return fail(m, MEMMAP_E_DESC_SIZE, desc_size);
    if (map_size % desc_size != 0)
        return fail(m, MEMMAP_E_MAP_SIZE, map_size);
    uint64_t n = map_size / desc_size;
    if (n > MEMMAP_MAX_DESCS)
        return fail(m, MEMMAP_E_TOO_MANY, n);
    if (n > 0 && descs == NULL)
        return fail(m, MEMMAP_E_NULL, map_size);
    m->ndescs = (uint32_t)n;

    /* Step 2: each descriptor. */
    for (uint32_t i = 0; i < n; i++) {
        const struct boot_mem_desc *d =
            (const struct boot_mem_desc *)((const char *)descs + (uint64_t)i * desc_size);
        enum memmap_err err = add_entry(m, i, d);
        if (err != MEMMAP_OK)
            return err;
    }

    /* Step 3: order, then overlaps (a sorted list overlaps where a base precedes the running end). */
    sort_entries(m);
    phys_addr_t reach = 0;
    for (uint32_t i = 0; i < m->nentries; i++) {
        if (m->entries[i].base < reach)
            m->notes.overlaps++;
        if (m->entries[i].end > reach)
            reach = m->entries[i].end;
    }

    /* Step 4: the usable ranges. */
    build_usable(m);
    if (m->nusable == 0)
        return fail(m, MEMMAP_E_NO_USABLE, m->ndescs);
    return MEMMAP_OK;
}

char *memmap_format_error(const struct memmap *m, char *buf, size_t len)
{
    const struct memmap_error *e = &m->error;
    switch (e->code) {
    case MEMMAP_OK:
        mm_snprintf(buf, len, "memmap: no error");
        break;
    case MEMMAP_E_NULL:
        mm_snprintf(buf, len, "memmap: map pointer is NULL but the map is %llu bytes",
                    (unsigned long long)e->value);
        break;
    case MEMMAP_E_DESC_SIZE:
        mm_snprintf(buf, len,
                    "memmap: descriptor size %llu is invalid (must be >= %d and a multiple of 8)",
                    (unsigned long long)e->value, MEMMAP_MIN_DESC_SIZE);
        break;
    case MEMMAP_E_MAP_SIZE:
        mm_snprintf(buf, len,
                    "memmap: map size %llu bytes is not a multiple of the descriptor size %llu",
                    (unsigned long long)e->value, (unsigned long long)m->desc_size);
        break;
    case MEMMAP_E_TOO_MANY:
        mm_snprintf(buf, len, "memmap: %llu descriptors exceed the cap of %d (MEMMAP_MAX_DESCS)",
                    (unsigned long long)e->value, MEMMAP_MAX_DESCS);
        break;
    case MEMMAP_E_OVERFLOW:
        mm_snprintf(buf, len,
                    "memmap: entry %u (%s, start %#llx, %llu pages): end overflows 64 bits",
                    e->index, memmap_type_name(e->type), (unsigned long long)e->phys_start,
                    (unsigned long long)e->num_pages);
        break;
    case MEMMAP_E_BEYOND_PHYS:
        mm_snprintf(buf, len,
                    "memmap: entry %u (%s, start %#llx, %llu pages): ends at %#llx, beyond the "
                    "52-bit physical limit %#llx",
                    e->index, memmap_type_name(e->type), (unsigned long long)e->phys_start,
                    (unsigned long long)e->num_pages, (unsigned long long)e->value,
                    (unsigned long long)PHYS_ADDR_LIMIT);
        break;
    case MEMMAP_E_NO_USABLE:
        mm_snprintf(buf, len,
                    "memmap: no usable memory in %llu descriptors (%u zero-length, %llu bytes of "
                    "usable memory covered by reserved entries)",
                    (unsigned long long)e->value, m->notes.zero_length,
                    (unsigned long long)m->notes.usable_lost);
        break;
    default:
        mm_snprintf(buf, len, "memmap: unknown error %d", (int)e->code);
        break;
    }
    return buf;
}

unsigned memmap_largest(const struct memmap *m, unsigned *idx, unsigned n)
{
    unsigned k = 0;
    for (; k < n && k < m->nusable; k++) {
        /* The largest range not yet picked: strictly smaller than the previous
         * pick, or equal in size and later in the list (ties keep address order). */
        unsigned best = m->nusable;
        for (unsigned i = 0; i < m->nusable; i++) {
            uint64_t sz = m->usable[i].end - m->usable[i].base;
            if (k > 0) {
                uint64_t prev = m->usable[idx[k - 1]].end - m->usable[idx[k - 1]].base;
                if (sz > prev || (sz == prev && i <= idx[k - 1]))
                    continue;
            }
            if (best == m->nusable || sz > m->usable[best].end - m->usable[best].base)
                best = i;
        }
        if (best == m->nusable)
            break;
        idx[k] = best;
    }
    return k;
}

void memmap_clip(struct memmap *m, phys_addr_t limit)
{
    limit &= ~FRAME_MASK;
    uint32_t n = 0;
    m->usable_bytes = 0;
    m->usable_above_4g = 0;
    for (uint32_t i = 0; i < m->nusable && m->usable[i].base < limit; i++) {
        struct memmap_range r = m->usable[i];
        if (r.end > limit)
            r.end = limit;
        m->usable[n++] = r;
        m->usable_bytes += r.end - r.base;
        if (r.end > (1ull << 32))
            m->usable_above_4g += r.end - (r.base > (1ull << 32) ? r.base : (1ull << 32));
    }
    m->nusable = n;
}

char *memmap_fmt_size(char *buf, size_t len, uint64_t bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    unsigned u = 0;
    while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes >= (1ull << (10 * (u + 1))))
        u++;
    uint64_t whole = bytes >> (10 * u);
    uint64_t rest = bytes & ((1ull << (10 * u)) - 1);
    if (rest == 0) {
        mm_snprintf(buf, len, "%llu %s", (unsigned long long)whole, units[u]);
    } else {
        /* One decimal, truncated (so 1023.99 KiB never prints as 1024.0 KiB). */
        uint64_t tenth = (rest * 10) >> (10 * u);
        mm_snprintf(buf, len, "%llu.%llu %s", (unsigned long long)whole,
                    (unsigned long long)tenth, units[u]);
    }
    return buf;
}

#ifndef HOSTED
/* ---- Kernel only: the boot map and its report. ---- */

static struct memmap boot_map; /* 40 KiB of .bss: parsed before any allocator exists */
static int boot_map_parsed;

struct memmap *memmap_boot(const struct boot_info *bi)
{
    if (!boot_map_parsed) {
        const void *descs = (const void *)(uintptr_t)(BOOT_DIRECT_MAP_BASE + bi->mmap_phys);
        if (memmap_parse(descs, bi->mmap_size, bi->mmap_desc_size, &boot_map) != MEMMAP_OK) {
            char msg[192];
            panic("%s", memmap_format_error(&boot_map, msg, sizeof(msg)));
        }
        boot_map_parsed = 1;
    }
    return &boot_map;
}

void memmap_report(const struct boot_info *bi)
{
    const struct memmap *m = memmap_boot(bi);
    char s[32];

    kprintf("memmap: %u descriptors (stride %llu, version %u), physical span up to %#llx (%s)\n",
            m->ndescs, (unsigned long long)m->desc_size, bi->mmap_desc_version,
            (unsigned long long)m->phys_end, memmap_fmt_size(s, sizeof(s), m->phys_end));
    kprintf("  %-22s %7s %12s\n", "type", "entries", "size");
    for (unsigned t = 0; t < MEMMAP_NSLOTS; t++) {
        if (m->by_slot[t].count == 0)
            continue;
        int usable = t < BOOT_EFI_TYPE_COUNT && memmap_type_usable(t);
        kprintf("  %-22s %7u %12s%s\n", slot_names[t], m->by_slot[t].count,
                memmap_fmt_size(s, sizeof(s), m->by_slot[t].bytes), usable ? "  usable" : "");
    }
    kprintf("memmap: usable %s in %u ranges", memmap_fmt_size(s, sizeof(s), m->usable_bytes),
            m->nusable);
    if (m->usable_above_4g)
        kprintf(", %s above 4 GiB", memmap_fmt_size(s, sizeof(s), m->usable_above_4g));
    kprintf("; frame 0 %s\n", m->notes.frame0 ? "withheld" : "not usable anyway");

    unsigned idx[4];
    unsigned n = memmap_largest(m, idx, 4);
    for (unsigned i = 0; i < n; i++) {
        const struct memmap_range *r = &m->usable[idx[i]];
        kprintf("  largest: [%#014llx, %#014llx) %s\n", (unsigned long long)r->base,
                (unsigned long long)r->end, memmap_fmt_size(s, sizeof(s), r->end - r->base));
    }

    const struct memmap_notes *no = &m->notes;
    if (no->zero_length || no->unaligned || no->out_of_order || no->overlaps ||
        no->unknown_types || no->usable_lost) {
        kprintf("memmap: normalized: %u zero-length skipped, %u unaligned rounded, "
                "%u out of order sorted, %u overlapping, %u unknown types reserved, "
                "%s usable lost to reserved\n",
                no->zero_length, no->unaligned, no->out_of_order, no->overlaps,
                no->unknown_types, memmap_fmt_size(s, sizeof(s), no->usable_lost));
    }
}
#endif
