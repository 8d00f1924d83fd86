/*
 * Integration: chrony fault models against the real oracled. Records every Now it gets from the
 * daemon, then judges them against the truth fake-chrony wrote in its events file (timeline mode:
 * fake_chrony_main.c, fake_timeline.h). Started by it_slew.sh, it_step_race.sh and
 * it_growth.sh:
 *
 *   it_faults HOST:PORT slew EVENTS GRACE_MS [PACE_US]
 *       until the first UNKNOWN after the slew's update; every trusted Now's half-width must
 *       cover |theta| at the server's own reading, theta the slew's truth (fake_slew_theta_ns).
 *       Also judges today's figure, the constant |correction| of the last answer plus D since
 *       it, as a control. FREE_RUNNING must be seen in the silence, UNKNOWN only after GRACE_MS.
 *   it_faults HOST:PORT race EVENTS [PACE_US]
 *       until SIGTERM; every trusted Now must contain the true time (the system clock, between
 *       the request and the reply), and after each step of the shared clock none may be trusted
 *       until chrony's next reference update.
 *   it_faults HOST:PORT growth EVENTS SECONDS D_PPB M_PPB [PACE_US]
 *       until SECONDS after the fake's last reference update; from that update on every
 *       trusted Now's half-width must be at least |correction| + delay/2 + dispersion at the
 *       update + D * (the server's reading - reference time). The same judged for today's
 *       formula (chrony's own growth taken as skew + |resid_freq| + M) as a control.
 *
 * Prints one line per finding and a `result ...` summary; exits 0 when the daemon passed, 1 when
 * it did not, 2 on a usage or setup error. PACE_US (default 1000) is the pause between Nows; with
 * IT_FAULTS_DUMP set, race also prints every Now around each step.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_timeline.h"
#include "it_util.h"
#include "wire.h"
#include "wire_client.h"

#define MS        INT64_C(1000000)
#define S         INT64_C(1000000000)
#define HARD_STOP (60 * S) /* no mode records for longer */
/* slew: how far from the fake's last answer + grace the first UNKNOWN may come. */
#define UNKNOWN_EARLY_SLACK (250 * MS)
#define UNKNOWN_LATE_SLACK  (1000 * MS)

enum { ST_UNKNOWN = 0, ST_SYNCHRONIZED = 1, ST_FREE_RUNNING = 2, ST_DISRUPTED = 3 };

static volatile sig_atomic_t terminated;

static void on_term(int sig)
{
    (void)sig;
    terminated = 1;
}

static void sleep_ns(int64_t ns)
{
    struct timespec d = {(time_t)(ns / S), (long)(ns % S)};
    nanosleep(&d, NULL);
}

/* Grows a vector to hold n + 1 elements; exits on failure (a test's memory). */
static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) {
        return v;
    }
    *cap = *cap ? *cap * 2 : 1024;
    v = realloc(v, *cap * size);
    if (v == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return v;
}

/* ---- the fake's events (the truth) ---- */

struct update_ev {
    int64_t sys_ns, fake_ns, offset_ns, ref_ns;
    unsigned requests;
    double corr_s, disp_s;
    char kind[16];
};

struct step_ev {
    int64_t sys_ns, old_ns, new_ns;
    unsigned requests;
};

struct answer_ev {
    int64_t sys_ns, ref_ns;
    unsigned request;
    double corr_s, delay_s, disp_s, skew_ppm, resid_ppm;
};

struct events {
    struct update_ev *updates;
    size_t n_updates, cap_updates;
    struct step_ev *steps;
    size_t n_steps, cap_steps;
    struct answer_ev *answers;
    size_t n_answers, cap_answers;
    bool have_slew;
    struct fake_slew_truth slew;
    int64_t silent_after_ns;
    bool have_silent;
    int64_t silent_sys_ns;
};

static void events_free(struct events *e)
{
    free(e->updates);
    free(e->steps);
    free(e->answers);
    memset(e, 0, sizeof(*e));
}

