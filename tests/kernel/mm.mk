# In-kernel tests of mm/: the paging and sys_* tests are listed by vm.mk and
# compiled by the rule below; the buddy allocator's cases, which the host
# runs too, are tests/mm/ (tests/mm/cases.mk).
$(BUILD)/tests/kernel/mm_%.o: tests/kernel/mm_%.c
	@mkdir -p $(@D)
	@echo "  CC [kernel] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@
