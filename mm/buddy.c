/*
 * buddy.c - the physical frame allocator: a binary buddy system.
 *
 * What it does. It owns every usable 4 KiB frame the memory map reports
 * (mm/memmap.c) and hands out naturally aligned blocks of 2^k frames,
 * k = 0 (4 KiB) .. FRAME_ORDER_MAX = 18 (1 GiB). Order 9 backs a 2 MiB page
 * and order 18 a 1 GiB page; orders beyond 18 would buy nothing (no larger
 * page size, and no caller wants more contiguous memory) while making every
 * merge chain longer.
 *
 * Data structures.
 *  - A range table: one struct buddy_range per usable range, sorted by base.
 *    Ranges are disjoint and non-adjacent, so each frame belongs to exactly one.
 *  - A frame array per range: one 4-byte struct frame per frame, telling
 *    whether it heads a free block, heads a used block, or is a tail (any
 *    frame but the first of its block), and for heads the order and owner.
 *  - Free lists, one per order: circular, doubly linked, intrusive. The node
 *    (struct free_node) lives in the first bytes of the free block itself and
 *    is reached through the direct map: physical p is at dmap + p. The host
 *    tests set dmap so that dmap + p lands in a buffer; the code is the same.
 *  - A bitmap of non-empty orders, so the smallest usable order is one ctz.
 *
 * Bootstrap. The range table and the frame arrays are carved from the end of
 * the highest range that can hold them, reached through the direct map, and
 * those frames are recorded as used by FRAME_OWNER_METADATA. Cost: 4 bytes per
 * 4 KiB frame, i.e. 1 MiB per GiB of RAM (0.1%), plus 24 bytes per range.
 * Holes between ranges (the PCI hole, RAM above 4 GiB) cost nothing.
 * buddy_init's steps: 1. reset the state; 2. check the ranges' contract and
 * count the frames below the limit; 3. size the metadata and pick the range
 * that holds it; 4. lay out the range table and frame arrays there; 5. tile
 * every range with maximal free blocks and the metadata with used ones.
 *
 * Invariants (checked by buddy_verify(); the cheap ones by every call).
 *  I1 Each range is tiled exactly by blocks: a head (FREE or USED) of order k
 *     at p, then 2^k - 1 TAIL frames. p is 2^k-frame aligned in physical
 *     address space, and [p, p + 2^k frames) lies inside the one range.
 *  I2 A block is on free list k iff its head is FREE with order k; the node's
 *     cookie is FREE_COOKIE ^ p ^ k.
 *  I3 Fully coalesced: no FREE block of order k < MAX has a FREE buddy of
 *     order k inside the same range.
 *  I4 Counters: free_frames = sum of free blocks' sizes; used[owner] = sum of
 *     used blocks' sizes per owner; total = free + used; nonempty bit k set
 *     iff list k is non-empty; free_blocks[k] = length of list k.
 * Tails are kept exact at O(1) per split or merge (a split makes one tail a
 * head, a merge makes one head a tail), so a tail frame passed to frame_free
 * is recognized without ever marking 2^k frames at allocation time.
 *
 * Port. Everything this file needs from its host (formatting, failure, the
 * lock, block fill, per-CPU identity) is in mm/buddy_port.h, implemented
 * once for the kernel and once hosted (Linux: tests, benchmarks), so the
 * code below has no #ifdef. The kernel's boot-time front (the boot map, the
 * low-memory carve-out, the report) is mm/frame_boot.c.
 *
 * Locking. One lock (buddy_port_lock/buddy_port_unlock) protects everything
 * in struct buddy, the frame arrays and the free lists; nothing else is taken
 * while it is held but the console's (a panic). In the kernel it is an
 * interrupt-disabling ticket spinlock of rank SPIN_RANK_BUDDY
 * (kernel/lib/spinlock.h), so every CPU may allocate and free and an interrupt
 * handler cannot deadlock against its own CPU. Host builds are single-threaded
 * and keep a re-entry check in its place. Zeroing (FRAME_ZERO) happens
 * outside the lock.
 *
 * Per-CPU caches (kernel only: BUDDY_PORT_CACHES), as Linux's per-CPU page
 * lists: order-0 requests, the common case, rarely take the lock. Each CPU
 * keeps up to FRAME_CACHE_CAP free frames, touched only by that CPU with
 * interrupts off:
 *  - alloc pops one; an empty cache first takes FRAME_CACHE_BATCH frames from
 *    the lists under the lock (one lock round trip per batch);
 *  - free checks the frame exactly as the lists would (a double free of a
 *    cached frame is caught: its owner is CACHE), junk-fills it and pushes
 *    it; a full cache first returns FRAME_CACHE_BATCH frames to the lists.
 * A cached frame stays a USED order-0 head with owner FRAME_OWNER_CACHE, so
 * I1-I4 hold unchanged; used[] is updated atomically because cache pops and
 * pushes change owners without the lock. frame_free_count() counts cached
 * frames as free; frame_stats() drains the calling CPU's cache first, so a
 * snapshot's lists show every frame that CPU holds. Measured (make bench,
 * run=bench.smp, 4 vCPUs on 2 host cores): order-0 throughput on all CPUs
 * went from 361 to 4.4 million operations a second. Under emulation a lock
 * hand-off to a descheduled vCPU costs about a millisecond; the cache is what
 * makes more CPUs help instead of hurt.
 *
 * Allocation of order k (frame_alloc):
 *  1. Check the arguments; take the lock.
 *  2. Fast path: list k is non-empty: pop its first block.
 *  3. Slow path (alloc_split): j = the smallest order > k with a free block
 *     (ctz of the non-empty bitmap); none: count a failure and return 0.
 *     Pop it; while j > k: j--, the upper half (p + 2^j frames) becomes a
 *     FREE head of order j pushed on list j.
 *  4. Mark the head USED with order k and the owner; update counters; unlock.
 *  5. If FRAME_ZERO, clear the block. Cost: O(FRAME_NORDERS) list operations.
 *
 * Free of p with order k (frame_free):
 *  1. Take the lock. Validate: p frame-aligned, inside a range, its frame a
 *     USED head of order k, p 2^k-aligned, not metadata. Otherwise panic
 *     naming the frame (the state is untouched, so host tests can go on).
 *  2. Update counters; at BUDDY_DEBUG_JUNK fill the block with FRAME_JUNK.
 *  3. While k < MAX: the buddy is p XOR (2^k frames). If it lies inside the
 *     same range and heads a FREE block of order k: unlink it, the higher of
 *     the two becomes a TAIL, p = the lower, k++. Otherwise stop.
 *  4. Mark p a FREE head of order k and push it on list k (LIFO: the most
 *     recently freed memory is reused first, while it is still in cache).
 *  Cost: O(FRAME_NORDERS) plus O(log ranges) for the range lookup.
 *
 * Debug levels (BUDDY_DEBUG, default BUDDY_DEBUG_JUNK; buddy_set_debug):
 * _JUNK fills freed blocks with FRAME_JUNK and checks list-node cookies, so
 * a dangling write shows; _VERIFY also checks, when a junk-filled block is
 * handed out again, that nobody wrote to it, and walks the free lists on
 * every call. buddy_verify() checks I1-I4 over all metadata on demand.
 *
 * Sources. The buddy system is Knowlton's (1965) as analyzed by Knuth (TAOCP
 * vol. 1, section 2.5): blocks of size 2^k whose buddy address differs in one
 * bit, merged on free while the buddy is free. Linux (mm/page_alloc.c) keeps
 * the same free lists per order in its free_area, tags free heads in struct
 * page and caps the order where contiguity stops paying, and puts per-CPU
 * lists in front of them (its pcp lists), as we do for order 0. xv6 (kernel/kalloc.c) is the simple contrast: one
 * list of 4 KiB pages, no contiguity, one lock, junk-filled on free; we keep
 * its junk fill and its clarity and pay for contiguity with the metadata.
 */
