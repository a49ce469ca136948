/*
 * test_elf_check.c - the loader's ELF validation on synthetic images (ASan/UBSan).
 *
 * A valid two-segment kernel image is built in memory, then each test breaks
 * one rule and checks elf_check() names exactly that problem. A final pass
 * truncates the image at every length and corrupts every header byte: the
 * check must never read outside the buffer (ASan) and never accept a truncated
 * image.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/elf_check.h"
#include "tests/host/tap.h"
#include "tests/xorshift.h"

#define BASE 0xffffffff80000000ull
#define SPAN_MAX (1ull << 30)
#define IMG_SIZE 0x3000

static uint8_t img[IMG_SIZE];

static void put(uint64_t off, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        img[off + i] = (uint8_t)(v >> (8 * i));
}

/* Program header i: type, flags, offset, vaddr, filesz, memsz, align. */
static void phdr(unsigned i, uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr, uint64_t filesz,
                 uint64_t memsz, uint64_t align)
{
    uint64_t p = 64 + 56 * (uint64_t)i;
    put(p, type, 4);
    put(p + 4, flags, 4);
    put(p + 8, off, 8);
    put(p + 16, vaddr, 8);
    put(p + 24, vaddr, 8);
    put(p + 32, filesz, 8);
    put(p + 40, memsz, 8);
    put(p + 48, align, 8);
}

/* text R+X at BASE (file 0x1000, 0x800 bytes), data R+W at BASE+0x1000 with a .bss tail. */
static void make_valid(void)
{
    memset(img, 0, sizeof img);
    memcpy(img, "\x7f" "ELF", 4);
    img[4] = 2; /* ELFCLASS64 */
    img[5] = 1; /* little-endian */
    img[6] = 1; /* EV_CURRENT */
    put(16, 2, 2);          /* ET_EXEC */
    put(18, 62, 2);         /* EM_X86_64 */
    put(20, 1, 4);          /* e_version */
    put(24, BASE + 0x10, 8); /* e_entry */
    put(32, 64, 8);         /* e_phoff */
    put(52, 64, 2);         /* e_ehsize */
    put(54, 56, 2);         /* e_phentsize */
    put(56, 3, 2);          /* e_phnum */
    phdr(0, 1, ELF_PF_R | ELF_PF_X, 0x1000, BASE, 0x800, 0x800, 0x1000);
    phdr(1, 1, ELF_PF_R | ELF_PF_W, 0x2000, BASE + 0x1000, 0x100, 0x5000, 0x1000);
    phdr(2, 0x6474e551, ELF_PF_R | ELF_PF_W, 0, 0, 0, 0, 16); /* PT_GNU_STACK: ignored */
}

static enum elf_error check(uint64_t size, struct elf_plan *plan)
{
    return elf_check(img, size, BASE, SPAN_MAX, plan);
}

static void expect(const char *what, enum elf_error want)
{
    struct elf_plan plan;
    enum elf_error got = check(IMG_SIZE, &plan);
    if (!tap_check(got == want, "%s -> %s", what, elf_strerror(want)))
        tap_diag("got %d (%s), want %d", got, elf_strerror(got), want);
    make_valid();
}

static void test_valid_plan(void)
{
    struct elf_plan plan;
    make_valid();
    tap_check(check(IMG_SIZE, &plan) == ELF_OK, "valid image accepted");
    tap_check(plan.nsegs == 2, "two PT_LOAD segments collected (GNU_STACK ignored)");
    tap_check(plan.vbase == BASE && plan.span == 0x6000, "vbase and page-rounded span (span 0x%llx)",
              (unsigned long long)plan.span);
    tap_check(plan.entry == BASE + 0x10, "entry taken from the header");
    tap_check(plan.segs[1].memsz == 0x5000 && plan.segs[1].filesz == 0x100, "bss tail: memsz > filesz kept");

    /* Segments listed out of order come back sorted. */
    phdr(0, 1, ELF_PF_R | ELF_PF_W, 0x2000, BASE + 0x1000, 0x100, 0x5000, 0x1000);
    phdr(1, 1, ELF_PF_R | ELF_PF_X, 0x1000, BASE, 0x800, 0x800, 0x1000);
    tap_check(check(IMG_SIZE, &plan) == ELF_OK && plan.segs[0].vaddr == BASE, "unsorted segments are sorted");
    make_valid();
}

