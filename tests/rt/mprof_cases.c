/*
 * mprof_cases.c - the heap profile (rt/mprof.c), written once
 * (tests/case.h) and run by both harnesses: the host's test_rt_mprof and the
 * in-kernel suite.
 *
 * The sampling's arithmetic (an exponential interval with the rate as mean,
 * the scale that undoes it) against figures computed in double precision;
 * with every allocation sampled (rate 1), the exact counts of a call site's
 * allocations and of the frees the sweeper found, small and large; the
 * profile.proto the writer streams, decoded here field by field (every
 * location a sample names exists, the values are the site's); and at the
 * default rate, that the scaled estimate of 64 MiB allocated is near it.
 * The kernel side also checks the names the writer gives the frames.
 */
#define CASE_GROUP "rt.mprof"
#include "tests/case.h"

#include "rt/mbarrier.h"
#include "rt/rt.h"
#include "rt/sched.h"
#include "rt/sys.h"
#include "tests/rt/rt_cases.h"
#include "tests/xorshift.h"

#ifndef HOSTED
#include "kernel/ksyms.h"
#endif

/* ---- the arithmetic ---- */

CASE(interval_is_exponential_with_the_rate_as_mean)
{
    uint64_t state = case_seed() | 1, rate = RT_MEMPROFILE_RATE, sum = 0, above = 0, tiny = 0, least = UINT64_MAX;
    const unsigned n = 20000;
    for (unsigned i = 0; i < n; i++) {
        uint64_t v = rt_mprof_interval(&state, rate);
        sum += v;
        above += v > rate;
        tiny += v < rate / 100;
        if (v < least)
            least = v;
    }
    uint64_t mean = sum / n;
    CASE_DIAG("mean %lu (rate %lu); %lu of %u above the mean (e^-1: 7358); %lu below 1%% (7.4%% of e^-1: 199)",
              (unsigned long)mean, (unsigned long)rate, (unsigned long)above, n, (unsigned long)tiny);
    EXPECT_GE(least, 1);
    EXPECT_GE(mean, rate - rate * 3 / 100); /* the mean's standard error is 0.7% */
    EXPECT_LE(mean, rate + rate * 3 / 100);
    EXPECT_GE(above, 7000); /* P(v > mean) = e^-1 = 0.368: 7358 +- 68 */
    EXPECT_LE(above, 7720);
    EXPECT_GE(tiny, 140); /* P(v < mean / 100) = 0.00995: 199 +- 14 */
    EXPECT_LE(tiny, 260);
}

/* Go's scaleHeapSample, 1 / (1 - e^(-avg/rate)), computed with doubles for these. */
static bool scale_near(uint64_t count, uint64_t avg, uint64_t rate, uint64_t want_count)
{
    uint64_t c, b;
    rt_mprof_scale(count, count * avg, rate, &c, &b);
    uint64_t tol = want_count / 1000000 + 2;
    bool ok = c + tol >= want_count && c <= want_count + tol;
    if (!ok)
        CASE_DIAG("scale(%lu x %lu B, rate %lu) = %lu objects, want %lu", (unsigned long)count,
                  (unsigned long)avg, (unsigned long)rate, (unsigned long)c, (unsigned long)want_count);
    return ok;
}

CASE(scale_undoes_the_sampling)
{
    uint64_t c, b;
    rt_mprof_scale(7, 700, 1, &c, &b);
    EXPECT_TRUE(c == 7 && b == 700); /* rate 1: every allocation was sampled */
    rt_mprof_scale(0, 0, RT_MEMPROFILE_RATE, &c, &b);
    EXPECT_TRUE(c == 0 && b == 0);
    const uint64_t r = 524288;
    EXPECT_TRUE(scale_near(1000, 16, r, 32768500));       /* 32768.50000250 */
    EXPECT_TRUE(scale_near(1000, 208, r, 2521115));       /* 2521.11541768 */
    EXPECT_TRUE(scale_near(1000, 4096, r, 128500));       /* 128.50065104 */
    EXPECT_TRUE(scale_near(1000, 106496, r, 5439));       /* 5.43999238 */
    EXPECT_TRUE(scale_near(1000000, r, r, 1581976));      /* 1.58197671: x = 1 */
    EXPECT_TRUE(scale_near(1000000, 819200, r, 1265200)); /* 1.26520041 */
    EXPECT_TRUE(scale_near(1000000, 3 * r, r, 1052395));  /* 1.05239570 */
    EXPECT_TRUE(scale_near(1000, 41 * r, r, 1000));       /* e^-41: none lost */
}

/* ---- counts with every allocation sampled ---- */

