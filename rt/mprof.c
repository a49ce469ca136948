/*
 * mprof.c - the heap profile: sampled allocations with their call stacks,
 * their frees as the sweeper finds them, and a profile.proto writer that
 * `go tool pprof` reads (after Go's mprof.go, malloc.go's nextSample and
 * runtime/pprof's protomem.go; the format is pprof's profile.proto).
 *
 * Sampling (Go's MemProfileRate). Every P's mcache counts down next_sample,
 * the bytes until its next sample; the allocator's paths subtract each
 * object's size (its slot's for small objects, the pages' for large ones,
 * the request's for tiny ones, as Go) and call mprof_malloc when the object
 * is more than what is left (the countdown's borrow). The intervals are exponentially distributed with
 * mean `rate` (a Poisson process over allocated bytes), so a sample falls on
 * an object with probability 1 - e^(-size/rate), which the writer undoes:
 * each sample stands for 1 / (1 - e^(-size/rate)) objects (Go's
 * scaleHeapSample). The kernel has no floating point (-mgeneral-regs-only),
 * so both are fixed point: the interval is -ln(U) * rate with U from 26
 * random bits and log2 by repeated squaring; the scale is a Laurent series
 * (1/x + 1/2 + x/12 - ...) below x = 1 and 1 / (1 - e^-x) from a Taylor
 * series of e^-t above (tests/host compares both with libm).
 *
 * Records. A bucket per (call stack, size), found by a hash of both: the
 * stack is the frame-pointer chain of the allocating thread, at most
 * RT_MPROF_MAX_STACK return addresses, leaving out the allocator's own
 * frames (its entry points are in section rt_alloc_text, so the chain is
 * cut at the first address outside it) and the stack-growth glue's anywhere
 * (rt_morestack_tail: one site, one stack, grown or not). Buckets are never freed (Go's too);
 * they come from persistent_alloc, charged to BuckHashSys. A sampled object
 * gets a special on its span (offset, bucket), so the sweeper, finding the
 * slot unmarked, counts the free in the bucket (mprof_sweep_span).
 *
 * Cycles (Go's three future slots, so the profile is a consistent snapshot
 * "as of the last collection", not a mix of allocations the sweeper has not
 * looked at yet): with C = mprof.cycle, the mark terminations so far,
 *   1. an allocation counts in future[(C + 2) % 3], a free in
 *      future[(C + 1) % 3];
 *   2. mark termination (world stopped): C += 1, nothing more (no walk over
 *      the buckets in the pause: Go's mProf_NextCycle);
 *   3. the sweep's end (mprof_post_sweep, once per cycle: by the background
 *      sweeper when no span is left or in a taker's hands, else by the
 *      collector after the next cycle's sweep_finish, once the world runs
 *      again, or in that pause if the whole cycle runs stopped): one walk
 *      adds future[C % 3], which no one writes during cycle C (the frees the
 *      sweep before found, the allocations before the mark before last),
 *      and future[(C + 1) % 3] (the allocations before the last mark, the
 *      frees its sweep found) to the published `active` and clears them.
 *      Nothing is ever dropped: every cycle starts with a sweep_finish and
 *      the next mark termination asserts its publication, so each slot is
 *      published before it is written again.
 * Samples are scaled by the rate at the time of writing, as Go does: a
 * profile of samples taken at another rate overstates or understates them.
 *
 * The writer streams the message: the top-level Profile needs no length, so
 * each Sample, Location, Function and string is encoded into a small buffer
 * and handed to the sink with its key and length; strings are numbered in
 * the order they are written (index 0 is ""). Locations are deduplicated by
 * address and functions by start through fixed tables; past their capacity
 * the remaining frames share one location named "(location table full)".
 *
 * Locking: mprof.lock (LOCKRANK_MPROF, above the heap's and below the stack
 * pool's) guards the buckets, their counts, every span's specials and the
 * writer's tables. Recording runs on the system stack (a bucket may need
 * persistent_alloc, ranked above the stack pool). A span's specials change
 * only under the lock, and only while one party owns the span: the
 * allocating P (a small span in its mcache; a large span is already listed
 * as swept when it is recorded, but only a mark termination makes it
 * sweepable again, and none can come between the allocation and the record:
 * the allocating thread reaches no stop point in between), or the sweeper,
 * which owns the span it sweeps. So the sweeper may look at s->specials
 * without the lock first: it is NULL for almost every span. mheap_free
 * checks that a span it frees has none left. The mcache's next_sample,
 * sample_rand and sample_gen belong to its P (a rate change reaches the
 * others at their next slow path or collection).
 * The writer holds its own lock (LOCKRANK_MPROF_WRITER, below mprof's) for
 * its tables and takes mprof.lock only to copy each bucket's counts, so no
 * sampler, sweeper or mark termination waits for the sink, the caller's
 * code; it pins its M meanwhile (m->locks), so that code is not switched
 * out with the writer lock held. The sink must not allocate, block, yield
 * or take runtime locks.
 */
