/*
 * test_fmt.c - kernel/lib/fmt.c against the host's snprintf (glibc), under
 * ASan/UBSan.
 *
 * Integer conversions are checked over the cross product of all 32 flag sets,
 * several widths and precisions, every length modifier and a table of edge
 * values (0, +-1, the limits of each width); each (conversion, length) pair is
 * one TAP test that lists its first mismatches. Strings, characters, %p, '*'
 * and truncation get their own tests; behaviour where the C standard leaves
 * the result open (%p of NULL, unsupported conversions) is checked against
 * fmt.c's documented contract instead of glibc.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "kernel/lib/kprintf.h"
#include "tests/host/tap.h"

#define BUFSZ 512

/* Hides a format from gcc's -Wformat: for formats that are wrong on purpose. */
__attribute__((noipa)) static const char *opaque(const char *s) { return s; }

static int mismatches;

/* Formats with both printfs and records a mismatch (up to 5 shown). */
#define COMPARE(fmt, ...)                                                          \
    do {                                                                           \
        char want_[BUFSZ], got_[BUFSZ];                                            \
        int wn_ = snprintf(want_, sizeof(want_), fmt, __VA_ARGS__);                \
        int gn_ = ksnprintf(got_, sizeof(got_), fmt, __VA_ARGS__);                 \
        if (wn_ != gn_ || strcmp(want_, got_) != 0) {                              \
            if (mismatches < 5)                                                    \
                tap_diag("format \"%s\": want \"%s\" (%d), got \"%s\" (%d)", fmt, \
                         want_, wn_, got_, gn_);                                   \
            mismatches++;                                                          \
        }                                                                          \
    } while (0)

static const long long values[] = {
    0, 1, -1, 7, 8, 42, -42, 100, 127, 128, -128, -129, 255, 256, 32767, -32768,
    65535, 65536, 0x1234abcd, INT_MAX, INT_MIN, (long long)UINT_MAX, LLONG_MAX, LLONG_MIN,
    (long long)0xdeadbeefcafef00dull, -1000000007,
};
#define NVALUES (sizeof(values) / sizeof(values[0]))

static const char *const widths[] = { "", "1", "5", "12", "30" };
static const char *const precs[] = { "", ".", ".0", ".1", ".3", ".25" };
static const char *const lens[] = { "hh", "h", "", "l", "ll", "z", "t", "j" };
static const char convs[] = { 'd', 'i', 'u', 'x', 'X', 'o' };

static void flags_string(unsigned mask, char *out)
{
    static const char fl[] = { '-', '0', '+', ' ', '#' };
    for (int i = 0; i < 5; i++)
        if (mask & (1u << i))
            *out++ = fl[i];
    *out = '\0';
}

/* One integer directive with one value, passed at the type the length wants. */
static void compare_int(const char *fmt, const char *len, char conv, long long v)
{
    int is_signed = conv == 'd' || conv == 'i';
    if (strcmp(len, "hh") == 0 || strcmp(len, "h") == 0 || len[0] == '\0') {
        if (is_signed) COMPARE(fmt, (int)v); else COMPARE(fmt, (unsigned int)v);
    } else if (strcmp(len, "l") == 0) {
        if (is_signed) COMPARE(fmt, (long)v); else COMPARE(fmt, (unsigned long)v);
    } else if (strcmp(len, "ll") == 0) {
        if (is_signed) COMPARE(fmt, v); else COMPARE(fmt, (unsigned long long)v);
    } else if (strcmp(len, "z") == 0) {
        if (is_signed) COMPARE(fmt, (ssize_t)v); else COMPARE(fmt, (size_t)v);
    } else if (strcmp(len, "t") == 0) {
        COMPARE(fmt, (ptrdiff_t)v);
    } else {
        if (is_signed) COMPARE(fmt, (intmax_t)v); else COMPARE(fmt, (uintmax_t)v);
    }
}

static void test_integers(void)
{
    for (size_t c = 0; c < sizeof(convs); c++) {
        for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
            mismatches = 0;
            int checked = 0;
            for (unsigned mask = 0; mask < 32; mask++) {
                char flags[8];
                flags_string(mask, flags);
                for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
                    for (size_t p = 0; p < sizeof(precs) / sizeof(precs[0]); p++) {
                        char fmt[64];
                        snprintf(fmt, sizeof(fmt), "[%%%s%s%s%s%c]", flags, widths[w], precs[p],
                                 lens[l], convs[c]);
                        for (size_t v = 0; v < NVALUES; v++) {
                            compare_int(fmt, lens[l], convs[c], values[v]);
                            checked++;
                        }
                    }
                }
            }
            tap_check(mismatches == 0, "fmt.int.%%%s%c (%d formats x values, %d mismatches)", lens[l],
                      convs[c], checked, mismatches);
        }
    }
}

