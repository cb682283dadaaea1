/*
 * server/perms.c — subject permissions: compiles a user's publish and
 * subscribe allow/deny lists into a struct auth_perms, and answers the
 * auth_can_* checks (declared in server/auth.h) against it.
 *
 * Literal patterns are found by hash, wildcard ones scanned with
 * subject_match(); the semantics copy nats-server 2.9's
 * (spec/client-protocol.md §5, §7.1). Immutable once built, so any loop
 * reads it without locks. Checks must never allocate: auth_can_publish()
 * runs for every published message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "server/auth.h"
#include "server/perms.h"

#define PERMS_DEFAULT_RESPONSES_MAX 1
#define PERMS_DEFAULT_RESPONSES_MS  (2 * 60 * 1000)

/* One subject pattern; the bytes are a copy owned by the containing list. */
struct pat {
    char *s;
    size_t len;
};

/*
 * A set of plain subject patterns. Literal patterns live in an
 * open-addressing hash table, so a check against a long allow list costs
 * one hash of the subject plus a short probe; wildcard patterns are
 * usually few and are scanned with subject_match(). Owned by its perms.
 */
struct patset {
    struct pat *lit;
    size_t nlit;
    uint32_t *slots;   /* index + 1 into lit, 0 = empty; mask + 1 entries */
    size_t mask;
    struct pat *wild;
    size_t nwild;
};

/* A subscribe entry "subject queue": applies only to that queue group,
 * which may itself be a wildcard pattern such as "workers.*". */
struct qpat {
    struct pat subject;
    struct pat queue;
};

/* One subscribe allow or deny list, split into plain and queue entries. */
struct subperm {
    struct patset plain;
    struct qpat *queued;
    size_t nqueued;
};

/* Compiled permissions of one user (or the default ones). Allocated by
 * perms_new(), freed by perms_free() when the owning struct auth goes. */
struct auth_perms {
    bool pub_has_allow;      /* false: every subject allowed unless denied */
    struct patset pub_allow;
    struct patset pub_deny;
    bool sub_has_allow;
    bool sub_has_deny;
    struct subperm sub_allow;
    struct subperm sub_deny;
    struct pat *sub_deny_raw; /* deny entries as configured, for the overlap test */
    size_t nsub_deny_raw;
    bool allow_responses;
    int64_t responses_max;
    int64_t responses_expires_ms;
};

/* ---- small helpers ---- */

static int pat_copy(struct pat *p, const char *s, size_t len)
{
    p->s = malloc(len + 1);
    if (p->s == NULL)
        return -ENOMEM;
    memcpy(p->s, s, len);
    p->s[len] = '\0';
    p->len = len;
    return 0;
}

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- subject pattern sets ---- */

static void patset_free(struct patset *ps)
{
    for (size_t i = 0; i < ps->nlit; i++)
        free(ps->lit[i].s);
    for (size_t i = 0; i < ps->nwild; i++)
        free(ps->wild[i].s);
    free(ps->lit);
    free(ps->wild);
    free(ps->slots);
    memset(ps, 0, sizeof(*ps));
}

/* Size the arrays for up to n patterns; patset_add() fills them. */
static int patset_reserve(struct patset *ps, size_t n)
{
    size_t nslots = 8;

    if (n == 0)
        return 0;
    while (nslots < 2 * n)
        nslots *= 2;
    ps->lit = calloc(n, sizeof(*ps->lit));
    ps->wild = calloc(n, sizeof(*ps->wild));
    ps->slots = calloc(nslots, sizeof(*ps->slots));
    if (ps->lit == NULL || ps->wild == NULL || ps->slots == NULL)
        return -ENOMEM;
    ps->mask = nslots - 1;
    return 0;
}

/*
 * Add one pattern. An invalid subject is skipped, as nats-server's sublist
 * refuses to insert it and carries on: such an entry can never match.
 */
static int patset_add(struct patset *ps, const char *s, size_t len)
{
    size_t slot;
    int rc;

    if (!subject_valid_sub(s, len))
        return 0;
    if (subject_has_wildcard(s, len))
        return pat_copy(&ps->wild[ps->nwild++], s, len);
    rc = pat_copy(&ps->lit[ps->nlit], s, len);
    if (rc < 0)
        return rc;
    slot = fnv1a(s, len) & ps->mask;
    while (ps->slots[slot] != 0)
        slot = (slot + 1) & ps->mask;
    ps->slots[slot] = (uint32_t)(++ps->nlit);
    return 0;
}

