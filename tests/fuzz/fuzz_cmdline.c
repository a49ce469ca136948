/*
 * fuzz_cmdline.c - kernel/cmdline.c and kernel/glob.c on arbitrary text.
 *
 * Input: one mode byte, then text. Even mode: the text (to its first NUL) is
 * a command line; odd mode: "PATTERN\nNAME" for glob_match.
 *
 * Oracles:
 *   - a reference parser written from the grammar in cmdline.c's essay (libc
 *     string handling, no shared code): same verdict, and on success the same
 *     struct; an error message fits CMDLINE_ERR_MAX;
 *   - round trip: cmdline_format of a parsed line parses to the same struct,
 *     and formatting into a smaller buffer gives the same line cut short;
 *   - glob_match agrees with a dynamic-programming matcher ('*' any run, '?'
 *     one byte), which cannot go exponential; glob_has_literal_prefix agrees
 *     with strncmp.
 */
#include <stdbool.h>

#include "kernel/cmdline.h"
#include "kernel/glob.h"
#include "tests/fuzz/fuzz.h"

/* ---- The reference parser. ---- */

static bool ref_number(const char *s, size_t n, uint64_t *v, size_t *used)
{
    unsigned base = 10;
    size_t i = 0;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    size_t first = i;
    unsigned __int128 acc = 0;
    for (; i < n; i++) {
        const char *digits = base == 16 ? "0123456789abcdefABCDEF" : "0123456789";
        const char *hit = memchr(digits, s[i], strlen(digits));
        if (hit == NULL || s[i] == '\0')
            break;
        unsigned d = (unsigned)(hit - digits);
        if (d >= 16)
            d -= 6; /* A-F */
        acc = acc * base + d;
        if (acc > UINT64_MAX)
            return false;
    }
    if (i == first)
        return false;
    *v = (uint64_t)acc;
    *used = i;
    return true;
}

static bool ref_exact(const char *s, size_t n, uint64_t *v)
{
    size_t used;
    return ref_number(s, n, v, &used) && used == n;
}

static bool is(const char *s, size_t n, const char *lit) { return strlen(lit) == n && memcmp(s, lit, n) == 0; }

static bool chars_ok(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && strchr(extra, c) == NULL)
            return false;
    }
    return true;
}

