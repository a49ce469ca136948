/*
 * acpi.c - read the firmware's ACPI tables: which CPUs exist, where their
 * local APICs and the IOAPICs are, and where the HPET is.
 *
 * What: the loader hands over the physical address of the RSDP it found in
 * the EFI configuration table (boot_info.rsdp_phys). From there the tables
 * form a tree of physical pointers:
 *
 *     RSDP --> XSDT (64-bit entries; RSDT with 32-bit ones on ACPI 1.0)
 *                |--> "APIC" (MADT): local APIC address, one entry per CPU,
 *                |                   IOAPICs, ISA overrides, LINT NMI wiring
 *                |--> "HPET": the event timer block's register address
 *                '--> FACP, MCFG, WAET, ... (checked and listed, not parsed)
 *
 * Every byte comes from firmware, so nothing is trusted before it is
 * checked, and every check has a named error. The parsers read through
 * little-endian byte loads (tables are packed and fields unaligned), never
 * through casts to packed structs.
 *
 * Invariants:
 *   - No read leaves the bytes validated so far: a table's length is checked
 *     against ACPI_TABLE_MAX_LEN and against what the mapping callback could
 *     provide before its checksum is summed; a MADT entry's length is
 *     checked (>= 2, within the table, >= the size its type needs) before a
 *     field of it is read. An entry length of 0 or 1 is an error, so the
 *     entry loop always advances and always ends.
 *   - The result keeps only what validated: a table with a bad checksum is
 *     listed as invalid and not parsed; a MADT with one malformed entry (a
 *     length that does not fit) is dropped whole (have_madt false: the
 *     kernel runs on the boot CPU alone, as the safest reading of a table we
 *     cannot parse). Caps (ACPI_MAX_*) are warnings, not errors: the extra
 *     entries are counted and left out.
 *   - Values are checked where they are parsed, not left to their users: a
 *     well-formed entry naming the impossible is left out with a warning and
 *     the rest of the MADT kept - a processor with the broadcast APIC id
 *     (xAPIC 0xff, x2APIC 0xffffffff: a destination meaning "everyone", so
 *     start_ap would wait out its timeout on it), an NMI wired to a LINT pin
 *     other than 0 or 1, an IOAPIC at 0 or unaligned. Addresses the kernel
 *     must use - the local APIC's (from the 32-bit field or the override)
 *     and the HPET's - must be nonzero, aligned to their register block and
 *     below 2^52 (the architectural physical-address limit), or the MADT
 *     resp. the HPET table is refused.
 *   - Messages never overflow and never end silently: err_add writes a
 *     message only whole, keeping room for a final "; ..." that marks a full
 *     buffer (found by fuzzing: 100 copies of the MADT cut the message
 *     mid-word). MADT warnings put their counts first (CPUs over the cap,
 *     duplicate ids, other entries over caps), then the first per-entry
 *     notes, so the numbers always survive. nerrors counts every error.
 *   - The kernel's copy (g_tables) is filled once by acpi_init, before other
 *     CPUs start, and read-only afterwards: no locking.
 *
 * Steps of acpi_walk (one function each: walk_rsdp, walk_root_table,
 * check_listed_table, parse_known_table):
 *   1. RSDP: signature "RSD PTR ", checksum of the first 20 bytes; for
 *      revision >= 2 also the length and the extended checksum.
 *   2. Root table: the XSDT when the RSDP has one, else the RSDT. Header,
 *      length, checksum; a partial trailing entry is an error. If the XSDT
 *      is bad and an RSDT exists, fall back to it.
 *   3. For each entry: map the 36-byte header, check length and cap, map the
 *      whole table, verify the checksum, record it.
 *   4. Parse the first valid "APIC" and "HPET" tables; duplicates are warned
 *      about and ignored.
 *
 * Cites: ACPI Specification 6.5, sections 5.2.5 (RSDP), 5.2.6 (system
 * description table header and checksum rule), 5.2.7 (RSDT), 5.2.8 (XSDT),
 * 5.2.12 (MADT: 5.2.12.2 processor local APIC, 5.2.12.3 I/O APIC, 5.2.12.5
 * interrupt source override, 5.2.12.7 local APIC NMI, 5.2.12.8 local APIC
 * address override, 5.2.12.12 processor local x2APIC, 5.2.12.13 local
 * x2APIC NMI); IA-PC HPET Specification 1.0a, section 3.2.4 (the ACPI
 * HPET description table).
 */