#include "mm/buddy.h"

#include <stdarg.h>
#include <stdbool.h>

#include "kernel/lib/compiler.h"
#include "mm/buddy_port.h"

#ifndef BUDDY_DEBUG
#define BUDDY_DEBUG BUDDY_DEBUG_JUNK
#endif

#define BLOCK_BYTES(order) (FRAME_SIZE << (order))

enum frame_state {
    FRAME_UNSET = 0, /* never initialized: seeing it means the metadata is corrupt */
    FRAME_TAIL,      /* not the first frame of its block */
    FRAME_FREE,      /* heads a free block, which is on free list `order` */
    FRAME_USED,      /* heads a block handed out to `owner` */
};

#define FRAME_F_JUNK 0x1 /* FREE head: the block (past its node) holds FRAME_JUNK */

/* Per-frame metadata. Only heads carry order/owner/flags; tails are all zero but state. */
struct frame {
    uint8_t state; /* enum frame_state */
    uint8_t order; /* heads: block order, <= FRAME_ORDER_MAX */
    uint8_t owner; /* USED heads: enum frame_owner, never NONE */
    uint8_t flags; /* FREE heads: FRAME_F_* */
};
_Static_assert(sizeof(struct frame) == FRAME_METADATA_BYTES, "metadata cost is 4 bytes per frame");
_Static_assert(FRAME_NOWNERS <= 256 && FRAME_NORDERS <= 32, "fields fit");

/* Lives in the first bytes of every free block (I2). */
struct free_node {
    struct free_node *next, *prev;
    uint64_t cookie; /* FREE_COOKIE ^ phys ^ order: a stray write to a free block shows */
};
#define FREE_COOKIE 0xb0dd1e5f4eef4a11ull

struct buddy_range {
    phys_addr_t base, end; /* frame-aligned; [base, end) */
    struct frame *frames;  /* frames[(p - base) >> FRAME_SHIFT] */
};

static struct buddy {
    int debug;                  /* BUDDY_DEBUG_* */
    uintptr_t dmap;             /* physical p is at dmap + p */
    struct buddy_range *ranges; /* sorted; carved at init */
    unsigned nranges;
    struct free_node lists[FRAME_NORDERS]; /* sentinels of the circular lists */
    uint32_t nonempty;                     /* bit k iff lists[k] is non-empty (I4) */
    uint64_t free_blocks[FRAME_NORDERS];
    uint64_t total_frames, free_frames;
    uint64_t used[FRAME_NOWNERS];
    uint64_t allocs, frees, failed;
    uint64_t metadata_bytes;
} buddy = { .debug = BUDDY_DEBUG }; /* under buddy_lock (see the essay) */

/* used[] also changes outside the lock (the per-CPU caches move frames between
 * owners), so every update of it is atomic. */
