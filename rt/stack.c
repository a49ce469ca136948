/*
 * stack.c - coroutine stacks: where they live, how they grow by copying, how
 * they shrink. Go's stack.go, with gcc's -fsplit-stack as the prologue check.
 *
 * The check. Every function built with -fsplit-stack starts by comparing %rsp
 * minus its frame with the word at %fs:0x70, "the guard", and calls
 * __morestack when below (rt/port/amd64.S has the register contract). The
 * guard of a running coroutine is stack_lo + STACK_GUARD; on the system
 * stacks it is 0 (never below). gcc emits the check itself, so nothing is
 * left to a programmer's memory; the unmapped guard page below each stack
 * catches what the check cannot see (code built without it using more than
 * the STACK_GUARD slack), with a fault report instead of silent corruption.
 * Go's own choice, a compiler-inserted check against g.stackguard0, is the
 * same mechanism; we borrow gcc's and implement its runtime half.
 *
 * Memory. A stack of order k is STACK_MIN << k bytes (4 KiB .. 1 GiB) in the
 * runtime's stacks region, with one unmapped guard page below it.
 *   - Orders below STACK_CACHED_ORDERS (4-32 KiB) are carved from chunks: one
 *     sys_reserve of up to 32 [guard page][stack] slots of one order. A slot's
 *     stack is mapped (sys_map + sys_used) the first time it is handed out and
 *     stays mapped while the chunk lives; guard pages are never mapped.
 *     Free slots sit in a per-P cache (no lock, like Go's stackcache) of up to
 *     32 per order, refilled from and flushed to the chunks' free masks in
 *     batches of 16 under the stack-pool lock. A chunk whose slots are all
 *     free goes back to the OS with sys_free when the pool is released (end of
 *     the world, rt_run) or when more than STACK_POOL_FREE_CHUNKS are idle.
 *   - Larger orders get their own reservation (a chunk of one slot), mapped
 *     on allocation. Freed, up to STACK_POOL_FREE_CHUNKS of them per order
 *     up to 1 MiB stay mapped for reuse (a growth to 1 MiB otherwise faults
 *     in every page again); bigger ones go back with sys_free at once. (Go
 *     takes large stacks from the heap's page allocator; ours must sit in the
 *     stacks region with a guard page.)
 *   - Each reservation starts one page past the previous one's end: never
 *     adjacent, so the OS keeps them apart (sys.h rule 2) and sys_free can
 *     name exactly one; the skipped page is the first slot's guard.
 *   StackSys counts mapped stack bytes (sys_map's stat); StackInuse the bytes
 *   of stacks held by coroutines.
 *
 * Growing (rt_newstack, on the M's system stack, called by __morestack):
 *   1. Room needed below F's return address S: F's frame, the 24 + args
 *      bytes rt_morestack_tail puts there, and STACK_GUARD. If it is there
 *      (the guard was poisoned for preemption), go to 3.
 *   2. Otherwise allocate twice the size (more if the frame needs it; over
 *      rt_stack_max panics naming the coroutine, the size and the depth in
 *      frames) and copystack.
 *   3. If the G was asked to yield (g->preempt: the guard was poisoned) and F,
 *      the function that called __morestack, is preemptible code with no
 *      runtime lock held, save the registers in the G and reschedule it; it
 *      resumes in step 4. (Runtime code is never a preemption point: it may be
 *      using the current P's state.)
 *   4. rt_morestack_tail continues F's body with the saved registers.
 *
 * Copying (copystack): the used part [sp, hi) moves to the top of the new
 * stack at offset delta = new_hi - old_hi, and in the same pass every 8-byte
 * word whose value lies in [old_lo, old_hi) gets delta added, as does every
 * saved register (copy_relocate_words: one read and one write per word;
 * hosted with AVX2, four words a step. Measured with callgrind on the
 * stackgrow benchmark: 1.8M instructions per growth to 1 MiB for a copy then
 * a scan, 0.33M now). That relocates exactly what must move - the chain of saved
 * frame pointers, saved %rsp values, pointers to locals held in other
 * frames or in registers - and, the hazard written down: an integer that
 * happens to equal an address inside the old stack is changed too. Stack
 * addresses are in a region of their own (0xffffd000_00000000 in the kernel,
 * 0x300000000000 hosted) that no size, count or small integer can reach, so
 * only a deliberately stored stack address can be misread; such a word is a
 * pointer into the stack, which is what we move anyway. What conservative
 * relocation cannot fix are pointers into the stack held OUTSIDE it (heap,
 * globals, other coroutines' stacks): rt/sched.h forbids them, as Go's escape
 * analysis does. After the copy, the frame-pointer chain is walked on the new
 * stack and must climb strictly inside it to the zero that ends it (a
 * broken chain panics), which also counts the depth for the limit message.
 *
 * Shrinking (stack_maybe_shrink, at a safe point: the G is descheduled by
 * rt_gosched or a preemption, not parked on a channel, whose waiters hold
 * pointers into parked stacks): if less than a quarter is used, copy to half
 * the size (Go's shrinkstack, which it runs during GC).
 *
 * Debug (named constants/flags): STACK_POISON_FREED fills a copied-from stack
 * with 0xdb before it is freed; rt_stack_debug_fault_freed(true) makes freed
 * stacks fault on access (sys_fault) instead of being reused.
 *
 * Locking: stack_pool_lock (LOCKRANK_STACKPOOL) guards the chunk lists and
 * free masks; a P's cache is touched only by its own M with m->locks held.
 */
