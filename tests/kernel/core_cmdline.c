/*
 * core_cmdline.c - the command-line parser and the test glob on the target
 * (the exhaustive tables are in tests/host/test_cmdline.c; these check the
 * kernel build of the same code, every key and the main error classes).
 */
#include "kernel/cmdline.h"
#include "kernel/glob.h"
#include "kernel/ktest.h"
#include "kernel/lib/string.h"

static bool contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay != '\0'; hay++)
        if (strncmp(hay, needle, n) == 0)
            return true;
    return n == 0;
}

KTEST(cmdline_every_key, "core.cmdline.every_key")
{
    struct cmdline cl;
    char err[CMDLINE_ERR_MAX];
    int rc = cmdline_parse("test=core.* seed=0x10 procs=3 gogc=off memlimit=64MiB gctrace=1 bt_depth=18", &cl,
                           err, sizeof(err));
    if (rc != 0)
        ktest_diag("error: %s", err);
    KT_EQ(rc, 0);
    KT_ASSERT(cl.test);
    KT_STREQ(cl.test_glob, "core.*");
    KT_ASSERT(cl.seed_set);
    KT_EQ(cl.seed, 16);
    KT_EQ(cl.procs, 3);
    KT_ASSERT(cl.gogc_set && cl.gogc_off);
    KT_EQ(cl.memlimit, 64ull << 20);
    KT_ASSERT(cl.gctrace_set && cl.gctrace);
    KT_ASSERT(cl.bt_depth_set);
    KT_EQ(cl.bt_depth, 18);
    KT_EQ(cl.crash, CRASH_NONE);

    KT_EQ(cmdline_parse("crash=wp", &cl, err, sizeof(err)), 0);
    KT_EQ(cl.crash, CRASH_WP);
    KT_EQ(cmdline_parse("run=demo gogc=250 memlimit=2G", &cl, err, sizeof(err)), 0);
    KT_STREQ(cl.run, "demo");
    KT_EQ(cl.gogc, 250);
    KT_EQ(cl.memlimit, 2ull << 30);
    KT_EQ(cmdline_parse("test", &cl, err, sizeof(err)), 0);
    KT_STREQ(cl.test_glob, "*");
}

KTEST(cmdline_errors, "core.cmdline.errors")
{
    static const struct {
        const char *line;
        const char *want; /* the message must contain this */
    } bad[] = {
        { "bogus=1", "bogus: unknown key" },
        { "seed=1 seed=2", "seed: key given twice" },
        { "seed", "seed: missing value" },
        { "procs=0", "1 <= N <= 64" },
        { "gogc=maybe", "gogc=off" },
        { "memlimit=5TB", "unknown suffix 'TB'" },
        { "memlimit=512K", "out of range" },
        { "gctrace=on", "gctrace=0 or gctrace=1" },
        { "bt_depth=99", "0 <= N <= 30" },
        { "crash=boom", "pf|gp|ud|de|nx|wp|guard|stack" },
        { "test=a/b", "'/' not allowed" },
        { "test crash=pf", "at most one" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cmdline cl;
        char err[CMDLINE_ERR_MAX];
        int rc = cmdline_parse(bad[i].line, &cl, err, sizeof(err));
        if (rc != -1 || !contains(err, bad[i].want))
            ktest_diag("\"%s\" gave rc %d, \"%s\"; want an error containing \"%s\"", bad[i].line, rc,
                       rc ? err : "", bad[i].want);
        KT_EQ(rc, -1);
        KT_ASSERT(contains(err, bad[i].want));
    }
}

KTEST(cmdline_glob, "core.cmdline.glob")
{
    KT_ASSERT(glob_match("*", "core.fmt.width"));
    KT_ASSERT(glob_match("core.*", "core.fmt.width"));
    KT_ASSERT(glob_match("core.fmt.?idth", "core.fmt.width"));
    KT_ASSERT(!glob_match("core.fmt", "core.fmt.width"));
    KT_ASSERT(!glob_match("mm.*", "core.fmt.width"));
    KT_ASSERT(glob_has_literal_prefix("selftest.*", "selftest."));
    KT_ASSERT(!glob_has_literal_prefix("*", "selftest."));
}
