/*
 * server/auth.c — compiles the authorization options into an immutable,
 * refcounted struct auth and decides whether a CONNECT is admitted. Subject
 * permissions are compiled and checked in server/perms.c.
 *
 * Everything is built once in auth_new(). Afterwards the only mutable state
 * is the small cache of bcrypt verifications (its own mutex), so any I/O
 * loop may call in concurrently without locks.
 * Must never compare a secret with memcmp/strcmp, never log a secret, and
 * never be freed while a connection still holds a reference.
 */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/auth_jwt.h"
#include "server/nkey.h"
#include "server/perms.h"

#define AUTH_DEFAULT_TIMEOUT_S     2.0
#define AUTH_CACHE_SLOTS           64
#define AUTH_DIGEST_BYTES          crypto_generichash_BYTES

enum auth_mode {
    AUTH_MODE_NONE = 0,
    AUTH_MODE_SINGLE,   /* --user/--pass or authorization { user, password } */
    AUTH_MODE_TOKEN,    /* --auth or authorization { token } */
    AUTH_MODE_USERS,    /* authorization { users = [...] } */
    AUTH_MODE_OPERATOR, /* operator: user JWTs, checked by server/auth_jwt.c */
};

/* A configured password or token. For plain ones only a digest is kept for
 * the constant-time compare; bcrypt hashes are kept as text for crypt. */
struct secret {
    bool bcrypt;
    char *hash;                              /* bcrypt only; owned */
    unsigned char digest[AUTH_DIGEST_BYTES]; /* plain only */
};

/* One configured user. Owned by its struct auth (array in config order). */
struct auth_user {
    char *name;                    /* owned; NULL for an nkey user */
    struct secret password;
    char *nkey;                    /* owned: the public NKEY text; NULL for
                                      a named user */
    unsigned char nkey_pk[NKEY_PUBLIC_BYTES]; /* nkey decoded */
    char *account;                 /* owned: its account's name; NULL = $G */
    struct auth_perms *own_perms;  /* owned; NULL when it has none */
    const struct auth_perms *perms;/* borrowed: own_perms, the defaults or NULL */
};

/*
 * Successful bcrypt verifications, keyed by a keyed BLAKE2b digest of
 * (user, stored hash, presented password).
 *
 * Why: bcrypt at the usual cost 10-11 takes ~50-150 ms and auth_check runs
 * on an I/O loop, so every reconnect of a bcrypt user stalls every other
 * connection of that loop. Remembering successes makes a reconnect with the
 * same password cost one fast hash. The price: while an entry lives, anyone
 * able to read this process's memory (key included) can test guesses at
 * BLAKE2b speed rather than bcrypt speed. Failures are never cached, so an
 * online guesser still pays bcrypt for every guess. The better design, not
 * yet needed, is to run bcrypt on a worker thread and resume the connection
 * when it finishes. Bounded FIFO; freed with its struct auth, so a reload
 * starts cold. Shared across threads: key is read-only after creation,
 * hits is atomic, every other field is guarded by lock.
 */
struct bcrypt_cache {
    pthread_mutex_t lock;
    unsigned char key[crypto_generichash_KEYBYTES]; /* random, set once */
    unsigned char entry[AUTH_CACHE_SLOTS][AUTH_DIGEST_BYTES];
    size_t used;
    size_t next;       /* slot to overwrite once full */
    atomic_size_t hits; /* answers served from the cache; atomic, not locked */
};

/* Allocated by auth_new(); freed by the auth_unref() that drops the last
 * reference. Immutable after auth_new() except *cache (own lock) and refs. */
struct auth {
    atomic_int refs;
    enum auth_mode mode;
    bool required;
    bool has_nkey_users;
    double timeout_s;
    char *single_user;               /* owned; AUTH_MODE_SINGLE */
    struct secret single_secret;     /* password (SINGLE) or token (TOKEN) */
    struct auth_user *users;         /* owned array, config order */
    size_t nusers;
    struct auth_user **by_name;      /* owned array of borrowed pointers, sorted */
    size_t nnamed;
    const struct auth_user *no_auth_user; /* borrowed from users */
    struct auth_perms *default_perms;     /* owned; NULL when none */
    struct bcrypt_cache *cache;           /* owned */
    struct auth_jwt *jwt;                 /* owned; AUTH_MODE_OPERATOR only */
};

/* ---- small helpers ---- */

