/*
 * mgcmark.c - marking: the roots, finding an object from a pointer, greying
 * and scanning (Go's mgcmark.go, and the findObject/greyobject of mbitmap.go).
 *
 * Colors (DESIGN.md 7.3). White: mark bit clear. Grey: mark bit set and the
 * object's address in some worker's gcwork (mgcwork.c), or a root not yet
 * scanned. Black: marked and scanned. Marking ends when nothing is grey; the
 * white objects are garbage, which the sweeper (mgcsweep.c) frees.
 *
 * findobject(p): the arena of p, its page map entry, the span's state
 * (MSPAN_INUSE) and bounds, the slot index (divmul), idx < nelems, and
 * "allocated": idx < freeindex or its alloc bit. Everything else (NULL, static
 * data, stacks, metadata, free slots, free runs, manual spans, a span's tail)
 * is not a heap pointer and is ignored, never trusted. Interior pointers
 * resolve to their object (Go's findObject).
 *
 * greyobject: an atomic fetch-or of the object's bit in gcmark_bits; the
 * worker that set it owns the object: it counts its bytes and, unless the
 * span is noscan (black at once), queues it. Two workers racing for one
 * object: exactly one wins.
 *
 * scanobject(b): a small scan span's slot, word by word where the heap bitmap
 * (heapbits_read, 64 words at a time) says "pointer"; a large object with a
 * type: its type's pointer mask over its elements, for its requested size
 * only (the span's tail past it holds stale words). A large object is scanned
 * in oblets of GC_OBLET_BYTES (Go's 128 KiB): the worker that greys it queues
 * the other oblets' addresses, so one huge array spreads over every worker.
 * Every pointer word goes through findobject: the layout is precise about
 * where pointers are, not about what they hold.
 *
 * scanblock(lo, hi), conservative: every 8-byte-aligned word of [lo, hi)
 * through findobject, plus one rule beyond Go's (whose compiler never keeps a
 * pointer past an object's end): a word equal to the end of an allocated
 * object's slot also marks that object, found from the word minus 1, because
 * C keeps one-past-the-end pointers (end = buf + n) that may be the last
 * reference to buf. It can only keep garbage alive (a neighbour), never free
 * a live object.
 *
 * The roots, each found so (DESIGN.md 7.5 has the reasons; issue 12's tests
 * name one case per root, tests/rt/gc_cases.c):
 *   1. The image's data and bss (rt_port_data_ranges: kernel, the linker
 *      script's bounds minus the boot stacks, whose guard pages are unmapped;
 *      hosted, the executable's [__data_start, _edata) and [__bss_start, _end)),
 *      conservatively, in jobs of GC_GLOBALS_JOB bytes. Shared libraries are
 *      not scanned. C has no way to declare its globals' types, so
 *      conservative is the only sound choice; the runtime's own statics hold
 *      only metadata and stack addresses, which findobject rejects.
 *   2. Every G that is G_RUNNABLE or G_WAITING (a dead G's kept stack holds
 *      abandoned frames): its stack from the saved %rsp up, which holds the
 *      callee-saved registers rt_mcall pushed, or everything
 *      rt_async_preempt pushed; for a G stopped in __morestack, from
 *      morebuf.sp up plus its 13 saved registers (F's argument registers may
 *      hold the only copy of a pointer). Never below the saved %rsp: dead.
 *   3. The G structures' arg (a G not yet started holds it nowhere else) and
 *      param, scanned with the G.
 *   4. Parked Gs: their stacks (root 2) hold the waiter records of channels
 *      and sema (sudogs whose elem points at the value, the destination, or
 *      the mutex); a select's sudogs are off-heap, on g->waiting, whose c and
 *      elem are scanned with the G. Channel buffers are heap objects reached
 *      from their channel: a ring of word-sized elements is scanned as all
 *      pointers (its type says so), any other ring is noscan (a C struct
 *      holding pointers is a multiple of 8 bytes, so only pointer-free
 *      elements have other sizes).
 *   5. The frames of whoever started the world: M 0's [exit_sp, caller_hi)
 *      on the stack rt_mstart_asm ran on (a test's main() locals held across
 *      rt_run; the callee-saved registers rt_mstart_asm pushed). The other
 *      Ms are entered by the port's code, which holds no heap pointer: their
 *      caller frames would only contribute stale words (caller_hi 0).
 *   6. System stacks while user code runs on them: empty at every stop,
 *      since rt_systemstack holds m->locks and the stop waits for it.
 *   7. Outside a world (rt_gc called by a thread that is not running
 *      coroutines): that thread's stack from its %rsp up and its
 *      callee-saved registers. No other thread may allocate meanwhile.
 * Roots beside the program (a concurrent mark; stopped marks scan them all
 * in their stop). The first stop scans only M 0's caller frames (a few,
 * which rt_run's caller may change without a barrier, and which a world
 * that ends early takes away) and queues the rest (gcmark_prepare): the
 * global pieces as jobs, and the Gs that may run
 * again (G_RUNNABLE, G_WAITING) on a list through gc_scan_link: those are
 * "not yet scanned" (gc_scan_gen behind gc_stack_gen, counted in
 * stacks_left); any other G is scanned, and so is every G made during the
 * mark (newproc: its stack holds nothing yet, and its argument is shaded, as
 * the write barrier would). Dead G structs are never claimed: a suite that
 * once ran 10^4 coroutines kept its marks open one dead G a step.
 *   1. Every marker's step claims one job or one G first, while any is
 *      left (gcmark_root_step), inside its markers_busy count, and
 *      publishes what it greyed at the step's end.
 *   2. A stack is scanned once, under g->gc_scan_lock (scan_stack_once).
 *      execute() takes the lock and scans a G not yet scanned before it
 *      runs it (gc_scan_before_run), so no G runs unscanned: every G was
 *      off its M when the first stop ended, and the stack a scan reads is
 *      the one the snapshot saw, plus what other Gs wrote into it through
 *      the bulk barrier (a direct send into a parked receiver). A marker
 *      that finds the lock taken waits: its holder is scanning that stack.
 *   3. A stack only moves (stack_maybe_shrink, copystack) while its G runs
 *      or right after it ran (gosched_m), so never while it is unscanned.
 *   4. The mark is not done while a job or a G is unclaimed
 *      (gcmark_roots_pending, in mark_looks_done): a claimed one is inside
 *      a busy step, whose publishing the epoch window sees. Termination
 *      scans whatever is left (a world that ended) and asserts that every
 *      stack was scanned (gcmark_roots_done).
 * Not roots: the timer heaps, run queues and G lists (G pointers, off-heap),
 * the sema table (stack addresses), free sudogs, m->morebuf (live only while
 * rt_newstack runs, never at a stop), the tiny block (dropped by the flush),
 * and all off-heap metadata. A heap pointer kept only where the collector
 * does not look (malloc'd or mmap'd memory, a __thread variable, a frame of
 * the kernel's allocator, hidden by xor or tagging) is a bug (rt/rt.h).
 *
 * Checkmark (gccheckmark=1). Stopped mark: after the mark, with the world
 * still stopped, mark again from the roots with separate per-span bits; an
 * object the second mark reaches that the first did not mark panics, naming
 * it, its span class and the slot it was reached from (a heap object's
 * field, a G's stack with the words around the slot, a global...). The same
 * code runs both marks (gc_checkmark_active switches the bit array), so the
 * verifier checks the marker's reachability, not a copy.
 * Concurrent mark: the verifier proves what the snapshot argument promises
 * (rt/mgc.c), mark >= reachable at the start + allocated since. At the
 * start, with the world stopped, a whole mark from the same roots sets the
 * checkmark bits without checking (the snapshot's reachable set) and each
 * span records its freeindex; at termination every checkmark bit must be a
 * mark bit, and every slot handed out since (past the recorded freeindex,
 * alloc bit clear) must be marked (gcmark_checkmark_verify). Why not a
 * second mark at termination, as stopped: its conservative roots then hold
 * dead words that point at garbage the mark rightly left white, and nothing
 * tells them from live ones. Found so (kernel, 4 CPUs, the words around
 * the slot dumped): %r8 in the save area of an asynchronously preempted
 * verify(), dead there, held a span's first slot that rt_object_base had
 * computed; twice a span's first slot in a G structure itself, where only
 * __morestack's saved registers (dead caller-saved ones among them) or a
 * stale param can hold it; earlier, frames' unwritten slots holding words
 * from below the start's %rsp. Reachability from the program only
 * shrinks, since a program can only reach what it could reach at the start
 * or allocated since: the two checks together cover everything it can use.
 * What they cannot see is a root missed by the code both marks share (the
 * stopped checkmark covers that code) or a G in a state the start's scan
 * misreads at that moment (the mutator tests' checksums would show it).
 *
 * Hosted builds read stacks and globals with ASan's checks off
 * (no_sanitize_address): frames and globals carry poisoned redzones.
 */