static void used_add(unsigned owner, int64_t delta)
{
    __atomic_add_fetch(&buddy.used[owner], (uint64_t)delta, __ATOMIC_RELAXED);
}

static const char *const owner_names[FRAME_NOWNERS] = {
    [FRAME_OWNER_NONE] = "none",     [FRAME_OWNER_METADATA] = "metadata",
    [FRAME_OWNER_KERNEL] = "kernel", [FRAME_OWNER_PAGETABLE] = "pagetable",
    [FRAME_OWNER_KSTACK] = "kstack", [FRAME_OWNER_HEAP] = "heap",
    [FRAME_OWNER_STACK] = "stack",   [FRAME_OWNER_RTMETA] = "rtmeta",
    [FRAME_OWNER_TEST] = "test",     [FRAME_OWNER_CACHE] = "cache",
};

static const char *const state_names[] = {
    [FRAME_UNSET] = "uninitialized", [FRAME_TAIL] = "tail",
    [FRAME_FREE] = "free head",      [FRAME_USED] = "used head",
};

const char *frame_owner_name(enum frame_owner owner)
{
    return (unsigned)owner < FRAME_NOWNERS ? owner_names[owner] : "invalid";
}

static const char *state_name(unsigned s)
{
    return s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "corrupt";
}

/* ---- Failure: every panic names what and where. ---- */

__attribute__((format(printf, 1, 2))) _Noreturn static void buddy_panic(const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    buddy_port_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    buddy_port_fail(msg);
}

