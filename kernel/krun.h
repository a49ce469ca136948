/*
 * krun.h - programs the kernel can run instead of the tour: `run=NAME`.
 *
 *   KRUN(bench_frames, "bench.frames", "frame alloc+free cost in cycles") { ... }
 *
 * Like KTEST, a program registers itself with a record in a linker section
 * (.krun, bounded by __krun_start/__krun_end). A program that returns ends
 * the run with the success status; one that fails calls panic().
 */
#ifndef KERNEL_KRUN_H
#define KERNEL_KRUN_H

#include "kernel/cmdline.h"

struct krun {
    const char *name; /* "bench.frames" */
    void (*fn)(void);
    const char *what; /* one line for the list of programs */
};
_Static_assert(sizeof(struct krun) == 24, "linker/kernel.ld checks .krun in 24-byte records");

#define KRUN(ident, name_, what_)                                                                \
    static void krun_fn_##ident(void);                                                           \
    __attribute__((used, section(".krun"), aligned(8))) static const struct krun                 \
        krun_rec_##ident = { (name_), krun_fn_##ident, (what_) };                                \
    static void krun_fn_##ident(void)

/* Runs the program called cl->run and exits with the success status; an
 * unknown name is a panic that lists the programs there are. */
_Noreturn void krun(const struct cmdline *cl);

/* The parsed command line, for a program's own keys (e.g. bt_depth=N). */
const struct cmdline *krun_cmdline(void);

#endif
