/*
 * test_acpi.c - the ACPI parsers (kernel/acpi.c) on synthetic tables, under
 * ASan/UBSan: a good RSDP -> XSDT -> MADT/HPET set, then each way firmware
 * bytes can be wrong (signatures, checksums, lengths short, long, past the
 * readable memory, zero-length MADT entries, unknown entries, too many CPUs),
 * then random corruption that must never crash or hang.
 *
 * "Physical memory" is a 64 KiB array; the map callback refuses any range
 * outside it, as the kernel's refuses ranges outside the direct map.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernel/acpi.h"
#include "tests/host/tap.h"
#include "tests/xorshift.h"

#define MEM_SIZE 0x10000u
#define RSDP_AT  0x0100u
#define XSDT_AT  0x1000u
#define RSDT_AT  0x1800u
#define MADT_AT  0x2000u
#define HPET_AT  0x6000u
#define FACP_AT  0x7000u

static uint8_t mem[MEM_SIZE];

static const uint8_t *map_mem(void *ctx, uint64_t phys, size_t len)
{
    (void)ctx;
    if (phys >= MEM_SIZE || len > MEM_SIZE - phys)
        return NULL;
    return mem + phys;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* Header at t: signature, length, revision, OEM; checksum fixed by seal(). */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = rev;
    t[9] = 0;
    memcpy(t + 10, "TESTOE", 6);
    memcpy(t + 16, "TESTTABL", 8);
}

static void seal(uint8_t *t)
{
    uint32_t len = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
    size_t room = MEM_SIZE - (size_t)(t - mem);
    if (len < 10 || len > room) /* a fuzzed length: nothing sensible to seal */
        return;
    t[9] = 0;
    t[9] = (uint8_t)(0x100 - sum(t, len));
}

static void seal_rsdp(uint8_t *p)
{
    p[8] = 0;
    p[8] = (uint8_t)(0x100 - sum(p, 20));
    if (p[15] >= 2) {
        p[32] = 0;
        p[32] = (uint8_t)(0x100 - sum(p, 36));
    }
}

static void make_rsdp(uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
    uint8_t *p = mem + RSDP_AT;
    memset(p, 0, 36);
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, "QEMUFW", 6);
    p[15] = rev;
    put32(p + 16, rsdt);
    if (rev >= 2) {
        put32(p + 20, 36);
        put64(p + 24, xsdt);
    }
    seal_rsdp(p);
}

/* A MADT being built at MADT_AT. */
static uint32_t madt_len;
static void madt_begin(uint32_t lapic)
{
    uint8_t *t = mem + MADT_AT;
    memset(t, 0, 0x4000);
    header(t, "APIC", 44, 5);
    put32(t + 36, lapic);
    put32(t + 40, 1);
    madt_len = 44;
}
static uint8_t *madt_entry(uint8_t type, uint8_t len)
{
    uint8_t *e = mem + MADT_AT + madt_len;
    e[0] = type;
    e[1] = len;
    madt_len += len;
    return e;
}
static void madt_lapic(uint8_t uid, uint8_t apic, uint32_t flags)
{
    uint8_t *e = madt_entry(0, 8);
    e[2] = uid;
    e[3] = apic;
    put32(e + 4, flags);
}
static void madt_end(void)
{
    put32(mem + MADT_AT + 4, madt_len);
    seal(mem + MADT_AT);
}

static void make_hpet(uint8_t space, uint64_t base)
{
    uint8_t *t = mem + HPET_AT;
    memset(t, 0, 56);
    header(t, "HPET", 56, 1);
    put32(t + 36, 0x8086a201);
    t[40] = space;
    t[41] = 64;
    put64(t + 44, base);
    put16(t + 53, 128);
    seal(t);
}