/* (Re)reads the events file. Returns 0, or -errno when it cannot be opened. */
static int events_load(struct events *e, const char *path)
{
    events_free(e);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -errno;
    }
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[strlen(line) - 1] != '\n') {
            break; /* a line being written */
        }
        if (strncmp(line, "update ", 7) == 0) {
            e->updates = grow(e->updates, &e->cap_updates, e->n_updates, sizeof(*e->updates));
            struct update_ev *u = &e->updates[e->n_updates];
            if (sscanf(line,
                       "update %" SCNd64 " %" SCNd64 " %" SCNd64 " %u %lf %lf %" SCNd64 " %15s",
                       &u->sys_ns, &u->fake_ns, &u->offset_ns, &u->requests, &u->corr_s, &u->disp_s,
                       &u->ref_ns, u->kind) == 8) {
                e->n_updates++;
            }
        } else if (strncmp(line, "step ", 5) == 0) {
            e->steps = grow(e->steps, &e->cap_steps, e->n_steps, sizeof(*e->steps));
            struct step_ev *s = &e->steps[e->n_steps];
            if (sscanf(line, "step %" SCNd64 " %" SCNd64 " %" SCNd64 " %u", &s->sys_ns, &s->old_ns,
                       &s->new_ns, &s->requests) == 4) {
                e->n_steps++;
            }
        } else if (strncmp(line, "answer ", 7) == 0) {
            e->answers = grow(e->answers, &e->cap_answers, e->n_answers, sizeof(*e->answers));
            struct answer_ev *a = &e->answers[e->n_answers];
            if (sscanf(line, "answer %" SCNd64 " %u %" SCNd64 " %lf %lf %lf %lf %lf", &a->sys_ns,
                       &a->request, &a->ref_ns, &a->corr_s, &a->delay_s, &a->disp_s, &a->skew_ppm,
                       &a->resid_ppm) == 8) {
                e->n_answers++;
            }
        } else if (strncmp(line, "slew ", 5) == 0) {
            int stopped = 0;
            if (sscanf(line, "slew %" SCNd64 " %lf %lf %d %" SCNd64, &e->slew.t_sys_ns,
                       &e->slew.correction_s, &e->slew.rate_ppm, &stopped,
                       &e->silent_after_ns) == 5) {
                e->slew.stopped = stopped != 0;
                e->have_slew = true;
            }
        } else if (strncmp(line, "silent ", 7) == 0) {
            e->have_silent = sscanf(line, "silent %" SCNd64, &e->silent_sys_ns) == 1;
        }
    }
    fclose(f);
    return 0;
}

/* The last answer at or before t (sys), or NULL. */
static const struct answer_ev *answer_before(const struct events *e, int64_t t)
{
    size_t lo = 0, hi = e->n_answers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->answers[mid].sys_ns <= t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo > 0 ? &e->answers[lo - 1] : NULL;
}

/* The last update at or before t (sys), or NULL. */
static const struct update_ev *update_before(const struct events *e, int64_t t)
{
    const struct update_ev *u = NULL;
    for (size_t i = 0; i < e->n_updates && e->updates[i].sys_ns <= t; i++) {
        u = &e->updates[i];
    }
    return u;
}

/* ---- the recorder ---- */

struct sample {
    int64_t t0_ns, t1_ns; /* the system clock around the request */
    int status;           /* the wire's ClockStatus */
    bool bounds;          /* a Bounds reply (else an error: untrusted) */
    int64_t earliest_ns, latest_ns;
};

struct recorder {
    const char *addr;
    struct wire_client c;
    bool connected;
    uint64_t id;
    struct sample *v;
    size_t n, cap;
    unsigned reconnects;
};

/* One Now; appends a sample unless the connection failed (then reconnects next time). */
static void record_one(struct recorder *r)
{
    if (!r->connected) {
        if (wc_connect_addr(&r->c, r->addr) < 0) {
            sleep_ns(10 * MS);
            return;
        }
        r->connected = true;
        r->reconnects++;
    }
    struct request q = wc_request(++r->id, REQ_OP_NOW);
    struct response resp;
    int64_t t0 = it_realtime_ns();
    int rc = wc_call(&r->c, &q, &resp, 2000);
    int64_t t1 = it_realtime_ns();
    if (rc < 0) {
        wc_close(&r->c);
        r->connected = false;
        return;
    }
    r->v = grow(r->v, &r->cap, r->n, sizeof(*r->v));
    struct sample *s = &r->v[r->n++];
    s->t0_ns = t0;
    s->t1_ns = t1;
    s->status = resp.clock_status;
    s->bounds = resp.kind == RESP_BOUNDS;
    s->earliest_ns = s->bounds ? (int64_t)resp.u.bounds.earliest_ns : 0;
    s->latest_ns = s->bounds ? (int64_t)resp.u.bounds.latest_ns : 0;
    if (!s->bounds) {
        /* The server closes the connection after a clock error. */
        wc_close(&r->c);
        r->connected = false;
    }
}

