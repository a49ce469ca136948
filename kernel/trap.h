/*
 * trap.h - CPU exceptions: the saved state, the report, and fault catching.
 *
 * Every exception vector (0..31) enters through kernel/trap_entry.S on an
 * IST stack (kernel/gdt.h), which saves all general registers and the stack
 * guard into a struct trap_frame and calls trap_dispatch(). A hook for the
 * vector may handle it. Otherwise, with no catcher armed the exception is
 * fatal: a full report (trap_report) and a panic exit. With a catcher armed
 * (tests, and the test runner itself), the fault is recorded and execution
 * resumes at the catcher's saved context, as if kjmp_save had returned 1.
 */
#ifndef KERNEL_TRAP_H
#define KERNEL_TRAP_H

#include <stdbool.h>
#include <stdint.h>

/* Exception vectors (Intel SDM vol. 3A, table 6-1). */
enum {
    VEC_DE = 0, VEC_DB = 1, VEC_NMI = 2, VEC_BP = 3, VEC_OF = 4, VEC_BR = 5, VEC_UD = 6,
    VEC_NM = 7, VEC_DF = 8, VEC_TS = 10, VEC_NP = 11, VEC_SS = 12, VEC_GP = 13,
    VEC_PF = 14, VEC_MF = 16, VEC_AC = 17, VEC_MC = 18, VEC_XM = 19, VEC_VE = 20,
    VEC_CP = 21, VEC_HV = 28, VEC_VC = 29, VEC_SX = 30,
    TRAP_NVECTORS = 32,
};

/* Page-fault error code bits (SDM 4.7). */
#define PF_ERR_P    (1u << 0) /* 1: protection violation on a present page; 0: not present */
#define PF_ERR_W    (1u << 1) /* write */
#define PF_ERR_U    (1u << 2) /* user mode */
#define PF_ERR_RSVD (1u << 3) /* reserved bit set in a paging entry */
#define PF_ERR_I    (1u << 4) /* instruction fetch */
#define PF_ERR_PK   (1u << 5) /* protection key */
#define PF_ERR_SS   (1u << 6) /* shadow stack */

/*
 * Saved by kernel/trap_frame.inc (exceptions and interrupts alike); the
 * layout is its push order, lowest address first. The frame lives on the
 * handler's IST stack (kernel/gdt.h), never on the interrupted one.
 *
 * stack_guard is the interrupted code's -fsplit-stack guard (%fs:0x70,
 * kernel/lib/percpu.h). Entry saves it here and sets %fs:0x70 to 0 for the
 * handler; exit writes this copy back just before iretq. So a handler that
 * changes f->stack_guard changes the guard the interrupted code resumes
 * with: that is how the runtime's tick hook poisons a running coroutine's
 * guard to make its next prologue call __morestack (Go's stackPreempt).
 */
struct trap_frame {
    uint64_t stack_guard; /* %fs:0x70 of the interrupted code; restored from here */
    uint64_t pad;         /* keeps %rsp 16-aligned at the dispatcher call */
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code; /* 0 for vectors without one */
    /* pushed by the CPU */
    uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct trap_frame) == 24 * 8, "matches trap_frame.inc");
_Static_assert(__builtin_offsetof(struct trap_frame, stack_guard) == 0, "trap_frame.inc pushes it last");
_Static_assert(__builtin_offsetof(struct trap_frame, r15) == 2 * 8, "trap_frame.inc");
_Static_assert(__builtin_offsetof(struct trap_frame, rip) == 19 * 8, "trap_frame.inc TF_RIP (the fake frame)");

/* What a caught (or the last caught) fault looked like. */
struct trap_fault {
    uint64_t vector;
    uint64_t error_code;
    uint64_t cr2; /* page faults only; 0 otherwise */
    uint64_t rip;
    uint64_t rsp;   /* the interrupted %rsp */
    uint64_t frame; /* where the handler's struct trap_frame was: which stack handled it */
};

/* A saved kernel context: the callee-saved registers, %rsp and the resume %rip. */
struct kjmp {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

/* Saves the caller's context; returns 0. Returns again, with val (never 0),
 * when kjmp_restore or a caught fault resumes it. The function that called
 * kjmp_save must still be running at that point. (kernel/kjmp.S) */
__attribute__((returns_twice)) int kjmp_save(struct kjmp *j);
_Noreturn void kjmp_restore(const struct kjmp *j, int val);

/*
 * A fault catcher. Catchers form a stack (innermost on top); the top one
 * catches the next exception raised in the context that armed it: at the
 * same handler nesting level (exception handlers plus the IRQ handler
 * running on this CPU). A catcher armed in ordinary code therefore does not
 * catch a fault inside an IRQ handler, and one armed inside an exception
 * hook (trap_set_hook) catches the nested fault of that hook: resuming never
 * skips the exit path of a handler (which restores the stack guard and
 * TSS.IST5). #DF, NMI and #MC are never caught: they are fatal. Catching
 * pops it.
 */
struct trap_catch {
    struct kjmp resume;       /* where execution continues, kjmp_save returning 1 */
    struct trap_catch *prev;  /* the next outer catcher */
    bool report;              /* print the full report before resuming */
    volatile bool fired;      /* set when it caught a fault */
    unsigned level;           /* handlers running on this CPU when it was armed */
    struct trap_fault fault;  /* valid when fired */
};

/* Arms c (fired = false) on top of the catcher stack; call kjmp_save(&c->resume) next. */
void trap_catch_push(struct trap_catch *c, bool report);
/* Disarms c, which must be on top (panics otherwise); no-op if it already fired. */
void trap_catch_pop(struct trap_catch *c);
/* Makes c the top again, dropping any inner catchers (after a kjmp_restore past them). */
void trap_catch_unwind_to(struct trap_catch *c);

/*
 * An exception hook: trap_dispatch calls it first for its vector, on the
 * exception stack, with interrupts off. It returns true when it handled the
 * exception (execution resumes from f, which it may edit), false to go on
 * to the catchers and the report. It may arm a catcher to survive a fault of
 * its own (the nested exception lands lower on the exception stack). For
 * tests and debuggers; #DF, NMI and #MC cannot be hooked. NULL removes it.
 */
typedef bool (*trap_hook_fn)(struct trap_frame *f);
void trap_set_hook(unsigned vector, trap_hook_fn fn);

/* Exception handlers running on this CPU now (0 outside any). */
unsigned trap_depth_now(void);

/* The most recent fault any catcher caught (vector ~0 if none yet). */
const struct trap_fault *trap_last_fault(void);

/* Entry from trap_entry.S. */
void trap_dispatch(struct trap_frame *f);

/* Prints the full report of f: name, error code in words, symbolized RIP,
 * CR2, registers, control registers, backtrace. Never faults. */
void trap_report(const struct trap_frame *f);

/* "#PF", "Page Fault" (or "#??", "reserved") for any vector. */
const char *trap_mnemonic(uint64_t vector);
const char *trap_name(uint64_t vector);
/* True if the CPU pushes an error code for this vector. */
bool trap_has_error_code(uint64_t vector);

/* Decodes a page-fault error code into words ("present, write, supervisor"). */
void trap_pf_describe(uint64_t error_code, char *buf, unsigned size);

#endif
