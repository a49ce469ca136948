/*
 * kprintf.h - formatted output for the kernel.
 *
 * Formats (kernel/lib/fmt.c has the full contract): conversions d i u x X o p s c %,
 * flags - 0 + space #, width, .precision, * for either, length modifiers
 * hh h l ll z t j. No floating point. An unsupported conversion is printed
 * literally (e.g. "%f") so a mistake is visible rather than silently eaten.
 *
 * kprintf writes to the console (COM1). While a line prefix is set (the test
 * runner sets "# " while a test runs), every output line starts with it, so
 * anything printed inside a test becomes a TAP diagnostic.
 *
 * ksnprintf/kvsnprintf follow C99 snprintf: at most size-1 bytes plus a NUL
 * are stored (nothing if size is 0); the return value is the length the full
 * output would have had.
 */
#ifndef KERNEL_KPRINTF_H
#define KERNEL_KPRINTF_H

#include <stdarg.h>
#include <stddef.h>

#define KPRINTF_FMT(a, b) __attribute__((format(printf, a, b)))

void kprintf(const char *fmt, ...) KPRINTF_FMT(1, 2);
void kvprintf(const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) KPRINTF_FMT(3, 4);
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* Console line prefix (NULL or "" for none). Returns the previous one. */
const char *kprintf_set_line_prefix(const char *prefix);
/* Ends the current console line if it is not at a line start. */
void kprintf_end_line(void);

/*
 * SMP: lines from different CPUs never mix (kernel/lib/kprintf.c has the rules).
 * kprintf_lock/kprintf_unlock hold the console across several calls so a
 * multi-line report prints as one block; they nest. Between them only print:
 * the console lock ranks above every other lock (kernel/lib/spinlock.h), so no
 * lock may be taken inside a block. Interrupts are off inside a block.
 */
void kprintf_lock(void);
void kprintf_unlock(void);

/* For panic() only, on the first panicking CPU, interrupts off: from now on
 * this CPU alone writes, without the lock (waiting at most a bounded time
 * for a CPU in the middle of a call); any other CPU that tries to print
 * parks. Ends the current line. */
void kprintf_panic_enter(void);

#endif
