/* driver: runs a libFuzzer entry point without libFuzzer, for CI.
 *
 * Feeds it every file of a seed corpus directory (or the one file named), then N inputs
 * made by mutating those seeds and by pure random bytes, from a fixed seed, so a failure
 * reproduces; when a sanitizer or a broken property (abort) stops the run, the input at
 * fault is written to <program>-crash.bin in the working directory. Rerun it with
 * `<program> <program>-crash.bin 0`.
 * Usage: driver CORPUS_DIR|FILE ITERATIONS [SEED] */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <sanitizer/common_interface_defs.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEEDS 256
#define FUZZ_MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: fast, deterministic, good enough to pick mutations */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static const uint8_t *current;
static size_t current_size;
static char crash_name[256];

static void save_current(void)
{
    FILE *f = fopen(crash_name, "wb");
    if (f != NULL) {
        fwrite(current, 1, current_size, f);
        fclose(f);
        fprintf(stderr, "fuzz: the failing input is in %s\n", crash_name);
    }
}

/* A broken property aborts; sanitizers leave SIGABRT alone, so save the input here. */
static void on_abort(int sig)
{
    save_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run(const uint8_t *data, size_t size)
{
    current = data, current_size = size;
    uint8_t *copy = malloc(size ? size : 1); /* an exact-size heap copy lets ASan see overreads */
    memcpy(copy, data, size);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
}

static uint8_t seeds[MAX_SEEDS][FUZZ_MAX_INPUT];
static size_t seed_len[MAX_SEEDS];
static size_t n_seeds;

/* Runs a seed file and keeps it for mutation (its first FUZZ_MAX_INPUT bytes). */
static int add_seed(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    seed_len[n_seeds] = fread(seeds[n_seeds], 1, FUZZ_MAX_INPUT, f);
    fclose(f);
    run(seeds[n_seeds], seed_len[n_seeds]);
    n_seeds++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR|FILE ITERATIONS [SEED]\n", argv[0]);
        return 2;
    }
    long iterations = atol(argv[2]);
    snprintf(crash_name, sizeof(crash_name), "%s-crash.bin", basename(argv[0]));
    __sanitizer_set_death_callback(save_current);
    signal(SIGABRT, on_abort);
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 0x9e3779b97f4a7c15ull;
    /* seeds in name order, so the same seed number makes the same inputs on any machine */
    struct dirent **names;
    int n_names = scandir(argv[1], &names, NULL, alphasort);
    if (n_names < 0 && errno != ENOTDIR) {
        perror(argv[1]);
        return 2;
    }
    if (n_names < 0 && add_seed(argv[1]) != 0)
        return 2;
    for (int i = 0; i < n_names; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]->d_name);
        if (names[i]->d_name[0] != '.' && n_seeds < MAX_SEEDS && add_seed(path) != 0)
            return 2;
        free(names[i]);
    }
    if (n_names >= 0)
        free(names);

    uint8_t buf[FUZZ_MAX_INPUT];
    for (long i = 0; i < iterations; i++) {
        size_t len;
        if (n_seeds == 0 || rng() % 8 == 0) {
            len = rng() % 512; /* pure noise */
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)rng();
        } else {
            size_t s = rng() % n_seeds;
            len = seed_len[s];
            memcpy(buf, seeds[s], len);
            for (int m = 1 + (int)(rng() % 6); m > 0; m--) {
                size_t at = len ? rng() % len : 0;
                switch (rng() % 5) {
                case 0: /* flip a bit */
                    if (len)
                        buf[at] ^= (uint8_t)(1u << (rng() % 8));
                    break;
                case 1: /* set a byte */
                    if (len)
                        buf[at] = (uint8_t)rng();
                    break;
                case 2: /* truncate */
                    len = at;
                    break;
                case 3: /* duplicate a span */
                    if (len && len < FUZZ_MAX_INPUT / 2) {
                        size_t n = 1 + rng() % (len - at);
                        memmove(buf + at + n, buf + at, len - at);
                        len += n;
                    }
                    break;
                case 4: /* another first byte: a frame flag, or the journal target's magic switch */
                    if (len)
                        buf[0] = (uint8_t)rng();
                    break;
                }
            }
        }
        run(buf, len);
    }
    printf("fuzz: %zu seeds and %ld generated inputs, no crash\n", n_seeds, iterations);
    return 0;
}