static bool patset_has_literal(const struct patset *ps, const char *s, size_t len)
{
    size_t slot;

    if (ps->nlit == 0)
        return false;
    slot = fnv1a(s, len) & ps->mask;
    while (ps->slots[slot] != 0) {
        const struct pat *p = &ps->lit[ps->slots[slot] - 1];

        if (p->len == len && memcmp(p->s, s, len) == 0)
            return true;
        slot = (slot + 1) & ps->mask;
    }
    return false;
}

/*
 * Does any pattern match the subject? Wildcard tokens inside the subject
 * are matched as plain tokens (a pattern "*" covers a subject token "*"),
 * which is exactly how nats-server's sublist treats them.
 */
static bool patset_match(const struct patset *ps, const char *s, size_t len)
{
    if (patset_has_literal(ps, s, len))
        return true;
    for (size_t i = 0; i < ps->nwild; i++) {
        if (subject_match(ps->wild[i].s, ps->wild[i].len, s, len))
            return true;
    }
    return false;
}

/* ---- token walking for the subset test ---- */

/* Walks the '.'-separated tokens of a byte range; lives on the caller's
 * stack and borrows s. An empty range yields one empty token, as in Go. */
struct tokiter {
    const char *s;
    size_t len;
    size_t pos;
    bool done;
};

static bool tok_next(struct tokiter *it, const char **tok, size_t *tlen)
{
    size_t end = it->pos;

    if (it->done)
        return false;
    while (end < it->len && it->s[end] != '.')
        end++;
    *tok = it->s + it->pos;
    *tlen = end - it->pos;
    if (end >= it->len)
        it->done = true;
    else
        it->pos = end + 1;
    return true;
}

static bool tok_is(const char *t, size_t len, char c)
{
    return len == 1 && t[0] == c;
}

/*
 * Is every subject matched by a also matched by pattern b? Both may hold
 * wildcards. Copies the rules of nats-server's subset test, including that
 * any token of b that merely starts with '*' is treated like "*".
 */
static bool subset_match(const char *a, size_t alen, const char *b, size_t blen)
{
    struct tokiter ia = { .s = a, .len = alen }, ib = { .s = b, .len = blen };
    const char *t1, *t2;
    size_t l1, l2;

    while (tok_next(&ib, &t2, &l2)) {
        if (!tok_next(&ia, &t1, &l1) || l2 == 0)
            return false;
        if (tok_is(t2, l2, '>'))
            return true;
        if (l1 == 0 || tok_is(t1, l1, '>'))
            return false;
        if (tok_is(t1, l1, '*')) {
            if (!tok_is(t2, l2, '*'))
                return false;
            continue;
        }
        if (t2[0] != '*' && (l1 != l2 || memcmp(t1, t2, l1) != 0))
            return false;
    }
    return !tok_next(&ia, &t1, &l1);
}

/* ---- subscribe lists ---- */

