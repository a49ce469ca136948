/*
 * fuzz.h - what every harness in tests/fuzz/ shares.
 *
 * A harness is one LLVMFuzzerTestOneInput over one parser of hostile input.
 * It is built twice (tests/fuzz/build.mk):
 *   - with clang -fsanitize=fuzzer,address,undefined: `make fuzz` explores;
 *   - with gcc under ASan/UBSan, linked with tests/fuzz/replay.c: `make test`
 *     feeds it the checked-in corpus and every past crash (no clang needed).
 * Each harness checks an oracle (FUZZ_CHECK): a reference model, or the
 * promises the parser's header makes about what it accepts. A broken promise
 * aborts, which both builds report as a failure naming the input.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input being run, for failure reports: replay.c sets it; under
 * libFuzzer it stays NULL (libFuzzer names the input itself). Weak, so the
 * harness links without replay.c. */
__attribute__((weak)) const char *fuzz_input_name;

#define FUZZ_CHECK(cond, ...) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "fuzz oracle failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fprintf(stderr, "\n  input: %s\n", fuzz_input_name ? fuzz_input_name : "?"); \
            abort(); \
        } \
    } while (0)

/* A heap copy of exactly n bytes (ASan then catches a read one byte past). */
static inline uint8_t *fuzz_dup(const uint8_t *data, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    if (n)
        memcpy(p, data, n);
    return p;
}

/* Little-endian loads from input bytes (any alignment). */
static inline uint64_t fuzz_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Takes `bytes` little-endian bytes from the front of the input (zeros once
 * it runs out), for harnesses that read parameters before the payload. */
static inline uint64_t fuzz_take(const uint8_t **data, size_t *size, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && *size > 0; i++, (*data)++, (*size)--)
        v |= (uint64_t)**data << (8 * i);
    return v;
}

#endif
