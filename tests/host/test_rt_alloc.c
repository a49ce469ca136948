/*
 * test_rt_alloc.c - the allocator through its public API (rt/rt.h): every size
 * class to exhaustion of several spans, alignment, zeroing, tiny objects,
 * typed objects and the heap bitmap (every writer's layouts against a
 * model), large and huge objects, interior-pointer lookup, random sequences
 * against a model, memstats, threads, and the failure paths (out of memory,
 * overflow, the barrier's stack check).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/mbarrier.h"
#include "rt/mbitmap.h"
#include "rt/mcache.h"
#include "rt/mheap.h"
#include "rt/port/hosted.h"
#include "rt/rt.h"
#include "rt/sched.h"
#include "rt/sys.h"
#include "tests/host/tap.h"
#include "tests/xorshift.h"

/* TEST_RT_COMMON (tests/host/test_rt_common.c) */
bool rt_identities_ok(const char *phase);
int run_child(void (*fn)(void), char *out, size_t outsize);
bool died_with(int status, const char *out, const char *needle);
size_t resident_pages(const void *p, size_t n);
long rss_kib(void);

/* xorshift64*, seeded from TEST_SEED (or a fresh seed) in main; printed. */
static uint64_t rng;
static uint64_t next_rand(void) { return xorshift64star(&rng); }

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)((seed * 0x9e3779b97f4a7c15ull + i * 131) >> 29);
}

static bool check_fill(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)((seed * 0x9e3779b97f4a7c15ull + i * 131) >> 29))
			return false;
	return true;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* A struct with two pointers among four words, and its descriptor. */
struct node {
	int64_t key;
	struct node *next;
	int64_t val;
	struct node *prev;
};
static const uint8_t node_mask[] = { (1u << RT_PTRWORD(struct node, next)) |
				     (1u << RT_PTRWORD(struct node, prev)) };
static const struct rt_type node_type = { sizeof(struct node), _Alignof(struct node),
					  sizeof(struct node), node_mask, "struct node" };
/* A one-word pointer type, for arrays of any length. */
static const uint8_t ptr_mask[] = { 1 };
static const struct rt_type ptr_type = { 8, 8, 8, ptr_mask, "void *" };
/* A 64-byte-aligned type without pointers. */
struct line { char b[64]; } __attribute__((aligned(64)));
static const struct rt_type line_type = RT_TYPE_NOPTRS(struct line);

/* Every class, noscan and scan, to exhaustion of several spans. */
static void test_classes(void)
{
	bool ok_zero = true, ok_distinct = true, ok_fill = true, ok_align = true, ok_span = true;
	bool ok_interior = true, ok_bits = true;
	for (unsigned sc = 1; sc < RT_NUM_SIZE_CLASSES; sc++) {
		for (int scan = 0; scan <= 1; scan++) {
			size_t size = rt_class[sc].size;
			if (sc == 1 && !scan)
				continue;   /* 8-byte pointer-free requests go to the tiny allocator */
			size_t req = scan ? size : (size_t)rt_class[sc - 1].size + 1;   /* smallest request of the class */
			if (!scan && req < RT_TINY_SIZE)
				req = RT_TINY_SIZE;   /* smaller ones go to the tiny allocator */
			const struct rt_type *t = scan ? &ptr_type : NULL;
			size_t n = (size_t)rt_class[sc].nelems * 3 + 1;   /* exhaust 3 spans, start a 4th */
			uintptr_t *objs = malloc(n * sizeof(*objs));
			for (size_t i = 0; i < n; i++) {
				void *p = rt_alloc(req, t);
				objs[i] = (uintptr_t)p;
				if (!all_zero(p, req))
					ok_zero = false;
				unsigned lowbit = (unsigned)(size & -size);
				if ((uintptr_t)p % (lowbit < 4096 ? lowbit : 4096) != 0 || (uintptr_t)p % 8 != 0)
					ok_align = false;
				struct mspan *s = spanof(p);
				if (s == NULL || spanclass_sizeclass(s->spanclass) != sc ||
				    spanclass_noscan(s->spanclass) != !scan || s->elemsize != size)
					ok_span = false;
				if (scan && (!heapbits_is_pointer((uintptr_t)p) ||
					     (size > 8 && !heapbits_is_pointer((uintptr_t)p + size - 8))))
					ok_bits = false;
				fill(p, req, i + sc * 7919);
			}
			for (size_t i = 0; i < n; i++)
				if (!check_fill((void *)objs[i], req, i + sc * 7919))
					ok_fill = false;
			/* interior pointers: every byte offset of one object per span */
			for (size_t i = 0; i < n; i += rt_class[sc].nelems)
				for (size_t off = 0; off < size; off++)
					if (rt_object_base((char *)objs[i] + off) != (void *)objs[i]) {
						if (ok_interior)
							tap_diag("class %u: base of %#lx + %zu is %p", sc,
								 (unsigned long)objs[i], off,
								 rt_object_base((char *)objs[i] + off));
						ok_interior = false;
						break;
					}
			qsort(objs, n, sizeof(*objs), cmp_ptr);
			for (size_t i = 1; i < n; i++)
				if (objs[i] - objs[i - 1] < size)
					ok_distinct = false;
			free(objs);
		}
	}
	tap_check(ok_zero, "classes: every object is zero when returned");
	tap_check(ok_align, "classes: objects aligned to the class size's low bit (>= 8)");
	tap_check(ok_distinct, "classes: 3+ spans per class, no two objects closer than the class size");
	tap_check(ok_fill, "classes: pattern in every object intact after all were filled (no overlap)");
	tap_check(ok_span, "classes: spanof finds a span of the right class and noscan bit");
	tap_check(ok_interior, "classes: every byte offset of an object leads back to its base");
	tap_check(ok_bits, "classes: scan objects have their pointer words in the heap bitmap");
	tap_check(rt_identities_ok("after the class sweep"), "identities after the class sweep");
}

