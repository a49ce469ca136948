/*
 * acpi.h - the ACPI tables the kernel reads: RSDP -> XSDT (or RSDT) -> MADT
 * (CPUs, local APIC, IOAPICs, overrides) and HPET. Design essay in acpi.c.
 *
 * Two layers:
 *   - pure parsers over byte buffers (acpi_rsdp_parse, acpi_table_check,
 *     acpi_madt_parse, acpi_hpet_parse) and the whole walk through a mapping
 *     callback (acpi_walk); no kernel state, host-tested under ASan/UBSan
 *     (tests/host/test_acpi.c);
 *   - the kernel's view (acpi_init and the accessors), built once at boot
 *     from boot_info's RSDP and copied into .bss, so nothing later depends on
 *     the firmware's memory staying intact.
 *
 * A bad table is an error naming the table and the problem; the result keeps
 * only what validated. acpi_cpu_count() == 0 means "no trustworthy MADT: run
 * on the boot CPU alone".
 */
#ifndef KERNEL_ACPI_H
#define KERNEL_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS       64          /* == MAX_CPUS (kernel/lib/percpu.h); checked in acpi.c */
#define ACPI_MAX_IOAPICS    8
#define ACPI_MAX_ISOS       24          /* interrupt source overrides */
#define ACPI_MAX_LAPIC_NMIS 8
#define ACPI_MAX_TABLES     32          /* entries of the root table kept */
#define ACPI_TABLE_MAX_LEN  (1u << 20)  /* any table longer than 1 MiB is refused as corrupt */
#define ACPI_RSDP_MAX_LEN   1024u       /* a revision >= 2 RSDP claiming more is corrupt */
#define ACPI_HDR_LEN        36u         /* the common system description table header */
#define ACPI_ERR_MAX        512         /* room for acpi_walk's first errors; "; ..." ends a full one */
#define ACPI_UID_ALL        0xffffffffu /* a local APIC NMI entry that applies to every CPU */
#define ACPI_LAPIC_DEFAULT  0xfee00000ull

/* One processor from the MADT (Processor Local APIC or Local x2APIC entry). */
struct acpi_cpu {
    uint32_t apic_id;
    uint32_t uid;        /* ACPI processor UID */
    bool enabled;        /* usable now (flags bit 0) */
    bool online_capable; /* may be enabled later (flags bit 1); never started by us */
    bool x2apic;         /* came from an x2APIC entry (id may be > 254: not reachable in xAPIC mode) */
};

struct acpi_ioapic {
    uint32_t id;
    uint32_t phys;     /* register window */
    uint32_t gsi_base; /* first global system interrupt it serves */
};

struct acpi_iso { /* interrupt source override: ISA irq `source` is GSI `gsi` */
    uint8_t bus, source;
    uint16_t flags; /* polarity bits 0-1, trigger mode bits 2-3 */
    uint32_t gsi;
};

struct acpi_lapic_nmi { /* LINTn of processor uid (or ACPI_UID_ALL) is wired to NMI */
    uint32_t uid;
    uint16_t flags;
    uint8_t lint; /* 0 or 1 (other values are refused at parse) */
};

/* What the MADT says. Arrays hold n* valid entries; *_dropped count those
 * beyond the caps (a warning says so). */
struct acpi_madt {
    uint64_t lapic_phys;    /* the 32-bit field, or the 64-bit override if present */
    bool lapic_overridden;
    bool pcat_compat;       /* flags bit 0: dual 8259 PICs present (must be masked) */
    unsigned ncpus;
    struct acpi_cpu cpu[ACPI_MAX_CPUS];
    unsigned cpus_dropped;  /* usable processors beyond ACPI_MAX_CPUS */
    unsigned cpus_unusable; /* neither enabled nor online-capable, or a broadcast id: skipped */
    unsigned cpus_duplicate; /* entries repeating a kept APIC id: skipped */
    unsigned nioapics;
    struct acpi_ioapic ioapic[ACPI_MAX_IOAPICS];
    unsigned nisos;
    struct acpi_iso iso[ACPI_MAX_ISOS];
    unsigned nnmis;
    struct acpi_lapic_nmi nmi[ACPI_MAX_LAPIC_NMIS];
    unsigned other_dropped;   /* IOAPICs, overrides, NMI entries beyond their caps */
    unsigned unknown_entries; /* entry types this kernel does not know: skipped */
    char warn[256];           /* "" or warnings, "; "-separated: counts first, then the first
                                 per-entry notes; "; ..." ends a full one */
};

