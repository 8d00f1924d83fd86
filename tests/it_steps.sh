#!/usr/bin/env bash
# Integration: clock steps under load, through oracled-stepped (oracled on a clock the test steps
# by writing an offset file: never the system clock) and a fake chronyd that follows the same
# offset. Back 50 ms, then forward 1 s, while a client records every timestamp: DISRUPTED at
# each step, nothing served meanwhile, service resumed once chrony has measured again, and every
# timestamp above every earlier one.
# A third step, back 2 s, is the control: after it the server's own clock (Now) reads below a
# timestamp it issued before, so order held only because oracled kept it, not because time
# moved on.
# Usage: it_steps.sh ORACLED_STEPPED FAKE_CHRONY IT_ORACLED ORACLE_CLI
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

STEPPED=$1
FAKE=$2
CHECKS_BIN=$3
CLI=$4

export ORACLE_TEST_STEP_FILE=$TMP/step
echo 0 >"$ORACLE_TEST_STEP_FILE"
start_fake_chrony fake "$FAKE"
start_oracled_on "$STEPPED" oracled "$FAKE_PORT" --grace 1s
wait_for_log "$LOG" $PID "ready: serving timestamps" 10
pass "oracled-stepped serving on port $PORT"

# count PATTERN: how many log lines match.
count() {
    grep -cE -- "$1" "$TMP/oracled.log" || true
}

# step NS NAME: sets the shared clock's offset and has both processes re-read it; then waits
# for oracled to call the clock disrupted and, after chrony measured again, trusted.
step() {
    local disrupted synced t0
    disrupted=$(count "clock DISRUPTED")
    synced=$(count "clock SYNCHRONIZED")
    echo "$1" >"$ORACLE_TEST_STEP_FILE"
    t0=$(date +%s%N)
    kill -USR1 "$FAKE_PID" "$PID"
    local deadline=$((SECONDS + 10))
    until [ "$(count "clock DISRUPTED")" -gt "$disrupted" ]; do
        [ $SECONDS -lt $deadline ] || fail "$2: no DISRUPTED: $(tail -n 5 "$TMP/oracled.log")"
        sleep 0.01
    done
    local detected=$((($(date +%s%N) - t0) / 1000000))
    until [ "$(count "clock SYNCHRONIZED")" -gt "$synced" ]; do
        [ $SECONDS -lt $deadline ] || fail "$2: not trusted again: $(tail -n 5 "$TMP/oracled.log")"
        sleep 0.01
    done
    local resumed=$((($(date +%s%N) - t0) / 1000000))
    pass "$2: DISRUPTED within $detected ms, trusted again after $resumed ms"
}

"$CHECKS_BIN" "127.0.0.1:$PORT" record 9 >"$TMP/record.out" 2>&1 &
REC=$!
track_pid $REC
sleep 1.5
step -50000000 "clock stepped back 50 ms under load"
sleep 1.5
step 950000000 "clock stepped forward 1 s under load"
sleep 1
run 0 "$CLI" --server "127.0.0.1:$PORT" --json ts
before=$(json_int "$OUT" first_ns)
step -1050000000 "clock stepped back 2 s under load"
run 0 "$CLI" --server "127.0.0.1:$PORT" --json now
earliest=$(json_int "$OUT" earliest_ns)
[ "$earliest" -lt "$before" ] ||
    fail "control: the clock after the step ($earliest) is not below a timestamp issued before it ($before)"
pass "control: after the 2 s step the server's clock reads $(((before - earliest) / 1000000)) ms below a timestamp it issued before"
wait $REC || fail "recorder: $(cat "$TMP/record.out")"
cat "$TMP/record.out"
pass "every timestamp above every earlier one across the three steps"
grep -E "clock (DISRUPTED|SYNCHRONIZED)" "$TMP/oracled.log" | sed 's/^/# /'
echo "all $CHECKS checks passed"