static void test_tiny(void)
{
	struct rt_memstats m0, m1;
	rt_read_memstats(&m0);
	enum { N = 4000 };
	static uintptr_t p[N];
	static size_t sz[N];
	bool ok_align = true, ok_zero = true;
	for (int i = 0; i < N; i++) {
		sz[i] = 1 + next_rand() % 15;
		p[i] = (uintptr_t)rt_alloc(sz[i], NULL);
		size_t a = sz[i] % 8 == 0 ? 8 : sz[i] % 4 == 0 ? 4 : sz[i] % 2 == 0 ? 2 : 1;
		if (p[i] % a != 0)
			ok_align = false;
		if (!all_zero((void *)p[i], sz[i]))
			ok_zero = false;
		fill((void *)p[i], sz[i], (uint64_t)i);
	}
	bool ok_fill = true;
	for (int i = 0; i < N; i++)
		if (!check_fill((void *)p[i], sz[i], (uint64_t)i))
			ok_fill = false;
	rt_read_memstats(&m1);
	uint64_t blocks = m1.by_size[rt_size_to_class(16)].mallocs - m0.by_size[rt_size_to_class(16)].mallocs;
	uint64_t packed = m1.frees - m0.frees;   /* tiny allocations are counted as frees too */
	tap_check(ok_align && ok_zero, "tiny: objects < 16 B aligned to their size's alignment, zeroed");
	tap_check(ok_fill, "tiny: no two tiny objects overlap (patterns intact)");
	tap_check(blocks + packed == N && blocks < N * 3 / 4 && m1.mallocs - m0.mallocs == N,
		  "tiny: %d objects in %llu 16-byte blocks (%llu packed)", N,
		  (unsigned long long)blocks, (unsigned long long)packed);
}

static void test_typed(void)
{
	struct node *n = rt_new(&node_type);
	bool ok = n != NULL && all_zero(n, sizeof(*n));
	for (unsigned w = 0; w < 4; w++)
		if (heapbits_is_pointer((uintptr_t)n + 8 * w) != (w == 1 || w == 3))
			ok = false;
	tap_check(ok, "rt_new(struct node): zeroed; heap bitmap marks words 1 and 3 only");

	struct node *arr = rt_alloc_array(&node_type, 5);   /* 160 B: class 160 */
	ok = spanof(arr)->elemsize == 160;
	for (unsigned w = 0; w < 20; w++)
		if (heapbits_is_pointer((uintptr_t)arr + 8 * w) != (w % 4 == 1 || w % 4 == 3))
			ok = false;
	tap_check(ok, "rt_alloc_array(node, 5): the mask repeats for every element");

	struct node *arr7 = rt_alloc_array(&node_type, 7);  /* 224 B */
	ok = true;
	for (unsigned w = 0; w < 28; w++)
		if (heapbits_is_pointer((uintptr_t)arr7 + 8 * w) != (w % 4 == 1 || w % 4 == 3))
			ok = false;
	tap_check(ok, "rt_alloc_array(node, 7): bits exact, stale bits of earlier objects overwritten");

	ok = true;
	for (int i = 0; i < 50; i++) {
		struct line *l = rt_new(&line_type);
		if ((uintptr_t)l % 64 != 0)
			ok = false;
		struct line *ls = rt_alloc_array(&line_type, 1 + (size_t)i);
		if ((uintptr_t)ls % 64 != 0)
			ok = false;
	}
	tap_check(ok, "a 64-byte-aligned type is 64-byte aligned singly and in arrays of 1..50");

	void **big = rt_alloc_array(&ptr_type, 100000);   /* 800 KB of pointers: large */
	struct mspan *s = spanof(big);
	tap_check(s != NULL && spanclass_sizeclass(s->spanclass) == 0 && !spanclass_noscan(s->spanclass) &&
		  s->largetype == &ptr_type && all_zero(big, 800000),
		  "a large pointer array is one scan span that records its element type");

	/* The barrier: heap-to-heap stores pass. */
	RT_STORE_PTR(n->next, arr);
	RT_STORE_PTR(big[99999], n);
	tap_check(n->next == arr && big[99999] == n, "RT_STORE_PTR stores heap pointers");
	tap_check(rt_alloc(0, NULL) == rt_alloc(0, &node_type) && rt_alloc(0, NULL) != NULL,
		  "zero-size allocations share one non-NULL address");
}

