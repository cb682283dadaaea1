/*
 * proto/raft_preamble.h — the line that turns a cluster-port connection
 * into a raft connection: "RAFT <id> <name>\r\n" (cluster/raft_transport.h).
 *
 * The dialling node sends it as its first line instead of a route CONNECT;
 * <id> is its raft id in decimal (1 .. 2^64-1), <name> its server name, the
 * address raft knows it by. The accepting side answers "RAFTOK\r\n" and
 * from then on the bytes are canonical/raft's own messages. Pure functions;
 * nothing allocated.
 */
#ifndef TERN_PROTO_RAFT_PREAMBLE_H
#define TERN_PROTO_RAFT_PREAMBLE_H

#include <stddef.h>
#include <stdint.h>

/* What the first line starts with ("RAFT " cannot start a route verb). */
#define RAFT_PREAMBLE_PREFIX "RAFT "
/* The whole line without CRLF, at most. */
#define RAFT_PREAMBLE_MAX_LINE 512
/* The accepting side's answer, once it has taken the connection. */
#define RAFT_PREAMBLE_OK "RAFTOK\r\n"

/* Parse a preamble line (without its CRLF): the prefix, a decimal id with
 * no sign, no leading zero and no overflow, not 0; one space; a name of
 * 1..name_cap-1 bytes, none of them a control byte, a space or DEL
 * (nats-server refuses server names with spaces). Nothing else may follow.
 * On success writes *id and the NUL-terminated name and returns 0; else
 * -EPROTO (malformed) or -ENAMETOOLONG (the name does not fit), and
 * neither output is meaningful. */
int raft_preamble_parse(const char *line, size_t len, uint64_t *id, char *name,
                        size_t name_cap);

/* Write "RAFT <id> <name>\r\n" and a NUL to out; returns the length
 * without the NUL, or 0 when that does not fit in cap, the line would be
 * over RAFT_PREAMBLE_MAX_LINE, id is 0 or the name would not parse back. */
size_t raft_preamble_format(char *out, size_t cap, uint64_t id, const char *name);

#endif
