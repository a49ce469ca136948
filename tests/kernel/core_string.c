/*
 * core_string.c - kernel/lib/string.c on the target (gcc emits calls to these).
 */
#include "kernel/ktest.h"
#include "kernel/lib/string.h"

KTEST(string_memmove_overlap, "core.string.memmove_overlap")
{
    char b[16] = "abcdefghij";
    memmove(b + 2, b, 8); /* destination above source: must copy backwards */
    KT_STREQ(b, "ababcdefgh");
    char c[16] = "abcdefghij";
    memmove(c, c + 3, 7); /* below: forwards */
    KT_STREQ(c, "defghijhij");
}

KTEST(string_memset_memcpy, "core.string.memset_memcpy")
{
    unsigned char b[64];
    memset(b, 0xab, sizeof(b));
    for (unsigned i = 0; i < sizeof(b); i++)
        KT_EQ(b[i], 0xab);
    char d[8] = "xxxxxxx";
    KT_EQ(memcpy(d, "hi", 3), d);
    KT_STREQ(d, "hi");
    KT_EQ(d[3], 'x');
}

KTEST(string_compare, "core.string.compare")
{
    KT_EQ(strlen(""), 0);
    KT_EQ(strlen("kernel"), 6);
    KT_LT(strcmp("abc", "abd"), 0);
    KT_GT(strcmp("b", "abc"), 0);
    KT_EQ(strcmp("same", "same"), 0);
    KT_GT(strcmp("\xff", "a"), 0); /* bytes compare as unsigned char */
    KT_EQ(strncmp("abcdef", "abcxyz", 3), 0);
    KT_NE(strncmp("abcdef", "abcxyz", 4), 0);
    KT_EQ(strncmp("ab", "ab", 100), 0);
    unsigned char x[3] = { 1, 2, 0x80 }, y[3] = { 1, 2, 0x7f };
    KT_GT(memcmp(x, y, 3), 0);
    KT_EQ(memcmp(x, y, 2), 0);
}
