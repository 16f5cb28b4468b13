/* console: the `droplit` command line, a thin shell over the SDK (droplit.h).
 *
 *   droplit webhook create CALLBACK-URL --ecosystemId ECOSYSTEM-ID [--secret S] [--description D]
 *                          [--idempotency-key K]
 *   droplit webhook info ID
 *   droplit webhook list --ecosystemId ECOSYSTEM-ID [--limit N] [--page-token TOKEN]
 *   droplit webhook update ID PROPERTY VALUE      (PROPERTY: url, secret, description, disabled)
 *   droplit webhook delete ID
 *   droplit webhook invoke ID
 *   droplit webhook attempts ID [--limit N] [--before SEQ]
 *   droplit webhook recover ID --since TIME
 *   droplit event publish --ecosystemId ECOSYSTEM-ID [--idempotency-key K] ITEM-JSON...
 *   droplit event get ID
 *   droplit event resend ID [--webhookId W]
 *
 * It parses arguments, calls the SDK and prints; every business rule stays on the server,
 * whose problems come back one `error: <path>: <message>` line each, with an exit code per
 * kind of failure (the table below, also printed by --help). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "droplit.h"

#define DEFAULT_SERVER "http://127.0.0.1:8080" /* the embedded default configuration's listener */
#define MAX_ARGUMENTS 256                      /* options and words of one command line */
#define MAX_POSITIONALS MAX_ARGUMENTS          /* words: a publish takes as many items as fit */
#define MAX_TIMEOUT_SECONDS 86400.0
#define DEFAULT_TIMEOUT_SECONDS 30

enum exit_code {
    EXIT_OK = 0,
    EXIT_OTHER = 1,     /* anything below does not cover: 5xx, 413, an unexpected answer */
    EXIT_USAGE = 2,     /* the command line is wrong */
    EXIT_INVALID = 3,   /* HTTP 400: the server listed the problems */
    EXIT_NOT_FOUND = 4, /* HTTP 404 */
    EXIT_AUTH = 5,      /* HTTP 401 or 403 */
    EXIT_TRANSPORT = 6, /* no answer: refused, unreachable, timed out, TLS */
};

static const char EXIT_CODES_HELP[] = "Exit status:\n"
                                      "  0  success\n"
                                      "  1  any other failure (a server error, an unexpected answer)\n"
                                      "  2  usage error: the command line is wrong\n"
                                      "  3  validation error (HTTP 400): one line per problem\n"
                                      "  4  not found (HTTP 404)\n"
                                      "  5  authentication or permission (HTTP 401, 403)\n"
                                      "  6  transport: the server is unreachable, too slow or fails TLS\n";

static const char COMMON_HELP[] =
    "Options of every command:\n"
    "  --server URL        the server (default: $DROPLIT_SERVER, else " DEFAULT_SERVER ")\n"
    "  --token TOKEN       an account or server token (default: $DROPLIT_TOKEN)\n"
    "  --output FORMAT     json (default: the answer as pretty JSON), table, or id (the\n"
    "                      commands that print webhooks; id also for event publish)\n"
    "  --timeout SECONDS   for the whole request, fractions allowed (default: 30)\n"
    "  --http VERSION      2 (default: HTTP/2 over TLS when the server agrees, else 1.1),\n"
    "                      1.1, or 2-prior-knowledge (HTTP/2 also on cleartext http)\n"
    "  --encoding ENC      json (default) or protobuf (binary messages of the schema)\n"
    "  --cacert FILE       PEM certificates to verify an https server with\n"
    "  -h, --help          show help (after a command: that command's help)\n"
    "  --version           print the version\n";

typedef enum command {
    CMD_NONE = 0,
    CMD_WEBHOOK,
    CMD_CREATE,
    CMD_INFO,
    CMD_LIST,
    CMD_UPDATE,
    CMD_DELETE,
    CMD_INVOKE,
    CMD_ATTEMPTS,
    CMD_RECOVER,
    CMD_EVENT,
    CMD_PUBLISH,
    CMD_EVENT_GET,
    CMD_RESEND,
    CMD_ECOSYSTEM,
    CMD_ECOSYSTEMS,
} command;

/* The words of each command: its group's ("webhook", "event" or "ecosystem"), then its own. */
static const struct {
    command cmd, group;
    const char *word;
} COMMANDS[] = {
    {CMD_CREATE, CMD_WEBHOOK, "create"},     {CMD_INFO, CMD_WEBHOOK, "info"},       {CMD_LIST, CMD_WEBHOOK, "list"},
    {CMD_UPDATE, CMD_WEBHOOK, "update"},     {CMD_DELETE, CMD_WEBHOOK, "delete"},   {CMD_INVOKE, CMD_WEBHOOK, "invoke"},
    {CMD_ATTEMPTS, CMD_WEBHOOK, "attempts"}, {CMD_RECOVER, CMD_WEBHOOK, "recover"}, {CMD_PUBLISH, CMD_EVENT, "publish"},
    {CMD_EVENT_GET, CMD_EVENT, "get"},       {CMD_RESEND, CMD_EVENT, "resend"},     {CMD_ECOSYSTEMS, CMD_ECOSYSTEM, "list"},
};
#define N_COMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

