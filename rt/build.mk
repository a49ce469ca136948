# rt/ build fragment (see the top Makefile for the variables it appends to).
#
# The runtime is portable C plus one port file. Three builds of the same sources:
#   $(BUILD)/rt/librt_hosted.a   HOST_CFLAGS (ASan+UBSan, RT_DEBUG=1): host tests
#   $(BUILD)/rt/librt_bench.a    -O2, no sanitizers, RT_DEBUG=0: benchmarks (bench/)
#   $(BUILD)/rt/kernel/...       KERNEL_CFLAGS, with rt/port/kernel.c: linked into
#                                kernel.elf (the OS half of sys_* is mm/sysmem.c)

RT_PORTABLE_SRCS := rt/sizeclasses.c rt/sys.c rt/lockrank.c rt/fixalloc.c rt/mspan.c \
	rt/mpagealloc.c rt/mheap.c rt/mcentral.c rt/mcache.c rt/malloc.c rt/mbitmap.c \
	rt/mstats.c rt/mgcscavenge.c rt/barrier.c rt/heapview.c rt/print.c
RT_HOSTED_SRCS := $(RT_PORTABLE_SRCS) rt/port/hosted.c

RT_HOSTED_OBJS := $(patsubst %.c,$(BUILD)/rt/hosted/%.o,$(RT_HOSTED_SRCS))
RT_BENCH_OBJS  := $(patsubst %.c,$(BUILD)/rt/bench/%.o,$(RT_HOSTED_SRCS))
RT_KERNEL_OBJS := $(patsubst %.c,$(BUILD)/rt/kernel/%.o,$(RT_PORTABLE_SRCS) rt/port/kernel.c)

RT_HOSTED_LIB := $(BUILD)/rt/librt_hosted.a
RT_BENCH_LIB  := $(BUILD)/rt/librt_bench.a

RT_BENCH_CFLAGS := -std=gnu11 -O2 -g $(WARN) -fno-omit-frame-pointer -MMD -MP -I. \
	-DHOSTED=1 -DRT_DEBUG=0

$(RT_HOSTED_OBJS): $(BUILD)/rt/hosted/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(RT_BENCH_OBJS): $(BUILD)/rt/bench/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(RT_BENCH_CFLAGS) -c $< -o $@

$(RT_KERNEL_OBJS): $(BUILD)/rt/kernel/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(RT_HOSTED_LIB): $(RT_HOSTED_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(RT_BENCH_LIB): $(RT_BENCH_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

.PHONY: rt
rt: $(RT_HOSTED_LIB) $(RT_BENCH_LIB)

KERNEL_OBJS += $(RT_KERNEL_OBJS)
ALL_DEPS += $(RT_HOSTED_OBJS:.o=.d) $(RT_BENCH_OBJS:.o=.d) $(RT_KERNEL_OBJS:.o=.d)
