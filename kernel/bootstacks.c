/*
 * bootstacks.c - the boot CPU's stacks (layout and rules: bootstacks.h).
 *
 * The area is one page-aligned array in its own .bss input section, which
 * linker/kernel.ld places first in .bss, so the loader maps it with 4 KiB
 * pages like the rest of the data segment and each guard page can be
 * unmapped alone.
 */
#include "kernel/bootstacks.h"

#include "kernel/pgwalk.h"

_Static_assert(BOOTSTACKS_AREA % 4096 == 0, "stacks are whole pages");

__attribute__((section(".bss.kstacks"), aligned(4096)))
uint8_t bootstacks_area[BOOTSTACKS_AREA];

static bool guarded;

static const struct {
    const char *name;
    uint64_t top;
    uint64_t size;
} layout[STACK_COUNT] = {
    [STACK_BOOT] = { "boot", BOOTSTACKS_BOOT_TOP, BOOTSTACKS_BOOT_SIZE },
    [STACK_DF] = { "#DF IST", BOOTSTACKS_DF_TOP, BOOTSTACKS_IST_SIZE },
    [STACK_NMI] = { "NMI IST", BOOTSTACKS_NMI_TOP, BOOTSTACKS_IST_SIZE },
    [STACK_MC] = { "#MC IST", BOOTSTACKS_MC_TOP, BOOTSTACKS_IST_SIZE },
    [STACK_IRQ] = { "IRQ IST", BOOTSTACKS_IRQ_TOP, BOOTSTACKS_IST_SIZE },
    [STACK_EXC] = { "exception IST", BOOTSTACKS_EXC_TOP, BOOTSTACKS_IST_SIZE },
};

struct bootstack bootstack(enum bootstack_id id)
{
    uint64_t area = (uint64_t)bootstacks_area;
    struct bootstack s = {
        .name = layout[id].name,
        .top = area + layout[id].top,
        .base = area + layout[id].top - layout[id].size,
        .guard = area + layout[id].top - layout[id].size - BOOTSTACKS_GUARD,
    };
    return s;
}

bool bootstack_find(uint64_t addr, struct bootstack *out, bool *in_guard)
{
    for (int id = 0; id < STACK_COUNT; id++) {
        struct bootstack s = bootstack((enum bootstack_id)id);
        if (addr >= s.guard && addr < s.top) {
            *out = s;
            *in_guard = addr < s.base;
            return true;
        }
    }
    return false;
}

int bootstacks_guard(void)
{
    int n = 0;
    for (int id = 0; id < STACK_COUNT; id++)
        n += pgwalk_unmap_4k(bootstack((enum bootstack_id)id).guard) ? 1 : 0;
    guarded = n == STACK_COUNT;
    return n;
}

bool bootstacks_guarded(void) { return guarded; }
