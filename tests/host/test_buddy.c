/*
 * test_buddy.c - mm/buddy.c over a fake physical memory, under ASan/UBSan.
 *
 * "Physical memory" is a 64 MiB mmap standing for physical [0, 64 MiB): the
 * allocator's direct-map base is the buffer's address, exactly as the kernel's
 * is BOOT_DIRECT_MAP_BASE. One test uses a sparse 6 GiB reservation
 * (MAP_NORESERVE; only the metadata and list nodes are ever touched) to cover
 * order 18 and RAM above 4 GiB. The panic hook longjmps back into the test, so
 * bad frees are checked to be detected, named, and harmless.
 *
 * The cases the kernel runs too (tests/mm/buddy_cases.c) run first, on the
 * standard map below; then the host-only tests. Randomized parts take their
 * seed from TEST_SEED=N, or a fresh one; it is printed ("# seed=N").
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot/boot_info.h"
#include "mm/buddy.h"
#include "mm/memmap.h"
#include "tests/host/cases.h"
#include "tests/mm/buddy_cases.h"
#include "tests/xorshift.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define PG  FRAME_SIZE

#define PHYS_SIZE (64 * MiB)
#define NFRAMES   (PHYS_SIZE / PG)

static unsigned char *phys_mem; /* phys p is at phys_mem + p */
static uint64_t seed;

/* ---- Randomness (xorshift64*; the seed is printed). ---- */

static uint64_t rng;
static uint64_t rnd(void) { return xorshift64star(&rng); }

/* ---- The panic hook. ---- */

static jmp_buf panic_jmp;
static int panic_armed;
static char panic_msg[512];

static void test_panic_hook(const char *msg)
{
    snprintf(panic_msg, sizeof(panic_msg), "%s", msg);
    if (panic_armed) {
        panic_armed = 0;
        longjmp(panic_jmp, 1);
    }
    fprintf(stderr, "unexpected buddy panic: %s (seed %llu)\n", msg, (unsigned long long)seed);
    printf("not ok - unexpected panic: %s\n", msg);
    abort();
}

/* Runs stmt; passes if it panics with a message containing each needle. */
#define EXPECT_PANIC(name, stmt, ...)                                                   \
    do {                                                                                \
        const char *needles_[] = { __VA_ARGS__ };                                       \
        panic_msg[0] = 0;                                                               \
        panic_armed = 1;                                                                \
        if (setjmp(panic_jmp) == 0) {                                                   \
            stmt;                                                                       \
            panic_armed = 0;                                                            \
            tap_check(0, "%s (no panic)", name);                                        \
        } else {                                                                        \
            int ok_ = 1;                                                                \
            for (unsigned i_ = 0; i_ < sizeof(needles_) / sizeof(needles_[0]); i_++)    \
                ok_ &= strstr(panic_msg, needles_[i_]) != NULL;                         \
            tap_check(ok_, "%s", name);                                                 \
            tap_diag("panic: %s", panic_msg);                                           \
        }                                                                               \
    } while (0)

/* ---- Helpers. ---- */

static void init(const struct memmap_range *r, unsigned n)
{
    buddy_init(r, n, PHYS_ADDR_LIMIT, (uintptr_t)phys_mem);
}

/* A 64 MiB map with holes: low memory, a gap at 640 KiB, a hole at 31-33 MiB. */
static const struct memmap_range std_map[] = {
    { 0x1000, 0xa0000 },
    { 0x100000, 0x1f00000 },
    { 0x2100000, 0x4000000 },
};
#define STD_N 3

static uint64_t std_frames(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < STD_N; i++)
        n += (std_map[i].end - std_map[i].base) / PG;
    return n;
}

static int in_ranges(const struct memmap_range *r, unsigned n, phys_addr_t p, uint64_t len)
{
    for (unsigned i = 0; i < n; i++)
        if (p >= r[i].base && p + len <= r[i].end)
            return 1;
    return 0;
}

/* ---- Tests. ---- */

