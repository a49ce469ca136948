# bench/ build fragment: side-by-side allocation benchmarks (hosted, optimized,
# no sanitizers). Not part of `make all` or `make test`; the top Makefile only
# includes this file, after rt/build.mk (it reads RT_BENCH_LIB from there).
#
#   make bench            scripts/bench-deps, build the peers, run the matrix,
#                         print the tables, write $(BUILD)/bench/alloc.tsv
#   make bench-callgrind  instructions per small allocation (valgrind)
#   make bench-wb         instructions per pointer store, barrier off and on (valgrind)
#   make bench-sched      only the scheduler benchmarks (also part of bench):
#                         coroutines vs goroutines, $(BUILD)/bench/sched.tsv
#   make bench-gc         only the collector benchmark (also part of bench):
#                         binary-trees beside Go, Boehm, glibc, mimalloc,
#                         $(BUILD)/bench/gc.tsv
#
# Knobs: BENCH_PASSES=N (default 3), BENCH_SIZES="16 64" (default: all sizes),
# BENCH_GC_DEPTHS="16 18" (default 16 to 20), BENCH_GC_KERNEL_DEPTH=N (bench/run-gc).
#
# "ours" links rt/build.mk's benchmark library RT_BENCH_LIB (-O2, no
# sanitizers, HOSTED), plus RT_BENCH_LDLIBS (-lpthread is always given).
# -z now: the hosted runtime calls libc (memset, memcpy) on coroutine stacks,
# where the dynamic linker's lazy binding (several KiB of stack for its xsave
# area and lookup) would overflow a small stack the first time; bt-ours with
# 2 Ps crashed so in _dl_runtime_resolve_xsavec. Bind every symbol at start.
RT_BENCH_LDLIBS := -Wl,-z,now

BENCH_OUT := $(BUILD)/bench
BENCH_CFLAGS := -std=gnu11 -O2 -g $(WARN) -fno-omit-frame-pointer -MMD -MP -I. -DHOSTED=1

# Go 1.19 from Debian, offline: no modules, caches inside the build dir.
BENCH_GOENV := GOCACHE=$(abspath $(BENCH_OUT))/go/cache GOPATH=$(abspath $(BENCH_OUT))/go/path \
	GO111MODULE=off GOFLAGS= GOPROXY=off GOENV=off GOTOOLCHAIN=local CGO_ENABLED=0

# malloc peers: one source, one executable each; the library that must end up
# providing malloc (checked at start-up), and how to link it.
BENCH_MALLOCS := glibc mimalloc jemalloc
BENCH_MALLOC_LIB_glibc     := libc.so
BENCH_MALLOC_LIB_mimalloc  := libmimalloc
BENCH_MALLOC_LIB_jemalloc  := libjemalloc
BENCH_LDLIBS_glibc    :=
BENCH_LDLIBS_mimalloc := -Wl,--no-as-needed -lmimalloc -Wl,--as-needed
BENCH_LDLIBS_jemalloc := -Wl,--no-as-needed -ljemalloc -Wl,--as-needed

BENCH_HARNESS := $(BENCH_OUT)/alloc_bench.o
BENCH_BINS := $(BENCH_MALLOCS:%=$(BENCH_OUT)/alloc-%) $(BENCH_OUT)/alloc-boehm $(BENCH_OUT)/alloc-go \
	$(BENCH_OUT)/alloc-ours
BENCH_OBJS := $(BENCH_HARNESS) $(BENCH_MALLOCS:%=$(BENCH_OUT)/peer_malloc-%.o) $(BENCH_OUT)/peer_boehm.o \
	$(BENCH_OUT)/peer_rt.o

$(BENCH_OUT)/alloc-ours: $(BENCH_OUT)/peer_rt.o $(BENCH_HARNESS) $(RT_BENCH_LIB)
	$(Q)$(CC) -o $@ $^ $(RT_BENCH_LDLIBS) -lpthread

ALL_DEPS += $(BENCH_OBJS:.o=.d)

