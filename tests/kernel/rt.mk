# In-kernel tests of the runtime (tests/kernel/rt_*.c), linked into kernel.elf.
RT_KTEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard tests/kernel/rt_*.c)))
KERNEL_OBJS += $(RT_KTEST_OBJS)
ALL_DEPS    += $(RT_KTEST_OBJS:.o=.d)

$(BUILD)/tests/kernel/rt_%.o: tests/kernel/rt_%.c
	@mkdir -p $(@D)
	@echo "  CC [ktest] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@
