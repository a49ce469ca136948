# Host test of the ACPI parsers (kernel/acpi.c, pure part) under ASan/UBSan,
# with synthetic tables: tests/host/test_acpi.c.
PLATFORM_HOST_TESTS := $(BUILD)/tests/host/test_acpi
PLATFORM_HOST_OBJS := $(BUILD)/host/platform/acpi.o $(BUILD)/host/platform/lib/fmt.o
HOST_TESTS += $(PLATFORM_HOST_TESTS)
ALL_DEPS += $(PLATFORM_HOST_TESTS:=.d) $(PLATFORM_HOST_OBJS:.o=.d)

$(BUILD)/host/platform/%.o: kernel/%.c
	@mkdir -p $(@D)
	@echo "  CC [host] $<"
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/tests/host/test_acpi: tests/host/test_acpi.c $(PLATFORM_HOST_OBJS)
	@mkdir -p $(@D)
	@echo "  CC [host] $@"
	$(Q)$(CC) $(HOST_CFLAGS) -MF $@.d $< $(PLATFORM_HOST_OBJS) $(HOST_LDFLAGS) -o $@
