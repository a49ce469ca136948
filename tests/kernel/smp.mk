# In-kernel tests of SMP (tests/kernel/smp_*.c), linked into kernel.elf.
SMP_KTEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard tests/kernel/smp_*.c)))
KERNEL_OBJS += $(SMP_KTEST_OBJS)
ALL_DEPS    += $(SMP_KTEST_OBJS:.o=.d)

$(BUILD)/tests/kernel/smp_%.o: tests/kernel/smp_%.c
	@mkdir -p $(@D)
	@echo "  CC [ktest] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@
