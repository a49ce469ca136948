/*
 * sched_bench.c - the scheduler benchmarks' coroutine side (method in
 * bench/sched_bench.h), the same source in the hosted benchmark and the
 * kernel. Compiled with -fsplit-stack: everything here runs on coroutine
 * stacks and calls only the runtime (rt/sched.h), never libc or kprintf.
 *
 * Shared objects (wait group, channels, the stackgrow findings) are static:
 * a coroutine's locals may move when its stack is copied, so nothing another
 * coroutine uses may live there (rt/sched.h's contract).
 */
#include "bench/sched_bench.h"
#include "rt/sched.h"

#include <stdbool.h>
#include <stddef.h>

static const char *const kind_names[SCHED_NKINDS] = {
	[SCHED_CREATE] = "create", [SCHED_PINGPONG] = "pingpong", [SCHED_STACKGROW] = "stackgrow",
};

const char *sched_bench_name(enum sched_bench_kind kind)
{
	return (unsigned)kind < SCHED_NKINDS ? kind_names[kind] : NULL;
}

int sched_bench_lookup(const char *name)
{
	for (int k = 0; k < SCHED_NKINDS; k++) {
		const char *a = kind_names[k], *b = name;
		while (*a && *a == *b)
			a++, b++;
		if (*a == *b)
			return k;
	}
	return -1;
}

/* Whoever waits in a round waits here; one round runs at a time. */
static struct rt_waitgroup bench_wg = RT_WAITGROUP_INIT;
static struct rt_sched_stats bench_stats;

/* ---- create ------------------------------------------------------------------- */

static void create_exit(void *wg)
{
	rt_wg_done(wg);
}

static const char *round_create(uint64_t ops)
{
	rt_read_sched_stats(&bench_stats);
	uint64_t created0 = bench_stats.created;
	for (uint64_t started = 0; started < ops; started += SCHED_CREATE_BATCH) {
		rt_wg_add(&bench_wg, SCHED_CREATE_BATCH);
		for (unsigned i = 0; i < SCHED_CREATE_BATCH; i++)
			rt_go(create_exit, &bench_wg);
		rt_wg_wait(&bench_wg);
	}
	rt_read_sched_stats(&bench_stats);
	if (bench_stats.created - created0 != ops)
		return "create: rt_read_sched_stats().created did not grow by exactly the coroutines started";
	return NULL;
}

/* ---- pingpong ----------------------------------------------------------------- */

static struct rt_chan *ping_chan, *pong_chan;

/* Sends back every value until ping_chan is closed. */
static void ponger(void *arg)
{
	(void)arg;
	uint64_t v;
	while (rt_chan_recv(ping_chan, &v))
		rt_chan_send(pong_chan, &v);
	rt_wg_done(&bench_wg);
}

static const char *round_pingpong(uint64_t ops)
{
	ping_chan = rt_chan_new(sizeof(uint64_t), 0);
	pong_chan = rt_chan_new(sizeof(uint64_t), 0);
	rt_wg_add(&bench_wg, 1);
	rt_go(ponger, NULL);
	const char *err = NULL;
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t v = i, back = ~i;
		rt_chan_send(ping_chan, &v);
		if (!rt_chan_recv(pong_chan, &back) || back != i) {
			err = "pingpong: a value came back changed, or the channel closed";
			break;
		}
	}
	rt_chan_close(ping_chan);
	rt_wg_wait(&bench_wg);
	return err;
}

/* ---- stackgrow ---------------------------------------------------------------- */

#define GROW_WORDS  (SCHED_GROW_FRAME_BYTES / 8)
#define GROW_STRIDE 8 /* words read back per frame: one per 64 bytes */

/* What the deepest frames saw: the smallest values over a round (one grower
 * at a time writes them). */
static uintptr_t grow_min_stack, grow_min_used;
static uint32_t grow_min_copies;
static bool grow_bad_sum;

static void grow_note_deepest(void)
{
	struct rt_stack_info si;
	rt_stack_info(&si);
	uintptr_t size = si.hi - si.lo;
	if (size < grow_min_stack)
		grow_min_stack = size;
	if (si.used < grow_min_used)
		grow_min_used = si.used;
	if (si.ncopies < grow_min_copies)
		grow_min_copies = si.ncopies;
}

/* Writes its whole frame, recurses, reads every 64th byte back: the sum
 * proves the copies kept every frame's contents. */