#include "rt/fixalloc.h"
#include "rt/mcache.h"
#include "rt/mheap.h"
#include "rt/mprof.h"
#include "rt/mstats.h"
#include "rt/rt.h"
#include "rt/runtime2.h"
#include "rt/sched.h"
#include "rt/sys.h"

#define MPROF_HASH 1024          /* bucket hash chains */
#define MPROF_LOCS 8192          /* distinct addresses one profile can name */
#define MPROF_FUNCS 4096         /* distinct functions one profile can name */
#define MPROF_RATE_MAX (1ull << 30)   /* as Go's nextSample; keeps rate / size < 2^32 in the scale */

struct mprof_counts {
	uint64_t allocs, frees, alloc_bytes, free_bytes;
};

struct mprof_bucket {
	struct mprof_bucket *next;      /* hash chain */
	struct mprof_bucket *allnext;   /* every bucket */
	uint64_t hash;
	uintptr_t size;
	unsigned nstk;
	uintptr_t stk[RT_MPROF_MAX_STACK];
	struct mprof_counts active;     /* published */
	struct mprof_counts future[3];  /* see "Cycles" */
};

struct mprof_special {
	struct mprof_special *next;     /* the span's, by no order */
	uintptr_t offset;               /* of the object in its span */
	struct mprof_bucket *b;
};

static struct {
	struct rt_lock lock;
	bool inited;
	uint32_t cycle;                 /* mark terminations seen (C); atomic: read without the lock */
	uint32_t published;             /* the C whose sweep's slots are published; atomic, as cycle */
	uint32_t nbuckets;
	uint64_t samples;
	uint64_t specials_inuse;        /* bytes of live specials */
	struct mprof_bucket *hash[MPROF_HASH];
	struct mprof_bucket *all;
	struct fixalloc specials;
} mprof RT_NOSCAN;   /* off-heap addresses only */

static uint64_t mprof_rate = RT_MEMPROFILE_RATE;
uint32_t mprof_rate_gen = 1;   /* raised by every rate change; an mcache's sample_gen trails it */

static void mprof_init_locked(void)
{
	if (mprof.inited)
		return;
	fixalloc_init(&mprof.specials, sizeof(struct mprof_special), &rt_mstats.buckhash_sys,
		      &mprof.specials_inuse, "mprof special");
	mprof.inited = true;
}

static struct rt_lock writer_lock;

void mprof_init(void)
{
	rt_lock_init(&mprof.lock, LOCKRANK_MPROF, "mprof");
	rt_lock_init(&writer_lock, LOCKRANK_MPROF_WRITER, "mprof writer");
}

/* ---- fixed-point arithmetic (Q32: 32 integer and 32 fraction bits) ---- */

#define Q32_ONE (1ull << 32)
#define LN2_Q32 2977044472ull      /* ln 2 * 2^32 */
#define LOG2E_Q32 6196328019ull    /* log2 e * 2^32 */

static inline uint64_t mul_q32(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 32);
}

/* a * 2^32 / b, a / b < 2^32 (long division: the kernel has no 128-bit divide). */
static uint64_t div_q32(uint64_t a, uint64_t b)
{
	uint64_t q = a / b, r = a % b;
	for (int i = 0; i < 32; i++) {
		q <<= 1;
		if (r >= b - r) {   /* 2r >= b, without overflowing 2r */
			r = r - (b - r);
			q |= 1;
		} else {
			r <<= 1;
		}
	}
	return q;
}