/* The QEMU-like set: 4 CPUs, one IOAPIC, two overrides, LINT1 NMI, an HPET, a FACP. */
static void make_good(void)
{
    memset(mem, 0, sizeof(mem));
    make_rsdp(2, RSDT_AT, XSDT_AT);
    uint8_t *x = mem + XSDT_AT;
    header(x, "XSDT", 36 + 3 * 8, 1);
    put64(x + 36, FACP_AT);
    put64(x + 44, MADT_AT);
    put64(x + 52, HPET_AT);
    seal(x);
    uint8_t *r = mem + RSDT_AT;
    header(r, "RSDT", 36 + 3 * 4, 1);
    put32(r + 36, FACP_AT);
    put32(r + 40, MADT_AT);
    put32(r + 44, HPET_AT);
    seal(r);
    header(mem + FACP_AT, "FACP", 244, 6);
    seal(mem + FACP_AT);
    madt_begin(0xfee00000);
    for (uint8_t i = 0; i < 4; i++)
        madt_lapic(i, i, 1);
    uint8_t *e = madt_entry(1, 12);
    e[2] = 0;
    put32(e + 4, 0xfec00000);
    put32(e + 8, 0);
    e = madt_entry(2, 10);
    e[3] = 0;
    put32(e + 4, 2);
    put16(e + 8, 0);
    e = madt_entry(2, 10);
    e[3] = 9;
    put32(e + 4, 9);
    put16(e + 8, 0xd);
    e = madt_entry(4, 6);
    e[2] = 0xff;
    put16(e + 3, 0);
    e[5] = 1;
    madt_end();
    make_hpet(0, 0xfed00000);
}

static struct acpi_tables T;
static char err[ACPI_ERR_MAX];

static int walk(void) { return acpi_walk(RSDP_AT, map_mem, NULL, &T, err, sizeof(err)); }

static bool has(const char *s) { return strstr(err, s) != NULL; }

static void diag_err(void)
{
    if (err[0])
        tap_diag("err: %s", err);
}

static void test_good(void)
{
    make_good();
    int rc = walk();
    diag_err();
    tap_check(rc == 0 && err[0] == '\0', "good tables: walk succeeds with no error");
    tap_check(T.root_is_xsdt && T.root_phys == XSDT_AT && T.ntables == 3, "good: XSDT used, 3 tables listed");
    tap_check(T.table[0].valid && strcmp(T.table[0].sig, "FACP") == 0 && T.table[0].length == 244,
              "good: FACP recorded with its length");
    tap_check(T.have_madt && T.madt.ncpus == 4 && T.madt.lapic_phys == 0xfee00000 && T.madt.pcat_compat,
              "good: MADT has 4 CPUs, LAPIC at 0xfee00000, PC-AT compatible");
    bool ids = true;
    for (unsigned i = 0; i < 4; i++)
        ids &= T.madt.cpu[i].apic_id == i && T.madt.cpu[i].uid == i && T.madt.cpu[i].enabled &&
               !T.madt.cpu[i].x2apic;
    tap_check(ids, "good: APIC ids and UIDs in order, all enabled");
    tap_check(T.madt.nioapics == 1 && T.madt.ioapic[0].phys == 0xfec00000 && T.madt.nisos == 2 &&
                  T.madt.iso[1].source == 9 && T.madt.iso[1].gsi == 9 && T.madt.iso[1].flags == 0xd,
              "good: IOAPIC and interrupt source overrides");
    tap_check(T.madt.nnmis == 1 && T.madt.nmi[0].uid == ACPI_UID_ALL && T.madt.nmi[0].lint == 1,
              "good: LINT1 NMI for all processors");
    tap_check(T.have_hpet && T.hpet.phys == 0xfed00000 && T.hpet.min_tick == 128, "good: HPET base and min tick");
}

