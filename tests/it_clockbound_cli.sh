#!/usr/bin/env bash
# Integration: the clockbound command against the scriptable fake chronyd: output, JSON, exit
# codes (0 true / 1 false / 2 error) and the error messages, over UDP and a unix socket.
# Usage: it_clockbound_cli.sh CLOCKBOUND FAKE_CHRONY
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

CB=$1
FAKE=$2
FAKE_PID=""
PORT=""

# start_fake [OPTIONS]: starts fake-chrony on a free UDP port; sets PORT and FAKE_PID.
start_fake() {
    stop_fake
    start_fake_chrony fake "$FAKE" "$@"
    PORT=$FAKE_PORT
}

stop_fake() {
    if [ -n "$FAKE_PID" ]; then
        kill "$FAKE_PID" 2>/dev/null || true
        wait "$FAKE_PID" 2>/dev/null || true
        FAKE_PID=""
    fi
}

cb() {
    "$CB" --chrony "udp:127.0.0.1:$PORT" --timeout 100ms --attempts 2 "$@"
}

# --- usage and argument errors (no chrony needed) ---
run 0 "$CB" --help
contains "$OUT" "Usage: clockbound" "--help"
contains "$OUT" "before TS" "--help lists before"
pass "--help"
run 0 "$CB" --version
contains "$OUT" "^clockbound \(oracled\) [0-9]+\.[0-9]+" "--version"
pass "--version"
run 2 "$CB"
contains "$ERR" "missing command" "no command"
run 2 "$CB" frobnicate
contains "$ERR" "unknown command 'frobnicate'" "unknown command"
run 2 "$CB" before
contains "$ERR" "takes one timestamp" "before without TS"
run 2 "$CB" now extra
contains "$ERR" "takes no arguments" "now with an argument"
run 2 "$CB" before abc
contains "$ERR" "nanoseconds since the Unix epoch" "bad TS"
run 2 "$CB" after 9223372036854775808
contains "$ERR" "below 2\^63" "TS >= 2^63"
run 2 "$CB" --max-drift-ppb 0 now
contains "$ERR" "invalid value '0' for --max-drift-ppb" "bad drift"
run 2 "$CB" --max-bound 10 now
contains "$ERR" "invalid value '10' for --max-bound: a duration" "duration without unit"
run 2 "$CB" --chrony 127.0.0.1:323 now
contains "$ERR" "udp:HOST\[:PORT\] or unix:PATH" "bad --chrony"
run 2 "$CB" --no-such-option now
contains "$ERR" "Try 'clockbound --help'" "unknown option"
pass "argument errors exit 2 with a message"

# --- a healthy, synchronised chrony ---
start_fake
run 0 cb now
contains "$OUT" "^status +SYNCHRONIZED" "now: status"
contains "$OUT" "^earliest +[0-9]{19}  20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z$" "now: earliest"
contains "$OUT" "^latest +[0-9]{19}  " "now: latest"
contains "$OUT" "^range +[0-9.]+ us" "now: range"
contains "$OUT" "DEMO time source" "now: demo source named"
contains "$ERR" "demo time source" "now: demo warning"
pass "now prints status, bound, earliest, latest, range"

before=$(now_ns)
run 0 cb --json now
after=$(now_ns)
json=$OUT
json_is "$json" .status SYNCHRONIZED "json status"
json_is "$json" .demo true "json demo"
json_is "$json" '.bound_ns > 0' true "json bound"
earliest=$(json_int "$json" earliest_ns)
latest=$(json_int "$json" latest_ns)
bound=$(json_int "$json" bound_ns)
[ $((latest - earliest)) -eq $((2 * bound)) ] || fail "json: latest - earliest != 2 x bound"
if [ "$earliest" -gt "$after" ] || [ "$latest" -lt "$before" ]; then
    fail "json: [$earliest, $latest] does not contain the clock read around it [$before, $after]"
fi
json_is "$json" '.chrony.ref_id' 7F000001 "json ref id"
pass "now --json"

