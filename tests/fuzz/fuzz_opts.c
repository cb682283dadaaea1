/*
 * tests/fuzz/fuzz_opts.c — libFuzzer target for reading a config file into
 * options: the config parser and then every key's interpretation
 * (server/opts*.c: authorization, accounts with their exports and imports,
 * TLS, WebSocket, cluster, JetStream) and the accounts' checks
 * (server/account_check.c), as `ternd -c <file>` runs them.
 *
 * Each input is written to a private temporary file and read as the
 * config; the result is freed. Any crash, leak or sanitizer report is a
 * bug in the option code.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "server/opts.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/fuzz_opts.%d.conf", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char *argv[] = { "ternd", "-c", path, NULL };
    struct tern_opts o = { 0 };
    enum opts_action action;
    char err[1024];
    (void)opts_from_command_line(&o, 3, argv, &action, err, sizeof err);
    opts_free(&o);
    return 0;
}