static const char *group_word(command group)
{
    return group == CMD_EVENT ? "event" : group == CMD_ECOSYSTEM ? "ecosystem" : "webhook";
}

static int is_group(command cmd)
{
    return cmd == CMD_WEBHOOK || cmd == CMD_EVENT || cmd == CMD_ECOSYSTEM;
}

typedef struct command_help {
    command cmd;
    const char *usage;
    const char *about;
} command_help;

static const command_help HELPS[] = {
    {CMD_NONE, "droplit webhook|event|ecosystem COMMAND [ARGUMENTS] [OPTIONS]",
     "Manage the webhooks of a Droplit IoE server and publish events to them.\n\n"
     "Commands:\n"
     "  webhook create CALLBACK-URL --ecosystemId ECOSYSTEM-ID [--secret S] [--description D]\n"
     "  webhook info ID\n"
     "  webhook list --ecosystemId ECOSYSTEM-ID [--limit N] [--page-token TOKEN]\n"
     "  webhook update ID PROPERTY VALUE\n"
     "  webhook delete ID\n"
     "  webhook invoke ID\n"
     "  webhook attempts ID [--limit N] [--before SEQ]\n"
     "  webhook recover ID --since TIME\n"
     "  event publish --ecosystemId ECOSYSTEM-ID [--idempotency-key K] ITEM-JSON...\n"
     "  event get ID\n"
     "  event resend ID [--webhookId W]\n"
     "  ecosystem list\n"},
    {CMD_WEBHOOK, "droplit webhook COMMAND [ARGUMENTS] [OPTIONS]",
     "Commands:\n"
     "  create CALLBACK-URL --ecosystemId ECOSYSTEM-ID [--secret S] [--description D]\n"
     "                      create a webhook\n"
     "  info ID             show one webhook\n"
     "  list --ecosystemId ECOSYSTEM-ID [--limit N] [--page-token TOKEN]\n"
     "                      list an ecosystem's webhooks, oldest first\n"
     "  update ID PROPERTY VALUE\n"
     "                      change one property: url, secret, description or disabled\n"
     "  delete ID           delete a webhook\n"
     "  invoke ID           have the server call the webhook's url once, now\n"
     "  attempts ID [--limit N] [--before SEQ]\n"
     "                      the calls of the webhook's url, newest first\n"
     "  recover ID --since TIME\n"
     "                      deliver again the webhook's failed deliveries since TIME\n"},
    {CMD_EVENT, "droplit event COMMAND [ARGUMENTS] [OPTIONS]",
     "Commands:\n"
     "  publish --ecosystemId ECOSYSTEM-ID [--idempotency-key K] ITEM-JSON...\n"
     "                      deliver notifications to every enabled webhook of an ecosystem\n"
     "  get ID              show an event and its deliveries\n"
     "  resend ID [--webhookId W]\n"
     "                      deliver an event again, now\n"},
    {CMD_ECOSYSTEM, "droplit ecosystem COMMAND [OPTIONS]",
     "Commands:\n"
     "  list                the ecosystems the token may act on\n"},
    {CMD_CREATE,
     "droplit webhook create CALLBACK-URL --ecosystemId ECOSYSTEM-ID [--secret S] [--description D]\n"
     "                      [--idempotency-key K]",
     "Create a webhook: the server calls CALLBACK-URL with the ecosystem's events.\n\n"
     "  --ecosystemId ID    the ecosystem (required)\n"
     "  --secret S          a secret to sign the calls with; stored by the server, never shown\n"
     "                      again. Hazard: other local users may see command lines (ps)\n"
     "  --description D     free text\n"
     "  --idempotency-key K the same K again within 24 h shows the webhook the first run made\n"
     "                      instead of creating another: retry a create whose answer was lost\n"},
    {CMD_INFO, "droplit webhook info ID", "Show one webhook.\n"},
    {CMD_LIST, "droplit webhook list --ecosystemId ECOSYSTEM-ID [--limit N] [--page-token TOKEN]",
     "List the webhooks of an ecosystem, oldest first: all of them, fetched page by page,\n"
     "unless --limit or --page-token asks for one page.\n\n"
     "  --ecosystemId ID    the ecosystem (required)\n"
     "  --limit N           one page of at most N webhooks (the server's maximum applies)\n"
     "  --page-token TOKEN  the page after the one that gave TOKEN; when more follow a page,\n"
     "                      JSON output has its nextPageToken, other outputs print\n"
     "                      \"next page: --page-token TOKEN\" on stderr\n"},
    {CMD_UPDATE, "droplit webhook update ID PROPERTY VALUE",
     "Change one property of a webhook; the others keep their values. Prints nothing.\n\n"
     "  url VALUE           the callback URL\n"
     "  secret VALUE        a new secret; \"\" removes it. Hazard: other local users may see\n"
     "                      command lines (ps)\n"
     "  description VALUE   free text\n"
     "  disabled VALUE      true or false\n\n"
     "The server wants the url with every update, so for the other properties the\n"
     "webhook's url is read first and sent back: a url changed by someone else between\n"
     "the two requests is set back.\n"},
    {CMD_DELETE, "droplit webhook delete ID", "Delete a webhook. Prints nothing.\n"},
    {CMD_INVOKE, "droplit webhook invoke ID",
     "Have the server call the webhook's url once, now, with a signed verification\n"
     "notification (a disabled webhook too). Prints the server's \"Webhook verified\" when\n"
     "the url answers 2xx (whatever --output says); otherwise the server's reason\n"
     "(\"Webhook call failed: the url answered 500\") on stderr, exit status 1. Every run\n"
     "is one more call of the url.\n"},
    {CMD_ATTEMPTS, "droplit webhook attempts ID [--limit N] [--before SEQ]",
     "Show one page of the calls of the webhook's url (deliveries, resends and invokes),\n"
     "newest first: when, which event and attempt, what the url answered (statusCode, the\n"
     "start of its body) or the error. When older attempts follow, the JSON ends with\n"
     "\"nextBefore\": pass it as --before to see them.\n\n"
     "  --limit N           at most N attempts (default: the server's page size; its\n"
     "                      maximum applies)\n"
     "  --before SEQ        the attempts older than SEQ (a nextBefore, or an attempt's seq)\n"},
    {CMD_RECOVER, "droplit webhook recover ID --since TIME",
     "Deliver again, now, each of the webhook's failed deliveries of events published at\n"
     "or after TIME (at most the server's delivery.max_recover). Prints {\"deliveries\": N},\n"
     "how many were queued. Every run delivers them once more.\n\n"
     "  --since TIME        an RFC 3339 time: 2026-11-28T07:00:00Z, fractions and an offset\n"
     "                      (+02:00) allowed (required)\n"},
    {CMD_PUBLISH, "droplit event publish --ecosystemId ECOSYSTEM-ID [--idempotency-key K] ITEM-JSON...",
     "Publish an event: the server stores the items, one notification each (at most its\n"
     "delivery.max_items), and delivers them in one call to each enabled webhook of the\n"
     "ecosystem, retrying on its schedule. Prints the event's id and how many webhooks it\n"
     "goes to ({\"id\": ..., \"webhooks\": N}; --output id: the id alone).\n\n"
     "  ITEM-JSON           one JSON object per argument, such as '{\"door\":\"open\"}'; an\n"
     "                      error names them items[0], items[1], ... (a usage error)\n"
     "  --ecosystemId ID    the ecosystem (required)\n"
     "  --idempotency-key K the same K again within 24 h shows the event the first run\n"
     "                      published instead of publishing another: retry a publish whose\n"
     "                      answer was lost\n"},
    {CMD_EVENT_GET, "droplit event get ID",
     "Show an event: its ecosystem, creation time, items and, per webhook, its delivery:\n"
     "state (pending, delivered, failed or cancelled), attempts made, nextAttemptAt,\n"
     "lastStatusCode and lastError.\n"},
    {CMD_ECOSYSTEMS, "droplit ecosystem list",
     "Show the ecosystems the token may act on: an account token's are its account's, a\n"
     "server token's its own, as {\"items\": [{\"id\": ...}, ...]}.\n"},
    {CMD_RESEND, "droplit event resend ID [--webhookId W]",
     "Deliver the event again, now: to webhook W, or to each of its webhooks that is still\n"
     "enabled. Prints {\"deliveries\": N}, how many were queued. Every run delivers once\n"
     "more.\n\n"
     "  --webhookId W       only to this webhook\n"},
};

