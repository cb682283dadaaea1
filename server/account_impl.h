/*
 * server/account_impl.h — private to server/account*.c and the delivery
 * path: the import steps deliver.c calls, and what account.c and
 * account_import.c share (the mapping helpers, the table of pending
 * service replies).
 */
#ifndef TERN_SERVER_ACCOUNT_IMPL_H
#define TERN_SERVER_ACCOUNT_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/parser.h"
#include "server/account.h"

struct worker;
struct submap;

#define GLOBAL_ACCOUNT "$G"
#define SYSTEM_ACCOUNT "$SYS"

/* ---- account_check.c ---- */

/* "<where>: <reason>" (where NULL: the reason alone) into err; -EINVAL. */
int account__fail(char *err, size_t errlen, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* pattern with each whole-token '*' turned into "$1", "$2", ...; with a
 * prefix, "<prefix>." first. malloc'd; NULL on out of memory. */
char *account__tokenize(const char *pattern, const char *prefix);
/* The mapping of an import (see account.c). */
int account__compile(const char *src, const char *dest_pattern, const char *prefix,
                     struct submap **out);
/* The export of exporter that lets importer import subject; NULL if none. */
const struct opts_export *account__find_export(const struct tern_opts *o, const char *exporter,
                                               bool service, const char *subject,
                                               const char *importer);

/* ---- account_import.c ---- */

struct account_responses *account__responses_new(void);
void account__responses_free(struct account_responses *r);

/*
 * What acc's imports make of m, published in acc on this node (never for
 * a message from a route): copies into the importers of acc's streams,
 * requests into the exporters of acc's services. Returns the deliveries
 * made, as deliver_publish counts them.
 */
size_t account_import_publish(struct worker *w, struct account *acc, const struct proto_msg *m);
/* The same for a JetStream delivery to `to` in acc (deliver_publish_as):
 * the importers of a stream that covers `to` receive it too. */
size_t account_import_deliver_as(struct worker *w, struct account *acc,
                                 const struct proto_msg *m, const char *to, size_t tolen);
/* Whether an account importing acc's streams listens on subject (mapped
 * as the import maps it), on w's caches: a push consumer delivering
 * there has somebody to deliver to. */
bool account_import_interest(struct worker *w, struct account *acc, const char *subject,
                             size_t len);

#endif
