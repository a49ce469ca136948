/*
 * elf_check.h - validate a kernel ELF image completely before trusting it.
 *
 * Pure logic: no firmware calls, no libc, so the loader and the host tests
 * compile the same file. elf_check() reads only bytes inside [file, file+size)
 * and, on success, fills a load plan the loader follows verbatim.
 */
#ifndef BOOT_ELF_CHECK_H
#define BOOT_ELF_CHECK_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_PHDRS 64      /* program headers we are willing to read */
#define ELF_MAX_LOADS 16      /* PT_LOAD segments we are willing to load */
#define ELF_PAGE_SIZE 4096ull /* the loader maps segments with 4 KiB pages */

enum elf_error {
    ELF_OK = 0,
    ELF_ERR_TRUNCATED_HEADER, /* file shorter than an ELF header */
    ELF_ERR_MAGIC,            /* not \x7fELF */
    ELF_ERR_CLASS,            /* not ELFCLASS64 */
    ELF_ERR_DATA,             /* not little-endian */
    ELF_ERR_VERSION,          /* EI_VERSION or e_version not 1 */
    ELF_ERR_TYPE,             /* not ET_EXEC */
    ELF_ERR_MACHINE,          /* not EM_X86_64 */
    ELF_ERR_EHSIZE,           /* e_ehsize not 64 */
    ELF_ERR_PHENTSIZE,        /* e_phentsize not 56 */
    ELF_ERR_PHNUM,            /* no program headers, or more than ELF_MAX_PHDRS */
    ELF_ERR_PHDRS_BOUNDS,     /* program header table outside the file */
    ELF_ERR_SHDRS_BOUNDS,     /* section header table outside the file (truncated?) */
    ELF_ERR_SHOFF,            /* e_shoff set with e_shnum 0 (extended numbering: not ours) */
    ELF_ERR_SHENTSIZE,        /* sections present and e_shentsize not 64 */
    ELF_ERR_DYNAMIC,          /* PT_INTERP / PT_DYNAMIC / PT_TLS: the kernel must be static */
    ELF_ERR_TOO_MANY_LOADS,   /* more than ELF_MAX_LOADS PT_LOAD segments */
    ELF_ERR_SEG_FILESZ,       /* p_filesz > p_memsz */
    ELF_ERR_SEG_FILE_BOUNDS,  /* segment bytes outside the file */
    ELF_ERR_SEG_ADDR_WRAP,    /* p_vaddr + p_memsz overflows */
    ELF_ERR_SEG_BELOW_BASE,   /* segment below the required virtual base */
    ELF_ERR_SEG_ALIGN,        /* p_align not a power of two, or vaddr/offset incongruent */
    ELF_ERR_SEG_WX,           /* segment both writable and executable */
    ELF_ERR_SEG_FLAGS,        /* p_flags bits other than R, W, X */
    ELF_ERR_SEG_OVERLAP,      /* two segments share a 4 KiB page */
    ELF_ERR_NO_LOADS,         /* no PT_LOAD segment with memory */
    ELF_ERR_SPAN,             /* segments span more than the allowed size */
    ELF_ERR_ENTRY,            /* entry point not inside an executable segment */
    ELF_ERR_ENTRY_ZERO_FILL,  /* entry point past p_filesz: in zeroes the loader fills */
    ELF_ERR_COUNT
};

struct elf_segment {
    uint64_t vaddr;  /* link address of the first byte */
    uint64_t offset; /* file offset of the first byte */
    uint64_t filesz; /* bytes copied from the file */
    uint64_t memsz;  /* bytes of memory (the rest is zeroed) */
    uint32_t flags;  /* ELF_PF_* */
};

#define ELF_PF_X 1u
#define ELF_PF_W 2u
#define ELF_PF_R 4u

struct elf_plan {
    uint64_t entry;
    uint64_t vbase; /* lowest segment start, rounded down to a page */
    uint64_t span;  /* bytes from vbase to the highest segment end, page-rounded */
    unsigned nsegs; /* sorted by vaddr */
    struct elf_segment segs[ELF_MAX_LOADS];
    unsigned bad_index; /* on error: the program header at fault, if any */
};

/*
 * Validates the ELF image at [file, file + size) as a static x86-64 executable
 * whose every PT_LOAD lies at or above min_vaddr and within max_span bytes.
 * Returns ELF_OK and fills *plan, or the first problem found.
 */
enum elf_error elf_check(const void *file, uint64_t size, uint64_t min_vaddr, uint64_t max_span,
                         struct elf_plan *plan);

/* A one-line English description of err (never NULL). */
const char *elf_strerror(enum elf_error err);

#endif
