/*
 * cluster/jsraft_members.c — who is in the JetStream raft group: forming it
 * on a first start, this node's raft id, a wiped node joining again, and
 * the leader taking a member in, and what monitoring reads of the members
 * (contract in jsraft.h; shared state in jsraft_impl.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/jsraft_impl.h"
#include "cluster/route.h"
#include "server/log.h"

/* ---- forming the group ---- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void jsraft__start_raft(struct jsraft *r, int state)
{
    int rc = raft_start(&r->raft);
    if (rc != 0)
        jsraft__die(r, "starting raft failed", rc);
    r->started = true;
    r->start_index = raft_last_index(&r->raft);
    r->fresh = state == CLUSTER_RAFT_FRESH;
    cluster_set_raft_state(r->cl, state);
    LOG_INFO("JetStream cluster: raft started as '%s' (id %llu)", r->name,
             (unsigned long long)r->id);
}

/* A node with no raft state among peers that have a group (its store was
 * wiped, or it is new): it starts raft empty under a fresh id and asks the
 * group's leader, every second until a leader shows up in its own raft, to
 * take it in (jsraft_admit on the leader). */
static void start_joining(struct jsraft *r, const char *peer)
{
    unsigned long long salt = 0;
    FILE *f = fopen("/dev/urandom", "r");
    if (!f || fread(&salt, sizeof salt, 1, f) != 1)
        salt = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
    if (f)
        fclose(f);
    raft_id id = raft_digest(r->name, salt | 1);
    if (jsraft__write_id(r, id) < 0 || jsraft__init_raft(r, id) < 0)
        jsraft__die(r, "setting raft up failed", RAFT_IOERR);
    LOG_WARN("JetStream cluster: this node has no raft state but peer '%s' belongs to a group: "
             "joining it as a new member (id %llu)",
             peer, (unsigned long long)id);
    r->joining = true;
    jsraft__start_raft(r, CLUSTER_RAFT_EMPTY);
}

/* A first start: bootstrap once every Tern peer the routes promise is
 * there and, like us, has never had raft state. Every node computes the
 * same configuration from the same names. */
void jsraft__try_bootstrap(struct jsraft *r)
{
    int expected = cluster_expected_tern_peers(r->cl);
    if (expected < 0)
        return;
    struct cluster_peer peers[MAX_PEERS];
    size_t n = cluster_peers(r->cl, peers, MAX_PEERS);
    if (n > MAX_PEERS)
        n = MAX_PEERS;
    const char *names[MAX_PEERS + 1];
    size_t nn = 0;
    names[nn++] = r->name;
    for (size_t i = 0; i < n; i++) {
        if (!peers[i].tern || peers[i].raft_state == CLUSTER_RAFT_UNKNOWN)
            continue; /* not (yet) a JetStream member: never counted */
        /* Nodes of a new cluster bootstrap within moments of each other:
         * one that already has (FRESH) still counts, as its configuration
         * is the one this node would make. */
        if (peers[i].raft_state == CLUSTER_RAFT_MEMBER) {
            start_joining(r, peers[i].name);
            return;
        }
        if (nn <= MAX_PEERS)
            names[nn++] = peers[i].name;
    }
    if ((int)nn - 1 < expected)
        return;
    qsort(names, nn, sizeof *names, cmp_names);
    raft_id id = raft_digest(r->name, 0);
    if (jsraft__write_id(r, id) < 0 || jsraft__init_raft(r, id) < 0)
        jsraft__die(r, "setting raft up failed", RAFT_IOERR);
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rc = 0;
    for (size_t i = 0; i < nn && rc == 0; i++)
        rc = raft_configuration_add(&conf, raft_digest(names[i], 0), names[i], RAFT_VOTER);
    if (rc == 0)
        rc = raft_bootstrap(&r->raft, &conf);
    raft_configuration_close(&conf);
    if (rc != 0 && rc != RAFT_CANTBOOTSTRAP)
        jsraft__die(r, "bootstrapping the group failed", rc);
    LOG_INFO("JetStream cluster: bootstrapped a group of %zu: %s%s%s%s%s", nn, names[0],
             nn > 1 ? ", " : "", nn > 1 ? names[1] : "", nn > 2 ? ", " : "",
             nn > 2 ? names[2] : "");
    jsraft__start_raft(r, CLUSTER_RAFT_FRESH);
}

bool jsraft__is_voter(struct jsraft *r, raft_id id)
{
    const struct raft_configuration *c = &r->raft.configuration;
    for (unsigned i = 0; i < c->n; i++)
        if (c->servers[i].id == id)
            return c->servers[i].role == RAFT_VOTER;
    return false;
}

/* ---- this node's raft id ---- */

/* The id is kept beside raft's files: a node that bootstrapped uses the
 * one derived from its name (the same on every node's configuration); a
 * node that joined after its store was wiped got a fresh one, since a
 * voter must never come back under an id whose votes it forgot
 * (spec/raft.md §6). */
#define ID_FILE "tern-raft-id"

raft_id jsraft__read_id(struct jsraft *r)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/" ID_FILE, r->dir);
    FILE *f = fopen(p, "r");
    unsigned long long id = 0;
    if (f) {
        if (fscanf(f, "%llu", &id) != 1)
            id = 0;
        fclose(f);
    }
    return id ? id : raft_digest(r->name, 0);
}

