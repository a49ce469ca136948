/*
 * heapview.c - a printable view of the heap's structures, for the tour.
 *
 * memstats (mstats.c) give the totals; this shows the structures behind them:
 * the arenas with what each page is doing, and what one P's mcache holds per
 * span class. It takes the heap lock while it walks the arenas, and reads an
 * mcache without its P's cooperation, so call it only while that P is not
 * allocating (the tour calls it from the P itself).
 *
 * rt_read_heap_view and rt_view_object give the same structures as numbers
 * and addresses (rt.h) for the diagrams the kernel draws (kernel/diagram.c):
 * the OS side knows its regions and page tables, this side knows which
 * runtime structure lives at which address, and the diagram puts the two
 * together. The same rule holds: the heap lock for the arenas, and spans and
 * mcaches read while their owners may be running, so a view taken beside an
 * allocating P is a close approximation, never a fault (every pointer read
 * is one the heap lock keeps alive: span structs are never freed to the OS).
 */
#include "rt/mcache.h"
#include "rt/mcentral.h"
#include "rt/mgc.h"
#include "rt/mheap.h"
#include "rt/mstats.h"
#include "rt/runtime2.h"
#include "rt/port.h"
#include "rt/rt.h"
#include "rt/sizeclasses.h"

static void print_arenas(void)
{
	rt_lock(&mheap_.lock);
	rt_printf("heap: %llu arena(s) of %llu MiB\n", (unsigned long long)mheap_.narenas,
		  (unsigned long long)(RT_ARENA_SIZE >> 20));
	for (uintptr_t i = 0; i < RT_ARENA_L1_SIZE; i++) {
		struct heaparena **l2 = mheap_.arenas[i];
		if (l2 == NULL)
			continue;
		for (uintptr_t j = 0; j < RT_ARENA_L2_SIZE; j++) {
			struct heaparena *a = l2[j];
			if (a == NULL)
				continue;
			uintptr_t inspan = 0, mapped = (a->mapped_end - a->base) / RT_PAGE_SIZE;
			for (uintptr_t pg = 0; pg < mapped; pg++) {
				struct mspan *s = a->spans[pg];
				if (s != NULL && s->state != MSPAN_FREE)
					inspan++;
			}
			uintptr_t released = mapped ? pagebits_count(a->base, mapped, 0) : 0;
			rt_printf("  arena %#lx: %lu of %lu pages (8 KiB) mapped (sys_map); %lu in spans, "
				  "%lu idle and not backed (never used or released to the OS)\n",
				  (unsigned long)a->base, (unsigned long)mapped,
				  (unsigned long)RT_PAGES_PER_ARENA, (unsigned long)inspan,
				  (unsigned long)released);
		}
	}
	rt_unlock(&mheap_.lock);
}

static void print_mcache(int p)
{
	struct mcache *c = mcache_for_p(p);
	rt_printf("mcache of P %d: cached spans by span class\n", p);
	rt_printf("  %5s %8s %6s %7s %9s %s\n", "class", "size", "kind", "objects", "allocated", "span");
	for (spanclass_t sc = 0; sc < RT_NUM_SPAN_CLASSES; sc++) {
		struct mspan *s = c->alloc[sc];
		if (s == &mspan_empty || s == NULL)
			continue;
		rt_printf("  %5u %8lu %6s %7u %9u %#lx (%lu page%s)\n", spanclass_sizeclass(sc),
			  (unsigned long)s->elemsize, spanclass_noscan(sc) ? "noscan" : "scan",
			  (unsigned)s->nelems, (unsigned)s->alloc_count, (unsigned long)s->startaddr,
			  (unsigned long)s->npages, s->npages == 1 ? "" : "s");
	}
	if (c->tiny != 0)
		rt_printf("  tiny block %#lx: %lu of 16 bytes used\n", (unsigned long)c->tiny,
			  (unsigned long)c->tinyoffset);
}

void rt_print_heap(int p)
{
	print_arenas();
	print_mcache(p);
}

/* ---- views (rt.h) ---- */

/* 1 + the highest P with an mcache, set by each view before its walk (heap lock):
 * the span-to-mcache search looks no further. */
static int mcaches_made;

static void count_mcaches(void)
{
	mcaches_made = 0;
	for (int p = 0; p < RT_MAX_PROCS; p++)
		if (rt_allp_mcache[p] != NULL)
			mcaches_made = p + 1;
}

enum span_where { WHERE_NONE, WHERE_CACHED, WHERE_PARTIAL, WHERE_FULL, WHERE_UNSWEPT = 4 /* | partial, full */ };

