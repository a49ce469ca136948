/*
 * buddy_cases.c - the frame allocator (mm/buddy.c) on whatever memory it
 * manages, written once (tests/case.h) and run by both harnesses: in the
 * kernel on the machine's own map through the real direct map, on the host
 * (test_buddy, ASan/UBSan) on the fake 64 MiB physical memory with holes
 * that test_buddy initializes before it runs them.
 *
 * The cases check every free frame handed out exactly once and taken back,
 * coalescing, zeroing, every order up to FRAME_ORDER_MAX, and random
 * sequences against a model; each ends with the free-frame count and the
 * per-order shape it started with. Detection of bad frees (a panic) and the
 * allocator's set-up are host-only (tests/host/test_buddy.c).
 *
 * Bookkeeping uses a bitmap indexed by physical frame number, itself
 * allocated from the buddy (owner TEST), so nothing here scales with RAM in
 * .bss. The random case seeds its generator from case_seed() (seed=N on the
 * kernel command line, TEST_SEED=N on the host, else a fresh seed; printed).
 */
#define CASE_GROUP "mm.buddy"
#include "tests/case.h"

#include "mm/buddy.h"
#include "tests/mm/buddy_cases.h"
#include "tests/xorshift.h"

static uint64_t rng;
static uint64_t rnd(void) { return xorshift64star(&rng); }

/* ---- A bitmap of frames, by physical frame number, carved from the buddy. ---- */

static struct {
    uint64_t *bits;
    phys_addr_t phys;  /* the bitmap's own block */
    unsigned order;
    uint64_t nframes;  /* frame numbers covered: [0, nframes) */
} bm;

static struct memmap_range ranges[MEMMAP_MAX_RANGES];
static unsigned nranges;

/* Allocates a zeroed bitmap covering every managed frame; 0 on failure. */
static int bitmap_get(void)
{
    nranges = frame_ranges(ranges, MEMMAP_MAX_RANGES);
    if (nranges == 0)
        return 0;
    bm.nframes = ranges[nranges - 1].end >> FRAME_SHIFT;
    uint64_t bytes = (bm.nframes + 7) / 8;
    bm.order = 0;
    while ((FRAME_SIZE << bm.order) < bytes)
        bm.order++;
    bm.phys = frame_alloc(bm.order, FRAME_ZERO, FRAME_OWNER_TEST);
    bm.bits = bm.phys ? frame_virt(bm.phys) : NULL;
    return bm.phys != 0;
}

static void bitmap_put(void)
{
    frame_free(bm.phys, bm.order);
    bm.phys = 0;
    bm.bits = NULL;
}

static int test_and_set(phys_addr_t p)
{
    uint64_t n = p >> FRAME_SHIFT, m = 1ull << (n % 64);
    int was = (bm.bits[n / 64] & m) != 0;
    bm.bits[n / 64] |= m;
    return was;
}

static void clear_bit(phys_addr_t p)
{
    uint64_t n = p >> FRAME_SHIFT;
    bm.bits[n / 64] &= ~(1ull << (n % 64));
}

static int inside_ranges(phys_addr_t p, uint64_t len)
{
    for (unsigned i = 0; i < nranges; i++)
        if (p >= ranges[i].base && p + len <= ranges[i].end)
            return 1;
    return 0;
}

bool frame_stats_same(const struct frame_stats *a, const struct frame_stats *b)
{
    bool ok = a->total_frames == b->total_frames && a->free_frames == b->free_frames;
    for (unsigned k = 0; k < FRAME_NORDERS; k++)
        ok &= a->free_blocks[k] == b->free_blocks[k];
    for (unsigned o = 0; o < FRAME_NOWNERS; o++)
        ok &= a->used_frames[o] == b->used_frames[o];
    return ok;
}

void frame_stats_diag(const char *what, const struct frame_stats *s)
{
    CASE_DIAG("%s: %lu free frames; blocks by order:", what, (unsigned long)s->free_frames);
    for (unsigned k = 0; k < FRAME_NORDERS; k++)
        if (s->free_blocks[k])
            CASE_DIAG("  order %2u: %lu", k, (unsigned long)s->free_blocks[k]);
}

/* Every test starts here: without frame_init the allocator would panic, not fail the test. */
static int ready(void)
{
    struct memmap_range r;
    if (frame_ranges(&r, 1) != 0)
        return 1;
    CASE_DIAG("the frame allocator is not initialized: the harness must initialize it first");
    return 0;
}

