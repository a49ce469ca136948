/*
 * fuzz_acpi.c - kernel/acpi.c on arbitrary firmware bytes.
 *
 * Input: a mode byte and an error-buffer size byte, then the payload.
 *   mode % 5 == 0  acpi_walk over "physical memory" = the payload at
 *                  MEM_BASE, the RSDP at its start. With mode bit 7 the
 *                  harness first fixes the checksums of the RSDP, the root
 *                  table and every table it lists, so the walk gets past
 *                  them and the fuzzer reaches the parsers behind.
 *   1, 2, 3, 4     acpi_madt_parse, acpi_hpet_parse, acpi_rsdp_parse,
 *                  acpi_table_check on the payload alone.
 * Every buffer handed to the code under test is a heap block of exactly the
 * length asked for (the walk's map callback copies each request), so any
 * read past a length is caught by ASan.
 *
 * Oracle: what the parsers promise in acpi.h and acpi.c's invariants - the
 * message fits its buffer and a full one ends in "..."; success means no
 * message; a trusted MADT has at most ACPI_MAX_CPUS distinct CPUs, none with
 * a broadcast id, NMIs only on LINT0/1, IOAPICs at nonzero aligned addresses,
 * a local APIC page-aligned below 2^52; a trusted HPET base likewise.
 */
#include <stdbool.h>

#include "kernel/acpi.h"
#include "tests/fuzz/fuzz.h"

#define MEM_BASE 0x10000ull
#define MEM_MAX  (1u << 16)
#define MAX_MAPS 4096

static const uint8_t *mem;
static size_t mem_len;
static uint8_t *maps[MAX_MAPS];
static unsigned nmaps;

static const uint8_t *map_exact(void *ctx, uint64_t phys, size_t len)
{
    (void)ctx;
    if (phys < MEM_BASE || phys - MEM_BASE > mem_len || len > mem_len - (phys - MEM_BASE) || nmaps == MAX_MAPS)
        return NULL;
    maps[nmaps] = fuzz_dup(mem + (phys - MEM_BASE), len);
    return maps[nmaps++];
}

static void seal_at(uint8_t *m, size_t n, uint64_t phys, size_t sum_len, size_t csum_off)
{
    if (phys < MEM_BASE || phys - MEM_BASE >= n || sum_len > n - (phys - MEM_BASE) || csum_off >= sum_len)
        return;
    uint8_t *p = m + (phys - MEM_BASE), s = 0;
    p[csum_off] = 0;
    for (size_t i = 0; i < sum_len; i++)
        s = (uint8_t)(s + p[i]);
    p[csum_off] = (uint8_t)(0x100 - s);
}

static size_t table_len(const uint8_t *m, size_t n, uint64_t phys)
{
    if (phys < MEM_BASE || phys - MEM_BASE + 8 > n)
        return 0;
    return (size_t)fuzz_le(m + (phys - MEM_BASE) + 4, 4);
}

/* Fixes the checksums the walk will verify, in the order it verifies them. */
static void seal_all(uint8_t *m, size_t n)
{
    if (n < 36)
        return;
    seal_at(m, n, MEM_BASE, 20, 8);
    size_t rlen = (size_t)fuzz_le(m + 20, 4);
    if (m[15] >= 2 && rlen >= 36 && rlen <= ACPI_RSDP_MAX_LEN)
        seal_at(m, n, MEM_BASE, rlen, 32);
    for (int xsdt = 0; xsdt < 2; xsdt++) {
        uint64_t root = xsdt ? fuzz_le(m + 24, 8) : fuzz_le(m + 16, 4);
        size_t len = table_len(m, n, root), esz = xsdt ? 8 : 4;
        if (len < ACPI_HDR_LEN)
            continue;
        for (size_t off = ACPI_HDR_LEN; off + esz <= len && root - MEM_BASE + off + esz <= n; off += esz) {
            uint64_t t = fuzz_le(m + (root - MEM_BASE) + off, (unsigned)esz);
            seal_at(m, n, t, table_len(m, n, t), 9);
        }
        seal_at(m, n, root, len, 9);
    }
}

static void check_message(const char *err, size_t n, int rc)
{
    if (n == 0)
        return;
    FUZZ_CHECK(rc == 0 || n < 64 || err[0] != '\0', "failure without a message");
    size_t len = strnlen(err, n);
    FUZZ_CHECK(len < n, "message not terminated in its %zu bytes", n);
    /* Full means: the next message could not have fit. err_add reserves "; ...". */
    if (len + 6 > n && len >= 3)
        FUZZ_CHECK(strcmp(err + len - 3, "...") == 0 || n < 6, "a nearly full message (%zu of %zu) ends \"%s\"",
                   len, n, err);
}