#include "kernel/acpi.h"

#include "kernel/lib/kprintf.h"

#ifndef HOSTED
#include "boot/boot_info.h"
#include "kernel/lib/percpu.h"
#include "kernel/lib/string.h"
_Static_assert(ACPI_MAX_CPUS == MAX_CPUS, "one MADT slot per possible CPU");
#endif

/* ---- Little-endian field access (tables are packed, fields unaligned). ---- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (uint16_t)p[1] << 8); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* A 4-byte signature as a printable C string. */
static void sig_str(const uint8_t *p, char out[5])
{
    for (int i = 0; i < 4; i++)
        out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    out[4] = '\0';
}

static bool sig_eq(const uint8_t *p, const char *sig)
{
    for (int i = 0; i < 4; i++)
        if (p[i] != (uint8_t)sig[i])
            return false;
    return true;
}

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    return n;
}

/* What a full message buffer ends with: more problems were found than fit. */
#define ERR_MORE "..."

static bool err_full(const char *err, size_t used)
{
    return used >= 3 && err[used - 1] == '.' && err[used - 2] == '.' && err[used - 3] == '.';
}

/* Appends a message to err[0..n) ("; "-separated). A message is written
 * only whole and only if room for "; ..." stays behind it; the first one that
 * does not fit is replaced by "; ..." and every later one dropped, so a full
 * buffer always says so (no message of ours ends in "..."). */
__attribute__((format(printf, 3, 4)))
static void err_add(char *err, size_t n, const char *fmt, ...)
{
    if (err == NULL || n < sizeof("; " ERR_MORE))
        return;
    size_t used = str_len(err);
    if (err_full(err, used))
        return;
    size_t sep = used > 0 ? 2 : 0, room = n - used;
    va_list ap;
    va_start(ap, fmt);
    int len = kvsnprintf(err + used + sep, room - sep, fmt, ap);
    va_end(ap);
    if (len >= 0 && sep + (size_t)len + sizeof("; " ERR_MORE) <= room) {
        if (sep) {
            err[used] = ';';
            err[used + 1] = ' ';
        }
        return;
    }
    ksnprintf(err + used, room, "%s" ERR_MORE, sep ? "; " : "");
}

static void err_clear(char *err, size_t n)
{
    if (err != NULL && n > 0)
        err[0] = '\0';
}

/* ---- Step 1: the RSDP. ---- */

#define RSDP_V1_LEN 20u
#define RSDP_V2_LEN 36u

int acpi_rsdp_parse(const uint8_t *p, size_t avail, struct acpi_rsdp *out, char *err, size_t n)
{
    err_clear(err, n);
    if (avail < RSDP_V1_LEN) {
        err_add(err, n, "RSDP: only %zu bytes readable, needs %u", avail, RSDP_V1_LEN);
        return -1;
    }
    if (!sig_eq(p, "RSD ") || !sig_eq(p + 4, "PTR ")) {
        err_add(err, n, "RSDP: bad signature (expected \"RSD PTR \")");
        return -1;
    }
    if (sum8(p, RSDP_V1_LEN) != 0) {
        err_add(err, n, "RSDP: checksum of the first 20 bytes is 0x%02x, not 0", sum8(p, RSDP_V1_LEN));
        return -1;
    }
    out->revision = p[15];
    for (int i = 0; i < 6; i++)
        out->oem_id[i] = (p[9 + i] >= 0x20 && p[9 + i] < 0x7f) ? (char)p[9 + i] : '?';
    out->oem_id[6] = '\0';
    out->rsdt_phys = rd32(p + 16);
    out->xsdt_phys = 0;
    out->length = RSDP_V1_LEN;
    if (out->revision < 2)
        return 0;
    if (avail < RSDP_V2_LEN) {
        err_add(err, n, "RSDP: revision %u needs %u bytes, only %zu readable", out->revision, RSDP_V2_LEN, avail);
        return -1;
    }
    uint32_t len = rd32(p + 20);
    if (len < RSDP_V2_LEN || len > ACPI_RSDP_MAX_LEN) {
        err_add(err, n, "RSDP: length %u outside %u..%u", len, RSDP_V2_LEN, ACPI_RSDP_MAX_LEN);
        return -1;
    }
    if (len > avail) {
        err_add(err, n, "RSDP: length %u, only %zu bytes readable", len, avail);
        return -1;
    }
    if (sum8(p, len) != 0) {
        err_add(err, n, "RSDP: extended checksum over %u bytes is 0x%02x, not 0", len, sum8(p, len));
        return -1;
    }
    out->length = len;
    out->xsdt_phys = rd64(p + 24);
    return 0;
}

