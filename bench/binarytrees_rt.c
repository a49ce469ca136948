/*
 * binarytrees_rt.c - ours in binary-trees (bench/binarytrees.h): nodes are
 * typed heap objects (rt_new(&node_type), two pointer words), every child
 * pointer is stored through RT_STORE_PTR (the write barrier's door), and
 * trees are held only in locals, so the collector finds them on the
 * coroutine's stack and reclaims a dropped tree by itself: there is no free.
 *
 * Runs as rt_run's main coroutine, hosted (bench/bt_peer_rt.c) and in the
 * kernel (bench/binarytrees_kernel.c): compiled with the split-stack prologue
 * and calling nothing but the runtime. Hosted it is compiled with
 * RT_DEBUG=0, as the benchmark library it links (RT_STORE_PTR's stack check
 * off); in the kernel with the kernel's setting.
 */
#include "bench/binarytrees.h"
#include "rt/mbarrier.h"
#include "rt/rt.h"
#include "rt/sched.h"

/* Both words of a node are pointers: bits 0 and 1. */
static const uint8_t node_ptrmask[1] = { 0x3 };
static const struct rt_type node_type = {
	.size = sizeof(struct node),
	.align = _Alignof(struct node),
	.ptrdata = sizeof(struct node),
	.ptrmask = node_ptrmask,
	.name = "struct node",
};
_Static_assert(__builtin_offsetof(struct node, left) / 8 == 0 && __builtin_offsetof(struct node, right) / 8 == 1,
	       "node_ptrmask: left is word 0, right word 1");

static struct node *rt_tree(int depth)
{
	struct node *n = rt_new(&node_type);
	if (depth > 0) {
		struct node *left = rt_tree(depth - 1);
		RT_STORE_PTR(n->left, left);
		struct node *right = rt_tree(depth - 1);
		RT_STORE_PTR(n->right, right);
	}
	return n;
}

static const struct bt_ops rt_ops = { rt_tree, NULL };

/* The sampler (make plot): wakes every sample_ns, asleep otherwise (a timer, no P held). */
static void bt_sampler(void *arg)
{
	struct bt_rt_job *job = arg;
	while (!__atomic_load_n(&job->done, __ATOMIC_ACQUIRE)) {
		job->sample();
		rt_sleep(job->sample_ns);
	}
	job->sample();
	rt_chan_send(job->sampler_exit, NULL);
}

void bt_rt_main(void *arg)
{
	struct bt_rt_job *job = arg;
	if (job->sample_ns != 0) {
		__atomic_store_n(&job->done, 0, __ATOMIC_RELAXED);
		RT_STORE_PTR(job->sampler_exit, rt_chan_new(0, 1));
		rt_go(bt_sampler, job);
	}
	bt_run(job->n, &rt_ops, &job->result);
	if (job->sample_ns != 0) {
		__atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
		rt_chan_recv(job->sampler_exit, NULL);   /* rt_run must find no coroutine left */
		RT_STORE_PTR(job->sampler_exit, NULL);
	}
}
