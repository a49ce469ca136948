/*
 * sysmem.h - the kernel's half of the runtime boundary (rt/sys.h): the
 * sys_port_* functions live in sysmem.c; these are what the rest of the OS
 * asks of it.
 */
#ifndef MM_SYSMEM_H
#define MM_SYSMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames sys_map never promises away: a commit must leave this many free
 * beyond every page already promised. */
#define SYSMEM_RESERVE_FRAMES 512

/* Pages committed by sys_map and not yet backed (frames promised). */
uint64_t sysmem_charge_pages(void);

/*
 * If va lies in a runtime region, write what it is ("runtime heap: reserved,
 * not committed") into buf and return true. For the page-fault report.
 */
bool sysmem_describe(uint64_t va, char *buf, size_t len);

/* One line of the OS view of sys_* for the boot report. */
void sysmem_report(void);

/* The OS's record of one runtime region (enum sys_region of rt/sys.h). */
struct sysmem_region {
    uint64_t reserved;  /* bytes in reservations */
    unsigned ranges;    /* disjoint ranges they form (adjacent ones merge) */
    uint64_t lo, hi;    /* the lowest and highest reserved address + 1 (0, 0: none) */
};
void sysmem_region_stats(int sys_region, struct sysmem_region *out);

#endif
