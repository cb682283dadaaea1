/*
 * server/jetstream/js_source.h — a stream that sources other streams of
 * this server: their messages (each source with its own start and filter)
 * stored under the sourcing stream's own new sequences, each with a
 * Nats-Stream-Source header naming where it came from ("<origin> <seq>",
 * as nats-server 2.9 writes it).
 *
 * As mirrors (js_mirror.h), sources are derived inside the state machine:
 * the apply that stores an origin message copies it into every sourcing
 * stream that has considered every earlier message its filter takes, and
 * a backlog is copied by STREAM_SYNC entries. Unlike a mirror, where a
 * source stands cannot be read off the stream's own sequences, so each
 * source keeps a cursor (the next origin sequence to consider) in the
 * replicated state: the snapshot carries it (js_snapshot.c), and on one
 * node a blob of the stream's store keeps it, written after each sync; a
 * restart also reads the newest Nats-Stream-Source of each source among
 * the stored messages, so a blob one sync behind costs nothing. Copies go
 * through the sourcing stream's own publish apply (its limits, retention
 * and transform apply; a copy it refuses, e.g. discard new when full, is
 * skipped). Sources that would form a cycle are refused.
 */
#ifndef TERN_SERVER_JS_SOURCE_H
#define TERN_SERVER_JS_SOURCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/jetstream/js_origin.h"

struct js;
struct js_stream;
struct js_stream_config;
struct js_err;

/* One source of a stream. Owned by its struct js_sources. */
struct js_source_link {
    char *origin;        /* owned: the origin stream's name */
    struct js_origin_filter take; /* owned: filter_subject or 2.10's
                                     subject_transforms; take.key names
                                     the link with its origin */
    uint64_t start_seq;  /* opt_start_seq, 0 when absent */
    char *start_time;    /* owned: opt_start_time as written, or NULL */
    uint64_t cursor;     /* replicated: the next origin sequence to
                            consider; every earlier one the filter takes
                            was copied (or refused by this stream) */
};

/* A stream's sources, in config order. Owned by the stream
 * (js_stream.sources); NULL for a stream without sources. */
struct js_sources {
    struct js_source_link *v; /* owned array */
    size_t n;
    bool unsaved;             /* cursors moved since the blob was written */
};

/* Parse st's sources (st->sources) from its config, cursors 0. 0,
 * -ENOMEM. */
int js_source_open(struct js_stream *st);
void js_source_close(struct js_stream *st);
/* A new sourcing stream (create apply): every cursor at its start in the
 * origin as it is now. */
void js_source_start(struct js *js, struct js_stream *st);
/* An update replaced st's config: parse the new sources, keeping the
 * cursor of each that was there before (same origin and filter); new ones
 * start now. 0, -ENOMEM. */
int js_source_reopen(struct js *js, struct js_stream *st);
/* Would a stream named name with config c close a cycle of mirrors and
 * sources through the streams there are? */
bool js_source_cycle(struct js *js, const char *name, const struct js_stream_config *c);
/* Count every stream's sourcing links again (js_stream.nsourced) after a
 * stream was created, updated or deleted. */
void js_source_recount(struct js *js);
/* Apply: message seq was just stored in origin: copy it into every stream
 * sourcing origin that is caught up. 0 or a store error. */
int js_source_follow(struct js *js, struct js_stream *origin, uint64_t seq);
/* Apply STREAM_SYNC: copy up to max messages the sources lack. */
int js_source_sync(struct js *js, struct js_stream *st, uint64_t max);
/* Origin messages not yet considered, over all of st's sources. */
uint64_t js_source_lag(struct js *js, const struct js_stream *st);
/* Stream info's "sources" array; a new reference, NULL when st has none. */
json_t *js_source_info(struct js *js, const struct js_stream *st);
/* One node: write the cursors' blob if they moved (after a sync), and
 * read it back at load (then the newest Nats-Stream-Source of each source
 * in the store, whichever is further). 0 or the store's error. */
int js_source_save(struct js_stream *st);
int js_source_load(struct js_stream *st);

#endif