static bool trusted(const struct sample *s)
{
    return s->bounds && (s->status == ST_SYNCHRONIZED || s->status == ST_FREE_RUNNING);
}

static const char *status_name(int st)
{
    static const char *const names[] = {"UNKNOWN", "SYNCHRONIZED", "FREE_RUNNING", "DISRUPTED"};
    return st >= 0 && st <= 3 ? names[st] : "?";
}

/* The server's own reading and half-width: a Now is {rt - b, rt + b}. */
static int64_t mid_of(const struct sample *s)
{
    return s->earliest_ns + (s->latest_ns - s->earliest_ns) / 2;
}

static double half_of(const struct sample *s)
{
    return (double)(s->latest_ns - s->earliest_ns) / 2;
}

/* ---- slew ---- */

static int judge_slew(const struct recorder *r, const struct events *e, int64_t grace_ns)
{
    const struct fake_slew_truth *t = &e->slew;
    const double d_ppb = 50000; /* --max-drift-ppb's default, today's figure's growth */
    size_t checked = 0, violations = 0, control_violations = 0, control_checked = 0, after = 0;
    double worst = INFINITY, control_worst = INFINITY, after_worst = INFINITY;
    const struct sample *worst_s = NULL, *control_worst_s = NULL, *after_worst_s = NULL;
    for (size_t i = 0; i < r->n; i++) {
        const struct sample *s = &r->v[i];
        if (!trusted(s)) {
            continue;
        }
        int64_t mid = mid_of(s);
        double theta = fabs(fake_slew_theta_ns(t, mid));
        double margin = half_of(s) - theta;
        checked++;
        if (margin < 0) {
            if (violations < 5) {
                printf("VIOLATION: at T%+.6f s the bound %.0f ns is below |theta| %.0f ns (%s)\n",
                       (double)(mid - t->t_sys_ns) / 1e9, half_of(s), theta,
                       status_name(s->status));
            }
            violations++;
        }
        if (margin < worst) {
            worst = margin;
            worst_s = s;
        }
        if (mid >= t->t_sys_ns) {
            after++;
            if (margin < after_worst) {
                after_worst = margin;
                after_worst_s = s;
            }
        }
        /* The control: today's constant |correction| from the last answer, plus D since. */
        const struct answer_ev *a = answer_before(e, mid);
        if (a == NULL) {
            continue;
        }
        double figure = (fabs(a->corr_s) + a->delay_s / 2 + a->disp_s) * 1e9 +
                        d_ppb * 1e-9 * (double)(mid - a->sys_ns);
        double cm = figure - theta;
        control_checked++;
        if (cm < 0) {
            control_violations++;
        }
        if (cm < control_worst) {
            control_worst = cm;
            control_worst_s = s;
        }
    }
    /* The statuses: FREE_RUNNING in the silence, UNKNOWN once the grace has passed. */
    int64_t last_answer = e->n_answers ? e->answers[e->n_answers - 1].sys_ns : 0;
    bool free_running = false;
    const struct sample *unknown = NULL;
    for (size_t i = 0; i < r->n; i++) {
        const struct sample *s = &r->v[i];
        if (s->t0_ns > last_answer && s->status == ST_FREE_RUNNING) {
            free_running = true;
        }
        if (unknown == NULL && s->t0_ns > t->t_sys_ns && s->status == ST_UNKNOWN) {
            unknown = s;
        }
    }
    printf("slew C %+.9f s at %.0f ppm, silent %.3f s after T, %s: %zu trusted Nows of %zu "
           "(%u connections), worst margin %.0f ns\n",
           t->correction_s, t->rate_ppm, (double)e->silent_after_ns / 1e9,
           t->stopped ? "slew ended by chronyd" : "slewing on past zero", checked, r->n,
           r->reconnects, worst);
    if (worst_s != NULL) {
        printf("  worst at T%+.6f s: bound %.0f ns, |theta| %.0f ns\n",
               (double)(mid_of(worst_s) - t->t_sys_ns) / 1e9, half_of(worst_s),
               fabs(fake_slew_theta_ns(t, mid_of(worst_s))));
    }
    if (after_worst_s != NULL) {
        printf("  from T on: %zu trusted Nows, worst margin %.0f ns at T%+.6f s (bound %.0f ns, "
               "|theta| %.0f ns)\n",
               after, after_worst, (double)(mid_of(after_worst_s) - t->t_sys_ns) / 1e9,
               half_of(after_worst_s), fabs(fake_slew_theta_ns(t, mid_of(after_worst_s))));
    }
    printf("  control (today's figure, |C_last| + delay/2 + dispersion + D since the last "
           "answer): %zu of %zu Nows violated, worst margin %.0f ns",
           control_violations, control_checked, control_worst);
    if (control_worst_s != NULL) {
        printf(" at T%+.6f s", (double)(mid_of(control_worst_s) - t->t_sys_ns) / 1e9);
    }
    printf("\n");
    int rc = violations ? 1 : 0;
    if (!free_running) {
        printf("FAIL: no FREE_RUNNING Now after chrony's last answer\n");
        rc = 1;
    }
    if (unknown == NULL) {
        printf("FAIL: never UNKNOWN after the slew\n");
        rc = 1;
    } else {
        double after_ms = (double)(unknown->t1_ns - last_answer) / 1e6;
        printf("  UNKNOWN %.1f ms after chrony's last answer (grace %.0f ms)\n", after_ms,
               (double)grace_ns / 1e6);
        /* The grace runs from the last poll oracled took in, which may be a little before the
         * fake's last answer (a reply that comes after the next request is dropped). */
        if (unknown->t1_ns < last_answer + grace_ns - UNKNOWN_EARLY_SLACK ||
            unknown->t1_ns > last_answer + grace_ns + UNKNOWN_LATE_SLACK) {
            printf("FAIL: UNKNOWN not at the end of the grace period\n");
            rc = 1;
        }
    }
    printf("result checked=%zu violations=%zu min_margin_ns=%.0f after_t=%zu "
           "after_t_min_margin_ns=%.0f control_violations=%zu control_min_margin_ns=%.0f\n",
           checked, violations, worst, after, after_worst, control_violations, control_worst);
    return rc;
}

