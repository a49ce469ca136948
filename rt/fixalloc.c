/*
 * fixalloc.c - off-heap allocation for the runtime's own metadata.
 *
 * The heap cannot describe itself with heap memory, so spans, mcaches, arena
 * maps and bitmaps live "off-heap", in the metadata region (DESIGN.md section
 * 2), never scanned or collected. Two layers, as in Go (malloc.go's
 * persistentalloc, mfixalloc.go):
 *
 *   persistent_alloc  bump allocation from 256 KiB chunks obtained with
 *                     sys_reserve(META) + sys_map + sys_used. Never freed.
 *                     Requests of 64 KiB or more get their own sys range.
 *   fixalloc          a free list of one object size over persistent_alloc,
 *                     for structures that come and go (struct mspan).
 *
 * Accounting (so that Sys == sum of the *_sys counters holds exactly): a chunk
 * is charged to other_sys when mapped; carving `size` bytes for stat X moves
 * them from other_sys to X. Dedicated ranges are charged to X directly.
 *
 * Locking: persistent_lock (rank LOCKRANK_PERSISTENT) protects the chunk; it
 * may be taken with the heap lock held. persistent_alloc runs on the system
 * stack (as Go's persistentalloc): it is called from coroutine stacks (a
 * select's sudogs, a sleeper's timer heap, an arena for rt_new), and a
 * stack growth under its lock would take the stack pool's, ranked below.
 * A fixalloc has no lock of its own: the lock of its owner protects it
 * (mheap lock for spans).
 *
 * Cost: O(1) per call; one sys_* round trip per 256 KiB of metadata.
 */
#include "rt/fixalloc.h"
#include "rt/mstats.h"
#include "rt/port.h"
#include "rt/sched.h"   /* rt_systemstack */
#include "rt/sys.h"

#define PERSISTENT_CHUNK   ((size_t)256 << 10)
#define PERSISTENT_MAXBLOCK ((size_t)64 << 10)
#define FIXALLOC_CHUNK     ((size_t)16 << 10)

static struct {
	struct rt_lock lock;
	bool init;
	uintptr_t next;   /* bump pointer in the current chunk */
	uintptr_t end;
} persistent;

/* A fresh Ready range in the metadata region, charged to *stat. Panics on failure. */
static void *sys_alloc_meta(size_t n, uint64_t *stat)
{
	void *p;
	int err = sys_reserve(SYS_REGION_META, NULL, n, &p);
	if (err == SYS_OK) {
		err = sys_map(p, n, stat);
		if (err != SYS_OK)
			sys_free(p, n, 0, 0, NULL);
	}
	if (err != SYS_OK)
		rt_throw("runtime: out of memory: cannot allocate %zu bytes of runtime metadata: %s",
			 n, sys_strerror(err));
	sys_used(p, n);
	return p;
}

struct persistent_call {
	size_t size, align;
	uint64_t *stat;
	void *p;
};

static void *persistent_alloc_locked(size_t size, size_t align, uint64_t *stat);

static void persistent_alloc_on_system_stack(void *arg)
{
	struct persistent_call *c = arg;
	c->p = persistent_alloc_locked(c->size, c->align, c->stat);
}

void *persistent_alloc(size_t size, size_t align, uint64_t *stat)
{
	RT_ASSERT_MSG(size > 0 && align > 0 && (align & (align - 1)) == 0 && align <= 4096,
		      "persistent_alloc(%zu, align %zu): bad request", size, align);
	struct persistent_call c = {size, align, stat, NULL};
	rt_systemstack(persistent_alloc_on_system_stack, &c);   /* a direct call off coroutine stacks */
	return c.p;
}

static void *persistent_alloc_locked(size_t size, size_t align, uint64_t *stat)
{
	if (size >= PERSISTENT_MAXBLOCK)
		return sys_alloc_meta((size + SYS_PAGE_SIZE - 1) & ~(SYS_PAGE_SIZE - 1), stat);

	if (!persistent.init) {   /* first call comes from rt_init, before any concurrency */
		rt_lock_init(&persistent.lock, LOCKRANK_PERSISTENT, "persistent");
		persistent.init = true;
	}
	rt_lock(&persistent.lock);
	uintptr_t p = (persistent.next + align - 1) & ~(uintptr_t)(align - 1);
	if (persistent.next == 0 || p + size > persistent.end) {
		/* The tail of the old chunk stays charged to other_sys (never used). */
		persistent.next = (uintptr_t)sys_alloc_meta(PERSISTENT_CHUNK, &rt_mstats.other_sys);
		persistent.end = persistent.next + PERSISTENT_CHUNK;
		p = persistent.next;
	}
	persistent.next = p + size;
	if (stat != &rt_mstats.other_sys) {
		__atomic_sub_fetch(&rt_mstats.other_sys, size, __ATOMIC_RELAXED);
		__atomic_add_fetch(stat, size, __ATOMIC_RELAXED);
	}
	rt_unlock(&persistent.lock);
	return (void *)p;   /* fresh sys_used memory reads as zero (sys.h rule 5) */
}

void fixalloc_init(struct fixalloc *f, size_t size, uint64_t *stat, uint64_t *inuse,
		   const char *name)
{
	RT_ASSERT_MSG(size >= sizeof(struct fixlink) && size % 8 == 0 && size <= FIXALLOC_CHUNK,
		      "fixalloc %s: bad object size %zu", name, size);
	f->size = size;
	f->list = NULL;
	f->chunk = 0;
	f->nchunk = 0;
	f->stat = stat;
	f->inuse = inuse;
	f->name = name;
}

void *fixalloc_alloc(struct fixalloc *f)
{
	void *p;
	if (f->list != NULL) {
		p = f->list;
		f->list = f->list->next;
		rt_memclr(p, f->size);
	} else {
		if (f->nchunk < f->size) {
			f->chunk = (uintptr_t)persistent_alloc(FIXALLOC_CHUNK, 64, f->stat);
			f->nchunk = FIXALLOC_CHUNK;
		}
		p = (void *)f->chunk;
		f->chunk += f->size;
		f->nchunk -= f->size;
	}
	*f->inuse += f->size;
	return p;
}

void fixalloc_free(struct fixalloc *f, void *p)
{
	RT_DASSERT(*f->inuse >= f->size);
	*f->inuse -= f->size;
	struct fixlink *l = p;
	l->next = f->list;
	f->list = l;
}
