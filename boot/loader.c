/*
 * loader.c - the GNU-EFI loader (BOOTX64.EFI): from firmware to kernel.
 *
 * What it does, in order:
 *  1. Reads \kernel.elf and the optional \cmdline.txt from the volume it was
 *     loaded from (the ESP that scripts/qemu builds with mtools).
 *  2. Validates the ELF completely (boot/elf_check.c) before using any field,
 *     then copies each PT_LOAD segment into one block of physical memory of the
 *     OS-defined type BOOT_MEMTYPE_KERNEL_IMAGE, zeroing the .bss tails.
 *  3. Finds the ACPI RSDP in the EFI configuration table (2.0 GUID first).
 *  4. Builds the kernel's first page tables in one BOOT_MEMTYPE_BOOT_DATA block:
 *     physical [0, N) at BOOT_DIRECT_MAP_BASE (2 MiB pages, RW, NX), the same
 *     PDPT reused at PML4[0] as a temporary identity map (the loader is still
 *     running at its physical address when it switches CR3), and every kernel
 *     page at its link address with its segment's permissions (4 KiB, W^X).
 *  5. Fills struct boot_info (boot/boot_info.h), takes the final memory map into
 *     a buffer allocated beforehand, and calls ExitBootServices, retrying with a
 *     fresh map when the key went stale (UEFI 2.x, section 7.4). Nothing is
 *     printed or allocated between the last GetMemoryMap and ExitBootServices.
 *  6. Sets EFER.NXE and CR0.WP, loads CR3 and jumps to the ELF entry with %rdi
 *     = the boot_info's direct-map address.
 *
 * Failure policy: every error prints "loader: error: ..." and ends QEMU with
 * the loader-error status through the isa-debug-exit port (DEBUG_EXIT_LOADER_ERROR),
 * falling back to a firmware shutdown: never a hang. Before ExitBootServices the
 * message goes to ConOut (which OVMF mirrors on COM1); after it, straight to COM1.
 */
#include <efi.h>
#include <efilib.h>

#include "boot/boot_info.h"
#include "boot/elf_check.h"

#define KERNEL_PATH L"\\kernel.elf"
#define CMDLINE_PATH L"\\cmdline.txt"
#define KERNEL_FILE_MAX (64ull << 20) /* bytes: refuse anything larger than this */
#define KERNEL_SPAN_MAX (1ull << 30)  /* the kernel lives in the top 2 GiB; 1 GiB is plenty */
#define DIRECT_MAP_MIN (4ull << 30)   /* always cover the 32-bit MMIO hole (LAPIC, HPET) */
#define DIRECT_MAP_MAX BOOT_DIRECT_MAP_MAX /* one PML4 slot; larger machines need a newer loader */
#define EXIT_BOOT_TRIES 8

#define PAGE_4K 0x1000ull
#define PAGE_2M 0x200000ull
#define PAGE_1G 0x40000000ull
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

static EFI_HANDLE g_image;
static int g_boot_services_gone;

/* ---- port I/O and the two exits ------------------------------------------ */

static void outb(UINT16 port, UINT8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static UINT8 inb(UINT16 port)
{
    UINT8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* COM1, already initialised by the firmware; used only after ExitBootServices. */
static void com1_puts(const char *s)
{
    for (; *s; s++) {
        for (int spin = 0; spin < 100000 && !(inb(0x3f8 + 5) & 0x20); spin++)
            ;
        outb(0x3f8, (UINT8)*s);
    }
}

static __attribute__((noreturn)) void loader_exit(void)
{
    outb(DEBUG_EXIT_PORT, DEBUG_EXIT_LOADER_ERROR);
    if (!g_boot_services_gone)
        RT->ResetSystem(EfiResetShutdown, EFI_LOAD_ERROR, 0, NULL);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* Print a formatted error on ConOut and end the run. Only while boot services live. */
#define FAIL(...)                                                                              \
    do {                                                                                       \
        Print(L"loader: error: ");                                                             \
        Print(__VA_ARGS__);                                                                    \
        Print(L"\n");                                                                        \
        loader_exit();                                                                         \
    } while (0)

/* The same after ExitBootServices: no firmware, a plain string on COM1. */
static __attribute__((noreturn)) void fail_late(const char *msg)
{
    com1_puts("loader: error: ");
    com1_puts(msg);
    com1_puts("\n");
    loader_exit();
}

/* ---- small helpers -------------------------------------------------------- */

static UINT64 rdtsc(void)
{
    UINT32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((UINT64)hi << 32) | lo;
}

static UINT64 align_up(UINT64 v, UINT64 a) { return (v + a - 1) & ~(a - 1); }

static int cpu_has_nx(void)
{
    UINT32 a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u));
    if (a < 0x80000001u)
        return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001u));
    return (d >> 20) & 1;
}

