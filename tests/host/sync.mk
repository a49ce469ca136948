# Host tests of kernel/lib/spinlock.c (HOSTED=1: threads play CPUs; see
# tests/host/test_spinlock.c). Two builds:
# under ASan+UBSan (HOST_CFLAGS), and under ThreadSanitizer when the
# compiler can link it (checks the lock's memory ordering).
SYNC_HOST_TESTS := $(BUILD)/tests/host/test_spinlock
SYNC_TSAN_OK := $(shell echo 'int main(void){return 0;}' | $(CC) -x c -fsanitize=thread -o /dev/null - 2>/dev/null && echo yes)
ifeq ($(SYNC_TSAN_OK),yes)
SYNC_HOST_TESTS += $(BUILD)/tests/host/test_spinlock_tsan
endif
HOST_TESTS += $(SYNC_HOST_TESTS)
ALL_DEPS += $(SYNC_HOST_TESTS:=.d)

$(BUILD)/tests/host/test_spinlock: tests/host/test_spinlock.c kernel/lib/spinlock.c
	@mkdir -p $(@D)
	@echo "  CC [host] $@"
	$(Q)$(CC) $(HOST_CFLAGS) -MF $@.d $^ -pthread $(HOST_LDFLAGS) -o $@

$(BUILD)/tests/host/test_spinlock_tsan: tests/host/test_spinlock.c kernel/lib/spinlock.c
	@mkdir -p $(@D)
	@echo "  CC [host] $@ (TSan)"
	$(Q)$(CC) $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(HOST_CFLAGS)) -fsanitize=thread \
		-MF $@.d $^ -pthread -fsanitize=thread -o $@
