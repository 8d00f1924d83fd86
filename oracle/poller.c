/* chrony poller on the libuv loop (see poller.h). */
#include "poller.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "errtext.h"
#include "log.h"
#include "util.h"

static void fail(struct poller *p, int err, const char *why)
{
    struct cb_reading r;
    cb_clock_read(p->clock, &r);
    cb_on_poll_failure(p->state, &r, err);
    p->polls_failed++;
    p->failures_unlogged++;
    /* The first failure after a success is logged at once; while chrony stays away, a reminder
     * every POLLER_LOG_EVERY_NS, not one line per poll. */
    if (p->last_error == 0 || r.mono_ns - p->logged_mono_ns >= POLLER_LOG_EVERY_NS) {
        log_warn("chrony poll failed: %s (%" PRIu64 " failure%s since the last report)",
                 why != NULL ? why : err_text(err), p->failures_unlogged,
                 p->failures_unlogged == 1 ? "" : "s");
        p->logged_mono_ns = r.mono_ns;
        p->failures_unlogged = 0;
    }
    p->last_error = err;
    p->last_why = why;
    /* A hard error ends the attempt: the next tick starts a fresh one. */
    p->unanswered = 0;
    p->cb(p);
}

/* --- RESET_SOURCES and BURST after a VMClock disruption --- */

static void reset_send(struct poller *p)
{
    int rc = p->reset_step == 1
                 ? chrony_client_send_reset_sources(p->client, (uint16_t)p->reset_tries)
                 : chrony_client_send_burst(p->client, CHRONY_BURST_GOOD_SAMPLES,
                                            CHRONY_BURST_TOTAL_SAMPLES, (uint16_t)p->reset_tries);
    p->reset_tries++;
    p->reset_sent_mono_ns = cb_clock_ns(p->clock, CB_CLOCK_MONOTONIC);
    if (rc < 0) {
        log_warn_errno(rc, "chrony %s: cannot send",
                       p->reset_step == 1 ? "RESET_SOURCES" : "BURST");
    }
}

void poller_reset_chrony(struct poller *p)
{
    if (p->client == NULL) {
        return;
    }
    p->reset_step = 1;
    p->reset_tries = 0;
    reset_send(p);
}

/* A reply to RESET_SOURCES or BURST (rc 0: done). */
static void reset_answered(struct poller *p, enum chrony_reply_kind kind, int rc, const char *why)
{
    bool reset = kind == CHRONY_REPLY_RESET_SOURCES;
    if ((reset && p->reset_step != 1) || (!reset && p->reset_step != 2)) {
        return; /* a late answer to an attempt already given up */
    }
    if (rc == 0) {
        if (reset) {
            p->resets_ok++;
            log_info("chrony dropped its samples (RESET_SOURCES) after the disruption; asking "
                     "for new ones at once (BURST)");
            p->reset_step = 2;
            p->reset_tries = 0;
            reset_send(p);
        } else {
            p->reset_step = 0;
        }
        return;
    }
    p->reset_step = 0;
    if (!reset) {
        log_warn("chrony BURST after the disruption: %s", why != NULL ? why : err_text(rc));
        return;
    }
    p->resets_failed++;
    bool udp = chrony_client_local_path(p->client)[0] == '\0';
    if (!p->reset_refused_logged) {
        p->reset_refused_logged = true;
        log_warn("chrony refused RESET_SOURCES after the disruption (%s)%s: chrony keeps its "
                 "samples from before it; the clock stays DISRUPTED until chrony has measured %d "
                 "times since (logged once)",
                 why != NULL ? why : err_text(rc),
                 udp ? ": chronyd allows it only on its unix socket (--chrony "
                       "unix:/run/chrony/chronyd.sock, as a user that may use it)"
                     : "",
                 CB_VMCLOCK_UPDATES);
    }
}

