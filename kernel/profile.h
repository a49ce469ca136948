/*
 * profile.h - profile=heap: the heap profile printed at the end of a run
 * (see profile.c).
 */
#ifndef KERNEL_PROFILE_H
#define KERNEL_PROFILE_H

#include "kernel/cmdline.h"

/* Remembers what the command line asks for, and applies memprofilerate=N
 * (call it before the runtime's Ps start, so every P samples at that rate). */
void profile_setup(const struct cmdline *cl);
/* At the end of a run (the tour, run=NAME, the tests): prints the heap
 * profile if profile=heap was given. */
void profile_at_exit(void);
/* The block itself, named name (scripts/qemu saves it as heap-NAME.pb). */
void profile_print_block(const char *name);
/* pprof -top in brief: the max functions allocating the most (innermost frame), scaled. */
void profile_print_top(unsigned max);

#endif
