/*
 * sched_bench.h - the scheduler benchmarks: what is measured and how, shared
 * by ours hosted (bench/sched_hosted.c), ours in the kernel
 * (bench/sched_kernel.c, run=bench.sched) and Go 1.19 (bench/sched.go, which
 * follows the same steps in Go).
 *
 * The three benchmarks (ns per operation):
 *
 *   create     One coroutine starts SCHED_CREATE_BATCH coroutines that each
 *              only mark a wait group done, waits for the group, and repeats
 *              until it has started `ops` of them. One op = one create, run,
 *              exit; the wait is amortized over the batch. (Batches bound the
 *              memory: `ops` stacks alive at once would be 400 MiB of ours.)
 *              Go: wg.Add(batch); go func() { wg.Done() }(); wg.Wait().
 *   pingpong   Two coroutines pass a counter back and forth over two
 *              unbuffered channels of 8-byte elements. One op = one round
 *              trip (two sends, two receives, two hand-offs). The receiver
 *              is started once per round and leaves when its channel closes;
 *              every value that comes back is checked.
 *   stackgrow  A fresh coroutine recurses SCHED_GROW_FRAMES deep through a
 *              function with SCHED_GROW_FRAME_BYTES of locals, writing every
 *              word of them on the way down and reading them back on the way
 *              up, then exits. The deepest use is ~15/16 MiB, so the stack
 *              grows by copying from its starting size to 1 MiB. One op =
 *              one such coroutine, created, grown, exited and waited for.
 *              Ours is checked at the deepest frame (rt_stack_info): the
 *              stack must be 1 MiB or more, more than 512 KiB used, and it
 *              must have been copied at least once (a coroutine that gets a
 *              recycled big stack would measure nothing). Go zeroes the
 *              array (its locals are always zeroed) and then writes every
 *              64th byte; ours writes every word: the same bytes written.
 *
 * Method, as bench/alloc_bench.h: each process (or each rt_run in the kernel)
 * runs one untimed warm-up round and `rounds` timed rounds of `ops`
 * operations, timed with rt_nanotime (Go: time.Now) around the whole round;
 * the process reports the median round. bench/run-sched runs every
 * (benchmark, implementation) pair in a fresh process, the whole matrix
 * repeated BENCH_PASSES times interleaved, and takes the median of passes.
 *
 * Ps: ours runs with 1 and with 2 Ps (rt_run's nprocs; hosted one thread per
 * P), Go with GOMAXPROCS 1 and 2, and the rows compare equal P counts. The
 * 1-P rows are pinned to one host CPU (taskset), the 2-P rows get both host
 * CPUs. This machine has two host cores, so 2-P figures include the cost of
 * waking a thread on the other core (both runtimes park idle threads).
 *
 * Fairness notes and known biases:
 *   - ours starts a coroutine on a 4 KiB stack, Go on 2 KiB: Go copies once
 *     more on the way to 1 MiB (9 copies vs 8), ours touches twice the memory
 *     per create.
 *   - Go 1.19 may start goroutines on a larger stack after a GC has seen big
 *     stacks (adaptivestackstart); the stackgrow loop does not allocate on the
 *     heap, so no GC runs during it (sched.go reports the GC count; a non-zero
 *     count is printed as a note).
 *   - Neither side allocates per operation: Go's create runs a top-level
 *     function on a global wait group (no closure), as ours passes a static
 *     one; the channels are made once per round. Ours has no collector yet,
 *     Go's may run but finds nearly nothing to do.
 *   - In-kernel figures run under TCG emulation: their wall times are not
 *     comparable with hosted ones; compare them only with each other.
 *
 * Code that runs on a coroutine stack (bench/sched_bench.c) is compiled with
 * -fsplit-stack and calls nothing but the runtime: no printf (hosted libc is
 * not prologue-checked). Results go into the job structure, which lives in
 * static storage (never on a coroutine stack: it is written from coroutines
 * and read after rt_run returns), and are printed by the caller after
 * rt_run returns.
 */
#ifndef BENCH_SCHED_BENCH_H
#define BENCH_SCHED_BENCH_H

#include <stdint.h>

enum sched_bench_kind { SCHED_CREATE, SCHED_PINGPONG, SCHED_STACKGROW, SCHED_NKINDS };

#define SCHED_CREATE_BATCH     1000
#define SCHED_GROW_FRAME_BYTES 1024
#define SCHED_GROW_FRAMES      896
#define SCHED_GROW_TARGET      ((uintptr_t)1 << 20)  /* the stack size it must reach */
#define SCHED_MAX_ROUNDS       15

/* One benchmark to run inside rt_run; inputs first, then what it found. */
struct sched_bench_job {
	enum sched_bench_kind kind;
	uint64_t ops;                /* operations per round (create: a multiple of the batch) */
	unsigned rounds;             /* timed rounds, 1..SCHED_MAX_ROUNDS, after one warm-up */

	uint64_t round_ps[SCHED_MAX_ROUNDS]; /* picoseconds per op of each timed round */
	uint64_t median_ps;          /* median of round_ps */
	/* stackgrow: the smallest stack and use seen at the deepest frame, and
	 * stack copies per coroutine (the fewest seen). */
	uintptr_t grow_stack_bytes, grow_used_bytes;
	uint32_t grow_copies;
	const char *error;           /* set when a check failed (then median_ps is 0) */
};

/* Runs jobs[0..njobs) one after the other in the calling coroutine. */
struct sched_bench_batch {
	struct sched_bench_job *jobs;
	int njobs;
};

/* The rt_run main function: arg is a struct sched_bench_batch * in static storage. */
void sched_bench_main(void *arg);

/* "create", "pingpong", "stackgrow"; NULL for a bad kind. */
const char *sched_bench_name(enum sched_bench_kind kind);
/* The kind called name, or -1. */
int sched_bench_lookup(const char *name);

#endif
