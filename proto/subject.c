/*
 * proto/subject.c — subject validation, tokenising and wildcard matching.
 *
 * Subjects are byte ranges split on '.'; a token is a wildcard only when it
 * is exactly "*" or ">" (spec/client-protocol.md §10). Every function walks
 * the bytes once with memchr for the dots; none allocates, none needs a NUL,
 * and none is stricter than nats-server about the bytes inside a token.
 */
#include "proto/subject.h"

#include <string.h>

/* Length of the token starting at s (up to the next '.' or the end). */
static size_t token_len(const char *s, size_t len)
{
    const char *dot = len ? memchr(s, '.', len) : NULL;
    return dot ? (size_t)(dot - s) : len;
}

/* The whitespace nats-server refuses inside a subject token. */
static bool has_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f')
            return true;
    }
    return false;
}

static bool is_wild(const char *t, size_t n)
{
    return n == 1 && (t[0] == '*' || t[0] == '>');
}

/* True for "", ".a", "a.", "a..b": such a subject has an empty token. */
static bool has_empty_token(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.' || s[len - 1] == '.')
        return true;
    return memmem(s, len, "..", 2) != NULL;
}

bool subject_valid_sub(const char *s, size_t len)
{
    bool after_fwc = false;
    size_t i = 0;
    if (len == 0)
        return false;
    for (;;) {
        size_t n = token_len(s + i, len - i);
        if (n == 0 || after_fwc || has_space(s + i, n))
            return false;
        after_fwc = n == 1 && s[i] == '>';
        i += n;
        if (i == len)
            return true;
        i++; /* the dot */
    }
}

bool subject_has_wildcard(const char *s, size_t len)
{
    size_t i = 0;
    if (len == 0)
        return false;
    for (;;) {
        size_t n = token_len(s + i, len - i);
        if (is_wild(s + i, n))
            return true;
        i += n;
        if (i >= len)
            return false;
        i++;
    }
}

bool subject_valid_literal(const char *s, size_t len)
{
    return subject_valid_sub(s, len) && !subject_has_wildcard(s, len);
}

/*
 * Pattern tokens are walked against subject tokens: "*" takes any one token,
 * a final ">" takes all that remain (at least one), anything else must be
 * byte-equal. A ">" that is not last is an invalid pattern; it then only
 * equals a literal ">" token, as nats-server's literal matcher does. A
 * published "*" or ">" is an ordinary token, so it reaches "*", ">" and an
 * identical pattern, never a different literal (spec §10.1).
 */
bool subject_match(const char *pattern, size_t plen, const char *subject, size_t slen)
{
    size_t pi = 0, si = 0;
    if (plen == 0 || has_empty_token(subject, slen))
        return false;
    for (;;) {
        size_t pn = token_len(pattern + pi, plen - pi);
        size_t sn = token_len(subject + si, slen - si);
        bool plast = pi + pn >= plen;
        bool slast = si + sn >= slen;
        const char *pt = pattern + pi;
        if (pn == 1 && pt[0] == '>' && plast)
            return true;
        bool star = pn == 1 && pt[0] == '*';
        if (!star && (pn != sn || memcmp(pt, subject + si, pn) != 0))
            return false;
        if (plast || slast)
            return plast && slast;
        pi += pn + 1;
        si += sn + 1;
    }
}

size_t subject_tokenize(const char *s, size_t len, struct proto_slice *tokens, size_t max)
{
    size_t count = 0, i = 0;
    if (len == 0) { /* one empty token, and s may be NULL */
        if (max == 0)
            return 1;
        tokens[0] = (struct proto_slice){ s, 0 };
        return 1;
    }
    for (;;) {
        size_t n = token_len(s + i, len - i);
        if (count == max)
            return max + 1;
        tokens[count++] = (struct proto_slice){ s + i, n };
        i += n;
        if (i >= len)
            return count;
        i++;
    }
}