/* log2(q) in Q32, q >= 1: the integer part from the top bit, each fraction
 * bit from squaring the mantissa (it doubles the logarithm). */
static uint64_t log2_q32(uint64_t q)
{
	int n = 63 - __builtin_clzll(q);
	uint64_t y = n >= 32 ? q >> (n - 32) : q << (32 - n);   /* [1, 2) */
	uint64_t r = (uint64_t)n << 32;
	for (int bit = 31; bit >= 0; bit--) {
		y = mul_q32(y, y);
		if (y >= 2 * Q32_ONE) {
			y >>= 1;
			r |= 1ull << bit;
		}
	}
	return r;
}

/* e^-x in Q32, x in Q32 >= 0: 2^-(x log2 e), the integer part a shift and
 * the fraction f as e^-(f ln 2) by its Taylor series (f ln 2 < 0.7: 14 terms
 * leave less than 2^-40). */
static uint64_t exp_neg_q32(uint64_t x)
{
	uint64_t y = mul_q32(x, LOG2E_Q32);
	uint64_t n = y >> 32;
	if (n >= 33)
		return 0;
	uint64_t t = mul_q32(y & (Q32_ONE - 1), LN2_Q32);
	uint64_t term = Q32_ONE, sum = Q32_ONE;
	for (unsigned k = 1; k <= 14; k++) {
		term = mul_q32(term, t) / k;
		sum = (k & 1) ? sum - term : sum + term;
	}
	return sum >> n;
}

void rt_mprof_scale(uint64_t count, uint64_t bytes, uint64_t rate, uint64_t *scount, uint64_t *sbytes)
{
	*scount = count;
	*sbytes = bytes;
	if (count == 0 || bytes == 0) {
		*scount = *sbytes = 0;
		return;
	}
	if (rate <= 1)
		return;
	uint64_t avg = bytes / count;
	if (avg == 0 || avg / 40 >= rate)
		return;   /* e^-40: the scale is 1 within 2^-57 */
	uint64_t f;   /* 1 / (1 - e^-x), Q32, x = avg / rate */
	if (avg < rate) {
		/* Laurent series: 1/x + 1/2 + x/12 - x^3/720 + x^5/30240 - x^7/1209600 */
		uint64_t x = div_q32(avg, rate), x2 = mul_q32(x, x);
		uint64_t x3 = mul_q32(x2, x), x5 = mul_q32(x3, x2), x7 = mul_q32(x5, x2);
		f = div_q32(rate, avg) + Q32_ONE / 2 + x / 12 - x3 / 720 + x5 / 30240 - x7 / 1209600;
	} else {
		uint64_t x = div_q32(avg % rate, rate) + ((avg / rate) << 32);
		f = div_q32(Q32_ONE, Q32_ONE - exp_neg_q32(x));
	}
	*scount = (uint64_t)(((unsigned __int128)count * f) >> 32);
	*sbytes = (uint64_t)(((unsigned __int128)bytes * f) >> 32);
}

