/*
 * binarytrees.c - the binary-trees program (rules and method in
 * bench/binarytrees.h), the same for every C implementation: they differ
 * only in the struct bt_ops that builds and drops a tree.
 *
 * Pure C without libc or the runtime, so it is compiled three ways: plainly
 * for the C peers, with the split-stack prologue for ours hosted (it runs on
 * a coroutine stack) and with the kernel's flags for run=bench.binarytrees.
 */
#include "bench/binarytrees.h"

int bt_max_depth(int n)
{
	return n < BT_MIN_DEPTH + 2 ? BT_MIN_DEPTH + 2 : n;
}

static uint64_t tree_nodes(int depth)
{
	return ((uint64_t)2 << depth) - 1;
}

uint64_t bt_nodes_total(int n)
{
	int max = bt_max_depth(n);
	uint64_t total = tree_nodes(max + 1) + tree_nodes(max);
	for (int d = BT_MIN_DEPTH; d <= max; d += 2)
		total += ((uint64_t)1 << (max - d + BT_MIN_DEPTH)) * tree_nodes(d);
	return total;
}

uint64_t bt_check(const struct node *root)
{
	if (root->left == NULL)
		return 1;
	return 1 + bt_check(root->left) + bt_check(root->right);
}

static uint64_t build_check_drop(const struct bt_ops *ops, int depth)
{
	struct node *t = ops->tree(depth);
	uint64_t c = bt_check(t);
	if (ops->drop != NULL)
		ops->drop(t);
	return c;
}

void bt_run(int n, const struct bt_ops *ops, struct bt_result *out)
{
	int max = bt_max_depth(n);
	out->max_depth = max;
	out->nrows = 0;

	/* 1. */
	out->stretch_check = build_check_drop(ops, max + 1);

	/* 2. */
	struct node *long_lived = ops->tree(max);

	/* 3. */
	for (int d = BT_MIN_DEPTH; d <= max; d += 2) {
		struct bt_row *row = &out->rows[out->nrows++];
		row->depth = d;
		row->iterations = (uint64_t)1 << (max - d + BT_MIN_DEPTH);
		row->check = 0;
		for (uint64_t i = 0; i < row->iterations; i++)
			row->check += build_check_drop(ops, d);
	}

	/* 4. */
	out->long_lived_check = bt_check(long_lived);
	if (ops->drop != NULL)
		ops->drop(long_lived);
}

int bt_nlines(const struct bt_result *r)
{
	return r->nrows + 2;
}

/* Appends s at *p. */
static void put_str(char **p, const char *s)
{
	while (*s != '\0')
		*(*p)++ = *s++;
}

/* Appends v in decimal at *p. */
static void put_u64(char **p, uint64_t v)
{
	char digits[20];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*(*p)++ = digits[--n];
}

void bt_format_line(const struct bt_result *r, int i, char *buf)
{
	char *p = buf;
	if (i == 0) {
		put_str(&p, "stretch tree of depth ");
		put_u64(&p, (uint64_t)r->max_depth + 1);
		put_str(&p, "\t check: ");
		put_u64(&p, r->stretch_check);
	} else if (i <= r->nrows) {
		const struct bt_row *row = &r->rows[i - 1];
		put_u64(&p, row->iterations);
		put_str(&p, "\t trees of depth ");
		put_u64(&p, (uint64_t)row->depth);
		put_str(&p, "\t check: ");
		put_u64(&p, row->check);
	} else {
		put_str(&p, "long lived tree of depth ");
		put_u64(&p, (uint64_t)r->max_depth);
		put_str(&p, "\t check: ");
		put_u64(&p, r->long_lived_check);
	}
	*p = '\0';
}
