/*
 * mm_paging.c - the kernel's own page tables (mm/paging.c): the layout they
 * build, map/unmap/protect/translate checked through the direct map and by
 * the faults they must cause, and page-table pages returned when empty.
 */
#include "kernel/crash.h"
#include "kernel/krun.h"
#include "kernel/ktest.h"
#include "kernel/lib/percpu.h"
#include "kernel/sections.h"
#include "kernel/lib/string.h"
#include "kernel/trap.h"
#include "mm/buddy.h"
#include "mm/layout.h"
#include "mm/paging.h"

#define TEST_VA LAYOUT_KVMAP_BASE

static const uint32_t rodata_word = 0x0dd5eed5;
static uint32_t data_word = 1;

KTEST(mm_paging_kernel_wx, "mm.paging.kernel_wx")
{
    unsigned prot;
    uint64_t size;

    KT_ASSERT(vm_translate((uint64_t)&crash, NULL, &prot, &size));
    KT_EQ(prot, VM_EXEC); /* text: read + execute, not write */
    KT_EQ(size, PAGE_SIZE);
    KT_ASSERT(vm_translate((uint64_t)&rodata_word, NULL, &prot, NULL));
    KT_EQ(prot, VM_READ); /* rodata: read only */
    KT_ASSERT(vm_translate((uint64_t)&data_word, NULL, &prot, NULL));
    KT_EQ(prot, VM_WRITE); /* data: read + write, no execute */
    /* The faults the permissions promise. */
    KT_EXPECT_FAULT(VEC_PF, crash_write_byte((uint64_t)&crash, 0x90));
    KT_EQ(trap_last_fault()->error_code & (PF_ERR_P | PF_ERR_W), PF_ERR_P | PF_ERR_W);
    KT_EXPECT_FAULT(VEC_PF, crash_write_byte((uint64_t)&rodata_word, 0));
    KT_EQ(trap_last_fault()->cr2, (uint64_t)&rodata_word);
}

KTEST(mm_paging_direct_map, "mm.paging.direct_map")
{
    struct paging_stats st;
    uint64_t pa, size;
    unsigned prot;

    paging_stats(&st);
    KT_GE(st.direct_map_bytes, 4ull << 30); /* always covers the 32-bit MMIO hole */
    KT_ASSERT(st.direct_map_page_size == (1ull << 30) || st.direct_map_page_size == (2ull << 20));
    ktest_diag("direct map: %llu MiB with %s pages", (unsigned long long)(st.direct_map_bytes >> 20),
               st.direct_map_page_size == (1ull << 30) ? "1 GiB" : "2 MiB");
    KT_ASSERT(vm_translate(LAYOUT_DIRECT_MAP_BASE + 0x12345678, &pa, &prot, &size));
    KT_EQ(pa, 0x12345678);
    KT_EQ(prot, VM_WRITE);
    KT_EQ(size, st.direct_map_page_size);
    /* The kernel image's frames are also visible through the direct map. */
    KT_ASSERT(vm_translate((uint64_t)&rodata_word, &pa, NULL, NULL));
    KT_EQ(*(volatile uint32_t *)(LAYOUT_DIRECT_MAP_BASE + pa), rodata_word);
    /* Past the mapped physical space there is nothing. */
    KT_ASSERT(!vm_translate(LAYOUT_DIRECT_MAP_BASE + st.direct_map_bytes, NULL, NULL, NULL));
    KT_EXPECT_FAULT(VEC_PF, crash_read(LAYOUT_DIRECT_MAP_BASE + st.direct_map_bytes));
}

KTEST(mm_paging_low_half, "mm.paging.low_half_unmapped")
{
    KT_ASSERT(!vm_translate(0, NULL, NULL, NULL));
    KT_ASSERT(!vm_translate(0x100000, NULL, NULL, NULL));
    KT_ASSERT(!vm_translate(0x00007ffffffff000ull, NULL, NULL, NULL));
    KT_EXPECT_FAULT(VEC_PF, crash_read(0x100000));
    KT_EQ(trap_last_fault()->error_code & PF_ERR_P, 0);
}

