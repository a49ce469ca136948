/*
 * fuzz_ksyms.c - kernel/ksyms.c over arbitrary symbol tables.
 *
 * Input: 4 bytes of address (an offset into the pretend image), then the
 * table. The table sits in a heap block of exactly its size, as .ksyms ends
 * at __ksyms_end, so ASan reports any read past it. Oracle: a table
 * ksym_table_problem() passes really is sound (header fits, names end with a
 * NUL); a bad one gives no symbols; a lookup names the last entry at or below
 * the address, with the right offset, and a name that ends inside the table.
 */
#include <stdbool.h>

#include "kernel/ksyms.h"
#include "tests/fuzz/fuzz.h"

#define TEXT 0x40000000ull
#define IMAGE_END (TEXT + (1ull << 24))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t addr = TEXT - 0x1000 + fuzz_take(&data, &size, 4) % ((1ull << 24) + 0x2000);
    uint8_t *t = fuzz_dup(data, size);
    ksyms_host_set(t, size, TEXT, IMAGE_END);

    const char *problem = ksym_table_problem();
    uint64_t count = size >= 32 ? fuzz_le(t + 8, 8) : 0, names_off = size >= 32 ? fuzz_le(t + 16, 8) : 0;
    uint64_t names_size = size >= 32 ? fuzz_le(t + 24, 8) : 0;
    bool sound = size >= 32 && memcmp(t, "KSYMTAB1", 8) == 0 && count <= size / 16 &&
                 names_off == 32 + 16 * count && names_off <= size && names_size <= size - names_off &&
                 (names_size == 0 || t[names_off + names_size - 1] == '\0');
    FUZZ_CHECK(sound == (problem == NULL), "model says %s, ksyms says %s", sound ? "sound" : "bad",
               problem ? problem : "sound");

    char buf[64];
    const char *name;
    uint64_t off;
    bool found = ksym_lookup(addr, &name, &off);
    ksym_format(addr, buf, sizeof(buf));
    FUZZ_CHECK(strlen(buf) < sizeof(buf), "format overran");
    ksym_format_return(addr, buf, sizeof(buf));
    if (!sound) {
        FUZZ_CHECK(!found && ksym_count() == 0 && strcmp(buf, "?") == 0, "a bad table gave symbols");
    } else {
        FUZZ_CHECK(ksym_count() == count, "count");
        /* The model: the last entry with addr <= the address, by a linear scan
         * (entries sorted: a binary search over unsorted ones may differ). */
        bool sorted = true;
        for (uint64_t i = 1; i < count; i++)
            sorted &= fuzz_le(t + 32 + 16 * i, 8) > fuzz_le(t + 32 + 16 * (i - 1), 8);
        if (found) {
            bool in_table = (const uint8_t *)name >= t + names_off && (const uint8_t *)name < t + size;
            FUZZ_CHECK(strcmp(name, "?") == 0 || in_table, "name outside the table");
        }
        if (sorted && addr >= TEXT && addr < IMAGE_END) {
            int64_t last = -1;
            for (uint64_t i = 0; i < count && fuzz_le(t + 32 + 16 * i, 8) <= addr; i++)
                last = (int64_t)i;
            bool want = false;
            uint64_t want_off = 0;
            if (last >= 0) {
                const uint8_t *e = t + 32 + 16 * (uint64_t)last;
                uint64_t a = fuzz_le(e, 8), sz = fuzz_le(e + 8, 4);
                want = sz == 0 || addr - a < sz;
                want_off = addr - a;
            }
            FUZZ_CHECK(found == want && (!found || off == want_off), "lookup 0x%llx: found %d, model %d",
                       (unsigned long long)addr, found, want);
        }
    }
    /* ksym_address on a name from the input's tail: strcmp must stay inside. */
    char key[16] = "";
    if (size > 0)
        snprintf(key, sizeof(key), "%.*s", (int)(size < 15 ? size : 15), (const char *)data + size - (size < 15 ? size : 15));
    ksym_address(key);
    ksyms_host_set(NULL, 0, 0, 0);
    free(t);
    return 0;
}