#include "rt/fixalloc.h"
#include "rt/mstats.h"
#include "rt/mgc.h"
#include "rt/runtime2.h"
#include "rt/sys.h"

#define STACK_CHUNK_SLOTS 32
#define STACK_CACHE_MAX   32
#define STACK_CACHE_BATCH 16
#define STACK_POOL_FREE_CHUNKS 4   /* idle chunks per order kept for reuse */
#define STACK_POOL_KEEP_MAX ((uintptr_t)1 << 20) /* larger stacks go back to the OS at once */
#define STACK_POISON_FREED (RT_DEBUG >= 1)
#define STACK_POISON_BYTE 0xdb

struct stack_chunk {
	uintptr_t base;            /* the reservation (begins with slot 0's guard page) */
	size_t resv_bytes;
	uint8_t order;
	uint8_t nslots;
	uint32_t nheld;            /* slots out of the pool: with Gs or in P caches (pool lock) */
	uint64_t mapped;           /* slots whose stack is mapped (pool lock) */
	uint64_t freemask;         /* slots free in the pool (pool lock) */
	uint64_t retired;          /* slots faulted by the debug mode (pool lock) */
	struct stack_chunk *next, *prev; /* the order's chunk list (pool lock) */
};

static struct rt_lock stack_pool_lock;
static struct stack_chunk *chunks[STACK_NORDERS];  /* chunks with any free or unmapped slot first */
static struct fixalloc chunk_alloc;
static uint64_t chunk_meta_inuse;
static uintptr_t stack_cursor;                     /* next reservation address (pool lock) */
static bool debug_fault_freed;
static uint64_t nchunks, ngrows, nshrinks, nstacks_inuse;
uintptr_t rt_stack_max = STACK_MAX_DEFAULT;
static void (*copy_hook)(uint64_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);

/* The copier reads whole old frames, ASan's redzones included. */
#if defined(__SANITIZE_ADDRESS__)
#define NO_ASAN __attribute__((no_sanitize_address, noinline))
#else
#define NO_ASAN
#endif

/*
 * The copy and the relocation in one pass: each word is read once, moved by
 * delta if it points into [lo, lo + size) (one unsigned compare), and
 * written once: half the memory traffic of a copy then a scan of the copy.
 * The kernel is built general-regs-only, so the loop is scalar there; hosted,
 * a CPU with AVX2 does four words per step (chosen once, by cpuid), which is
 * what brings a growth to 1 MiB under Go's memmove-and-stack-maps copy.
 */
NO_ASAN static void copy_relocate_scalar(uint64_t *dst, const uint64_t *src, size_t n, uintptr_t lo,
					 uintptr_t size, uint64_t delta)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t w = src[i];
		dst[i] = w - lo < size ? w + delta : w;
	}
}

#if defined(HOSTED)
#include <immintrin.h>

