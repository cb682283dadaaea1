/*
 * tests/unit/check_opts.c — flags and config keys into struct tern_opts
 * (server/opts.c, with server/conf.c).
 *
 * Each test writes a config to a temp file when it needs one, resolves a
 * command line the way ternd does, and checks fields or the exact error
 * line nats-server prints for the same input (spec/server-cli-config.md).
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/opts.h"

static struct tern_opts o;
static enum opts_action action;
static char err[1024];
static char conf_path[64];

static void setup(void)
{
    memset(&o, 0, sizeof o);
    strcpy(conf_path, "/tmp/check_opts_XXXXXX");
    int fd = mkstemp(conf_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void teardown(void)
{
    opts_free(&o);
    unlink(conf_path);
}

static void write_conf(const char *text)
{
    FILE *f = fopen(conf_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Resolve a NULL-terminated argument list (after "ternd"). */
static int run(const char *first, ...)
{
    char *argv[32] = { "ternd" };
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    opts_free(&o);
    err[0] = '\0';
    return opts_from_command_line(&o, argc, argv, &action, err, sizeof err);
}

/* Resolve "-c <file>" with text as the file. */
static int run_conf(const char *text)
{
    write_conf(text);
    return run("-c", conf_path, NULL);
}

/* The error for a config, with the temp path replaced by "f". */
static const char *conf_err(const char *text)
{
    int rc = run_conf(text);
    ck_assert_msg(rc < 0, "expected an error for <%s>", text);
    static char out[1024];
    const char *p = strstr(err, conf_path);
    if (p)
        snprintf(out, sizeof out, "%.*sf%s", (int)(p - err), err, p + strlen(conf_path));
    else
        snprintf(out, sizeof out, "%s", err);
    return out;
}

static bool has_warning(const char *needle)
{
    for (size_t i = 0; i < o.nwarnings; i++)
        if (strstr(o.warnings[i], needle))
            return true;
    return false;
}

START_TEST(defaults)
{
    ck_assert_int_eq(run(NULL), 0);
    ck_assert_int_eq(action, OPTS_RUN);
    ck_assert_str_eq(o.host, "0.0.0.0");
    ck_assert_int_eq(o.port, 4222);
    ck_assert_int_eq(o.max_payload, 1048576);
    ck_assert_int_eq(o.max_pending, 67108864);
    ck_assert_int_eq(o.max_control_line, 4096);
    ck_assert_int_eq(o.max_connections, 65536);
    ck_assert_int_eq(o.ping_interval_ms, 120000);
    ck_assert_int_eq(o.ping_max, 2);
    ck_assert_int_eq(o.write_deadline_ms, 10000);
    ck_assert_double_eq(o.auth_timeout_s, 2);
    ck_assert_int_eq(o.lame_duck_duration_ms, 120000);
    ck_assert_int_eq(o.lame_duck_grace_ms, 10000);
    ck_assert_int_eq(o.max_closed_clients, 10000);
    ck_assert(o.logtime);
    ck_assert_int_eq(o.threads, 0);
    ck_assert_int_eq(o.http_port, 0);
    ck_assert_ptr_null(o.cluster_host);
    ck_assert_int_eq(o.max_memory_store, -1);
    ck_assert_int_eq(o.max_file_store, -1);
    ck_assert_uint_eq(o.nwarnings, 0);
}
END_TEST

START_TEST(flag_forms)
{
    ck_assert_int_eq(run("-p", "5000", NULL), 0);
    ck_assert_int_eq(o.port, 5000);
    ck_assert_int_eq(run("-p=5001", NULL), 0);
    ck_assert_int_eq(o.port, 5001);
    ck_assert_int_eq(run("--port=5002", NULL), 0);
    ck_assert_int_eq(o.port, 5002);
    ck_assert_int_eq(run("--port", "5003", "-a", "127.0.0.1", "--name", "n1", NULL), 0);
    ck_assert_int_eq(o.port, 5003);
    ck_assert_str_eq(o.host, "127.0.0.1");
    ck_assert_str_eq(o.server_name, "n1");
    ck_assert_int_eq(run("-D", "-T=false", NULL), 0);
    ck_assert(o.debug && !o.trace && !o.logtime);
    ck_assert_int_eq(run("-D=false", NULL), 0);
    ck_assert(!o.debug);
    ck_assert_int_eq(run("-DV", NULL), 0);
    ck_assert(o.debug && o.trace && !o.trace_verbose);
    ck_assert_int_eq(run("-VV", NULL), 0);
    ck_assert(!o.debug && o.trace && o.trace_verbose);
    ck_assert_int_eq(run("--DVV", NULL), 0);
    ck_assert(o.debug && o.trace && o.trace_verbose);
    ck_assert_int_eq(run("-p", "-1", NULL), 0);
    ck_assert_int_eq(o.port, -1);
    ck_assert_int_eq(run("--threads", "3", "-m", "8222", "-P", "/tmp/p.pid", "-l", "/tmp/l.log",
                         "--client_advertise", "h:1", "--ports_file_dir", "/tmp", NULL), 0);
    ck_assert_int_eq(o.threads, 3);
    ck_assert_int_eq(o.http_port, 8222);
    ck_assert_str_eq(o.pid_file, "/tmp/p.pid");
    ck_assert_str_eq(o.log_file, "/tmp/l.log");
    ck_assert_str_eq(o.client_advertise, "h:1");
    ck_assert_str_eq(o.ports_file_dir, "/tmp");
    ck_assert_int_eq(run("-js", "-sd", "/tmp/js", "--user", "u", "--pass", "p", NULL), 0);
    ck_assert(o.jetstream);
    ck_assert_str_eq(o.store_dir, "/tmp/js");
    ck_assert_str_eq(o.user, "u");
    ck_assert_str_eq(o.password, "p");
    ck_assert_int_eq(run("--auth", "tok", "-s", "-r", "udp://x:514", NULL), 0);
    ck_assert_str_eq(o.token, "tok");
    ck_assert(o.syslog);
    ck_assert_str_eq(o.remote_syslog, "udp://x:514");
    /* "--" ends the flags; "-D false" makes "false" a command. */
    ck_assert_int_eq(run("-D", "false", NULL), -EINVAL);
    ck_assert_str_eq(err, "unrecognized command: \"false\"");
}
END_TEST