static void test_init(void)
{
    init(std_map, STD_N);
    struct frame_stats s;
    frame_stats(&s);
    uint64_t frames = std_frames();
    uint64_t meta = (3 * 24 + frames * 4 + PG - 1) / PG;
    buddy_verify();
    tap_check(s.total_frames == frames && s.used_frames[FRAME_OWNER_METADATA] == meta &&
                  s.free_frames == frames - meta && s.nranges == 3 &&
                  s.metadata_bytes == 3 * 24 + frames * 4,
              "buddy.init: %llu frames, %llu of metadata (4 bytes/frame), the rest free",
              (unsigned long long)frames, (unsigned long long)meta);
    char d[160];
    frame_describe(0x4000000 - PG, d, sizeof(d));
    int meta_at_top = strstr(d, "owner metadata") != NULL || strstr(d, "used block") != NULL;
    tap_diag("last frame: %s", d);
    tap_check(meta_at_top, "buddy.init: metadata carved from the top of the highest range");
    /* [4K, 640K) tiles as orders 0 1 2 3 4 5 6 5 from 0x1000: the largest is 0x40000. */
    frame_describe(0x40000, d, sizeof(d));
    tap_check(strstr(d, "free head, order 6") != NULL, "buddy.init: aligned tiling (%s)", d);
    tap_check(frame_alloc(FRAME_ORDER_MAX, 0, FRAME_OWNER_TEST) == 0 && frame_alloc(14, 0, FRAME_OWNER_TEST) == 0,
              "buddy.init: no order-18 or order-14 block in 64 MiB with holes: 0 returned");
    frame_stats(&s);
    tap_check(s.failed == 2 && s.free_frames == frames - meta,
              "buddy.exhaust: failed allocations are counted and change nothing");
}

/* Allocate every free frame at order 0, check them, then free them all. */
static void test_all_frames(int random_order)
{
    init(std_map, STD_N);
    struct frame_stats before, after;
    frame_stats(&before);
    uint64_t n = before.free_frames;
    phys_addr_t *got = calloc(n + 1, sizeof(*got));
    static unsigned char owned[NFRAMES];
    memset(owned, 0, sizeof(owned));
    uint64_t count = 0, bad = 0;
    phys_addr_t p;
    while ((p = frame_alloc(0, 0, FRAME_OWNER_TEST)) != 0) {
        if (count > n || p % PG || !in_ranges(std_map, STD_N, p, PG) || owned[p / PG]++) {
            if (bad++ < 3)
                tap_diag("bad frame %#llx (#%llu)", (unsigned long long)p,
                         (unsigned long long)count);
            if (count > n)
                break;
        }
        got[count++] = p;
    }
    frame_stats(&after);
    int all_zero = 1;
    for (unsigned k = 0; k < FRAME_NORDERS; k++)
        all_zero &= after.free_blocks[k] == 0;
    tap_check(count == n && bad == 0 && after.free_frames == 0 && all_zero &&
                  after.used_frames[FRAME_OWNER_TEST] == n,
              "buddy.all_frames: every one of %llu free frames handed out exactly once (got %llu)",
              (unsigned long long)n, (unsigned long long)count);
    tap_check(frame_alloc(0, 0, FRAME_OWNER_TEST) == 0 && frame_free_count() == 0,
              "buddy.exhaust: an empty allocator returns 0");
    buddy_verify();

    if (random_order) /* Fisher-Yates */
        for (uint64_t i = count; i > 1; i--) {
            uint64_t j = rnd() % i;
            phys_addr_t t = got[i - 1];
            got[i - 1] = got[j];
            got[j] = t;
        }
    for (uint64_t i = 0; i < count; i++)
        frame_free(got[random_order ? i : count - 1 - i], 0);
    frame_stats(&after);
    buddy_verify();
    int same = frame_stats_same(&before, &after);
    if (!same) {
        frame_stats_diag("before", &before);
        frame_stats_diag("after", &after);
    }
    tap_check(same, "buddy.all_frames: freed in %s order, free count and per-order lists return "
                    "to the initial shape",
              random_order ? "random" : "reverse");
    free(got);
}

