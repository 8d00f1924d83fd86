/* Unit tests: /healthz and /metrics as text, from snapshots built by hand (oracle/metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

struct fixture {
    struct cb_state clock;
    struct histogram commit_wait, lateness, late_at_release, late_write, rtt, writes;
    struct metrics_snapshot m;
};

/* A server before chrony's first answer: UNKNOWN, starting, nothing counted. */
static void starting(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    struct cb_params p;
    cb_params_default(&p);
    cb_init(&f->clock, &p);
    hist_init(&f->commit_wait);
    hist_init(&f->lateness);
    hist_init(&f->late_at_release);
    hist_init(&f->late_write);
    hist_init(&f->rtt);
    hist_init(&f->writes);
    struct metrics_snapshot *m = &f->m;
    m->version = "9.9.9";
    m->instance_id = "0123456789abcdef0123456789abcdef";
    m->time_source = "chrony udp:127.0.0.1:323";
    m->start_rt_ns = INT64_C(1795000000500000000);
    m->starting = true;
    m->now.status = CB_STATUS_UNKNOWN;
    m->now.reason = CB_REASON_NO_DATA;
    m->now.bound_ns = INT64_MAX;
    m->now.poll_age_ns = -1;
    m->clock = &f->clock;
    m->chrony_rtt = &f->rtt;
    m->ops.commit_wait = &f->commit_wait;
    m->ops.lateness = &f->lateness;
    m->ops.late_at_release = &f->late_at_release;
    m->ops.late_write = &f->late_write;
    m->reserve.write_ns = &f->writes;
    m->admit.max = 16384;
    m->httpd.max = 4096;
}

/* The same server serving: SYNCHRONIZED with a bound of 40 us, a state file written. */
static void serving(struct fixture *f)
{
    starting(f);
    f->clock.have_poll = true;
    struct metrics_snapshot *m = &f->m;
    m->starting = false;
    m->ready = true;
    m->now.status = CB_STATUS_SYNCHRONIZED;
    m->now.reason = CB_REASON_OK;
    m->now.rt_ns = INT64_C(1795000010000000000);
    m->now.bound_ns = 40000;
    m->now.earliest_ns = m->now.rt_ns - 40000;
    m->now.latest_ns = m->now.rt_ns + 40000;
    m->now.poll_age_ns = 250000000;
    m->reserve.enabled = true;
    m->reserve.h_start = (uint64_t)m->now.rt_ns - 5000000000;
    m->reserve.h_committed = (uint64_t)m->now.latest_ns + 2000000000;
    m->reserve.writes = 3;
}

static char *text(struct strbuf *b)
{
    assert_false(b->failed);
    return b->data;
}

/* Whether body holds line as one whole line. */
static int has_line(const char *body, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = body; (p = strstr(p, line)) != NULL; p++) {
        if ((p == body || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) {
            return 1;
        }
    }
    return 0;
}

static void test_health_starting(void **state)
{
    (void)state;
    struct fixture f;
    starting(&f);
    struct strbuf b;
    strbuf_init(&b);
    assert_int_equal(metrics_health(&f.m, &b), 503);
    assert_string_equal(text(&b),
                        "{\"status\":\"unavailable\",\"clock_status\":\"UNKNOWN\",\"reason\":"
                        "\"no reply from chrony yet\",\"time_source\":\"chrony "
                        "udp:127.0.0.1:323\",\"demo\":false,\"upstream_check\":\"not_applicable\","
                        "\"instance_id\":\"0123456789abcdef0123456789abcdef\",\"version\":"
                        "\"9.9.9\"}\n");
    strbuf_fini(&b);
}

