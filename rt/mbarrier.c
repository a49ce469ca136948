/*
 * mbarrier.c - the pointer-store barrier's out-of-line half (see mbarrier.h):
 * the debug check, the slow path, and the table of store ranges an
 * asynchronous preemption restarts.
 *
 * The bulk barrier (rt_bulk_barrier, and rt_typedmemmove on top of it) is
 * the same test for copies and clears of memory holding pointers: channel
 * elements (rt/chan.c) and C code's typed copies. It runs in runtime text,
 * so its test and the copy after it are one step as well.
 *
 * Invariants: rt_wb_enabled changes only with the world stopped (DESIGN.md
 * 7.11, "Phases"); a store's range covers its flag test and its store and
 * writes nothing but the flags register before the store, so it can be
 * restarted from its first instruction at any PC inside it.
 *
 * The slow path reads the flag again: it is reached by a jump out of a
 * range, and the code between that jump and the call is ordinary user code
 * that can be preempted, so the phase may have changed by the time
 * rt_wb_slow runs. rt_wb_slow itself is runtime text (never an asynchronous
 * preemption point), so its test and its store are one step.
 * With the flag set (a concurrent mark, rt/mgc.c) the slow path shades the
 * slot's old value (Yuasa's deletion half, which is what the mark needs:
 * it scanned every stack at its start) and the new one (Dijkstra's
 * insertion half: Go's hybrid barrier, proposal 17503, kept so that stacks
 * may later be scanned one at a time), then stores. Shading greys into the
 * current P's gcwork (gc_shade), on the system stack: taking a new work
 * buffer may allocate under a lock, where a stack must not grow. Runtime
 * text has no preemption point, so test, shade and store stay one step.
 * A thread outside the running world may not store through the barrier
 * while it is on: it has no P to grey into (it panics, naming that).
 *
 * The wbBuf (Go's mwbbuf.go). The slow path does not grey at once: it puts
 * the old and the new value, when each could be a heap pointer (inside the
 * heap region), into its P's buffer of WBBUF_ENTRIES words and stores; a
 * full buffer is flushed on the system stack (gc_shade of each: findobject
 * and one fetch-or). So a store costs a call, a few loads and two appends,
 * not a switch to the system stack and two span lookups. Rules:
 *   - a P's buffer is touched only by the M that owns the P (M n is P n)
 *     in runtime text, which no preemption splits, or with the world
 *     stopped (wb_flush_all);
 *   - what a buffer holds is grey-in-waiting: mark termination flushes
 *     every P's buffer before it looks for grey work (so it restarts the
 *     mark if the flush found any), and rt_gc_mark_state flushes the
 *     caller's P first (a test asks right after a store);
 *   - a buffer is empty when a mark starts (asserted: the previous
 *     termination flushed it), and a flushed entry is cleared: the buffers
 *     live in the bss, which marks scan as globals (wb_drain).
 */
#include "rt/mbarrier.h"
#include "rt/mgc.h"
#include "rt/mheap.h"
#include "rt/port.h"
#include "rt/runtime2.h"

volatile uint8_t rt_wb_enabled;
uint64_t rt_wb_slow_calls;   /* statistics: slow-path stores (atomic) */
uint64_t rt_wb_bulk_words;   /* statistics: pointer words seen by bulk barriers (atomic) */

void rt_barrier_check(const void *slot, const void *val)
{
	if (!mheap_contains(slot))
		return;
	uintptr_t lo, hi, v = (uintptr_t)val;
	rt_port_stack_bounds(&lo, &hi);
	if (v >= lo && v < hi)
		rt_throw("write barrier: storing stack address %p into heap slot %p "
			 "(heap objects must not point into a stack; stack is [%p, %p))",
			 val, slot, (void *)lo, (void *)hi);
}

static void wb_put(const uintptr_t *v, size_t n);

/* The bulk barrier's words go through the wbBuf too (the barrier is on). */
static void bulk_shade(const uintptr_t *v, size_t n)
{
	if (__atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE) != GC_CONCMARK)
		return;   /* the flag set by hand (tests), or a mark this store's G saw end */
	wb_put(v, n);
}

/* ---- the wbBuf ---- */

#define WBBUF_ENTRIES 512   /* Go's wbBufEntries */

static struct wbbuf {
	unsigned n;                        /* entries in use (owner M, or the world stopped) */
	uintptr_t v[WBBUF_ENTRIES];
} wbbufs[RT_MAX_PROCS] __attribute__((aligned(64)));

static inline bool maybe_heap(uintptr_t v)
{
	return v - RT_HEAP_REGION_BASE < RT_HEAP_REGION_SIZE;
}

/*
 * Empties b. The buffers are in the image's bss, which the next mark scans
 * conservatively as globals: a flushed entry left behind would keep its
 * object alive a cycle longer (make test's heap_alloc_is_the_live_set and
 * memory_limit_bounds_what_is_mapped failed 5 runs in 25 so), so each is
 * cleared as it is greyed.
 */
static void wb_drain(struct wbbuf *b, bool shade)
{
	for (unsigned i = 0; i < b->n; i++) {
		if (shade)
			gc_shade(b->v[i]);
		b->v[i] = 0;
	}
	b->n = 0;
}

static void wb_flush_on_system_stack(void *arg)
{
	/* A mark that ended meanwhile left nothing to grey. */
	wb_drain(arg, __atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE) == GC_CONCMARK);
}

void wb_flush_all(void)
{
	for (int p = 0; p < RT_MAX_PROCS; p++) {
		if (wbbufs[p].n != 0)
			wb_drain(&wbbufs[p], true);   /* into the stopper's gcwork: all published next */
	}
}

