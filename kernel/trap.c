/*
 * trap.c - what happens when the CPU raises an exception.
 *
 * What it does
 *   trap_dispatch() receives every exception (vectors 0-31) from
 *   trap_entry.S, on this CPU's exception IST stack (or the #DF/NMI/#MC
 *   one; kernel/gdt.h), with all registers and the interrupted code's stack
 *   guard saved in a struct trap_frame, and does one of three things:
 *     - a hook is installed for the vector (trap_set_hook) and handles it:
 *       return, resuming from the (possibly edited) frame;
 *     - a fault catcher armed in the faulting context is on top (trap.h):
 *       record the fault in the catcher, optionally print the full report,
 *       and resume the catcher's saved context by editing the frame that
 *       iretq will restore. This is how a test expects a fault
 *       (KT_EXPECT_FAULT) and how the test runner survives a test that
 *       faults unexpectedly. The resume goes out through the stub's normal
 *       exit, so TSS.IST5 is moved back up and the frame's stack guard is
 *       restored: a catch leaves no trace on the exception stack.
 *     - otherwise: print the full report and panic (status 2).
 *
 * The report (trap_report), in the order a reader needs it
 *   1. "EXCEPTION #PF (Page Fault), vector 14" and, for #DF, why the stack is
 *      suspect;
 *   2. the error code in words: for #PF the P/W/U/RSVD/I/PK/SS bits, for
 *      the selector-error vectors (#TS #NP #SS #GP, SDM 6.13) the selector
 *      index, table (GDT/LDT/IDT) and the external bit;
 *   3. CR2 for #PF (and for #DF, where a page fault while delivering an
 *      exception, e.g. onto a stack's guard page, is the usual cause), with
 *      what lives there (NULL page, non-canonical, a guard page, a kernel
 *      section, the direct map);
 *   4. RIP symbolized as name+offset, CS, RFLAGS with its flags named;
 *   5. all 16 general registers, the stack guard, then CR0, CR3, CR4;
 *   6. a backtrace through frame pointers (kernel/backtrace.c), starting at
 *      the faulting RIP.
 *
 * Invariants
 *   - The reporter never faults: memory is read only after the frame-pointer
 *     checks of backtrace.c; everything else printed comes from the frame
 *     and control registers.
 *   - Nesting: trap_depth counts exception handlers running; the level of a
 *     context is trap_depth plus the IRQ handlers running (irq_depth(),
 *     0 or 1). A catcher records the level it was armed at and catches only
 *     a fault raised at that same level, so a resume never skips a handler's
 *     exit path. An exception inside a handler (depth 2) that no catcher of
 *     that handler expects is never fully reported: it prints one line and
 *     exits with the panic status, so a broken reporter cannot recurse until
 *     the stack overflows. Each nesting lands EXC_IST_SHIFT lower on the
 *     exception stack; the fifth would hit its guard page and become #DF.
 *   - #DF, NMI and #MC are never caught or hooked: they say the machine (or
 *     the kernel's stack) is in a state no test can continue from.
 *   - A catcher catches at most once: it is popped before the resume.
 *
 * Locking: none needed. The catcher stack, the last fault and trap_depth are
 * per CPU (arrays indexed by cpu_id()): a CPU only ever catches its own
 * faults, and only it touches its entries. Hooks are installed before the
 * exceptions they handle can happen (release/acquire on the pointer).
 *
 * Cites: Intel SDM vol. 3A ch. 6 (exception classes, error codes, table
 * 6-1, 6.14.5 the IST) and 4.7 (page-fault error code).
 */
#include "kernel/trap.h"

#include "boot/boot_info.h"
#include "kernel/backtrace.h"
#include "kernel/bootstacks.h"
#include "kernel/lib/kprintf.h"
#include "kernel/ksyms.h"
#include "kernel/lapic.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "kernel/pgwalk.h"
#include "mm/layout.h"
#include "kernel/sections.h"
#include "kernel/lib/x86.h"

/* Per CPU (indexed by cpu_id()): each CPU catches its own faults. */
static struct trap_catch *catch_top_of[MAX_CPUS]; /* innermost armed catcher, NULL if none */
static struct trap_fault last_fault_of[MAX_CPUS] = {[0 ... MAX_CPUS - 1] = {.vector = ~0ull}};
static volatile int trap_depth_of[MAX_CPUS];     /* handlers currently running */
#define catch_top (catch_top_of[cpu_id()])
#define last_fault (last_fault_of[cpu_id()])
#define trap_depth (trap_depth_of[cpu_id()])

static trap_hook_fn hooks[TRAP_NVECTORS];

/* Handlers running on this CPU: exceptions, plus the IRQ handler if any. */
static unsigned level_now(void) { return (unsigned)trap_depth + irq_depth(); }