static void test_health_serving_and_draining(void **state)
{
    (void)state;
    struct fixture f;
    serving(&f);
    struct strbuf b;
    strbuf_init(&b);
    assert_int_equal(metrics_health(&f.m, &b), 200);
    assert_string_equal(text(&b),
                        "{\"status\":\"ok\",\"clock_status\":\"SYNCHRONIZED\",\"reason\":"
                        "\"chrony is synchronised\",\"bound_ns\":40000,\"last_poll_age_ns\":"
                        "250000000,\"time_source\":\"chrony udp:127.0.0.1:323\",\"demo\":false,"
                        "\"upstream_check\":\"not_applicable\",\"instance_id\":"
                        "\"0123456789abcdef0123456789abcdef\",\"version\":\"9.9.9\"}\n");
    strbuf_fini(&b);

    /* Each reason a trusted clock still does not serve, in the order they are judged. */
    f.m.reserve.last_error = -5;
    strbuf_init(&b);
    assert_int_equal(metrics_health(&f.m, &b), 503);
    assert_non_null(strstr(text(&b), "\"reason\":\"the state file cannot be written\""));
    strbuf_fini(&b);
    f.m.reserve.last_error = 0;
    f.m.starting = true;
    f.m.reserve.h_start = (uint64_t)f.m.now.earliest_ns; /* not passed yet */
    strbuf_init(&b);
    assert_int_equal(metrics_health(&f.m, &b), 503);
    assert_non_null(strstr(text(&b), "\"reason\":\"starting: waiting for the clock to pass the "
                                     "high-water mark of the last run\""));
    strbuf_fini(&b);
    f.m.reserve.h_start = (uint64_t)f.m.now.earliest_ns - 1;
    strbuf_init(&b);
    assert_int_equal(metrics_health(&f.m, &b), 503);
    assert_non_null(strstr(text(&b), "\"reason\":\"starting: writing the state file\""));
    strbuf_fini(&b);
    f.m.starting = false;
    f.m.draining = true;
    strbuf_init(&b);
    assert_int_equal(metrics_health(&f.m, &b), 503);
    assert_non_null(strstr(text(&b), "\"status\":\"unavailable\",\"clock_status\":"
                                     "\"SYNCHRONIZED\",\"reason\":\"draining: shutting down\""));
    strbuf_fini(&b);
}

/* TLS: the handshake counters always; the rest, and the /healthz object, only when it is on. */
static void test_tls(void **state)
{
    (void)state;
    struct fixture f;
    serving(&f);
    f.m.conns.tls_handshakes[TLSSESS_OK] = 7;
    f.m.conns.tls_handshakes[TLSSESS_EXPIRED] = 2;
    struct strbuf b;
    strbuf_init(&b);
    metrics_prometheus(&f.m, &b);
    assert_true(has_line(text(&b), "oracled_tls_handshakes_total{result=\"ok\"} 7"));
    assert_true(has_line(text(&b), "oracled_tls_handshakes_total{result=\"expired\"} 2"));
    assert_true(has_line(text(&b), "oracled_tls_handshakes_total{result=\"timeout\"} 0"));
    assert_null(strstr(text(&b), "oracled_tls_info"));
    strbuf_fini(&b);
    strbuf_init(&b);
    metrics_health(&f.m, &b);
    assert_null(strstr(text(&b), "\"tls\""));
    strbuf_fini(&b);

    f.m.tls = (struct metrics_tls){
        .enabled = true,
        .mutual = true,
        .n_allow = 2,
        .records = "userspace",
        .ktls_why = "the kernel has no tls module",
        .not_after_s = 1798953607,
        .reloads_ok = 3,
        .reloads_failed = 1,
        .steps_deferred = 41,
        .steps_waiting = 5,
    };
    strbuf_init(&b);
    metrics_prometheus(&f.m, &b);
    const char *want[] = {
        "oracled_tls_info{records=\"userspace\",ktls=\"unavailable\",client_certificates="
        "\"required\"} 1",
        "oracled_tls_certificate_expiry_timestamp_seconds 1798953607",
        "oracled_tls_reloads_total{result=\"ok\"} 3",
        "oracled_tls_reloads_total{result=\"failed\"} 1",
        "oracled_tls_handshake_steps_deferred_total 41",
        "oracled_tls_handshake_steps_waiting 5",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!has_line(text(&b), want[i])) {
            fail_msg("no line '%s'", want[i]);
        }
    }
    strbuf_fini(&b);
    strbuf_init(&b);
    assert_int_equal(metrics_health(&f.m, &b), 200);
    assert_non_null(
        strstr(text(&b), ",\"tls\":{\"records\":\"userspace\",\"ktls\":\"unavailable\","
                         "\"ktls_probe\":\"the kernel has no tls module\",\"client_certificates\":"
                         "\"required\",\"allow_list\":2,\"http\":false,\"certificate_expires\":"
                         "\"2027-01-03T05:20:07.000000000Z\",\"reload_failures\":1}"));
    strbuf_fini(&b);
}