#define SITE_N 1000
#define SITE_KEEP 300
#define SITE_SIZE 200 /* class 208 */
#define LARGE_N 10
#define LARGE_KEEP 3
#define LARGE_SIZE 100000 /* 13 pages */

static void *kept[SITE_KEEP + LARGE_KEEP];
#define HIDE 0x5a5a5a5a5a5a5a5aull
static uintptr_t dropped[SITE_N + LARGE_N] RT_NOSCAN; /* the others' addresses, hidden */
static unsigned ndropped_small, ndropped;

__attribute__((noinline)) static void mprof_site_small(void)
{
    for (unsigned i = 0; i < SITE_N; i++) {
        uint64_t *p = rt_alloc(SITE_SIZE, NULL);
        p[0] = i;
        if (i % 3 == 0 && i / 3 < SITE_KEEP)
            RT_STORE_PTR(kept[i / 3], (void *)p);
        else
            dropped[ndropped++] = (uintptr_t)p ^ HIDE;
    }
}

__attribute__((noinline)) static void mprof_site_large(void)
{
    for (unsigned i = 0; i < LARGE_N; i++) {
        uint64_t *p = rt_alloc(LARGE_SIZE, NULL);
        p[0] = i;
        if (i < LARGE_KEEP)
            RT_STORE_PTR(kept[SITE_KEEP + i], (void *)p);
        else
            dropped[ndropped++] = (uintptr_t)p ^ HIDE;
    }
}

/* Does r's stack start fn <- caller (each return address within the function's
 * first 1 KiB)? Both frames: the caller's own allocations (its rt_gc's, say)
 * have a return address into it, which may lie within 1 KiB of fn too, as it
 * follows fn in the text, but their second frame is the coroutine's start. */
static bool stack_is(const struct rt_mprof_record *r, void (*fn)(void), void (*caller)(void *))
{
    return r->nstk >= 2 && r->stk[0] - (uintptr_t)fn < 1024 && r->stk[1] - (uintptr_t)caller < 1024;
}

/* The record of fn called by caller. rt_read_mem_profile gives the newest
 * buckets first: a case's own come first. */
#define NRECORDS 64
static struct rt_mprof_record records[NRECORDS] RT_NOSCAN; /* text addresses: not a root */
static const struct rt_mprof_record *record_of(void (*fn)(void), void (*caller)(void *), int n)
{
    for (int i = 0; i < n && i < NRECORDS; i++)
        if (stack_is(&records[i], fn, caller))
            return &records[i];
    return NULL;
}
static void counts_main(void *unused);
static void rate_main(void *unused);

static int nrecords;
static uint64_t old_rate;
static unsigned freed_small, freed_large; /* of the dropped ones, really freed */

__attribute__((noinline)) static void count_freed(void)
{
    freed_small = freed_large = 0;
    for (unsigned i = 0; i < ndropped; i++) {
        bool gone = rt_object_base((void *)(dropped[i] ^ HIDE)) == NULL;
        if (i < ndropped_small)
            freed_small += gone;
        else
            freed_large += gone;
    }
}

static void counts_main(void *unused)
{
    (void)unused;
    rt_gc();
    ndropped = 0;
    old_rate = rt_set_mem_profile_rate(1);
    mprof_site_small();
    ndropped_small = ndropped;
    mprof_site_large();
    rt_set_mem_profile_rate(old_rate);
    rt_gc(); /* marks, sweeps, publishes: the profile as of this collection */
    nrecords = rt_read_mem_profile(records, NRECORDS);
    count_freed();
}