/* ---- Table headers (step 2 and 3). ---- */

int acpi_table_check(const uint8_t *p, size_t avail, const char *sig, uint32_t *len, char *err, size_t n)
{
    char s[5];
    err_clear(err, n);
    if (avail < ACPI_HDR_LEN) {
        err_add(err, n, "%s: only %zu bytes readable, a header needs %u", sig ? sig : "table", avail,
                ACPI_HDR_LEN);
        return -1;
    }
    sig_str(p, s);
    if (sig != NULL && !sig_eq(p, sig)) {
        err_add(err, n, "%s: signature is \"%s\"", sig, s);
        return -1;
    }
    uint32_t l = rd32(p + 4);
    if (l < ACPI_HDR_LEN) {
        err_add(err, n, "%s: length %u is shorter than its %u-byte header", s, l, ACPI_HDR_LEN);
        return -1;
    }
    if (l > ACPI_TABLE_MAX_LEN) {
        err_add(err, n, "%s: length %u exceeds the %u-byte cap", s, l, ACPI_TABLE_MAX_LEN);
        return -1;
    }
    if (l > avail) {
        err_add(err, n, "%s: length %u, only %zu bytes readable", s, l, avail);
        return -1;
    }
    uint8_t c = sum8(p, l);
    if (c != 0) {
        err_add(err, n, "%s: checksum over %u bytes is 0x%02x, not 0", s, l, c);
        return -1;
    }
    *len = l;
    return 0;
}

/* ---- The MADT. ---- */

#define MADT_FIXED_LEN 44u /* header + local APIC address + flags */
#define XAPIC_BROADCAST  0xffu       /* a destination of "every CPU", never one CPU's id */
#define X2APIC_BROADCAST 0xffffffffu
#define PHYS_LIMIT (1ull << 52)      /* architectural maximum physical address width */
#define LAPIC_REGS_LEN 0x1000u
#define HPET_REGS_LEN  0x400u

/* [phys, phys+len) is a nonzero, align-aligned range below PHYS_LIMIT. */
static bool mmio_range_ok(uint64_t phys, uint64_t len, uint64_t align)
{
    return phys != 0 && phys % align == 0 && phys < PHYS_LIMIT && len <= PHYS_LIMIT - phys;
}

enum madt_type {
    MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_ISO = 2, MADT_NMI_SOURCE = 3, MADT_LAPIC_NMI = 4,
    MADT_LAPIC_OVERRIDE = 5, MADT_X2APIC = 9, MADT_X2APIC_NMI = 10,
};

/* The smallest length each known entry type may have; 0 = unknown. */
static uint8_t madt_min_len(uint8_t type)
{
    switch (type) {
    case MADT_LAPIC: return 8;
    case MADT_IOAPIC: return 12;
    case MADT_ISO: return 10;
    case MADT_NMI_SOURCE: return 8;
    case MADT_LAPIC_NMI: return 6;
    case MADT_LAPIC_OVERRIDE: return 12;
    case MADT_X2APIC: return 16;
    case MADT_X2APIC_NMI: return 12;
    default: return 0;
    }
}

/* Per-entry warnings go to notes; the counts are summarized in m->warn. */
static void madt_add_cpu(struct acpi_madt *m, char *notes, size_t nn, uint32_t apic_id, uint32_t uid,
                         uint32_t flags, bool x2)
{
    bool enabled = flags & 1, capable = (flags >> 1) & 1;
    if (!enabled && !capable) {
        m->cpus_unusable++;
        return;
    }
    if (apic_id == (x2 ? X2APIC_BROADCAST : XAPIC_BROADCAST)) {
        err_add(notes, nn, "processor uid %u has the broadcast APIC id 0x%x: not a CPU, ignored", uid, apic_id);
        m->cpus_unusable++;
        return;
    }
    for (unsigned i = 0; i < m->ncpus; i++) {
        if (m->cpu[i].apic_id == apic_id) {
            if (m->cpus_duplicate++ == 0)
                err_add(notes, nn, "APIC id %u listed twice (uid %u and %u): second ignored", apic_id,
                        m->cpu[i].uid, uid);
            return;
        }
    }
    if (m->ncpus == ACPI_MAX_CPUS) {
        m->cpus_dropped++;
        return;
    }
    m->cpu[m->ncpus++] = (struct acpi_cpu){ apic_id, uid, enabled, !enabled && capable, x2 };
}

