/* /healthz and /metrics (see metrics.h). */
#include "metrics.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

static const char *const op_names[OPS_COUNTED_OPS] = {
    "none", "get_timestamp", "now", "before", "after", "wait_until", "server_info",
};

static const char *const result_names[OPS_COUNTED_RESULTS] = {
    "ok",
    "bad_request",
    "unsupported",
    "clock_unavailable",
    "bound_too_wide",
    "wait_too_long",
    "overloaded",
    "not_ready",
    "shutting_down",
};

static const char *const status_names[] = {"UNKNOWN", "SYNCHRONIZED", "FREE_RUNNING", "DISRUPTED"};

/* Why the server is not serving, or NULL when it is. */
static const char *unavailable_reason(const struct metrics_snapshot *m)
{
    const struct cb_now *now = &m->now;
    if (m->draining) {
        return "draining: shutting down";
    }
    if (!cb_status_trusted(now->status)) {
        return cb_reason_text(now->reason);
    }
    if (m->reserve.enabled && m->reserve.last_error != 0) {
        return "the state file cannot be written";
    }
    if (m->starting) {
        if (m->reserve.enabled && now->earliest_ns <= (int64_t)m->reserve.h_start) {
            return "starting: waiting for the clock to pass the high-water mark of the last run";
        }
        return "starting: writing the state file";
    }
    return NULL;
}

/* Whether the check for an upstream NTP server on its own local clock is made (poller.h). */
static const char *upstream_check(const struct metrics_snapshot *m)
{
    const struct cb_state *st = m->clock;
    uint16_t family = st->last.tracking.addr_family;
    if (!st->have_poll || (family != CHRONY_ADDR_INET4 && family != CHRONY_ADDR_INET6)) {
        return "not_applicable"; /* no reply yet, or a refclock: no NTPDATA */
    }
    if (m->poller.ntpdata_error != 0) {
        return "unavailable";
    }
    return cb_upstream_current(st) != NULL ? "ok" : "pending";
}

/* The /healthz fields about the reference's NTP server. */
static void upstream_health(const struct metrics_snapshot *m, struct strbuf *b)
{
    const char *check = upstream_check(m);
    strbuf_printf(b, ",\"upstream_check\":\"%s\"", check);
    if (strcmp(check, "unavailable") == 0) {
        char why[160];
        const char *what = m->poller.ntpdata_why != NULL ? m->poller.ntpdata_why : "failed";
        snprintf(why, sizeof(why), "chrony NTPDATA: %s%s", what,
                 strcmp(what, "unauthorised") == 0
                     ? " (answered only on chronyd's unix socket: use --chrony "
                       "unix:/run/chrony/chronyd.sock)"
                     : "");
        strbuf_printf(b, ",\"upstream_check_error\":");
        strbuf_json_string(b, why);
    }
    const struct cb_upstream *u = cb_upstream_current(m->clock);
    if (u != NULL) {
        char addr[64] = "";
        cb_tracking_addr_text(&m->clock->last.tracking, addr, sizeof(addr));
        strbuf_printf(b,
                      ",\"upstream\":{\"address\":\"%s\",\"reference_id\":\"%08" PRIX32
                      "\",\"stratum\":%u,\"local_clock\":%s}",
                      addr, u->ref_id, (unsigned)u->stratum,
                      u->ref_id == CHRONY_REFID_LOCAL ? "true" : "false");
    }
}

/* The /healthz fields about the PHC's own error bound, when one is configured. */
static void phc_health(const struct metrics_snapshot *m, struct strbuf *b)
{
    const struct cb_state *st = m->clock;
    const struct cb_phc_reading *r = &st->last.phc;
    if (!st->have_poll || !r->configured) {
        return;
    }
    strbuf_printf(b, ",\"phc\":{\"reference\":%s,\"verdict\":",
                  st->phc_verdict != CB_PHC_NOT_REFERENCE ? "true" : "false");
    strbuf_json_string(b, cb_phc_verdict_text(st->phc_verdict));
    if (r->error == 0) {
        strbuf_printf(b, ",\"error_bound_ns\":%" PRId64, r->error_bound_ns);
    }
    strbuf_printf(b, "}");
}

/* The maintenance the VMClock's flags announce: 0 none, 1 within about a day, 2 within about an
 * hour. */
