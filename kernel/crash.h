/*
 * crash.h - deliberate faults (crash=KIND on the command line), so the
 * fatal-exception path can be seen and tested end to end. Each one prints
 * what it is about to do, then does it; the trap handler's report and panic
 * follow.
 */
#ifndef KERNEL_CRASH_H
#define KERNEL_CRASH_H

#include <stdint.h>

#include "kernel/cmdline.h"

_Noreturn void crash(enum crash_kind kind);

/* Returns v through an empty asm, so the compiler cannot see the value and
 * fold away (or turn into ud2) an access it knows is invalid. */
static inline uint64_t crash_opaque(uint64_t v)
{
    __asm__ volatile("" : "+r"(v));
    return v;
}

/* The individual faults; also used by the in-kernel tests. */
uint64_t crash_read(uint64_t addr);               /* #PF or #GP */
void crash_write_byte(uint64_t addr, uint8_t v);  /* #PF on read-only pages */
uint64_t crash_divide(uint64_t n, uint64_t d);    /* #DE when d == 0 */
void crash_ud2(void);                             /* #UD */
void crash_call(uint64_t addr);                   /* #PF (instruction fetch) on NX pages */

/* A `ret` instruction in a data page, for crash=nx and its test. */
extern uint8_t crash_data_ret[16];

#endif
