/*
 * backtrace.c - frame-pointer backtraces that are safe inside fault reports.
 *
 * A frame pointer is followed only if it is 8-byte aligned, strictly above
 * the previous one (stacks grow down, so callers are higher), and its two
 * words are readable: inside one of the boot CPU's stacks, or mapped in the
 * current page tables (kernel/pgwalk.c; before the walker is ready only the
 * known stacks count). A return address must lie in kernel text. Any
 * failure ends the walk quietly: the reporter must not fault.
 *
 * One exception to "strictly above": handlers run on IST stacks (kernel/
 * gdt.h), and the trap stub's fake frame links the handler's chain to the
 * interrupted code's, on another stack that may lie lower. A step down is
 * followed when it leaves the known kernel stack (bootstacks.h, mm/kstack.h)
 * the previous frame was on, at most MAX_STACK_SWITCHES times per walk (an
 * exception in an IRQ handler that interrupted a coroutine is three
 * stacks), so the walk still ends on any loop.
 */
#include "kernel/backtrace.h"

#include <stdbool.h>

#include "kernel/bootstacks.h"
#include "kernel/lib/kprintf.h"
#include "kernel/ksyms.h"
#include "kernel/pgwalk.h"
#include "kernel/sections.h"
#include "mm/kstack.h"

#define MAX_STACK_SWITCHES 3

static bool frame_readable(uint64_t fp)
{
    struct bootstack s;
    bool in_guard;
    if (bootstack_find(fp, &s, &in_guard) && !in_guard && bootstack_find(fp + 15, &s, &in_guard) && !in_guard)
        return true;
    return va_canonical(fp) && pgwalk_mapped(fp, 16);
}

static bool in_text(uint64_t pc)
{
    return pc >= (uint64_t)__text_start && pc < (uint64_t)__text_end;
}

/* The usable bounds of the known kernel stack holding a, if any. */
static bool stack_of(uint64_t a, uint64_t *lo, uint64_t *hi)
{
    struct bootstack s;
    bool in_guard;
    if (bootstack_find(a, &s, &in_guard)) {
        *lo = s.base;
        *hi = s.top;
        return !in_guard;
    }
    return kstack_bounds(a, lo, hi);
}

/* True if the chain may step from the frame at prev down to rbp: out of the
 * known kernel stack holding prev (a handler's fake frame into the
 * interrupted code, which may run on any stack, a coroutine's included). */
static bool stack_switch(uint64_t prev, uint64_t rbp)
{
    uint64_t lo, hi;
    return stack_of(prev, &lo, &hi) && (rbp < lo || rbp >= hi);
}

int backtrace_collect(uint64_t rbp, uint64_t *pcs, int max)
{
    int n = 0, switches = 0;
    uint64_t prev = 0;
    while (n < max && rbp != 0) {
        if (rbp % 8 != 0 || !frame_readable(rbp))
            break;
        if (rbp <= prev && (switches++ >= MAX_STACK_SWITCHES || !stack_switch(prev, rbp)))
            break;
        const uint64_t *frame = (const uint64_t *)rbp;
        uint64_t ret = frame[1];
        if (!in_text(ret))
            break;
        pcs[n++] = ret;
        prev = rbp;
        rbp = frame[0];
    }
    return n;
}

static void print_pc(int i, uint64_t pc, bool is_return)
{
    const char *name;
    uint64_t off;
    /* A return address may be the first byte after a call at the very end
     * of a function: look up pc-1 to name the caller. */
    if (ksym_lookup(is_return ? pc - 1 : pc, &name, &off))
        kprintf("  #%-2d 0x%016llx %s+0x%llx\n", i, (unsigned long long)pc, name,
                (unsigned long long)(off + (is_return ? 1 : 0)));
    else
        kprintf("  #%-2d 0x%016llx ?\n", i, (unsigned long long)pc);
}

static void print_chain(int i, uint64_t rbp)
{
    uint64_t pcs[BACKTRACE_MAX];
    int n = backtrace_collect(rbp, pcs, BACKTRACE_MAX);
    for (int k = 0; k < n; k++) {
        /* Recursion: show a repeated frame twice, then count the rest. */
        int same = 0;
        while (k + 1 < n && pcs[k + 1] == pcs[k] && k > 0 && pcs[k - 1] == pcs[k]) {
            k++;
            same++;
        }
        if (same > 0) {
            kprintf("  ... %d more frames at the same return address\n", same);
            i += same;
        }
        print_pc(i++, pcs[k], true);
    }
    if (n == BACKTRACE_MAX)
        kprintf("  ... (stopped after %d frames)\n", BACKTRACE_MAX);
}

void backtrace_print(uint64_t pc0, uint64_t rbp)
{
    int i = 0;
    kprintf("backtrace:\n");
    if (pc0 != 0)
        print_pc(i++, pc0, false);
    print_chain(i, rbp);
}

void backtrace_print_trap(uint64_t rip, uint64_t rsp, uint64_t rbp)
{
    const char *name;
    uint64_t off;
    int i = 0;
    kprintf("backtrace:\n");
    print_pc(i++, rip, false);
    /* Stopped before the prologue's push of %rbp (at a function's first
     * byte, or after a call to a non-text address): the caller's return
     * address is still on top of the stack, and %rbp is the caller's. */
    bool before_prologue = !in_text(rip) || (ksym_lookup(rip, &name, &off) && off == 0);
    if (before_prologue && rsp % 8 == 0 && frame_readable(rsp) && in_text(*(const uint64_t *)rsp))
        print_pc(i++, *(const uint64_t *)rsp, true);
    print_chain(i, rbp);
}
