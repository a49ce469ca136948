# Host tests of the kernel core's pure logic (printf engine, command line,
# test globs, boot_info validation, symbol lookup) under ASan/UBSan: the same sources as the
# kernel's, compiled with HOST_CFLAGS into $(BUILD)/host/kernel/.
CORE_HOST_TESTS := $(addprefix $(BUILD)/tests/host/, test_fmt test_cmdline test_bootinfo test_ksyms)
HOST_TESTS += $(CORE_HOST_TESTS)
ALL_DEPS += $(CORE_HOST_TESTS:=.d) $(patsubst %,$(BUILD)/host/kernel/%.d,lib/fmt cmdline glob boot_check ksyms)

$(BUILD)/host/kernel/%.o: kernel/%.c
	@mkdir -p $(@D)
	@echo "  CC [host] $<"
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/tests/host/test_fmt: $(BUILD)/host/kernel/lib/fmt.o
$(BUILD)/tests/host/test_cmdline: $(BUILD)/host/kernel/cmdline.o $(BUILD)/host/kernel/glob.o $(BUILD)/host/kernel/lib/fmt.o
$(BUILD)/tests/host/test_bootinfo: $(BUILD)/host/kernel/boot_check.o $(BUILD)/host/kernel/lib/fmt.o
$(BUILD)/tests/host/test_ksyms: $(BUILD)/host/kernel/ksyms.o $(BUILD)/host/kernel/lib/fmt.o

$(CORE_HOST_TESTS): $(BUILD)/tests/host/%: tests/host/%.c
	@mkdir -p $(@D)
	@echo "  CC [host] $@"
	$(Q)$(CC) $(HOST_CFLAGS) -MF $@.d $< $(filter %.o,$^) $(HOST_LDFLAGS) -o $@
