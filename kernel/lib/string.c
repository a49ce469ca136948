/*
 * string.c - memcpy and friends, C11 7.24 semantics.
 *
 * The copying and filling loops are `rep movsb` / `rep stosb`: short, fast
 * on every CPU with ERMSB, and immune to gcc turning a C loop back into a
 * call to the very function being defined. memmove copies backwards (std)
 * only when the destination overlaps the source from above. The direction
 * flag is clear on entry (SysV ABI) and is cleared again before returning.
 */
#include "kernel/lib/string.h"

#include <stdint.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);
    /* Overlap with dst above src: copy from the last byte down. */
    void *dl = (char *)dst + n - 1;
    const void *sl = (const char *)src + n - 1;
    __asm__ volatile("std; rep movsb; cld" : "+D"(dl), "+S"(sl), "+c"(n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (size_t i = 0; i < n; i++)
        if (p[i] != q[i])
            return p[i] < q[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] || a[i] == '\0')
            return (unsigned char)a[i] - (unsigned char)b[i];
    }
    return 0;
}
