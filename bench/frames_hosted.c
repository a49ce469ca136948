/*
 * frames_hosted.c - the frame allocator's cost on the host: the same
 * mm/buddy.c (built -O2, no sanitizers) over a 64 MiB buffer standing in for
 * physical memory, measured by bench/frames_bench.h as the kernel is.
 * Prints one "BENCH frames hosted ORDER ALLOCFREE WRITE" line per order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/frames_bench.h"

#define FAKE_PHYS 0x40000000ull /* 1 GiB: every order's alignment holds */
#define SIZE (64ull << 20)

int main(void)
{
    void *buf = NULL;
    if (posix_memalign(&buf, 2u << 20, SIZE) != 0) {
        fprintf(stderr, "frames_hosted: cannot allocate %llu MiB\n", SIZE >> 20);
        return 1;
    }
    memset(buf, 0, SIZE); /* fault every page in now, not inside the timed loops */
    struct memmap_range r = {FAKE_PHYS, FAKE_PHYS + SIZE};
    buddy_init(&r, 1, FAKE_PHYS + SIZE, (uintptr_t)buf - FAKE_PHYS);
    static const unsigned orders[] = {0, 9};
    for (unsigned i = 0; i < 2; i++) {
        struct frames_bench_row row;
        if (frames_bench_run(orders[i], orders[i] ? 8 : 64, &row) != 0) {
            fprintf(stderr, "frames_hosted: a batch of order %u does not fit\n", orders[i]);
            return 1;
        }
        printf("BENCH frames hosted %u %llu %llu\n", row.order, (unsigned long long)row.alloc_free_cycles,
               (unsigned long long)row.write_cycles);
    }
    return 0;
}
