/*
 * proto/subject.h — subject validation, tokenising, wildcard matching, and
 * the relations between two patterns (overlap, cover).
 *
 * Pure functions over byte ranges (not NUL-terminated). Tokens are split on
 * '.'; a token is a wildcard only when it is exactly "*" or ">". This is the
 * one home of these predicates: nothing else in Tern compares patterns.
 * Rules: ../shared/spec/client-protocol.md §10.
 */
#ifndef TERN_PROTO_SUBJECT_H
#define TERN_PROTO_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/parser.h"

/* Valid SUB subject: non-empty, no empty token, '>' only as the last token,
 * no whitespace. "foo*" and "f>o" are literal tokens and valid. */
bool subject_valid_sub(const char *s, size_t len);

/* Valid pedantic PUB subject: as subject_valid_sub and no wildcard token. */
bool subject_valid_literal(const char *s, size_t len);

/* True when the subject contains a '*' or '>' wildcard token. */
bool subject_has_wildcard(const char *s, size_t len);

/* Does a subscription pattern match a published subject? Byte-exact.
 * A subject with an empty token matches nothing. A literal "*" or ">"
 * token in the subject is matched like any other token. */
bool subject_match(const char *pattern, size_t plen, const char *subject, size_t slen);

/*
 * The two relations between patterns, token by token as subject_match reads
 * a pattern: "*" takes one token, ">" as the last token takes one or more,
 * any other token (an empty one, or a ">" that is not last) is literal.
 * Neither validates: callers that need valid patterns check them first.
 */

/* Can one subject match both a and b? Symmetric; equal patterns overlap
 * (nats-server's SubjectsCollide for valid patterns). */
bool subject_overlap(const char *a, size_t alen, const char *b, size_t blen);

/* Does p match every subject that s matches? ("foo.>" covers "foo.*.bar";
 * "foo.*" does not cover "foo.>"). A pattern covers itself, and covering
 * implies overlapping. */
bool subject_covers(const char *p, size_t plen, const char *s, size_t slen);

/* Split into at most max tokens; returns the token count, or max + 1 when
 * there are more than max tokens (the first max are filled). */
size_t subject_tokenize(const char *s, size_t len, struct proto_slice *tokens, size_t max);

#endif