/* On the poll timer: an unanswered RESET_SOURCES or BURST is sent again, up to a limit. */
static void reset_tick(struct poller *p)
{
    if (p->reset_step == 0 || cb_clock_ns(p->clock, CB_CLOCK_MONOTONIC) - p->reset_sent_mono_ns <
                                  POLLER_RESET_TIMEOUT_NS) {
        return;
    }
    if (p->reset_tries < POLLER_RESET_TRIES) {
        reset_send(p);
        return;
    }
    if (p->reset_step == 1) {
        p->resets_failed++;
    }
    log_warn("chrony did not answer %s after the disruption (%d tries)",
             p->reset_step == 1 ? "RESET_SOURCES" : "BURST", POLLER_RESET_TRIES);
    p->reset_step = 0;
}

static void on_tick(uv_timer_t *h)
{
    struct poller *p = container_of(h, struct poller, timer);
    reset_tick(p);
    if (p->unanswered >= POLLER_ATTEMPTS) {
        fail(p, -ETIMEDOUT, "no reply from chronyd");
        p->unanswered = 0;
    }
    p->sent_coarse_ns = cb_clock_ns(p->clock, CB_CLOCK_MONOTONIC_COARSE);
    int rc = chrony_client_send(p->client, (uint16_t)p->unanswered);
    if (rc < 0) {
        fail(p, rc, NULL);
        return;
    }
    p->unanswered++;
}

/* --- NTPDATA: the reference's NTP server --- */

static size_t addr_len(uint16_t family)
{
    return family == CHRONY_ADDR_INET4 ? 4 : family == CHRONY_ADDR_INET6 ? 16 : 0;
}

static void addr_text(uint16_t family, const uint8_t *addr, char *buf, size_t len)
{
    if (inet_ntop(family == CHRONY_ADDR_INET4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)len) ==
        NULL) {
        snprintf(buf, len, "?");
    }
}

/* A reference ID as chronyc would name it: LOCL for chrony's local fallback, the text of a
 * refclock's ID ("GPS", "PHC0"), else the IPv4 address a stratum 2+ server's ID stands for. */
static void refid_text(uint32_t id, char *buf, size_t len)
{
    if (id == CHRONY_REFID_LOCAL) {
        snprintf(buf, len, "LOCL, its own local clock");
        return;
    }
    char text[5] = {(char)(id >> 24), (char)(id >> 16), (char)(id >> 8), (char)id, '\0'};
    bool printable = text[0] >= 'A' && text[0] <= 'Z';
    bool ended = false;
    for (int i = 1; i < 4 && printable; i++) {
        ended = ended || text[i] == '\0';
        printable = ended ? text[i] == '\0' : text[i] >= 0x20 && text[i] < 0x7f;
    }
    if (printable) {
        snprintf(buf, len, "%s", text);
    } else {
        snprintf(buf, len, "%u.%u.%u.%u", id >> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff);
    }
}

static void ntpdata_fail(struct poller *p, int err, const char *why)
{
    p->nd_pending = false;
    p->ntpdata_failed++;
    p->ntpdata_error = err;
    p->ntpdata_why = why;
    p->nd_retry_mono_ns = cb_clock_ns(p->clock, CB_CLOCK_MONOTONIC) + POLLER_NTPDATA_RETRY_NS;
    if (p->ntpdata_warned) {
        return;
    }
    p->ntpdata_warned = true;
    bool udp = chrony_client_local_path(p->client)[0] == '\0';
    if (err == -EREMOTEIO && why != NULL && strcmp(why, "unauthorised") == 0 && udp) {
        log_warn("chronyd refuses NTPDATA over UDP (unauthorised: it answers NTPDATA only on its "
                 "unix socket), so whether the upstream NTP server has fallen back to its own "
                 "local clock cannot be checked (the clock is not refused for this); to make the "
                 "check, use --chrony unix:/run/chrony/chronyd.sock");
    } else {
        log_warn("chrony NTPDATA query failed: %s, so whether the upstream NTP server has fallen "
                 "back to its own local clock cannot be checked (the clock is not refused for "
                 "this; retrying every %" PRId64 " s)",
                 why != NULL ? why : err_text(err), POLLER_NTPDATA_RETRY_NS / 1000000000);
    }
}