#define BUDDY_ASSERT(cond, fmt, ...)                                                      \
    do {                                                                                  \
        if (unlikely(!(cond)))                                                            \
            buddy_panic("%s:%d: %s: assertion '%s' failed: " fmt, __FILE__, __LINE__,    \
                        __func__, #cond, ##__VA_ARGS__);                                  \
    } while (0)

int buddy_set_debug(int level)
{
    int old = buddy.debug;
    buddy.debug = level;
    return old;
}

/* ---- Addresses and metadata. ---- */

void *frame_virt(phys_addr_t p)
{
    return (void *)(buddy.dmap + (uintptr_t)p);
}

static phys_addr_t node_phys(const struct free_node *n)
{
    return (phys_addr_t)((uintptr_t)n - buddy.dmap);
}

/* The range holding p, or NULL. O(log ranges). */
static struct buddy_range *range_of(phys_addr_t p)
{
    unsigned lo = 0, hi = buddy.nranges; /* find the last range with base <= p */
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (buddy.ranges[mid].base <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || p >= buddy.ranges[lo - 1].end)
        return NULL;
    return &buddy.ranges[lo - 1];
}

static struct frame *frame_of(const struct buddy_range *r, phys_addr_t p)
{
    return &r->frames[(p - r->base) >> FRAME_SHIFT];
}

static uint64_t cookie(phys_addr_t p, unsigned order)
{
    return FREE_COOKIE ^ p ^ order;
}

/* ---- Free lists (I2). ---- */

static void list_push(phys_addr_t p, unsigned order)
{
    struct free_node *head = &buddy.lists[order], *n = frame_virt(p);
    n->next = head->next;
    n->prev = head;
    n->cookie = cookie(p, order);
    head->next->prev = n;
    head->next = n;
    buddy.nonempty |= 1u << order;
    buddy.free_blocks[order]++;
}

static void list_remove(struct free_node *n, unsigned order)
{
    phys_addr_t p = node_phys(n);
    if (buddy.debug >= BUDDY_DEBUG_JUNK && unlikely(n->cookie != cookie(p, order)))
        buddy_panic("free block %#llx (order %u): list node overwritten (cookie %#llx): "
                    "a write to freed memory",
                    (unsigned long long)p, order, (unsigned long long)n->cookie);
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
    if (--buddy.free_blocks[order] == 0)
        buddy.nonempty &= ~(1u << order);
}

/* ---- Debug: junk and verification. ---- */

static void junk_fill(phys_addr_t p, uint64_t bytes)
{
    buddy_port_fill(frame_virt(p), FRAME_JUNK, bytes);
}

/* BUDDY_DEBUG_VERIFY: a junk-filled block about to be handed out must still hold junk. */
static void junk_check(phys_addr_t p, unsigned order)
{
    const uint64_t junk = 0x0101010101010101ull * FRAME_JUNK;
    const uint64_t *w = frame_virt(p);
    uint64_t nwords = BLOCK_BYTES(order) / 8;
    for (uint64_t i = sizeof(struct free_node) / 8; i < nwords; i++)
        if (unlikely(w[i] != junk))
            buddy_panic("frame %#llx (block order %u) modified after free: offset %#llx holds "
                        "%#llx",
                        (unsigned long long)p, order, (unsigned long long)(i * 8),
                        (unsigned long long)w[i]);
}

static void verify_lists(void);

/* ---- Allocation. ---- */

static phys_addr_t cache_alloc(enum frame_owner owner);
static bool cache_free(phys_addr_t p);
static void cache_drain_mine(void);

/* Take the first block of list j, split it down to `order`, mark it used. */
static phys_addr_t take(unsigned j, unsigned order, enum frame_owner owner)
{
    struct free_node *n = buddy.lists[j].next;
    phys_addr_t p = node_phys(n);
    struct buddy_range *r = range_of(p);
    BUDDY_ASSERT(r != NULL, "free list %u holds %#llx, outside every range", j,
                 (unsigned long long)p);
    struct frame *f = frame_of(r, p);
    BUDDY_ASSERT(f->state == FRAME_FREE && f->order == j, "list %u head %#llx is a %s of order %u",
                 j, (unsigned long long)p, state_name(f->state), f->order);
    list_remove(n, j);

    uint8_t junked = f->flags & FRAME_F_JUNK;
    while (j > order) {
        j--;
        phys_addr_t q = p + BLOCK_BYTES(j);
        struct frame *g = frame_of(r, q);
        g->state = FRAME_FREE;
        g->order = (uint8_t)j;
        g->flags = junked;
        list_push(q, j);
    }
    if (junked && buddy.debug >= BUDDY_DEBUG_VERIFY)
        junk_check(p, order);

    f->state = FRAME_USED;
    f->order = (uint8_t)order;
    f->owner = (uint8_t)owner;
    f->flags = 0;
    buddy.free_frames -= 1ull << order;
    used_add(owner, (int64_t)1 << order);
    buddy.allocs++;
    return p;
}

/* Slow path: no block of exactly this order; split the smallest larger one. */
static phys_addr_t alloc_split(unsigned order, enum frame_owner owner)
{
    uint32_t larger = buddy.nonempty >> order;
    if (unlikely(larger == 0)) {
        buddy.failed++;
        return 0;
    }
    return take(order + (unsigned)__builtin_ctz(larger), order, owner);
}

_Noreturn static void alloc_bad_args(unsigned order, unsigned flags, enum frame_owner owner)
{
    const char *why = buddy.nranges == 0           ? "called before buddy_init"
                      : order > FRAME_ORDER_MAX    ? "order above FRAME_ORDER_MAX"
                      : (flags & ~FRAME_FLAGS_ALL) ? "unknown flags"
                                                   : "invalid owner (NONE, METADATA and CACHE "
                                                     "are not for callers)";
    buddy_panic("frame_alloc(order %u, flags %#x, owner %d): %s", order, flags, (int)owner, why);
}

phys_addr_t frame_alloc(unsigned order, unsigned flags, enum frame_owner owner)
{
    if (unlikely(order > FRAME_ORDER_MAX || (flags & ~FRAME_FLAGS_ALL) ||
                 owner <= FRAME_OWNER_METADATA || owner >= FRAME_OWNER_CACHE || buddy.nranges == 0))
        alloc_bad_args(order, flags, owner);
    if (order == 0) {
        phys_addr_t c = cache_alloc(owner);
        if (c != 0) {
            if (flags & FRAME_ZERO)
                memset(frame_virt(c), 0, FRAME_SIZE);
            return c;
        }
    }
    buddy_port_lock();
    phys_addr_t p;
    if (likely(buddy.nonempty & (1u << order)))
        p = take(order, order, owner);
    else
        p = alloc_split(order, owner);
    if (buddy.debug >= BUDDY_DEBUG_VERIFY)
        verify_lists();
    buddy_port_unlock();

    if (p != 0 && (flags & FRAME_ZERO))
        memset(frame_virt(p), 0, BLOCK_BYTES(order));
    return p;
}

/* ---- Free. ---- */

/* The head of the block containing tail frame p, or 0 if none (corrupt metadata). */
static phys_addr_t head_of(const struct buddy_range *r, phys_addr_t p)
{
    for (unsigned k = 1; k <= FRAME_ORDER_MAX; k++) {
        phys_addr_t h = p & ~(BLOCK_BYTES(k) - 1);
        if (h < r->base)
            break;
        const struct frame *g = frame_of(r, h);
        if (g->state != FRAME_TAIL && p < h + BLOCK_BYTES(g->order))
            return h;
    }
    return 0;
}

char *frame_describe(phys_addr_t p, char *buf, size_t len)
{
    const struct buddy_range *r = range_of(p);
    if (r == NULL) {
        buddy_port_snprintf(buf, len, "%#llx: not in any managed range", (unsigned long long)p);
        return buf;
    }
    const struct frame *f = frame_of(r, p & ~(FRAME_SIZE - 1));
    if (f->state == FRAME_FREE || f->state == FRAME_USED) {
        buddy_port_snprintf(buf, len, "%#llx: %s, order %u, owner %s", (unsigned long long)p,
                    state_name(f->state), f->order,
                    f->state == FRAME_USED ? frame_owner_name(f->owner) : "none");
        return buf;
    }
    phys_addr_t h = f->state == FRAME_TAIL ? head_of(r, p & ~(FRAME_SIZE - 1)) : 0;
    if (f->state != FRAME_TAIL || h == 0) {
        buddy_port_snprintf(buf, len, "%#llx: %s frame (corrupt metadata)", (unsigned long long)p,
                    state_name(f->state));
        return buf;
    }
    const struct frame *g = frame_of(r, h);
    buddy_port_snprintf(buf, len, "%#llx: tail frame of the %s block at %#llx, order %u, owner %s",
                (unsigned long long)p, g->state == FRAME_USED ? "used" : "free",
                (unsigned long long)h, g->order,
                g->state == FRAME_USED ? frame_owner_name(g->owner) : "none");
    return buf;
}

/* Step 1 of free: p must head a used block of exactly this order. */
static struct buddy_range *check_free(phys_addr_t p, unsigned order)
{
    char what[160];
    if (unlikely(order > FRAME_ORDER_MAX))
        buddy_panic("frame_free(%#llx, order %u): order above FRAME_ORDER_MAX",
                    (unsigned long long)p, order);
    if (unlikely(p & (FRAME_SIZE - 1)))
        buddy_panic("frame_free(%#llx, order %u): address is not frame-aligned (%s)",
                    (unsigned long long)p, order, frame_describe(p, what, sizeof(what)));
    struct buddy_range *r = range_of(p);
    if (unlikely(r == NULL))
        buddy_panic("frame_free(%#llx, order %u): never handed out: not in any managed range",
                    (unsigned long long)p, order);
    const struct frame *f = frame_of(r, p);
    if (unlikely(f->state != FRAME_USED)) {
        const char *why = f->state == FRAME_FREE ? "double free (or never allocated)"
                          : f->state == FRAME_TAIL ? "not the start of a block"
                                                   : "corrupt metadata";
        buddy_panic("frame_free(%#llx, order %u): %s: frame %s", (unsigned long long)p, order,
                    why, frame_describe(p, what, sizeof(what)));
    }
    if (unlikely(p & (BLOCK_BYTES(order) - 1)))
        buddy_panic("frame_free(%#llx, order %u): misaligned for order %u (block needs %#llx "
                    "alignment): frame %s",
                    (unsigned long long)p, order, order, (unsigned long long)BLOCK_BYTES(order),
                    frame_describe(p, what, sizeof(what)));
    if (unlikely(f->order != order))
        buddy_panic("frame_free(%#llx, order %u): order mismatch: frame %s",
                    (unsigned long long)p, order, frame_describe(p, what, sizeof(what)));
    if (unlikely(f->owner == FRAME_OWNER_METADATA))
        buddy_panic("frame_free(%#llx, order %u): the allocator's own metadata: frame %s",
                    (unsigned long long)p, order, frame_describe(p, what, sizeof(what)));
    if (unlikely(f->owner == FRAME_OWNER_CACHE))
        buddy_panic("frame_free(%#llx, order %u): double free: the frame is in a per-CPU cache",
                    (unsigned long long)p, order);
    return r;
}

/* Steps 2-4 of free, lock held, p checked. */
static void free_locked(struct buddy_range *r, phys_addr_t p, unsigned order)
{
    struct frame *f = frame_of(r, p);

    used_add(f->owner, -((int64_t)1 << order));
    buddy.free_frames += 1ull << order;
    buddy.frees++;
    uint8_t junked = 0;
    if (buddy.debug >= BUDDY_DEBUG_JUNK) {
        junk_fill(p, BLOCK_BYTES(order));
        junked = FRAME_F_JUNK;
    }
    *f = (struct frame){ .state = FRAME_TAIL }; /* until the merge loop settles on the head */

    while (order < FRAME_ORDER_MAX) {
        phys_addr_t b = p ^ BLOCK_BYTES(order);
        if (b < r->base || b + BLOCK_BYTES(order) > r->end)
            break; /* the buddy is (partly) outside this range */
        struct frame *g = frame_of(r, b);
        if (g->state != FRAME_FREE || g->order != order)
            break;
        list_remove(frame_virt(b), order);
        junked &= g->flags;
        phys_addr_t hi = b > p ? b : p;
        struct frame *h = frame_of(r, hi);
        *h = (struct frame){ .state = FRAME_TAIL };
        if (junked) /* the upper node is now inside the block: keep the block all junk */
            junk_fill(hi, sizeof(struct free_node));
        p = b < p ? b : p;
        order++;
    }
    f = frame_of(r, p);
    *f = (struct frame){ .state = FRAME_FREE, .order = (uint8_t)order, .flags = junked };
    list_push(p, order);
    if (buddy.debug >= BUDDY_DEBUG_VERIFY)
        verify_lists();
}

/* ---- Per-CPU caches of order-0 frames. ---- */

#define FRAME_CACHE_CAP   64 /* frames a CPU may hold */
#define FRAME_CACHE_BATCH 32 /* frames moved per refill or drain: one lock round trip */

/* Touched only by its CPU, with interrupts off. */
struct frame_cache {
    unsigned n;
    phys_addr_t frames[FRAME_CACHE_CAP]; /* USED heads of order 0, owner FRAME_OWNER_CACHE */
} __attribute__((aligned(64)));

static struct frame_cache g_cache[BUDDY_PORT_NCPUS];

/* Up to FRAME_CACHE_BATCH frames from the lists into c, under the lock. */
static void cache_refill(struct frame_cache *c)
{
    buddy_port_lock();
    while (c->n < FRAME_CACHE_BATCH && buddy.nonempty != 0) {
        phys_addr_t p = (buddy.nonempty & 1u) ? take(0, 0, FRAME_OWNER_CACHE) : alloc_split(0, FRAME_OWNER_CACHE);
        c->frames[c->n++] = p;
    }
    buddy_port_unlock();
}

/* Up to count frames of c back to the lists, under the lock. */
static void cache_drain(struct frame_cache *c, unsigned count)
{
    buddy_port_lock();
    for (; count > 0 && c->n > 0; count--) {
        phys_addr_t p = c->frames[--c->n];
        free_locked(range_of(p), p, 0);
    }
    buddy_port_unlock();
}

/* A frame from this CPU's cache (refilled when empty), now owned by owner; 0 if none. */
static phys_addr_t cache_alloc(enum frame_owner owner)
{
    if (!BUDDY_PORT_CACHES)
        return 0;
    uint64_t flags = buddy_port_irq_save();
    struct frame_cache *c = &g_cache[buddy_port_cpu()];
    if (c->n == 0)
        cache_refill(c);
    phys_addr_t p = 0;
    if (c->n > 0) {
        p = c->frames[--c->n];
        frame_of(range_of(p), p)->owner = (uint8_t)owner; /* the frame is this CPU's: no lock */
        used_add(FRAME_OWNER_CACHE, -1);
        used_add(owner, 1);
    }
    buddy_port_irq_restore(flags);
    return p;
}

/* Puts p (checked as frame_free checks it) in this CPU's cache; true when done. */
static bool cache_free(phys_addr_t p)
{
    if (!BUDDY_PORT_CACHES || unlikely(buddy.nranges == 0))
        return false;
    struct frame *f = frame_of(check_free(p, 0), p); /* p is the caller's: its metadata is stable */
    if (buddy.debug >= BUDDY_DEBUG_JUNK)
        junk_fill(p, FRAME_SIZE);
    uint64_t flags = buddy_port_irq_save();
    struct frame_cache *c = &g_cache[buddy_port_cpu()];
    if (c->n == FRAME_CACHE_CAP)
        cache_drain(c, FRAME_CACHE_BATCH);
    used_add(f->owner, -1);
    f->owner = FRAME_OWNER_CACHE;
    used_add(FRAME_OWNER_CACHE, 1);
    c->frames[c->n++] = p;
    buddy_port_irq_restore(flags);
    return true;
}

static void cache_drain_mine(void)
{
    if (!BUDDY_PORT_CACHES)
        return;
    uint64_t flags = buddy_port_irq_save();
    cache_drain(&g_cache[buddy_port_cpu()], FRAME_CACHE_CAP);
    buddy_port_irq_restore(flags);
}

unsigned frame_cache_count(unsigned cpu)
{
    return BUDDY_PORT_CACHES && cpu < BUDDY_PORT_NCPUS ? g_cache[cpu].n : 0;
}

void frame_free(phys_addr_t p, unsigned order)
{
    if (order == 0 && cache_free(p))
        return;
    buddy_port_lock();
    free_locked(check_free(p, order), p, order);
    buddy_port_unlock();
}

/* ---- Init. ---- */

/* Tile [a, b) of range r with maximal aligned blocks, FREE (on the lists) or USED by owner. */
static void tile(struct buddy_range *r, phys_addr_t a, phys_addr_t b, enum frame_owner owner)
{
    while (a < b) {
        unsigned k = 0;
        while (k < FRAME_ORDER_MAX && (a & (BLOCK_BYTES(k + 1) - 1)) == 0 &&
               a + BLOCK_BYTES(k + 1) <= b)
            k++;
        struct frame *f = frame_of(r, a);
        if (owner == FRAME_OWNER_NONE) {
            *f = (struct frame){ .state = FRAME_FREE, .order = (uint8_t)k };
            list_push(a, k);
            buddy.free_frames += 1ull << k;
        } else {
            *f = (struct frame){ .state = FRAME_USED, .order = (uint8_t)k, .owner = (uint8_t)owner };
            buddy.used[owner] += 1ull << k;
        }
        a += BLOCK_BYTES(k);
    }
}

static phys_addr_t clip_end(const struct memmap_range *r, phys_addr_t limit)
{
    return r->end < limit ? r->end : limit;
}

/* Init step 1: forget any previous state; the debug level stays. */
static void init_reset(uintptr_t dmap_base)
{
    int debug = buddy.debug;
    memset(&buddy, 0, sizeof(buddy));
    buddy.debug = debug;
    buddy.dmap = dmap_base;
    for (unsigned k = 0; k < FRAME_NORDERS; k++)
        buddy.lists[k].next = buddy.lists[k].prev = &buddy.lists[k];
}

/* Init step 2: check the ranges' contract (panics naming the range); returns
 * how many start below phys_limit, and in *frames the frames they hold. */
static unsigned init_count(const struct memmap_range *ranges, unsigned n, phys_addr_t phys_limit,
                           uint64_t *frames)
{
    unsigned nr = 0;
    *frames = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct memmap_range *r = &ranges[i];
        if ((r->base | r->end) & (FRAME_SIZE - 1))
            buddy_panic("buddy_init: range %u [%#llx, %#llx) is not frame-aligned", i,
                        (unsigned long long)r->base, (unsigned long long)r->end);
        if (r->base >= r->end || r->base == 0 || r->end > PHYS_ADDR_LIMIT)
            buddy_panic("buddy_init: range %u [%#llx, %#llx) is empty, holds frame 0 or ends "
                        "beyond the physical limit",
                        i, (unsigned long long)r->base, (unsigned long long)r->end);
        if (i > 0 && r->base <= ranges[i - 1].end)
            buddy_panic("buddy_init: range %u [%#llx, %#llx) overlaps, touches or precedes range "
                        "%u ending at %#llx (ranges must be sorted and non-adjacent)",
                        i, (unsigned long long)r->base, (unsigned long long)r->end, i - 1,
                        (unsigned long long)ranges[i - 1].end);
        if (r->base >= phys_limit)
            break;
        nr++;
        *frames += (clip_end(r, phys_limit) - r->base) >> FRAME_SHIFT;
    }
    if (nr == 0)
        buddy_panic("buddy_init: no usable memory below %#llx in %u ranges",
                    (unsigned long long)phys_limit, n);
    return nr;
}