unsigned trap_depth_now(void) { return (unsigned)trap_depth; }

static const struct {
    const char *mnemonic;
    const char *name;
} vectors[TRAP_NVECTORS] = {
    [0] = { "#DE", "Divide Error" },
    [1] = { "#DB", "Debug" },
    [2] = { "NMI", "Non-Maskable Interrupt" },
    [3] = { "#BP", "Breakpoint" },
    [4] = { "#OF", "Overflow" },
    [5] = { "#BR", "BOUND Range Exceeded" },
    [6] = { "#UD", "Invalid Opcode" },
    [7] = { "#NM", "Device Not Available" },
    [8] = { "#DF", "Double Fault" },
    [9] = { "#CSO", "Coprocessor Segment Overrun (reserved)" },
    [10] = { "#TS", "Invalid TSS" },
    [11] = { "#NP", "Segment Not Present" },
    [12] = { "#SS", "Stack-Segment Fault" },
    [13] = { "#GP", "General Protection" },
    [14] = { "#PF", "Page Fault" },
    [15] = { "#15", "reserved" },
    [16] = { "#MF", "x87 Floating-Point Error" },
    [17] = { "#AC", "Alignment Check" },
    [18] = { "#MC", "Machine Check" },
    [19] = { "#XM", "SIMD Floating-Point Exception" },
    [20] = { "#VE", "Virtualization Exception" },
    [21] = { "#CP", "Control Protection" },
    [22] = { "#22", "reserved" },
    [23] = { "#23", "reserved" },
    [24] = { "#24", "reserved" },
    [25] = { "#25", "reserved" },
    [26] = { "#26", "reserved" },
    [27] = { "#27", "reserved" },
    [28] = { "#HV", "Hypervisor Injection" },
    [29] = { "#VC", "VMM Communication" },
    [30] = { "#SX", "Security Exception" },
    [31] = { "#31", "reserved" },
};

const char *trap_mnemonic(uint64_t vector)
{
    return vector < TRAP_NVECTORS ? vectors[vector].mnemonic : "#??";
}

const char *trap_name(uint64_t vector)
{
    return vector < TRAP_NVECTORS ? vectors[vector].name : "not an exception vector";
}

bool trap_has_error_code(uint64_t vector)
{
    switch (vector) {
    case VEC_DF: case VEC_TS: case VEC_NP: case VEC_SS: case VEC_GP: case VEC_PF:
    case VEC_AC: case VEC_CP: case VEC_VC: case VEC_SX:
        return true;
    default:
        return false;
    }
}

static bool is_selector_error(uint64_t vector)
{
    return vector == VEC_TS || vector == VEC_NP || vector == VEC_SS || vector == VEC_GP;
}

/* ---- catchers ------------------------------------------------------------ */

void trap_catch_push(struct trap_catch *c, bool report)
{
    c->prev = catch_top;
    c->report = report;
    c->fired = false;
    c->level = level_now();
    catch_top = c;
}

void trap_catch_pop(struct trap_catch *c)
{
    if (c->fired)
        return; /* the handler popped it when it fired */
    ASSERT_MSG(catch_top == c, "catcher %p popped out of order (top is %p)", (void *)c, (void *)catch_top);
    catch_top = c->prev;
}

void trap_catch_unwind_to(struct trap_catch *c)
{
    catch_top = c;
}

const struct trap_fault *trap_last_fault(void) { return &last_fault; }

static bool catchable(uint64_t vector)
{
    return vector != VEC_DF && vector != VEC_NMI && vector != VEC_MC;
}

void trap_set_hook(unsigned vector, trap_hook_fn fn)
{
    ASSERT_MSG(vector < TRAP_NVECTORS && catchable(vector), "vector %u cannot be hooked", vector);
    __atomic_store_n(&hooks[vector], fn, __ATOMIC_RELEASE);
}

/* Rewrites f so that iretq lands where c->resume was saved, with kjmp_save
 * returning 1: the callee-saved registers, rsp and rip come from the save. */
static void resume_at(struct trap_frame *f, const struct kjmp *j)
{
    f->rbx = j->rbx;
    f->rbp = j->rbp;
    f->r12 = j->r12;
    f->r13 = j->r13;
    f->r14 = j->r14;
    f->r15 = j->r15;
    f->rsp = j->rsp;
    f->rip = j->rip;
    f->rax = 1;
}

/* ---- the report ---------------------------------------------------------- */