static bool has_text(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- secrets ---- */

/* nats-server's test: "$2" then a, b, x or y, "$", two digits, "$". */
static bool is_bcrypt(const char *s)
{
    return s[0] == '$' && s[1] == '2' && s[2] != '\0' && strchr("abxy", s[2]) != NULL &&
           s[3] == '$' && s[4] >= '0' && s[4] <= '9' && s[5] >= '0' && s[5] <= '9' &&
           s[6] == '$';
}

static void digest_of(const char *s, size_t len, unsigned char out[AUTH_DIGEST_BYTES])
{
    crypto_generichash(out, AUTH_DIGEST_BYTES, (const unsigned char *)s, len, NULL, 0);
}

/*
 * Constant-time equality of two secrets of any length: compare fixed-size
 * digests with sodium_memcmp, so neither the position of the first
 * difference nor a length mismatch shows in the timing.
 */
bool auth_secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char da[AUTH_DIGEST_BYTES], db[AUTH_DIGEST_BYTES];

    digest_of(a, alen, da);
    digest_of(b, blen, db);
    return sodium_memcmp(da, db, sizeof(da)) == 0;
}

static int secret_init(struct secret *sec, const char *text)
{
    if (text == NULL)
        text = "";
    if (is_bcrypt(text)) {
        sec->bcrypt = true;
        sec->hash = strdup(text);
        return sec->hash == NULL ? -ENOMEM : 0;
    }
    digest_of(text, strlen(text), sec->digest);
    return 0;
}

static void secret_free(struct secret *sec)
{
    free(sec->hash);
    sodium_memzero(sec, sizeof(*sec));
}

static void cache_key(const struct bcrypt_cache *c, const char *user, const char *hash,
                      const char *presented, unsigned char out[AUTH_DIGEST_BYTES])
{
    crypto_generichash_state st;

    /* The NUL separators keep ("ab","c") and ("a","bc") apart. */
    crypto_generichash_init(&st, c->key, sizeof(c->key), AUTH_DIGEST_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)user, strlen(user) + 1);
    crypto_generichash_update(&st, (const unsigned char *)hash, strlen(hash) + 1);
    crypto_generichash_update(&st, (const unsigned char *)presented, strlen(presented));
    crypto_generichash_final(&st, out, AUTH_DIGEST_BYTES);
}

static bool cache_lookup(struct bcrypt_cache *c, const unsigned char key[AUTH_DIGEST_BYTES])
{
    bool found = false;

    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->used && !found; i++)
        found = sodium_memcmp(c->entry[i], key, AUTH_DIGEST_BYTES) == 0;
    pthread_mutex_unlock(&c->lock);
    return found;
}

static void cache_store(struct bcrypt_cache *c, const unsigned char key[AUTH_DIGEST_BYTES])
{
    size_t slot;

    pthread_mutex_lock(&c->lock);
    if (c->used < AUTH_CACHE_SLOTS) {
        slot = c->used++;
    } else {
        slot = c->next;
        c->next = (c->next + 1) % AUTH_CACHE_SLOTS;
    }
    memcpy(c->entry[slot], key, AUTH_DIGEST_BYTES);
    pthread_mutex_unlock(&c->lock);
}

/* Slow: runs bcrypt. struct crypt_data is ~32 KiB, too big for a loop's
 * stack, and bcrypt dwarfs the cost of allocating it. */
static bool bcrypt_verify(const char *hash, const char *presented)
{
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    const char *out;
    bool ok = false;

    if (cd == NULL)
        return false;
    out = crypt_rn(presented, hash, cd, (int)sizeof(*cd));
    if (out != NULL)
        ok = auth_secret_equal(out, strlen(out), hash, strlen(hash));
    sodium_memzero(cd, sizeof(*cd));
    free(cd);
    return ok;
}

static bool secret_check(const struct auth *a, const struct secret *sec, const char *user,
                         const char *presented)
{
    unsigned char key[AUTH_DIGEST_BYTES], d[AUTH_DIGEST_BYTES];

    if (presented == NULL)
        presented = "";
    if (!sec->bcrypt) {
        digest_of(presented, strlen(presented), d);
        return sodium_memcmp(d, sec->digest, sizeof(d)) == 0;
    }
    cache_key(a->cache, user != NULL ? user : "", sec->hash, presented, key);
    if (cache_lookup(a->cache, key)) {
        atomic_fetch_add_explicit(&a->cache->hits, 1, memory_order_relaxed);
        return true;
    }
    if (!bcrypt_verify(sec->hash, presented))
        return false;
    cache_store(a->cache, key);
    return true;
}

