/*
 * ksyms.h - the kernel's own symbol table, for symbolized backtraces.
 *
 * The table is generated at build time (scripts/gen-ksyms, two link passes in
 * kernel/build.mk) into the .ksyms section: every function and data symbol
 * of the image, sorted by address.
 */
#ifndef KERNEL_KSYMS_H
#define KERNEL_KSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The symbol containing addr: its name and addr's offset into it. False if
 * addr is outside the image, below the first symbol, or past the end of a
 * symbol whose size is known. */
bool ksym_lookup(uint64_t addr, const char **name, uint64_t *offset);

/* The address of the symbol called name, or 0 (linear search: tests, debugging). */
uint64_t ksym_address(const char *name);

/* Number of symbols in the table (0 if the table is missing or corrupt). */
size_t ksym_count(void);

/* "name+0x1c" (or "?" if unknown) into buf; returns buf. */
const char *ksym_format(uint64_t addr, char *buf, size_t size);

/* The same for a return address: names the function containing ret - 1
 * (the call), since a call at a function's very end returns past it. */
const char *ksym_format_return(uint64_t ret, char *buf, size_t size);

#endif