START_TEST(flag_errors)
{
    ck_assert_int_eq(run("--bogus", NULL), -EINVAL);
    ck_assert_str_eq(err, "flag provided but not defined: -bogus");
    ck_assert_int_eq(run("-bogus=1", NULL), -EINVAL);
    ck_assert_str_eq(err, "flag provided but not defined: -bogus");
    ck_assert_int_eq(run("-p", NULL), -EINVAL);
    ck_assert_str_eq(err, "flag needs an argument: -p");
    ck_assert_int_eq(run("-p", "abc", NULL), -EINVAL);
    ck_assert_str_eq(err, "invalid value \"abc\" for flag -p: parse error");
    ck_assert_int_eq(run("-D=maybe", NULL), -EINVAL);
    ck_assert_str_eq(err, "invalid boolean value \"maybe\" for -D: parse error");
    ck_assert_int_eq(run("---p", NULL), -EINVAL);
    ck_assert_str_eq(err, "bad flag syntax: ---p");
    ck_assert_int_eq(run("-t", NULL), -EINVAL);
    ck_assert_str_eq(err, "must specify [-c, --config] option to check configuration file syntax");
    ck_assert_int_eq(run("--routes", "nats://127.0.0.1:6223", NULL), -EINVAL);
    ck_assert_str_eq(err, "solicited routes require cluster capabilities, e.g. --cluster");
    /* A failed resolution leaves nothing to free. */
    ck_assert_ptr_null(o.host);
}
END_TEST

START_TEST(actions)
{
    ck_assert_int_eq(run("-v", NULL), 0);
    ck_assert_int_eq(action, OPTS_VERSION);
    ck_assert_int_eq(run("--help", NULL), 0);
    ck_assert_int_eq(action, OPTS_HELP);
    ck_assert_int_eq(run("version", NULL), 0);
    ck_assert_int_eq(action, OPTS_VERSION);
    ck_assert_int_eq(run("-sl", "reload=123", NULL), 0);
    ck_assert_int_eq(action, OPTS_SIGNAL);
    ck_assert_str_eq(o.signal_cmd, "reload=123");
    write_conf("port: 1234\n");
    ck_assert_int_eq(run("-t", "-c", conf_path, NULL), 0);
    ck_assert_int_eq(action, OPTS_TEST_CONFIG);
    ck_assert_str_eq(o.config_file, conf_path);
    const char *u = opts_usage();
    ck_assert_ptr_nonnull(strstr(u, "--threads"));
    ck_assert_ptr_nonnull(strstr(u, "Cluster Options:"));
}
END_TEST

START_TEST(cluster_flags)
{
    ck_assert_int_eq(run("--cluster", "nats://ru:rp@127.0.0.1:6250", "--routes",
                         "nats://127.0.0.1:6251, nats://127.0.0.1:6252", "--cluster_name", "c1",
                         "--cluster_advertise", "10.0.0.1:6250", "--no_advertise",
                         "--connect_retries", "4", NULL), 0);
    ck_assert_str_eq(o.cluster_host, "127.0.0.1");
    ck_assert_int_eq(o.cluster_port, 6250);
    ck_assert_str_eq(o.cluster_user, "ru");
    ck_assert_str_eq(o.cluster_password, "rp");
    ck_assert_uint_eq(o.nroutes, 2);
    ck_assert_str_eq(o.routes[0], "nats://127.0.0.1:6251");
    ck_assert_str_eq(o.routes[1], "nats://127.0.0.1:6252");
    ck_assert_str_eq(o.cluster_name, "c1");
    ck_assert_str_eq(o.cluster_advertise, "10.0.0.1:6250");
    ck_assert(o.no_advertise);
    ck_assert_int_eq(o.connect_retries, 4);
    ck_assert_int_eq(run("--cluster_listen", "nats://0.0.0.0:-1", NULL), 0);
    ck_assert_int_eq(o.cluster_port, -1);
    ck_assert_int_eq(run("--cluster", "nats://u@h:1", NULL), -EINVAL);
    ck_assert_str_eq(err, "expected cluster password to be set");
    /* --cluster "" turns off the file's cluster; --routes "" clears routes. */
    write_conf("cluster { listen: 127.0.0.1:6300, routes: [nats://a:1] }\n");
    ck_assert_int_eq(run("-c", conf_path, "--cluster", "", "--routes", "", NULL), 0);
    ck_assert_ptr_null(o.cluster_host);
    ck_assert_uint_eq(o.nroutes, 0);
}
END_TEST

START_TEST(flags_beat_file)
{
    write_conf("port: 1111\nhost: 10.0.0.1\ndebug: true\nserver_name: file\n"
               "cluster { listen: 127.0.0.1:6300, routes: [nats://a:1, nats://b:2] }\n");
    ck_assert_int_eq(run("-p", "2222", "-c", conf_path, "-D=false", "--routes", "nats://c:3", NULL), 0);
    ck_assert_int_eq(o.port, 2222);
    ck_assert_str_eq(o.host, "10.0.0.1");
    ck_assert(!o.debug);
    ck_assert_str_eq(o.server_name, "file");
    ck_assert_uint_eq(o.nroutes, 1);
    ck_assert_str_eq(o.routes[0], "nats://c:3");
}
END_TEST

START_TEST(top_level_keys)
{
    ck_assert_int_eq(run_conf(
        "listen: 127.0.0.1:4333\nserver_name: s1\nclient_advertise: \"ext:4222\"\n"
        "http: 127.0.0.1:8333\nhttp_base_path: /mon\nmax_connections: 100\nmax_subs: 50\n"
        "max_sub_tokens: 16\nping_max: 5\nno_header_support: true\nmax_closed_clients: 7\n"
        "trace_verbose: true\nlogtime: false\nlogtime_utc: on\nlog_file: /tmp/x.log\n"
        "log_size_limit: 1MB\nlog_max_num: 3\nmax_traced_msg_len: 64\nsyslog: yes\n"
        "remote_syslog: \"udp://h:514\"\npid_file: /tmp/t.pid\nports_file_dir: /tmp\n"
        "threads: 2\nmax_control_line: 2KB\n"), 0);
    ck_assert_str_eq(o.host, "127.0.0.1");
    ck_assert_int_eq(o.port, 4333);
    ck_assert_str_eq(o.server_name, "s1");
    ck_assert_str_eq(o.client_advertise, "ext:4222");
    ck_assert_str_eq(o.http_host, "127.0.0.1");
    ck_assert_int_eq(o.http_port, 8333);
    ck_assert_str_eq(o.http_base_path, "/mon");
    ck_assert_int_eq(o.max_connections, 100);
    ck_assert_int_eq(o.max_subscriptions, 50);
    ck_assert_int_eq(o.max_sub_tokens, 16);
    ck_assert_int_eq(o.ping_max, 5);
    ck_assert(o.no_header_support);
    ck_assert_int_eq(o.max_closed_clients, 7);
    ck_assert(o.trace_verbose && o.trace);
    ck_assert(!o.logtime && o.logtime_utc);
    ck_assert_str_eq(o.log_file, "/tmp/x.log");
    ck_assert_int_eq(o.log_size_limit, 1048576);
    ck_assert_int_eq(o.log_max_num, 3);
    ck_assert_int_eq(o.max_traced_msg_len, 64);
    ck_assert(o.syslog);
    ck_assert_str_eq(o.remote_syslog, "udp://h:514");
    ck_assert_str_eq(o.pid_file, "/tmp/t.pid");
    ck_assert_str_eq(o.ports_file_dir, "/tmp");
    ck_assert_int_eq(o.threads, 2);
    ck_assert_int_eq(o.max_control_line, 2048);
    /* Aliases and case-insensitive keys. */
    ck_assert_int_eq(run_conf("NET: 10.1.1.1\nPort = 5\nmonitor_port 8\nmax_conn: 9\n"
                              "pidfile: a\nlogfile: b\n"), 0);
    ck_assert_str_eq(o.host, "10.1.1.1");
    ck_assert_int_eq(o.port, 5);
    ck_assert_int_eq(o.http_port, 8);
    ck_assert_int_eq(o.max_connections, 9);
    ck_assert_str_eq(o.pid_file, "a");
    ck_assert_str_eq(o.log_file, "b");
    ck_assert_int_eq(run_conf("listen: 4444\nhttp_port: 8222\n"), 0);
    ck_assert_int_eq(o.port, 4444);
    ck_assert_str_eq(o.host, "0.0.0.0");
}
END_TEST

