/*
 * mbitmap.c - the heap bitmap: one bit per heap word, 1 = "holds a pointer".
 *
 * What. Precise scanning needs to know which words of an object are pointers.
 * Each arena has a bitmap with one bit per 8-byte word (1/64 of the arena,
 * allocated off-heap with the arena; Go 1.20's heap bitmap had the same
 * density). rt_alloc writes the bits of an object in a small scan span when
 * it allocates it: the element type's ptrmask repeated over the elements,
 * zero for the words past the last element up to the slot's end. Objects in
 * noscan spans have no bits (the collector never looks); large objects keep
 * their type on the span (mspan.largetype) instead, since a 1 GiB object
 * would need 16 MiB of bit writes.
 *
 * Invariant: for every allocated object in a small scan span, the bits of its
 * slot describe it exactly. Bits of free slots are garbage.
 *
 * Making the write cheap: the choice. Writing the bits one by one cost 250
 * to 1800 instructions per object (290 for a 16-byte pair of pointers, five
 * times a pointer-free allocation; callgrind, make bench-callgrind). Three
 * ways out were weighed:
 *   (a) Go 1.22: a bitmap at the end of each small-object span (objects of
 *       at most 512 B) and a type header word in larger objects. It changes
 *       the slot geometry (scan spans would hold fewer objects than noscan
 *       spans of the same class, so nelems, divmul and every table keyed by
 *       the class would depend on the noscan bit) and the object layout
 *       (the header word, which interior pointers, rt_object_base and the
 *       collector's reader must skip, and which costs 8 bytes per object).
 *       Its gain over our arena bitmap is locality and no bitmap for noscan
 *       pages; ours is 1/64 of the heap, the same bits in another place.
 *   (b) A "uniform type" span: write nothing while every object of the span
 *       has one type, write per-object bits for the whole span when a second
 *       type arrives. The allocation is a few instructions cheaper than (c),
 *       but every read must ask the span which mode it is in and expand the
 *       type's mask at an arbitrary offset (the collector would pay at every
 *       object what the allocator saved), and the switch is a span-wide
 *       rewrite at an unpredictable allocation.
 *   (c) Whole-word writes of a precomputed slot pattern (chosen). The bits of
 *       an object of `size` bytes of t in a slot of S words are a pure
 *       function of (t, size, S): bit i = i < size/8 and bit i mod p of t's
 *       mask, p = t->size/8. For S <= 64 (slots of at most 512 B: classes 1
 *       to 26, the objects allocated most often) they fit in one word, which
 *       is written with one read-modify-write of a bitmap word (two when the
 *       slot straddles a word boundary). The bitmap and its reader stay as
 *       they were, so the collector reads exactly what the writer wrote with
 *       the same one or two word accesses: as cheap to read as to write.
 * Where the precomputed words live (rt_type is const user data, so not on
 * the type), in two levels:
 *   1. The span: one entry (bits_type, bits_size, bits_slot), the key and
 *      slot bits of the span's last typed allocation, and the span's own
 *      pointer into the bitmap (mspan.heapbits), so the fast path
 *      (malloc.c) needs neither a lookup nor an arena search: compare two
 *      words, take the slot, write. A span holds one size class, and one P's
 *      objects of a class come mostly in runs of one type (binary trees: all
 *      of them), so this entry almost always hits: 80 instructions for a
 *      16-byte pair of pointers against 55 pointer-free.
 *   2. The P: a direct-mapped memo of 64 entries (struct heapbits_layout,
 *      in the mcache) from (type, size) to the class, the element's mask as
 *      a pattern of 33..64 words, and the slot bits. When types alternate in
 *      a class (the span's entry keeps changing), the memo makes the entry
 *      in a hash and a compare, no recomputation and no slow path: about 110
 *      instructions per object for two alternating 16-byte types. It also
 *      serves slots over 64 words, which have no span entry.
 * Objects in larger slots (576 B to 32 KiB) are written from the memo's
 * pattern a bitmap word at a time: whole words are plain stores (one value
 * repeated when the period is 64 words, as for arrays of pointers), the first
 * and last are read-modify-written; about 1.3x the pointer-free allocation
 * at 4 and 32 KiB. Elements over 64 words take the writer from the mask.
 *
 * The pattern. For p <= 64 the period's bits are read from the mask once and
 * doubled (p, 2p, 4p, ...) while the period fits 32 words, so the period
 * used is 33..64 words and any 64-word window of the object is at most three
 * shifted copies of one word. For p > 64 the pieces come straight from the
 * mask bytes (layout_bits). Bits past the elements are zero, which also
 * clears the stale bits of the slot's previous object.
 *
 * Where the bits are. A span inside one arena gets heapbits = the bitmap
 * word of its first word (spans start on a page, 1024 words: bit 0 of a
 * word). A span that straddles two contiguous arenas (their bitmaps are
 * separate allocations) gets heapbits NULL: its objects take the writer from
 * the mask (heapbits_set_type), which looks up each bitmap word by address,
 * and never get a span entry.
 *
 * Reading. heapbits_read(addr, n) (mbitmap.h, inline): arena lookup, one or
 * two bitmap words, a shift and a mask. heapbits_read_span(s, addr, n) is the
 * same without the arena lookup, for a caller that already has the span.
 *
 * Concurrency: bitmap words of a span are written only by its owner (an
 * mcache's P, or whoever holds it uncached); a 64-bit bitmap word covers 512
 * bytes within one page, so two spans never share one. The cache fields are
 * written by the owner too. The collector reads the bitmap with the world
 * stopped (DESIGN.md section 7).
 */
