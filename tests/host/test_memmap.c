/*
 * test_memmap.c - mm/memmap.c on synthetic UEFI memory maps, under ASan/UBSan.
 *
 * Fixed maps check each normalization and each rejection named in memmap.h
 * (with the offending entry in the message); a seeded random test checks the
 * usable ranges against a page-by-page model on maps full of overlaps,
 * unsorted, unaligned and zero-length entries.
 *
 * The seed is TEST_SEED=N, or a fresh one; it is printed ("# seed=N").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot_info.h"
#include "mm/memmap.h"
#include "tests/host/tap.h"
#include "tests/xorshift.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define PG  4096ull

/* ---- Building maps. ---- */

#define MAXD (MEMMAP_MAX_DESCS + 8)

struct mapbuf {
    uint64_t stride;
    uint32_t n;
    _Alignas(8) unsigned char bytes[MAXD * 64];
};

static struct mapbuf mb;
static struct memmap m; /* 40 KiB: static, like the kernel's */

static void map_reset(uint64_t stride)
{
    memset(&mb, 0xa5, sizeof(mb)); /* stride padding is garbage, as firmware may leave it */
    mb.stride = stride;
    mb.n = 0;
}

static void add(uint32_t type, uint64_t start, uint64_t pages)
{
    struct boot_mem_desc d = { .type = type, .pad = 0, .phys_start = start,
                               .virt_start = 0, .num_pages = pages, .attribute = 0xf };
    memcpy(mb.bytes + (uint64_t)mb.n * mb.stride, &d, sizeof(d));
    mb.n++;
}

static enum memmap_err parse(void)
{
    return memmap_parse(mb.bytes, (uint64_t)mb.n * mb.stride, mb.stride, &m);
}

static int ranges_are(const struct memmap_range *want, unsigned n)
{
    int ok = m.nusable == n;
    for (unsigned i = 0; ok && i < n; i++)
        ok = m.usable[i].base == want[i].base && m.usable[i].end == want[i].end;
    if (!ok) {
        tap_diag("usable ranges: got %u, want %u", m.nusable, n);
        for (unsigned i = 0; i < m.nusable && i < 12; i++)
            tap_diag("  got  [%#llx, %#llx)", (unsigned long long)m.usable[i].base,
                     (unsigned long long)m.usable[i].end);
        for (unsigned i = 0; i < n; i++)
            tap_diag("  want [%#llx, %#llx)", (unsigned long long)want[i].base,
                     (unsigned long long)want[i].end);
    }
    return ok;
}

static int notes_zero_but_frame0(void)
{
    struct memmap_notes z = { 0 };
    z.frame0 = m.notes.frame0;
    return memcmp(&z, &m.notes, sizeof(z)) == 0;
}

/* Checks the invariant memmap.h promises about usable[]. */
static int usable_invariant(void)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < m.nusable; i++) {
        const struct memmap_range *r = &m.usable[i];
        if ((r->base | r->end) % PG || r->base >= r->end || r->base < PG ||
            r->end > PHYS_ADDR_LIMIT || (i > 0 && r->base <= m.usable[i - 1].end)) {
            tap_diag("range %u [%#llx, %#llx) breaks the invariant", i,
                     (unsigned long long)r->base, (unsigned long long)r->end);
            return 0;
        }
        sum += r->end - r->base;
    }
    return sum == m.usable_bytes;
}

static int error_says(enum memmap_err want, const char *needle)
{
    char msg[256];
    memmap_format_error(&m, msg, sizeof(msg));
    int ok = m.error.code == want && strstr(msg, needle) != NULL;
    tap_diag("message: %s", msg);
    return ok;
}