.PHONY: bench bench-callgrind bench-deps

bench-deps:
	$(Q)scripts/bench-deps

# Every compile waits for the packages (order-only: installing is not a change).
$(BENCH_OUT)/%.o: bench/%.c | bench-deps
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_OUT)/peer_malloc-%.o: bench/peer_malloc.c | bench-deps
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) -DBENCH_PEER='"$*"' -DBENCH_PEER_LIB='"$(BENCH_MALLOC_LIB_$*)"' -c $< -o $@

$(BENCH_MALLOCS:%=$(BENCH_OUT)/alloc-%): $(BENCH_OUT)/alloc-%: $(BENCH_OUT)/peer_malloc-%.o $(BENCH_HARNESS)
	$(Q)$(CC) -o $@ $^ $(BENCH_LDLIBS_$*)

$(BENCH_OUT)/alloc-boehm: $(BENCH_OUT)/peer_boehm.o $(BENCH_HARNESS)
	$(Q)$(CC) -o $@ $^ -lgc

$(BENCH_OUT)/alloc-go: bench/alloc.go | bench-deps
	$(Q)mkdir -p $(@D)
	$(Q)$(BENCH_GOENV) go build -trimpath -o $@ $<

# The scheduler benchmarks (bench/sched_bench.h): ours hosted (sched-ours, the
# -O2 RT_BENCH_LIB) with 1 and 2 Ps, Go 1.19 (sched-go) with GOMAXPROCS 1 and
# 2, ours in the kernel (run=bench.sched, linked into every kernel.elf) under
# QEMU with 4 CPUs (1, 2 and 4 Ps in one boot). The code that runs on
# coroutine stacks (sched_bench.c) is compiled with the split-stack prologue,
# RT_SPLIT_CFLAGS if rt/build.mk defines it, else -fsplit-stack; it is compiled
# twice, for the hosted and the kernel build. Linking never gets -fsplit-stack: gcc would wrap
# pthread_create for libgcc's segmented stacks, which rt/ replaces.
BENCH_SPLIT_CFLAGS := $(or $(RT_SPLIT_CFLAGS),-fsplit-stack)
BENCH_SCHED_BINS := $(BENCH_OUT)/sched-go $(BENCH_OUT)/sched-ours

$(BENCH_OUT)/sched_bench-split.o: bench/sched_bench.c | bench-deps
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) $(BENCH_SPLIT_CFLAGS) -c $< -o $@

$(BENCH_OUT)/sched-ours: $(BENCH_OUT)/sched_hosted.o $(BENCH_OUT)/sched_bench-split.o $(RT_BENCH_LIB)
	$(Q)$(CC) -o $@ $^ $(RT_BENCH_LDLIBS) -lpthread

$(BENCH_OUT)/sched-go: bench/sched.go | bench-deps
	$(Q)mkdir -p $(@D)
	$(Q)$(BENCH_GOENV) go build -trimpath -o $@ $<

ALL_DEPS += $(BENCH_OUT)/sched_hosted.d $(BENCH_OUT)/sched_bench-split.d

KERNEL_OBJS += $(BUILD)/kernel-bench/sched_bench-split.o
ALL_DEPS += $(BUILD)/kernel-bench/sched_bench-split.d
$(BUILD)/kernel-bench/sched_bench-split.o: bench/sched_bench.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -fsplit-stack,$(KERNEL_CFLAGS)) $(BENCH_SPLIT_CFLAGS) -c $< -o $@

BENCH_SCHED_RUN = bench/run-sched --out $(BENCH_OUT)/sched.tsv --kernel $(LOADER) $(KERNEL) $(BENCH_SCHED_BINS)

.PHONY: bench-sched
bench-sched: $(BENCH_SCHED_BINS) $(LOADER) $(KERNEL) | bench-deps
	$(Q)$(BENCH_SCHED_RUN)