static uint64_t xorshift(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t rt_mprof_interval(uint64_t *state, uint64_t rate)
{
	/* U = q / 2^26, q in 1..2^26; -ln U = ln 2 * (26 - log2 q). */
	uint64_t q = (xorshift(state) >> 38) + 1;
	uint64_t minus_log2 = (26ull << 32) - log2_q32(q);
	return mul_q32(mul_q32(minus_log2, LN2_Q32), rate) + 1;
}

/* ---- sampling ---- */

uint64_t rt_set_mem_profile_rate(uint64_t rate)
{
	if (rate > MPROF_RATE_MAX)
		rate = MPROF_RATE_MAX;
	uint64_t old = __atomic_exchange_n(&mprof_rate, rate, __ATOMIC_RELAXED);
	__atomic_add_fetch(&mprof_rate_gen, 1, __ATOMIC_RELEASE);
	struct mcache *c = mcache_current();
	if (c != NULL && (rt_getm() != NULL || rt_sched.main_g == NULL))
		mprof_reset_sample(c);   /* this P at once, if it is this thread's; the others at their next slow path */
	return old;
}

uint64_t rt_mem_profile_rate(void)
{
	return __atomic_load_n(&mprof_rate, __ATOMIC_RELAXED);
}

void mprof_reset_sample(struct mcache *c)
{
	c->sample_gen = __atomic_load_n(&mprof_rate_gen, __ATOMIC_ACQUIRE);
	uint64_t rate = __atomic_load_n(&mprof_rate, __ATOMIC_RELAXED);
	if (c->sample_rand == 0)   /* seeded from the clock, as Go's from fastrand: samples differ run to run */
		c->sample_rand = (rt_port_nanotime() ^ 0x9e3779b97f4a7c15ull * (uint64_t)(c->p + 1)) | 1;
	if (rate == 0)
		c->next_sample = UINT64_MAX;
	else if (rate == 1)
		c->next_sample = 0;
	else
		c->next_sample = rt_mprof_interval(&c->sample_rand, rate);
}

extern char __start_rt_alloc_text[], __stop_rt_alloc_text[];
extern char rt_asm_text_start[], rt_asm_text_end[];

/* The allocator's own frames: left out at the stack's inner end. */
static inline bool in_alloc_text(uintptr_t pc)
{
	return pc >= (uintptr_t)__start_rt_alloc_text && pc < (uintptr_t)__stop_rt_alloc_text;
}

/* The stack-growth glue: rt_morestack_tail is the return address of every
 * function that grew its stack, wherever it is in the chain; left out
 * everywhere, so a site's stack is the same whether its frames grew or not. */
static inline bool in_asm_text(uintptr_t pc)
{
	return pc >= (uintptr_t)rt_asm_text_start && pc < (uintptr_t)rt_asm_text_end;
}

/* The allocating thread's return addresses, outside the allocator. */
RT_ALLOC_TEXT __attribute__((noinline))
static unsigned caller_stack(uintptr_t *pcs)
{
	uintptr_t lo, hi, fp = (uintptr_t)__builtin_frame_address(0);
	struct rt_m *m = rt_getm();
	if (m != NULL && m->curg != NULL && fp >= m->curg->stack_lo && fp < m->curg->stack_hi) {
		lo = m->curg->stack_lo;   /* a coroutine's stack */
		hi = m->curg->stack_hi;
	} else {
		rt_port_stack_bounds(&lo, &hi);   /* a thread's or CPU's own */
	}
	unsigned n = 0;
	bool inside = true;
	if (hi <= lo || hi - lo < 16)
		return 0;   /* the stack is not known (kernel: 0, 0): no walk */
	for (unsigned depth = 0; depth < 64 + RT_MPROF_MAX_STACK && n < RT_MPROF_MAX_STACK; depth++) {
		if (fp < lo || fp >= hi || hi - fp < 16 || (fp & 7) != 0)
			break;
		uintptr_t next = ((const uintptr_t *)fp)[0], pc = ((const uintptr_t *)fp)[1];
		if (pc == 0)
			break;
		if (!in_asm_text(pc) && (!inside || !in_alloc_text(pc))) {
			inside = false;
			pcs[n++] = pc;
		}
		if (next <= fp)
			break;
		fp = next;
	}
	return n;
}

static uint64_t stack_hash(const uintptr_t *pcs, unsigned n, uintptr_t size)
{
	uint64_t h = 0xcbf29ce484222325ull ^ size;
	for (unsigned i = 0; i < n; i++) {
		h ^= pcs[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

struct record_call {
	uintptr_t v, size;
	struct mspan *s;
	unsigned nstk;
	uintptr_t stk[RT_MPROF_MAX_STACK];
};

static struct mprof_bucket *bucket_for(const struct record_call *r)
{
	uint64_t h = stack_hash(r->stk, r->nstk, r->size);
	struct mprof_bucket **chain = &mprof.hash[h % MPROF_HASH];
	for (struct mprof_bucket *b = *chain; b != NULL; b = b->next)
		if (b->hash == h && b->size == r->size && b->nstk == r->nstk &&
		    __builtin_memcmp(b->stk, r->stk, r->nstk * sizeof(uintptr_t)) == 0)
			return b;
	struct mprof_bucket *b = persistent_alloc(sizeof(*b), 8, &rt_mstats.buckhash_sys);
	b->hash = h;
	b->size = r->size;
	b->nstk = r->nstk;
	__builtin_memcpy(b->stk, r->stk, r->nstk * sizeof(uintptr_t));
	b->next = *chain;
	*chain = b;
	b->allnext = mprof.all;
	mprof.all = b;
	mprof.nbuckets++;
	return b;
}

static void record_on_system_stack(void *arg)
{
	struct record_call *r = arg;
	rt_lock(&mprof.lock);
	mprof_init_locked();
	struct mprof_bucket *b = bucket_for(r);
	struct mprof_counts *f = &b->future[(mprof.cycle + 2) % 3];
	f->allocs++;
	f->alloc_bytes += r->size;
	mprof.samples++;
	struct mprof_special *sp = fixalloc_alloc(&mprof.specials);
	sp->offset = r->v - r->s->startaddr;
	sp->b = b;
	sp->next = r->s->specials;
	__atomic_store_n(&r->s->specials, sp, __ATOMIC_RELEASE);
	rt_unlock(&mprof.lock);
}

RT_ALLOC_TEXT __attribute__((noinline))
void mprof_malloc(struct mcache *c, uintptr_t v, uintptr_t size, struct mspan *s)
{
	struct record_call r;
	r.v = v;
	r.size = size;
	r.s = s != NULL ? s : spanof((const void *)v);
	RT_ASSERT_MSG(r.s != NULL, "mprof_malloc: %#lx is not in a heap span", (unsigned long)v);
	r.nstk = caller_stack(r.stk);
	rt_systemstack(record_on_system_stack, &r);
	mprof_reset_sample(c);
}

/* ---- frees: the sweeper ---- */

void mprof_sweep_span(struct mspan *s, const uint64_t *marks)
{
	rt_lock(&mprof.lock);
	struct mprof_special **link = &s->specials;
	uint32_t slot = (mprof.cycle + 1) % 3;
	while (*link != NULL) {
		struct mprof_special *sp = *link;
		uintptr_t idx = spanclass_sizeclass(s->spanclass) == 0 ? 0 : sp->offset / s->elemsize;
		if (marks != NULL && ((marks[idx / 64] >> (idx % 64)) & 1)) {
			link = &sp->next;
			continue;
		}
		sp->b->future[slot].frees++;
		sp->b->future[slot].free_bytes += sp->b->size;
		*link = sp->next;
		fixalloc_free(&mprof.specials, sp);
	}
	rt_unlock(&mprof.lock);
}

/* ---- cycles ---- */

static void add_counts(struct mprof_counts *to, struct mprof_counts *from)
{
	to->allocs += from->allocs;
	to->frees += from->frees;
	to->alloc_bytes += from->alloc_bytes;
	to->free_bytes += from->free_bytes;
	*from = (struct mprof_counts){0};
}

/* World stopped: only the count, no walk over the buckets in the pause (Go's
 * mProf_NextCycle); the slots cycle C's sweep finished are published once
 * that sweep ends, before the next mark termination (asserted here). */
void mprof_mark_terminated(void)
{
	rt_lock(&mprof.lock);
	RT_ASSERT_MSG(mprof.published == mprof.cycle, "heap profile: cycle %u ends with cycle %u's sweep unpublished",
		      mprof.cycle, mprof.published);
	__atomic_store_n(&mprof.cycle, mprof.cycle + 1, __ATOMIC_RELAXED);
	rt_unlock(&mprof.lock);
}

void mprof_post_sweep(void)
{
	/* Once per cycle: the background sweeper usually got here first. */
	if (__atomic_load_n(&mprof.published, __ATOMIC_ACQUIRE) == __atomic_load_n(&mprof.cycle, __ATOMIC_ACQUIRE))
		return;
	rt_lock(&mprof.lock);
	uint32_t c = mprof.cycle;
	if (mprof.published != c) {
		for (struct mprof_bucket *b = mprof.all; b != NULL; b = b->allnext) {
			add_counts(&b->active, &b->future[c % 3]);
			add_counts(&b->active, &b->future[(c + 1) % 3]);
		}
		__atomic_store_n(&mprof.published, c, __ATOMIC_RELEASE);
	}
	rt_unlock(&mprof.lock);
}

int rt_read_mem_profile(struct rt_mprof_record *out, int max)
{
	rt_init();   /* (idempotent: the lock is ready) */
	rt_lock(&mprof.lock);
	int n = 0;
	for (struct mprof_bucket *b = mprof.all; b != NULL; b = b->allnext) {
		if (b->active.allocs == 0)
			continue;
		if (n < max) {
			struct rt_mprof_record *r = &out[n];
			r->allocs = b->active.allocs;
			r->frees = b->active.frees;
			r->alloc_bytes = b->active.alloc_bytes;
			r->free_bytes = b->active.free_bytes;
			r->size = b->size;
			r->nstk = b->nstk;
			__builtin_memcpy(r->stk, b->stk, b->nstk * sizeof(uintptr_t));
		}
		n++;
	}
	rt_unlock(&mprof.lock);
	return n;
}

/* ---- the writer: profile.proto ---- */

enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };

/* A submessage being encoded (Sample, Location, Function, ValueType, ...). */
struct pbuf {
	size_t n;
	uint8_t b[768];
};

struct writer {
	rt_profile_sink sink;
	void *ctx;
	uint64_t bytes;
	int64_t nstrings;
};

static void pb_varint(struct pbuf *p, uint64_t v)
{
	RT_ASSERT(p->n + 10 <= sizeof(p->b));
	do {
		uint8_t byte = v & 0x7f;
		v >>= 7;
		p->b[p->n++] = byte | (v ? 0x80 : 0);
	} while (v);
}

static void pb_uint(struct pbuf *p, unsigned field, uint64_t v)
{
	pb_varint(p, (uint64_t)field << 3 | WIRE_VARINT);
	pb_varint(p, v);
}

static void pb_bytes(struct pbuf *p, unsigned field, const void *data, size_t n)
{
	pb_varint(p, (uint64_t)field << 3 | WIRE_BYTES);
	pb_varint(p, n);
	RT_ASSERT(p->n + n <= sizeof(p->b));
	__builtin_memcpy(p->b + p->n, data, n);
	p->n += n;
}

static void emit_raw(struct writer *w, const void *data, size_t n)
{
	w->sink(w->ctx, data, n);
	w->bytes += n;
}

/* A top-level field holding the bytes of sub (or a string). */
static void emit(struct writer *w, unsigned field, const void *data, size_t n)
{
	struct pbuf head = {0};
	pb_varint(&head, (uint64_t)field << 3 | WIRE_BYTES);
	pb_varint(&head, n);
	emit_raw(w, head.b, head.n);
	emit_raw(w, data, n);
}

static void emit_uint(struct writer *w, unsigned field, uint64_t v)
{
	struct pbuf p = {0};
	pb_uint(&p, field, v);
	emit_raw(w, p.b, p.n);
}

/* Writes s into the string table; returns its index. */
static int64_t emit_string(struct writer *w, const char *s)
{
	size_t n = 0;
	while (s[n] != '\0' && n < 512)
		n++;
	emit(w, 6, s, n);
	return w->nstrings++;
}

static void emit_value_type(struct writer *w, unsigned field, const char *type, const char *unit)
{
	struct pbuf p = {0};
	pb_uint(&p, 1, (uint64_t)emit_string(w, type));
	pb_uint(&p, 2, (uint64_t)emit_string(w, unit));
	emit(w, field, p.b, p.n);
}

/* The writer's tables (under mprof.lock): address -> location id, function
 * start -> id. 192 KiB: from persistent_alloc at the first write (BuckHashSys),
 * not in the image. */
struct writer_tables {
	uintptr_t pc[MPROF_LOCS];        /* [id - 1] */
	uint32_t slot[2 * MPROF_LOCS];   /* open addressing: id, 0 = empty */
	uint32_t nlocs;
	uintptr_t fstart[MPROF_FUNCS];   /* [id - 1] */
	uint32_t fslot[2 * MPROF_FUNCS];
	uint32_t nfuncs;
	bool overflow;                   /* an address got MPROF_LOCS */
};
static struct writer_tables *wtp RT_NOSCAN;
#define wt (*wtp)

/* writer_lock (LOCKRANK_MPROF_WRITER) guards the tables and the port's mapping. */

struct writer_setup {
	uintptr_t text_lo, text_hi;
	uint64_t file_offset;
	const char *file;
};

/* On the system stack: the tables' memory (persistent_alloc), and the port's
 * mapping (hosted: stdio, which has no split-stack checks). Writer lock held. */
static void writer_setup_on_system_stack(void *arg)
{
	struct writer_setup *ws = arg;
	if (wtp == NULL)
		wtp = persistent_alloc(sizeof(struct writer_tables), 64, &rt_mstats.buckhash_sys);
	rt_port_image_text(&ws->text_lo, &ws->text_hi, &ws->file_offset, &ws->file);
}

/* Address -> location id; past the table's capacity every new address
 * gets the id MPROF_LOCS, one location named "(location table full)". */
/* An address -> id table: open addressing over slots (2x the ids, so a probe
 * ends at an empty slot), ids 1..n index keys[]. The slot where key is, or
 * the empty slot where it would go; *id is its id, or 0 if it is absent. */
static uint32_t id_probe(const uint32_t *slots, const uintptr_t *keys, uint32_t nslots, uintptr_t key,
			 uint32_t *id)
{
	uint32_t i = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 40) % nslots;
	for (;; i = (i + 1) % nslots) {
		*id = slots[i];
		if (*id == 0 || keys[*id - 1] == key)
			return i;
	}
}

static uint32_t location_id(uintptr_t pc)
{
	uint32_t id;
	uint32_t i = id_probe(wt.slot, wt.pc, 2 * MPROF_LOCS, pc, &id);
	if (id != 0)
		return id;
	if (wt.nlocs == MPROF_LOCS - 1) {
		wt.overflow = true;
		return MPROF_LOCS;
	}
	wt.pc[wt.nlocs] = pc;
	wt.slot[i] = ++wt.nlocs;
	return wt.nlocs;
}

/* Function start -> id; *fresh if it is new. 0: the table is full. */
static uint32_t function_id(uintptr_t start, bool *fresh)
{
	uint32_t id;
	uint32_t i = id_probe(wt.fslot, wt.fstart, 2 * MPROF_FUNCS, start, &id);
	*fresh = false;
	if (id != 0)
		return id;
	if (wt.nfuncs == MPROF_FUNCS)
		return 0;
	wt.fstart[wt.nfuncs] = start;
	wt.fslot[i] = ++wt.nfuncs;
	*fresh = true;
	return wt.nfuncs;
}

static void emit_sample(struct writer *w, const struct mprof_bucket *b, const struct mprof_counts *a,
			uint64_t rate)
{
	struct pbuf p = {0};
	/* location_id, packed */
	struct pbuf ids = {0};
	for (unsigned i = 0; i < b->nstk; i++)
		pb_varint(&ids, location_id(b->stk[i]));
	pb_bytes(&p, 1, ids.b, ids.n);
	/* value, packed: alloc_objects, alloc_space, inuse_objects, inuse_space */
	uint64_t ac, ab, ic, ib;
	rt_mprof_scale(a->allocs, a->alloc_bytes, rate, &ac, &ab);
	rt_mprof_scale(a->allocs - a->frees, a->alloc_bytes - a->free_bytes, rate, &ic, &ib);
	struct pbuf vals = {0};
	pb_varint(&vals, ac);
	pb_varint(&vals, ab);
	pb_varint(&vals, ic);
	pb_varint(&vals, ib);
	pb_bytes(&p, 2, vals.b, vals.n);
	emit(w, 2, p.b, p.n);
}

/* A Location (and its Function, the first time one is named). */
static void emit_location(struct writer *w, uint32_t id, uintptr_t pc, bool mapped, const char *name,
			  uintptr_t start)
{
	struct pbuf p = {0};
	pb_uint(&p, 1, id);
	if (mapped)
		pb_uint(&p, 2, 1);   /* mapping 1 */
	pb_uint(&p, 3, pc == 0 ? 0 : pc - 1);   /* inside the call, as Go writes it: pprof's line is the call's */
	bool fresh;
	uint32_t fid = name != NULL ? function_id(start, &fresh) : 0;
	if (fid != 0) {
		if (fresh) {
			int64_t str = emit_string(w, name);
			struct pbuf f = {0};
			pb_uint(&f, 1, fid);
			pb_uint(&f, 2, (uint64_t)str);   /* name */
			pb_uint(&f, 3, (uint64_t)str);   /* system_name */
			emit(w, 5, f.b, f.n);
		}
		struct pbuf line = {0};
		pb_uint(&line, 1, fid);
		pb_bytes(&p, 4, line.b, line.n);
	}
	emit(w, 4, p.b, p.n);
}

static void emit_locations(struct writer *w, uintptr_t text_lo, uintptr_t text_hi, bool symbols)
{
	for (uint32_t id = 1; id <= wt.nlocs; id++) {
		uintptr_t pc = wt.pc[id - 1], start = 0;
		const char *name = NULL;
		/* pc - 1: the call instruction, not what follows it (a noreturn call may end a function) */
		if (!symbols || !rt_port_symbolize(pc - 1, &name, &start))
			name = NULL;
		emit_location(w, id, pc, pc >= text_lo && pc < text_hi, name, start);
	}
	if (wt.overflow)
		emit_location(w, MPROF_LOCS, 0, false, "(location table full)", 0);
}

uint64_t rt_write_heap_profile(rt_profile_sink sink, void *ctx)
{
	rt_init();   /* (idempotent: the locks are ready, even at a hosted exit with no heap) */
	struct writer w = {sink, ctx, 0, 0};
	uint64_t rate = rt_mem_profile_rate();
	const char *probe_name;
	uintptr_t probe_start;
	bool symbols = rt_port_symbolize((uintptr_t)rt_write_heap_profile, &probe_name, &probe_start);

	/* The sink is the caller's code, which may be preemptible: pin the M so
	 * that its G is not switched out while it holds the writer lock (another
	 * writer's M would spin for it). The heap profile's own lock is taken
	 * only to copy each bucket's counts: samplers and sweepers never wait for
	 * the sink. */
	struct rt_m *m = rt_getm();
	if (m != NULL)
		m->locks++;
	rt_lock(&writer_lock);
	struct writer_setup ws;
	rt_systemstack(writer_setup_on_system_stack, &ws);
	uintptr_t text_lo = ws.text_lo, text_hi = ws.text_hi;
	wt.nlocs = wt.nfuncs = 0;
	wt.overflow = false;
	__builtin_memset(wt.slot, 0, sizeof(wt.slot));
	__builtin_memset(wt.fslot, 0, sizeof(wt.fslot));

	emit_string(&w, "");
	emit_value_type(&w, 1, "alloc_objects", "count");
	emit_value_type(&w, 1, "alloc_space", "bytes");
	emit_value_type(&w, 1, "inuse_objects", "count");
	emit_value_type(&w, 1, "inuse_space", "bytes");
	/* Buckets are only ever pushed on the head, and all but their counts is
	 * fixed once linked: walk from the head as it is now, copying each
	 * bucket's published counts under the lock. */
	rt_lock(&mprof.lock);
	const struct mprof_bucket *head = mprof.all;
	uint64_t samples = mprof.samples;
	uint32_t nbuckets = mprof.nbuckets, cycles = mprof.cycle;
	rt_unlock(&mprof.lock);
	for (const struct mprof_bucket *b = head; b != NULL; b = b->allnext) {
		rt_lock(&mprof.lock);
		struct mprof_counts a = b->active;
		rt_unlock(&mprof.lock);
		if (a.allocs != 0)
			emit_sample(&w, b, &a, rate);
	}

	struct pbuf mapping = {0};
	pb_uint(&mapping, 1, 1);
	pb_uint(&mapping, 2, text_lo);
	pb_uint(&mapping, 3, text_hi);
	pb_uint(&mapping, 4, ws.file_offset);
	pb_uint(&mapping, 5, (uint64_t)emit_string(&w, ws.file));
	pb_uint(&mapping, 7, symbols);   /* has_functions */
	emit(&w, 3, mapping.b, mapping.n);
	emit_locations(&w, text_lo, text_hi, symbols);

	emit_value_type(&w, 11, "space", "bytes");
	emit_uint(&w, 12, rate);
	char comment[96];
	rt_snprintf(comment, sizeof(comment), "%lu samples in %u buckets; %u collections",
		    (unsigned long)samples, nbuckets, cycles);
	emit_uint(&w, 13, (uint64_t)emit_string(&w, comment));
	rt_unlock(&writer_lock);
	if (m != NULL)
		rt_releasem();
	return w.bytes;
}