/*
 * Heap-bitmap layouts against a model. Types with the shapes the writer
 * handles differently: one-word and short periods (doubled into one word),
 * periods that do not divide 64, pointer-free words after ptrdata, elements
 * over 64 words (pieces from the mask bytes), a stricter alignment that
 * moves a size to another class.
 */
static const uint8_t tri_mask[] = { 0x5 };            /* 3 words: 0 and 2 */
static const struct rt_type tri_type = { 24, 8, 24, tri_mask, "tri" };
static const uint8_t five_mask[] = { 0x2 };           /* 5 words, ptrdata 2: word 1 */
static const struct rt_type five_type = { 40, 8, 16, five_mask, "five" };
static const uint8_t nine_mask[] = { 0x00, 0x01 };    /* 9 words: word 8 */
static const struct rt_type nine_type = { 72, 8, 72, nine_mask, "nine" };
static const uint8_t wide_mask[10] = { [0] = 0x01, [7] = 0x80, [8] = 0x01, [9] = 0x80 };
static const struct rt_type wide_type = { 640, 8, 640, wide_mask, "wide" };   /* 0, 63, 64, 79 */
static const uint8_t huge_mask[17] = { [0] = 0x02, [16] = 0x02 };  /* 130 words: 1, 129 */
static const struct rt_type huge_type = { 1040, 8, 1040, huge_mask, "huge" };
static const uint8_t al64_mask[] = { 0x09 };          /* 12 words, align 64: words 0 and 3 */
static const struct rt_type al64_type = { 96, 64, 32, al64_mask, "al64" };

static const struct rt_type *const layout_types[] = {
	&ptr_type, &node_type, &tri_type, &five_type, &nine_type, &wide_type, &huge_type, &al64_type,
};
enum { NLAYOUT_TYPES = sizeof(layout_types) / sizeof(layout_types[0]) };

/* The model: word i of an object of `size` bytes of t holds a pointer. */
static bool model_is_pointer(const struct rt_type *t, size_t size, size_t i)
{
	if (i >= size / 8)
		return false;
	size_t e = i % (t->size / 8);
	return e < t->ptrdata / 8 && ((t->ptrmask[e / 8] >> (e % 8)) & 1);
}

struct layout_obj {
	uintptr_t p;
	size_t size;
	const struct rt_type *t;
};

/*
 * The object's whole slot reads as the model says, through all three
 * readers: heapbits_is_pointer word by word, heapbits_read and
 * heapbits_read_span over windows of every length at a few offsets.
 */
static bool layout_exact(const struct layout_obj *o, bool *reads_ok)
{
	struct mspan *s = spanof((void *)o->p);
	size_t slotwords = s->elemsize / 8;
	for (size_t i = 0; i < slotwords; i++)
		if (heapbits_is_pointer(o->p + 8 * i) != model_is_pointer(o->t, o->size, i))
			return false;
	size_t offs[] = { 0, 1, slotwords / 2, slotwords - 1, next_rand() % slotwords };
	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		size_t off = offs[k];
		for (unsigned n = 1; n <= 64 && off + n <= slotwords; n++) {
			uint64_t want = 0;
			for (unsigned i = 0; i < n; i++)
				if (model_is_pointer(o->t, o->size, off + i))
					want |= (uint64_t)1 << i;
			if (heapbits_read(o->p + 8 * off, n) != want ||
			    heapbits_read_span(s, o->p + 8 * off, n) != want) {
				*reads_ok = false;
				return false;
			}
		}
	}
	return true;
}