/* Every option; `commands` is a bit set of the commands that take it (0 = all). */
typedef struct option {
    const char *name;
    int takes_value;
    unsigned commands;
    size_t offset; /* of its const char * in struct args */
} option;

typedef struct args {
    const char *server, *token, *output, *timeout, *http, *encoding, *cacert;
    const char *ecosystem_id, *secret, *description, *idempotency_key, *limit, *page_token;
    const char *before, *since, *webhook_id;
    const char *help, *version; /* non-NULL when given */
    const char *words[MAX_POSITIONALS];
    int n_words;
} args;

#define BIT(c) (1u << (c))
static const option OPTIONS[] = {
    {"--server", 1, 0, offsetof(args, server)},
    {"--token", 1, 0, offsetof(args, token)},
    {"--output", 1, 0, offsetof(args, output)},
    {"--timeout", 1, 0, offsetof(args, timeout)},
    {"--http", 1, 0, offsetof(args, http)},
    {"--encoding", 1, 0, offsetof(args, encoding)},
    {"--cacert", 1, 0, offsetof(args, cacert)},
    {"--ecosystemId", 1, BIT(CMD_CREATE) | BIT(CMD_LIST) | BIT(CMD_PUBLISH), offsetof(args, ecosystem_id)},
    {"--secret", 1, BIT(CMD_CREATE), offsetof(args, secret)},
    {"--description", 1, BIT(CMD_CREATE), offsetof(args, description)},
    {"--idempotency-key", 1, BIT(CMD_CREATE) | BIT(CMD_PUBLISH), offsetof(args, idempotency_key)},
    {"--limit", 1, BIT(CMD_LIST) | BIT(CMD_ATTEMPTS), offsetof(args, limit)},
    {"--page-token", 1, BIT(CMD_LIST), offsetof(args, page_token)},
    {"--before", 1, BIT(CMD_ATTEMPTS), offsetof(args, before)},
    {"--since", 1, BIT(CMD_RECOVER), offsetof(args, since)},
    {"--webhookId", 1, BIT(CMD_RESEND), offsetof(args, webhook_id)},
    {"--help", 0, 0, offsetof(args, help)},
    {"-h", 0, 0, offsetof(args, help)},
    {"--version", 0, 0, offsetof(args, version)},
};

