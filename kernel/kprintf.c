/*
 * kprintf.c - the console side of kprintf (the formatting is kernel/fmt.c).
 *
 * Output goes to COM1 as it is produced, so a report printed just before a
 * hang or a triple fault is still seen. A line prefix, when set, is written
 * before the first byte of every line: the test runner sets "# " so that
 * whatever a test prints becomes a TAP diagnostic.
 *
 * Locking: none yet; the boot CPU is the only one running. SMP will need a
 * lock here that a panicking CPU may break.
 */
#include "kernel/kprintf.h"

#include <stdbool.h>

#include "kernel/fmt.h"
#include "kernel/serial.h"
#include "kernel/string.h"

static const char *line_prefix = "";
static bool at_line_start = true;

static void console_put(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    while (n > 0) {
        if (at_line_start && line_prefix[0] != '\0')
            serial_write(line_prefix, strlen(line_prefix));
        at_line_start = false;
        size_t k = 0;
        while (k < n && s[k] != '\n')
            k++;
        if (k < n) { /* include the newline; the next byte starts a line */
            k++;
            at_line_start = true;
        }
        serial_write(s, k);
        s += k;
        n -= k;
    }
}

void kvprintf(const char *fmt, va_list ap)
{
    fmt_vformat(console_put, NULL, fmt, ap);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

const char *kprintf_set_line_prefix(const char *prefix)
{
    const char *old = line_prefix;
    line_prefix = prefix != NULL ? prefix : "";
    return old;
}

void kprintf_end_line(void)
{
    if (!at_line_start)
        console_put(NULL, "\n", 1);
}
