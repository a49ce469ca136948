/*
 * smp.c - bring up the application processors and run code on them.
 *
 * Bring-up (Intel SDM Vol. 3A 8.4.4, the MP initialization protocol), one AP
 * at a time because they share one trampoline page:
 *   1. Map the AP's kernel and IST stacks (mm/kstack.c, guard pages below
 *      each) and fill the trampoline's parameter block: stack, CPU id, the
 *      kernel's CR3, the temporary low PML4.
 *   2. INIT IPI, wait 10 ms, STARTUP IPI with vector P >> 12 (P = the
 *      trampoline page from frame_lowmem), wait 200 us, a second STARTUP if
 *      the AP has not arrived in 64-bit mode, then wait up to AP_TIMEOUT_NS
 *      for it to report online. A CPU that does not is reported and left
 *      out: the kernel goes on with the others.
 *   3. The AP (kernel/trampoline.S, then smp_ap_main) loads its own GDT/TSS,
 *      sets its GS and FS bases (percpu_init), loads the shared IDT, enables its
 *      LAPIC, says it is online and idles.
 * The temporary PML4 (low memory, so a 32-bit CR3 load reaches it) maps the
 * first 2 MiB identically, for the trampoline, and shares the kernel's upper
 * half; the AP leaves it for the kernel's own tables as soon as it runs in
 * the higher half.
 *
 * Running code on a CPU: each CPU has one mailbox {fn, arg, seq, done}. The
 * caller fills it, bumps seq and sends the CALL IPI; the CPU, idle in
 * `sti; hlt`, wakes, runs fn(arg) with interrupts enabled and publishes
 * done = seq. One call per CPU at a time: only the boot CPU issues calls
 * (kmain, the tests, the benchmarks), which the call functions assert. A
 * lock around the mailboxes would not do: smp_run_on_all runs fn on the
 * caller too, and fn may take locks ranked below any such lock.
 *
 * Interrupts: every CPU runs with interrupts enabled once it is up (the boot
 * CPU from the end of smp_start), so that it answers shootdowns even while
 * it spins on a lock; code that must not be interrupted uses irqsave locks.
 *
 * TLB shootdown is mm/tlb.c's (beside the page tables); this file only
 * installs its IPI handler, before the first AP starts.
 *
 * Invariants: cpus[i].online is set only by CPU i itself; ids are dense
 * (0..cpu_count()-1) in the order CPUs came up; a CPU never leaves.
 */
#include "kernel/smp.h"

#include "boot/boot_info.h"
#include "kernel/acpi.h"
#include "kernel/gdt.h"
#include "kernel/idt.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lapic.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/string.h"
#include "kernel/time.h"
#include "kernel/lib/x86.h"
#include "mm/buddy.h"
#include "mm/kstack.h"
#include "mm/layout.h"
#include "mm/tlb.h"

#define AP_TIMEOUT_NS (2000ull * 1000 * 1000) /* TCG with many vCPUs on 2 host cores is slow */
/* A cross-CPU call that has not finished by then is a hang, reported with a
 * panic naming the CPU. Generous, below the launcher's 300 s for the suite:
 * smp.frames_concurrent on 8 vCPUs sharing 2 host cores took 31 s with the
 * host moderately loaded (25 ms on 4 vCPUs: every fair hand-off of the buddy
 * lock to a descheduled vCPU waits for the host), and passed 60 s under a
 * heavier load. */
#define CALL_TIMEOUT_NS (180ull * 1000 * 1000 * 1000)

/* Must match the offsets in kernel/trampoline.S. */
struct trampoline_params {
    uint16_t gdt_limit;
    uint32_t gdt_base;
    uint16_t pad0;
    uint32_t pm32_off;
    uint16_t pm32_sel;
    uint16_t pad1;
    uint32_t lm64_off;
    uint16_t lm64_sel;
    uint16_t pad2;
    uint32_t cr3_low;
    uint32_t efer_or;
    uint64_t cr3;
    uint64_t stack;
    uint64_t entry;
    uint64_t cpu;
    volatile uint32_t arrived;
} __attribute__((packed));
#define TRAMPOLINE_PARAMS 0x800
_Static_assert(__builtin_offsetof(struct trampoline_params, pm32_off) == 8, "trampoline.S P_PM32");
_Static_assert(__builtin_offsetof(struct trampoline_params, lm64_off) == 16, "trampoline.S P_LM64");
_Static_assert(__builtin_offsetof(struct trampoline_params, cr3_low) == 24, "trampoline.S P_CR3_LOW");
_Static_assert(__builtin_offsetof(struct trampoline_params, cr3) == 32, "trampoline.S P_CR3");
_Static_assert(__builtin_offsetof(struct trampoline_params, cpu) == 56, "trampoline.S P_CPU");
_Static_assert(__builtin_offsetof(struct trampoline_params, arrived) == 64, "trampoline.S P_ARRIVED");

extern const char trampoline_start[], trampoline_end[];
extern const char trampoline_gdt_off[], trampoline_gdt_size[], trampoline_pm32_off[], trampoline_lm64_off[];
void smp_ap_start64(uint64_t cpu, uint64_t cr3);
_Noreturn void smp_ap_main(uint64_t id);