CASE_KEEPS_FRAMES(sampled_objects_count_their_allocations_and_frees)
{
    EXPECT_EQ(rt_run_joined(counts_main, NULL, 1), 0);
    EXPECT_EQ(old_rate, RT_MEMPROFILE_RATE);
    const struct rt_mprof_record *s = record_of(mprof_site_small, counts_main, nrecords);
    const struct rt_mprof_record *l = record_of(mprof_site_large, counts_main, nrecords);
    EXPECT_TRUE(s != NULL && l != NULL);
    if (s == NULL || l == NULL)
        return;
    CASE_DIAG("%d records; small site: %lu allocs %lu frees (%u freed) of %lu B; large: %lu allocs %lu frees "
              "(%u freed) of %lu B",
              nrecords, (unsigned long)s->allocs, (unsigned long)s->frees, freed_small, (unsigned long)s->size,
              (unsigned long)l->allocs, (unsigned long)l->frees, freed_large, (unsigned long)l->size);
    EXPECT_EQ(s->size, 208);
    EXPECT_EQ(s->allocs, SITE_N);
    EXPECT_EQ(s->alloc_bytes, SITE_N * 208);
    EXPECT_EQ(s->frees, freed_small); /* each free the sweeper made, counted */
    /* A kept object's address is also one past the end of the slot before
     * it, which the conservative scan of the globals keeps too (rt.h): so of
     * the 700 dropped, about 300 - (spans) stay; a stale frame word, a few more. */
    EXPECT_GE(s->frees, SITE_N - 2 * SITE_KEEP - 10);
    EXPECT_EQ(s->free_bytes, s->frees * 208);
    EXPECT_EQ(l->size, 13 * 8192);
    EXPECT_EQ(l->allocs, LARGE_N);
    EXPECT_EQ(l->frees, freed_large);
    EXPECT_GE(l->frees, LARGE_N - LARGE_KEEP - 1);
    EXPECT_GE(s->nstk, 2); /* the site and its caller, at least */
#ifndef HOSTED
    const char *name;
    uint64_t off;
    EXPECT_TRUE(ksym_lookup(s->stk[0], &name, &off) && __builtin_strcmp(name, "mprof_site_small") == 0);
    EXPECT_TRUE(ksym_lookup(s->stk[1], &name, &off) && __builtin_strcmp(name, "counts_main") == 0);
#endif
    for (unsigned i = 0; i < SITE_KEEP + LARGE_KEEP; i++) {
        EXPECT_EQ(*(uint64_t *)kept[i], i < SITE_KEEP ? i * 3 : i - SITE_KEEP); /* kept ones intact */
        kept[i] = NULL;
    }
}

/* ---- the profile.proto ---- */

#define PROTO_MAX (64u << 10) /* the whole suite's profile is ~3 KB when this case runs */
static uint8_t proto[PROTO_MAX] RT_NOSCAN;
static size_t proto_len;
static bool proto_overflow;

static void proto_sink(void *ctx, const void *buf, size_t n)
{
    (void)ctx;
    if (proto_len + n > PROTO_MAX) {
        proto_overflow = true;
        return;
    }
    __builtin_memcpy(proto + proto_len, buf, n);
    proto_len += n;
}

#define PROTO_SITE_N 500
#define PROTO_SITE_KEEP 100
static void *proto_kept[PROTO_SITE_KEEP];

__attribute__((noinline)) static void mprof_site_proto(void)
{
    for (unsigned i = 0; i < PROTO_SITE_N; i++) {
        uint64_t *p = rt_alloc(1000, NULL); /* class 1024 */
        p[0] = i;
        if (i < PROTO_SITE_KEEP)
            RT_STORE_PTR(proto_kept[i], (void *)p);
    }
}

static uint64_t written;
static void proto_main(void *unused)
{
    (void)unused;
    rt_gc();
    old_rate = rt_set_mem_profile_rate(1);
    mprof_site_proto();
    rt_gc();
    proto_len = 0;
    written = rt_write_heap_profile(proto_sink, NULL);
    rt_set_mem_profile_rate(old_rate);
}

/* A reader of protobuf's wire format, enough for profile.proto. */
struct pb {
    const uint8_t *p, *end;
    bool bad;
};

static uint64_t pb_varint(struct pb *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->bad = true;
            return 0;
        }
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

/* The next field: its number and wire type; a length-delimited one's bytes in *sub, a varint's value in *v. */
static bool pb_next(struct pb *r, unsigned *field, uint64_t *v, struct pb *sub)
{
    if (r->p >= r->end || r->bad)
        return false;
    uint64_t key = pb_varint(r);
    *field = (unsigned)(key >> 3);
    switch (key & 7) {
    case 0:
        *v = pb_varint(r);
        break;
    case 2: {
        uint64_t n = pb_varint(r);
        if (n > (uint64_t)(r->end - r->p)) {
            r->bad = true;
            return false;
        }
        sub->p = r->p;
        sub->end = r->p + n;
        sub->bad = false;
        r->p += n;
        break;
    }
    default:
        r->bad = true; /* the writer uses only varints and bytes */
        return false;
    }
    return !r->bad;
}

#define PMAX 1024
static struct {
    unsigned nstrings, ntypes, nsamples, nlocs, nfuncs, nmappings;
    const uint8_t *str[PMAX];
    size_t strlen[PMAX];
    uint64_t type_str[8];
    uint64_t loc_id[PMAX], loc_addr[PMAX], loc_func[PMAX];
    uint64_t func_id[PMAX], func_name[PMAX];
    uint64_t period, period_type_str;
    uint64_t site_values[4];
    bool site_found, dangling;
    unsigned site_loc; /* index of its innermost location */
    bool has_functions;
    bool bad;
} pf RT_NOSCAN;

