#!/usr/bin/env bash
# Integration: the PHC's own error bound (DESIGN.md section 2), against the daemon. Two oracleds
# read the same --phc-error-bound-file: one on a fake chronyd whose reference ID is PHC0 (the
# PHC is the reference), one on a fake chronyd with any other reference (the control). The
# file's value must be in the first one's bound and not in the second's; it changes between
# polls (rewritten in place, as a sysfs attribute changes); every bad value makes the first one
# refuse to serve (UNKNOWN, the reason named, /healthz 503) and leaves the control serving; a
# good value again serves again. Start-up errors: a missing file, an interface that is not
# there, both options, a bad reference ID.
# Usage: it_phc.sh ORACLED FAKE_CHRONY ORACLE_CLI
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
CLI=$3

PHC=$TMP/phc_error_bound
# In place, as the driver's attribute changes: the open descriptor sees each new value.
set_phc() {
    printf '%s' "$1" 1<>"$PHC"
    truncate -s "${#1}" "$PHC"
}
printf '30000\n' >"$PHC"

start_fake_chrony fake-phc "$FAKE" --ref-id 50484330 --stratum 1
PHC_FAKE_PORT=$FAKE_PORT
start_oracled_on "$ORACLED" phc "$FAKE_PORT" --phc-error-bound-file "$PHC"
PHC_PID=$PID PHC_PORT=$PORT PHC_HTTP=$HTTP
wait_for_log "$LOG" "$PID" "PHC error bound $PHC: 30000 ns now; added while chrony's reference is PHC0" 5
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
wait_for_log "$LOG" "$PID" "chrony's reference is the PHC \(PHC0\): its own error bound, now 30000 ns" 5

start_fake_chrony fake-other "$FAKE" --stratum 1
start_oracled_on "$ORACLED" other "$FAKE_PORT" --phc-error-bound-file "$PHC"
OTHER_PID=$PID OTHER_HTTP=$HTTP
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10

# bound_of HTTP: the smallest bound /healthz shows in 15 reads over ~100 ms: the bound just
# after a poll, before it grows (at 50 ppm and more, ~1 us per 20 ms poll interval).
bound_of() {
    local b min=
    for _ in $(seq 1 15); do
        health_at "$1"
        [ "$CODE" = 200 ] || fail "/healthz of :$1 answered $CODE: $BODY"
        b=$(json_int "$BODY" bound_ns)
        if [ -z "$min" ] || [ "$b" -lt "$min" ]; then
            min=$b
        fi
        sleep 0.007
    done
    echo "$min"
}

# The same fake chrony answers both: the PHC's bound is the control's plus the file's value,
# to within what two bounds read just after their polls can differ (3 us).
near() {
    local got=$1 want=$2 what=$3
    if [ $((got - want)) -gt 3000 ] || [ $((want - got)) -gt 3000 ]; then
        fail "$what: bound difference $got ns, expected $want +- 3 us"
    fi
}
health_at "$PHC_HTTP"
json_is "$BODY" .phc.reference true "PHC as reference"
json_is "$BODY" .phc.error_bound_ns 30000 "PHC as reference"
near $(($(bound_of "$PHC_HTTP") - $(bound_of "$OTHER_HTTP"))) 30000 "PHC as reference, 30 us"
health_at "$OTHER_HTTP"
json_is "$BODY" .phc.reference false "the control"
pass "the PHC is the reference: its 30 us are in the bound; the control's bound has none"

set_phc "500000"
# Until a poll has read it (/healthz shows it), then the bounds.
phc_bound_is() {
    health_at "$1"
    [ "$(jq -r .phc.error_bound_ns <<<"$BODY")" = "$2" ]
}
wait_until 10 "/healthz showing the PHC's error bound of 500 us" phc_bound_is "$PHC_HTTP" 500000
near $(($(bound_of "$PHC_HTTP") - $(bound_of "$OTHER_HTTP"))) 500000 "value changed to 500 us"
run 0 "$CLI" --server "127.0.0.1:$PHC_PORT" now
pass "the file changed between polls: the next polls use 500 us"

