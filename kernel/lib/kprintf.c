/*
 * kprintf.c - the console side of kprintf (the formatting is kernel/lib/fmt.c).
 *
 * Output goes to COM1 as it is produced, so a report printed just before a
 * hang or a triple fault is still seen. A line prefix, when set, is written
 * before the first byte of every line: the test runner sets "# " so that
 * whatever a test prints becomes a TAP diagnostic.
 *
 * Locking (SMP): whole lines, one CPU at a time.
 *   1. console_lock (spinlock, rank SPIN_RANK_CONSOLE, the highest: code may
 *      print whatever it holds, and nothing is taken while printing) is held,
 *      interrupts off, for the whole of one kvprintf call: one call's output
 *      is never split by another CPU's.
 *   2. Line ownership: a call that ends mid-line leaves line_cpu = its CPU.
 *      Another CPU that gets the lock while line_cpu is someone else's
 *      releases it and queues again until that line is finished, so lines
 *      built from several calls (kprintf("a"); kprintf("b\n")) stay whole.
 *      After LINE_WAIT_CYCLES it stops waiting: it ends the line for the
 *      other CPU ("\n") and goes on. Output can be cut, never lost or hung.
 *   3. Blocks: kprintf_lock()/kprintf_unlock() hold the console across
 *      calls (a multi-line report). kvprintf on the CPU that holds it
 *      writes without taking it again; the same holds for a fault report
 *      printed from inside kvprintf (a fault in the formatter).
 *   4. Panic: kprintf_panic_enter() makes the panicking CPU the only writer
 *      (panic_cpu). It does not take the lock: it waits at most
 *      PANIC_WAIT_CYCLES for a CPU that is writing to finish its call or
 *      park, then writes without the lock, so a CPU that died holding it
 *      (or the panicking CPU itself, panicking inside kprintf) cannot block
 *      the report. Any other CPU that reaches the console from then on parks
 *      (interrupts off, hlt) before writing a byte; the report is one block.
 * Output is still written as it is produced (no buffering), and with one
 * CPU the bytes are exactly as before.
 */
#include "kernel/lib/kprintf.h"

#include <stdbool.h>

#include "kernel/lib/fmt.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/serial.h"
#include "kernel/lib/spinlock.h"
#include "kernel/lib/string.h"
#include "kernel/lib/x86.h"

#define LINE_WAIT_CYCLES  (1ull << 30) /* < SPIN_TIMEOUT_CYCLES: a cut line, not a lock panic */
#define PANIC_WAIT_CYCLES (1ull << 30)

static struct spinlock console_lock = SPINLOCK_INIT("console", SPIN_RANK_CONSOLE);

/* Under console_lock (or written only by the panicking CPU). */
static const char *line_prefix = "";
static bool at_line_start = true;
static int32_t line_cpu = -1;  /* CPU whose line is unfinished, -1 at a line start */
static unsigned block_depth;   /* kprintf_lock nesting on the holder */
static uint64_t block_flags;   /* RFLAGS saved by the outermost kprintf_lock */

static int32_t panic_cpu = -1; /* the CPU that owns the console for its panic report */
static bool parked_holder;     /* a CPU parked while holding console_lock */

/* Another CPU is reporting a panic: stop here, for good, without a byte. */
static _Noreturn void console_park(bool holding)
{
    cli();
    if (holding)
        __atomic_store_n(&parked_holder, true, __ATOMIC_SEQ_CST);
    for (;;)
        hlt();
}

static bool other_cpu_panicking(void)
{
    int32_t p = __atomic_load_n(&panic_cpu, __ATOMIC_SEQ_CST);
    return p >= 0 && p != (int32_t)cpu_id();
}

/* Every byte goes out here. */
static void console_write(const char *s, size_t n)
{
    if (other_cpu_panicking())
        console_park(true); /* callers hold the lock, unless they are the panicking CPU */
    serial_write(s, n);
}

static void console_put(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    while (n > 0) {
        if (at_line_start && line_prefix[0] != '\0')
            console_write(line_prefix, strlen(line_prefix));
        at_line_start = false;
        size_t k = 0;
        while (k < n && s[k] != '\n')
            k++;
        if (k < n) { /* include the newline; the next byte starts a line */
            k++;
            at_line_start = true;
        }
        console_write(s, k);
        s += k;
        n -= k;
    }
}

/* Takes console_lock (*flags: the saved RFLAGS) and waits, bounded, for
 * another CPU's unfinished line (step 2). Returns false if the caller may
 * write without it: it holds the console already, or it is the panicking
 * CPU. */
static bool console_enter(uint64_t *flags)
{
    if (__atomic_load_n(&panic_cpu, __ATOMIC_SEQ_CST) >= 0) {
        if (other_cpu_panicking())
            console_park(false);
        return false;
    }
    if (spin_held_by_me(&console_lock))
        return false;
    *flags = spin_lock_irqsave(&console_lock);
    int32_t me = (int32_t)cpu_id();
    uint64_t t0 = rdtsc();
    while (line_cpu >= 0 && line_cpu != me) {
        if (rdtsc() - t0 > LINE_WAIT_CYCLES) { /* its owner is busy or stuck: cut the line */
            console_write("\n", 1);
            at_line_start = true;
            line_cpu = -1;
            break;
        }
        spin_unlock_irqrestore(&console_lock, *flags); /* let the owner finish it */
        cpu_relax();
        if (other_cpu_panicking())
            console_park(false);
        *flags = spin_lock_irqsave(&console_lock);
    }
    return true;
}

static void console_exit(bool taken, uint64_t flags)
{
    if (!taken)
        return;
    line_cpu = at_line_start ? -1 : (int32_t)cpu_id();
    spin_unlock_irqrestore(&console_lock, flags);
}

void kvprintf(const char *fmt, va_list ap)
{
    uint64_t flags = 0;
    bool taken = console_enter(&flags);
    fmt_vformat(console_put, NULL, fmt, ap);
    console_exit(taken, flags);
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
    uint64_t flags = 0;
    bool taken = console_enter(&flags);
    if (!at_line_start)
        console_put(NULL, "\n", 1);
    console_exit(taken, flags);
}

void kprintf_lock(void)
{
    if (spin_held_by_me(&console_lock)) {
        block_depth++;
        return;
    }
    uint64_t flags = 0;
    if (!console_enter(&flags))
        return; /* the panicking CPU: it writes without the lock anyway */
    block_flags = flags;
    block_depth = 1;
}

void kprintf_unlock(void)
{
    if (!spin_held_by_me(&console_lock))
        return; /* the panicking CPU (see kprintf_lock) */
    if (--block_depth == 0)
        console_exit(true, block_flags);
}

void kprintf_panic_enter(void)
{
    int32_t me = (int32_t)cpu_id();
    __atomic_store_n(&panic_cpu, me, __ATOMIC_SEQ_CST);
    /* A CPU inside a call finishes it, or parks at its next byte. */
    uint64_t t0 = rdtsc();
    while (spin_is_locked(&console_lock) && !spin_held_by_me(&console_lock) &&
           !__atomic_load_n(&parked_holder, __ATOMIC_SEQ_CST) && rdtsc() - t0 < PANIC_WAIT_CYCLES)
        cpu_relax();
    kprintf_end_line(); /* whoever's line it was */
}
