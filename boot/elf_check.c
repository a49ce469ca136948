/*
 * elf_check.c - complete validation of the kernel ELF before the loader trusts it.
 *
 * A kernel file on the ESP is input like any other: it may be truncated by a
 * failed copy, corrupted, or simply the wrong file. The loader therefore reads
 * nothing from it except through this check, which proves every offset and
 * size it will later use lies inside the file and every address inside the
 * window the loader maps.
 *
 * Steps:
 *  1. The ELF header: size, magic, class 64, little-endian, version 1,
 *     ET_EXEC, EM_X86_64, header and program-header entry sizes as the spec
 *     gives them (we read fields at fixed offsets, so other sizes are refused).
 *  2. The program header table: 1..ELF_MAX_PHDRS entries, entirely in the file
 *     (checked without overflow). The section header table, if any, must lie
 *     in the file too, with 64-byte entries: the loader never reads it, but a
 *     kernel cut short after its segments (debug sections are most of the
 *     file) is still a damaged file, and booting it would hide the damage.
 *     e_shnum 0 with e_shoff set is the spec's extended numbering (the count
 *     in section 0); no kernel of ours has 65280 sections, so it is refused
 *     as damage rather than followed.
 *  3. Each program header: PT_INTERP, PT_DYNAMIC and PT_TLS are refused (a
 *     kernel is static and has no thread-local storage). Every PT_LOAD, an
 *     empty one (p_memsz 0) too, must have filesz <= memsz and its file bytes
 *     in bounds: an empty segment maps nothing, but one that claims file
 *     bytes or points outside the file is damage (the fuzzer found one
 *     skipped unchecked). Segments with memory are collected, each checked
 *     for no address wrap, at or above min_vaddr, a power-of-two alignment
 *     with vaddr and offset congruent modulo it, not both W and X, and no
 *     p_flags bit but R, W, X: the OS- and processor-specific bits ask for
 *     semantics this loader does not implement, so it refuses rather than
 *     silently ignore them.
 *  4. The segments, sorted by address, must not share a 4 KiB page: the loader
 *     gives each page exactly one segment's permissions (W^X per page).
 *  5. The page-rounded span fits max_span, and the entry point lies in an
 *     executable segment's file bytes: past p_filesz the loader writes
 *     zeroes, and jumping into them executes `add %al,(%rax)` until
 *     something faults far from the cause, so it is refused at load time.
 *
 * All multi-byte fields are read byte by byte: the image may sit at any
 * alignment, and the check must not rely on the host's alignment rules.
 * Reference: System V ABI, "ELF-64 Object File Format" (version 1.5).
 */
#include "boot/elf_check.h"

enum {
    EHDR_SIZE = 64,
    PHDR_SIZE = 56,
    SHDR_SIZE = 64,
    ET_EXEC = 2,
    EM_X86_64 = 62,
    PT_LOAD = 1,
    PT_DYNAMIC = 2,
    PT_INTERP = 3,
    PT_TLS = 7,
};

static uint64_t read_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Only these p_flags bits have a meaning the loader implements. */
#define PF_KNOWN (ELF_PF_R | ELF_PF_W | ELF_PF_X)