static void madt_add_nmi(struct acpi_madt *m, char *notes, size_t nn, uint32_t uid, uint16_t flags,
                         uint8_t lint)
{
    if (lint > 1) {
        err_add(notes, nn, "local APIC NMI entry for uid 0x%x names LINT %u (a local APIC has LINT0 and LINT1): "
                "ignored", uid, lint);
        return;
    }
    if (m->nnmis == ACPI_MAX_LAPIC_NMIS) {
        m->other_dropped++;
        return;
    }
    m->nmi[m->nnmis++] = (struct acpi_lapic_nmi){ uid, flags, lint };
}

static void madt_add_ioapic(struct acpi_madt *m, char *notes, size_t nn, uint8_t id, uint32_t phys,
                            uint32_t gsi_base)
{
    if (!mmio_range_ok(phys, 16, 16)) {
        err_add(notes, nn, "IOAPIC id %u at 0x%x is not a 16-byte-aligned nonzero address: ignored", id, phys);
        return;
    }
    if (m->nioapics == ACPI_MAX_IOAPICS)
        m->other_dropped++;
    else
        m->ioapic[m->nioapics++] = (struct acpi_ioapic){ id, phys, gsi_base };
}

/* m->warn: the counts first (so they always fit), then the first notes. */
static void madt_summarize(struct acpi_madt *m, const char *notes)
{
    if (m->cpus_dropped)
        err_add(m->warn, sizeof(m->warn), "%u usable CPUs beyond the %u supported are ignored", m->cpus_dropped,
                ACPI_MAX_CPUS);
    if (m->cpus_duplicate)
        err_add(m->warn, sizeof(m->warn), "%u duplicate APIC ids ignored", m->cpus_duplicate);
    if (m->other_dropped)
        err_add(m->warn, sizeof(m->warn), "%u IOAPIC/override/NMI entries beyond the caps are ignored",
                m->other_dropped);
    if (notes[0])
        err_add(m->warn, sizeof(m->warn), "%s", notes);
}