KTEST(mm_paging_map_unmap, "mm.paging.map_protect_unmap")
{
    uint64_t free0 = frame_free_count();
    phys_addr_t pa = frame_alloc(0, FRAME_ZERO, FRAME_OWNER_TEST);
    KT_NE(pa, 0);
    uint64_t *direct = frame_virt(pa);
    volatile uint64_t *mapped = (volatile uint64_t *)TEST_VA;

    KT_EQ(vm_map(TEST_VA, pa, PAGE_SIZE, VM_WRITE), 0);
    KT_EQ(vm_page_state(TEST_VA), VM_PAGE_MAPPED);
    mapped[0] = 0xfeedfacecafebeefull; /* write through the new mapping ... */
    KT_EQ(direct[0], 0xfeedfacecafebeefull); /* ... read through the direct map */
    direct[511] = 42;
    KT_EQ(mapped[511], 42);

    uint64_t got_pa;
    unsigned prot;
    KT_ASSERT(vm_translate(TEST_VA + 8, &got_pa, &prot, NULL));
    KT_EQ(got_pa, pa + 8);
    KT_EQ(prot, VM_WRITE);

    vm_protect(TEST_VA, PAGE_SIZE, VM_READ);
    KT_EQ(mapped[0], 0xfeedfacecafebeefull); /* still readable */
    KT_EXPECT_FAULT(VEC_PF, crash_write_byte(TEST_VA, 1));
    KT_EQ(trap_last_fault()->cr2, TEST_VA);
    KT_EQ(trap_last_fault()->error_code & (PF_ERR_P | PF_ERR_W), PF_ERR_P | PF_ERR_W);

    KT_EQ(vm_unmap(TEST_VA, PAGE_SIZE, false), 1);
    KT_ASSERT(!vm_translate(TEST_VA, NULL, NULL, NULL));
    KT_EXPECT_FAULT(VEC_PF, crash_read(TEST_VA)); /* the TLB forgot it too */
    KT_EQ(trap_last_fault()->error_code & PF_ERR_P, 0);
    KT_EQ(direct[511], 42); /* the frame itself is untouched */
    frame_free(pa, 0);
    KT_EQ(frame_free_count(), free0); /* page-table pages went back as well */
}

/* A range crossing a 2 MiB and a 1 GiB boundary: tables at every level are
 * created, then all freed again by the unmap (counted by paging_stats). */
KTEST(mm_paging_tables_freed, "mm.paging.tables_freed")
{
    struct paging_stats before, mid, after;
    const uint64_t n = 64;
    uint64_t va = TEST_VA + (1ull << 30) - 32 * PAGE_SIZE; /* 32 pages each side of 1 GiB */
    uint64_t free0 = frame_free_count();
    phys_addr_t block = frame_alloc(6, 0, FRAME_OWNER_TEST); /* 64 frames */
    KT_NE(block, 0);

    paging_stats(&before);
    KT_EQ(vm_map(va, block, n * PAGE_SIZE, VM_WRITE), 0);
    paging_stats(&mid);
    /* Two PDs and two PTs at least (the PDPT may already exist). */
    KT_GE(mid.table_pages - before.table_pages, 4);
    KT_EQ(mid.mapped_bytes[REGION_KVMAP] - before.mapped_bytes[REGION_KVMAP], n * PAGE_SIZE);
    for (uint64_t i = 0; i < n; i++)
        *(volatile uint64_t *)(va + i * PAGE_SIZE) = i;
    for (uint64_t i = 0; i < n; i++)
        KT_EQ(*(volatile uint64_t *)frame_virt(block + i * PAGE_SIZE), i);

    KT_EQ(vm_unmap(va, n * PAGE_SIZE, false), n);
    paging_stats(&after);
    KT_EQ(after.table_pages, before.table_pages);
    KT_EQ(after.mapped_bytes[REGION_KVMAP], before.mapped_bytes[REGION_KVMAP]);
    frame_free(block, 6);
    KT_EQ(frame_free_count(), free0);
}

