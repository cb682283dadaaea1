/*
 * server/main.c — ternd's entry point.
 *
 * Resolves options exactly as nats-server does (flags, config file, flags
 * again), handles the one-shot actions (-v, -h, -t, -sl), then runs the
 * node until a shutdown signal. Exit codes: 0 on success and SIGINT,
 * 1 on a bad flag or config and on SIGTERM (as nats-server).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/opts.h"
#include "server/server.h"
#include "server/tls.h"
#include "server/version.h"

/* -sl cmd[=pid|pidfile]: the commands of spec/server-cli-config.md §5. */
static int send_signal(const char *arg)
{
    static const struct { const char *cmd; int sig; } cmds[] = {
        { "quit", SIGINT }, { "term", SIGTERM }, { "stop", SIGKILL },
        { "reload", SIGHUP }, { "reopen", SIGUSR1 }, { "ldm", SIGUSR2 },
    };
    char cmd[64];
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
    if (n >= sizeof cmd) {
        fprintf(stderr, "ternd: unknown signal %s\n", arg);
        return 1;
    }
    memcpy(cmd, arg, n);
    cmd[n] = '\0';
    int sig = 0;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].cmd) == 0)
            sig = cmds[i].sig;
    if (!sig) {
        fprintf(stderr, "ternd: unknown signal \"%s\"\n", cmd);
        return 1;
    }
    if (!eq || !eq[1]) {
        fprintf(stderr, "ternd: -sl needs a pid or pid file: -sl %s=<pid|pidfile>\n", cmd);
        return 1;
    }
    char *end;
    long pid = strtol(eq + 1, &end, 10);
    if (*end != '\0') {
        FILE *f = fopen(eq + 1, "r");
        if (!f || fscanf(f, "%ld", &pid) != 1) {
            fprintf(stderr, "ternd: could not read pid from %s\n", eq + 1);
            if (f)
                fclose(f);
            return 1;
        }
        fclose(f);
    }
    if (pid <= 0 || kill((pid_t)pid, sig) < 0) {
        fprintf(stderr, "ternd: signal %s to %ld failed: %s\n", cmd, pid, strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct tern_opts opts;
    enum opts_action action = OPTS_RUN;
    char err[1024] = "";
    if (opts_from_command_line(&opts, argc, argv, &action, err, sizeof err) < 0) {
        fprintf(stderr, "ternd: %s\n", err);
        return 1;
    }
    int code = 0;
    switch (action) {
    case OPTS_VERSION:
        printf("ternd: v%s\n", TERN_VERSION);
        goto out_free_opts;
    case OPTS_HELP:
        printf("%s", opts_usage());
        goto out_free_opts;
    case OPTS_TEST_CONFIG: {
        /* -t reads the TLS files too, as nats-server does. */
        int trc = 0;
        tls_ctx_unref(tls_ctx_new(&opts, &trc, err, sizeof err));
        if (trc == 0 && opts.cluster_host)
            tls_ctx_unref(tls_ctx_new_cluster(opts.cluster_tls, &trc, err, sizeof err));
        if (trc < 0) {
            fprintf(stderr, "ternd: %s\n", err);
            code = 1;
            goto out_free_opts;
        }
        fprintf(stderr, "ternd: configuration file %s is valid\n",
                opts.config_file ? opts.config_file : "");
        goto out_free_opts;
    }
    case OPTS_SIGNAL:
        code = send_signal(opts.signal_cmd ? opts.signal_cmd : "");
        goto out_free_opts;
    case OPTS_RUN:
        break;
    }

    struct server srv;
    if (server_init(&srv, &opts, argc, argv) < 0) {
        server_destroy(&srv);
        return 1;
    }
    code = server_run(&srv);
    server_destroy(&srv);
    return code;

out_free_opts:
    opts_free(&opts);
    return code;
}
