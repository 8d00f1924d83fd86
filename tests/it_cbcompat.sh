#!/usr/bin/env bash
# Integration: oracled's ClockBound interfaces (--clockbound-socket, --clockbound-shm) against
# an independent ClockBound-style client and segment reader (it_cbcompat.c), through every
# clock status: synchronised; the clock stepped (DISRUPTED at once, on oracled-stepped's test
# clock, never the system's); chrony gone (FREE_RUNNING, then UNKNOWN); stopped. And the
# errors an operator can meet: the socket in use, its directory missing, a file in its place.
# Usage: it_cbcompat.sh ORACLED_STEPPED FAKE_CHRONY IT_CBCOMPAT
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

STEPPED=$1
FAKE=$2
CHECKS_BIN=$3

export ORACLE_TEST_STEP_FILE=$TMP/step
echo 0 >"$ORACLE_TEST_STEP_FILE"
mkdir -p "$TMP/run"
SOCK=$TMP/run/clockboundd.sock
SHM=$TMP/run/shm0

start_fake_chrony fake "$FAKE"
start_oracled_on "$STEPPED" oracled "$FAKE_PORT" --grace 1s --poll-interval 5ms \
    --clockbound-socket "$SOCK" --clockbound-shm "$SHM"
wait_for_log "$LOG" $PID "ready: serving timestamps" 10
contains "$(cat "$LOG")" "clockbound socket at $SOCK \(protocol v1, mode 0666\)" "log"
[ -S "$SOCK" ] || fail "no socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 666 ] || fail "socket mode $(stat -c %a "$SOCK")"
[ "$(stat -c %s "$SHM")" = 80 ] || fail "segment size $(stat -c %s "$SHM")"
pass "socket (mode 0666) and 80-byte segment in place"

# `if !` keeps the output when it fails (set -e would cut it short).
check() {
    if ! "$CHECKS_BIN" "$SOCK" "$SHM" "127.0.0.1:$PORT" "$@" >"$TMP/check.out" 2>&1; then
        cat "$TMP/check.out"
        fail "it_cbcompat $*"
    fi
    sed 's/^/# /' "$TMP/check.out"
}
check check
pass "socket and segment agree with the TCP service's Now; malformed requests get the error" \
    "header; unbound clients are dropped; the segment is never torn"

metrics=$(curl -s "http://127.0.0.1:$HTTP/metrics")
contains "$metrics" 'oracled_clockbound_socket_requests_total\{result="unbound"\} [1-9]' "metrics"
contains "$metrics" 'oracled_clockbound_socket_requests_total\{result="malformed"\} 8$' \
    "metrics"
contains "$metrics" 'oracled_clockbound_shm_writes_total [1-9]' "metrics"
contains "$(cat "$LOG")" "dropped 1 request\(s\) from clients with no bound address" "the log"
pass "unbound clients and malformed requests counted in /metrics; the drop logged"

# A step of the test clock, watched through the segment alone (no request that would make
# oracled read its clock): DISRUPTED by the next poll at the latest (every 5 ms here).
echo 300000000 >"$ORACLE_TEST_STEP_FILE"
kill -USR1 "$FAKE_PID" "$PID"
check segment-status disrupted
check segment-status synchronized
pass "clock stepped, nothing asked: the segment said DISRUPTED, then SYNCHRONIZED again once" \
    "chrony measured"
# Another, watched through the socket too: errors while DISRUPTED.
echo 600000000 >"$ORACLE_TEST_STEP_FILE"
kill -USR1 "$FAKE_PID" "$PID"
check status disrupted
check status synchronized
pass "clock stepped again: the segment said DISRUPTED and the socket answered errors, then" \
    "SYNCHRONIZED again"

kill "$FAKE_PID"
check status free-running
check status unknown
pass "chrony gone: FREE_RUNNING (F = 1, bounds still given), then UNKNOWN (error header) after" \
    "the grace"

kill -TERM "$PID"
wait "$PID" || fail "oracled exited $?"
[ ! -e "$SOCK" ] || fail "the socket file is still there after the stop"
"$CHECKS_BIN" "$SOCK" "$SHM" "127.0.0.1:$PORT" status unknown >/dev/null 2>&1 &&
    fail "a socket answered after the stop"
status=$(od -An -tu4 -j68 -N4 "$SHM" | tr -d ' ')
[ "$status" = 0 ] || fail "segment status $status after the stop"
pass "stopped: the socket file removed, the segment left with status UNKNOWN"

# --- what an operator can get wrong ---
start_fake_chrony fake2 "$FAKE"
start_oracled_on "$STEPPED" first "$FAKE_PORT" --clockbound-socket "$SOCK"
run 1 "$STEPPED" --listen 127.0.0.1:0 --http-listen none --state-dir "$TMP/second-state" \
    --chrony "udp:127.0.0.1:$FAKE_PORT" --clockbound-socket "$SOCK"
contains "$ERR" "$SOCK is in use" "a second oracled on the socket"
run 1 "$STEPPED" --listen 127.0.0.1:0 --http-listen none --state-dir "$TMP/third-state" \
    --chrony "udp:127.0.0.1:$FAKE_PORT" --clockbound-socket "$TMP/missing/cb.sock"
contains "$ERR" "does its directory exist" "a missing directory"
touch "$TMP/run/plain"
run 1 "$STEPPED" --listen 127.0.0.1:0 --http-listen none --state-dir "$TMP/fourth-state" \
    --chrony "udp:127.0.0.1:$FAKE_PORT" --clockbound-socket "$TMP/run/plain"
contains "$ERR" "exists and is not a socket" "a file in the way"
run 2 "$STEPPED" --clockbound-socket-mode 0999
contains "$ERR" "octal permission mode" "a bad mode"
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
[ -S "$SOCK" ] || fail "no stale socket left by kill -9"
start_oracled_on "$STEPPED" again "$FAKE_PORT" --clockbound-socket "$SOCK" \
    --clockbound-socket-mode 0660
wait_for_log "$LOG" $PID "clockbound socket at $SOCK" 5
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode $(stat -c %a "$SOCK")"
pass "refused: a socket in use, a missing directory, a file in the way, a bad mode; a stale" \
    "socket left by kill -9 is replaced; --clockbound-socket-mode 0660 applied"
echo "all $CHECKS checks passed"
