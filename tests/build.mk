# Tests: each owner adds a fragment under tests/host/ or tests/kernel/ (*.mk),
# appending to HOST_TESTS (host executables) or KERNEL_OBJS (in-kernel tests).
include $(sort $(wildcard tests/host/*.mk tests/kernel/*.mk))
include tests/fuzz/build.mk