/* True when [off, off + len) lies inside [0, size), without overflow. */
static int in_file(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

static uint64_t page_down(uint64_t v) { return v & ~(ELF_PAGE_SIZE - 1); }

/* Rounds up, saturating at the top of the address space (checked by callers). */
static uint64_t page_up(uint64_t v)
{
    uint64_t r = page_down(v);
    return r == v ? v : (r + ELF_PAGE_SIZE == 0 ? UINT64_MAX : r + ELF_PAGE_SIZE);
}

static enum elf_error check_header(const uint8_t *f, uint64_t size, uint64_t *phoff, unsigned *phnum)
{
    if (size < EHDR_SIZE)
        return ELF_ERR_TRUNCATED_HEADER;
    if (f[0] != 0x7f || f[1] != 'E' || f[2] != 'L' || f[3] != 'F')
        return ELF_ERR_MAGIC;
    if (f[4] != 2)
        return ELF_ERR_CLASS;
    if (f[5] != 1)
        return ELF_ERR_DATA;
    if (f[6] != 1 || read_le(f + 20, 4) != 1)
        return ELF_ERR_VERSION;
    if (read_le(f + 16, 2) != ET_EXEC)
        return ELF_ERR_TYPE;
    if (read_le(f + 18, 2) != EM_X86_64)
        return ELF_ERR_MACHINE;
    if (read_le(f + 52, 2) != EHDR_SIZE)
        return ELF_ERR_EHSIZE;
    if (read_le(f + 54, 2) != PHDR_SIZE)
        return ELF_ERR_PHENTSIZE;
    *phnum = (unsigned)read_le(f + 56, 2);
    if (*phnum == 0 || *phnum > ELF_MAX_PHDRS)
        return ELF_ERR_PHNUM;
    *phoff = read_le(f + 32, 8);
    if (!in_file(*phoff, (uint64_t)*phnum * PHDR_SIZE, size))
        return ELF_ERR_PHDRS_BOUNDS;
    uint64_t shoff = read_le(f + 40, 8), shentsize = read_le(f + 58, 2), shnum = read_le(f + 60, 2);
    if (shnum == 0 && shoff != 0)
        return ELF_ERR_SHOFF;
    if (shnum != 0 && shentsize != SHDR_SIZE)
        return ELF_ERR_SHENTSIZE;
    if (shnum != 0 && !in_file(shoff, shnum * shentsize, size))
        return ELF_ERR_SHDRS_BOUNDS;
    return ELF_OK;
}

static enum elf_error check_segment(const uint8_t *ph, uint64_t size, uint64_t min_vaddr,
                                    struct elf_segment *seg)
{
    uint64_t align = read_le(ph + 48, 8);

    seg->flags = (uint32_t)read_le(ph + 4, 4);
    seg->offset = read_le(ph + 8, 8);
    seg->vaddr = read_le(ph + 16, 8);
    seg->filesz = read_le(ph + 32, 8);
    seg->memsz = read_le(ph + 40, 8);

    if (seg->filesz > seg->memsz)
        return ELF_ERR_SEG_FILESZ;
    if (!in_file(seg->offset, seg->filesz, size))
        return ELF_ERR_SEG_FILE_BOUNDS;
    if (seg->memsz == 0)
        return ELF_OK; /* maps nothing: the remaining rules are about memory */
    if (seg->vaddr + seg->memsz < seg->vaddr || page_up(seg->vaddr + seg->memsz) == UINT64_MAX)
        return ELF_ERR_SEG_ADDR_WRAP;
    if (seg->vaddr < min_vaddr)
        return ELF_ERR_SEG_BELOW_BASE;
    if (align > 1 && ((align & (align - 1)) != 0 || (seg->vaddr - seg->offset) % align != 0))
        return ELF_ERR_SEG_ALIGN;
    if ((seg->flags & ELF_PF_W) && (seg->flags & ELF_PF_X))
        return ELF_ERR_SEG_WX;
    if (seg->flags & ~PF_KNOWN)
        return ELF_ERR_SEG_FLAGS;
    return ELF_OK;
}

/* Insertion sort by vaddr: at most ELF_MAX_LOADS entries. */
static void sort_segments(struct elf_plan *plan)
{
    for (unsigned i = 1; i < plan->nsegs; i++) {
        struct elf_segment s = plan->segs[i];
        unsigned j = i;
        for (; j > 0 && plan->segs[j - 1].vaddr > s.vaddr; j--)
            plan->segs[j] = plan->segs[j - 1];
        plan->segs[j] = s;
    }
}

static enum elf_error check_layout(struct elf_plan *plan, uint64_t max_span)
{
    if (plan->nsegs == 0)
        return ELF_ERR_NO_LOADS;
    sort_segments(plan);
    for (unsigned i = 1; i < plan->nsegs; i++) {
        const struct elf_segment *prev = &plan->segs[i - 1];
        if (page_up(prev->vaddr + prev->memsz) > page_down(plan->segs[i].vaddr)) {
            plan->bad_index = i;
            return ELF_ERR_SEG_OVERLAP;
        }
    }
    const struct elf_segment *last = &plan->segs[plan->nsegs - 1];
    plan->vbase = page_down(plan->segs[0].vaddr);
    plan->span = page_up(last->vaddr + last->memsz) - plan->vbase;
    if (plan->span > max_span)
        return ELF_ERR_SPAN;
    for (unsigned i = 0; i < plan->nsegs; i++) {
        const struct elf_segment *s = &plan->segs[i];
        if ((s->flags & ELF_PF_X) && plan->entry >= s->vaddr && plan->entry - s->vaddr < s->memsz)
            return plan->entry - s->vaddr < s->filesz ? ELF_OK : ELF_ERR_ENTRY_ZERO_FILL;
    }
    return ELF_ERR_ENTRY;
}

enum elf_error elf_check(const void *file, uint64_t size, uint64_t min_vaddr, uint64_t max_span,
                         struct elf_plan *plan)
{
    const uint8_t *f = file;
    uint64_t phoff = 0;
    unsigned phnum = 0;
    enum elf_error err;

    plan->nsegs = 0;
    plan->bad_index = 0;
    err = check_header(f, size, &phoff, &phnum);
    if (err != ELF_OK)
        return err;
    plan->entry = read_le(f + 24, 8);

    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = f + phoff + (uint64_t)i * PHDR_SIZE;
        uint32_t type = (uint32_t)read_le(ph, 4);

        plan->bad_index = i;
        if (type == PT_INTERP || type == PT_DYNAMIC || type == PT_TLS)
            return ELF_ERR_DYNAMIC;
        if (type != PT_LOAD)
            continue;
        struct elf_segment seg;
        err = check_segment(ph, size, min_vaddr, &seg);
        if (err != ELF_OK)
            return err;
        if (seg.memsz == 0)
            continue; /* checked, and maps nothing */
        if (plan->nsegs == ELF_MAX_LOADS)
            return ELF_ERR_TOO_MANY_LOADS;
        plan->segs[plan->nsegs++] = seg;
    }
    plan->bad_index = 0;
    return check_layout(plan, max_span);
}

