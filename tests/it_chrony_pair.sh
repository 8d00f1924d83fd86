#!/usr/bin/env bash
# Integration: the clockbound command against a real chrony pair (dev/demo-chrony: chronyd
# with -x, never touching the clock, stopped by PID even when the test fails).
#   - `clockbound now --json` agrees with a bound computed here from `chronyc -c tracking`;
#   - the unix socket transport works against the real chronyd;
#   - client chronyd stopped: polls fail -> FREE_RUNNING -> UNKNOWN after the grace period;
#   - `offset 0.005` on the client's server line: a bound of at least 5 ms;
#   - NTP server stopped: FREE_RUNNING once the data is stale, the bound growing;
#   - a chronyd that never synchronised: UNKNOWN.
# Usage: it_chrony_pair.sh CLOCKBOUND DEMO_CHRONY
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

CB=$1
DEMO=$2
if ! command -v chronyd >/dev/null || ! command -v chronyc >/dev/null; then
    echo "SKIP: chronyd/chronyc not installed (apt-get install chrony)"
    exit 77
fi

PAIR=$TMP/pair
LONE=$TMP/lone
demo_pair "$DEMO" "$PAIR"
CHRONY="udp:127.0.0.1:$CMD_PORT"
pass "demo chrony pair synchronised (cmdmon port $CMD_PORT)"