void trap_pf_describe(uint64_t e, char *buf, unsigned size)
{
    ksnprintf(buf, size, "%s, %s, %s mode%s%s%s%s",
              (e & PF_ERR_P) ? "protection violation on a present page" : "page not present",
              (e & PF_ERR_I) ? "instruction fetch" : (e & PF_ERR_W) ? "write" : "read",
              (e & PF_ERR_U) ? "user" : "supervisor",
              (e & PF_ERR_RSVD) ? ", reserved bit set in a paging entry" : "",
              (e & PF_ERR_PK) ? ", protection key" : "",
              (e & PF_ERR_SS) ? ", shadow stack" : "",
              (e & ~0x7full) ? ", other bits set" : "");
}

/* What lives at addr, in words (for CR2 and for RSP on #DF). */
static void describe_address(uint64_t a, char *buf, unsigned size)
{
    struct bootstack s;
    bool in_guard;
    const char *name;
    uint64_t off;

    if (!va_canonical(a))
        ksnprintf(buf, size, "non-canonical address");
    else if (a < 4096)
        ksnprintf(buf, size, "NULL page: null pointer dereference");
    else if (a < 0x0000800000000000ull)
        ksnprintf(buf, size, "low half: unmapped after boot");
    else if (bootstack_find(a, &s, &in_guard))
        ksnprintf(buf, size, in_guard ? "guard page below the %s stack: stack overflow" : "%s stack",
                  s.name);
    else if (a >= (uint64_t)__text_start && a < (uint64_t)__text_end)
        ksnprintf(buf, size, "kernel text (read-only, executable)%s%s", ksym_lookup(a, &name, &off) ? ": " : "",
                  ksym_lookup(a, &name, &off) ? name : "");
    else if (a >= (uint64_t)__rodata_start && a < (uint64_t)__rodata_end)
        ksnprintf(buf, size, "kernel rodata (read-only)");
    else if (a >= (uint64_t)__data_start && a < (uint64_t)__bss_end)
        ksnprintf(buf, size, "kernel data/bss (read-write, no execute)%s%s",
                  ksym_lookup(a, &name, &off) ? ": " : "", ksym_lookup(a, &name, &off) ? name : "");
    else if (a >= (uint64_t)__ksyms_start && a < (uint64_t)__kernel_end)
        ksnprintf(buf, size, "kernel symbol table (read-only)");
    else if (layout_describe(a, buf, size))
        return;
    else if (a >= BOOT_DIRECT_MAP_BASE && a < BOOT_DIRECT_MAP_BASE + (64ull << 40))
        ksnprintf(buf, size, "direct map: physical 0x%llx", (unsigned long long)(a - BOOT_DIRECT_MAP_BASE));
    else
        ksnprintf(buf, size, "no kernel region");
}

static void print_rflags(uint64_t fl)
{
    static const struct { int bit; const char *name; } bits[] = {
        { 0, "CF" }, { 2, "PF" }, { 4, "AF" }, { 6, "ZF" }, { 7, "SF" }, { 8, "TF" }, { 9, "IF" },
        { 10, "DF" }, { 11, "OF" }, { 14, "NT" }, { 16, "RF" }, { 17, "VM" }, { 18, "AC" }, { 21, "ID" },
    };
    kprintf("RFLAGS 0x%016llx [", (unsigned long long)fl);
    const char *sep = "";
    for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        if (fl & (1ull << bits[i].bit)) {
            kprintf("%s%s", sep, bits[i].name);
            sep = " ";
        }
    }
    kprintf("] IOPL %llu\n", (unsigned long long)((fl >> 12) & 3));
}

