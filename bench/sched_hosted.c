/*
 * sched_hosted.c - ours hosted in the scheduler benchmarks (method in
 * bench/sched_bench.h): the runtime's -O2 bench build (RT_BENCH_LIB,
 * RT_DEBUG=0), one thread per P.
 *
 *   sched-ours run BENCH NPROCS [OPS [ROUNDS]]
 *
 * runs one benchmark (create, pingpong, stackgrow) in rt_run with NPROCS Ps
 * and prints one line, the same as bench/sched.go's:
 *
 *   benchmark \t implementation \t ns_per_op \t note
 *
 * implementation is ours-pNPROCS; note says what the checks saw (stackgrow:
 * stack size, deepest use, copies) and, with 2 or more Ps, how many idle
 * threads were woken and Gs stolen per 1000 operations. A failed check prints the reason and
 * exits 1. This file is not built with -fsplit-stack: it prints, and only
 * runs outside rt_run; the coroutines run bench/sched_bench.c.
 */
#include "bench/sched_bench.h"
#include "rt/rt.h"
#include "rt/sched.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Operations per round: each round takes about 20-100 ms here. */
static const uint64_t default_ops[SCHED_NKINDS] = {
	[SCHED_CREATE] = 100000, [SCHED_PINGPONG] = 100000, [SCHED_STACKGROW] = 100,
};
#define DEFAULT_ROUNDS 5

/* Static: rt_run's coroutines write it (never a pointer into a stack). */
static struct sched_bench_job job;
static struct sched_bench_batch batch = { &job, 1 };

static _Noreturn void usage(const char *why)
{
	fprintf(stderr, "sched-ours: %s\nusage: sched-ours run create|pingpong|stackgrow NPROCS [OPS [ROUNDS]]\n",
		why);
	exit(2);
}

static uint64_t parse_u64(const char *s, const char *what, uint64_t lo, uint64_t hi)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		char msg[160];
		snprintf(msg, sizeof msg, "%s: '%s' is not an integer in [%" PRIu64 ", %" PRIu64 "]", what, s, lo, hi);
		usage(msg);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 6 || strcmp(argv[1], "run") != 0)
		usage("expected: run BENCH NPROCS [OPS [ROUNDS]]");
	int kind = sched_bench_lookup(argv[2]);
	if (kind < 0)
		usage("unknown benchmark (create, pingpong, stackgrow)");
	int nprocs = (int)parse_u64(argv[3], "NPROCS", 1, RT_MAX_PROCS);
	job.kind = (enum sched_bench_kind)kind;
	job.ops = argc > 4 ? parse_u64(argv[4], "OPS", 1, UINT64_MAX / 1000000) : default_ops[kind];
	job.rounds = argc > 5 ? (unsigned)parse_u64(argv[5], "ROUNDS", 1, SCHED_MAX_ROUNDS) : DEFAULT_ROUNDS;

	rt_init();
	struct rt_sched_stats s0, s1;
	rt_read_sched_stats(&s0);
	uint64_t left = rt_run(sched_bench_main, &batch, nprocs);
	rt_read_sched_stats(&s1);
	if (job.error) {
		fprintf(stderr, "sched-ours: %s with %d Ps: %s\n", argv[2], nprocs, job.error);
		return 1;
	}
	/* A coroutine that has readied the waiter may not have exited yet when
	 * the main one returns (2 Ps): rt_run destroys it, and we say so. */
	char note[160] = "-";
	int n = 0;
	if (job.kind == SCHED_STACKGROW)
		n = snprintf(note, sizeof note, "stack %" PRIuPTR " KiB, used %" PRIuPTR " KiB, %" PRIu32 " copies",
			     job.grow_stack_bytes >> 10, job.grow_used_bytes >> 10, job.grow_copies);
	/* With more than one P: how often an idle M had to be woken (thread wakes
	 * per 1000 operations, warm-up included), the cost spinning Ms avoid, and
	 * how often a G was stolen (a ping-pong pair split across CPUs). */
	uint64_t total_ops = job.ops * (job.rounds + 1);
	if (nprocs > 1)
	{
		uint64_t stolen = 0;
		for (int p = 0; p < nprocs && p < 64; p++)
			stolen += s1.stolen[p] - s0.stolen[p];
		n += snprintf(note + n, sizeof note - (size_t)n, "%s%.1f wakes, %.1f steals/1000 ops",
			      n ? "; " : "", 1000.0 * (double)(s1.wakeups - s0.wakeups) / (double)total_ops,
			      1000.0 * (double)stolen / (double)total_ops);
	}
	if (left != 0)
		snprintf(note + n, sizeof note - (size_t)n, "%s%" PRIu64 " still alive at the end", n ? "; " : "",
			 left);
	printf("%s\tours-p%d\t%" PRIu64 ".%03" PRIu64 "\t%s\n", argv[2], nprocs, job.median_ps / 1000,
	       job.median_ps % 1000, note);
	return 0;
}