/* Fill memory with the largest blocks first, down to order 0; free in random order. */
static void test_all_orders(void)
{
    init(std_map, STD_N);
    struct frame_stats before, after;
    frame_stats(&before);
    static struct { phys_addr_t p; unsigned order; } blk[NFRAMES];
    uint64_t n = 0, frames = 0, bad = 0;
    for (int k = FRAME_ORDER_MAX; k >= 0; k--) {
        phys_addr_t p;
        while ((p = frame_alloc((unsigned)k, 0, FRAME_OWNER_HEAP)) != 0) {
            if (p & ((PG << k) - 1) || !in_ranges(std_map, STD_N, p, PG << k))
                bad++;
            blk[n].p = p;
            blk[n++].order = (unsigned)k;
            frames += 1ull << k;
        }
        /* Exhaustion at order k is only reported when no block of order >= k is left. */
        struct frame_stats s;
        frame_stats(&s);
        for (unsigned j = (unsigned)k; j < FRAME_NORDERS; j++)
            bad += s.free_blocks[j] != 0;
    }
    tap_check(bad == 0 && frames == before.free_frames,
              "buddy.all_orders: largest-first fills all %llu frames with %llu aligned blocks",
              (unsigned long long)frames, (unsigned long long)n);
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = rnd() % i;
        __typeof__(blk[0]) t = blk[i - 1];
        blk[i - 1] = blk[j];
        blk[j] = t;
    }
    for (uint64_t i = 0; i < n; i++)
        frame_free(blk[i].p, blk[i].order);
    frame_stats(&after);
    buddy_verify();
    tap_check(frame_stats_same(&before, &after), "buddy.all_orders: freeing them restores the shape");
}