#include "rt/mbitmap.h"
#include "rt/mheap.h"
#include "rt/rt.h"

static inline uint64_t low_bits(unsigned k)
{
	return ~(uint64_t)0 >> (64 - k);   /* 1 <= k <= 64 */
}

static uint64_t *bitword(uintptr_t addr, unsigned *bit)
{
	struct heaparena *a = arena_of(addr);
	RT_ASSERT_MSG(a != NULL, "heap bitmap: %p is not in the heap", (void *)addr);
	uintptr_t w = (addr - a->base) / 8;
	*bit = (unsigned)(w % 64);
	return &a->heapbits[w / 64];
}

void heapbits_span_init(struct mspan *s)
{
	s->heapbits = NULL;
	s->bits_type = NULL;
	s->bits_size = 0;
	s->bits_slot = 0;
	s->bits_slotmask = 0;
	s->bits_lastbit = 0;
	if (spanclass_sizeclass(s->spanclass) == 0 || spanclass_noscan(s->spanclass))
		return;
	unsigned slotwords = (unsigned)(s->elemsize / 8);
	if (slotwords <= 64) {
		s->bits_slotmask = low_bits(slotwords);
		s->bits_lastbit = 64 - slotwords;
	}
	struct heaparena *a = arena_of(s->startaddr);
	RT_ASSERT_MSG(a != NULL, "heapbits_span_init: span at %p is not in the heap",
		      (void *)s->startaddr);
	if (arena_of(mspan_end(s) - 1) != a)
		return;   /* straddles into the next arena: the slow writer, bit by bit */
	s->heapbits = &a->heapbits[(s->startaddr - a->base) / 8 / 64];
}

/* An object's pointer bits as a periodic sequence (see "The pattern" above). */
struct layout {
	const uint8_t *ptrmask;
	uintptr_t ptrwords;    /* mask bits at and past this are 0 */
	uintptr_t period;      /* words; a multiple of the element's */
	uintptr_t datawords;   /* words covered by elements; 0 past them */
	uint64_t pattern;      /* period <= 64: the period's bits */
};

/* Bits [e, e + k) of a ptrmask of ptrwords bits, 1 <= k <= 64; 0 at and past ptrwords. */
static uint64_t ptrmask_bits(const uint8_t *mask, uintptr_t ptrwords, uintptr_t e, unsigned k)
{
	if (e >= ptrwords)
		return 0;
	if (k > ptrwords - e)
		k = (unsigned)(ptrwords - e);
	const uint8_t *b = mask + e / 8;   /* reads only bytes holding bits [e, e + k) */
	unsigned shift = (unsigned)(e % 8);
	uint64_t bits = *b >> shift;
	for (unsigned have = 8 - shift; have < k; have += 8)
		bits |= (uint64_t)*++b << have;
	return bits & low_bits(k);
}

static void layout_init(struct layout *l, const struct rt_type *t, uintptr_t size)
{
	l->ptrmask = t->ptrmask;
	l->ptrwords = t->ptrdata / 8;
	l->period = t->size / 8;
	l->datawords = size / 8;
	l->pattern = 0;
	RT_DASSERT(l->period > 0 && l->ptrwords > 0 && l->ptrwords <= l->period);
	if (l->period <= 64) {
		l->pattern = ptrmask_bits(l->ptrmask, l->ptrwords, 0, (unsigned)l->period);
		while (l->period <= 32) {
			l->pattern |= l->pattern << l->period;
			l->period *= 2;
		}
	}
}

/* Bits [e, e + k) of one period, e + k <= period, 1 <= k <= 64. */
static uint64_t period_bits(const struct layout *l, uintptr_t e, unsigned k)
{
	if (l->period <= 64)
		return (l->pattern >> e) & low_bits(k);
	return ptrmask_bits(l->ptrmask, l->ptrwords, e, k);
}

/* Bits of the object's words [i, i + k), 1 <= k <= 64. */
static uint64_t layout_bits(const struct layout *l, uintptr_t i, unsigned k)
{
	if (i >= l->datawords)
		return 0;
	if (k > l->datawords - i)
		k = (unsigned)(l->datawords - i);
	uintptr_t e = i % l->period;
	uint64_t bits = 0;
	for (unsigned got = 0; got < k; e = 0) {
		unsigned n = k - got;
		if (n > l->period - e)
			n = (unsigned)(l->period - e);
		bits |= period_bits(l, e, n) << got;
		got += n;
	}
	return bits;
}