/* ---- race ---- */

static int judge_race(const struct recorder *r, const struct events *e)
{
    size_t checked = 0, violations = 0;
    double worst = INFINITY;
    for (size_t i = 0; i < r->n; i++) {
        const struct sample *s = &r->v[i];
        if (!trusted(s)) {
            continue;
        }
        checked++;
        /* Certainly wrong only if the whole request-to-reply interval is outside. */
        double margin =
            fmin((double)(s->t1_ns - s->earliest_ns), (double)(s->latest_ns - s->t0_ns));
        worst = fmin(worst, margin);
        if (margin < 0) {
            if (violations < 5) {
                printf("VIOLATION: %s Now [%" PRId64 ", %" PRId64
                       "] (bound %.0f ns) misses the true "
                       "time [%" PRId64 ", %" PRId64 "] by %.0f ns\n",
                       status_name(s->status), s->earliest_ns, s->latest_ns, half_of(s), s->t0_ns,
                       s->t1_ns, -margin);
            }
            violations++;
        }
    }
    size_t early = 0;
    for (size_t k = 0; k < e->n_steps; k++) {
        const struct step_ev *st = &e->steps[k];
        const struct update_ev *before = update_before(e, st->sys_ns);
        const struct update_ev *next = NULL;
        for (size_t i = 0; i < e->n_updates; i++) {
            if (e->updates[i].sys_ns > st->sys_ns) {
                next = &e->updates[i];
                break;
            }
        }
        bool raced = before != NULL && before->requests == st->requests &&
                     before->offset_ns == st->old_ns && strcmp(before->kind, "forced") == 0;
        /* The first untrusted Now after the step: the daemon has seen it. */
        const struct sample *seen = NULL, *back = NULL;
        size_t trusted_between = 0;
        for (size_t i = 0; i < r->n; i++) {
            const struct sample *s = &r->v[i];
            if (seen == NULL) {
                if (s->t0_ns > st->sys_ns && !trusted(s)) {
                    seen = s;
                }
                continue;
            }
            if (back == NULL && trusted(s)) {
                back = s;
            }
            if (next != NULL && s->t1_ns < next->sys_ns) {
                trusted_between += trusted(s);
            }
        }
        if (getenv("IT_FAULTS_DUMP") != NULL) {
            for (size_t i = 0; i < r->n; i++) {
                const struct sample *s = &r->v[i];
                if (s->t0_ns > st->sys_ns - 5 * MS && s->t0_ns < st->sys_ns + 10 * MS) {
                    printf("  %+.3f ms %s %s mid %+.3f ms\n", (double)(s->t0_ns - st->sys_ns) / 1e6,
                           status_name(s->status), s->bounds ? "bounds" : "error",
                           s->bounds ? (double)(mid_of(s) - s->t0_ns) / 1e6 : 0.0);
                }
            }
        }
        printf("step %+.1f ms at %" PRId64 ": %s", (double)(st->new_ns - st->old_ns) / 1e6,
               st->sys_ns, raced ? "raced a reference update" : "NOT raced (a poll came between)");
        if (raced) {
            printf(" made %.2f ms before it", (double)(st->sys_ns - before->sys_ns) / 1e6);
        }
        if (seen != NULL) {
            printf("; untrusted (%s) %.2f ms after", status_name(seen->status),
                   (double)(seen->t1_ns - st->sys_ns) / 1e6);
        }
        if (next != NULL) {
            printf("; chrony's next update %.1f ms after",
                   (double)(next->sys_ns - st->sys_ns) / 1e6);
        }
        if (back != NULL) {
            printf("; trusted again %.1f ms after, bound %.3f ms",
                   (double)(back->t0_ns - st->sys_ns) / 1e6, half_of(back) / 1e6);
        }
        printf("; %zu trusted Nows before that update\n", trusted_between);
        if (seen == NULL) {
            printf("FAIL: the daemon never went untrusted after the step\n");
            early++;
        }
        if (trusted_between > 0) {
            printf("FAIL: trusted before chrony measured the clock again\n");
            early++;
        }
    }
    printf("race: %zu trusted Nows of %zu (%u connections), %zu outside the true time, worst "
           "margin %.0f ns\n",
           checked, r->n, r->reconnects, violations, worst);
    printf("result checked=%zu violations=%zu min_margin_ns=%.0f early=%zu\n", checked, violations,
           worst, early);
    return violations || early ? 1 : 0;
}