/* Allocates every free frame at order 0 into the bitmap; returns how many, or -1 on a bad frame. */
static int64_t exhaust(void)
{
    int64_t n = 0;
    phys_addr_t p;
    while ((p = frame_alloc(0, 0, FRAME_OWNER_TEST)) != 0) {
        if ((p & (FRAME_SIZE - 1)) || !inside_ranges(p, FRAME_SIZE) || p >= bm.nframes * FRAME_SIZE) {
            CASE_DIAG("frame %#llx is outside the managed ranges", (unsigned long long)p);
            return -1;
        }
        if (test_and_set(p)) {
            CASE_DIAG("frame %#llx handed out twice", (unsigned long long)p);
            return -1;
        }
        n++;
    }
    return n;
}

/* Frees every frame in the bitmap (in address order); returns how many. */
static uint64_t release(void)
{
    uint64_t n = 0;
    for (uint64_t w = 0; w < (bm.nframes + 63) / 64; w++) {
        while (bm.bits[w]) {
            unsigned b = (unsigned)__builtin_ctzll(bm.bits[w]);
            bm.bits[w] &= bm.bits[w] - 1;
            frame_free((w * 64 + b) << FRAME_SHIFT, 0);
            n++;
        }
    }
    return n;
}

/* ---- Tests. ---- */

CASE(ready)
{
    struct frame_stats s;
    EXPECT_TRUE(ready());
    frame_stats(&s);
    EXPECT_GT(s.nranges, 0);
    EXPECT_GT(s.free_frames, 0);
    EXPECT_EQ(s.used_frames[FRAME_OWNER_METADATA], (s.metadata_bytes + FRAME_SIZE - 1) / FRAME_SIZE);
    EXPECT_EQ(s.used_frames[FRAME_OWNER_TEST], 0);
    /* 4 bytes of metadata per frame, plus 24 per range. */
    EXPECT_EQ(s.metadata_bytes, s.total_frames * 4 + ((s.nranges * 24 + 7) & ~7ull));
    EXPECT_GT(buddy_verify(), 0);
}

CASE(all_frames)
{
    EXPECT_TRUE(ready());
    struct frame_stats before, mid, after;
    EXPECT_TRUE(bitmap_get());
    frame_stats(&before);
    int64_t n = exhaust();
    frame_stats(&mid);
    EXPECT_EQ(n, before.free_frames);
    EXPECT_EQ(mid.free_frames, 0);
    for (unsigned k = 0; k < FRAME_NORDERS; k++)
        EXPECT_EQ(mid.free_blocks[k], 0);
    EXPECT_EQ(frame_alloc(0, 0, FRAME_OWNER_TEST), 0); /* exhaustion returns 0 */
    EXPECT_EQ(release(), (uint64_t)n);
    frame_stats(&after);
    if (!frame_stats_same(&before, &after)) {
        frame_stats_diag("before", &before);
        frame_stats_diag("after", &after);
    }
    EXPECT_TRUE(frame_stats_same(&before, &after));
    CASE_DIAG("%lld frames (%llu MiB) allocated one by one and freed", (long long)n,
               (unsigned long long)((uint64_t)n * FRAME_SIZE >> 20));
    bitmap_put();
    EXPECT_GT(buddy_verify(), 0);
}

/*
 * Ballast: allocate all but about `keep` frames in large blocks, so a test
 * runs against a small pool (and meets exhaustion) without touching all of
 * RAM. Marked in the bitmap if `mark`.
 */
static struct { phys_addr_t p; unsigned order; } ballast[256];
static unsigned nballast;

static void ballast_fill(uint64_t keep, int mark)
{
    nballast = 0;
    for (int k = FRAME_ORDER_MAX; k >= 0; k--) {
        while (nballast < 256 && frame_free_count() >= keep + (1ull << k)) {
            phys_addr_t p = frame_alloc((unsigned)k, 0, FRAME_OWNER_TEST);
            if (p == 0)
                break;
            for (uint64_t f = 0; mark && f < (1ull << k); f++)
                test_and_set(p + f * FRAME_SIZE);
            ballast[nballast].p = p;
            ballast[nballast++].order = (unsigned)k;
        }
    }
}

static void ballast_drop(void)
{
    /* Never written: junk-filling GiBs of it under TCG would only cost time. */
    int old = buddy_set_debug(BUDDY_DEBUG_OFF);
    while (nballast > 0) {
        nballast--;
        frame_free(ballast[nballast].p, ballast[nballast].order);
    }
    buddy_set_debug(old);
}