/* Where span s of class spc sits: an mcache (which P), an mcentral list, none. */
static const char *span_list_name(const struct mspan *s, spanclass_t spc, int *cached_by, enum span_where *where)
{
	*cached_by = -1;
	*where = WHERE_NONE;
	for (int p = 0; p < mcaches_made; p++) {
		struct mcache *c = rt_allp_mcache[p];
		if (c != NULL && spanclass_sizeclass(spc) != 0 && c->alloc[spc] == s) {
			*cached_by = p;
			*where = WHERE_CACHED;
			return "cached by an mcache";
		}
	}
	if (s->list == NULL)
		return spanclass_sizeclass(spc) == 0 ? "large: on no list (the sweeper frees it)"
						     : "on no list (being swept or refilled)";
	struct mcentral *mc = &mheap_.central[spc];
	uint32_t sg = mheap_sweepgen();
	if (s->list == mcentral_partial_swept(mc, sg) || s->list == mcentral_partial_unswept(mc, sg))
		*where = WHERE_PARTIAL;
	else if (s->list == mcentral_full_swept(mc, sg) || s->list == mcentral_full_unswept(mc, sg))
		*where = WHERE_FULL;
	if (s->list == mcentral_partial_unswept(mc, sg) || s->list == mcentral_full_unswept(mc, sg))
		*where |= WHERE_UNSWEPT;
	if (s->list == mcentral_partial_swept(mc, sg))
		return "mcentral partial list (swept)";
	if (s->list == mcentral_partial_unswept(mc, sg))
		return "mcentral partial list (not yet swept)";
	if (s->list == mcentral_full_swept(mc, sg))
		return "mcentral full list (swept)";
	if (s->list == mcentral_full_unswept(mc, sg))
		return "mcentral full list (not yet swept)";
	return "a list outside its mcentral";
}

static void add_place(struct rt_heap_view *v, const char *name, const char *what, const void *addr, uintptr_t size)
{
	if (v->nplaces < RT_VIEW_PLACES && addr != NULL)
		v->places[v->nplaces++] = (typeof(v->places[0])){name, what, (uintptr_t)addr, size};
}

static const char *const mcache_names[] = {"P 0's mcache", "P 1's mcache", "P 2's mcache", "P 3's mcache",
					   "P 4's mcache", "P 5's mcache", "P 6's mcache", "P 7's mcache"};

static void view_places(struct rt_heap_view *v, struct mspan *some_span)
{
	add_place(v, "mheap_", "the page heap: arenas, free runs", &mheap_,
		  sizeof mheap_);
	add_place(v, "mheap_.central", "136 mcentrals, one per span class", mheap_.central,
		  sizeof mheap_.central);
	add_place(v, "rt_sched", "the scheduler: global queue, stops", &rt_sched,
		  sizeof rt_sched);
	add_place(v, "rt_mstats", "MemStats' counters", &rt_mstats, sizeof rt_mstats);
	for (uint32_t p = 0; p < v->nprocs && p < sizeof mcache_names / sizeof mcache_names[0]; p++)
		add_place(v, mcache_names[p], "a span per class, the tiny block", rt_allp_mcache[p],
			  sizeof(struct mcache));
	if (rt_allp[0] != NULL)
		add_place(v, "P 0", "run queue, timers, GC work buffers", rt_allp[0],
			  sizeof(struct rt_p));
	if (rt_allm[0] != NULL)
		add_place(v, "M 0", "the CPU's scheduler state", rt_allm[0],
			  sizeof(struct rt_m));
	struct rt_g *g = sched_allgs();
	if (g != NULL)
		add_place(v, "a G struct", "the newest G: registers, stack bounds", g,
			  sizeof(struct rt_g));
	if (v->narenas > 0) {
		add_place(v, "arena 0", "heap objects in 8 KiB pages", (void *)v->arenas[0].base,
			  v->arenas[0].size);
		add_place(v, "arena 0's heaparena", "span map (page -> mspan), page bits",
			  (void *)v->arenas[0].meta, sizeof(struct heaparena));
		add_place(v, "arena 0's heap bitmap", "one bit per heap word: 1 = pointer",
			  (void *)v->arenas[0].heapbits, RT_ARENA_SIZE / 64);
	}
	if (some_span != NULL) {
		add_place(v, "an mspan", "a span: start, pages, class, bits", some_span,
			  sizeof *some_span);
		add_place(v, "its mark bits", "one bit per slot", some_span->gcmark_bits,
			  8u << some_span->nbitwords_log2);
	}
}