static UINT64 alloc_pages(UINT32 type, UINT64 bytes, const CHAR16 *what)
{
    EFI_PHYSICAL_ADDRESS addr = 0;
    UINTN pages = (UINTN)(align_up(bytes, PAGE_4K) / PAGE_4K);
    EFI_STATUS st = BS->AllocatePages(AllocateAnyPages, (EFI_MEMORY_TYPE)type, pages, &addr);
    if (EFI_ERROR(st))
        FAIL(L"cannot allocate %ld pages for %s: %r", (UINT64)pages, what, st);
    SetMem((void *)addr, pages * PAGE_4K, 0);
    return addr;
}

/* ---- step 1: files -------------------------------------------------------- */

/* Reads a whole file into pool memory. Returns NULL if it does not exist. */
static void *read_file(EFI_FILE_HANDLE root, CHAR16 *path, UINT64 max, UINT64 *size_out)
{
    EFI_FILE_HANDLE fh;
    EFI_STATUS st = root->Open(root, &fh, path, EFI_FILE_MODE_READ, 0);
    if (st == EFI_NOT_FOUND)
        return NULL;
    if (EFI_ERROR(st))
        FAIL(L"cannot open %s: %r", path, st);

    EFI_FILE_INFO *info = LibFileInfo(fh);
    if (info == NULL)
        FAIL(L"cannot read the size of %s", path);
    UINT64 size = info->FileSize;
    FreePool(info);
    if (size > max)
        FAIL(L"%s is %ld bytes, more than the %ld this loader accepts", path, size, max);

    void *buf = AllocatePool(size ? size : 1);
    if (buf == NULL)
        FAIL(L"out of memory reading %s (%ld bytes)", path, size);
    UINTN got = size;
    st = fh->Read(fh, &got, buf);
    if (EFI_ERROR(st) || got != size)
        FAIL(L"reading %s failed after %ld of %ld bytes: %r", path, (UINT64)got, size, st);
    fh->Close(fh);
    *size_out = size;
    return buf;
}

/* Copies cmdline.txt into bi->cmdline: printable ASCII, trailing whitespace dropped. */
static void take_cmdline(struct boot_info *bi, const char *text, UINT64 len)
{
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
                       text[len - 1] == '\t'))
        len--;
    if (len >= BOOT_CMDLINE_MAX)
        FAIL(L"cmdline.txt holds %ld bytes; the limit is %d", len, BOOT_CMDLINE_MAX - 1);
    for (UINT64 i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\t' || c == '\n' || c == '\r')
            c = ' ';
        if (c < 0x20 || c > 0x7e)
            FAIL(L"cmdline.txt: byte 0x%02x at offset %ld is not printable ASCII", c, i);
        bi->cmdline[i] = (char)c;
    }
    bi->cmdline[len] = '\0';
    bi->cmdline_len = (UINT32)len;
}

/* ---- step 2: the kernel image --------------------------------------------- */