int jsraft__write_id(struct jsraft *r, raft_id id)
{
    char p[4096], tmp[4200];
    snprintf(p, sizeof p, "%s/" ID_FILE, r->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    int ok = fprintf(f, "%llu\n", (unsigned long long)id) > 0;
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, p) < 0) {
        unlink(tmp);
        return -EIO;
    }
    return 0;
}

int jsraft_size(const struct jsraft *r)
{
    return r->started ? (int)r->raft.configuration.n : 0;
}

static int cmp_peer(const void *a, const void *b)
{
    return strcmp(((const struct jsraft_peer *)a)->name, ((const struct jsraft_peer *)b)->name);
}

size_t jsraft_peers(struct jsraft *r, struct jsraft_peer *out, size_t max)
{
    if (!r->started)
        return 0;
    const struct raft_configuration *c = &r->raft.configuration;
    bool leader = raft_state(&r->raft) == RAFT_LEADER && r->raft.leader_state.progress;
    raft_index last = raft_last_index(&r->raft);
    raft_time now = r->io.time(&r->io);
    size_t n = 0;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id == r->id)
            continue;
        if (n < max) {
            struct jsraft_peer *p = &out[n];
            memset(p, 0, sizeof *p);
            snprintf(p->name, sizeof p->name, "%s", c->servers[i].address);
            p->offline = true;
            if (leader) {
                const struct raft_progress *pr = &r->raft.leader_state.progress[i];
                p->lag = last > pr->match_index ? last - pr->match_index : 0;
                p->match_index = pr->match_index;
                p->offline = !pr->recent_recv;
                p->current = !p->offline && p->lag == 0;
                p->active_ns = now >= pr->last_send ? (int64_t)(now - pr->last_send) * 1000000 : 0;
            }
        }
        n++;
    }
    qsort(out, n < max ? n : max, sizeof *out, cmp_peer);
    return n;
}

void jsraft_status(struct jsraft *r, struct jsraft_status *out)
{
    static const char *const names[] = { [RAFT_UNAVAILABLE] = "unavailable",
                                         [RAFT_FOLLOWER] = "follower",
                                         [RAFT_CANDIDATE] = "candidate",
                                         [RAFT_LEADER] = "leader" };
    memset(out, 0, sizeof *out);
    out->state = names[RAFT_UNAVAILABLE];
    if (!r->started)
        return;
    int st = raft_state(&r->raft);
    if (st >= 0 && st < (int)(sizeof names / sizeof names[0]))
        out->state = names[st];
    out->term = r->raft.current_term;
    out->commit_index = r->raft.commit_index;
    out->last_index = raft_last_index(&r->raft);
    /* Entries a follower deferred are raft's "applied" but not yet the
     * engine's: the first of them is the engine's next. */
    out->applied_index = r->def_head ? r->def_head->index - 1 : raft_last_applied(&r->raft);
}

/* ---- taking a member in (leader) ---- */

static void on_changed(struct raft_change *req, int status)
{
    struct jsraft *r = req->data;
    r->changing = false;
    if (status != 0)
        LOG_WARN("JetStream cluster: a membership change failed: %s", raft_strerror(status));
}

int jsraft_admit(struct jsraft *r, const char *name, unsigned long long id)
{
    if (!r->started || raft_state(&r->raft) != RAFT_LEADER || !id || !*name)
        return -EAGAIN;
    if (r->changing)
        return 0; /* one change at a time; the joiner asks again */
    const struct raft_configuration *c = &r->raft.configuration;
    const struct raft_server *same_id = NULL, *same_name = NULL;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id == id)
            same_id = &c->servers[i];
        else if (!strcmp(c->servers[i].address, name))
            same_name = &c->servers[i];
    }
    r->change.data = r;
    int rc = 0;
    /* One step per request, in this order: the old incarnation out (its
     * votes are forgotten with its store), the new one in as a spare, then
     * a voter once raft has caught it up. */
    if (same_name) {
        /* Never two incarnations out at once: the old one goes only while
         * every other member votes (a second wiped node waits until the
         * first is back as a voter), so the group never shrinks below one
         * missing voter. */
        for (unsigned i = 0; i < c->n; i++)
            if (&c->servers[i] != same_name && c->servers[i].role != RAFT_VOTER)
                return 0;
        LOG_INFO("JetStream cluster: removing '%s' (id %llu) to take it back in as %llu", name,
                 (unsigned long long)same_name->id, id);
        rc = raft_remove(&r->raft, &r->change, same_name->id, on_changed);
    } else if (!same_id) {
        LOG_INFO("JetStream cluster: adding '%s' (id %llu)", name, id);
        rc = raft_add(&r->raft, &r->change, id, name, on_changed);
    } else if (same_id->role != RAFT_VOTER) {
        LOG_INFO("JetStream cluster: '%s' (id %llu) becomes a voter", name, id);
        rc = raft_assign(&r->raft, &r->change, id, RAFT_VOTER, on_changed);
    } else {
        return 0; /* already in */
    }
    if (rc == 0) {
        r->changing = true;
        jsraft__kick(r);
    }
    return rc == 0 ? 0 : -EAGAIN;
}