/* Random alloc/free against a model: ownership bitmap, tags, counters. */
static void test_random(void)
{
    memset(phys_mem, 0, PHYS_SIZE); /* fresh blocks hold no junk: a wrong junk flag shows */
    init(std_map, STD_N);
    int old = buddy_set_debug(BUDDY_DEBUG_VERIFY);
    struct frame_stats before, s;
    frame_stats(&before);
    enum { MAXLIVE = 4096, OPS = 20000 };
    static struct live { phys_addr_t p; unsigned order, owner; unsigned char tag; } live[MAXLIVE];
    static unsigned char owned[NFRAMES];
    memset(owned, 0, sizeof(owned));
    unsigned nlive = 0;
    uint64_t used[FRAME_NOWNERS] = { 0 }, free_frames = before.free_frames;
    int failures = 0;
    for (int op = 0; op < OPS && failures < 3; op++) {
        if (nlive < MAXLIVE && (nlive == 0 || rnd() % 100 < 60)) {
            unsigned order = 0; /* mostly small, geometric; sometimes any order up to 12 */
            if (rnd() % 100 < 5)
                order = (unsigned)(rnd() % 13);
            else
                while (order < 12 && rnd() % 100 < 45)
                    order++;
            unsigned owner = FRAME_OWNER_KERNEL + (unsigned)(rnd() % (FRAME_OWNER_CALLERS_END - FRAME_OWNER_KERNEL));
            unsigned flags = rnd() % 4 == 0 ? FRAME_ZERO : 0;
            phys_addr_t p = frame_alloc(order, flags, owner);
            if (p == 0) {
                frame_stats(&s);
                for (unsigned j = order; j < FRAME_NORDERS; j++)
                    if (s.free_blocks[j]) {
                        tap_diag("op %d: order %u failed with a free block of order %u", op, order, j);
                        failures++;
                    }
                continue;
            }
            uint64_t nf = 1ull << order;
            if (p & ((PG << order) - 1) || !in_ranges(std_map, STD_N, p, PG << order)) {
                tap_diag("op %d: block %#llx order %u misaligned or outside the ranges", op,
                         (unsigned long long)p, order);
                failures++;
                continue;
            }
            for (uint64_t f = 0; f < nf; f++)
                if (owned[p / PG + f]++) {
                    tap_diag("op %d: frame %#llx handed out twice", op,
                             (unsigned long long)(p + f * PG));
                    failures++;
                    break;
                }
            unsigned char *v = frame_virt(p);
            if (flags & FRAME_ZERO)
                for (uint64_t i = 0; i < (PG << order); i += 61)
                    if (v[i]) {
                        tap_diag("op %d: FRAME_ZERO block %#llx has %#x at %#llx", op,
                                 (unsigned long long)p, v[i], (unsigned long long)i);
                        failures++;
                        break;
                    }
            unsigned char tag = (unsigned char)(1 + rnd() % 250);
            memset(v, tag, PG << order);
            live[nlive++] = (struct live){ p, order, owner, tag };
            used[owner] += nf;
            free_frames -= nf;
        } else {
            unsigned i = (unsigned)(rnd() % nlive);
            struct live b = live[i];
            live[i] = live[--nlive];
            const unsigned char *v = frame_virt(b.p);
            for (uint64_t off = 0; off < (PG << b.order); off += 8)
                if (v[off] != b.tag) {
                    tap_diag("op %d: block %#llx (order %u) changed while in use at %#llx", op,
                             (unsigned long long)b.p, b.order, (unsigned long long)off);
                    failures++;
                    break;
                }
            frame_free(b.p, b.order);
            memset(&owned[b.p / PG], 0, 1ull << b.order);
            used[b.owner] -= 1ull << b.order;
            free_frames += 1ull << b.order;
        }
        frame_stats(&s);
        int ok = s.free_frames == free_frames;
        for (unsigned o = FRAME_OWNER_KERNEL; o < FRAME_NOWNERS; o++)
            ok &= s.used_frames[o] == used[o];
        if (!ok) {
            tap_diag("op %d: counters differ from the model (free %llu, model %llu)", op,
                     (unsigned long long)s.free_frames, (unsigned long long)free_frames);
            failures++;
        }
        if (op % 1000 == 0)
            buddy_verify();
    }
    buddy_verify();
    frame_stats(&s);
    tap_diag("%llu allocations, %llu frees, %llu exhausted, %u live at the end",
             (unsigned long long)(s.allocs - before.allocs), (unsigned long long)(s.frees - before.frees),
             (unsigned long long)(s.failed - before.failed), nlive);
    tap_check(failures == 0 && s.failed > before.failed && s.frees > OPS / 3,
              "buddy.random: %d ops of orders 0..12 match the model (seed %llu)", OPS,
              (unsigned long long)seed);
    while (nlive > 0) {
        nlive--;
        frame_free(live[nlive].p, live[nlive].order);
    }
    frame_stats(&s);
    buddy_verify();
    tap_check(frame_stats_same(&before, &s), "buddy.random: freeing the survivors restores the shape");
    buddy_set_debug(old);
}

