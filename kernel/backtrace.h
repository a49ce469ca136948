/*
 * backtrace.h - walking the frame-pointer chain (the kernel is built with
 * -fno-omit-frame-pointer: every frame is {saved rbp, return address}).
 */
#ifndef KERNEL_BACKTRACE_H
#define KERNEL_BACKTRACE_H

#include <stdint.h>

#define BACKTRACE_MAX 32 /* frames walked at most */

/* Collects up to max return addresses, starting with the frame at rbp.
 * Stops at rbp 0 (entry.S's end marker), at a frame pointer that is not
 * plausible (misaligned, not on a known stack or unmapped, or not above the
 * previous one unless it leaves the previous frame's kernel stack: from a
 * handler's IST stack into the interrupted code's) or at a return address
 * outside kernel text. Never faults. */
int backtrace_collect(uint64_t rbp, uint64_t *pcs, int max);

/* Prints "backtrace:" then one symbolized line per frame: first pc0 (the
 * current instruction, if non-zero), then the callers from rbp. */
void backtrace_print(uint64_t pc0, uint64_t rbp);

/* The same for an exception frame: also recovers the caller of a function
 * that faulted on its first instruction (or jumped to a non-text address),
 * which has no frame of its own yet. */
void backtrace_print_trap(uint64_t rip, uint64_t rsp, uint64_t rbp);

/* The caller's frame pointer, for backtrace_print(0, BACKTRACE_HERE()). */
#define BACKTRACE_HERE() ((uint64_t)__builtin_frame_address(0))

#endif
