/*
 * mstats.c - memory statistics in the shape of Go's runtime.MemStats.
 *
 * Sources. Global byte counters (struct mstats_global, mstats.h) are changed
 * under the heap lock or, for the *_sys counters, atomically by sys.c and
 * fixalloc.c. Allocation counts are per P (struct mcache_stats) and charged
 * a whole span at a time when an mcache takes a span (mcache.c); reading
 * subtracts the slots still free in every cached span, which makes the counts
 * exact without touching a counter on the fast path.
 *
 * Consistency. The global counters are read under the heap lock, so the
 * heap identities below hold exactly in every snapshot. Per-P counters are
 * exact for the reading P and for stopped Ps; another P allocating meanwhile
 * may be seen half-way (a span charged, its slots not yet subtracted) until
 * the scheduler can stop the world for the read, as Go's ReadMemStats does.
 *
 * Identities (asserted by the host tests):
 *   HeapSys == HeapIdle + HeapInuse         HeapReleased <= HeapIdle
 *   Sys == HeapSys + StackSys + MSpanSys + MCacheSys + BuckHashSys + GCSys + OtherSys
 *   HeapAlloc == Alloc <= HeapInuse         HeapObjects == Mallocs - Frees
 *   MSpanInuse <= MSpanSys, MCacheInuse <= MCacheSys, StackInuse <= StackSys
 *   sys_stats.prepared + ready == Sys       sys_stats.ready == Sys - HeapReleased
 * Tiny allocations are counted in both Mallocs and Frees, as Go does: the
 * 16-byte block they share is the heap object.
 */
#include "rt/mcache.h"
#include "rt/mgc.h"
#include "rt/mheap.h"
#include "rt/mstats.h"
#include "rt/rt.h"

struct mstats_global rt_mstats;

static uint64_t ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

void rt_read_memstats(struct rt_memstats *m)
{
	rt_memclr(m, sizeof(*m));
	uint64_t small[RT_NUM_SIZE_CLASSES] = { 0 };
	uint64_t large = 0, large_bytes = 0, tiny = 0;
	for (int p = 0; p < RT_MAX_PROCS; p++) {
		struct mcache *c = __atomic_load_n(&rt_allp_mcache[p], __ATOMIC_ACQUIRE);
		if (c == NULL)
			continue;
		for (unsigned sc = 0; sc < RT_NUM_SIZE_CLASSES; sc++)
			small[sc] += c->stats.small_alloc[sc];
		for (unsigned i = 0; i < RT_NUM_SPAN_CLASSES; i++) {
			struct mspan *s = c->alloc[i];
			if (s != &mspan_empty)
				small[spanclass_sizeclass((spanclass_t)i)] -= s->nelems - s->alloc_count;
		}
		large += c->stats.large_alloc;
		large_bytes += c->stats.large_bytes;
		tiny += c->stats.tiny_allocs;
	}

	rt_lock(&mheap_.lock);
	uint64_t large_frees = rt_mstats.large_frees, large_free_bytes = rt_mstats.large_free_bytes;
	rt_unlock(&mheap_.lock);

	uint64_t objects = large, bytes = large_bytes;
	m->by_size[0].mallocs = large;
	m->by_size[0].frees = large_frees;
	for (unsigned sc = 1; sc < RT_NUM_SIZE_CLASSES; sc++) {
		m->by_size[sc].size = rt_class[sc].size;
		m->by_size[sc].mallocs = small[sc];
		objects += small[sc];
		bytes += small[sc] * rt_class[sc].size;
	}
	uint64_t small_frees = 0, small_free_bytes = 0;
	for (unsigned sc = 1; sc < RT_NUM_SIZE_CLASSES; sc++) {
		uint64_t f = ld(&sweep_frees[sc]);
		m->by_size[sc].frees = f;
		small_frees += f;
		small_free_bytes += f * rt_class[sc].size;
	}
	m->mallocs = objects + tiny;
	m->frees = tiny + large_frees + small_frees;
	m->heap_objects = m->mallocs - m->frees;
	m->total_alloc = bytes;
	m->heap_alloc = bytes - large_free_bytes - small_free_bytes;
	m->alloc = m->heap_alloc;

	rt_lock(&mheap_.lock);
	m->heap_sys = ld(&rt_mstats.heap_sys);
	m->heap_inuse = rt_mstats.heap_inuse;
	m->heap_idle = rt_mstats.heap_free;
	m->heap_released = rt_mstats.heap_released;
	m->stack_inuse = rt_mstats.stack_inuse;
	m->stack_sys = ld(&rt_mstats.stack_sys);
	m->mspan_inuse = rt_mstats.mspan_inuse;
	m->mspan_sys = ld(&rt_mstats.mspan_sys);
	m->mcache_inuse = rt_mstats.mcache_inuse;
	m->mcache_sys = ld(&rt_mstats.mcache_sys);
	m->buckhash_sys = ld(&rt_mstats.buckhash_sys);
	m->gc_sys = ld(&rt_mstats.gc_sys);
	m->other_sys = ld(&rt_mstats.other_sys);
	m->next_gc = rt_mstats.next_gc;
	m->last_gc = rt_mstats.last_gc;
	m->pause_total_ns = rt_mstats.pause_total_ns;
	m->num_gc = (uint32_t)rt_mstats.num_gc;
	m->num_forced_gc = (uint32_t)rt_mstats.num_forced_gc;
	rt_memcpy(m->pause_ns, rt_mstats.pause_ns, sizeof(m->pause_ns));
	rt_memcpy(m->pause_end, rt_mstats.pause_end, sizeof(m->pause_end));
	rt_memcpy(m->pause_stop_ns, rt_mstats.pause_stop_ns, sizeof(m->pause_stop_ns));
	m->gc_cpu_fraction_ppm = (uint32_t)gc_cpu_fraction_ppm();
	rt_unlock(&mheap_.lock);
	m->sys = m->heap_sys + m->stack_sys + m->mspan_sys + m->mcache_sys + m->buckhash_sys +
		 m->gc_sys + m->other_sys;
}