static void test_coalesce(void)
{
    /* A: one order-4 block. B: hosts the metadata. C: its order-3 buddy lies in the hole. */
    static const struct memmap_range map[] = {
        { 0x10000, 0x20000 }, { 0x28000, 0x30000 }, { 0x31000, 0x38000 }, { 0x100000, 0x400000 },
    };
    buddy_init(map, 4, PHYS_ADDR_LIMIT, (uintptr_t)phys_mem);
    struct frame_stats before, s;
    frame_stats(&before);
    static phys_addr_t got[1024];
    unsigned n = 0;
    phys_addr_t p;
    while ((p = frame_alloc(0, 0, FRAME_OWNER_TEST)) != 0)
        got[n++] = p;
    /* Free A's frames in a scrambled order, checking the merges. */
    static const unsigned seq[] = { 0, 1, 3, 2, 4, 6, 5, 7, 15, 14, 13, 12, 8, 10, 9, 11 };
    static const unsigned want_o[][5] = {
        { 1, 0, 0, 0, 0 }, { 0, 1, 0, 0, 0 }, { 1, 1, 0, 0, 0 }, { 0, 0, 1, 0, 0 },
        { 1, 0, 1, 0, 0 }, { 2, 0, 1, 0, 0 }, { 1, 1, 1, 0, 0 }, { 0, 0, 0, 1, 0 },
        { 1, 0, 0, 1, 0 }, { 0, 1, 0, 1, 0 }, { 1, 1, 0, 1, 0 }, { 0, 0, 1, 1, 0 },
        { 1, 0, 1, 1, 0 }, { 2, 0, 1, 1, 0 }, { 1, 1, 1, 1, 0 }, { 0, 0, 0, 0, 1 },
    };
    int ok = 1;
    for (unsigned i = 0; i < 16; i++) {
        frame_free(0x10000 + seq[i] * PG, 0);
        frame_stats(&s);
        for (unsigned k = 0; k < 5; k++)
            if (s.free_blocks[k] != want_o[i][k]) {
                tap_diag("after freeing frame %u: order %u has %llu blocks, want %u", seq[i], k,
                         (unsigned long long)s.free_blocks[k], want_o[i][k]);
                ok = 0;
            }
    }
    char d[160];
    frame_describe(0x10000, d, sizeof(d));
    tap_check(ok && strstr(d, "free head, order 4"), "buddy.coalesce: buddies merge step by step into one order-4 block");
    frame_describe(0x10000 + 5 * PG, d, sizeof(d));
    tap_check(strstr(d, "tail frame of the free block at 0x10000, order 4") != NULL,
              "buddy.coalesce: merged frames are tails (%s)", d);

    /* Range [0x28000, 0x30000) is one order-3 block; its buddy 0x20000 is in a hole. Range
     * [0x31000, 0x38000): its order-0 block at 0x31000 has its buddy 0x30000 in the hole. */
    for (unsigned i = 0; i < n; i++)
        if (got[i] < 0x10000 || got[i] >= 0x20000)
            frame_free(got[i], 0);
    frame_stats(&s);
    buddy_verify();
    frame_describe(0x28000, d, sizeof(d));
    char d2[160];
    frame_describe(0x31000, d2, sizeof(d2));
    tap_check(frame_stats_same(&before, &s) && strstr(d, "free head, order 3") &&
                  strstr(d2, "free head, order 0"),
              "buddy.coalesce: merging stops at range boundaries (%s; %s)", d, d2);
}

static void test_zero_and_junk(void)
{
    init(std_map, STD_N);
    phys_addr_t p = frame_alloc(2, 0, FRAME_OWNER_TEST);
    memset(frame_virt(p), 0x5a, 4 * PG);
    frame_free(p, 2);
    /* Junk fill: the same block comes back (LIFO), holding junk past the list node. */
    phys_addr_t q = frame_alloc(2, 0, FRAME_OWNER_TEST);
    const unsigned char *v = frame_virt(q);
    int junk = q == p;
    for (uint64_t i = 32; junk && i < 4 * PG; i++)
        junk = v[i] == FRAME_JUNK;
    tap_check(junk, "buddy.junk: a freed block is junk-filled (%#x) at BUDDY_DEBUG_JUNK", FRAME_JUNK);
    frame_free(q, 2);
    q = frame_alloc(2, FRAME_ZERO, FRAME_OWNER_TEST);
    int zero = q == p;
    for (uint64_t i = 0; zero && i < 4 * PG; i++)
        zero = v[i] == 0;
    tap_check(zero, "buddy.zero: FRAME_ZERO returns a zeroed block");
    frame_free(q, 2);
}

