/*
 * mm_sys.c - the runtime boundary on the kernel (rt/sys.c over mm/sysmem.c):
 * each arrow of the state machine, what it costs in frames (the OS view) and
 * in sys_stats (the runtime view), what the fault report says about each
 * state, and the errors sys_reserve and sys_map can return.
 */
#include "kernel/crash.h"
#include "kernel/ktest.h"
#include "kernel/lib/string.h"
#include "kernel/trap.h"
#include "mm/buddy.h"
#include "mm/layout.h"
#include "mm/paging.h"
#include "mm/sysmem.h"
#include "rt/sys.h"

#define NPAGES 16
#define N (NPAGES * PAGE_SIZE)

static bool contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* What the fault report would say about va. */
static const char *describe(uint64_t va)
{
    static char buf[160];
    if (!layout_describe(va, buf, sizeof(buf)))
        return "(not described)";
    return buf;
}

static uint64_t owner_frames(enum frame_owner o)
{
    struct frame_stats st;
    frame_stats(&st);
    return st.used_frames[o];
}

static bool all_zero(const uint64_t *p, size_t n)
{
    for (size_t i = 0; i < n / 8; i++)
        if (p[i])
            return false;
    return true;
}

KTEST(mm_sys_state_machine, "mm.sys.state_machine")
{
    uint64_t free0 = frame_free_count(), meta0 = owner_frames(FRAME_OWNER_RTMETA), stat = 0;
    struct sys_stats s0, s;
    void *v;
    sys_read_stats(&s0);

    /* None -> Reserved: address space only. */
    KT_EQ(sys_reserve(SYS_REGION_META, NULL, N, &v), SYS_OK);
    uint64_t va = (uint64_t)v;
    KT_EQ(layout_region_of(va), REGION_RT_META);
    KT_EQ(frame_free_count(), free0);
    ktest_diag("reserved [%p, +%llu KiB): %s", v, (unsigned long long)(N >> 10), describe(va));
    KT_ASSERT(contains(describe(va), "runtime metadata: reserved, not committed"));
    KT_EXPECT_FAULT(VEC_PF, crash_read(va));

    /* Reserved -> Prepared: the commit charge, still no frames. */
    uint64_t charge0 = sysmem_charge_pages();
    KT_EQ(sys_map(v, N, &stat), SYS_OK);
    KT_EQ(stat, N);
    KT_EQ(sysmem_charge_pages() - charge0, NPAGES);
    KT_ASSERT(contains(describe(va + PAGE_SIZE), "committed (Prepared)"));
    KT_EXPECT_FAULT(VEC_PF, crash_read(va + PAGE_SIZE));

    /* Prepared -> Ready: frames of the region's owner, zeroed. */
    sys_used(v, N);
    KT_EQ(owner_frames(FRAME_OWNER_RTMETA) - meta0, NPAGES);
    KT_EQ(sysmem_charge_pages(), charge0);
    sys_read_stats(&s);
    KT_EQ(s.ready - s0.ready, N);
    KT_ASSERT(all_zero(v, N));
    memset(v, 0xa5, N);
    KT_ASSERT(contains(describe(va), "Ready"));

    /* Ready -> Prepared: the frames go back to the frame allocator at once. */
    uint64_t free_ready = frame_free_count();
    sys_unused(v, N);
    KT_EQ(frame_free_count() - free_ready, NPAGES);
    KT_EQ(owner_frames(FRAME_OWNER_RTMETA), meta0);
    KT_EXPECT_FAULT(VEC_PF, crash_read(va));

    /* And back: the old contents are gone (sys.h rule 5). */
    sys_used(v, N);
    KT_ASSERT(all_zero(v, N));

    /* Ready -> faulting (debug: freed stacks). */
    sys_fault(v, N);
    KT_EQ(owner_frames(FRAME_OWNER_RTMETA), meta0);
    KT_ASSERT(contains(describe(va), "made to fault by sys_fault"));
    KT_EXPECT_FAULT(VEC_PF, crash_write_byte(va + N - 1, 1));

    /* -> None: everything is as it was. */
    sys_free(v, N, N, N, &stat);
    KT_EQ(stat, 0);
    KT_ASSERT(contains(describe(va), "not reserved"));
    sys_read_stats(&s);
    KT_EQ(s.reserved, s0.reserved);
    KT_EQ(s.ready, s0.ready);
    KT_EQ(s.prepared, s0.prepared);
    KT_EQ(sysmem_charge_pages(), charge0);
    KT_EQ(frame_free_count(), free0);
}

KTEST(mm_sys_errors, "mm.sys.errors")
{
    void *v, *w;
    uint64_t stat = 0;
    uint64_t free0 = frame_free_count();

    /* A hint must lie in its region and overlap no reservation. */
    KT_EQ(sys_reserve(SYS_REGION_HEAP, (void *)LAYOUT_RT_STACK_BASE, N, &v), SYS_ERANGE);
    KT_EQ(sys_reserve(SYS_REGION_HEAP, (void *)(LAYOUT_RT_HEAP_BASE + LAYOUT_RT_HEAP_SIZE - PAGE_SIZE), N, &v),
          SYS_ERANGE);
    uint64_t hint = LAYOUT_RT_HEAP_BASE + LAYOUT_RT_HEAP_SIZE - (1ull << 30); /* far from the heap's arenas */
    KT_EQ(sys_reserve(SYS_REGION_HEAP, (void *)hint, N, &v), SYS_OK);
    KT_EQ((uint64_t)v, hint);
    KT_EQ(sys_reserve(SYS_REGION_HEAP, (void *)(hint + PAGE_SIZE), N, &w), SYS_EBUSY);

    /* Committing more than the free frames is refused, and changes nothing. */
    void *big;
    size_t big_n = (size_t)(free0 + 1) * PAGE_SIZE;
    KT_EQ(sys_reserve(SYS_REGION_META, NULL, big_n, &big), SYS_OK);
    uint64_t charge0 = sysmem_charge_pages();
    KT_EQ(sys_map(big, big_n, &stat), SYS_ENOMEM);
    KT_EQ(stat, 0);
    KT_EQ(sysmem_charge_pages(), charge0);
    KT_EQ(vm_page_state((uint64_t)big), VM_PAGE_NONE);
    ktest_diag("sys_map of %llu MiB with %llu MiB free: %s", (unsigned long long)(big_n >> 20),
               (unsigned long long)(free0 >> 8), sys_strerror(SYS_ENOMEM));
    sys_free(big, big_n, 0, 0, NULL);
    sys_free(v, N, 0, 0, NULL);
    KT_EQ(frame_free_count(), free0);
}
