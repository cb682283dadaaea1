/*
 * server/jetstream/js_origin.h — what a mirror or a source takes from its
 * origin stream and under which subject it stores it: everything, one
 * filter_subject, or nats-server 2.10's subject_transforms (several
 * {src, dest} pairs: a message is taken when one src matches it, and
 * stored under dest's mapping of its subject, or its own subject when
 * dest is empty).
 *
 * The config check refuses pairs that contain one another (a source's) or
 * collide at all (a mirror's), as 2.10 does; a message two of a source's
 * patterns take (say a.* and *.b) is copied once, under the first pair's
 * mapping, though a lag counts it under each. The next message is the
 * lowest sequence any src finds. Immutable once parsed; owned by its
 * mirror or source link. JetStream loop only.
 */
#ifndef TERN_SERVER_JS_ORIGIN_H
#define TERN_SERVER_JS_ORIGIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/store/store.h"

struct submap;

struct js_origin_filter {
    size_t n;              /* 0: every subject, kept */
    char **src;            /* owned array of owned patterns */
    size_t *src_len;       /* owned */
    struct submap **map;   /* owned array; an entry NULL: subject kept */
    char *key;             /* owned: the filter and transforms in one
                              string, what tells two links apart; NULL
                              for everything */
};

/* From a normalised StreamSource object (filter_subject or
 * subject_transforms). 0, -EINVAL (a pair nats-server refuses; the config
 * check has refused it before), -ENOMEM; f is empty on failure. */
int js_origin_filter_parse(const json_t *origin, struct js_origin_filter *f);
void js_origin_filter_free(struct js_origin_filter *f);

/* The first stored sequence >= start the filter takes; 0 when none. */
uint64_t js_origin_next_seq(const struct store *s, uint64_t start,
                            const struct js_origin_filter *f);
/* Load it into m. 0 or -ENOENT. */
int js_origin_load_next(struct store *s, uint64_t start, const struct js_origin_filter *f,
                        struct store_msg *m);
/* Stored messages >= start the filter takes. */
uint64_t js_origin_count_from(const struct store *s, uint64_t start,
                              const struct js_origin_filter *f);
/* The subject a taken message is stored under: *out malloc'd (the caller
 * frees it) with *outlen, or NULL when it keeps its own. 0, -ENOENT (not
 * taken), -ENOMEM. */
int js_origin_rename(const struct js_origin_filter *f, const char *subject, size_t len,
                     char **out, size_t *outlen);

#endif
