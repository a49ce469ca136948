# rt/ build fragment (see the top Makefile for the variables it appends to).
#
# The runtime is portable C plus one port file. Three builds of the same sources:
#   $(BUILD)/rt/librt_hosted.a   HOST_CFLAGS (ASan+UBSan, RT_DEBUG=1): host tests
#   $(BUILD)/rt/librt_bench.a    -O2, no sanitizers, RT_DEBUG=0: benchmarks (bench/)
#   $(BUILD)/rt/kernel/...       KERNEL_CFLAGS, with rt/port/kernel.c: linked into
#                                kernel.elf (the OS half of sys_* is mm/sysmem.c)
# and one check: code outside rt/ includes only the public headers (rt-includes).

RT_PORTABLE_SRCS := rt/sizeclasses.c rt/sys.c rt/lockrank.c rt/fixalloc.c rt/mspan.c \
	rt/mpagealloc.c rt/mheap.c rt/mcentral.c rt/mcache.c rt/malloc.c rt/mbitmap.c \
	rt/mstats.c rt/mgcscavenge.c rt/mbarrier.c rt/heapview.c rt/print.c \
	rt/proc.c rt/stack.c rt/chan.c rt/select.c rt/sema.c rt/sudog.c rt/time.c \
	rt/mgc.c rt/mgcmark.c rt/mgcwork.c rt/mgcsweep.c rt/mprof.c
RT_HOSTED_SRCS := $(RT_PORTABLE_SRCS) rt/port/hosted.c

# Coroutines run this code on small stacks: every function carries gcc's
# split-stack prologue check (rt/stack.c). Code a coroutine runs must be built
# with it too (RT_SPLIT_CFLAGS); linking needs no flag (our __morestack is in
# rt/port/amd64.S, and gcc's link-time -fsplit-stack would pull libgcc's).
RT_SPLIT_CFLAGS := -fsplit-stack

# Hosted objects: their code goes to section rt_text, so the preemption check
# can tell runtime code (never a preemption point) from the code it runs
# (rt_port_preemptible_pc in rt/port/hosted.c).
RT_TEXT_RENAME := $(foreach s,.text .text.unlikely .text.hot .text.startup .text.exit,\
	--rename-section $(s)=rt_text,alloc,load,readonly,code,contents)

RT_HOSTED_OBJS := $(patsubst %.c,$(BUILD)/rt/hosted/%.o,$(RT_HOSTED_SRCS)) $(BUILD)/rt/hosted/rt/port/amd64.o
RT_BENCH_OBJS  := $(patsubst %.c,$(BUILD)/rt/bench/%.o,$(RT_HOSTED_SRCS)) $(BUILD)/rt/bench/rt/port/amd64.o
RT_KERNEL_OBJS := $(patsubst %.c,$(BUILD)/rt/kernel/%.o,$(RT_PORTABLE_SRCS) rt/port/kernel.c) \
	$(BUILD)/rt/kernel/rt/port/amd64.o

RT_HOSTED_LIB := $(BUILD)/rt/librt_hosted.a
RT_BENCH_LIB  := $(BUILD)/rt/librt_bench.a

RT_BENCH_CFLAGS := -std=gnu11 -O2 -g $(WARN) -fno-omit-frame-pointer -MMD -MP -I. \
	-DHOSTED=1 -DRT_DEBUG=0

# No ASan redzones in the runtime's own frames: the scheduler abandons frames
# on the system stack (schedule() never returns), and stale redzone poison
# left there would be reported against the next frames at the same place.
# Heap and global checks stay on; the code coroutines run keeps stack checks.
RT_HOSTED_ASAN_STACK := --param asan-stack=0

$(filter %.o,$(patsubst %.c,$(BUILD)/rt/hosted/%.o,$(RT_HOSTED_SRCS))): $(BUILD)/rt/hosted/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) $(RT_HOSTED_ASAN_STACK) $(RT_SPLIT_CFLAGS) -c $< -o $@
	$(Q)objcopy $(RT_TEXT_RENAME) $@

$(filter %.o,$(patsubst %.c,$(BUILD)/rt/bench/%.o,$(RT_HOSTED_SRCS))): $(BUILD)/rt/bench/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(RT_BENCH_CFLAGS) $(RT_SPLIT_CFLAGS) -c $< -o $@
	$(Q)objcopy $(RT_TEXT_RENAME) $@

$(BUILD)/rt/hosted/rt/port/amd64.o $(BUILD)/rt/bench/rt/port/amd64.o: rt/port/amd64.S
	@mkdir -p $(dir $@)
	$(Q)$(CC) -DHOSTED=1 -MMD -MP -I. -c $< -o $@

$(filter-out %/amd64.o,$(RT_KERNEL_OBJS)): $(BUILD)/rt/kernel/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/rt/kernel/rt/port/amd64.o: rt/port/amd64.S
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

$(RT_HOSTED_LIB): $(RT_HOSTED_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(RT_BENCH_LIB): $(RT_BENCH_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

.PHONY: rt
rt: $(RT_HOSTED_LIB) $(RT_BENCH_LIB)

KERNEL_OBJS += $(RT_KERNEL_OBJS)
ALL_DEPS += $(RT_HOSTED_OBJS:.o=.d) $(RT_BENCH_OBJS:.o=.d) $(RT_KERNEL_OBJS:.o=.d)

# Code outside rt/ includes only the runtime's public headers: the script
# names them and the short allowlist of tests that inspect internals.
.PHONY: rt-includes
rt-includes:
	$(Q)scripts/check-rt-includes $(BUILD)

all: rt-includes
test-host: rt-includes
