/*
 * core_trap.c - every exception kind the core can raise on purpose, caught
 * with KT_EXPECT_FAULT, and what the CPU reported about each: vector, error
 * code bits, CR2 and RIP. Also the page-table facts the faults depend on
 * (identity map gone, text read-only, data no-execute) and the catcher
 * and hook machinery itself.
 */
#include "kernel/bootstacks.h"
#include "kernel/crash.h"
#include "kernel/ksyms.h"
#include "kernel/ktest.h"
#include "kernel/pgwalk.h"
#include "kernel/sections.h"
#include "kernel/lib/string.h"

/* True if rip lies inside the function named fn (by the symbol table). */
static bool rip_in(uint64_t rip, const char *fn)
{
    const char *name;
    uint64_t off;
    return ksym_lookup(rip, &name, &off) && strcmp(name, fn) == 0;
}

static const uint32_t rodata_word = 0x600dcafe;

KTEST(trap_de, "core.trap.divide_error")
{
    KT_EXPECT_FAULT(VEC_DE, crash_divide(42, 0));
    KT_ASSERT(rip_in(trap_last_fault()->rip, "crash_divide"));
    KT_EQ(crash_divide(42, 6), 7); /* and the same code divides fine */
}

KTEST(trap_ud, "core.trap.invalid_opcode")
{
    KT_EXPECT_FAULT(VEC_UD, crash_ud2());
    KT_ASSERT(rip_in(trap_last_fault()->rip, "crash_ud2"));
}

KTEST(trap_bp, "core.trap.breakpoint")
{
    volatile int after = 0;
    KT_EXPECT_FAULT(VEC_BP, __asm__ volatile("int3"));
    after = 1; /* execution continues after the catch */
    KT_EQ(after, 1);
    KT_EQ(trap_last_fault()->error_code, 0);
}

KTEST(trap_gp, "core.trap.gp_noncanonical")
{
    KT_EXPECT_FAULT(VEC_GP, crash_read(0x8000000000000000ull));
    KT_EQ(trap_last_fault()->error_code, 0); /* no selector involved */
    KT_ASSERT(rip_in(trap_last_fault()->rip, "crash_read"));
}

KTEST(trap_pf_null, "core.trap.pf_null")
{
    KT_EXPECT_FAULT(VEC_PF, crash_read(0));
    const struct trap_fault *f = trap_last_fault();
    KT_EQ(f->cr2, 0);
    KT_EQ(f->error_code & (PF_ERR_P | PF_ERR_W | PF_ERR_U | PF_ERR_I), 0); /* not present, read, kernel */
    KT_ASSERT(rip_in(f->rip, "crash_read"));
}

KTEST(trap_pf_cr2, "core.trap.pf_cr2_is_the_address")
{
    /* Low-half addresses the loader's identity map used to cover. */
    static const uint64_t addrs[] = { 0x1000, 0x100000, 0x7fffffffe008ull };
    for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        KT_EXPECT_FAULT(VEC_PF, crash_read(addrs[i]));
        KT_EQ(trap_last_fault()->cr2, addrs[i]);
    }
}

KTEST(trap_pf_write_text, "core.trap.pf_write_to_text")
{
    uint64_t target = (uint64_t)&crash_ud2;
    /* Writes back the byte that is there, so a missing protection is
     * reported by the test rather than corrupting the code. */
    uint8_t same = *(volatile uint8_t *)target;
    KT_EXPECT_FAULT(VEC_PF, crash_write_byte(target, same));
    const struct trap_fault *f = trap_last_fault();
    KT_EQ(f->cr2, target);
    KT_EQ(f->error_code & (PF_ERR_P | PF_ERR_W | PF_ERR_I), PF_ERR_P | PF_ERR_W);
}

KTEST(trap_pf_write_rodata, "core.trap.pf_write_to_rodata")
{
    uint64_t target = (uint64_t)&rodata_word;
    KT_EXPECT_FAULT(VEC_PF, crash_write_byte(target, 0xfe));
    KT_EQ(trap_last_fault()->cr2, target);
    KT_EQ(trap_last_fault()->error_code & (PF_ERR_P | PF_ERR_W), PF_ERR_P | PF_ERR_W);
    KT_EQ(rodata_word, 0x600dcafe);
}

KTEST(trap_pf_exec_data, "core.trap.pf_execute_data")
{
    uint64_t target = (uint64_t)crash_data_ret;
    KT_EXPECT_FAULT(VEC_PF, crash_call(target));
    const struct trap_fault *f = trap_last_fault();
    KT_EQ(f->cr2, target);
    KT_EQ(f->rip, target);
    KT_EQ(f->error_code & (PF_ERR_P | PF_ERR_I), PF_ERR_P | PF_ERR_I);
}