# bad VALUE REASON: the PHC daemon refuses, the control serves; then a good value serves again.
bad() {
    local logged
    logged=$(grep -cE "$2.*the clock is UNKNOWN while the PHC \(PHC0\)" "$TMP/phc.log" || true)
    set_phc "$1"
    wait_health "$PHC_HTTP" 503 5
    json_is "$BODY" .clock_status UNKNOWN "'$1'"
    contains "$BODY" "$2" "'$1': the reason in /healthz"
    # Logged, but then no line for 30 s (a flapping file): only the first bad value's shows.
    if [ "$CHECKS" -lt 3 ]; then
        [ "$(grep -cE "$2.*the clock is UNKNOWN while the PHC \\(PHC0\\)" "$TMP/phc.log")" -gt "$logged" ] ||
            fail "'$1': not logged"
    fi
    run 2 "$CLI" --server "127.0.0.1:$PHC_PORT" ts
    contains "$ERR" "answered CLOCK_UNAVAILABLE" "'$1': ts"
    health_at "$OTHER_HTTP"
    [ "$CODE" = 200 ] || fail "'$1': the control's /healthz answered $CODE: $BODY"
    set_phc "20000"
    wait_health "$PHC_HTTP" 200 5
    json_is "$BODY" .phc.error_bound_ns 20000 "'$1', then 20000"
    run 0 "$CLI" --server "127.0.0.1:$PHC_PORT" ts
    pass "PHC error bound '$1': UNKNOWN ($2), the control served; a good value serves again"
}
bad "garbage" "does not hold a number"
bad "" "is empty"
bad "-5" "negative or out of range"
bad "20000000" "above the max bound"

# A read that fails (an I/O error: /proc/self/mem read at offset 0 gives EIO) while the PHC is
# the reference: UNKNOWN at once, as DESIGN.md section 2 says of an unreadable value (chronyd
# goes on steering the clock to the PHC meanwhile, so a last bound grown at the drift would
# assume the PHC's error had not risen unseen).
start_oracled_on "$ORACLED" eio "$PHC_FAKE_PORT" --phc-error-bound-file /proc/self/mem --grace 1s
EIO_PID=$PID
wait_for_log "$LOG" "$PID" "PHC error bound /proc/self/mem: cannot be read now \(Input/output error\)" 5
wait_for_log "$LOG" "$PID" "the PHC error bound file cannot be read \(/proc/self/mem: Input/output error\): the clock is UNKNOWN" 5
health_at "$HTTP"
[ "$CODE" = 503 ] || fail "EIO: /healthz answered $CODE: $BODY"
contains "$BODY" "its error bound file cannot be read" "EIO: the reason"
run 2 "$CLI" --server "127.0.0.1:$PORT" ts
kill "$EIO_PID"
wait "$EIO_PID" 2>/dev/null || true
pass "a PHC error bound read that fails (EIO): UNKNOWN at once, the reason named"

# Misconfigurations that would leave the PHC's error out without a word: chrony on a refclock
# PHC1 while --phc-refid is PHC0; chrony on a refclock PHC0 with no PHC file set up. Each warned.
start_fake_chrony fake-phc1 "$FAKE" --ref-id 50484331 --refclock --stratum 1
start_oracled_on "$ORACLED" phc1 "$FAKE_PORT" --phc-error-bound-file "$PHC"
wait_for_log "$LOG" "$PID" "chrony's reference is the refclock PHC1, not --phc-refid PHC0: the PHC's own error bound is not added" 5
kill "$PID"
start_fake_chrony fake-phc0 "$FAKE" --ref-id 50484330 --refclock --stratum 1
start_oracled_on "$ORACLED" nophc "$FAKE_PORT"
wait_for_log "$LOG" "$PID" "chrony's reference is the refclock PHC0, a PTP hardware clock by its name, but no --phc-interface" 5
kill "$PID"
pass "warned: chrony on refclock PHC1 with --phc-refid PHC0; chrony on PHC0 with no PHC file"

# Start-up errors, each with its message and exit status 1 or 2.
start_refused "$ORACLED" "a missing file" "cannot open the PHC error bound file $TMP/nope" \
    --chrony udp:127.0.0.1:9 --phc-error-bound-file "$TMP/nope"
start_refused "$ORACLED" "no such interface" "--phc-interface no-such-if0: cannot read /sys/class/net/no-such-if0/device/uevent" \
    --chrony udp:127.0.0.1:9 --phc-interface no-such-if0
start_refused "$ORACLED" "both options" "--phc-interface and --phc-error-bound-file" \
    --chrony udp:127.0.0.1:9 --phc-interface eth0 --phc-error-bound-file "$PHC"
start_refused "$ORACLED" "a reference ID of five characters" "invalid value 'PHC10' for --phc-refid" \
    --chrony udp:127.0.0.1:9 --phc-refid PHC10

kill "$PHC_PID" "$OTHER_PID"
wait "$PHC_PID" "$OTHER_PID" 2>/dev/null || true
echo "it_phc: $CHECKS checks passed"
