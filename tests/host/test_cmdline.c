/*
 * test_cmdline.c - kernel/cmdline.c and kernel/glob.c under ASan/UBSan.
 *
 * Good lines check every field they set; bad lines check that parsing fails
 * and that the message names the key and says what was expected (by
 * substring), so a vague message fails the test as surely as a wrong value.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernel/cmdline.h"
#include "kernel/glob.h"
#include "tests/host/tap.h"

static struct cmdline cl;
static char err[CMDLINE_ERR_MAX];

static bool parse_ok(const char *line)
{
    int rc = cmdline_parse(line, &cl, err, sizeof(err));
    if (rc != 0)
        tap_diag("\"%s\": unexpected error: %s", line, err);
    return rc == 0;
}

/* line with control bytes as \xNN, so TAP output stays printable */
static const char *printable(const char *line)
{
    static char buf[1024];
    size_t n = 0;
    for (; *line != '\0' && n + 5 < sizeof(buf); line++) {
        unsigned char c = (unsigned char)*line;
        if (c < 0x20 || c == 0x7f)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\\x%02x", c);
        else
            buf[n++] = (char)c;
    }
    buf[n] = '\0';
    return buf;
}

/* The line must fail and the message contain each of the given substrings. */
static void expect_error(const char *line, const char *want1, const char *want2)
{
    int rc = cmdline_parse(line, &cl, err, sizeof(err));
    bool ok = rc == -1 && strstr(err, want1) != NULL && (want2 == NULL || strstr(err, want2) != NULL);
    if (!tap_check(ok, "cmdline.error: \"%s\" -> %s", printable(line), rc == 0 ? "(accepted)" : err))
        tap_diag("want an error containing \"%s\"%s%s", want1, want2 ? " and " : "", want2 ? want2 : "");
}

static void test_empty(void)
{
    bool ok = parse_ok("") && !cl.test && !cl.seed_set && cl.procs == 0 && !cl.gogc_set &&
              cl.memlimit == 0 && !cl.gctrace_set && cl.crash == CRASH_NONE && cl.run[0] == '\0' &&
              !cl.bt_depth_set && !cl.profile_heap && !cl.memprofilerate_set;
    tap_check(ok, "cmdline.empty: nothing set");
    ok = parse_ok(" \t\r\n  ") && !cl.test;
    tap_check(ok, "cmdline.only_separators: spaces, tabs, CR, LF");
}