/* An OVMF-like map at 512 MiB (abridged): what `make run` parses. */
static void ovmf_like(void)
{
    add(BOOT_EFI_BOOT_SERVICES_CODE, 0x0, 1);
    add(BOOT_EFI_CONVENTIONAL, 0x1000, 0x9f);
    add(BOOT_EFI_CONVENTIONAL, 0x100000, 0x700);
    add(BOOT_EFI_ACPI_NVS, 0x800000, 0x8);
    add(BOOT_EFI_CONVENTIONAL, 0x808000, 0x8);
    add(BOOT_EFI_ACPI_NVS, 0x810000, 0xf0);
    add(BOOT_EFI_BOOT_SERVICES_DATA, 0x900000, 0x100);
    add(BOOT_EFI_CONVENTIONAL, 0xa00000, 0x1000);
    add(BOOT_MEMTYPE_KERNEL_IMAGE, 0x1a00000, 0x80);
    add(BOOT_EFI_LOADER_DATA, 0x1a80000, 0x10);
    add(BOOT_MEMTYPE_BOOT_DATA, 0x1a90000, 0x20);
    add(BOOT_EFI_CONVENTIONAL, 0x1ab0000, 0x1c000 - 0x1ab0);
    add(BOOT_EFI_RUNTIME_SERVICES_DATA, 0x1c000000, 0x100);
    add(BOOT_EFI_BOOT_SERVICES_CODE, 0x1c100000, 0x200);
    add(BOOT_EFI_ACPI_RECLAIM, 0x1c300000, 0x10);
    add(BOOT_EFI_CONVENTIONAL, 0x1c310000, 0x20000 - 0x1c310);
    add(BOOT_EFI_MMIO, 0xffc00000, 0x400);
}

/* ---- Fixed maps. ---- */

static void test_clean(void)
{
    map_reset(48);
    ovmf_like();
    enum memmap_err e = parse();
    const struct memmap_range want[] = {
        { 0x1000, 0xa0000 },         /* frame 0 (boot services code) withheld */
        { 0x100000, 0x800000 },      { 0x808000, 0x810000 },
        { 0x900000, 0x1a00000 },     /* boot services data + conventional, merged */
        { 0x1a80000, 0x1a90000 },    /* loader data: dead once the kernel runs */
        { 0x1ab0000, 0x1c000000 },   { 0x1c100000, 0x1c300000 },
        { 0x1c310000, 0x20000000 },
    };
    tap_check(e == MEMMAP_OK && ranges_are(want, 8) && usable_invariant(),
              "memmap.clean: OVMF-like map gives the expected usable ranges");
    tap_check(m.notes.frame0 == 1 && notes_zero_but_frame0(),
              "memmap.clean: nothing normalized but frame 0");
    tap_check(m.ndescs == 17 && m.nentries == 17 && m.phys_end == 0x100000000ull &&
                  m.by_slot[BOOT_EFI_CONVENTIONAL].count == 6 &&
                  m.by_slot[MEMMAP_SLOT_KERNEL_IMAGE].count == 1 &&
                  m.by_slot[MEMMAP_SLOT_KERNEL_IMAGE].bytes == 0x80 * PG &&
                  m.by_slot[MEMMAP_SLOT_BOOT_DATA].bytes == 0x20 * PG &&
                  m.by_slot[BOOT_EFI_ACPI_NVS].count == 2 && m.usable_above_4g == 0,
              "memmap.clean: counts by type and physical span");
    uint64_t sum = 0;
    for (unsigned i = 0; i < 8; i++)
        sum += want[i].end - want[i].base;
    tap_check(m.usable_bytes == sum, "memmap.clean: usable bytes %llu == %llu",
              (unsigned long long)m.usable_bytes, (unsigned long long)sum);

    unsigned idx[3];
    unsigned n = memmap_largest(&m, idx, 3);
    tap_check(n == 3 && idx[0] == 5 && idx[1] == 7 && idx[2] == 3,
              "memmap.largest: ranges by size, largest first (got %u: %u %u %u)", n, idx[0],
              idx[1], idx[2]);

    map_reset(40); /* the minimal stride */
    ovmf_like();
    tap_check(parse() == MEMMAP_OK && ranges_are(want, 8), "memmap.stride40: same map, stride 40");
}