static void load_kernel(struct boot_info *bi, const void *file, UINT64 size, struct elf_plan *plan)
{
    enum elf_error err = elf_check(file, size, BOOT_KERNEL_VIRT_BASE, KERNEL_SPAN_MAX, plan);
    if (err != ELF_OK)
        FAIL(L"kernel.elf is not a loadable kernel: %a (program header %d)", elf_strerror(err),
             plan->bad_index);

    UINT64 phys = alloc_pages(BOOT_MEMTYPE_KERNEL_IMAGE, plan->span, L"the kernel image");
    for (unsigned i = 0; i < plan->nsegs; i++) {
        const struct elf_segment *s = &plan->segs[i];
        CopyMem((void *)(phys + (s->vaddr - plan->vbase)), (const UINT8 *)file + s->offset, s->filesz);
    }
    bi->kernel_phys_base = phys;
    bi->kernel_virt_base = plan->vbase;
    bi->kernel_size = plan->span;
    bi->kernel_entry = plan->entry;
    Print(L"loader: kernel.elf %ld bytes, %d segments, %ld KiB at phys 0x%lx, entry 0x%lx\n", size,
          plan->nsegs, plan->span >> 10, phys, plan->entry);
}

/* ---- step 3: ACPI ---------------------------------------------------------- */

static void find_rsdp(struct boot_info *bi)
{
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID;
    for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &ST->ConfigurationTable[i];
        if (CompareGuid(&t->VendorGuid, &acpi20) == 0) {
            bi->rsdp_phys = (UINT64)t->VendorTable;
            bi->rsdp_acpi_version = 2;
            return;
        }
        if (CompareGuid(&t->VendorGuid, &AcpiTableGuid) == 0 && bi->rsdp_phys == 0) {
            bi->rsdp_phys = (UINT64)t->VendorTable;
            bi->rsdp_acpi_version = 1;
        }
    }
}

/* ---- step 4: page tables -------------------------------------------------- */

struct pt_pool {
    UINT64 base; /* physical = virtual while the firmware's identity map is live */
    UINT64 used, cap;
};

static UINT64 *pt_alloc(struct pt_pool *pool)
{
    if (pool->used == pool->cap)
        FAIL(L"page-table pool of %ld pages exhausted (loader bug)", pool->cap);
    return (UINT64 *)(pool->base + PAGE_4K * pool->used++); /* zeroed by alloc_pages */
}

/* The table that entry idx of table points to, created if absent. */
static UINT64 *pt_next(struct pt_pool *pool, UINT64 *table, unsigned idx)
{
    if (!(table[idx] & PTE_P))
        table[idx] = (UINT64)pt_alloc(pool) | PTE_P | PTE_RW;
    if (table[idx] & PTE_PS)
        FAIL(L"page-table overlap at index %d (loader bug)", idx);
    return (UINT64 *)(table[idx] & PTE_ADDR);
}

static unsigned pt_index(UINT64 va, unsigned level) { return (va >> (12 + 9 * level)) & 511; }

/* Maps one page of 4 KiB (level 0) or 2 MiB (level 1). */
static void pt_map(struct pt_pool *pool, UINT64 *pml4, UINT64 va, UINT64 pa, UINT64 flags, unsigned level)
{
    UINT64 *t = pml4;
    for (unsigned l = 3; l > level; l--)
        t = pt_next(pool, t, pt_index(va, l));
    t[pt_index(va, level)] = pa | flags | PTE_P | (level ? PTE_PS : 0);
}

/* Highest end of RAM-like memory in the current map, for sizing the direct map. */
static UINT64 highest_ram_end(void)
{
    UINTN entries = 0, key, dsize;
    UINT32 dver;
    EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&entries, &key, &dsize, &dver); /* counts entries */
    if (map == NULL)
        FAIL(L"GetMemoryMap failed while sizing the direct map");
    /* Refused here, while the firmware can still print; the map taken at
     * ExitBootServices may hold a few more, which kernel/boot_check.c refuses. */
    if (entries > BOOT_MMAP_MAX_ENTRIES)
        FAIL(L"the memory map has %ld descriptors; the kernel takes at most %d", (long)entries,
             BOOT_MMAP_MAX_ENTRIES);
    UINT64 end = 0;
    for (UINTN i = 0; i < entries; i++) {
        EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)((UINT8 *)map + i * dsize);
        if (d->Type == EfiMemoryMappedIO || d->Type == EfiMemoryMappedIOPortSpace ||
            d->Type == EfiReservedMemoryType || d->Type == EfiUnusableMemory)
            continue;
        UINT64 e = d->PhysicalStart + d->NumberOfPages * PAGE_4K;
        if (e > end)
            end = e;
    }
    FreePool(map);
    return end;
}