/* One arena's pages, as rt_read_heap_view counts them. */
struct arena_tally {
	uint32_t inspan, free, spans;
	uint16_t cells[RT_VIEW_MAP][3];   /* pages per map cell: in a span, free, released */
};

/* Pages [pg, pg + n) of arena a belong to s (which may have begun in the arena below). */
static void tally_pages(struct arena_tally *t, const struct heaparena *a, const struct mspan *s, uint32_t pg,
			uint32_t n)
{
	const uint32_t per_cell = RT_PAGES_PER_ARENA / RT_VIEW_MAP;
	for (uint32_t q = pg, end; q < pg + n; q = end) {   /* one piece per map cell */
		uint32_t cell = q / per_cell;
		end = (cell + 1) * per_cell < pg + n ? (cell + 1) * per_cell : pg + n;
		if (s->state != MSPAN_FREE) {
			t->cells[cell][0] += (uint16_t)(end - q);
			continue;
		}
		uint32_t released = (uint32_t)pagebits_count(a->base + (uintptr_t)q * RT_PAGE_SIZE, end - q, 0);
		t->cells[cell][2] += (uint16_t)released;
		t->cells[cell][1] += (uint16_t)(end - q - released);
	}
	if (s->state == MSPAN_FREE)
		t->free += n;
	else
		t->inspan += n;
}

/* s starts in the arena being tallied: count it once, by class and list. */
static void tally_span(struct rt_heap_view *v, struct arena_tally *t, struct mspan *s, struct mspan **some_span)
{
	if (s->state == MSPAN_FREE) {
		v->free_runs++;
		return;
	}
	if (s->state != MSPAN_INUSE)
		return;
	t->spans++;
	unsigned c = spanclass_sizeclass(s->spanclass);
	int noscan = spanclass_noscan(s->spanclass);
	v->classes[c].spans[noscan]++;
	v->classes[c].slots[noscan] += s->nelems;
	v->classes[c].allocated[noscan] += s->alloc_count;
	if (c == 0)
		v->classes[0].large_bytes += s->npages * RT_PAGE_SIZE;
	int by;
	enum span_where w;
	(void)span_list_name(s, s->spanclass, &by, &w);
	v->classes[c].cached += w == WHERE_CACHED;
	v->classes[c].partial += (w & ~WHERE_UNSWEPT) == WHERE_PARTIAL;
	v->classes[c].full += (w & ~WHERE_UNSWEPT) == WHERE_FULL;
	v->classes[c].unswept += (w & WHERE_UNSWEPT) != 0;
	if (*some_span == NULL && c != 0)
		*some_span = s;
}