static void test_detection(void)
{
    init(std_map, STD_N);
    struct frame_stats before, s;
    phys_addr_t p = frame_alloc(0, 0, FRAME_OWNER_KERNEL);
    phys_addr_t big = frame_alloc(3, 0, FRAME_OWNER_PAGETABLE);
    phys_addr_t odd;
    do /* an order-0 frame that is not 2-frame aligned */
        odd = frame_alloc(0, 0, FRAME_OWNER_TEST);
    while (odd != 0 && (odd & PG) == 0);
    frame_free(p, 0);
    frame_stats(&before);

    char addr[32];
    snprintf(addr, sizeof(addr), "%#llx", (unsigned long long)p);
    EXPECT_PANIC("buddy.detect: double free", frame_free(p, 0), "double free", addr, "free head");

    EXPECT_PANIC("buddy.detect: address outside every range", frame_free(0x2000000, 0),
                 "never handed out", "0x2000000");
    EXPECT_PANIC("buddy.detect: address never handed out (inside a free block)",
                 frame_free(0x40000 + 3 * PG, 0), "not the start of a block",
                 "tail frame of the free block at 0x40000");

    snprintf(addr, sizeof(addr), "%#llx", (unsigned long long)(big + PG));
    EXPECT_PANIC("buddy.detect: tail frame of a used block", frame_free(big + PG, 0), addr,
                 "tail frame of the used block", "owner pagetable");
    EXPECT_PANIC("buddy.detect: order mismatch", frame_free(big, 2), "order mismatch",
                 "order 3, owner pagetable");
    EXPECT_PANIC("buddy.detect: misaligned for its order", frame_free(odd, 1), "misaligned",
                 "owner test");
    EXPECT_PANIC("buddy.detect: address not frame-aligned", frame_free(big + 8, 3),
                 "not frame-aligned");
    EXPECT_PANIC("buddy.detect: order out of range", frame_free(big, 19), "order above");
    /* 16 frames of metadata: one order-4 block at the top of the highest range. */
    EXPECT_PANIC("buddy.detect: the allocator's own metadata", frame_free(0x3ff0000, 4),
                 "allocator's own metadata", "owner metadata");
    EXPECT_PANIC("buddy.detect: frame_alloc order 19", frame_alloc(19, 0, FRAME_OWNER_TEST),
                 "order above");
    EXPECT_PANIC("buddy.detect: frame_alloc owner NONE", frame_alloc(0, 0, FRAME_OWNER_NONE),
                 "invalid owner");
    EXPECT_PANIC("buddy.detect: frame_alloc owner METADATA",
                 frame_alloc(0, 0, FRAME_OWNER_METADATA), "invalid owner");
    EXPECT_PANIC("buddy.detect: frame_alloc unknown flags", frame_alloc(0, 0x80, FRAME_OWNER_TEST),
                 "unknown flags");

    frame_stats(&s);
    buddy_verify();
    tap_check(frame_stats_same(&before, &s), "buddy.detect: the allocator is intact after every detection");
    frame_free(big, 3);
    frame_free(odd, 0);
}

static void test_use_after_free(void)
{
    init(std_map, STD_N);
    int old = buddy_set_debug(BUDDY_DEBUG_VERIFY);
    static phys_addr_t got[NFRAMES];
    unsigned n = 0;
    phys_addr_t p;
    while ((p = frame_alloc(0, 0, FRAME_OWNER_TEST)) != 0)
        got[n++] = p;
    p = got[n / 2];
    frame_free(p, 0);
    ((unsigned char *)frame_virt(p))[1000] = 1; /* a write through a dangling pointer */
    char needle[40];
    snprintf(needle, sizeof(needle), "frame %#llx", (unsigned long long)p);
    EXPECT_PANIC("buddy.debug: a write to a freed frame is caught when it is reused",
                 frame_alloc(0, 0, FRAME_OWNER_TEST), "modified after free", needle, "0x3e8");

    init(std_map, STD_N); /* the state after that panic is mid-allocation: start over */
    n = 0;
    while ((p = frame_alloc(0, 0, FRAME_OWNER_TEST)) != 0)
        got[n++] = p;
    p = got[n / 3];
    frame_free(p, 0);
    ((uint64_t *)frame_virt(p))[2] ^= 1; /* the list node's cookie */
    EXPECT_PANIC("buddy.debug: a write over a free list node is caught",
                 frame_alloc(0, 0, FRAME_OWNER_TEST), "list node overwritten");
    buddy_set_debug(old);
}