static bool str_is(uint64_t idx, const char *s)
{
    if (idx >= pf.nstrings)
        return false;
    size_t n = __builtin_strlen(s);
    return pf.strlen[idx] == n && __builtin_memcmp(pf.str[idx], s, n) == 0;
}

static void decode_profile(void)
{
    __builtin_memset(&pf, 0, sizeof(pf));
    struct pb r = {proto, proto + proto_len, false}, sub, sub2;
    unsigned f, f2;
    uint64_t v;
    /* pass 1: everything but the samples (they name locations decoded later) */
    while (pb_next(&r, &f, &v, &sub)) {
        if (f == 6 && pf.nstrings < PMAX) {
            pf.str[pf.nstrings] = sub.p;
            pf.strlen[pf.nstrings++] = (size_t)(sub.end - sub.p);
        } else if (f == 1 && pf.ntypes < 8) {
            while (pb_next(&sub, &f2, &v, &sub2))
                if (f2 == 1)
                    pf.type_str[pf.ntypes] = v;
            pf.ntypes++;
        } else if (f == 4 && pf.nlocs < PMAX) {
            unsigned i = pf.nlocs++;
            while (pb_next(&sub, &f2, &v, &sub2)) {
                if (f2 == 1)
                    pf.loc_id[i] = v;
                else if (f2 == 3)
                    pf.loc_addr[i] = v;
                else if (f2 == 4) {
                    unsigned f3;
                    struct pb sub3;
                    while (pb_next(&sub2, &f3, &v, &sub3))
                        if (f3 == 1)
                            pf.loc_func[i] = v;
                }
            }
        } else if (f == 5 && pf.nfuncs < PMAX) {
            unsigned i = pf.nfuncs++;
            while (pb_next(&sub, &f2, &v, &sub2)) {
                if (f2 == 1)
                    pf.func_id[i] = v;
                else if (f2 == 2)
                    pf.func_name[i] = v;
            }
        } else if (f == 3) {
            pf.nmappings++;
            while (pb_next(&sub, &f2, &v, &sub2))
                if (f2 == 7)
                    pf.has_functions = v != 0;
        } else if (f == 12) {
            pf.period = v;
        } else if (f == 11) {
            while (pb_next(&sub, &f2, &v, &sub2))
                if (f2 == 1)
                    pf.period_type_str = v;
        }
    }
    pf.bad = r.bad;
    /* pass 2: the samples */
    r = (struct pb){proto, proto + proto_len, false};
    while (pb_next(&r, &f, &v, &sub)) {
        if (f != 2)
            continue;
        pf.nsamples++;
        uint64_t first_loc = 0, second_loc = 0, values[4] = {0};
        unsigned nvalues = 0, nlocs = 0;
        while (pb_next(&sub, &f2, &v, &sub2)) {
            while ((f2 == 1 || f2 == 2) && sub2.p < sub2.end) {
                uint64_t x = pb_varint(&sub2);
                if (f2 == 1) {
                    if (nlocs == 0)
                        first_loc = x;
                    else if (nlocs == 1)
                        second_loc = x;
                    nlocs++;
                    bool found = false;
                    for (unsigned i = 0; i < pf.nlocs; i++)
                        found |= pf.loc_id[i] == x;
                    pf.dangling |= !found;
                } else if (nvalues < 4) {
                    values[nvalues++] = x;
                }
            }
        }
        /* the site's: mprof_site_proto <- proto_main (as stack_is), its objects 1 KiB */
        bool from_main = false;
        for (unsigned i = 0; i < pf.nlocs; i++)
            from_main |= pf.loc_id[i] == second_loc && pf.loc_addr[i] - (uintptr_t)proto_main < 1024;
        for (unsigned i = 0; i < pf.nlocs; i++)
            if (pf.loc_id[i] == first_loc && pf.loc_addr[i] - (uintptr_t)mprof_site_proto < 1024 && from_main &&
                values[1] == values[0] * 1024) {
                pf.site_found = true;
                pf.site_loc = i;
                __builtin_memcpy(pf.site_values, values, sizeof(values));
            }
    }
}

