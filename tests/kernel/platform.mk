# In-kernel tests of the platform: ACPI tables, the local APIC and interrupt
# entry, the HPET and time (tests/kernel/platform_*.c), linked into
# kernel.elf. The sources they test are compiled by kernel/build.mk.
PLATFORM_KTEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard tests/kernel/platform_*.c)))

KERNEL_OBJS += $(PLATFORM_KTEST_OBJS)
ALL_DEPS    += $(PLATFORM_KTEST_OBJS:.o=.d)

$(BUILD)/tests/kernel/platform_%.o: tests/kernel/platform_%.c
	@mkdir -p $(@D)
	@echo "  CC [ktest] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@