static void line(const char *name, uint64_t v)
{
	if (v >= ((uint64_t)1 << 20))
		rt_printf("  %-13s %12llu  (%llu.%02llu MiB)\n", name, (unsigned long long)v,
			  (unsigned long long)(v >> 20),
			  (unsigned long long)(((v & ((1u << 20) - 1)) * 100) >> 20));
	else
		rt_printf("  %-13s %12llu\n", name, (unsigned long long)v);
}

void rt_print_memstats(void)
{
	struct rt_memstats m;
	rt_read_memstats(&m);
	rt_printf("runtime memstats:\n");
	line("Alloc", m.alloc);
	line("TotalAlloc", m.total_alloc);
	line("Sys", m.sys);
	line("Mallocs", m.mallocs);
	line("Frees", m.frees);
	line("HeapAlloc", m.heap_alloc);
	line("HeapSys", m.heap_sys);
	line("HeapIdle", m.heap_idle);
	line("HeapInuse", m.heap_inuse);
	line("HeapReleased", m.heap_released);
	line("HeapObjects", m.heap_objects);
	line("StackInuse", m.stack_inuse);
	line("StackSys", m.stack_sys);
	line("MSpanInuse", m.mspan_inuse);
	line("MSpanSys", m.mspan_sys);
	line("MCacheInuse", m.mcache_inuse);
	line("MCacheSys", m.mcache_sys);
	line("BuckHashSys", m.buckhash_sys);
	line("GCSys", m.gc_sys);
	line("OtherSys", m.other_sys);
	line("NextGC", m.next_gc);
	line("NumGC", m.num_gc);
	line("NumForcedGC", m.num_forced_gc);
	line("PauseTotalNs", m.pause_total_ns);
	rt_printf("  by size class (class: bytes x objects):");
	int col = 0;
	for (unsigned sc = 1; sc < RT_NUM_SIZE_CLASSES; sc++) {
		if (m.by_size[sc].mallocs == 0)
			continue;
		rt_printf("%s%u:%ux%llu", col++ % 6 == 0 ? "\n    " : "  ", sc, m.by_size[sc].size,
			  (unsigned long long)m.by_size[sc].mallocs);
	}
	if (m.by_size[0].mallocs != 0)
		rt_printf("%slarge:%llu", col++ % 6 == 0 ? "\n    " : "  ",
			  (unsigned long long)m.by_size[0].mallocs);
	rt_printf("\n");
}

uint64_t mstats_mapped_ready(void)
{
	uint64_t sys = ld(&rt_mstats.heap_sys) + ld(&rt_mstats.stack_sys) + ld(&rt_mstats.mspan_sys) +
		       ld(&rt_mstats.mcache_sys) + ld(&rt_mstats.buckhash_sys) + ld(&rt_mstats.gc_sys) +
		       ld(&rt_mstats.other_sys);
	uint64_t released = ld(&rt_mstats.heap_released);
	return sys > released ? sys - released : 0;
}

uint64_t mstats_heap_free_ready(void)
{
	uint64_t idle = ld(&rt_mstats.heap_free), released = ld(&rt_mstats.heap_released);
	return idle > released ? idle - released : 0;
}

uint64_t rt_pause_percentile(const struct rt_memstats *m, uint32_t since_num_gc, unsigned pct)
{
	uint32_t n = m->num_gc - since_num_gc < 256 ? m->num_gc - since_num_gc : 256;
	if (n == 0)
		return 0;
	uint32_t rank = (pct * n + 99) / 100;   /* 1-based */
	if (rank == 0)
		rank = 1;
	/* The smallest pause with at least rank pauses at or below it. */
	uint64_t best = UINT64_MAX;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t x = m->pause_ns[(m->num_gc - 1 - i) % 256];
		uint32_t at_or_below = 0;
		for (uint32_t j = 0; j < n; j++)
			at_or_below += m->pause_ns[(m->num_gc - 1 - j) % 256] <= x;
		if (at_or_below >= rank && x < best)
			best = x;
	}
	return best;
}