/* Sets (or clears) the bitmap bits of the words [a, a + bytes). */
static void poke_bits(uintptr_t a, size_t bytes, bool set)
{
	for (uintptr_t end = a + bytes; a < end; a += 8) {
		struct heaparena *ar = arena_of(a);
		uintptr_t w = (a - ar->base) / 8;
		if (set)
			ar->heapbits[w / 64] |= (uint64_t)1 << (w % 64);
		else
			ar->heapbits[w / 64] &= ~((uint64_t)1 << (w % 64));
	}
}

/* Sets every bitmap bit of the free slots of each cached scan span: stale bits, as reuse leaves. */
static void poison_free_slot_bits(void)
{
	struct mcache *c = mcache_current();
	for (unsigned spc = 0; spc < RT_NUM_SPAN_CLASSES; spc++) {
		struct mspan *s = c->alloc[spc];
		if (s == &mspan_empty || spanclass_noscan((spanclass_t)spc))
			continue;
		uintptr_t free = s->startaddr + (uintptr_t)s->freeindex * s->elemsize;
		poke_bits(free, mspan_end(s) - free, true);
	}
}

static void test_layouts(void)
{
	enum { N = 6000 };
	struct layout_obj *objs = malloc(N * sizeof(*objs));
	bool ok_align = true, ok_zero = true;
	for (int i = 0; i < N; i++) {
		if (i == N / 3 || i == 2 * N / 3)
			poison_free_slot_bits();
		const struct rt_type *t = layout_types[next_rand() % NLAYOUT_TYPES];
		size_t maxn = RT_MAX_SMALL_SIZE / t->size;
		/* mostly short arrays (slots of at most 512 B), some up to a whole class */
		size_t n = 1 + (next_rand() % 4 == 0 ? next_rand() % maxn : next_rand() % 4);
		void *p = n == 1 ? rt_new(t) : rt_alloc_array(t, n);
		objs[i] = (struct layout_obj){ (uintptr_t)p, n * t->size, t };
		size_t align = t->align ? t->align : 8;
		if ((uintptr_t)p % align != 0)
			ok_align = false;
		if (!all_zero(p, n * t->size))
			ok_zero = false;
		fill(p, n * t->size, (uint64_t)i);   /* writes to objects never touch the bitmap */
	}
	bool ok = true, reads_ok = true;
	int bad = -1;
	for (int i = 0; i < N; i++)
		if (!layout_exact(&objs[i], &reads_ok)) {
			ok = false;
			if (bad < 0)
				bad = i;
		}
	if (bad >= 0)
		tap_diag("object %d: %zu bytes of %s at %#lx (slot %lu B) has wrong bits", bad,
			 objs[bad].size, objs[bad].t->name, (unsigned long)objs[bad].p,
			 (unsigned long)spanof((void *)objs[bad].p)->elemsize);
	tap_check(ok_align && ok_zero, "layouts: %d random typed objects aligned and zeroed", N);
	tap_check(ok, "layouts: %d objects of 8 types, mixed in shared spans, arrays up to 32 KiB, "
		      "stale bits poisoned twice: every slot's bits match the model", N);
	tap_check(reads_ok, "layouts: heapbits_read and heapbits_read_span agree with the model "
			    "on every window length 1..64");
	free(objs);

	/* A span that gets a second type: the cache entry changes, old objects keep their bits. */
	enum { M = 3000 };
	struct layout_obj *pairs = malloc(M * sizeof(*pairs));
	bool switched = true;
	for (int i = 0; i < M; i++) {
		const struct rt_type *t = (i / 7) % 2 ? &node_type : &ptr_type;   /* runs of 7 */
		void *p = rt_alloc(32, t);
		pairs[i] = (struct layout_obj){ (uintptr_t)p, 32, t };
		struct mspan *s = spanof(p);
		if (s->heapbits != NULL && (s->bits_type != t || s->bits_size != 32))
			switched = false;
	}
	ok = true;
	for (int i = 0; i < M; i++)
		if (!layout_exact(&pairs[i], &reads_ok))
			ok = false;
	tap_check(switched, "second type in a span: the span's cached layout follows the last type");
	tap_check(ok && reads_ok, "second type in a span: %d alternating 32-byte objects "
				  "(void *[4], struct node) all read back exactly", M);

	/* One type, two sizes in one class: 13 and 14 pointers both take 112-byte slots. */
	ok = true;
	for (int i = 0; i < 1000; i++) {
		size_t size = i % 3 ? 104 : 112;
		void *p = rt_alloc(size, &ptr_type);
		struct layout_obj o = { (uintptr_t)p, size, &ptr_type };
		if (spanof(p)->elemsize != 112 || !all_zero(p, 112) || !layout_exact(&o, &reads_ok))
			ok = false;
		memset(p, 0x5a, size);
	}
	tap_check(ok, "one type at two sizes of one class (104 and 112 B): each object's bits "
		      "stop at its own end");

	/* A stricter alignment: 96-byte al64 objects live in the 128-byte class. */
	ok = true;
	for (int i = 0; i < 500; i++) {
		void *p = rt_new(&al64_type);
		void *q = rt_alloc(96, &tri_type);   /* the same size, in the 96-byte class */
		struct layout_obj a = { (uintptr_t)p, 96, &al64_type }, b = { (uintptr_t)q, 96, &tri_type };
		if ((uintptr_t)p % 64 != 0 || spanof(p)->elemsize != 128 || spanof(q)->elemsize != 96 ||
		    !layout_exact(&a, &reads_ok) || !layout_exact(&b, &reads_ok))
			ok = false;
	}
	tap_check(ok, "a 64-byte-aligned 96-byte type takes 128-byte slots, beside 96-byte tri arrays");

	/*
	 * The slow writer of a span without heapbits (one straddling two arenas):
	 * a copy of a real span with heapbits NULL writes through the arena
	 * lookup and caches nothing.
	 */
	ok = true;
	for (size_t k = 0; k < NLAYOUT_TYPES; k++) {
		const struct rt_type *t = layout_types[k];
		size_t n = k % 2 ? 3 : 1;
		/* 128 slots in a row (every start bit of the class), over all ones, all zeros */
		for (int j = 0; j < 128; j++) {
			void *p = rt_alloc_array(&ptr_type, n * t->size / 8);
			struct mspan copy = *spanof(p);
			poke_bits((uintptr_t)p, copy.elemsize, j % 2 == 0);
			copy.heapbits = NULL;
			copy.bits_type = NULL;
			heapbits_set_type(&copy, (uintptr_t)p, n * t->size, t);
			struct layout_obj o = { (uintptr_t)p, n * t->size, t };
			if (copy.bits_type != NULL || !layout_exact(&o, &reads_ok))
				ok = false;
		}
	}
	tap_check(ok, "a span without heapbits: the slow writer gets every type's layout right, "
		      "caches none");
	free(pairs);
}