#include "rt/fixalloc.h"
#include "rt/mbitmap.h"
#include "rt/mgc.h"
#include "rt/mheap.h"
#include "rt/mstats.h"
#include "rt/runtime2.h"
#include "rt/sys.h"

#define GC_OBLET_BYTES ((uintptr_t)128 << 10)
#define GC_GLOBALS_JOB ((uintptr_t)256 << 10)
#define GC_MAX_DATA_RANGES 8
#define GC_BALANCE_EVERY 64   /* objects scanned between gcw_balance calls */

#if defined(__SANITIZE_ADDRESS__)
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

/* The root jobs of the current mark (set up by the stopper, claimed by fetch-add). */
static struct {
	uintptr_t data_lo[GC_MAX_DATA_RANGES], data_hi[GC_MAX_DATA_RANGES];
	int ndata;
	uint32_t nglobal_jobs;       /* jobs [0, nglobal_jobs): GC_GLOBALS_JOB-byte pieces of data */
	uint32_t nm_jobs;            /* then one per M: its caller's frames */
	uint32_t njobs;              /* then the outside-world caller, if any */
	volatile uint32_t next;      /* next job to claim */
	struct rt_g *volatile gnext; /* next G whose stack to claim (CAS): on allgs, or a concurrent
				      * mark's list of Gs not yet scanned (gc_scan_link) */
	bool concurrent;             /* a concurrent mark's roots: claimed by markers beside the program */
	uintptr_t outside_lo, outside_hi;   /* root 7: from the registers rt_gc pushed, up */
} roots;

