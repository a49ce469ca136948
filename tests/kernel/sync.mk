# In-kernel tests of synchronization: the spinlock (kernel/lib/spinlock.c,
# compiled by kernel/build.mk) alone and under contention on every CPU
# (tests/kernel/sync_*.c), linked into kernel.elf.
SYNC_KTEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard tests/kernel/sync_*.c)))

KERNEL_OBJS += $(SYNC_KTEST_OBJS)
ALL_DEPS    += $(SYNC_KTEST_OBJS:.o=.d)

$(BUILD)/tests/kernel/sync_%.o: tests/kernel/sync_%.c
	@mkdir -p $(@D)
	@echo "  CC [ktest] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@