__attribute__((target("avx2"))) NO_ASAN static void copy_relocate_avx2(uint64_t *dst, const uint64_t *src,
									 size_t n, uintptr_t lo, uintptr_t size,
									 uint64_t delta)
{
	/* Unsigned d < size as signed (d ^ MIN) < (size ^ MIN): AVX2 compares signed. */
	const __m256i vlo = _mm256_set1_epi64x((long long)lo);
	const __m256i vmin = _mm256_set1_epi64x((long long)0x8000000000000000ull);
	const __m256i vsize = _mm256_set1_epi64x((long long)(size ^ 0x8000000000000000ull));
	const __m256i vdelta = _mm256_set1_epi64x((long long)delta);
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		__m256i w = _mm256_loadu_si256((const __m256i *)(src + i));
		__m256i d = _mm256_xor_si256(_mm256_sub_epi64(w, vlo), vmin);
		__m256i in = _mm256_cmpgt_epi64(vsize, d);
		_mm256_storeu_si256((__m256i *)(dst + i), _mm256_add_epi64(w, _mm256_and_si256(in, vdelta)));
	}
	copy_relocate_scalar(dst + i, src + i, n - i, lo, size, delta);
}

static void copy_relocate_words(uint64_t *dst, const uint64_t *src, size_t n, uintptr_t lo, uintptr_t size,
				uint64_t delta)
{
	static int have_avx2 = -1;   /* every thread computes the same value; atomics make the race formal-free */
	int avx2 = __atomic_load_n(&have_avx2, __ATOMIC_RELAXED);
	if (avx2 < 0) {
		__builtin_cpu_init();
		avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
		__atomic_store_n(&have_avx2, avx2, __ATOMIC_RELAXED);
	}
	if (avx2)
		copy_relocate_avx2(dst, src, n, lo, size, delta);
	else
		copy_relocate_scalar(dst, src, n, lo, size, delta);
}
#else
#define copy_relocate_words copy_relocate_scalar
#endif

NO_ASAN static void fill_bytes(uintptr_t lo, uintptr_t hi, uint8_t b)
{
	for (uintptr_t p = lo; p < hi; p++)
		*(volatile uint8_t *)p = b;
}

static inline uintptr_t order_size(unsigned order) { return STACK_MIN << order; }
static inline uintptr_t slot_bytes(unsigned order) { return STACK_GUARD_PAGE + order_size(order); }
static inline uintptr_t slot_lo(const struct stack_chunk *c, unsigned i)
{
	return c->base + (uintptr_t)i * slot_bytes(c->order) + STACK_GUARD_PAGE;
}

void stack_init(void)
{
	static bool done;
	if (done)
		return;
	rt_lock_init(&stack_pool_lock, LOCKRANK_STACKPOOL, "stack pool");
	fixalloc_init(&chunk_alloc, sizeof(struct stack_chunk), &rt_mstats.other_sys, &chunk_meta_inuse,
		      "stack chunks");
	stack_cursor = RT_STACK_REGION_BASE;
	done = true;
}

void rt_set_max_stack(uintptr_t bytes)
{
	RT_ASSERT_MSG(bytes >= STACK_MIN, "rt_set_max_stack(%lu): at least %lu", (unsigned long)bytes,
		      (unsigned long)STACK_MIN);
	rt_stack_max = bytes;
}

void rt_stack_debug_fault_freed(bool on) { debug_fault_freed = on; }

void rt_set_stack_copy_hook(void (*hook)(uint64_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t))
{
	copy_hook = hook;
}

bool rt_is_stack_pointer(const void *p)
{
	uintptr_t v = (uintptr_t)p;
	return v >= RT_STACK_REGION_BASE && v < RT_STACK_REGION_BASE + RT_STACK_REGION_SIZE;
}

/* ---- chunks (pool lock) ---------------------------------------------------- */

