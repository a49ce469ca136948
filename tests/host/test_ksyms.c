/*
 * test_ksyms.c - the symbol table lookup (kernel/ksyms.c) on synthetic tables
 * under ASan/UBSan.
 *
 * Each table is copied into a heap block of exactly its size, so ASan reports
 * any read past the table's end the way the kernel would fault past
 * __ksyms_end. A sound table must resolve names and offsets; a damaged one
 * must be "bad symbol table" with no symbols, never a read outside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/ksyms.h"
#include "tests/host/tap.h"

#define TEXT 0x40000000ull
#define IMAGE_END 0x40100000ull

static uint8_t *heap_table;

static void put(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Installs a copy of t[0..size) in a block of exactly that size. */
static void install(const uint8_t *t, size_t size)
{
    free(heap_table);
    heap_table = malloc(size ? size : 1);
    memcpy(heap_table, t, size);
    ksyms_host_set(heap_table, size, TEXT, IMAGE_END);
}

/* A header for count entries and names_size name bytes, at t. */
static size_t header(uint8_t *t, uint64_t count, uint64_t names_size)
{
    memcpy(t, "KSYMTAB1", 8);
    put(t + 8, count, 8);
    put(t + 16, 32 + 16 * count, 8);
    put(t + 24, names_size, 8);
    return 32 + 16 * count;
}

static void entry(uint8_t *t, unsigned i, uint64_t addr, uint32_t size, uint32_t name)
{
    put(t + 32 + 16 * i, addr, 8);
    put(t + 32 + 16 * i + 8, size, 4);
    put(t + 32 + 16 * i + 12, name, 4);
}

static void test_sound_table(void)
{
    uint8_t t[256] = { 0 };
    const char names[] = "alpha\0beta\0";
    size_t off = header(t, 2, sizeof(names) - 1);
    entry(t, 0, TEXT + 0x1000, 0x100, 0);
    entry(t, 1, TEXT + 0x2000, 0, 6);
    memcpy(t + off, names, sizeof(names) - 1);
    install(t, off + sizeof(names) - 1);

    char buf[64];
    tap_check(ksym_table_problem() == NULL, "sound table: no problem reported");
    tap_check(ksym_count() == 2, "sound table: 2 symbols");
    tap_check(strcmp(ksym_format(TEXT + 0x1010, buf, sizeof(buf)), "alpha+0x10") == 0, "format: %s", buf);
    tap_check(strcmp(ksym_format(TEXT + 0x1100, buf, sizeof(buf)), "?") == 0, "past a sized symbol: %s", buf);
    tap_check(strcmp(ksym_format_return(TEXT + 0x2000, buf, sizeof(buf)), "alpha+0x1000") != 0 &&
                  strcmp(buf, "?") == 0, "return address just past alpha's size: %s", buf);
    tap_check(strcmp(ksym_format(TEXT + 0x2345, buf, sizeof(buf)), "beta+0x345") == 0, "unsized: %s", buf);
    tap_check(ksym_address("beta") == TEXT + 0x2000, "ksym_address(beta)");
    tap_check(ksym_address("gamma") == 0, "ksym_address(unknown) is 0");
    tap_check(strcmp(ksym_format(IMAGE_END, buf, sizeof(buf)), "?") == 0, "outside the image: %s", buf);
}

/* Issue 16: names that never end with a NUL were read past the table. */
static void test_names_without_nul(void)
{
    enum { SIZE = 4096 };
    uint8_t *t = calloc(1, SIZE);
    size_t off = header(t, 1, SIZE - 48);
    tap_check(off == 48, "reproducer: names_offset 48");
    entry(t, 0, TEXT + 0x1000, 0, 0);
    memset(t + off, 'B', SIZE - off);
    install(t, SIZE);

    char buf[128];
    const char *problem = ksym_table_problem();
    tap_check(problem != NULL && strstr(problem, "bad symbol table") && strstr(problem, "NUL"),
              "no NUL in the names: %s", problem ? problem : "(none)");
    tap_check(ksym_count() == 0, "bad table: no symbols");
    tap_check(strcmp(ksym_format(TEXT + 0x1010, buf, sizeof(buf)), "?") == 0, "ksym_format: %s", buf);
    tap_check(strcmp(ksym_format_return(TEXT + 0x1010, buf, sizeof(buf)), "?") == 0, "ksym_format_return: %s",
              buf);
    tap_check(ksym_address("B") == 0, "ksym_address on a bad table is 0");

    /* The same table with its last byte a NUL is sound: one long name. */
    t[SIZE - 1] = '\0';
    install(t, SIZE);
    tap_check(ksym_table_problem() == NULL && ksym_count() == 1, "last byte NUL: sound");
    const char *name;
    uint64_t o;
    tap_check(ksym_lookup(TEXT + 0x1010, &name, &o) && strlen(name) == SIZE - 48 - 1 && o == 0x10,
              "the long name resolves");
    free(t);
}

static void test_bad_headers(void)
{
    uint8_t t[128] = { 0 };
    size_t off = header(t, 1, 4);
    entry(t, 0, TEXT, 0, 0);
    memcpy(t + off, "abc", 4);

    install(t, 16);
    tap_check(ksym_table_problem() && strstr(ksym_table_problem(), "header"), "short section: %s",
              ksym_table_problem());
    install(t, off + 3);
    tap_check(ksym_table_problem() && strstr(ksym_table_problem(), "names_size"), "names cut: %s",
              ksym_table_problem());
    uint8_t u[128];
    memcpy(u, t, sizeof(u));
    u[0] = 'X';
    install(u, off + 4);
    tap_check(ksym_table_problem() && strstr(ksym_table_problem(), "magic"), "magic: %s", ksym_table_problem());
    memcpy(u, t, sizeof(u));
    put(u + 8, UINT64_MAX / 8, 8);
    install(u, off + 4);
    tap_check(ksym_table_problem() && strstr(ksym_table_problem(), "count"), "huge count: %s",
              ksym_table_problem());
    memcpy(u, t, sizeof(u));
    entry(u, 0, TEXT, 0, 4); /* name offset == names_size: "?" */
    install(u, off + 4);
    const char *name;
    uint64_t o;
    tap_check(ksym_lookup(TEXT + 1, &name, &o) && strcmp(name, "?") == 0, "name offset past the names: ?");
    install(t, off + 4);
    tap_check(ksym_lookup(TEXT + 1, &name, &o) && strcmp(name, "abc") == 0, "control: abc");
}

int main(void)
{
    test_sound_table();
    test_names_without_nul();
    test_bad_headers();
    free(heap_table);
    return tap_done();
}