/* A concurrent mark's stacks (the essay's "Roots beside the program"). */
volatile uint32_t gc_stack_gen;         /* bumped at each concurrent mark's start (world stopped) */
static volatile int64_t stacks_left;    /* Gs whose gc_scan_gen is not gc_stack_gen (atomic) */

bool gc_checkmark_active;       /* this mark is the checkmark pass */
static bool gc_checkmark_checks;        /* ... and checks each object it reaches is marked */
bool gc_debug_skip_globals;     /* testing the verifier: the first mark ignores root 1 */
RT_NOSCAN uintptr_t gc_debug_why;       /* debugging: print where the mark finds this object */

/* ---- finding and greying objects ---- */

/* The allocated object containing p: its span, slot index and base; false if none. */
static inline bool findobject(uintptr_t p, struct mspan **sp, uintptr_t *idxp, uintptr_t *basep)
{
	struct mspan *s = spanof_unchecked(p);
	if (s == NULL || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != MSPAN_INUSE || p < s->startaddr ||
	    p >= mspan_end(s))
		return false;
	uintptr_t idx = mspan_obj_index(s, p);
	if (idx >= s->nelems)
		return false;   /* the span's tail waste */
	/* freeindex only grows while the span's owner allocates beside a
	 * concurrent mark, and what it hands out then is already black. */
	if (idx >= __atomic_load_n(&s->freeindex, __ATOMIC_RELAXED) &&
	    !((s->alloc_bits[idx / 64] >> (idx % 64)) & 1))
		return false;   /* a free slot */
	*sp = s;
	*idxp = idx;
	*basep = s->startaddr + idx * s->elemsize;
	return true;
}

/* The G whose stack holds slot, or NULL. */
static struct rt_g *stack_owner(uintptr_t slot)
{
	for (struct rt_g *g = sched_allgs(); g != NULL; g = g->alllink)
		if (slot >= g->stack_lo && slot < g->stack_hi)
			return g;
	return NULL;
}

/* What a slot address is, for the checkmark's panic. */
static void describe_slot(uintptr_t slot, char *buf, size_t n)
{
	struct mspan *s;
	uintptr_t idx, base;
	if (findobject(slot, &s, &idx, &base)) {
		rt_snprintf(buf, n, "field +%lu of heap object %#lx (span class %u, %lu-byte slots)",
			    (unsigned long)(slot - base), (unsigned long)base, (unsigned)s->spanclass,
			    (unsigned long)s->elemsize);
		return;
	}
	struct rt_g *sg = stack_owner(slot);
	if (sg != NULL) {
		rt_snprintf(buf, n,
			    "the stack of coroutine %lu at %#lx (top - %#lx; stack [%#lx, %#lx), "
			    "status %u, saved %%rsp %#lx%s)",
			    (unsigned long)sg->id, (unsigned long)slot, (unsigned long)(sg->stack_hi - slot),
			    (unsigned long)sg->stack_lo, (unsigned long)sg->stack_hi, (unsigned)sg->status,
			    (unsigned long)(sg->in_morestack ? sg->morebuf.sp : sg->sched_sp),
			    sg->in_morestack ? ", stopped in __morestack" : "");
		return;
	}
	for (struct rt_g *g = sched_allgs(); g != NULL; g = g->alllink) {
		if (slot >= (uintptr_t)&g->morebuf && slot < (uintptr_t)(&g->morebuf + 1)) {
			static const char *const regs[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
							   "r8", "r9", "r12", "r13", "r14", "r15"};
			unsigned r = (unsigned)((slot - (uintptr_t)&g->morebuf) / 8);
			rt_snprintf(buf, n, "coroutine %lu's %%%s, saved by __morestack at the entry of the "
				    "function returning to %#lx",
				    (unsigned long)g->id, r < 13 ? regs[r] : "?",
				    (unsigned long)*(uintptr_t *)g->morebuf.sp);
			return;
		}
		if (slot >= (uintptr_t)g && slot < (uintptr_t)(g + 1)) {
			rt_snprintf(buf, n, "coroutine %lu's %s", (unsigned long)g->id,
				    slot == (uintptr_t)&g->arg ? "argument" : "param");
			return;
		}
	}
	for (int i = 0; i < roots.ndata; i++)
		if (slot >= roots.data_lo[i] && slot < roots.data_hi[i]) {
			rt_snprintf(buf, n, "a global at %#lx", (unsigned long)slot);
			return;
		}
	rt_snprintf(buf, n, "a root at %#lx (a world's caller stack, a sudog or a thread)",
		    (unsigned long)slot);
}

