#!/usr/bin/env bash
# Integration: clocks oracled must refuse to trust, against the daemon itself (fake chronyd):
# chrony's `local` fallback, a reference time in the future, garbage, wrong sequence numbers,
# replies from another UDP port, and a leap second announced for the coming midnight (through
# oracled-stepped, its clock put 6 s before midnight UTC; the fake chronyd follows the same
# offset, and the system clock is never touched). Each: nothing served (CLOCK_UNAVAILABLE, exit 2
# from oracle-cli) and /healthz 503.
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
