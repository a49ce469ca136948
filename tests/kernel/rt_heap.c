/*
 * rt_heap.c - the runtime heap inside the kernel (rt/ over mm/sysmem.c):
 * every size class filled across several spans with every object checked,
 * large and huge objects, memstats identities, the two views of memory
 * agreeing frame for frame, and the scavenger giving frames back.
 *
 * The heap keeps what it allocates until the collector exists, so these
 * tests are KTEST_KEEPS_FRAMES: the runner does not count their frames.
 */
#include "kernel/ktest.h"
#include "kernel/krun.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/string.h"
#include "mm/buddy.h"
#include "mm/layout.h"
#include "rt/mheap.h"
#include "rt/rt.h"
#include "rt/sizeclasses.h"
#include "rt/sys.h"

#define SPANS_PER_CLASS 3

/* A failing identity prints itself and ends the test (the runner counts it). */
#define ID(cond)                                                                                 \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            ktest_diag("%s: identity broken: %s", phase, #cond);                                 \
            KT_ASSERT(cond);                                                                     \
        }                                                                                        \
    } while (0)

/* Go's MemStats identities, and the kernel's: the OS view equals the runtime's. */
static void check_identities(const char *phase)
{
    struct rt_memstats m;
    struct sys_stats os;
    struct frame_stats fs;
    rt_read_memstats(&m);
    sys_read_stats(&os);
    frame_stats(&fs);
    ID(m.heap_idle + m.heap_inuse == m.heap_sys);
    ID(m.heap_released <= m.heap_idle);
    ID(m.sys == m.heap_sys + m.stack_sys + m.mspan_sys + m.mcache_sys + m.buckhash_sys + m.gc_sys + m.other_sys);
    ID(m.heap_alloc <= m.heap_inuse);
    ID(m.heap_objects == m.mallocs - m.frees);
    ID(os.prepared + os.ready == m.sys);
    ID(os.ready == m.sys - m.heap_released);
    /* Frame for frame: what sys_* says is Ready is what the frame allocator lent the runtime. */
    uint64_t rt_frames = fs.used_frames[FRAME_OWNER_HEAP] + fs.used_frames[FRAME_OWNER_RTMETA] +
                         fs.used_frames[FRAME_OWNER_STACK];
    ID(rt_frames * 4096 == os.ready);
}

static uint64_t pattern(unsigned cls, unsigned i, unsigned w) { return ((uint64_t)cls << 48) ^ ((uint64_t)i << 16) ^ w; }

/* Fill SPANS_PER_CLASS spans of class cls; check zeroing, alignment, the
 * span's class, and finally that no object overwrote another. */