static void test_rsdp(void)
{
    make_good();
    mem[RSDP_AT] = 'X';
    seal_rsdp(mem + RSDP_AT);
    tap_check(walk() == -1 && has("RSDP: bad signature") && !T.have_rsdp, "RSDP: bad signature is an error");

    make_good();
    mem[RSDP_AT + 9] ^= 1; /* OEM byte: breaks both checksums */
    tap_check(walk() == -1 && has("checksum of the first 20 bytes"), "RSDP: bad 20-byte checksum");

    make_good();
    mem[RSDP_AT + 33] = 7; /* reserved byte, covered only by the extended checksum */
    tap_check(walk() == -1 && has("extended checksum"), "RSDP: bad extended checksum");

    make_good();
    put32(mem + RSDP_AT + 20, 100000);
    seal_rsdp(mem + RSDP_AT);
    tap_check(walk() == -1 && has("RSDP: length 100000"), "RSDP: absurd length refused");

    make_good();
    tap_check(acpi_walk(MEM_SIZE - 10, map_mem, NULL, &T, err, sizeof(err)) == -1 && has("not readable"),
              "RSDP: address outside readable memory");
    tap_check(acpi_walk(0, map_mem, NULL, &T, err, sizeof(err)) == -1 && has("no RSDP"), "RSDP: none at all");

    make_good();
    make_rsdp(0, RSDT_AT, 0); /* ACPI 1.0: RSDT only */
    int rc = walk();
    diag_err();
    tap_check(rc == 0 && !T.root_is_xsdt && T.root_phys == RSDT_AT && T.have_madt && T.madt.ncpus == 4,
              "RSDP revision 0: the RSDT is walked");
}

static void test_root(void)
{
    make_good();
    mem[XSDT_AT + 20] ^= 0x55; /* corrupt the XSDT, keep the RSDT */
    int rc = walk();
    diag_err();
    tap_check(rc == -1 && has("XSDT") && has("checksum") && has("falling back to the RSDT"),
              "bad XSDT checksum: named, then the RSDT is used");
    tap_check(!T.root_is_xsdt && T.have_madt && T.madt.ncpus == 4 && T.have_hpet,
              "bad XSDT: the RSDT's tables are still trusted");

    make_good();
    put32(mem + XSDT_AT + 4, 36 + 3 * 8 + 3); /* a partial entry */
    seal(mem + XSDT_AT);
    tap_check(walk() == -1 && has("partial 8-byte entry"), "XSDT: length leaving a partial entry");

    make_good();
    memcpy(mem + XSDT_AT, "XSDX", 4);
    seal(mem + XSDT_AT);
    tap_check(walk() == -1 && has("signature is \"XSDX\""), "XSDT: wrong signature named");
}

static void test_table_lengths(void)
{
    make_good();
    mem[MADT_AT + 50] ^= 0xff; /* inside an entry; checksum now wrong */
    int rc = walk();
    diag_err();
    tap_check(rc == -1 && has("APIC: checksum") && !T.have_madt, "MADT bad checksum: named, MADT not trusted");
    tap_check(T.have_hpet && T.table[1].valid == false && strcmp(T.table[1].sig, "APIC") == 0,
              "MADT bad checksum: listed invalid; the HPET table still parsed");

    make_good();
    put32(mem + MADT_AT + 4, 20); /* shorter than a header */
    tap_check(walk() == -1 && has("length 20 is shorter than its 36-byte header") && !T.have_madt,
              "table length below the header size");

    make_good();
    put32(mem + MADT_AT + 4, ACPI_TABLE_MAX_LEN + 1);
    tap_check(walk() == -1 && has("exceeds the") && !T.have_madt, "table length above the cap");

    make_good();
    put32(mem + MADT_AT + 4, MEM_SIZE); /* runs past the end of readable memory */
    tap_check(walk() == -1 && has("runs outside readable memory") && !T.have_madt,
              "table length larger than the readable buffer");

    uint32_t l;
    make_good();
    tap_check(acpi_table_check(mem + MADT_AT, 40, "APIC", &l, err, sizeof(err)) == -1 && has("only 40 bytes readable"),
              "table_check: length larger than the buffer given");
    tap_check(acpi_table_check(mem + MADT_AT, 0x4000, "HPET", &l, err, sizeof(err)) == -1 &&
                  has("signature is \"APIC\""),
              "table_check: wrong signature");
    tap_check(acpi_table_check(mem + MADT_AT, 10, NULL, &l, err, sizeof(err)) == -1 && has("a header needs 36"),
              "table_check: buffer shorter than a header");
}

