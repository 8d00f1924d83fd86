#!/usr/bin/env bash
# Integration: clock steps under load, through oracled-stepped (oracled on a clock the test steps
# by writing an offset file: never the system clock) and a fake chronyd that follows the same
# offset. Back 50 ms, then forward 1 s, while a client records every timestamp: DISRUPTED at
# each step, nothing served meanwhile, service resumed once chrony has measured again, and every
# timestamp above every earlier one.
# A third step, back 2 s, is the control: after it the server's own clock (Now) reads below a
# timestamp it issued before, so order held only because oracled kept it, not because time
# moved on. Every 8th request waits, and its reply must come after the test's own clock (the
# stepped one) has passed the timestamp; a control shows that check failing against a clock
# 1 s behind the server's.
# Then kill -9 and a restart with the clock 800 ms behind the last timestamp issued: kept, the
# state file's high-water mark holds the restart back until the clock passes it (no regression);
# removed (the control: a build without it behaves so), the recorder catches the regression.
# Usage: it_steps.sh ORACLED_STEPPED FAKE_CHRONY IT_ORACLED ORACLE_CLI
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

STEPPED=$1
FAKE=$2
CHECKS_BIN=$3
CLI=$4

export ORACLE_TEST_STEP_FILE=$TMP/step
echo 0 >"$ORACLE_TEST_STEP_FILE"
# The recorder's clock (see record in it_oracled.c): it moves with the steps, always on the
# checker's side of the server's.
TRUTH=$TMP/truth
echo 0 >"$TRUTH"

# put FILE VALUE: replaces the file at once (rename), so no reader sees it empty.
put() {
    echo "$2" >"$1.new"
    mv "$1.new" "$1"
}
start_fake_chrony fake "$FAKE"
start_oracled_on "$STEPPED" oracled "$FAKE_PORT" --grace 1s
wait_for_log "$LOG" $PID "ready: serving timestamps" 10
pass "oracled-stepped serving on port $PORT"

# step NS NAME: sets the shared clock's offset and has both processes re-read it; then waits
# for oracled to call the clock disrupted and, after chrony measured again, trusted.
step() {
    local disrupted synced t0
    disrupted=$(count_lines "$TMP/oracled.log" "clock DISRUPTED")
    synced=$(count_lines "$TMP/oracled.log" "clock SYNCHRONIZED")
    local forward=0
    [ "$1" -gt "$(cat "$ORACLE_TEST_STEP_FILE")" ] && forward=1
    [ $forward = 0 ] || put "$TRUTH" "$1"
    put "$ORACLE_TEST_STEP_FILE" "$1"
    t0=$(date +%s%N)
    kill -USR1 "$FAKE_PID" "$PID"
    local deadline=$((SECONDS + 10))
    until [ "$(count_lines "$TMP/oracled.log" "clock DISRUPTED")" -gt "$disrupted" ]; do
        [ $SECONDS -lt $deadline ] || fail "$2: no DISRUPTED: $(tail -n 5 "$TMP/oracled.log")"
        sleep 0.01
    done
    local detected=$((($(date +%s%N) - t0) / 1000000))
    [ $forward = 1 ] || put "$TRUTH" "$1"
    until [ "$(count_lines "$TMP/oracled.log" "clock SYNCHRONIZED")" -gt "$synced" ]; do
        [ $SECONDS -lt $deadline ] || fail "$2: not trusted again: $(tail -n 5 "$TMP/oracled.log")"
        sleep 0.01
    done
    local resumed=$((($(date +%s%N) - t0) / 1000000))
    pass "$2: DISRUPTED within $detected ms, trusted again after $resumed ms"
}

