/*
 * glob.h - shell-style wildcard matching for test selection (test=GLOB).
 * Pure logic (kernel/glob.c), host-tested in tests/host/test_cmdline.c.
 */
#ifndef KERNEL_GLOB_H
#define KERNEL_GLOB_H

#include <stdbool.h>

/* True if all of name matches pattern: '*' matches any run of bytes (also
 * none), '?' exactly one byte, every other byte itself. */
bool glob_match(const char *pattern, const char *name);

/* True if pattern begins with prefix spelled out literally (no wildcard
 * standing for any of its bytes). Used for "selftest." tests, which run only
 * when the glob names them explicitly: test=selftest.* but not test=*. */
bool glob_has_literal_prefix(const char *pattern, const char *prefix);

#endif
