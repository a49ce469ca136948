/*
 * binarytrees.h - binary-trees, the collector benchmark of issue 12: the
 * program every implementation runs, what is measured, and why it is fair.
 * Shared by the C peers (bench/binarytrees_hosted.c with bench/bt_peer_*.c),
 * ours hosted and in the kernel (bench/binarytrees_rt.c, run from
 * bench/bt_peer_rt.c and bench/binarytrees_kernel.c) and Go 1.19
 * (bench/binarytrees.go, which follows the same steps in Go).
 *
 * The program (the Benchmarks Game's rules for binary-trees):
 *
 *   n         the depth argument; max = max(BT_MIN_DEPTH + 2, n).
 *   1.        Build a "stretch" tree of depth max + 1, walk it, print
 *               stretch tree of depth D\t check: C
 *             and drop it.
 *   2.        Build a long-lived tree of depth max; it stays reachable until
 *             step 4.
 *   3.        For d = BT_MIN_DEPTH, +2, ..., <= max: 2^(max - d + BT_MIN_DEPTH)
 *             times build a tree of depth d, walk it and drop it; print
 *               I\t trees of depth d\t check: C
 *             (I the iterations, C the sum of their checks).
 *   4.        Walk the long-lived tree and print
 *               long lived tree of depth max\t check: C
 *
 * A tree of depth 0 is one node with no children; a tree of depth d > 0 is a
 * node whose two children are trees of depth d - 1. The check of a tree is
 * its node count, 2^(d+1) - 1, computed by walking it (so every node is
 * read: a tree that lost a node, or a collector that freed a live one and
 * let it be reused, gives a wrong check, and bench/run-gc compares every
 * implementation's output with Go's byte for byte). Nodes are built top
 * down (the node first, then its left subtree, then its right one) by every
 * implementation, and the walk is the same recursion everywhere.
 *
 * A node is two pointers, 16 bytes (struct node below; Go's
 * struct{ left, right *Node }). Depth 20 allocates about 3 x 10^8 of them
 * (bt_nodes_total), about 4.8 GB in all, with at most about 64 MiB live (the
 * long-lived tree, 32 MiB, and the tree being built): allocator and
 * collector throughput, not live-set size.
 *
 * The implementations and what "drop" means for each:
 *   ours      rt_new(&node_type) (a typed, pointer-holding object), child
 *             pointers stored with RT_STORE_PTR, trees held in locals only;
 *             dropped by forgetting the root, reclaimed by the collector;
 *             in rt_run with 1 or 2 Ps (hosted) or every CPU (kernel).
 *   go        &Node{} with Go 1.19's collector, GOMAXPROCS 1 or 2 (from the
 *             environment; the driver sets it), GOGC 100.
 *   boehm     GC_MALLOC (scanned, Boehm's defaults, including interior
 *             pointers: its 16-byte requests take 32-byte granules), one
 *             marker (GC_MARKERS=1) or parallel markers (GC_MARKERS=2).
 *   glibc,    malloc and an explicit free of every node of a dropped tree
 *   mimalloc  (a post-order walk): what the program costs without a collector.
 *
 * Single-threaded: every implementation builds its trees on one thread (one
 * coroutine for ours), so the figures are allocator + collector cost with the
 * same mutator; extra Ps, GOMAXPROCS or markers can only help marking (and,
 * for ours and Go, background sweeping). The Benchmarks Game's fastest
 * entries build the trees of each depth in parallel; none of ours do.
 *
 * Measured (bench/run-gc): each (depth, implementation, procs) is a fresh
 * process under /usr/bin/time: wall seconds (the whole process, start-up
 * included) and peak RSS; the collectors report at exit, on stderr, their
 * cycle count and total stop-the-world pause (ours: rt_read_memstats num_gc
 * and pause_total_ns; Go: runtime.MemStats NumGC and PauseTotalNs; Boehm:
 * GC_get_gc_no and the time between its stop-world and start-world events,
 * the whole of each of its collections since it marks with the world
 * stopped). 1-proc rows are pinned to one host CPU, 2-proc rows get both.
 * The matrix is repeated BENCH_PASSES times interleaved; each figure is the
 * median of the passes.
 *
 * Code that runs on a coroutine stack (bt_run with ours' tree builder) calls
 * nothing but the runtime: results go into a struct bt_result, printed by
 * the caller after rt_run returns (bt_format_line gives every peer the same
 * bytes).
 */
#ifndef BENCH_BINARYTREES_H
#define BENCH_BINARYTREES_H

#include <stddef.h>
#include <stdint.h>

#define BT_MIN_DEPTH 4
/* The largest depth argument taken (a depth-30 tree alone would be 32 GiB). */
#define BT_MAX_DEPTH 30
/* Rows of step 3: d = 4, 6, ..., BT_MAX_DEPTH. */
#define BT_MAX_ROWS ((BT_MAX_DEPTH - BT_MIN_DEPTH) / 2 + 1)
/* Bytes bt_format_line writes at most, NUL included. */
#define BT_LINE_MAX 96

struct node {
	struct node *left, *right;   /* both NULL (a leaf) or both set */
};
_Static_assert(sizeof(struct node) == 16, "a node is two pointers");

/* How an implementation builds and drops a tree. */
struct bt_ops {
	struct node *(*tree)(int depth);   /* a full tree of that depth */
	void (*drop)(struct node *root);   /* NULL: forgetting the root is enough (a collector) */
};

struct bt_row {
	int depth;
	uint64_t iterations;
	uint64_t check;              /* sum over the iterations */
};

/* What the program prints, as numbers (the lines come from bt_format_line). */
struct bt_result {
	int max_depth;
	uint64_t stretch_check;      /* of the tree of depth max_depth + 1 */
	int nrows;
	struct bt_row rows[BT_MAX_ROWS];
	uint64_t long_lived_check;   /* of the tree of depth max_depth */
};

/* max(BT_MIN_DEPTH + 2, n); n must be in 0..BT_MAX_DEPTH. */
int bt_max_depth(int n);
/* Nodes the whole program allocates for depth argument n (sizing, messages). */
uint64_t bt_nodes_total(int n);
/* Runs the program for depth argument n with ops into *out. Pure C: no libc. */
void bt_run(int n, const struct bt_ops *ops, struct bt_result *out);
/* The node count of the tree at root, by walking it. */
uint64_t bt_check(const struct node *root);

/*
 * Line i (0 .. bt_nlines(r) - 1) of the program's output, without the
 * newline, into buf (BT_LINE_MAX bytes). Needs no libc.
 */
int bt_nlines(const struct bt_result *r);
void bt_format_line(const struct bt_result *r, int i, char *buf);

/*
 * Ours (bench/binarytrees_rt.c, for hosted and kernel alike): rt_run's main
 * coroutine. job is a struct bt_rt_job in static storage (never on a stack).
 */
struct bt_rt_job {
	int n;                       /* the depth argument */
	struct bt_result result;
	/* make plot: a sampler coroutine beside the program calls sample() every
	 * sample_ns while it runs, and once at its end (0: no sampler). */
	uint64_t sample_ns;
	void (*sample)(void);
	struct rt_chan *sampler_exit;   /* heap (RT_STORE_PTR): the job is static */
	int done;                       /* the program ended (atomic) */
};
void bt_rt_main(void *job);

#endif
