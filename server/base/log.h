/* log: where hookgate's own lines go, and their severity.
 *
 * Lines go to standard error, or to server.error_log_file and server.access_log_file once
 * log_open has opened them; log_reopen (SIGUSR1) opens the same paths again, so a rotated
 * file is let go and a new one created. Each line reaches its descriptor in one write(2)
 * of at most LOG_LINE_MAX bytes, so lines of other threads never mix. When standard error
 * is systemd's journal stream (JOURNAL_STREAM names it), each line starts with its syslog
 * priority, "<3>" for errors and "<6>" for information, which journald reads and strips. */
#ifndef HOOKGATE_LOG_H
#define HOOKGATE_LOG_H

#include <stddef.h>

#define LOG_LINE_MAX 2048  /* bytes of one line written by log_error / log_info, prefix included */
#define LOG_ERROR_MAX 512  /* bytes of a log_open / log_reopen error message, NUL included */
#define LOG_FILE_MODE 0640 /* a log file log_open or log_reopen creates (less the umask) */

/* Looks at standard error once: is it the journal's stream? Called before the first line. */
void log_init(void);

/* Sends lines to these files from now on: error_path (every line but access lines) over
 * standard error, access_path to a descriptor of its own; NULL keeps standard error. Opens
 * for appending, creating a missing file. 0, or -1 with "PATH: why" in err and nothing
 * changed. Called once, before the threads start. */
int log_open(const char *error_path, const char *access_path, char err[LOG_ERROR_MAX]);

/* Opens the files log_open opened again, by path, and puts each in place of the old one
 * (dup2: a write of another thread goes to the old file or the new, never nowhere). A file
 * that cannot be opened keeps its old descriptor. 0, or -1 with "PATH: why" in err. Safe
 * while other threads write; only one thread may call it at a time. */
int log_reopen(char err[LOG_ERROR_MAX]);

/* The descriptor access lines go to, and whether each needs the journal's "<6>" prefix
 * (1 when they go to the journal's stream). */
int log_access_fd(void);
int log_access_to_journal(void);

/* "hookgate: " and the formatted text, as one line (a newline is added; a line longer than
 * LOG_LINE_MAX is cut). */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
