/*
 * panic.c - fatal errors (contract in panic.h).
 *
 * Order of a panic: claim the panic (a second, nested panic prints one line
 * and exits at once, so a fault inside the reporter cannot loop); end any
 * half-written line; print the message, the location and a backtrace; let
 * the test runner close its TAP stream (ktest_on_panic); write the verdict
 * to the debug-exit port; halt.
 */
#include "kernel/panic.h"

#include <stdbool.h>

#include "boot/boot_info.h"
#include "kernel/backtrace.h"
#include "kernel/ksyms.h"
#include "kernel/ktest.h"
#include "kernel/x86.h"

static volatile bool panicking;

_Noreturn void kernel_exit(uint8_t code)
{
    cli();
    outb(DEBUG_EXIT_PORT, code);
    for (;;) /* not under QEMU with isa-debug-exit: park the CPU */
        hlt();
}

/* Returns false if a panic is already in progress (after printing a short line). */
static bool panic_claim(const char *fmt, va_list ap)
{
    cli();
    if (panicking) {
        kprintf_set_line_prefix(NULL);
        kprintf("\nPANIC (nested, while panicking): ");
        kvprintf(fmt, ap);
        kprintf("\n");
        return false;
    }
    panicking = true;
    kprintf_end_line();
    return true;
}

static _Noreturn void panic_finish(void)
{
    ktest_on_panic();
    kernel_exit(DEBUG_EXIT_PANIC);
}

/* The one panic body. quiet: the message alone (bad input, not a kernel bug:
 * no location, no backtrace). */
static _Noreturn void panic_v(bool quiet, uint64_t caller, uint64_t rbp, const char *file, int line,
                              const char *func, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    if (!panic_claim(fmt, ap2))
        kernel_exit(DEBUG_EXIT_PANIC);
    va_end(ap2);

    kprintf("PANIC: ");
    kvprintf(fmt, ap);
    kprintf("\n");
    if (quiet)
        panic_finish();
    if (file != NULL) {
        kprintf("  at %s:%d in %s()\n", file, line, func);
    } else {
        char sym[96];
        kprintf("  called from 0x%016llx %s\n", (unsigned long long)caller, ksym_format_return(caller, sym, sizeof(sym)));
    }
    backtrace_print(0, rbp);
    panic_finish();
}

_Noreturn void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    panic_v(false, (uint64_t)__builtin_return_address(0), BACKTRACE_HERE(), NULL, 0, NULL, fmt, ap);
}

_Noreturn void panic_at(const char *file, int line, const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    panic_v(false, 0, BACKTRACE_HERE(), file, line, func, fmt, ap);
}

_Noreturn void panic_quiet(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    panic_v(true, 0, 0, NULL, 0, NULL, fmt, ap);
}
