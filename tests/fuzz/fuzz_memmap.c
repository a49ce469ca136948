/*
 * fuzz_memmap.c - mm/memmap.c on arbitrary UEFI memory maps.
 *
 * Input: one byte choosing the descriptor stride (40, 48, 56 or 64; with the
 * top bit set, the byte itself, so bad strides are tried too), then the
 * descriptors. Oracle: an independent model of the usable ranges. It does
 * not merge sorted streams as memmap.c does; it cuts the address line at
 * every entry boundary and asks, for each elementary piece, "covered by a
 * usable entry, by no reserved entry, and not frame 0?", then joins adjacent
 * pieces. The result must equal m.usable[] exactly, and the error (if any)
 * must be the one the model expects.
 */
#include <stdbool.h>

#include "mm/memmap.h"
#include "tests/fuzz/fuzz.h"

#define PAGE 4096ull
#define MAX_MODEL 256 /* descriptors the model handles (the fuzzer's max_len keeps below it) */

struct piece {
    uint64_t base, end;
    bool usable;
};

static bool usable_type(uint32_t t) { return t == 1 || t == 2 || t == 3 || t == 4 || t == 7; }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static struct memmap m;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel = (uint8_t)fuzz_take(&data, &size, 1);
    uint64_t stride = (sel & 0x80) ? sel & 0x7f : 40 + 8 * (sel % 4);
    uint8_t *map = fuzz_dup(data, size);
    enum memmap_err err = memmap_parse(map, size, stride, &m);

    /* The envelope. */
    enum memmap_err want = MEMMAP_OK;
    if (stride < 40 || stride % 8)
        want = MEMMAP_E_DESC_SIZE;
    else if (size % stride)
        want = MEMMAP_E_MAP_SIZE;
    else if (size / stride > MEMMAP_MAX_DESCS)
        want = MEMMAP_E_TOO_MANY;
    if (err != MEMMAP_OK) { /* the message the boot report prints: says something, fits */
        char msg[192]; /* memmap_boot's buffer */
        memmap_format_error(&m, msg, sizeof(msg));
        FUZZ_CHECK(msg[0] != '\0' && strlen(msg) < sizeof(msg) - 1, "error %d renders as \"%s\"", err, msg);
    }
    if (want != MEMMAP_OK || size / stride > MAX_MODEL) {
        FUZZ_CHECK(want == MEMMAP_OK || err == want, "envelope: got %d, want %d", err, want);
        free(map);
        return 0;
    }

    /* Each descriptor, in firmware order: the first bad one is the error. */
    static struct piece e[MAX_MODEL];
    unsigned n = 0;
    for (uint64_t i = 0; i < size / stride && want == MEMMAP_OK; i++) {
        const uint8_t *d = map + i * stride;
        uint32_t type = (uint32_t)fuzz_le(d, 4);
        uint64_t start = fuzz_le(d + 8, 8), pages = fuzz_le(d + 24, 8);
        if (pages == 0)
            continue;
        unsigned __int128 end = (unsigned __int128)start + ((unsigned __int128)pages << 12);
        if (end > UINT64_MAX) {
            want = MEMMAP_E_OVERFLOW;
            break;
        }
        if (end > PHYS_ADDR_LIMIT) {
            want = MEMMAP_E_BEYOND_PHYS;
            break;
        }
        bool u = usable_type(type);
        uint64_t b = start, en = (uint64_t)end;
        if (u) { /* inward */
            b = (b + PAGE - 1) & ~(PAGE - 1);
            en &= ~(PAGE - 1);
        } else { /* outward */
            b &= ~(PAGE - 1);
            en = (en + PAGE - 1) & ~(PAGE - 1);
        }
        if (b < en)
            e[n++] = (struct piece){ b, en, u };
    }
    if (want != MEMMAP_OK) {
        FUZZ_CHECK(err == want, "descriptors: got %d, want %d", err, want);
        free(map);
        return 0;
    }

    /* Usable = covered by a usable entry, by no reserved one, and >= frame 1. */
    static uint64_t cut[2 * MAX_MODEL + 1];
    unsigned ncut = 0;
    for (unsigned i = 0; i < n; i++) {
        cut[ncut++] = e[i].base;
        cut[ncut++] = e[i].end;
    }
    cut[ncut++] = PAGE;
    qsort(cut, ncut, sizeof(cut[0]), cmp_u64);
    static struct memmap_range model[2 * MAX_MODEL];
    unsigned nmodel = 0;
    uint64_t bytes = 0;
    for (unsigned c = 0; c + 1 < ncut; c++) {
        uint64_t lo = cut[c], hi = cut[c + 1];
        if (lo == hi || lo < PAGE)
            continue;
        bool in_u = false, in_r = false;
        for (unsigned i = 0; i < n; i++) {
            if (e[i].base <= lo && e[i].end >= hi) {
                in_u |= e[i].usable;
                in_r |= !e[i].usable;
            }
        }
        if (!in_u || in_r)
            continue;
        if (nmodel > 0 && model[nmodel - 1].end == lo)
            model[nmodel - 1].end = hi;
        else
            model[nmodel++] = (struct memmap_range){ lo, hi };
        bytes += hi - lo;
    }

    if (nmodel == 0) {
        FUZZ_CHECK(err == MEMMAP_E_NO_USABLE, "model has no usable memory, memmap says %d", err);
    } else {
        FUZZ_CHECK(err == MEMMAP_OK, "model has %u usable ranges, memmap failed with %d", nmodel, err);
        FUZZ_CHECK(m.nusable == nmodel, "memmap has %u ranges, model %u", m.nusable, nmodel);
        for (unsigned i = 0; i < nmodel; i++)
            FUZZ_CHECK(m.usable[i].base == model[i].base && m.usable[i].end == model[i].end,
                       "range %u: memmap [0x%llx, 0x%llx), model [0x%llx, 0x%llx)", i,
                       (unsigned long long)m.usable[i].base, (unsigned long long)m.usable[i].end,
                       (unsigned long long)model[i].base, (unsigned long long)model[i].end);
        FUZZ_CHECK(m.usable_bytes == bytes, "usable_bytes %llu, model %llu", (unsigned long long)m.usable_bytes,
                   (unsigned long long)bytes);
        for (unsigned i = 1; i < m.nentries; i++)
            FUZZ_CHECK(m.entries[i - 1].base <= m.entries[i].base, "entries not sorted at %u", i);
    }
    free(map);
    return 0;
}
