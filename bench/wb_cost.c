/*
 * wb_cost.c - what a pointer store costs through RT_STORE_PTR (rt/mbarrier.h),
 * counted in instructions by callgrind (bench/run-wb), issue 13's "off, one
 * load and one branch: show it per store, on and off".
 *
 * Four loops of N stores into a ring of heap slots, each in its own
 * noinline function so callgrind's --toggle-collect counts one at a time:
 *   plain  *slot = p (the floor: loop, index, store);
 *   off    RT_STORE_PTR with the barrier off (the fast path);
 *   on     RT_STORE_PTR with the barrier on (today's slow path: a call that
 *          counts and stores; issue 13 adds the shading to it);
 *   empty  the same loop storing nothing (the loop's own cost).
 * usage: wb-cost N   (prints each loop's checksum so nothing is elided)
 */
#include "rt/mbarrier.h"
#include "rt/rt.h"

#include <stdio.h>
#include <stdlib.h>

#define RING 1024
static void **ring;
static void *token[4];

__attribute__((noinline)) static uintptr_t loop_plain(long n)
{
	for (long i = 0; i < n; i++)
		ring[i & (RING - 1)] = &token[i & 3];
	return (uintptr_t)ring[n & (RING - 1)];
}

__attribute__((noinline)) static uintptr_t loop_off(long n)
{
	for (long i = 0; i < n; i++)
		RT_STORE_PTR(ring[i & (RING - 1)], (void *)&token[i & 3]);
	return (uintptr_t)ring[n & (RING - 1)];
}

__attribute__((noinline)) static uintptr_t loop_on(long n)
{
	rt_wb_enabled = 1;   /* no world, no collector: this thread is alone */
	for (long i = 0; i < n; i++)
		RT_STORE_PTR(ring[i & (RING - 1)], (void *)&token[i & 3]);
	rt_wb_enabled = 0;
	return (uintptr_t)ring[n & (RING - 1)];
}

__attribute__((noinline)) static uintptr_t loop_empty(long n)
{
	uintptr_t s = 0;
	for (long i = 0; i < n; i++) {
		s += (uintptr_t)&token[i & 3];
		__asm__ volatile("" : "+r"(s));
	}
	return s;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	if (n <= 0) {
		fprintf(stderr, "usage: wb-cost N (N > 0)\n");
		return 2;
	}
	rt_init();
	ring = rt_alloc(RING * sizeof(void *), NULL);
	uintptr_t a = loop_plain(n), b = loop_off(n), c = loop_on(n), d = loop_empty(n);
	printf("wb-cost: %ld stores each; checksums %lx %lx %lx %lx; slow-path calls %lu\n", n,
	       (unsigned long)a, (unsigned long)b, (unsigned long)c, (unsigned long)d,
	       (unsigned long)rt_wb_slow_calls);
	return rt_wb_slow_calls == (uint64_t)n ? 0 : 1;
}
