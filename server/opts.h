/*
 * server/opts.h — the node's options: nats-server's command-line flags and
 * config-file keys, resolved into one struct.
 *
 * Precedence as nats-server: defaults, then flags, then the config file,
 * then the flags again, so a flag always beats the file. Every string in
 * struct tern_opts is heap-owned by the struct and freed by opts_free().
 * Flag and key names: ../shared/spec/server-cli-config.md §1 and §3.
 */
#ifndef TERN_SERVER_OPTS_H
#define TERN_SERVER_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One allow/deny pair of subject patterns. Subscribe entries may be
 * "subject queue" to allow or deny one queue group only. */
struct opts_perm {
    char **allow;   /* owned, NULL when no allow list (= everything) */
    size_t nallow;
    char **deny;    /* owned */
    size_t ndeny;
};

struct opts_permissions {
    struct opts_perm publish;
    struct opts_perm subscribe;
    bool allow_responses;         /* may publish to reply subjects it received */
    int64_t responses_max;        /* default 1 */
    int64_t responses_expires_ms; /* default 2 min */
};

struct opts_user {
    char *user;        /* owned; NULL for an nkey user */
    char *password;    /* owned; plain or bcrypt ($2a$, $2b$, $2x$, $2y$) */
    char *nkey;        /* owned; public user NKEY (a later issue) */
    bool has_permissions;
    struct opts_permissions permissions;
    char *account;     /* owned; the accounts {} entry it was written in,
                          NULL for the authorization block's ($G) */
};

/* One export of an account (server/account.h says what it does). */
enum opts_response_type {
    OPTS_RESPONSE_SINGLETON = 0,  /* one reply per request (the default) */
    OPTS_RESPONSE_STREAM,         /* any number until the threshold */
    OPTS_RESPONSE_CHUNKED,        /* the same, as nats-server treats it */
};

struct opts_export {
    bool service;                 /* a service; else a stream */
    char *subject;                /* owned */
    char **accounts;              /* owned: who may import it; NULL = anyone */
    size_t naccounts;
    enum opts_response_type response_type;
    int64_t response_threshold_ms;/* how long a reply may come; default 2 min */
};

struct opts_import {
    bool service;
    char *account;                /* owned: the exporting account */
    char *subject;                /* owned: the subject as exported there */
    char *to;                     /* owned; NULL = the same subject here */
    char *prefix;                 /* owned; streams only; NULL = none */
};

/* An account's own JetStream limits (accounts {} jetstream { }, or its
 * JWT's); -1 = none. The one shape for the options, the account and the
 * engine. */
struct opts_js_limits {
    int64_t max_memory, max_store, max_streams, max_consumers;
    int64_t max_ack_pending, mem_max_stream_bytes, disk_max_stream_bytes;
    bool max_bytes_required;      /* every stream must set max_bytes */
};
#define OPTS_JS_NO_LIMITS ((struct opts_js_limits){ -1, -1, -1, -1, -1, -1, -1, false })

/* One entry of the accounts {} block. */
struct opts_account {
    char *name;                   /* owned */
    int jetstream;                /* -1 not said, 0 disabled, 1 enabled */
    struct opts_js_limits js;     /* its jetstream { } limits */
    struct opts_export *exports;  /* owned array */
    size_t nexports;
    struct opts_import *imports;  /* owned array */
    size_t nimports;
    char *where;                  /* owned: "file:line:col" of the entry */
};

/* One entry of resolver_preload: an account's public key and its JWT. */
struct opts_preload {
    char *key;                    /* owned */
    char *jwt;                    /* owned */
    char *where;                  /* owned: "file:line:col" of the entry */
};

enum opts_action {
    OPTS_RUN = 0,
    OPTS_VERSION,      /* -v: print "ternd: v<version>" and exit 0 */
    OPTS_HELP,         /* -h: print usage and exit 0 */
    OPTS_TEST_CONFIG,  /* -t: config checked; print "... is valid" and exit 0 */
    OPTS_SIGNAL,       /* -sl cmd[=pid|pidfile]: send a signal and exit */
};