struct mailbox {
    void (*fn)(void *);
    void *arg;
    volatile uint64_t seq;  /* bumped by the caller for each call */
    volatile uint64_t done; /* set to seq by the CPU when fn returned */
};

static struct mailbox g_mail[MAX_CPUS];
static struct kstack_set g_stacks[MAX_CPUS];
/* smp_ap_main hands g_stacks[id].ist_top to gdt_init_cpu: mm/kstack.h's IST
 * areas must be kernel/gdt.h's IST slots, in the same order. */
_Static_assert(KSTACK_NIST == IST_COUNT, "a stack for every IST slot");
_Static_assert(IST_DF == 1 && IST_NMI == 2 && IST_MC == 3 && IST_IRQ == 4 && IST_EXC == 5,
               "mm/kstack.c names its IST areas #DF, NMI, #MC, IRQ, exceptions");
static unsigned g_failed; /* CPUs that did not come up */

static void *phys(uint64_t p) { return (void *)(BOOT_DIRECT_MAP_BASE + p); }

/* ---- the APs' side ---------------------------------------------------------- */

static void call_ipi(struct trap_frame *f)
{
    (void)f; /* the wake-up itself is the point: the idle loop reads the mailbox */
}

static void stop_ipi(struct trap_frame *f)
{
    (void)f;
    for (;;)
        __asm__ volatile("cli; hlt");
}

_Noreturn void smp_ap_main(uint64_t id)
{
    gdt_init_cpu((unsigned)id, g_stacks[id].ist_top);
    percpu_init((unsigned)id, cpus[id].apic_id);
    idt_load();
    lapic_init_this_cpu();
    __atomic_store_n(&cpus[id].online, 1, __ATOMIC_RELEASE);

    struct mailbox *m = &g_mail[id];
    for (;;) {
        cli();
        if (m->done != __atomic_load_n(&m->seq, __ATOMIC_ACQUIRE)) {
            uint64_t seq = m->seq;
            __asm__ volatile("sti" ::: "memory");
            m->fn(m->arg);
            __atomic_store_n(&m->done, seq, __ATOMIC_RELEASE);
            continue;
        }
        __asm__ volatile("sti; hlt" ::: "memory"); /* an IPI after the check still wakes the hlt */
    }
}

/* ---- bring-up ------------------------------------------------------------------- */

/* The temporary tables in lowmem pages 1..3: identity 0..2 MiB + the kernel's upper half. */
static uint64_t build_low_tables(uint64_t low)
{
    uint64_t *pml4 = phys(low + 4096), *pdpt = phys(low + 8192), *pd = phys(low + 12288);
    memset(pml4, 0, 3 * 4096);
    pd[0] = 0 | 0x83;                 /* 2 MiB page at 0: P, RW, PS (executable) */
    pdpt[0] = (low + 12288) | 0x3;
    pml4[0] = (low + 8192) | 0x3;
    const uint64_t *kernel_pml4 = phys(read_cr3() & ~0xfffull);
    for (unsigned i = 256; i < 512; i++)
        pml4[i] = kernel_pml4[i];
    return low + 4096;
}

static bool start_ap(unsigned id, uint32_t apic_id, uint64_t low, uint32_t efer_or)
{
    if (kstack_alloc(id, &g_stacks[id]) != 0) {
        kprintf("smp: CPU %u (APIC %u): no frames for its stacks; left out\n", id, apic_id);
        return false;
    }
    cpus[id].apic_id = apic_id;

    struct trampoline_params *p = phys(low + TRAMPOLINE_PARAMS);
    memset(p, 0, sizeof(*p));
    p->gdt_limit = (uint16_t)((uint64_t)trampoline_gdt_size - 1);
    p->gdt_base = (uint32_t)(low + (uint64_t)trampoline_gdt_off);
    p->pm32_off = (uint32_t)(low + (uint64_t)trampoline_pm32_off);
    p->pm32_sel = 0x08;
    p->lm64_off = (uint32_t)(low + (uint64_t)trampoline_lm64_off);
    p->lm64_sel = 0x18;
    p->cr3_low = (uint32_t)build_low_tables(low);
    p->efer_or = efer_or;
    p->cr3 = read_cr3();
    p->stack = g_stacks[id].top;
    p->entry = (uint64_t)smp_ap_start64;
    p->cpu = id;

    lapic_send_init(apic_id);
    time_delay_ns(10 * 1000 * 1000);
    lapic_send_sipi(apic_id, (uint8_t)(low >> 12));
    time_delay_ns(200 * 1000);
    if (!p->arrived)
        lapic_send_sipi(apic_id, (uint8_t)(low >> 12));
    uint64_t deadline = nanotime() + AP_TIMEOUT_NS;
    while (!__atomic_load_n(&cpus[id].online, __ATOMIC_ACQUIRE)) {
        if (nanotime() > deadline) {
            kprintf("smp: CPU with APIC id %u did not come up within %llu ms (%s); left out\n", apic_id,
                    (unsigned long long)(AP_TIMEOUT_NS / 1000000),
                    p->arrived ? "it reached 64-bit mode but not the kernel" : "it never reached 64-bit mode");
            return false;
        }
        cpu_relax();
    }
    return true;
}

