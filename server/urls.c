/*
 * server/urls.c — the client URLs this node advertises (INFO connect_urls):
 * its own, then those of every peer it has a route to
 * (spec/client-protocol.md §11).
 *
 * Peers' URLs are reference counted (two routes may name the same URL
 * during a duplicate-route handover). The INFO fragment is rebuilt on every
 * change under urls_lock and copied out by whoever builds an INFO; a change
 * asks every loop to send its eligible clients a fresh INFO.
 */
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "server/info.h"
#include "server/log.h"
#include "server/server.h"
#include "server/worker.h"

struct url_ref {
    char *url;            /* owned "host:port" */
    int refs;
    struct url_ref *next;
};

static void append_url(char *out, size_t cap, const char *url)
{
    size_t len = strlen(out);
    char quoted[300];
    if (!info_json_string(quoted, sizeof quoted, url))
        return;
    snprintf(out + len, cap - len, "%s%s", len ? "," : "", quoted);
}

/* Own URLs: client_advertise, else the listen address, else (0.0.0.0)
 * every non-loopback IPv4 address of the machine. */
void server_init_client_urls(struct server *s)
{
    char url[300];
    s->own_client_urls[0] = '\0';
    if (s->opts.client_advertise) {
        append_url(s->own_client_urls, sizeof s->own_client_urls, s->opts.client_advertise);
        return;
    }
    if (strcmp(s->client_host, "0.0.0.0") != 0 && strcmp(s->client_host, "::") != 0) {
        snprintf(url, sizeof url, "%s:%d", s->client_host, s->client_port);
        append_url(s->own_client_urls, sizeof s->own_client_urls, url);
        return;
    }
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) < 0)
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, sizeof ip);
        snprintf(url, sizeof url, "%s:%d", ip, s->client_port);
        append_url(s->own_client_urls, sizeof s->own_client_urls, url);
    }
    freeifaddrs(ifs);
}

/* Called with urls_lock held. */
static void rebuild(struct server *s)
{
    size_t cap = strlen(s->own_client_urls) + 64;
    for (struct url_ref *r = s->peer_urls; r; r = r->next)
        cap += strlen(r->url) * 2 + 8;
    char *list = calloc(1, cap);
    char *frag = malloc(cap + 32);
    if (!list || !frag) {
        free(list);
        free(frag);
        return;
    }
    snprintf(list, cap, "%s", s->own_client_urls);
    for (struct url_ref *r = s->peer_urls; r; r = r->next)
        append_url(list, cap, r->url);
    snprintf(frag, cap + 32, ",\"connect_urls\":[%s]", list);
    free(list);
    free(s->connect_urls_json);
    s->connect_urls_json = frag;
}

static bool adjust(struct server *s, const char *url, bool add)
{
    struct url_ref **link = &s->peer_urls;
    while (*link && strcmp((*link)->url, url) != 0)
        link = &(*link)->next;
    if (add) {
        if (*link) {
            (*link)->refs++;
            return false;
        }
        struct url_ref *r = calloc(1, sizeof *r);
        if (!r || !(r->url = strdup(url))) {
            free(r);
            return false;
        }
        r->refs = 1;
        *link = r;
        return true;
    }
    if (!*link || --(*link)->refs > 0)
        return false;
    struct url_ref *gone = *link;
    *link = gone->next;
    free(gone->url);
    free(gone);
    return true;
}

void server_peer_urls(struct server *s, const char *const *urls, size_t n, bool add)
{
    /* Routes close while the server shuts down: an INFO then would tell
     * clients that this node, about to go, is the only one left, and a
     * client that believes it forgets the others (seen with the C
     * client). nats-server sends none either. */
    if (!add && atomic_load(&s->shutting_down))
        return;
    bool changed = false;
    pthread_mutex_lock(&s->urls_lock);
    for (size_t i = 0; i < n; i++)
        changed |= adjust(s, urls[i], add);
    if (changed)
        rebuild(s);
    pthread_mutex_unlock(&s->urls_lock);
    if (!changed)
        return;
    for (int i = 0; i < s->nworkers; i++)
        worker_announce_info(s->workers[i]);
}

void server_connect_urls(struct server *s, char *out, size_t cap)
{
    pthread_mutex_lock(&s->urls_lock);
    snprintf(out, cap, "%s", s->connect_urls_json ? s->connect_urls_json : "");
    pthread_mutex_unlock(&s->urls_lock);
}

void server_peer_connect_urls(struct server *s, char *out, size_t cap)
{
    char list[4096] = "";
    pthread_mutex_lock(&s->urls_lock);
    for (struct url_ref *r = s->peer_urls; r; r = r->next)
        append_url(list, sizeof list, r->url);
    pthread_mutex_unlock(&s->urls_lock);
    if (list[0])
        snprintf(out, cap, ",\"connect_urls\":[%s]", list);
    else if (cap)
        out[0] = '\0';
}

void server_free_urls(struct server *s)
{
    while (s->peer_urls) {
        struct url_ref *next = s->peer_urls->next;
        free(s->peer_urls->url);
        free(s->peer_urls);
        s->peer_urls = next;
    }
    free(s->connect_urls_json);
    s->connect_urls_json = NULL;
}