struct acpi_hpet {
    uint64_t phys;       /* register block (system memory) */
    uint32_t block_id;   /* event timer block id (the capabilities register's low half) */
    uint8_t number;      /* HPET sequence number */
    uint16_t min_tick;   /* minimum periodic tick, in main-counter ticks */
};

struct acpi_rsdp {
    uint8_t revision;  /* 0 = ACPI 1.0 (RSDT only), >= 2 = XSDT present */
    char oem_id[7];
    uint32_t rsdt_phys;
    uint64_t xsdt_phys; /* 0 if revision < 2 */
    uint32_t length;    /* 20 for revision 0, the length field otherwise */
};

/* One table the root table points at, validated or not. */
struct acpi_table_ref {
    char sig[5];     /* NUL-terminated; bytes outside printable ASCII shown as '?' */
    uint64_t phys;
    uint32_t length;
    uint8_t revision;
    bool valid;      /* header, length and checksum good */
};

/* Everything acpi_walk found. */
struct acpi_tables {
    bool have_rsdp;
    struct acpi_rsdp rsdp;
    uint64_t root_phys;      /* the root table used */
    bool root_is_xsdt;
    unsigned ntables;
    struct acpi_table_ref table[ACPI_MAX_TABLES];
    unsigned tables_dropped; /* root entries beyond ACPI_MAX_TABLES */
    bool have_madt;          /* a valid MADT was parsed without error */
    struct acpi_madt madt;
    bool have_hpet;
    struct acpi_hpet hpet;
    unsigned nerrors;
};

/* ---- Pure parsers (kernel and host). Each returns 0 or -1 with err set. ---- */

/* Validates an RSDP in p[0..avail): signature, checksum of the first 20
 * bytes and, for revision >= 2, the length (36..ACPI_RSDP_MAX_LEN, within
 * avail) and the extended checksum. */
int acpi_rsdp_parse(const uint8_t *p, size_t avail, struct acpi_rsdp *out, char *err, size_t n);

/* Validates a table header in p[0..avail): signature (if sig != NULL),
 * ACPI_HDR_LEN <= length <= ACPI_TABLE_MAX_LEN, length <= avail, checksum of
 * `length` bytes. On success *len = length. */
int acpi_table_check(const uint8_t *p, size_t avail, const char *sig, uint32_t *len, char *err, size_t n);

/* Parses a MADT ("APIC") of len bytes whose header is already checked. On
 * error the contents of *out are not to be trusted. */
int acpi_madt_parse(const uint8_t *t, size_t len, struct acpi_madt *out, char *err, size_t n);

/* Parses an HPET table of len bytes whose header is already checked. */
int acpi_hpet_parse(const uint8_t *t, size_t len, struct acpi_hpet *out, char *err, size_t n);

/* Returns a pointer to physical [phys, phys+len), or NULL if that range
 * cannot be read. */
typedef const uint8_t *(*acpi_map_fn)(void *ctx, uint64_t phys, size_t len);

/* The whole walk: RSDP at rsdp_phys -> XSDT (RSDT if there is no XSDT or it
 * is bad) -> every table's header and checksum -> MADT and HPET parsed.
 * *out gets what validated; returns 0 if everything did, else -1 with the
 * problems in err ("; "-separated, ending "; ..." if more than fit; nerrors
 * counts them all). Never loops on bad input. */
int acpi_walk(uint64_t rsdp_phys, acpi_map_fn map, void *ctx, struct acpi_tables *out, char *err, size_t n);

#ifndef HOSTED
/* ---- The kernel's tables (kernel/acpi.c). ---- */
struct boot_info;

/* Walks the firmware's tables once (later calls return the first result).
 * Needs only the direct map; call before the frame allocator can reuse
 * firmware memory. Returns 0, or -1 with err (the kernel keeps running on
 * what validated). */
int acpi_init(const struct boot_info *bi, char *err, size_t n);

/* The same from an RSDP address found some other way (tests); direct-map
 * bytes bound every read. */
int acpi_init_at(uint64_t rsdp_phys, uint64_t direct_map_size, char *err, size_t n);

bool acpi_ready(void);                    /* acpi_init has run */
const struct acpi_tables *acpi_tables(void);
unsigned acpi_cpu_count(void);            /* 0 = no trustworthy MADT */
const struct acpi_cpu *acpi_cpu(unsigned i);
const struct acpi_cpu *acpi_cpu_by_apic_id(uint32_t apic_id); /* NULL if not listed */
uint64_t acpi_lapic_phys(void);           /* 0 if no MADT */
uint64_t acpi_hpet_phys(void);            /* 0 if no (valid) HPET table */
void acpi_report(void);                   /* the tables found and the CPUs */
#endif

#endif
