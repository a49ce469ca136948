# Tests: each owner adds a fragment under tests/host/ or tests/kernel/ (*.mk),
# appending to HOST_TESTS (host executables) or KERNEL_OBJS (in-kernel tests).
# Cases written once for both harnesses (tests/case.h) live in tests/rt/ and
# tests/mm/, each with a fragment that builds them both ways.

# The host side of tests/case.h, linked into every host binary that has cases
# (defined first: the fragments name it as a prerequisite).
CASE_RUNNER_OBJ := $(BUILD)/tests/host/case_runner.o
ALL_DEPS += $(CASE_RUNNER_OBJ:.o=.d)

$(CASE_RUNNER_OBJ): tests/host/case_runner.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

include $(sort $(wildcard tests/host/*.mk tests/kernel/*.mk tests/rt/*.mk tests/mm/*.mk))
include tests/fuzz/build.mk
