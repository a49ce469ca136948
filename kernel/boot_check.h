/*
 * boot_check.h - validation of the loader's struct boot_info before the
 * kernel trusts any field of it (kernel/boot_check.c; pure logic, host-tested
 * in tests/host/test_bootinfo.c).
 */
#ifndef KERNEL_BOOT_CHECK_H
#define KERNEL_BOOT_CHECK_H

#include <stddef.h>

#include "boot/boot_info.h"

#define BOOT_CHECK_ERR_MAX     160         /* a buffer this size holds any message */
#define BOOT_MMAP_MAX_DESC     4096        /* bytes; a larger stride is not a real map */
#define BOOT_DIRECT_MAP_MIN    (16ull << 20)
/* BOOT_DIRECT_MAP_MAX and BOOT_MMAP_MAX_ENTRIES: boot/boot_info.h. */

/* Checks every scalar field of *bi: magic, version, size first (nothing else
 * is read if they are wrong), then strings, map geometry, kernel image and
 * page-table fields. Returns 0, or -1 with a one-line message in err. */
int boot_info_check(const struct boot_info *bi, char *err, size_t errlen);

#endif