struct tern_opts {
    /* Client listener. */
    char *host;                  /* default "0.0.0.0" */
    int port;                    /* default 4222; -1 = random */
    char *server_name;           /* NULL = use the server id */
    char *client_advertise;
    int threads;                 /* I/O loops; 0 = number of cores */

    /* Monitoring. */
    char *http_host;             /* NULL = same as host */
    int http_port;               /* 0 = off; -1 = random */
    int https_port;              /* the same over TLS (the tls block's); not with http_port */
    char *http_base_path;
    bool console_off;            /* Tern's own "console: false": / serves the
                                    plain endpoint list, no web console */

    /* Limits and timers (durations in milliseconds). */
    int64_t max_connections;     /* 65536 */
    int64_t max_payload;         /* 1048576 */
    int64_t max_pending;         /* 67108864 */
    int64_t max_control_line;    /* 4096 */
    int64_t max_subscriptions;   /* 0 = unlimited */
    int64_t max_sub_tokens;      /* 0 = unlimited */
    int64_t ping_interval_ms;    /* 120000 */
    int64_t ping_max;            /* 2 */
    int64_t write_deadline_ms;   /* 10000 */
    int64_t lame_duck_duration_ms;  /* 120000 */
    int64_t lame_duck_grace_ms;     /* 10000 */
    int64_t max_closed_clients;  /* 10000 */
    bool no_header_support;

    /* Logging. */
    bool debug;
    bool trace;
    bool trace_verbose;
    bool logtime;                /* default true */
    bool logtime_utc;
    bool log_json;               /* Tern's own: JSON lines (server/log_json.h) */
    char *log_file;
    int64_t log_size_limit;
    int64_t log_max_num;         /* rotated log files kept; 0 = all */
    int64_t max_traced_msg_len;
    bool syslog;
    char *remote_syslog;
    char *pid_file;
    char *ports_file_dir;

    /* Client authorization. At most one of user/password, token, users. */
    char *user;
    char *password;
    char *token;
    double auth_timeout_s;       /* 2 (seconds, float allowed) */
    struct opts_user *users;     /* owned array */
    size_t nusers;
    char *no_auth_user;
    bool has_default_permissions;
    struct opts_permissions default_permissions;

    /* Accounts (server/account.h). Their users are in users[] above, each
     * naming its account. */
    struct opts_account *accounts; /* owned array; none = everything in $G */
    size_t naccounts;
    char *system_account;        /* owned; NULL = $SYS */
    char *accounts_where;        /* owned: "file:line:col" of accounts {} */

    /* Operator mode (server/opts_operator.c, server/auth_jwt.h): clients
     * log in with user JWTs of the accounts preloaded here, which
     * opts_operator.c also turns into accounts[] above. */
    char *operator_jwt;          /* owned: the operator's token; NULL = off */
    char *operator_where;        /* owned: "file:line:col" of operator */
    bool resolver_memory;        /* resolver: MEMORY */
    struct opts_preload *preloads; /* owned array */
    size_t npreloads;

    /* Cluster (routes; used by cluster/). */
    char *cluster_name;
    char *cluster_host;          /* NULL = clustering off */
    int cluster_port;
    char **routes;               /* owned array of URLs */
    size_t nroutes;
    char *cluster_advertise;
    bool no_advertise;
    int64_t connect_retries;
    char *cluster_user;
    char *cluster_password;
    double cluster_auth_timeout_s;
    /* cluster { tls {} } (spec/cluster-protocol.md §10.3): routes and the
     * raft connections on the cluster port are TLS, the peer's certificate
     * always verified (nats-server forces it for routes). Only the tls_*
     * fields of the struct are set, as for ws_tls. */
    struct tern_opts *cluster_tls; /* owned; NULL = routes are plain TCP */