# --- the bound agrees with one computed from chronyc's own numbers ---
D=50000 # ppb, clockbound's default --max-drift-ppb
M=1000  # ppb, its default --chrony-maxclockerror-ppb
agreed=0
for _ in $(seq 1 30); do
    t0=$(now_ns)
    csv=$(chronyc -h 127.0.0.1 -p "$CMD_PORT" -c tracking)
    run 0 "$CB" --chrony "$CHRONY" --json now
    t1=$(now_ns)
    json=$OUT
    # The same chrony update in both? chronyc prints the reference time as a double, so allow
    # for its rounding (< 1 us).
    ours_ref=$(json_int "$json" ref_time_ns)
    theirs_ref=$(awk -F, '{printf "%s", $4}' <<<"$csv" | tr -d .)
    diff=$((ours_ref - theirs_ref))
    [ ${diff#-} -lt 1000 ] || continue
    query=$(json_int "$json" query_realtime_ns)
    poll_age=$(json_int "$json" poll_age_ns)
    margin=$(json_int "$json" step_margin_ns)
    bound=$(json_int "$json" bound_ns)
    # chrony's timescale is the system clock plus the correction (field 5).
    cc_ns=$(awk -F, '{printf "%.0f", $5 * 1e9}' <<<"$csv")
    age=$((query + cc_ns - ours_ref))
    # b0 = |correction| + root delay/2 + root dispersion + max(0, D - skew - |resid| - M) * age,
    # growing since the query at max(D, skew + |resid| + M).
    expected=$(awk -F, -v D=$D -v M=$M -v age="$age" -v pa="$poll_age" '{
        cc = $5 < 0 ? -$5 : $5; resid = $9 < 0 ? -$9 : $9
        chrony_rate = $10 * 1000 + resid * 1000 + M
        rate = D - chrony_rate; if (rate < 0) rate = 0
        growth = chrony_rate > D ? chrony_rate : D
        printf "%.0f", cc * 1e9 + $11 * 1e9 / 2 + $12 * 1e9 + rate * age / 1e9 + growth * pa / 1e9
    }' <<<"$csv")
    # Plus what the step detector could have missed between its readings (their width).
    expected=$((expected + margin))
    delta=$((bound - expected))
    # chronyc read the dispersion up to t1 - t0 before clockbound did (it grows at chrony's
    # rate, skew + |resid| + M), and prints 9 decimals; clockbound rounds every term up. So the
    # bound may exceed the one computed here by 200 ns plus that growth, and fall short of it
    # by no more than chronyc's rounding (10 ns): never by a term's worth.
    tolerance=$(awk -F, -v M=$M -v dt=$((t1 - t0)) '{
        resid = $9 < 0 ? -$9 : $9; printf "%.0f", 200 + ($10 * 1000 + resid * 1000 + M) * dt / 1e9
    }' <<<"$csv")
    echo "# chronyc: $csv"
    echo "# clockbound bound $bound ns, computed here $expected ns, difference $delta ns" \
        "(allowed -10 .. +$tolerance ns)"
    [ "$delta" -ge -10 ] || fail "bound $bound ns is below $expected ns by $((-delta)) ns"
    [ "$delta" -le "$tolerance" ] || fail "bound $bound ns exceeds $expected ns by $delta ns"
    json_is "$json" .status SYNCHRONIZED "agreement: status"
    agreed=1
    break
done
[ $agreed -eq 1 ] || fail "never caught clockbound and chronyc on the same chrony update"
pass "clockbound now --json agrees with the bound computed from chronyc -c tracking"

# --- unix socket transport, against the real chronyd ---
run 0 "$CB" --chrony "unix:$CMD_SOCKET" --json now
json_is "$OUT" .status SYNCHRONIZED "unix socket"
[ "$(find "$PAIR/run" -name 'clockbound.*' | wc -l)" -eq 0 ] || fail "client socket left behind"
pass "unix socket: chronyd answers, clockbound's own socket removed"

# --- client chronyd stopped: FREE_RUNNING while polls fail, UNKNOWN after the grace period ---
"$CB" --chrony "$CHRONY" --json --interval 100ms --grace 2s --attempts 1 --timeout 50ms \
    --count 60 watch >"$TMP/watch.out" 2>"$TMP/watch.log" &
watch_pid=$!
track_pid $watch_pid
sleep 2.5
"$DEMO" stop-client "$PAIR"
wait $watch_pid || fail "watch exited with $?"
# watch (like the daemon) first waits for a chrony measurement made after it started.
statuses=$(jq -r '"\(.status) \(.reason)"' "$TMP/watch.out" | uniq |
    sed '1{/waiting for chrony/d}' | cut -d' ' -f1 | tr '\n' ' ')
[ "$statuses" = "SYNCHRONIZED FREE_RUNNING UNKNOWN " ] || fail "watch statuses: $statuses"
grep -q "nothing listens" "$TMP/watch.out" || fail "watch does not say why polls fail"
pass "client chronyd stopped: SYNCHRONIZED -> FREE_RUNNING -> UNKNOWN after the grace period"

# --- offset 0.005 on the server line: chrony reports a 5 ms correction ---
"$DEMO" start-client "$PAIR" --offset 0.005
for _ in $(seq 1 100); do
    cc=$(chronyc -h 127.0.0.1 -p "$CMD_PORT" -c tracking |
        awk -F, '{ c = $5 < 0 ? -$5 : $5; print (c > 0.0049 ? 1 : 0) }')
    [ "$cc" = 1 ] && break
    sleep 0.1
done
[ "$cc" = 1 ] || fail "chrony never reported the 5 ms offset"
run 0 "$CB" --chrony "$CHRONY" --json now
json_is "$OUT" .status SYNCHRONIZED "offset: status"
bound=$(json_int "$OUT" bound_ns)
[ "$bound" -ge 5000000 ] || fail "bound $bound ns with a 5 ms offset"
pass "offset 0.005: bound $bound ns >= 5 ms"

# --- the NTP server stopped: chrony keeps answering, its reference freezes ---
"$DEMO" stop-server "$PAIR"
status=""
for _ in $(seq 1 60); do
    run 0 "$CB" --chrony "$CHRONY" --json now
    status=$(jq -r .status <<<"$OUT")
    [ "$status" = FREE_RUNNING ] && break
    sleep 0.25
done
[ "$status" = FREE_RUNNING ] || fail "status $status 15 s after the NTP server stopped"
contains "$OUT" "lost its time source" "free running reason"
b1=$(json_int "$OUT" bound_ns)
g1=$(($(json_int "$OUT" dispersion_ns) + $(json_int "$OUT" extra_ns)))
q1=$(json_int "$OUT" query_monotonic_ns)
age1=$(json_int "$OUT" ref_age_ns)
m_lo1=$(json_int "$OUT" maxclockerror_lo_ppb)
m_hi1=$(json_int "$OUT" maxclockerror_hi_ppb)
sleep 1
run 0 "$CB" --chrony "$CHRONY" --json now
b2=$(json_int "$OUT" bound_ns)
g2=$(($(json_int "$OUT" dispersion_ns) + $(json_int "$OUT" extra_ns)))
q2=$(json_int "$OUT" query_monotonic_ns)
# Free running, chrony's dispersion plus the extra term grow at D at least from one poll to the
# next. (The correction term follows chrony's frequency estimate: with -x chrony cannot steer
# the clock, so its correction drifts by the frequency error, either way.) Each run measures
# chrony's maxclockerror afresh (two polls 20 ms apart) and tops up with its lower bound: the
# sum is disp0 + (D + M - M_measured) * age, so the second run may be short of the first's
# growth by at most what the first measurement left open, (M_hi - M_lo) * age.
slack=$(((m_hi1 - m_lo1) * age1 / 1000000000 + 10))
min_growth=$((D * (q2 - q1) / 1000000000 - slack))
[ $((g2 - g1)) -ge $min_growth ] ||
    fail "dispersion + extra grew $((g2 - g1)) ns in $(((q2 - q1) / 1000)) us, below D ($min_growth)"
[ "$b2" -gt "$b1" ] || fail "the bound did not grow while free running ($b1 -> $b2 ns)"
pass "NTP server stopped: FREE_RUNNING once stale, bound growing ($b1 -> $b2 ns)"

# --- a chronyd that never synchronised ---
demo_pair "$DEMO" "$LONE" --no-server
run 2 "$CB" --chrony "udp:127.0.0.1:$CMD_PORT" --json now
json_is "$OUT" .status UNKNOWN "never synchronised"
contains "$ERR" "not synchronised" "never synchronised: message"
pass "a chronyd that never synchronised: UNKNOWN, exit 2"

echo "all $CHECKS checks passed"
