/*
 * cmdline.h - the kernel command line (DESIGN.md section 5), parsed into a
 * struct by kernel/cmdline.c (pure logic, host-tested).
 *
 * Syntax: space-separated `key` or `key=value` (tabs, CR and LF also
 * separate). Every key may appear at most once; unknown keys, missing or
 * malformed values and out-of-range numbers are errors whose message names
 * the key and what was expected.
 */
#ifndef KERNEL_CMDLINE_H
#define KERNEL_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDLINE_GLOB_MAX  128 /* bytes incl. NUL of test=GLOB */
#define CMDLINE_NAME_MAX  64  /* bytes incl. NUL of run=NAME */
#define CMDLINE_PROCS_MAX 64  /* procs=N upper bound (the kernel's CPU limit) */
#define CMDLINE_GOGC_MAX  100000
#define CMDLINE_MEMLIMIT_MIN (1ull << 20) /* 1 MiB: less cannot hold the runtime */
#define CMDLINE_MEMLIMIT_MAX (1ull << 40) /* 1 TiB */
#define CMDLINE_GCSTRESS_MAX 1000000000u /* gcstress=N upper bound */
#define CMDLINE_MEMPROFILERATE_MAX (1ull << 30) /* memprofilerate=N upper bound (rt/mprof.c) */
#define CMDLINE_BT_DEPTH_MAX 30 /* bt_depth=N upper bound (bench/binarytrees.h BT_MAX_DEPTH) */
#define CMDLINE_ERR_MAX   192 /* a buffer this size holds any error message */

enum crash_kind {
    CRASH_NONE = 0,
    CRASH_PF, /* read an unmapped address (NULL page) */
    CRASH_GP, /* read a non-canonical address */
    CRASH_UD, /* ud2 */
    CRASH_DE, /* divide by zero */
    CRASH_NX, /* jump into a data page */
    CRASH_WP, /* write to kernel text */
    CRASH_GUARD, /* read the boot stack's guard page */
    CRASH_STACK, /* a coroutine recursing past its stack limit (rt/stack.c) */
};

struct cmdline {
    bool test;                          /* "test" or "test=GLOB" was given */
    char test_glob[CMDLINE_GLOB_MAX];   /* "*" for plain "test"; "" if !test */
    bool seed_set;
    uint64_t seed;
    unsigned procs;                     /* 0: not given (use every CPU) */
    bool gogc_set;
    bool gogc_off;                      /* gogc=off */
    unsigned gogc;                      /* percent, when gogc_set && !gogc_off */
    uint64_t memlimit;                  /* bytes; 0: not given */
    bool gctrace_set;
    bool gctrace;
    enum crash_kind crash;
    char run[CMDLINE_NAME_MAX];         /* "" if not given */
    bool bt_depth_set;
    unsigned bt_depth;                  /* run=bench.binarytrees's depth, when bt_depth_set */
    bool gccheckmark_set;
    bool gccheckmark;                   /* verify every mark with a second one */
    bool gcstress_set;
    unsigned gcstress;                  /* a collection every N allocations (0: off) */
    bool gcstoptheworld_set;
    bool gcstoptheworld;                /* mark with the world stopped (Go's GODEBUG key) */
    bool profile_heap;                  /* profile=heap: print the heap profile at the end (kernel/profile.c) */
    bool memprofilerate_set;
    uint64_t memprofilerate;            /* bytes per heap profile sample (0: off, 1: every allocation) */
};

/*
 * Parses line (NUL-terminated) into *out (always fully initialised).
 * Returns 0 on success; -1 on error, with a one-line message in err
 * (errlen >= CMDLINE_ERR_MAX avoids truncation).
 */
int cmdline_parse(const char *line, struct cmdline *out, char *err, size_t errlen);

/* "pf", "gp", ...; "none" for CRASH_NONE. */
const char *cmdline_crash_name(enum crash_kind kind);

/* Writes the parsed settings back as a canonical command line (for the boot report). */
void cmdline_format(const struct cmdline *cl, char *buf, size_t size);

#endif