KTEST(mm_paging_software_states, "mm.paging.software_states")
{
    uint64_t free0 = frame_free_count();
    KT_EQ(vm_page_state(TEST_VA), VM_PAGE_NONE);
    KT_EQ(vm_mark(TEST_VA, 2 * PAGE_SIZE, VM_PAGE_PREPARED), 0);
    KT_EQ(vm_page_state(TEST_VA), VM_PAGE_PREPARED);
    KT_EQ(vm_page_state(TEST_VA + PAGE_SIZE), VM_PAGE_PREPARED);
    KT_EXPECT_FAULT(VEC_PF, crash_read(TEST_VA)); /* a software state is never present */

    phys_addr_t pa = frame_alloc(0, FRAME_ZERO, FRAME_OWNER_TEST);
    KT_EQ(vm_map(TEST_VA, pa, PAGE_SIZE, VM_WRITE), 0); /* replaces the state */
    uint64_t present, prepared, faulted;
    vm_unmap_ex(TEST_VA, 2 * PAGE_SIZE, true, VM_PAGE_FAULT, &present, &prepared, &faulted);
    KT_EQ(present, 1);
    KT_EQ(prepared, 1);
    KT_EQ(faulted, 0);
    KT_EQ(vm_page_state(TEST_VA), VM_PAGE_FAULT);          /* the present page became FAULT */
    KT_EQ(vm_page_state(TEST_VA + PAGE_SIZE), VM_PAGE_PREPARED); /* the other kept its state */
    vm_unmap_ex(TEST_VA, 2 * PAGE_SIZE, false, VM_PAGE_NONE, &present, &prepared, &faulted);
    KT_EQ(present, 0);
    KT_EQ(prepared, 1);
    KT_EQ(faulted, 1);
    KT_EQ(vm_page_state(TEST_VA), VM_PAGE_NONE);
    KT_EQ(frame_free_count(), free0); /* the frame was freed by the unmap, the tables too */
}

/* The per-CPU cache in front of the buddy (mm/buddy.c): order-0 frees land
 * in this CPU's cache, still count as free, never exceed the cap, and a
 * stats snapshot drains them back to the lists. */
KTEST(mm_frame_cache, "mm.buddy.per_cpu_cache")
{
    static phys_addr_t held[100];
    struct frame_stats st;
    frame_stats(&st); /* drains this CPU's cache */
    uint64_t free0 = frame_free_count();
    KT_EQ(frame_cache_count(cpu_id()), 0);
    for (unsigned i = 0; i < 100; i++) {
        held[i] = frame_alloc(0, 0, FRAME_OWNER_TEST);
        KT_NE(held[i], 0);
    }
    KT_EQ(frame_free_count(), free0 - 100); /* frames in the cache count as free */
    for (unsigned i = 0; i < 100; i++)
        frame_free(held[i], 0);
    unsigned cached = frame_cache_count(cpu_id());
    ktest_diag("after 100 frees: %u frames in CPU %u's cache", cached, cpu_id());
    KT_GT(cached, 0);
    KT_LE(cached, 64);
    KT_EQ(frame_free_count(), free0);
    frame_stats(&st);
    KT_EQ(frame_cache_count(cpu_id()), 0);
    KT_EQ(st.used_frames[FRAME_OWNER_TEST], 0);
}

/* For the failure-path boot: the second free of a frame sitting in the cache. */
KRUN(mm_double_free, "mm.double_free", "free an order-0 frame twice: the allocator must name it")
{
    phys_addr_t p = frame_alloc(0, 0, FRAME_OWNER_TEST);
    frame_free(p, 0);
    frame_free(p, 0);
}