__attribute__((noinline, cold, noreturn))
static void checkmark_missed(uintptr_t base, struct mspan *s, uintptr_t slot)
{
	char from[256];
	describe_slot(slot, from, sizeof(from));
	uintptr_t idx = (base - s->startaddr) / s->elemsize;
	struct rt_g *g = stack_owner(slot);
	if (g != NULL) {
		/* The frames around the slot: return addresses for addr2line. */
		rt_printf("gccheckmark: coroutine %lu's stack around the slot:\n", (unsigned long)g->id);
		uintptr_t lo = slot - 0x80 < g->stack_lo ? g->stack_lo : slot - 0x80;
		for (uintptr_t a = lo; a < g->stack_hi && a < slot + 0x180; a += 8)
			rt_printf("  %#lx (top-%#lx): %#lx%s\n", (unsigned long)a,
				  (unsigned long)(g->stack_hi - a), (unsigned long)*(uintptr_t *)a,
				  a == slot ? "  <==" : "");
	}
	rt_throw("gccheckmark: object %#lx (span class %u, %lu-byte slots, %s; slot %lu of %u, "
		 "freeindex %u, alloc bit %u) is reachable but was not marked; reached from %s",
		 (unsigned long)base, (unsigned)s->spanclass, (unsigned long)s->elemsize,
		 (s->spanclass & 1) ? "noscan" : "scan", (unsigned long)idx, (unsigned)s->nelems,
		 (unsigned)s->freeindex, (unsigned)((s->alloc_bits[idx / 64] >> (idx % 64)) & 1), from);
}

static inline void greyobject(struct gcwork *w, uintptr_t base, struct mspan *s, uintptr_t idx,
			      uintptr_t slot)
{
	uint64_t mask = (uint64_t)1 << (idx % 64);
	uint64_t *bits = s->gcmark_bits;
	if (unlikely(gc_checkmark_active)) {
		if (gc_checkmark_checks && !((s->gcmark_bits[idx / 64] >> (idx % 64)) & 1))
			checkmark_missed(base, s, slot);
		bits = s->checkmark_bits;
	}
	uint64_t *word = &bits[idx / 64];
	if (__atomic_load_n(word, __ATOMIC_RELAXED) & mask)
		return;
	if (__atomic_fetch_or(word, mask, __ATOMIC_RELAXED) & mask)
		return;   /* another worker won */
	if (unlikely(gc_debug_why != 0) && base == gc_debug_why) {
		char from[256];
		describe_slot(slot, from, sizeof(from));
		rt_printf("gc: object %#lx is reached from %s\n", (unsigned long)base, from);
	}
	w->bytes_marked += s->elemsize;
	w->objs_marked++;
	if (s->spanclass & 1)
		return;   /* noscan: black at once */
	if (spanclass_sizeclass(s->spanclass) == 0 && s->largetype == NULL)
		return;
	gcw_put(w, base);
	if (spanclass_sizeclass(s->spanclass) == 0) {
		/* A large object: its other oblets are separate work. */
		for (uintptr_t o = base + GC_OBLET_BYTES; o < base + s->largesize; o += GC_OBLET_BYTES)
			gcw_put(w, o);
	}
}

/* A word read from a typed pointer slot. */
static inline void mark_precise(struct gcwork *w, uintptr_t v, uintptr_t slot)
{
	struct mspan *s;
	uintptr_t idx, base;
	if (v - RT_HEAP_REGION_BASE < RT_HEAP_REGION_SIZE && findobject(v, &s, &idx, &base))
		greyobject(w, base, s, idx, slot);
}

void gc_mark_conservative_word(struct gcwork *w, uintptr_t v, uintptr_t slot)
{
	if (v - RT_HEAP_REGION_BASE > RT_HEAP_REGION_SIZE)
		return;   /* neither v nor v - 1 is in the heap region (the region's first byte counts) */
	struct mspan *s;
	uintptr_t idx, base;
	if (findobject(v, &s, &idx, &base))
		greyobject(w, base, s, idx, slot);
	/* One past the end of an object's slot (the essay's extra rule). */
	if (findobject(v - 1, &s, &idx, &base) && base + s->elemsize == v)
		greyobject(w, base, s, idx, slot);
}

NO_ASAN static void scanblock(struct gcwork *w, uintptr_t lo, uintptr_t hi)
{
	lo = (lo + 7) & ~(uintptr_t)7;
	for (uintptr_t a = lo; a + 8 <= hi; a += 8)
		gc_mark_conservative_word(w, *(volatile uintptr_t *)a, a);
	w->scan_bytes += hi > lo ? hi - lo : 0;
}

/* ---- scanning heap objects ---- */

