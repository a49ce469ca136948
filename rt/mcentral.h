/*
 * mcentral.h - the spans of one span class shared by all Ps (see mcentral.c).
 */
#ifndef RT_MCENTRAL_H
#define RT_MCENTRAL_H

#include "rt/mspan.h"

struct mcentral {
	struct rt_lock lock;   /* rank LOCKRANK_MCENTRAL; protects the lists and their spans */
	spanclass_t spanclass;
	/*
	 * Two generations of sets, as Go's mcentral: index sweepgen/2 % 2 holds the
	 * spans swept in this cycle, the other one those not yet swept.
	 *   partial: at least one free slot      full: no free slot
	 */
	struct spanlist partial[2];
	struct spanlist full[2];
	uint64_t nmalloc_spans;   /* spans handed to mcaches (statistics) */
	uint64_t ngrow;           /* spans obtained from the heap */
} __attribute__((aligned(64)));

void mcentral_init(struct mcentral *c, spanclass_t spc);
/* A span with at least one free slot, now owned by the caller's mcache; NULL on OOM. */
struct mspan *mcentral_cache_span(struct mcentral *c);
/* Gives back a span the caller's mcache owned. */
void mcentral_uncache_span(struct mcentral *c, struct mspan *s);
/* The sweeper's half (rt/mgcsweep.c): an unswept span, now the caller's, or NULL;
 * and a swept one back on the right swept list. */
struct mspan *mcentral_take_unswept(struct mcentral *c);
void mcentral_put_swept(struct mcentral *c, struct mspan *s);
/* The lists of each generation, for heap sweepgen sg. */
struct spanlist *mcentral_partial_swept(struct mcentral *c, uint32_t sg);
struct spanlist *mcentral_partial_unswept(struct mcentral *c, uint32_t sg);
struct spanlist *mcentral_full_swept(struct mcentral *c, uint32_t sg);
struct spanlist *mcentral_full_unswept(struct mcentral *c, uint32_t sg);

#endif