static int vmclock_maintenance(uint64_t flags)
{
    if (flags & CB_VMCLOCK_FLAG_DISRUPTION_IMMINENT) {
        return 2;
    }
    return flags & CB_VMCLOCK_FLAG_DISRUPTION_SOON ? 1 : 0;
}

static const char *const vmclock_maintenance_name[] = {"none", "soon", "imminent"};

/* The /healthz fields about the VMClock, when there is one. */
static void vmclock_health(const struct metrics_snapshot *m, struct strbuf *b)
{
    const struct vmwatch_stats *w = &m->vmwatch;
    if (!w->enabled) {
        return;
    }
    strbuf_printf(b, ",\"vmclock\":{\"disruptions\":%" PRIu64, m->clock->vm_disruptions);
    if (m->clock->vm_have_marker) {
        strbuf_printf(b, ",\"disruption_marker\":\"%" PRIu64 "\"", m->clock->vm_marker);
    }
    if (w->have_snapshot) {
        strbuf_printf(b, ",\"clock_status\":\"%s\",\"maintenance\":\"%s\"",
                      cb_vmclock_status_name(w->clock_status),
                      vmclock_maintenance_name[vmclock_maintenance(w->flags)]);
    }
    strbuf_printf(b, ",\"readable\":%s}", w->readable ? "true" : "false");
}

/* The /healthz fields about TLS, when it is on. */
static void tls_health(const struct metrics_snapshot *m, struct strbuf *b)
{
    const struct metrics_tls *t = &m->tls;
    if (!t->enabled) {
        return;
    }
    char expires[40];
    timefmt_utc(t->not_after_s * INT64_C(1000000000), expires, sizeof(expires));
    strbuf_printf(b, ",\"tls\":{\"records\":\"%s\",\"ktls\":\"%s\",\"ktls_probe\":", t->records,
                  t->ktls_available ? "available" : "unavailable");
    strbuf_json_string(b, t->ktls_why);
    strbuf_printf(b,
                  ",\"client_certificates\":\"%s\",\"allow_list\":%zu,\"http\":%s,"
                  "\"certificate_expires\":\"%s\",\"reload_failures\":%" PRIu64 "}",
                  t->mutual ? "required" : "not_asked", t->n_allow, t->http ? "true" : "false",
                  expires, t->reloads_failed);
}

int metrics_health(const struct metrics_snapshot *m, struct strbuf *b)
{
    const struct cb_now now = m->now;
    const char *why = unavailable_reason(m);
    strbuf_printf(b, "{\"status\":\"%s\",\"clock_status\":\"%s\",\"reason\":",
                  why == NULL ? "ok" : "unavailable", cb_status_name(now.status));
    strbuf_json_string(b, why != NULL ? why : cb_reason_text(now.reason));
    if (m->clock->have_poll) {
        strbuf_printf(b, ",\"bound_ns\":%" PRId64 ",\"last_poll_age_ns\":%" PRId64, now.bound_ns,
                      now.poll_age_ns);
    }
    strbuf_printf(b, ",\"time_source\":");
    strbuf_json_string(b, m->time_source);
    strbuf_printf(b, ",\"demo\":%s", m->demo ? "true" : "false");
    if (m->demo) {
        strbuf_printf(b, ",\"warning\":\"the time source is a loopback NTP server: a demo, not "
                         "real time\"");
    }
    upstream_health(m, b);
    phc_health(m, b);
    vmclock_health(m, b);
    tls_health(m, b);
    strbuf_printf(b, ",\"instance_id\":\"%s\",\"version\":", m->instance_id);
    strbuf_json_string(b, m->version);
    strbuf_printf(b, "}\n");
    return why == NULL ? 200 : 503;
}

static const int64_t bucket_ns[] = {
    1000,     2000,      5000,      10000,     20000,      50000,       100000,
    200000,   500000,    1000000,   2000000,   5000000,    10000000,    20000000,
    50000000, 100000000, 200000000, 500000000, 1000000000, 10000000000,
};

/* Release lateness is microseconds where all is well: finer buckets there, so that
 * histogram_quantile() (and oracle-bench) can tell 2 us from 4 us. */
static const int64_t lateness_bucket_ns[] = {
    250,    500,    1000,   1500,   2000,    2500,    3000,    4000,     5000,      6000,
    8000,   10000,  12500,  15000,  20000,   25000,   30000,   40000,    50000,     75000,
    100000, 150000, 200000, 500000, 1000000, 2000000, 5000000, 10000000, 100000000, 1000000000,
};