void wb_flush_current(void)
{
	struct rt_m *m = rt_getm();
	if (m == NULL)
		return;
	struct wbbuf *b = &wbbufs[rt_port_current_p()];
	if (b->n != 0)
		rt_systemstack(wb_flush_on_system_stack, b);
}

bool wb_all_empty(void)
{
	for (int p = 0; p < RT_MAX_PROCS; p++)
		if (wbbufs[p].n != 0)
			return false;
	return true;
}

/* Puts v[0..n) (those that may be heap pointers) into this P's buffer, flushing when full. */
static void wb_put(const uintptr_t *v, size_t n)
{
	if (unlikely(rt_getm() == NULL))
		rt_throw("write barrier: a pointer store from a thread outside the running world during a "
			 "concurrent mark (it has no P to grey into): store from a coroutine");
	struct wbbuf *b = &wbbufs[rt_port_current_p()];
	for (size_t i = 0; i < n; i++) {
		if (!maybe_heap(v[i]))
			continue;
		if (unlikely(b->n == WBBUF_ENTRIES))
			rt_systemstack(wb_flush_on_system_stack, b);
		b->v[b->n++] = v[i];
	}
}

/* noinline: inlined into user text (LTO), its test and store could be preempted apart. */
__attribute__((noinline)) void rt_wb_slow(void **slot, void *val)
{
	__atomic_add_fetch(&rt_wb_slow_calls, 1, __ATOMIC_RELAXED);
	if (rt_wb_enabled && __atomic_load_n(&gc_phase, __ATOMIC_RELAXED) == GC_CONCMARK) {
		uintptr_t pair[2] = {__atomic_load_n((uintptr_t *)slot, __ATOMIC_RELAXED), (uintptr_t)val};
		wb_put(pair, 2);
	}
	*slot = val;
}

/* The linker bounds the section (a C-identifier name; kernel.ld names it too). */
extern const struct rt_restart_range __start_rt_restart[] __attribute__((weak));
extern const struct rt_restart_range __stop_rt_restart[] __attribute__((weak));

const struct rt_restart_range *rt_restart_table(size_t *n)
{
	*n = (size_t)(__stop_rt_restart - __start_rt_restart);
	return __start_rt_restart;
}

uintptr_t rt_restart_pc(uintptr_t pc)
{
	/* Linear: it runs only when a tick is about to inject a preemption. */
	for (const struct rt_restart_range *r = __start_rt_restart; r < __stop_rt_restart; r++)
		if (pc >= r->lo && pc < r->hi)
			return r->lo;
	return pc;
}

/* noinline, as rt_wb_slow: inlined into user text, its exchange and its test could be preempted apart. */
__attribute__((noinline)) void *rt_swap_ptr(void **slot, void *val)
{
	void *old = __atomic_exchange_n(slot, val, __ATOMIC_ACQ_REL);
	if (rt_wb_enabled && __atomic_load_n(&gc_phase, __ATOMIC_RELAXED) == GC_CONCMARK) {
		uintptr_t pair[2] = {(uintptr_t)old, (uintptr_t)val};
		wb_put(pair, 2);
	}
	return old;
}

void rt_bulk_barrier(void *dst, const void *src, size_t n, const uint8_t *ptrmask)
{
	/* Misaligned words are never pointers to the collector, which reads
	 * aligned words only: nothing to shade. */
	if (!rt_wb_enabled || (uintptr_t)dst % 8 != 0)
		return;
	uint64_t words = 0;
	uintptr_t batch[64];
	size_t nb = 0;
	const uint8_t *sb = src;
	for (size_t i = 0; i < n / 8; i++)
		if (ptrmask == NULL || (ptrmask[i / 8] >> (i % 8) & 1)) {
			words++;
			batch[nb++] = __atomic_load_n(&((uintptr_t *)dst)[i], __ATOMIC_RELAXED);
			if (src != NULL) {
				uintptr_t w;
				__builtin_memcpy(&w, sb + 8 * i, 8);   /* src may be misaligned */
				batch[nb++] = w;
			}
			if (nb >= 62) {
				bulk_shade(batch, nb);
				nb = 0;
			}
		}
	if (nb != 0)
		bulk_shade(batch, nb);
	__atomic_add_fetch(&rt_wb_bulk_words, words, __ATOMIC_RELAXED);
}

static inline void copy_word(uint8_t *d, const uint8_t *s)
{
	uint64_t w;
	__builtin_memcpy(&w, s, 8);   /* one 8-byte load and store: no aliasing games */
	__builtin_memcpy(d, &w, 8);
}

/* memmove, by whole words wherever dst is word-aligned (src may not be:
 * copy_word reads unaligned), so no aligned pointer in dst is ever torn;
 * the tail past the last whole word by bytes. Each step reads before it
 * writes, in the direction that never overwrites unread source. */
static void move_words(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	if ((uintptr_t)d == (uintptr_t)s || n == 0)
		return;
	size_t whole = (uintptr_t)d % 8 == 0 ? n & ~(size_t)7 : 0;
	if ((uintptr_t)d < (uintptr_t)s) {
		for (size_t i = 0; i < whole; i += 8)
			copy_word(d + i, s + i);
		for (size_t i = whole; i < n; i++)
			d[i] = s[i];
	} else {
		for (size_t i = n; i > whole; i--)
			d[i - 1] = s[i - 1];
		for (size_t i = whole; i > 0; i -= 8)
			copy_word(d + i - 8, s + i - 8);
	}
}

void rt_typedmemmove(const struct rt_type *t, void *dst, const void *src)
{
	if (dst == src || t->size == 0)
		return;
	if (t->ptrdata != 0)
		rt_bulk_barrier(dst, src, t->ptrdata, t->ptrmask);
	move_words(dst, src, t->size);
}
