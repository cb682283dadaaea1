/*
 * proto/subject.c — subject validation, tokenising, wildcard matching, and
 * the overlap and cover relations between two patterns.
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

/* One token of a pattern being walked: where it starts, its length, and
 * what it is as subject_match reads it. */
struct ptok {
    const char *p;
    size_t n;
    bool last, star, rest; /* rest: a ">" that is the last token */
};

static void ptok_at(struct ptok *t, const char *s, size_t len, size_t i)
{
    t->p = s + i;
    t->n = token_len(s + i, len - i);
    t->last = i + t->n >= len;
    t->star = t->n == 1 && t->p[0] == '*';
    t->rest = t->n == 1 && t->p[0] == '>' && t->last;
}

static bool ptok_eq(const struct ptok *a, const struct ptok *b)
{
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/* What one position of a two-pattern walk decides. */
enum step { STEP_NEXT, STEP_YES, STEP_NO };

/* Walk a and b token by token, asking at() at each position; when it says
 * go on, the answer is whether both end at the same token. */
static bool walk(const char *a, size_t alen, const char *b, size_t blen,
                 enum step (*at)(const struct ptok *ta, const struct ptok *tb))
{
    size_t ai = 0, bi = 0;
    struct ptok ta, tb;
    for (;;) {
        ptok_at(&ta, a, alen, ai);
        ptok_at(&tb, b, blen, bi);
        enum step st = at(&ta, &tb);
        if (st != STEP_NEXT)
            return st == STEP_YES;
        if (ta.last || tb.last)
            return ta.last && tb.last;
        ai += ta.n + 1;
        bi += tb.n + 1;
    }
}

/*
 * A subject matching both exists while, position by position, one side is a
 * wildcard or both are the same literal. A final ">" on either side takes
 * whatever the other has left (at least its current token), so the answer
 * is yes.
 */
static enum step overlap_at(const struct ptok *ta, const struct ptok *tb)
{
    if (ta->rest || tb->rest)
        return STEP_YES;
    if (!ta->star && !tb->star && !ptok_eq(ta, tb))
        return STEP_NO;
    return STEP_NEXT;
}

bool subject_overlap(const char *a, size_t alen, const char *b, size_t blen)
{
    return walk(a, alen, b, blen, overlap_at);
}

/*
 * Every subject of s is a subject of p when, position by position, p's token
 * is a wildcard at least as wide as s's, or both are the same literal: a
 * final ">" in p takes any non-empty rest; "*" in p takes one token but not
 * s's final ">"; a literal in p only the same literal.
 */
static enum step covers_at(const struct ptok *tp, const struct ptok *ts)
{
    if (tp->rest)
        return STEP_YES;
    if (ts->rest || (!tp->star && (ts->star || !ptok_eq(tp, ts))))
        return STEP_NO;
    return STEP_NEXT;
}

bool subject_covers(const char *p, size_t plen, const char *s, size_t slen)
{
    return walk(p, plen, s, slen, covers_at);
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