/* Tern's own "console": on by default, a bool only. */
START_TEST(console_key)
{
    ck_assert_int_eq(run_conf("port: 1\n"), 0);
    ck_assert(!o.console_off);
    ck_assert_int_eq(run_conf("console: false\n"), 0);
    ck_assert(o.console_off);
    ck_assert_int_eq(run_conf("console: true\n"), 0);
    ck_assert(!o.console_off);
    ck_assert_str_eq(conf_err("console: \"off\"\n"),
                     "f:1:1: interface conversion: interface {} is string, not bool");
}
END_TEST

START_TEST(size_units)
{
    /* The verified examples of §2.1. */
    ck_assert_int_eq(run_conf("max_payload: 1MB\nmax_pending = 32MiB\n"), 0);
    ck_assert_int_eq(o.max_payload, 1048576);
    ck_assert_int_eq(o.max_pending, 33554432);
    ck_assert_int_eq(run_conf("max_pending: 64M\nmax_payload: 1k\n"), 0);
    ck_assert_int_eq(o.max_pending, 64000000);
    ck_assert_int_eq(o.max_payload, 1000);
    ck_assert_int_eq(run_conf("jetstream { max_mem: \"1G\", max_file: 2G }\n"), 0);
    ck_assert(o.jetstream);
    ck_assert_int_eq(o.max_memory_store, 1073741824);
    ck_assert_int_eq(o.max_file_store, 2000000000);
    ck_assert_int_eq(run_conf("jetstream { max_memory_store: \"512M\", max_file_store: 1GB }\n"), 0);
    ck_assert_int_eq(o.max_memory_store, 512LL << 20);
    ck_assert_int_eq(o.max_file_store, 1LL << 30);
    ck_assert_str_eq(conf_err("jetstream { max_mem: \"5Q\" }\n"),
                     "f:1:13: max_mem_store sizes defined as strings must end in K, M, G, T");
    ck_assert_str_eq(conf_err("jetstream { max_mem: \"1GB\" }\n"),
                     "f:1:13: max_mem_store strconv.ParseInt: parsing \"1G\": invalid syntax");
    ck_assert_str_eq(conf_err("jetstream { max_file: \"xG\" }\n"),
                     "f:1:13: max_file_store strconv.ParseInt: parsing \"x\": invalid syntax");
    ck_assert_str_eq(conf_err("max_control_line: 10GB\n"), "f:1:1: max_control_line value is too big");
    ck_assert_str_eq(conf_err("max_sub_tokens: 300\n"), "f:1:1: max_sub_tokens value is too big");
}
END_TEST

START_TEST(durations)
{
    ck_assert_int_eq(run_conf("ping_interval: \"1h30m\"\nwrite_deadline: \"250ms\"\n"
                              "lame_duck_duration: \"45s\"\nlame_duck_grace_period: \"1.5s\"\n"), 0);
    ck_assert_int_eq(o.ping_interval_ms, 5400000);
    ck_assert_int_eq(o.write_deadline_ms, 250);
    ck_assert_int_eq(o.lame_duck_duration_ms, 45000);
    ck_assert_int_eq(o.lame_duck_grace_ms, 1500);
    ck_assert_uint_eq(o.nwarnings, 0);
    /* Unquoted 10s is a string and works; a number is seconds plus a warning. */
    ck_assert_int_eq(run_conf("write_deadline: 10s\nping_interval: 60\n"), 0);
    ck_assert_int_eq(o.write_deadline_ms, 10000);
    ck_assert_int_eq(o.ping_interval_ms, 60000);
    ck_assert_uint_eq(o.nwarnings, 1);
    ck_assert_msg(strstr(o.warnings[0], ":2:1: invalid use of field \"ping_interval\": "
                         "ping_interval should be converted to a duration") != NULL, "%s", o.warnings[0]);
    /* Unquoted 2m is the integer 2000000: 2000000 seconds. */
    ck_assert_int_eq(run_conf("ping_interval: 2m\n"), 0);
    ck_assert_int_eq(o.ping_interval_ms, 2000000LL * 1000);
    /* Under -t the warning fails the check, as nats-server. */
    write_conf("ping_interval: 60\n");
    ck_assert_int_eq(run("-t", "-c", conf_path, NULL), -EINVAL);
    ck_assert_msg(strstr(err, ":1:1: invalid use of field \"ping_interval\"") != NULL, "%s", err);
    ck_assert_str_eq(conf_err("ping_interval: \"xx\"\n"),
                     "f:1:1: error parsing ping_interval: time: invalid duration \"xx\"");
    ck_assert_str_eq(conf_err("write_deadline: \"10\"\n"),
                     "f:1:1: error parsing write_deadline: time: missing unit in duration \"10\"");
    ck_assert_str_eq(conf_err("write_deadline: \"10y\"\n"),
                     "f:1:1: error parsing write_deadline: time: unknown unit \"y\" in duration \"10y\"");
    ck_assert_str_eq(conf_err("lame_duck_duration: \"10s\"\n"),
                     "f:1:1: invalid lame_duck_duration of 10s, minimum is 30 seconds");
    ck_assert_str_eq(conf_err("lame_duck_duration: 40\n"),
                     "f:1:1: interface conversion: interface {} is int64, not string");
    ck_assert_str_eq(conf_err("lame_duck_duration: \"40s\"\nlame_duck_grace_period: \"50s\"\n"),
                     "lame duck grace period (50s) should be strictly lower than lame duck duration (40s)");
}
END_TEST

