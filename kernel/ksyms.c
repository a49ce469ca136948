/*
 * ksyms.c - address -> name lookup over the table scripts/gen-ksyms built.
 *
 * The table lives between __ksyms_start and __ksyms_end (linker/kernel.ld):
 * a header, entries sorted by strictly rising address, then the names. The
 * header is checked before every use (magic, and that entries and names fit
 * inside the section), so a missing or damaged table means "no symbols",
 * never a fault: the lookup runs inside fault and panic reports.
 */
#include "kernel/ksyms.h"

#include "kernel/lib/kprintf.h"
#include "kernel/sections.h"
#include "kernel/lib/string.h"

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

static const struct ksyms_header *table(void)
{
    const struct ksyms_header *h = (const struct ksyms_header *)__ksyms_start;
    uint64_t avail = (uint64_t)(__ksyms_end - __ksyms_start);
    if (avail < sizeof(*h) || memcmp(h->magic, "KSYMTAB1", 8) != 0)
        return NULL;
    if (h->count > avail / sizeof(struct ksym_entry) ||
        h->names_offset != sizeof(*h) + h->count * sizeof(struct ksym_entry) ||
        h->names_size > avail - h->names_offset)
        return NULL;
    return h;
}

static const struct ksym_entry *entries(const struct ksyms_header *h)
{
    return (const struct ksym_entry *)(h + 1);
}

static const char *entry_name(const struct ksyms_header *h, const struct ksym_entry *e)
{
    if (e->name >= h->names_size)
        return "?";
    return (const char *)h + h->names_offset + e->name;
}

size_t ksym_count(void)
{
    const struct ksyms_header *h = table();
    return h ? (size_t)h->count : 0;
}

bool ksym_lookup(uint64_t addr, const char **name, uint64_t *offset)
{
    const struct ksyms_header *h = table();
    if (h == NULL || h->count == 0)
        return false;
    if (addr < (uint64_t)__text_start || addr >= (uint64_t)__image_end)
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
    const struct ksyms_header *h = table();
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