unsigned smp_start(unsigned max_cpus)
{
    uint64_t low = frame_lowmem();
    uint32_t me = lapic_id();
    cpus[0].apic_id = me;
    cpus[0].online = 1;
    if (low == 0 || low + 4 * 4096 > 0x100000) {
        kprintf("smp: no low memory for the trampoline: running on the boot CPU only\n");
        __asm__ volatile("sti" ::: "memory");
        return 1;
    }
    if ((uint64_t)(trampoline_end - trampoline_start) > TRAMPOLINE_PARAMS)
        panic("smp: the trampoline (%llu bytes) overlaps its parameter block at 0x%x",
              (unsigned long long)(trampoline_end - trampoline_start), TRAMPOLINE_PARAMS);
    memcpy(phys(low), trampoline_start, (size_t)(trampoline_end - trampoline_start));
    irq_set_handler(LAPIC_VEC_CALL, call_ipi);
    irq_set_handler(LAPIC_VEC_TLB, tlb_shootdown_ipi);
    irq_set_handler(LAPIC_VEC_STOP, stop_ipi);
    uint32_t efer_or = (1u << 8) | ((uint32_t)rdmsr(MSR_EFER) & (uint32_t)EFER_NXE); /* LME (+ NXE) */

    unsigned next = 1;
    for (unsigned i = 0; i < acpi_cpu_count(); i++) {
        const struct acpi_cpu *c = acpi_cpu(i);
        if (!c->enabled || c->apic_id == me)
            continue;
        if ((max_cpus && next >= max_cpus) || next >= MAX_CPUS)
            break;
        if (start_ap(next, c->apic_id, low, efer_or))
            next++;
        else
            g_failed++;
    }
    __asm__ volatile("sti" ::: "memory"); /* the boot CPU answers IPIs from now on */
    return next;
}

/* ---- calls ---------------------------------------------------------------------- */

void smp_run_on(unsigned cpu, void (*fn)(void *), void *arg)
{
    ASSERT_MSG(cpu_id() == 0, "smp_run_on from CPU %u: only the boot CPU issues calls", cpu_id());
    if (cpu == cpu_id()) {
        fn(arg);
        return;
    }
    if (cpu >= cpu_count() || !cpus[cpu].online)
        panic("smp_run_on: CPU %u is not online", cpu);
    struct mailbox *m = &g_mail[cpu];
    m->fn = fn;
    m->arg = arg;
    uint64_t seq = m->seq + 1;
    __atomic_store_n(&m->seq, seq, __ATOMIC_RELEASE);
    lapic_send_ipi(cpus[cpu].apic_id, LAPIC_VEC_CALL);
    uint64_t deadline = nanotime() + CALL_TIMEOUT_NS;
    while (__atomic_load_n(&m->done, __ATOMIC_ACQUIRE) != seq) {
        if (nanotime() > deadline)
            panic("smp_run_on: CPU %u did not finish %p within %llu s", cpu, (void *)fn,
                  (unsigned long long)(CALL_TIMEOUT_NS / 1000000000));
        cpu_relax();
    }
}

void smp_run_on_all(void (*fn)(void *), void *arg)
{
    unsigned me = cpu_id(), n = cpu_count();
    ASSERT_MSG(me == 0, "smp_run_on_all from CPU %u: only the boot CPU issues calls", me);
    uint64_t seqs[MAX_CPUS];
    for (unsigned c = 0; c < n; c++) {
        if (c == me || !cpus[c].online)
            continue;
        struct mailbox *m = &g_mail[c];
        m->fn = fn;
        m->arg = arg;
        seqs[c] = m->seq + 1;
        __atomic_store_n(&m->seq, seqs[c], __ATOMIC_RELEASE);
        lapic_send_ipi(cpus[c].apic_id, LAPIC_VEC_CALL);
    }
    fn(arg);
    uint64_t deadline = nanotime() + CALL_TIMEOUT_NS;
    for (unsigned c = 0; c < n; c++) {
        if (c == me || !cpus[c].online)
            continue;
        while (__atomic_load_n(&g_mail[c].done, __ATOMIC_ACQUIRE) != seqs[c]) {
            if (nanotime() > deadline)
                panic("smp_run_on_all: CPU %u did not finish %p", c, (void *)fn);
            cpu_relax();
        }
    }
}

void smp_stop_others(void)
{
    if (cpu_count() > 1)
        lapic_send_ipi_all_but_self(LAPIC_VEC_STOP);
}

void smp_report(void)
{
    kprintf("CPUs: %u online", cpu_count());
    if (g_failed)
        kprintf(", %u did not come up", g_failed);
    kprintf("\n");
    for (unsigned c = 0; c < cpu_count(); c++)
        kprintf("  CPU %u: APIC id %u, %s, runtime P %u, %u frames in its frame cache, kernel stack %s\n", c,
                cpus[c].apic_id, cpus[c].online ? "online" : "offline", c, frame_cache_count(c),
                c ? "in the kernel-stacks region" : "in .bss (boot)");
}
