# In-kernel tests of the kernel core (tests/kernel/core*.c), linked into
# kernel.elf; they register themselves with KTEST (kernel/ktest.h).
CORE_KTEST_SRCS := $(sort $(wildcard tests/kernel/core*.c))
CORE_KTEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CORE_KTEST_SRCS))

KERNEL_OBJS += $(CORE_KTEST_OBJS)
ALL_DEPS    += $(CORE_KTEST_OBJS:.o=.d)

$(BUILD)/tests/kernel/core%.o: tests/kernel/core%.c
	@mkdir -p $(@D)
	@echo "  CC [ktest] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@