# Before / After, with timestamps 1 s either side of now.
past=$(($(now_ns) - 1000000000))
future=$(($(now_ns) + 1000000000))
run 0 cb before "$past"
contains "$OUT" "^true" "before(past)"
run 1 cb before "$future"
contains "$OUT" "^false" "before(future)"
run 0 cb after "$future"
contains "$OUT" "^true" "after(future)"
run 1 cb after "$past"
contains "$OUT" "^false" "after(past)"
run 0 cb --json before 0
json_is "$OUT" .before true "before(0)"
run 1 cb --json after 0
json_is "$OUT" .after false "after(0)"
run 0 cb after 9223372036854775807
pass "before/after exit 0 for true and 1 for false"

# A real (non-loopback) reference is not a demo.
start_fake --ref-addr 10.1.2.3 --ref-id 0A010203
run 0 cb --json now
json_is "$OUT" .demo false "non-loopback source"
run 0 cb now
if grep -q "demo" <<<"$ERR$OUT"; then fail "a non-loopback source called a demo"; fi
pass "a non-loopback source is not a demo"

# --- chrony's states ---
start_fake --leap 3 --ref-id 0 --ref-time-zero --stratum 0
run 2 cb now
contains "$OUT" "^status +UNKNOWN" "unsynchronised: status"
contains "$ERR" "clock not trusted: chrony is not synchronised" "unsynchronised: message"
run 2 cb before 1
contains "$ERR" "not synchronised" "before when unsynchronised"
run 2 cb --json now
json_is "$OUT" .status UNKNOWN "unsynchronised json"
pass "never synchronised: UNKNOWN, exit 2"

start_fake --ref-id 7F7F0101
run 2 cb now
contains "$ERR" "local clock" "local reference"
pass "chrony's local reference: UNKNOWN"

start_fake --ref-age -5
run 2 cb now
contains "$ERR" "in the future" "future reference"
pass "reference time in the future: UNKNOWN"

start_fake --root-dispersion 0.02
run 2 cb now
contains "$ERR" "exceeds the maximum bound" "wide bound"
run 0 cb --max-bound 50ms now
pass "bound above --max-bound: UNKNOWN; a larger --max-bound accepts it"

start_fake --ref-age 6
run 0 cb --json now
json_is "$OUT" .status FREE_RUNNING "stale"
pass "stale reference: FREE_RUNNING, still served"

start_fake --correction 0.005
run 0 cb --json now
[ "$(json_int "$OUT" bound_ns)" -ge 5000000 ] || fail "5 ms correction: bound below 5 ms: $OUT"
pass "a 5 ms correction gives a bound of at least 5 ms"

start_fake --leap 1
run 0 cb --json now
json_is "$OUT" .status SYNCHRONIZED "leap announced (away from midnight)"

# --- chrony misbehaving ---
start_fake --silent
t0=$(now_ns)
run 2 cb now
t1=$(now_ns)
contains "$ERR" "is not answering \(no reply after 2 tries of 100 ms\)" "silent"
[ $((t1 - t0)) -ge 200000000 ] || fail "gave up after $(((t1 - t0) / 1000000)) ms, before 2 x 100 ms"
pass "no reply: exit 2 after the timeouts, saying chrony is not answering"

start_fake --garbage
run 2 cb now
contains "$ERR" "bad reply from chrony" "garbage"
start_fake --reply-len 60
run 2 cb now
contains "$ERR" "bad reply from chrony .*104 bytes" "short reply"
start_fake --status 2 --reply-len 28
run 2 cb now
contains "$ERR" "refused the tracking query: unauthorised" "unauthorised"
start_fake --bad-sequence
run 2 cb now
contains "$ERR" "not answering" "wrong sequence numbers are ignored"
pass "malformed replies: exit 2 with what was wrong"

stop_fake
run 2 cb now
contains "$ERR" "nothing listens for chrony commands at udp:127.0.0.1:$PORT" "refused"
run 2 "$CB" --chrony udp:no-such-host.invalid now
contains "$ERR" "host name does not resolve" "bad host"
pass "nothing listening / unknown host: exit 2"

