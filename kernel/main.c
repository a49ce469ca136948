/*
 * main.c - kmain: from _start (entry.S) to the tour, the tests or a crash.
 *
 * Steps, in an order where each needs only what came before:
 *   1. GDT and TSS, the per-CPU block (GS base: locks and per-CPU state key
 *      on cpu_id(), and reloading %gs in gdt_init may clear it, so it comes
 *      second), the IDT: from here on a fault is reported instead of
 *      triple-faulting (and the firmware's GDT/IDT, in low memory, are no
 *      longer referenced).
 *   2. Serial console and banner: from here on everything can be said.
 *   3. Validate boot_info (kernel/boot_check.c): first that the pointer lies
 *      in the direct map, then every field. A bad one ends the boot with a
 *      clear message and the panic status.
 *   4. Page tables through the direct map (kernel/pgwalk.c): drop the
 *      loader's identity map so NULL and low addresses fault, unmap the
 *      stack guard pages.
 *   5. Parse the command line (kernel/cmdline.c); an error ends the boot.
 *   6. Report: boot_info, kernel layout, CPU features, memory map (mm/);
 *      read the ACPI tables (before firmware memory can be reused); hand the
 *      usable memory to mm's frame allocator (frame_init); replace the
 *      loader's page tables with the kernel's own (paging_init); the boot
 *      CPU's LAPIC, the calibrated clocks (time_init), then every other CPU
 *      (smp_start, procs=N limits them).
 *   7. Start the runtime with a P per CPU; do what the command line says: a crash,
 *      a run=NAME program, the tests, or the tour; end QEMU with the verdict.
 */
#include "boot/boot_info.h"
#include "buildinfo.h"
#include "kernel/acpi.h"
#include "kernel/boot_check.h"
#include "kernel/bootstacks.h"
#include "kernel/cmdline.h"
#include "kernel/cpu.h"
#include "kernel/crash.h"
#include "kernel/gdt.h"
#include "kernel/idt.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lapic.h"
#include "kernel/krun.h"
#include "kernel/profile.h"
#include "kernel/ksyms.h"
#include "kernel/ktest.h"
#include "kernel/lib/panic.h"
#include "kernel/lib/percpu.h"
#include "kernel/pgwalk.h"
#include "kernel/sections.h"
#include "kernel/lib/serial.h"
#include "kernel/smp.h"
#include "kernel/time.h"
#include "kernel/tour.h"
#include "kernel/lib/x86.h"
#include "mm/buddy.h"
#include "mm/memmap.h"
#include "mm/paging.h"
#include "rt/rt.h"

_Noreturn void kmain(struct boot_info *bi);
void _start(void); /* entry.S */

static struct cmdline cmdline;

static void banner(void)
{
    /* OVMF leaves the cursor mid-line with colour escapes: start clean. */
    kprintf("\x1b[0m\n");
    kprintf("== tiny x86-64 kernel with a Go-style runtime ==\n");
    kprintf("build %s, %s, gcc %s\n", BUILD_GIT_REV, BUILD_DATE, __VERSION__);
}

static void check_boot_info(const struct boot_info *bi)
{
    char err[BOOT_CHECK_ERR_MAX];
    uint64_t p = (uint64_t)bi;
    if (p < BOOT_DIRECT_MAP_BASE || p >= BOOT_DIRECT_MAP_BASE + BOOT_DIRECT_MAP_MAX || p % 8 != 0)
        panic_quiet("boot_info pointer %p is not an aligned direct-map address (expected 0x%llx + phys): "
                    "loader/kernel mismatch", (const void *)bi, (unsigned long long)BOOT_DIRECT_MAP_BASE);
    if (boot_info_check(bi, err, sizeof(err)) != 0)
        panic_quiet("%s", err);
    if (bi->kernel_entry != (uint64_t)_start)
        panic_quiet("boot_info: kernel_entry 0x%llx is not this kernel's _start %p: a different kernel.elf?",
                    (unsigned long long)bi->kernel_entry, (void *)_start);
    if (bi->kernel_size < (uint64_t)(__kernel_end - __text_start))
        panic_quiet("boot_info: the loader mapped 0x%llx bytes of kernel, the image spans 0x%llx",
                    (unsigned long long)bi->kernel_size, (unsigned long long)(__kernel_end - __text_start));
}

static void print_boot_info(const struct boot_info *bi)
{
    typedef unsigned long long ull;
    kprintf("boot_info: version %u, %u bytes, magic ok; firmware \"%s\" rev 0x%x, UEFI %u.%02u\n", bi->version,
            bi->size, bi->firmware_vendor, bi->firmware_revision, bi->uefi_revision >> 16,
            bi->uefi_revision & 0xffff);
    kprintf("boot_info: memory map at phys 0x%llx: %llu descriptors x %llu bytes (version %u); "
            "ExitBootServices took %u tries\n",
            (ull)bi->mmap_phys, (ull)(bi->mmap_size / bi->mmap_desc_size), (ull)bi->mmap_desc_size,
            bi->mmap_desc_version, bi->exit_boot_tries);
    if (bi->rsdp_phys)
        kprintf("boot_info: ACPI RSDP at phys 0x%llx (%s GUID)\n", (ull)bi->rsdp_phys,
                bi->rsdp_acpi_version == 2 ? "ACPI 2.0" : "ACPI 1.0");
    else
        kprintf("boot_info: no ACPI RSDP\n");
    kprintf("boot_info: kernel at phys 0x%llx -> virt 0x%llx, %llu KiB, entry 0x%llx\n",
            (ull)bi->kernel_phys_base, (ull)bi->kernel_virt_base, (ull)(bi->kernel_size >> 10),
            (ull)bi->kernel_entry);
    kprintf("boot_info: page tables at phys 0x%llx (%llu pages, PML4 0x%llx); direct map of %llu MiB at 0x%llx\n",
            (ull)bi->pagetable_phys, (ull)bi->pagetable_pages, (ull)bi->pml4_phys,
            (ull)(bi->direct_map_size >> 20), (ull)BOOT_DIRECT_MAP_BASE);
    kprintf("boot_info: cmdline \"%s\" (%u bytes)\n", bi->cmdline, bi->cmdline_len);
    kprintf("boot_info: loader ran %llu TSC cycles\n", (ull)(bi->tsc_loader_end - bi->tsc_loader_start));
}