/* A large object's oblet at p: its type's mask over the elements in [p, p + OBLET). */
static void scan_large(struct gcwork *w, struct mspan *s, uintptr_t p)
{
	const struct rt_type *t = s->largetype;
	uintptr_t base = s->startaddr;
	uintptr_t end = base + s->largesize;
	uintptr_t stop = p + GC_OBLET_BYTES < end ? p + GC_OBLET_BYTES : end;
	uintptr_t off = (p - base) % t->size;   /* offset of p in its element */
	for (uintptr_t a = p; a < stop; a += 8) {
		if (off < t->ptrdata) {
			uintptr_t wi = off / 8;
			if ((t->ptrmask[wi / 8] >> (wi % 8)) & 1)
				mark_precise(w, __atomic_load_n((uintptr_t *)a, __ATOMIC_RELAXED), a);
		}
		off += 8;
		if (off == t->size)
			off = 0;
	}
	w->scan_bytes += stop - p;
}

static void scanobject(struct gcwork *w, uintptr_t b)
{
	struct mspan *s = spanof_unchecked(b);
	RT_DASSERT(s != NULL && s->state == MSPAN_INUSE && !(s->spanclass & 1));
	if (spanclass_sizeclass(s->spanclass) == 0) {
		scan_large(w, s, b);
		return;
	}
	uintptr_t nwords = s->elemsize / 8;
	for (uintptr_t i = 0; i < nwords; i += 64) {
		unsigned n = nwords - i < 64 ? (unsigned)(nwords - i) : 64;
		uint64_t bits = heapbits_read_span(s, b + 8 * i, n);
		while (bits != 0) {
			unsigned j = (unsigned)__builtin_ctzll(bits);
			bits &= bits - 1;
			uintptr_t a = b + 8 * (i + j);
			/* A mutator may store here meanwhile (a concurrent mark): one whole word. */
			mark_precise(w, __atomic_load_n((uintptr_t *)a, __ATOMIC_RELAXED), a);
		}
	}
	w->scan_bytes += s->elemsize;
}

/* ---- roots ---- */

NO_ASAN static void scan_g(struct gcwork *w, struct rt_g *g)
{
	uint32_t st = __atomic_load_n(&g->status, __ATOMIC_ACQUIRE);
	if (st != G_RUNNABLE && st != G_WAITING)
		return;
	uintptr_t sp;
	if (g->in_morestack) {
		sp = g->morebuf.sp;
		uint64_t *regs = (uint64_t *)&g->morebuf;
		for (unsigned i = 0; i < 13; i++)
			gc_mark_conservative_word(w, regs[i], (uintptr_t)&regs[i]);
	} else if (g->gc_scan_depth != 0) {
		sp = g->stack_hi - g->gc_scan_depth;   /* a G in rt_gc: its caller's frames on */
		RT_ASSERT(sp >= g->sched_sp);
	} else {
		sp = g->sched_sp;
	}
	RT_ASSERT_MSG(sp >= g->stack_lo && sp <= g->stack_hi,
		      "scan: coroutine %lu's saved %%rsp %#lx is outside its stack [%#lx, %#lx)",
		      (unsigned long)g->id, (unsigned long)sp, (unsigned long)g->stack_lo,
		      (unsigned long)g->stack_hi);
	scanblock(w, sp, g->stack_hi);
	w->stack_bytes += g->stack_hi - sp;
	gc_mark_conservative_word(w, (uintptr_t)g->arg, (uintptr_t)&g->arg);
	gc_mark_conservative_word(w, (uintptr_t)g->param, (uintptr_t)&g->param);
	for (struct sudog *sg = g->waiting; sg != NULL; sg = sg->waitlink) {
		gc_mark_conservative_word(w, (uintptr_t)sg->c, (uintptr_t)&sg->c);
		gc_mark_conservative_word(w, (uintptr_t)sg->elem, (uintptr_t)&sg->elem);
	}
}

/*
 * A concurrent mark's stack scan: g's stack, once, while g does not run.
 * Whoever scans holds g->gc_scan_lock; execute() takes it too before it
 * runs a G not yet scanned (gc_scan_before_run), so a G under scan cannot
 * start running, and a G not yet scanned never runs: its stack still holds
 * what it held at the snapshot. A scanner that finds the lock taken waits
 * (the holder is scanning that stack), so when it moves on, g is scanned.
 * Returns whether this call scanned it.
 */