int acpi_madt_parse(const uint8_t *t, size_t len, struct acpi_madt *m, char *err, size_t n)
{
    char notes[sizeof(m->warn)] = "";
    err_clear(err, n);
    *m = (struct acpi_madt){ 0 };
    if (len < MADT_FIXED_LEN) {
        err_add(err, n, "APIC: length %zu is shorter than its %u fixed bytes", len, MADT_FIXED_LEN);
        return -1;
    }
    m->lapic_phys = rd32(t + 36);
    m->pcat_compat = rd32(t + 40) & 1;
    for (size_t off = MADT_FIXED_LEN; off < len;) {
        if (len - off < 2) {
            err_add(err, n, "APIC: %zu trailing byte at offset %zu (an entry needs 2)", len - off, off);
            return -1;
        }
        const uint8_t *e = t + off;
        uint8_t type = e[0], elen = e[1];
        if (elen < 2) {
            err_add(err, n, "APIC: entry at offset %zu (type %u) has length %u", off, type, elen);
            return -1;
        }
        if (elen > len - off) {
            err_add(err, n, "APIC: entry at offset %zu (type %u, length %u) runs past the end (%zu bytes left)",
                    off, type, elen, len - off);
            return -1;
        }
        off += elen; /* advances by >= 2: the loop ends */
        uint8_t need = madt_min_len(type);
        if (need == 0) {
            m->unknown_entries++;
            continue;
        }
        if (elen < need) {
            err_add(err, n, "APIC: entry at offset %zu (type %u) has length %u, its type needs %u", off - elen,
                    type, elen, need);
            return -1;
        }
        switch (type) {
        case MADT_LAPIC:
            madt_add_cpu(m, notes, sizeof(notes), e[3], e[2], rd32(e + 4), false);
            break;
        case MADT_X2APIC:
            madt_add_cpu(m, notes, sizeof(notes), rd32(e + 4), rd32(e + 12), rd32(e + 8), true);
            break;
        case MADT_IOAPIC:
            madt_add_ioapic(m, notes, sizeof(notes), e[2], rd32(e + 4), rd32(e + 8));
            break;
        case MADT_ISO:
            if (m->nisos == ACPI_MAX_ISOS)
                m->other_dropped++;
            else
                m->iso[m->nisos++] = (struct acpi_iso){ e[2], e[3], rd16(e + 8), rd32(e + 4) };
            break;
        case MADT_LAPIC_NMI:
            madt_add_nmi(m, notes, sizeof(notes), e[2] == 0xff ? ACPI_UID_ALL : e[2], rd16(e + 3), e[5]);
            break;
        case MADT_X2APIC_NMI:
            madt_add_nmi(m, notes, sizeof(notes), rd32(e + 4), rd16(e + 2), e[8]);
            break;
        case MADT_LAPIC_OVERRIDE:
            if (m->lapic_overridden)
                err_add(notes, sizeof(notes), "second local APIC address override ignored");
            else {
                m->lapic_phys = rd64(e + 4);
                m->lapic_overridden = true;
            }
            break;
        default: /* NMI sources: no IOAPIC is driven yet */
            break;
        }
    }
    madt_summarize(m, notes);
    if (!mmio_range_ok(m->lapic_phys, LAPIC_REGS_LEN, LAPIC_REGS_LEN)) {
        err_add(err, n, "APIC: local APIC address 0x%llx%s is not a page-aligned nonzero address below 2^52",
                (unsigned long long)m->lapic_phys, m->lapic_overridden ? " (from the address override)" : "");
        return -1;
    }
    return 0;
}

/* ---- The HPET table. ---- */

#define HPET_TABLE_LEN 56u

int acpi_hpet_parse(const uint8_t *t, size_t len, struct acpi_hpet *h, char *err, size_t n)
{
    err_clear(err, n);
    *h = (struct acpi_hpet){ 0 };
    if (len < HPET_TABLE_LEN) {
        err_add(err, n, "HPET: length %zu is shorter than the %u bytes of its fields", len, HPET_TABLE_LEN);
        return -1;
    }
    h->block_id = rd32(t + 36);
    uint8_t space = t[40]; /* generic address structure at 40: space, width, offset, access size, address */
    h->phys = rd64(t + 44);
    h->number = t[52];
    h->min_tick = rd16(t + 53);
    if (space != 0) {
        err_add(err, n, "HPET: registers are in address space %u, not system memory (0)", space);
        return -1;
    }
    if (!mmio_range_ok(h->phys, HPET_REGS_LEN, HPET_REGS_LEN)) {
        err_add(err, n, "HPET: base address 0x%llx is not a 1 KiB-aligned nonzero address below 2^52",
                (unsigned long long)h->phys);
        return -1;
    }
    return 0;
}

/* ---- The walk. ---- */

/* Maps and validates the table at phys: header first, then all of it. */
static const uint8_t *map_table(acpi_map_fn map, void *ctx, uint64_t phys, const char *what, uint32_t *len,
                                char *err, size_t n)
{
    char e[160];
    const uint8_t *h = map(ctx, phys, ACPI_HDR_LEN);
    if (h == NULL) {
        err_add(err, n, "%s at 0x%llx: header not readable", what, (unsigned long long)phys);
        return NULL;
    }
    uint32_t l = rd32(h + 4);
    /* Map what the header claims (capped), so the check can name the real problem. */
    size_t want = l < ACPI_HDR_LEN ? ACPI_HDR_LEN : l > ACPI_TABLE_MAX_LEN ? ACPI_HDR_LEN : l;
    const uint8_t *t = map(ctx, phys, want);
    if (t == NULL) {
        char s[5];
        sig_str(h, s);
        err_add(err, n, "%s (\"%s\") at 0x%llx: length %u runs outside readable memory", what, s,
                (unsigned long long)phys, l);
        return NULL;
    }
    if (acpi_table_check(t, want, NULL, len, e, sizeof(e)) != 0) {
        err_add(err, n, "%s at 0x%llx: %s", what, (unsigned long long)phys, e);
        return NULL;
    }
    return t;
}

