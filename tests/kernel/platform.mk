# Platform: ACPI tables, the local APIC and interrupt entry, the HPET, and
# time (kernel/acpi.c lapic.c irq_entry.S hpet.c time.c), with their
# in-kernel tests (tests/kernel/platform_*.c). Built under $(BUILD)/platform/
# with rules of their own, apart from kernel/build.mk's; when those sources
# move into KCORE_SRCS, drop PLATFORM_SRCS here.
PLATFORM_SRCS := kernel/acpi.c kernel/lapic.c kernel/irq_entry.S kernel/hpet.c kernel/time.c
PLATFORM_KTEST_SRCS := $(sort $(wildcard tests/kernel/platform_*.c))
PLATFORM_OBJS := $(patsubst %,$(BUILD)/platform/%.o,$(basename $(PLATFORM_SRCS) $(PLATFORM_KTEST_SRCS)))

KERNEL_OBJS += $(PLATFORM_OBJS)
ALL_DEPS    += $(PLATFORM_OBJS:.o=.d)

$(BUILD)/platform/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC [platform] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/platform/%.o: %.S
	@mkdir -p $(@D)
	@echo "  AS [platform] $<"
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $< -o $@
