# In-kernel tests of mm/ (KTEST, kernel/ktest.h), linked into kernel.elf.
MM_KTEST_OBJS := $(BUILD)/tests/kernel/mm_buddy.o
KERNEL_OBJS += $(MM_KTEST_OBJS)
ALL_DEPS    += $(MM_KTEST_OBJS:.o=.d)

$(BUILD)/tests/kernel/mm_%.o: tests/kernel/mm_%.c
	@mkdir -p $(@D)
	@echo "  CC [kernel] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@