static void test_good(void)
{
    tap_check(parse_ok("test") && cl.test && strcmp(cl.test_glob, "*") == 0, "cmdline.test: plain -> glob *");
    tap_check(parse_ok("test=core.fmt.*") && cl.test && strcmp(cl.test_glob, "core.fmt.*") == 0,
              "cmdline.test_glob");
    tap_check(parse_ok("test=a?c-d_e.F9") && strcmp(cl.test_glob, "a?c-d_e.F9") == 0,
              "cmdline.test_glob_charset");
    tap_check(parse_ok("seed=0") && cl.seed_set && cl.seed == 0, "cmdline.seed_zero");
    tap_check(parse_ok("seed=18446744073709551615") && cl.seed == UINT64_MAX, "cmdline.seed_max_decimal");
    tap_check(parse_ok("seed=0xDeadBeef") && cl.seed == 0xdeadbeef, "cmdline.seed_hex");
    tap_check(parse_ok("procs=1") && cl.procs == 1, "cmdline.procs_min");
    tap_check(parse_ok("procs=64") && cl.procs == CMDLINE_PROCS_MAX, "cmdline.procs_max");
    tap_check(parse_ok("gogc=100") && cl.gogc_set && !cl.gogc_off && cl.gogc == 100, "cmdline.gogc");
    tap_check(parse_ok("gogc=0") && cl.gogc_set && cl.gogc == 0, "cmdline.gogc_zero");
    tap_check(parse_ok("gogc=off") && cl.gogc_set && cl.gogc_off, "cmdline.gogc_off");
    tap_check(parse_ok("memlimit=1048576") && cl.memlimit == 1048576, "cmdline.memlimit_bytes");
    tap_check(parse_ok("memlimit=2048K") && cl.memlimit == 2048ull << 10, "cmdline.memlimit_K");
    tap_check(parse_ok("memlimit=64M") && cl.memlimit == 64ull << 20, "cmdline.memlimit_M");
    tap_check(parse_ok("memlimit=2G") && cl.memlimit == 2ull << 30, "cmdline.memlimit_G");
    tap_check(parse_ok("memlimit=4096KiB") && cl.memlimit == 4096ull << 10, "cmdline.memlimit_KiB");
    tap_check(parse_ok("memlimit=300MiB") && cl.memlimit == 300ull << 20, "cmdline.memlimit_MiB");
    tap_check(parse_ok("memlimit=1024GiB") && cl.memlimit == 1ull << 40, "cmdline.memlimit_max");
    tap_check(parse_ok("memlimit=0x100000") && cl.memlimit == 1ull << 20, "cmdline.memlimit_hex");
    tap_check(parse_ok("gctrace=1") && cl.gctrace_set && cl.gctrace, "cmdline.gctrace_1");
    tap_check(parse_ok("gctrace=0") && cl.gctrace_set && !cl.gctrace, "cmdline.gctrace_0");
    static const struct { const char *line; enum crash_kind kind; } crashes[] = {
        { "crash=pf", CRASH_PF }, { "crash=gp", CRASH_GP }, { "crash=ud", CRASH_UD },
        { "crash=de", CRASH_DE }, { "crash=nx", CRASH_NX }, { "crash=wp", CRASH_WP }, { "crash=guard", CRASH_GUARD },
        { "crash=stack", CRASH_STACK },
    };
    for (size_t i = 0; i < sizeof(crashes) / sizeof(crashes[0]); i++)
        tap_check(parse_ok(crashes[i].line) && cl.crash == crashes[i].kind &&
                  strcmp(cmdline_crash_name(cl.crash), crashes[i].line + 6) == 0,
                  "cmdline.%s", crashes[i].line);
    tap_check(parse_ok("run=hello-world_1.2") && strcmp(cl.run, "hello-world_1.2") == 0, "cmdline.run");
    tap_check(parse_ok("bt_depth=0") && cl.bt_depth_set && cl.bt_depth == 0, "cmdline.bt_depth_zero");
    tap_check(parse_ok("gccheckmark=1 gcstress=100") && cl.gccheckmark_set && cl.gccheckmark &&
              cl.gcstress_set && cl.gcstress == 100, "cmdline.gccheckmark_and_gcstress");
    tap_check(parse_ok("gccheckmark=0 gcstress=0") && cl.gccheckmark_set && !cl.gccheckmark &&
              cl.gcstress_set && cl.gcstress == 0, "cmdline.gccheckmark_and_gcstress_off");
    tap_check(parse_ok("gcstoptheworld=1") && cl.gcstoptheworld_set && cl.gcstoptheworld, "cmdline.gcstoptheworld");
    tap_check(parse_ok("gcstoptheworld=0") && cl.gcstoptheworld_set && !cl.gcstoptheworld,
              "cmdline.gcstoptheworld_off");
    tap_check(parse_ok("profile=heap memprofilerate=4096") && cl.profile_heap && cl.memprofilerate_set &&
                  cl.memprofilerate == 4096,
              "cmdline.profile_heap_and_rate");
    tap_check(parse_ok("memprofilerate=0") && cl.memprofilerate_set && cl.memprofilerate == 0,
              "cmdline.memprofilerate_off");
    tap_check(parse_ok("run=bench.binarytrees bt_depth=30") && cl.bt_depth == CMDLINE_BT_DEPTH_MAX &&
              strcmp(cl.run, "bench.binarytrees") == 0, "cmdline.bt_depth_max_with_run");

    bool ok = parse_ok("  test=rt.*\tseed=7 procs=4\r\ngogc=50 memlimit=128MiB gctrace=1 bt_depth=12\n") &&
              cl.test && strcmp(cl.test_glob, "rt.*") == 0 && cl.seed == 7 && cl.procs == 4 && cl.gogc == 50 &&
              cl.memlimit == 128ull << 20 && cl.gctrace && cl.crash == CRASH_NONE && cl.bt_depth == 12;
    tap_check(ok, "cmdline.all_keys_mixed_separators");

    char buf[256];
    cmdline_format(&cl, buf, sizeof(buf));
    tap_check(strcmp(buf, "test=rt.* seed=7 procs=4 gogc=50 memlimit=134217728 gctrace=1 bt_depth=12") == 0,
              "cmdline.format: \"%s\"", buf);
    char small[10];
    cmdline_format(&cl, small, sizeof(small));
    tap_check(strlen(small) < sizeof(small), "cmdline.format_truncates: \"%s\"", small);
    /* Issue 16: a truncated result is the full one cut at size - 1 bytes (it was one byte shorter). */
    for (size_t size = 1; size <= strlen(buf) + 1; size++) {
        char cut[256];
        cmdline_format(&cl, cut, size);
        if (strlen(cut) != size - 1 || strncmp(cut, buf, size - 1) != 0) {
            tap_check(false, "cmdline.format_prefix: size %zu gives \"%s\"", size, cut);
            break;
        }
        if (size == strlen(buf) + 1)
            tap_check(true, "cmdline.format_prefix: every size gives the full line cut at size - 1");
    }

    char glob[CMDLINE_GLOB_MAX + 8];
    memset(glob, 0, sizeof(glob));
    strcpy(glob, "test=");
    memset(glob + 5, 'a', CMDLINE_GLOB_MAX - 1);
    tap_check(parse_ok(glob) && strlen(cl.test_glob) == CMDLINE_GLOB_MAX - 1, "cmdline.test_glob_longest");
}

