/*
 * mprof.h - the heap profile's hooks for the allocator and the sweeper
 * (see mprof.c; the public half is in rt.h).
 */
#ifndef RT_MPROF_H
#define RT_MPROF_H

#include <stdint.h>

struct mcache;
struct mspan;

/* The allocator's entry points live here, so a sample's stack can leave them out. */
#define RT_ALLOC_TEXT __attribute__((section("rt_alloc_text")))

void mprof_init(void);
/* Records a sample of the object v (size bytes, in span s, or NULL: looked
 * up) allocated through c, and draws c's next interval. v is complete. */
void mprof_malloc(struct mcache *c, uintptr_t v, uintptr_t size, struct mspan *s);
/* c's next interval from the current rate (its P, or the world stopped). */
void mprof_reset_sample(struct mcache *c);
extern uint32_t mprof_rate_gen;
/* The sweeper, on a span it owns that has specials: counts the frees of the
 * sampled objects unmarked in marks (NULL: every one, a dead large object). */
void mprof_sweep_span(struct mspan *s, const uint64_t *marks);
/* Mark termination, world stopped (mgc.c); the end of a sweep (mgcsweep.c). */
void mprof_mark_terminated(void);
void mprof_post_sweep(void);

#endif