# --- watch: polls failing -> FREE_RUNNING -> UNKNOWN after the grace period ---
start_fake --answer-count 3
run 0 cb --json --interval 100ms --grace 500ms --attempts 1 --timeout 20ms --count 12 watch
lines=$(wc -l <<<"$OUT")
[ "$lines" -eq 12 ] || fail "watch printed $lines lines, expected 12"
statuses=$(jq -r .status <<<"$OUT" | uniq | tr '\n' ' ')
# The first poll only starts the wait for a measurement made after start (the fake's
# reference follows the clock, so the second poll ends it).
[ "$statuses" = "UNKNOWN SYNCHRONIZED FREE_RUNNING UNKNOWN " ] || fail "watch statuses: $statuses"
jq -r .reason <<<"$OUT" | head -n 1 | grep -q "waiting for chrony's first measurement" ||
    fail "watch: first line is not the start-up wait"
jq -r .reason <<<"$OUT" | grep -q "not answered for longer than the grace period" ||
    fail "watch: no grace-period reason"
pass "watch: waits for a fresh measurement, SYNCHRONIZED, FREE_RUNNING while polls fail, UNKNOWN after the grace"

start_fake
run 0 cb --interval 50ms --count 3 watch
[ "$(wc -l <<<"$OUT")" -eq 3 ] || fail "watch --count 3"
contains "$OUT" "UNKNOWN +bound +[0-9.]+ us +waiting for chrony's first measurement" "watch: start"
contains "$OUT" "SYNCHRONIZED +bound +[0-9.]+ us" "watch human line"
pass "watch human output"

# --- unix socket transport ---
stop_fake
sock="$TMP/chronyd.sock"
"$FAKE" --unix "$sock" >"$TMP/fake.out" 2>"$TMP/fake.log" &
FAKE_PID=$!
track_pid "$FAKE_PID"
for _ in $(seq 1 100); do
    grep -q ready "$TMP/fake.out" 2>/dev/null && break
    sleep 0.05
done
run 0 "$CB" --chrony "unix:$sock" --json now
json_is "$OUT" .status SYNCHRONIZED "unix socket"
left=$(find "$TMP" -name 'clockbound.*.sock' | wc -l)
[ "$left" -eq 0 ] || fail "clockbound left $left socket files behind"
run 2 "$CB" --chrony "unix:$TMP/missing.sock" now
contains "$ERR" "No such file or directory" "missing unix socket"
pass "unix socket: answered, own socket removed afterwards"

# --- the PHC's own error bound (as oracled: added while chrony's reference is the PHC) ---
start_fake --ref-id 50484330 --stratum 1
printf '250000\n' >"$TMP/phc"
run 0 cb --json now
plain=$(json_int "$OUT" bound_ns)
run 0 cb --json --phc-error-bound-file "$TMP/phc" now
with=$(json_int "$OUT" bound_ns)
# Two runs a few ms apart on the same fake chronyd: the same bound but for the PHC's 250 us.
if [ $((with - plain)) -lt 245000 ] || [ $((with - plain)) -gt 255000 ]; then
    fail "PHC as reference: bound $with vs $plain without the file"
fi
printf 'junk\n' >"$TMP/phc"
run 2 cb --json --phc-error-bound-file "$TMP/phc" now
json_is "$OUT" .status UNKNOWN "a PHC file without a number"
contains "$OUT" "error bound file does not hold a number" "the reason"
start_fake --stratum 1
run 0 cb --json --phc-error-bound-file "$TMP/phc" now
json_is "$OUT" .status SYNCHRONIZED "another reference: the PHC file is not read into the bound"
run 2 cb --phc-error-bound-file "$TMP/missing" now
contains "$ERR" "cannot open the PHC error bound file" "a missing PHC file"
run 2 cb --phc-refid TOOLONG now
contains "$ERR" "invalid value 'TOOLONG' for --phc-refid" "a bad refid"
pass "PHC error bound: added while PHC0 is the reference, UNKNOWN on junk, ignored for another" \
    "reference; a missing file and a bad refid refused"

echo "all $CHECKS checks passed"
