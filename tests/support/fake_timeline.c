/* A fake chronyd's timeline (see fake_timeline.h). Pure. */
#include "fake_timeline.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define NS_PER_S 1e9

int fake_timeline_check(const struct fake_timeline_params *p, bool any_slew, const char **why)
{
    const char *bad = NULL;
    double c = fabs(p->slew_correction_s);
    if (p->update_every_ns <= 0) {
        bad = "the update interval must be positive";
    } else if (p->root_delay_s < 0 || p->root_dispersion_s < 0 || p->growth_ppm < 0) {
        bad = "delay, dispersion and their growth cannot be negative";
    } else if (c > 0 && !(p->slew_rate_ppm > 0)) {
        bad = "a slew needs a positive rate";
    } else if (c > 0 && p->before_slew_dispersion_s < c) {
        bad = "the dispersion before the slew must cover its correction";
    } else if (c > 0 && !any_slew &&
               c / (p->slew_rate_ppm * 1e-6) < FAKE_MIN_SLEW_NS / NS_PER_S - 1e-9) {
        bad = "chrony never slews for less than 1 s (MIN_SLEW_DURATION): correction / rate < 1 s";
    } else if (c > 0 && !any_slew && p->slew_rate_ppm > FAKE_MAX_SLEW_RATE_PPM * (1 + 1e-9)) {
        bad = "faster than chrony's default maxslewrate (83,333 ppm)";
    }
    if (bad != NULL) {
        if (why != NULL) {
            *why = bad;
        }
        return -EINVAL;
    }
    return 0;
}

void fake_timeline_init(struct fake_timeline *tl, const struct fake_timeline_params *p,
                        int64_t now_sys_ns, int64_t offset_ns)
{
    memset(tl, 0, sizeof(*tl));
    tl->p = *p;
    fake_timeline_update(tl, now_sys_ns, offset_ns);
}

int64_t fake_timeline_next(const struct fake_timeline *tl)
{
    return tl->next_sys_ns;
}

static void set_update(struct fake_timeline *tl, int64_t at_sys_ns, int64_t offset_ns,
                       double corr_s, double disp_s, double rate_ppm)
{
    tl->updates++;
    tl->update_sys_ns = at_sys_ns;
    tl->update_ns = at_sys_ns + offset_ns;
    tl->update_corr_s = corr_s;
    tl->update_disp_s = disp_s;
    tl->update_rate_ppm = rate_ppm;
}

void fake_timeline_update(struct fake_timeline *tl, int64_t at_sys_ns, int64_t offset_ns)
{
    bool before_slew = tl->p.slew_correction_s != 0 && !tl->slewed;
    set_update(tl, at_sys_ns, offset_ns, (double)-offset_ns / NS_PER_S,
               before_slew ? tl->p.before_slew_dispersion_s : tl->p.root_dispersion_s, 0);
    if (tl->next_sys_ns != INT64_MAX) {
        tl->next_sys_ns = at_sys_ns + tl->p.update_every_ns;
    }
}

void fake_timeline_slew(struct fake_timeline *tl, int64_t at_sys_ns, int64_t offset_ns)
{
    if (tl->p.slew_correction_s == 0 || tl->slewed) {
        return;
    }
    set_update(tl, at_sys_ns, offset_ns, tl->p.slew_correction_s - (double)offset_ns / NS_PER_S,
               tl->p.root_dispersion_s, tl->p.slew_rate_ppm);
    tl->slewed = true;
    tl->slew_sys_ns = at_sys_ns;
    tl->next_sys_ns = INT64_MAX;
}

void fake_timeline_freeze(struct fake_timeline *tl)
{
    tl->next_sys_ns = INT64_MAX;
}

int64_t fake_timeline_ref_ns(const struct fake_timeline *tl)
{
    return tl->update_ns + (int64_t)llround(tl->update_corr_s * NS_PER_S);
}

