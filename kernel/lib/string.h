/*
 * string.h - the kernel's own memory and string functions (kernel/lib/string.c).
 * gcc may emit calls to memcpy, memset, memmove and memcmp by itself (struct
 * copies, zeroing), so these names must exist and behave as in C11 7.24.
 */
#ifndef KERNEL_STRING_H
#define KERNEL_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
