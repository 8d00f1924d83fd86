#!/usr/bin/env bash
# Integration: a clock step that races a chrony update (DESIGN.md section 2, "Clock status",
# DISRUPTED), against oracled-stepped (oracled on a clock the test steps through an offset file,
# never the system clock) and fake-chrony in its timeline mode, following the same offset:
# reference updates held for 0.25 s, SIGUSR2 forcing one now; each update measures the shared clock's
# true offset (correction = -offset: after a step, the next update reports it). The race: a
# forced update, then at once a step of the shared clock, with no oracled poll between the two
# (the fake's request count and the offset it made the update on show it; an attempt where a poll
# fell between is repeated with a further step). oracled polls every 100 ms and sees the step at
# once (it_faults sends it a Now every millisecond). That stale update is on the old timescale:
# after a backward step its reference time looks newer than the step. it_faults requires every
# trusted Now to contain the true time (the system clock) and none to be trusted after the step
# until the fake's next real update (oracled waits for six: clockbound.h, CB_STEP_UPDATES).
# Back 100 ms, then forward 100 ms.
# Usage: it_step_race.sh ORACLED_STEPPED FAKE_CHRONY IT_FAULTS
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

STEPPED=$1
FAKE=$2
FAULTS=$3

export ORACLE_TEST_STEP_FILE=$TMP/step
echo 0 >"$ORACLE_TEST_STEP_FILE"
EVENTS=$TMP/events

start_fake_chrony fake "$FAKE" --update-every 0.25 --events "$EVENTS"
start_oracled_on "$STEPPED" oracled "$FAKE_PORT" --poll-interval 100ms --max-bound 500ms \
    --max-wait 2s --grace 2s
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
pass "oracled-stepped serving, fake chronyd updating every 0.25 s"

"$FAULTS" "127.0.0.1:$PORT" race "$EVENTS" >"$TMP/race.out" 2>&1 &
CHECKER=$!
track_pid $CHECKER
sleep 0.3

# attempt DELTA_NS: forces a chrony update and steps the shared clock by DELTA_NS right after;
# succeeds if no oracled poll reached the fake between the two and the update was made on the
# clock before the step. Waits for the fake's next update (and a poll after it) either way.
attempt() {
    local old new steps synced deadline
    old=$(cat "$ORACLE_TEST_STEP_FILE")
    synced=$(count_lines "$LOG" "clock SYNCHRONIZED")
    new=$((old + $1))
    steps=$(count_lines "$EVENTS" "^step ")
    kill -USR2 "$FAKE_PID"
    put "$ORACLE_TEST_STEP_FILE" "$new"
    kill -USR1 "$PID" "$FAKE_PID"
    deadline=$((SECONDS + 10))
    until [ "$(count_lines "$EVENTS" "^step ")" -gt "$steps" ]; do
        [ $SECONDS -lt $deadline ] || fail "the fake did not see the step"
        sleep 0.01
    done
    # Until the fake's sixth update and a poll after it: the daemon trusted again.
    until [ "$(count_lines "$LOG" "clock SYNCHRONIZED")" -gt "$synced" ]; do
        [ $SECONDS -lt $deadline ] || fail "not trusted again after the step"
        sleep 0.05
    done
    # The last update before the step line, and the step: same request count, old offset.
    awk -v old="$old" '
        $1 == "update" { off = $4; req = $5; kind = $9 }
        $1 == "step" { last = (kind == "forced" && off == old && req == $5) }
        END { exit !last }' "$EVENTS"
}

# race DELTA_NS NAME: attempts until one raced (at most 6).
race() {
    local i
    for i in 1 2 3 4 5 6; do
        if attempt "$1"; then
            pass "$2: raced a chrony update (attempt $i)"
            return
        fi
        echo "# $2: attempt $i had an oracled poll between the update and the step; again"
    done
    fail "$2: never raced a chrony update in 6 attempts"
}

race -100000000 "clock stepped back 100 ms"
race 100000000 "clock stepped forward 100 ms"

kill -TERM $CHECKER
rc=0
wait $CHECKER || rc=$?
sed 's/^/# /' "$TMP/race.out"
[ $rc -eq 0 ] || fail "a trusted Now missed the true time, or was trusted before chrony measured again"
pass "every trusted Now contained the true time; untrusted after each step until chrony's next update"
grep -E "clock (DISRUPTED|SYNCHRONIZED|UNKNOWN|FREE_RUNNING)" "$LOG" | sed 's/^/# /'
echo "all $CHECKS checks passed"
