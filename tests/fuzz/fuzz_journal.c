/* fuzz_journal: start-up's journal replay on a file of arbitrary bytes.
 *
 * The input (after its first byte) becomes journal.1 in a fresh store directory; an odd
 * first byte puts the journal magic "HGJRNL01" in front of it, so the records themselves
 * get fuzzed, an even one leaves the magic to the input. journal_open must then either
 * load the store or refuse with a message, never anything worse; when it loads, what it
 * repaired (a torn tail cut off) must stay repaired: a second start-up loads the same
 * webhooks and finds nothing torn. Start-up has a secret key (FUZZ_KEY): plain secrets
 * are sealed as they load and a snapshot rewrites them at once, so the second start-up
 * also finds nothing left to seal; a secret sealed under another key id refuses start-up,
 * naming the file. The directory goes on tmpfs (/dev/shm) unless TMPDIR names another
 * place, and is removed after each input. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "journal.h"
#include "record.h"

/* The key start-up is given; corpus/journal/sealed_webhook holds a record sealed under it. */
static const uint8_t FUZZ_KEY[SEAL_KEY_LEN] = "hookgate-fuzz-journal-secret-key";
static seal_keyring *keys;

static char base[PATH_MAX - 64]; /* this process's own directory, made at the first input */
static char dir[PATH_MAX];       /* the store directory inside it */

static void remove_base(void)
{
    rmdir(base);
}

static void make_base(void)
{
    const char *root = getenv("TMPDIR");
    struct stat st;
    if (root == NULL || root[0] == '\0')
        root = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(base, sizeof(base), "%s/hookgate-fuzz-journal-XXXXXX", root);
    FUZZ_CHECK(mkdtemp(base) != NULL, "cannot make a temporary directory");
    snprintf(dir, sizeof(dir), "%s/store", base);
    atexit(remove_base);
}

static void remove_store(void)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    rmdir(dir);
}

static void write_journal(int magic, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(mkdir(dir, 0700) == 0, "cannot make the store directory");
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/journal.1", dir);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL, "cannot create journal.1");
    int ok = (!magic || fwrite(RECORD_JOURNAL_MAGIC, 1, RECORD_MAGIC_LEN, f) == RECORD_MAGIC_LEN) &&
             fwrite(data, 1, size, f) == size;
    FUZZ_CHECK(fclose(f) == 0 && ok, "cannot write journal.1");
}

/* One start-up and stop on a fresh store; 0 with the webhooks it loaded, or -1 and err. */
static int start_up(const journal_options *cfg, journal_stats *stats, size_t *webhooks, char err[JOURNAL_ERROR_MAX])
{
    store *s = store_create();
    FUZZ_CHECK(s != NULL, "out of memory");
    err[0] = '\0';
    journal *j = journal_open(cfg, s, stats, err);
    journal_close(j);
    *webhooks = store_count(s);
    store_destroy(s);
    return j != NULL ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (base[0] == '\0')
        make_base();
    if (keys == NULL) {
        keys = seal_keyring_create();
        FUZZ_CHECK(keys != NULL && seal_keyring_add(keys, FUZZ_KEY, 1) == 0, "cannot make the keyring");
    }
    write_journal(data[0] & 1, data + 1, size - 1);
    journal_options cfg = {
        .path = dir,
        .fsync = JOURNAL_FSYNC_NEVER, /* nothing is appended; start-up's own repairs still fsync */
        .fsync_interval_ms = 1000,
        .snapshot_after_bytes = 1ull << 40,
        .max_queue = 1,
        .keys = keys,
    };

    char err[JOURNAL_ERROR_MAX];
    journal_stats first, again;
    size_t loaded, loaded_again;
    if (start_up(&cfg, &first, &loaded, err) == 0) {
        /* every webhook came from a create record; updates and deletes are records too */
        FUZZ_CHECK(first.webhooks == loaded && first.journal_records >= loaded && first.snapshot == 0,
                   "start-up's stats disagree with the store");
        FUZZ_CHECK(start_up(&cfg, &again, &loaded_again, err) == 0, "a store that started once does not start again");
        FUZZ_CHECK(loaded_again == loaded && again.torn_bytes == 0,
                   "a second start-up does not find what the first one left");
        FUZZ_CHECK(again.resealed == 0 && (first.resealed == 0 || again.snapshot == 2),
                   "the first start-up's snapshot did not leave every secret sealed under the key");
    } else {
        FUZZ_CHECK(memchr(err, '\0', JOURNAL_ERROR_MAX) != NULL && strstr(err, "journal.1") != NULL,
                   "a refused start-up does not name the file");
    }
    remove_store();
    return 0;
}
