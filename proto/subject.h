/*
 * proto/subject.h — subject validation, tokenising and wildcard matching.
 *
 * Pure functions over byte ranges (not NUL-terminated). Tokens are split on
 * '.'; a token is a wildcard only when it is exactly "*" or ">".
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

/* Split into at most max tokens; returns the token count, or max + 1 when
 * there are more than max tokens (the first max are filled). */
size_t subject_tokenize(const char *s, size_t len, struct proto_slice *tokens, size_t max);

#endif