static void fill_class(unsigned cls, bool noscan, void **objs, unsigned n)
{
    size_t size = rt_class[cls].size;
    static const uint8_t first_word_ptr[] = {0x1};
    struct rt_type t = {size, 8, 8, first_word_ptr, "filler"}; /* word 0 is a pointer: a scan span */
    for (unsigned i = 0; i < n; i++) {
        uint64_t *o = noscan ? rt_alloc(size, NULL) : rt_alloc(size, &t);
        objs[i] = o;
        KT_NE(o, NULL);
        struct mspan *s = spanof(o);
        KT_NE(s, NULL);
        /* Objects sit at multiples of their size from the span's start, so each
         * is aligned to the size's largest power-of-two factor (a page at most). */
        size_t align = size & (~size + 1);
        KT_EQ((uint64_t)o % (align < RT_PAGE_SIZE ? align : RT_PAGE_SIZE), 0);
        KT_EQ(((uint64_t)o - s->startaddr) % size, 0);
        KT_EQ(spanclass_sizeclass(s->spanclass), cls);
        KT_EQ(spanclass_noscan(s->spanclass), noscan);
        KT_EQ((uint64_t)rt_object_base((char *)o + size - 1), (uint64_t)o); /* last byte maps back */
        for (unsigned w = 0; w < size / 8; w++) {
            KT_EQ(o[w], 0); /* zeroed memory guaranteed */
            o[w] = pattern(cls, i, w);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t *o = objs[i];
        for (unsigned w = 0; w < size / 8; w++)
            if (o[w] != pattern(cls, i, w)) {
                ktest_diag("class %u object %u word %u overwritten: %#llx", cls, i, w, (unsigned long long)o[w]);
                KT_EQ(o[w], pattern(cls, i, w));
            }
    }
}

KTEST_KEEPS_FRAMES(rt_heap_every_class, "rt.heap.every_size_class")
{
    static void *objs[SPANS_PER_CLASS * 1024];
    uint64_t objects = 0;
    for (unsigned cls = 2; cls < RT_NUM_SIZE_CLASSES; cls++) { /* class 1 (8 B) goes to the tiny allocator */
        unsigned n = rt_class[cls].nelems * SPANS_PER_CLASS;
        KT_LE(n, sizeof(objs) / sizeof(objs[0]));
        fill_class(cls, cls % 2 == 0, objs, n);
        objects += n;
    }
    ktest_diag("%llu objects in %u classes, %d spans each, pattern-checked", (unsigned long long)objects,
               RT_NUM_SIZE_CLASSES - 2, SPANS_PER_CLASS);
    check_identities("after every class");
}

/* One large object, checked; garbage once this returns: the caller's rt_gc
 * (outside a world it scans the caller's stack from its stack pointer up,
 * and this frame lies below it) frees it, as the sweeper frees any
 * unreachable large object. */
__attribute__((noinline)) static void large_object_once(size_t size)
{
    uint8_t *p = rt_alloc(size, NULL);
    KT_EQ(layout_region_of((uint64_t)p), REGION_RT_HEAP);
    KT_EQ((uint64_t)p % RT_PAGE_SIZE, 0);
    KT_EQ(p[0], 0);
    KT_EQ(p[size - 1], 0);
    p[0] = 1;
    p[size - 1] = 2;
    KT_EQ((uint64_t)rt_object_base(p + size / 2), (uint64_t)p);
    KT_EQ(spanof(p)->npages, (size + RT_PAGE_SIZE - 1) / RT_PAGE_SIZE);
}

KTEST_KEEPS_FRAMES(rt_heap_large, "rt.heap.large_and_huge")
{
    size_t sizes[] = {32769, 100 << 10, 1 << 20, 70 << 20 /* more than an arena */};
    unsigned n = sizeof(sizes) / sizeof(sizes[0]);
    if (frame_free_count() * 4096 < (96ull << 20)) { /* e.g. --mem 64M: a 70 MiB object cannot fit */
        ktest_diag("only %llu MiB free: the object larger than an arena is left out of this run",
                   (unsigned long long)(frame_free_count() >> 8));
        n--;
    }
    /* The collector frees each once nothing refers to it. A stale word of an
     * earlier case (a static still holding a freed object's address, which
     * the new object reuses) may keep one alive: conservative roots can (seen
     * once in make test, 6 GiB machine). So up to three tries per size, each
     * a new object at a new address; a collector that never frees one fails. */
    for (unsigned i = 0; i < n; i++) {
        bool freed = false;
        for (int attempt = 0; attempt < 3 && !freed; attempt++) {
            struct rt_memstats m0, m1;
            large_object_once(sizes[i]);
            rt_read_memstats(&m0);
            rt_gc();
            rt_read_memstats(&m1);
            size_t bytes = (sizes[i] + RT_PAGE_SIZE - 1) & ~(size_t)(RT_PAGE_SIZE - 1);
            freed = m1.by_size[0].frees >= m0.by_size[0].frees + 1 && m0.heap_inuse - m1.heap_inuse >= bytes;
            if (!freed)
                ktest_diag("the %zu-byte object was kept (a stale root?): trying again", sizes[i]);
        }
        KT_ASSERT(freed);
    }
    check_identities("after large objects");
}

__attribute__((noinline)) static void dirty_16m_once(void)
{
    uint8_t *p = rt_alloc(16 << 20, NULL);
    memset(p, 0x5a, 16 << 20);
}

__attribute__((noinline)) static void zero_16m_once(void)
{
    uint64_t *q = rt_alloc(16 << 20, NULL);
    for (size_t i = 0; i < (16 << 20) / 8; i += 512)
        KT_EQ(q[i], 0);
}

KTEST_KEEPS_FRAMES(rt_heap_scavenge, "rt.heap.scavenge_returns_frames")
{
    uint64_t free0, back = 0;
    struct rt_memstats m0, m1;
    /* Up to three tries: a stale root may keep one object (see large_and_huge). */
    for (int attempt = 0; attempt < 3 && back < (16 << 20) / 4096; attempt++) {
        dirty_16m_once();
        check_identities("before freeing");
        free0 = frame_free_count();
        rt_read_memstats(&m0);
        rt_gc(); /* nothing refers to the 16 MiB object: the sweep frees its pages */
        rt_free_os_memory();
        rt_read_memstats(&m1);
        back = frame_free_count() - free0;
    }
    ktest_diag("scavenger: HeapReleased +%llu KiB, frame allocator +%llu frames",
               (unsigned long long)((m1.heap_released - m0.heap_released) >> 10), (unsigned long long)back);
    KT_GE(back, (16 << 20) / 4096);                             /* at least the 16 MiB came back */
    KT_EQ(back * 4096, m1.heap_released - m0.heap_released);    /* exactly what the heap released */
    check_identities("after scavenging");
    /* Reused, the released pages read as zero again (sys.h rule 5). */
    zero_16m_once();
    rt_gc();
}

/* The 16 MiB live set on the 64 MiB machine, in a boot of its own (tests/boot/cases):
 * tests/rt/gc_cases.c's churn, which panics or prints "bounded: no" if the heap grows. */
bool gc_live_set_bounded(uint64_t live_bytes, int nprocs); /* tests/rt/rt_cases.h */
KRUN(rt_gc_live16m, "rt.gc_live16m", "a 16 MiB live set under 8x its size of garbage: the heap stays bounded")
{
    bool ok = gc_live_set_bounded(16u << 20, 0);
    kprintf("rt.gc_live16m: bounded: %s\n", ok ? "yes" : "no");
    if (!ok)
        panic("rt.gc_live16m: the heap was not bounded by its goal");
}

/* For the failure-path boot: allocate 1 MiB objects until the heap cannot
 * grow; the runtime must stop with a message naming the request. */
KRUN(rt_oom, "rt.oom", "allocate until the heap cannot grow: out of memory must be a clear panic")
{
    for (unsigned long i = 0;; i++) {
        uint8_t *p = rt_alloc(1 << 20, NULL);
        p[0] = 1;
        if (i % 16 == 0)
            kprintf("rt.oom: %lu MiB allocated, %lu frames free\n", i, frame_free_count());
    }
}