/* Returns 0 and fills *r, or -1. */
static int ref_parse(const char *line, struct cmdline *r)
{
    static const char *const keys[] = { "test", "seed", "procs", "gogc", "memlimit", "gctrace", "crash", "run",
                                        "bt_depth", "gccheckmark", "gcstress", "gcstoptheworld", "profile",
                                        "memprofilerate" };
    enum { NKEYS = sizeof(keys) / sizeof(keys[0]) };
    static const char *const crashes[] = { "pf", "gp", "ud", "de", "nx", "wp", "guard", "stack" };
    memset(r, 0, sizeof(*r));
    bool seen[NKEYS] = { false };
    const char *seps = " \t\r\n";
    const char *p = line;
    for (;;) {
        p += strspn(p, seps);
        if (*p == '\0')
            break;
        size_t len = strcspn(p, seps);
        const char *tok = p;
        p += len;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)tok[i] < 0x20 || tok[i] == 0x7f)
                return -1;
        const char *eq = memchr(tok, '=', len);
        size_t klen = eq ? (size_t)(eq - tok) : len;
        const char *v = eq ? eq + 1 : NULL;
        size_t vlen = eq ? len - klen - 1 : 0;
        int k = -1;
        for (int i = 0; i < NKEYS; i++)
            if (is(tok, klen, keys[i]))
                k = i;
        if (k < 0 || seen[k])
            return -1;
        seen[k] = true;
        if ((v == NULL && k != 0) || (v != NULL && vlen == 0))
            return -1;
        uint64_t n;
        size_t used;
        switch (k) {
        case 0:
            r->test = true;
            if (v == NULL) {
                strcpy(r->test_glob, "*");
                break;
            }
            if (vlen >= CMDLINE_GLOB_MAX || !chars_ok(v, vlen, "_.-*?"))
                return -1;
            memcpy(r->test_glob, v, vlen);
            break;
        case 1:
            if (!ref_exact(v, vlen, &r->seed))
                return -1;
            r->seed_set = true;
            break;
        case 2:
            if (!ref_exact(v, vlen, &n) || n < 1 || n > CMDLINE_PROCS_MAX)
                return -1;
            r->procs = (unsigned)n;
            break;
        case 3:
            r->gogc_set = true;
            if (is(v, vlen, "off"))
                r->gogc_off = true;
            else if (!ref_exact(v, vlen, &n) || n > CMDLINE_GOGC_MAX)
                return -1;
            else
                r->gogc = (unsigned)n;
            break;
        case 4: {
            if (!ref_number(v, vlen, &n, &used))
                return -1;
            const char *suf = v + used;
            size_t slen = vlen - used;
            unsigned __int128 mult = is(suf, slen, "") ? 1
                                   : is(suf, slen, "K") || is(suf, slen, "KiB") ? 1u << 10
                                   : is(suf, slen, "M") || is(suf, slen, "MiB") ? 1u << 20
                                   : is(suf, slen, "G") || is(suf, slen, "GiB") ? 1u << 30 : 0;
            unsigned __int128 bytes = (unsigned __int128)n * mult;
            if (mult == 0 || bytes < CMDLINE_MEMLIMIT_MIN || bytes > CMDLINE_MEMLIMIT_MAX)
                return -1;
            r->memlimit = (uint64_t)bytes;
            break;
        }
        case 5:
            if (!is(v, vlen, "0") && !is(v, vlen, "1"))
                return -1;
            r->gctrace_set = true;
            r->gctrace = v[0] == '1';
            break;
        case 6:
            for (int i = 0; i < 8; i++)
                if (is(v, vlen, crashes[i]))
                    r->crash = (enum crash_kind)(CRASH_PF + i);
            if (r->crash == CRASH_NONE)
                return -1;
            break;
        case 7:
            if (vlen >= CMDLINE_NAME_MAX || !chars_ok(v, vlen, "_.-"))
                return -1;
            memcpy(r->run, v, vlen);
            break;
        case 8:
            if (!ref_exact(v, vlen, &n) || n > CMDLINE_BT_DEPTH_MAX)
                return -1;
            r->bt_depth_set = true;
            r->bt_depth = (unsigned)n;
            break;
        case 9:
            if (!(vlen == 1 && (v[0] == '0' || v[0] == '1')))
                return -1;
            r->gccheckmark_set = true;
            r->gccheckmark = v[0] == '1';
            break;
        case 10:
            if (!ref_exact(v, vlen, &n) || n > CMDLINE_GCSTRESS_MAX)
                return -1;
            r->gcstress_set = true;
            r->gcstress = (unsigned)n;
            break;
        case 11:
            if (!(vlen == 1 && (v[0] == '0' || v[0] == '1')))
                return -1;
            r->gcstoptheworld_set = true;
            r->gcstoptheworld = v[0] == '1';
            break;
        case 12:
            if (!is(v, vlen, "heap"))
                return -1;
            r->profile_heap = true;
            break;
        case 13:
            if (!ref_exact(v, vlen, &n) || n > CMDLINE_MEMPROFILERATE_MAX)
                return -1;
            r->memprofilerate_set = true;
            r->memprofilerate = n;
            break;
        }
    }
    if ((r->test ? 1 : 0) + (r->crash != CRASH_NONE ? 1 : 0) + (r->run[0] ? 1 : 0) > 1)
        return -1;
    return 0;
}