__attribute__((noinline)) static uint64_t grow(unsigned depth)
{
	volatile uint64_t buf[GROW_WORDS];
	for (unsigned i = 0; i < GROW_WORDS; i++)
		buf[i] = depth + i;
	uint64_t sum = 0;
	if (depth == 0)
		grow_note_deepest();
	else
		sum = grow(depth - 1);
	for (unsigned i = 0; i < GROW_WORDS; i += GROW_STRIDE)
		sum += buf[i];
	return sum;
}

/* grow()'s result for depth SCHED_GROW_FRAMES - 1: frame d adds
 * sum over k < GROW_WORDS/GROW_STRIDE of (d + GROW_STRIDE k). */
static uint64_t grow_expected(void)
{
	uint64_t n = SCHED_GROW_FRAMES, per = GROW_WORDS / GROW_STRIDE;
	return per * (n * (n - 1) / 2) + n * GROW_STRIDE * (per * (per - 1) / 2);
}

static void grower(void *arg)
{
	(void)arg;
	if (grow(SCHED_GROW_FRAMES - 1) != grow_expected())
		grow_bad_sum = true;
	rt_wg_done(&bench_wg);
}

static const char *round_stackgrow(uint64_t ops)
{
	for (uint64_t i = 0; i < ops; i++) {
		rt_wg_add(&bench_wg, 1);
		rt_go(grower, NULL);
		rt_wg_wait(&bench_wg);
	}
	if (grow_bad_sum)
		return "stackgrow: a frame's contents changed across a stack copy (wrong sum)";
	return NULL;
}

/* The checks of sched_bench.h on what the deepest frames saw. */
static const char *stackgrow_verdict(const struct sched_bench_job *j)
{
	if (j->grow_stack_bytes < SCHED_GROW_TARGET)
		return "stackgrow: the deepest frame ran on a stack smaller than 1 MiB";
	if (j->grow_used_bytes <= SCHED_GROW_TARGET / 2 || j->grow_used_bytes > SCHED_GROW_TARGET)
		return "stackgrow: the recursion does not use between 512 KiB and 1 MiB: retune SCHED_GROW_FRAMES";
	if (j->grow_copies == 0)
		return "stackgrow: a fresh coroutine reached 1 MiB without a copy (it got a recycled big stack)";
	return NULL;
}

/* ---- the rounds ----------------------------------------------------------------- */

static const char *run_round(enum sched_bench_kind kind, uint64_t ops)
{
	switch (kind) {
	case SCHED_CREATE:
		return round_create(ops);
	case SCHED_PINGPONG:
		return round_pingpong(ops);
	case SCHED_STACKGROW:
		return round_stackgrow(ops);
	default:
		return "unknown benchmark kind";
	}
}

static uint64_t median(const uint64_t *v, unsigned n)
{
	uint64_t s[SCHED_MAX_ROUNDS];
	for (unsigned i = 0; i < n; i++) {
		unsigned k = i;
		for (; k > 0 && s[k - 1] > v[i]; k--)
			s[k] = s[k - 1];
		s[k] = v[i];
	}
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void run_job(struct sched_bench_job *j)
{
	j->error = NULL;
	j->median_ps = 0;
	if (j->rounds < 1 || j->rounds > SCHED_MAX_ROUNDS || j->ops == 0 ||
	    (j->kind == SCHED_CREATE && j->ops % SCHED_CREATE_BATCH != 0)) {
		j->error = "bad job: rounds must be 1..SCHED_MAX_ROUNDS, ops > 0 (create: a multiple of the batch)";
		return;
	}
	grow_min_stack = grow_min_used = UINTPTR_MAX;
	grow_min_copies = UINT32_MAX;
	grow_bad_sum = false;
	for (unsigned r = 0; r <= j->rounds; r++) { /* round 0 warms up */
		uint64_t t0 = rt_nanotime();
		const char *err = run_round(j->kind, j->ops);
		uint64_t ns = rt_nanotime() - t0;
		if (err) {
			j->error = err;
			return;
		}
		if (r > 0)
			j->round_ps[r - 1] = ns * 1000 / j->ops;
	}
	if (j->kind == SCHED_STACKGROW) {
		j->grow_stack_bytes = grow_min_stack;
		j->grow_used_bytes = grow_min_used;
		j->grow_copies = grow_min_copies;
		if ((j->error = stackgrow_verdict(j)) != NULL)
			return;
	}
	j->median_ps = median(j->round_ps, j->rounds);
}

void sched_bench_main(void *arg)
{
	struct sched_bench_batch *b = arg;
	for (int i = 0; i < b->njobs; i++)
		run_job(&b->jobs[i]);
}