KTEST(trap_pf_guard_page, "core.trap.pf_stack_guard_page")
{
    if (!bootstacks_guarded()) {
        ktest_diag("stack guard pages are not unmapped; nothing to check");
        KT_ASSERT(bootstacks_guarded());
    }
    for (int id = 0; id < STACK_COUNT; id++) {
        struct bootstack s = bootstack((enum bootstack_id)id);
        KT_EXPECT_FAULT(VEC_PF, crash_read(s.guard + 8));
        KT_EQ(trap_last_fault()->cr2, s.guard + 8);
        KT_EQ(trap_last_fault()->error_code & PF_ERR_P, 0);
        KT_ASSERT(pgwalk_mapped(s.base, s.top - s.base)); /* the stack itself is mapped */
    }
}

KTEST(trap_page_tables, "core.trap.page_table_permissions")
{
    uint64_t size;
    KT_EQ(pgwalk_lookup(0x1000, &size), 0); /* identity map dropped */
    uint64_t text = pgwalk_lookup((uint64_t)__text_start, &size);
    KT_NE(text & PTE_P, 0);
    KT_EQ(text & PTE_W, 0);
    KT_EQ(text & PTE_NX, 0);
    uint64_t ro = pgwalk_lookup((uint64_t)&rodata_word, &size);
    KT_EQ(ro & (PTE_W | PTE_NX), PTE_NX);
    uint64_t data = pgwalk_lookup((uint64_t)crash_data_ret, &size);
    KT_EQ(data & (PTE_W | PTE_NX), PTE_W | PTE_NX);
    KT_EQ(size, 4096);
}

KTEST(trap_catch_no_fault, "core.trap.catch_without_fault")
{
    struct trap_catch c;
    volatile int ran = 0;
    trap_catch_push(&c, false);
    if (kjmp_save(&c.resume) == 0) {
        ran = 1;
        trap_catch_pop(&c);
    }
    KT_EQ(ran, 1);
    KT_ASSERT(!c.fired);
}

KTEST(trap_catch_nested, "core.trap.catch_nested")
{
    struct trap_catch outer, inner;
    volatile int stage = 0;
    trap_catch_push(&outer, false);
    if (kjmp_save(&outer.resume) == 0) {
        trap_catch_push(&inner, false);
        if (kjmp_save(&inner.resume) == 0) {
            stage = 1;
            crash_ud2(); /* caught by inner */
        }
        KT_ASSERT(inner.fired);
        KT_EQ(inner.fault.vector, VEC_UD);
        stage = 2;
        crash_read(0); /* inner is spent: caught by outer */
        stage = 99;
    }
    KT_EQ(stage, 2);
    KT_ASSERT(outer.fired);
    KT_EQ(outer.fault.vector, VEC_PF);
}

static volatile unsigned hook_calls;
static bool decline_bp(struct trap_frame *f)
{
    (void)f;
    hook_calls = hook_calls + 1;
    return false;
}

KTEST(trap_hook_declines, "core.trap.hook_declines_then_catcher")
{
    hook_calls = 0;
    trap_set_hook(VEC_BP, decline_bp);
    KT_EXPECT_FAULT(VEC_BP, __asm__ volatile("int3")); /* the hook said no: the catcher gets it */
    trap_set_hook(VEC_BP, NULL);
    KT_EQ(hook_calls, 1);
    KT_EXPECT_FAULT(VEC_BP, __asm__ volatile("int3")); /* removed: not called again */
    KT_EQ(hook_calls, 1);
    KT_EQ(trap_depth_now(), 0);
}

KTEST(trap_names, "core.trap.names_and_error_codes")
{
    KT_STREQ(trap_mnemonic(VEC_PF), "#PF");
    KT_STREQ(trap_name(VEC_GP), "General Protection");
    KT_STREQ(trap_mnemonic(VEC_DF), "#DF");
    KT_STREQ(trap_mnemonic(99), "#??");
    KT_ASSERT(trap_has_error_code(VEC_PF) && trap_has_error_code(VEC_DF) && trap_has_error_code(VEC_GP));
    KT_ASSERT(!trap_has_error_code(VEC_UD) && !trap_has_error_code(VEC_BP) && !trap_has_error_code(VEC_DE));

    char b[160];
    trap_pf_describe(PF_ERR_P | PF_ERR_I, b, sizeof(b));
    KT_STREQ(b, "protection violation on a present page, instruction fetch, supervisor mode");
    trap_pf_describe(PF_ERR_W, b, sizeof(b));
    KT_STREQ(b, "page not present, write, supervisor mode");
}

KTEST(ktest_compare_mixed_signs, "core.ktest.compare_mixed_signs")
{
    /* -1 < 1u mathematically, although (unsigned)-1 > 1u in C. */
    KT_LT(-1, 1u);
    KT_GT(1u, -1);
    KT_EQ(-5, -5ll);
    KT_NE((uint64_t)-1, -1);
    KT_LE(ktest_cmp(KT_VAL_(-3), KT_VAL_(2u)), -1);
    KT_EQ(ktest_cmp(KT_VAL_(0u), KT_VAL_(0)), 0);
}