static bool same(const struct cmdline *a, const struct cmdline *b)
{
    return a->test == b->test && strcmp(a->test_glob, b->test_glob) == 0 && a->seed_set == b->seed_set &&
           a->seed == b->seed && a->procs == b->procs && a->gogc_set == b->gogc_set && a->gogc_off == b->gogc_off &&
           a->gogc == b->gogc && a->memlimit == b->memlimit && a->gctrace_set == b->gctrace_set &&
           a->gctrace == b->gctrace && a->crash == b->crash && strcmp(a->run, b->run) == 0 &&
           a->bt_depth_set == b->bt_depth_set && a->bt_depth == b->bt_depth &&
           a->gccheckmark_set == b->gccheckmark_set && a->gccheckmark == b->gccheckmark &&
           a->gcstress_set == b->gcstress_set && a->gcstress == b->gcstress &&
           a->gcstoptheworld_set == b->gcstoptheworld_set && a->gcstoptheworld == b->gcstoptheworld &&
           a->profile_heap == b->profile_heap && a->memprofilerate_set == b->memprofilerate_set &&
           a->memprofilerate == b->memprofilerate;
}

/* ---- The reference glob: match[i][j] = pattern[i..] matches name[j..]. ---- */

#define GLOB_MAX 256

static bool ref_glob(const char *p, const char *s)
{
    size_t pn = strlen(p), sn = strlen(s);
    static bool m[GLOB_MAX + 1][GLOB_MAX + 1];
    for (size_t i = pn + 1; i-- > 0;)
        for (size_t j = sn + 1; j-- > 0;) {
            if (i == pn)
                m[i][j] = j == sn;
            else if (p[i] == '*')
                m[i][j] = m[i + 1][j] || (j < sn && m[i][j + 1]);
            else
                m[i][j] = j < sn && (p[i] == '?' || p[i] == s[j]) && m[i + 1][j + 1];
        }
    return m[0][0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t mode = (uint8_t)fuzz_take(&data, &size, 1);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    if (mode % 2 == 0) {
        struct cmdline cl, ref, again;
        char err[CMDLINE_ERR_MAX];
        int rc = cmdline_parse(text, &cl, err, sizeof(err));
        int want = ref_parse(text, &ref);
        FUZZ_CHECK(rc == want, "cmdline_parse says %d (%s), the reference %d", rc, err, want);
        if (rc == 0) {
            FUZZ_CHECK(same(&cl, &ref), "parsed struct differs from the reference");
            char line[1024];
            cmdline_format(&cl, line, sizeof(line));
            FUZZ_CHECK(cmdline_parse(line, &again, err, sizeof(err)) == 0 && same(&cl, &again),
                       "round trip through \"%s\" failed: %s", line, err);
            /* A cut line is the full one's first size - 1 bytes. */
            size_t full = strlen(line);
            for (size_t sz = 1; sz <= full + 1 && sz < 200; sz++) {
                char cut[200];
                cmdline_format(&cl, cut, sz);
                FUZZ_CHECK(strlen(cut) == sz - 1 && strncmp(cut, line, sz - 1) == 0,
                           "format into %zu bytes gave \"%s\" of \"%s\"", sz, cut, line);
            }
        } else {
            FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof(err) - 1, "message empty or cut: \"%s\"", err);
        }
    } else {
        char *nl = strchr(text, '\n');
        const char *pattern = text, *name = nl ? nl + 1 : "";
        if (nl)
            *nl = '\0';
        if (strlen(pattern) <= GLOB_MAX && strlen(name) <= GLOB_MAX)
            FUZZ_CHECK(glob_match(pattern, name) == ref_glob(pattern, name), "glob(\"%s\", \"%s\")", pattern, name);
        FUZZ_CHECK(glob_has_literal_prefix(pattern, name) == (strncmp(pattern, name, strlen(name)) == 0),
                   "glob_has_literal_prefix(\"%s\", \"%s\")", pattern, name);
    }
    free(text);
    return 0;
}
