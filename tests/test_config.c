/* Unit tests: oracled's command line and configuration file (oracle/config.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "util.h"

/* What config_parse printed. */
struct printed {
    char out[16384];
    char err[4096];
};

static void slurp(FILE *f, char *buf, size_t cap)
{
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* config_parse(["oracled", words...]) with stdout and stderr caught in p. */
static int parse_words(struct config *c, const char *const *words, struct printed *p)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)(uintptr_t) "oracled";
    for (; *words != NULL; words++) {
        argv[argc++] = (char *)(uintptr_t)*words;
    }
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    FILE *out = tmpfile();
    FILE *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    int saved_out = dup(STDOUT_FILENO);
    int saved_err = dup(STDERR_FILENO);
    dup2(fileno(out), STDOUT_FILENO);
    dup2(fileno(err), STDERR_FILENO);
    int rc = config_parse(argc, argv, c);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    slurp(out, p->out, sizeof(p->out));
    slurp(err, p->err, sizeof(p->err));
    return rc;
}

#define PARSE(c, p, ...) parse_words(c, (const char *const[]){__VA_ARGS__, NULL}, p)

/* A file in the test's temporary directory; returns its path (static storage, one at a time
 * per slot). */
static const char *write_file(int slot, const char *text)
{
    static char paths[4][64];
    snprintf(paths[slot], sizeof(paths[slot]), "/tmp/test_config.%d.%d.conf", (int)getpid(), slot);
    FILE *f = fopen(paths[slot], "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return paths[slot];
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    struct printed p;
    assert_int_equal(parse_words(&c, (const char *const[]){NULL}, &p), 0);
    const struct server_config *sc = &c.server;
    assert_int_equal(sc->n_listen, 1);
    assert_string_equal(sc->listen[0], "0.0.0.0:7600");
    assert_int_equal(sc->n_http_listen, 1);
    assert_string_equal(sc->http_listen[0], "0.0.0.0:7601");
    assert_string_equal(sc->chrony_text, "udp:127.0.0.1:323");
    assert_true(sc->poll_interval_ns == 20000000);
    assert_true(sc->clock.max_drift_ppb == 50000);
    assert_true(sc->clock.chrony_maxclockerror_ppb == 1000);
    assert_true(sc->clock.max_bound_ns == 10000000);
    assert_true(sc->clock.grace_ns == 5000000000);
    assert_true(sc->clock.await_update_after_start);
    assert_null(sc->phc_interface);
    assert_null(sc->phc_error_bound_file);
    assert_true(sc->phc_ref_id == 0x50484330);
    assert_null(sc->vmclock);
    assert_true(sc->max_wait_ns == 100000000);
    assert_true(sc->max_run_ahead_ns == 1000000);
    assert_string_equal(sc->state_dir, "/var/lib/oracled");
    assert_true(sc->state_window_ns == 1000000000);
    assert_int_equal(sc->max_connections, 16384);
    assert_int_equal(sc->max_connections_per_peer, 0);
    assert_int_equal(sc->http_max_connections, 4096);
    assert_int_equal(sc->max_pending, 262144);
    assert_int_equal(sc->max_pending_per_conn, 4096);
    assert_int_equal(sc->max_output_bytes, 2 * 1024 * 1024);
    assert_true(sc->idle_timeout_ns == 600000000000);
    assert_true(sc->write_timeout_ns == 10000000000);
    assert_int_equal(sc->keepalive_s, 60);
    assert_true(sc->drain_delay_ns == 0);
    assert_null(sc->clockbound_socket);
    assert_int_equal(sc->clockbound_socket_mode, 0666);
    assert_null(sc->clockbound_shm);
    assert_int_equal(c.log_level, LOG_LEVEL_INFO);
    assert_string_equal(p.out, "");
    assert_string_equal(p.err, "");
    config_free(&c);
}

/* Every option, each away from its default. */
static void test_every_option(void **state)
{
    (void)state;
    struct config c;
    struct printed p;
    int rc = PARSE(&c, &p, "--listen", "127.0.0.1:7700", "--listen=[::1]:7700", "--http-listen",
                   "127.0.0.1:7701", "--chrony", "unix:/run/chrony/chronyd.sock", "--poll-interval",
                   "50ms", "--max-drift-ppb", "100000", "--chrony-maxclockerror-ppb", "0",
                   "--max-bound", "2ms", "--grace", "0", "--phc-interface", "ens5", "--phc-refid",
                   "GPS", "--vmclock", "none", "--max-wait", "1m", "--max-run-ahead", "1ns",
                   "--state-dir", "/srv/state", "--state-window", "60m", "--max-connections", "1",
                   "--max-connections-per-peer", "10000000", "--http-max-connections", "2",
                   "--max-pending", "100000000", "--max-pending-per-connection", "7",
                   "--max-output", "4G", "--idle-timeout", "0", "--write-timeout", "60m",
                   "--keepalive", "1500ms", "--drain-delay", "30s", "--clockbound-socket",
                   "/run/clockboundd/clockboundd.sock", "--clockbound-socket-mode", "0600",
                   "--clockbound-shm", "/run/clockbound/shm0", "--log-level", "debug");
    assert_string_equal(p.err, "");
    assert_int_equal(rc, 0);
    const struct server_config *sc = &c.server;
    assert_int_equal(sc->n_listen, 2);
    assert_string_equal(sc->listen[0], "127.0.0.1:7700");
    assert_string_equal(sc->listen[1], "[::1]:7700");
    assert_int_equal(sc->n_http_listen, 1);
    assert_string_equal(sc->http_listen[0], "127.0.0.1:7701");
    assert_string_equal(sc->chrony_text, "unix:/run/chrony/chronyd.sock");
    assert_true(sc->poll_interval_ns == 50000000);
    assert_true(sc->clock.max_drift_ppb == 100000);
    assert_true(sc->clock.chrony_maxclockerror_ppb == 0);
    assert_true(sc->clock.max_bound_ns == 2000000);
    assert_true(sc->clock.grace_ns == 0);
    assert_string_equal(sc->phc_interface, "ens5");
    assert_true(sc->phc_ref_id == 0x47505300);
    assert_string_equal(sc->vmclock, "none");
    assert_true(sc->max_wait_ns == 60000000000);
    assert_true(sc->max_run_ahead_ns == 1);
    assert_string_equal(sc->state_dir, "/srv/state");
    assert_true(sc->state_window_ns == 3600000000000);
    assert_int_equal(sc->max_connections, 1);
    assert_int_equal(sc->max_connections_per_peer, 10000000);
    assert_int_equal(sc->http_max_connections, 2);
    assert_int_equal(sc->max_pending, 100000000);
    assert_int_equal(sc->max_pending_per_conn, 7);
    assert_true(sc->max_output_bytes == (size_t)1 << 32);
    assert_true(sc->idle_timeout_ns == 0);
    assert_true(sc->write_timeout_ns == 3600000000000);
    assert_int_equal(sc->keepalive_s, 2); /* whole seconds, rounded up */
    assert_true(sc->drain_delay_ns == 30000000000);
    assert_string_equal(sc->clockbound_socket, "/run/clockboundd/clockboundd.sock");
    assert_int_equal(sc->clockbound_socket_mode, 0600);
    assert_string_equal(sc->clockbound_shm, "/run/clockbound/shm0");
    assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
    config_free(&c);

    /* The other PHC setting; 'none' for HTTP; per-connection pending capped by the total. */
    rc = PARSE(&c, &p, "--phc-error-bound-file", "/sys/x/phc_error_bound", "--http-listen", "none",
               "--max-pending", "10", "--keepalive", "0");
    assert_int_equal(rc, 0);
    assert_string_equal(c.server.phc_error_bound_file, "/sys/x/phc_error_bound");
    assert_null(c.server.phc_interface);
    assert_int_equal(c.server.n_http_listen, 0);
    assert_int_equal(c.server.max_pending_per_conn, 10);
    assert_int_equal(c.server.keepalive_s, 0);
    config_free(&c);
}

/* Each option's bad values, on the command line: exit 2's message, exactly. */
static void test_bad_values(void **state)
{
    (void)state;
    static const struct {
        const char *opt;
        const char *value;
        const char *err;
    } cases[] = {
#define ADDR "HOST:PORT or [IPV6]:PORT, with a numeric address and a port from 0 to 65535"
        {"--listen", "127.0.0.1:99999", "invalid value '127.0.0.1:99999' for --listen: " ADDR},
        {"--listen", "localhost:7600", "invalid value 'localhost:7600' for --listen: " ADDR},
        {"--listen", "127.0.0.1", "invalid value '127.0.0.1' for --listen: " ADDR},
        {"--listen", "[::1:7600", "invalid value '[::1:7600' for --listen: " ADDR},
        {"--listen", "none", "invalid value 'none' for --listen: " ADDR},
        {"--http-listen", "0.0.0.0:http", "invalid value '0.0.0.0:http' for --http-listen: " ADDR},
        {"--http-listen", "", "invalid value '' for --http-listen: " ADDR},
        {"--chrony", "tcp:1.2.3.4",
         "invalid --chrony 'tcp:1.2.3.4': chrony address must be udp:HOST[:PORT] or unix:PATH"},
        {"--chrony", "udp:1.2.3.4:0",
         "invalid --chrony 'udp:1.2.3.4:0': chrony port must be a number from 1 to 65535"},
        {"--poll-interval", "5",
         "invalid value '5' for --poll-interval: a duration from 1ms to 1m"},
        {"--poll-interval", "999us",
         "invalid value '999us' for --poll-interval: a duration from 1ms to 1m"},
        {"--poll-interval", "61s",
         "invalid value '61s' for --poll-interval: a duration from 1ms to 1m"},
        {"--max-drift-ppb", "0",
         "invalid value '0' for --max-drift-ppb: an integer from 1 to 100000000"},
        {"--max-drift-ppb", "100000001",
         "invalid value '100000001' for --max-drift-ppb: an integer from 1 to 100000000"},
        {"--chrony-maxclockerror-ppb", "-1",
         "invalid value '-1' for --chrony-maxclockerror-ppb: an integer from 0 to 100000000"},
        {"--max-bound", "999ns",
         "invalid value '999ns' for --max-bound: a duration from 1us to 1h"},
        {"--max-bound", "61m", "invalid value '61m' for --max-bound: a duration from 1us to 1h"},
        {"--grace", "61m", "invalid value '61m' for --grace: a duration up to 1h"},
        {"--phc-interface", "a/b",
         "invalid value 'a/b' for --phc-interface: a network interface name: 1 to 15 bytes, no "
         "'/', not '.' or '..'"},
        {"--phc-interface", "..",
         "invalid value '..' for --phc-interface: a network interface name: 1 to 15 bytes, no "
         "'/', not '.' or '..'"},
        {"--phc-interface", "abcdefghijklmnop",
         "invalid value 'abcdefghijklmnop' for --phc-interface: a network interface name: 1 to 15 "
         "bytes, no '/', not '.' or '..'"},
        {"--phc-error-bound-file", "",
         "invalid value '' for --phc-error-bound-file: a path of 1 to 255 bytes"},
        {"--phc-refid", "PHC10",
         "invalid value 'PHC10' for --phc-refid: one to four printable ASCII characters, as "
         "chrony's refid (PHC0)"},
        {"--vmclock", "", "invalid value '' for --vmclock: a path (1 to 255 bytes), or 'none'"},
        {"--max-wait", "999ns", "invalid value '999ns' for --max-wait: a duration from 1us to 1m"},
        {"--max-run-ahead", "0",
         "invalid value '0' for --max-run-ahead: a duration from 1ns to 1s"},
        {"--max-run-ahead", "2s",
         "invalid value '2s' for --max-run-ahead: a duration from 1ns to 1s"},
        {"--state-dir", "", "invalid value '' for --state-dir: a directory path of 1 to 255 bytes"},
        {"--state-window", "999us",
         "invalid value '999us' for --state-window: a duration from 1ms to 1h"},
        {"--max-connections", "0",
         "invalid value '0' for --max-connections: an integer from 1 to 10000000"},
        {"--max-connections-per-peer", "10000001",
         "invalid value '10000001' for --max-connections-per-peer: an integer from 0 to "
         "10000000"},
        {"--http-max-connections", "1",
         "invalid value '1' for --http-max-connections: an integer from 2 to 65536"},
        {"--max-pending", "0",
         "invalid value '0' for --max-pending: an integer from 1 to 100000000"},
        {"--max-pending-per-connection", "1e3",
         "invalid value '1e3' for --max-pending-per-connection: an integer from 1 to 100000000"},
        {"--max-output", "4095", "invalid value '4095' for --max-output: a size from 4K to 4G"},
        {"--max-output", "5G", "invalid value '5G' for --max-output: a size from 4K to 4G"},
        {"--max-output", "2MB", "invalid value '2MB' for --max-output: a size from 4K to 4G"},
        {"--idle-timeout", "1441m",
         "invalid value '1441m' for --idle-timeout: a duration up to a day (0: never)"},
        {"--write-timeout", "61m",
         "invalid value '61m' for --write-timeout: a duration up to 1h (0: never)"},
        {"--keepalive", "61m", "invalid value '61m' for --keepalive: a duration up to 1h (0: off)"},
        {"--drain-delay", "-1s", "invalid value '-1s' for --drain-delay: a duration up to 1h"},
        {"--clockbound-socket", "",
         "invalid value '' for --clockbound-socket: a socket path of 1 to 107 bytes"},
        {"--clockbound-socket-mode", "0999",
         "invalid value '0999' for --clockbound-socket-mode: an octal permission mode from 0 to "
         "0777, such as 0666"},
        {"--clockbound-socket-mode", "1000",
         "invalid value '1000' for --clockbound-socket-mode: an octal permission mode from 0 to "
         "0777, such as 0666"},
        {"--clockbound-shm", "", "invalid value '' for --clockbound-shm: a path of 1 to 255 bytes"},
        {"--log-level", "loud", "invalid value 'loud' for --log-level: err, warn, info or debug"},
#undef ADDR
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct config c;
        struct printed p;
        int rc = PARSE(&c, &p, cases[i].opt, cases[i].value);
        char want[1024];
        snprintf(want, sizeof(want), "oracled: %s\n", cases[i].err);
        if (rc != -EINVAL || strcmp(p.err, want) != 0) {
            fail_msg("%s '%s': rc %d, printed '%s', want '%s'", cases[i].opt, cases[i].value, rc,
                     p.err, want);
        }
        config_free(&c);
    }

    /* Paths one byte too long for the buffers that will hold them, and the longest that fit. */
    static const struct {
        const char *opt;
        size_t len;
        int rc;
    } paths[] = {
        {"--clockbound-socket", 108, -EINVAL},
        {"--clockbound-socket", 107, 0},
        {"--state-dir", 256, -EINVAL},
        {"--state-dir", 255, 0},
        {"--clockbound-shm", 256, -EINVAL},
        {"--clockbound-shm", 255, 0},
        {"--vmclock", 256, -EINVAL},
        {"--vmclock", 255, 0},
        {"--phc-error-bound-file", 256, -EINVAL},
        {"--phc-error-bound-file", 255, 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
        char path[300];
        memset(path, 'a', paths[i].len);
        path[0] = '/';
        path[paths[i].len] = '\0';
        struct config c;
        struct printed p;
        int rc = PARSE(&c, &p, paths[i].opt, path);
        if (rc != paths[i].rc) {
            fail_msg("%s of %zu bytes: rc %d (%s)", paths[i].opt, paths[i].len, rc, p.err);
        }
        config_free(&c);
    }
}

/* The rules between options. */
static void test_rules(void **state)
{
    (void)state;
    static const struct {
        const char *words[8];
        const char *err;
    } cases[] = {
        {{"--max-bound", "60ms", "--max-wait", "100ms"},
         "oracled: --max-bound (60000 us) must be below half of --max-wait (100000 us): a "
         "commit-wait takes about twice the bound\n"},
        {{"--max-wait", "20ms"}, /* against the default --max-bound, 10ms */
         "oracled: --max-bound (10000 us) must be below half of --max-wait (20000 us): a "
         "commit-wait takes about twice the bound\n"},
        {{"--phc-interface", "ens5", "--phc-error-bound-file", "/x"},
         "oracled: --phc-interface and --phc-error-bound-file name the same thing two ways: give "
         "one\n"},
        {{"--listen", "127.0.0.1:7700", "--listen", "127.0.0.1:7700"},
         "oracled: --listen 127.0.0.1:7700 and --listen 127.0.0.1:7700 are the same address: one "
         "listener each\n"},
        {{"--listen", "0.0.0.0:7601"}, /* against the default --http-listen */
         "oracled: --listen 0.0.0.0:7601 and --http-listen 0.0.0.0:7601 are the same address: "
         "one listener each\n"},
        {{"--listen", "[::1]:7700", "--http-listen", "[0:0::1]:7700"},
         "oracled: --listen [::1]:7700 and --http-listen [0:0::1]:7700 are the same address: one "
         "listener each\n"},
        {{"stray"}, "oracled: unexpected argument 'stray'; try 'oracled --help'\n"},
        {{"--listen", "127.0.0.1:7700", "--", "--listen"},
         "oracled: unexpected argument '--listen'; try 'oracled --help'\n"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct config c;
        struct printed p;
        int rc = parse_words(&c, cases[i].words, &p);
        if (rc != -EINVAL || strcmp(p.err, cases[i].err) != 0) {
            fail_msg("case %zu: rc %d, printed '%s', want '%s'", i, rc, p.err, cases[i].err);
        }
        config_free(&c);
    }
    /* Port 0 (any free port) may repeat; one address in two families is two addresses. */
    struct config c;
    struct printed p;
    assert_int_equal(PARSE(&c, &p, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                           "--http-listen", "127.0.0.1:0", "--listen", "[::1]:7600", "--listen",
                           "127.0.0.1:7600"),
                     0);
    assert_string_equal(p.err, "");
    config_free(&c);
    /* A link-local address on two interfaces is two addresses (the kernel binds both): lo's,
     * and one with no interface named. */
    assert_int_equal(PARSE(&c, &p, "--listen", "[fe80::1%lo]:7600", "--listen", "[fe80::1]:7600",
                           "--http-listen", "none"),
                     0);
    config_free(&c);
    assert_int_equal(PARSE(&c, &p, "--listen", "[fe80::1%lo]:7600", "--listen", "[fe80::1%lo]:7600",
                           "--http-listen", "none"),
                     -EINVAL);
    config_free(&c);
    /* At most 8 and 4 addresses. */
    const char *nine[19];
    char addr[9][32];
    for (int i = 0; i < 9; i++) {
        snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", 7000 + i);
        nine[2 * i] = "--listen";
        nine[2 * i + 1] = addr[i];
    }
    nine[18] = NULL;
    assert_int_equal(parse_words(&c, nine, &p), -EINVAL);
    assert_string_equal(p.err, "oracled: invalid value '127.0.0.1:7008' for --listen: at most 8 "
                               "addresses\n");
    config_free(&c);
    for (int i = 0; i < 5; i++) {
        nine[2 * i] = "--http-listen";
    }
    nine[10] = NULL;
    assert_int_equal(parse_words(&c, nine, &p), -EINVAL);
    assert_string_equal(p.err, "oracled: invalid value '127.0.0.1:7004' for --http-listen: at most "
                               "4 addresses\n");
    config_free(&c);
}

/* TLS: the options, their defaults, the file's keys, and the rules between them. */
static void test_tls(void **state)
{
    (void)state;
    struct config c;
    struct printed p;
    assert_int_equal(PARSE(&c, &p, "--listen", "127.0.0.1:7700"), 0);
    assert_null(c.server.tls.cert);
    assert_true(c.server.tls.min_version == TLS1_3_VERSION);
    assert_true(c.server.tls_handshake_timeout_ns == 10000000000);
    assert_false(c.server.http_tls);
    config_free(&c);

    int rc = PARSE(&c, &p, "--tls-cert", "/etc/oracled/tls/cert.pem", "--tls-key",
                   "/etc/oracled/tls/key.pem", "--tls-ca", "/etc/oracled/tls/ca.pem",
                   "--tls-allow-client", "CN=db-1", "--tls-allow-client", "URI:spiffe://prod/db",
                   "--tls-listen", "127.0.0.1:7610", "--tls-min-version", "1.2",
                   "--tls-handshake-timeout", "2s", "--http-tls");
    assert_string_equal(p.err, "");
    assert_int_equal(rc, 0);
    const struct server_config *sc = &c.server;
    assert_string_equal(sc->tls.cert, "/etc/oracled/tls/cert.pem");
    assert_string_equal(sc->tls.key, "/etc/oracled/tls/key.pem");
    assert_string_equal(sc->tls.ca, "/etc/oracled/tls/ca.pem");
    assert_int_equal(sc->tls.n_allow, 2);
    assert_ptr_equal(sc->tls.allow, sc->tls_allow);
    assert_string_equal(sc->tls.allow[0], "CN=db-1");
    assert_string_equal(sc->tls.allow[1], "URI:spiffe://prod/db");
    assert_int_equal(sc->n_tls_listen, 1);
    assert_string_equal(sc->tls_listen[0], "127.0.0.1:7610");
    assert_true(sc->tls.min_version == TLS1_2_VERSION);
    assert_true(sc->tls_handshake_timeout_ns == 2000000000);
    assert_true(sc->http_tls);
    config_free(&c);

    /* From a file, flags included. */
    const char *file = write_file(0, "tls-cert = /c.pem\ntls-key = /k.pem\ntls-ca = /ca.pem\n"
                                     "tls-allow-client = db-1\nhttp-tls = true\n");
    assert_int_equal(PARSE(&c, &p, "--config", file), 0);
    assert_string_equal(c.server.tls.cert, "/c.pem");
    assert_int_equal(c.server.tls.n_allow, 1);
    assert_true(c.server.http_tls);
    config_free(&c);

    static const struct {
        const char *words[8];
        const char *err;
    } cases[] = {
        {{"--tls-cert", "/c.pem"},
         "oracled: --tls-cert needs the server's certificate and key: give --tls-cert and "
         "--tls-key together\n"},
        {{"--tls-key", "/k.pem"},
         "oracled: --tls-key needs the server's certificate and key: give --tls-cert and "
         "--tls-key together\n"},
        {{"--tls-ca", "/ca.pem"},
         "oracled: --tls-ca needs the server's certificate and key: give --tls-cert and "
         "--tls-key together\n"},
        {{"--tls-listen", "127.0.0.1:7610"},
         "oracled: --tls-listen needs the server's certificate and key: give --tls-cert and "
         "--tls-key together\n"},
        {{"--http-tls"},
         "oracled: --http-tls needs the server's certificate and key: give --tls-cert and "
         "--tls-key together\n"},
        {{"--tls-cert", "/c", "--tls-key", "/k", "--tls-allow-client", "db-1"},
         "oracled: --tls-allow-client needs --tls-ca: client identities come from certificates, "
         "which are asked for only with a CA\n"},
        {{"--tls-cert", "/c", "--tls-key", "/k", "--http-tls", "--http-listen", "none"},
         "oracled: --http-tls with --http-listen none: there is no HTTP endpoint\n"},
        {{"--tls-min-version", "1.1"},
         "oracled: invalid value '1.1' for --tls-min-version: 1.2 or 1.3\n"},
        {{"--tls-allow-client", "IP:db"},
         "oracled: invalid value 'IP:db' for --tls-allow-client: CN=NAME, DNS:NAME, URI:URI, "
         "IP:ADDRESS, email:ADDRESS or a bare NAME, of 1 to 255 bytes\n"},
        {{"--tls-handshake-timeout", "0"},
         "oracled: invalid value '0' for --tls-handshake-timeout: a duration from 1ms to 10m\n"},
        {{"--listen", "127.0.0.1:7700", "--tls-listen", "127.0.0.1:7700"},
         "oracled: --listen 127.0.0.1:7700 and --tls-listen 127.0.0.1:7700 are the same "
         "address: one listener each\n"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        rc = parse_words(&c, cases[i].words, &p);
        if (rc != -EINVAL || strcmp(p.err, cases[i].err) != 0) {
            fail_msg("case %zu: rc %d, printed '%s', want '%s'", i, rc, p.err, cases[i].err);
        }
        config_free(&c);
    }
}

static void test_help_version(void **state)
{
    (void)state;
    struct config c;
    struct printed p;
    assert_int_equal(PARSE(&c, &p, "--help"), 1);
    assert_string_equal(p.err, "");
    assert_true(strncmp(p.out, "Usage: oracled [OPTIONS]\n", 25) == 0);
    /* Defaults shown from the same values config_parse starts from. */
    assert_non_null(strstr(p.out, "\n  --listen HOST:PORT "));
    assert_non_null(strstr(p.out, "(default 0.0.0.0:7600)"));
    assert_non_null(strstr(p.out, "(default 0.0.0.0:7601)"));
    assert_non_null(strstr(p.out, "(default udp:127.0.0.1:323)"));
    assert_non_null(strstr(p.out, "(default 20ms)"));
    assert_non_null(strstr(p.out, "(default 100ms)"));
    assert_non_null(strstr(p.out, "(default /var/lib/oracled)"));
    assert_non_null(strstr(p.out, "(default 2MiB)"));
    assert_non_null(strstr(p.out, "(default 16384)"));
    assert_non_null(strstr(p.out, "(default PHC0)"));
    assert_non_null(strstr(p.out, "\n  -h, --help "));
    assert_non_null(strstr(p.out, "\n  --version "));
    /* Every line fits 80 columns; every option line starts with two spaces and "--" or "-h". */
    for (const char *line = p.out; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true(nl - line <= 80);
        line = nl + 1;
    }
    config_free(&c);
    /* Options given before it are applied (a bad one stops first), those after it ignored. */
    assert_int_equal(PARSE(&c, &p, "-h", "--max-wait", "soon"), 1);
    config_free(&c);
    assert_int_equal(PARSE(&c, &p, "--max-wait", "soon", "--help"), -EINVAL);
    assert_string_equal(p.out, "");
    config_free(&c);

    assert_int_equal(PARSE(&c, &p, "--version"), 1);
    assert_true(strncmp(p.out, "oracled ", 8) == 0);
    assert_string_equal(p.err, "");
    config_free(&c);

    /* getopt_long's own complaints, then where to look. */
    assert_int_equal(PARSE(&c, &p, "--bogus"), -EINVAL);
    assert_non_null(strstr(p.err, "unrecognized option '--bogus'\nTry 'oracled --help'.\n"));
    config_free(&c);
    assert_int_equal(PARSE(&c, &p, "--listen"), -EINVAL);
    assert_non_null(strstr(p.err, "option '--listen' requires an argument\nTry 'oracled "
                                  "--help'.\n"));
    config_free(&c);
}

/* A file with every key; comments and blank lines. */
static void test_file(void **state)
{
    (void)state;
    const char *file = write_file(0, "# oracled.conf\n"
                                     "listen = 127.0.0.1:7700\n"
                                     "listen = 127.0.0.1:7702   # a second one\n"
                                     "http-listen = none\n"
                                     "chrony = udp:[::1]:323\n"
                                     "poll-interval = 10ms\n"
                                     "max-drift-ppb = 20000\n"
                                     "chrony-maxclockerror-ppb = 50\n"
                                     "max-bound = 5ms\n"
                                     "grace = 2s\n"
                                     "phc-interface = ens5\n"
                                     "phc-refid = PHC1\n"
                                     "vmclock = /dev/vmclock1\n"
                                     "max-wait = 50ms\n"
                                     "max-run-ahead = 2ms\n"
                                     "state-dir = /srv/oracled\n"
                                     "state-window = 2s\n"
                                     "\n"
                                     "max-connections = 100\n"
                                     "max-connections-per-peer = 10\n"
                                     "http-max-connections = 20\n"
                                     "max-pending = 1000\n"
                                     "max-pending-per-connection = 100\n"
                                     "max-output = 64K\n"
                                     "idle-timeout = 5m\n"
                                     "write-timeout = 5s\n"
                                     "keepalive = 30s\n"
                                     "clockbound-socket = /run/cb.sock\n"
                                     "clockbound-socket-mode = 0660\n"
                                     "clockbound-shm = /run/clockbound/shm0\n"
                                     "drain-delay = 60s\n"
                                     "log-level = warn\n");
    struct config c;
    struct printed p;
    assert_int_equal(PARSE(&c, &p, "--config", file), 0);
    assert_string_equal(p.err, "");
    const struct server_config *sc = &c.server;
    assert_int_equal(sc->n_listen, 2);
    assert_string_equal(sc->listen[0], "127.0.0.1:7700");
    assert_string_equal(sc->listen[1], "127.0.0.1:7702");
    assert_int_equal(sc->n_http_listen, 0);
    assert_string_equal(sc->chrony_text, "udp:[::1]:323");
    assert_true(sc->poll_interval_ns == 10000000);
    assert_true(sc->clock.max_drift_ppb == 20000);
    assert_true(sc->clock.chrony_maxclockerror_ppb == 50);
    assert_true(sc->clock.max_bound_ns == 5000000);
    assert_true(sc->clock.grace_ns == 2000000000);
    assert_string_equal(sc->phc_interface, "ens5");
    assert_true(sc->phc_ref_id == 0x50484331);
    assert_string_equal(sc->vmclock, "/dev/vmclock1");
    assert_true(sc->max_wait_ns == 50000000);
    assert_true(sc->max_run_ahead_ns == 2000000);
    assert_string_equal(sc->state_dir, "/srv/oracled");
    assert_true(sc->state_window_ns == 2000000000);
    assert_int_equal(sc->max_connections, 100);
    assert_int_equal(sc->max_connections_per_peer, 10);
    assert_int_equal(sc->http_max_connections, 20);
    assert_int_equal(sc->max_pending, 1000);
    assert_int_equal(sc->max_pending_per_conn, 100);
    assert_int_equal(sc->max_output_bytes, 65536);
    assert_true(sc->idle_timeout_ns == 300000000000);
    assert_true(sc->write_timeout_ns == 5000000000);
    assert_int_equal(sc->keepalive_s, 30);
    assert_string_equal(sc->clockbound_socket, "/run/cb.sock");
    assert_int_equal(sc->clockbound_socket_mode, 0660);
    assert_string_equal(sc->clockbound_shm, "/run/clockbound/shm0");
    assert_true(sc->drain_delay_ns == 60000000000);
    assert_int_equal(c.log_level, LOG_LEVEL_WARN);
    config_free(&c);
    unlink(file);
}

/* The file first, then the command line: a value there wins, a --listen or --http-listen there
 * replaces the file's whole list, and a list not given there is the file's. */
static void test_precedence(void **state)
{
    (void)state;
    const char *file = write_file(0, "listen = 127.0.0.1:7700\n"
                                     "listen = 127.0.0.1:7702\n"
                                     "http-listen = 127.0.0.1:7701\n"
                                     "max-wait = 50ms\n"
                                     "grace = 1s\n");
    struct config c;
    struct printed p;
    assert_int_equal(PARSE(&c, &p, "--config", file, "--max-wait", "60ms", "--listen",
                           "127.0.0.1:7800", "--listen", "127.0.0.1:7802"),
                     0);
    assert_true(c.server.max_wait_ns == 60000000);
    assert_true(c.server.clock.grace_ns == 1000000000);
    assert_int_equal(c.server.n_listen, 2);
    assert_string_equal(c.server.listen[0], "127.0.0.1:7800");
    assert_string_equal(c.server.listen[1], "127.0.0.1:7802");
    assert_int_equal(c.server.n_http_listen, 1);
    assert_string_equal(c.server.http_listen[0], "127.0.0.1:7701");
    config_free(&c);

    /* --config anywhere on the command line (and spelled --config=, or abbreviated); the
     * command line still wins over it. */
    assert_int_equal(PARSE(&c, &p, "--http-listen", "none", "--max-wait=70ms", "--conf", file), 0);
    assert_int_equal(c.server.n_listen, 2);
    assert_string_equal(c.server.listen[1], "127.0.0.1:7702");
    assert_int_equal(c.server.n_http_listen, 0);
    assert_true(c.server.max_wait_ns == 70000000);
    config_free(&c);
    char eq[128];
    snprintf(eq, sizeof(eq), "--config=%s", file);
    assert_int_equal(PARSE(&c, &p, eq, "--http-listen", "127.0.0.1:7900"), 0);
    assert_int_equal(c.server.n_http_listen, 1);
    assert_string_equal(c.server.http_listen[0], "127.0.0.1:7900");
    config_free(&c);

    /* Two files: which was meant cannot be guessed, and one read silently would drop the
     * other's settings. */
    assert_int_equal(PARSE(&c, &p, "--config", file, "--config", file), -EINVAL);
    assert_string_equal(p.err, "oracled: --config given twice: give one configuration file "
                               "(options on the command line override its keys)\n");
    config_free(&c);

    /* 'none' in the file, an address on the command line. */
    const char *none = write_file(1, "http-listen = none\n");
    assert_int_equal(PARSE(&c, &p, "--config", none, "--http-listen", "127.0.0.1:7901"), 0);
    assert_int_equal(c.server.n_http_listen, 1);
    config_free(&c);
    assert_int_equal(PARSE(&c, &p, "--config", none), 0);
    assert_int_equal(c.server.n_http_listen, 0);
    config_free(&c);
    unlink(file);
    unlink(none);
}

/* Mistakes in the file are named by FILE:LINE and the key. */
static void test_file_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *err; /* after "oracled: FILE:" */
    } cases[] = {
        {"# comment\nmax-wait = 50ms\nbogus-key = 1\n",
         "3: unknown key 'bogus-key' (keys are the long options, as in 'oracled --help', without "
         "'--')"},
        {"config = other.conf\n",
         "1: unknown key 'config' (keys are the long options, as in 'oracled --help', without "
         "'--')"},
        {"help = yes\n",
         "1: unknown key 'help' (keys are the long options, as in 'oracled --help', without "
         "'--')"},
        {"max-wait = soon\n", "1: invalid value 'soon' for max-wait: a duration from 1us to 1m"},
        {"\n\nlisten = 127.0.0.1:99999\n",
         "3: invalid value '127.0.0.1:99999' for listen: HOST:PORT or [IPV6]:PORT, with a "
         "numeric address and a port from 0 to 65535"},
        {"chrony = tcp:x\n",
         "1: invalid --chrony 'tcp:x': chrony address must be udp:HOST[:PORT] or unix:PATH"},
        {"phc-refid = PHC10\n",
         "1: invalid value 'PHC10' for phc-refid: one to four printable ASCII characters, as "
         "chrony's refid (PHC0)"},
        {"max-wait 50ms\n", "1: expected key = value"},
        {"max-wait =\n", "1: empty value"},
        {"Max-Wait = 50ms\n", "1: keys are made of a-z, 0-9 and '-'"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const char *file = write_file(0, cases[i].text);
        struct config c;
        struct printed p;
        int rc = PARSE(&c, &p, "--config", file);
        char want[1024];
        snprintf(want, sizeof(want), "oracled: %s:%s\n", file, cases[i].err);
        if (rc != -EINVAL || strcmp(p.err, want) != 0) {
            fail_msg("'%s': rc %d, printed '%s', want '%s'", cases[i].text, rc, p.err, want);
        }
        config_free(&c);
        unlink(file);
    }

    /* The file's mistakes stop the start even with --version (it is read first). */
    const char *bad = write_file(0, "max-wait = soon\n");
    struct config c;
    struct printed p;
    assert_int_equal(PARSE(&c, &p, "--config", bad, "--version"), -EINVAL);
    assert_string_equal(p.out, "");
    config_free(&c);
    unlink(bad);

    /* A rule broken by the file and the command line together. */
    const char *wait = write_file(0, "max-wait = 20ms\n");
    assert_int_equal(PARSE(&c, &p, "--config", wait, "--max-bound", "10ms"), -EINVAL);
    assert_non_null(strstr(p.err, "must be below half of --max-wait (20000 us)"));
    config_free(&c);
    unlink(wait);

    assert_int_equal(PARSE(&c, &p, "--config", "/nonexistent/oracled.conf"), -EINVAL);
    assert_string_equal(p.err, "oracled: cannot read the configuration file "
                               "/nonexistent/oracled.conf: No such file or directory\n");
    config_free(&c);

    /* More than 64 KiB. */
    char *big = malloc(70000);
    assert_non_null(big);
    for (size_t i = 0; i + 1 < 70000; i++) {
        big[i] = i % 50 == 49 ? '\n' : '#';
    }
    big[69999] = '\0';
    const char *large = write_file(0, big);
    free(big);
    assert_int_equal(PARSE(&c, &p, "--config", large), -EINVAL);
    char want[256];
    snprintf(want, sizeof(want),
             "oracled: cannot read the configuration file %s: larger than 64 KiB\n", large);
    assert_string_equal(p.err, want);
    config_free(&c);
    unlink(large);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_bad_values),  cmocka_unit_test(test_rules),
        cmocka_unit_test(test_tls),         cmocka_unit_test(test_help_version),
        cmocka_unit_test(test_file),        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