static void histogram_with(struct strbuf *b, const char *name, const char *help,
                           const struct histogram *h, const int64_t *edges, size_t n_edges)
{
    strbuf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < n_edges; i++) {
        strbuf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, (double)edges[i] / 1e9,
                      hist_count_le(h, edges[i]));
    }
    strbuf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.9Lf\n%s_count %" PRIu64 "\n",
                  name, h->total, name, h->sum_ns / 1e9L, name, h->total);
}

static void histogram(struct strbuf *b, const char *name, const char *help,
                      const struct histogram *h)
{
    histogram_with(b, name, help, h, bucket_ns, sizeof(bucket_ns) / sizeof(bucket_ns[0]));
}

static void metric(struct strbuf *b, const char *name, const char *type, const char *help)
{
    strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A gauge that is NaN until known. */
static void gauge_opt(struct strbuf *b, const char *name, const char *help, bool known,
                      int64_t value)
{
    metric(b, name, "gauge", help);
    if (known) {
        strbuf_printf(b, "%s %" PRId64 "\n", name, value);
    } else {
        strbuf_printf(b, "%s NaN\n", name);
    }
}

static void counter_u64(struct strbuf *b, const char *name, const char *help, uint64_t value);

/* What oracled measures of chrony from its reports (clockbound/dispersion.h, slew.h). */
static void chrony_measured(const struct metrics_snapshot *m, struct strbuf *b)
{
    const struct cb_state *st = m->clock;
    const struct cb_dispersion *d = &st->dispersion;
    gauge_opt(b, "oracled_chrony_dispersion_growth_ppb",
              "How fast chrony's root dispersion grows between reference updates (skew + "
              "|residual frequency| + maxclockerror), measured from two of its reports of one "
              "update: the lower end of the measurement, ppb. NaN until measured.",
              d->measured, d->rate_lo_ppb);
    gauge_opt(b, "oracled_chrony_maxclockerror_measured_ppb",
              "chrony's maxclockerror as measured (the growth less skew and |residual "
              "frequency|): the lower end, ppb. NaN until measured.",
              d->measured, d->maxclockerror_lo_ppb);
    gauge_opt(b, "oracled_chrony_maxclockerror_used_ppb",
              "The maxclockerror the bound's top-up to --max-drift-ppb assumes: the configured "
              "one, the measured one when lower, 0 before a measurement.",
              st->have_poll, st->bound.topup_maxclockerror_ppb);
    const struct cb_phc_reading *phc = &st->last.phc;
    metric(b, "oracled_phc_error_bound_seconds", "gauge",
           "The PTP hardware clock's own error bound as last read (--phc-interface or "
           "--phc-error-bound-file). NaN when not configured or not readable.");
    if (st->have_poll && phc->configured && phc->error == 0) {
        strbuf_printf(b, "oracled_phc_error_bound_seconds %.9f\n",
                      (double)phc->error_bound_ns / 1e9);
    } else {
        strbuf_printf(b, "oracled_phc_error_bound_seconds NaN\n");
    }
    gauge_opt(b, "oracled_phc_reference",
              "1 while the PHC is chrony's reference (its error bound is then in the bound, or "
              "the clock is UNKNOWN when it cannot be read), else 0. NaN when not configured.",
              st->have_poll && phc->configured, st->phc_verdict != CB_PHC_NOT_REFERENCE ? 1 : 0);
    const struct vmwatch_stats *w = &m->vmwatch;
    gauge_opt(b, "oracled_vmclock_clock_status",
              "The VMClock's own clock status: 0 unknown, 1 initializing, 2 synchronized, 3 "
              "free-running, 4 unreliable. NaN without a VMClock.",
              w->enabled && w->have_snapshot, w->have_snapshot ? w->clock_status : 0);
    gauge_opt(b, "oracled_vmclock_maintenance",
              "Maintenance the VMClock announces: 0 none, 1 within about a day, 2 within about "
              "an hour (the clock will be DISRUPTED then). NaN without a VMClock.",
              w->enabled && w->have_snapshot, w->have_snapshot ? vmclock_maintenance(w->flags) : 0);
    counter_u64(b, "oracled_vmclock_disruptions_total",
                "Changes of the VMClock's disruption marker seen since start: each makes the "
                "clock DISRUPTED (0 without a VMClock).",
                st->vm_disruptions);
    gauge_opt(b, "oracled_chrony_slew_rate_ppb",
              "How fast chrony is slewing the clock (its current correction), measured from two "
              "of its reports of one update: an upper bound, ppb. NaN while not known.",
              st->slew.have_poll && st->slew.rate_known, st->slew.rate_ppb);
}

/* A metric with one unlabelled integer value. */
static void one_u64(struct strbuf *b, const char *name, const char *type, const char *help,
                    uint64_t value)
{
    metric(b, name, type, help);
    strbuf_printf(b, "%s %" PRIu64 "\n", name, value);
}

static void counter_u64(struct strbuf *b, const char *name, const char *help, uint64_t value)
{
    one_u64(b, name, "counter", help, value);
}

static void gauge_u64(struct strbuf *b, const char *name, const char *help, uint64_t value)
{
    one_u64(b, name, "gauge", help, value);
}

/* The NTPDATA check of the reference's NTP server (poller.h, cb_upstream_local()). */
/* A counter with one series per connection cap (admit.h), labelled reason. */
static void by_cap(struct strbuf *b, const char *name, const char *help,
                   const uint64_t counts[ADMIT_CAPS])
{
    metric(b, name, "counter", help);
    for (int cap = 0; cap < ADMIT_CAPS; cap++) {
        strbuf_printf(b, "%s{reason=\"%s\"} %" PRIu64 "\n", name,
                      admit_cap_name((enum admit_cap)cap), counts[cap]);
    }
}

static void upstream_metrics(const struct metrics_snapshot *m, struct strbuf *b)
{
    metric(b, "oracled_chrony_ntpdata_total", "counter",
           "chrony NTPDATA queries about the reference's NTP server, by result (failed: refused, "
           "e.g. unauthorised over UDP, malformed or unanswered).");
    strbuf_printf(b, "oracled_chrony_ntpdata_total{result=\"ok\"} %" PRIu64 "\n",
                  m->poller.ntpdata_ok);
    strbuf_printf(b, "oracled_chrony_ntpdata_total{result=\"failed\"} %" PRIu64 "\n",
                  m->poller.ntpdata_failed);
    gauge_u64(b, "oracled_upstream_check_unavailable",
              "1 while chronyd does not answer NTPDATA (over UDP it refuses: use its unix "
              "socket), so an upstream NTP server on its own local clock cannot be detected.",
              (uint64_t)(strcmp(upstream_check(m), "unavailable") == 0));
    gauge_u64(b, "oracled_upstream_local_clock",
              "1 while the reference is a non-loopback NTP server on its own local clock "
              "(reference ID LOCL): the clock is UNKNOWN.",
              (uint64_t)cb_upstream_local(m->clock));
    const struct cb_upstream *u = cb_upstream_current(m->clock);
    if (u != NULL) {
        char addr[64] = "";
        cb_tracking_addr_text(&m->clock->last.tracking, addr, sizeof(addr));
        metric(b, "oracled_upstream_info", "gauge",
               "The reference's NTP server as chrony's NTPDATA describes it: its own reference "
               "ID (7F7F0101: LOCL, its local clock) and stratum.");
        strbuf_printf(b,
                      "oracled_upstream_info{address=\"%s\",reference_id=\"%08" PRIX32
                      "\",stratum=\"%u\"} 1\n",
                      addr, u->ref_id, (unsigned)u->stratum);
    }
}

/* TLS on the oracle port: handshakes always (zero without TLS), the rest when it is on. */
static void tls_metrics(const struct metrics_snapshot *m, struct strbuf *b)
{
    const struct metrics_tls *t = &m->tls;
    metric(b, "oracled_tls_handshakes_total", "counter",
           "TLS handshakes on the oracle port, by result: ok, or why the client was refused "
           "(no_cert, untrusted, expired, not_allowed, protocol: not TLS or no common version, "
           "peer_alert: the client refused the server, e.g. its certificate, closed: it hung up "
           "first, timeout: --tls-handshake-timeout).");
    for (int f = 0; f < TLSSESS_FAILURES; f++) {
        strbuf_printf(b, "oracled_tls_handshakes_total{result=\"%s\"} %" PRIu64 "\n",
                      tlssess_failure_name((enum tlssess_failure)f), m->conns.tls_handshakes[f]);
    }
    if (!t->enabled) {
        return;
    }
    metric(b, "oracled_tls_info", "gauge",
           "TLS as this instance runs it: who encrypts the records (userspace: OpenSSL; kernel: "
           "kTLS), whether the kernel offers kTLS, whether client certificates are required.");
    strbuf_printf(b,
                  "oracled_tls_info{records=\"%s\",ktls=\"%s\",client_certificates=\"%s\"} "
                  "1\n",
                  t->records, t->ktls_available ? "available" : "unavailable",
                  t->mutual ? "required" : "not_asked");
    gauge_u64(b, "oracled_tls_certificate_expiry_timestamp_seconds",
              "When the certificate in use expires (Unix time): alert well before.",
              (uint64_t)(t->not_after_s > 0 ? t->not_after_s : 0));
    metric(b, "oracled_tls_reloads_total", "counter",
           "Certificate rereads on SIGHUP, by result (failed: the files were refused and the "
           "certificate in use was kept).");
    strbuf_printf(b, "oracled_tls_reloads_total{result=\"ok\"} %" PRIu64 "\n", t->reloads_ok);
    strbuf_printf(b, "oracled_tls_reloads_total{result=\"failed\"} %" PRIu64 "\n",
                  t->reloads_failed);
    counter_u64(b, "oracled_tls_handshake_steps_deferred_total",
                "TLS handshake steps that waited for a later loop turn: a turn runs one, so that "
                "established clients' replies never wait behind many.",
                t->steps_deferred);
    gauge_u64(b, "oracled_tls_handshake_steps_waiting",
              "TLS handshake steps waiting for their turn now.", t->steps_waiting);
}

void metrics_prometheus(const struct metrics_snapshot *m, struct strbuf *b)
{
    const struct cb_now now = m->now;
    const struct ops_stats *st = &m->ops;

    metric(b, "oracled_info", "gauge", "Version and per-start instance id.");
    strbuf_printf(b, "oracled_info{version=\"%s\",instance_id=\"%s\"} 1\n", m->version,
                  m->instance_id);
    metric(b, "oracled_start_time_seconds", "gauge", "When this process started (Unix time).");
    strbuf_printf(b, "oracled_start_time_seconds %.3f\n", (double)m->start_rt_ns / 1e9);

    metric(b, "oracled_requests_total", "counter", "Requests answered, by operation and result.");
    for (int op = 0; op < OPS_COUNTED_OPS; op++) {
        for (int r = 0; r < OPS_COUNTED_RESULTS; r++) {
            strbuf_printf(b, "oracled_requests_total{op=\"%s\",result=\"%s\"} %" PRIu64 "\n",
                          op_names[op], result_names[r], st->requests[op][r]);
        }
    }
    histogram(b, "oracled_commit_wait_seconds", "How long commit-waits held their reply.",
              st->commit_wait);
    histogram_with(b, "oracled_release_lateness_seconds",
                   "From the instant earliest passed a commit-waited timestamp to its reply "
                   "handed to the kernel.",
                   st->lateness, lateness_bucket_ns,
                   sizeof(lateness_bucket_ns) / sizeof(lateness_bucket_ns[0]));
    histogram_with(b, "oracled_release_lateness_at_release_seconds",
                   "The release lateness's first part: from the instant earliest passed the "
                   "timestamp to the clock reading that released it (the wake-up).",
                   st->late_at_release, lateness_bucket_ns,
                   sizeof(lateness_bucket_ns) / sizeof(lateness_bucket_ns[0]));
    histogram_with(b, "oracled_release_lateness_write_seconds",
                   "The release lateness's second part: from the clock reading that released it "
                   "to its reply handed to the kernel (the rest of the release pass: the waiters "
                   "released under the same reading, the writes).",
                   st->late_write, lateness_bucket_ns,
                   sizeof(lateness_bucket_ns) / sizeof(lateness_bucket_ns[0]));
    metric(b, "oracled_release_passes_total", "counter",
           "Release passes (one loop callback releasing every waiter due) that released one or "
           "more.");
    strbuf_printf(b, "oracled_release_passes_total %" PRIu64 "\n", st->release_passes);

    metric(b, "oracled_clock_status", "gauge", "The clock's status (1 for the current one).");
    for (int i = 0; i < 4; i++) {
        strbuf_printf(b, "oracled_clock_status{status=\"%s\"} %d\n", status_names[i],
                      (int)now.status == i);
    }
    metric(b, "oracled_clock_bound_seconds", "gauge",
           "The error bound now (+Inf before chrony first answered).");
    if (m->clock->have_poll) {
        strbuf_printf(b, "oracled_clock_bound_seconds %.9f\n", (double)now.bound_ns / 1e9);
    } else {
        strbuf_printf(b, "oracled_clock_bound_seconds +Inf\n");
    }
    gauge_u64(b, "oracled_ready", "1 while serving (started up, not draining).",
              (uint64_t)m->ready);
    gauge_u64(b, "oracled_draining", "1 once SIGTERM was received.", (uint64_t)m->draining);
    gauge_u64(b, "oracled_demo_time_source",
              "1 when chrony's source is a loopback NTP server (a demo).", (uint64_t)m->demo);

    gauge_u64(b, "oracled_connections",
              "Open client connections (not closing), against oracled_max_connections.",
              (uint64_t)m->admit.live);
    gauge_u64(b, "oracled_max_connections", "--max-connections.", (uint64_t)m->admit.max);
    gauge_u64(b, "oracled_max_connections_per_peer", "--max-connections-per-peer (0: no cap).",
              (uint64_t)m->admit.max_per_peer);
    gauge_u64(b, "oracled_connection_peers",
              "Peer addresses with connections open (counted with --max-connections-per-peer).",
              (uint64_t)m->admit.peers);
    counter_u64(b, "oracled_connections_accepted_total", "Client connections accepted.",
                m->conns.accepted);
    by_cap(b, "oracled_connections_evicted_total",
           "Idle connections closed, after an OVERLOADED frame, to make room at a cap: limit "
           "(--max-connections), peer_limit (--max-connections-per-peer).",
           m->admit.evicted);
    by_cap(b, "oracled_connections_rejected_total",
           "New connections refused, after an OVERLOADED frame, at a cap where no connection "
           "was idle: limit, peer_limit.",
           m->admit.refused);
    counter_u64(b, "oracled_clients_cut_off_total",
                "Clients cut off for not reading their replies (output cap or write timeout).",
                m->conns.cut_off);
    counter_u64(b, "oracled_connections_idle_closed_total",
                "Connections closed by the idle timeout.", m->conns.idle_closed);
    counter_u64(b, "oracled_bad_frames_total",
                "Connections closed for bad framing (over-long varint, length over the cap).",
                m->conns.bad_frames);
    gauge_u64(b, "oracled_pending_waits", "Commit-waits pending.", (uint64_t)st->pending);

    uint64_t last = st->last_issued;
    metric(b, "oracled_run_ahead_seconds", "gauge",
           "How far the last timestamp issued is ahead of the clock's latest.");
    double ahead = now.latest_ns > 0 && last > (uint64_t)now.latest_ns
                       ? (double)(last - (uint64_t)now.latest_ns) / 1e9
                       : 0.0;
    strbuf_printf(b, "oracled_run_ahead_seconds %.9f\n", ahead);
    if (m->reserve.enabled) {
        metric(b, "oracled_reservation_headroom_seconds", "gauge",
               "The durable high-water mark less the last timestamp issued.");
        uint64_t base = last > (uint64_t)now.latest_ns ? last : (uint64_t)now.latest_ns;
        double headroom =
            m->reserve.h_committed > base ? (double)(m->reserve.h_committed - base) / 1e9 : 0.0;
        strbuf_printf(b, "oracled_reservation_headroom_seconds %.9f\n", headroom);
        metric(b, "oracled_state_writes_total", "counter", "State file writes, by result.");
        strbuf_printf(b, "oracled_state_writes_total{result=\"ok\"} %" PRIu64 "\n",
                      m->reserve.writes);
        strbuf_printf(b, "oracled_state_writes_total{result=\"failed\"} %" PRIu64 "\n",
                      m->reserve.failures);
        histogram(b, "oracled_state_write_seconds",
                  "State file writes: write, fsync, rename, fsync of the directory.",
                  m->reserve.write_ns);
    }

    metric(b, "oracled_chrony_polls_total", "counter", "chrony tracking queries, by result.");
    strbuf_printf(b, "oracled_chrony_polls_total{result=\"ok\"} %" PRIu64 "\n", m->poller.polls_ok);
    strbuf_printf(b, "oracled_chrony_polls_total{result=\"failed\"} %" PRIu64 "\n",
                  m->poller.polls_failed);
    histogram(b, "oracled_chrony_poll_seconds", "chrony tracking queries: send to reply.",
              m->chrony_rtt);
    metric(b, "oracled_chrony_last_poll_age_seconds", "gauge",
           "Since the last successful chrony query (-1 before the first).");
    strbuf_printf(b, "oracled_chrony_last_poll_age_seconds %.6f\n",
                  now.poll_age_ns < 0 ? -1.0 : (double)now.poll_age_ns / 1e9);
    counter_u64(b, "oracled_bound_violations_total",
                "Times a new chrony sample showed the clock further off than the bound given "
                "before it.",
                m->bound_violations);
    metric(b, "oracled_bound_violation_max_seconds", "gauge",
           "The largest amount by which the bound was exceeded.");
    strbuf_printf(b, "oracled_bound_violation_max_seconds %.9f\n",
                  (double)m->worst_violation_ns / 1e9);
    chrony_measured(m, b);
    counter_u64(b, "oracled_http_requests_total", "HTTP requests answered.", m->httpd.requests);
    counter_u64(b, "oracled_http_rejected_total",
                "HTTP requests refused: malformed, too large, too slow (no complete head within "
                "1 s).",
                m->httpd.rejected);
    counter_u64(b, "oracled_http_connections_rejected_total",
                "New HTTP connections closed at the cap (--http-max-connections) because every "
                "one open was being answered.",
                m->httpd.refused);
    counter_u64(b, "oracled_http_evicted_total",
                "HTTP connections closed without a complete request head to make room for a new "
                "one at the cap (--http-max-connections): slow or idle peers holding the port.",
                m->httpd.evicted);
    counter_u64(b, "oracled_http_tls_refused_total",
                "HTTPS handshakes refused on the HTTP endpoint (--http-tls): no or a bad client "
                "certificate, no common version, not TLS after all.",
                m->httpd.tls_refused);
    gauge_u64(b, "oracled_http_connections",
              "HTTP connections open (not closing), against oracled_http_max_connections.",
              (uint64_t)m->httpd.active);
    gauge_u64(b, "oracled_http_max_connections", "--http-max-connections.", (uint64_t)m->httpd.max);
    const struct cbcompat_stats *cs = &m->cbcompat;
    metric(b, "oracled_clockbound_socket_requests_total", "counter",
           "ClockBound v1 socket requests: answered, malformed (error reply), from unbound "
           "clients (dropped), replies that could not be sent.");
    strbuf_printf(b,
                  "oracled_clockbound_socket_requests_total{result=\"answered\"} %" PRIu64 "\n"
                  "oracled_clockbound_socket_requests_total{result=\"malformed\"} %" PRIu64 "\n"
                  "oracled_clockbound_socket_requests_total{result=\"unbound\"} %" PRIu64 "\n"
                  "oracled_clockbound_socket_requests_total{result=\"send_failed\"} %" PRIu64 "\n",
                  cs->answered, cs->malformed, cs->unbound, cs->send_failed);
    counter_u64(
        b, "oracled_clockbound_shm_writes_total",
        "Writes of the ClockBound shared-memory segment (after each poll and status change).",
        cs->shm_writes);
    upstream_metrics(m, b);
    tls_metrics(m, b);
}

enum metrics_page metrics_page_of(const char *target)
{
    size_t path_len = strcspn(target, "?");
    if (path_len == strlen("/healthz") && strncmp(target, "/healthz", path_len) == 0) {
        return METRICS_HEALTH;
    }
    if (path_len == strlen("/metrics") && strncmp(target, "/metrics", path_len) == 0) {
        return METRICS_PROMETHEUS;
    }
    return METRICS_NOT_FOUND;
}

void metrics_answer(const struct metrics_snapshot *m, enum metrics_page page, int *status,
                    const char **content_type, struct strbuf *body)
{
    if (page == METRICS_HEALTH) {
        *status = metrics_health(m, body);
        *content_type = "application/json";
    } else if (page == METRICS_PROMETHEUS) {
        metrics_prometheus(m, body);
        *status = 200;
        *content_type = "text/plain; version=0.0.4; charset=utf-8";
    } else {
        *status = 404;
        strbuf_printf(body, "not found: try /healthz or /metrics\n");
    }
}
