# In-kernel tests of mm's page tables and its half of the runtime boundary
# (mm_paging.c, mm_sys.c); compiled by the mm_%.o rule of tests/kernel/mm.mk.
VM_KTEST_OBJS := $(BUILD)/tests/kernel/mm_paging.o $(BUILD)/tests/kernel/mm_sys.o
KERNEL_OBJS += $(VM_KTEST_OBJS)
ALL_DEPS    += $(VM_KTEST_OBJS:.o=.d)