static void test_madt_entries(void)
{
    struct acpi_madt m;
    /* A zero-length entry: must be an error, not an endless loop. */
    make_good();
    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    madt_entry(0, 0);
    madt_len += 8;
    madt_end();
    int rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_check(rc == -1 && has("has length 0"), "MADT: zero-length entry is an error (no loop)");
    rc = walk();
    tap_check(rc == -1 && !T.have_madt && has("MADT not trusted"), "MADT zero-length entry: walk keeps no CPUs");

    make_good();
    madt_begin(0xfee00000);
    madt_entry(0x42, 1);
    madt_len += 4;
    madt_end();
    tap_check(acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err)) == -1 && has("has length 1"),
              "MADT: length-1 entry is an error");

    make_good();
    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    uint8_t *e = madt_entry(0, 8);
    e[1] = 30; /* claims more than the table has */
    madt_end();
    tap_check(acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err)) == -1 && has("runs past the end"),
              "MADT: entry running past the table end");

    make_good();
    madt_begin(0xfee00000);
    e = madt_entry(0, 6); /* a processor entry needs 8 */
    madt_end();
    tap_check(acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err)) == -1 &&
                  has("has length 6, its type needs 8"),
              "MADT: truncated known entry");

    make_good();
    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    madt_len += 1; /* one stray trailing byte */
    madt_end();
    tap_check(acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err)) == -1 && has("trailing byte"),
              "MADT: a trailing byte is an error");

    make_good();
    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    madt_entry(0x7f, 5);
    madt_entry(0x11, 2);
    madt_entry(0x0b, 40); /* GICC-like: unknown here */
    madt_lapic(1, 1, 1);
    madt_end();
    rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_check(rc == 0 && m.unknown_entries == 3 && m.ncpus == 2 && m.cpu[1].apic_id == 1,
              "MADT: unknown entry types skipped, later entries still read");

    make_good();
    madt_begin(0xfee00000);
    for (unsigned i = 0; i < 70; i++)
        madt_lapic((uint8_t)i, (uint8_t)i, 1);
    madt_end();
    rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_diag("warn: %s", m.warn);
    tap_check(rc == 0 && m.ncpus == ACPI_MAX_CPUS && m.cpus_dropped == 6 && strstr(m.warn, "6 usable CPUs beyond"),
              "MADT: 70 CPUs capped at %u with a warning", ACPI_MAX_CPUS);

    make_good();
    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    madt_lapic(1, 1, 0); /* absent */
    madt_lapic(2, 2, 2); /* online-capable */
    madt_lapic(3, 0, 1); /* duplicate APIC id */
    madt_end();
    rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_check(rc == 0 && m.ncpus == 2 && m.cpus_unusable == 1 && !m.cpu[1].enabled && m.cpu[1].online_capable &&
                  strstr(m.warn, "APIC id 0 listed twice"),
              "MADT: disabled CPU skipped, online-capable kept, duplicate id warned");

    make_good();
    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    e = madt_entry(9, 16); /* x2APIC */
    put32(e + 4, 300);
    put32(e + 8, 1);
    put32(e + 12, 77);
    e = madt_entry(10, 12); /* x2APIC NMI */
    put16(e + 2, 0xf);
    put32(e + 4, 77);
    e[8] = 0;
    e = madt_entry(5, 12); /* LAPIC address override */
    put64(e + 4, 0xfee10000ull);
    madt_end();
    rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_check(rc == 0 && m.ncpus == 2 && m.cpu[1].x2apic && m.cpu[1].apic_id == 300 && m.cpu[1].uid == 77,
              "MADT: x2APIC processor entry recognized");
    tap_check(m.nnmis == 1 && m.nmi[0].uid == 77 && m.nmi[0].lint == 0 && m.nmi[0].flags == 0xf,
              "MADT: x2APIC NMI entry recognized");
    tap_check(m.lapic_overridden && m.lapic_phys == 0xfee10000ull, "MADT: local APIC address override");

    make_good();
    madt_begin(0);
    madt_lapic(0, 0, 1);
    madt_end();
    tap_check(acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err)) == -1 && has("local APIC address 0x0"),
              "MADT: a zero local APIC address is an error");
    tap_check(acpi_madt_parse(mem + MADT_AT, 40, &m, err, sizeof(err)) == -1 && has("44 fixed bytes"),
              "MADT: shorter than its fixed part");
}

