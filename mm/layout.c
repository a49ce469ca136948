/*
 * layout.c - the region table of mm/layout.h and the address-to-region lookup.
 */
#include "mm/layout.h"

#include "kernel/lib/kprintf.h"
#include "mm/kstack.h"
#include "mm/paging.h"
#include "mm/sysmem.h"

const struct layout_region layout_regions[REGION_COUNT] = {
    [REGION_DIRECT_MAP] = {"direct map", LAYOUT_DIRECT_MAP_BASE, LAYOUT_DIRECT_MAP_SIZE, "OS",
                           "all RAM: physical p at base + p"},
    [REGION_RT_HEAP] = {"runtime heap", LAYOUT_RT_HEAP_BASE, LAYOUT_RT_HEAP_SIZE, "runtime via sys_*",
                        "64 MiB heap arenas, reserved then committed on demand"},
    [REGION_RT_STACK] = {"runtime stacks", LAYOUT_RT_STACK_BASE, LAYOUT_RT_STACK_SIZE, "runtime via sys_*",
                         "coroutine stacks, each above an unmapped guard page"},
    [REGION_RT_META] = {"runtime metadata", LAYOUT_RT_META_BASE, LAYOUT_RT_META_SIZE, "runtime via sys_*",
                        "spans, bitmaps, per-P structures (never collected)"},
    [REGION_KVMAP] = {"kernel mappings", LAYOUT_KVMAP_BASE, LAYOUT_KVMAP_SIZE, "OS",
                      "pages the kernel maps itself (tests, devices)"},
    [REGION_KSTACK] = {"kernel stacks", LAYOUT_KSTACK_BASE, LAYOUT_KSTACK_SIZE, "OS",
                       "per-CPU kernel stacks, each above an unmapped guard page"},
    [REGION_KERNEL] = {"kernel image", LAYOUT_KERNEL_BASE, LAYOUT_KERNEL_SIZE, "OS",
                       "text RX, rodata R, data+bss RW (W^X per page)"},
};

enum layout_region_id layout_region_of(uint64_t va)
{
    for (int r = 0; r < REGION_COUNT; r++)
        if (va - layout_regions[r].base < layout_regions[r].size)
            return (enum layout_region_id)r;
    return REGION_NONE;
}

bool layout_describe(uint64_t va, char *buf, size_t len)
{
    enum layout_region_id r = layout_region_of(va);
    struct paging_stats st;

    switch (r) {
    case REGION_RT_HEAP:
    case REGION_RT_STACK:
    case REGION_RT_META:
        return sysmem_describe(va, buf, len);
    case REGION_KSTACK:
        if (kstack_describe(va, buf, len))
            return true;
        /* fall through */
    case REGION_KVMAP:
        ksnprintf(buf, len, "%s: %s", layout_regions[r].name,
                  vm_page_state(va) == VM_PAGE_MAPPED ? "mapped" : "unmapped page");
        return true;
    case REGION_DIRECT_MAP:
        paging_stats(&st);
        if (st.direct_map_bytes && va - LAYOUT_DIRECT_MAP_BASE >= st.direct_map_bytes) {
            ksnprintf(buf, len, "direct map: beyond the %lu MiB of physical space mapped",
                      st.direct_map_bytes >> 20);
            return true;
        }
        return false;
    default:
        return false;
    }
}