CASE(coalesce)
{
    EXPECT_TRUE(ready());
    uint64_t free0 = frame_free_count();
    EXPECT_TRUE(bitmap_get());
    ballast_fill(1024, 0); /* a small pool: still holds blocks of order >= 4 */
    EXPECT_GE(exhaust(), 16);  /* then everything is allocated */
    /* The first 16-frame aligned group that is entirely ours. */
    phys_addr_t g = 0;
    for (unsigned i = 0; i < nranges && g == 0; i++) {
        phys_addr_t a = (ranges[i].base + 16 * FRAME_SIZE - 1) & ~(16 * FRAME_SIZE - 1);
        for (; a + 16 * FRAME_SIZE <= ranges[i].end && g == 0; a += 16 * FRAME_SIZE) {
            int all = 1;
            for (unsigned f = 0; f < 16 && all; f++) {
                uint64_t n = (a >> FRAME_SHIFT) + f;
                all = (bm.bits[n / 64] >> (n % 64)) & 1;
            }
            if (all)
                g = a;
        }
    }
    EXPECT_NE(g, 0);
    /* With everything else allocated, each free changes the lists exactly. */
    static const unsigned seq[16] = { 0, 1, 3, 2, 4, 6, 5, 7, 15, 14, 13, 12, 8, 10, 9, 11 };
    static const uint8_t want[16][5] = {
        { 1, 0, 0, 0, 0 }, { 0, 1, 0, 0, 0 }, { 1, 1, 0, 0, 0 }, { 0, 0, 1, 0, 0 },
        { 1, 0, 1, 0, 0 }, { 2, 0, 1, 0, 0 }, { 1, 1, 1, 0, 0 }, { 0, 0, 0, 1, 0 },
        { 1, 0, 0, 1, 0 }, { 0, 1, 0, 1, 0 }, { 1, 1, 0, 1, 0 }, { 0, 0, 1, 1, 0 },
        { 1, 0, 1, 1, 0 }, { 2, 0, 1, 1, 0 }, { 1, 1, 1, 1, 0 }, { 0, 0, 0, 0, 1 },
    };
    struct frame_stats s;
    for (unsigned i = 0; i < 16; i++) {
        phys_addr_t p = g + seq[i] * FRAME_SIZE;
        clear_bit(p);
        frame_free(p, 0);
        frame_stats(&s);
        for (unsigned k = 0; k < 5; k++)
            EXPECT_EQ(s.free_blocks[k], want[i][k]);
    }
    char d[128];
    CASE_DIAG("group at %#llx merged: %s", (unsigned long long)g, frame_describe(g, d, sizeof(d)));
    /* Taking the order-4 block back gives exactly that group. */
    EXPECT_EQ(frame_alloc(4, 0, FRAME_OWNER_TEST), g);
    frame_free(g, 4);
    release();
    ballast_drop();
    bitmap_put();
    EXPECT_EQ(frame_free_count(), free0);
    EXPECT_GT(buddy_verify(), 0);
}

CASE(orders)
{
    EXPECT_TRUE(ready());
    uint64_t free0 = frame_free_count();
    struct frame_stats s;
    for (unsigned k = 0; k <= FRAME_ORDER_MAX; k++) {
        frame_stats(&s);
        int avail = 0;
        for (unsigned j = k; j < FRAME_NORDERS; j++)
            avail |= s.free_blocks[j] != 0;
        phys_addr_t p = frame_alloc(k, 0, FRAME_OWNER_TEST);
        if (!avail) {
            EXPECT_EQ(p, 0); /* 0 exactly when no block of order >= k is free */
            continue;
        }
        EXPECT_NE(p, 0);
        EXPECT_EQ(p & ((FRAME_SIZE << k) - 1), 0);
        /* Touch the first and last word through the direct map. */
        uint64_t *w = frame_virt(p);
        w[0] = p;
        w[(FRAME_SIZE << k) / 8 - 1] = ~p;
        EXPECT_EQ(w[0], p);
        frame_free(p, k);
    }
    frame_stats(&s);
    int largest = FRAME_ORDER_MAX;
    while (largest >= 0 && s.free_blocks[largest] == 0)
        largest--;
    CASE_DIAG("largest free block: order %d", largest);
    EXPECT_EQ(frame_free_count(), free0);
}

CASE(zero)
{
    EXPECT_TRUE(ready());
    uint64_t free0 = frame_free_count();
    for (unsigned k = 0; k <= FRAME_ORDER_2M; k += 3) {
        phys_addr_t p = frame_alloc(k, 0, FRAME_OWNER_TEST);
        EXPECT_NE(p, 0);
        __builtin_memset(frame_virt(p), 0x5a, FRAME_SIZE << k);
        frame_free(p, k);
        /* Freed memory is junk-filled (the default debug level); FRAME_ZERO clears it. */
        phys_addr_t q = frame_alloc(k, FRAME_ZERO, FRAME_OWNER_TEST);
        EXPECT_NE(q, 0);
        const uint64_t *w = frame_virt(q);
        uint64_t nonzero = 0;
        for (uint64_t i = 0; i < (FRAME_SIZE << k) / 8; i++)
            nonzero += w[i] != 0;
        EXPECT_EQ(nonzero, 0);
        frame_free(q, k);
    }
    EXPECT_EQ(frame_free_count(), free0);
}

