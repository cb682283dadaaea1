/*
 * server/jetstream/js_config_json.c — the small pieces js_config.c and
 * js_consumer_config.c share: reading JSON fields with Go's
 * encoding/json rules, nats-server's subject predicates, RFC 3339 times.
 *
 * Why Go's rules: 2.9.10 decodes API bodies with json.Unmarshal into
 * structs, so keys match case-insensitively ({"NAME":"X"} sets name — seen
 * on the real server), a later key overwrites an earlier one, null leaves
 * a scalar untouched but resets a slice or pointer, and any value of the
 * wrong type fails the whole request with 10025. Known gaps, all in
 * inputs no client sends: Go also folds the Kelvin sign and long s into
 * 'k'/'s'; jansson refuses numbers outside int64/double anywhere in the
 * body (Go ignores them in unknown fields, and takes uint64 fields up to
 * 2^64-1); enum strings written with \u escapes match here, not in Go.
 * Pure functions; no allocation except the strings handed to the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/civil.h"
#include "server/jetstream/js_config_impl.h"

/* ---- fields ---- */

/* Last value whose key matches (ASCII case-insensitively). skip_null:
 * ignore null values (for scalars a null is a no-op in Go, so an earlier
 * non-null value survives). *saw_null: some matching value was null. */
static json_t *lookup(const json_t *obj, const char *key, bool skip_null, bool *saw_null)
{
    const char *k;
    json_t *v, *found = NULL;
    if (saw_null)
        *saw_null = false;
    if (!json_is_object(obj))
        return NULL;
    json_object_foreach((json_t *)obj, k, v) {
        if (strcasecmp(k, key) != 0)
            continue;
        if (json_is_null(v)) {
            if (saw_null)
                *saw_null = true;
            if (skip_null)
                continue;
        }
        found = v;
    }
    return found;
}

json_t *jf_get(const json_t *obj, const char *key)
{
    json_t *v = lookup(obj, key, false, NULL);
    return json_is_null(v) ? NULL : v;
}

int jf_str(const json_t *obj, const char *key, char **out)
{
    json_t *v = lookup(obj, key, true, NULL);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return -EINVAL;
    free(*out);
    *out = NULL;
    if (json_string_length(v) == 0)
        return 0;
    *out = strdup(json_string_value(v));
    return *out ? 0 : -ENOMEM;
}

int jf_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out)
{
    json_t *v = lookup(obj, key, true, NULL);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return -EINVAL; /* Go refuses 1.0, 1e3 and strings for ints */
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return -EINVAL;
    *out = i;
    return 0;
}

int jf_uint(const json_t *obj, const char *key, uint64_t *out)
{
    int64_t i = (int64_t)*out;
    int rc = jf_int(obj, key, 0, INT64_MAX, &i);
    if (rc == 0)
        *out = (uint64_t)i;
    return rc;
}

int jf_bool(const json_t *obj, const char *key, bool *out)
{
    json_t *v = lookup(obj, key, true, NULL);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return -EINVAL;
    *out = json_is_true(v);
    return 0;
}