/*
 * Each writer rewrites exactly one slot: the middle of three adjacent
 * objects of a sparse layout gets a dense one, and its neighbours' bits stay
 * (as after a sweep, when a free slot between live objects is reused).
 */
static bool three_adjacent(size_t size, const struct rt_type *t, struct layout_obj o[3])
{
	for (int tries = 0; tries < 1000; tries++) {
		for (int k = 0; k < 3; k++)
			o[k] = (struct layout_obj){ (uintptr_t)rt_alloc(size, t), size, t };
		struct mspan *s = spanof((void *)o[0].p);
		if (spanof((void *)o[2].p) == s && o[1].p == o[0].p + s->elemsize &&
		    o[2].p == o[1].p + s->elemsize)
			return true;
	}
	return false;
}

static void test_layout_neighbours(void)
{
	bool reads_ok = true, ok = true;
	struct layout_obj o[3];
	/* cached writer: 48-byte slots (6 words) straddle bitmap words; tri around void *[6] */
	for (int round = 0; round < 16 && ok; round++) {
		ok = three_adjacent(48, &tri_type, o);
		struct mspan *s = spanof((void *)o[1].p);
		struct heapbits_layout e;
		heapbits_layout_fill(&e, &ptr_type, 48, spanclass_sizeclass(s->spanclass), 48);
		heapbits_cache_slot(s, &ptr_type, 48, e.slotbits);
		heapbits_write_cached(s, o[1].p);
		o[1].t = &ptr_type;
		for (int k = 0; k < 3; k++)
			ok = ok && layout_exact(&o[k], &reads_ok);
	}
	tap_check(ok && reads_ok, "neighbours: the cached writer rewrites one 48-byte slot across "
				  "bitmap words, 16 positions");
	/* pattern writer: 640-byte slots (80 words), five around void *[80] and around void *[75] */
	ok = true;
	for (int round = 0; round < 16 && ok; round++) {
		size_t size = round % 2 ? 600 : 640;
		ok = three_adjacent(640, &five_type, o);
		struct mspan *s = spanof((void *)o[1].p);
		struct heapbits_layout e;
		heapbits_layout_fill(&e, &ptr_type, size, spanclass_sizeclass(s->spanclass), 640);
		heapbits_write_pattern(s, o[1].p, &e);
		o[1] = (struct layout_obj){ o[1].p, size, &ptr_type };
		for (int k = 0; k < 3; k++)
			ok = ok && layout_exact(&o[k], &reads_ok);
	}
	tap_check(ok && reads_ok, "neighbours: the pattern writer rewrites one 640-byte slot, "
				  "16 positions");
	/* the writer from the mask: one wide element (80 words) between five */
	ok = true;
	for (int round = 0; round < 8 && ok; round++) {
		ok = three_adjacent(640, &five_type, o);
		heapbits_set_type(spanof((void *)o[1].p), o[1].p, 640, &wide_type);
		o[1].t = &wide_type;
		for (int k = 0; k < 3; k++)
			ok = ok && layout_exact(&o[k], &reads_ok);
	}
	tap_check(ok && reads_ok, "neighbours: the writer from the mask rewrites one 640-byte slot, "
				  "8 positions");
}

