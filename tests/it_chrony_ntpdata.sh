#!/usr/bin/env bash
# Integration: chrony's NTPDATA against the real chronyd 4.3 (dev/demo-chrony: chronyd -x,
# never touching the clock, stopped by PID even when the test fails).
#   - the facts: over UDP chronyd refuses NTPDATA (chronyc "501 Not authorised", our decoder
#     "unauthorised"); on its unix socket it answers, and our decoder's report equals
#     `chronyc -c ntpdata` field by field; the demo server (`local stratum 1`) reports LOCL;
#     an address that is no source gets "no such source" both ways;
#   - oracled on the unix socket: NTPDATA answered (log, /metrics, /healthz say LOCL), and the
#     loopback demo server in local mode stays SYNCHRONIZED, served, flagged as a demo;
#   - oracled on UDP: NTPDATA refused, one warning naming the unix socket (not one per retry),
#     the metric and /healthz say the check is unavailable, and the clock is still served.
# (The refusal of a non-loopback LOCL upstream, and its negative control, are in it_refused.sh.)
# Usage: it_chrony_ntpdata.sh ORACLED NTPDATA_PROBE ORACLE_CLI DEMO_CHRONY
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
PROBE=$2
CLI=$3
DEMO=$4
if ! command -v chronyd >/dev/null || ! command -v chronyc >/dev/null; then
    echo "SKIP: chronyd/chronyc not installed (apt-get install chrony)"
    exit 77
fi

demo_pair "$DEMO" "$TMP/pair"
UNIX="unix:$CMD_SOCKET"
UDP="udp:127.0.0.1:$CMD_PORT"
pass "demo chrony pair synchronised (cmdmon udp port $CMD_PORT, unix socket $CMD_SOCKET)"

# --- the facts ---
rc=0
chronyc -h 127.0.0.1 -p "$CMD_PORT" ntpdata 127.0.0.1 >"$TMP/chronyc.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "chronyc ntpdata over UDP succeeded"
contains "$(cat "$TMP/chronyc.out")" "501 Not authorised" "chronyc ntpdata over UDP"
run 1 "$PROBE" "$UDP" 127.0.0.1
contains "$ERR" "^ntpdata-probe: unauthorised$" "NTPDATA over UDP"
run 0 "$PROBE" "$UNIX" 127.0.0.1 # negative control: the same question on the unix socket
pass "chronyd 4.3 refuses NTPDATA over UDP from 127.0.0.1 (chronyc: 501 Not authorised, our" \
    "decoder: unauthorised) and answers it on its unix socket"

# Our report against chronyc's: a probe between two chronyc runs that agree with each other
# (chrony takes a sample every 1/16 s, so retry until none fell in between). Columns of
# `chronyc -c ntpdata` and the probe's, in the same order (see tests/support/ntpdata_probe.c).
theirs_cols=(1 3 4 6 7 8 9 10 12 14 15 16 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34)
names=(remote port local leap version mode stratum poll precision root_delay root_dispersion
    ref_id ref_time offset peer_delay peer_dispersion response_time jitter_asymmetry tests1
    tests2 tests3 interleaved authenticated tx rx total_tx total_rx total_valid total_good)
pick() { # CSV COLUMNS...: the given 1-based columns, comma-separated
    local csv=$1
    shift
    awk -F, -v cols="$*" 'BEGIN { n = split(cols, c, " ") }
        { for (i = 1; i <= n; i++) printf "%s%s", $c[i], (i < n ? "," : "\n") }' <<<"$csv"
}
agreed=0
for _ in $(seq 1 40); do
    before=$(chronyc -c -h "$CMD_SOCKET" ntpdata 127.0.0.1)
    run 0 "$PROBE" "$UNIX" 127.0.0.1
    ours=$OUT
    after=$(chronyc -c -h "$CMD_SOCKET" ntpdata 127.0.0.1)
    b=$(pick "$before" "${theirs_cols[@]}")
    a=$(pick "$after" "${theirs_cols[@]}")
    if [ "$b" = "$a" ]; then
        if [ "$ours" != "$b" ]; then
            IFS=, read -ra o <<<"$ours"
            IFS=, read -ra t <<<"$b"
            for i in "${!names[@]}"; do
                [ "${o[$i]}" = "${t[$i]}" ] || echo "# ${names[$i]}: ours ${o[$i]}, chronyc ${t[$i]}"
            done
            fail "the decoder's NTPDATA report differs from chronyc's: $ours vs $b"
        fi
        agreed=1
        break
    fi
    sleep 0.01
done
[ $agreed -eq 1 ] || fail "chronyc's NTPDATA report never stood still for a probe"
echo "# chronyc: $before"
echo "# ours:    $ours"
[ "$(pick "$ours" 12)" = 7F7F0101 ] || fail "the demo server's reference ID is not LOCL: $ours"
pass "the decoder's NTPDATA report equals chronyc's in all 29 fields; the demo server" \
    "(local stratum 1) reports reference ID 7F7F0101 (LOCL)"

run 1 "$PROBE" "$UNIX" 10.9.9.9
contains "$ERR" "no such source" "NTPDATA about no source"
rc=0
chronyc -h "$CMD_SOCKET" ntpdata 10.9.9.9 >"$TMP/chronyc.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "chronyc ntpdata about no source succeeded"
contains "$(cat "$TMP/chronyc.out")" "503 No such source" "chronyc ntpdata about no source"
pass "an address that is no source: chronyc 503 No such source, our decoder: no such source"

