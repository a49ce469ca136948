# mm/ build fragment (see the top Makefile for the variables it appends to).
# Kernel objects: $(BUILD)/mm/*.o with KERNEL_CFLAGS. Host builds of the same
# sources (HOSTED=1, sanitizers) are in tests/host/mm.mk. mm/ sits above
# kernel/lib/ and below the kernel core (kernel/build.mk, "Layers").

MM_SRCS := mm/memmap.c mm/buddy.c mm/frame_boot.c mm/layout.c mm/paging.c mm/tlb.c mm/sysmem.c mm/kstack.c
MM_OBJS := $(MM_SRCS:%.c=$(BUILD)/%.o)

KERNEL_OBJS += $(MM_OBJS)
ALL_DEPS    += $(MM_OBJS:.o=.d)

$(BUILD)/mm/%.o: mm/%.c
	@mkdir -p $(@D)
	@echo "  CC [kernel] $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@
