/*
 * server/perms.h — building and freeing compiled subject permissions, for
 * server/auth.c, which owns every struct auth_perms. The checks run on
 * them (auth_can_publish and the rest) are declared in server/auth.h with
 * the rest of the authorization API, and defined in server/perms.c.
 */
#ifndef TERN_SERVER_PERMS_H
#define TERN_SERVER_PERMS_H

#include "server/auth.h"
#include "server/opts.h"

/* Compile one permissions block into a new *out, which the caller owns and
 * frees with perms_free. Invalid subjects are skipped, as nats-server skips
 * them. 0 or -ENOMEM (nothing then allocated). */
int perms_new(const struct opts_permissions *op, struct auth_perms **out);
/* Frees p and everything in it; NULL is allowed. */
void perms_free(struct auth_perms *p);

#endif
