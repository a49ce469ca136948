/*
 * compiler.h - hints to gcc that every layer may use (kernel and hosted builds
 * alike: no code, no state). The runtime has its own copy in rt/port.h, since
 * rt/ includes no kernel header.
 */
#ifndef KERNEL_LIB_COMPILER_H
#define KERNEL_LIB_COMPILER_H

/* The branch is (un)likely taken: the fast path falls through, the slow path
 * is laid out out of line. */
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