    /* TLS on the client port (spec/server-cli-config.md §1.5, §3.6): a
     * tls {} block or any --tls* flag. Checked here for shape only; the
     * files are read when server/tls.c builds its context. */
    bool tls;                    /* TLS required of every client */
    char *tls_cert;              /* PEM certificate (chain) file */
    char *tls_key;               /* PEM private key file */
    char *tls_ca;                /* PEM CA bundle for client certs; NULL = none */
    bool tls_verify;             /* require and verify a client certificate */
    bool tls_map;                /* verify_and_map: the user comes from the cert */
    double tls_timeout_s;        /* handshake timeout, default 2 */
    char **tls_ciphers;          /* owned: OpenSSL names, TLS 1.2 and below */
    size_t ntls_ciphers;
    char **tls_suites13;         /* owned: TLS 1.3 suite names */
    size_t ntls_suites13;
    char **tls_curves;           /* owned: OpenSSL group names, in order */
    size_t ntls_curves;
    int tls_min_version;         /* 12 or 13 (TLS 1.2 / 1.3); default 12 */
    char *tls_where;             /* owned: "file:line:col" of the tls block,
                                    the prefix of errors found loading it;
                                    NULL when TLS came from flags */

    /* WebSocket listener (websocket {}, spec/server-cli-config.md §3.7;
     * server/ws.h). Off while ws_port is 0. The block's own tls {} is
     * parsed into ws_tls, a struct of which only the tls_* fields are set,
     * so server/tls.c builds its context as it does the client port's. */
    char *ws_host;               /* default "0.0.0.0" */
    int ws_port;                 /* 0 = off; -1 = random */
    bool ws_no_tls;
    bool ws_compression;         /* permessage-deflate when a client offers it */
    bool ws_same_origin;
    char **ws_origins;           /* owned: allowed_origins as written */
    size_t nws_origins;
    int64_t ws_handshake_timeout_ms;  /* 0 = none (see server/ws.c) */
    char *ws_no_auth_user;
    char *ws_user;               /* authorization {} of the block: an */
    char *ws_password;           /* override for WebSocket clients */
    char *ws_token;
    double ws_auth_timeout_s;    /* 0 = the top-level auth timeout */
    struct tern_opts *ws_tls;    /* owned; NULL = no tls {} in the block */
    char *ws_where;              /* owned: "file:line:col" of the block */

    /* JetStream (a later issue). */
    bool jetstream;
    char *store_dir;
    int64_t max_memory_store;    /* -1 = default */
    int64_t max_file_store;      /* -1 = default */
    char *js_domain;             /* owned; NULL = none: $JS.<domain>.API.> served too */

    /* Bookkeeping. */
    char *config_file;           /* owned; NULL when none */
    char *signal_cmd;            /* -sl argument, owned */

    /* Warnings to log as [WRN] once logging is up: values nats-server
     * accepts with a warning (a duration given as a number), and keys and
     * flags Tern accepts but does not implement yet. Owned strings. */
    char **warnings;
    size_t nwarnings;
};

/* Fill with nats-server's defaults. 0 or -ENOMEM. */
int opts_init_defaults(struct tern_opts *o);
void opts_free(struct tern_opts *o);

/*
 * The whole start-up resolution: defaults, flags, config file (-c), flags
 * again, then validation (e.g. max_payload <= max_pending, conflicting auth).
 * On failure returns a negative code and writes one line to err (without a
 * trailing newline), e.g. "bad.conf:2:1: unknown field \"bogus_key\"" or
 * "flag provided but not defined: -bogus". *action says what main does.
 */
int opts_from_command_line(struct tern_opts *o, int argc, char **argv,
                           enum opts_action *action, char *err, size_t errlen);

/*
 * For SIGHUP: next holds a fresh opts_from_command_line() of the same argv.
 * Returns 0 when every changed option may change at runtime (auth, limits,
 * timers, logging); else -EINVAL with "config reload not supported for
 * <Field>: old=<v>, new=<v>" in err.
 */
int opts_check_reload(const struct tern_opts *running, const struct tern_opts *next,
                      char *err, size_t errlen);

/* Append one warning line (printf-style) to o->warnings. 0 or -ENOMEM. */
int opts_add_warning(struct tern_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Usage text printed by -h. */
const char *opts_usage(void);

#endif
