# Host tests of the runtime (rt/). Each links the sanitized hosted library.
RT_TEST_NAMES := test_rt_sizeclasses test_rt_heap test_rt_alloc
RT_TEST_BINS  := $(addprefix $(BUILD)/tests/host/,$(RT_TEST_NAMES))

RT_TEST_COMMON_OBJ := $(BUILD)/tests/host/test_rt_common.o

$(RT_TEST_COMMON_OBJ): tests/host/test_rt_common.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(RT_TEST_BINS): $(BUILD)/tests/host/%: tests/host/%.c $(RT_TEST_COMMON_OBJ) $(RT_HOSTED_LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) $< $(RT_TEST_COMMON_OBJ) $(RT_HOSTED_LIB) $(HOST_LDFLAGS) \
		-lpthread -o $@

HOST_TESTS += $(RT_TEST_BINS)
ALL_DEPS += $(RT_TEST_BINS:=.d) $(RT_TEST_COMMON_OBJ:.o=.d)

# Coroutine tests: the code coroutines run carries the split-stack check.
RT_SCHED_TEST_NAMES := test_rt_sched test_rt_chan test_rt_gc test_rt_mprof
RT_SCHED_TEST_BINS  := $(addprefix $(BUILD)/tests/host/,$(RT_SCHED_TEST_NAMES))

# Compile and link apart: gcc given -fsplit-stack at link time adds libgcc's
# __morestack, which would clash with ours.
$(RT_SCHED_TEST_BINS:=.o): $(BUILD)/tests/host/%.o: tests/host/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(HOST_CFLAGS) $(RT_SPLIT_CFLAGS) -c $< -o $@

# Each also links its cases (tests/rt/cases.mk adds them as prerequisites)
# and the case runner.
$(RT_SCHED_TEST_BINS): $(BUILD)/tests/host/%: $(BUILD)/tests/host/%.o $(CASE_RUNNER_OBJ) \
		$(RT_TEST_COMMON_OBJ) $(RT_HOSTED_LIB)
	$(Q)$(CC) $< $(filter %_cases.o,$^) $(CASE_RUNNER_OBJ) $(RT_TEST_COMMON_OBJ) $(RT_HOSTED_LIB) \
		$(HOST_LDFLAGS) -lpthread -lm -o $@

HOST_TESTS += $(RT_SCHED_TEST_BINS)
ALL_DEPS += $(RT_SCHED_TEST_BINS:=.d)