static void test_large(void)
{
	size_t sizes[] = { RT_MAX_SMALL_SIZE + 1, 100000, 1u << 20, 10u << 20, 100u << 20, 200u << 20 };
	bool ok = true;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		char *p = rt_alloc(n, NULL);
		struct mspan *s = spanof(p);
		if (s == NULL || s->startaddr != (uintptr_t)p || s->npages != (n + RT_PAGE_SIZE - 1) / RT_PAGE_SIZE ||
		    (uintptr_t)p % RT_PAGE_SIZE != 0) {
			tap_diag("large %zu: span %p", n, (void *)s);
			ok = false;
			continue;
		}
		for (size_t off = 0; off < n; off += 4096)
			if (p[off] != 0 || rt_object_base(p + off) != p)
				ok = false;
		if (p[n - 1] != 0 || rt_object_base(p + n - 1) != p)
			ok = false;
		p[0] = 1;
		p[n - 1] = 2;
		if (n > RT_ARENA_SIZE)
			tap_diag("huge object of %zu MiB at %p spans arenas %lu..%lu", n >> 20, (void *)p,
				 (unsigned long)(((uintptr_t)p - RT_HEAP_REGION_BASE) >> RT_ARENA_SHIFT),
				 (unsigned long)(((uintptr_t)p + n - 1 - RT_HEAP_REGION_BASE) >> RT_ARENA_SHIFT));
	}
	tap_check(ok, "large and huge (> 64 MiB arena) objects: page aligned, zero, one span, "
		      "interior pointers resolve");
	tap_check(rt_identities_ok("after large objects"), "identities after large objects");
}

/*
 * Zeroing across reuse: dirty pages are cleared, scavenged pages come back
 * zero. The large objects are freed by the collector (rt_gc outside a world
 * scans this thread's stack): each is allocated by a helper that returns its
 * address XOR'd, hidden from the collector, so nothing refers to it once the
 * helper returns (its frame lies below the stack pointer, never scanned).
 */
#define HIDE 0x5a5a5a5a5a5a5a5aull
struct dirty_alloc {
	uintptr_t hidden;   /* the address ^ HIDE */
	bool was_zero;      /* it came zeroed */
	bool span_needzero; /* its span's pages were dirty (so we cleared it) */
};

__attribute__((noinline)) static struct dirty_alloc alloc_dirty_hidden(size_t n, size_t dirty)
{
	char *p = rt_alloc(n, NULL);
	struct dirty_alloc d = {(uintptr_t)p ^ HIDE, all_zero(p, n), spanof(p)->needzero};
	memset(p, 0x5a, dirty);
	return d;
}

static void test_reuse_zeroing(void)
{
	size_t n = 8u << 20;
	struct rt_memstats m0, m1;
	struct dirty_alloc a = alloc_dirty_hidden(n, n);
	rt_read_memstats(&m0);
	rt_gc();
	rt_read_memstats(&m1);
	/* (the earlier cases' large objects are garbage by now too) */
	tap_check(m1.by_size[0].frees >= m0.by_size[0].frees + 1 && m1.num_gc == m0.num_gc + 1,
		  "rt_gc frees unreachable large objects (large frees %llu -> %llu)",
		  (unsigned long long)m0.by_size[0].frees, (unsigned long long)m1.by_size[0].frees);
	(void)a;
	/* The freed pages (coalesced with the other freed runs) are reused: the heap does not grow. */
	struct dirty_alloc b = alloc_dirty_hidden(n, n);
	struct rt_memstats m2;
	rt_read_memstats(&m2);
	tap_check(b.was_zero && b.span_needzero && m2.heap_sys == m1.heap_sys,
		  "a large object on reused dirty pages is zeroed (HeapSys %llu -> %llu)",
		  (unsigned long long)m1.heap_sys, (unsigned long long)m2.heap_sys);
	rt_gc();
	rt_free_os_memory();
	struct sys_stats os0, os1;
	sys_read_stats(&os0);
	struct dirty_alloc c = alloc_dirty_hidden(n, 1u << 20);
	sys_read_stats(&os1);
	struct rt_memstats m3;
	rt_read_memstats(&m3);
	tap_check(!c.span_needzero && c.was_zero && os1.nused > os0.nused && m3.heap_sys == m1.heap_sys,
		  "after rt_free_os_memory freed pages come back via sys_used, zero, unzeroed by us");
	rt_gc();

	/* Small spans carved from dirty pages are zeroed object by object. */
	bool ok = true;
	for (int i = 0; i < 2000; i++) {
		char *o = rt_alloc(1000, NULL);
		if (!all_zero(o, 1000))
			ok = false;
		memset(o, 0x77, 1000);
	}
	tap_check(ok, "small objects carved from reused dirty pages are zero");
	tap_check(rt_identities_ok("after reuse"), "identities after reuse");
}

