/*
 * bench/alloc_bench.h: the side-by-side allocation benchmark (make bench).
 *
 * WHAT IS MEASURED
 *   The wall-clock cost of obtaining one object of a given size from an
 *   allocator and writing one word into it, in nanoseconds per object, for
 *   fixed sizes from 8 B to 32 KiB (the largest small size class), 64 KiB and
 *   1 MiB (large objects), and "mixed": one fixed, seeded sequence
 *   of sizes shaped like real programs (mostly 8..128 B, a tail to 32 KiB and a
 *   rare 64..256 KiB object; the table is bench_mixed_buckets in
 *   alloc_bench.c and its twin in alloc.go).
 *
 * HOW (steps of one measurement; one process per implementation x benchmark)
 *   1. The implementation is initialised; the harness's own arrays (the size
 *      sequence and the pointer "slots") are allocated outside the measured
 *      heap (mmap) and pre-touched, except where a collector must see them
 *      (Boehm: GC_MALLOC_UNCOLLECTABLE; Go: its own heap; ours: mmap until
 *      rt/ has a collector, see peer_rt.c).
 *   2. A round allocates n objects, n = 8 MiB / size clamped to [64, 2^20]
 *      (mixed: 32768 objects, about 9 MiB), writes the object's own address
 *      into its first word (so every object is touched once and no allocator
 *      wins by handing out pages it never faults in; the value is a valid
 *      pointer, so precise and conservative collectors alike accept it) and
 *      stores it in slots[i], so all n objects stay live until the round ends.
 *      Only this loop is timed (CLOCK_MONOTONIC around the whole round).
 *   3. Between rounds, untimed: malloc-family peers free all n objects;
 *      collected heaps drop the references (slots cleared) and reclaim them in
 *      their own time, which then lands in later timed rounds.
 *   4. BENCH_WARMUP_ROUNDS rounds are discarded, BENCH_ROUNDS are timed; the
 *      process reports the median round / n. The driver (bench/run-alloc)
 *      runs every process pinned to one CPU with taskset, repeats the whole
 *      matrix BENCH_PASSES times interleaved (noise in this VM then hits every
 *      implementation alike) and reports the median of the per-pass medians.
 *
 * THE IMPLEMENTATIONS (each its own executable: mimalloc and jemalloc as
 * Debian ships them replace malloc itself, so they cannot share a process)
 *   ours          rt_alloc(size, NULL): noscan (pointer-free) memory.
 *   ours-ptr      pointerful: rt_alloc(size, <type: one pointer word>), an
 *                 array of size/8 pointers (heap bitmap written).
 *   glibc, mimalloc, jemalloc   malloc, batch pattern above (alloc only).
 *   *-pair        malloc(size); touch; free(p) back to back: the round-trip
 *                 cost including free, with the block hot in cache (the
 *                 allocator's best case; real programs are between the two).
 *   boehm         GC_MALLOC (scanned), collector on, its default heuristics.
 *   boehm-atomic  GC_MALLOC_ATOMIC (not scanned), collector on.
 *   boehm-nogc    GC_MALLOC with GC_disable(): allocation path only.
 *   go            make([]byte, size) in Go 1.19 (noscan), GOGC=100.
 *   go-ptr        make([]unsafe.Pointer, size/8) (scanned), GOGC=100.
 *   go-gcoff      as go with GOGC=off: allocation path only.
 *
 * WHY IT IS FAIR
 *   - Same workload, same touch, same live set, same size sequence for all
 *     (every process prints the bytes one round allocates; the driver checks
 *     that all implementations agree before printing anything).
 *   - Collector cost: the default-GC variants (go, go-ptr, boehm,
 *     boehm-atomic) include their collector's amortized cost, because a
 *     collection started by an allocation runs inside the timed loop and
 *     Go's background mark workers share the one pinned CPU. The gcoff/nogc
 *     variants and, until our collector lands, ours exclude it; they also get
 *     fresh memory every round, so they pay first-touch page faults that
 *     reusing allocators don't. Compare like with like: ours with go-gcoff
 *     and boehm-nogc today; ours with go and boehm once rt/ collects.
 *   - Free: batch timings of the malloc family exclude free (it is the
 *     counterpart of the sweeping a collector does later); the -pair rows
 *     show malloc+free together.
 *   - One CPU (taskset), so helper threads cannot hide work on the other core.
 *   - Every peer runs with the defaults its Debian package ships: no tuning,
 *     for them or for us.
 *
 * KNOWN BIASES
 *   - Zeroing: ours, Go and Boehm GC_MALLOC return zeroed memory, malloc and
 *     GC_MALLOC_ATOMIC don't. Fresh pages are zero for free; reused memory
 *     must be cleared, which the GC'd peers pay and the malloc peers don't.
 *   - Call path: malloc peers and Boehm are called through the PLT of a shared
 *     library, ours through a direct call into a static archive, Go through
 *     direct calls in its runtime (makeslice -> mallocgc): about a nanosecond.
 *   - Page faults: fresh-memory variants fault one 4 KiB page per 4 KiB
 *     allocated, and in this VM a first touch costs about 10 us (the driver
 *     prints the figure measured in the same run; MADV_HUGEPAGE does not make
 *     it cheaper here), i.e. about 40 ns per 16-byte object: more than any
 *     allocator's own work. Peers whose defaults hand freed memory back to
 *     the OS between rounds (glibc's heap trimming for chunks that coalesce,
 *     about 128 B and up; jemalloc's decay purging) pay refaults too. The
 *     raw file (alloc-raw.tsv) records minor faults per 1000 objects and
 *     collections for every row, so a reader can see which rows are
 *     fault-bound.
 *   - The per-round free loop of the malloc family leaves its free lists in
 *     LIFO order, which flatters their next round's locality.
 *   - A VM with two vCPUs: wall time is noisy; bench-callgrind gives
 *     instruction counts per allocation that do not depend on the host.
 */