/* ---- users ---- */

static int cmp_user_name(const void *x, const void *y)
{
    const struct auth_user *const *ux = x, *const *uy = y;
    int c = strcmp((*ux)->name, (*uy)->name);

    if (c != 0)
        return c;
    /* Ties keep config order, so the duplicate reported is the first one
     * met while reading the config, as nats-server reports it. */
    return (*ux > *uy) - (*ux < *uy);
}

static int user_init(struct auth *a, struct auth_user *u, const struct opts_user *ou)
{
    int rc;

    if (ou->account != NULL && (u->account = strdup(ou->account)) == NULL)
        return -ENOMEM;
    if (ou->nkey != NULL) {
        a->has_nkey_users = true;
        if (nkey_decode_user(ou->nkey, u->nkey_pk) < 0)
            return -EINVAL; /* the caller says which key */
        u->nkey = strdup(ou->nkey);
        if (u->nkey == NULL)
            return -ENOMEM;
    }
    if (ou->user != NULL) {
        u->name = strdup(ou->user);
        if (u->name == NULL)
            return -ENOMEM;
    }
    rc = secret_init(&u->password, ou->password);
    if (rc < 0)
        return rc;
    if (ou->has_permissions) {
        rc = perms_new(&ou->permissions, &u->own_perms);
        if (rc < 0)
            return rc;
        u->perms = u->own_perms;
    } else {
        u->perms = a->default_perms;
    }
    return 0;
}

/* Index named users for lookup; report the first duplicate name. */
static int index_users(struct auth *a, char *err, size_t errlen)
{
    const struct auth_user *dup = NULL;

    a->by_name = calloc(a->nusers ? a->nusers : 1, sizeof(*a->by_name));
    if (a->by_name == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < a->nusers; i++) {
        if (a->users[i].name != NULL)
            a->by_name[a->nnamed++] = &a->users[i];
    }
    qsort(a->by_name, a->nnamed, sizeof(*a->by_name), cmp_user_name);
    for (size_t i = 1; i < a->nnamed; i++) {
        const struct auth_user *second = a->by_name[i];

        if (strcmp(a->by_name[i - 1]->name, second->name) != 0)
            continue;
        if (i >= 2 && strcmp(a->by_name[i - 2]->name, second->name) == 0)
            continue; /* the group's second entry was already considered */
        if (dup == NULL || second < dup)
            dup = second;
    }
    if (dup != NULL) {
        set_err(err, errlen, "Duplicate user \"%s\" detected", dup->name);
        return -EINVAL;
    }
    return 0;
}

static const struct auth_user *find_user(const struct auth *a, const char *name)
{
    size_t lo = 0, hi = a->nnamed;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, a->by_name[mid]->name);

        if (c == 0)
            return a->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int build_users(struct auth *a, const struct tern_opts *o, char *err, size_t errlen)
{
    int rc;

    if (o->has_default_permissions) {
        rc = perms_new(&o->default_permissions, &a->default_perms);
        if (rc < 0)
            return rc;
    }
    if (o->nusers > 0) {
        a->users = calloc(o->nusers, sizeof(*a->users));
        if (a->users == NULL)
            return -ENOMEM;
    }
    for (size_t i = 0; i < o->nusers; i++) {
        a->nusers++;
        rc = user_init(a, &a->users[i], &o->users[i]);
        if (rc == -EINVAL) /* the config check let a bad checksum through */
            set_err(err, errlen, "Not a valid public nkey for a user: \"%s\"", o->users[i].nkey);
        if (rc < 0)
            return rc;
    }
    return index_users(a, err, errlen);
}

/* ---- building and freeing ---- */

/* The conflicts nats-server's config loader refuses
 * (spec/server-cli-config.md §3.2), in its order and with its wording. */
static int check_conflicts(const struct tern_opts *o, char *err, size_t errlen)
{
    bool users_given = o->users != NULL || o->nusers > 0;

    if ((has_text(o->user) || has_text(o->password)) && has_text(o->token)) {
        set_err(err, errlen, "Cannot have a user/pass and token");
        return -EINVAL;
    }
    if (users_given && has_text(o->user)) {
        set_err(err, errlen, "Can not have a single user/pass and a users array");
        return -EINVAL;
    }
    if (users_given && has_text(o->token)) {
        set_err(err, errlen, "Can not have a token and a users array");
        return -EINVAL;
    }
    return 0;
}