static void test_hpet(void)
{
    struct acpi_hpet h;
    make_good();
    make_hpet(1, 0xfed00000);
    tap_check(acpi_hpet_parse(mem + HPET_AT, 56, &h, err, sizeof(err)) == -1 && has("address space 1"),
              "HPET: I/O address space refused");
    int rc = walk();
    tap_check(rc == -1 && !T.have_hpet && T.have_madt, "HPET bad: no HPET, the MADT still trusted");
    make_hpet(0, 0);
    tap_check(acpi_hpet_parse(mem + HPET_AT, 56, &h, err, sizeof(err)) == -1 && has("base address 0x0"),
              "HPET: zero base refused");
    make_hpet(0, 0xfed00000);
    tap_check(acpi_hpet_parse(mem + HPET_AT, 50, &h, err, sizeof(err)) == -1 && has("shorter"),
              "HPET: short table refused");
}

/* Random corruption of the MADT and the root tables (checksums re-sealed
 * half the time so the parsers see the damage): never a crash or a hang,
 * and the result only ever holds validated CPUs. */
static void test_fuzz(void)
{
    uint64_t rng = tap_seed(); /* TEST_SEED=N repeats this sequence */
    unsigned rounds = 20000, ok = 0, bad = 0;
    bool sane = true;
    for (unsigned i = 0; i < rounds; i++) {
        make_good();
        uint64_t r = xorshift64star(&rng);
        unsigned flips = 1 + (unsigned)(r % 4);
        for (unsigned f = 0; f < flips; f++) {
            r = xorshift64star(&rng);
            uint32_t region = (uint32_t)(r >> 40) % 4;
            uint32_t base = region == 0 ? MADT_AT : region == 1 ? XSDT_AT : region == 2 ? HPET_AT : RSDP_AT;
            uint32_t span = region == 0 ? 120 : region == 1 ? 60 : region == 2 ? 56 : 36;
            mem[base + (uint32_t)(r >> 8) % span] = (uint8_t)(r >> 32);
        }
        if (r & 1) {
            seal(mem + MADT_AT);
            seal(mem + XSDT_AT);
            seal(mem + HPET_AT);
            seal_rsdp(mem + RSDP_AT);
        }
        if (walk() == 0)
            ok++;
        else
            bad++;
        if (T.have_madt && T.madt.ncpus > ACPI_MAX_CPUS)
            sane = false;
        if (T.ntables > ACPI_MAX_TABLES)
            sane = false;
    }
    tap_diag("fuzz: %u rounds, %u walks clean, %u with errors", rounds, ok, bad);
    tap_check(sane && bad > 0, "fuzz: %u corrupted table sets parsed without a crash, hang or overflow", rounds);
}


/* The message buffers must say when they are full, not cut a message short
 * without a word (issue 16). */
static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

static void test_message_overflow(void)
{
    /* An XSDT listing one MADT 100 times. */
    make_good();
    uint8_t *x = mem + XSDT_AT;
    header(x, "XSDT", 36 + 100 * 8, 1);
    for (unsigned i = 0; i < 100; i++)
        put64(x + 36 + 8 * i, MADT_AT);
    seal(x);
    int rc = walk();
    diag_err();
    tap_check(rc == -1 && T.have_madt && T.ntables == ACPI_MAX_TABLES && T.tables_dropped == 68,
              "XSDT with 100 MADTs: the first parsed, 32 kept");
    tap_check(strlen(err) < sizeof(err) && has("68 tables beyond") && ends_with(err, "; ..."),
              "XSDT with 100 MADTs: the message ends in \"; ...\" (%zu bytes)", strlen(err));
    tap_check(T.nerrors == 1 + 31, "XSDT with 100 MADTs: every problem counted (%u)", T.nerrors);

    /* An RSDT with 40 entries nothing can read. */
    make_good();
    make_rsdp(0, RSDT_AT, 0);
    uint8_t *r = mem + RSDT_AT;
    header(r, "RSDT", 36 + 40 * 4, 1);
    for (unsigned i = 0; i < 40; i++)
        put32(r + 36 + 4 * i, 0xffff0000u + i);
    seal(r);
    rc = walk();
    tap_check(rc == -1 && ends_with(err, "; ...") && has("table 0 at 0xffff0000: header not readable") &&
                  T.nerrors == 1 + 32,
              "RSDT with 40 unreadable entries: first named, the rest \"...\", all counted (%u)", T.nerrors);

    /* 300 processor entries: duplicates (ids wrap at 256) and the cap. */
    struct acpi_madt m;
    madt_begin(0xfee00000);
    for (unsigned i = 0; i < 300; i++) /* 100 distinct ids, then 200 repeats of kept ones */
        madt_lapic((uint8_t)i, (uint8_t)(i < 100 ? i : (i - 100) % 64), 1);
    madt_end();
    rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_diag("warn: %s", m.warn);
    tap_check(rc == 0 && m.ncpus == ACPI_MAX_CPUS && strlen(m.warn) < sizeof(m.warn) &&
                  strstr(m.warn, "36 usable CPUs beyond the 64") && strstr(m.warn, "200 duplicate APIC ids"),
              "300 LAPIC entries: the cap and the duplicates are both counted in the warning");
}

