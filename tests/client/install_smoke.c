/* install_smoke: a program built only from the installed droplit.h and droplit.pc.
 *
 *   install_smoke EXPECTED-VERSION
 *
 * Proves the installed header stands alone and the library links and runs: the version
 * matches pkg-config's, a bad URL makes no client, and a refused connection comes back as
 * a transport error value, for a create, an invoke and a publish. */
#include <droplit.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(droplit_version(), argv[1]) != 0) {
        fprintf(stderr, "version %s, expected %s\n", droplit_version(), argc == 2 ? argv[1] : "?");
        return 1;
    }
    if (droplit_client_create("not a url", NULL, NULL) != NULL) {
        fprintf(stderr, "a client from a bad URL\n");
        return 1;
    }
    /* a loopback port bound without listen refuses connections */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return 1;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    droplit_client *c = droplit_client_create(url, "token", NULL);
    droplit_webhook *w = NULL;
    droplit_error *e = NULL;
    int rc = droplit_webhook_create(c, "C5156b8ace57896adb6dae592", "https://example.com/hook", NULL, &w, &e);
    int ok = c != NULL && rc == -1 && w == NULL && e != NULL && e->kind == DROPLIT_ERROR_TRANSPORT;
    if (!ok)
        fprintf(stderr, "expected a transport error, got rc %d kind %d\n", rc, e != NULL ? (int)e->kind : -1);
    droplit_error_free(e);
    droplit_invocation *inv = NULL;
    e = NULL;
    rc = droplit_webhook_invoke(c, "6b0a818ede1ef4d1c35e4e66", &inv, &e);
    if (rc != -1 || inv != NULL || e == NULL || e->kind != DROPLIT_ERROR_TRANSPORT) {
        fprintf(stderr, "invoke: expected a transport error, got rc %d kind %d\n", rc, e != NULL ? (int)e->kind : -1);
        ok = 0;
    }
    droplit_invocation_free(inv);
    droplit_error_free(e);
    const char *items[] = {"{\"door\":\"open\"}"};
    droplit_publication *pub = NULL;
    e = NULL;
    rc = droplit_event_publish(c, "C5156b8ace57896adb6dae592", items, 1, NULL, &pub, &e);
    if (rc != -1 || pub != NULL || e == NULL || e->kind != DROPLIT_ERROR_TRANSPORT) {
        fprintf(stderr, "publish: expected a transport error, got rc %d kind %d\n", rc, e != NULL ? (int)e->kind : -1);
        ok = 0;
    }
    droplit_publication_free(pub);
    droplit_error_free(e);
    droplit_client_free(c);
    close(fd);
    return ok ? 0 : 1;
}