/* ---- growth ---- */

static const struct update_ev *last_update_of(const struct events *e)
{
    for (size_t i = 0; i < e->n_updates; i++) {
        if (strcmp(e->updates[i].kind, "last") == 0) {
            return &e->updates[i];
        }
    }
    return NULL;
}

static int judge_growth(const struct recorder *r, const struct events *e, int64_t after_ns,
                        double d_ppb, double m_ppb)
{
    const struct update_ev *last = last_update_of(e);
    if (last == NULL || e->n_answers == 0) {
        printf("FAIL: no last update or no answers in the events\n");
        return 2;
    }
    double delay_s = e->answers[0].delay_s;
    size_t checked = 0, late = 0, violations = 0, control_violations = 0, earlier = 0;
    double worst = INFINITY, control_worst = INFINITY, earlier_worst = INFINITY;
    double late_worst = INFINITY;
    const struct sample *final = NULL;
    double final_required = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct sample *s = &r->v[i];
        if (!trusted(s)) {
            continue;
        }
        int64_t mid = mid_of(s);
        const struct update_ev *u = update_before(e, mid);
        const struct answer_ev *a = answer_before(e, mid);
        if (u == NULL || a == NULL) {
            continue;
        }
        double required = (fabs(u->corr_s) + delay_s / 2 + u->disp_s) * 1e9 +
                          d_ppb * 1e-9 * (double)(mid - u->ref_ns);
        double margin = half_of(s) - required;
        if (mid < last->sys_ns) {
            /* Before the last update: reported, not judged (until oracled has measured chrony's
             * growth, the configured maxclockerror is all it has). */
            earlier++;
            earlier_worst = fmin(earlier_worst, margin);
            continue;
        }
        checked++;
        if (mid >= last->sys_ns + after_ns) {
            late++;
            late_worst = fmin(late_worst, margin);
            final = s;
            final_required = required;
        }
        if (margin < 0) {
            if (violations < 5) {
                printf("VIOLATION: %.3f s after the last update the bound %.0f ns is below %.0f "
                       "ns\n",
                       (double)(mid - last->sys_ns) / 1e9, half_of(s), required);
            }
            violations++;
        }
        worst = fmin(worst, margin);
        /* Today's formula from the fake's last answer (its query time taken as the answer's). */
        double chrony_ppb = (a->skew_ppm + fabs(a->resid_ppm)) * 1e3 + m_ppb;
        double age_ns = (double)(a->sys_ns - a->ref_ns) + a->corr_s * 1e9;
        double today = (fabs(a->corr_s) + a->delay_s / 2 + a->disp_s) * 1e9 +
                       fmax(0, d_ppb - chrony_ppb) * 1e-9 * fmax(0, age_ns) +
                       fmax(d_ppb, chrony_ppb) * 1e-9 * (double)(mid - a->sys_ns);
        double cm = today - required;
        control_worst = fmin(control_worst, cm);
        control_violations += cm < 0;
    }
    if (final == NULL) {
        printf("FAIL: no trusted Now %.1f s after the last update\n", (double)after_ns / 1e9);
        return 1;
    }
    printf("growth: %zu trusted Nows after chrony's last update, worst margin %.0f ns; %zu of "
           "them %.0f s or more after it, worst margin %.0f ns; at %.3f s the bound was %.0f ns "
           "(at least %.0f ns required). Before the last update: %zu Nows, worst margin %.0f ns "
           "(not judged)\n",
           checked, worst, late, (double)after_ns / 1e9, late_worst,
           (double)(mid_of(final) - last->sys_ns) / 1e9, half_of(final), final_required, earlier,
           earlier_worst);
    printf("  control (today's formula with M = %.0f ppb): %zu of %zu Nows violated, worst "
           "margin %.0f ns\n",
           m_ppb, control_violations, checked, control_worst);
    printf("result checked=%zu violations=%zu min_margin_ns=%.0f control_violations=%zu "
           "control_min_margin_ns=%.0f\n",
           checked, violations, worst, control_violations, control_worst);
    return violations ? 1 : 0;
}