static void test_prometheus_counts(void **state)
{
    (void)state;
    struct fixture f;
    serving(&f);
    f.m.ops.requests[REQ_OP_GET_TIMESTAMP][0] = 7;
    f.m.ops.requests[REQ_OP_NONE][WIRE_ERROR_BAD_REQUEST] = 2;
    f.m.ops.pending = 3;
    f.m.ops.last_issued = (uint64_t)f.m.now.latest_ns + 1500;
    f.m.conns.accepted = 11;
    f.m.conns.cut_off = 1;
    f.m.admit.live = 4;
    f.m.admit.max_per_peer = 8;
    f.m.admit.peers = 2;
    f.m.admit.evicted[ADMIT_CAP_PEER] = 5;
    f.m.admit.refused[ADMIT_CAP_TOTAL] = 6;
    f.m.httpd.active = 9;
    f.m.cbcompat.unbound = 12;
    f.m.poller.polls_ok = 40;
    hist_record(&f.commit_wait, 3000);
    hist_record(&f.commit_wait, 3000000);
    /* One release 3.5 us late: 1 us before the release, 2.5 us to its write. */
    hist_record(&f.lateness, 3500);
    hist_record(&f.late_at_release, 1000);
    hist_record(&f.late_write, 2500);
    f.m.ops.release_passes = 1;
    struct strbuf b;
    strbuf_init(&b);
    metrics_prometheus(&f.m, &b);
    const char *t = text(&b);
    const char *want[] = {
        "oracled_info{version=\"9.9.9\",instance_id=\"0123456789abcdef0123456789abcdef\"} 1",
        "oracled_start_time_seconds 1795000000.500",
        "oracled_requests_total{op=\"get_timestamp\",result=\"ok\"} 7",
        "oracled_requests_total{op=\"none\",result=\"bad_request\"} 2",
        "oracled_requests_total{op=\"now\",result=\"ok\"} 0",
        "oracled_commit_wait_seconds_bucket{le=\"1e-05\"} 1",
        "oracled_commit_wait_seconds_bucket{le=\"+Inf\"} 2",
        "oracled_commit_wait_seconds_count 2",
        "oracled_commit_wait_seconds_sum 0.003003000",
        "oracled_release_lateness_seconds_bucket{le=\"3e-06\"} 0",
        "oracled_release_lateness_seconds_bucket{le=\"4e-06\"} 1",
        "oracled_release_lateness_at_release_seconds_bucket{le=\"5e-07\"} 0",
        "oracled_release_lateness_at_release_seconds_bucket{le=\"1e-06\"} 1",
        "oracled_release_lateness_at_release_seconds_sum 0.000001000",
        "oracled_release_lateness_write_seconds_bucket{le=\"2e-06\"} 0",
        "oracled_release_lateness_write_seconds_bucket{le=\"2.5e-06\"} 1",
        "oracled_release_lateness_write_seconds_count 1",
        "oracled_release_passes_total 1",
        "oracled_clock_status{status=\"SYNCHRONIZED\"} 1",
        "oracled_clock_status{status=\"UNKNOWN\"} 0",
        "oracled_clock_bound_seconds 0.000040000",
        "oracled_ready 1",
        "oracled_draining 0",
        "oracled_connections 4",
        "oracled_max_connections 16384",
        "oracled_max_connections_per_peer 8",
        "oracled_connection_peers 2",
        "oracled_connections_accepted_total 11",
        "oracled_connections_evicted_total{reason=\"limit\"} 0",
        "oracled_connections_evicted_total{reason=\"peer_limit\"} 5",
        "oracled_connections_rejected_total{reason=\"limit\"} 6",
        "oracled_clients_cut_off_total 1",
        "oracled_pending_waits 3",
        "oracled_run_ahead_seconds 0.000001500",
        "oracled_reservation_headroom_seconds 1.999998500",
        "oracled_state_writes_total{result=\"ok\"} 3",
        "oracled_chrony_polls_total{result=\"ok\"} 40",
        "oracled_chrony_last_poll_age_seconds 0.250000",
        "oracled_http_connections 9",
        "oracled_http_max_connections 4096",
        "oracled_clockbound_socket_requests_total{result=\"unbound\"} 12",
        "oracled_chrony_slew_rate_ppb NaN",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!has_line(t, want[i])) {
            fail_msg("missing line: %s", want[i]);
        }
    }
    /* Every series is announced: a # TYPE for each # HELP. */
    size_t helps = 0, types = 0;
    for (const char *p = t; (p = strstr(p, "# HELP ")) != NULL; p++) {
        helps++;
    }
    for (const char *p = t; (p = strstr(p, "# TYPE ")) != NULL; p++) {
        types++;
    }
    assert_int_equal(helps, types);
    assert_true(helps > 40);
    strbuf_fini(&b);
}