static void ntpdata_answered(struct poller *p, const struct chrony_ntpdata *nd)
{
    p->nd_pending = false;
    p->ntpdata_ok++;
    p->nd_answered = true;
    p->nd_family = p->nd_ask_family;
    memcpy(p->nd_addr, p->nd_ask_addr, sizeof(p->nd_addr));
    p->nd_ref_time_ns = p->nd_ask_ref_time_ns;
    if (p->ntpdata_error != 0) {
        log_info("chrony answers NTPDATA again: the upstream check is made again");
    }
    p->ntpdata_error = 0;
    p->ntpdata_why = NULL;
    p->ntpdata_warned = false;
    p->nd_retry_mono_ns = 0;
    cb_on_upstream(p->state, nd);
    if (!p->nd_logged || p->nd_logged_family != nd->addr_family ||
        memcmp(p->nd_logged_addr, nd->addr, sizeof(p->nd_logged_addr)) != 0 ||
        p->nd_logged_ref_id != nd->ref_id) {
        char addr[64];
        char refid[40];
        addr_text(nd->addr_family, nd->addr, addr, sizeof(addr));
        refid_text(nd->ref_id, refid, sizeof(refid));
        const char *verdict = "";
        if (nd->ref_id == CHRONY_REFID_LOCAL) {
            verdict = cb_upstream_local(p->state)
                          ? ": the clock is not trusted while it is the reference"
                          : ": not refused while it is a loopback (demo) source";
        }
        log_info("chrony's upstream NTP server %s: reference ID %08" PRIX32 " (%s), stratum %u%s",
                 addr, nd->ref_id, refid, (unsigned)nd->stratum, verdict);
        p->nd_logged = true;
        p->nd_logged_family = nd->addr_family;
        memcpy(p->nd_logged_addr, nd->addr, sizeof(p->nd_logged_addr));
        p->nd_logged_ref_id = nd->ref_id;
    }
    if (p->upstream_cb != NULL) {
        p->upstream_cb(p);
    }
}

/* After a successful poll: ask NTPDATA about an NTP reference when its address or chrony's
 * reference time changed since the last answer (a new reference update is when a fallen-back
 * upstream starts to matter). Refclocks have no address and no NTPDATA. */
static void maybe_ask_upstream(struct poller *p, const struct chrony_tracking *t)
{
    size_t n = addr_len(t->addr_family);
    if (n == 0) {
        return;
    }
    int64_t now_ns = cb_clock_ns(p->clock, CB_CLOCK_MONOTONIC);
    if (p->nd_pending) {
        if (now_ns - p->nd_sent_mono_ns < POLLER_NTPDATA_TIMEOUT_NS) {
            return;
        }
        ntpdata_fail(p, -ETIMEDOUT, "no reply to NTPDATA from chronyd");
    }
    if (p->nd_answered && p->nd_family == t->addr_family && memcmp(p->nd_addr, t->addr, n) == 0 &&
        p->nd_ref_time_ns == t->ref_time_ns) {
        return;
    }
    if (now_ns < p->nd_retry_mono_ns) {
        return;
    }
    p->nd_ask_family = t->addr_family;
    memset(p->nd_ask_addr, 0, sizeof(p->nd_ask_addr));
    memcpy(p->nd_ask_addr, t->addr, n);
    p->nd_ask_ref_time_ns = t->ref_time_ns;
    p->nd_sent_mono_ns = now_ns;
    int rc = chrony_client_send_ntpdata(p->client, p->nd_ask_family, p->nd_ask_addr, 0);
    if (rc < 0) {
        ntpdata_fail(p, rc, NULL);
        return;
    }
    p->nd_pending = true;
}

/* A misconfiguration that would leave the PHC's own error out of the bound without a word:
 * chrony's reference is a refclock (no address) named like a PHC ("PHC0", "PHC1", ...) while no
 * PHC error bound is set up, or a refclock other than --phc-refid while one is. Warned once per
 * reference ID. */