/* Entries that are well formed but name the impossible (issue 16). */
static void test_madt_values(void)
{
    struct acpi_madt m;
    int rc;

    make_good();
    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    uint8_t *e = madt_entry(4, 6);
    e[2] = 0xff;
    e[5] = 7; /* LINT 7: a local APIC has LINT0 and LINT1 */
    madt_end();
    rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_check(rc == 0 && m.nnmis == 0 && strstr(m.warn, "LINT 7"), "LAPIC NMI with LINT 7 ignored: %s", m.warn);

    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    e = madt_entry(10, 12);
    put32(e + 4, 0);
    e[8] = 2;
    madt_end();
    rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_check(rc == 0 && m.nnmis == 0 && strstr(m.warn, "LINT 2"), "x2APIC NMI with LINT 2 ignored: %s", m.warn);

    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    madt_lapic(1, 0xff, 1); /* the xAPIC broadcast id */
    e = madt_entry(9, 16);
    put32(e + 4, 0xffffffffu); /* the x2APIC broadcast id */
    put32(e + 8, 1);
    put32(e + 12, 2);
    madt_end();
    rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_check(rc == 0 && m.ncpus == 1 && m.cpus_unusable == 2 && strstr(m.warn, "broadcast APIC id 0xff") &&
                  strstr(m.warn, "0xffffffff"),
              "broadcast APIC ids are not CPUs: %s", m.warn);

    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    e = madt_entry(5, 12);
    put64(e + 4, 1ull << 63);
    madt_end();
    rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_check(rc == -1 && has("local APIC address 0x8000000000000000"), "LAPIC override at 2^63 refused: %s", err);

    madt_begin(0xfee00000);
    madt_lapic(0, 0, 1);
    e = madt_entry(1, 12);
    e[2] = 3;
    put32(e + 4, 0); /* IOAPIC at 0 */
    madt_end();
    rc = acpi_madt_parse(mem + MADT_AT, madt_len, &m, err, sizeof(err));
    tap_check(rc == 0 && m.nioapics == 0 && strstr(m.warn, "IOAPIC id 3 at 0x0"), "IOAPIC at 0 ignored: %s", m.warn);

    struct acpi_hpet h;
    make_hpet(0, 1ull << 63);
    tap_check(acpi_hpet_parse(mem + HPET_AT, 56, &h, err, sizeof(err)) == -1 && has("base address 0x8000000000000000"),
              "HPET at 2^63 refused: %s", err);
    make_hpet(0, (1ull << 52) - 0x400);
    tap_check(acpi_hpet_parse(mem + HPET_AT, 56, &h, err, sizeof(err)) == 0,
              "HPET in the last KiB below 2^52 accepted");
}

int main(void)
{
    test_good();
    test_rsdp();
    test_root();
    test_table_lengths();
    test_madt_entries();
    test_hpet();
    test_message_overflow();
    test_madt_values();
    test_fuzz();
    return tap_done();
}
