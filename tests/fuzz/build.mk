# Fuzz harnesses (tests/fuzz/): one libFuzzer harness per parser of hostile input.
#
#   make test            replays tests/fuzz/corpus/ and tests/fuzz/crashes/
#                        through the gcc ASan/UBSan build ($(BUILD)/tests/fuzz/
#                        replay_TARGET, in HOST_TESTS): no clang needed

FUZZ_ALL_TARGETS := elf_check memmap cmdline acpi boot_check ksyms rt_sizeclass rt_span

# The printf engine moves with kernel/lib/: take it from where it is.
FUZZ_FMT := $(firstword $(wildcard kernel/lib/fmt.c kernel/fmt.c))

FUZZ_SRCS_elf_check    := boot/elf_check.c
FUZZ_SRCS_memmap       := mm/memmap.c
FUZZ_SRCS_cmdline      := kernel/cmdline.c kernel/glob.c $(FUZZ_FMT)
FUZZ_SRCS_acpi         := kernel/acpi.c $(FUZZ_FMT)
FUZZ_SRCS_boot_check   := kernel/boot_check.c $(FUZZ_FMT)
FUZZ_SRCS_ksyms        := kernel/ksyms.c $(FUZZ_FMT)
FUZZ_SRCS_rt_sizeclass := rt/sizeclasses.c
FUZZ_SRCS_rt_span      := rt/mspan.c

# ---- The replay build (gcc, part of make test). ----
FUZZ_REPLAYS := $(addprefix $(BUILD)/tests/fuzz/replay_,$(FUZZ_ALL_TARGETS))
HOST_TESTS += $(FUZZ_REPLAYS)

$(BUILD)/tests/fuzz/host/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC [host] $<"
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/tests/fuzz/host/tests/fuzz/replay_%.o: tests/fuzz/replay.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -DFUZZ_NAME='"$*"' -c $< -o $@

define FUZZ_TARGET_RULES
$(BUILD)/tests/fuzz/replay_$(1): $(BUILD)/tests/fuzz/host/tests/fuzz/fuzz_$(1).o \
		$(BUILD)/tests/fuzz/host/tests/fuzz/replay_$(1).o $(patsubst %.c,$(BUILD)/tests/fuzz/host/%.o,$(FUZZ_SRCS_$(1)))
	@echo "  LD [host] $$@"
	$(Q)$(CC) $$^ $(HOST_LDFLAGS) -o $$@
endef
$(foreach t,$(FUZZ_ALL_TARGETS),$(eval $(call FUZZ_TARGET_RULES,$(t))))

ALL_DEPS += $(wildcard $(BUILD)/tests/fuzz/host/*/*.d $(BUILD)/tests/fuzz/host/*/*/*.d)
