/* driver: runs a libFuzzer entry point without libFuzzer, for CI.
 *
 * Feeds it every file of a seed corpus directory, then N inputs made by mutating those
 * seeds and by pure random bytes, from a fixed seed, so a failure reproduces; when a
 * sanitizer stops the run, the input at fault is written to fuzz-crash.bin.
 * Usage: driver CORPUS_DIR ITERATIONS [SEED] */
#include <dirent.h>
#include <sanitizer/common_interface_defs.h>
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

static void save_current(void)
{
    FILE *f = fopen("fuzz-crash.bin", "wb");
    if (f != NULL) {
        fwrite(current, 1, current_size, f);
        fclose(f);
        fprintf(stderr, "fuzz: the failing input is in fuzz-crash.bin\n");
    }
}

static void run(const uint8_t *data, size_t size)
{
    current = data, current_size = size;
    uint8_t *copy = malloc(size ? size : 1); /* an exact-size heap copy lets ASan see overreads */
    memcpy(copy, data, size);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR ITERATIONS [SEED]\n", argv[0]);
        return 2;
    }
    long iterations = atol(argv[2]);
    __sanitizer_set_death_callback(save_current);
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 0x9e3779b97f4a7c15ull;
    static uint8_t seeds[MAX_SEEDS][FUZZ_MAX_INPUT];
    static size_t seed_len[MAX_SEEDS];
    size_t n_seeds = 0;
    DIR *dir = opendir(argv[1]);
    if (dir == NULL) {
        perror(argv[1]);
        return 2;
    }
    for (struct dirent *e; (e = readdir(dir)) != NULL && n_seeds < MAX_SEEDS;) {
        char path[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        seed_len[n_seeds] = fread(seeds[n_seeds], 1, FUZZ_MAX_INPUT, f);
        fclose(f);
        run(seeds[n_seeds], seed_len[n_seeds]);
        n_seeds++;
    }
    closedir(dir);

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
                case 4: /* pick another decoder for the same bytes */
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
