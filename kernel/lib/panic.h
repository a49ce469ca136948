/*
 * panic.h - the end of the road: report and stop the machine.
 *
 * panic() prints "PANIC: <message>", where it was called from, and a
 * backtrace, then ends QEMU with DEBUG_EXIT_PANIC (launcher status 2). If
 * the debug-exit device is absent the CPU halts with interrupts off. A panic
 * while panicking prints one short line and stops at once.
 *
 * ASSERT(cond) and ASSERT_MSG(cond, fmt, ...) are always compiled in; a
 * failure panics naming file:line, the function and the expression.
 */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include <stdint.h>

#include "kernel/lib/kprintf.h"

_Noreturn void panic(const char *fmt, ...) KPRINTF_FMT(1, 2);
_Noreturn void panic_at(const char *file, int line, const char *func, const char *fmt, ...)
    KPRINTF_FMT(4, 5);

/* Writes code to the isa-debug-exit port (boot/boot_info.h DEBUG_EXIT_*),
 * which ends QEMU; halts forever if that did not. Prints nothing. */
_Noreturn void kernel_exit(uint8_t code);

/* panic() without the location and backtrace, for callers that printed the
 * context already (the trap handler after its report) or for which a
 * backtrace says nothing (a rejected command line). */
_Noreturn void panic_quiet(const char *fmt, ...) KPRINTF_FMT(1, 2);

#define ASSERT(cond)                                                                    \
    do {                                                                                \
        if (__builtin_expect(!(cond), 0))                                               \
            panic_at(__FILE__, __LINE__, __func__, "assertion failed: %s", #cond);       \
    } while (0)

#define ASSERT_MSG(cond, fmt, ...)                                                      \
    do {                                                                                \
        if (__builtin_expect(!(cond), 0))                                               \
            panic_at(__FILE__, __LINE__, __func__, "assertion failed: %s: " fmt, #cond, \
                     ##__VA_ARGS__);                                                    \
    } while (0)

#endif