/* Init step 3 (bootstrap): the highest of ranges[0..nr) whose end can hold
 * meta_len bytes of metadata; panics if none can. */
static unsigned init_metadata_host(const struct memmap_range *ranges, unsigned nr, phys_addr_t phys_limit,
                                   uint64_t meta_len, uint64_t frames)
{
    for (unsigned i = nr; i-- > 0;)
        if (clip_end(&ranges[i], phys_limit) - ranges[i].base >= meta_len)
            return i;
    buddy_panic("buddy_init: no range can hold %llu bytes of frame metadata (%llu frames in "
                "%u ranges)",
                (unsigned long long)meta_len, (unsigned long long)frames, nr);
}

/* Init step 4: the range table at physical meta, then each range's frame
 * array after it (table bytes on), every frame a TAIL until tiled. */
static void init_ranges(const struct memmap_range *ranges, unsigned nr, phys_addr_t phys_limit, phys_addr_t meta,
                        uint64_t table)
{
    buddy.ranges = frame_virt(meta);
    buddy.nranges = nr;
    struct frame *next = (struct frame *)((char *)buddy.ranges + table);
    for (unsigned i = 0; i < nr; i++) {
        struct buddy_range *r = &buddy.ranges[i];
        r->base = ranges[i].base;
        r->end = clip_end(&ranges[i], phys_limit);
        r->frames = next;
        uint64_t nf = (r->end - r->base) >> FRAME_SHIFT;
        for (uint64_t j = 0; j < nf; j++)
            next[j] = (struct frame){ .state = FRAME_TAIL };
        next += nf;
        buddy.total_frames += nf;
    }
}

