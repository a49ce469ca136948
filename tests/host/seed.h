/*
 * seed.h - the seed of a host test's randomized checks (header-only).
 *
 *   test_seed()   TEST_SEED=N from the environment (decimal or 0x-hex), or
 *                 a fresh one (the clock and the pid) when it is not set
 *
 * A fresh seed is written back into the environment (TEST_SEED), so every
 * later call - from any file of the executable, or a forked child - returns
 * the same value, and the seed printed ("# seed=N", tap.h) is the one used.
 * Never 0: xorshift64*'s state must not be 0 (tests/xorshift.h).
 */
#ifndef TESTS_HOST_SEED_H
#define TESTS_HOST_SEED_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

__attribute__((unused))
static uint64_t test_seed(void)
{
    const char *s = getenv("TEST_SEED");
    uint64_t seed;
    if (s != NULL && *s != '\0') {
        char *end;
        seed = strtoull(s, &end, 0);
        if (*end != '\0') {
            fprintf(stderr, "TEST_SEED=%s: expected a decimal or 0x-hex integer\n", s);
            exit(2);
        }
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
               (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
        seed &= (1ull << 53) - 1; /* short enough to type back */
        char buf[24];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)(seed ? seed : 1));
        setenv("TEST_SEED", buf, 1);
    }
    return seed ? seed : 1;
}

#endif
