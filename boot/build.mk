# boot/: the GNU-EFI loader BOOTX64.EFI (a PE/COFF image made from a PIC ELF shared object).
# gnu-efi's rules (Debian 3.0.15): compile -fpic -fshort-wchar -mno-red-zone with
# GNU_EFI_USE_MS_ABI, link with its crt0 and linker script, convert with objcopy.

EFI_INC  := /usr/include/efi
EFI_LIB  := /usr/lib
EFI_CRT0 := $(EFI_LIB)/crt0-efi-x86_64.o
EFI_LDS  := $(EFI_LIB)/elf_x86_64_efi.lds

LOADER_CFLAGS := -std=gnu11 -O2 -g $(WARN) -Wno-missing-prototypes -ffreestanding \
	-fno-stack-protector -fno-stack-check -fpic -fshort-wchar -mno-red-zone \
	-mgeneral-regs-only -maccumulate-outgoing-args -DGNU_EFI_USE_MS_ABI \
	-isystem $(EFI_INC) -isystem $(EFI_INC)/x86_64 -I. -MMD -MP

LOADER_OBJS := $(BUILD)/boot/loader.o $(BUILD)/boot/elf_check.o
ALL_DEPS += $(LOADER_OBJS:.o=.d)

$(BUILD)/boot/%.o: boot/%.c
	@mkdir -p $(@D)
	@echo "  CC [efi] $<"
	$(Q)$(CC) $(LOADER_CFLAGS) -c $< -o $@

$(BUILD)/boot/loader.so: $(LOADER_OBJS)
	@echo "  LD [efi] $@"
	$(Q)$(LD) -shared -Bsymbolic -nostdlib -znocombreloc -T $(EFI_LDS) $(EFI_CRT0) \
		$(LOADER_OBJS) -L$(EFI_LIB) -lefi -lgnuefi -o $@

$(BUILD)/boot/BOOTX64.EFI: $(BUILD)/boot/loader.so
	@echo "  EFI      $@"
	$(Q)$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
		-j '.rel.*' -j '.rela.*' -j .reloc --target efi-app-x86_64 --subsystem=10 $< $@
