/*
 * rt.h - the runtime's public API: typed, garbage-collected allocation.
 *
 * There is no free: memory is reclaimed by the collector (rt/mgc.c), which
 * frees every object the program can no longer reach. Every allocation returns zeroed memory aligned to its type (at least 8 bytes;
 * power-of-two sizes up to 8 KiB are naturally aligned) or panics with
 * "runtime: out of memory: ..." naming the request when the heap cannot grow.
 * Pointer stores into heap objects go through RT_STORE_PTR (rt/mbarrier.h).
 *
 * The collector's contract for C code (what it assumes; DESIGN.md 7.5):
 *   - It finds pointers in: heap objects, precisely, where their rt_type's
 *     ptrmask says a word is a pointer (an object allocated with a NULL type
 *     or a type without pointers is never scanned); the image's data and bss,
 *     every coroutine's stack and saved registers, and the frames of whoever
 *     started the world, conservatively (any word that looks like a pointer
 *     into an allocated object keeps it, interior pointers and one-past-the-
 *     end pointers included).
 *   - A pointer kept only elsewhere is not seen and its object will be freed:
 *     in malloc'd or mmap'd memory, in frames the kernel allocated, in
 *     __thread variables, on a thread that is not running the world, or
 *     hidden (XOR-linked lists, tagged pointers, offsets): keep a plain copy
 *     where the collector looks.
 *   - Pointer stores into heap objects and globals go through RT_STORE_PTR,
 *     and copies of memory that holds pointers through rt_typedmemmove: a
 *     flag test and a store today (the flag is never set), the write
 *     barrier when marking becomes concurrent (rt/mbarrier.h).
 *   - Outside a world, rt_gc() scans only the calling thread's stack: no
 *     other thread may allocate or hold the only pointer to an object then.
 *
 * Thread safety: between worlds, any number of threads may allocate, each
 * bound to a distinct P (hosted: rt_hosted_set_p in rt/port/hosted.h, after
 * rt_start_procs); while a world runs, only its coroutines do (a thread
 * outside it panics at its next slow-path allocation, or when it binds).
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
 * A full collection (Go's runtime.GC): returns when the mark is done and the
 * heap swept, so every object unreachable when it was called is freed. From
 * a coroutine it stops the world; outside a world it collects on the calling
 * thread (see the contract above). Does nothing if the world is ending.
 */
void rt_gc(void);
/*
 * GOGC (Go's debug.SetGCPercent): a cycle starts by itself when the heap's
 * live bytes reach live-after-the-last-mark x (1 + pct / 100), at least
 * 4 MiB x pct / 100. pct < 0 turns the trigger off (rt_gc still collects).
 * Returns the old value. Default 100; the kernel's gogc=N|off sets it.
 */
int rt_set_gc_percent(int pct);
/*
 * The memory limit (Go 1.19's debug.SetMemoryLimit, GOMEMLIMIT): a soft cap
 * on all the memory the runtime keeps mapped (MemStats' Sys less
 * HeapReleased). The heap goal shrinks to fit under it, with GOGC too
 * (GOGC off: the limit alone paces the collector), the scavenger returns
 * free pages to stay under 95% of it, and the heap returns pages before it
 * grows past it. When the live heap barely fits, the collector would run
 * without pause: a CPU limiter turns assists off once the collector has
 * taken over half the CPU for a while, and the heap goes over the limit
 * instead of the program stopping. limit < 0 only reads it; returns the
 * old limit (INT64_MAX: none, the default). The kernel's memlimit=SIZE.
 */
int64_t rt_set_memory_limit(int64_t limit);
/* gctrace=1: one line per cycle in Go's format. */
void rt_gc_set_trace(bool on);
/* gccheckmark=1: after each mark, a second one verifies that nothing reachable was missed. */
void rt_gc_set_checkmark(bool on);
/* gcstress=N: a cycle every N allocations (0: off). Slow: every allocation takes the slow path. */
void rt_gc_set_stress(uint64_t every);
/* gcstoptheworld=1 (Go's GODEBUG setting): mark with the world stopped instead of beside the
 * program (the default, 0). Returns the old setting. */
bool rt_gc_set_stoptheworld(bool on);
/*
 * While a mark runs beside the program: 1 if the heap object containing p
 * is marked (grey or black), 0 if it is still white; -1 if p is in no live
 * heap object or no mark is running. For tests and the tour: the answer is
 * stale as soon as it is returned.
 */
int rt_gc_mark_state(const void *p);

/*
 * The last completed cycle, as the pacer saw it (for tests and the tour).
 * Work is bytes scanned: heap objects, stacks and globals.
 */