/* ---- main ---- */

static int usage(void)
{
    fprintf(stderr, "usage: it_faults HOST:PORT slew EVENTS GRACE_MS [PACE_US]\n"
                    "       it_faults HOST:PORT race EVENTS [PACE_US]\n"
                    "       it_faults HOST:PORT growth EVENTS SECONDS D_PPB M_PPB [PACE_US]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        return usage();
    }
    const char *mode = argv[2];
    const char *path = argv[3];
    int64_t grace_ns = 0, after_ns = 0;
    double d_ppb = 0, m_ppb = 0;
    int pace_arg;
    if (strcmp(mode, "slew") == 0 && (argc == 5 || argc == 6)) {
        grace_ns = (int64_t)(atof(argv[4]) * 1e6);
        pace_arg = 5;
    } else if (strcmp(mode, "race") == 0 && (argc == 4 || argc == 5)) {
        pace_arg = 4;
    } else if (strcmp(mode, "growth") == 0 && (argc == 7 || argc == 8)) {
        after_ns = (int64_t)(atof(argv[4]) * 1e9);
        d_ppb = atof(argv[5]);
        m_ppb = atof(argv[6]);
        pace_arg = 7;
    } else {
        return usage();
    }
    int64_t pace_ns = argc > pace_arg ? (int64_t)atoi(argv[pace_arg]) * 1000 : 1 * MS;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct recorder r;
    memset(&r, 0, sizeof(r));
    r.addr = argv[1];
    struct events e;
    memset(&e, 0, sizeof(e));
    int64_t start = it_realtime_ns();
    int64_t reload_at = 0;
    bool done = false;
    while (!terminated && !done) {
        size_t before = r.n;
        record_one(&r);
        int64_t now = it_realtime_ns();
        if (now - start > HARD_STOP) {
            fprintf(stderr, "it_faults: still recording after %" PRId64 " s\n", HARD_STOP / S);
            return 2;
        }
        if (now >= reload_at && strcmp(mode, "race") != 0) {
            events_load(&e, path);
            reload_at = now + 50 * MS;
        }
        const struct sample *s = r.n > before ? &r.v[r.n - 1] : NULL;
        if (strcmp(mode, "slew") == 0) {
            done =
                e.have_slew && s != NULL && s->t0_ns > e.slew.t_sys_ns && s->status == ST_UNKNOWN;
        } else if (strcmp(mode, "growth") == 0) {
            const struct update_ev *last = last_update_of(&e);
            done = last != NULL && s != NULL && s->t0_ns > last->sys_ns + after_ns + 200 * MS;
        }
        sleep_ns(pace_ns);
    }
    if (r.connected) {
        wc_close(&r.c);
    }
    if (events_load(&e, path) < 0) {
        fprintf(stderr, "it_faults: cannot read %s\n", path);
        return 2;
    }
    int rc;
    if (strcmp(mode, "slew") == 0) {
        rc = e.have_slew ? judge_slew(&r, &e, grace_ns) : 2;
    } else if (strcmp(mode, "race") == 0) {
        rc = judge_race(&r, &e);
    } else {
        rc = judge_growth(&r, &e, after_ns, d_ppb, m_ppb);
    }
    events_free(&e);
    free(r.v);
    return rc;
}