"$CHECKS_BIN" "127.0.0.1:$PORT" record 9 8 "$TRUTH" >"$TMP/record.out" 2>&1 &
REC=$!
track_pid $REC
wait_requests "$HTTP" get_timestamp 200 10 # under load
step -50000000 "clock stepped back 50 ms under load"
sleep 1.5
step 950000000 "clock stepped forward 1 s under load"
sleep 1
# Served once the server can (right after a step it may still be making its new high-water mark
# durable: NOT_READY, retriable), as a client retries.
served 5 "$CLI" --server "127.0.0.1:$PORT" --json ts
before=$(json_int "$OUT" first_ns)
step -1050000000 "clock stepped back 2 s under load"
served 5 "$CLI" --server "127.0.0.1:$PORT" --json now
earliest=$(json_int "$OUT" earliest_ns)
[ "$earliest" -lt "$before" ] ||
    fail "control: the clock after the step ($earliest) is not below a timestamp issued before it ($before)"
pass "control: after the 2 s step the server's clock reads $(((before - earliest) / 1000000)) ms below a timestamp it issued before"
wait $REC || fail "recorder: $(cat "$TMP/record.out")"
cat "$TMP/record.out"
pass "every timestamp above every earlier one across the three steps; no commit-wait released early"
grep -E "clock (DISRUPTED|SYNCHRONIZED)" "$TMP/oracled.log" | sed 's/^/# /'

echo "$(($(cat "$TRUTH") - 1000000000))" >"$TMP/behind"
run 1 "$CHECKS_BIN" "127.0.0.1:$PORT" record 1 1 "$TMP/behind"
contains "$ERR" "^EARLY: " "the early-release check, against a clock 1 s behind"
pass "control: the same check, against a clock 1 s behind the server's, reports an early release"

# --- kill -9, then a restart with the clock 800 ms behind ---
FIXED=$PORT
# restart_behind NAME: kills oracled, puts both clocks 800 ms back, starts it again on the
# same port and state directory (a 2 s window, so the 1 s reservation is not refused).
restart_behind() {
    kill -9 "$PID"
    wait "$PID" 2>/dev/null || true
    local back=$(($(cat "$ORACLE_TEST_STEP_FILE") - 800000000))
    put "$ORACLE_TEST_STEP_FILE" "$back"
    put "$TRUTH" "$back"
    kill -USR1 "$FAKE_PID"
    start_oracled_on "$STEPPED" "$1" "$FAKE_PORT" --listen "127.0.0.1:$FIXED" --grace 1s \
        --state-window 2s --state-dir "$TMP/oracled-state"
    wait_for_log "$LOG" $PID "ready: serving timestamps" 10
}

"$CHECKS_BIN" "127.0.0.1:$FIXED" record 4 8 "$TRUTH" >"$TMP/kept.out" 2>&1 &
REC=$!
track_pid $REC
wait_requests "$HTTP" get_timestamp 100 10 # recording
restart_behind kept
grep -q "high-water mark [0-9]*; serving once" "$LOG" || fail "kept: the state file was not read"
wait $REC || fail "recorder across the restart: $(cat "$TMP/kept.out")"
cat "$TMP/kept.out"
held=$(grep -oE "started [0-9.]+ s ago" "$TMP/kept.log" | grep -oE "[0-9.]+ s")
pass "restart with the clock 800 ms behind, state file kept: held $held, until the clock passed" \
    "the high-water mark; no regression, no early release"

"$CHECKS_BIN" "127.0.0.1:$FIXED" record 3 >"$TMP/removed.out" 2>&1 &
REC=$!
track_pid $REC
wait_requests "$HTTP" get_timestamp 100 10 # recording
rm "$TMP/oracled-state/state"
restart_behind removed
grep -q "no state file yet, a fresh start" "$LOG" || fail "removed: $(head -n 5 "$LOG")"
if wait $REC; then
    fail "control: no regression seen without the state file: $(cat "$TMP/removed.out")"
fi
contains "$(cat "$TMP/removed.out")" "^REGRESSION: " "the recorder without the state file"
sed 's/^/# /' "$TMP/removed.out"
pass "control: the same restart without the state file issues timestamps below earlier ones, and the recorder catches it"
echo "all $CHECKS checks passed"
