/*
 * fuzz_rt_span.c - a span's allocation bits (rt/mspan.c and the fast path in
 * rt/mspan.h) on arbitrary bitmaps.
 *
 * Input: nelems, a starting freeindex, a byte choosing fast or slow path per
 * step, then the alloc_bits words (zero past the input). The bitmap is a heap
 * block of exactly ceil(nelems / 64) words, so a read past the span's last
 * word is caught. Oracle: allocating until the span is full yields exactly
 * the slots whose bit is 0, from freeindex up, in order, each once; the fast
 * path's address is startaddr + slot * elemsize and it counts alloc_count.
 */
#include <stdbool.h>

#include "rt/mspan.h"
#include "rt/port.h"
#include "tests/fuzz/fuzz.h"

static bool bit(const uint64_t *w, unsigned i) { return (w[i / 64] >> (i % 64)) & 1; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned nelems = 1 + (unsigned)(fuzz_take(&data, &size, 2) % 1024);
    unsigned start = (unsigned)(fuzz_take(&data, &size, 2) % (nelems + 1));
    uint64_t pathbits = fuzz_take(&data, &size, 8);
    unsigned nwords = (nelems + 63) / 64;
    uint64_t *bits = calloc(nwords, sizeof(uint64_t));
    for (unsigned i = 0; i < nwords; i++)
        bits[i] = fuzz_take(&data, &size, 8);

    struct mspan s = { 0 };
    s.nelems = (uint16_t)nelems;
    s.elemsize = 16;
    s.startaddr = 0x100000;
    s.alloc_bits = bits;
    s.freeindex = (uint16_t)start;
    if (start < nelems)
        mspan_refill_alloc_cache(&s); /* what the runtime does when it takes a swept span */

    unsigned expect = start, steps = 0;
    while (expect < nelems && bit(bits, expect))
        expect++;
    for (;; steps++) {
        FUZZ_CHECK(steps <= nelems, "more than %u allocations", nelems);
        unsigned got;
        uintptr_t v;
        uint16_t before = s.alloc_count;
        if (((pathbits >> (steps % 64)) & 1) && mspan_next_free_fast(&s, &v)) {
            FUZZ_CHECK((v - s.startaddr) % s.elemsize == 0, "fast path address 0x%lx", (unsigned long)v);
            got = (unsigned)((v - s.startaddr) / s.elemsize);
            FUZZ_CHECK(s.alloc_count == before + 1, "fast path did not count");
        } else {
            got = mspan_next_free_index(&s);
        }
        FUZZ_CHECK(got == (expect < nelems ? expect : nelems), "step %u: slot %u, the bitmap says %u", steps, got,
                   expect);
        if (got >= nelems)
            break;
        expect++;
        while (expect < nelems && bit(bits, expect))
            expect++;
    }
    FUZZ_CHECK(s.freeindex == nelems || s.freeindex >= start, "freeindex went back");
    free(bits);
    return 0;
}