START_TEST(accounts_block)
{
    ck_assert_int_eq(run_conf("accounts {\n"
                              "  A: { users: [{user: a, password: pa}], jetstream: enabled,\n"
                              "       exports: [{stream: \"feed.>\"},\n"
                              "                 {service: \"svc.*\", accounts: [B],\n"
                              "                  response_type: stream, response_threshold: \"5s\"}] }\n"
                              "  B: { users: [{user: b, password: pb}],\n"
                              "       imports: [{stream: {account: A, subject: \"feed.>\"}, prefix: p},\n"
                              "                 {service: {account: A, subject: \"svc.*\"}, to: \"s.*\"}] }\n"
                              "}\n"
                              "authorization { users: [{user: g, password: pg}] }\n"
                              "system_account: A\n"),
                     0);
    ck_assert_uint_eq(o.naccounts, 2);
    ck_assert_str_eq(o.system_account, "A");
    /* The authorization block after accounts {} keeps the accounts' users. */
    ck_assert_uint_eq(o.nusers, 3);
    ck_assert_str_eq(o.users[0].user, "g");
    ck_assert_ptr_null(o.users[0].account);
    ck_assert_str_eq(o.users[1].account, "A");
    ck_assert_str_eq(o.users[2].account, "B");
    const struct opts_account *a = &o.accounts[0], *b = &o.accounts[1];
    ck_assert_int_eq(a->jetstream, 1);
    ck_assert_int_eq(b->jetstream, -1);
    ck_assert_uint_eq(a->nexports, 2);
    ck_assert(!a->exports[0].service);
    ck_assert(a->exports[1].service);
    ck_assert_int_eq(a->exports[1].response_type, OPTS_RESPONSE_STREAM);
    ck_assert_int_eq(a->exports[1].response_threshold_ms, 5000);
    ck_assert_str_eq(a->exports[1].accounts[0], "B");
    ck_assert_uint_eq(b->nimports, 2);
    ck_assert_str_eq(b->imports[0].prefix, "p");
    ck_assert_str_eq(b->imports[1].to, "s.*");

    /* nats-server's refusals, at the accounts block. */
    ck_assert_str_eq(conf_err("accounts {\n A: { exports: [{stream: \"x.>\"}] }\n"
                              " B: { imports: [{stream: {account: A, subject: \"y.>\"}}] }\n}\n"),
                     "f:1:1: Error adding stream import \"y.>\": stream import not authorized");
    ck_assert_str_eq(conf_err("accounts {\n B: { imports: [{stream: {account: Z, subject: "
                              "\"y\"}}] }\n}\n"),
                     "f:1:1: \"Z\" account not defined for stream import");
    ck_assert_str_eq(conf_err("accounts {\n A: { exports: [{service: \"x.>\", accounts: [C]}] }\n}\n"),
                     "f:1:1: \"C\" account not defined for service export");
    ck_assert_str_eq(conf_err("accounts {\n A: { exports: [{service: \"x.>\", accounts: [B]}] }\n"
                              " B: {}\n C: { imports: [{service: {account: A, subject: \"x.y\"}}] }\n}\n"),
                     "f:1:1: Error adding service import \"x.y\": service import not authorized");
    ck_assert_str_eq(conf_err("accounts {\n A: { exports: [{service: \"x.>\", response_type: bogus}] }\n}\n"),
                     "f:2:34: Unknown response type: \"bogus\"");
    ck_assert_str_eq(conf_err("accounts {\n A: { exports: [{service: \"x.>\"}] }\n"
                              " B: { imports: [{service: {account: A, subject: \"x.>\"}, to: \"q.*\"}] }\n}\n"),
                     "f:1:1: Error adding service import \"x.>\": failed to create mapping transform "
                     "for service import subject \"q.*\" to \"x.>\": invalid subject");
    ck_assert_str_eq(conf_err("system_account: NOPE\n"), "system account \"NOPE\" not defined");
    /* Tern's own limits, refused rather than ignored. */
    ck_assert_str_eq(conf_err("jetstream: enabled\naccounts {\n A: { jetstream: enabled }\n"
                              " B: { jetstream: enabled }\n}\n"),
                     "f:4:2: JetStream is enabled for accounts \"A\" and \"B\": Tern's JetStream "
                     "serves one account");
    ck_assert_str_eq(conf_err("accounts {\n A: { jetstream: { cluster_traffic: owner } }\n}\n"),
                     "f:2:20: account JetStream \"cluster_traffic\" is not supported by Tern");
    ck_assert_int_eq(run_conf("accounts {\n A: { jetstream: { max_mem: 1M, max_file: 64K, "
                              "max_streams: 2, max_consumers: 0 } }\n}\n"), 0);
    ck_assert_int_eq(o.accounts[0].jetstream, 1);
    ck_assert_int_eq(o.accounts[0].js.max_memory, 1000000);
    ck_assert_int_eq(o.accounts[0].js.max_store, 64000);
    ck_assert_int_eq(o.accounts[0].js.max_streams, 2);
    ck_assert_int_eq(o.accounts[0].js.max_consumers, -1);
    ck_assert_str_eq(conf_err("accounts {\n A: { exports: [{stream: \"x\"}] }\n"
                              " A2: { imports: [{stream: {account: A2, subject: \"x\"}}] }\n}\n"),
                     "f:1:1: Error adding stream import \"x\": an account cannot import from "
                     "itself");
}
END_TEST

START_TEST(unknown_and_ignored_keys)
{
    ck_assert_str_eq(conf_err("port: 1\nbogus_key: 1\n"), "f:2:1: unknown field \"bogus_key\"");
    ck_assert_str_eq(conf_err("port: 4222\n  bogus_key: 1\n"), "f:2:3: unknown field \"bogus_key\"");
    /* A variable that is referenced is not a key; one never referenced is. */
    ck_assert_int_eq(run_conf("k = 4999\nport: $k\n"), 0);
    ck_assert_int_eq(o.port, 4999);
    ck_assert_str_eq(conf_err("k = 1\nport: $k\nj=2\n"), "f:3:1: unknown field \"j\"");
    /* What would change the server is refused; what only tunes it is noted. */
    ck_assert_str_eq(conf_err("port: 1\nmqtt { port: 1 }\n"), "f:2:1: \"mqtt\" is not supported by Tern");
    ck_assert_str_eq(conf_err("accounts { A: { mappings: { a: b } } }\n"),
                     "f:1:17: account \"mappings\" is not supported by Tern");
    ck_assert_str_eq(conf_err("leafnodes { port: 7422 }\n"), "f:1:1: \"leafnodes\" is not supported by Tern");
    ck_assert_str_eq(conf_err("gateway { name: g, port: 7222 }\n"), "f:1:1: \"gateway\" is not supported by Tern");
    ck_assert_str_eq(conf_err("mappings { a: b }\n"), "f:1:1: \"mappings\" is not supported by Tern");
    ck_assert_str_eq(conf_err("trusted: [OABC]\n"), "f:1:1: \"trusted\" is not supported by Tern");
    /* Operator mode (server/opts_operator.c): nats-server's texts. */
    ck_assert_str_eq(conf_err("operator: /x.jwt\n"),
                     "f:1:1: error parsing operator JWT: open /x.jwt: No such file or directory");
    ck_assert_str_eq(conf_err("resolver: URL(\"http://h/\")\n"),
                     "f:1:1: resolver URL is not supported by Tern: use resolver: MEMORY");
    ck_assert_str_eq(conf_err("resolver_preload: { AB: 1 }\n"),
                     "f:1:25: preload map value should be a string JWT");
    ck_assert_str_eq(conf_err("leafnodes { remotes: [{url: \"nats://h:7422\"}] }\n"),
                     "f:1:1: \"leafnodes\" is not supported by Tern");
    ck_assert_str_eq(conf_err("mqtt: 1883\n"), "f:1:1: \"mqtt\" is not supported by Tern");
    /* A block that opens nothing describes the feature switched off. */
    ck_assert_int_eq(run_conf("leafnodes { tls { timeout: 2 } }\nmqtt {}\n"), 0);
    ck_assert_uint_eq(o.nwarnings, 2);
    ck_assert_int_eq(run_conf("prof_port: 6060\nserver_tags: [a]\nno_system_account: true\n"), 0);
    ck_assert_uint_eq(o.nwarnings, 3);
    ck_assert(has_warning(":1:1: \"prof_port\" is not supported by Tern yet and is ignored"));
    /* -t still passes: these are Tern's notes, not nats-server's warnings. */
    ck_assert_int_eq(run("-t", "-c", conf_path, NULL), 0);
    ck_assert_str_eq(conf_err("port: \"abc\"\n"),
                     "f:1:1: interface conversion: interface {} is string, not int64");
    ck_assert_str_eq(conf_err("listen: \"abc\"\n"), "f:1:1: could not parse address string \"abc\"");
    ck_assert_str_eq(conf_err("http: \"abc:def\"\n"), "f:1:1: could not parse port \"def\"");
    ck_assert_str_eq(conf_err("port: [1\n"), "f:2:1: Unexpected EOF processing array.");
}
END_TEST

