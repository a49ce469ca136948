# Host tests of the loader's pure logic.
HOST_TESTS += $(BUILD)/tests/host/test_elf_check
ALL_DEPS += $(BUILD)/tests/host/test_elf_check.d $(BUILD)/host/boot/elf_check.d

$(BUILD)/host/boot/%.o: boot/%.c
	@mkdir -p $(@D)
	@echo "  CC [host] $<"
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/tests/host/test_elf_check: tests/host/test_elf_check.c $(BUILD)/host/boot/elf_check.o
	@mkdir -p $(@D)
	@echo "  CC [host] $@"
	$(Q)$(CC) $(HOST_CFLAGS) -MF $@.d $< $(BUILD)/host/boot/elf_check.o $(HOST_LDFLAGS) -o $@