struct rt_gc_cycle {
	uint32_t num_gc;          /* its number (0: no cycle yet) */
	bool concurrent;          /* marked beside the program (else with the world stopped) */
	bool forced;              /* asked for by rt_gc */
	uint64_t heap_start;      /* the trigger's live heap when it began */
	uint64_t heap_end;        /* ... when the mark ended (above goal: the pacer fell behind) */
	uint64_t heap_marked;     /* live after it: bytes marked + allocated during the mark */
	uint64_t goal;            /* the goal it aimed at */
	uint64_t next_goal;
	uint64_t scan_work;       /* all the mark's work, the stops' included */
	uint64_t assist_work;     /* of which done by allocating coroutines (mark assists) */
	uint64_t background_work; /* of which done beside the program by the background marker */
	uint64_t assist_ns, background_ns;   /* time they took (summed over coroutines) */
	uint64_t pause_ns;        /* both stops */
	bool cpu_limited;         /* the CPU limiter was full during it: assists were off a while */
	uint32_t limiter_engaged; /* cycles so far whose end found the limiter full */
	uint64_t objs_marked[RT_MAX_PROCS]; /* objects its markers on each P greyed (roots and heap) */
	uint64_t bytes_marked[RT_MAX_PROCS]; /* ... and their bytes */
	uint64_t spans_swept;     /* by the sweep of the cycle before, done when this one began */
	uint64_t pages_freed;     /* ... the pages that sweep gave back to the heap */
};
void rt_gc_last_cycle(struct rt_gc_cycle *out);

/* Returns as much free heap memory to the OS as possible (Go's debug.FreeOSMemory). */
void rt_free_os_memory(void);
/* Returns up to `bytes` of free heap memory to the OS; the bytes released. */
size_t rt_scavenge(size_t bytes);
/*
 * Releases free memory beyond the retained goal: the heap goal (NextGC, or HeapInuse if more) + 10% (see
 * mgcscavenge.c). The background sweeper calls this when a sweep is done; so does rt_gc.
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

	uint64_t next_gc;         /* the heap goal of the next cycle */
	uint64_t last_gc;         /* when the last cycle ended (rt_nanotime; no wall clock here) */
	uint64_t pause_total_ns;  /* sum of every stop-the-world pause */
	uint64_t pause_ns[256];   /* recent pauses, from the request to the restart: [(num_gc+255)%256] is the last */
	uint64_t pause_end[256];  /* when each ended (rt_nanotime) */
	uint64_t pause_stop_ns[256]; /* of each pause: from the request until every M had stopped */
	uint32_t num_gc;
	uint32_t num_forced_gc;   /* cycles asked for by rt_gc */
	uint32_t gc_cpu_fraction_ppm; /* stopped time / time since the first cycle, in millionths */

	struct {
		uint32_t size;
		uint64_t mallocs;
		uint64_t frees;
	} by_size[68];            /* index = size class; [0] is large objects (size 0) */
};

void rt_read_memstats(struct rt_memstats *out);
/*
 * The pct-th percentile (0-100, nearest rank) of the pauses in m's PauseNs
 * ring of the cycles after NumGC was since_num_gc (at most the last 256);
 * 0 if there are none. No buffer: O(n^2) over at most 256, for reports.
 */
uint64_t rt_pause_percentile(const struct rt_memstats *m, uint32_t since_num_gc, unsigned pct);
void rt_print_memstats(void);

/*
 * ---- the heap profile (rt/mprof.c; Go's runtime.MemProfile and pprof) ----
 * One allocation in about every `rate` bytes is sampled (exponentially
 * spaced, as Go's MemProfileRate; default RT_MEMPROFILE_RATE), with its call
 * stack; the sweeper counts a sampled object's free when it finds it dead.
 * The figures are those of the last finished sweep: allocations and frees
 * "as of the most recently completed collection", as Go's heap profile.
 */
#define RT_MEMPROFILE_RATE (512u * 1024)
#define RT_MPROF_MAX_STACK 32   /* frames kept per sample (Go's maxStack) */
/* Sets the sampling rate in bytes (0: off, 1: every allocation); returns the
 * old one. Each P takes it up at its next sample or the next collection. */
uint64_t rt_set_mem_profile_rate(uint64_t rate);
uint64_t rt_mem_profile_rate(void);

/* One call stack and size: raw sample counts, not scaled by the rate. */
struct rt_mprof_record {
	uint64_t allocs, frees;              /* sampled objects allocated, freed */
	uint64_t alloc_bytes, free_bytes;
	uint64_t size;                       /* bytes of each (the slot's for small objects) */
	unsigned nstk;
	uintptr_t stk[RT_MPROF_MAX_STACK];   /* return addresses, innermost first */
};
/* Copies up to max records (those with allocations), the newest call stacks
 * first; returns how many there are in all (more than max: the rest did not fit). */
int rt_read_mem_profile(struct rt_mprof_record *out, int max);

/*
 * Writes the heap profile as an uncompressed profile.proto (what `go tool
 * pprof` reads: alloc_objects, alloc_space, inuse_objects, inuse_space,
 * scaled by the sampling as pprof expects) through sink, in pieces; returns
 * the bytes written. Function names come from the port (kernel: ksyms; hosted:
 * none, pprof symbolizes from the binary). The sink must not allocate, block,
 * yield or take runtime locks (the M is pinned while it runs).
 */
