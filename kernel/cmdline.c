/*
 * cmdline.c - parser of the kernel command line (DESIGN.md section 5).
 *
 * What it does
 *   Turns the loader's command line (\cmdline.txt on the ESP) into a
 *   struct cmdline, or into one error message. Pure logic: no kernel state,
 *   no libc; tests/host/test_cmdline.c runs it under ASan/UBSan and the
 *   in-kernel suite runs it again on the target.
 *
 * The keys
 *   test | test=GLOB     run the in-kernel tests (all, or those matching GLOB:
 *                        letters, digits, '_', '.', '-', and the wildcards * ?)
 *   seed=N               64-bit seed, decimal or 0x-hex
 *   procs=N              1..CMDLINE_PROCS_MAX logical processors
 *   gogc=N|off           GC target percent 0..CMDLINE_GOGC_MAX, or off
 *   memlimit=SIZE        bytes with an optional K M G KiB MiB GiB suffix
 *                        (all binary), CMDLINE_MEMLIMIT_MIN..CMDLINE_MEMLIMIT_MAX
 *   gctrace=0|1          print a line per GC cycle
 *   crash=KIND           pf gp ud de nx wp guard stack
 *   run=NAME             a program to run instead of the tour
 *   bt_depth=N           the depth of run=bench.binarytrees, 0..CMDLINE_BT_DEPTH_MAX
 *   gccheckmark=0|1      verify every mark with a second one (rt/mgcmark.c)
 *   gcstoptheworld=0|1   0 (default): mark beside the program; 1: world stopped (rt/mgc.c)
 *   gcstress=N           a collection every N allocations, 0..CMDLINE_GCSTRESS_MAX (0: off)
 *   profile=heap         print the heap profile (pprof's format, base64) at the end of the run
 *   memprofilerate=N     bytes per heap profile sample, 0..CMDLINE_MEMPROFILERATE_MAX (0: off,
 *                        1: every allocation; Go's MemProfileRate, default 512 KiB)
 *   Exclusive: test, crash and run select what the kernel does; at most one.
 *
 * Invariants
 *   - Success leaves every given key in *out and every other field at its
 *     "not given" value; failure still leaves *out initialised.
 *   - Nothing is ignored: any token that is not exactly one of the forms
 *     above fails the whole line, and the message names the key, the value
 *     as written (cut to CMDLINE_ECHO_MAX bytes) and what was expected.
 *   - Reads never go past the terminating NUL; writes never past a field.
 *   - cmdline_format writes the canonical line, which parses back to the same
 *     struct; into a smaller buffer it writes that line's first size - 1
 *     bytes. tests/fuzz/fuzz_cmdline.c checks both, and the parser against a
 *     reference parser written from this grammar.
 *
 * Steps
 *   1. Split at separators (space, tab, CR, LF); any other control byte
 *      is an error.
 *   2. Split each token at the first '='; look the key up in the key table.
 *   3. Reject a second occurrence of a key (a bitmask of keys seen).
 *   4. Check the value's presence against the key, then parse it with the
 *      key's parser, which checks syntax and range.
 *   5. After the last token, check the cross-key rule (test/crash/run).
 */
#include "kernel/cmdline.h"

#include "kernel/lib/kprintf.h"

#define CMDLINE_ECHO_MAX 40 /* bytes of a bad value quoted in a message */

struct token {
    const char *key;
    size_t key_len;
    const char *val; /* NULL: no '=' */
    size_t val_len;
};

struct parse_state {
    struct cmdline *out;
    char *err;
    size_t errlen;
};

typedef int (*key_parser)(struct parse_state *ps, const struct token *t);

struct key_def {
    const char *name;
    key_parser parse;
    int value; /* VALUE_OPTIONAL or VALUE_REQUIRED */
    const char *expect; /* what a good value looks like, for messages */
};

enum { VALUE_OPTIONAL, VALUE_REQUIRED };

__attribute__((format(printf, 2, 3)))
static int fail(struct parse_state *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool tok_eq(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n; i++)
        if (lit[i] == '\0' || lit[i] != s[i])
            return false;
    return lit[i] == '\0';
}

