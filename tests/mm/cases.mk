# The frame allocator's test cases, written once (tests/case.h) and built
# twice: into the kernel image (registered as KTESTs) and into the host's
# test_buddy (tests/host/mm.mk), which runs them on its fake memory.
MM_CASE_KOBJS := $(BUILD)/tests/mm/buddy_cases.o
MM_CASE_HOBJS := $(BUILD)/host/tests/mm/buddy_cases.o
KERNEL_OBJS += $(MM_CASE_KOBJS)
ALL_DEPS    += $(MM_CASE_KOBJS:.o=.d) $(MM_CASE_HOBJS:.o=.d)

$(BUILD)/tests/mm/%_cases.o: tests/mm/%_cases.c
	@mkdir -p $(@D)
	@echo "  CC [ktest] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/host/tests/mm/%_cases.o: tests/mm/%_cases.c
	@mkdir -p $(@D)
	@echo "  CC [host] $<"
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@