static void build_page_tables(struct boot_info *bi, const struct elf_plan *plan, int nx)
{
    UINT64 dm = align_up(highest_ram_end(), PAGE_1G);
    if (dm < DIRECT_MAP_MIN)
        dm = DIRECT_MAP_MIN;
    if (dm > DIRECT_MAP_MAX)
        FAIL(L"RAM reaches 0x%lx; this loader maps at most %ld GiB", dm, DIRECT_MAP_MAX >> 30);

    /* PML4 + PDPT + one PD per GiB for the direct map; for the kernel a PDPT,
     * PDs and PTs for the span (+2 each for straddling a boundary). */
    UINT64 cap = 2 + dm / PAGE_1G + 1 + (plan->span / PAGE_1G + 2) + (plan->span / PAGE_2M + 2);
    struct pt_pool pool = {alloc_pages(BOOT_MEMTYPE_BOOT_DATA, cap * PAGE_4K, L"page tables"), 0, cap};
    UINT64 nxbit = nx ? PTE_NX : 0;
    UINT64 *pml4 = pt_alloc(&pool);

    /* The identity alias shares the direct map's PDPT, so NX is set on the
     * direct map's PML4 entry only: the loader must still execute through the
     * alias right after it loads CR3. */
    for (UINT64 pa = 0; pa < dm; pa += PAGE_2M)
        pt_map(&pool, pml4, BOOT_DIRECT_MAP_BASE + pa, pa, PTE_RW, 1);
    pml4[0] = pml4[pt_index(BOOT_DIRECT_MAP_BASE, 3)]; /* temporary identity map */
    pml4[pt_index(BOOT_DIRECT_MAP_BASE, 3)] |= nxbit;

    for (unsigned i = 0; i < plan->nsegs; i++) {
        const struct elf_segment *s = &plan->segs[i];
        UINT64 flags = ((s->flags & ELF_PF_W) ? PTE_RW : 0) | ((s->flags & ELF_PF_X) ? 0 : nxbit);
        UINT64 start = s->vaddr & ~(PAGE_4K - 1);
        for (UINT64 va = start; va < s->vaddr + s->memsz; va += PAGE_4K)
            pt_map(&pool, pml4, va, bi->kernel_phys_base + (va - plan->vbase), flags, 0);
    }
    bi->pml4_phys = (UINT64)pml4;
    bi->pagetable_phys = pool.base;
    bi->pagetable_pages = pool.used;
    bi->direct_map_size = dm;
}

/* ---- step 5: exit boot services -------------------------------------------- */

static void exit_boot_services(struct boot_info *bi)
{
    UINTN size = 0, key, dsize;
    UINT32 dver;
    EFI_STATUS st = BS->GetMemoryMap(&size, NULL, &key, &dsize, &dver);
    if (st != EFI_BUFFER_TOO_SMALL)
        FAIL(L"GetMemoryMap did not report its size: %r", st);
    /* The allocation below can split entries: leave room for plenty more. */
    UINT64 cap = align_up(size + 32 * dsize, PAGE_4K);
    void *map = (void *)alloc_pages(BOOT_MEMTYPE_BOOT_DATA, cap, L"the memory map");

    for (unsigned tries = 1;; tries++) {
        size = cap;
        st = BS->GetMemoryMap(&size, map, &key, &dsize, &dver);
        if (EFI_ERROR(st)) {
            if (tries == 1)
                FAIL(L"GetMemoryMap failed: %r", st);
            fail_late("GetMemoryMap failed while retrying ExitBootServices");
        }
        st = BS->ExitBootServices(g_image, key);
        if (!EFI_ERROR(st)) {
            g_boot_services_gone = 1;
            bi->exit_boot_tries = tries;
            break;
        }
        if (st != EFI_INVALID_PARAMETER || tries == EXIT_BOOT_TRIES)
            fail_late("ExitBootServices keeps failing (stale map key)");
    }
    bi->mmap_phys = (UINT64)map;
    bi->mmap_size = size;
    bi->mmap_desc_size = dsize;
    bi->mmap_desc_version = dver;
}