void trap_report(const struct trap_frame *f)
{
    typedef unsigned long long ull;
    char buf[160];
    uint64_t cr2 = read_cr2();

    kprintf_lock(); /* one block: no other CPU's line lands inside the report */
    kprintf_end_line();
    kprintf("EXCEPTION %s (%s), vector %llu, in kernel mode\n", trap_mnemonic(f->vector), trap_name(f->vector),
            (ull)f->vector);

    /* 2. the error code */
    if (f->vector == VEC_PF) {
        trap_pf_describe(f->error_code, buf, sizeof(buf));
        kprintf("error code 0x%llx: %s\n", (ull)f->error_code, buf);
    } else if (is_selector_error(f->vector) || (f->vector == VEC_DF && f->error_code != 0)) {
        uint64_t e = f->error_code;
        if (e == 0)
            kprintf("error code 0x0: no selector involved (e.g. a non-canonical address or a privileged "
                    "instruction)\n");
        else
            kprintf("error code 0x%llx: selector index %llu in the %s%s\n", (ull)e, (ull)((e >> 3) & 0x1fff),
                    (e & 2) ? "IDT" : (e & 4) ? "LDT" : "GDT",
                    (e & 1) ? ", raised by an external event" : "");
    } else if (trap_has_error_code(f->vector)) {
        kprintf("error code 0x%llx\n", (ull)f->error_code);
    }

    /* 3. the faulting address */
    if (f->vector == VEC_PF) {
        describe_address(cr2, buf, sizeof(buf));
        kprintf("CR2 0x%016llx: %s\n", (ull)cr2, buf);
    }
    if (f->vector == VEC_DF) {
        describe_address(f->rsp, buf, sizeof(buf));
        kprintf("interrupted RSP 0x%016llx: %s\n", (ull)f->rsp, buf);
        /* A #PF while the CPU pushed an exception frame (onto a guard page,
         * e.g. an overflowed IST stack) becomes #DF with CR2 = that address. */
        describe_address(cr2, buf, sizeof(buf));
        kprintf("CR2 0x%016llx (the last page fault's address): %s\n", (ull)cr2, buf);
    }

    /* 4. where */
    kprintf("RIP 0x%016llx %s  CS 0x%llx  SS 0x%llx\n", (ull)f->rip, ksym_format(f->rip, buf, sizeof(buf)),
            (ull)f->cs, (ull)f->ss);
    print_rflags(f->rflags);

    /* 5. registers */
    kprintf("RAX 0x%016llx RBX 0x%016llx RCX 0x%016llx RDX 0x%016llx\n", (ull)f->rax, (ull)f->rbx,
            (ull)f->rcx, (ull)f->rdx);
    kprintf("RSI 0x%016llx RDI 0x%016llx RBP 0x%016llx RSP 0x%016llx\n", (ull)f->rsi, (ull)f->rdi,
            (ull)f->rbp, (ull)f->rsp);
    kprintf("R8  0x%016llx R9  0x%016llx R10 0x%016llx R11 0x%016llx\n", (ull)f->r8, (ull)f->r9,
            (ull)f->r10, (ull)f->r11);
    kprintf("R12 0x%016llx R13 0x%016llx R14 0x%016llx R15 0x%016llx\n", (ull)f->r12, (ull)f->r13,
            (ull)f->r14, (ull)f->r15);
    kprintf("stack guard (%%fs:0x70) 0x%016llx, trap frame at 0x%016llx\n", (ull)f->stack_guard, (ull)(uint64_t)f);
    kprintf("CR0 0x%016llx CR2 0x%016llx CR3 0x%016llx CR4 0x%016llx\n", (ull)read_cr0(), (ull)cr2,
            (ull)read_cr3(), (ull)read_cr4());

    /* 6. how we got there */
    backtrace_print_trap(f->rip, f->rsp, f->rbp);
    kprintf_unlock();
}

/* ---- dispatch ------------------------------------------------------------ */

void trap_dispatch(struct trap_frame *f)
{
    unsigned level = level_now(); /* of the faulting context */
    int depth = ++trap_depth;
    struct trap_catch *c = catch_top;
    bool ours = c != NULL && c->level == level && catchable(f->vector);

    if (depth > 1 && !ours) {
        /* A fault inside the handler that nothing expects: report minimally and stop. */
        kprintf_set_line_prefix(NULL);
        kprintf("\nnested %s (%s) at RIP 0x%016llx while handling an exception; CR2 0x%016llx\n",
                trap_mnemonic(f->vector), trap_name(f->vector), (unsigned long long)f->rip,
                (unsigned long long)read_cr2());
        panic_quiet("nested exception %s inside the exception handler", trap_mnemonic(f->vector));
    }

    /* Hooks see only first-level exceptions: a fault of a hook itself goes to its catcher. */
    trap_hook_fn hook = depth == 1 && f->vector < TRAP_NVECTORS ? __atomic_load_n(&hooks[f->vector], __ATOMIC_ACQUIRE)
                                                                : NULL;
    if (hook != NULL && hook(f)) {
        trap_depth--;
        return;
    }

    if (ours) {
        catch_top = c->prev;
        c->fault.vector = f->vector;
        c->fault.error_code = f->error_code;
        c->fault.cr2 = f->vector == VEC_PF ? read_cr2() : 0;
        c->fault.rip = f->rip;
        c->fault.rsp = f->rsp;
        c->fault.frame = (uint64_t)f;
        c->fired = true;
        last_fault = c->fault;
        if (c->report)
            trap_report(f);
        resume_at(f, &c->resume);
        trap_depth--;
        return;
    }

    trap_report(f);
    char sym[96];
    if (irq_depth() > 0)
        panic_quiet("unhandled exception %s (%s) at %s, inside an interrupt handler", trap_mnemonic(f->vector),
                    trap_name(f->vector), ksym_format(f->rip, sym, sizeof(sym)));
    panic_quiet("unhandled exception %s (%s) at %s", trap_mnemonic(f->vector), trap_name(f->vector),
                       ksym_format(f->rip, sym, sizeof(sym)));
}
