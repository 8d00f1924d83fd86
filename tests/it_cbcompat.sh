#!/usr/bin/env bash
# Integration: oracled's ClockBound interfaces (--clockbound-socket, --clockbound-shm) against
# an independent ClockBound-style client and segment reader (it_cbcompat.c), through every
# clock status: synchronised; the clock stepped (DISRUPTED at once, on oracled-stepped's test
# clock, never the system's); chrony gone (FREE_RUNNING, then UNKNOWN); stopped. What
# ClockBound's readers make of the segment an oracled leaves when SIGKILLed (trusted no longer
# than the grace, or their own 5 s, plus a coarse tick) or stopped (UNKNOWN, void, a bound
# they can subtract). What a v1 client gets while the clock is untrusted. And what an operator
# can meet: the socket in use, its directory missing, a file in its place; the segment's
# directory missing (created, as ClockBound's writer does).
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
contains "$(cat "$LOG")" "a record is void at most 1\.000 s after its as_of" "log"
contains "$(cat "$LOG")" "readers keep a trusted status for 5 s after as_of" "log"
[ -S "$SOCK" ] || fail "no socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 666 ] || fail "socket mode $(stat -c %a "$SOCK")"
[ "$(stat -c %s "$SHM")" = 80 ] || fail "segment size $(stat -c %s "$SHM")"
pass "socket (mode 0666) and 80-byte segment in place"

# `if !` keeps the output when it fails (set -e would cut it short).
checker() {
    if ! "$CHECKS_BIN" "$@" >"$TMP/check.out" 2>&1; then
        cat "$TMP/check.out"
        fail "it_cbcompat $*"
    fi
    sed 's/^/# /' "$TMP/check.out"
}
check() {
    checker "$SOCK" "$SHM" "127.0.0.1:$PORT" "$@"
}
check check 1000000000
pass "socket and segment agree with the TCP service's Now; malformed requests get the error" \
    "header (20 bytes for a Now); unbound clients are dropped; the segment is never torn"

metrics=$(curl -s "http://127.0.0.1:$HTTP/metrics")
contains "$metrics" 'oracled_clockbound_socket_requests_total\{result="unbound"\} [1-9]' "metrics"
contains "$metrics" 'oracled_clockbound_socket_requests_total\{result="malformed"\} 9$' \
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
pass "clock stepped again: the segment said DISRUPTED and the socket answered errors (a Now:" \
    "20 bytes, T = 0, F = 1, 0 to 2^63 - 1: the bound does not include the step), then" \
    "SYNCHRONIZED again"

kill "$FAKE_PID"
check status free-running
check status unknown
pass "chrony gone: FREE_RUNNING (F = 1, bounds still given), then UNKNOWN (T = 0, F = 1, still" \
    "20 bytes) after the grace"

before=$("$CHECKS_BIN" - - - coarse)
kill -TERM "$PID"
wait "$PID" || fail "oracled exited $?"
[ ! -e "$SOCK" ] || fail "the socket file is still there after the stop"
"$CHECKS_BIN" "$SOCK" "$SHM" "127.0.0.1:$PORT" status unknown >/dev/null 2>&1 &&
    fail "a socket answered after the stop"
checker - "$SHM" - stopped "$before"
pass "stopped: the socket file removed, the segment left UNKNOWN, void from the stop, with a" \
    "bound whose width fits in int64"

# --- a killed oracled's segment, as ClockBound's readers see it ---
# Two at once, each SIGKILLed by the checker once its segment is SYNCHRONIZED: a grace of 1 s
# (ClockBound's reader keeps trusting for its own 5 s) and of 6 s (void_after decides).
start_fake_chrony fake3 "$FAKE"
SHM1=$TMP/run/shm-grace1
SHM6=$TMP/run/shm-grace6
start_oracled_on "$STEPPED" killed1 "$FAKE_PORT" --grace 1s --poll-interval 5ms \
    --clockbound-shm "$SHM1"
K1=$PID
LOG1=$LOG
start_oracled_on "$STEPPED" killed6 "$FAKE_PORT" --grace 6s --poll-interval 5ms \
    --clockbound-shm "$SHM6"
K6=$PID
wait_for_log "$LOG1" "$K1" "ready: serving timestamps" 10
wait_for_log "$LOG" "$K6" "ready: serving timestamps" 10
"$CHECKS_BIN" - "$SHM1" - killed "$K1" 1000000000 >"$TMP/killed1.out" 2>&1 &
C1=$!
track_pid "$C1"
"$CHECKS_BIN" - "$SHM6" - killed "$K6" 6000000000 >"$TMP/killed6.out" 2>&1 &
C6=$!
track_pid "$C6"
rc1=0
wait "$C1" || rc1=$?
rc6=0
wait "$C6" || rc6=$?
echo "# grace 1 s:"
sed 's/^/# /' "$TMP/killed1.out"
echo "# grace 6 s:"
sed 's/^/# /' "$TMP/killed6.out"
[ "$rc1" = 0 ] || fail "it_cbcompat killed (grace 1 s) exited $rc1"
[ "$rc6" = 0 ] || fail "it_cbcompat killed (grace 6 s) exited $rc6"
for k in "$K1" "$K6"; do
    rc=0
    wait "$k" || rc=$?
    [ "$rc" = 137 ] || fail "oracled $k exited $rc, not by SIGKILL"