/* Init step 5: tile every range with free blocks, and the metadata (from meta
 * to the end of range host) with used ones (I1). */
static void init_tile(unsigned host, phys_addr_t meta)
{
    for (unsigned i = 0; i < buddy.nranges; i++) {
        struct buddy_range *r = &buddy.ranges[i];
        if (i != host) {
            tile(r, r->base, r->end, FRAME_OWNER_NONE);
        } else {
            tile(r, r->base, meta, FRAME_OWNER_NONE);
            tile(r, meta, r->end, FRAME_OWNER_METADATA);
        }
    }
}

void buddy_init(const struct memmap_range *ranges, unsigned n, phys_addr_t phys_limit,
                uintptr_t dmap_base)
{
    init_reset(dmap_base);
    phys_limit &= ~(FRAME_SIZE - 1);
    uint64_t frames;
    unsigned nr = init_count(ranges, n, phys_limit, &frames);

    /* What the metadata costs: the range table (8-byte aligned), then 4 bytes a frame. */
    uint64_t table = ((uint64_t)nr * sizeof(struct buddy_range) + 7) & ~7ull;
    buddy.metadata_bytes = table + frames * sizeof(struct frame);
    uint64_t meta_len = (buddy.metadata_bytes + FRAME_SIZE - 1) & ~(FRAME_SIZE - 1);
    unsigned host = init_metadata_host(ranges, nr, phys_limit, meta_len, frames);
    phys_addr_t meta = clip_end(&ranges[host], phys_limit) - meta_len;

    init_ranges(ranges, nr, phys_limit, meta, table);
    init_tile(host, meta);
    if (buddy.free_frames == 0)
        buddy_panic("buddy_init: the metadata (%llu bytes) took all %llu frames",
                    (unsigned long long)meta_len, (unsigned long long)buddy.total_frames);
}