START_TEST(authorization)
{
    ck_assert_int_eq(run_conf("authorization { user: alice, password: s3cret, timeout: 1.5 }\n"), 0);
    ck_assert_str_eq(o.user, "alice");
    ck_assert_str_eq(o.password, "s3cret");
    ck_assert_double_eq(o.auth_timeout_s, 1.5);
    ck_assert_int_eq(run_conf("authorization { token: \"abc\", timeout: \"3s\" }\n"), 0);
    ck_assert_str_eq(o.token, "abc");
    ck_assert_double_eq(o.auth_timeout_s, 3);
    ck_assert_int_eq(run_conf(
        "authorization {\n"
        "  default_permissions: { subscribe: \"_INBOX.>\" }\n"
        "  users = [\n"
        "    { user: bob, password: \"$2a$11$abc\",\n"
        "      permissions: {\n"
        "        publish: { allow: [\"foo.>\", \"_INBOX.>\"], deny: [\"foo.secret\"] }\n"
        "        subscribe: [\"bar\", \"q.* workers\"]\n"
        "        allow_responses: { max: 3, expires: \"1m\" }\n"
        "      } }\n"
        "    { user: carol, password: pw, permissions: { allow_responses: true } }\n"
        "    { nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4 }\n"
        "  ]\n"
        "}\nno_auth_user: carol\n"), 0);
    ck_assert_uint_eq(o.nusers, 3);
    const struct opts_user *bob = &o.users[0];
    ck_assert_str_eq(bob->user, "bob");
    ck_assert_str_eq(bob->password, "$2a$11$abc");
    ck_assert(bob->has_permissions);
    ck_assert_uint_eq(bob->permissions.publish.nallow, 2);
    ck_assert_str_eq(bob->permissions.publish.allow[1], "_INBOX.>");
    ck_assert_uint_eq(bob->permissions.publish.ndeny, 1);
    ck_assert_str_eq(bob->permissions.subscribe.allow[1], "q.* workers");
    ck_assert(bob->permissions.allow_responses);
    ck_assert_int_eq(bob->permissions.responses_max, 3);
    ck_assert_int_eq(bob->permissions.responses_expires_ms, 60000);
    const struct opts_user *carol = &o.users[1];
    ck_assert(carol->permissions.allow_responses);
    ck_assert_int_eq(carol->permissions.responses_max, 1);
    ck_assert_int_eq(carol->permissions.responses_expires_ms, 120000);
    ck_assert_ptr_nonnull(carol->permissions.publish.allow); /* explicit, empty */
    ck_assert_uint_eq(carol->permissions.publish.nallow, 0);
    ck_assert_ptr_null(o.users[2].user);
    ck_assert_str_eq(o.users[2].nkey, "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4");
    ck_assert(o.has_default_permissions);
    ck_assert_str_eq(o.default_permissions.subscribe.allow[0], "_INBOX.>");
    ck_assert_ptr_null(o.default_permissions.publish.allow);
    ck_assert_str_eq(o.no_auth_user, "carol");
}
END_TEST

START_TEST(authorization_errors)
{
    ck_assert_str_eq(conf_err("authorization { user: a, password: b, token: c }\n"),
                     "f:1:1: Cannot have a user/pass and token");
    ck_assert_str_eq(conf_err("authorization { user: a, password: b, users: [{user: x, password: y}] }\n"),
                     "f:1:1: Can not have a single user/pass and a users array");
    ck_assert_str_eq(conf_err("authorization { token: c, users: [{user: x, password: y}] }\n"),
                     "f:1:1: Can not have a token and a users array");
    ck_assert_str_eq(conf_err("authorization { users: [{user: x, password: y}, {user: x, password: z}] }\n"),
                     "f:1:1: Duplicate user \"x\" detected");
    ck_assert_str_eq(conf_err("authorization { bogus: 1 }\n"), "f:1:17: unknown field \"bogus\"");
    ck_assert_str_eq(conf_err("authorization { users: [{user: x, password: y, bogus: 1}] }\n"),
                     "f:1:48: unknown field \"bogus\"");
    ck_assert_str_eq(conf_err("authorization { users: [{user: x, permissions: {bogus: 1}}] }\n"),
                     "f:1:49: Unknown field \"bogus\" parsing permissions");
    ck_assert_str_eq(conf_err("authorization { users: [{user: x, permissions: {publish: {allow: 1}}}] }\n"),
                     "f:1:59: Expected subject permissions to be a subject, or array of subjects, got int64");
    ck_assert_str_eq(conf_err("authorization { users: [{user: x, permissions: {publish: {nope: a}}}] }\n"),
                     "f:1:59: Unknown field name \"nope\" parsing subject permissions, only 'allow' "
                     "or 'deny' are permitted");
    ck_assert_str_eq(conf_err("authorization { users: [{user: x, permissions: {publish: \"a..b\"}}] }\n"),
                     "f:1:49: subject \"a..b\" is not a valid subject");
    ck_assert_str_eq(conf_err("authorization { users: [{password: y}] }\n"),
                     "f:1:25: User entry requires a user");
    ck_assert_str_eq(conf_err("authorization { users: [{nkey: Ubad}] }\n"),
                     "f:1:25: Not a valid public nkey for a user");
    /* Right shape, wrong checksum (last character changed); and a valid
     * account key, which is not a user's. */
    ck_assert_str_eq(conf_err("authorization { users: [{nkey: "
                              "UAUVWWH67AZVMKANN6CDIMVB5TTP2QVI436VYVPGZUH37RPP4JVA3GJA}] }\n"),
                     "f:1:25: Not a valid public nkey for a user");
    ck_assert_str_eq(conf_err("authorization { users: [{nkey: "
                              "ADGZO65WURNOKCTMG6PSDX53E7ZJLPLZW7TN2W53DBSRUKXAATNYQPJI}] }\n"),
                     "f:1:25: Not a valid public nkey for a user");
    ck_assert_str_eq(conf_err("no_auth_user: bob\n"),
                     "no_auth_user: \"bob\" present, but users are not defined");
    ck_assert_str_eq(conf_err("authorization { users: [{user: a}] }\nno_auth_user: bob\n"),
                     "no_auth_user: \"bob\" not present as user or nkey in authorization block or "
                     "account configuration");
    ck_assert_int_eq(run_conf("authorization { timeout: 1m }\n"), 0);
    ck_assert(has_warning("authorization timeout of 1e+06 seconds is high"));
    ck_assert_str_eq(conf_err("authorization { users: [{user: x, permissions: {publish: \"a b c\"}}] }\n"),
                     "f:1:49: subject \"a b c\" is not a valid subject");
    ck_assert_str_eq(conf_err("authorization { timeout: \"x\" }\n"),
                     "f:1:17: error parsing authorization config, 'timeout' time: invalid duration \"x\"");
}
END_TEST

