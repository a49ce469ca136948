/*
 * rt.h - the runtime's public API: typed, garbage-collected allocation.
 *
 * There is no free: memory is reclaimed by the collector (a later issue).
 * Until it exists, rt_free_dead_large stands in for its sweeper on one kind
 * of object, so the tour and tests can show pages going back to the OS.
 * Every allocation returns zeroed memory aligned to its type (at least 8 bytes;
 * power-of-two sizes up to 8 KiB are naturally aligned) or panics with
 * "runtime: out of memory: ..." naming the request when the heap cannot grow.
 * Pointer stores into heap objects go through RT_STORE_PTR (rt/mbarrier.h).
 *
 * Thread safety: any number of threads may allocate, each bound to a distinct P
 * (hosted: rt_hosted_set_p in rt/port/hosted.h, after rt_start_procs).
 */
#ifndef RT_RT_H
#define RT_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Debug level (a named constant, as Go's debug switches):
 *   0  benchmarks: no checks beyond the always-on ones (invariants that would
 *      corrupt memory if broken are checked at every level)
 *   1  cheap asserts, lock-rank checks, barrier stack check, strict sys states
 *   2  expensive verification (whole-heap walks in mheap_verify after changes)
 */
#ifndef RT_DEBUG
#define RT_DEBUG 1
#endif

/* Most Ps (logical processors, one mcache each; in the kernel one per CPU). */
#define RT_MAX_PROCS 64

/*
 * A type descriptor: what the collector needs to scan an object precisely.
 * ptrmask has one bit per 8-byte word of the first ptrdata bytes, least
 * significant bit first: bit i set = word i holds a pointer (or NULL).
 * ptrdata == 0 means the type holds no pointers ("noscan"): never scanned.
 */
struct rt_type {
	size_t size;              /* bytes, > 0 */
	size_t align;             /* power of two <= 8192; 0 means 8 */
	size_t ptrdata;           /* bytes of the prefix that may hold pointers; multiple of 8 */
	const uint8_t *ptrmask;   /* ptrdata / 8 bits; NULL iff ptrdata == 0 */
	const char *name;         /* for messages */
};

/* A descriptor for a C type without pointers. */
#define RT_TYPE_NOPTRS(T) { sizeof(T), _Alignof(T), 0, NULL, #T }
/* Bit for pointer field f of struct T in a ptrmask byte array (f in word w: byte w/8). */
#define RT_PTRWORD(T, f) (__builtin_offsetof(T, f) / 8)

/* Initializes the runtime (idempotent). Creates P 0. */
void rt_init(void);
/* Makes Ps 0..nprocs-1 ready to allocate (each gets an mcache). */
void rt_start_procs(int nprocs);

/*
 * size bytes for an array of size / type->size elements of `type` (size must
 * be a multiple of type->size), or pointer-free memory when type is NULL.
 * rt_alloc(0, ...) returns one shared non-NULL address.
 */
void *rt_alloc(size_t size, const struct rt_type *type);
/* One object of `type`. */
void *rt_new(const struct rt_type *type);
/* n elements of elem; panics if n * elem->size overflows. */
void *rt_alloc_array(const struct rt_type *elem, size_t n);

/*
 * Until the collector exists: frees the large object (over 32 KiB) whose
 * base is obj, which the caller knows is dead (nothing refers to it any
 * more), as the sweeper will free an unreachable large object. Its pages
 * become free heap pages, which the scavenger can return to the OS. Panics
 * unless obj is the base of a live large object. Goes away with the
 * collector: dead objects will be found, not declared.
 */
void rt_free_dead_large(void *obj);

/* Returns as much free heap memory to the OS as possible (Go's debug.FreeOSMemory). */
void rt_free_os_memory(void);
/* Returns up to `bytes` of free heap memory to the OS; the bytes released. */
size_t rt_scavenge(size_t bytes);
/*
 * Releases free memory beyond the retained goal: HeapInuse + 10% (see
 * mgcscavenge.c). The background scavenger will call this; for now callers do.
 */
size_t rt_scavenge_to_goal(void);

/*
 * Base of the live heap object containing p (any interior pointer works), or
 * NULL: p outside the heap's arenas, in a free slot or in a span's tail.
 * (So "is p in the heap?" is rt_object_base(p) != NULL; the collector will
 * ask the same inside rt/, with mheap_contains and mheap_object_base.)
 */
void *rt_object_base(const void *p);

/* Go's runtime.MemStats (bytes unless said otherwise). Identities in mstats.c. */
struct rt_memstats {
	uint64_t alloc;           /* == heap_alloc */
	uint64_t total_alloc;     /* cumulative bytes allocated */
	uint64_t sys;             /* == sum of the *_sys fields */
	uint64_t lookups;         /* always 0 */
	uint64_t mallocs;         /* cumulative objects allocated (tiny allocations included) */
	uint64_t frees;           /* cumulative objects freed (tiny allocations counted here too) */

	uint64_t heap_alloc;      /* bytes of allocated heap objects (size-class rounded) */
	uint64_t heap_sys;        /* heap_idle + heap_inuse */
	uint64_t heap_idle;       /* bytes in free page runs */
	uint64_t heap_inuse;      /* bytes in in-use spans */
	uint64_t heap_released;   /* idle bytes returned to the OS */
	uint64_t heap_objects;    /* mallocs - frees */

	uint64_t stack_inuse;
	uint64_t stack_sys;
	uint64_t mspan_inuse;
	uint64_t mspan_sys;
	uint64_t mcache_inuse;
	uint64_t mcache_sys;
	uint64_t buckhash_sys;
	uint64_t gc_sys;
	uint64_t other_sys;

	uint64_t next_gc;
	uint64_t last_gc;
	uint64_t pause_total_ns;
	uint32_t num_gc;
	uint32_t num_forced_gc;

	struct {
		uint32_t size;
		uint64_t mallocs;
		uint64_t frees;
	} by_size[68];            /* index = size class; [0] is large objects (size 0) */
};

void rt_read_memstats(struct rt_memstats *out);
void rt_print_memstats(void);

/* Prints the arenas and P p's mcache (rt/heapview.c); call it from P p. */
void rt_print_heap(int p);

#endif