static void test_errors(void)
{
    expect_error("bogus", "bogus: unknown key", "known keys");
    expect_error("gccheckmark=2", "gccheckmark=2", "expected gccheckmark=0 or gccheckmark=1");
    expect_error("gcstoptheworld=yes", "gcstoptheworld=yes", "expected gcstoptheworld=0 or gcstoptheworld=1");
    expect_error("gcstress=-1", "gcstress=-1", "expected gcstress=N");
    expect_error("gcstress=1000000001", "gcstress=1000000001", "expected gcstress=N");
    expect_error("test Test", "Test: unknown key", NULL);
    expect_error("=5", "missing key", NULL);
    expect_error("test test=x", "test: key given twice", NULL);
    expect_error("seed=1 seed=1", "seed: key given twice", NULL);
    expect_error("test=", "test=: empty value", "test=GLOB");
    expect_error("test=a/b", "character '/' not allowed", "test=GLOB");
    expect_error("seed", "seed: missing value", "seed=N");
    expect_error("seed=", "seed=: empty value", "seed=N");
    expect_error("seed=-1", "seed=-1", "decimal or 0x-hex");
    expect_error("seed=12ab", "seed=12ab", "seed=N");
    expect_error("seed=0x", "seed=0x", "seed=N");
    expect_error("seed=18446744073709551616", "seed=18446744073709551616", "below 2^64");
    expect_error("procs=0", "procs=0", "1 <= N <= 64");
    expect_error("procs=65", "procs=65", "1 <= N <= 64");
    expect_error("procs=two", "procs=two", "procs=N");
    expect_error("procs", "procs: missing value", NULL);
    expect_error("gogc=on", "gogc=on", "gogc=off");
    expect_error("gogc=100001", "gogc=100001", "0 <= N <= 100000");
    expect_error("gogc", "gogc: missing value", NULL);
    expect_error("memlimit=lots", "memlimit=lots", "K M G KiB MiB GiB");
    expect_error("memlimit=64MB", "unknown suffix 'MB'", "K M G KiB MiB GiB");
    expect_error("memlimit=64m", "unknown suffix 'm'", NULL);
    expect_error("memlimit=1023K", "memlimit=1023K: out of range", "1MiB");
    expect_error("memlimit=1025G", "memlimit=1025G: out of range", "1024GiB");
    expect_error("memlimit=99999999999999999999", "memlimit=99999999999999999999", "SIZE");
    expect_error("memlimit=18014398509481984K", "out of range", NULL); /* 2^54 K: shift would overflow */
    expect_error("memlimit", "memlimit: missing value", NULL);
    expect_error("gctrace=2", "gctrace=2", "gctrace=0 or gctrace=1");
    expect_error("gctrace=yes", "gctrace=yes", NULL);
    expect_error("gctrace", "gctrace: missing value", NULL);
    expect_error("bt_depth=31", "bt_depth=31", "0 <= N <= 30");
    expect_error("profile=cpu", "profile=cpu", "expected profile=heap");
    expect_error("memprofilerate=1073741825", "memprofilerate=1073741825", "0 <= N <= 1073741824");
    expect_error("memprofilerate=-1", "memprofilerate=-1", "expected memprofilerate=N");
    expect_error("bt_depth=-1", "bt_depth=-1", "bt_depth=N");
    expect_error("bt_depth=deep", "bt_depth=deep", NULL);
    expect_error("bt_depth", "bt_depth: missing value", NULL);
    expect_error("bt_depth=4 bt_depth=4", "bt_depth: key given twice", NULL);
    expect_error("bt_deep=4", "bt_deep: unknown key", "bt_depth");
    expect_error("crash=boom", "crash=boom: unknown kind", "pf|gp|ud|de|nx|wp|guard|stack");
    expect_error("crash", "crash: missing value", NULL);
    expect_error("run=a b=c", "b: unknown key", NULL);
    expect_error("run=x/y", "character '/' not allowed", "run=NAME");
    expect_error("run", "run: missing value", NULL);
    expect_error("test crash=pf", "at most one", NULL);
    expect_error("test run=demo", "at most one", NULL);
    expect_error("crash=ud run=demo", "at most one", NULL);
    expect_error("test\x01", "control character 0x01", NULL);
    expect_error("seed=5\x7f", "control character 0x7f", NULL);

    /* A long bad value is quoted only in part, and the message still fits. */
    char line[600];
    strcpy(line, "procs=");
    memset(line + 6, '9', 500);
    line[506] = '\0';
    int rc = cmdline_parse(line, &cl, err, sizeof(err));
    tap_check(rc == -1 && strlen(err) < sizeof(err) - 1 && strstr(err, "1 <= N <= 64"),
              "cmdline.error_long_value_quoted_in_part: %s", err);

    char glob[CMDLINE_GLOB_MAX + 8];
    memset(glob, 0, sizeof(glob));
    strcpy(glob, "test=");
    memset(glob + 5, 'a', CMDLINE_GLOB_MAX);
    expect_error(glob, "at most 127", NULL);

    /* A bad key after good ones still fails the whole line. */
    rc = cmdline_parse("seed=5 bogus", &cl, err, sizeof(err));
    tap_check(rc == -1 && strstr(err, "bogus: unknown key"), "cmdline.error_after_good_key: %s", err);

    /* A tiny error buffer truncates but stays terminated. */
    char tiny[8];
    rc = cmdline_parse("bogus", &cl, tiny, sizeof(tiny));
    tap_check(rc == -1 && strlen(tiny) == 7, "cmdline.error_small_buffer: \"%s\"", tiny);
}