struct rec {
	void *p;
	size_t size;
	uint64_t seed;
};

static void test_random_model(void)
{
	enum { N = 20000 };
	struct rec *recs = malloc(N * sizeof(*recs));
	struct rt_memstats m0, m1;
	rt_read_memstats(&m0);
	uint64_t model_bytes = 0;
	bool ok_zero = true;
	for (int i = 0; i < N; i++) {
		uint64_t r = next_rand() % 1000;
		size_t size = r < 700 ? 16 + next_rand() % 240
			      : r < 950 ? 16 + next_rand() % 4000
			      : r < 998 ? 16 + next_rand() % RT_MAX_SMALL_SIZE
					: RT_MAX_SMALL_SIZE + next_rand() % (1u << 20);
		const struct rt_type *t = (next_rand() & 1) ? &ptr_type : NULL;
		size &= ~(size_t)7;   /* whole pointers for typed requests */
		recs[i].p = rt_alloc(size, t);
		recs[i].size = size;
		recs[i].seed = next_rand();
		if (!all_zero(recs[i].p, size))
			ok_zero = false;
		fill(recs[i].p, size, recs[i].seed);
		model_bytes += rt_roundupsize(size);
	}
	bool ok_fill = true;
	for (int i = 0; i < N; i++)
		if (!check_fill(recs[i].p, recs[i].size, recs[i].seed))
			ok_fill = false;
	rt_read_memstats(&m1);
	tap_check(ok_zero && ok_fill, "random sequence of %d allocations: zeroed, contents intact", N);
	tap_check(m1.mallocs - m0.mallocs == N && m1.heap_alloc - m0.heap_alloc == model_bytes &&
		  m1.heap_objects - m0.heap_objects == N,
		  "memstats agree with the model: +%d objects, +%llu bytes (memstats +%llu)", N,
		  (unsigned long long)model_bytes, (unsigned long long)(m1.heap_alloc - m0.heap_alloc));
	tap_check(rt_identities_ok("after the random sequence"), "identities after the random sequence");
	free(recs);
}

static void test_flush(void)
{
	struct rt_memstats m0, m1;
	rt_read_memstats(&m0);
	mcache_release_all(mcache_current());
	rt_read_memstats(&m1);
	tap_check(m0.mallocs == m1.mallocs && m0.heap_alloc == m1.heap_alloc,
		  "flushing the mcache changes no allocation count");
	void *p = rt_alloc(48, NULL);
	tap_check(p != NULL && spanof(p) != NULL && all_zero(p, 48), "allocation resumes after a flush");
	tap_check(rt_identities_ok("after a flush"), "identities after a flush");
}

static void *thread_body(void *arg)
{
	int p = (int)(intptr_t)arg;
	rt_hosted_set_p(p);
	enum { N = 20000 };
	void **v = malloc(N * sizeof(*v));
	bool ok = true;
	for (int i = 0; i < N; i++) {
		size_t size = 16 + (size_t)((i * 37 + p * 11) % 2000);
		v[i] = rt_alloc(size, NULL);
		if (!all_zero(v[i], size))
			ok = false;
		fill(v[i], size, (uint64_t)(i + p * N));
	}
	for (int i = 0; i < N; i++)
		if (!check_fill(v[i], 16 + (size_t)((i * 37 + p * 11) % 2000), (uint64_t)(i + p * N)))
			ok = false;
	free(v);
	return ok ? arg : NULL;
}

static void test_threads(void)
{
	rt_start_procs(3);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, thread_body, (void *)(intptr_t)(i + 1));
	bool ok = true;
	for (int i = 0; i < 2; i++) {
		void *r;
		pthread_join(t[i], &r);
		if (r != (void *)(intptr_t)(i + 1))
			ok = false;
	}
	tap_check(ok, "two threads on Ps 1 and 2 allocate concurrently, objects distinct and intact");
	mheap_verify();
	tap_check(rt_identities_ok("after threads"), "identities after threads");
}