static void test_types(void)
{
    map_reset(48);
    uint64_t a = 0x100000;
    for (uint32_t t = 0; t < BOOT_EFI_TYPE_COUNT; t++, a += 0x100000)
        add(t, a, 0x10); /* 64 KiB each, separated by holes */
    add(BOOT_MEMTYPE_KERNEL_IMAGE, a, 0x10);
    add(BOOT_MEMTYPE_BOOT_DATA, a + 0x100000, 0x10);
    add(0x70000000u, a + 0x200000, 0x10); /* OEM type */
    add(15, a + 0x300000, 0x10);          /* unaccepted memory (UEFI 2.9): unknown here */
    int ok = parse() == MEMMAP_OK && m.nusable == 5 && m.notes.unknown_types == 2 &&
             m.by_slot[MEMMAP_SLOT_OTHER].count == 2;
    const uint32_t usable[] = { BOOT_EFI_LOADER_CODE, BOOT_EFI_LOADER_DATA,
                                BOOT_EFI_BOOT_SERVICES_CODE, BOOT_EFI_BOOT_SERVICES_DATA,
                                BOOT_EFI_CONVENTIONAL };
    for (unsigned i = 0; ok && i < 5; i++)
        ok = m.usable[i].base == 0x100000 * (usable[i] + 1) &&
             m.usable[i].end == 0x100000 * (usable[i] + 1) + 0x10000;
    tap_check(ok, "memmap.types: only loader, boot services and conventional are usable");
    tap_check(memmap_type_usable(BOOT_EFI_PERSISTENT) == 0 &&
                  memmap_type_usable(BOOT_EFI_ACPI_RECLAIM) == 0 &&
                  memmap_type_usable(BOOT_MEMTYPE_BOOT_DATA) == 0 &&
                  memmap_type_usable(BOOT_MEMTYPE_KERNEL_IMAGE) == 0 &&
                  strcmp(memmap_type_name(BOOT_MEMTYPE_BOOT_DATA), "boot data") == 0 &&
                  strcmp(memmap_type_name(0x70000000u), "other/unknown") == 0,
              "memmap.types: persistent, ACPI, kernel image, boot data stay reserved; names");
}

static void test_unsorted(void)
{
    map_reset(48);
    ovmf_like();
    struct memmap_range sorted[MEMMAP_MAX_RANGES];
    parse();
    unsigned n = m.nusable;
    memcpy(sorted, m.usable, n * sizeof(sorted[0]));

    /* Reverse the descriptors. */
    struct mapbuf copy = mb;
    for (uint32_t i = 0; i < mb.n; i++)
        memcpy(mb.bytes + i * mb.stride, copy.bytes + (mb.n - 1 - i) * mb.stride, mb.stride);
    enum memmap_err e = parse();
    int sorted_entries = 1;
    for (uint32_t i = 1; i < m.nentries; i++)
        sorted_entries &= m.entries[i - 1].base <= m.entries[i].base;
    tap_check(e == MEMMAP_OK && ranges_are(sorted, n) && m.notes.out_of_order == 16 &&
                  sorted_entries && m.entries[0].index == 16,
              "memmap.unsorted: a reversed map gives the same ranges (out of order: %u)",
              m.notes.out_of_order);
}

static void test_overlaps(void)
{
    map_reset(48);
    add(BOOT_EFI_CONVENTIONAL, 0x100000, 0x100);      /* [1M, 2M) */
    add(BOOT_EFI_BOOT_SERVICES_DATA, 0x180000, 0x100); /* [1.5M, 2.5M): usable on usable */
    add(BOOT_EFI_CONVENTIONAL, 0x400000, 0x400);      /* [4M, 8M) */
    add(BOOT_EFI_ACPI_RECLAIM, 0x500000, 0x10);       /* [5M, 5M+64K): reserved inside */
    add(BOOT_MEMTYPE_KERNEL_IMAGE, 0x7f0000, 0x20);   /* [8M-64K, 8M+64K): straddles the end */
    add(BOOT_EFI_CONVENTIONAL, 0x1000000, 0x100);     /* [16M, 17M) */
    add(BOOT_EFI_CONVENTIONAL, 0x1200000, 0x100);     /* [18M, 19M) */
    add(BOOT_EFI_RESERVED, 0x10f0000, 0x120);         /* [17M-64K, 18M+64K): over both */
    add(BOOT_EFI_MMIO, 0x10f8000, 0x1);               /* reserved on reserved */
    enum memmap_err e = parse();
    const struct memmap_range want[] = {
        { 0x100000, 0x280000 }, { 0x400000, 0x500000 }, { 0x510000, 0x7f0000 },
        { 0x1000000, 0x10f0000 }, { 0x1210000, 0x1300000 },
    };
    tap_check(e == MEMMAP_OK && ranges_are(want, 5) && usable_invariant(),
              "memmap.overlap: usable merged, reserved wins over usable");
    tap_check(m.notes.overlaps == 6 && m.notes.usable_lost == 4 * 0x10000,
              "memmap.overlap: 6 overlaps counted, 256 KiB of usable lost (got %u, %llu)",
              m.notes.overlaps, (unsigned long long)m.notes.usable_lost);

    /* A reserved entry covering everything leaves nothing. */
    map_reset(48);
    add(BOOT_EFI_CONVENTIONAL, 0x100000, 0x100);
    add(BOOT_EFI_CONVENTIONAL, 0x300000, 0x100);
    add(BOOT_EFI_UNUSABLE, 0x0, 0x1000);
    tap_check(parse() == MEMMAP_E_NO_USABLE && error_says(MEMMAP_E_NO_USABLE, "no usable"),
              "memmap.overlap: reserved covering all usable memory is rejected");
}