static void test_strings(void)
{
    static const char *const strs[] = { "", "a", "hello", "hello, world of kernels" };
    static const char *const sfmts[] = {
        "%s", "[%10s]", "[%-10s]", "[%.3s]", "[%.0s]", "[%10.3s]", "[%-10.3s]", "[%1s]", "[%.30s]",
        "%s|%s", "x%sy",
    };
    mismatches = 0;
    for (size_t f = 0; f < sizeof(sfmts) / sizeof(sfmts[0]); f++)
        for (size_t s = 0; s < sizeof(strs) / sizeof(strs[0]); s++)
            COMPARE(sfmts[f], strs[s], strs[(s + 1) % 4]);
    tap_check(mismatches == 0, "fmt.string: %%s with width, precision and '-'");

    /* Precision bounds the read: an unterminated array must not be overrun (ASan checks). */
    char raw[4] = { 'a', 'b', 'c', 'd' };
    char got[16];
    int n = ksnprintf(got, sizeof(got), "%.4s|%.2s", raw, raw);
    tap_check(n == 7 && strcmp(got, "abcd|ab") == 0, "fmt.string.precision_bounds_read: \"%s\"", got);

    n = ksnprintf(got, sizeof(got), opaque("[%s]"), (char *)NULL);
    tap_check(n == 8 && strcmp(got, "[(null)]") == 0, "fmt.string.null: \"%s\"", got);
}

static void test_chars(void)
{
    static const char *const cfmts[] = { "%c", "[%5c]", "[%-5c]", "%c%c" };
    static const int chars[] = { 'a', 'Z', ' ', '%', '\n' };
    mismatches = 0;
    for (size_t f = 0; f < sizeof(cfmts) / sizeof(cfmts[0]); f++)
        for (size_t c = 0; c < sizeof(chars) / sizeof(chars[0]); c++)
            COMPARE(cfmts[f], chars[c], chars[(c + 1) % 5]);
    COMPARE("%%%s", "");
    COMPARE("100%% [%5d%%]", 42);
    COMPARE("no directives at all%s", "");
    tap_check(mismatches == 0, "fmt.char_and_percent: %%c and %%%%");
}

static void test_pointers(void)
{
    static const uintptr_t ptrs[] = { 1, 0x1000, 0xffffffff80001234u, 0xffff800000000000u, UINTPTR_MAX };
    static const char *const pfmts[] = { "%p", "[%20p]", "[%-20p]", "[%5p]" };
    mismatches = 0;
    for (size_t f = 0; f < sizeof(pfmts) / sizeof(pfmts[0]); f++)
        for (size_t p = 0; p < sizeof(ptrs) / sizeof(ptrs[0]); p++)
            COMPARE(pfmts[f], (void *)ptrs[p]);
    tap_check(mismatches == 0, "fmt.pointer: %%p like glibc");

    char got[32];
    ksnprintf(got, sizeof(got), "[%p][%7p]", (void *)0, (void *)0);
    tap_check(strcmp(got, "[(nil)][  (nil)]") == 0, "fmt.pointer.null: \"%s\"", got);
}

static void test_star(void)
{
    static const int ws[] = { -12, -1, 0, 1, 7, 40 };
    mismatches = 0;
    for (size_t a = 0; a < 6; a++) {
        for (size_t b = 0; b < 6; b++) {
            COMPARE("[%*d]", ws[a], 12345);
            COMPARE("[%.*d]", ws[a], -77);
            COMPARE("[%*.*x]", ws[a], ws[b], 0xbeefu);
            COMPARE("[%-*.*s]", ws[a], ws[b], "starry");
            COMPARE("[%0*lld]", ws[b], -5ll);
        }
    }
    tap_check(mismatches == 0, "fmt.star: '*' width and precision, negative values");
}

static void test_truncation(void)
{
    char buf[8];
    memset(buf, 'X', sizeof(buf));
    int n = ksnprintf(buf, 5, "%s-%d", "abcdef", 12);
    tap_check(n == 9 && strcmp(buf, "abcd") == 0 && buf[5] == 'X',
              "fmt.truncate: returns full length, stores size-1 bytes and a NUL (n=%d, \"%s\")", n, buf);

    n = ksnprintf(NULL, 0, "%08x", 1u);
    tap_check(n == 8, "fmt.truncate.size0: counts without writing (n=%d)", n);

    memset(buf, 'X', sizeof(buf));
    n = ksnprintf(buf, 1, "abc");
    tap_check(n == 3 && buf[0] == '\0' && buf[1] == 'X', "fmt.truncate.size1: only the NUL");

    char big[600];
    n = ksnprintf(big, sizeof(big), "%500d|", 1);
    tap_check(n == 501 && big[499] == '1' && big[500] == '|', "fmt.wide_field: 500-wide field (n=%d)", n);

    n = ksnprintf(buf, sizeof(buf), opaque("%99999999999d"), 1);
    tap_check(n == 4096, "fmt.width_clamped: absurd width is clamped to 4096, not overflowed (n=%d)", n);
}

static void test_unsupported(void)
{
    char got[64];
    int n = ksnprintf(got, sizeof(got), opaque("a%fb%5.2qc %d"), 42);
    tap_check(n == 13 && strcmp(got, "a%fb%5.2qc 42") == 0,
              "fmt.unsupported_echoed: \"%s\" (floats and unknown letters print as written)", got);
    n = ksnprintf(got, sizeof(got), opaque("tail %"), 0);
    tap_check(strcmp(got, "tail %") == 0 && n == 6, "fmt.trailing_percent: \"%s\"", got);
    n = ksnprintf(got, sizeof(got), opaque("tail %-08l"), 0);
    tap_check(strcmp(got, "tail %-08l") == 0, "fmt.unterminated_directive: \"%s\"", got);
}

int main(void)
{
    test_integers();
    test_strings();
    test_chars();
    test_pointers();
    test_star();
    test_truncation();
    test_unsupported();
    return tap_done();
}