static void note_refclock(struct poller *p, const struct cb_poll *s)
{
    const struct chrony_tracking *t = &s->tracking;
    bool refclock = t->addr_family != CHRONY_ADDR_INET4 && t->addr_family != CHRONY_ADDR_INET6;
    bool phc_named = (t->ref_id >> 8) == (CB_PHC_DEFAULT_REFID >> 8); /* "PHC" and any 4th */
    if (!refclock || t->ref_id == CHRONY_REFID_LOCAL || t->ref_id == p->refclock_warned ||
        (s->phc.configured && t->ref_id == p->phc_ref_id) || (!s->phc.configured && !phc_named)) {
        return;
    }
    p->refclock_warned = t->ref_id;
    char refid[40];
    refid_text(t->ref_id, refid, sizeof(refid));
    if (s->phc.configured) {
        char want[40];
        refid_text(p->phc_ref_id, want, sizeof(want));
        log_warn("chrony's reference is the refclock %s, not --phc-refid %s: the PHC's own error "
                 "bound is not added while it is (if %s is the PHC, set --phc-refid %s)",
                 refid, want, refid, refid);
    } else {
        log_warn("chrony's reference is the refclock %s, a PTP hardware clock by its name, but "
                 "no --phc-interface or --phc-error-bound-file is set: the PHC's own error is not "
                 "in the bound (chrony's dispersion leaves it out)",
                 refid);
    }
}

/* Logs when the PHC becomes or stops being the reference, and when its error bound cannot be
 * used while it is: once per change. */
static void note_phc(struct poller *p, enum cb_phc_verdict before, const struct cb_phc_reading *r)
{
    enum cb_phc_verdict v = p->state->phc_verdict;
    if (v == before || !r->configured) {
        return;
    }
    /* A file that flaps would otherwise write a line per poll: after a line about a bad value,
     * none for POLLER_LOG_EVERY_NS (counted, and the count said with the next line). */
    int64_t now_ns = cb_clock_ns(p->clock, CB_CLOCK_MONOTONIC);
    if (p->phc_logged_mono_ns != 0 && now_ns - p->phc_logged_mono_ns < POLLER_LOG_EVERY_NS) {
        p->phc_unlogged++;
        return;
    }
    if (p->phc_unlogged > 0) {
        log_info("PHC error bound: %" PRIu64 " more change%s of its verdict not logged",
                 p->phc_unlogged, p->phc_unlogged == 1 ? "" : "s");
        p->phc_unlogged = 0;
    }
    bool bad = v != CB_PHC_ADDED && v != CB_PHC_NOT_REFERENCE;
    p->phc_logged_mono_ns = bad ? now_ns : 0;
    char refid[40];
    refid_text(r->ref_id, refid, sizeof(refid));
    switch (v) {
    case CB_PHC_ADDED:
        log_info("chrony's reference is the PHC (%s): its own error bound, now %" PRId64
                 " ns (%s), is added to the bound",
                 refid, r->error_bound_ns, p->phc.path);
        return;
    case CB_PHC_NOT_REFERENCE:
        log_info("chrony's reference is no longer the PHC (%s): its error bound is not added",
                 refid);
        return;
    case CB_PHC_UNREADABLE:
        log_warn("%s (%s: %s): the clock is UNKNOWN while the PHC (%s) is chrony's reference",
                 cb_phc_verdict_text(v), p->phc.path, err_text(r->error), refid);
        return;
    case CB_PHC_EMPTY:
    case CB_PHC_INVALID:
    case CB_PHC_NEGATIVE:
    case CB_PHC_ABSURD:
        if (r->error == 0) {
            log_warn("%s (%s: %" PRId64 " ns): the clock is UNKNOWN while the PHC (%s) is "
                     "chrony's reference",
                     cb_phc_verdict_text(v), p->phc.path, r->error_bound_ns, refid);
        } else {
            log_warn("%s (%s): the clock is UNKNOWN while the PHC (%s) is chrony's reference",
                     cb_phc_verdict_text(v), p->phc.path, refid);
        }
        return;
    }
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct poller *p = container_of(h, struct poller, poll);
    if (status < 0) {
        /* libuv reports a socket error (an ICMP "port unreachable" from a chronyd that is
         * gone) as UV_EBADF and stops the handle. Read the error off the socket below and
         * start the handle again, or no reply would ever be read once chronyd is back. */
        int rc = uv_poll_start(&p->poll, UV_READABLE, on_readable);
        if (rc < 0) {
            log_err_errno(rc, "chrony socket: cannot poll again");
        }
    }
    for (;;) {
        struct chrony_reply reply;
        const char *why = NULL;
        int rc = chrony_client_recv_reply(p->client, &reply, &why);
        if (rc == -EAGAIN) {
            return;
        }
        if (rc == -ESTALE) {
            continue; /* a late reply to an earlier request */
        }
        if (reply.kind == CHRONY_REPLY_RESET_SOURCES || reply.kind == CHRONY_REPLY_BURST) {
            reset_answered(p, reply.kind, rc, why);
            continue;
        }
        if (reply.kind == CHRONY_REPLY_NTPDATA) {
            if (rc < 0) {
                ntpdata_fail(p, rc, why);
            } else {
                ntpdata_answered(p, &reply.ntpdata);
            }
            continue;
        }
        if (rc < 0) {
            fail(p, rc, why);
            continue;
        }
        struct cb_poll sample = reply.poll;
        p->unanswered = 0;
        enum cb_phc_verdict phc_before = p->state->phc_verdict;
        cb_phc_take(&p->phc, p->phc_ref_id, &sample.phc);
        p->polls_ok++;
        p->last_rtt_ns = sample.recv_rt_ns - sample.sent.rt_ns;
        if (p->last_error != 0) {
            log_info("chrony answers again (%" PRIu64 " failures since the last report)",
                     p->failures_unlogged);
            p->failures_unlogged = 0;
        }
        p->last_error = 0;
        p->last_why = NULL;
        cb_on_poll(p->state, &sample);
        note_phc(p, phc_before, &sample.phc);
        note_refclock(p, &sample);
        p->cb(p);
        maybe_ask_upstream(p, &sample.tracking);
    }
}

