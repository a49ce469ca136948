/*
 * binarytrees_hosted.c - the hosted C binary-trees processes (program and
 * method in bench/binarytrees.h): one executable per implementation, this
 * file plus one peer (bench/bt_peer_malloc.c, bt_peer_boehm.c, bt_peer_rt.c).
 *
 *   bt-IMPL DEPTH [PROCS]
 *
 * prints the program's output on stdout, exactly the Benchmarks Game's, and
 * one line on stderr that bench/run-gc parses (the same as binarytrees.go):
 *
 *   binarytrees: impl=NAME procs=P gc_cycles=N gc_pause_ns=N gc_pause_p50_ns=N gc_pause_p99_ns=N
 *   gc_pause_max_ns=N   (one line)
 *
 * the percentiles over each cycle's pause, the last 256 cycles (MemStats'
 * PauseNs ring, as Go's; Boehm: each stop the event callback timed).
 *
 * procs is what the implementation really ran with (ours: Ps; Boehm: marker
 * threads, from GC_MARKERS); gc_* are "-" for the malloc peers. PROCS, if
 * given, is handed to the peer, which refuses a count it cannot run with.
 */
#include "bench/binarytrees.h"
#include "bench/bt_peer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Static: ours writes it from a coroutine (never into a stack). */
static struct bt_result result;

static _Noreturn void usage(const char *why)
{
	fprintf(stderr, "bt-%s: %s\nusage: bt-%s DEPTH [PROCS]  (DEPTH 0..%d)\n", bt_peer.name, why,
		bt_peer.name, BT_MAX_DEPTH);
	exit(2);
}

static int parse_int(const char *s, const char *what, int lo, int hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		char msg[128];
		snprintf(msg, sizeof msg, "%s: '%s' is not an integer in [%d, %d]", what, s, lo, hi);
		usage(msg);
	}
	return (int)v;
}

_Noreturn void bt_fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "bt-%s: ", bt_peer.name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

uint64_t bt_pause_percentile(struct bt_gc_stats *s, unsigned p)
{
	unsigned n = s->npauses;
	if (n == 0)
		return 0;
	for (unsigned i = 1; i < n; i++)   /* insertion sort: at most 256 */
		for (unsigned j = i; j > 0 && s->pauses[j - 1] > s->pauses[j]; j--) {
			uint64_t t = s->pauses[j];
			s->pauses[j] = s->pauses[j - 1];
			s->pauses[j - 1] = t;
		}
	unsigned rank = (p * n + 99) / 100;   /* nearest rank, 1-based */
	return s->pauses[rank == 0 ? 0 : rank - 1];
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3)
		usage("expected DEPTH [PROCS]");
	int n = parse_int(argv[1], "DEPTH", 0, BT_MAX_DEPTH);
	int procs = argc > 2 ? parse_int(argv[2], "PROCS", 1, 64) : 0;

	int ran_with = bt_peer.init(n, procs);
	bt_peer.run(n, &result);

	char line[BT_LINE_MAX];
	for (int i = 0; i < bt_nlines(&result); i++) {
		bt_format_line(&result, i, line);
		puts(line);
	}
	if (fflush(stdout) != 0)
		bt_fail("writing the output: %s", strerror(errno));

	struct bt_gc_stats gc = { 0 };
	bool collects = bt_peer.gc_stats != NULL;
	if (collects)
		bt_peer.gc_stats(&gc);
	if (collects)
		fprintf(stderr,
			"binarytrees: impl=%s procs=%d gc_cycles=%llu gc_pause_ns=%llu gc_pause_p50_ns=%llu "
			"gc_pause_p99_ns=%llu gc_pause_max_ns=%llu\n",
			bt_peer.name, ran_with, (unsigned long long)gc.cycles, (unsigned long long)gc.pause_ns,
			(unsigned long long)bt_pause_percentile(&gc, 50),
			(unsigned long long)bt_pause_percentile(&gc, 99),
			(unsigned long long)bt_pause_percentile(&gc, 100));
	else
		fprintf(stderr, "binarytrees: impl=%s procs=%d gc_cycles=- gc_pause_ns=- gc_pause_p50_ns=- "
			"gc_pause_p99_ns=- gc_pause_max_ns=-\n", bt_peer.name, ran_with);
	return 0;
}
