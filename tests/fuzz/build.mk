# Fuzzing (tests/fuzz/): one libFuzzer harness per parser of hostile input.
#
#   make fuzz            each target for FUZZ_S seconds (default 60), one at a
#                        time at low priority; new findings are kept under
#                        $(BUILD)/fuzz/crashes/TARGET/ with the command to replay
#                        them (tests/fuzz/run prints a table)
#   make fuzz FUZZ_TARGETS=acpi FUZZ_S=600    one target, longer
#   make test            replays tests/fuzz/corpus/ and tests/fuzz/crashes/
#                        through the gcc ASan/UBSan build ($(BUILD)/tests/fuzz/
#                        replay_TARGET, in HOST_TESTS): no clang needed
#
# Each harness is compiled twice from the same file: with clang and
# -fsanitize=fuzzer (libFuzzer's main) and with gcc plus tests/fuzz/replay.c.
# The code under test is compiled from source for each build (the fuzz build
# needs clang's coverage instrumentation in it).

FUZZ_ALL_TARGETS := elf_check memmap cmdline acpi boot_check ksyms rt_sizeclass rt_span
FUZZ_TARGETS ?= $(FUZZ_ALL_TARGETS)
FUZZ_S ?= 60
FUZZ_CC ?= clang

# The printf engine moves with kernel/lib/: take it from where it is.
FUZZ_FMT := $(firstword $(wildcard kernel/lib/fmt.c kernel/fmt.c))

FUZZ_SRCS_elf_check    := boot/elf_check.c
FUZZ_SRCS_memmap       := mm/memmap.c
FUZZ_SRCS_cmdline      := kernel/cmdline.c kernel/glob.c $(FUZZ_FMT)
FUZZ_SRCS_acpi         := kernel/acpi.c $(FUZZ_FMT)
FUZZ_SRCS_boot_check   := kernel/boot_check.c $(FUZZ_FMT)
FUZZ_SRCS_ksyms        := kernel/ksyms.c $(FUZZ_FMT)
FUZZ_SRCS_rt_sizeclass := rt/sizeclasses.c tests/fuzz/rt_throw.c
FUZZ_SRCS_rt_span      := rt/mspan.c tests/fuzz/rt_throw.c

FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -MMD -MP -I. -DHOSTED=1
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined

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

# ---- The libFuzzer build (clang, make fuzz only). ----
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC [fuzz] $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

define FUZZ_TARGET_RULES
$(BUILD)/tests/fuzz/replay_$(1): $(BUILD)/tests/fuzz/host/tests/fuzz/fuzz_$(1).o \
		$(BUILD)/tests/fuzz/host/tests/fuzz/replay_$(1).o $(patsubst %.c,$(BUILD)/tests/fuzz/host/%.o,$(FUZZ_SRCS_$(1)))
	@echo "  LD [host] $$@"
	$(Q)$(CC) $$^ $(HOST_LDFLAGS) -o $$@

$(BUILD)/fuzz/fuzz_$(1): $(BUILD)/fuzz/obj/tests/fuzz/fuzz_$(1).o $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_SRCS_$(1)))
	@echo "  LD [fuzz] $$@"
	$(Q)$(FUZZ_CC) $$^ $(FUZZ_LDFLAGS) -o $$@
endef
$(foreach t,$(FUZZ_ALL_TARGETS),$(eval $(call FUZZ_TARGET_RULES,$(t))))

ALL_DEPS += $(wildcard $(BUILD)/tests/fuzz/host/*/*.d $(BUILD)/tests/fuzz/host/*/*/*.d \
	$(BUILD)/fuzz/obj/*/*.d $(BUILD)/fuzz/obj/*/*/*.d $(BUILD)/fuzz/obj/*/*/*/*.d)

.PHONY: fuzz fuzz-deps
fuzz-deps:
	$(Q)scripts/deps --fuzz

fuzz: fuzz-deps
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD) $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZ_TARGETS))
	$(Q)BUILD=$(BUILD) FUZZ_S=$(FUZZ_S) tests/fuzz/run $(FUZZ_TARGETS)
