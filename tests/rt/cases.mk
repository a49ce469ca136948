# The runtime's test cases, written once (tests/case.h) and built twice:
# into the kernel image (KERNEL_CFLAGS, registered as KTESTs) and into the
# host test binary of the same name (build/tests/host/test_rt_NAME, whose
# link rule in tests/host/rt.mk takes the *_cases.o among its prerequisites).
# Coroutine code carries the split-stack
# check on both sides.
RT_CASE_NAMES := chan sched gc mprof

RT_CASE_KOBJS := $(patsubst %,$(BUILD)/tests/rt/%_cases.o,$(RT_CASE_NAMES))
KERNEL_OBJS += $(RT_CASE_KOBJS)
ALL_DEPS    += $(RT_CASE_KOBJS:.o=.d)

$(BUILD)/tests/rt/%_cases.o: tests/rt/%_cases.c
	@mkdir -p $(@D)
	@echo "  CC [ktest] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/host/tests/rt/%_cases.o: tests/rt/%_cases.c
	@mkdir -p $(@D)
	@echo "  CC [host] $<"
	$(Q)$(CC) $(HOST_CFLAGS) $(RT_SPLIT_CFLAGS) -c $< -o $@

$(foreach n,$(RT_CASE_NAMES),$(eval $(BUILD)/tests/host/test_rt_$(n): $(BUILD)/host/tests/rt/$(n)_cases.o))
ALL_DEPS += $(patsubst %,$(BUILD)/host/tests/rt/%_cases.d,$(RT_CASE_NAMES))
