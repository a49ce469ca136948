/*
 * bt_peer_boehm.c - binary-trees with the Boehm-Demers-Weiser collector
 * (bench/binarytrees.h): GC_MALLOC (scanned objects), Boehm's defaults
 * otherwise. The number of marker threads comes from the environment
 * (GC_MARKERS, which bench/run-gc sets to 1 or 2); init starts them and
 * reports how many there really are, so a library built without parallel
 * marking cannot pass for one with it.
 *
 * Pause: Boehm marks with the world stopped, so each collection's pause is
 * the time from its GC_EVENT_PRE_STOP_WORLD to its GC_EVENT_POST_START_WORLD
 * (the event callback, on the collecting thread). Sweeping is lazy (done by
 * allocation, outside the pause), as ours and Go's.
 */
#define GC_THREADS 1
#include <gc/gc.h>

#include "bench/bt_peer.h"

#include <time.h>

static uint64_t pause_ns, stopped_at;
static unsigned stop_events;
static uint64_t ring[BT_PAUSE_RING];   /* the last pauses, as Go's PauseNs */
static uint64_t npauses;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_event(GC_EventType e)
{
	if (e == GC_EVENT_PRE_STOP_WORLD) {
		stopped_at = now_ns();
		stop_events++;
	} else if (e == GC_EVENT_POST_START_WORLD && stopped_at != 0) {
		uint64_t d = now_ns() - stopped_at;
		pause_ns += d;
		ring[npauses++ % BT_PAUSE_RING] = d;
		stopped_at = 0;
	}
}

static struct node *boehm_tree(int depth)
{
	struct node *n = GC_MALLOC(sizeof *n);
	if (n == NULL)
		bt_fail("out of memory building a tree of depth %d", depth);
	if (depth > 0) {
		n->left = boehm_tree(depth - 1);
		n->right = boehm_tree(depth - 1);
	}
	return n;
}

static const struct bt_ops boehm_ops = { boehm_tree, NULL };

static int boehm_init(int n, int procs)
{
	(void)n;
	if (procs != 0)
		bt_fail("PROCS: Boehm's markers come from GC_MARKERS in the environment");
	GC_set_on_collection_event(on_event);
	GC_INIT();
	GC_start_mark_threads();
	return GC_get_parallel() + 1;
}

static void boehm_run(int n, struct bt_result *out)
{
	bt_run(n, &boehm_ops, out);
}

static void boehm_gc_stats(struct bt_gc_stats *out)
{
	out->cycles = GC_get_gc_no();
	out->pause_ns = pause_ns;
	out->npauses = npauses < BT_PAUSE_RING ? (unsigned)npauses : BT_PAUSE_RING;
	for (unsigned i = 0; i < out->npauses; i++)
		out->pauses[i] = ring[i];
	if (out->cycles != 0 && stop_events == 0)
		bt_fail("%llu collections but no stop-world event: the pause was not measured",
			(unsigned long long)out->cycles);
}

const struct bt_peer bt_peer = { "boehm", boehm_init, boehm_run, boehm_gc_stats };