CASE(random)
{
    EXPECT_TRUE(ready());
    enum { MAXLIVE = 1024, OPS = 20000, MAXORDER = 10, POOL = 2048 /* frames: 8 MiB */ };
    static struct { phys_addr_t p; uint8_t order, owner; uint64_t tag; } live[MAXLIVE];
    struct frame_stats start, before, s;
    frame_stats(&start);
    EXPECT_TRUE(bitmap_get());
    ballast_fill(POOL, 1);
    frame_stats(&before);
    EXPECT_LE(before.free_frames, 2 * POOL);
    uint64_t seed = case_seed();
    rng = seed ? seed : 1; /* xorshift's state must not be 0 */
    CASE_DIAG("seed=%llu", (unsigned long long)seed);
    unsigned nlive = 0;
    uint64_t used[FRAME_NOWNERS], free_frames = before.free_frames, fails = 0;
    for (unsigned o = 0; o < FRAME_NOWNERS; o++) /* others (page tables...) hold frames too */
        used[o] = before.used_frames[o];
    for (int op = 0; op < OPS; op++) {
        if (nlive < MAXLIVE && (nlive == 0 || rnd() % 100 < 55)) {
            unsigned order = 0;
            while (order < MAXORDER && rnd() % 100 < 40)
                order++;
            unsigned owner = FRAME_OWNER_KERNEL + (unsigned)(rnd() % (FRAME_OWNER_CALLERS_END - FRAME_OWNER_KERNEL));
            phys_addr_t p = frame_alloc(order, 0, owner);
            if (p == 0) {
                fails++;
                frame_stats(&s);
                for (unsigned j = order; j < FRAME_NORDERS; j++)
                    EXPECT_EQ(s.free_blocks[j], 0);
                continue;
            }
            EXPECT_EQ(p & ((FRAME_SIZE << order) - 1), 0);
            EXPECT_TRUE(inside_ranges(p, FRAME_SIZE << order));
            for (uint64_t f = 0; f < (1ull << order); f++)
                EXPECT_EQ(test_and_set(p + f * FRAME_SIZE), 0); /* no overlap with a live block */
            uint64_t tag = rnd() | 1;
            uint64_t *w = frame_virt(p);
            for (uint64_t f = 0; f < (1ull << order); f++) /* one tagged word per frame */
                w[f * FRAME_SIZE / 8 + (tag % 512)] = tag ^ f;
            live[nlive].p = p;
            live[nlive].order = (uint8_t)order;
            live[nlive].owner = (uint8_t)owner;
            live[nlive++].tag = tag;
            used[owner] += 1ull << order;
            free_frames -= 1ull << order;
        } else {
            unsigned i = (unsigned)(rnd() % nlive);
            phys_addr_t p = live[i].p;
            unsigned order = live[i].order;
            uint64_t tag = live[i].tag;
            const uint64_t *w = frame_virt(p);
            for (uint64_t f = 0; f < (1ull << order); f++) {
                EXPECT_EQ(w[f * FRAME_SIZE / 8 + (tag % 512)], tag ^ f); /* untouched while in use */
                clear_bit(p + f * FRAME_SIZE);
            }
            used[live[i].owner] -= 1ull << order;
            free_frames += 1ull << order;
            frame_free(p, order);
            live[i] = live[--nlive];
        }
        frame_stats(&s);
        EXPECT_EQ(s.free_frames, free_frames);
        for (unsigned o = FRAME_OWNER_KERNEL; o < FRAME_NOWNERS; o++)
            EXPECT_EQ(s.used_frames[o], used[o]);
    }
    EXPECT_GT(buddy_verify(), 0);
    CASE_DIAG("%d ops in a %llu-frame pool, %u live at the end, %llu allocations found it exhausted",
               OPS, (unsigned long long)before.free_frames, nlive, (unsigned long long)fails);
    while (nlive > 0) {
        nlive--;
        frame_free(live[nlive].p, live[nlive].order);
    }
    ballast_drop();
    bitmap_put();
    frame_stats(&s);
    if (!frame_stats_same(&start, &s)) {
        frame_stats_diag("start", &start);
        frame_stats_diag("end", &s);
    }
    EXPECT_TRUE(frame_stats_same(&start, &s)); /* all free again: the same fully coalesced lists */
    EXPECT_GT(buddy_verify(), 0);
    EXPECT_GT(fails, 0); /* the pool was small enough that exhaustion happened */
}