static void print_layout(void)
{
    typedef unsigned long long ull;
    kprintf("kernel: text   0x%llx-0x%llx %4llu KiB  RX\n", (ull)__text_start, (ull)__text_end,
            (ull)(__text_end - __text_start) >> 10);
    kprintf("kernel: rodata 0x%llx-0x%llx %4llu KiB  R   (%u tests registered)\n", (ull)__rodata_start,
            (ull)__rodata_end, (ull)(__rodata_end - __rodata_start) >> 10, ktest_count());
    kprintf("kernel: data   0x%llx-0x%llx %4llu KiB  RW\n", (ull)__data_start, (ull)__bss_end,
            (ull)(__bss_end - __data_start) >> 10);
    kprintf("kernel: ksyms  0x%llx-0x%llx %4llu KiB  R   (%zu symbols)\n", (ull)__ksyms_start,
            (ull)__kernel_end, (ull)(__kernel_end - __ksyms_start) >> 10, ksym_count());
}

_Noreturn void kmain(struct boot_info *bi)
{
    /* 1 */
    gdt_init();        /* before percpu_init: reloading %gs may clear its base */
    percpu_init(0, 0); /* before anything prints or locks: both key on cpu_id(); smp fills in the APIC id */
    idt_init();

    /* 2 */
    serial_init();
    banner();

    /* 3 */
    check_boot_info(bi);

    /* 4 */
    pgwalk_init(bi->direct_map_size);
    int dropped = pgwalk_drop_low_half();
    int guards = bootstacks_guard();
    kprintf("early: identity map dropped (%d PML4 entries), %d/%d stack guard pages unmapped, "
            "CR0.WP %s, EFER.NXE %s\n", dropped, guards, STACK_COUNT, (read_cr0() & CR0_WP) ? "on" : "off",
            (rdmsr(MSR_EFER) & EFER_NXE) ? "on" : "off");
    if (guards != STACK_COUNT)
        kprintf("early: warning: stacks without guard pages: an overflow will corrupt memory silently\n");

    /* 5 */
    char err[CMDLINE_ERR_MAX];
    if (cmdline_parse(bi->cmdline, &cmdline, err, sizeof(err)) != 0)
        panic_quiet("bad kernel command line \"%s\": %s", bi->cmdline, err);

    /* 6 */
    print_boot_info(bi);
    print_layout();
    cpu_report();
    memmap_report(bi);
    char acpi_err[ACPI_ERR_MAX];
    if (acpi_init(bi, acpi_err, sizeof(acpi_err)) != 0) /* before frame_init may reuse firmware memory */
        kprintf("acpi: %s\nacpi: going on with what validated (possibly the boot CPU only)\n", acpi_err);
    acpi_report();
    frame_init(bi); /* mm: the frame allocator over the usable map */
    paging_init(bi); /* mm: the kernel's own page tables replace the loader's */
    frame_report();
    layout_report();
    lapic_init_this_cpu();
    time_init();
    time_report();
    smp_start(cmdline.procs);
    smp_report();

    /* 7 */
    if (cmdline.crash != CRASH_NONE)
        crash(cmdline.crash);
    profile_setup(&cmdline); /* memprofilerate=N before the Ps start: each samples at it */
    rt_start_procs((int)cpu_count()); /* the runtime's heap on sys_* (mm/sysmem.c), a P per CPU */
    if (cmdline.gogc_set) /* the collector's settings (rt/mgc.c) */
        rt_set_gc_percent(cmdline.gogc_off ? -1 : (int)cmdline.gogc);
    if (cmdline.memlimit)
        rt_set_memory_limit((int64_t)cmdline.memlimit);
    if (cmdline.gctrace_set)
        rt_gc_set_trace(cmdline.gctrace);
    if (cmdline.gccheckmark_set)
        rt_gc_set_checkmark(cmdline.gccheckmark);
    if (cmdline.gcstoptheworld_set)
        rt_gc_set_stoptheworld(cmdline.gcstoptheworld);
    if (cmdline.gcstress_set)
        rt_gc_set_stress(cmdline.gcstress);
    if (cmdline.run[0] != '\0')
        krun(&cmdline);
    if (cmdline.test)
        ktest_run(cmdline.test_glob, cmdline.seed_set, cmdline.seed);

    tour_runtime();
    tour_coroutines();
    tour_checklist();
    kprintf("tour: done (boot with `test` to run the in-kernel tests)\n");
    profile_at_exit();
    kernel_exit(DEBUG_EXIT_SUCCESS);
}
