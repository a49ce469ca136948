/*
 * fmt.h - the printf engine (kernel/lib/fmt.c): pure logic, no kernel state, so
 * the same source is compiled into the kernel and into the host tests.
 *
 * fmt_vformat() walks a format string and hands every piece of output to a
 * sink. It never allocates and never writes anywhere but through the sink.
 * The user-facing wrappers (kprintf, ksnprintf, kvsnprintf) are declared in
 * kernel/lib/kprintf.h.
 */
#ifndef KERNEL_FMT_H
#define KERNEL_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Receives n bytes of output (not NUL-terminated; n may be 0). */
typedef void (*fmt_sink_fn)(void *ctx, const char *s, size_t n);

/* Formats fmt with ap into sink; returns the number of bytes produced. */
int fmt_vformat(fmt_sink_fn sink, void *ctx, const char *fmt, va_list ap);

#endif