const char *elf_strerror(enum elf_error err)
{
    static const char *const text[ELF_ERR_COUNT] = {
        [ELF_OK] = "valid",
        [ELF_ERR_TRUNCATED_HEADER] = "file is shorter than an ELF header (truncated?)",
        [ELF_ERR_MAGIC] = "not an ELF file (bad magic)",
        [ELF_ERR_CLASS] = "not a 64-bit ELF file",
        [ELF_ERR_DATA] = "not a little-endian ELF file",
        [ELF_ERR_VERSION] = "unknown ELF version",
        [ELF_ERR_TYPE] = "not an executable (ET_EXEC) ELF file",
        [ELF_ERR_MACHINE] = "not an x86-64 ELF file",
        [ELF_ERR_EHSIZE] = "ELF header size is not 64 bytes",
        [ELF_ERR_PHENTSIZE] = "program header size is not 56 bytes",
        [ELF_ERR_PHNUM] = "no program headers, or too many",
        [ELF_ERR_PHDRS_BOUNDS] = "program header table lies outside the file (truncated?)",
        [ELF_ERR_SHDRS_BOUNDS] = "section header table lies outside the file (truncated?)",
        [ELF_ERR_SHOFF] = "e_shoff is set but e_shnum is 0 (extended section numbering is not supported)",
        [ELF_ERR_SHENTSIZE] = "e_shentsize is not 64 bytes",
        [ELF_ERR_DYNAMIC] = "dynamic or TLS program header: the kernel must be a static executable",
        [ELF_ERR_TOO_MANY_LOADS] = "too many PT_LOAD segments",
        [ELF_ERR_SEG_FILESZ] = "segment has more file bytes than memory bytes (p_filesz > p_memsz)",
        [ELF_ERR_SEG_FILE_BOUNDS] = "segment data lies outside the file (truncated?)",
        [ELF_ERR_SEG_ADDR_WRAP] = "segment wraps around the end of the address space",
        [ELF_ERR_SEG_BELOW_BASE] = "segment lies below the kernel's virtual base",
        [ELF_ERR_SEG_ALIGN] = "segment alignment is invalid or address and offset disagree",
        [ELF_ERR_SEG_WX] = "segment is both writable and executable (W^X)",
        [ELF_ERR_SEG_FLAGS] = "segment p_flags has bits other than R, W, X (OS/processor-specific)",
        [ELF_ERR_SEG_OVERLAP] = "two segments share a page",
        [ELF_ERR_NO_LOADS] = "no loadable segment",
        [ELF_ERR_SPAN] = "segments span more memory than the loader allows",
        [ELF_ERR_ENTRY] = "entry point is not inside an executable segment",
        [ELF_ERR_ENTRY_ZERO_FILL] = "e_entry lies past the segment's p_filesz, in bytes the loader zero-fills",
    };
    if ((unsigned)err >= ELF_ERR_COUNT || text[err] == NULL)
        return "unknown ELF error";
    return text[err];
}