static void test_header_rules(void)
{
    make_valid();
    img[1] = 'X';
    expect("bad magic", ELF_ERR_MAGIC);
    img[4] = 1;
    expect("32-bit class", ELF_ERR_CLASS);
    img[5] = 2;
    expect("big-endian", ELF_ERR_DATA);
    put(20, 2, 4);
    expect("e_version 2", ELF_ERR_VERSION);
    put(16, 3, 2);
    expect("ET_DYN", ELF_ERR_TYPE);
    put(18, 3, 2);
    expect("EM_386", ELF_ERR_MACHINE);
    put(52, 52, 2);
    expect("e_ehsize 52", ELF_ERR_EHSIZE);
    put(54, 32, 2);
    expect("e_phentsize 32", ELF_ERR_PHENTSIZE);
    put(56, 0, 2);
    expect("no program headers", ELF_ERR_PHNUM);
    put(56, ELF_MAX_PHDRS + 1, 2);
    expect("too many program headers", ELF_ERR_PHNUM);
    put(32, IMG_SIZE - 100, 8);
    expect("program headers past the end", ELF_ERR_PHDRS_BOUNDS);
    put(32, UINT64_MAX - 10, 8);
    expect("program header offset overflows", ELF_ERR_PHDRS_BOUNDS);
    put(40, IMG_SIZE - 64, 8); /* e_shoff */
    put(58, 64, 2);            /* e_shentsize */
    put(60, 2, 2);             /* e_shnum */
    expect("section headers past the end", ELF_ERR_SHDRS_BOUNDS);
    put(40, IMG_SIZE - 128, 8);
    put(58, 64, 2);
    put(60, 2, 2);
    {
        struct elf_plan plan;
        tap_check(check(IMG_SIZE, &plan) == ELF_OK, "section headers inside the file are accepted");
        make_valid();
    }
}

static void test_segment_rules(void)
{
    make_valid();
    phdr(2, 3, ELF_PF_R, 0, 0, 0, 0, 1);
    expect("PT_INTERP", ELF_ERR_DYNAMIC);
    phdr(2, 7, ELF_PF_R, 0, 0, 0, 8, 8);
    expect("PT_TLS", ELF_ERR_DYNAMIC);
    phdr(0, 1, ELF_PF_R | ELF_PF_X, 0x1000, BASE, 0x900, 0x800, 0x1000);
    expect("filesz > memsz", ELF_ERR_SEG_FILESZ);
    phdr(0, 1, ELF_PF_R | ELF_PF_X, 0x1000, BASE, 0x2800, 0x2800, 0x1000);
    expect("segment data past the end", ELF_ERR_SEG_FILE_BOUNDS);
    phdr(0, 1, ELF_PF_R | ELF_PF_X, UINT64_MAX - 0x10, BASE, 0x800, 0x800, 0x1000);
    expect("segment offset overflows", ELF_ERR_SEG_FILE_BOUNDS);
    phdr(1, 1, ELF_PF_R | ELF_PF_W, 0x2000, UINT64_MAX - 0xfff, 0x100, 0x2000, 0x1000);
    expect("segment wraps the address space", ELF_ERR_SEG_ADDR_WRAP);
    phdr(0, 1, ELF_PF_R | ELF_PF_X, 0x1000, 0x400000, 0x800, 0x800, 0x1000);
    expect("segment below the kernel base", ELF_ERR_SEG_BELOW_BASE);
    phdr(0, 1, ELF_PF_R | ELF_PF_X, 0x1000, BASE, 0x800, 0x800, 0x1800);
    expect("alignment not a power of two", ELF_ERR_SEG_ALIGN);
    phdr(0, 1, ELF_PF_R | ELF_PF_X, 0x1008, BASE, 0x800, 0x800, 0x1000);
    expect("vaddr and offset incongruent", ELF_ERR_SEG_ALIGN);
    phdr(1, 1, ELF_PF_R | ELF_PF_W | ELF_PF_X, 0x2000, BASE + 0x1000, 0x100, 0x5000, 0x1000);
    expect("W+X segment", ELF_ERR_SEG_WX);
    phdr(1, 1, ELF_PF_R | ELF_PF_W, 0x1800, BASE + 0x800, 0x100, 0x5000, 0x800);
    expect("segments share a page", ELF_ERR_SEG_OVERLAP);
    phdr(0, 1, ELF_PF_R, 0x1000, BASE, 0, 0, 0x1000);
    phdr(1, 1, ELF_PF_R, 0x2000, BASE + 0x1000, 0, 0, 0x1000);
    expect("no segment with memory", ELF_ERR_NO_LOADS);
    phdr(1, 1, ELF_PF_R | ELF_PF_W, 0x2000, BASE + 0x1000, 0x100, SPAN_MAX, 0x1000);
    expect("span larger than allowed", ELF_ERR_SPAN);
    put(24, BASE + 0x1010, 8);
    expect("entry in a data segment", ELF_ERR_ENTRY);
    put(24, BASE - 0x10, 8);
    expect("entry outside every segment", ELF_ERR_ENTRY);
    put(24, BASE + 0x900, 8);
    phdr(0, 1, ELF_PF_R | ELF_PF_X, 0x1000, BASE, 0x800, 0x1000, 0x1000);
    expect("entry in the zero-filled tail of its segment", ELF_ERR_ENTRY_ZERO_FILL);
    put(56, ELF_MAX_LOADS + 1, 2);
    for (unsigned i = 0; i <= ELF_MAX_LOADS; i++)
        phdr(i, 1, ELF_PF_R, 0, BASE + 0x1000 * (uint64_t)i, 0, 0x10, 0x1000);
    expect("too many PT_LOAD segments", ELF_ERR_TOO_MANY_LOADS);
}