static void test_glob(void)
{
    static const struct { const char *pat, *name; bool match; } cases[] = {
        { "*", "core.fmt.width", true },
        { "*", "", true },
        { "", "", true },
        { "", "a", false },
        { "core.*", "core.fmt.width", true },
        { "core.*", "mm.buddy", false },
        { "*.width", "core.fmt.width", true },
        { "*.width", "core.fmt.widths", false },
        { "core.?mt.*", "core.fmt.x", true },
        { "core.?mt.*", "core.mt.x", false },
        { "c*e*t", "core.fmt.width.test", true },
        { "*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
        { "*a*a*a*b", "aaaaaaaaaaaaab", true },
        { "exact", "exact", true },
        { "exact", "exac", false },
        { "exac", "exact", false },
        { "**", "x", true },
        { "?", "", false },
        { "a*", "a", true },
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (glob_match(cases[i].pat, cases[i].name) != cases[i].match) {
            tap_diag("glob \"%s\" vs \"%s\": want %d", cases[i].pat, cases[i].name, cases[i].match);
            bad++;
        }
    }
    tap_check(bad == 0, "glob.match: %zu cases", sizeof(cases) / sizeof(cases[0]));

    bool ok = glob_has_literal_prefix("selftest.*", "selftest.") &&
              glob_has_literal_prefix("selftest.hang", "selftest.") &&
              !glob_has_literal_prefix("*", "selftest.") && !glob_has_literal_prefix("self*", "selftest.") &&
              !glob_has_literal_prefix("selftest?x", "selftest.") && !glob_has_literal_prefix("sel", "selftest.");
    tap_check(ok, "glob.literal_prefix: selftests need an explicit glob");
}

int main(void)
{
    test_empty();
    test_good();
    test_errors();
    test_glob();
    return tap_done();
}
