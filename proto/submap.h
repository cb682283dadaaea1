/*
 * proto/submap.h — subject mappings: a source pattern and a destination
 * template, read and applied as nats-server 2.9's subject transforms
 * (accounts.go newTransform and Match), which is what a stream's
 * republish {src, dest} is (spec/jetstream.md §5.1).
 *
 * A destination token that is "$N" or "{{wildcard(N)}}" takes the N-th
 * '*' token of the source; "{{partition(n,i,...)}}" a bucket number in
 * [0, n) from an FNV-1a hash of those tokens; "{{splitFromLeft(i,p)}}",
 * "{{splitFromRight(i,p)}}", "{{sliceFromLeft(i,n)}}",
 * "{{sliceFromRight(i,n)}}" and "{{split(i,delim)}}" cut one source
 * token into several; a trailing '>' carries the rest of the subject. Any
 * other token is copied. With a literal source the destination is used as
 * it is. Validity is newTransform's: both valid subjects, no '*' in the
 * destination, '>' in both or neither, well-formed functions whose indexes
 * are within the source's '*' count, and every '*' used.
 *
 * Pure: libc only, no globals. A compiled map is immutable after
 * submap_compile, so readers on any thread may share it.
 */
#ifndef TERN_PROTO_SUBMAP_H
#define TERN_PROTO_SUBMAP_H

#include <stddef.h>

struct submap;

/* Compile src -> dest (NUL-terminated; the caller has already turned an
 * empty republish src into ">"). 0 with *out (free with submap_free),
 * -EINVAL when nats-server would refuse the pair, -ENOMEM. */
int submap_compile(const char *src, const char *dest, struct submap **out);

/* Map one literal subject. 0 with *out a malloc'd NUL-terminated subject
 * (the caller frees it) and *outlen its length; -ENOENT when the subject
 * is not under src (nothing to map); -EINVAL when it is not a valid
 * literal subject or a partition has 0 buckets (nats-server's division
 * by zero: it panics there); -ENOMEM. */
int submap_apply(const struct submap *m, const char *subject, size_t len, char **out,
                 size_t *outlen);

void submap_free(struct submap *m);

#endif