/* Reads the root table's entries into out->table[]; -1 if the root table is bad. */
static int walk_root(acpi_map_fn map, void *ctx, uint64_t phys, bool xsdt, struct acpi_tables *out, char *err,
                     size_t n)
{
    const char *name = xsdt ? "XSDT" : "RSDT";
    uint32_t len;
    const uint8_t *t = map_table(map, ctx, phys, name, &len, err, n);
    if (t == NULL)
        return -1;
    if (!sig_eq(t, name)) {
        char s[5];
        sig_str(t, s);
        err_add(err, n, "%s at 0x%llx: signature is \"%s\"", name, (unsigned long long)phys, s);
        return -1;
    }
    unsigned esz = xsdt ? 8 : 4;
    if ((len - ACPI_HDR_LEN) % esz != 0) {
        err_add(err, n, "%s: length %u leaves a partial %u-byte entry", name, len, esz);
        return -1;
    }
    out->root_phys = phys;
    out->root_is_xsdt = xsdt;
    out->ntables = 0;
    for (uint32_t off = ACPI_HDR_LEN; off < len; off += esz) {
        if (out->ntables == ACPI_MAX_TABLES) {
            out->tables_dropped++;
            continue;
        }
        struct acpi_table_ref *r = &out->table[out->ntables++];
        *r = (struct acpi_table_ref){ .phys = xsdt ? rd64(t + off) : rd32(t + off) };
        ksnprintf(r->sig, sizeof(r->sig), "????");
    }
    return 0;
}

/* Step 1: map and validate the RSDP. */
static int walk_rsdp(uint64_t rsdp_phys, acpi_map_fn map, void *ctx, struct acpi_tables *out, char *err, size_t n)
{
    char e[200];
    const uint8_t *p = rsdp_phys ? map(ctx, rsdp_phys, RSDP_V1_LEN) : NULL;
    if (p == NULL) {
        err_add(err, n, rsdp_phys ? "RSDP at 0x%llx not readable" : "no RSDP (the loader found none)",
                (unsigned long long)rsdp_phys);
        out->nerrors++;
        return -1;
    }
    size_t avail = RSDP_V1_LEN;
    if (p[15] >= 2) { /* revision: map the extended part, whose length is at byte 20 */
        const uint8_t *q = map(ctx, rsdp_phys, RSDP_V2_LEN);
        if (q != NULL) {
            uint32_t l = rd32(q + 20);
            size_t want = (l >= RSDP_V2_LEN && l <= ACPI_RSDP_MAX_LEN) ? l : RSDP_V2_LEN;
            const uint8_t *r = map(ctx, rsdp_phys, want);
            p = r ? r : q;
            avail = r ? want : RSDP_V2_LEN;
        }
    }
    if (acpi_rsdp_parse(p, avail, &out->rsdp, e, sizeof(e)) != 0) {
        err_add(err, n, "%s", e);
        out->nerrors++;
        return -1;
    }
    out->have_rsdp = true;
    return 0;
}

/* Step 2: the XSDT if there is one, else (or if it is bad) the RSDT. */
static int walk_root_table(acpi_map_fn map, void *ctx, struct acpi_tables *out, char *err, size_t n)
{
    int rc = -1;
    if (out->rsdp.xsdt_phys != 0) {
        rc = walk_root(map, ctx, out->rsdp.xsdt_phys, true, out, err, n);
        if (rc != 0)
            out->nerrors++;
    }
    if (rc != 0 && out->rsdp.rsdt_phys != 0) {
        if (out->rsdp.xsdt_phys != 0)
            err_add(err, n, "falling back to the RSDT");
        rc = walk_root(map, ctx, out->rsdp.rsdt_phys, false, out, err, n);
        if (rc != 0)
            out->nerrors++;
    }
    if (rc != 0) {
        if (out->rsdp.xsdt_phys == 0 && out->rsdp.rsdt_phys == 0) {
            err_add(err, n, "RSDP points at no root table");
            out->nerrors++;
        }
        return -1;
    }
    if (out->tables_dropped) {
        err_add(err, n, "%s lists %u tables beyond the %u kept", out->root_is_xsdt ? "XSDT" : "RSDT",
                out->tables_dropped, ACPI_MAX_TABLES);
        out->nerrors++;
    }
    return 0;
}

