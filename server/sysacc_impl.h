/*
 * server/sysacc_impl.h — what server/sysacc.c (the subscriptions and the
 * trip across threads) and server/sysacc_answer.c (building each answer
 * on the main thread) share. Private to them; the contract is sysacc.h.
 */
#ifndef TERN_SERVER_SYSACC_IMPL_H
#define TERN_SERVER_SYSACC_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct account;
struct client;
struct sub;
struct monitor;
struct event;
struct worker;

/* What a request asks for: the last token of its subject (PING alone is
 * STATSZ). */
enum sysacc_ep {
    SYSACC_EP_STATSZ,
    SYSACC_EP_VARZ,
    SYSACC_EP_CONNZ,
    SYSACC_EP_SUBSZ,
    SYSACC_EP_ROUTEZ,
    SYSACC_EP_JSZ,
    SYSACC_EP_HEALTHZ,
    SYSACC_EP_ACCOUNTZ,
    SYSACC_EP_COUNT
};

#define SYSACC_NSUBS (1 + 2 * SYSACC_EP_COUNT)

struct sysacc_req;

/* Owned by struct server (sysacc_start / sysacc_stop). */
struct sysacc {
    struct server *srv;        /* borrowed */
    struct account *acc;       /* borrowed: the system account */
    struct client *ic;         /* owned: the subscriptions' internal client */
    struct sub *subs[SYSACC_NSUBS];        /* owned; in acc's index */
    enum sysacc_ep sub_ep[SYSACC_NSUBS];   /* what each one asks for */
    struct monitor *own_monitor; /* owned: headless, when -m is off */
    int wake_fd;               /* owned eventfd */
    struct event *wake_ev;     /* owned; on main_base */
    uint64_t seq;              /* main thread only: "server" "seq" */

    pthread_mutex_t lock;
    struct sysacc_req *head, *tail;  /* guarded by lock: pending requests */
    size_t npending, pending_bytes;  /* guarded by lock */
    uint64_t dropped;          /* guarded by lock: refused past the cap */
    bool wake_armed;           /* guarded by lock: the eventfd is written */
};

/* sysacc_answer.c, main thread: answer one request heard by the loop
 * `heard` (reply may be empty: a statsz broadcast). */
void sysacc__answer(struct sysacc *sa, enum sysacc_ep ep, struct worker *heard,
                    const char *reply, size_t reply_len, const char *body, size_t body_len);
/* "VARZ", ...: the subject token. */
const char *sysacc__ep_name(enum sysacc_ep ep);

/* sysacc.c, main thread: hand the payload to a loop (the one that heard
 * the request if it can) to deliver to subject in the system account. */
void sysacc__post_reply(struct sysacc *sa, struct worker *heard, const char *subject,
                        size_t subject_len, const char *payload, size_t len);

#endif
