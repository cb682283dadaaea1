/*
 * server/info.c — the client INFO line (see info.h).
 *
 * Built per connection with snprintf into a stack buffer: it happens once
 * per accept, and the only per-connection fields are client_id and
 * client_ip. Strings that come from configuration are JSON-escaped.
 */
#include "server/info.h"

#include <stdio.h>
#include <string.h>

#include "server/auth.h"
#include "server/client.h"
#include "server/server.h"
#include "server/tls.h"
#include "server/version.h"

size_t info_json_string(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap < 3)
        return 0;
    out[o++] = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (o + 7 >= cap)
            return 0;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u00%c%c", hex[ch >> 4], hex[ch & 15]);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

size_t info_build_client(struct server *s, struct client *c, char *out, size_t cap, bool ldm)
{
    char name[512], host[160], cluster[300] = "", domain[600] = "";
    if (s->cluster_name[0]) {
        /* §3.2 field 20: the cluster's name, when routes are configured */
        char quoted[280];
        if (info_json_string(quoted, sizeof quoted, s->cluster_name))
            snprintf(cluster, sizeof cluster, ",\"cluster\":%s", quoted);
    }
    if (s->js_domain[0]) {
        char quoted[560];
        if (info_json_string(quoted, sizeof quoted, s->js_domain))
            snprintf(domain, sizeof domain, ",\"domain\":%s", quoted);
    }
    if (!info_json_string(name, sizeof name, s->server_name) ||
        !info_json_string(host, sizeof host, s->client_host))
        return 0;
    struct auth *a = c->auth;
    /* §3.2: a TLS port says so, and whether it wants client certificates. */
    /* A WebSocket client is told about the client port, as nats-server
     * tells it (its own TLS is the listener's business). */
    struct tls_ctx *t = c->ws ? atomic_load(&s->tls) : c->tls_ctx;
    const char *tls = !t ? ""
                      : tls_ctx_verify(t) ? "\"tls_required\":true,\"tls_verify\":true,"
                                          : "\"tls_required\":true,";
    /* In lame duck mode a node offers the other nodes only (§2.3). The
     * client URLs are no use to a WebSocket client: it gets none. */
    char urls[4096] = "";
    if (c->ws)
        ;
    else if (ldm)
        server_peer_connect_urls(s, urls, sizeof urls);
    else
        server_connect_urls(s, urls, sizeof urls);
    int n = snprintf(out, cap,
                     "INFO {\"server_id\":\"%s\",\"server_name\":%s,\"version\":\"%s\","
                     "\"proto\":1,\"go\":\"%s\",\"tern_version\":\"%s\",\"host\":%s,"
                     "\"port\":%d,\"headers\":%s,%s%s\"max_payload\":%lld,%s"
                     "\"client_id\":%llu,\"client_ip\":\"%s\"%s%s%s%s%s%s%s} \r\n",
                     s->server_id, name, TERN_PROTO_VERSION, TERN_GO_FIELD, TERN_VERSION,
                     host, s->client_port, s->no_header_support ? "false" : "true",
                     auth_required(a) ? "\"auth_required\":true," : "", tls,
                     (long long)(atomic_load(&c->jwt_max_payload) >= 0
                                     ? atomic_load(&c->jwt_max_payload)
                                     : atomic_load(&s->max_payload)),
                     s->jetstream_on ? "\"jetstream\":true," : "", (unsigned long long)c->cid,
                     c->ip, c->nonce[0] ? ",\"nonce\":\"" : "", c->nonce[0] ? c->nonce : "",
                     c->nonce[0] ? "\"" : "", cluster, urls, ldm ? ",\"ldm\":true" : "", domain);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}