static void test_prometheus_before_chrony(void **state)
{
    (void)state;
    struct fixture f;
    starting(&f);
    struct strbuf b;
    strbuf_init(&b);
    metrics_prometheus(&f.m, &b);
    const char *t = text(&b);
    assert_true(has_line(t, "oracled_clock_bound_seconds +Inf"));
    assert_true(has_line(t, "oracled_chrony_last_poll_age_seconds -1.000000"));
    assert_true(has_line(t, "oracled_ready 0"));
    assert_true(has_line(t, "oracled_chrony_maxclockerror_used_ppb NaN"));
    /* No state directory: no reservation series at all. */
    assert_null(strstr(t, "oracled_reservation_headroom_seconds"));
    assert_null(strstr(t, "oracled_state_writes_total"));
    strbuf_fini(&b);
}

static void test_answer_routes(void **state)
{
    (void)state;
    struct fixture f;
    serving(&f);
    const struct {
        const char *target;
        int status;
        const char *type;
        const char *starts;
    } cases[] = {
        {"/healthz", 200, "application/json", "{\"status\":\"ok\""},
        {"/healthz?verbose=1", 200, "application/json", "{\"status\":\"ok\""},
        {"/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", "# HELP oracled_info "},
        {"/metricsx", 404, NULL, "not found: try /healthz or /metrics\n"},
        {"/health", 404, NULL, "not found"},
        {"/", 404, NULL, "not found"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct strbuf b;
        strbuf_init(&b);
        int status = 0;
        const char *type = NULL;
        enum metrics_page page = metrics_page_of(cases[i].target);
        metrics_answer(page == METRICS_NOT_FOUND ? NULL : &f.m, page, &status, &type, &b);
        assert_int_equal(status, cases[i].status);
        if (cases[i].type != NULL) {
            assert_non_null(type);
            assert_string_equal(type, cases[i].type);
        }
        assert_memory_equal(text(&b), cases[i].starts, strlen(cases[i].starts));
        strbuf_fini(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_starting),
        cmocka_unit_test(test_health_serving_and_draining),
        cmocka_unit_test(test_prometheus_counts),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_prometheus_before_chrony),
        cmocka_unit_test(test_answer_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