static void list_remove(struct stack_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		chunks[c->order] = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

static void list_push(struct stack_chunk *c)
{
	c->prev = NULL;
	c->next = chunks[c->order];
	if (c->next)
		c->next->prev = c;
	chunks[c->order] = c;
}

static struct stack_chunk *chunk_new(unsigned order)
{
	unsigned nslots = order < STACK_CACHED_ORDERS ? STACK_CHUNK_SLOTS : 1;
	size_t bytes = (size_t)nslots * slot_bytes(order);
	void *v = NULL;
	int err;
	/* Skip one page: reservations never touch (see the essay). */
	for (int tries = 0;; tries++) {
		uintptr_t at = stack_cursor + STACK_GUARD_PAGE;
		RT_ASSERT_MSG(at + bytes <= RT_STACK_REGION_BASE + RT_STACK_REGION_SIZE,
			      "runtime: out of stack address space (%lu bytes asked)", (unsigned long)bytes);
		err = sys_reserve(SYS_REGION_STACK, (void *)at, bytes, &v);
		stack_cursor = at + bytes;
		if (err == SYS_OK)
			break;
		if (err != SYS_EBUSY || tries > 8)
			rt_throw("runtime: cannot reserve %lu bytes for coroutine stacks: %s",
				 (unsigned long)bytes, sys_strerror(err));
	}
	struct stack_chunk *c = fixalloc_alloc(&chunk_alloc);
	c->base = (uintptr_t)v;
	c->resv_bytes = bytes;
	c->order = (uint8_t)order;
	c->nslots = (uint8_t)nslots;
	c->freemask = nslots == 64 ? ~0ull : ((1ull << nslots) - 1);
	nchunks++;
	list_push(c);
	return c;
}

/* Freestanding: no libgcc, and the kernel may run on CPUs without POPCNT. */
static unsigned bitcount(uint64_t x)
{
	unsigned n = 0;
	for (; x != 0; x &= x - 1)
		n++;
	return n;
}

static void chunk_release(struct stack_chunk *c)
{
	RT_ASSERT(c->nheld == 0);
	list_remove(c);
	size_t mapped = (size_t)bitcount(c->mapped) * order_size(c->order);
	size_t ready = mapped;   /* sys_fault leaves a slot counted as Ready (sys.h) */
	sys_free((void *)c->base, c->resv_bytes, mapped, ready, &rt_mstats.stack_sys);
	nchunks--;
	fixalloc_free(&chunk_alloc, c);
}

/* Takes one slot of `order` from the pool; maps it if needed. Pool lock held. */
static uintptr_t pool_take(unsigned order, struct stack_chunk **out)
{
	struct stack_chunk *c = chunks[order];
	while (c != NULL && (c->freemask & ~c->retired) == 0)
		c = c->next;
	if (c == NULL)
		c = chunk_new(order);
	unsigned i = (unsigned)__builtin_ctzll(c->freemask & ~c->retired);
	c->freemask &= ~(1ull << i);
	c->nheld++;
	uintptr_t lo = slot_lo(c, i);
	if (!(c->mapped & (1ull << i))) {
		int err = sys_map((void *)lo, order_size(order), &rt_mstats.stack_sys);
		if (err != SYS_OK)
			rt_throw("runtime: out of memory: cannot map a %lu-byte coroutine stack: %s",
				 (unsigned long)order_size(order), sys_strerror(err));
		sys_used((void *)lo, order_size(order));
		c->mapped |= 1ull << i;
	}
	/* Full chunks to the back, so the search above stays short. */
	if ((c->freemask & ~c->retired) == 0 && c->next != NULL) {
		list_remove(c);
		struct stack_chunk *t = chunks[order];
		while (t->next)
			t = t->next;
		t->next = c;
		c->prev = t;
	}
	*out = c;
	return lo;
}

/* Returns a slot to the pool. Pool lock held. */
static void pool_put(struct stack_chunk *c, uintptr_t lo)
{
	unsigned i = (unsigned)((lo - STACK_GUARD_PAGE - c->base) / slot_bytes(c->order));
	RT_ASSERT_MSG(slot_lo(c, i) == lo && !(c->freemask & (1ull << i)),
		      "stack_free: %#lx is not a held stack of its chunk", (unsigned long)lo);
	if (debug_fault_freed) {
		sys_fault((void *)lo, order_size(c->order));
		c->retired |= 1ull << i;
	}
	c->freemask |= 1ull << i;
	c->nheld--;
	if (c->nheld == 0) {
		/* fall through to the release checks below */
		unsigned idle = 0;
		for (struct stack_chunk *t = chunks[c->order]; t; t = t->next)
			idle += t->nheld == 0;
		if (idle > STACK_POOL_FREE_CHUNKS || order_size(c->order) > STACK_POOL_KEEP_MAX ||
		    c->retired != 0) {
			chunk_release(c);
			return;
		}
	}
	list_remove(c);
	list_push(c);
}

/* ---- allocation ------------------------------------------------------------ */

void stack_alloc(struct rt_g *g, unsigned order)
{
	RT_ASSERT_MSG(order < STACK_NORDERS, "stack_alloc: order %u", order);
	struct rt_m *m = rt_getm();
	struct stackcache *sc = m && order < STACK_CACHED_ORDERS && !debug_fault_freed
					? &m->p->stackcache[order] : NULL;
	uintptr_t lo;
	struct stack_chunk *c;
	if (sc != NULL && sc->n > 0) {
		sc->n--;
		lo = sc->lo[sc->n];
		c = sc->chunk[sc->n];
	} else {
		rt_lock(&stack_pool_lock);
		lo = pool_take(order, &c);
		/* Refill the cache with a batch while the lock is held. */
		while (sc != NULL && sc->n < STACK_CACHE_BATCH) {
			struct stack_chunk *cc;
			uintptr_t l = pool_take(order, &cc);
			sc->lo[sc->n] = l;
			sc->chunk[sc->n] = cc;
			sc->n++;
		}
		rt_unlock(&stack_pool_lock);
	}
	g->stack_lo = lo;
	g->stack_hi = lo + order_size(order);
	g->stackguard = lo + STACK_GUARD;
	g->stack_chunk = c;
	g->stack_order = (uint8_t)order;
	rt_port_stack_fresh(lo, order_size(order));
	__atomic_add_fetch(&rt_mstats.stack_inuse, order_size(order), __ATOMIC_RELAXED);
	__atomic_add_fetch(&nstacks_inuse, 1, __ATOMIC_RELAXED);
}

void stack_free(struct rt_g *g)
{
	unsigned order = g->stack_order;
	struct stack_chunk *c = g->stack_chunk;
	uintptr_t lo = g->stack_lo;
	RT_ASSERT_MSG(c != NULL && lo != 0, "stack_free: G %lu has no stack", (unsigned long)g->id);
	__atomic_sub_fetch(&rt_mstats.stack_inuse, order_size(order), __ATOMIC_RELAXED);
	__atomic_sub_fetch(&nstacks_inuse, 1, __ATOMIC_RELAXED);
	g->stack_lo = g->stack_hi = g->stackguard = 0;
	g->stack_chunk = NULL;
	struct rt_m *m = rt_getm();
	struct stackcache *sc = m && order < STACK_CACHED_ORDERS && !debug_fault_freed
					? &m->p->stackcache[order] : NULL;
	if (sc != NULL && sc->n < STACK_CACHE_MAX) {
		sc->lo[sc->n] = lo;
		sc->chunk[sc->n] = c;
		sc->n++;
		return;
	}
	rt_lock(&stack_pool_lock);
	pool_put(c, lo);
	/* Flush half of a full cache, so the next frees are cheap again. */
	while (sc != NULL && sc->n > STACK_CACHE_MAX - STACK_CACHE_BATCH) {
		sc->n--;
		pool_put(sc->chunk[sc->n], sc->lo[sc->n]);
	}
	rt_unlock(&stack_pool_lock);
}

bool stack_keep_with_dead_g(const struct rt_g *g)
{
	return g->stack_order == 0 && !debug_fault_freed;
}

void stack_release_all(void)
{
	rt_lock(&stack_pool_lock);
	for (int p = 0; p < RT_MAX_PROCS; p++) {
		if (rt_allp[p] == NULL)
			continue;
		for (unsigned o = 0; o < STACK_CACHED_ORDERS; o++) {
			struct stackcache *sc = &rt_allp[p]->stackcache[o];
			while (sc->n > 0) {
				sc->n--;
				pool_put(sc->chunk[sc->n], sc->lo[sc->n]);
			}
		}
	}
	bool any = false;
	for (unsigned o = 0; o < STACK_NORDERS; o++) {
		struct stack_chunk *c = chunks[o];
		while (c != NULL) {
			struct stack_chunk *next = c->next;
			if (c->nheld == 0)
				chunk_release(c);
			else
				any = true;
			c = next;
		}
	}
	/* Nothing left: the next world reuses the same addresses (and the page
	 * tables the OS built for them). */
	if (!any)
		stack_cursor = RT_STACK_REGION_BASE;
	rt_unlock(&stack_pool_lock);
}

/* ---- copying --------------------------------------------------------------- */

static inline void relocate_word(uint64_t *w, uintptr_t old_lo, uintptr_t old_hi, intptr_t delta)
{
	if (*w >= old_lo && *w < old_hi)
		*w += (uint64_t)delta;
}

/* Walks the %rbp chain from fp on [sp, hi); returns the depth, panics if broken. */
static unsigned frame_chain_check(struct rt_g *g, uintptr_t fp, uintptr_t sp, uintptr_t hi)
{
	unsigned depth = 0;
	while (fp != 0) {
		RT_ASSERT_MSG(fp >= sp && fp + 16 <= hi && (fp & 7) == 0,
			      "stack copy of coroutine %lu: frame pointer %#lx at depth %u outside [%#lx, %#lx)",
			      (unsigned long)g->id, (unsigned long)fp, depth, (unsigned long)sp,
			      (unsigned long)hi);
		uintptr_t next = *(uintptr_t *)fp;
		RT_ASSERT_MSG(next == 0 || next > fp,
			      "stack copy of coroutine %lu: frame chain does not climb at depth %u (%#lx -> %#lx)",
			      (unsigned long)g->id, depth, (unsigned long)fp, (unsigned long)next);
		fp = next;
		depth++;
	}
	return depth;
}

/*
 * Moves g's stack to a new one of `order`. sp is g's lowest live byte; regs
 * (nregs words: saved registers outside the stack) are relocated too. Returns
 * the new sp. Runs on the system stack; g is not running.
 */
static uintptr_t copystack(struct rt_g *g, unsigned order, uintptr_t sp, uint64_t *regs, unsigned nregs,
			   uintptr_t fp)
{
	uintptr_t old_lo = g->stack_lo, old_hi = g->stack_hi;
	void *old_chunk = g->stack_chunk;
	unsigned old_order = g->stack_order;
	uintptr_t used = old_hi - sp;
	RT_ASSERT_MSG(sp >= old_lo && sp <= old_hi, "copystack: G %lu sp %#lx outside [%#lx, %#lx)",
		      (unsigned long)g->id, (unsigned long)sp, (unsigned long)old_lo, (unsigned long)old_hi);
	stack_alloc(g, order);
	uintptr_t new_hi = g->stack_hi;
	intptr_t delta = (intptr_t)(new_hi - old_hi);
	uintptr_t new_sp = sp + (uintptr_t)delta;
	RT_ASSERT(used + STACK_GUARD <= g->stack_hi - g->stack_lo);
	RT_ASSERT((sp & 7) == 0);
	copy_relocate_words((uint64_t *)new_sp, (const uint64_t *)sp, used / 8, old_lo, old_hi - old_lo,
			    (uint64_t)delta);
	for (unsigned i = 0; i < nregs; i++)
		relocate_word(&regs[i], old_lo, old_hi, delta);
	if (fp >= old_lo && fp < old_hi)
		fp += (uintptr_t)delta;
	frame_chain_check(g, fp, new_sp, new_hi);
	g->ncopies++;
	if (used > g->max_used)
		g->max_used = used;

	/* Free the old stack (the G struct briefly points at the new one). */
	struct rt_g old = *g;
	old.stack_lo = old_lo;
	old.stack_hi = old_hi;
	old.stack_chunk = old_chunk;
	old.stack_order = (uint8_t)old_order;
	if (STACK_POISON_FREED && !debug_fault_freed)
		fill_bytes(sp, old_hi, STACK_POISON_BYTE);
	stack_free(&old);
	if (copy_hook)
		copy_hook(g->id, old_lo, old_hi, g->stack_lo, g->stack_hi, used);
	return new_sp;
}

/* Depth in frames from fp (for messages; the chain is known good). */
static unsigned frame_depth(uintptr_t fp, uintptr_t lo, uintptr_t hi)
{
	unsigned d = 0;
	while (fp >= lo && fp < hi) {
		fp = *(uintptr_t *)fp;
		d++;
	}
	return d;
}

void rt_newstack(struct rt_m *m)
{
	struct rt_g *g = m->curg;
	struct morebuf *mb = &m->morebuf;
	uintptr_t ret_into_f = *(uintptr_t *)mb->sp;
	uintptr_t s = mb->sp + 8;   /* F's entry %rsp: [s] = F's return address */

	/* The system stacks' guard is 0 and is never poisoned (preemption poisons
	 * only a running G's own guard), so this is a broken invariant; the
	 * switch to g0_sp may already have overwritten the scheduler's frames. */
	if (g == NULL || m->on_systemstack || s <= g->stack_lo || s > g->stack_hi)
		rt_throw("__morestack on a system stack (from %#lx, %%rsp %#lx, coroutine %lu)",
			 (unsigned long)ret_into_f, (unsigned long)mb->sp, (unsigned long)(g ? g->id : 0));

	/* 1./2. Grow until F's frame and the tail fit above the guard. */
	uintptr_t need = mb->frame + ((24 + mb->args + 15) & ~(uintptr_t)15) + STACK_GUARD;
	if (s - need < g->stack_lo || s < need) {
		uintptr_t used = g->stack_hi - mb->sp;
		unsigned order = g->stack_order + 1;
		while (order < STACK_NORDERS && order_size(order) < used + need)
			order++;
		if (order >= STACK_NORDERS || order_size(order) > rt_stack_max) {
			rt_throw("stack overflow: coroutine %lu needs more than %lu bytes of stack (limit %lu) "
				 "at depth %u frames (in %#lx)",
				 (unsigned long)g->id, (unsigned long)(g->stack_hi - g->stack_lo),
				 (unsigned long)rt_stack_max,
				 frame_depth(mb->rbp, g->stack_lo, g->stack_hi), (unsigned long)ret_into_f);
		}
		mb->sp = copystack(g, order, mb->sp, (uint64_t *)mb, 13, mb->rbp);
		__atomic_add_fetch(&ngrows, 1, __ATOMIC_RELAXED);
	}
	/* 3. A preemption request at a preemptible point: yield (after growing,
	 * so F has its room when it resumes in 4). Not with a kernel spinlock
	 * held (rt_port_may_stop): a stop for a collection would keep it. */
	if (g->preempt && m->locks == 0 && rt_port_preemptible_pc(ret_into_f) && rt_port_may_stop()) {
		g->morebuf = *mb;
		g->in_morestack = true;
		m->npreempt_sync++;
		rt_gosched_preempted();  /* on g0: reschedules g, never returns */
	}

	/* 4. Continue F; a pending request waits for the next tick (Go does too). */
	rt_morestack_tail(mb, g->stackguard);
}

void stack_maybe_shrink(struct rt_g *g)
{
	if (g->stack_order == 0)
		return;
	uintptr_t sp, fp;
	uint64_t *regs;
	unsigned nregs;
	if (g->in_morestack) {
		sp = g->morebuf.sp;
		fp = g->morebuf.rbp;
		regs = (uint64_t *)&g->morebuf;
		nregs = 13;
		/* The tail needs room below the return address: count it as used. */
		sp -= g->morebuf.frame + 64 + g->morebuf.args;
	} else {
		sp = g->sched_sp;
		fp = ((uintptr_t *)sp)[5];   /* the saved %rbp in [r15 r14 r13 r12 rbx rbp ret] */
		regs = NULL;
		nregs = 0;
	}
	uintptr_t size = g->stack_hi - g->stack_lo;
	uintptr_t used = g->stack_hi - sp;
	if (used + STACK_GUARD >= size / 4)
		return;
	if (g->in_morestack) {
		uintptr_t real_sp = g->morebuf.sp;
		g->morebuf.sp = copystack(g, g->stack_order - 1u, real_sp, regs, nregs, fp);
	} else {
		g->sched_sp = copystack(g, g->stack_order - 1u, sp, regs, nregs, fp);
	}
	__atomic_add_fetch(&nshrinks, 1, __ATOMIC_RELAXED);
}

void rt_stack_info(struct rt_stack_info *out)
{
	struct rt_g *g = rt_getg_user();
	uintptr_t sp = rt_getsp();
	out->lo = g ? g->stack_lo : 0;
	out->hi = g ? g->stack_hi : 0;
	out->used = g ? g->stack_hi - sp : 0;
	out->ncopies = g ? g->ncopies : 0;
}

void stack_read_stats(uint64_t *grows, uint64_t *shrinks, uint64_t *inuse, uint64_t *nchunk)
{
	*grows = __atomic_load_n(&ngrows, __ATOMIC_RELAXED);
	*shrinks = __atomic_load_n(&nshrinks, __ATOMIC_RELAXED);
	*inuse = __atomic_load_n(&nstacks_inuse, __ATOMIC_RELAXED);
	*nchunk = __atomic_load_n(&nchunks, __ATOMIC_RELAXED);
}
