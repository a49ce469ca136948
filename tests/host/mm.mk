# Host tests of mm/'s pure logic (memory-map parsing, the buddy allocator)
# under ASan/UBSan. The same sources as the kernel's, built with HOSTED=1.
MM_HOST_TESTS := $(BUILD)/tests/host/test_memmap $(BUILD)/tests/host/test_buddy
HOST_TESTS += $(MM_HOST_TESTS)
ALL_DEPS += $(MM_HOST_TESTS:=.d) $(BUILD)/host/mm/memmap.d $(BUILD)/host/mm/buddy.d

$(BUILD)/host/mm/%.o: mm/%.c
	@mkdir -p $(@D)
	@echo "  CC [host] $<"
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/tests/host/test_memmap: tests/host/test_memmap.c $(BUILD)/host/mm/memmap.o
	@mkdir -p $(@D)
	@echo "  CC [host] $@"
	$(Q)$(CC) $(HOST_CFLAGS) -MF $@.d $< $(BUILD)/host/mm/memmap.o $(HOST_LDFLAGS) -o $@

# test_buddy also runs the cases the kernel runs (tests/mm/buddy_cases.c).
$(BUILD)/tests/host/test_buddy: tests/host/test_buddy.c $(BUILD)/host/mm/buddy.o $(BUILD)/host/mm/memmap.o \
		$(BUILD)/host/tests/mm/buddy_cases.o $(CASE_RUNNER_OBJ)
	@mkdir -p $(@D)
	@echo "  CC [host] $@"
	$(Q)$(CC) $(HOST_CFLAGS) -MF $@.d $< $(filter %.o,$^) $(HOST_LDFLAGS) -o $@
