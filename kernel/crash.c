/*
 * crash.c - the deliberate faults behind crash=KIND (crash.h).
 *
 * Each primitive is noinline and reads its target through crash_opaque so
 * the faulting instruction really executes and the backtrace shows
 * crash_<kind> -> crash -> kmain.
 */
#include "kernel/crash.h"

#include "kernel/bootstacks.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/panic.h"
#include "rt/sched.h"

/* `ret` (0xc3) in .data: executable only if the loader forgot NX. */
uint8_t crash_data_ret[16] = { 0xc3 };

__attribute__((noinline)) uint64_t crash_read(uint64_t addr)
{
    return *(volatile uint64_t *)crash_opaque(addr);
}

__attribute__((noinline)) void crash_write_byte(uint64_t addr, uint8_t v)
{
    *(volatile uint8_t *)crash_opaque(addr) = v;
}

__attribute__((noinline)) uint64_t crash_divide(uint64_t n, uint64_t d)
{
    uint64_t hi = 0, lo = n;
    __asm__ volatile("divq %2" : "+a"(lo), "+d"(hi) : "r"(crash_opaque(d)));
    return lo;
}

__attribute__((noinline)) void crash_ud2(void)
{
    __asm__ volatile("ud2");
}

__attribute__((noinline)) void crash_call(uint64_t addr)
{
    void (*fn)(void) = (void (*)(void))crash_opaque(addr);
    fn();
    __asm__ volatile(""); /* not a tail call: keep this frame in the backtrace */
}

/* crash=stack: the limit is lowered so the panic comes before memory runs out. */
#define CRASH_STACK_LIMIT ((uintptr_t)16 << 20)

static volatile uint64_t crash_stack_stop = ~0ull;   /* never reached */

__attribute__((noinline)) static uint64_t crash_recurse(uint64_t n)
{
    volatile char frame[1024];
    frame[0] = (char)n;
    if (n == crash_stack_stop)
        return 0;
    return crash_recurse(n + 1) + frame[0];
}

static void crash_stack_main(void *arg)
{
    (void)arg;
    crash_recurse(0);
}

_Noreturn void crash(enum crash_kind kind)
{
    kprintf("crash=%s: ", cmdline_crash_name(kind));
    switch (kind) {
    case CRASH_PF:
        kprintf("reading address 0x0 (the NULL page, unmapped since boot)\n");
        crash_read(0);
        break;
    case CRASH_GP:
        kprintf("reading non-canonical address 0x8000000000000000\n");
        crash_read(0x8000000000000000ull);
        break;
    case CRASH_UD:
        kprintf("executing ud2\n");
        crash_ud2();
        break;
    case CRASH_DE:
        kprintf("dividing 42 by 0\n");
        crash_divide(42, 0);
        break;
    case CRASH_NX:
        kprintf("calling %p, a data page mapped no-execute\n", (void *)crash_data_ret);
        crash_call((uint64_t)crash_data_ret);
        break;
    case CRASH_WP: {
        uint64_t target = (uint64_t)&crash;
        kprintf("writing to kernel text at %p (crash), mapped read-only\n", (void *)target);
        crash_write_byte(target, *(volatile uint8_t *)target);
        break;
    }
    case CRASH_GUARD: {
        uint64_t guard = bootstack(STACK_BOOT).guard;
        kprintf("reading 0x%lx, the guard page below the boot stack (unmapped)\n", guard);
        crash_read(guard);
        break;
    }
    case CRASH_STACK:
        kprintf("a coroutine recursing with 1 KiB frames, stack limit %lu MiB\n",
                (unsigned long)(CRASH_STACK_LIMIT >> 20));
        rt_set_max_stack(CRASH_STACK_LIMIT);
        rt_run(crash_stack_main, NULL, 1);
        break;
    case CRASH_NONE:
        break;
    }
    panic("crash=%s did not fault: the protection it tests is missing", cmdline_crash_name(kind));
}
