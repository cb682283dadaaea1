/*
 * proto/prom.h — the Prometheus text exposition format, version 0.0.4, as
 * a writer: "# HELP" and "# TYPE" once per family, then its samples, each
 * "name{label="value",...} value" on a line of its own.
 *
 * Label values are escaped (\\, \", \n) and made valid UTF-8 (each invalid
 * byte becomes U+FFFD), since Prometheus drops a whole scrape over one bad
 * label; HELP text is escaped (\\, \n). Names are the caller's constants
 * and are not checked. Integers print exactly, other values as the
 * shortest decimal that reads back the same, NaN and infinities as
 * Prometheus spells them. Pure: no I/O, one growing buffer.
 */
#ifndef TERN_PROTO_PROM_H
#define TERN_PROTO_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum prom_type { PROM_GAUGE, PROM_COUNTER, PROM_UNTYPED };

struct prom_label {
    const char *name;          /* borrowed */
    const char *value;         /* borrowed; NULL prints as "" */
};

/* The text being written. The caller owns the struct (prom_init /
 * prom_free); buf is owned by it. After an allocation failure nothing more
 * is written and failed stays set: the text is incomplete. */
struct prom {
    char *buf;
    size_t len, cap;
    bool failed;
    const char *family;        /* borrowed: the current family's name */
};

void prom_init(struct prom *p);
void prom_free(struct prom *p);

/* Start a family: its HELP and TYPE lines. name and help are borrowed
 * until the next prom_family. */
void prom_family(struct prom *p, const char *name, enum prom_type type, const char *help);
/* One sample of the current family, with n labels (in the given order). */
void prom_u64(struct prom *p, const struct prom_label *labels, size_t n, uint64_t v);
void prom_i64(struct prom *p, const struct prom_label *labels, size_t n, int64_t v);
void prom_f64(struct prom *p, const struct prom_label *labels, size_t n, double v);

/* Escape len bytes of s as a label value into out, which has room for
 * 3 * len bytes (U+FFFD is three bytes for one); returns the length. */
size_t prom_escape_label(const char *s, size_t len, char *out);

#endif
