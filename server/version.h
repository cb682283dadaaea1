/*
 * server/version.h — the versions ternd reports.
 *
 * TERN_VERSION is Tern's own release (ternd --version, INFO "tern_version").
 * TERN_PROTO_VERSION is the nats-server release whose client-visible
 * behaviour Tern implements; clients gate features on INFO "version", so it
 * must name a real nats-server level (spec/client-protocol.md §3.2).
 * TERN_ROUTE_PROTO_VERSION is what route INFO says: Tern speaks 2.9's
 * route protocol (no route pooling, no per-account routes), which a
 * nats-server peer must not take for 2.10's.
 */
#ifndef TERN_SERVER_VERSION_H
#define TERN_SERVER_VERSION_H

#define TERN_VERSION "0.1.0"
/* 2.10: clients switch on 2.10's JetStream requests when they see it
 * (several filter subjects, consumer create actions, subject transforms of
 * streams and of their origins, metadata, first_seq, consumer_limits),
 * which Tern performs; s2 compression is refused with a clear error. */
#define TERN_PROTO_VERSION "2.10.0"
#define TERN_ROUTE_PROTO_VERSION "2.9.10"
#define TERN_GO_FIELD "go1.21.0" /* INFO "go": clients ignore it, but expect the key */

#endif
