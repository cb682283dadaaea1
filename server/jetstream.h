/*
 * server/jetstream.h — JetStream for one node: what the rest of the server
 * sees of it.
 *
 * With -js the server starts one more loop, the JetStream loop, which owns
 * every stream, consumer and store. It hears the API, stream subjects and
 * acks through internal subscriptions in the shared subject index, so
 * clients reach it with ordinary PUB/HPUB from any I/O loop (and, in a
 * cluster, from any node). Nothing on the I/O loops touches disk.
 */
#ifndef TERN_SERVER_JETSTREAM_H
#define TERN_SERVER_JETSTREAM_H

struct server;
struct jetstream;

/* Main thread, during server_init, after the I/O loops started: open the
 * store directory, load the streams and consumers found there, subscribe,
 * start the loop. slot is the reclaim slot the JetStream loop reports in.
 * 0, or negative (logged). */
int jetstream_start(struct server *s, int slot, struct jetstream **out);
/* Stop the loop (pending publishes are synced and answered first). */
void jetstream_stop(struct jetstream *js);
/* After every loop has stopped. NULL is fine. */
void jetstream_free(struct jetstream *js);

#endif
