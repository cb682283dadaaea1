/*
 * server/account.h — accounts: separate subject spaces inside one server.
 *
 * Every connection belongs to one account, chosen by the user it logged in
 * as ($G, the global account, when it has none). Each account has its own
 * subject index, so a message published in one account reaches only that
 * account's subscribers, on this node and, over routes (whose RS+/RMSG name
 * the account), on the others. Accounts meet only through what one exports
 * and another imports (nats-server's rules, spec/server-cli-config.md §3.2):
 *
 * - a stream import copies what is published in the exporter under a
 *   subject into the importer, renamed by `prefix` or `to`;
 * - a service import sends what the importer publishes under a subject to
 *   the exporter, renamed by `to`, with the reply subject replaced by one
 *   under a prefix this node owns in the exporter ("_R_.<id>."), which a
 *   server-side subscription there maps back to the requester's reply
 *   subject (once for a singleton service, until the response threshold
 *   for a streamed one).
 *
 * Both are applied once, on the node where the message was published; a
 * message that arrived over a route is already in the account it is for.
 *
 * The set is built once at start from the options and never changes (a
 * reload that changes accounts is refused, server/opts.c); readers on any
 * thread use it without locks. The response table is the one mutable part,
 * under its own lock.
 */
#ifndef TERN_SERVER_ACCOUNT_H
#define TERN_SERVER_ACCOUNT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/opts.h"

struct sublist;
struct submap;
struct client;
struct sub;
struct server;
struct account_responses;

/* A stream import, kept at the exporter: what is published there under
 * `subject` is copied into `to`, renamed by map (NULL: the same subject). */
struct account_stream_link {
    struct account *to;          /* borrowed: the importer */
    char *subject;               /* owned: the pattern in the exporter */
    size_t subject_len;
    struct submap *map;          /* owned; NULL = subject unchanged */
};

/* A service import, kept at the importer. */
struct account_service_link {
    struct account *exporter;    /* borrowed */
    char *local;                 /* owned: the pattern published here */
    size_t local_len;
    struct submap *map;          /* owned: local -> exporter's subject; NULL = same */
    enum opts_response_type response_type;
    int64_t threshold_ms;
    char reply_prefix[40];       /* "_R_.<6 chars><i>x<j>." unique to node and link */
    struct sub *reply_sub;       /* owned: <prefix>> in the exporter's index */
};

struct account {
    char *name;                  /* owned */
    struct account_set *set;     /* borrowed: the set that owns it */
    uint32_t index;              /* its slot in each loop's cache table */
    struct sublist *sublist;     /* owned */
    bool jetstream;              /* the JetStream engine serves this account */
    struct opts_js_limits js_limits;  /* its jetstream { } limits */
    struct account_stream_link *streams_out;   /* owned array */
    size_t nstreams_out;
    struct account_service_link *services;     /* owned array */
    size_t nservices;
    /* owned: the connection behind this account's server-side
     * subscriptions (service replies, the no-JetStream answer); created
     * by account_set_start */
    struct client *ic;
    struct sub *no_js_sub;       /* owned: $JS.API.> when JetStream does not serve it */
    /* Connections logged in with a user JWT of this account, against the
     * account JWT's "conn" limit (operator mode, server/client_ops.c);
     * counted up at CONNECT, down at close, from any loop. */
    atomic_int jwt_conns;
};

struct account_set {
    struct account **accs;       /* owned array of owned accounts */
    size_t n;
    struct account *global;      /* borrowed: $G */
    struct account *system;      /* borrowed: system_account, or $SYS */
    struct account *jetstream;   /* borrowed; NULL when no account has it */
    bool configured;             /* an accounts {} block was given */
    struct account_responses *responses;  /* owned */
    struct server *srv;          /* borrowed; set by account_set_start */
};

/* Check the accounts of o as nats-server does (every named account
 * defined, imports covered by an export that allows them, mappings
 * valid, at most one account with JetStream). 0, or -EINVAL with
 * "file:line:col: reason" in err. */
int account_check(const struct tern_opts *o, char *err, size_t errlen);

/* Build the set for o (already checked). NULL on out of memory. */
struct account_set *account_set_new(const struct tern_opts *o);
/* Install the server-side subscriptions (service reply prefixes, the
 * no-JetStream answer); srv's loops must exist. 0 or -ENOMEM. */
int account_set_start(struct account_set *set, struct server *srv);
/* Remove them (before the loops stop) and free everything. */
void account_set_stop(struct account_set *set);
void account_set_free(struct account_set *set);

/* By name; NULL when there is none. len may be the NUL-terminated
 * name's strlen. Lock-free. */
struct account *account_find(const struct account_set *set, const char *name, size_t len);

/* The subject indexes' figures, summed over the accounts. */
struct sublist_stats;
void account_set_sublist_stats(struct account_set *set, struct sublist_stats *st);

/* Forget service replies whose threshold has passed. Main thread tick. */
void account_set_sweep(struct account_set *set);
/* Pending service replies (for tests and /accountz). */
size_t account_set_pending_replies(struct account_set *set);

#endif