typedef void (*rt_profile_sink)(void *ctx, const void *buf, size_t n);
uint64_t rt_write_heap_profile(rt_profile_sink sink, void *ctx);
/* Scaled as pprof shows it: count and bytes of one record's samples
 * (Go's scaleHeapSample: x 1 / (1 - e^(-size/rate))). Exposed for tests. */
void rt_mprof_scale(uint64_t count, uint64_t bytes, uint64_t rate, uint64_t *scount, uint64_t *sbytes);
/* An exponentially distributed sampling interval with mean rate (tests). */
uint64_t rt_mprof_interval(uint64_t *state, uint64_t rate);

/* Prints the arenas and P p's mcache (rt/heapview.c); call it from P p. */
void rt_print_heap(int p);

/*
 * ---- seeing the heap's structures (rt/heapview.c) ----
 * Snapshots for diagrams, the tour and the shell: plain numbers and addresses,
 * no pointers to keep. Both take the heap lock while they walk the arenas and
 * read mcaches and spans without their owners' cooperation, so a P allocating
 * at the same time makes the counts approximate (never unsafe). Call them
 * outside a world or from a P that is not allocating, for exact figures.
 */
#define RT_VIEW_ARENAS 16      /* arenas described (narenas counts them all) */
#define RT_VIEW_CLASSES 68     /* size classes; [0] is large objects */
#define RT_VIEW_PLACES 32      /* named runtime structures and where they lie */
#define RT_VIEW_MAP 64         /* cells of an arena's page map */

struct rt_heap_view {
	uint32_t narenas;
	struct {
		uintptr_t base, size;          /* the arena's address range (64 MiB) */
		uintptr_t meta;                /* its struct heaparena: span map, page bits */
		uintptr_t heapbits;            /* its heap bitmap (one bit per word) */
		uint32_t pages_mapped;         /* [base, base + this * 8 KiB) went through sys_map */
		uint32_t pages_in_spans;       /* of them, in in-use spans */
		uint32_t pages_free;           /* in free page runs (the rest is not yet mapped) */
		uint32_t pages_released;       /* free and given back to the OS (sys_unused) */
		uint32_t spans;                /* in-use spans starting in it */
		/* Its pages in RT_VIEW_MAP cells, low to high, each what most of its pages
		 * are: '#' in a span, '=' free, '_' free and released, '.' not mapped. */
		char pagemap[RT_VIEW_MAP + 1];
	} arenas[RT_VIEW_ARENAS];
	struct {
		uint32_t size;                 /* the class's object size (0 for large) */
		uint32_t pages_per_span;
		uint32_t spans[2];             /* in-use spans: [0] scan, [1] noscan */
		uint64_t slots[2], allocated[2];
		uint32_t cached, partial, full; /* where the spans sit: an mcache, mcentral lists */
		uint32_t unswept;              /* of partial + full: on the lists not yet swept */
		uint64_t large_bytes;          /* class 0: the large objects' bytes */
	} classes[RT_VIEW_CLASSES];
	uint32_t free_runs;                /* free page runs and their pages */
	uint64_t free_pages;
	uint32_t nprocs;
	struct {
		uintptr_t mcache;              /* the P's struct mcache */
		uint32_t spans;                /* spans it holds */
		uint32_t free_slots;           /* free slots left in them */
		uintptr_t tiny;                /* its tiny block (0: none) and the bytes used */
		uint32_t tiny_used;
	} procs[RT_MAX_PROCS];
	uint32_t sweepgen;
	uint32_t nplaces;
	struct {
		const char *name;              /* "mheap_", "P 0's mcache" */
		const char *what;              /* one line: what it is */
		uintptr_t addr, size;
	} places[RT_VIEW_PLACES];          /* the runtime's own structures, by address */
};
void rt_read_heap_view(struct rt_heap_view *out);

/* Where one heap object sits, from the object up to the page heap. */
struct rt_object_view {
	uintptr_t base, size;              /* the object (size: its slot, or a large span's bytes) */
	uint32_t sizeclass;                /* 0: a large object */
	bool noscan;                       /* holds no pointers: never scanned */
	bool marked;                       /* its mark bit (this or the last cycle's) */
	uint32_t slot, nelems, allocated;  /* its index in the span, the span's slots, allocated */
	uintptr_t span, span_pages;        /* the span's first byte and its 8 KiB pages */
	uintptr_t mspan;                   /* the struct mspan (runtime metadata) */
	uintptr_t arena;                   /* the arena's base */
	uint32_t arena_page;               /* the object's page index in the arena */
	uintptr_t mcentral;                /* the class's struct mcentral (in mheap_) */
	int cached_by;                     /* the P whose mcache holds the span, or -1 */
	const char *list;                  /* "cached by an mcache", "mcentral partial (swept)", ... */
};
/* Describes the live object containing p; false if p is not in one (rt_object_base). */
bool rt_view_object(const void *p, struct rt_object_view *out);

#endif