done
pass "SIGKILL: the last record trusted by ClockBound's reader for max(grace, 5 s) after its" \
    "as_of (+ the coarse clock's lag, about a tick), then UNKNOWN; the old void_after" \
    "(+1000 s) would still be trusted then"

# The segment a killed oracled left is taken over by the next one, which then stops cleanly
# while SYNCHRONIZED.
start_oracled_on "$STEPPED" restarted "$FAKE_PORT" --grace 1s --poll-interval 5ms \
    --clockbound-shm "$SHM1"
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
checker - "$SHM1" - segment-status synchronized
before=$("$CHECKS_BIN" - - - coarse)
kill -TERM "$PID"
wait "$PID" || fail "oracled exited $?"
checker - "$SHM1" - stopped "$before"
pass "SIGTERM while SYNCHRONIZED, on the segment a killed oracled left: UNKNOWN, void from the" \
    "stop, a width that fits in int64 (the old 2^62 bound's overflows)"

# --- an untrusted clock, as a ClockBound v1 client sees it: every Now 20 bytes (go-clockboundc
# takes no other length), T = 0, F = 1, an interval that contains true time ---
# Before chrony has answered anything (it never will here): no bound at all.
start_fake_chrony silent "$FAKE" --silent
SOCK3=$TMP/run/untrusted.sock
SHM3=$TMP/run/shm-untrusted
start_oracled_on "$STEPPED" untrusted "$FAKE_PORT" --grace 1s --poll-interval 5ms \
    --clockbound-socket "$SOCK3" --clockbound-shm "$SHM3"
checker "$SOCK3" "$SHM3" "127.0.0.1:$PORT" status unknown-none
pass "before chrony answers: a Now gets 01 00 01 00, earliest 0, latest 2^63 - 1; Before/After" \
    "5 bytes, false (After(2^63) true)"
# chrony gone past the grace, on this machine's own clock (no step offset): the bound oracled
# had, grown since, still contains true time and is given.
echo 0 >"$ORACLE_TEST_STEP_FILE"
start_fake_chrony fake4 "$FAKE"
SOCK4=$TMP/run/grown.sock
SHM4=$TMP/run/shm-grown
start_oracled_on "$STEPPED" grown "$FAKE_PORT" --grace 1s --poll-interval 5ms \
    --clockbound-socket "$SOCK4" --clockbound-shm "$SHM4"
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
checker "$SOCK4" "$SHM4" "127.0.0.1:$PORT" status synchronized
kill "$FAKE_PID"
checker "$SOCK4" "$SHM4" "127.0.0.1:$PORT" status free-running
checker "$SOCK4" "$SHM4" "127.0.0.1:$PORT" status unknown-bound
pass "chrony gone past the grace: a Now gets 01 00 01 00 and the grown bound, which contains" \
    "this clock; Before/After 5 bytes over it"

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

# The segment's directory missing: created, every level, 0755 whatever the umask (the unit's is
# 0077), as ClockBound 2.x's writer does; a file in the way is named.
start_oracled_on "$STEPPED" made "$FAKE_PORT" --clockbound-shm "$TMP/made/clockbound/shm0"
wait_for_log "$LOG" "$PID" "clockbound shared memory segment at $TMP/made/clockbound/shm0" 5
contains "$(cat "$LOG")" "created the missing directories from $TMP/made down \(mode 0755\)" \
    "the log"
for d in "$TMP/made" "$TMP/made/clockbound"; do
    [ "$(stat -c %a "$d")" = 755 ] || fail "$d: mode $(stat -c %a "$d")"
done
[ "$(stat -c %s "$TMP/made/clockbound/shm0")" = 80 ] || fail "no segment in the new directory"
run 1 "$STEPPED" --listen 127.0.0.1:0 --http-listen none --state-dir "$TMP/fifth-state" \
    --chrony "udp:127.0.0.1:$FAKE_PORT" --clockbound-shm "$TMP/run/plain/clockbound/shm0"
contains "$ERR" "cannot create its directory: $TMP/run/plain is not a directory" "a file in the way"
pass "the segment's missing directories created (mode 0755, logged); a file in the way named"

# ClockBound 1.0's segment path: a warning at start naming 2.x's. Only in a private mount
# namespace with a tmpfs on /run, so the host's /run is never touched; skipped where that cannot
# be had (unshare -m needs root).
if unshare -m sh -c 'mount -t tmpfs tmpfs /run' 2>/dev/null; then
    rc=0
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout -s TERM 1 unshare -m sh -c 'mount -t tmpfs tmpfs /run && exec "$@"' sh "$STEPPED" \
        --listen 127.0.0.1:0 --http-listen none --state-dir "$TMP/v1path-state" \
        --chrony "udp:127.0.0.1:$FAKE_PORT" --clockbound-shm /run/clockbound/shm \
        >"$TMP/v1path.out" 2>&1 || rc=$?
    [ "$rc" = 124 ] || fail "oracled on 1.0's path: exit $rc: $(cat "$TMP/v1path.out")"
    contains "$(cat "$TMP/v1path.out")" \
        "warn: --clockbound-shm /run/clockbound/shm is ClockBound 1\.0's segment path.* look for /var/run/clockbound/shm0" \
        "oracled on 1.0's path"
    pass "--clockbound-shm /run/clockbound/shm (in a private /run): warned, naming" \
        "/var/run/clockbound/shm0"
else
    echo "# skipped: ClockBound 1.0's path needs a private /run (unshare -m: root)"
fi
echo "all $CHECKS checks passed"
