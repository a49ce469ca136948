/*
 * bt_peer_malloc.c - binary-trees with malloc and an explicit free of every
 * node of a dropped tree (bench/binarytrees.h). One source, linked twice:
 * alone (glibc) and with -lmimalloc, which replaces malloc for the whole
 * process. As bench/peer_malloc.c, BENCH_PEER names the peer and
 * BENCH_PEER_LIB the shared object that must provide malloc: init checks it
 * with dladdr, so a link that fell back to glibc fails instead of printing
 * glibc's figures twice.
 */
#define _GNU_SOURCE
#include "bench/bt_peer.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#if !defined(BENCH_PEER) || !defined(BENCH_PEER_LIB)
#error "build with -DBENCH_PEER=\"name\" -DBENCH_PEER_LIB=\"libname\""
#endif

static struct node *malloc_tree(int depth)
{
	struct node *n = malloc(sizeof *n);
	if (n == NULL)
		bt_fail("out of memory building a tree of depth %d", depth);
	if (depth > 0) {
		n->left = malloc_tree(depth - 1);
		n->right = malloc_tree(depth - 1);
	} else {
		n->left = n->right = NULL;
	}
	return n;
}

/* Post-order: the children before the node that points to them. */
static void malloc_drop(struct node *n)
{
	if (n->left != NULL) {
		malloc_drop(n->left);
		malloc_drop(n->right);
	}
	free(n);
}

static const struct bt_ops malloc_ops = { malloc_tree, malloc_drop };

static int malloc_init(int n, int procs)
{
	(void)n;
	Dl_info info;
	void *(*volatile m)(size_t) = malloc; /* the address the dynamic linker bound */
	if (!dladdr((void *)m, &info) || !info.dli_fname || !strstr(info.dli_fname, BENCH_PEER_LIB))
		bt_fail("malloc comes from %s, expected %s (link order?)", info.dli_fname ? info.dli_fname : "?",
			BENCH_PEER_LIB);
	if (procs > 1)
		bt_fail("PROCS %d: the malloc peers run on one thread", procs);
	return 1;
}

static void malloc_run(int n, struct bt_result *out)
{
	bt_run(n, &malloc_ops, out);
}

const struct bt_peer bt_peer = { BENCH_PEER, malloc_init, malloc_run, NULL };
