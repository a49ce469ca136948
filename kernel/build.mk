# kernel/ build fragment: the kernel core's objects, and the link of kernel.elf
# from every fragment's KERNEL_OBJS (see the top Makefile).
#
# The link runs twice to embed a symbol table for backtraces:
#   pass 1  all objects + an empty .ksyms table     -> kernel.pass1.elf
#           nm of pass 1 -> scripts/gen-ksyms       -> ksymtab.S (the real table)
#   pass 2  all objects + the real table            -> kernel.elf
# .ksyms is the last section of the image (linker/kernel.ld), so the table's
# size cannot move any other symbol; the recipe still compares the two nm
# listings and fails the build if anything but the table's bounds moved.
#
# Layers. The kernel's sources form layers with one-way includes, listed from
# the bottom; a file may include its own layer and those listed before it:
#   boot/boot_info.h  the loader's hand-off; includes nothing of ours (boot/,
#                     the loader, includes only boot/)
#   kernel/lib/       the leaf services every layer calls: kprintf, fmt,
#                     serial, string, panic.h, spinlock, percpu, x86.h,
#                     compiler.h; includes only kernel/lib/
#   mm/               frames, page tables, TLB shootdown, kernel stacks, the
#                     OS half of sys_*; includes mm/, kernel/lib/,
#                     boot/boot_info.h and rt/sys.h (the boundary it implements)
#   kernel/           the core: boot sequence, traps, CPUs and SMP, platform
#                     (ACPI, LAPIC, HPET, time), symbols, the test runner; may
#                     include all of the above and rt/'s headers (kmain starts
#                     the runtime) but rt/port.h and rt/port/
#   rt/port/kernel.c  the runtime's kernel port: may include all of the above
# The rest of rt/ is portable and includes only rt/. Exceptions, and why:
#   - mm/tlb.c includes kernel/lapic.h (it sends the shootdown IPI) and
#     kernel/time.h (its timeout): the protocol belongs with the page tables,
#     the interrupt controller and the clock to the platform. Neither header
#     includes anything of mm/, so no include cycle results.
#   - kernel/lib/panic.h is implemented by kernel/panic.c in the core, since
#     a report needs backtraces, symbols, the test runner and the other CPUs:
#     lib calls panic() upward at link time, no #include goes up.
#   - kernel/main.c includes buildinfo.h, generated in $(BUILD)/kernel/.
#   - The core and rt/port/kernel.c call each other (kmain starts the
#     runtime; the port uses the core's timer, IPIs and traps); they meet only
#     through rt/'s headers, which include no kernel header.
# scripts/check-layers checks every #include "..." against this before each
# link and fails naming the file, the line and what that layer may include.

# The leaf services (kernel/lib/) and the core, platform included (ACPI,
# LAPIC, HPET, time). Every kernel/ source is compiled here; the fragments of
# tests/kernel/ compile only the tests.
KLIB_SRCS := $(addprefix kernel/lib/, fmt.c kprintf.c percpu.c serial.c spinlock.c string.c)
KCORE_SRCS := $(addprefix kernel/, \
	entry.S kjmp.S trap_entry.S irq_entry.S trampoline.S smp.c \
	main.c acpi.c boot_check.c bootstacks.c backtrace.c cmdline.c cpu.c crash.c gdt.c glob.c \
	hpet.c idt.c krun.c ksyms.c ktest.c lapic.c panic.c pgwalk.c shell.c time.c tour.c trap.c diagram.c profile.c) \
	$(KLIB_SRCS)
KCORE_OBJS := $(patsubst %,$(BUILD)/%.o,$(basename $(KCORE_SRCS)))

KERNEL_OBJS += $(KCORE_OBJS)
ALL_DEPS    += $(KCORE_OBJS:.o=.d)

KERNEL_ELF := $(BUILD)/kernel/kernel.elf
KERNEL_LDS := linker/kernel.ld
# Any section the script does not place is an error, not a silent orphan.
KCORE_LDFLAGS := $(KERNEL_LDFLAGS) --orphan-handling=error -T $(KERNEL_LDS)

