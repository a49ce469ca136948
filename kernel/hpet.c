/*
 * hpet.c - the HPET main counter as a reference clock (see hpet.h).
 *
 * The HPET is a 1 KiB MMIO register block (address from the ACPI HPET
 * table) whose main counter increments at a fixed period given, in
 * femtoseconds, in the top half of the capabilities register. We only read
 * the counter; its comparators stay as the firmware left them (disabled on
 * QEMU and OVMF).
 *
 * Invariants: g_base/g_period_fs/g_mask are set once by hpet_init on the
 * boot CPU and read-only afterwards. A 64-bit counter is read as two 32-bit
 * halves with a high-low-high retry, which is correct whether or not the
 * platform splits 64-bit MMIO reads. MMIO goes through the direct map (see
 * kernel/lapic.c on cache types).
 */
#include "kernel/hpet.h"

#include "boot/boot_info.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/x86.h"

enum { HPET_CAP = 0x000, HPET_CONFIG = 0x010, HPET_COUNTER = 0x0f0 };
#define CAP_COUNT_64     (1u << 13)
#define CONFIG_ENABLE    1u
#define HPET_MAX_PERIOD_FS 100000000u /* 100 ns: the spec's upper bound (2.3.4) */
#define FS_PER_NS          1000000u
#define ADVANCE_SPINS      (1u << 22)

static volatile uint8_t *g_base;
static uint32_t g_period_fs;
static uint64_t g_mask;
static unsigned g_timers;
static uint16_t g_vendor;
static bool g_ready;

static uint32_t rd32(unsigned reg) { return *(volatile uint32_t *)(g_base + reg); }
static void wr32(unsigned reg, uint32_t v) { *(volatile uint32_t *)(g_base + reg) = v; }

uint64_t hpet_counter(void)
{
    if (g_mask == 0xffffffffull)
        return rd32(HPET_COUNTER);
    uint32_t hi, lo;
    do {
        hi = rd32(HPET_COUNTER + 4);
        lo = rd32(HPET_COUNTER);
    } while (rd32(HPET_COUNTER + 4) != hi);
    return (uint64_t)hi << 32 | lo;
}

int hpet_init(uint64_t phys, char *err, size_t n)
{
    if (g_ready)
        return 0;
    if (phys == 0 || phys >= 0x100000000ull) {
        ksnprintf(err, n, "HPET: base 0x%llx is not a 32-bit MMIO address in the direct map",
                  (unsigned long long)phys);
        return -1;
    }
    g_base = (volatile uint8_t *)(uintptr_t)(BOOT_DIRECT_MAP_BASE + phys);
    uint32_t cap_lo = rd32(HPET_CAP), period = rd32(HPET_CAP + 4);
    if (cap_lo == 0xffffffffu || (cap_lo & 0xff) == 0) {
        ksnprintf(err, n, "HPET at 0x%llx: capabilities 0x%08x: no device (revision 0)", (unsigned long long)phys,
                  cap_lo);
        return -1;
    }
    if (period == 0 || period > HPET_MAX_PERIOD_FS) {
        ksnprintf(err, n, "HPET at 0x%llx: counter period %u fs is outside 1..%u", (unsigned long long)phys, period,
                  HPET_MAX_PERIOD_FS);
        return -1;
    }
    g_period_fs = period;
    g_mask = (cap_lo & CAP_COUNT_64) ? ~0ull : 0xffffffffull;
    g_timers = ((cap_lo >> 8) & 0x1f) + 1;
    g_vendor = (uint16_t)(cap_lo >> 16);
    uint32_t cfg = rd32(HPET_CONFIG);
    if (!(cfg & CONFIG_ENABLE))
        wr32(HPET_CONFIG, cfg | CONFIG_ENABLE);
    uint64_t c0 = hpet_counter();
    unsigned i = 0;
    while (hpet_counter() == c0 && ++i < ADVANCE_SPINS)
        cpu_relax();
    if (i == ADVANCE_SPINS) {
        ksnprintf(err, n, "HPET at 0x%llx: the main counter does not advance (stuck at 0x%llx)",
                  (unsigned long long)phys, (unsigned long long)c0);
        return -1;
    }
    g_ready = true;
    return 0;
}

bool hpet_ready(void) { return g_ready; }
uint64_t hpet_mask(void) { return g_mask; }
uint32_t hpet_period_fs(void) { return g_period_fs; }

uint64_t hpet_ticks_to_ns(uint64_t t)
{
    /* Split so nothing overflows for any delta below centuries. */
    return (t / FS_PER_NS) * g_period_fs + (t % FS_PER_NS) * g_period_fs / FS_PER_NS;
}

uint64_t hpet_ns_to_ticks(uint64_t ns)
{
    return (ns / g_period_fs) * FS_PER_NS + (ns % g_period_fs) * FS_PER_NS / g_period_fs;
}

void hpet_report(void)
{
    if (!g_ready) {
        kprintf("hpet: not in use\n");
        return;
    }
    uint64_t khz = 1000000000000ull / g_period_fs;
    kprintf("hpet: vendor 0x%04x, %u timers, %u-bit counter, period %u fs (%llu.%03llu MHz)\n", g_vendor, g_timers,
            g_mask == ~0ull ? 64 : 32, g_period_fs, (unsigned long long)(khz / 1000),
            (unsigned long long)(khz % 1000));
}
