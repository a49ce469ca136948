/*
 * glob.c - wildcard matching with '*' and '?'.
 *
 * The classic single-backtrack algorithm: walk pattern and name together;
 * on '*' remember where it was and how much of the name it has consumed; on a
 * mismatch let the last '*' absorb one more byte and retry from there. Only
 * the most recent '*' ever needs revisiting, because an earlier '*' could
 * only absorb bytes the later one can absorb too. O(|pattern| * |name|)
 * worst case, no recursion, no allocation. tests/fuzz/fuzz_cmdline.c checks
 * it against a dynamic-programming matcher on arbitrary patterns and names.
 */
#include "kernel/glob.h"

#include <stddef.h>

bool glob_match(const char *pattern, const char *name)
{
    const char *p = pattern, *n = name;
    const char *star = NULL;     /* pattern position just after the last '*' */
    const char *star_name = NULL; /* name position that '*' is matched up to */

    while (*n != '\0') {
        if (*p == '*') {
            star = ++p;
            star_name = n;
        } else if (*p != '\0' && (*p == '?' || *p == *n)) {
            p++;
            n++;
        } else if (star != NULL) {
            p = star;
            n = ++star_name;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

bool glob_has_literal_prefix(const char *pattern, const char *prefix)
{
    for (; *prefix != '\0'; pattern++, prefix++)
        if (*pattern != *prefix)
            return false; /* also false at a wildcard: '*' != any literal byte of prefix */
    return true;
}
