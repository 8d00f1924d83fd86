#!/usr/bin/env bash
# Integration: clocks oracled must refuse to trust, against the daemon itself (fake chronyd):
# chrony's `local` fallback, an upstream NTP server on its own local clock (NTPDATA reference ID
# LOCL behind a non-loopback source; negative controls: the same with a GPS upstream, and with
# chronyd refusing NTPDATA as it does over UDP: both served), a reference time in the future,
# garbage, wrong sequence numbers, replies from another UDP port, and a leap second announced
# for the coming midnight (through oracled-stepped, its clock put 6 s before midnight UTC; the
# fake chronyd follows the same offset, and the system clock is never touched). Each: nothing
# served (CLOCK_UNAVAILABLE, exit 2 from oracle-cli) and /healthz 503.
# Usage: it_refused.sh ORACLED_STEPPED FAKE_CHRONY ORACLE_CLI
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

STEPPED=$1
FAKE=$2
CLI=$3

# daemon NAME [fake-chrony options]: a fake chronyd and an oracled on it; sets PID, PORT, HTTP.
daemon() {
    local name=$1
    shift
    start_fake_chrony "fake-$name" "$FAKE" "$@"
    start_oracled_on "$STEPPED" "$name" "$FAKE_PORT"
}

# refused WHAT REASON: nothing served, and /healthz 503.
refused() {
    run 2 "$CLI" --server "127.0.0.1:$PORT" ts
    contains "$ERR" "answered (CLOCK_UNAVAILABLE|NOT_READY)" "$1: ts"
    contains "$ERR" "$2" "$1: the reason"
    run 0 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/healthz"
    [ "$OUT" = 503 ] || fail "$1: /healthz answered $OUT"
}

export ORACLE_TEST_STEP_FILE=$TMP/step
echo 0 >"$ORACLE_TEST_STEP_FILE"

daemon local --ref-id 7F7F0101
wait_for_log "$TMP/local.log" $PID "clock UNKNOWN: chrony's reference is its own local" 5
sleep 0.5
refused "local fallback" "reference is its own local clock"
pass "chrony's local fallback (refid 127.127.1.1): refused"

# An upstream NTP server fallen back to its own clock: chrony tracks 10.0.0.1 (not loopback, so
# no demo) normally, but NTPDATA says that server's own reference ID is LOCL. Negative control
# first: the same source with a GPS upstream is served.
daemon upstream-gps --ref-addr 10.0.0.1 --upstream-ref-id 47505300
wait_for_log "$LOG" $PID "ready: serving timestamps" 10
wait_for_log "$LOG" $PID "upstream NTP server 10\.0\.0\.1: reference ID 47505300 \(GPS\)" 5
run 0 "$CLI" --server "127.0.0.1:$PORT" ts
run 0 curl -s "http://127.0.0.1:$HTTP/healthz"
json_is "$OUT" .upstream.reference_id 47505300 "GPS upstream: healthz"
json_is "$OUT" .demo false "GPS upstream: healthz"
pass "negative control: a non-loopback source whose upstream is on GPS: served"

daemon upstream-locl --ref-addr 10.0.0.1 --upstream-ref-id 7F7F0101
wait_for_log "$LOG" $PID "clock UNKNOWN: the upstream NTP server runs on its own local clock" 5
sleep 0.5
refused "upstream on its local clock" "upstream NTP server runs on its own local clock \(reference ID LOCL\)"
run 0 curl -s "http://127.0.0.1:$HTTP/healthz"
json_is "$OUT" .reason "the upstream NTP server runs on its own local clock (reference ID LOCL)" \
    "LOCL upstream: healthz"
json_is "$OUT" .upstream.local_clock true "LOCL upstream: healthz"
run 0 curl -s "http://127.0.0.1:$HTTP/metrics"
contains "$OUT" '^oracled_upstream_local_clock 1$' "LOCL upstream: metrics"
! grep -q "ready: serving timestamps" "$LOG" || fail "LOCL upstream: served at some point: $(cat "$LOG")"
pass "an upstream NTP server on its own local clock (NTPDATA reference ID LOCL) behind 10.0.0.1:" \
    "refused from the start, the reason named"

# chronyd refusing NTPDATA (as it does over UDP): the check cannot be made, which alone refuses
# nothing; one warning names the fix.
daemon upstream-unauth --ref-addr 10.0.0.1 --upstream-ref-id 7F7F0101 --ntpdata-status 2
wait_for_log "$LOG" $PID "ready: serving timestamps" 10
run 0 "$CLI" --server "127.0.0.1:$PORT" ts
grep -q "warn: chronyd refuses NTPDATA over UDP .*unix:/run/chrony/chronyd.sock" "$LOG" ||
    fail "no NTPDATA warning: $(cat "$LOG")"
run 0 curl -s "http://127.0.0.1:$HTTP/healthz"
json_is "$OUT" .upstream_check unavailable "NTPDATA refused: healthz"
pass "chronyd refusing NTPDATA: served, with one warning naming the unix socket"

daemon future --ref-age -1
wait_for_log "$TMP/future.log" $PID "clock UNKNOWN: chrony's reference time is in the future" 5
sleep 0.5
refused "future reference" "reference time is in the future"
pass "a reference time 1 s in the future: refused"

daemon garbage --garbage
sleep 1
refused "garbage from chronyd" "chrony|measurement"
pass "a chronyd answering garbage: never trusted"

daemon sequence --bad-sequence
sleep 1
refused "wrong sequence numbers" "chrony|measurement"
pass "a chronyd answering with wrong sequence numbers: never trusted"

daemon otherport --other-port
sleep 1
refused "replies from another port" "chrony|measurement"
pass "a chronyd answering from another UDP port: never trusted"

# The leap: both clocks put 6 s before the coming midnight UTC.
now=$(date +%s)
midnight=$(((now / 86400 + 1) * 86400))
echo "$(((midnight - 6 - now) * 1000000000))" >"$ORACLE_TEST_STEP_FILE"
daemon leap --leap 1
wait_for_log "$TMP/leap.log" $PID "ready: serving timestamps" 10
run 0 "$CLI" --server "127.0.0.1:$PORT" ts
pass "leap second announced: served while midnight is more than the window away"
wait_for_log "$TMP/leap.log" $PID "clock UNKNOWN: .*leap" 10
refused "leap window" "leap"
pass "leap second announced: refused once midnight is within the window"
grep -E "clock|ready" "$TMP/leap.log" | sed 's/^/# /'
echo "all $CHECKS checks passed"
