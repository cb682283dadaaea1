/*
 * server/jetstream/js_mirror.h — a stream that mirrors another stream of
 * this server: the origin's messages at the origin's sequence numbers,
 * optionally only those a subject filter or 2.10's subject transforms take
 * (renamed by the transforms, js_origin.h), from a start sequence or time
 * on.
 *
 * Every stream lives in the one replicated state (one raft group holds
 * them all), so a mirror is derived inside the state machine rather than
 * fed by a consumer: when apply stores a message in an origin and the
 * mirror has every earlier message the filter takes, the same apply copies
 * it; a backlog (a new mirror of a full origin, or a mirror that fell
 * behind) is copied by STREAM_SYNC commands that the serving node
 * proposes, each copying at most a bounded number of messages. Where the
 * mirror stands is its own last sequence (set just below the start when
 * it is created), so nothing else needs to be stored or snapshotted, and
 * a restart, a snapshot or a new leader goes on exactly where the state
 * says — no duplicates, no gaps. Copies keep the origin's subject,
 * headers, payload and time; the mirror's own limits then apply (as
 * discard old: a copy is never refused, or the mirror would stall).
 */
#ifndef TERN_SERVER_JS_MIRROR_H
#define TERN_SERVER_JS_MIRROR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/jetstream/js_origin.h"

struct js;
struct js_stream;

/* The link of a mirror, parsed from its config. Owned by the stream
 * (js_stream.mirror); NULL for any other stream. */
struct js_mirror {
    char *origin;          /* owned: the origin stream's name */
    struct js_origin_filter take; /* owned: filter_subject or 2.10's
                                     subject_transforms */
    uint64_t start_seq;    /* opt_start_seq, 0 when absent */
    char *start_time;      /* owned: opt_start_time as written, or NULL */
};

/* Messages a sync copies at most (one STREAM_SYNC entry). */
#define JS_MIRROR_SYNC_MAX 512

/* Parse st's mirror (st->mirror), if its config has one. 0, -ENOMEM. */
int js_mirror_open(struct js_stream *st);
void js_mirror_close(struct js_stream *st);
/* Where a mirror or a source starts in origin as it is now: start_seq
 * when given, else the first message at or after start_time (an RFC 3339
 * text, or NULL), else the origin's first; 1 with no origin. */
uint64_t js_origin_start(const struct js_stream *origin, uint64_t start_seq,
                         const char *start_time);
/* A new mirror (create apply): set its last sequence just below where it
 * starts in the origin as it is now. 0 or the store's error. */
int js_mirror_start(struct js *js, struct js_stream *st);
/* Count every stream's mirrors again (js_stream.nmirrors) after a stream
 * was created or deleted. */
void js_mirror_recount(struct js *js);
/* Apply: the message seq was just stored in origin: copy it into every
 * mirror of origin that is caught up. 0 or a store error (the replica
 * cannot go on). */
int js_mirror_follow(struct js *js, struct js_stream *origin, uint64_t seq);
/* Apply STREAM_SYNC: copy up to max of the origin messages st lacks. 0 or
 * a store error. */
int js_mirror_sync(struct js *js, struct js_stream *st, uint64_t max);
/* Messages the origin holds that st should have and has not yet; 0 when
 * the origin is missing. */
uint64_t js_mirror_lag(struct js *js, const struct js_stream *st);
/* Serving node: the timer that proposes STREAM_SYNC while st lags. */
void js_mirror_attach(struct js_stream *st);
void js_mirror_detach(struct js_stream *st);
/* Stream info's "mirror" object (name, lag, active, error when the origin
 * does not exist); a new reference, NULL for other streams or ENOMEM. */
json_t *js_mirror_info(struct js *js, const struct js_stream *st);

#endif
