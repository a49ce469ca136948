/*
 * frames_kernel.c - `run=bench.frames`: frame allocator cost in the kernel
 * (method in bench/frames_bench.h). `make bench` boots it and puts its rows
 * beside the hosted build's in build/bench/frames.tsv.
 */
#include "bench/frames_bench.h"
#include "kernel/krun.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/panic.h"

KRUN(bench_frames, "bench.frames", "frame alloc+free cost in cycles, order 0 and 9, vs a write loop")
{
    static const unsigned orders[] = {0, 9};
    for (unsigned i = 0; i < 2; i++) {
        struct frames_bench_row row;
        if (frames_bench_run(orders[i], orders[i] ? 8 : 64, &row) != 0)
            panic("bench.frames: not enough free memory for a batch of order %u", orders[i]);
        kprintf("bench.frames: order %u: alloc+free %lu cycles, writing the block %lu cycles "
                "(alloc+free = %lu.%02lu%% of one write pass)\n",
                row.order, row.alloc_free_cycles, row.write_cycles, row.alloc_free_cycles * 100 / row.write_cycles,
                row.alloc_free_cycles * 10000 / row.write_cycles % 100);
        kprintf("BENCH frames kernel %u %lu %lu\n", row.order, row.alloc_free_cycles, row.write_cycles);
    }
}
