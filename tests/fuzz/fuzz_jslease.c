/*
 * tests/fuzz/fuzz_jslease.c — libFuzzer target for cluster/jslease.c, whose
 * lines arrive from the network (a leader's probe, a member's answer).
 *
 * Input: one line. As a probe, a follower's answer must be empty or a line
 * that the leader that sent such a probe takes; as an answer, the leader
 * takes it only if it names a probe it sent in its term, and its lease then
 * never reaches past the probe's send time plus two election timeouts.
 * Buffers are heap copies of exactly their length, so AddressSanitizer
 * sees overruns. Aborts (trap) on a broken rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/jslease.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        if (!(x))                                                             \
            __builtin_trap();                                                 \
    } while (0)

#define ET 1000
#define SENT_AT 5000

static const uint64_t voters[] = { 1, 2, 3 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1);
    CHECK(line);
    memcpy(line, data, size);

    /* As an answer, to a leader (id 1, term 7) that sent probes 1..3. */
    struct jslease l;
    jslease_init(&l, ET);
    char p[JSLEASE_LINE_MAX];
    for (int i = 0; i < 3; i++)
        CHECK(jslease_probe(&l, 7, 1, SENT_AT, p, sizeof p) > 0);
    if (jslease_take(&l, line, size) == 0)
        CHECK(jslease_until(&l, 7, 1, voters, 3) <= SENT_AT + 2 * ET);
    else
        CHECK(jslease_until(&l, 7, 1, voters, 3) <= 0);

    /* As a probe, to follower 2 of leader 1 in term 7. */
    struct jslease_follower f = { .following = true, .term = 7, .leader_id = 1, .self_id = 2,
                                  .last_contact_ms = 100, .now_ms = 300, .election_ms = ET };
    char *out = malloc(JSLEASE_LINE_MAX);
    CHECK(out);
    size_t n = jslease_answer(&f, line, size, out, JSLEASE_LINE_MAX);
    CHECK(n < JSLEASE_LINE_MAX);
    if (n) {
        struct jslease l2;
        jslease_init(&l2, ET);
        /* A leader that sent this probe takes the answer (if its number
         * is still in its ring). */
        uint64_t seq = strtoull(line + 2, NULL, 10);
        l2.term = 7;
        l2.ring_seq[seq % JSLEASE_RING] = seq;
        l2.ring_sent_ms[seq % JSLEASE_RING] = SENT_AT;
        CHECK(seq == 0 || jslease_take(&l2, out, n) == 0);
    }
    free(out);
    free(line);
    return 0;
}