NO_ASAN static bool scan_stack_once(struct gcwork *w, struct rt_g *g, bool publish)
{
	uint32_t gen = __atomic_load_n(&gc_stack_gen, __ATOMIC_ACQUIRE);
	if (__atomic_load_n(&g->gc_scan_gen, __ATOMIC_ACQUIRE) == gen)
		return false;
	while (__atomic_exchange_n(&g->gc_scan_lock, 1, __ATOMIC_ACQUIRE) != 0)
		__builtin_ia32_pause();
	bool scanned = false;
	if (__atomic_load_n(&g->gc_scan_gen, __ATOMIC_RELAXED) != gen) {
		uint32_t st = __atomic_load_n(&g->status, __ATOMIC_ACQUIRE);
		RT_ASSERT_MSG(st != G_RUNNING || rt_getm() == NULL,   /* NULL: a world that ended */
			      "concurrent mark: coroutine %lu runs before its stack was scanned",
			      (unsigned long)g->id);
		scan_g(w, g);
		if (publish)
			gcw_dispose(w);   /* before the lock goes: a marker waiting on it may be the last out */
		__atomic_store_n(&g->gc_scan_gen, gen, __ATOMIC_RELEASE);
		__atomic_sub_fetch(&stacks_left, 1, __ATOMIC_ACQ_REL);
		scanned = true;
	}
	__atomic_store_n(&g->gc_scan_lock, 0, __ATOMIC_RELEASE);
	return scanned;
}

void gc_scan_before_run(struct rt_g *g)
{
	struct gcwork *w = &gcwork_of[rt_port_current_p()];
	uint64_t before = w->scan_bytes;
	if (scan_stack_once(w, g, true))   /* published, as a mark step's: nothing grey stays private */
		gc_scan_work_add(w->scan_bytes - before);
}

/* Claims the next root job; false when none is left (looked at first, so
 * that markers asking all mark long do not run the counter up). */
static bool claim_job(uint32_t *job)
{
	if (__atomic_load_n(&roots.next, __ATOMIC_RELAXED) >= roots.njobs)
		return false;
	*job = __atomic_fetch_add(&roots.next, 1, __ATOMIC_ACQ_REL);
	return *job < roots.njobs;
}

