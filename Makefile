# Top-level build. Each directory contributes one fragment (*/build.mk);
# this file holds the shared flags and the user-facing targets.
#
#   make            build the loader and the kernel
#   make run        boot the tour under QEMU (exits 0)
#   make shell      boot into an interactive prompt on the serial console ('help', 'exit')
#   make test       host tests, then the in-kernel suite and the failure paths
#   make debug      boot with QEMU waiting for gdb, and attach gdb with symbols
#   make bench      side-by-side allocation benchmarks (not part of test)
#   make stress     every suite STRESS_N times (default 20) with fresh seeds (not part of test)
#   make fuzz       each libFuzzer harness FUZZ_S seconds (tests/fuzz/README)
#   make clean      remove $(BUILD)
#
# BUILD can be moved (make BUILD=/tmp/b test) so several trees can build at once.

BUILD ?= build
# Only our own rules: the builtin ones (e.g. `%: %.o`) would try to "remake"
# included .d files from objects that happen to match a pattern rule.
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:
V ?= 0
ifeq ($(V),0)
Q := @
else
Q :=
endif

CC      := gcc
LD      := ld
OBJCOPY := objcopy
NM      := nm

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wvla

# The kernel: freestanding, higher half (-mcmodel=kernel), no red zone, no SSE
# (the kernel never saves FPU state), frame pointers kept for backtraces (and
# for the stack copier's frame-chain check). -fsplit-stack: every function
# checks its stack against the guard at %fs:0x70 (rt/stack.c), so any kernel
# code a coroutine calls grows the coroutine's stack instead of overflowing it;
# on the kernel's own stacks the guard is 0 and the check never fires.
KERNEL_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-stack-protector \
	-fno-pic -fno-pie -mcmodel=kernel -mno-red-zone -mgeneral-regs-only \
	-fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-optimize-sibling-calls \
	-fno-builtin-memcpy -fsplit-stack \
	-fno-strict-aliasing -fno-common -MMD -MP -I.
KERNEL_ASFLAGS := -g -MMD -MP -I. -D__ASSEMBLY__
KERNEL_LDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack --no-relax

# Host builds of the same pure-logic sources, under sanitizers.
HOST_CFLAGS := -std=gnu11 -O1 -g $(WARN) -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -MMD -MP -I. -DHOSTED=1
# -z now: no lazy binding on a coroutine's small stack (bench/build.mk says why).
HOST_LDFLAGS := -fsanitize=address,undefined -Wl,-z,now

# Launcher options for make run / make debug (scripts/qemu --help): four CPUs,
# so the tour shows SMP; e.g. make run RUN_ARGS="--smp 2 --mem 6G".
RUN_ARGS ?= --smp 4

LOADER := $(BUILD)/boot/BOOTX64.EFI
KERNEL := $(BUILD)/kernel/kernel.elf

# Fragments append to these.
KERNEL_OBJS :=
HOST_TESTS  :=
ALL_DEPS    :=

.PHONY: all run shell test test-host test-kernel test-boot stress debug clean deps plot
all:

include boot/build.mk
include kernel/build.mk
include mm/build.mk
include rt/build.mk
include bench/build.mk
include tests/build.mk

all: $(LOADER) $(KERNEL)

deps:
	$(Q)scripts/deps

run: deps all
	$(Q)scripts/qemu --loader $(LOADER) --kernel $(KERNEL) $(RUN_ARGS)

shell: deps all
	$(Q)scripts/qemu --loader $(LOADER) --kernel $(KERNEL) --cmdline run=shell --input - --timeout 0 $(RUN_ARGS)

test: deps all $(HOST_TESTS)
	$(Q)BUILD=$(BUILD) tests/run-all $(HOST_TESTS)

test-host: $(HOST_TESTS)
	$(Q)BUILD=$(BUILD) tests/run-all --only host $(HOST_TESTS)

test-kernel: all
	$(Q)BUILD=$(BUILD) tests/run-all --only kernel

test-boot: all $(BUILD)/tests/host/test_rt_mprof
	$(Q)BUILD=$(BUILD) tests/run-all --only boot

# The memory graphs (scripts/plot): build/plots/heap.png, pauses.png, heap-hosted.png.
plot: deps all $(BENCH_OUT)/bt-ours $(BENCH_OUT)/bt-go
	$(Q)scripts/deps --plot
	$(Q)scripts/plot --kernel $(KERNEL) --loader $(LOADER) --bench $(BENCH_OUT) --out $(BUILD)/plots

stress: deps all $(HOST_TESTS)
	$(Q)BUILD=$(BUILD) scripts/stress $(HOST_TESTS)

debug: deps all
	$(Q)scripts/debug --loader $(LOADER) --kernel $(KERNEL) $(RUN_ARGS)

clean:
	rm -rf $(BUILD)

-include $(ALL_DEPS)
