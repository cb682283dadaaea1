/*
 * tests/fuzz/fuzz_peer_varz.c — libFuzzer target for server/peer_varz.c,
 * which reads another node's /varz answer for /clusterz.
 *
 * Input: the answer's body, any bytes, in a heap buffer of exactly its
 * length (AddressSanitizer sees an overrun). Whatever it is, the reader
 * returns 0 or a negative code, leaves every string NUL-terminated within
 * its field, and the figures it kept go back out as JSON that reads the
 * same again. Aborts (trap) on a broken rule.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/peer_varz.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

static void check_terminated(const struct peer_varz *v)
{
    CHECK(memchr(v->server_id, 0, sizeof v->server_id));
    CHECK(memchr(v->server_name, 0, sizeof v->server_name));
    CHECK(memchr(v->version, 0, sizeof v->version));
    CHECK(memchr(v->tern_version, 0, sizeof v->tern_version));
    CHECK(memchr(v->uptime, 0, sizeof v->uptime));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *t = malloc(size ? size : 1);
    CHECK(t);
    if (size)
        memcpy(t, data, size);
    struct peer_varz a, b;
    int rc = peer_varz_parse(t, size, &a);
    CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG);
    check_terminated(&a);
    if (rc == 0) {
        json_t *o = peer_varz_json(&a);
        CHECK(o);
        char *text = json_dumps(o, JSON_COMPACT);
        CHECK(text);
        CHECK(peer_varz_parse(text, strlen(text), &b) == 0);
        CHECK(strcmp(a.server_id, b.server_id) == 0 && strcmp(a.uptime, b.uptime) == 0);
        CHECK(a.connections == b.connections && a.in_msgs == b.in_msgs && a.mem == b.mem);
        free(text);
        json_decref(o);
    }
    free(t);
    return 0;
}