# The frame allocator's cost: run=bench.frames in the kernel (linked into every
# kernel.elf, built without the peers' packages) and the same code hosted.
BENCH_KERNEL_OBJS := $(BUILD)/kernel-bench/frames_kernel.o $(BUILD)/kernel-bench/smp_kernel.o \
	$(BUILD)/kernel-bench/sched_kernel.o
KERNEL_OBJS += $(BENCH_KERNEL_OBJS)
ALL_DEPS += $(BENCH_KERNEL_OBJS:.o=.d)
$(BENCH_KERNEL_OBJS): $(BUILD)/kernel-bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BENCH_OUT)/frames-hosted: bench/frames_hosted.c mm/buddy.c mm/memmap.c bench/frames_bench.h
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) -MF $@.d -o $@ bench/frames_hosted.c mm/buddy.c mm/memmap.c
ALL_DEPS += $(BENCH_OUT)/frames-hosted.d

bench: $(BENCH_BINS) $(BENCH_OUT)/frames-hosted $(BENCH_SCHED_BINS) $(BENCH_GC_BINS) $(LOADER) $(KERNEL) | bench-deps
	$(Q)bench/run-frames $(BENCH_OUT)/frames.tsv $(BENCH_OUT)/frames-hosted $(LOADER) $(KERNEL)
	$(Q)bench/run-smp $(BENCH_OUT)/smp.tsv $(LOADER) $(KERNEL)
	$(Q)$(BENCH_SCHED_RUN)
	$(Q)bench/run-alloc --out $(BENCH_OUT)/alloc.tsv $(BENCH_BINS)
	$(Q)$(BENCH_GC_RUN)

bench-callgrind: $(BENCH_BINS) | bench-deps
	$(Q)bench/callgrind --out $(BENCH_OUT)/callgrind.tsv $(BENCH_BINS)

# The pointer-store barrier's cost (issue 13): bench/wb_cost.c under callgrind.
$(BENCH_OUT)/wb_cost.o: bench/wb_cost.c | bench-deps
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) -DRT_DEBUG=0 -c $< -o $@   # as RT_BENCH_LIB: no debug check per store
$(BENCH_OUT)/wb-cost: $(BENCH_OUT)/wb_cost.o $(RT_BENCH_LIB)
	$(Q)$(CC) -o $@ $^ $(RT_BENCH_LDLIBS) -lpthread
ALL_DEPS += $(BENCH_OUT)/wb_cost.d

.PHONY: bench-wb
bench-wb: $(BENCH_OUT)/wb-cost | bench-deps
	$(Q)bench/run-wb --out $(BENCH_OUT)/wb.tsv $(BENCH_OUT)/wb-cost

# The collector benchmark (issue 12; program and method in
# bench/binarytrees.h, driver bench/run-gc): binary-trees hosted with ours
# (bt-ours: 1 and 2 Ps), Go 1.19 (bt-go: GOMAXPROCS 1 and 2), Boehm GC
# (bt-boehm: GC_MARKERS 1 and 2), glibc and mimalloc malloc/free, and in the
# kernel (run=bench.binarytrees bt_depth=N, linked into every kernel.elf) on
# 1 and 4 CPUs. Ours collects when rt/build.mk builds rt/mgc.c
# (BENCH_RT_HAS_GC); until then it is "ours-nogc", run only at small depths.
# The code ours runs on a coroutine stack (binarytrees.c, binarytrees_rt.c)
# is compiled with the split-stack prologue and, hosted, RT_DEBUG=0 as
# RT_BENCH_LIB is; the objects that test BENCH_RT_HAS_GC depend on
# rt/build.mk so they follow the collector's arrival.
BENCH_RT_HAS_GC := $(if $(filter rt/mgc.c,$(RT_PORTABLE_SRCS)),1,0)
BENCH_GC_MALLOCS := glibc mimalloc
BENCH_GC_BINS := $(BENCH_OUT)/bt-go $(BENCH_OUT)/bt-ours $(BENCH_OUT)/bt-boehm $(BENCH_GC_MALLOCS:%=$(BENCH_OUT)/bt-%)
BENCH_GC_HARNESS := $(BENCH_OUT)/binarytrees_hosted.o $(BENCH_OUT)/binarytrees.o

