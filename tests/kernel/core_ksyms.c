/*
 * core_ksyms.c - the embedded symbol table and frame-pointer backtraces.
 */
#include "kernel/backtrace.h"
#include "kernel/ksyms.h"
#include "kernel/ktest.h"
#include "kernel/lib/string.h"

void kmain(void); /* only its address is used */

KTEST(ksyms_lookup, "core.ksyms.lookup_known_function")
{
    const char *name;
    uint64_t off;
    uint64_t k = (uint64_t)&kmain;
    KT_ASSERT(ksym_lookup(k, &name, &off));
    KT_STREQ(name, "kmain");
    KT_EQ(off, 0);
    KT_ASSERT(ksym_lookup(k + 5, &name, &off));
    KT_STREQ(name, "kmain");
    KT_EQ(off, 5);
    KT_EQ(ksym_address("kmain"), k);
    KT_EQ(ksym_address("ksym_lookup"), (uint64_t)&ksym_lookup);
    KT_EQ(ksym_address("no_such_symbol_anywhere"), 0);

    char buf[64];
    KT_STREQ(ksym_format(k + 0x10, buf, sizeof(buf)), "kmain+0x10");
    KT_STREQ(ksym_format(0x1000, buf, sizeof(buf)), "?");
}

KTEST(ksyms_table_sane, "core.ksyms.table_sorted_and_complete")
{
    KT_GT(ksym_count(), 100);
    /* Every function a backtrace can name: look a few up by address. */
    static const struct { const char *name; uint64_t addr; } fns[] = {
        { "kprintf", (uint64_t)&kprintf },
        { "ksnprintf", (uint64_t)&ksnprintf },
        { "trap_dispatch", (uint64_t)&trap_dispatch },
        { "kjmp_save", (uint64_t)&kjmp_save },
    };
    for (unsigned i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        const char *name;
        uint64_t off;
        KT_ASSERT(ksym_lookup(fns[i].addr, &name, &off));
        KT_STREQ(name, fns[i].name);
        KT_EQ(off, 0);
    }
}

/* Three frames that must each show up: noipa keeps them out-of-line and
 * unrenamed, and the empty asm after each call prevents tail calls. */
static int bt_n;
static uint64_t bt_pcs[BACKTRACE_MAX];

__attribute__((noipa)) static void bt_inner(void)
{
    bt_n = backtrace_collect(BACKTRACE_HERE(), bt_pcs, BACKTRACE_MAX);
    __asm__ volatile("");
}

__attribute__((noipa)) static void bt_middle(void)
{
    bt_inner();
    __asm__ volatile("");
}

__attribute__((noipa)) static void bt_outer(void)
{
    bt_middle();
    __asm__ volatile("");
}

static const char *caller_name(uint64_t ret)
{
    const char *name;
    uint64_t off;
    return ksym_lookup(ret - 1, &name, &off) ? name : "?";
}

KTEST(backtrace_nested, "core.backtrace.lists_callers")
{
    bt_outer();
    __asm__ volatile("");
    for (int i = 0; i < bt_n; i++)
        ktest_diag("frame %d: %s", i, caller_name(bt_pcs[i]));
    KT_GE(bt_n, 5);
    /* bt_inner's frame returns into bt_middle, then bt_outer, then this test. */
    KT_STREQ(caller_name(bt_pcs[0]), "bt_middle");
    KT_STREQ(caller_name(bt_pcs[1]), "bt_outer");
    KT_STREQ(caller_name(bt_pcs[2]), "ktest_fn_backtrace_nested");
    /* ... and on through the runner to kmain and _start. */
    bool saw_runner = false, saw_kmain = false;
    for (int i = 3; i < bt_n; i++) {
        saw_runner |= strcmp(caller_name(bt_pcs[i]), "ktest_run") == 0 || strcmp(caller_name(bt_pcs[i]), "run_one") == 0;
        saw_kmain |= strcmp(caller_name(bt_pcs[i]), "kmain") == 0;
    }
    KT_ASSERT(saw_runner);
    KT_ASSERT(saw_kmain);
    KT_STREQ(caller_name(bt_pcs[bt_n - 1]), "_start");
}

KTEST(backtrace_stops_safely, "core.backtrace.stops_on_bad_frames")
{
    uint64_t pcs[4];
    KT_EQ(backtrace_collect(0, pcs, 4), 0);                     /* end marker */
    KT_EQ(backtrace_collect(0x1003, pcs, 4), 0);                /* misaligned */
    KT_EQ(backtrace_collect(0x1000, pcs, 4), 0);                /* unmapped low half */
    KT_EQ(backtrace_collect(0x8000000000000000ull, pcs, 4), 0); /* non-canonical */

    /* A frame that points at itself must not loop. */
    volatile uint64_t loop[2];
    loop[0] = (uint64_t)loop;
    loop[1] = (uint64_t)&kmain + 4;
    KT_EQ(backtrace_collect((uint64_t)loop, pcs, 4), 1);
    /* A return address outside text ends the walk. */
    loop[1] = 0x1234;
    KT_EQ(backtrace_collect((uint64_t)loop, pcs, 4), 0);
}
