/*
 * panic.c - fatal errors (contract in kernel/lib/panic.h).
 *
 * The contract is in kernel/lib/ because every layer calls it; the body is
 * here, in the core, because a report needs what only the core has:
 * backtraces and symbols, the test runner's TAP stream and the other CPUs
 * (kernel/build.mk, "Layers").
 *
 * Order of a panic: claim the panic (a second, nested panic prints one line
 * and exits at once, so a fault inside the reporter cannot loop); end any
 * half-written line; print the message, the location and a backtrace; let
 * the test runner close its TAP stream (ktest_on_panic); write the verdict
 * to the debug-exit port; halt.
 */
#include "kernel/lib/panic.h"

#include <stdbool.h>

#include "boot/boot_info.h"
#include "kernel/backtrace.h"
#include "kernel/ksyms.h"
#include "kernel/ktest.h"
#include "kernel/lib/percpu.h"
#include "kernel/smp.h"
#include "kernel/lib/x86.h"

#define NO_CPU (-1)
static volatile int panicking_cpu = NO_CPU; /* the CPU that owns the panic report */

_Noreturn void kernel_exit(uint8_t code)
{
    cli();
    outb(DEBUG_EXIT_PORT, code);
    for (;;) /* not under QEMU with isa-debug-exit: park the CPU */
        hlt();
}

/*
 * Makes this CPU the one that reports. Returns false for a nested panic on
 * the reporting CPU (after one short line). A panic on a second CPU while
 * another reports parks that CPU quietly: one report, never interleaved. The
 * winner first claims the console (kprintf_panic_enter: it writes without
 * the console lock from now on, after a bounded wait for a CPU in the middle
 * of a kprintf, so a lock held by a stopped or stuck CPU, or by this CPU
 * itself when the panic comes from inside kprintf, cannot block the report;
 * any other CPU that prints parks), then stops the other CPUs (an IPI; they
 * halt with interrupts off), so nothing else is printed over the report.
 */
static bool panic_claim(const char *fmt, va_list ap)
{
    cli();
    int me = (int)cpu_id(), none = NO_CPU;
    if (!__atomic_compare_exchange_n(&panicking_cpu, &none, me, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        if (panicking_cpu != me)
            for (;;)
                __asm__ volatile("cli; hlt");
        kprintf_set_line_prefix(NULL);
        kprintf("\nPANIC (nested, while panicking): ");
        kvprintf(fmt, ap);
        kprintf("\n");
        return false;
    }
    kprintf_panic_enter(); /* the console is this CPU's alone (kernel/lib/kprintf.c); ends the line */
    smp_stop_others();
    if (cpu_count() > 1)
        kprintf("PANIC on CPU %d (the other CPUs are stopped)\n", me);
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
