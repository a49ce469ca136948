/*
 * fuzz_rt_sizeclass.c - the runtime's size-class lookup (rt/sizeclasses.c).
 *
 * Input: a request size and an offset. Oracle: rt_size_to_class gives the
 * smallest class that holds the size (a linear scan of rt_class), and
 * rt_roundupsize that class's size; the class's divmul divides every offset
 * inside one of its spans exactly; large sizes round up to whole pages.
 */
#include <stdbool.h>

#include "rt/sizeclasses.h"
#include "rt/port.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        rt_sizeclasses_init();
        ready = true;
    }
    uint64_t raw = fuzz_take(&data, &size, 8), off = fuzz_take(&data, &size, 4);
    size_t req = 1 + (size_t)(raw % RT_MAX_SMALL_SIZE);
    unsigned want = 0;
    for (unsigned c = 1; c < RT_NUM_SIZE_CLASSES && want == 0; c++)
        if (rt_class[c].size >= req)
            want = c;
    unsigned got = rt_size_to_class(req);
    FUZZ_CHECK(got == want, "size %zu: class %u, the smallest that fits is %u", req, got, want);
    FUZZ_CHECK(rt_roundupsize(req) == rt_class[want].size, "roundupsize(%zu)", req);

    const struct rt_sizeclass *sc = &rt_class[want];
    uint64_t span = (uint64_t)sc->npages * RT_PAGE_SIZE;
    off %= span;
    FUZZ_CHECK(((off * sc->divmul) >> 32) == off / sc->size, "class %u: offset %llu divides wrong", want,
               (unsigned long long)off);

    size_t large = (size_t)raw;
    if (large > RT_MAX_SMALL_SIZE) {
        size_t r = rt_roundupsize(large);
        if ((unsigned __int128)large + RT_PAGE_SIZE <= SIZE_MAX)
            FUZZ_CHECK(r >= large && r % RT_PAGE_SIZE == 0 && r - large < RT_PAGE_SIZE, "large roundupsize(%zu) = %zu",
                       large, r);
        else
            FUZZ_CHECK(r >= large, "roundupsize(%zu) wrapped to %zu", large, r);
    }
    return 0;
}
