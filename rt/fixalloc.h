/*
 * fixalloc.h - off-heap memory for runtime metadata (see fixalloc.c).
 */
#ifndef RT_FIXALLOC_H
#define RT_FIXALLOC_H

#include <stddef.h>
#include <stdint.h>

/*
 * persistent_alloc: memory that is never freed, zeroed, aligned to `align`
 * (a power of two <= 4096), charged to *stat (one of the *_sys counters in
 * mstats.h). Panics with the request if the OS refuses: metadata exhaustion
 * is fatal, as in Go.
 */
void *persistent_alloc(size_t size, size_t align, uint64_t *stat);

/*
 * fixalloc: a free list of fixed-size objects on top of persistent_alloc
 * (Go's mfixalloc.go). Not locked: the owner's lock protects it (written on
 * each instance). fixalloc_alloc returns zeroed memory.
 */
struct fixlink { struct fixlink *next; };
struct fixalloc {
	size_t size;            /* object size, >= sizeof(struct fixlink), multiple of 8 */
	struct fixlink *list;   /* freed objects (contents zeroed on reuse) */
	uintptr_t chunk;        /* bump pointer into the current chunk */
	size_t nchunk;          /* bytes left in the chunk */
	uint64_t *stat;         /* Sys counter charged for chunks */
	uint64_t *inuse;        /* In-use counter: +size per live object */
	const char *name;
};

void fixalloc_init(struct fixalloc *f, size_t size, uint64_t *stat, uint64_t *inuse,
		   const char *name);
void *fixalloc_alloc(struct fixalloc *f);
void fixalloc_free(struct fixalloc *f, void *p);

#endif