static void subperm_free(struct subperm *sp)
{
    patset_free(&sp->plain);
    for (size_t i = 0; i < sp->nqueued; i++) {
        free(sp->queued[i].subject.s);
        free(sp->queued[i].queue.s);
    }
    free(sp->queued);
    memset(sp, 0, sizeof(*sp));
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Split "subject [queue]" on whitespace. Returns the field count (capped
 * at 3, meaning "too many") and the first two fields. */
static int split_fields(const char *s, struct proto_slice f[2])
{
    int n = 0;

    while (*s != '\0') {
        const char *start;

        while (is_space(*s))
            s++;
        if (*s == '\0')
            break;
        start = s;
        while (*s != '\0' && !is_space(*s))
            s++;
        if (n == 2)
            return 3;
        f[n].ptr = start;
        f[n].len = (size_t)(s - start);
        n++;
    }
    return n;
}

static int subperm_add(struct subperm *sp, const char *entry)
{
    struct proto_slice f[2];
    struct qpat *q;
    int n = split_fields(entry, f);
    int rc;

    /* nats-server logs and skips an entry with more than two fields. */
    if (n == 0 || n > 2)
        return 0;
    if (n == 1)
        return patset_add(&sp->plain, f[0].ptr, f[0].len);
    if (!subject_valid_sub(f[0].ptr, f[0].len))
        return 0;
    q = &sp->queued[sp->nqueued];
    rc = pat_copy(&q->subject, f[0].ptr, f[0].len);
    if (rc < 0)
        return rc;
    rc = pat_copy(&q->queue, f[1].ptr, f[1].len);
    if (rc < 0) {
        free(q->subject.s);
        return rc;
    }
    sp->nqueued++;
    return 0;
}

static int subperm_build(struct subperm *sp, char *const *entries, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    rc = patset_reserve(&sp->plain, n);
    if (rc < 0)
        return rc;
    sp->queued = calloc(n, sizeof(*sp->queued));
    if (sp->queued == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        rc = subperm_add(sp, entries[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* nats-server: a queue group named in a permission matches the same name,
 * or, when that name holds wildcards, any queue name it covers. */
static bool queue_matches(const struct pat *qname, const char *queue, size_t qlen)
{
    if (qname->len == qlen && memcmp(qname->s, queue, qlen) == 0)
        return true;
    return subject_has_wildcard(qname->s, qname->len) &&
           subset_match(queue, qlen, qname->s, qname->len);
}

/* What one subscribe list says about a SUB; returned by value. */
struct sub_verdict {
    bool plain;     /* a plain entry matched the subject */
    bool queued;    /* a "subject queue" entry matched the subject */
    bool queue_ok;  /* ... and one of those names this queue group */
};

static struct sub_verdict subperm_eval(const struct subperm *sp, const char *subject,
                                       size_t len, const char *queue, size_t qlen)
{
    struct sub_verdict v = { .plain = patset_match(&sp->plain, subject, len) };

    if (qlen == 0)
        return v;
    for (size_t i = 0; i < sp->nqueued; i++) {
        const struct qpat *q = &sp->queued[i];

        if (!subject_match(q->subject.s, q->subject.len, subject, len))
            continue;
        v.queued = true;
        if (queue_matches(&q->queue, queue, qlen))
            v.queue_ok = true;
    }
    return v;
}

/* ---- compiled permissions ---- */

void perms_free(struct auth_perms *p)
{
    if (p == NULL)
        return;
    patset_free(&p->pub_allow);
    patset_free(&p->pub_deny);
    subperm_free(&p->sub_allow);
    subperm_free(&p->sub_deny);
    for (size_t i = 0; i < p->nsub_deny_raw; i++)
        free(p->sub_deny_raw[i].s);
    free(p->sub_deny_raw);
    free(p);
}

static int patset_build(struct patset *ps, char *const *entries, size_t n)
{
    int rc = patset_reserve(ps, n);

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = patset_add(ps, entries[i], strlen(entries[i]));
    return rc;
}

static int copy_raw_denies(struct auth_perms *p, char *const *entries, size_t n)
{
    if (n == 0)
        return 0;
    p->sub_deny_raw = calloc(n, sizeof(*p->sub_deny_raw));
    if (p->sub_deny_raw == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = pat_copy(&p->sub_deny_raw[i], entries[i], strlen(entries[i]));

        if (rc < 0)
            return rc;
        p->nsub_deny_raw++;
    }
    return 0;
}

static void set_response_limits(struct auth_perms *p, const struct opts_permissions *op)
{
    p->allow_responses = op->allow_responses;
    if (!op->allow_responses)
        return;
    /* Zero means "not given" (nats-server fills in 1 message, 2 minutes);
     * a negative value means no limit. */
    p->responses_max = op->responses_max != 0 ? op->responses_max
                                              : PERMS_DEFAULT_RESPONSES_MAX;
    p->responses_expires_ms = op->responses_expires_ms != 0
                                  ? op->responses_expires_ms
                                  : PERMS_DEFAULT_RESPONSES_MS;
}

/*
 * An empty allow list counts as no allow list, as nats-server's config
 * loader produces, except that allow_responses switches the blanket publish
 * allow off: such a user may only publish where an allow entry says or to
 * reply subjects it was sent (spec/server-cli-config.md §3.2).
 */
int perms_new(const struct opts_permissions *op, struct auth_perms **out)
{
    struct auth_perms *p;
    int rc;

    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->pub_has_allow = op->publish.nallow > 0 || op->allow_responses;
    p->sub_has_allow = op->subscribe.nallow > 0;
    p->sub_has_deny = op->subscribe.ndeny > 0;
    set_response_limits(p, op);

    rc = patset_build(&p->pub_allow, op->publish.allow, op->publish.nallow);
    if (rc < 0)
        goto err_free_perms;
    rc = patset_build(&p->pub_deny, op->publish.deny, op->publish.ndeny);
    if (rc < 0)
        goto err_free_perms;
    rc = subperm_build(&p->sub_allow, op->subscribe.allow, op->subscribe.nallow);
    if (rc < 0)
        goto err_free_perms;
    rc = subperm_build(&p->sub_deny, op->subscribe.deny, op->subscribe.ndeny);
    if (rc < 0)
        goto err_free_perms;
    rc = copy_raw_denies(p, op->subscribe.deny, op->subscribe.ndeny);
    if (rc < 0)
        goto err_free_perms;
    *out = p;
    return 0;

err_free_perms:
    perms_free(p);
    return rc;
}

/* ---- permission checks ---- */

/* spec/client-protocol.md §5: allow (when present) must match, deny must
 * not. The subject is matched token by token, wildcards in it literally. */
bool auth_can_publish(const struct auth_perms *p, const char *subject, size_t len)
{
    if (p == NULL)
        return true;
    if (p->pub_has_allow && !patset_match(&p->pub_allow, subject, len))
        return false;
    return !patset_match(&p->pub_deny, subject, len);
}

/*
 * spec/client-protocol.md §7.1, with nats-server 2.9's exact semantics
 * (each checked against the real server):
 * - The SUB subject is matched against the entries as if it were a
 *   published subject whose '*'/'>' tokens are plain tokens. So allow
 *   "foo.>" permits SUB "foo.*" and allow "foo.*" permits SUB "foo.>",
 *   but allow "foo.bar" does not permit SUB "foo.*".
 * - Allow: a plain entry must match. If the SUB has a queue group and any
 *   "subject queue" entry matches the subject, the verdict is instead
 *   whether one of those entries names the group — even when a plain entry
 *   also matched (allow "foo" + "foo q1" refuses SUB foo q2).
 * - Deny, only when still allowed: a matching plain entry refuses; with a
 *   queue group and matching "subject queue" entries, the verdict is again
 *   replaced: refused only when one names the group (deny "foo" + "foo q1"
 *   lets SUB foo q2 through).
 * - A deny entry narrower than a wildcard SUB does not refuse it (deny
 *   "foo.secret" admits SUB "foo.*"); messages are filtered at delivery
 *   instead: see auth_sub_needs_deny_filter().
 */
bool auth_can_subscribe(const struct auth_perms *p, const char *subject, size_t len,
                        const char *queue, size_t qlen)
{
    struct sub_verdict v;
    bool allowed = true;

    if (p == NULL)
        return true;
    if (queue == NULL)
        qlen = 0;
    if (p->sub_has_allow) {
        v = subperm_eval(&p->sub_allow, subject, len, queue, qlen);
        allowed = v.plain;
        if (v.queued)
            allowed = v.queue_ok;
    }
    if (allowed && p->sub_has_deny) {
        v = subperm_eval(&p->sub_deny, subject, len, queue, qlen);
        allowed = !v.plain;
        if (v.queued)
            allowed = !v.queue_ok;
    }
    return allowed;
}

/*
 * nats-server switches a connection's delivery filter on the first time it
 * admits a wildcard SUB that some subscribe deny entry (as written, queue
 * part included) is a subset of; from then on every message to that
 * connection, on any of its subscriptions, is dropped when it matches a
 * plain deny entry. A wildcard SUB that merely overlaps a deny entry
 * without containing it (deny "foo.*.bar", SUB "foo.x.*") does not switch
 * it on, so foo.x.bar is then delivered — verified against nats-server.
 */
bool auth_sub_needs_deny_filter(const struct auth_perms *p, const char *subject, size_t len)
{
    if (p == NULL || p->nsub_deny_raw == 0 || !subject_has_wildcard(subject, len))
        return false;
    for (size_t i = 0; i < p->nsub_deny_raw; i++) {
        if (subset_match(p->sub_deny_raw[i].s, p->sub_deny_raw[i].len, subject, len))
            return true;
    }
    return false;
}

/* Queue-form deny entries never match here: in nats-server they become a
 * token containing a space, which no delivered subject has. */
bool auth_can_deliver(const struct auth_perms *p, const char *subject, size_t len)
{
    return p == NULL || !patset_match(&p->sub_deny.plain, subject, len);
}

bool auth_allows_responses(const struct auth_perms *p)
{
    return p != NULL && p->allow_responses;
}

void auth_response_limits(const struct auth_perms *p, int64_t *max_msgs, int64_t *expires_ms)
{
    *max_msgs = p != NULL ? p->responses_max : 0;
    *expires_ms = p != NULL ? p->responses_expires_ms : 0;
}
