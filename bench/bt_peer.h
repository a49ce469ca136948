/*
 * bt_peer.h - what one hosted C implementation gives bench/binarytrees_hosted.c
 * (the method is in bench/binarytrees.h). Each bench/bt_peer_*.c defines
 * bt_peer; one executable links one of them.
 */
#ifndef BENCH_BT_PEER_H
#define BENCH_BT_PEER_H

#include <stdint.h>

#include "bench/binarytrees.h"

#define BT_PAUSE_RING 256   /* the pauses kept, as Go's MemStats.PauseNs */

struct bt_gc_stats {
	uint64_t cycles;     /* collections completed */
	uint64_t pause_ns;   /* total stop-the-world time */
	/* Each cycle's pause (both stops of a concurrent one summed, as Go's
	 * PauseNs), the last min(cycles, BT_PAUSE_RING) of them. */
	uint64_t pauses[BT_PAUSE_RING];
	unsigned npauses;
};

/* The p-th percentile (0..100, nearest rank) of s's pauses; 0 if none. Sorts them. */
uint64_t bt_pause_percentile(struct bt_gc_stats *s, unsigned p);

struct bt_peer {
	const char *name;    /* the implementation, as in build/bench/gc.tsv */
	/*
	 * Sets the implementation up for depth argument n; procs is the PROCS
	 * argument or 0 if none was given. Returns the procs it will really run
	 * with (Ps, marker threads; 1 for malloc); fails (bt_fail) on a count it
	 * cannot run with.
	 */
	int (*init)(int n, int procs);
	/* Runs the program (bt_run with the peer's ops, wherever it must run). */
	void (*run)(int n, struct bt_result *out);
	/* At the end: the collector's figures; NULL for the malloc peers. */
	void (*gc_stats)(struct bt_gc_stats *out);
};

extern const struct bt_peer bt_peer;

/* Prints "bt-NAME: " and the message on stderr, exits 1. */
__attribute__((format(printf, 1, 2))) _Noreturn void bt_fail(const char *fmt, ...);

#endif
