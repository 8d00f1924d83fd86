#!/usr/bin/env bash
# Integration: chrony's maxclockerror smaller than oracled is told (DESIGN.md section 2, "Measured,
# not assumed, chrony growth"), against the real oracled. fake-chrony's timeline: reference updates
# every 1/16 s, then a last one (SIGUSR2); its root dispersion grows at 1.1 ppm of the time since
# its reference time (skew 0.05 + |resid_freq| 0.05 + maxclockerror 1.0 ppm), as a chrony left at
# its default maxclockerror does. oracled is told --chrony-maxclockerror-ppb 50000 (the shipped
# config) with the default --max-drift-ppb 50000. From 10 s after the last update, every trusted
# Now's half-width must be at least |correction| + delay/2 + dispersion at the update
# + D * (the server's reading - reference time); oracled must warn once about maxclockerror,
# naming the configured value, and export the measured growth (~1100 ppb) as
# oracled_chrony_dispersion_growth_ppb. The control: today's formula, computed from the fake's
# answers with M = 50,000 ppb, fails the same check.
# Usage: it_growth.sh ORACLED FAKE_CHRONY IT_FAULTS
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
FAULTS=$3
EVENTS=$TMP/events
D_PPB=50000
M_PPB=50000
AFTER_S=10

start_fake_chrony fake "$FAKE" --update-every 0.0625 --skew 0.05 --resid-freq -0.05 \
    --maxclockerror 1.0 --usr2 last --events "$EVENTS"
start_oracled_on "$ORACLED" oracled "$FAKE_PORT" --chrony-maxclockerror-ppb "$M_PPB" \
    --max-drift-ppb "$D_PPB"
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
pass "oracled serving, told chrony's maxclockerror is $M_PPB ppb; the fake's is 1 ppm"

"$FAULTS" "127.0.0.1:$PORT" growth "$EVENTS" "$AFTER_S" "$D_PPB" "$M_PPB" >"$TMP/growth.out" 2>&1 &
CHECKER=$!
track_pid $CHECKER
sleep 1
kill -USR2 "$FAKE_PID"
rc=0
wait $CHECKER || rc=$?
sed 's/^/# /' "$TMP/growth.out"
[ $rc -eq 0 ] || fail "the bound grew slower than $D_PPB ppb since chrony's last update"
pass "$AFTER_S s after chrony's last update the bound still covers D x the time since it"
grep -q "control_violations=[1-9]" "$TMP/growth.out" ||
    fail "control: today's formula passes the same check: the test cannot tell"
pass "control: today's formula (M = $M_PPB ppb) fails the same check"

run 0 curl -s "http://127.0.0.1:$HTTP/metrics"
metric=$(awk '$1 ~ /^oracled_chrony_dispersion_growth_ppb({.*})?$/ { print $2 }' <<<"$OUT")
[ -n "$metric" ] || fail "no oracled_chrony_dispersion_growth_ppb in /metrics"
awk -v v="$metric" 'BEGIN { exit !(v >= 990 && v <= 1210) }' ||
    fail "oracled_chrony_dispersion_growth_ppb is $metric, not chrony's 1100 ppb"
pass "oracled_chrony_dispersion_growth_ppb $metric (chrony's growth: 1100 ppb)"

warnings=$(grep -c " warn: .*maxclockerror" "$LOG" || true)
[ "$warnings" -eq 1 ] || fail "$warnings warnings name maxclockerror, expected one: $(grep maxclockerror "$LOG")"
line=$(grep " warn: .*maxclockerror" "$LOG")
contains "$line" "50000|50(\.0+)? ?ppm" "the configured value in the warning"
echo "# $line"
pass "one warning about chrony's maxclockerror, naming the configured value"
echo "all $CHECKS checks passed"