/* Step 3: header, length and checksum of listed table i; NULL if bad. */
static const uint8_t *check_listed_table(acpi_map_fn map, void *ctx, struct acpi_tables *out, unsigned i,
                                         uint32_t *len, char *err, size_t n)
{
    struct acpi_table_ref *r = &out->table[i];
    char what[32];
    ksnprintf(what, sizeof(what), "table %u", i);
    const uint8_t *t = map_table(map, ctx, r->phys, what, len, err, n);
    if (t == NULL) {
        const uint8_t *h = map(ctx, r->phys, ACPI_HDR_LEN);
        if (h != NULL)
            sig_str(h, r->sig);
        out->nerrors++;
        return NULL;
    }
    sig_str(t, r->sig);
    r->length = *len;
    r->revision = t[8];
    r->valid = true;
    return t;
}

/* Step 4: parse the first valid MADT and HPET table; warn about others. */
static void parse_known_table(struct acpi_tables *out, const struct acpi_table_ref *r, const uint8_t *t,
                              uint32_t len, char *err, size_t n)
{
    char e[200];
    if (sig_eq(t, "APIC")) {
        if (out->have_madt) {
            err_add(err, n, "a second MADT at 0x%llx is ignored", (unsigned long long)r->phys);
            out->nerrors++;
        } else if (acpi_madt_parse(t, len, &out->madt, e, sizeof(e)) != 0) {
            err_add(err, n, "%s: MADT not trusted, running on the boot CPU only", e);
            out->madt = (struct acpi_madt){ 0 };
            out->nerrors++;
        } else {
            out->have_madt = true;
        }
    } else if (sig_eq(t, "HPET")) {
        if (out->have_hpet) {
            err_add(err, n, "a second HPET table at 0x%llx is ignored", (unsigned long long)r->phys);
            out->nerrors++;
        } else if (acpi_hpet_parse(t, len, &out->hpet, e, sizeof(e)) != 0) {
            err_add(err, n, "%s", e);
            out->hpet = (struct acpi_hpet){ 0 };
            out->nerrors++;
        } else {
            out->have_hpet = true;
        }
    }
}

int acpi_walk(uint64_t rsdp_phys, acpi_map_fn map, void *ctx, struct acpi_tables *out, char *err, size_t n)
{
    err_clear(err, n);
    *out = (struct acpi_tables){ 0 };
    if (walk_rsdp(rsdp_phys, map, ctx, out, err, n) != 0 || walk_root_table(map, ctx, out, err, n) != 0)
        return -1;
    for (unsigned i = 0; i < out->ntables; i++) {
        uint32_t len;
        const uint8_t *t = check_listed_table(map, ctx, out, i, &len, err, n);
        if (t != NULL)
            parse_known_table(out, &out->table[i], t, len, err, n);
    }
    return out->nerrors == 0 ? 0 : -1;
}

#ifndef HOSTED
/* ---- The kernel's tables. ---- */

static struct acpi_tables g_tables; /* written once by acpi_init, read-only afterwards */
static bool g_ready;
static int g_rc;
static char g_err[ACPI_ERR_MAX];
static uint64_t g_direct_map_size;

/* Physical memory through the direct map, bounded by what the loader mapped. */
static const uint8_t *direct_map(void *ctx, uint64_t phys, size_t len)
{
    (void)ctx;
    if (phys >= g_direct_map_size || len > g_direct_map_size - phys)
        return NULL;
    return (const uint8_t *)(uintptr_t)(BOOT_DIRECT_MAP_BASE + phys);
}

int acpi_init_at(uint64_t rsdp_phys, uint64_t direct_map_size, char *err, size_t n)
{
    if (!g_ready) {
        g_direct_map_size = direct_map_size;
        g_rc = acpi_walk(rsdp_phys, direct_map, NULL, &g_tables, g_err, sizeof(g_err));
        g_ready = true;
    }
    if (err != NULL && n > 0)
        ksnprintf(err, n, "%s", g_err);
    return g_rc;
}

int acpi_init(const struct boot_info *bi, char *err, size_t n)
{
    return acpi_init_at(bi->rsdp_phys, bi->direct_map_size, err, n);
}

