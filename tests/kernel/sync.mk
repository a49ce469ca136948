# Synchronization: the spinlock (kernel/lib/spinlock.c) and its in-kernel tests
# (tests/kernel/sync_*.c), linked into kernel.elf. Objects go under
# $(BUILD)/sync/ so this fragment owns its rules outright.
#
# sync_smp.c (contention and fairness on every CPU) needs kernel/smp.c's
# smp_run_on_all: it is linked only once the kernel links smp.o.
SYNC_KERNEL_OBJS := $(BUILD)/sync/kernel/lib/spinlock.o
SYNC_KTEST_SRCS := tests/kernel/sync_spinlock.c
ifneq ($(filter $(BUILD)/kernel/smp.o,$(KERNEL_OBJS)),)
SYNC_KTEST_SRCS += tests/kernel/sync_smp.c
endif
SYNC_KTEST_OBJS := $(patsubst %.c,$(BUILD)/sync/%.o,$(SYNC_KTEST_SRCS))

KERNEL_OBJS += $(SYNC_KERNEL_OBJS) $(SYNC_KTEST_OBJS)
ALL_DEPS    += $(SYNC_KERNEL_OBJS:.o=.d) $(SYNC_KTEST_OBJS:.o=.d)

$(BUILD)/sync/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC [sync] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@