/* ---- Counters. ---- */

void frame_stats(struct frame_stats *out)
{
    cache_drain_mine(); /* so the lists show every free frame this CPU holds */
    buddy_port_lock();
    out->total_frames = buddy.total_frames;
    out->free_frames = buddy.free_frames;
    for (unsigned k = 0; k < FRAME_NORDERS; k++)
        out->free_blocks[k] = buddy.free_blocks[k];
    for (unsigned o = 0; o < FRAME_NOWNERS; o++)
        out->used_frames[o] = __atomic_load_n(&buddy.used[o], __ATOMIC_RELAXED);
    out->allocs = buddy.allocs;
    out->frees = buddy.frees;
    out->failed = buddy.failed;
    out->metadata_bytes = buddy.metadata_bytes;
    out->nranges = buddy.nranges;
    buddy_port_unlock();
}

unsigned frame_ranges(struct memmap_range *out, unsigned max)
{
    buddy_port_lock();
    unsigned n = buddy.nranges;
    for (unsigned i = 0; i < n && i < max; i++) {
        out[i].base = buddy.ranges[i].base;
        out[i].end = buddy.ranges[i].end;
    }
    buddy_port_unlock();
    return n;
}

uint64_t frame_free_count(void)
{
    /* Aligned words: a racy read is still a value each had. Cached frames are free. */
    return buddy.free_frames + __atomic_load_n(&buddy.used[FRAME_OWNER_CACHE], __ATOMIC_RELAXED);
}

/* ---- Verification. ---- */