static void oom_child(void)
{
	struct sys_stats os;
	sys_read_stats(&os);
	sys_set_limits(0, os.prepared + os.ready + (64u << 20));
	rt_alloc((size_t)1 << 30, NULL);
	printf("survived\n");
}

static void oom_small_child(void)
{
	struct sys_stats os;
	sys_read_stats(&os);
	/* 16 MiB more mapping: metadata chunks fit, no new 64 MiB arena does. */
	sys_set_limits(0, os.prepared + os.ready + (16u << 20));
	for (;;)
		rt_alloc(20000, NULL);
}

static void overflow_child(void)
{
	rt_alloc_array(&node_type, SIZE_MAX / 16);
}

static void barrier_child(void)
{
	struct node *n = rt_new(&node_type);
	struct node local;
	RT_STORE_PTR(n->next, &local);
}

static void bad_size_child(void)
{
	rt_alloc(40, &node_type);
}

/* A thread outside a running world may neither bind itself to a P nor
 * allocate: it would share that P's mcache with the P's M. */
static void *outsider_binds(void *arg)
{
	(void)arg;
	rt_hosted_set_p(0);
	return NULL;
}

static void *outsider_allocates(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)   /* past the fast path: a span's worth is enough */
		rt_alloc(64, NULL);
	return NULL;
}

static void *(*outsider_body)(void *);

static void outsider_main(void *arg)
{
	(void)arg;
	pthread_t t;
	pthread_create(&t, NULL, outsider_body, NULL);
	pthread_join(t, NULL);   /* holds this world's only M: nothing else runs on P 0 */
}

static void outsider_bind_child(void)
{
	outsider_body = outsider_binds;
	rt_run(outsider_main, NULL, 1);
	printf("survived\n");
}

static void outsider_alloc_child(void)
{
	outsider_body = outsider_allocates;
	rt_run(outsider_main, NULL, 1);
	printf("survived\n");
}

static void print_child(void)
{
	rt_print_memstats();
}

static void test_failures(void)
{
	char out[8192];
	int st = run_child(oom_child, out, sizeof(out));
	tap_check(died_with(st, out, "runtime: out of memory: cannot allocate 1073741824-byte large object (131072 pages)") &&
		  strstr(out, "sys_map") && !strstr(out, "survived"),
		  "out of memory (large): panics naming the request and the failed sys call");
	st = run_child(oom_small_child, out, sizeof(out));
	tap_check(died_with(st, out, "cannot allocate 20000-byte object (size class 62: 20480-byte slots, 5-page spans)") &&
		  strstr(out, "sys_map"),
		  "out of memory (small): panics naming the size class and the failed sys call");
	st = run_child(overflow_child, out, sizeof(out));
	tap_check(died_with(st, out, "elements of struct node (32 bytes each) overflow"),
		  "rt_alloc_array overflow panics");
	st = run_child(barrier_child, out, sizeof(out));
	tap_check(died_with(st, out, "write barrier: storing stack address"),
		  "debug barrier: storing a stack address into the heap panics");
	st = run_child(bad_size_child, out, sizeof(out));
	tap_check(died_with(st, out, "40 bytes is not a whole number of struct node"),
		  "a size that is not a multiple of the type's size panics");
	st = run_child(outsider_bind_child, out, sizeof(out));
	tap_check(died_with(st, out, "rt_hosted_set_p(0) from a thread outside the running world") &&
		  !strstr(out, "survived"),
		  "binding a thread outside the running world to a P panics");
	st = run_child(outsider_alloc_child, out, sizeof(out));
	tap_check(died_with(st, out, "from a thread that is not one of the running world's Ms") && !strstr(out, "survived"),
		  "allocating from a thread outside the running world panics");
	st = run_child(print_child, out, sizeof(out));
	tap_check(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "HeapInuse") &&
		  strstr(out, "MSpanSys") && strstr(out, "by size class"),
		  "rt_print_memstats prints Go's fields and the per-class counts");
}

int main(void)
{
	rng = tap_seed();
	rt_init();
	tap_check(rt_identities_ok("fresh"), "identities on a fresh runtime");
	test_classes();
	/* The out-of-memory children inherit the heap as it is: they run before
	 * the seeded tests, so where their limit falls does not depend on the
	 * seed (it decides whether the heap's or the metadata's request is the
	 * one that meets the limit). */
	test_failures();
	test_tiny();
	test_typed();
	test_layouts();
	test_layout_neighbours();
	test_large();
	test_reuse_zeroing();
	test_random_model();
	test_flush();
	test_threads();
	mheap_verify();   /* panics (failing the run) if any heap invariant broke */
	return tap_done();
}