CASE_KEEPS_FRAMES(profile_proto_decodes_with_the_site_and_its_values)
{
    EXPECT_EQ(rt_run_joined(proto_main, NULL, 1), 0);
    EXPECT_TRUE(!(proto_overflow));
    EXPECT_EQ(written, proto_len);
    decode_profile();
    CASE_DIAG("%zu bytes: %u strings, %u samples, %u locations, %u functions; site: alloc %lu objects %lu B, "
              "inuse %lu objects %lu B",
              proto_len, pf.nstrings, pf.nsamples, pf.nlocs, pf.nfuncs, (unsigned long)pf.site_values[0],
              (unsigned long)pf.site_values[1], (unsigned long)pf.site_values[2], (unsigned long)pf.site_values[3]);
    EXPECT_TRUE(!(pf.bad));
    EXPECT_TRUE(str_is(0, ""));
    EXPECT_EQ(pf.ntypes, 4);
    EXPECT_TRUE(str_is(pf.type_str[0], "alloc_objects") && str_is(pf.type_str[1], "alloc_space") &&
                str_is(pf.type_str[2], "inuse_objects") && str_is(pf.type_str[3], "inuse_space"));
    EXPECT_TRUE(str_is(pf.period_type_str, "space"));
    EXPECT_EQ(pf.period, 1);
    EXPECT_EQ(pf.nmappings, 1);
    EXPECT_GE(pf.nsamples, 1);
    EXPECT_TRUE(!(pf.dangling)); /* every location a sample names is in the profile */
    EXPECT_TRUE(pf.site_found);
    EXPECT_EQ(pf.site_values[0], PROTO_SITE_N); /* rate 1: unscaled */
    EXPECT_EQ(pf.site_values[1], PROTO_SITE_N * 1024);
    EXPECT_GE(pf.site_values[2], PROTO_SITE_KEEP);
    EXPECT_LE(pf.site_values[2], PROTO_SITE_KEEP + 10);
    EXPECT_EQ(pf.site_values[3], pf.site_values[2] * 1024);
#ifdef HOSTED
    EXPECT_TRUE(!(pf.has_functions)); /* pprof names them from the binary */
#else
    EXPECT_TRUE(pf.has_functions);
    bool named = false;
    for (unsigned j = 0; j < pf.nfuncs; j++)
        if (pf.site_found && pf.func_id[j] == pf.loc_func[pf.site_loc])
            named = str_is(pf.func_name[j], "mprof_site_proto");
    EXPECT_TRUE(named); /* the innermost frame is the site, by name: the allocator's own are left out */
#endif
    for (unsigned i = 0; i < PROTO_SITE_KEEP; i++) {
        EXPECT_EQ(*(uint64_t *)proto_kept[i], i);
        proto_kept[i] = NULL;
    }
}

/* ---- the default rate ---- */

#define RATE_OBJECTS 16384 /* of 4 KiB: 64 MiB */
__attribute__((noinline)) static void mprof_site_rate(void)
{
    for (unsigned i = 0; i < RATE_OBJECTS; i++)
        *(volatile uint64_t *)rt_alloc(4096, NULL) = i;
}

static void rate_main(void *unused)
{
    (void)unused;
    rt_gc();
    mprof_site_rate();
    rt_gc();
    nrecords = rt_read_mem_profile(records, NRECORDS);
}

CASE_KEEPS_FRAMES(default_rate_estimates_the_bytes_allocated)
{
    EXPECT_EQ(rt_mem_profile_rate(), RT_MEMPROFILE_RATE);
    EXPECT_EQ(rt_run_joined(rate_main, NULL, 1), 0);
    /* The site's samples, summed over its records as pprof -top sums a function's; one record but
     * for a stack that differs further out (say a growth's rt_morestack_tail frame). */
    uint64_t allocs = 0, bytes = 0;
    unsigned nsite = 0;
    for (int i = 0; i < nrecords && i < NRECORDS; i++) {
        const struct rt_mprof_record *r = &records[i];
        if (!stack_is(r, mprof_site_rate, rate_main) || r->size != 4096)
            continue;
        nsite++;
        allocs += r->allocs;
        bytes += r->alloc_bytes;
        CASE_DIAG("  a record of the site: %lu samples, %u frames, the second 0x%lx", (unsigned long)r->allocs,
                  r->nstk, (unsigned long)(r->nstk > 1 ? r->stk[1] : 0));
    }
    uint64_t c, b, total = (uint64_t)RATE_OBJECTS * 4096;
    rt_mprof_scale(allocs, bytes, RT_MEMPROFILE_RATE, &c, &b);
    CASE_DIAG("%lu samples in %u record(s) (expected 128 +- 11); estimate %lu objects, %lu KiB of %lu KiB allocated",
              (unsigned long)allocs, nsite, (unsigned long)c, (unsigned long)(b >> 10), (unsigned long)(total >> 10));
    EXPECT_GE(allocs, 80); /* Poisson, mean 64 MiB / 512 KiB = 128 */
    EXPECT_LE(allocs, 180);
    EXPECT_GE(b, total * 6 / 10);
    EXPECT_LE(b, total * 14 / 10);
}