int jf_enum(const json_t *obj, const char *key, const char *const *names, bool icase, int *out)
{
    bool saw_null;
    json_t *v = lookup(obj, key, true, &saw_null);
    if (saw_null)
        return -EINVAL; /* UnmarshalJSON("null") fails for these types */
    if (!v)
        return 0;
    if (!json_is_string(v))
        return -EINVAL;
    const char *s = json_string_value(v);
    for (int i = 0; names[i]; i++) {
        if (icase ? strcasecmp(s, names[i]) == 0 : strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return -EINVAL;
}

int jf_strmap(const json_t *obj, const char *key, char **out, size_t *size)
{
    json_t *v = lookup(obj, key, false, NULL);
    const char *k;
    json_t *e;
    if (!v)
        return 0;
    free(*out);
    *out = NULL;
    *size = 0;
    if (json_is_null(v))
        return 0; /* null resets a map */
    if (!json_is_object(v))
        return -EINVAL;
    json_object_foreach(v, k, e)
        if (!json_is_string(e) && !json_is_null(e))
            return -EINVAL;
    if (json_object_size(v) == 0)
        return 0;
    json_t *m = json_object();
    bool oom = !m;
    json_object_foreach(v, k, e) {
        const char *val = json_is_string(e) ? json_string_value(e) : "";
        js_put(m, k, json_string(val), &oom);
        *size += strlen(k) + strlen(val);
    }
    if (!oom)
        *out = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(m);
    return *out ? 0 : -ENOMEM;
}

void js_put_metadata(json_t *o, const char *metadata, bool *oom)
{
    if (!metadata)
        return;
    json_t *m = json_loads(metadata, 0, NULL);
    if (!m)
        *oom = true;
    else
        js_put(o, "metadata", m, oom);
}

int jf_strarr(const json_t *obj, const char *key, char ***out, size_t *n)
{
    json_t *v = lookup(obj, key, false, NULL);
    if (!v)
        return 0;
    js_strv_free(*out, *n);
    *out = NULL;
    *n = 0;
    if (json_is_null(v))
        return 0; /* null resets a slice */
    if (!json_is_array(v))
        return -EINVAL;
    size_t len = json_array_size(v);
    if (len == 0)
        return 0;
    char **a = calloc(len, sizeof *a);
    if (!a)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(v, i);
        const char *s = "";
        if (json_is_string(e))
            s = json_string_value(e);
        else if (!json_is_null(e)) {
            js_strv_free(a, i);
            return -EINVAL;
        }
        if (!(a[i] = strdup(s))) {
            js_strv_free(a, i);
            return -ENOMEM;
        }
    }
    *out = a;
    *n = len;
    return 0;
}

int jf_time(const json_t *obj, const char *key, int64_t *ns, int *tz, bool *has)
{
    json_t *v = lookup(obj, key, false, NULL);
    if (!v)
        return 0;
    *ns = 0;
    *tz = 0;
    *has = false;
    if (json_is_null(v))
        return 0; /* *time.Time: null resets the pointer */
    if (!json_is_string(v) || js_time_parse_tz(json_string_value(v), ns, tz) < 0)
        return -EINVAL;
    *has = true;
    return 0;
}

void js_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int js_strv_copy(char ***dst, char *const *src, size_t n)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    char **a = calloc(n, sizeof *a);
    if (!a)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(a[i] = strdup(src[i]))) {
            js_strv_free(a, i);
            return -ENOMEM;
        }
    }
    *dst = a;
    return 0;
}

int js_strdup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -ENOMEM;
}

bool js_streq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

void js_put(json_t *o, const char *k, json_t *v, bool *oom)
{
    if (json_object_set_new(o, k, v) != 0)
        *oom = true;
}

int js_err_json(struct js_err *e)
{
    return js_err_set(e, 10025, NULL);
}

/* ---- subjects (sublist.go) ---- */

struct tok {
    const char *p;
    size_t n;
};

/* Next '.'-separated token; "" yields one empty token, as strings.Split. */
static bool tnext(const char **cur, struct tok *t)
{
    if (!*cur)
        return false;
    const char *dot = strchr(*cur, '.');
    t->p = *cur;
    if (dot) {
        t->n = (size_t)(dot - *cur);
        *cur = dot + 1;
    } else {
        t->n = strlen(*cur);
        *cur = NULL;
    }
    return true;
}

static size_t ntokens(const char *s)
{
    size_t n = 1;
    for (; *s; s++)
        n += *s == '.';
    return n;
}

static bool is1(const struct tok *t, char c)
{
    return t->n == 1 && t->p[0] == c;
}

bool js_subj_valid(const char *s)
{
    struct tok t;
    bool sfwc = false;
    if (!s || !*s)
        return false;
    while (tnext(&s, &t)) {
        if (t.n == 0 || sfwc)
            return false;
        if (t.n > 1) {
            for (size_t i = 0; i < t.n; i++)
                if (strchr("\t\n\f\r ", t.p[i]))
                    return false;
            continue;
        }
        if (t.p[0] == '>')
            sfwc = true;
        else if (strchr(" \t\n\r\f", t.p[0]))
            return false;
    }
    return true;
}