$(BUILD)/kernel/%.o: kernel/%.c
	@mkdir -p $(@D)
	@echo "  CC [kernel] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) $(KCORE_EXTRA_CFLAGS) -c $< -o $@

$(BUILD)/kernel/%.o: kernel/%.S
	@mkdir -p $(@D)
	@echo "  AS [kernel] $<"
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

# gcc must not turn string.c's loops back into calls to themselves.
$(BUILD)/kernel/lib/string.o: KCORE_EXTRA_CFLAGS := -fno-tree-loop-distribute-patterns

# Build identification for the banner, rewritten only when it changes so
# main.o is not rebuilt every time. (git rev-parse only reads the repo.)
KCORE_BUILDINFO := $(BUILD)/kernel/buildinfo.h
$(KCORE_BUILDINFO): kcore-buildinfo-force
	@mkdir -p $(@D)
	$(Q)rev=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown); \
	{ echo "#define BUILD_GIT_REV \"$$rev\""; echo "#define BUILD_DATE \"$$(date -u +%Y-%m-%d)\""; } > $@.tmp; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
.PHONY: kcore-buildinfo-force
kcore-buildinfo-force:

$(BUILD)/kernel/main.o: $(KCORE_BUILDINFO)
$(BUILD)/kernel/main.o: KCORE_EXTRA_CFLAGS := -I$(BUILD)/kernel

# The layer rule above, checked before the link when a source changed
# (order-only: a passing check is no reason to relink).
KCORE_LAYERS_OK := $(BUILD)/kernel/layers.ok
$(KCORE_LAYERS_OK): scripts/check-layers $(wildcard boot/*.[chS] kernel/*.[chS] kernel/*.inc kernel/lib/*.[chS] \
		mm/*.[chS] rt/*.[chS] rt/port/*.[chS])
	@mkdir -p $(@D)
	@echo "  CHECK    include layers"
	$(Q)scripts/check-layers
	@touch $@

# KERNEL_OBJS is complete only after every fragment is read: expand it late.
.SECONDEXPANSION:
$(KERNEL_ELF): $$(KERNEL_OBJS) $(KERNEL_LDS) scripts/gen-ksyms kernel/build.mk | $(KCORE_LAYERS_OK)
	@echo "  LD [kernel] $@ (pass 1: empty symbol table)"
	$(Q)scripts/gen-ksyms >$(@D)/ksymtab-empty.S
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $(@D)/ksymtab-empty.S -o $(@D)/ksymtab-empty.o
	$(Q)$(LD) $(KCORE_LDFLAGS) -o $(@D)/kernel.pass1.elf $(KERNEL_OBJS) $(@D)/ksymtab-empty.o
	$(Q)$(NM) -n -S --defined-only $(@D)/kernel.pass1.elf >$(@D)/kernel.pass1.nm
	@echo "  LD [kernel] $@ (pass 2: with the symbol table)"
	$(Q)scripts/gen-ksyms $(@D)/kernel.pass1.nm >$(@D)/ksymtab.S
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $(@D)/ksymtab.S -o $(@D)/ksymtab.o
	$(Q)$(LD) $(KCORE_LDFLAGS) -o $@.tmp $(KERNEL_OBJS) $(@D)/ksymtab.o
	$(Q)$(NM) -n -S --defined-only $@.tmp >$(@D)/kernel.pass2.nm
	$(Q)grep -v -E ' (__ksyms_start|__ksyms_end|__kernel_end)$$' $(@D)/kernel.pass1.nm >$(@D)/kernel.pass1.cmp
	$(Q)grep -v -E ' (__ksyms_start|__ksyms_end|__kernel_end)$$' $(@D)/kernel.pass2.nm >$(@D)/kernel.pass2.cmp
	$(Q)if ! cmp -s $(@D)/kernel.pass1.cmp $(@D)/kernel.pass2.cmp; then \
		echo "kernel/build.mk: symbols moved between link passes; the embedded table would lie:" >&2; \
		diff $(@D)/kernel.pass1.cmp $(@D)/kernel.pass2.cmp | head -20 >&2; \
		rm -f $@.tmp; exit 1; \
	fi
	$(Q)mv $@.tmp $@