static int bind_no_auth_user(struct auth *a, const char *name, char *err, size_t errlen)
{
    if (!has_text(name))
        return 0;
    if (a->mode != AUTH_MODE_USERS) {
        set_err(err, errlen, "no_auth_user: \"%s\" present, but users are not defined", name);
        return -EINVAL;
    }
    a->no_auth_user = find_user(a, name);
    if (a->no_auth_user == NULL) {
        set_err(err, errlen,
                "no_auth_user: \"%s\" not present as user in authorization block "
                "or account configuration", name);
        return -EINVAL;
    }
    return 0;
}

static int cache_new(struct bcrypt_cache **out)
{
    struct bcrypt_cache *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return -ENOMEM;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return -ENOMEM;
    }
    randombytes_buf(c->key, sizeof(c->key));
    atomic_init(&c->hits, 0);
    *out = c;
    return 0;
}

static void cache_free(struct bcrypt_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->lock);
    sodium_memzero(c, sizeof(*c));
    free(c);
}

static void auth_free(struct auth *a)
{
    for (size_t i = 0; i < a->nusers; i++) {
        free(a->users[i].name);
        free(a->users[i].nkey);
        free(a->users[i].account);
        secret_free(&a->users[i].password);
        perms_free(a->users[i].own_perms);
    }
    free(a->users);
    free(a->by_name);
    perms_free(a->default_perms);
    free(a->single_user);
    secret_free(&a->single_secret);
    cache_free(a->cache);
    auth_jwt_free(a->jwt);
    free(a);
}

static int build_mode(struct auth *a, const struct tern_opts *o, char *err, size_t errlen)
{
    /* Operator mode excludes users (server/opts_operator.c checked). */
    if (o->operator_jwt) {
        a->mode = AUTH_MODE_OPERATOR;
        return auth_jwt_new(o, &a->jwt, err, errlen);
    }
    /* As nats-server: users win, then token, then a single user; a lone
     * password without a user requires nothing. */
    if (o->users != NULL || o->nusers > 0) {
        a->mode = AUTH_MODE_USERS;
        return build_users(a, o, err, errlen);
    }
    if (has_text(o->token)) {
        a->mode = AUTH_MODE_TOKEN;
        return secret_init(&a->single_secret, o->token);
    }
    if (has_text(o->user)) {
        a->mode = AUTH_MODE_SINGLE;
        a->single_user = strdup(o->user);
        if (a->single_user == NULL)
            return -ENOMEM;
        return secret_init(&a->single_secret, o->password);
    }
    a->mode = AUTH_MODE_NONE;
    return 0;
}

struct auth *auth_new(const struct tern_opts *o, char *err, size_t errlen)
{
    struct auth *a;
    int rc;

    if (sodium_init() < 0) {
        set_err(err, errlen, "cannot initialise libsodium");
        return NULL;
    }
    if (check_conflicts(o, err, errlen) < 0)
        return NULL;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        goto err_no_memory;
    atomic_init(&a->refs, 1);
    a->timeout_s = o->auth_timeout_s > 0 ? o->auth_timeout_s : AUTH_DEFAULT_TIMEOUT_S;

    rc = cache_new(&a->cache);
    if (rc < 0)
        goto err_free_auth;
    rc = build_mode(a, o, err, errlen);
    if (rc < 0)
        goto err_free_auth;
    rc = bind_no_auth_user(a, o->no_auth_user, err, errlen);
    if (rc < 0)
        goto err_free_auth;
    /* INFO leaves auth_required out when unauthenticated clients are let
     * in as no_auth_user. */
    a->required = a->mode != AUTH_MODE_NONE && a->no_auth_user == NULL;
    return a;

err_free_auth:
    auth_free(a);
    if (rc != -ENOMEM)
        return NULL;
err_no_memory:
    set_err(err, errlen, "out of memory building authorization");
    return NULL;
}