/* The correction outstanding at now: the update's, slewed towards zero at its rate, stopping
 * there (the fake reports only while chronyd is alive, and alive it ends the slew at zero). */
static double correction_at(const struct fake_timeline *tl, int64_t now_sys_ns)
{
    double c = tl->update_corr_s;
    if (tl->update_rate_ppm == 0 || c == 0) {
        return c;
    }
    double slewed =
        tl->update_rate_ppm * 1e-6 * (double)(now_sys_ns - tl->update_sys_ns) / NS_PER_S;
    double left = fabs(c) - (slewed > 0 ? slewed : 0);
    if (left <= 0) {
        return 0;
    }
    return c < 0 ? -left : left;
}

bool fake_timeline_answer(struct fake_timeline *tl, int64_t now_sys_ns, int64_t offset_ns,
                          struct fake_timeline_report *out)
{
    if (tl->slewed && tl->p.silent_after_ns >= 0 && tl->answered_since_slew &&
        now_sys_ns - tl->slew_sys_ns > tl->p.silent_after_ns) {
        tl->silent = true;
    }
    if (tl->silent) {
        return false;
    }
    if (tl->slewed) {
        tl->answered_since_slew = true;
    }
    double corr = correction_at(tl, now_sys_ns);
    out->ref_ns = fake_timeline_ref_ns(tl);
    out->correction_s = corr;
    out->root_delay_s = tl->p.root_delay_s;
    /* chrony's elapsed time since the reference, on its cooked timescale. */
    int64_t cooked_ns = now_sys_ns + offset_ns + (int64_t)llround(corr * NS_PER_S);
    double since_s = fabs((double)(cooked_ns - out->ref_ns)) / NS_PER_S;
    out->root_dispersion_s = tl->update_disp_s + tl->p.growth_ppm * 1e-6 * since_s;
    out->update_interval_s = (double)tl->p.update_every_ns / NS_PER_S;
    return true;
}

void fake_timeline_apply(const struct fake_timeline_report *r, struct fake_chrony_script *s)
{
    int64_t sec = r->ref_ns / 1000000000;
    int64_t nsec = r->ref_ns % 1000000000;
    if (nsec < 0) {
        sec--;
        nsec += 1000000000;
    }
    s->ref_sec_high = (uint32_t)((uint64_t)sec >> 32);
    s->ref_sec_low = (uint32_t)sec;
    s->ref_nsec = (uint32_t)nsec;
    s->current_correction_s = fake_chrony_float(r->correction_s);
    s->root_delay_s = fake_chrony_float(r->root_delay_s);
    s->root_dispersion_s = fake_chrony_float(r->root_dispersion_s);
    s->last_update_interval_s = fake_chrony_float(r->update_interval_s);
}

bool fake_timeline_truth(const struct fake_timeline *tl, struct fake_slew_truth *out)
{
    if (!tl->slewed) {
        return false;
    }
    double c = tl->update_corr_s;
    double duration_ns = fabs(c) / (tl->update_rate_ppm * 1e-6) * NS_PER_S;
    out->t_sys_ns = tl->slew_sys_ns;
    out->correction_s = c;
    out->rate_ppm = tl->update_rate_ppm;
    out->stopped = tl->p.silent_after_ns < 0 || (double)tl->p.silent_after_ns >= duration_ns;
    return true;
}

double fake_slew_theta_ns(const struct fake_slew_truth *t, int64_t t_sys_ns)
{
    double c_ns = t->correction_s * NS_PER_S;
    if (t_sys_ns < t->t_sys_ns) {
        return c_ns;
    }
    double slewed_ns = t->rate_ppm * 1e-6 * (double)(t_sys_ns - t->t_sys_ns);
    if (t->stopped && slewed_ns >= fabs(c_ns)) {
        return 0;
    }
    return c_ns < 0 ? c_ns + slewed_ns : c_ns - slewed_ns;
}
