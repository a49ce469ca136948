/*
 * xorshift.h - the randomized tests' generator: xorshift64* (Vigna, "An
 * experimental exploration of Marsaglia's xorshift generators, scrambled",
 * 2016). Freestanding: host and in-kernel tests share it. The state must not
 * be 0; each test seeds it and prints the seed so a failure can be replayed.
 */
#ifndef TESTS_XORSHIFT_H
#define TESTS_XORSHIFT_H

#include <stdint.h>

static inline uint64_t xorshift64star(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

#endif
