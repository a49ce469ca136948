/*
 * buddy_cases.h - what tests/mm/buddy_cases.c shares with the host-only
 * buddy tests (tests/host/test_buddy.c): comparing and printing the
 * allocator's shape (struct frame_stats, mm/buddy.h).
 */
#ifndef TESTS_MM_BUDDY_CASES_H
#define TESTS_MM_BUDDY_CASES_H

#include <stdbool.h>

#include "mm/buddy.h"

/* Same totals, free count, free blocks per order and frames per owner. */
bool frame_stats_same(const struct frame_stats *a, const struct frame_stats *b);
/* Prints the free count and the free blocks of each order as "# " lines. */
void frame_stats_diag(const char *what, const struct frame_stats *s);

#endif
