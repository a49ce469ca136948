/*
 * buddy_port.h - everything the frame allocator (mm/buddy.c) needs from its
 * host, in one place: the kernel's implementation and the hosted one (Linux,
 * for tests/host/test_buddy.c and bench/frames_hosted.c), chosen by HOSTED.
 * As rt/port.h is for the runtime, this is buddy.c's only contact with the
 * rest of the system; buddy.c itself has no #ifdef. The services are few and
 * small, so both halves are static inline here, and both builds link the
 * same objects as before (no port object to add to any link line). Included
 * by mm/buddy.c alone.
 *
 * What a port provides:
 *   - buddy_port_vsnprintf/buddy_port_snprintf: formatting into a buffer;
 *   - buddy_port_fail(msg): never returns; the allocator's state is intact
 *     when it is called for a rejected free, so a host test may longjmp out;
 *   - buddy_port_lock/buddy_port_unlock: mutual exclusion over struct buddy.
 *     Kernel: an interrupt-disabling ticket spinlock of rank SPIN_RANK_BUDDY
 *     (kernel/lib/spinlock.h). Hosted: single-threaded, a re-entry check;
 *   - buddy_port_fill(d, byte, bytes): fill a block (bytes a multiple of 8);
 *   - per-CPU caches: BUDDY_PORT_CACHES says whether there are any,
 *     BUDDY_PORT_NCPUS how many CPUs, buddy_port_cpu() which one runs, and
 *     buddy_port_irq_save/restore keep the running CPU's cache its own.
 *     Hosted builds have none (their tests check exact list shapes);
 *   - memset.
 */
#ifndef MM_BUDDY_PORT_H
#define MM_BUDDY_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/lib/compiler.h"
#include "mm/buddy.h"

#ifdef HOSTED
/* ---- Hosted: Linux user space, one thread. ---- */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define buddy_port_vsnprintf vsnprintf
#define buddy_port_snprintf  snprintf

static void default_panic_hook(const char *msg)
{
    fprintf(stderr, "buddy panic: %s\n", msg);
    abort();
}
void (*buddy_panic_hook)(const char *msg) = default_panic_hook; /* mm/buddy.h */

static bool g_buddy_port_held; /* the re-entry check: buddy_port_lock .. buddy_port_unlock */

_Noreturn static inline void buddy_port_fail(const char *msg)
{
    g_buddy_port_held = false; /* host tests resume after a detected bad free; the state is intact */
    buddy_panic_hook(msg);
    abort();
}

static inline void buddy_port_lock(void)
{
    if (unlikely(g_buddy_port_held))
        buddy_port_fail("frame allocator re-entered");
    g_buddy_port_held = true;
}

static inline void buddy_port_unlock(void) { g_buddy_port_held = false; }

static inline void buddy_port_fill(void *d, uint8_t byte, uint64_t bytes) { memset(d, byte, bytes); }

#define BUDDY_PORT_CACHES false
#define BUDDY_PORT_NCPUS  1
static inline unsigned buddy_port_cpu(void) { return 0; }
static inline uint64_t buddy_port_irq_save(void) { return 0; }
static inline void buddy_port_irq_restore(uint64_t flags) { (void)flags; }

#else
/* ---- Kernel. ---- */
#include "kernel/lib/kprintf.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/spinlock.h"
#include "kernel/lib/string.h"
#include "kernel/lib/x86.h"

#define buddy_port_vsnprintf kvsnprintf
#define buddy_port_snprintf  ksnprintf

_Noreturn static inline void buddy_port_fail(const char *msg) { panic("%s", msg); }

static struct spinlock g_buddy_lock = SPINLOCK_INIT("buddy", SPIN_RANK_BUDDY);
static uint64_t g_buddy_lock_flags; /* RFLAGS of the holder; only the holder touches it */

static inline void buddy_port_lock(void)
{
    uint64_t flags = spin_lock_irqsave(&g_buddy_lock);
    g_buddy_lock_flags = flags;
}

static inline void buddy_port_unlock(void) { spin_unlock_irqrestore(&g_buddy_lock, g_buddy_lock_flags); }

/* 8 bytes a step: under TCG this is ~8x faster than the byte-wise memset. */
static inline void buddy_port_fill(void *d, uint8_t byte, uint64_t bytes)
{
    uint64_t n = bytes / 8;
    __asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0x0101010101010101ull * byte) : "memory");
}

#define BUDDY_PORT_CACHES true
#define BUDDY_PORT_NCPUS  MAX_CPUS
static inline unsigned buddy_port_cpu(void) { return cpu_id(); }
static inline uint64_t buddy_port_irq_save(void) { return irq_save(); }
static inline void buddy_port_irq_restore(uint64_t flags) { irq_restore(flags); }
#endif

#endif