static int echo_len(size_t n) { return n > CMDLINE_ECHO_MAX ? CMDLINE_ECHO_MAX : (int)n; }

/* Parses the decimal or 0x-hex number at the start of [s, s+n); *used gets
 * the bytes consumed (what follows is the caller's: a suffix or an error).
 * Returns false if there are no digits or the value overflows 64 bits. */
static bool parse_u64(const char *s, size_t n, uint64_t *out, size_t *used)
{
    uint64_t v = 0;
    unsigned base = 10;
    size_t i = 0;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    size_t first = i;
    for (; i < n; i++) {
        unsigned d;
        char c = s[i];
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else break;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    if (i == first)
        return false;
    *out = v;
    *used = i;
    return true;
}

static bool parse_u64_exact(const char *s, size_t n, uint64_t *out)
{
    size_t used;
    return parse_u64(s, n, out, &used) && used == n;
}

static int parse_test(struct parse_state *ps, const struct token *t)
{
    struct cmdline *cl = ps->out;
    cl->test = true;
    if (t->val == NULL) {
        cl->test_glob[0] = '*';
        cl->test_glob[1] = '\0';
        return 0;
    }
    if (t->val_len >= CMDLINE_GLOB_MAX)
        return fail(ps, "test=GLOB: pattern is %zu bytes, at most %d allowed", t->val_len,
                    CMDLINE_GLOB_MAX - 1);
    for (size_t i = 0; i < t->val_len; i++) {
        char c = t->val[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-' || c == '*' || c == '?';
        if (!ok)
            return fail(ps, "test=%.*s: character '%c' not allowed; expected test=GLOB of letters, "
                        "digits, _ . - and the wildcards * ?", echo_len(t->val_len), t->val, c);
    }
    for (size_t i = 0; i < t->val_len; i++)
        cl->test_glob[i] = t->val[i];
    cl->test_glob[t->val_len] = '\0';
    return 0;
}

static int parse_seed(struct parse_state *ps, const struct token *t)
{
    if (!parse_u64_exact(t->val, t->val_len, &ps->out->seed))
        return fail(ps, "seed=%.*s: expected seed=N, N a decimal or 0x-hex integer below 2^64",
                    echo_len(t->val_len), t->val);
    ps->out->seed_set = true;
    return 0;
}

static int parse_procs(struct parse_state *ps, const struct token *t)
{
    uint64_t v;
    if (!parse_u64_exact(t->val, t->val_len, &v) || v < 1 || v > CMDLINE_PROCS_MAX)
        return fail(ps, "procs=%.*s: expected procs=N with 1 <= N <= %d", echo_len(t->val_len), t->val,
                    CMDLINE_PROCS_MAX);
    ps->out->procs = (unsigned)v;
    return 0;
}

static int parse_gogc(struct parse_state *ps, const struct token *t)
{
    uint64_t v;
    ps->out->gogc_set = true;
    if (tok_eq(t->val, t->val_len, "off")) {
        ps->out->gogc_off = true;
        return 0;
    }
    if (!parse_u64_exact(t->val, t->val_len, &v) || v > CMDLINE_GOGC_MAX)
        return fail(ps, "gogc=%.*s: expected gogc=N (percent, 0 <= N <= %d) or gogc=off",
                    echo_len(t->val_len), t->val, CMDLINE_GOGC_MAX);
    ps->out->gogc = (unsigned)v;
    return 0;
}

static int parse_memlimit(struct parse_state *ps, const struct token *t)
{
    static const struct { const char *suffix; unsigned shift; } units[] = {
        { "", 0 }, { "K", 10 }, { "M", 20 }, { "G", 30 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 },
    };
    uint64_t v;
    size_t used;
    if (!parse_u64(t->val, t->val_len, &v, &used))
        return fail(ps, "memlimit=%.*s: expected memlimit=SIZE, a number with an optional suffix "
                    "K M G KiB MiB GiB", echo_len(t->val_len), t->val);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (!tok_eq(t->val + used, t->val_len - used, units[i].suffix))
            continue;
        if (v > (CMDLINE_MEMLIMIT_MAX >> units[i].shift) || (v << units[i].shift) < CMDLINE_MEMLIMIT_MIN)
            return fail(ps, "memlimit=%.*s: out of range; expected 1MiB <= SIZE <= 1024GiB",
                        echo_len(t->val_len), t->val);
        ps->out->memlimit = v << units[i].shift;
        return 0;
    }
    return fail(ps, "memlimit=%.*s: unknown suffix '%.*s'; expected one of K M G KiB MiB GiB",
                echo_len(t->val_len), t->val, echo_len(t->val_len - used), t->val + used);
}

static int parse_gctrace(struct parse_state *ps, const struct token *t)
{
    if (tok_eq(t->val, t->val_len, "0") || tok_eq(t->val, t->val_len, "1")) {
        ps->out->gctrace_set = true;
        ps->out->gctrace = t->val[0] == '1';
        return 0;
    }
    return fail(ps, "gctrace=%.*s: expected gctrace=0 or gctrace=1", echo_len(t->val_len), t->val);
}

static const char *const crash_names[] = {
    [CRASH_NONE] = "none", [CRASH_PF] = "pf", [CRASH_GP] = "gp", [CRASH_UD] = "ud",
    [CRASH_DE] = "de",     [CRASH_NX] = "nx", [CRASH_WP] = "wp", [CRASH_GUARD] = "guard",
    [CRASH_STACK] = "stack",
};

const char *cmdline_crash_name(enum crash_kind kind)
{
    if ((unsigned)kind < sizeof(crash_names) / sizeof(crash_names[0]))
        return crash_names[kind];
    return "?";
}

static int parse_crash(struct parse_state *ps, const struct token *t)
{
    for (unsigned k = CRASH_PF; k <= CRASH_STACK; k++) {
        if (tok_eq(t->val, t->val_len, crash_names[k])) {
            ps->out->crash = (enum crash_kind)k;
            return 0;
        }
    }
    return fail(ps, "crash=%.*s: unknown kind; expected crash=pf|gp|ud|de|nx|wp|guard|stack", echo_len(t->val_len),
                t->val);
}

static int parse_run(struct parse_state *ps, const struct token *t)
{
    if (t->val_len >= CMDLINE_NAME_MAX)
        return fail(ps, "run=NAME: name is %zu bytes, at most %d allowed", t->val_len, CMDLINE_NAME_MAX - 1);
    for (size_t i = 0; i < t->val_len; i++) {
        char c = t->val[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return fail(ps, "run=%.*s: character '%c' not allowed; expected run=NAME of letters, "
                        "digits, _ . -", echo_len(t->val_len), t->val, c);
    }
    for (size_t i = 0; i < t->val_len; i++)
        ps->out->run[i] = t->val[i];
    ps->out->run[t->val_len] = '\0';
    return 0;
}

static int parse_bt_depth(struct parse_state *ps, const struct token *t)
{
    uint64_t v;
    if (!parse_u64_exact(t->val, t->val_len, &v) || v > CMDLINE_BT_DEPTH_MAX)
        return fail(ps, "bt_depth=%.*s: expected bt_depth=N with 0 <= N <= %d", echo_len(t->val_len), t->val,
                    CMDLINE_BT_DEPTH_MAX);
    ps->out->bt_depth_set = true;
    ps->out->bt_depth = (unsigned)v;
    return 0;
}

static int parse_gccheckmark(struct parse_state *ps, const struct token *t)
{
    if (tok_eq(t->val, t->val_len, "0") || tok_eq(t->val, t->val_len, "1")) {
        ps->out->gccheckmark_set = true;
        ps->out->gccheckmark = t->val[0] == '1';
        return 0;
    }
    return fail(ps, "gccheckmark=%.*s: expected gccheckmark=0 or gccheckmark=1", echo_len(t->val_len), t->val);
}

static int parse_gcstoptheworld(struct parse_state *ps, const struct token *t)
{
    if (tok_eq(t->val, t->val_len, "0") || tok_eq(t->val, t->val_len, "1")) {
        ps->out->gcstoptheworld_set = true;
        ps->out->gcstoptheworld = t->val[0] == '1';
        return 0;
    }
    return fail(ps, "gcstoptheworld=%.*s: expected gcstoptheworld=0 or gcstoptheworld=1", echo_len(t->val_len),
                t->val);
}

static int parse_gcstress(struct parse_state *ps, const struct token *t)
{
    uint64_t v;
    if (!parse_u64_exact(t->val, t->val_len, &v) || v > CMDLINE_GCSTRESS_MAX)
        return fail(ps, "gcstress=%.*s: expected gcstress=N with 0 <= N <= %u", echo_len(t->val_len), t->val,
                    CMDLINE_GCSTRESS_MAX);
    ps->out->gcstress_set = true;
    ps->out->gcstress = (unsigned)v;
    return 0;
}

static int parse_profile(struct parse_state *ps, const struct token *t)
{
    if (tok_eq(t->val, t->val_len, "heap")) {
        ps->out->profile_heap = true;
        return 0;
    }
    return fail(ps, "profile=%.*s: expected profile=heap (the only profile there is)", echo_len(t->val_len), t->val);
}

static int parse_memprofilerate(struct parse_state *ps, const struct token *t)
{
    uint64_t v;
    if (!parse_u64_exact(t->val, t->val_len, &v) || v > CMDLINE_MEMPROFILERATE_MAX)
        return fail(ps, "memprofilerate=%.*s: expected memprofilerate=N bytes with 0 <= N <= %llu",
                    echo_len(t->val_len), t->val, (unsigned long long)CMDLINE_MEMPROFILERATE_MAX);
    ps->out->memprofilerate_set = true;
    ps->out->memprofilerate = v;
    return 0;
}

static const struct key_def keys[] = {
    { "test", parse_test, VALUE_OPTIONAL, "test or test=GLOB" },
    { "seed", parse_seed, VALUE_REQUIRED, "seed=N" },
    { "procs", parse_procs, VALUE_REQUIRED, "procs=N" },
    { "gogc", parse_gogc, VALUE_REQUIRED, "gogc=N or gogc=off" },
    { "memlimit", parse_memlimit, VALUE_REQUIRED, "memlimit=SIZE" },
    { "gctrace", parse_gctrace, VALUE_REQUIRED, "gctrace=0|1" },
    { "crash", parse_crash, VALUE_REQUIRED, "crash=KIND" },
    { "run", parse_run, VALUE_REQUIRED, "run=NAME" },
    { "bt_depth", parse_bt_depth, VALUE_REQUIRED, "bt_depth=N" },
    { "gccheckmark", parse_gccheckmark, VALUE_REQUIRED, "gccheckmark=0|1" },
    { "gcstress", parse_gcstress, VALUE_REQUIRED, "gcstress=N" },
    { "gcstoptheworld", parse_gcstoptheworld, VALUE_REQUIRED, "gcstoptheworld=0|1" },
    { "profile", parse_profile, VALUE_REQUIRED, "profile=heap" },
    { "memprofilerate", parse_memprofilerate, VALUE_REQUIRED, "memprofilerate=N" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= 32, "keys seen are tracked in a 32-bit mask");

static bool is_sep(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int parse_token(struct parse_state *ps, const struct token *t, uint32_t *seen)
{
    for (unsigned k = 0; k < NKEYS; k++) {
        const struct key_def *kd = &keys[k];
        if (!tok_eq(t->key, t->key_len, kd->name))
            continue;
        if (*seen & (1u << k))
            return fail(ps, "%s: key given twice; each key may appear once", kd->name);
        *seen |= 1u << k;
        if (kd->value == VALUE_REQUIRED && t->val == NULL)
            return fail(ps, "%s: missing value; expected %s", kd->name, kd->expect);
        if (t->val != NULL && t->val_len == 0)
            return fail(ps, "%s=: empty value; expected %s", kd->name, kd->expect);
        return kd->parse(ps, t);
    }
    if (t->key_len == 0)
        return fail(ps, "'=%.*s': missing key before '='", echo_len(t->val_len), t->val);
    return fail(ps, "%.*s: unknown key; known keys: test seed procs gogc memlimit gctrace crash run bt_depth gccheckmark gcstress "
                "gcstoptheworld profile memprofilerate",
                echo_len(t->key_len), t->key);
}

int cmdline_parse(const char *line, struct cmdline *out, char *err, size_t errlen)
{
    struct parse_state ps = { out, err, errlen };
    struct cmdline blank = { 0 };
    *out = blank;
    if (errlen != 0)
        err[0] = '\0';

    uint32_t seen = 0;
    const char *p = line;
    for (;;) {
        /* 1. tokens */
        while (is_sep(*p))
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        while (*p != '\0' && !is_sep(*p)) {
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return fail(&ps, "control character 0x%02x at offset %zu; the command line is "
                            "printable text", (unsigned)(unsigned char)*p, (size_t)(p - line));
            p++;
        }
        /* 2. key and value */
        struct token t = { start, (size_t)(p - start), NULL, 0 };
        for (const char *q = start; q < p; q++) {
            if (*q == '=') {
                t.key_len = (size_t)(q - start);
                t.val = q + 1;
                t.val_len = (size_t)(p - (q + 1));
                break;
            }
        }
        /* 3-4. */
        if (parse_token(&ps, &t, &seen) != 0)
            return -1;
    }

    /* 5. what the kernel does: at most one of test, crash, run */
    int modes = (out->test ? 1 : 0) + (out->crash != CRASH_NONE ? 1 : 0) + (out->run[0] ? 1 : 0);
    if (modes > 1)
        return fail(&ps, "test, crash= and run= each choose what the kernel does; give at most one");
    return 0;
}

void cmdline_format(const struct cmdline *cl, char *buf, size_t size)
{
    size_t n = 0; /* length of the full output so far (may exceed size) */
    /* Each item after the first is preceded by one space, so a cut output is
     * the full one's first size - 1 bytes. */
#define PUT(fmt, ...) \
    do { \
        int k_ = ksnprintf(buf + (n < size ? n : size - 1), n < size ? size - n : 1, "%s" fmt, \
                           n ? " " : "", __VA_ARGS__); \
        n += k_ > 0 ? (size_t)k_ : 0; \
    } while (0)
    if (size == 0)
        return;
    buf[0] = '\0';
    if (cl->test)
        PUT("test=%s", cl->test_glob);
    if (cl->seed_set)
        PUT("seed=%llu", (unsigned long long)cl->seed);
    if (cl->procs)
        PUT("procs=%u", cl->procs);
    if (cl->gogc_set) {
        if (cl->gogc_off) PUT("gogc=%s", "off");
        else PUT("gogc=%u", cl->gogc);
    }
    if (cl->memlimit)
        PUT("memlimit=%llu", (unsigned long long)cl->memlimit);
    if (cl->gctrace_set)
        PUT("gctrace=%d", cl->gctrace ? 1 : 0);
    if (cl->crash != CRASH_NONE)
        PUT("crash=%s", cmdline_crash_name(cl->crash));
    if (cl->run[0])
        PUT("run=%s", cl->run);
    if (cl->bt_depth_set)
        PUT("bt_depth=%u", cl->bt_depth);
    if (cl->gccheckmark_set)
        PUT("gccheckmark=%d", cl->gccheckmark ? 1 : 0);
    if (cl->gcstress_set)
        PUT("gcstress=%u", cl->gcstress);
    if (cl->gcstoptheworld_set)
        PUT("gcstoptheworld=%d", cl->gcstoptheworld ? 1 : 0);
    if (cl->profile_heap)
        PUT("profile=%s", "heap");
    if (cl->memprofilerate_set)
        PUT("memprofilerate=%llu", (unsigned long long)cl->memprofilerate);
#undef PUT
}