static void test_bad_init(void)
{
    static const struct memmap_range adjacent[] = { { 0x1000, 0x10000 }, { 0x10000, 0x20000 } };
    EXPECT_PANIC("buddy.init: adjacent ranges are rejected", init(adjacent, 2), "range 1",
                 "non-adjacent");
    static const struct memmap_range zero[] = { { 0x0, 0x10000 } };
    EXPECT_PANIC("buddy.init: frame 0 is rejected", init(zero, 1), "frame 0");
    static const struct memmap_range tiny[] = { { 0x1000, 0x2000 } };
    EXPECT_PANIC("buddy.init: metadata taking all memory is reported", init(tiny, 1),
                 "took all");
    EXPECT_PANIC("buddy.init: nothing below the limit is reported",
                 buddy_init(std_map, STD_N, 0x1000, (uintptr_t)phys_mem), "no usable memory");
    /* The limit clips: only [4K, 640K) and [1M, 2M) remain. */
    buddy_init(std_map, STD_N, 0x200000, (uintptr_t)phys_mem);
    struct frame_stats s;
    frame_stats(&s);
    struct memmap_range got[4];
    unsigned nr = frame_ranges(got, 4);
    tap_check(s.nranges == 2 && nr == 2 && got[0].base == 0x1000 && got[0].end == 0xa0000 &&
                  got[1].base == 0x100000 && got[1].end == 0x200000 &&
                  s.total_frames == (0x9f000 + 0x100000) / PG,
              "buddy.init: the physical limit clips the ranges (%llu frames)",
              (unsigned long long)s.total_frames);
}

/* The real pipeline: an OVMF-like map through memmap_parse into the buddy. */
static void test_with_memmap(void)
{
    static struct memmap m;
    static struct boot_mem_desc d[] = {
        { BOOT_EFI_BOOT_SERVICES_CODE, 0, 0x0, 0, 1, 0 },
        { BOOT_EFI_CONVENTIONAL, 0, 0x1000, 0, 0x9f, 0 },
        { BOOT_EFI_CONVENTIONAL, 0, 0x100000, 0, 0x700, 0 },
        { BOOT_EFI_ACPI_NVS, 0, 0x800000, 0, 0x8, 0 },
        { BOOT_EFI_BOOT_SERVICES_DATA, 0, 0x808000, 0, 0x7f8, 0 },
        { BOOT_MEMTYPE_KERNEL_IMAGE, 0, 0x1000000, 0, 0x80, 0 },
        { BOOT_EFI_LOADER_DATA, 0, 0x1080000, 0, 0x10, 0 },
        { BOOT_MEMTYPE_BOOT_DATA, 0, 0x1090000, 0, 0x20, 0 },
        { BOOT_EFI_CONVENTIONAL, 0, 0x10b0000, 0, 0x4000 - 0x10b0, 0 },
        { BOOT_EFI_RUNTIME_SERVICES_DATA, 0, 0x3f00000, 0, 0x100, 0 },
    };
    int ok = memmap_parse(d, sizeof(d), sizeof(d[0]), &m) == MEMMAP_OK;
    buddy_init(m.usable, m.nusable, PHYS_ADDR_LIMIT, (uintptr_t)phys_mem);
    phys_addr_t p;
    uint64_t n = 0, bad = 0;
    while ((p = frame_alloc(0, 0, FRAME_OWNER_TEST)) != 0) {
        n++;
        for (unsigned i = 0; i < sizeof(d) / sizeof(d[0]); i++)
            if (!memmap_type_usable(d[i].type) && p >= d[i].phys_start &&
                p < d[i].phys_start + d[i].num_pages * PG)
                bad++;
        bad += p == 0 || p < PG;
    }
    struct frame_stats s;
    frame_stats(&s);
    tap_check(ok && bad == 0 && n + s.used_frames[FRAME_OWNER_METADATA] == m.usable_bytes / PG,
              "buddy.memmap: a parsed map's usable frames, and only those, are handed out (%llu)",
              (unsigned long long)n);
}