/* Replaces the bits of the k words (1 <= k <= 64) from addr, in span s. */
static void put_bits(const struct mspan *s, uintptr_t addr, uint64_t bits, unsigned k)
{
	unsigned bit;
	uint64_t *w;
	if (s->heapbits != NULL) {
		uintptr_t i = (addr - s->startaddr) / 8;
		w = s->heapbits + i / 64;
		bit = (unsigned)(i % 64);
	} else {
		w = bitword(addr, &bit);
	}
	uint64_t m = low_bits(k);
	*w = (*w & ~(m << bit)) | (bits << bit);
	if (bit + k > 64) {
		unsigned done = 64 - bit;
		if (s->heapbits != NULL)
			w++;
		else
			w = bitword(addr + 8 * done, &bit);   /* maybe the next arena's */
		*w = (*w & ~(m >> done)) | (bits >> done);
	}
}

void heapbits_set_type(struct mspan *s, uintptr_t v, uintptr_t size, const struct rt_type *t)
{
	uintptr_t slotwords = s->elemsize / 8;
	RT_DASSERT(spanclass_sizeclass(s->spanclass) != 0 && !spanclass_noscan(s->spanclass) &&
		   size <= s->elemsize && v >= s->startaddr && v + s->elemsize <= mspan_end(s));
	struct layout l;
	layout_init(&l, t, size);
	for (uintptr_t i = 0; i < slotwords; i += 64) {
		unsigned k = slotwords - i < 64 ? (unsigned)(slotwords - i) : 64;
		put_bits(s, v + 8 * i, layout_bits(&l, i, k), k);
	}
}

void heapbits_layout_fill(struct heapbits_layout *e, const struct rt_type *t, uintptr_t size,
			  unsigned sizeclass, uintptr_t slotsize)
{
	RT_DASSERT(size <= slotsize && slotsize <= RT_MAX_SMALL_SIZE && slotsize % 8 == 0);
	struct layout l;
	layout_init(&l, t, size);
	e->type = t;
	e->size = (uint32_t)size;
	e->sizeclass = (uint16_t)sizeclass;
	e->period = l.period <= 64 ? (uint16_t)l.period : 0;
	e->pattern = l.pattern;
	e->slotbits = slotsize <= HEAPBITS_SLOT_MAX ? layout_bits(&l, 0, (unsigned)(slotsize / 8)) : 0;
}

/* 64 words of a periodic layout from word `phase` of its period (< period <= 64). */
static inline uint64_t pattern_word(uint64_t pattern, unsigned period, unsigned phase)
{
	uint64_t x = pattern >> phase;
	for (unsigned have = period - phase; have < 64; have += period)
		x |= pattern << have;
	return x;
}

static inline unsigned phase_after(unsigned phase, unsigned words, unsigned period)
{
	for (phase += words; phase >= period;)   /* words <= 64 and period >= 33: twice at most */
		phase -= period;
	return phase;
}

void heapbits_write_pattern(struct mspan *s, uintptr_t v, const struct heapbits_layout *e)
{
	RT_DASSERT(s->heapbits != NULL && e->period >= 33 && e->period <= 64 && e->size <= s->elemsize);
	uintptr_t w = (v - s->startaddr) / 8, slotwords = s->elemsize / 8, datawords = e->size / 8;
	uint64_t *word = s->heapbits + w / 64;
	unsigned bit = (unsigned)(w % 64), period = e->period, phase = 0;   /* phase: i mod period */
	uint64_t pattern = e->pattern;
	uintptr_t i = 0;   /* object words done */
	while (i < slotwords) {
		/* the k object words [i, i + k) are bits [bit, bit + k) of *word */
		unsigned k = 64 - bit;
		if (k > slotwords - i)
			k = (unsigned)(slotwords - i);
		if (k == 64 && i + 64 <= datawords) {
			/* whole bitmap words inside the elements: plain stores; for a period of 64
			 * (elements of 1, 2, 4 ... 64 words) one value */
			if (period == 64) {
				uint64_t x = pattern_word(pattern, 64, phase);
				for (; i + 64 <= datawords; i += 64)
					*word++ = x;
			} else {
				for (; i + 64 <= datawords; i += 64) {
					*word++ = pattern_word(pattern, period, phase);
					phase = phase_after(phase, 64, period);
				}
			}
			continue;
		}
		uint64_t x = 0;
		if (i < datawords) {
			x = pattern_word(pattern, period, phase);
			if (datawords - i < 64)
				x &= low_bits((unsigned)(datawords - i));
			phase = phase_after(phase, k, period);
		}
		if (k == 64) {
			*word = x;
		} else {
			uint64_t m = low_bits(k);
			*word = (*word & ~(m << bit)) | ((x & m) << bit);
		}
		i += k;
		bit = 0;
		word++;
	}
}

bool heapbits_is_pointer(uintptr_t addr)
{
	unsigned bit;
	uint64_t *w = bitword(addr, &bit);
	return (*w >> bit) & 1;
}

uint64_t heapbits_read_next_arena(uintptr_t addr, unsigned bit)
{
	unsigned b;
	return *bitword(addr + 8 * (64 - bit), &b) << (64 - bit);
}
