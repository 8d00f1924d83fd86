#!/usr/bin/env bash
# Integration: the real oracled against a real chrony pair (dev/demo-chrony, chronyd -x).
# Runs the it_oracled checks while chrony is healthy, again once the client chronyd is stopped
# (retriable errors, connections closed) and once it is back, then stops oracled with SIGTERM.
# Usage: it_oracled.sh ORACLED IT_ORACLED DEMO_CHRONY
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
CHECKS_BIN=$2
DEMO=$3
if ! command -v chronyd >/dev/null; then
    echo "SKIP: chronyd not installed (apt-get install chrony)"
    exit 77
fi

# --- the command line ---
run 0 "$ORACLED" --help
contains "$OUT" "Usage: oracled" "--help"
run 0 "$ORACLED" --version
contains "$OUT" "^oracled [0-9]+\.[0-9]+" "--version"
run 2 "$ORACLED" --max-bound 60ms --max-wait 100ms
contains "$ERR" "must be below half of --max-wait" "bound vs wait"
run 2 "$ORACLED" --poll-interval 5
contains "$ERR" "invalid value '5' for --poll-interval" "duration without unit"
run 2 "$ORACLED" --chrony tcp:1.2.3.4
contains "$ERR" "invalid --chrony" "bad chrony address"
run 2 "$ORACLED" stray
contains "$ERR" "unexpected argument 'stray'" "stray argument"
pass "command line: --help, --version, and errors exit 2 with a message"

# Every value and rule is checked before anything is opened: the state directory given with a
# bad address is neither created nor locked.
mkdir "$TMP/untouched"
run 2 "$ORACLED" --listen 127.0.0.1:99999 --state-dir "$TMP/never"
contains "$ERR" "invalid value '127.0.0.1:99999' for --listen" "a bad --listen"
run 2 "$ORACLED" --http-listen localhost:7601 --state-dir "$TMP/untouched"
contains "$ERR" "invalid value 'localhost:7601' for --http-listen" "a bad --http-listen"
run 2 "$ORACLED" --listen 127.0.0.1:7600 --http-listen 127.0.0.1:7600 --state-dir "$TMP/untouched"
contains "$ERR" "are the same address" "one address twice"
[ ! -e "$TMP/never" ] || fail "a bad --listen created the state directory"
[ -z "$(ls -A "$TMP/untouched")" ] || fail "a bad address touched the state directory: $(ls "$TMP/untouched")"
pass "bad addresses exit 2 before the state directory is created or locked"

PAIR=$TMP/pair
demo_pair "$DEMO" "$PAIR"

# IPv6 too, where this machine has it on loopback.
listen6=()
if ip -6 addr show dev lo 2>/dev/null | grep -q "inet6 ::1/"; then
    listen6=(--listen "[::1]:0")
fi
"$ORACLED" --listen 127.0.0.1:0 "${listen6[@]}" --http-listen 127.0.0.1:0 \
    --state-dir "$TMP/state" --chrony "udp:127.0.0.1:$CMD_PORT" --grace 1s \
    >"$TMP/oracled.log" 2>&1 &
ORACLED_PID=$!
track_pid $ORACLED_PID

wait_log() {
    wait_for_log "$TMP/oracled.log" "$ORACLED_PID" "$@"
}

wait_log "listening on 127\.0\.0\.1:[0-9]+ \(oracle" 10
PORT=$(bound_port "$TMP/oracled.log" oracle)
wait_log "ready: serving timestamps" 20
grep -q "DEMO source" "$TMP/oracled.log" || fail "no warning about the demo time source"
pass "oracled listening on port $PORT, clock trusted, demo source named in the log"

# A second daemon cannot take the same port.
run 1 "$ORACLED" --listen "127.0.0.1:$PORT" --http-listen none --state-dir "$TMP/state2" \
    --chrony "udp:127.0.0.1:$CMD_PORT"
contains "$ERR" "cannot listen on 127.0.0.1:$PORT \(oracle\): Address already in use" "port in use"
pass "a port in use: exit 1 with a message"

"$CHECKS_BIN" "127.0.0.1:$PORT" healthy
pass "operations, ordering, commit-wait, pipelining and bad input (it_oracled healthy)"

if [ ${#listen6[@]} -gt 0 ]; then
    wait_log "listening on \[::1\]:[0-9]+" 5
    PORT6=$(grep -oE "listening on \[::1\]:[0-9]+" "$TMP/oracled.log" | head -n 1 |
        sed 's/.*://')
    "$CHECKS_BIN" "[::1]:$PORT6" resumed
    pass "IPv6: served on [::1]:$PORT6"
fi

# --- chrony stopped: FREE_RUNNING during the 1 s grace, then UNKNOWN ---
"$DEMO" stop-client "$PAIR"
wait_log "clock UNKNOWN: chrony has not answered" 10
"$CHECKS_BIN" "127.0.0.1:$PORT" unavailable
pass "chrony stopped: retriable errors, connection closed after them (it_oracled unavailable)"
[ "$(grep -c "chrony poll failed" "$TMP/oracled.log")" -le 3 ] ||
    fail "one log line per failed poll: $(grep -c "chrony poll failed" "$TMP/oracled.log")"

# --- chrony back: served again without a restart ---
"$DEMO" start-client "$PAIR"
wait_log "chrony answers again" 20
deadline=$((SECONDS + 20))
until [ "$(grep -cE "clock (SYNCHRONIZED|FREE_RUNNING)" "$TMP/oracled.log")" -ge 3 ]; do
    [ $SECONDS -lt $deadline ] || fail "clock not trusted again: $(tail -n 5 "$TMP/oracled.log")"
    sleep 0.1
done
"$CHECKS_BIN" "127.0.0.1:$PORT" resumed
pass "chrony back: served again without a restart (it_oracled resumed)"

# --- SIGTERM: clean exit, with the lateness summary ---
kill -TERM $ORACLED_PID
rc=0
wait $ORACLED_PID || rc=$?
[ $rc -eq 0 ] || fail "oracled exited with $rc after SIGTERM"
grep -q "SIGTERM received" "$TMP/oracled.log" || fail "no shutdown line"
grep -E "commit-wait since start: [0-9]+ releases" "$TMP/oracled.log" ||
    fail "no lateness summary"
pass "SIGTERM: exit 0"
grep -E "commit-wait|clock|served" "$TMP/oracled.log" | sed 's/^/# /'
echo "all $CHECKS checks passed"
