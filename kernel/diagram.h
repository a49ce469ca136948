/*
 * diagram.h - the memory drawn on the serial console (kernel/diagram.c): the
 * OS's layout, the runtime's layout, the two combined, and the path of one
 * allocation from its mcache down to its physical frame. Every number and
 * address is read live from mm/ and rt/ when the diagram is drawn.
 */
#ifndef KERNEL_DIAGRAM_H
#define KERNEL_DIAGRAM_H

#include <stdint.h>

/* The OS's virtual address space, high to low: regions, image sections, frames. */
void diagram_os(void);
/* The runtime's structures: arenas and their pages, spans per class, mcentral,
 * mcache per P, stacks, off-heap metadata and the runtime's own globals. */
void diagram_rt(void);
/* The OS regions with the runtime structures that live in each, and the
 * frames each region's pages come from. */
void diagram_both(void);
/* The page-table walk of va: each level's index and entry, the frame and its owner. */
void diagram_walk(uint64_t va);
/* One heap object from the runtime's side to the OS's: mcache, span,
 * mcentral, arena and page, sys_* state, page-table entries, frame; how
 * ("rt_new(&t)") names the call that returned obj, or NULL. */
void diagram_follow(const void *obj, const char *how);
/* The live coroutines with their stacks (call from inside a world). */
void diagram_stacks(void);

#endif