bool js_subj_literal(const char *s)
{
    for (size_t i = 0; s[i]; i++) {
        if ((s[i] == '*' || s[i] == '>') && (i == 0 || s[i - 1] == '.') &&
            (s[i + 1] == 0 || s[i + 1] == '.'))
            return false;
    }
    return true;
}

/* isSubsetMatchTokenized, including its quirk that a test token merely
 * starting with '*' acts as a wildcard. */
bool js_subj_subset(const char *subject, const char *test)
{
    size_t n1 = ntokens(subject), n2 = ntokens(test), i = 0;
    const char *a = subject, *b = test;
    struct tok t1 = { 0 }, t2;
    while (tnext(&b, &t2)) {
        if (i >= n1 || t2.n == 0)
            return false;
        if (is1(&t2, '>'))
            return true;
        tnext(&a, &t1);
        i++;
        if (t1.n == 0 || is1(&t1, '>'))
            return false;
        if (is1(&t1, '*')) {
            if (!is1(&t2, '*'))
                return false;
            continue;
        }
        if (t2.p[0] != '*' && (t1.n != t2.n || memcmp(t1.p, t2.p, t1.n) != 0))
            return false;
    }
    return n1 == n2;
}

bool js_name_valid(const char *name)
{
    return name && *name && !strpbrk(name, " \t\r\n\f.*>");
}

/* strconv.Quote, close enough: Go escapes non-printable runes, and treats
 * C1 controls and U+00AD as non-printable; other valid UTF-8 is copied. */
void js_go_quote(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    char buf[16];
#define PUT(str)                                                                \
    do {                                                                        \
        for (const char *p_ = (str); *p_ && o + 1 < cap; p_++)                  \
            out[o++] = *p_;                                                     \
    } while (0)
    if (cap == 0)
        return;
    PUT("\"");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            snprintf(buf, sizeof buf, "\\%c", c);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            const char *esc = strchr("\a\b\f\n\r\t\v", (int)c);
            if (c && esc)
                snprintf(buf, sizeof buf, "\\%c", "abfnrtv"[esc - "\a\b\f\n\r\t\v"]);
            else
                snprintf(buf, sizeof buf, "\\x%02x", c);
            p++;
        } else if (c < 0x80) {
            snprintf(buf, sizeof buf, "%c", c);
            p++;
        } else if (c == 0xc2 && (p[1] >= 0x80 && (p[1] <= 0x9f || p[1] == 0xad))) {
            snprintf(buf, sizeof buf, "\\u00%02x", p[1]);
            p += 2;
        } else {
            /* jansson hands us valid UTF-8: copy the whole sequence */
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            size_t i = 0;
            for (; i < len && p[i]; i++)
                buf[i] = (char)p[i];
            buf[i] = 0;
            p += i;
        }
        PUT(buf);
    }
    PUT("\"");
    out[o] = 0;
#undef PUT
}

/* ---- times ---- */

/* Go's time.Format(RFC3339Nano) of secs+nsec since the epoch (UTC) as the
 * wall clock tz seconds east of UTC: fraction without trailing zeros (none
 * when zero), then 'Z' for a zero offset or ±hh:mm. */
static char *format_parts(int64_t secs, int64_t nsec, int tz, char *out, size_t cap)
{
    secs += tz;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_date_from_days(days, &y, &m, &d);
    char fr[12] = "", zone[12] = "Z";
    if (nsec) {
        snprintf(fr, sizeof fr, ".%09lld", (long long)nsec);
        for (size_t n = strlen(fr); fr[n - 1] == '0'; n--)
            fr[n - 1] = 0;
    }
    if (tz)
        snprintf(zone, sizeof zone, "%c%02d:%02d", tz < 0 ? '-' : '+', abs(tz) / 3600 % 1000,
                 abs(tz) / 60 % 60);
    snprintf(out, cap, "%04lld-%02d-%02dT%02d:%02d:%02d%s%s", (long long)y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), fr, zone);
    return out;
}

char *js_time_format_tz(int64_t ns, int tz, char *out, size_t cap)
{
    int64_t secs = ns / JS_NS_PER_S, frac = ns % JS_NS_PER_S;
    if (frac < 0) {
        frac += JS_NS_PER_S;
        secs--;
    }
    return format_parts(secs, frac, tz, out, cap);
}