START_TEST(cluster_block)
{
    ck_assert_int_eq(run_conf(
        "cluster {\n  name: tern\n  listen: 127.0.0.1:6222\n"
        "  authorization { user: ruser, password: T0p, timeout: 3 }\n"
        "  routes: [\n    nats-route://ruser:T0p@10.0.0.1:6222\n    nats-route://10.0.0.2:6222\n  ]\n"
        "  advertise: \"10.0.0.3:6222\"\n  no_advertise: true\n  connect_retries: 5\n"
        "  pool_size: 3\n}\n"), 0);
    ck_assert_str_eq(o.cluster_name, "tern");
    ck_assert_str_eq(o.cluster_host, "127.0.0.1");
    ck_assert_int_eq(o.cluster_port, 6222);
    ck_assert_str_eq(o.cluster_user, "ruser");
    ck_assert_str_eq(o.cluster_password, "T0p");
    ck_assert_double_eq(o.cluster_auth_timeout_s, 3);
    ck_assert_uint_eq(o.nroutes, 2);
    ck_assert_str_eq(o.routes[1], "nats-route://10.0.0.2:6222");
    ck_assert_str_eq(o.cluster_advertise, "10.0.0.3:6222");
    ck_assert(o.no_advertise);
    ck_assert_int_eq(o.connect_retries, 5);
    ck_assert(has_warning("\"pool_size\" is not supported"));
    /* Host alone: the customary port; port alone: every interface. */
    ck_assert_int_eq(run_conf("cluster { host: 127.0.0.2 }\n"), 0);
    ck_assert_str_eq(o.cluster_host, "127.0.0.2");
    ck_assert_int_eq(o.cluster_port, 6222);
    ck_assert_int_eq(run_conf("cluster { port: 7000 }\n"), 0);
    ck_assert_str_eq(o.cluster_host, "0.0.0.0");
    ck_assert_int_eq(o.cluster_port, 7000);
    ck_assert_str_eq(conf_err("cluster { authorization { users: [{user: x, password: y}] } }\n"),
                     "f:1:11: Cluster authorization does not allow multiple users");
    ck_assert_str_eq(conf_err("cluster { authorization { token: x } }\n"),
                     "f:1:11: Cluster authorization does not support tokens");
    ck_assert_str_eq(conf_err("cluster { bogus: 1 }\n"), "f:1:11: unknown field \"bogus\"");
    ck_assert_str_eq(conf_err("cluster: 5\n"), "f:1:1: Expected map to define cluster, got int64");
}
END_TEST

START_TEST(jetstream_forms)
{
    ck_assert_int_eq(run_conf("jetstream: enabled\n"), 0);
    ck_assert(o.jetstream);
    ck_assert_int_eq(run_conf("jetstream: true\n"), 0);
    ck_assert(o.jetstream);
    ck_assert_int_eq(run_conf("jetstream: \"disabled\"\n"), 0);
    ck_assert(!o.jetstream);
    ck_assert_int_eq(run_conf("jetstream { store_dir: \"/tmp/n1\", enabled: false }\n"), 0);
    ck_assert(!o.jetstream);
    ck_assert_str_eq(o.store_dir, "/tmp/n1");
    ck_assert_int_eq(run_conf("jetstream { store: /a }\n"), 0);
    ck_assert(o.jetstream);
    ck_assert_str_eq(o.store_dir, "/a");
    ck_assert_int_eq(run_conf("storedir: /b\njetstream: on\n"), 0);
    ck_assert_str_eq(o.store_dir, "/b");
    ck_assert_str_eq(conf_err("jetstream { store_dir: /tmp/x }\nstore_dir: /tmp/y\n"),
                     "f:2:1: Duplicate 'store_dir' configuration");
    ck_assert_str_eq(conf_err("jetstream: maybe\n"),
                     "f:1:1: Expected 'enabled' or 'disabled' for string value, got 'maybe'");
    ck_assert_str_eq(conf_err("jetstream { bogus: 1 }\n"), "f:1:13: unknown field \"bogus\"");
}
END_TEST

START_TEST(validation)
{
    ck_assert_str_eq(conf_err("max_payload: 2MB\nmax_pending: 1MB\n"),
                     "max_payload (2097152) cannot be higher than max_pending (1048576)");
    ck_assert_str_eq(conf_err("server_name: \"a b\"\n"), "f:1:1: server name cannot contain spaces");
    ck_assert_str_eq(conf_err("max_sub_tokens: 0\n"), "f:1:1: max_sub_tokens value can not be negative");
    ck_assert_str_eq(conf_err("threads: -1\n"), "f:1:1: threads value can not be negative");
    ck_assert_int_eq(run_conf("max_payload: 10MB\n"), 0);
    ck_assert(has_warning("Maximum payloads over 8.00 MB"));
    ck_assert_int_eq(run("-c", "/nonexistent/tern.conf", NULL), -ENOENT);
    ck_assert_msg(strstr(err, "/nonexistent/tern.conf") != NULL, "%s", err);
}
END_TEST