/* Issue 16: inputs the fuzzer found accepted. */
static void test_fuzzer_findings(void)
{
    make_valid();
    /* An empty PT_LOAD was skipped before any check. */
    phdr(2, 1, ELF_PF_R, 0xfffffffffffffffaull, BASE + 0x10000, 0x100000, 0, 0x1000);
    expect("empty PT_LOAD with filesz 0x100000 > memsz 0", ELF_ERR_SEG_FILESZ);
    phdr(2, 1, ELF_PF_R, 0xfffffffffffffffaull, BASE + 0x10000, 0, 0, 0x1000);
    expect("empty PT_LOAD whose offset lies outside the file", ELF_ERR_SEG_FILE_BOUNDS);
    {
        struct elf_plan plan;
        phdr(2, 1, ELF_PF_R, 0x10, BASE + 0x10000, 0, 0, 0x1000);
        tap_check(check(IMG_SIZE, &plan) == ELF_OK && plan.nsegs == 2,
                  "an empty PT_LOAD inside the file is accepted and maps nothing");
        make_valid();
    }
    /* p_flags bits the loader does not implement. */
    phdr(1, 1, ELF_PF_R | ELF_PF_W | 0x100000, 0x2000, BASE + 0x1000, 0x100, 0x5000, 0x1000);
    expect("PF_MASKOS bit in p_flags", ELF_ERR_SEG_FLAGS);
    phdr(0, 1, ELF_PF_R | ELF_PF_X | 0x80000000u, 0x1000, BASE, 0x800, 0x800, 0x1000);
    expect("PF_MASKPROC bit in p_flags", ELF_ERR_SEG_FLAGS);
    /* Section header fields with no table. */
    put(40, 0xdeadbeefdeadbeefull, 8);
    put(60, 0, 2);
    expect("e_shnum 0 with a garbage e_shoff", ELF_ERR_SHOFF);
    put(40, IMG_SIZE - 128, 8);
    put(58, 0, 2);
    put(60, 2, 2);
    expect("e_shentsize 0 with two sections", ELF_ERR_SHENTSIZE);
    for (int e = 0; e < ELF_ERR_COUNT; e++)
        if (e == ELF_ERR_SEG_FLAGS || e == ELF_ERR_SHOFF || e == ELF_ERR_SHENTSIZE || e == ELF_ERR_ENTRY_ZERO_FILL)
            tap_check(strstr(elf_strerror((enum elf_error)e), "_") != NULL, "message names the field: %s",
                      elf_strerror((enum elf_error)e));
}

/* Every truncation and every single-byte corruption of the headers: no
 * out-of-bounds read (ASan), no truncated image accepted, no crash. */
static void test_hostile(void)
{
    struct elf_plan plan;
    int truncated_accepted = 0;

    make_valid();
    for (uint64_t len = 0; len < 0x2100; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any overrun */
        memcpy(copy, img, len);
        if (elf_check(copy, len, BASE, SPAN_MAX, &plan) == ELF_OK)
            truncated_accepted++;
        free(copy);
    }
    tap_check(truncated_accepted == 0, "no truncation below 0x2100 bytes is accepted (%d were)", truncated_accepted);

    uint64_t rng = tap_seed(); /* TEST_SEED=N repeats this sequence */
    int accepted = 0, rounds = 20000;
    for (int r = 0; r < rounds; r++) {
        make_valid();
        unsigned off = (unsigned)(xorshift64star(&rng) % (64 + 3 * 56));
        img[off] = (uint8_t)xorshift64star(&rng);
        uint8_t *copy = malloc(IMG_SIZE);
        memcpy(copy, img, IMG_SIZE);
        if (elf_check(copy, IMG_SIZE, BASE, SPAN_MAX, &plan) == ELF_OK) {
            accepted++;
            /* Whatever is accepted must satisfy the plan's promises. */
            for (unsigned i = 0; i < plan.nsegs; i++) {
                const struct elf_segment *s = &plan.segs[i];
                if (s->offset + s->filesz > IMG_SIZE || s->vaddr < BASE || s->filesz > s->memsz)
                    accepted = -1000000;
            }
        }
        free(copy);
    }
    tap_check(accepted >= 0, "%d random header corruptions: every accepted plan stays in bounds", rounds);
    tap_diag("%d of %d corrupted images were still valid (e.g. p_paddr or padding bytes)", accepted, rounds);
    make_valid();
}

static void test_strerror(void)
{
    int all = 1;
    for (int e = 0; e < ELF_ERR_COUNT; e++)
        all &= elf_strerror((enum elf_error)e) != NULL && strcmp(elf_strerror((enum elf_error)e), "unknown ELF error");
    tap_check(all, "every error has its own message");
    tap_check(strcmp(elf_strerror((enum elf_error)999), "unknown ELF error") == 0, "out-of-range error code");
}

int main(void)
{
    test_valid_plan();
    test_header_rules();
    test_segment_rules();
    test_fuzzer_findings();
    test_hostile();
    test_strerror();
    return tap_done();
}