char *js_time_format(int64_t ns, char *out, size_t cap)
{
    if (ns == 0) {
        snprintf(out, cap, "0001-01-01T00:00:00Z");
        return out;
    }
    return js_time_format_tz(ns, 0, out, cap);
}

static int digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9')
            return -EINVAL;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

static int days_in(int64_t y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* time.Parse(time.RFC3339, s) as Go 1.19 does it: 4-digit year, 2-digit
 * month/day/minute/second (or no second before a fraction), a 1- or
 * 2-digit hour, an optional '.' or ',' fraction of any length (digits
 * past the ninth ignored), then 'Z' or
 * ±hh:mm with any two digits each (2.9.10 takes "+99:99" and echoes
 * "+100:39"). Times outside int64 ns (before 1678, after 2262) are -ERANGE
 * here; Go takes years 0000-9999. */
static int parse_parts(const char *s, int64_t *secs_out, int64_t *nsec, int *tz)
{
    int year, mon, day, hour, min, sec, oh = 0, om = 0;
    int64_t frac = 0;
    if (!s || digits(&s, 4, &year) < 0 || *s++ != '-' || digits(&s, 2, &mon) < 0 ||
        *s++ != '-' || digits(&s, 2, &day) < 0 || *s++ != 'T')
        return -EINVAL;
    if (s[0] < '0' || s[0] > '9')
        return -EINVAL;
    hour = *s++ - '0';
    if (*s >= '0' && *s <= '9')
        hour = hour * 10 + (*s++ - '0');
    if (*s++ != ':' || digits(&s, 2, &min) < 0 || *s++ != ':')
        return -EINVAL;
    /* 2.9.10 (Go 1.19) reads "hh:mm:.5Z" as second 0.5: a fraction may
     * stand in for the seconds (seen on the real server) */
    if ((s[0] == '.' || s[0] == ',') && s[1] >= '0' && s[1] <= '9')
        sec = 0;
    else if (digits(&s, 2, &sec) < 0)
        return -EINVAL;
    if ((s[0] == '.' || s[0] == ',') && s[1] >= '0' && s[1] <= '9') {
        int n = 0;
        for (s++; *s >= '0' && *s <= '9'; s++, n++)
            if (n < 9)
                frac = frac * 10 + (*s - '0');
        for (; n < 9; n++)
            frac *= 10;
    }
    if (*s == 'Z') {
        s++;
    } else if ((*s == '+' || *s == '-') && strlen(s) >= 6 && s[3] == ':') {
        int sign = *s++ == '-' ? -1 : 1;
        if (digits(&s, 2, &oh) < 0 || *s++ != ':' || digits(&s, 2, &om) < 0)
            return -EINVAL;
        oh *= sign;
        om *= sign;
    } else {
        return -EINVAL;
    }
    if (*s || mon < 1 || mon > 12 || day < 1 || day > days_in(year, mon) || hour > 23 ||
        min > 59 || sec > 59)
        return -EINVAL;
    *secs_out = civil_days_from_date(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec -
                (int64_t)oh * 3600 - (int64_t)om * 60;
    *nsec = frac;
    *tz = oh * 3600 + om * 60;
    return 0;
}

int js_time_parse_tz(const char *s, int64_t *ns, int *tz)
{
    int64_t secs, nsec, v;
    int rc = parse_parts(s, &secs, &nsec, tz);
    if (rc < 0)
        return rc;
    if (__builtin_mul_overflow(secs, JS_NS_PER_S, &v) || __builtin_add_overflow(v, nsec, &v))
        return -ERANGE;
    *ns = v;
    return 0;
}

int js_time_normalise(const char *s, char *out, size_t cap)
{
    int64_t secs, nsec;
    int tz, rc = parse_parts(s, &secs, &nsec, &tz);
    if (rc == 0)
        format_parts(secs, nsec, tz, out, cap);
    return rc;
}

int js_time_parse(const char *s, int64_t *ns)
{
    int tz;
    return js_time_parse_tz(s, ns, &tz);
}
