/*
 * bt_peer_rt.c - ours hosted in binary-trees (bench/binarytrees.h): the
 * runtime's -O2 benchmark library (RT_BENCH_LIB, RT_DEBUG=0), the program in
 * rt_run's main coroutine (bench/binarytrees_rt.c) with PROCS Ps, one
 * thread each (default 1).
 *
 * BENCH_RT_HAS_GC (set by bench/build.mk: 1 when rt/build.mk builds
 * rt/mgc.c) says whether the runtime collects. Without a collector nothing
 * is reclaimed: the implementation calls itself "ours-nogc" and refuses a
 * depth that would allocate more than NOGC_MAX_BYTES (depth 17 allocates
 * 470 MiB, depth 20 4.5 GiB).
 */
#include "bench/bt_peer.h"
#include "rt/rt.h"
#include "rt/sched.h"

#ifndef BENCH_RT_HAS_GC
#error "build with -DBENCH_RT_HAS_GC=0 or 1 (bench/build.mk)"
#endif

#define NOGC_MAX_BYTES (1ull << 30)

/* Static: written by the main coroutine, read after rt_run returns. */
static struct bt_rt_job job;
static int nprocs;

static int rt_peer_init(int n, int procs)
{
	uint64_t bytes = bt_nodes_total(n) * sizeof(struct node);
	if (!BENCH_RT_HAS_GC && bytes > NOGC_MAX_BYTES)
		bt_fail("no collector yet: depth %d allocates %llu MiB that nothing would reclaim (at most %llu MiB "
			"without rt_gc)", n, (unsigned long long)(bytes >> 20), NOGC_MAX_BYTES >> 20);
	nprocs = procs ? procs : 1;
	if (nprocs > RT_MAX_PROCS)
		bt_fail("PROCS %d: at most %d", nprocs, RT_MAX_PROCS);
	rt_init();
	return nprocs;
}

static void rt_peer_run(int n, struct bt_result *out)
{
	job.n = n;
	uint64_t left = rt_run(bt_rt_main, &job, nprocs);
	if (left != 0)
		bt_fail("%llu coroutines still alive after the program (it starts none)", (unsigned long long)left);
	*out = job.result;
}

static void rt_peer_gc_stats(struct bt_gc_stats *out)
{
	struct rt_memstats ms;
	rt_read_memstats(&ms);
	out->cycles = ms.num_gc;
	out->pause_ns = ms.pause_total_ns;
	out->npauses = ms.num_gc < BT_PAUSE_RING ? ms.num_gc : BT_PAUSE_RING;
	for (unsigned i = 0; i < out->npauses; i++)
		out->pauses[i] = ms.pause_ns[(ms.num_gc - 1 - i) % 256];
}

const struct bt_peer bt_peer = {
	BENCH_RT_HAS_GC ? "ours" : "ours-nogc", rt_peer_init, rt_peer_run, rt_peer_gc_stats,
};
