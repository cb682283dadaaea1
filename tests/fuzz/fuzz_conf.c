/*
 * tests/fuzz/fuzz_conf.c — libFuzzer target for the config parser.
 *
 * Parses each input as a whole config file with includes disabled and the
 * environment ignored (so a run depends on the input alone), walks the
 * tree it built to touch every value, and frees it. Any crash, leak,
 * sanitizer report or runaway recursion is a bug in server/conf.c.
 */
#include <stddef.h>
#include <stdint.h>

#include "server/conf.h"

/* Reads every field so ASan sees any dangling or half-built node. */
static size_t walk(const struct conf_value *v)
{
    size_t n = 1;
    switch (v->type) {
    case CONF_MAP:
        for (size_t i = 0; i < v->u.map.n; i++)
            n += walk(v->u.map.items[i].val) + (v->u.map.items[i].key[0] != 0) +
                 (size_t)v->u.map.items[i].line;
        break;
    case CONF_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++)
            n += walk(v->u.arr.items[i]);
        break;
    case CONF_STRING:
        n += v->u.str.len + (size_t)(v->u.str.s[v->u.str.len] == 0);
        break;
    default:
        break;
    }
    return n + (size_t)v->col + (v->file[0] != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct conf_parse_opts popts = { .no_includes = true, .no_env = true };
    struct conf_doc *doc = NULL;
    char err[256];
    if (conf_parse_string((const char *)data, size, "fuzz.conf", &popts, &doc, err, sizeof err) == 0) {
        volatile size_t sink = walk(doc->root);
        (void)sink;
        (void)conf_map_find(doc->root, "port");
        conf_free(doc);
    }
    return 0;
}