static void test_zero_length(void)
{
    map_reset(48);
    add(BOOT_EFI_CONVENTIONAL, 0x100000, 0x100);
    add(BOOT_EFI_CONVENTIONAL, 0x200000, 0);
    add(BOOT_EFI_ACPI_NVS, 0x180000, 0); /* zero-length reserved must not cut anything */
    add(BOOT_EFI_CONVENTIONAL, 0x200000, 0x100);
    const struct memmap_range want[] = { { 0x100000, 0x300000 } };
    tap_check(parse() == MEMMAP_OK && ranges_are(want, 1) && m.notes.zero_length == 2 &&
                  m.nentries == 2 && m.by_slot[BOOT_EFI_ACPI_NVS].count == 0,
              "memmap.zero_length: skipped and counted, adjacent ranges merged");
}

static void test_unaligned(void)
{
    map_reset(48);
    add(BOOT_EFI_CONVENTIONAL, 0x100800, 0x10);  /* [1M+2K, 1M+66K): inward -> [1M+4K, 1M+64K) */
    add(BOOT_EFI_CONVENTIONAL, 0x200000, 0x10);  /* [2M, 2M+64K) */
    add(BOOT_EFI_ACPI_NVS, 0x20f800, 0x1);       /* [2M+62K, 2M+66K): outward -> [2M+60K, 2M+68K) */
    add(BOOT_EFI_CONVENTIONAL, 0x300010, 0x1);   /* less than one whole frame: vanishes */
    const struct memmap_range want[] = { { 0x101000, 0x110000 }, { 0x200000, 0x20f000 } };
    tap_check(parse() == MEMMAP_OK && ranges_are(want, 2) && m.notes.unaligned == 3 &&
                  m.notes.usable_lost == 0x1000 && usable_invariant(),
              "memmap.unaligned: usable rounded inward, reserved outward");
}

static void test_overflow_and_limit(void)
{
    map_reset(48);
    add(BOOT_EFI_CONVENTIONAL, 0x100000, 0x100);
    add(BOOT_EFI_MMIO, 0xfffffffffffff000ull, 2); /* end wraps */
    tap_check(parse() == MEMMAP_E_OVERFLOW && m.error.index == 1 &&
                  error_says(MEMMAP_E_OVERFLOW, "entry 1 (MMIO"),
              "memmap.overflow: an end that wraps is rejected, naming the entry");

    map_reset(48);
    add(BOOT_EFI_CONVENTIONAL, 0x1000, 1ull << 60); /* pages * 4 KiB itself overflows */
    tap_check(parse() == MEMMAP_E_OVERFLOW && m.error.index == 0,
              "memmap.overflow: a page count whose byte size overflows is rejected");

    map_reset(48);
    add(BOOT_EFI_CONVENTIONAL, 0x100000, 0x100);
    add(BOOT_EFI_CONVENTIONAL, PHYS_ADDR_LIMIT - 0x10000, 0x11); /* ends 4 KiB past 2^52 */
    tap_check(parse() == MEMMAP_E_BEYOND_PHYS && m.error.index == 1 &&
                  m.error.value == PHYS_ADDR_LIMIT + 0x1000 && error_says(MEMMAP_E_BEYOND_PHYS, "52-bit"),
              "memmap.limit: an entry ending beyond 2^52 is rejected");

    map_reset(48);
    add(BOOT_EFI_CONVENTIONAL, PHYS_ADDR_LIMIT - 0x10000, 0x10); /* ends exactly at 2^52 */
    tap_check(parse() == MEMMAP_OK && m.nusable == 1 && m.usable[0].end == PHYS_ADDR_LIMIT,
              "memmap.limit: an entry ending exactly at 2^52 is accepted");
}

