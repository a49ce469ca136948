/*
 * ksyms.c - address -> name lookup over the table scripts/gen-ksyms built.
 *
 * The table lives between __ksyms_start and __ksyms_end (linker/kernel.ld):
 * a header, entries sorted by strictly rising address, then the names. The
 * lookup runs inside fault and panic reports, so a missing or damaged table
 * must mean "no symbols", never a fault.
 *
 * Invariants proved by table_problem() before every use:
 *   1. the header fits and its magic is "KSYMTAB1";
 *   2. count entries fit in the section and the names start right after them;
 *   3. the names region [names_offset, names_offset + names_size) lies inside
 *      the section;
 *   4. the names region is empty or ends with a NUL. With 3, every name
 *      offset below names_size therefore starts a string that ends inside the
 *      table, so strcmp and "%s" never read past __ksyms_end (found by the
 *      fuzzer, tests/fuzz/fuzz_ksyms.c: a region of 'B's with no NUL was read
 *      past the end). A name offset at or beyond names_size reads as "?".
 * Entries out of order make lookups wrong, not unsafe: the binary search
 * only ever indexes [0, count).
 *
 * Hosted builds (HOSTED=1: host tests, fuzzers) have no linker script: the
 * table and the image bounds come from ksyms_host_set() instead.
 */
#include "kernel/ksyms.h"

#include "kernel/lib/kprintf.h"
#if HOSTED
#include <string.h>
#else
#include "kernel/sections.h"
#include "kernel/lib/string.h"
#endif

struct ksyms_header {
    char magic[8];         /* "KSYMTAB1" */
    uint64_t count;
    uint64_t names_offset; /* from the header */
    uint64_t names_size;
};

struct ksym_entry {
    uint64_t addr;
    uint32_t size; /* 0: unknown */
    uint32_t name; /* offset into the names */
};
_Static_assert(sizeof(struct ksym_entry) == 16, "matches scripts/gen-ksyms");

/* The section's bytes and the image's text bounds. */
struct ksyms_region {
    const uint8_t *start;
    uint64_t size;
    uint64_t text_start, image_end;
};

#if HOSTED
static struct ksyms_region host_region;

void ksyms_host_set(const void *table, size_t size, uint64_t text_start, uint64_t image_end)
{
    host_region = (struct ksyms_region){ table, size, text_start, image_end };
}

static struct ksyms_region region(void) { return host_region; }
#else
static struct ksyms_region region(void)
{
    return (struct ksyms_region){ (const uint8_t *)__ksyms_start, (uint64_t)(__ksyms_end - __ksyms_start),
                                  (uint64_t)__text_start, (uint64_t)__image_end };
}
#endif

/* NULL if the table in r is sound (invariants 1-4 above), else what is wrong. */
static const char *table_problem(const struct ksyms_region *r)
{
    const struct ksyms_header *h = (const struct ksyms_header *)r->start;
    uint64_t avail = r->size;
    if (r->start == NULL || avail < sizeof(*h))
        return "bad symbol table: the section is smaller than its header";
    if (memcmp(h->magic, "KSYMTAB1", 8) != 0)
        return "bad symbol table: magic is not KSYMTAB1";
    if (h->count > avail / sizeof(struct ksym_entry) ||
        h->names_offset != sizeof(*h) + h->count * sizeof(struct ksym_entry) || h->names_offset > avail)
        return "bad symbol table: count and names_offset do not fit the section";
    if (h->names_size > avail - h->names_offset)
        return "bad symbol table: names_size runs past the end of the section";
    if (h->names_size != 0 && r->start[h->names_offset + h->names_size - 1] != '\0')
        return "bad symbol table: the names do not end with a NUL";
    return NULL;
}

static const struct ksyms_header *table(struct ksyms_region *r)
{
    *r = region();
    return table_problem(r) == NULL ? (const struct ksyms_header *)r->start : NULL;
}

const char *ksym_table_problem(void)
{
    struct ksyms_region r = region();
    return table_problem(&r);
}

static const struct ksym_entry *entries(const struct ksyms_header *h)
{
    return (const struct ksym_entry *)(h + 1);
}

/* Invariant 4 makes the returned string end inside the table. */
static const char *entry_name(const struct ksyms_header *h, const struct ksym_entry *e)
{
    if (e->name >= h->names_size)
        return "?";
    return (const char *)h + h->names_offset + e->name;
}

size_t ksym_count(void)
{
    struct ksyms_region r;
    const struct ksyms_header *h = table(&r);
    return h ? (size_t)h->count : 0;
}

bool ksym_lookup(uint64_t addr, const char **name, uint64_t *offset)
{
    struct ksyms_region r;
    const struct ksyms_header *h = table(&r);
    if (h == NULL || h->count == 0)
        return false;
    if (addr < r.text_start || addr >= r.image_end)
        return false;
    const struct ksym_entry *e = entries(h);
    /* The last entry with e.addr <= addr. */
    size_t lo = 0, hi = (size_t)h->count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (e[mid].addr <= addr)
            lo = mid;
        else
            hi = mid;
    }
    if (e[lo].addr > addr)
        return false;
    if (e[lo].size != 0 && addr - e[lo].addr >= e[lo].size)
        return false;
    *name = entry_name(h, &e[lo]);
    *offset = addr - e[lo].addr;
    return true;
}

uint64_t ksym_address(const char *name)
{
    struct ksyms_region r;
    const struct ksyms_header *h = table(&r);
    if (h == NULL)
        return 0;
    for (uint64_t i = 0; i < h->count; i++)
        if (strcmp(entry_name(h, &entries(h)[i]), name) == 0)
            return entries(h)[i].addr;
    return 0;
}

const char *ksym_format(uint64_t addr, char *buf, size_t size)
{
    const char *name;
    uint64_t off;
    if (ksym_lookup(addr, &name, &off))
        ksnprintf(buf, size, "%s+0x%llx", name, (unsigned long long)off);
    else
        ksnprintf(buf, size, "?");
    return buf;
}

const char *ksym_format_return(uint64_t ret, char *buf, size_t size)
{
    const char *name;
    uint64_t off;
    if (ksym_lookup(ret - 1, &name, &off))
        ksnprintf(buf, size, "%s+0x%llx", name, (unsigned long long)(off + 1));
    else
        ksnprintf(buf, size, "?");
    return buf;
}