START_TEST(reload_rules)
{
    struct tern_opts next;
    enum opts_action a;
    char e[256];
    write_conf("port: 4300\nping_interval: \"1m\"\nauthorization { token: a }\n");
    ck_assert_int_eq(run("-c", conf_path, NULL), 0);
    char *argv[] = { "ternd", "-c", conf_path, NULL };
    /* Timers, auth, limits and logging may change. */
    write_conf("port: 4300\nping_interval: \"2m\"\nauthorization { token: b }\ndebug: true\n"
               "max_payload: 2048\nmax_connections: 5\n");
    ck_assert_int_eq(opts_from_command_line(&next, 3, argv, &a, e, sizeof e), 0);
    ck_assert_int_eq(opts_check_reload(&o, &next, e, sizeof e), 0);
    opts_free(&next);
    /* The client port may not. */
    write_conf("port: 4301\n");
    ck_assert_int_eq(opts_from_command_line(&next, 3, argv, &a, e, sizeof e), 0);
    ck_assert_int_eq(opts_check_reload(&o, &next, e, sizeof e), -EINVAL);
    ck_assert_str_eq(e, "config reload not supported for Port: old=4300, new=4301");
    opts_free(&next);
    write_conf("port: 4300\nhost: 127.0.0.1\n");
    ck_assert_int_eq(opts_from_command_line(&next, 3, argv, &a, e, sizeof e), 0);
    ck_assert_int_eq(opts_check_reload(&o, &next, e, sizeof e), -EINVAL);
    ck_assert_str_eq(e, "config reload not supported for Host: old=0.0.0.0, new=127.0.0.1");
    opts_free(&next);
    write_conf("port: 4300\nlame_duck_duration: \"1m\"\n");
    ck_assert_int_eq(opts_from_command_line(&next, 3, argv, &a, e, sizeof e), 0);
    ck_assert_int_eq(opts_check_reload(&o, &next, e, sizeof e), -EINVAL);
    ck_assert_str_eq(e, "config reload not supported for LameDuckDuration: old=2m0s, new=1m0s");
    opts_free(&next);
    write_conf("port: 4300\ncluster { listen: 127.0.0.1:6222 }\n");
    ck_assert_int_eq(opts_from_command_line(&next, 3, argv, &a, e, sizeof e), 0);
    ck_assert_int_eq(opts_check_reload(&o, &next, e, sizeof e), -EINVAL);
    ck_assert_str_eq(e, "config reload not supported for cluster host: old=, new=127.0.0.1");
    opts_free(&next);
}
END_TEST

