/*
 * fuzz_elf_check.c - boot/elf_check.c on arbitrary files.
 *
 * Input: the whole kernel file. Oracle: whatever elf_check accepts is
 * re-checked here from the raw bytes, independently of the plan it built:
 * every PT_LOAD (empty ones too) has p_filesz <= p_memsz, file bytes inside
 * the file and only R/W/X flags; the section header fields are consistent;
 * the plan lists exactly the non-empty PT_LOADs, sorted, page-disjoint, not
 * W+X, at or above the base, within the span; the entry point lies in an
 * executable segment's file bytes.
 */
#include "boot/elf_check.h"
#include "tests/fuzz/fuzz.h"

#define BASE 0xffffffff80000000ull
#define SPAN (1ull << 30)
#define PAGE 4096ull

int LLVMFuzzerTestOneInput(const uint8_t *f, size_t size)
{
    struct elf_plan plan;
    enum elf_error err = elf_check(f, size, BASE, SPAN, &plan);
    FUZZ_CHECK(elf_strerror(err) != NULL && err < ELF_ERR_COUNT, "error code %d", err);
    if (err != ELF_OK)
        return 0;

    FUZZ_CHECK(size >= 64, "accepted a %zu-byte file", size);
    uint64_t phoff = fuzz_le(f + 32, 8), phnum = fuzz_le(f + 56, 2);
    uint64_t shoff = fuzz_le(f + 40, 8), shentsize = fuzz_le(f + 58, 2), shnum = fuzz_le(f + 60, 2);
    FUZZ_CHECK(phnum >= 1 && (unsigned __int128)phoff + phnum * 56 <= size, "phdrs %llu at %llu",
               (unsigned long long)phnum, (unsigned long long)phoff);
    FUZZ_CHECK(shnum != 0 || shoff == 0, "e_shnum 0 with e_shoff 0x%llx", (unsigned long long)shoff);
    FUZZ_CHECK(shnum == 0 || (shentsize == 64 && (unsigned __int128)shoff + shnum * 64 <= size),
               "section headers %llu x %llu at 0x%llx", (unsigned long long)shnum, (unsigned long long)shentsize,
               (unsigned long long)shoff);

    unsigned nonempty = 0;
    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = f + phoff + 56 * i;
        uint32_t type = (uint32_t)fuzz_le(ph, 4), flags = (uint32_t)fuzz_le(ph + 4, 4);
        uint64_t off = fuzz_le(ph + 8, 8), vaddr = fuzz_le(ph + 16, 8);
        uint64_t filesz = fuzz_le(ph + 32, 8), memsz = fuzz_le(ph + 40, 8);
        FUZZ_CHECK(type != 2 && type != 3 && type != 7, "phdr %llu has type %u", (unsigned long long)i, type);
        if (type != 1)
            continue;
        FUZZ_CHECK(filesz <= memsz, "phdr %llu: filesz 0x%llx > memsz 0x%llx", (unsigned long long)i,
                   (unsigned long long)filesz, (unsigned long long)memsz);
        FUZZ_CHECK((unsigned __int128)off + filesz <= size, "phdr %llu: file bytes 0x%llx+0x%llx outside %zu",
                   (unsigned long long)i, (unsigned long long)off, (unsigned long long)filesz, size);
        if (memsz == 0)
            continue;
        FUZZ_CHECK((flags & ~7u) == 0, "phdr %llu: p_flags 0x%x", (unsigned long long)i, flags);
        bool found = false;
        for (unsigned k = 0; k < plan.nsegs; k++)
            found |= plan.segs[k].vaddr == vaddr && plan.segs[k].memsz == memsz && plan.segs[k].offset == off &&
                     plan.segs[k].filesz == filesz && plan.segs[k].flags == flags;
        FUZZ_CHECK(found, "phdr %llu missing from the plan", (unsigned long long)i);
        nonempty++;
    }
    FUZZ_CHECK(nonempty == plan.nsegs && plan.nsegs >= 1, "plan has %u segments, file %u", plan.nsegs, nonempty);

    bool entry_ok = false;
    for (unsigned k = 0; k < plan.nsegs; k++) {
        const struct elf_segment *s = &plan.segs[k];
        unsigned __int128 end = (unsigned __int128)s->vaddr + s->memsz;
        FUZZ_CHECK(s->vaddr >= BASE && end <= ((unsigned __int128)1 << 64) - PAGE, "segment %u at 0x%llx", k,
                   (unsigned long long)s->vaddr);
        FUZZ_CHECK(!((s->flags & ELF_PF_W) && (s->flags & ELF_PF_X)), "segment %u is W+X", k);
        if (k > 0) {
            const struct elf_segment *p = &plan.segs[k - 1];
            uint64_t prev_end_page = (p->vaddr + p->memsz + PAGE - 1) & ~(PAGE - 1);
            FUZZ_CHECK(prev_end_page <= (s->vaddr & ~(PAGE - 1)), "segments %u and %u share a page", k - 1, k);
        }
        if ((s->flags & ELF_PF_X) && plan.entry >= s->vaddr && plan.entry - s->vaddr < s->filesz)
            entry_ok = true;
    }
    FUZZ_CHECK(entry_ok, "entry 0x%llx not in an executable segment's file bytes", (unsigned long long)plan.entry);
    const struct elf_segment *last = &plan.segs[plan.nsegs - 1];
    uint64_t end_page = (last->vaddr + last->memsz + PAGE - 1) & ~(PAGE - 1);
    FUZZ_CHECK(plan.vbase == (plan.segs[0].vaddr & ~(PAGE - 1)) && plan.span == end_page - plan.vbase &&
                   plan.span <= SPAN,
               "vbase 0x%llx span 0x%llx", (unsigned long long)plan.vbase, (unsigned long long)plan.span);
    return 0;
}
