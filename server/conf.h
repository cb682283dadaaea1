/*
 * server/conf.h — the nats-server configuration format, parsed into a tree.
 *
 * conf_parse_file()/conf_parse_string() read the whole relaxed JSON/HCL-like
 * format of spec/server-cli-config.md §2.1 (separators, comments, maps,
 * arrays, strings, block strings, booleans, sized integers, floats, Zulu
 * datetimes, variables, includes) into a tree of struct conf_value. Every
 * value and map key remembers its file, line and column so the options
 * layer can report "<file>:<line>:<col>: <reason>" as nats-server does.
 * This module knows nothing about option names and depends on libc only
 * (the fuzzer links conf.c alone).
 */
#ifndef TERN_SERVER_CONF_H
#define TERN_SERVER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conf_type {
    CONF_MAP = 0,
    CONF_ARRAY,
    CONF_STRING,
    CONF_INT,
    CONF_FLOAT,
    CONF_BOOL,
    CONF_DATETIME,
};

struct conf_value;

/* One key of a map, in file order. Keys are stored as written; the options
 * layer compares them case-insensitively. */
struct conf_entry {
    char *key;                /* owned */
    const char *file;         /* borrowed: owned by the struct conf_doc */
    int line, col;            /* where the key starts (1-based) */
    bool used_variable;       /* referenced as $key: not an option of its own */
    struct conf_value *val;   /* owned */
};

/* A value. Allocated by the parser, freed with its document. */
struct conf_value {
    enum conf_type type;
    const char *file;         /* borrowed: owned by the struct conf_doc */
    int line, col;
    union {
        struct { char *s; size_t len; } str;   /* owned, NUL-terminated; may hold \x00 */
        int64_t i;
        double f;
        bool b;
        int64_t unix_secs;                     /* CONF_DATETIME, UTC */
        struct { struct conf_entry *items; size_t n, cap; } map;
        struct { struct conf_value **items; size_t n, cap; } arr;
    } u;
};

/* A parsed file with everything it included. Allocated by conf_parse_*,
 * freed by conf_free(). */
struct conf_doc {
    struct conf_value *root;  /* owned; always a CONF_MAP */
    char **files;             /* owned: names of the file and its includes */
    size_t nfiles;
};

/* Hard limits so hostile input cannot exhaust the stack or memory. */
#define CONF_MAX_INPUT        (8u << 20)   /* bytes of one file */
#define CONF_MAX_TOTAL_INPUT  (32u << 20)  /* bytes of a file and all its includes */
#define CONF_MAX_DEPTH        64           /* nested maps/arrays */
#define CONF_MAX_INCLUDE_DEPTH 10
#define CONF_MAX_VALUES       (1u << 20)   /* values incl. copies made by $variables */

struct conf_parse_opts {
    bool no_includes;         /* "include" is an error (the fuzzer sets this) */
    bool no_env;              /* $VAR never falls back to the environment */
};

/*
 * Parse the file at path. Includes are resolved relative to its directory.
 * 0 and *out set, or a negative code (-EINVAL for a syntax or reference
 * error, -ENOENT/-EACCES/... when the file cannot be read, -ENOMEM, -E2BIG
 * past a limit) with "<file>:<line>:<col>: <reason>" (or "<reason>" when no
 * position applies) in err. popts may be NULL.
 */
int conf_parse_file(const char *path, const struct conf_parse_opts *popts,
                    struct conf_doc **out, char *err, size_t errlen);

/* The same for text in memory; name stands for the file name in positions
 * and its directory anchors includes. text need not be NUL-terminated. */
int conf_parse_string(const char *text, size_t len, const char *name,
                      const struct conf_parse_opts *popts,
                      struct conf_doc **out, char *err, size_t errlen);

void conf_free(struct conf_doc *doc);

/* The last entry of map whose key equals key ignoring case, or NULL. */
const struct conf_entry *conf_map_find(const struct conf_value *map, const char *key);

/* "map", "array", "string", "integer", "float", "bool", "datetime". */
const char *conf_type_name(enum conf_type t);

#endif