/* tls {} (spec/server-cli-config.md §3.6) and the --tls* flags (§1.5). */
START_TEST(tls_options)
{
    ck_assert_int_eq(run(NULL), 0);
    ck_assert(!o.tls);
    ck_assert_int_eq(run_conf("tls {\n  cert_file: c.pem\n  key_file: k.pem\n  ca_file: ca.pem\n"
                              "  verify: true\n  timeout: 0.5\n"
                              "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "
                              "TLS_AES_128_GCM_SHA256]\n"
                              "  curve_preferences: [X25519, CurveP256]\n  min_version: \"1.3\"\n}\n"),
                     0);
    ck_assert(o.tls && o.tls_verify && !o.tls_map);
    ck_assert_str_eq(o.tls_cert, "c.pem");
    ck_assert_str_eq(o.tls_key, "k.pem");
    ck_assert_str_eq(o.tls_ca, "ca.pem");
    ck_assert(o.tls_timeout_s == 0.5);
    ck_assert_uint_eq(o.ntls_ciphers, 1);
    ck_assert_str_eq(o.tls_ciphers[0], "ECDHE-RSA-AES128-GCM-SHA256");
    ck_assert_uint_eq(o.ntls_suites13, 1);
    ck_assert_str_eq(o.tls_suites13[0], "TLS_AES_128_GCM_SHA256");
    ck_assert_uint_eq(o.ntls_curves, 2);
    ck_assert_str_eq(o.tls_curves[0], "X25519");
    ck_assert_str_eq(o.tls_curves[1], "P-256");
    ck_assert_int_eq(o.tls_min_version, 13);
    ck_assert(strstr(o.tls_where, ":1:1") != NULL);
    /* verify_and_map implies verify; a duration string is a timeout too. */
    ck_assert_int_eq(run_conf("tls { cert_file: c, key_file: k, verify_and_map: true, "
                              "timeout: \"3s\" }\n"), 0);
    ck_assert(o.tls_map && o.tls_verify && o.tls_timeout_s == 3.0);

    ck_assert_str_eq(conf_err("tls { cert_file: c }\n"),
                     "f:1:1: missing 'key_file' in TLS configuration");
    ck_assert_str_eq(conf_err("tls { key_file: k }\n"),
                     "f:1:1: missing 'cert_file' in TLS configuration");
    ck_assert_str_eq(conf_err("tls: 1\n"),
                     "f:1:1: interface conversion: interface {} is int64, not map[string]interface {}");
    ck_assert_str_eq(conf_err("tls { cert_file: c, key_file: k, bogus: 1 }\n"),
                     "f:1:34: error parsing tls config, unknown field [\"bogus\"]");
    ck_assert_str_eq(conf_err("tls { cert_file: c, key_file: k, verify: \"yes\" }\n"),
                     "f:1:34: error parsing tls config, expected 'verify' to be a boolean");
    ck_assert_str_eq(conf_err("tls { cert_file: c, key_file: k, cipher_suites: [bogus] }\n"),
                     "f:1:50: unrecognized cipher bogus");
    ck_assert_str_eq(conf_err("tls { cert_file: c, key_file: k, curve_preferences: [bogus] }\n"),
                     "f:1:54: unrecognized curve preference bogus");
    ck_assert(strstr(conf_err("tls { cert_file: c, key_file: k, min_version: \"1.1\" }\n"),
                     "unsupported TLS min_version \"1.1\""));
    ck_assert(strstr(conf_err("tls { cert_file: c, key_file: k, pinned_certs: [a] }\n"),
                     "f:1:34: tls option \"pinned_certs\" is not supported by Tern"));
    ck_assert(strstr(conf_err("tls { cert_file: c, key_file: k, insecure: true }\n"),
                     "\"insecure\" is not supported by Tern"));
    /* jetstream { domain }: a plain subject token, empty = none. */
    ck_assert_int_eq(run_conf("jetstream { domain: hub }\n"), 0);
    ck_assert_str_eq(o.js_domain, "hub");
    ck_assert_int_eq(run_conf("jetstream { domain: \"\" }\n"), 0);
    ck_assert_ptr_null(o.js_domain);
    ck_assert_str_eq(conf_err("jetstream {\n  domain: \"a.b\"\n}\n"),
                     "f:2:3: invalid domain name: may not contain ., * or >");
    ck_assert(strstr(conf_err("jetstream { domain: \"a b\" }\n"),
                     "derived \"$JS.a b.API.>\" is not a valid subject"));
    /* Monitoring over HTTPS: the port, or a host:port like http's. */
    ck_assert_int_eq(run_conf("https_port: 8443\n"), 0);
    ck_assert_int_eq(o.https_port, 8443);
    ck_assert_int_eq(o.http_port, 0);
    ck_assert_int_eq(run_conf("port: 1\nhttps: \"127.0.0.2:8444\"\n"), 0);
    ck_assert_int_eq(o.https_port, 8444);
    ck_assert_str_eq(o.http_host, "127.0.0.2");
    ck_assert_int_eq(run("-ms", "8445", NULL), 0);
    ck_assert_int_eq(o.https_port, 8445);
    /* websocket {}: nats-server's checks, with the block's place. */
    ck_assert_str_eq(conf_err("websocket { port: 1 }\n"),
                     "f:1:1: websocket requires TLS configuration");
    ck_assert(strstr(conf_err("websocket { port: 1, no_tls: true, jwt_cookie: x }\n"),
                     "f:1:36: websocket jwt_cookie is not supported by Tern"));
    ck_assert(strstr(conf_err("websocket { port: 1, no_tls: true, advertise: \"h:1\" }\n"),
                     "f:1:36: websocket advertise is not supported by Tern"));
    ck_assert_str_eq(conf_err("websocket { port: 1, no_tls: true, bogus: 1 }\n"),
                     "f:1:36: unknown field \"bogus\"");
    ck_assert_str_eq(conf_err("websocket { port: 1, no_tls: true, no_auth_user: z }\n"),
                     "f:1:1: no_auth_user: \"z\" present, but users are not defined");
    ck_assert_str_eq(conf_err("authorization { users: [{user: a, password: b}] }\n"
                              "ws { port: 1, no_tls: true, authorization { user: c } }\n"),
                     "f:2:1: websocket authentication username not compatible with presence "
                     "of users/nkeys");
    ck_assert(strstr(conf_err("websocket { port: 1, tls { cert_file: c } }\n"),
                     "f:1:22: missing 'key_file' in TLS configuration"));
    ck_assert_int_eq(run_conf("websocket { listen: \"127.0.0.1:8080\", no_tls: true, "
                              "compression: true, same_origin: true, allowed_origins: "
                              "[\"https://a.b\"], handshake_timeout: \"3s\", authorization { "
                              "token: t, timeout: 1.5 } }\n"), 0);
    ck_assert_str_eq(o.ws_host, "127.0.0.1");
    ck_assert_int_eq(o.ws_port, 8080);
    ck_assert(o.ws_no_tls && o.ws_compression && o.ws_same_origin);
    ck_assert_uint_eq(o.nws_origins, 1);
    ck_assert_int_eq(o.ws_handshake_timeout_ms, 3000);
    ck_assert_str_eq(o.ws_token, "t");
    ck_assert(o.ws_auth_timeout_s == 1.5);
    ck_assert(strstr(conf_err("allow_non_tls: true\n"), "f:1:1: allow_non_tls is not supported"));
    /* cluster { tls {} }: the same keys, verification forced, and what
     * makes no sense between nodes refused where it is written. */
    ck_assert_int_eq(run_conf("cluster { port: 1, tls { cert_file: c, key_file: k, ca_file: a, "
                          "verify: false, timeout: 3, min_version: \"1.3\" } }\n"), 0);
    ck_assert_ptr_nonnull(o.cluster_tls);
    ck_assert(o.cluster_tls->tls && o.cluster_tls->tls_verify);
    ck_assert_str_eq(o.cluster_tls->tls_cert, "c");
    ck_assert_str_eq(o.cluster_tls->tls_ca, "a");
    ck_assert(o.cluster_tls->tls_timeout_s == 3.0 && o.cluster_tls->tls_min_version == 13);
    ck_assert(!o.tls); /* the client port stays plain */
    ck_assert(strstr(conf_err("cluster {\n port: 1\n tls { cert_file: c, key_file: k, "
                              "insecure: true } }\n"),
                     "f:3:35: cluster tls option \"insecure\" is not supported by Tern: a "
                     "route peer's certificate is always verified"));
    ck_assert(strstr(conf_err("cluster { port: 1, tls { verify_and_map: true } }\n"),
                     "f:1:26: cluster tls option \"verify_and_map\" is not supported"));
    ck_assert(strstr(conf_err("cluster { port: 1, tls { pinned_certs: [] } }\n"),
                     "f:1:26: tls option \"pinned_certs\" is not supported by Tern"));
    ck_assert(strstr(conf_err("cluster { port: 1, tls { key_file: k } }\n"),
                     "f:1:20: missing 'cert_file'"));

    /* Flags: any --tls* flag replaces the file's block (timeout kept). */
    ck_assert_int_eq(run("--tls", "--tlscert", "a.pem", "--tlskey", "b.pem", NULL), 0);
    ck_assert(o.tls && !o.tls_verify && !o.tls_ca);
    ck_assert_str_eq(o.tls_cert, "a.pem");
    ck_assert_int_eq(run("--tlsverify", "--tlscert=a", "--tlskey=b", "--tlscacert=ca", NULL), 0);
    ck_assert(o.tls && o.tls_verify);
    ck_assert_str_eq(o.tls_ca, "ca");
    write_conf("tls { cert_file: c, key_file: k, verify: true, timeout: 5, "
               "curve_preferences: [X25519] }\n");
    ck_assert_int_eq(run("-c", conf_path, "--tlscert", "a", "--tlskey", "b", NULL), 0);
    ck_assert(o.tls && !o.tls_verify && o.tls_timeout_s == 5.0 && o.ntls_curves == 0);
    ck_assert_str_eq(o.tls_cert, "a");
    ck_assert_ptr_null(o.tls_where);
    ck_assert_int_eq(run("-c", conf_path, "--tls=false", NULL), 0);
    ck_assert(!o.tls && !o.tls_cert);
    ck_assert_int_lt(run("--tls", NULL), 0);
    ck_assert_str_eq(err, "TLS Server certificate must be present and valid");
    ck_assert_int_lt(run("--tlsverify", "--tlscert", "a", NULL), 0);
    ck_assert_str_eq(err, "TLS Server private key must be present and valid");
}
END_TEST

static Suite *opts_suite(void)
{
    Suite *s = suite_create("opts");
    TCase *tc = tcase_create("opts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, flag_forms);
    tcase_add_test(tc, flag_errors);
    tcase_add_test(tc, actions);
    tcase_add_test(tc, cluster_flags);
    tcase_add_test(tc, flags_beat_file);
    tcase_add_test(tc, top_level_keys);
    tcase_add_test(tc, console_key);
    tcase_add_test(tc, size_units);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, unknown_and_ignored_keys);
    tcase_add_test(tc, authorization);
    tcase_add_test(tc, authorization_errors);
    tcase_add_test(tc, cluster_block);
    tcase_add_test(tc, jetstream_forms);
    tcase_add_test(tc, validation);
    tcase_add_test(tc, reload_rules);
    tcase_add_test(tc, accounts_block);
    tcase_add_test(tc, tls_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(opts_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
