/*
 * server/sysacc.h — the system account's request subjects: the few
 * requests nats-server 2.9 answers for the clients and operators of its
 * system account (spec/server-cli-config.md §4's endpoints, over NATS):
 *
 *   $SYS.REQ.SERVER.PING               every node answers its statsz
 *   $SYS.REQ.SERVER.PING.<EP>          every node answers endpoint EP
 *   $SYS.REQ.SERVER.<server id>.<EP>   only the node named answers
 *
 * for EP in STATSZ, VARZ, CONNZ, SUBSZ, ROUTEZ, JSZ, HEALTHZ, ACCOUNTZ:
 * the object the monitoring endpoint of that name serves (built by the
 * monitor's own builders, monitor_build.h), wrapped as nats-server wraps
 * it: {"server":{...},"data":{...}} (statsz: "statsz" for "data"; a
 * refused request: "error":{"code","description"}). A JSON body carries
 * the endpoint's options ({"subscriptions":true}, ...) and nats-server's
 * filters (server_name, cluster, host, tags, domain): a node the filter
 * does not select stays silent.
 *
 * The subscriptions are in the system account's index only, so only its
 * clients can send these; they carry route interest, so routes bring a
 * PING to every node and a per-server request to the node it names.
 */
#ifndef TERN_SERVER_SYSACC_H
#define TERN_SERVER_SYSACC_H

struct server;
struct sysacc;

/* Subscribe (srv's loops and accounts exist, its routes not yet, so each
 * route is told of the interest with the rest). Main thread, before the
 * main loop runs. 0 with *out set (owned by the caller, freed by
 * sysacc_stop), or -ENOMEM / -errno with nothing left behind. */
int sysacc_start(struct server *srv, struct sysacc **out);

/* Unsubscribe and free everything; after the loops have stopped (they call
 * into it) and before they are freed (replies still queued to them are
 * released by worker_free). Main thread. NULL is fine. */
void sysacc_stop(struct sysacc *sa);

#endif
