#!/usr/bin/env bash
# Integration: clocks oracled must refuse to trust, against the daemon itself (fake chronyd):
# chrony's `local` fallback, an upstream NTP server on its own local clock (NTPDATA reference ID
# LOCL behind a non-loopback source; negative controls: the same with a GPS upstream, and with
# chronyd refusing NTPDATA as it does over UDP: both served), a reference time in the future,
# garbage, wrong sequence numbers, replies from another UDP port, and a leap second announced
# for the coming midnight (through oracled-stepped, its clock put 6 s before midnight UTC; the
# fake chronyd follows the same offset, and the system clock is never touched). Each: nothing
# served (CLOCK_UNAVAILABLE, or NOT_READY where no reply was ever taken; exit 2 from oracle-cli)
# and /healthz 503, for exactly the reason expected (clockbound.c, cb_reason_text).
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

# refused WHAT CODE REASON: nothing served: a ts is answered CODE, clock UNKNOWN, for REASON
# (cb_reason_text's words, whole and as they are: a fixed string, not a pattern), and /healthz
# is 503 giving the same reason.
refused() {
    run 2 "$CLI" --server "127.0.0.1:$PORT" ts
    grep -qF -- "answered $2: clock UNKNOWN: $3; connect again" <<<"$ERR" ||
        fail "$1: expected 'answered $2: clock UNKNOWN: $3; connect again ...', got: $ERR"
    health
    [ "$CODE" = 503 ] || fail "$1: /healthz answered $CODE"
    json_is "$BODY" .clock_status UNKNOWN "$1: /healthz"
    json_is "$BODY" .reason "$3" "$1: /healthz"
}

# polls RESULT: the current oracled's count of chrony polls with that result (ok, failed).
polls() {
    metric "$HTTP" "oracled_chrony_polls_total{result=\"$1\"}"
}

# still_refused_after_polls N: until N more of chrony's replies were taken, each telling the
# same story, so what is checked next is not a state on its way to another.
still_refused_after_polls() {
    local want=$(($(polls ok) + $1))
    wait_metric "$HTTP" 'oracled_chrony_polls_total{result="ok"}' -ge "$want" 10
}

# never_answered WHAT: until oracled has failed 3 polls and taken no reply at all (what the
# fake sent was thrown away, or never reached it).
never_answered() {
    wait_metric "$HTTP" 'oracled_chrony_polls_total{result="failed"}' -ge 3 10
    [ "$(polls ok)" = 0 ] || fail "$1: a reply was taken: $(polls ok) polls ok"
    echo "# $1: $(polls failed) polls failed, none ok"
}

export ORACLE_TEST_STEP_FILE=$TMP/step
echo 0 >"$ORACLE_TEST_STEP_FILE"

daemon local --ref-id 7F7F0101
wait_for_log "$TMP/local.log" $PID "clock UNKNOWN: chrony's reference is its own local" 5
still_refused_after_polls 5
refused "local fallback" CLOCK_UNAVAILABLE \
    "chrony's reference is its own local clock (\`local\` directive)"
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
still_refused_after_polls 5
refused "upstream on its local clock" CLOCK_UNAVAILABLE \
    "the upstream NTP server runs on its own local clock (reference ID LOCL)"
json_is "$BODY" .upstream.local_clock true "LOCL upstream: healthz"
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
still_refused_after_polls 5
refused "future reference" CLOCK_UNAVAILABLE "chrony's reference time is in the future"
pass "a reference time 1 s in the future: refused"

# A reply thrown away is no reply: never trusted, for having heard nothing from chrony.
daemon garbage --garbage
never_answered "garbage from chronyd"
refused "garbage from chronyd" NOT_READY "no reply from chrony yet"
pass "a chronyd answering garbage: never trusted"

daemon sequence --bad-sequence
never_answered "wrong sequence numbers"
refused "wrong sequence numbers" NOT_READY "no reply from chrony yet"
pass "a chronyd answering with wrong sequence numbers: never trusted"

daemon otherport --other-port
never_answered "replies from another port"
refused "replies from another port" NOT_READY "no reply from chrony yet"
pass "a chronyd answering from another UDP port: never trusted"

# The leap: both clocks put 6 s before the coming midnight UTC.
now=$(date +%s)
midnight=$(((now / 86400 + 1) * 86400))
echo "$(((midnight - 6 - now) * 1000000000))" >"$ORACLE_TEST_STEP_FILE"
daemon leap --leap 1
wait_for_log "$TMP/leap.log" $PID "ready: serving timestamps" 10
run 0 "$CLI" --server "127.0.0.1:$PORT" ts
pass "leap second announced: served while midnight is more than the window away"
wait_for_log "$TMP/leap.log" $PID "clock UNKNOWN: a leap second is due at midnight UTC" 10
refused "leap window" CLOCK_UNAVAILABLE "a leap second is due at midnight UTC"
pass "leap second announced: refused once midnight is within the window"
grep -E "clock|ready" "$TMP/leap.log" | sed 's/^/# /'
echo "all $CHECKS checks passed"
