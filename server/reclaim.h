/*
 * server/reclaim.h — deferred freeing of objects that other loops may still
 * be looking at (quiescent-state-based reclamation).
 *
 * A subscription or connection is unlinked on its own loop, but another
 * loop may hold a pointer to it until the end of its current iteration (a
 * match result it is fanning out, a flush list). So it is retired instead
 * of freed: it is tagged with the current epoch and freed only after every
 * loop has finished an iteration that began after the tag. Loops report
 * with reclaim_quiescent at the end of each iteration (they wake at least
 * every RECLAIM_TICK_MS); the main thread advances the epoch and frees.
 */
#ifndef TERN_SERVER_RECLAIM_H
#define TERN_SERVER_RECLAIM_H

#include <stdatomic.h>

#define RECLAIM_TICK_MS 100

struct reclaim;

/* One slot per loop that reads shared objects. NULL on ENOMEM. */
struct reclaim *reclaim_new(int nslots);
/* Frees every object still retired: call only after all loops stopped. */
void reclaim_free(struct reclaim *r);

/* A loop's end of iteration: it holds no retired pointer any more. */
void reclaim_quiescent(struct reclaim *r, int slot);

/*
 * Hand obj to be freed with free_fn once no loop can see it. When holds
 * is not NULL, the object is also kept while *holds > 0 (references taken
 * on purpose across iterations, e.g. a queued cross-loop flush).
 * Returns 0 or -ENOMEM (then nothing was retired and the caller leaks
 * rather than risk a use-after-free).
 */
int reclaim_retire(struct reclaim *r, void *obj, void (*free_fn)(void *),
                   atomic_int *holds);

/* Main thread, every RECLAIM_TICK_MS: advance the epoch, free what is safe.
 * Returns the number of objects freed. */
int reclaim_tick(struct reclaim *r);

#endif