bool acpi_ready(void) { return g_ready; }
const struct acpi_tables *acpi_tables(void) { return &g_tables; }
unsigned acpi_cpu_count(void) { return g_tables.have_madt ? g_tables.madt.ncpus : 0; }

const struct acpi_cpu *acpi_cpu(unsigned i)
{
    return i < acpi_cpu_count() ? &g_tables.madt.cpu[i] : NULL;
}

const struct acpi_cpu *acpi_cpu_by_apic_id(uint32_t apic_id)
{
    for (unsigned i = 0; i < acpi_cpu_count(); i++)
        if (g_tables.madt.cpu[i].apic_id == apic_id)
            return &g_tables.madt.cpu[i];
    return NULL;
}

uint64_t acpi_lapic_phys(void) { return g_tables.have_madt ? g_tables.madt.lapic_phys : 0; }
uint64_t acpi_hpet_phys(void) { return g_tables.have_hpet ? g_tables.hpet.phys : 0; }

void acpi_report(void)
{
    typedef unsigned long long ull;
    const struct acpi_tables *t = &g_tables;
    if (!g_ready) {
        kprintf("acpi: not initialized\n");
        return;
    }
    if (!t->have_rsdp) {
        kprintf("acpi: no usable RSDP: %s\n", g_err);
        return;
    }
    kprintf("acpi: RSDP rev %u, OEM \"%s\"; %s at 0x%llx lists %u tables\n", t->rsdp.revision, t->rsdp.oem_id,
            t->root_is_xsdt ? "XSDT" : "RSDT", (ull)t->root_phys, t->ntables);
    for (unsigned i = 0; i < t->ntables; i++) {
        const struct acpi_table_ref *r = &t->table[i];
        kprintf("acpi:   %s at 0x%llx, %u bytes, rev %u%s\n", r->sig, (ull)r->phys, r->length, r->revision,
                r->valid ? "" : "  INVALID");
    }
    if (t->have_madt) {
        const struct acpi_madt *m = &t->madt;
        kprintf("acpi: MADT: local APIC at 0x%llx%s, %u CPU(s), %u IOAPIC(s), %u override(s), %u LINT NMI(s)%s\n",
                (ull)m->lapic_phys, m->lapic_overridden ? " (override)" : "", m->ncpus, m->nioapics, m->nisos,
                m->nnmis, m->pcat_compat ? ", 8259 PICs present" : "");
        for (unsigned i = 0; i < m->ncpus; i++) {
            const struct acpi_cpu *c = &m->cpu[i];
            kprintf("acpi:   cpu uid %u: APIC id %u%s%s%s\n", c->uid, c->apic_id,
                    c->enabled ? ", enabled" : "", c->online_capable ? ", online-capable (not started)" : "",
                    c->x2apic ? (c->apic_id > 254 ? ", x2APIC only (unreachable in xAPIC mode)" : ", x2APIC entry")
                              : "");
        }
        for (unsigned i = 0; i < m->nioapics; i++)
            kprintf("acpi:   IOAPIC id %u at 0x%x, GSI base %u\n", m->ioapic[i].id, m->ioapic[i].phys,
                    m->ioapic[i].gsi_base);
        for (unsigned i = 0; i < m->nisos; i++)
            kprintf("acpi:   ISA irq %u -> GSI %u (flags 0x%x)\n", m->iso[i].source, m->iso[i].gsi,
                    m->iso[i].flags);
        if (m->unknown_entries || m->cpus_unusable)
            kprintf("acpi:   skipped %u entries of unknown type, %u disabled processors\n", m->unknown_entries,
                    m->cpus_unusable);
        if (m->warn[0])
            kprintf("acpi: MADT warning: %s\n", m->warn);
    } else {
        kprintf("acpi: no trustworthy MADT: the boot CPU only\n");
    }
    if (t->have_hpet)
        kprintf("acpi: HPET #%u at 0x%llx (block id 0x%08x, min tick %u)\n", t->hpet.number, (ull)t->hpet.phys,
                t->hpet.block_id, t->hpet.min_tick);
    else
        kprintf("acpi: no HPET table\n");
    if (g_rc != 0)
        kprintf("acpi: errors: %s\n", g_err);
}
#endif
