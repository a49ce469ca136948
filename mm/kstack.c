/*
 * kstack.c - per-CPU kernel stacks with guard pages (see kstack.h).
 *
 * Frames are order-0 blocks of FRAME_OWNER_KSTACK, mapped RW+NX; a stack
 * lives as long as its CPU (for the whole boot). Slot layout offsets are
 * computed once by area_at(), so the allocator and the fault report agree.
 * Area k >= 1 is IST slot k of kernel/gdt.h; kernel/smp.c, which hands these
 * stacks to gdt_init_cpu, checks that the two numberings agree.
 */
#include "mm/kstack.h"

#include "kernel/lib/kprintf.h"
#include "mm/buddy.h"
#include "mm/layout.h"
#include "mm/paging.h"

#define NAREAS (1 + KSTACK_NIST) /* area 0: the kernel stack; area k: IST slot k */

static const char *const area_names[NAREAS] = {"kernel", "#DF IST", "NMI IST", "#MC IST", "IRQ IST",
                                               "exception IST"};

_Static_assert(KSTACK_GUARD_SIZE + KSTACK_SIZE + KSTACK_NIST * (KSTACK_GUARD_SIZE + KSTACK_IST_SIZE) <=
                   KSTACK_SLOT_SIZE,
               "a CPU's stacks fit its slot");
_Static_assert(LAYOUT_KSTACK_SIZE / KSTACK_SLOT_SIZE >= 64, "a slot for every CPU (MAX_CPUS)");

/* Offset of area a's guard page in a slot, and the area's size. */
static uint64_t area_at(unsigned a, uint64_t *size)
{
    uint64_t off = 0;
    for (unsigned i = 0; i < a; i++)
        off += KSTACK_GUARD_SIZE + (i == 0 ? KSTACK_SIZE : KSTACK_IST_SIZE);
    *size = a == 0 ? KSTACK_SIZE : KSTACK_IST_SIZE;
    return off;
}

static uint64_t slot_base(unsigned cpu) { return LAYOUT_KSTACK_BASE + (uint64_t)cpu * KSTACK_SLOT_SIZE; }

int kstack_alloc(unsigned cpu, struct kstack_set *out)
{
    uint64_t base = slot_base(cpu);
    for (unsigned a = 0; a < NAREAS; a++) {
        uint64_t size, stack = base + area_at(a, &size) + KSTACK_GUARD_SIZE;
        for (uint64_t off = 0; off < size; off += PAGE_SIZE) {
            phys_addr_t pa = frame_alloc(0, FRAME_ZERO, FRAME_OWNER_KSTACK);
            if (pa == 0 || vm_map(stack + off, pa, PAGE_SIZE, VM_WRITE) != 0) {
                if (pa)
                    frame_free(pa, 0);
                vm_unmap(base, KSTACK_SLOT_SIZE, true);
                return -1;
            }
        }
        if (a == 0)
            out->top = stack + size;
        else
            out->ist_top[a - 1] = stack + size;
    }
    return 0;
}

/* The slot's CPU and area holding va; *in_guard tells guard page or stack. */
static bool locate(uint64_t va, unsigned *cpu, unsigned *area, bool *in_guard, uint64_t *lo, uint64_t *hi)
{
    if (layout_region_of(va) != REGION_KSTACK)
        return false;
    *cpu = (unsigned)((va - LAYOUT_KSTACK_BASE) / KSTACK_SLOT_SIZE);
    uint64_t off = (va - LAYOUT_KSTACK_BASE) % KSTACK_SLOT_SIZE;
    for (unsigned a = 0; a < NAREAS; a++) {
        uint64_t size, at = area_at(a, &size);
        if (off >= at && off < at + KSTACK_GUARD_SIZE + size) {
            *area = a;
            *in_guard = off < at + KSTACK_GUARD_SIZE;
            *lo = slot_base(*cpu) + at + KSTACK_GUARD_SIZE;
            *hi = *lo + size;
            return true;
        }
    }
    return false;
}

bool kstack_describe(uint64_t va, char *buf, size_t len)
{
    unsigned cpu, area;
    bool guard;
    uint64_t lo, hi;
    if (!locate(va, &cpu, &area, &guard, &lo, &hi))
        return false;
    if (guard)
        ksnprintf(buf, len, "guard page below CPU %u's %s stack: stack overflow", cpu, area_names[area]);
    else
        ksnprintf(buf, len, "CPU %u's %s stack (%s)", cpu, area_names[area],
                  vm_page_state(va) == VM_PAGE_MAPPED ? "mapped" : "not allocated");
    return true;
}

bool kstack_bounds(uint64_t va, uint64_t *lo, uint64_t *hi)
{
    unsigned cpu, area;
    bool guard;
    return locate(va, &cpu, &area, &guard, lo, hi) && !guard;
}
