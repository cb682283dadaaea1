/*
 * server/version.h — the versions ternd reports.
 *
 * TERN_VERSION is Tern's own release (ternd --version, INFO "tern_version").
 * TERN_PROTO_VERSION is the nats-server release whose client-visible
 * behaviour Tern implements; clients gate features on INFO "version", so it
 * must name a real nats-server level (spec/client-protocol.md §3.2).
 */
#ifndef TERN_SERVER_VERSION_H
#define TERN_SERVER_VERSION_H

#define TERN_VERSION "0.1.0"
/* 2.9.x, not 2.10: clients switch on 2.10-only JetStream requests (multiple
 * filter subjects, ...) when they see it (spec/jetstream.md §1). */
#define TERN_PROTO_VERSION "2.9.10"
#define TERN_GO_FIELD "go1.21.0" /* INFO "go": clients ignore it, but expect the key */

#endif