# --- oracled on both transports at once ---
# start_oracled_on passes --chrony udp:...; a second --chrony, later, wins.
start_oracled_on "$ORACLED" unix "$CMD_PORT" --chrony "$UNIX"
PID_UNIX=$PID PORT_UNIX=$PORT HTTP_UNIX=$HTTP LOG_UNIX=$LOG
start_oracled_on "$ORACLED" udp "$CMD_PORT"
PID_UDP=$PID PORT_UDP=$PORT HTTP_UDP=$HTTP LOG_UDP=$LOG
wait_for_log "$LOG_UNIX" "$PID_UNIX" "ready: serving timestamps" 20
wait_for_log "$LOG_UDP" "$PID_UDP" "ready: serving timestamps" 20
T0=$SECONDS

# Unix socket: NTPDATA answered, LOCL read, the loopback demo not refused.
wait_for_log "$LOG_UNIX" "$PID_UNIX" \
    "chrony's upstream NTP server 127\.0\.0\.1: reference ID 7F7F0101 \(LOCL, its own local clock\), stratum 1: not refused while it is a loopback \(demo\) source" 5
run 0 "$CLI" --server "127.0.0.1:$PORT_UNIX" ts
run 0 curl -s -w '\n%{http_code}' "http://127.0.0.1:$HTTP_UNIX/healthz"
[ "$(tail -n 1 <<<"$OUT")" = 200 ] || fail "unix: /healthz answered $OUT"
BODY=$(head -n 1 <<<"$OUT")
json_is "$BODY" .clock_status SYNCHRONIZED "unix: healthz"
json_is "$BODY" .demo true "unix: healthz"
json_is "$BODY" .upstream_check ok "unix: healthz"
json_is "$BODY" .upstream.address 127.0.0.1 "unix: healthz"
json_is "$BODY" .upstream.reference_id 7F7F0101 "unix: healthz"
json_is "$BODY" .upstream.local_clock true "unix: healthz"
run 0 curl -s "http://127.0.0.1:$HTTP_UNIX/metrics"
contains "$OUT" '^oracled_upstream_info\{address="127\.0\.0\.1",reference_id="7F7F0101",stratum="1"\} 1$' \
    "unix: metrics"
contains "$OUT" '^oracled_upstream_local_clock 0$' "unix: metrics"
contains "$OUT" '^oracled_upstream_check_unavailable 0$' "unix: metrics"
contains "$OUT" '^oracled_chrony_ntpdata_total\{result="ok"\} [1-9]' "unix: metrics"
contains "$OUT" '^oracled_chrony_ntpdata_total\{result="failed"\} 0$' "unix: metrics"
! grep -q "NTPDATA" <(grep -E "warn|err" "$LOG_UNIX") || fail "unix: NTPDATA warning: $(cat "$LOG_UNIX")"
pass "oracled on chronyd's unix socket: NTPDATA answered (upstream 127.0.0.1 on LOCL, logged," \
    "in /metrics and /healthz); the loopback demo stays SYNCHRONIZED, served and flagged demo"

# UDP: refused; one warning naming the fix; served all the same.
wait_for_log "$LOG_UDP" "$PID_UDP" \
    "warn: chronyd refuses NTPDATA over UDP .*use --chrony unix:/run/chrony/chronyd\.sock" 5
run 0 "$CLI" --server "127.0.0.1:$PORT_UDP" ts
run 0 curl -s -w '\n%{http_code}' "http://127.0.0.1:$HTTP_UDP/healthz"
[ "$(tail -n 1 <<<"$OUT")" = 200 ] || fail "udp: /healthz answered $OUT"
BODY=$(head -n 1 <<<"$OUT")
json_is "$BODY" .clock_status SYNCHRONIZED "udp: healthz"
json_is "$BODY" .demo true "udp: healthz"
json_is "$BODY" .upstream_check unavailable "udp: healthz"
json_is "$BODY" '.upstream_check_error | test("unauthorised.*unix:/run/chrony/chronyd.sock")' true \
    "udp: healthz"
json_is "$BODY" .upstream null "udp: healthz"
# A retry every 10 s, still refused, still one warning.
sleep $((T0 + 12 - SECONDS > 0 ? T0 + 12 - SECONDS : 0))
run 0 curl -s "http://127.0.0.1:$HTTP_UDP/metrics"
contains "$OUT" '^oracled_upstream_check_unavailable 1$' "udp: metrics"
contains "$OUT" '^oracled_chrony_ntpdata_total\{result="ok"\} 0$' "udp: metrics"
contains "$OUT" '^oracled_chrony_ntpdata_total\{result="failed"\} ([2-9]|[1-9][0-9])$' \
    "udp: metrics (retried)"
warnings=$(grep -c "NTPDATA" "$LOG_UDP")
[ "$warnings" -eq 1 ] || fail "udp: $warnings NTPDATA log lines, expected 1: $(cat "$LOG_UDP")"
contains "$(grep -E "polls_failed|chrony poll failed" "$LOG_UDP" || echo none)" "^none$" \
    "udp: NTPDATA refusals are no poll failures"
run 0 "$CLI" --server "127.0.0.1:$PORT_UDP" ts
grep "NTPDATA" "$LOG_UDP" | sed 's/^/# /'
pass "oracled on UDP: NTPDATA refused (unauthorised), retried, one warning naming the unix" \
    "socket, /metrics and /healthz say the check is unavailable, the clock still served"
echo "all $CHECKS checks passed"