#ifndef BENCH_ALLOC_BENCH_H
#define BENCH_ALLOC_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum {
	BENCH_WARMUP_ROUNDS = 2,
	BENCH_ROUNDS        = 9,
	BENCH_ROUND_BYTES   = 8 << 20, /* target bytes allocated per round */
	BENCH_MIN_OBJECTS   = 64,
	BENCH_MAX_OBJECTS   = 1 << 20,
	BENCH_MIXED_OBJECTS = 32768,
};

/* One benchmark: the sizes of the n objects one round allocates. */
struct bench_workload {
	const char *name;      /* "16", "1048576" or "mixed" */
	size_t n;              /* objects per round */
	const uint32_t *sizes; /* n sizes, each a multiple of 8 */
	uint64_t bytes;        /* sum of sizes: checked across implementations */
};

/*
 * One implementation variant. round() runs step 2 and returns the elapsed
 * nanoseconds; release() runs step 3. Peers instantiate round() from
 * bench_round_batch/pair with their allocator as a constant, so the timed
 * loop calls the allocator directly.
 */
struct bench_impl {
	const char *name;
	void (*init)(void);
	void **(*slots_new)(size_t n);                 /* live-set array */
	uint64_t (*round)(void **slots, const struct bench_workload *w);
	void (*release)(void **slots, size_t n);
	uint64_t (*gc_count)(void);                    /* collections so far */
};

/* Provided by each peer's file. */
extern const struct bench_impl bench_impls[];
extern const size_t bench_nimpls;

/* Harness services (alloc_bench.c). */
void **bench_slots_mmap(size_t n);
void bench_release_clear(void **slots, size_t n);
_Noreturn void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keep the compiler from eliding an allocation whose result looks unused. */
static inline void bench_escape(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* The touch: write the object's own address into its first word. */
static inline void bench_touch(void *p)
{
	*(void *volatile *)p = p;
}

#define BENCH_INLINE static inline __attribute__((always_inline))

/* Step 2, batch pattern: allocate and keep all n live. */
BENCH_INLINE uint64_t bench_round_batch(void *(*alloc)(size_t), void **slots,
					const struct bench_workload *w)
{
	const uint32_t *sizes = w->sizes;
	size_t n = w->n;
	uint64_t t0 = bench_now_ns();
	for (size_t i = 0; i < n; i++) {
		void *p = alloc(sizes[i]);
		if (__builtin_expect(!p, 0))
			bench_fail("allocation %zu of %u bytes returned NULL", i, sizes[i]);
		bench_touch(p);
		slots[i] = p;
	}
	return bench_now_ns() - t0;
}

/* Step 2, pair pattern: allocate, touch, free at once (malloc family). */
BENCH_INLINE uint64_t bench_round_pair(void *(*alloc)(size_t), void (*release)(void *),
				       const struct bench_workload *w)
{
	const uint32_t *sizes = w->sizes;
	size_t n = w->n;
	uint64_t t0 = bench_now_ns();
	for (size_t i = 0; i < n; i++) {
		void *p = alloc(sizes[i]);
		if (__builtin_expect(!p, 0))
			bench_fail("allocation %zu of %u bytes returned NULL", i, sizes[i]);
		bench_touch(p);
		bench_escape(p);
		release(p);
	}
	return bench_now_ns() - t0;
}

#endif /* BENCH_ALLOC_BENCH_H */
