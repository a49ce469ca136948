/*
 * core_fmt.c - ksnprintf on the target: the printf engine compiled with the
 * kernel's flags (no SSE, -mcmodel=kernel) must give the same answers the
 * host test (tests/host/test_fmt.c) checked against glibc. Expectations
 * here are written out by hand from C11 7.21.6.1.
 */
#include <stddef.h>
#include <stdint.h>

#include "kernel/ktest.h"

/* Hides a format from -Wformat, for the deliberately unsupported ones. */
__attribute__((noipa)) static const char *opaque(const char *s) { return s; }

/* Formats into a buffer and checks the text and the returned length. */
#define FMT_IS(want, ...)                                                     \
    do {                                                                      \
        char got_[128];                                                       \
        int n_ = ksnprintf(got_, sizeof(got_), __VA_ARGS__);                  \
        KT_STREQ(got_, want);                                                 \
        KT_EQ(n_, (int)sizeof(want) - 1);                                     \
    } while (0)

KTEST(fmt_integers, "core.fmt.integers")
{
    FMT_IS("0 -1 42", "%d %i %d", 0, -1, 42);
    FMT_IS("-2147483648 2147483647", "%d %d", INT32_MIN, INT32_MAX);
    FMT_IS("4294967295", "%u", 4294967295u);
    FMT_IS("ff FF 377", "%x %X %o", 255u, 255u, 255u);
    FMT_IS("deadbeef", "%x", 0xdeadbeefu);
    FMT_IS("100%", "%d%%", 100);
}

KTEST(fmt_flags, "core.fmt.flags")
{
    FMT_IS("[42   ]", "[%-5d]", 42);
    FMT_IS("[00042]", "[%05d]", 42);
    FMT_IS("[-0042]", "[%05d]", -42);
    FMT_IS("[+42] [-42]", "[%+d] [%+d]", 42, -42);
    FMT_IS("[ 42] [-42]", "[% d] [% d]", 42, -42);
    FMT_IS("[+42]", opaque("[%+ d]"), 42); /* '+' beats ' ' */
    FMT_IS("[0x1f] [0X1F] [017] [0]", "[%#x] [%#X] [%#o] [%#x]", 31u, 31u, 15u, 0u);
    FMT_IS("[0x001f]", "[%#06x]", 31u);
    FMT_IS("[42   ]", opaque("[%-05d]"), 42); /* '-' beats '0' */
}

KTEST(fmt_width_precision, "core.fmt.width_precision")
{
    FMT_IS("[   42]", "[%5d]", 42);
    FMT_IS("[00042]", "[%.5d]", 42);
    FMT_IS("[  00042]", "[%7.5d]", 42);
    FMT_IS("[    -042]", "[%8.3d]", -42);
    FMT_IS("[  042]", opaque("[%05.3d]"), 42); /* a precision turns '0' off */
    FMT_IS("[] []", "[%.0d] [%.0x]", 0, 0u);
    FMT_IS("[0]", "[%#.0o]", 0u);
    FMT_IS("[1234567]", "[%3d]", 1234567);
}

KTEST(fmt_length_modifiers, "core.fmt.length_modifiers")
{
    FMT_IS("-1 255", "%hhd %hhu", 255, 255);
    FMT_IS("-1 65535", "%hd %hu", 65535, 65535);
    FMT_IS("-9223372036854775808", "%ld", INT64_MIN);
    FMT_IS("18446744073709551615", "%lu", UINT64_MAX);
    FMT_IS("ffffffffffffffff", "%llx", 0xffffffffffffffffull);
    FMT_IS("123 -5", "%zu %zd", (size_t)123, (long)-5);
    FMT_IS("-7", "%td", (ptrdiff_t)-7);
    FMT_IS("9223372036854775807", "%jd", INTMAX_MAX);
}

KTEST(fmt_strings_chars, "core.fmt.strings_chars")
{
    FMT_IS("[hello]", "[%s]", "hello");
    FMT_IS("[   hi] [hi   ]", "[%5s] [%-5s]", "hi", "hi");
    FMT_IS("[hel]", "[%.3s]", "hello");
    FMT_IS("[  hel]", "[%5.3s]", "hello");
    FMT_IS("[(null)]", "[%s]", (const char *)opaque(NULL));
    FMT_IS("[x] [  y] [z  ]", "[%c] [%3c] [%-3c]", 'x', 'y', 'z');
    char unterminated[3] = { 'a', 'b', 'c' };
    FMT_IS("ab", "%.2s", unterminated);
}

KTEST(fmt_pointer, "core.fmt.pointer")
{
    FMT_IS("0xffffffff80001000", "%p", (void *)0xffffffff80001000ull);
    FMT_IS("[      0x10]", "[%10p]", (void *)0x10);
    FMT_IS("[0x10      ]", "[%-10p]", (void *)0x10);
    FMT_IS("(nil)", "%p", (void *)0);
}

KTEST(fmt_star, "core.fmt.star")
{
    FMT_IS("[   42]", "[%*d]", 5, 42);
    FMT_IS("[42   ]", "[%*d]", -5, 42); /* negative width: left-justify */
    FMT_IS("[007]", "[%.*d]", 3, 7);
    FMT_IS("[7]", "[%.*d]", -3, 7); /* negative precision: none */
    FMT_IS("[  abc]", "[%*.*s]", 5, 3, "abcdef");
}

KTEST(fmt_truncation, "core.fmt.truncation")
{
    char b[8];
    for (unsigned i = 0; i < sizeof(b); i++)
        b[i] = 'X';
    KT_EQ(ksnprintf(b, 4, "%d", 123456), 6); /* the full length, not the stored one */
    KT_STREQ(b, "123");
    KT_EQ(b[4], 'X'); /* nothing written past size */
    KT_EQ(ksnprintf(NULL, 0, "%s", "counted"), 7);
}

KTEST(fmt_unsupported, "core.fmt.unsupported_is_visible")
{
    char b[32];
    ksnprintf(b, sizeof(b), opaque("a%fb%qc"), 1);
    KT_STREQ(b, "a%fb%qc");
    ksnprintf(b, sizeof(b), opaque("end%"), 0);
    KT_STREQ(b, "end%");
}