/* I2 and the list half of I4: O(free blocks). */
static void verify_lists(void)
{
    uint64_t free_frames = 0;
    for (unsigned k = 0; k < FRAME_NORDERS; k++) {
        uint64_t count = 0;
        const struct free_node *head = &buddy.lists[k];
        for (const struct free_node *n = head->next; n != head; n = n->next) {
            phys_addr_t p = node_phys(n);
            const struct buddy_range *r = range_of(p);
            BUDDY_ASSERT(r != NULL, "list %u holds %#llx outside every range", k,
                         (unsigned long long)p);
            BUDDY_ASSERT((p & (BLOCK_BYTES(k) - 1)) == 0 && p + BLOCK_BYTES(k) <= r->end,
                         "list %u block %#llx misaligned or past its range", k,
                         (unsigned long long)p);
            const struct frame *f = frame_of(r, p);
            BUDDY_ASSERT(f->state == FRAME_FREE && f->order == k,
                         "list %u block %#llx is a %s of order %u", k, (unsigned long long)p,
                         state_name(f->state), f->order);
            BUDDY_ASSERT(n->cookie == cookie(p, k) && n->next->prev == n,
                         "list %u block %#llx: node corrupt", k, (unsigned long long)p);
            BUDDY_ASSERT(++count <= buddy.free_blocks[k], "list %u longer than its count %llu", k,
                         (unsigned long long)buddy.free_blocks[k]);
        }
        BUDDY_ASSERT(count == buddy.free_blocks[k], "list %u has %llu blocks, counter says %llu", k,
                     (unsigned long long)count, (unsigned long long)buddy.free_blocks[k]);
        BUDDY_ASSERT(!!(buddy.nonempty & (1u << k)) == (count != 0), "nonempty bit %u wrong", k);
        free_frames += count << k;
    }
    BUDDY_ASSERT(free_frames == buddy.free_frames, "lists hold %llu frames, counter says %llu",
                 (unsigned long long)free_frames, (unsigned long long)buddy.free_frames);
}

uint64_t buddy_verify(void)
{
    buddy_port_lock();
    verify_lists();
    uint64_t used[FRAME_NOWNERS] = { 0 };
    uint64_t free_blocks = 0, frames = 0;
    for (unsigned i = 0; i < buddy.nranges; i++) {
        const struct buddy_range *r = &buddy.ranges[i];
        BUDDY_ASSERT(i == 0 || r->base > buddy.ranges[i - 1].end, "ranges %u and %u touch", i - 1, i);
        for (phys_addr_t p = r->base; p < r->end;) { /* I1: walk the tiling */
            const struct frame *f = frame_of(r, p);
            BUDDY_ASSERT(f->state == FRAME_FREE || f->state == FRAME_USED,
                         "frame %#llx should head a block but is %s", (unsigned long long)p,
                         state_name(f->state));
            unsigned k = f->order;
            BUDDY_ASSERT(k <= FRAME_ORDER_MAX && (p & (BLOCK_BYTES(k) - 1)) == 0 &&
                             p + BLOCK_BYTES(k) <= r->end,
                         "block %#llx order %u misaligned or past the range end %#llx",
                         (unsigned long long)p, k, (unsigned long long)r->end);
            for (uint64_t j = 1; j < (1ull << k); j++)
                BUDDY_ASSERT(f[j].state == FRAME_TAIL && !f[j].order && !f[j].owner && !f[j].flags,
                             "frame %#llx inside block %#llx is %s (order %u owner %u flags %u)",
                             (unsigned long long)(p + j * FRAME_SIZE), (unsigned long long)p,
                             state_name(f[j].state), f[j].order, f[j].owner, f[j].flags);
            if (f->state == FRAME_FREE) {
                free_blocks++;
                phys_addr_t b = p ^ BLOCK_BYTES(k); /* I3 */
                if (k < FRAME_ORDER_MAX && b >= r->base && b + BLOCK_BYTES(k) <= r->end) {
                    const struct frame *g = frame_of(r, b);
                    BUDDY_ASSERT(!(g->state == FRAME_FREE && g->order == k),
                                 "free buddies %#llx and %#llx (order %u) not coalesced",
                                 (unsigned long long)p, (unsigned long long)b, k);
                }
            } else {
                BUDDY_ASSERT(f->owner > FRAME_OWNER_NONE && f->owner < FRAME_NOWNERS,
                             "used block %#llx has owner %u", (unsigned long long)p, f->owner);
                used[f->owner] += 1ull << k;
            }
            frames += 1ull << k;
            p += BLOCK_BYTES(k);
        }
    }
    uint64_t listed = 0, used_total = 0;
    for (unsigned k = 0; k < FRAME_NORDERS; k++)
        listed += buddy.free_blocks[k];
    BUDDY_ASSERT(free_blocks == listed, "%llu free heads but %llu listed blocks",
                 (unsigned long long)free_blocks, (unsigned long long)listed);
    for (unsigned o = 0; o < FRAME_NOWNERS; o++) {
        BUDDY_ASSERT(used[o] == buddy.used[o], "owner %s holds %llu frames, counter says %llu",
                     owner_names[o], (unsigned long long)used[o], (unsigned long long)buddy.used[o]);
        used_total += used[o];
    }
    BUDDY_ASSERT(frames == buddy.total_frames && used_total + buddy.free_frames == buddy.total_frames,
                 "tiling covers %llu frames, used %llu + free %llu, total %llu",
                 (unsigned long long)frames, (unsigned long long)used_total,
                 (unsigned long long)buddy.free_frames, (unsigned long long)buddy.total_frames);
    buddy_port_unlock();
    return free_blocks;
}
