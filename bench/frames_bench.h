/*
 * frames_bench.h - what one frame allocation costs, measured the same way in
 * the kernel (bench/frames_kernel.c, `run=bench.frames`) and on the host
 * (bench/frames_hosted.c, the same mm/buddy.c over a buffer).
 *
 * Measured, in TSC cycles per operation:
 *   alloc+free  BATCH blocks of one order allocated, then all freed, ROUNDS
 *               times; cycles / (ROUNDS * BATCH). Batches (not one block
 *               allocated and freed in place) make the allocator split and
 *               coalesce as a real workload does.
 *   write       the peer in the same run: storing one 64-bit word per 8
 *               bytes over a block of the same size (a plain memory write
 *               loop), so "alloc+free costs N% of writing the memory once".
 * Each figure is the median of FRAMES_BENCH_SAMPLES samples, the first of
 * which also warms the caches and the allocator's lists.
 * Debug junk-filling is turned off while measuring (it writes every freed
 * block, which is exactly the peer's cost) and the level restored after.
 * Wall time under QEMU's software emulation is comparable only within one
 * run: read the ratios, not the cycles.
 */
#ifndef BENCH_FRAMES_BENCH_H
#define BENCH_FRAMES_BENCH_H

#include <stdint.h>

#include "mm/buddy.h"

#define FRAMES_BENCH_ROUNDS 64
#define FRAMES_BENCH_SAMPLES 7

struct frames_bench_row {
    unsigned order;
    unsigned batch;
    uint64_t alloc_free_cycles; /* per alloc+free pair */
    uint64_t write_cycles;      /* per block written once */
};

static inline uint64_t frames_bench_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t frames_bench_median(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

/* One sample of ROUNDS batches: cycles per alloc+free pair, or 0 if a batch did not fit. */
static inline uint64_t frames_bench_alloc_free(unsigned order, unsigned batch)
{
    phys_addr_t blocks[64];
    uint64_t t0 = frames_bench_rdtsc();
    for (unsigned r = 0; r < FRAMES_BENCH_ROUNDS; r++) {
        for (unsigned i = 0; i < batch; i++) {
            blocks[i] = frame_alloc(order, 0, FRAME_OWNER_TEST);
            if (blocks[i] == 0) {
                while (i-- > 0)
                    frame_free(blocks[i], order);
                return 0;
            }
        }
        for (unsigned i = 0; i < batch; i++)
            frame_free(blocks[i], order);
    }
    return (frames_bench_rdtsc() - t0) / ((uint64_t)FRAMES_BENCH_ROUNDS * batch);
}

/* One sample of the peer: cycles to write every word of the block at p once. */
static inline uint64_t frames_bench_write(phys_addr_t p, unsigned order)
{
    volatile uint64_t *w = frame_virt(p);
    uint64_t words = (4096ull << order) / 8;
    uint64_t t0 = frames_bench_rdtsc();
    for (unsigned r = 0; r < FRAMES_BENCH_ROUNDS; r++)
        for (uint64_t i = 0; i < words; i++)
            w[i] = i;
    return (frames_bench_rdtsc() - t0) / FRAMES_BENCH_ROUNDS;
}

/* Returns 0, or -1 if BATCH blocks of that order could not be allocated. */
static inline int frames_bench_run(unsigned order, unsigned batch, struct frames_bench_row *out)
{
    uint64_t af[FRAMES_BENCH_SAMPLES], wr[FRAMES_BENCH_SAMPLES];
    if (batch > 64)
        return -1;
    int old = buddy_set_debug(BUDDY_DEBUG_OFF);
    phys_addr_t b = 0;
    for (unsigned s = 0; s < FRAMES_BENCH_SAMPLES; s++)
        if ((af[s] = frames_bench_alloc_free(order, batch)) == 0)
            goto fail;
    b = frame_alloc(order, 0, FRAME_OWNER_TEST);
    if (b == 0)
        goto fail;
    for (unsigned s = 0; s < FRAMES_BENCH_SAMPLES; s++)
        wr[s] = frames_bench_write(b, order);
    frame_free(b, order);
    buddy_set_debug(old);
    out->order = order;
    out->batch = batch;
    out->alloc_free_cycles = frames_bench_median(af, FRAMES_BENCH_SAMPLES);
    out->write_cycles = frames_bench_median(wr, FRAMES_BENCH_SAMPLES);
    return 0;
fail:
    buddy_set_debug(old);
    return -1;
}

#endif