struct auth *auth_ref(struct auth *a)
{
    if (a != NULL)
        atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

void auth_unref(struct auth *a)
{
    /* acq_rel: the thread that frees must see every other holder's reads
     * finished before their release. */
    if (a != NULL && atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
        auth_free(a);
}

bool auth_required(const struct auth *a)
{
    return a->required;
}

double auth_timeout(const struct auth *a)
{
    return a->timeout_s;
}

bool auth_has_nkey_users(const struct auth *a)
{
    return a->has_nkey_users || a->mode == AUTH_MODE_OPERATOR; /* both need the nonce */
}

const struct auth_jwt *auth_operator(const struct auth *a)
{
    return a->jwt;
}

size_t auth_bcrypt_cache_hits(const struct auth *a)
{
    return atomic_load_explicit(&a->cache->hits, memory_order_relaxed);
}

/* ---- the authentication decision (spec/client-protocol.md §4.2) ---- */

static int check_users(const struct auth *a, const struct auth_creds *c,
                       const struct auth_user **user)
{
    const struct auth_user *u;

    /* verify_and_map: the certificate names the user; the first of its
     * names that is a configured user wins. A CONNECT that names a user
     * as well is refused, as nats-server 2.9 refuses it ("user required
     * from cert"). */
    if (c->tls_map) {
        if (has_text(c->user))
            return -EACCES;
        for (size_t i = 0; i < c->ncert_names; i++) {
            u = find_user(a, c->cert_names[i]);
            if (u != NULL) {
                *user = u;
                return 0;
            }
        }
        return -EACCES;
    }
    /* nats-server applies no_auth_user only when the CONNECT carries no
     * user, password or token at all. */
    if (a->no_auth_user != NULL && !has_text(c->user) && !has_text(c->pass) &&
        !has_text(c->token)) {
        *user = a->no_auth_user;
        return 0;
    }
    if (!has_text(c->user))
        return -EACCES;
    u = find_user(a, c->user);
    if (u == NULL)
        return -EACCES;
    if (!secret_check(a, &u->password, u->name, c->pass))
        return -EACCES;
    *user = u;
    return 0;
}

/* The nkey user the CONNECT names, admitted when its signature of the
 * nonce this connection was sent verifies. */
static int check_nkey(const struct auth *a, const struct auth_creds *c,
                      const struct auth_user **user)
{
    for (size_t i = 0; i < a->nusers; i++) {
        const struct auth_user *u = &a->users[i];
        if (u->nkey == NULL || strcmp(u->nkey, c->nkey) != 0)
            continue;
        if (!nkey_verify(u->nkey_pk, c->nonce, c->sig))
            return -EACCES;
        *user = u;
        return 0;
    }
    return -EACCES;
}

int auth_check(const struct auth *a, const struct auth_creds *c,
               const struct auth_user **user, const struct auth_perms **perms)
{
    static const struct auth_creds none;
    const struct auth_user *u = NULL;
    int rc = 0;

    if (c == NULL)
        c = &none;
    if (user != NULL)
        *user = NULL;
    if (perms != NULL)
        *perms = NULL;

    if (a->mode == AUTH_MODE_NONE)
        return 0; /* credentials are accepted and ignored */
    /* With nkey users configured a CONNECT naming an nkey is judged by its
     * signature alone; without them nats-server ignores the field, and so
     * do we. */
    if (a->has_nkey_users && has_text(c->nkey)) {
        rc = check_nkey(a, c, &u);
        goto out;
    }

    switch (a->mode) {
    case AUTH_MODE_TOKEN:
        if (!secret_check(a, &a->single_secret, "", c->token))
            rc = -EACCES;
        break;
    case AUTH_MODE_SINGLE:
        if (!has_text(c->user) || strcmp(c->user, a->single_user) != 0 ||
            !secret_check(a, &a->single_secret, a->single_user, c->pass))
            rc = -EACCES;
        break;
    case AUTH_MODE_USERS:
        rc = check_users(a, c, &u);
        break;
    case AUTH_MODE_OPERATOR: /* only auth_jwt_check admits anyone */
        rc = -EACCES;
        break;
    case AUTH_MODE_NONE:
        break;
    }
out:
    if (rc == 0 && u != NULL) {
        if (user != NULL)
            *user = u;
        if (perms != NULL)
            *perms = u->perms;
    }
    return rc;
}

const char *auth_user_account(const struct auth_user *u)
{
    return u != NULL ? u->account : NULL;
}

const char *auth_user_name(const struct auth_user *u)
{
    if (u == NULL)
        return NULL;
    return u->name != NULL ? u->name : u->nkey; /* nkey users go by their key */
}
