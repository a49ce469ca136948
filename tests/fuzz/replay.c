/*
 * replay.c - main() for the gcc build of a harness: runs every input of the
 * checked-in corpus and crash directories through LLVMFuzzerTestOneInput
 * under ASan/UBSan and prints TAP (tests/host/tap.h), so `make test` replays
 * them as regressions without clang.
 *
 *   replay_NAME              tests/fuzz/corpus/NAME/ and tests/fuzz/crashes/NAME/
 *   replay_NAME PATH...      those files or directories instead
 *
 * One TAP line per corpus directory (it may hold hundreds of inputs) and one
 * per crash file. An input that breaks an oracle or trips a sanitizer ends
 * the process; the line before says which input it was.
 */
#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"
#include "tests/host/tap.h"

#include <sanitizer/common_interface_defs.h>

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME=\"target\""
#endif

static void on_death(void)
{
    fprintf(stderr, "replay: failed on input %s\n", fuzz_input_name ? fuzz_input_name : "?");
    printf("not ok - input %s\n", fuzz_input_name ? fuzz_input_name : "?");
    fflush(stdout);
}

/* Runs one file; false if it cannot be read. */
static bool run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    size_t got = len > 0 ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    uint8_t *exact = fuzz_dup(buf, got);
    free(buf);
    fuzz_input_name = path;
    LLVMFuzzerTestOneInput(exact, got);
    fuzz_input_name = NULL;
    free(exact);
    return true;
}

static int skip_hidden(const struct dirent *d) { return d->d_name[0] != '.' && strcmp(d->d_name, "README") != 0; }

/* Runs every file of dir in name order; per_file: one TAP line each. Returns
 * the number run, or -1 if dir does not exist. */
static int run_dir(const char *dir, bool per_file)
{
    struct dirent **names;
    int n = scandir(dir, &names, skip_hidden, alphasort);
    if (n < 0)
        return -1;
    int ran = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            bool ok = run_file(path);
            if (per_file)
                tap_check(ok, "%s: replayed without a finding", path);
            ran += ok;
        }
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    __sanitizer_set_death_callback(on_death);
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            struct stat st;
            if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
                tap_check(run_dir(argv[i], false) >= 0, "%s: every input replayed", argv[i]);
            else
                tap_check(run_file(argv[i]), "%s: replayed without a finding", argv[i]);
        }
        return tap_done();
    }
    const char *corpus = "tests/fuzz/corpus/" FUZZ_NAME, *crashes = "tests/fuzz/crashes/" FUZZ_NAME;
    int n = run_dir(corpus, false);
    tap_check(n > 0, "%s: %d inputs replayed without a finding", corpus, n);
    run_dir(crashes, true); /* past findings, one line each; none yet is fine */
    return tap_done();
}