/* Claims the next G whose stack is not yet claimed; NULL when none is left. */
static struct rt_g *claim_g(void)
{
	struct rt_g *g = __atomic_load_n(&roots.gnext, __ATOMIC_ACQUIRE);
	while (g != NULL &&
	       !__atomic_compare_exchange_n(&roots.gnext, &g, roots.concurrent ? g->gc_scan_link : g->alllink,
					    false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	return g;
}

/* Root 5: the frames of whoever started m's world (M 0 only: the others' caller_hi is 0). */
static void scan_caller_frames(struct gcwork *w, const struct rt_m *m)
{
	if (m != NULL && m->exit_sp != 0 && m->caller_hi > m->exit_sp)
		scanblock(w, m->exit_sp, m->caller_hi);
}

static void markroot(struct gcwork *w, uint32_t job)
{
	if (job < roots.nglobal_jobs) {
		if (unlikely(gc_debug_skip_globals) && !gc_checkmark_active)
			return;   /* a deliberately broken mark (test_rt_gc): the checkmark must catch it */
		/* Piece `job` of the data ranges, each range cut in GC_GLOBALS_JOB pieces. */
		uint32_t k = job;
		for (int i = 0; i < roots.ndata; i++) {
			uintptr_t len = roots.data_hi[i] - roots.data_lo[i];
			uint32_t pieces = (uint32_t)((len + GC_GLOBALS_JOB - 1) / GC_GLOBALS_JOB);
			if (k < pieces) {
				uintptr_t lo = roots.data_lo[i] + (uintptr_t)k * GC_GLOBALS_JOB;
				uintptr_t hi = lo + GC_GLOBALS_JOB < roots.data_hi[i] ? lo + GC_GLOBALS_JOB
										: roots.data_hi[i];
				scanblock(w, lo, hi);
				w->global_bytes += hi - lo;
				return;
			}
			k -= pieces;
		}
		RT_ASSERT_MSG(false, "markroot: global job %u out of range", job);
	}
	job -= roots.nglobal_jobs;
	if (job < roots.nm_jobs) {
		scan_caller_frames(w, rt_allm[job]);
		return;
	}
	/* Root 7: the caller outside a world. */
	scanblock(w, roots.outside_lo, roots.outside_hi);
}

void gcmark_set_outside_root(uintptr_t lo, uintptr_t hi)
{
	roots.outside_lo = lo;
	roots.outside_hi = hi;
}

/*
 * A concurrent mark's start (world stopped): every G that may run again is
 * "not yet scanned", on the returned list (gc_scan_link); every other G is
 * scanned as of now.
 */
static struct rt_g *stacks_queue(void)
{
	uint32_t gen = __atomic_add_fetch(&gc_stack_gen, 1, __ATOMIC_SEQ_CST);
	int64_t n = 0;
	struct rt_g *list = NULL;
	for (struct rt_g *g = sched_allgs(); g != NULL; g = g->alllink) {
		uint32_t st = __atomic_load_n(&g->status, __ATOMIC_ACQUIRE);
		RT_ASSERT(st != G_RUNNING && g->gc_scan_lock == 0);
		if (st == G_RUNNABLE || st == G_WAITING) {
			/* Only these are claimed: the G structs of a past peak (dead) cost
			 * the markers nothing (make test: 10^4 of them, one a step, kept
			 * the mark open while the heap ran past its goal). */
			g->gc_scan_link = list;
			list = g;
			n++;
		} else {
			g->gc_scan_gen = gen;   /* idle or dead: nothing to scan (newproc keeps it so) */
		}
	}
	__atomic_store_n(&stacks_left, n, __ATOMIC_RELEASE);
	return list;
}

void gcmark_prepare(bool in_world, bool concurrent)
{
	roots.concurrent = concurrent;
	roots.ndata = rt_port_data_ranges(roots.data_lo, roots.data_hi, GC_MAX_DATA_RANGES);
	uint32_t n = 0;
	for (int i = 0; i < roots.ndata; i++)
		n += (uint32_t)((roots.data_hi[i] - roots.data_lo[i] + GC_GLOBALS_JOB - 1) / GC_GLOBALS_JOB);
	roots.nglobal_jobs = n;
	roots.nm_jobs = in_world && !concurrent ? (uint32_t)rt_sched.nprocs : 0;
	roots.njobs = n + roots.nm_jobs + (in_world ? 0 : 1);
	roots.next = 0;
	roots.gnext = !in_world ? NULL : concurrent ? stacks_queue() : sched_allgs();
	if (in_world && concurrent) {
		/* M 0's caller frames now, in the stop: a caller may store into them
		 * through rt_run's argument without a barrier, and a world that ends
		 * before a marker came would find them gone (exit_sp cleared). A
		 * few frames: the stop stays short. */
		struct gcwork *w = &gcwork_of[rt_port_current_p()];
		for (int i = 0; i < rt_sched.nprocs; i++)
			scan_caller_frames(w, rt_allm[i]);
		gcw_dispose(w);
	}
}

void gcmark_prepare_drain(void)
{
	if (roots.concurrent)
		return;   /* termination scans what the concurrent mark left (a world that ended) */
	roots.nglobal_jobs = roots.nm_jobs = roots.njobs = 0;
	roots.next = 0;
	roots.gnext = NULL;
}

/* ---- the worker ---- */

static void drain(struct gcwork *w)
{
	unsigned k = 0;
	for (;;) {
		uintptr_t b = gcw_tryget(w);
		if (b == 0)
			return;
		scanobject(w, b);
		if (++k % GC_BALANCE_EVERY == 0)
			gcw_balance(w);
	}
}

/* One root of this mark: a G's stack, as the mark's kind wants. */
static void scan_g_root(struct gcwork *w, struct rt_g *g)
{
	if (roots.concurrent)
		(void)scan_stack_once(w, g, false);
	else
		scan_g(w, g);
}

void gc_mark_worker(struct rt_m *m, int p)
{
	struct gcwork *w = &gcwork_of[p];
	/* 1. Root jobs, then G stacks, until none is left. */
	for (uint32_t job; claim_job(&job);) {
		markroot(w, job);
		drain(w);
	}
	for (struct rt_g *g; (g = claim_g()) != NULL;) {
		scan_g_root(w, g);
		drain(w);
	}
	/* 2-4. Drain, then wait for published work until every worker waits. */
	do
		drain(w);
	while (gcwork_getfull(w, m));
	gcwork_exit();
}

/* ---- marking beside the program (mgc.c) ---- */

bool gcmark_roots_pending(void)
{
	return roots.concurrent && (__atomic_load_n(&roots.next, __ATOMIC_SEQ_CST) < roots.njobs ||
				    __atomic_load_n(&roots.gnext, __ATOMIC_SEQ_CST) != NULL);
}

bool gcmark_root_step(struct gcwork *w)
{
	if (!roots.concurrent)
		return false;
	uint32_t job;
	if (claim_job(&job)) {
		markroot(w, job);
		return true;
	}
	struct rt_g *g = claim_g();
	if (g == NULL)
		return false;
	(void)scan_stack_once(w, g, false);
	return true;
}

void gcmark_roots_done(void)
{
	RT_ASSERT_MSG(!roots.concurrent || (roots.next >= roots.njobs && roots.gnext == NULL &&
					    __atomic_load_n(&stacks_left, __ATOMIC_ACQUIRE) == 0),
		      "mark termination: roots left unscanned (jobs %u of %u claimed, %ld stacks left)",
		      roots.next, roots.njobs, (long)stacks_left);
	roots.concurrent = false;
}

bool gcmark_drain_some(struct gcwork *w, unsigned max)
{
	unsigned k = 0;
	for (; k < max; k++) {
		uintptr_t b = gcw_tryget(w);
		if (b == 0)
			break;
		scanobject(w, b);
	}
	return k != 0;
}

int rt_gc_mark_state(const void *p)
{
	struct mspan *s;
	uintptr_t idx, base;
	wb_flush_current();   /* this P's buffered shades first: a test asks right after a store */
	if (__atomic_load_n(&gc_phase, __ATOMIC_ACQUIRE) != GC_CONCMARK || !findobject((uintptr_t)p, &s, &idx, &base))
		return -1;
	return (int)((__atomic_load_n(&s->gcmark_bits[idx / 64], __ATOMIC_RELAXED) >> (idx % 64)) & 1);
}

/* As a conservative root word: the slot may be a global, whose old value the
 * roots' scan would have read with the one-past-the-end rule (scanblock). The
 * kernel's checkmark found it so: a global holding the end of a 32-byte slot,
 * which is the next slot's start, kept both at the snapshot; the barrier that
 * overwrote it shaded only the next one. */
void gc_shade(uintptr_t v)
{
	gc_mark_conservative_word(&gcwork_of[rt_port_current_p()], v, 0);
}

/* ---- checkmark bits ---- */

static void for_each_inuse_span(void (*fn)(struct mspan *s))
{
	for (unsigned i = 0; i < RT_NUM_SPAN_CLASSES; i++) {
		struct mcentral *c = &mheap_.central[i];
		for (unsigned k = 0; k < 2; k++) {
			for (struct mspan *s = c->partial[k].first; s != NULL; s = s->next)
				fn(s);
			for (struct mspan *s = c->full[k].first; s != NULL; s = s->next)
				fn(s);
		}
	}
}

static void give_checkmark_bits(struct mspan *s)
{
	/* (The allocation takes a pair of arrays: one is used.) */
	s->checkmark_bits = fixalloc_alloc(&mheap_.bitsalloc[s->nbitwords_log2]);
	rt_memclr(s->checkmark_bits, 16u << s->nbitwords_log2);
	s->mark_start_freeindex = s->freeindex;
}

static void take_checkmark_bits(struct mspan *s)
{
	if (s->checkmark_bits == NULL)
		return;   /* made during a concurrent mark */
	fixalloc_free(&mheap_.bitsalloc[s->nbitwords_log2], s->checkmark_bits);
	s->checkmark_bits = NULL;
}

void gcmark_checkmark_begin(bool snapshot)
{
	rt_lock(&mheap_.lock);
	for_each_inuse_span(give_checkmark_bits);
	rt_unlock(&mheap_.lock);
	gc_checkmark_checks = !snapshot;
	gc_checkmark_active = true;
}

void gcmark_checkmark_end(bool keep_bits)
{
	gc_checkmark_active = false;
	if (keep_bits)
		return;
	rt_lock(&mheap_.lock);
	for_each_inuse_span(take_checkmark_bits);
	rt_unlock(&mheap_.lock);
}

__attribute__((noinline, cold, noreturn))
static void snapshot_missed(struct mspan *s, unsigned idx, bool reachable)
{
	uintptr_t base = s->startaddr + (uintptr_t)idx * s->elemsize;
	const uint64_t *w = (const uint64_t *)base;
	rt_throw("gccheckmark: object %#lx (span class %u, %lu-byte slots, %s; slot %u of %u, freeindex %u "
		 "now, %u when the mark began, alloc bit %u; first words %#lx %#lx) %s, but the "
		 "concurrent mark did not mark it: %s",
		 (unsigned long)base, (unsigned)s->spanclass, (unsigned long)s->elemsize,
		 (s->spanclass & 1) ? "noscan" : "scan", idx, (unsigned)s->nelems, (unsigned)s->freeindex,
		 (unsigned)s->mark_start_freeindex, (unsigned)((s->alloc_bits[idx / 64] >> (idx % 64)) & 1),
		 (unsigned long)w[0], (unsigned long)(s->elemsize >= 16 ? w[1] : 0),
		 reachable ? "was reachable from the roots when the mark began"
			   : "was allocated during the mark",
		 reachable ? "a pointer moved without the write barrier, or a root the start scanned "
			     "but the mark lost"
			   : "allocation is not black (rt/mgc.c gc_black_span_begin, gc_black_large)");
}

static void verify_snapshot_span(struct mspan *s)
{
	for (unsigned w = 0; w < (s->nelems + 63u) / 64u; w++) {
		uint64_t marked = s->gcmark_bits[w];
		uint64_t lost = s->checkmark_bits != NULL ? s->checkmark_bits[w] & ~marked : 0;
		if (lost != 0)
			snapshot_missed(s, w * 64 + (unsigned)__builtin_ctzll(lost), true);
		/* Handed out since the start: past the start's freeindex, below today's, not
		 * allocated as of the last sweep. */
		uint64_t born = ~s->alloc_bits[w] & mspan_slot_mask(w, s->mark_start_freeindex, s->freeindex);
		if ((born & ~marked) != 0)
			snapshot_missed(s, w * 64 + (unsigned)__builtin_ctzll(born & ~marked), false);
	}
}

void gcmark_checkmark_verify(void)
{
	rt_lock(&mheap_.lock);
	for_each_inuse_span(verify_snapshot_span);
	for_each_inuse_span(take_checkmark_bits);
	rt_unlock(&mheap_.lock);
}
