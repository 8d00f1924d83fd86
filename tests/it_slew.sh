#!/usr/bin/env bash
# Integration: a slew that outlives chronyd (DESIGN.md section 2), against the real oracled.
# fake-chrony's timeline (tests/support/fake_timeline.h): reference updates every 1/16 s, then at
# T (SIGUSR2) one update measuring a correction C that it slews away at RATE, C = RATE x 1 s (the
# fastest slew chrony makes for that offset), and falls silent for good SILENT s after T (0: only
# the first poll after T is answered). If it is still answering at T + 1 s, chronyd ended the
# slew there; if not, the kernel slews on past zero. 16 scenarios at once (rates 10, 100, 1000 and
# 83,333 ppm, silent at 0, 0.1, 0.95 and 1.2 s, C of either sign), each its own fake and oracled.
# it_faults records Nows from before T until UNKNOWN and requires of every trusted one
# (latest - earliest)/2 >= |theta(mid)|, theta the truth at the server's own reading; FREE_RUNNING
# in the silence, UNKNOWN only after the 2 s grace. The control: today's figure (the last answer's
# constant |correction| + delay/2 + dispersion + D since) fails that check at the fast rates.
# Usage: it_slew.sh ORACLED FAKE_CHRONY IT_FAULTS
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
FAULTS=$3
GRACE_MS=2000

RATES=(10 100 1000 83333)
SILENT=(0 0.1 0.95 1.2)
NAMES=()
declare -A FAKES PORTS CHECKERS
for ri in "${!RATES[@]}"; do
    for si in "${!SILENT[@]}"; do
        rate=${RATES[$ri]}
        silent=${SILENT[$si]}
        # Both signs at every rate and at every silence point.
        sign=$(((ri + si) % 2 ? -1 : 1))
        corr=$(awk -v r="$rate" -v s="$sign" 'BEGIN { printf "%.9f", s * r * 1e-6 }')
        name=r$rate-s$silent
        NAMES+=("$name")
        start_fake_chrony "fake-$name" "$FAKE" --update-every 0.0625 --slew-rate "$rate" \
            --slew-correction "$corr" --silent-at "$silent" --events "$TMP/$name.events"
        FAKES[$name]=$FAKE_PID
        start_oracled_on "$ORACLED" "$name" "$FAKE_PORT" --max-bound 500ms --max-wait 2s \
            --grace "${GRACE_MS}ms" --poll-interval 20ms
        PORTS[$name]=$PORT
        wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
    done
done
pass "${#NAMES[@]} fake chronyds and oracleds serving"

for name in "${NAMES[@]}"; do
    "$FAULTS" "127.0.0.1:${PORTS[$name]}" slew "$TMP/$name.events" "$GRACE_MS" \
        >"$TMP/$name.check" 2>&1 &
    CHECKERS[$name]=$!
    track_pid "${CHECKERS[$name]}"
done
sleep 0.5
for name in "${NAMES[@]}"; do
    kill -USR2 "${FAKES[$name]}"
done

failed=()
for name in "${NAMES[@]}"; do
    rc=0
    wait "${CHECKERS[$name]}" || rc=$?
    echo "# $name:"
    sed 's/^/#   /' "$TMP/$name.check"
    [ "$rc" -eq 0 ] || failed+=("$name")
done
[ ${#failed[@]} -eq 0 ] || fail "bound below the slew's true offset, or wrong statuses: ${failed[*]}"
pass "every trusted Now covered the slew's true offset, in all ${#NAMES[@]} scenarios;" \
    "FREE_RUNNING in the silence, UNKNOWN after the grace"

# control_violations NAME: the control's count from the checker's result line.
control_violations() {
    grep -oE "control_violations=[0-9]+" "$TMP/$1.check" | cut -d= -f2
}
flagged=()
for name in "${NAMES[@]}"; do
    [ "$(control_violations "$name")" -eq 0 ] || flagged+=("$name($(control_violations "$name"))")
done
echo "# control, today's figure: violations in ${flagged[*]:-none}"
for name in r1000-s0.1 r1000-s0.95 r83333-s0.1 r83333-s0.95; do
    [ "$(control_violations "$name")" -gt 0 ] ||
        fail "control: today's figure was not caught in $name: the test cannot tell"
done
pass "control: today's constant-correction figure fails the same check at 1000 and 83,333 ppm"
echo "all $CHECKS checks passed"