/* Sparse 6 GiB: order 18 blocks and RAM above 4 GiB, touching only metadata. */
static void test_large(void)
{
    uint64_t span = 6 * GiB;
    void *big = mmap(NULL, span, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (big == MAP_FAILED) {
        tap_check(0, "buddy.large: mmap of a sparse 6 GiB reservation failed");
        return;
    }
    static const struct memmap_range map[] = {
        { 0x1000, 0x9f000 }, { 0x100000, 2 * GiB }, { 4 * GiB, 6 * GiB },
    };
    int old = buddy_set_debug(BUDDY_DEBUG_OFF); /* junk-filling 1 GiB blocks would touch it all */
    buddy_init(map, 3, PHYS_ADDR_LIMIT, (uintptr_t)big);
    struct frame_stats before, s;
    frame_stats(&before);
    buddy_verify();
    /* [1G, 2G) and [4G, 5G) are order-18 blocks; the metadata sits at the top of [5G, 6G). */
    phys_addr_t a = frame_alloc(FRAME_ORDER_1G, 0, FRAME_OWNER_HEAP);
    phys_addr_t b = frame_alloc(FRAME_ORDER_1G, 0, FRAME_OWNER_HEAP);
    phys_addr_t c = frame_alloc(FRAME_ORDER_1G, 0, FRAME_OWNER_HEAP);
    phys_addr_t m2 = frame_alloc(FRAME_ORDER_2M, 0, FRAME_OWNER_HEAP);
    int ok = before.free_blocks[FRAME_ORDER_1G] == 2 && a && b && c == 0 && a % GiB == 0 &&
             b % GiB == 0 && a != b && m2 % (2 * MiB) == 0 &&
             ((a == GiB && b == 4 * GiB) || (a == 4 * GiB && b == GiB));
    tap_check(ok, "buddy.large: two 1 GiB blocks (at 1 GiB and 4 GiB), then none: %#llx %#llx %#llx",
              (unsigned long long)a, (unsigned long long)b, (unsigned long long)c);
    frame_stats(&s);
    tap_check(s.used_frames[FRAME_OWNER_HEAP] == 2 * (1ull << 18) + 512 && s.failed == 1,
              "buddy.large: counters follow 1 GiB and 2 MiB blocks");
    frame_free(a, FRAME_ORDER_1G);
    frame_free(b, FRAME_ORDER_1G);
    frame_free(m2, FRAME_ORDER_2M);
    /* Every order-17 block out, then back: halves must merge into 1 GiB blocks again. */
    static phys_addr_t half[64];
    unsigned nh = 0;
    while (nh < 64 && (half[nh] = frame_alloc(17, 0, FRAME_OWNER_HEAP)) != 0)
        nh++;
    frame_stats(&s);
    ok = nh >= 4 && s.free_blocks[FRAME_ORDER_1G] == 0 && s.free_blocks[17] == 0;
    while (nh > 0)
        frame_free(half[--nh], 17);
    frame_stats(&s);
    tap_check(ok && s.free_blocks[FRAME_ORDER_1G] == 2,
              "buddy.large: 512 MiB halves coalesce into 1 GiB blocks (order %d)", FRAME_ORDER_MAX);
    buddy_verify();
    tap_check(frame_stats_same(&before, &s) && s.total_frames == (0x9e000 + 2 * GiB - 0x100000 + 2 * GiB) / PG,
              "buddy.large: RAM above 4 GiB with holes, all frames back (%llu frames, %llu bytes of "
              "metadata)",
              (unsigned long long)s.total_frames, (unsigned long long)s.metadata_bytes);
    buddy_set_debug(old);
    munmap(big, span);
}

int main(void)
{
    seed = tap_seed();
    rng = seed;
    buddy_panic_hook = test_panic_hook;

    phys_mem = mmap(NULL, PHYS_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (phys_mem == MAP_FAILED) {
        tap_check(0, "mmap of the fake physical memory");
        return tap_done();
    }
    init(std_map, STD_N);
    run_cases(); /* tests/mm/buddy_cases.c: each leaves the allocator as it found it */
    test_init();
    test_all_frames(0);
    test_all_frames(1);
    test_all_orders();
    test_random();
    test_coalesce();
    test_zero_and_junk();
    test_detection();
    test_use_after_free();
    test_bad_init();
    test_with_memmap();
    test_large();
    return tap_done();
}