int poller_init(struct poller *p, uv_loop_t *loop, const struct chrony_addr *addr,
                struct cb_clock *clock, struct cb_state *state, int64_t interval_ns, poller_cb *cb)
{
    memset(p, 0, sizeof(*p));
    cb_phc_init(&p->phc);
    p->loop = loop;
    p->clock = clock;
    p->state = state;
    p->cb = cb;
    p->interval_ns = interval_ns;
    int err = 0;
    p->client = chrony_client_new(addr, clock, &err);
    if (p->client == NULL) {
        return err;
    }
    int rc = uv_poll_init(loop, &p->poll, chrony_client_fd(p->client));
    if (rc < 0) {
        chrony_client_free(p->client);
        p->client = NULL;
        return rc;
    }
    uv_timer_init(loop, &p->timer);
    p->handles = true;
    return 0;
}

int poller_set_phc(struct poller *p, const char *iface, const char *file, uint32_t ref_id,
                   char *why, size_t cap)
{
    p->phc_ref_id = ref_id;
    return cb_phc_open_setting(&p->phc, iface, file, why, cap);
}

int poller_start(struct poller *p)
{
    int rc = uv_poll_start(&p->poll, UV_READABLE, on_readable);
    if (rc < 0) {
        return rc;
    }
    uint64_t ms = (uint64_t)((p->interval_ns + 999999) / 1000000);
    return uv_timer_start(&p->timer, on_tick, 0, ms);
}

/* The handles are closed (or never were): the socket and the PHC's file go. */
static void on_closed(struct uvclose *u)
{
    struct poller *p = container_of(u, struct poller, closer);
    chrony_client_free(p->client);
    p->client = NULL;
    if (p->loop != NULL) {
        cb_phc_close(&p->phc); /* (a zeroed poller's descriptor 0 is not its own) */
    }
    if (p->close_cb != NULL) {
        p->close_cb(p);
    }
}

void poller_close(struct poller *p, void (*close_cb)(struct poller *p))
{
    if (p->close_called) {
        return;
    }
    p->close_called = true;
    p->close_cb = close_cb;
    uv_handle_t *handles[] = {(uv_handle_t *)&p->timer, (uv_handle_t *)&p->poll};
    uvclose_all(&p->closer, handles, p->handles ? 2 : 0, on_closed);
}

void poller_stats(const struct poller *p, struct poller_stats *out)
{
    out->polls_ok = p->polls_ok;
    out->polls_failed = p->polls_failed;
    out->ntpdata_ok = p->ntpdata_ok;
    out->ntpdata_failed = p->ntpdata_failed;
    out->ntpdata_error = p->ntpdata_error;
    out->ntpdata_why = p->ntpdata_why;
}
