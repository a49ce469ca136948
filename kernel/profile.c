/*
 * profile.c - profile=heap: at the end of a run, the runtime's heap profile
 * (rt_write_heap_profile: an uncompressed profile.proto, what `go tool
 * pprof` reads) on the serial console, base64 between two marker lines:
 *
 *   -----BEGIN HEAP PROFILE bench.binarytrees-----
 *   CgASDQoLCgtiZW5jaC5iaW5h...            (76 columns a line)
 *   -----END HEAP PROFILE bench.binarytrees: 4321 bytes-----
 *
 * scripts/qemu cuts the block out of the serial output and decodes it to
 * build/profiles/heap-NAME.pb (NAME: the run=NAME program, "test" or
 * "tour"); then `go tool pprof -top build/kernel/kernel.elf FILE`. The
 * function names are in the profile (the kernel's ksyms), so pprof needs
 * no symbolizer. Serial output is 7-bit text: hence base64, and the byte
 * count on the end line lets the launcher check it got every byte.
 */
#include "kernel/profile.h"

#include "kernel/ksyms.h"
#include "kernel/lib/kprintf.h"
#include "kernel/lib/string.h"
#include "rt/rt.h"

static bool want_heap;
static const char *run_name = "tour";

void profile_setup(const struct cmdline *cl)
{
    want_heap = cl->profile_heap;
    run_name = cl->run[0] != '\0' ? cl->run : cl->test ? "test" : "tour";
    if (cl->memprofilerate_set)
        rt_set_mem_profile_rate(cl->memprofilerate);
}

#define B64_LINE 76

struct b64 {
    uint8_t in[3];
    unsigned nin;
    char line[B64_LINE + 1];
    unsigned nline;
};

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_flush(struct b64 *b)
{
    if (b->nline == 0)
        return;
    b->line[b->nline] = '\0';
    kprintf("%s\n", b->line);
    b->nline = 0;
}

/* The group in b->in (1 to 3 bytes) as 4 characters, '=' for the missing ones. */
static void b64_group(struct b64 *b)
{
    uint32_t v = (uint32_t)b->in[0] << 16 | (uint32_t)(b->nin > 1 ? b->in[1] : 0) << 8 |
                 (uint32_t)(b->nin > 2 ? b->in[2] : 0);
    for (unsigned i = 0; i < 4; i++)
        b->line[b->nline++] = i <= b->nin ? b64_alphabet[(v >> (18 - 6 * i)) & 63] : '=';
    b->nin = 0;
    if (b->nline == B64_LINE)
        b64_flush(b);
}

static void b64_sink(void *ctx, const void *buf, size_t n)
{
    struct b64 *b = ctx;
    const uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        b->in[b->nin++] = p[i];
        if (b->nin == 3)
            b64_group(b);
    }
}

void profile_print_block(const char *name)
{
    struct b64 b = {.nin = 0, .nline = 0};
    kprintf("-----BEGIN HEAP PROFILE %s-----\n", name);
    uint64_t n = rt_write_heap_profile(b64_sink, &b);
    if (b.nin != 0)
        b64_group(&b);
    b64_flush(&b);
    kprintf("-----END HEAP PROFILE %s: %llu bytes-----\n", name, (unsigned long long)n);
}

void profile_at_exit(void)
{
    if (!want_heap)
        return;
    kprintf("profile: the heap profile, sampled every %llu bytes on average (scripts/qemu saves it as "
            "build/profiles/heap-%s.pb):\n", (unsigned long long)rt_mem_profile_rate(), run_name);
    profile_print_block(run_name);
}

/* ---- the top functions ---- */

#define TOP_RECORDS 512
#define TOP_FUNCS 64

struct top_func {
    const char *name;
    uint64_t alloc_objects, alloc_bytes, inuse_objects, inuse_bytes;
};
static struct top_func top_funcs[TOP_FUNCS];

void profile_print_top(unsigned max)
{
    uint64_t rate = rt_mem_profile_rate();
    /* 150 KiB of records: from the heap for this call, not in the image (pointer-free: never scanned) */
    struct rt_mprof_record *top_records = rt_alloc(TOP_RECORDS * sizeof(*top_records), NULL);
    int n = rt_read_mem_profile(top_records, TOP_RECORDS);
    unsigned nf = 0, other = 0;
    uint64_t total = 0;
    for (int i = 0; i < n && i < TOP_RECORDS; i++) {
        const struct rt_mprof_record *r = &top_records[i];
        const char *name = "?";
        uint64_t off;
        if (r->nstk == 0 || !ksym_lookup(r->stk[0] - 1, &name, &off))
            name = "?";
        unsigned f = 0;
        while (f < nf && strcmp(top_funcs[f].name, name) != 0)
            f++;
        if (f == nf) {
            if (nf == TOP_FUNCS) {
                other++;
                continue;
            }
            top_funcs[nf++] = (struct top_func){.name = name};
        }
        uint64_t c, b;
        rt_mprof_scale(r->allocs, r->alloc_bytes, rate, &c, &b);
        top_funcs[f].alloc_objects += c;
        top_funcs[f].alloc_bytes += b;
        total += b;
        rt_mprof_scale(r->allocs - r->frees, r->alloc_bytes - r->free_bytes, rate, &c, &b);
        top_funcs[f].inuse_objects += c;
        top_funcs[f].inuse_bytes += b;
    }
    kprintf("profile: %d call stacks sampled at one per %llu bytes on average, as of the last collection; "
            "about %llu KiB allocated in all\n", n, (unsigned long long)rate, (unsigned long long)(total >> 10));
    kprintf("  %12s %12s %12s %12s  %s\n", "alloc KiB", "alloc objs", "inuse KiB", "inuse objs",
            "function (innermost frame)");
    for (unsigned shown = 0; shown < max && shown < nf; shown++) {
        unsigned best = shown;   /* selection sort by bytes allocated: a few dozen at most */
        for (unsigned j = shown + 1; j < nf; j++)
            if (top_funcs[j].alloc_bytes > top_funcs[best].alloc_bytes)
                best = j;
        struct top_func t = top_funcs[best];
        top_funcs[best] = top_funcs[shown];
        top_funcs[shown] = t;
        kprintf("  %12llu %12llu %12llu %12llu  %s\n", (unsigned long long)(t.alloc_bytes >> 10),
                (unsigned long long)t.alloc_objects, (unsigned long long)(t.inuse_bytes >> 10),
                (unsigned long long)t.inuse_objects, t.name);
    }
    if (n > TOP_RECORDS || other != 0)
        kprintf("  (%d call stacks not counted: more than this table holds)\n",
                (n > TOP_RECORDS ? n - TOP_RECORDS : 0) + (int)other);
    if (n == 0)
        kprintf("  (nothing sampled yet: allocate, then run gc so the profile shows it)\n");
}