static void test_envelope(void)
{
    static const uint64_t bad[] = { 0, 8, 32, 39, 44, 52, 60 };
    int ok = 1;
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        map_reset(48);
        add(BOOT_EFI_CONVENTIONAL, 0x100000, 0x10);
        ok &= memmap_parse(mb.bytes, bad[i] ? 2 * bad[i] : 96, bad[i], &m) == MEMMAP_E_DESC_SIZE &&
              m.error.value == bad[i];
    }
    tap_check(ok && error_says(MEMMAP_E_DESC_SIZE, "descriptor size 60"),
              "memmap.desc_size: strides < 40 or not a multiple of 8 are rejected");
    ok = 1;
    static const uint64_t good[] = { 40, 48, 56, 64 };
    for (unsigned i = 0; i < 4; i++) {
        map_reset(good[i]);
        ovmf_like();
        ok &= parse() == MEMMAP_OK && m.nusable == 8;
    }
    tap_check(ok, "memmap.desc_size: strides 40, 48, 56, 64 are read correctly");

    map_reset(48);
    ovmf_like();
    tap_check(memmap_parse(mb.bytes, 48 * 3 + 8, 48, &m) == MEMMAP_E_MAP_SIZE &&
                  error_says(MEMMAP_E_MAP_SIZE, "152 bytes"),
              "memmap.map_size: a partial descriptor is rejected");

    tap_check(memmap_parse(NULL, 96, 48, &m) == MEMMAP_E_NULL && error_says(MEMMAP_E_NULL, "NULL"),
              "memmap.null: NULL map with a size is rejected");
    tap_check(memmap_parse(NULL, 0, 48, &m) == MEMMAP_E_NO_USABLE,
              "memmap.empty: an empty map has no usable memory");

    map_reset(48);
    for (unsigned i = 0; i < MEMMAP_MAX_DESCS; i++)
        add(i % 2 ? BOOT_EFI_CONVENTIONAL : BOOT_EFI_ACPI_NVS, 0x100000 + i * 0x2000ull, 1);
    enum memmap_err e = parse();
    tap_check(e == MEMMAP_OK && m.nusable == MEMMAP_MAX_DESCS / 2 && usable_invariant(),
              "memmap.cap: exactly MEMMAP_MAX_DESCS entries are accepted");
    add(BOOT_EFI_CONVENTIONAL, 0x10000000, 1);
    tap_check(parse() == MEMMAP_E_TOO_MANY && m.error.value == MEMMAP_MAX_DESCS + 1 &&
                  error_says(MEMMAP_E_TOO_MANY, "1025 descriptors"),
              "memmap.cap: one more is rejected");
}

static void test_above_4g(void)
{
    map_reset(48);
    add(BOOT_EFI_CONVENTIONAL, 0x100000, (2 * GiB - 0x100000) / PG); /* [1M, 2G) */
    add(BOOT_EFI_MMIO, 0xe0000000, 0x10000);                          /* PCI hole */
    add(BOOT_EFI_CONVENTIONAL, 4 * GiB, 2 * GiB / PG);                /* [4G, 6G) */
    add(BOOT_EFI_RESERVED, 6 * GiB, 0x100);                           /* reserved in between */
    add(BOOT_EFI_CONVENTIONAL, 8 * GiB, GiB / PG);                    /* [8G, 9G) after a hole */
    add(BOOT_EFI_CONVENTIONAL, 0x1000, 0x9f);
    const struct memmap_range want[] = {
        { 0x1000, 0xa0000 }, { 0x100000, 2 * GiB }, { 4 * GiB, 6 * GiB }, { 8 * GiB, 9 * GiB },
    };
    tap_check(parse() == MEMMAP_OK && ranges_are(want, 4) && m.usable_above_4g == 3 * GiB &&
                  m.phys_end == 9 * GiB && usable_invariant(),
              "memmap.above_4g: RAM above 4 GiB with holes becomes separate ranges");
}

static void test_no_usable(void)
{
    map_reset(48);
    add(BOOT_EFI_CONVENTIONAL, 0, 1); /* only frame 0 */
    add(BOOT_EFI_ACPI_NVS, 0x100000, 0x100);
    tap_check(parse() == MEMMAP_E_NO_USABLE && m.notes.frame0 == 1 &&
                  error_says(MEMMAP_E_NO_USABLE, "no usable memory in 2 descriptors"),
              "memmap.no_usable: a map whose only usable frame is frame 0 is rejected");
}

static void test_fmt_size(void)
{
    char b[32];
    struct { uint64_t v; const char *s; } cases[] = {
        { 0, "0 B" }, { 1023, "1023 B" }, { 4096, "4 KiB" }, { 1536 * KiB, "1.5 MiB" },
        { 505 * MiB + 300 * KiB, "505.2 MiB" }, { 6 * GiB, "6 GiB" }, { 2 * GiB - 1, "1.9 GiB" },
        { UINT64_MAX, "15.9 EiB" },
    };
    int ok = 1;
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memmap_fmt_size(b, sizeof(b), cases[i].v);
        if (strcmp(b, cases[i].s) != 0) {
            tap_diag("fmt_size(%llu) = \"%s\", want \"%s\"", (unsigned long long)cases[i].v, b,
                     cases[i].s);
            ok = 0;
        }
    }
    tap_check(ok, "memmap.fmt_size: sizes in binary units with one truncated decimal");
}