static void check_madt(const struct acpi_madt *m)
{
    FUZZ_CHECK(m->ncpus <= ACPI_MAX_CPUS && m->nioapics <= ACPI_MAX_IOAPICS && m->nisos <= ACPI_MAX_ISOS &&
                   m->nnmis <= ACPI_MAX_LAPIC_NMIS,
               "counts over the caps");
    for (unsigned i = 0; i < m->ncpus; i++) {
        const struct acpi_cpu *c = &m->cpu[i];
        FUZZ_CHECK(c->apic_id != (c->x2apic ? 0xffffffffu : 0xffu), "CPU %u has the broadcast id", i);
        FUZZ_CHECK(c->enabled != c->online_capable, "CPU %u is both or neither enabled and online-capable", i);
        for (unsigned j = 0; j < i; j++)
            FUZZ_CHECK(m->cpu[j].apic_id != c->apic_id, "APIC id %u twice", c->apic_id);
    }
    for (unsigned i = 0; i < m->nnmis; i++)
        FUZZ_CHECK(m->nmi[i].lint <= 1, "NMI on LINT %u", m->nmi[i].lint);
    for (unsigned i = 0; i < m->nioapics; i++)
        FUZZ_CHECK(m->ioapic[i].phys != 0 && m->ioapic[i].phys % 16 == 0, "IOAPIC at 0x%x", m->ioapic[i].phys);
    FUZZ_CHECK(m->lapic_phys != 0 && m->lapic_phys % 4096 == 0 && m->lapic_phys < (1ull << 52),
               "local APIC at 0x%llx", (unsigned long long)m->lapic_phys);
    check_message(m->warn, sizeof(m->warn), 0);
}

static void check_hpet(const struct acpi_hpet *h)
{
    FUZZ_CHECK(h->phys != 0 && h->phys % 1024 == 0 && h->phys < (1ull << 52) - 1024 + 1,
               "HPET at 0x%llx", (unsigned long long)h->phys);
}

static struct acpi_tables tables;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t mode = (uint8_t)fuzz_take(&data, &size, 1);
    uint8_t nsel = (uint8_t)fuzz_take(&data, &size, 1);
    size_t n = nsel < 0x80 ? ACPI_ERR_MAX : nsel - 0x80; /* mostly the real size, sometimes tiny */
    if (size > MEM_MAX)
        size = MEM_MAX;
    char *err = malloc(n ? n : 1);
    memset(err, 'x', n ? n : 1);
    uint8_t *payload = fuzz_dup(data, size);
    int rc;

    switch (mode % 5) {
    case 0:
        if (mode & 0x80)
            seal_all(payload, size);
        mem = payload;
        mem_len = size;
        nmaps = 0;
        rc = acpi_walk(size ? MEM_BASE : 0, map_exact, NULL, &tables, err, n);
        check_message(err, n, rc);
        FUZZ_CHECK((rc == 0) == (tables.nerrors == 0), "rc %d with %u errors", rc, tables.nerrors);
        FUZZ_CHECK(rc != 0 || n == 0 || err[0] == '\0', "success with a message: %s", err);
        FUZZ_CHECK(tables.ntables <= ACPI_MAX_TABLES, "%u tables", tables.ntables);
        if (tables.have_madt)
            check_madt(&tables.madt);
        if (tables.have_hpet)
            check_hpet(&tables.hpet);
        for (unsigned i = 0; i < nmaps; i++)
            free(maps[i]);
        break;
    case 1: {
        static struct acpi_madt madt;
        rc = acpi_madt_parse(payload, size, &madt, err, n);
        check_message(err, n, rc);
        if (rc == 0)
            check_madt(&madt);
        break;
    }
    case 2: {
        struct acpi_hpet h;
        rc = acpi_hpet_parse(payload, size, &h, err, n);
        check_message(err, n, rc);
        if (rc == 0)
            check_hpet(&h);
        break;
    }
    case 3: {
        struct acpi_rsdp r;
        rc = acpi_rsdp_parse(payload, size, &r, err, n);
        check_message(err, n, rc);
        if (rc == 0)
            FUZZ_CHECK(r.length >= 20 && r.length <= size && strnlen(r.oem_id, 7) == 6, "RSDP length %u", r.length);
        break;
    }
    default: {
        uint32_t len = 0;
        rc = acpi_table_check(payload, size, size >= 4 && payload[0] == 'A' ? "APIC" : NULL, &len, err, n);
        check_message(err, n, rc);
        if (rc == 0)
            FUZZ_CHECK(len >= ACPI_HDR_LEN && len <= size && len <= ACPI_TABLE_MAX_LEN, "length %u", len);
        break;
    }
    }
    free(payload);
    free(err);
    return 0;
}
