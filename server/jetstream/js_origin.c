/*
 * server/jetstream/js_origin.c — an origin's filter and subject transforms
 * (see js_origin.h). The mappings are proto/submap.h's, so a source's
 * {src, dest} renames exactly as a stream's subject_transform does.
 */
#include "server/jetstream/js_origin.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/subject.h"
#include "proto/submap.h"

void js_origin_filter_free(struct js_origin_filter *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->src[i]);
        submap_free(f->map[i]);
    }
    free(f->src);
    free(f->src_len);
    free(f->map);
    free(f->key);
    memset(f, 0, sizeof *f);
}

static int grow_key(char **key, const char *a, const char *b)
{
    size_t old = *key ? strlen(*key) : 0;
    char *k = realloc(*key, old + strlen(a) + strlen(b) + 3);
    if (!k)
        return -ENOMEM;
    /* "\f" cannot occur in a subject: the parts stay apart */
    strcpy(k + old, old ? "\f" : "");
    strcat(k, a);
    strcat(k, "\f");
    strcat(k, b);
    *key = k;
    return 0;
}

/* One {src, dest}: an empty src takes every subject, an empty dest keeps
 * the subject. with_key: the pair joins the link's key. */
static int add_pair(struct js_origin_filter *f, const char *src, const char *dest,
                    bool with_key)
{
    if (!src || !*src)
        src = ">";
    size_t i = f->n;
    if (!(f->src[i] = strdup(src)))
        return -ENOMEM;
    f->src_len[i] = strlen(src);
    f->n++;
    int rc = 0;
    if (dest && *dest)
        rc = submap_compile(src, dest, &f->map[i]);
    if (rc || !with_key)
        return rc;
    return grow_key(&f->key, src, dest ? dest : "");
}

static int alloc_pairs(struct js_origin_filter *f, size_t n)
{
    f->src = calloc(n, sizeof *f->src);
    f->src_len = calloc(n, sizeof *f->src_len);
    f->map = calloc(n, sizeof *f->map);
    return f->src && f->src_len && f->map ? 0 : -ENOMEM;
}

int js_origin_filter_parse(const json_t *origin, struct js_origin_filter *f)
{
    memset(f, 0, sizeof *f);
    const json_t *trs = json_object_get(origin, "subject_transforms");
    const char *filter = json_string_value(json_object_get(origin, "filter_subject"));
    size_t n = json_array_size(trs);
    int rc = 0;
    if (n) {
        rc = alloc_pairs(f, n);
        for (size_t i = 0; i < n && !rc; i++) {
            const json_t *t = json_array_get(trs, i);
            rc = add_pair(f, json_string_value(json_object_get(t, "src")),
                          json_string_value(json_object_get(t, "dest")), true);
        }
    } else if (filter && *filter && strcmp(filter, ">") != 0) {
        /* ">" takes everything: asked unfiltered, the store answers O(1) */
        /* the key is the filter itself, as a source's saved cursors
         * name it */
        rc = alloc_pairs(f, 1);
        if (!rc)
            rc = add_pair(f, filter, NULL, false);
        if (!rc && !(f->key = strdup(filter)))
            rc = -ENOMEM;
    }
    if (rc)
        js_origin_filter_free(f);
    return rc;
}

uint64_t js_origin_next_seq(const struct store *s, uint64_t start,
                            const struct js_origin_filter *f)
{
    if (!f->n)
        return store_next_seq(s, start, NULL, 0);
    uint64_t best = 0;
    for (size_t i = 0; i < f->n; i++) {
        uint64_t seq = store_next_seq(s, start, f->src[i], f->src_len[i]);
        if (seq && (!best || seq < best))
            best = seq;
    }
    return best;
}

int js_origin_load_next(struct store *s, uint64_t start, const struct js_origin_filter *f,
                        struct store_msg *m)
{
    if (!f->n)
        return store_load_next(s, start, NULL, 0, m);
    uint64_t seq = js_origin_next_seq(s, start, f);
    return seq ? store_load(s, seq, m) : -ENOENT;
}

uint64_t js_origin_count_from(const struct store *s, uint64_t start,
                              const struct js_origin_filter *f)
{
    if (!f->n)
        return store_count_from(s, start, NULL, 0);
    uint64_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += store_count_from(s, start, f->src[i], f->src_len[i]);
    return n;
}

int js_origin_rename(const struct js_origin_filter *f, const char *subject, size_t len,
                     char **out, size_t *outlen)
{
    *out = NULL;
    if (!f->n)
        return 0;
    for (size_t i = 0; i < f->n; i++) {
        if (!subject_match(f->src[i], f->src_len[i], subject, len))
            continue;
        if (!f->map[i])
            return 0;
        /* a subject the mapping cannot take (a partition of 0 buckets)
         * keeps its own */
        int rc = submap_apply(f->map[i], subject, len, out, outlen);
        if (rc < 0)
            *out = NULL;
        return rc == -ENOMEM ? rc : 0;
    }
    return -ENOENT;
}