/* ---- printing --------------------------------------------------------------------------- */

/* Prints s with control characters as '?': server text must not drive the terminal. */
static void put_clean(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

static int usage_error(command cmd, const char *fmt, const char *detail)
{
    fputs("error: ", stderr);
    fprintf(stderr, fmt, detail);
    fputc('\n', stderr);
    const char *usage = HELPS[0].usage;
    for (size_t i = 0; i < sizeof(HELPS) / sizeof(HELPS[0]); i++)
        if (HELPS[i].cmd == cmd)
            usage = HELPS[i].usage;
    fprintf(stderr, "usage: %s\n", usage);
    const char *group = is_group(cmd) ? group_word(cmd) : NULL, *word = NULL;
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (COMMANDS[i].cmd == cmd)
            group = group_word(COMMANDS[i].group), word = COMMANDS[i].word;
    fprintf(stderr, "Run 'droplit%s%s%s%s --help' for more.\n", group != NULL ? " " : "", group != NULL ? group : "",
            word != NULL ? " " : "", word != NULL ? word : "");
    return EXIT_USAGE;
}

static int print_help(command cmd)
{
    for (size_t i = 0; i < sizeof(HELPS) / sizeof(HELPS[0]); i++) {
        if (HELPS[i].cmd != cmd)
            continue;
        printf("Usage: %s\n\n%s\n%s\nServer and token come from --server / --token, else from\n"
               "DROPLIT_SERVER / DROPLIT_TOKEN, else the server is " DEFAULT_SERVER " (the\n"
               "address of hookgate's default configuration) and no token is sent.\n\n%s",
               HELPS[i].usage, HELPS[i].about, COMMON_HELP, EXIT_CODES_HELP);
    }
    return EXIT_OK;
}

/* Display width of s once cleaned: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

enum { COL_ID, COL_ECOSYSTEM, COL_URL, COL_DISABLED, COL_CREATED, COL_DESCRIPTION, N_COLS };
static const char *const COLUMNS[N_COLS] = {"ID", "ECOSYSTEM", "URL", "DISABLED", "CREATED", "DESCRIPTION"};

static const char *cell(const droplit_webhook *w, int col)
{
    switch (col) {
    case COL_ID:
        return w->id;
    case COL_ECOSYSTEM:
        return w->ecosystem_id;
    case COL_URL:
        return w->url;
    case COL_DISABLED:
        return w->disabled ? "true" : "false";
    case COL_CREATED:
        return w->created_at;
    default:
        return w->description;
    }
}

static void print_row(const size_t *width, const char *const *cells)
{
    for (int c = 0; c < N_COLS; c++) {
        put_clean(stdout, cells[c]);
        if (c + 1 < N_COLS)
            printf("%*s", (int)(width[c] - text_width(cells[c]) + 2), "");
    }
    putchar('\n');
}

static void print_table(droplit_webhook *const *items, size_t count)
{
    size_t width[N_COLS];
    for (int c = 0; c < N_COLS; c++) {
        width[c] = text_width(COLUMNS[c]);
        for (size_t i = 0; i < count; i++) {
            size_t w = text_width(cell(items[i], c));
            width[c] = w > width[c] ? w : width[c];
        }
    }
    print_row(width, COLUMNS);
    for (size_t i = 0; i < count; i++) {
        const char *cells[N_COLS];
        for (int c = 0; c < N_COLS; c++)
            cells[c] = cell(items[i], c);
        print_row(width, cells);
    }
}

static void put_indent(int depth)
{
    putchar('\n');
    for (int i = 0; i < depth; i++)
        fputs("  ", stdout);
}

/* Prints the SDK's compact JSON (takes it; NULL: out of memory, -1) indented by two
 * spaces, a space after each colon, [] and {} when empty. Only white space is added: the
 * text stays the codec's, so numbers keep the shortest form that reads back exactly (a
 * parse and dump would print 0.1 as 0.10000000000000001), and control characters inside
 * strings stay escaped. */
static int print_json(char *compact)
{
    if (compact == NULL)
        return -1;
    int depth = 0;
    for (const char *p = compact; *p != '\0'; p++) {
        switch (*p) {
        case '"': {
            const char *end = p + 1;
            while (*end != '\0' && *end != '"')
                end += end[0] == '\\' && end[1] != '\0' ? 2 : 1;
            fwrite(p, 1, (size_t)(end - p) + (*end != '\0'), stdout);
            p = *end != '\0' ? end : end - 1;
            break;
        }
        case '{':
        case '[':
            putchar(*p);
            if (p[1] == (*p == '{' ? '}' : ']'))
                putchar(*++p);
            else
                put_indent(++depth);
            break;
        case '}':
        case ']':
            put_indent(--depth);
            putchar(*p);
            break;
        case ',':
            putchar(',');
            put_indent(depth);
            break;
        case ':':
            fputs(": ", stdout);
            break;
        default:
            putchar(*p);
        }
    }
    putchar('\n');
    free(compact);
    return 0;
}

/* Prints a resend's or a recover's count as the API's JSON, {"deliveries": N}. */
static int print_deliveries(unsigned deliveries)
{
    char *json = malloc(32);
    if (json != NULL)
        snprintf(json, 32, "{\"deliveries\":%u}", deliveries);
    return print_json(json);
}

typedef enum output { OUTPUT_JSON, OUTPUT_TABLE, OUTPUT_ID } output;

static int print_webhooks(output out, droplit_webhook *const *items, size_t count, char *json)
{
    switch (out) {
    case OUTPUT_JSON:
        return print_json(json);
    case OUTPUT_TABLE:
        print_table(items, count);
        break;
    case OUTPUT_ID:
        for (size_t i = 0; i < count; i++) {
            put_clean(stdout, items[i]->id);
            putchar('\n');
        }
        break;
    }
    free(json);
    return 0;
}

/* Prints a failed call and returns its exit code. */
static int report(const droplit_error *e, const char *server, double timeout)
{
    switch (e->kind) {
    case DROPLIT_ERROR_ARGUMENT:
        fputs("error: ", stderr);
        put_clean(stderr, e->cause);
        fputc('\n', stderr);
        return EXIT_USAGE;
    case DROPLIT_ERROR_TRANSPORT:
        fputs("error: ", stderr);
        put_clean(stderr, server);
        if (e->timed_out)
            fprintf(stderr, " did not answer within %g s (--timeout): ", timeout);
        else
            fputs(" cannot be reached: ", stderr);
        put_clean(stderr, e->cause);
        fputc('\n', stderr);
        return EXIT_TRANSPORT;
    case DROPLIT_ERROR_HTTP:
        for (size_t i = 0; i < e->n_params; i++) {
            fputs("error: ", stderr);
            put_clean(stderr, e->params[i].path);
            fputs(": ", stderr);
            put_clean(stderr, e->params[i].message);
            fputc('\n', stderr);
        }
        if (e->n_params == 0) {
            fputs("error: ", stderr);
            if (e->reason[0] != '\0')
                put_clean(stderr, e->reason);
            else
                fprintf(stderr, "the server answered HTTP %d", e->http_status);
            fputc('\n', stderr);
        }
        switch (e->http_status) {
        case 400:
            return EXIT_INVALID;
        case 401:
        case 403:
            return EXIT_AUTH;
        case 404:
            return EXIT_NOT_FOUND;
        default:
            return EXIT_OTHER;
        }
    case DROPLIT_ERROR_RESPONSE:
        fputs("error: unexpected answer from ", stderr);
        put_clean(stderr, server);
        fprintf(stderr, " (HTTP %d): ", e->http_status);
        put_clean(stderr, e->cause);
        fputc('\n', stderr);
        return EXIT_OTHER;
    case DROPLIT_ERROR_NO_MEMORY:
        break;
    }
    fputs("error: out of memory\n", stderr);
    return EXIT_OTHER;
}

/* ---- arguments -------------------------------------------------------------------------- */

static const char **field(args *a, const option *o)
{
    return (const char **)((char *)a + o->offset);
}

#define PARSE_ERROR_MAX 256

static int parse_error(char *problem, const char *fmt, const char *detail)
{
    snprintf(problem, PARSE_ERROR_MAX, fmt, detail);
    return EXIT_USAGE;
}

/* Splits argv into options and words. A problem returns EXIT_USAGE with its description
 * in problem (printed later, with the usage of the command the words name). */
static int parse(int argc, char **argv, args *a, const option **seen, size_t *n_seen, char *problem)
{
    int only_words = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_words || arg[0] != '-' || arg[1] == '\0') {
            if (a->n_words == MAX_POSITIONALS)
                return parse_error(problem, "too many arguments (at %s)", arg);
            a->words[a->n_words++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_words = 1;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        const option *o = NULL;
        for (size_t k = 0; k < sizeof(OPTIONS) / sizeof(OPTIONS[0]); k++)
            if (strlen(OPTIONS[k].name) == name_len && strncmp(OPTIONS[k].name, arg, name_len) == 0)
                o = &OPTIONS[k];
        if (o == NULL)
            return parse_error(problem, "unknown option %s", arg);
        const char *value = "";
        if (o->takes_value) {
            if (eq != NULL)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return parse_error(problem, "%s needs a value", o->name);
        } else if (eq != NULL) {
            return parse_error(problem, "%s takes no value", o->name);
        }
        const char **dst = field(a, o);
        if (*dst != NULL && o->takes_value)
            return parse_error(problem, "%s is given twice", o->name);
        *dst = value;
        seen[(*n_seen)++] = o;
    }
    return EXIT_OK;
}

static command command_of(const args *a, int *bad_word)
{
    *bad_word = -1;
    if (a->n_words == 0)
        return CMD_NONE;
    command group = strcmp(a->words[0], "webhook") == 0     ? CMD_WEBHOOK
                    : strcmp(a->words[0], "event") == 0     ? CMD_EVENT
                    : strcmp(a->words[0], "ecosystem") == 0 ? CMD_ECOSYSTEM
                                                            : CMD_NONE;
    if (group == CMD_NONE) {
        *bad_word = 0;
        return CMD_NONE;
    }
    if (a->n_words == 1)
        return group;
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (COMMANDS[i].group == group && strcmp(a->words[1], COMMANDS[i].word) == 0)
            return COMMANDS[i].cmd;
    *bad_word = 1;
    return group;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

int main(int argc, char **argv)
{
    args a = {0};
    const option *seen[MAX_ARGUMENTS];
    size_t n_seen = 0;
    if (argc - 1 > MAX_ARGUMENTS)
        return usage_error(CMD_NONE, "%s", "too many arguments");
    char problem[PARSE_ERROR_MAX];
    int rc = parse(argc, argv, &a, seen, &n_seen, problem);
    int bad_word;
    command cmd = command_of(&a, &bad_word);
    if (rc != EXIT_OK)
        return usage_error(bad_word >= 0 ? CMD_NONE : cmd, "%s", problem);
    if (a.version != NULL) {
        printf("droplit %s\n", droplit_version());
        return EXIT_OK;
    }
    if (bad_word >= 0)
        return usage_error(cmd, "unknown command '%s'", a.words[bad_word]);
    if (a.help != NULL)
        return print_help(cmd);
    if (cmd == CMD_NONE)
        return usage_error(cmd, "%s", "no command given");
    if (cmd == CMD_WEBHOOK)
        return usage_error(
            cmd, "%s", "no webhook command given (create, info, list, update, delete, invoke, attempts or recover)");
    if (cmd == CMD_EVENT)
        return usage_error(cmd, "%s", "no event command given (publish, get or resend)");
    if (cmd == CMD_ECOSYSTEM)
        return usage_error(cmd, "%s", "no ecosystem command given (list)");

    for (size_t i = 0; i < n_seen; i++)
        if (seen[i]->commands != 0 && !(seen[i]->commands & BIT(cmd)))
            return usage_error(cmd, "%s does not apply to this command", seen[i]->name);
    /* the words each command takes; a publish's items are the rest, one at least */
    int want_words = cmd == CMD_LIST || cmd == CMD_ECOSYSTEMS ? 2 : cmd == CMD_UPDATE ? 5 : 3;
    if (a.n_words < want_words)
        return usage_error(cmd, "%s",
                           cmd == CMD_CREATE    ? "missing CALLBACK-URL"
                           : cmd == CMD_PUBLISH ? "missing ITEM-JSON (one JSON object per notification)"
                           : a.n_words < 3      ? "missing ID"
                           : a.n_words < 4      ? "missing PROPERTY (url, secret, description or disabled)"
                                                : "missing VALUE");
    if (a.n_words > want_words && cmd != CMD_PUBLISH)
        return usage_error(cmd, "unexpected argument '%s'", a.words[want_words]);
    if ((cmd == CMD_CREATE || cmd == CMD_LIST || cmd == CMD_PUBLISH) && a.ecosystem_id == NULL)
        return usage_error(cmd, "%s", "missing --ecosystemId ECOSYSTEM-ID");
    if (cmd == CMD_RECOVER && a.since == NULL)
        return usage_error(cmd, "%s", "missing --since TIME");
    /* "" would mean every webhook to the server: leaving the option out says that */
    if (a.webhook_id != NULL && *a.webhook_id == '\0')
        return usage_error(cmd, "%s", "--webhookId must not be empty (leave it out to resend to every webhook)");
    droplit_update_options uo = {0};
    const char *new_url = NULL;
    if (cmd == CMD_UPDATE) {
        const char *property = a.words[3], *value = a.words[4];
        if (strcmp(property, "url") == 0)
            new_url = value;
        else if (strcmp(property, "secret") == 0)
            uo.secret = value;
        else if (strcmp(property, "description") == 0)
            uo.description = value;
        else if (strcmp(property, "disabled") != 0)
            return usage_error(cmd, "PROPERTY must be url, secret, description or disabled, not '%s'", property);
        else if (strcmp(value, "true") == 0)
            uo.disabled = DROPLIT_SET_TRUE;
        else if (strcmp(value, "false") == 0)
            uo.disabled = DROPLIT_SET_FALSE;
        else
            return usage_error(cmd, "disabled must be true or false, not '%s'", value);
    }

    droplit_list_options page = {.page_token = a.page_token};
    unsigned long long before = 0;
    if (a.before != NULL) {
        char *end;
        errno = 0;
        before = strtoull(a.before, &end, 10);
        if (errno != 0 || end == a.before || *end != '\0' || a.before[0] == '-' || before < 1)
            return usage_error(cmd, "--before must be a whole number of at least 1, not '%s'", a.before);
    }
    if (a.limit != NULL) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(a.limit, &end, 10);
        if (errno != 0 || end == a.limit || *end != '\0' || a.limit[0] == '-' || n < 1 || n > UINT_MAX)
            return usage_error(cmd, "--limit must be a whole number of at least 1, not '%s'", a.limit);
        page.limit = (unsigned)n;
    }
    droplit_client_options opts = {0};
    output out = OUTPUT_JSON;
    if (a.output != NULL) {
        if (strcmp(a.output, "table") == 0)
            out = OUTPUT_TABLE;
        else if (strcmp(a.output, "id") == 0)
            out = OUTPUT_ID;
        else if (strcmp(a.output, "json") != 0)
            return usage_error(cmd, "--output must be json, table or id, not '%s'", a.output);
        /* the answers that are no webhooks print as JSON; a publish's has one id to print */
        if (out != OUTPUT_JSON && (cmd == CMD_ATTEMPTS || cmd == CMD_RECOVER || cmd == CMD_EVENT_GET ||
                                   cmd == CMD_RESEND || cmd == CMD_ECOSYSTEMS || (cmd == CMD_PUBLISH && out == OUTPUT_TABLE)))
            return usage_error(cmd, "--output %s does not apply to this command", a.output);
    }
    double timeout = DEFAULT_TIMEOUT_SECONDS;
    if (a.timeout != NULL) {
        char *end;
        errno = 0;
        timeout = strtod(a.timeout, &end);
        if (errno != 0 || end == a.timeout || *end != '\0' || !(timeout >= 0.001 && timeout <= MAX_TIMEOUT_SECONDS))
            return usage_error(cmd, "--timeout must be a number of seconds from 0.001 to 86400, not '%s'", a.timeout);
    }
    opts.timeout_ms = (long)ceil(timeout * 1000);
    opts.connect_timeout_ms = opts.timeout_ms;
    if (a.http != NULL) {
        if (strcmp(a.http, "1.1") == 0)
            opts.http_version = DROPLIT_HTTP_1_1;
        else if (strcmp(a.http, "2-prior-knowledge") == 0)
            opts.http_version = DROPLIT_HTTP_2_PRIOR_KNOWLEDGE;
        else if (strcmp(a.http, "2") != 0)
            return usage_error(cmd, "--http must be 1.1, 2 or 2-prior-knowledge, not '%s'", a.http);
    }
    if (a.encoding != NULL) {
        if (strcmp(a.encoding, "protobuf") == 0)
            opts.encoding = DROPLIT_ENCODING_PROTOBUF;
        else if (strcmp(a.encoding, "json") != 0)
            return usage_error(cmd, "--encoding must be json or protobuf, not '%s'", a.encoding);
    }
    opts.ca_file = a.cacert;

    const char *server = a.server != NULL ? a.server : env("DROPLIT_SERVER");
    const char *token = a.token != NULL ? a.token : env("DROPLIT_TOKEN");
    if (server == NULL)
        server = DEFAULT_SERVER;
    if (token != NULL && strpbrk(token, "\r\n") != NULL)
        return usage_error(cmd, "%s", "the token must be one line");
    droplit_client *client = droplit_client_create(server, token, &opts);
    if (client == NULL)
        return usage_error(cmd, "the server must be an http:// or https:// URL with a host, not '%s'", server);

    droplit_error *err = NULL;
    int failed = 0;
    if (cmd == CMD_LIST) {
        droplit_webhooks *list = NULL;
        int one_page = a.limit != NULL || a.page_token != NULL;
        int listed = one_page ? droplit_webhook_list_page(client, a.ecosystem_id, &page, &list, &err)
                              : droplit_webhook_list(client, a.ecosystem_id, &list, &err);
        if (listed == 0) {
            failed = print_webhooks(out, list->items, list->count,
                                    out == OUTPUT_JSON ? droplit_webhooks_to_json(list) : NULL);
            if (!failed && out != OUTPUT_JSON && list->next_page_token[0] != '\0')
                fprintf(stderr, "next page: --page-token %s\n", list->next_page_token);
            droplit_webhooks_free(list);
        }
    } else if (cmd == CMD_PUBLISH) {
        droplit_publication *pub = NULL;
        droplit_publish_options po = {.idempotency_key = a.idempotency_key};
        if (droplit_event_publish(client, a.ecosystem_id, a.words + 2, (size_t)a.n_words - 2, &po, &pub, &err) == 0) {
            if (out == OUTPUT_ID) {
                put_clean(stdout, pub->id);
                putchar('\n');
            } else {
                failed = print_json(droplit_publication_to_json(pub));
            }
        }
        droplit_publication_free(pub);
    } else if (cmd == CMD_ECOSYSTEMS) {
        char *json = NULL;
        if (droplit_ecosystem_list(client, &json, &err) == 0)
            failed = print_json(json);
    } else if (cmd == CMD_EVENT_GET || cmd == CMD_ATTEMPTS) {
        char *json = NULL;
        int got = cmd == CMD_EVENT_GET ? droplit_event_get(client, a.words[2], &json, &err)
                                       : droplit_webhook_attempts(client, a.words[2], page.limit, before, &json, &err);
        if (got == 0)
            failed = print_json(json);
    } else if (cmd == CMD_RESEND || cmd == CMD_RECOVER) {
        unsigned deliveries;
        int done = cmd == CMD_RESEND ? droplit_event_resend(client, a.words[2], a.webhook_id, &deliveries, &err)
                                     : droplit_webhook_recover(client, a.words[2], a.since, &deliveries, &err);
        if (done == 0)
            failed = print_deliveries(deliveries);
    } else if (cmd == CMD_DELETE) {
        droplit_webhook_delete(client, a.words[2], &err);
    } else if (cmd == CMD_INVOKE) {
        droplit_invocation *inv = NULL;
        if (droplit_webhook_invoke(client, a.words[2], &inv, &err) == 0) {
            put_clean(stdout, inv->message);
            putchar('\n');
        }
        droplit_invocation_free(inv);
    } else if (cmd == CMD_UPDATE) {
        droplit_webhook *now = NULL;
        if (new_url != NULL || droplit_webhook_get(client, a.words[2], &now, &err) == 0)
            droplit_webhook_update(client, a.words[2], new_url != NULL ? new_url : now->url, &uo, &err);
        droplit_webhook_free(now);
    } else {
        droplit_webhook *w = NULL;
        droplit_create_options co = {
            .secret = a.secret, .description = a.description, .idempotency_key = a.idempotency_key};
        int call = cmd == CMD_CREATE ? droplit_webhook_create(client, a.ecosystem_id, a.words[2], &co, &w, &err)
                                     : droplit_webhook_get(client, a.words[2], &w, &err);
        if (call == 0) {
            failed = print_webhooks(out, &w, 1, out == OUTPUT_JSON ? droplit_webhook_to_json(w) : NULL);
            droplit_webhook_free(w);
        }
    }
    droplit_client_free(client);
    if (err != NULL) {
        rc = report(err, server, timeout);
        droplit_error_free(err);
        return rc;
    }
    if (failed) {
        fputs("error: out of memory\n", stderr);
        return EXIT_OTHER;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "error: cannot write the output: %s\n", strerror(errno));
        return EXIT_OTHER;
    }
    return EXIT_OK;
}