/* ---- step 6: the jump ------------------------------------------------------ */

static __attribute__((noreturn)) void enter_kernel(struct boot_info *bi, int nx)
{
    if (nx) {
        UINT32 lo, hi;
        __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
        lo |= 1u << 11; /* EFER.NXE */
        __asm__ volatile("wrmsr" ::"a"(lo), "d"(hi), "c"(0xc0000080u));
    }
    UINT64 cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" ::"r"(cr0 | (1ull << 16))); /* CR0.WP */

    bi->tsc_loader_end = rdtsc();
    UINT64 bi_virt = BOOT_DIRECT_MAP_BASE + (UINT64)bi;
    __asm__ volatile("cli\n\t"
                     "mov %0, %%cr3\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "jmp *%1"
                     :
                     : "r"(bi->pml4_phys), "r"(bi->kernel_entry), "D"(bi_virt)
                     : "memory");
    __builtin_unreachable();
}

static void copy_vendor(struct boot_info *bi)
{
    unsigned i = 0;
    for (const CHAR16 *v = ST->FirmwareVendor; v && *v && i + 1 < sizeof bi->firmware_vendor; v++)
        bi->firmware_vendor[i++] = (*v < 0x80 && *v >= 0x20) ? (char)*v : '?';
    bi->firmware_vendor[i] = '\0';
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    UINT64 tsc_start = rdtsc();
    InitializeLib(image, systab);
    g_image = image;
    Print(L"loader: booting (UEFI %d.%02d, %s)\n", ST->Hdr.Revision >> 16, ST->Hdr.Revision & 0xffff,
          ST->FirmwareVendor);

    struct boot_info *bi = (struct boot_info *)alloc_pages(BOOT_MEMTYPE_BOOT_DATA, sizeof *bi, L"boot_info");
    bi->magic = BOOT_INFO_MAGIC;
    bi->version = BOOT_INFO_VERSION;
    bi->size = sizeof *bi;
    bi->tsc_loader_start = tsc_start;
    bi->uefi_revision = ST->Hdr.Revision;
    bi->firmware_revision = ST->FirmwareRevision;
    copy_vendor(bi);

    EFI_LOADED_IMAGE *li;
    EFI_STATUS st = BS->HandleProtocol(image, &LoadedImageProtocol, (void **)&li);
    if (EFI_ERROR(st))
        FAIL(L"no LoadedImage protocol on our own image: %r", st);
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle);
    if (root == NULL)
        FAIL(L"cannot open the boot volume's file system");

    UINT64 size = 0;
    char *cmdline = read_file(root, CMDLINE_PATH, 64 * 1024, &size);
    if (cmdline) {
        take_cmdline(bi, cmdline, size);
        FreePool(cmdline);
    }
    Print(L"loader: cmdline \"%a\"\n", bi->cmdline);

    void *kfile = read_file(root, KERNEL_PATH, KERNEL_FILE_MAX, &size);
    if (kfile == NULL)
        FAIL(L"\\kernel.elf not found on the boot volume");
    struct elf_plan plan;
    load_kernel(bi, kfile, size, &plan);
    FreePool(kfile);

    find_rsdp(bi);
    int nx = cpu_has_nx();
    build_page_tables(bi, &plan, nx);
    Print(L"loader: %ld page-table pages, direct map %ld GiB, NX %a; exiting boot services\n",
          bi->pagetable_pages, bi->direct_map_size >> 30, nx ? "on" : "unsupported");

    exit_boot_services(bi);
    enter_kernel(bi, nx);
}