$(BENCH_OUT)/bt_peer_malloc-%.o: bench/bt_peer_malloc.c | bench-deps
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) -DBENCH_PEER='"$*"' -DBENCH_PEER_LIB='"$(BENCH_MALLOC_LIB_$*)"' -c $< -o $@

$(BENCH_GC_MALLOCS:%=$(BENCH_OUT)/bt-%): $(BENCH_OUT)/bt-%: $(BENCH_OUT)/bt_peer_malloc-%.o $(BENCH_GC_HARNESS)
	$(Q)$(CC) -o $@ $^ $(BENCH_LDLIBS_$*)

$(BENCH_OUT)/bt-boehm: $(BENCH_OUT)/bt_peer_boehm.o $(BENCH_GC_HARNESS)
	$(Q)$(CC) -o $@ $^ -lgc -lpthread

$(BENCH_OUT)/bt_peer_rt.o: bench/bt_peer_rt.c rt/build.mk | bench-deps
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) -DBENCH_RT_HAS_GC=$(BENCH_RT_HAS_GC) -c $< -o $@

$(BENCH_OUT)/binarytrees-split.o $(BENCH_OUT)/binarytrees_rt-split.o: $(BENCH_OUT)/%-split.o: bench/%.c | bench-deps
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(BENCH_CFLAGS) $(BENCH_SPLIT_CFLAGS) -DRT_DEBUG=0 -c $< -o $@

$(BENCH_OUT)/bt-ours: $(BENCH_OUT)/binarytrees_hosted.o $(BENCH_OUT)/bt_peer_rt.o $(BENCH_OUT)/binarytrees-split.o \
		$(BENCH_OUT)/binarytrees_rt-split.o $(RT_BENCH_LIB)
	$(Q)$(CC) -o $@ $^ $(RT_BENCH_LDLIBS) -lpthread

$(BENCH_OUT)/bt-go: bench/binarytrees.go | bench-deps
	$(Q)mkdir -p $(@D)
	$(Q)$(BENCH_GOENV) go build -trimpath -o $@ $<

BENCH_GC_OBJS := $(BENCH_GC_HARNESS) $(BENCH_GC_MALLOCS:%=$(BENCH_OUT)/bt_peer_malloc-%.o) \
	$(BENCH_OUT)/bt_peer_boehm.o $(BENCH_OUT)/bt_peer_rt.o $(BENCH_OUT)/binarytrees-split.o \
	$(BENCH_OUT)/binarytrees_rt-split.o
ALL_DEPS += $(BENCH_GC_OBJS:.o=.d)

BENCH_GC_KERNEL_OBJS := $(BUILD)/kernel-bench/binarytrees.o $(BUILD)/kernel-bench/binarytrees_rt.o \
	$(BUILD)/kernel-bench/binarytrees_kernel.o
KERNEL_OBJS += $(BENCH_GC_KERNEL_OBJS)
ALL_DEPS += $(BENCH_GC_KERNEL_OBJS:.o=.d)
$(BENCH_GC_KERNEL_OBJS): $(BUILD)/kernel-bench/%.o: bench/%.c rt/build.mk
	@mkdir -p $(@D)
	$(Q)$(CC) $(KERNEL_CFLAGS) -DBENCH_RT_HAS_GC=$(BENCH_RT_HAS_GC) -c $< -o $@

BENCH_GC_RUN = bench/run-gc --out $(BENCH_OUT)/gc.tsv $(if $(filter 0,$(BENCH_RT_HAS_GC)),--ours-nogc) \
	--kernel $(LOADER) $(KERNEL) $(BENCH_GC_BINS)

.PHONY: bench-gc
bench-gc: $(BENCH_GC_BINS) $(LOADER) $(KERNEL) | bench-deps
	$(Q)$(BENCH_GC_RUN)
