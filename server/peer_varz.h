/*
 * server/peer_varz.h — the figures of one node's /varz that the web
 * console's cluster view shows (/clusterz), read from the node's own /varz
 * object or from the bytes another node's monitoring port answered.
 *
 * Those bytes come from the network: the reader takes at most
 * PEER_VARZ_MAX_BODY bytes of anything, keeps only fields of the expected
 * JSON type, copies strings only when they fit whole, and never fails
 * other than with an error code. Pure: no I/O, no globals (fuzzed by
 * tests/fuzz/fuzz_peer_varz.c).
 */
#ifndef TERN_SERVER_PEER_VARZ_H
#define TERN_SERVER_PEER_VARZ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PEER_VARZ_MAX_BODY (256 * 1024)

/* What one node says of itself. A field its /varz lacks (or gives with
 * another type, or too long) is 0 or "". Plain value; the caller owns it. */
struct peer_varz {
    char server_id[64];
    char server_name[128];
    char version[32];           /* the NATS version it speaks */
    char tern_version[32];      /* "" from a nats-server */
    char uptime[32];
    int64_t connections, total_connections, routes, subscriptions, slow_consumers;
    int64_t in_msgs, out_msgs, in_bytes, out_bytes, mem;
    double cpu;
};

/* Fill out from a /varz object (borrowed). 0, or -EINVAL when v is not an
 * object (out is then zeroed). */
int peer_varz_from_json(const json_t *v, struct peer_varz *out);
/* Fill out from a /varz answer's body (len bytes, not NUL-terminated).
 * 0; -E2BIG past PEER_VARZ_MAX_BODY; -EINVAL when it is not a JSON
 * object. */
int peer_varz_parse(const char *body, size_t len, struct peer_varz *out);
/* The figures as the JSON object /clusterz shows per node (new
 * reference; NULL only when out of memory). */
json_t *peer_varz_json(const struct peer_varz *v);

#endif
