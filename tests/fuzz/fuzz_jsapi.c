/*
 * tests/fuzz/fuzz_jsapi.c — libFuzzer target for the JetStream API bodies
 * (server/js_config*.c, server/jetstream/js_consumer_config.c).
 *
 * Each input is parsed as a STREAM.CREATE/UPDATE body and as a consumer
 * create body in all four subject forms, and looked at for the 2.10 fields
 * the API refuses (the names and filter taken from
 * the body itself, so the deep checks are reached). Whatever parses must
 * survive the round trip: to_json, parse again, and compare equal (and be
 * an unchanged consumer update). A broken round trip traps; so does any
 * sanitizer report.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/jetstream/js_config.h"

/* 2.9.10 prints a zone offset of 100 h or more with three digits, which
 * no RFC 3339 parser (its own included) reads back. */
static bool has_wide_zone(const char *json)
{
    for (const char *p = json; (p = strstr(p, "\"opt_start_time\":\"")); p++) {
        const char *v = p + 18, *end = strchr(v, '"');
        if (end && end - v >= 7 && (end[-7] == '+' || end[-7] == '-'))
            return true;
    }
    return false;
}

static void stream_roundtrip(const struct js_stream_config *c)
{
    struct js_stream_config again, copy;
    struct js_err err;
    char *text = js_stream_config_to_json(c);
    if (!text)
        __builtin_trap();
    if (js_stream_config_parse(text, strlen(text), c->name, false, false, 0, &again, &err) != 0) {
        if (!has_wide_zone(text))
            __builtin_trap();
        free(text);
        return;
    }
    if (!js_stream_config_equal(c, &again) || js_stream_config_copy(&copy, &again) != 0 ||
        !js_stream_config_equal(&copy, c))
        __builtin_trap();
    (void)js_stream_config_check_update(c, &copy, &err);
    js_stream_config_free(&copy);
    js_stream_config_free(&again);
    free(text);
}

static void consumer_roundtrip(const struct js_consumer_config *c, enum js_consumer_form form,
                               const char *name, const char *filter,
                               const struct js_stream_config *s)
{
    struct js_consumer_config again;
    struct js_err err;
    bool changed;
    char *text = js_consumer_config_to_json(c);
    if (!text)
        __builtin_trap();
    size_t n = strlen(text) + 32;
    char *req = malloc(n);
    if (!req)
        __builtin_trap();
    strcpy(req, "{\"config\":");
    strcat(req, text);
    strcat(req, "}");
    if (js_consumer_config_parse(req, strlen(req), NULL, form, name, filter, &again, &err) != 0) {
        if (!has_wide_zone(text))
            __builtin_trap();
    } else {
        if (js_consumer_config_check_update(c, &again, false, &changed, &err) != 0 || changed)
            __builtin_trap();
        if (s)
            (void)js_consumer_config_check_stream(&again, s, &err);
        js_consumer_config_free(&again);
    }
    free(req);
    free(text);
}

static char *config_str(const uint8_t *data, size_t size, const char *key)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    json_t *cfg = json_object_get(root, "config");
    const char *v = json_string_value(json_object_get(cfg, key));
    char *s = v ? strdup(v) : NULL;
    json_decref(root);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct js_stream_config sc, fixed;
    struct js_consumer_config cc;
    struct js_err err;
    bool have_sc = false;
    static const char fixed_json[] = "{\"name\":\"S\",\"subjects\":[\"s.>\",\"t.*\"],"
                                     "\"retention\":\"workqueue\"}";

    if (js_stream_config_parse(fixed_json, sizeof fixed_json - 1, "S", true, false, 0, &fixed,
                               &err) != 0)
        __builtin_trap();

    /* the 2.10 fields the API refuses: whatever the body, a field name
     * or nothing, and the same answer twice */
    const char *f = js_stream_config_unsupported_field(body, size);
    if (f != js_stream_config_unsupported_field(body, size) ||
        (f && strcmp(f, "compression s2") && strcmp(f, "mirror subject_transforms") &&
         strcmp(f, "sources subject_transforms")))
        __builtin_trap();

    /* streams: create, update, clustered create */
    if (js_stream_config_parse(body, size, NULL, true, false, 0, &sc, &err) == 0) {
        stream_roundtrip(&sc);
        js_stream_config_free(&sc);
    }
    if (js_stream_config_parse(body, size, NULL, true, true, 3, &sc, &err) == 0) {
        stream_roundtrip(&sc);
        js_stream_config_free(&sc);
    }
    if (js_stream_config_parse(body, size, NULL, false, false, 0, &sc, &err) == 0) {
        stream_roundtrip(&sc);
        have_sc = true;
    }

    /* consumers, in the four forms */
    char *durable = config_str(data, size, "durable_name");
    char *name = config_str(data, size, "name");
    char *filter = config_str(data, size, "filter_subject");
    const struct {
        enum js_consumer_form form;
        const char *name, *filter;
    } forms[] = {
        { JS_CFORM_CREATE, NULL, NULL },
        { JS_CFORM_CREATE_NAMED, durable ? durable : name ? name : "N", NULL },
        { JS_CFORM_CREATE_FILTERED, durable ? durable : name ? name : "N", filter ? filter : "f" },
        { JS_CFORM_DURABLE, durable ? durable : "D", NULL },
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (js_consumer_config_parse(body, size, NULL, forms[i].form, forms[i].name,
                                     forms[i].filter, &cc, &err) != 0)
            continue;
        (void)js_consumer_config_check_stream(&cc, &fixed, &err);
        if (have_sc)
            (void)js_consumer_config_check_stream(&cc, &sc, &err);
        (void)js_consumer_is_durable(&cc);
        consumer_roundtrip(&cc, forms[i].form, forms[i].name, forms[i].filter,
                           have_sc ? &sc : &fixed);
        js_consumer_config_free(&cc);
    }
    free(durable);
    free(name);
    free(filter);
    if (have_sc)
        js_stream_config_free(&sc);
    js_stream_config_free(&fixed);

    /* times */
    if (size < 64) {
        char buf[64], out[64];
        int64_t ns;
        memcpy(buf, data, size);
        buf[size] = 0;
        if (js_time_parse(buf, &ns) == 0) {
            int64_t back;
            js_time_format(ns, out, sizeof out);
            if (ns != 0 && (js_time_parse(out, &back) != 0 || back != ns))
                __builtin_trap();
        }
    }
    return 0;
}
