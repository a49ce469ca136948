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

/* NULL if the table is sound, else "bad symbol table: <what>" (static
 * string). A bad table makes every lookup fail: no symbols, never a fault. */
const char *ksym_table_problem(void);

#if HOSTED
/* Host tests and fuzzers: search table[0..size) as if it were the .ksyms
 * section of an image whose text starts at text_start and ends at image_end. */
void ksyms_host_set(const void *table, size_t size, uint64_t text_start, uint64_t image_end);
#endif

/* "name+0x1c" (or "?" if unknown) into buf; returns buf. */
const char *ksym_format(uint64_t addr, char *buf, size_t size);

/* The same for a return address: names the function containing ret - 1
 * (the call), since a call at a function's very end returns past it. */
const char *ksym_format_return(uint64_t ret, char *buf, size_t size);

#endif