void rt_read_heap_view(struct rt_heap_view *v)
{
	__builtin_memset(v, 0, sizeof *v);
	for (unsigned c = 0; c < RT_VIEW_CLASSES; c++) {
		v->classes[c].size = c ? rt_class[c].size : 0;
		v->classes[c].pages_per_span = c ? rt_class[c].npages : 0;
	}
	for (int p = 0; p < RT_MAX_PROCS; p++)
		if (rt_allp_mcache[p] != NULL)
			v->nprocs = (uint32_t)p + 1;
	struct mspan *some_span = NULL, *carry = NULL;   /* carry: a span going on into the next arena */
	uintptr_t carry_left = 0, carry_end = 0;
	rt_lock(&mheap_.lock);
	count_mcaches();
	v->sweepgen = mheap_.sweepgen;
	for (uintptr_t i = 0; i < RT_ARENA_L1_SIZE; i++) {
		struct heaparena **l2 = mheap_.arenas[i];
		for (uintptr_t j = 0; l2 != NULL && j < RT_ARENA_L2_SIZE; j++) {
			struct heaparena *a = l2[j];
			if (a == NULL)
				continue;
			uint32_t k = v->narenas++;
			uint32_t mapped = (uint32_t)((a->mapped_end - a->base) / RT_PAGE_SIZE);
			struct arena_tally t = {0};
			uint32_t pg = 0;
			if (carry != NULL && a->base == carry_end) {
				/* The tail of a span or free run that began in the arena below. */
				pg = carry_left < mapped ? (uint32_t)carry_left : mapped;
				tally_pages(&t, a, carry, 0, pg);
				carry_left -= pg;
			} else {
				carry_left = 0;
			}
			while (pg < mapped) {
				struct mspan *s = a->spans[pg];
				if (s == NULL || s->startaddr != a->base + (uintptr_t)pg * RT_PAGE_SIZE || s->npages == 0) {
					pg++;   /* no span starts here (a torn read beside a running P) */
					continue;
				}
				uint32_t here = s->npages < (uintptr_t)(mapped - pg) ? (uint32_t)s->npages : mapped - pg;
				tally_pages(&t, a, s, pg, here);
				tally_span(v, &t, s, &some_span);
				carry = s;
				carry_left = s->npages - here;
				pg += here;
			}
			if (carry_left == 0)
				carry = NULL;
			carry_end = a->base + RT_ARENA_SIZE;
			uint32_t inspan = t.inspan, free = t.free, spans = t.spans;
			v->free_pages += free;
			uint16_t (*cells)[3] = t.cells;
			if (k >= RT_VIEW_ARENAS)
				continue;
			v->arenas[k] = (typeof(v->arenas[0])){
			    .base = a->base, .size = RT_ARENA_SIZE, .meta = (uintptr_t)a,
			    .heapbits = (uintptr_t)a->heapbits, .pages_mapped = mapped,
			    .pages_in_spans = inspan, .pages_free = free,
			    .pages_released = mapped ? (uint32_t)pagebits_count(a->base, mapped, 0) : 0,
			    .spans = spans};
			for (unsigned c = 0; c < RT_VIEW_MAP; c++) {
				/* The kind most of the cell's pages are; not mapped unless it wins. */
				unsigned best = 3, most = RT_PAGES_PER_ARENA / RT_VIEW_MAP;
				most -= cells[c][0] + cells[c][1] + cells[c][2];
				for (unsigned kind = 0; kind < 3; kind++)
					if (cells[c][kind] > 0 && cells[c][kind] >= most)
						best = kind, most = cells[c][kind];
				v->arenas[k].pagemap[c] = "#=_."[best];
			}
		}
	}
	rt_unlock(&mheap_.lock);
	for (uint32_t p = 0; p < v->nprocs; p++) {
		struct mcache *c = rt_allp_mcache[p];
		if (c == NULL)
			continue;
		v->procs[p].mcache = (uintptr_t)c;
		for (spanclass_t sc = 0; sc < RT_NUM_SPAN_CLASSES; sc++) {
			struct mspan *s = c->alloc[sc];
			if (s == NULL || s == &mspan_empty)
				continue;
			v->procs[p].spans++;
			v->procs[p].free_slots += s->nelems > s->alloc_count ? s->nelems - s->alloc_count : 0;
		}
		v->procs[p].tiny = c->tiny;
		v->procs[p].tiny_used = c->tiny ? (uint32_t)c->tinyoffset : 0;
	}
	view_places(v, some_span);
	/* By address, as a diagram draws them (insertion sort: a few dozen). */
	for (uint32_t i = 1; i < v->nplaces; i++)
		for (uint32_t j = i; j > 0 && v->places[j - 1].addr > v->places[j].addr; j--) {
			typeof(v->places[0]) t = v->places[j];
			v->places[j] = v->places[j - 1];
			v->places[j - 1] = t;
		}
}

bool rt_view_object(const void *p, struct rt_object_view *out)
{
	__builtin_memset(out, 0, sizeof *out);
	out->cached_by = -1;
	/* Under the heap lock: a sweeper beside us frees spans (alloc_bits NULL, then free)
	 * under it, so the lookup and the reads below see one span in one state. */
	rt_lock(&mheap_.lock);
	count_mcaches();
	uintptr_t base = mheap_object_base(p);
	struct mspan *s = base != 0 ? spanof((void *)base) : NULL;
	bool ok = s != NULL && s->state == MSPAN_INUSE;
	unsigned c = ok ? spanclass_sizeclass(s->spanclass) : 0;
	uint32_t idx = ok && c ? (uint32_t)(((base - s->startaddr) * s->divmul) >> 32) : 0;
	ok = ok && idx < s->nelems;
	if (ok) {
		struct heaparena *a = arena_of(base);
		*out = (struct rt_object_view){
		    .base = base, .size = s->elemsize, .sizeclass = c,
		    .noscan = spanclass_noscan(s->spanclass) != 0,
		    .marked = s->gcmark_bits != NULL && ((s->gcmark_bits[idx / 64] >> (idx % 64)) & 1),
		    .slot = idx, .nelems = s->nelems, .allocated = s->alloc_count, .span = s->startaddr,
		    .span_pages = s->npages, .mspan = (uintptr_t)s, .arena = a->base,
		    .arena_page = (uint32_t)arena_page(base), .mcentral = (uintptr_t)&mheap_.central[s->spanclass]};
		enum span_where w;
		out->list = span_list_name(s, s->spanclass, &out->cached_by, &w);
	}
	rt_unlock(&mheap_.lock);
	return ok;
}