/* ---- Random maps against a page model. ---- */

static uint64_t rng_state;
static uint64_t rnd(void) { return xorshift64star(&rng_state); }

#define MODEL_PAGES 2048 /* 8 MiB of physical space */

static void test_random(uint64_t seed)
{
    static const uint32_t types[] = { BOOT_EFI_CONVENTIONAL, BOOT_EFI_CONVENTIONAL,
                                      BOOT_EFI_BOOT_SERVICES_DATA, BOOT_EFI_LOADER_CODE,
                                      BOOT_EFI_ACPI_NVS, BOOT_EFI_RESERVED,
                                      BOOT_MEMTYPE_KERNEL_IMAGE, 0x7fffffffu };
    int failures = 0;
    rng_state = seed;
    for (int round = 0; round < 2000 && failures == 0; round++) {
        static signed char usable[MODEL_PAGES], reserved[MODEL_PAGES];
        memset(usable, 0, sizeof(usable));
        memset(reserved, 0, sizeof(reserved));
        map_reset(rnd() % 2 ? 48 : 40);
        unsigned n = 1 + rnd() % 40;
        for (unsigned i = 0; i < n; i++) {
            uint32_t type = types[rnd() % 8];
            uint64_t start = (rnd() % (MODEL_PAGES - 4)) * PG;
            if (rnd() % 8 == 0)
                start += 8 * (rnd() % 512); /* unaligned */
            uint64_t pages = rnd() % 8 == 0 ? 0 : 1 + rnd() % 300;
            if (start / PG + pages + 1 >= MODEL_PAGES)
                pages = MODEL_PAGES - start / PG - 2;
            add(type, start, pages);
            /* The model: usable covers whole pages inside, reserved every page touched. */
            uint64_t end = start + pages * PG;
            if (pages == 0)
                continue;
            if (memmap_type_usable(type)) {
                for (uint64_t p = (start + PG - 1) / PG; p < end / PG; p++)
                    usable[p] = 1;
            } else {
                for (uint64_t p = start / PG; p < (end + PG - 1) / PG; p++)
                    reserved[p] = 1;
            }
        }
        enum memmap_err e = parse();
        uint64_t want_bytes = 0;
        for (unsigned p = 1; p < MODEL_PAGES; p++)
            want_bytes += usable[p] && !reserved[p] ? PG : 0;
        if (want_bytes == 0) {
            if (e != MEMMAP_E_NO_USABLE) {
                tap_diag("seed %llu round %d: want no usable memory, got %s",
                         (unsigned long long)seed, round, memmap_strerror(e));
                failures++;
            }
            continue;
        }
        if (e != MEMMAP_OK || !usable_invariant() || m.usable_bytes != want_bytes) {
            tap_diag("seed %llu round %d: %s, usable %llu bytes, model %llu",
                     (unsigned long long)seed, round, memmap_strerror(e),
                     (unsigned long long)m.usable_bytes, (unsigned long long)want_bytes);
            failures++;
            continue;
        }
        for (unsigned i = 0; i < m.nusable; i++)
            for (uint64_t p = m.usable[i].base / PG; p < m.usable[i].end / PG; p++)
                if (!usable[p] || reserved[p]) {
                    tap_diag("seed %llu round %d: page %#llx handed out but the model says %s",
                             (unsigned long long)seed, round, (unsigned long long)p * PG,
                             reserved[p] ? "reserved" : "not usable");
                    failures++;
                    break;
                }
    }
    tap_check(failures == 0, "memmap.random: 2000 hostile random maps match the page model (seed %llu)",
              (unsigned long long)seed);
}

int main(void)
{
    uint64_t seed = tap_seed(); /* TEST_SEED=N, or fresh; never 0 (xorshift's fixed point) */

    test_clean();
    test_types();
    test_unsorted();
    test_overlaps();
    test_zero_length();
    test_unaligned();
    test_overflow_and_limit();
    test_envelope();
    test_above_4g();
    test_no_usable();
    test_fmt_size();
    test_random(seed);
    return tap_done();
}
