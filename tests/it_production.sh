#!/usr/bin/env bash
# Integration: oracled in production - the state file across kill -9, the lock, refusals of a
# corrupt or too-far-ahead state file, /healthz and /metrics (checked by promtool), chrony loss
# turning /healthz 503, a client that never reads cut off, SIGTERM drain, the configuration
# file, systemd notifications. A real chrony pair (chronyd -x); every process stopped by PID.
# Usage: it_production.sh ORACLED IT_ORACLED NOTIFY_LISTEN DEMO_CHRONY
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
CHECKS_BIN=$2
NOTIFY_LISTEN=$3
DEMO=$4
for tool in chronyd curl promtool; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not installed (dev/install-deps --test installs it)"
        exit 77
    fi
done

PAIR=$TMP/pair
demo_pair "$DEMO" "$PAIR"
CHRONY="udp:127.0.0.1:$CMD_PORT"

# start_oracled NAME ARGS...: starts oracled with its log in $TMP/NAME.log; sets PID, PORT and
# HTTP (the ports it bound) once it logs them.
start_oracled() {
    local name=$1
    shift
    LOG=$TMP/$name.log
    "$ORACLED" --chrony "$CHRONY" "$@" >"$LOG" 2>&1 &
    PID=$!
    track_pid $PID
    wait_log "listening on 127\.0\.0\.1:[0-9]+ \(oracle" 10
    wait_log "listening on 127\.0\.0\.1:[0-9]+ \(HTTP" 10
    PORT=$(bound_port "$LOG" oracle)
    HTTP=$(bound_port "$LOG" HTTP)
}

# wait_log PATTERN SECONDS: until the current daemon's log matches.
wait_log() {
    wait_for_log "$LOG" "$PID" "$@"
}

stop_oracled() {
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
}

# state_line H: a valid state file line for H (CRC-32 from gzip's trailer).
state_line() {
    local text="oracled-state v1 high_water_ns=$1"
    local crc
    crc=$(printf '%s' "$text" | gzip -c | tail -c 8 | od -An -tx4 -N4 | tr -d ' \n')
    printf '%s crc32=%s\n' "$text" "$crc"
}

COMMON=(--listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --grace 1s)

# --- a fresh start: the state file appears; /healthz and /metrics ---
start_oracled first "${COMMON[@]}" --state-dir "$TMP/state"
wait_log "ready: serving timestamps" 20
[ -f "$TMP/state/state" ] || fail "no state file written"
grep -qE "^oracled-state v1 high_water_ns=[0-9]{19} crc32=[0-9a-f]{8}$" "$TMP/state/state" ||
    fail "state file: $(cat "$TMP/state/state")"
pass "fresh start: ready, state file written"

health
[ "$CODE" = 200 ] || fail "/healthz $CODE: $BODY"
json_is "$BODY" .status ok "healthz status"
json_is "$BODY" '.clock_status | test("SYNCHRONIZED|FREE_RUNNING")' true "healthz clock"
json_is "$BODY" '.bound_ns > 0 and .last_poll_age_ns >= 0' true "healthz numbers"
json_is "$BODY" .demo true "healthz demo"
json_is "$BODY" '.warning | test("demo")' true "healthz demo warning"
echo "# /healthz: $BODY"
pass "/healthz 200 with status, bound, poll age, time source and the demo warning"

"$CHECKS_BIN" "127.0.0.1:$PORT" resumed >/dev/null
curl -s "http://127.0.0.1:$HTTP/metrics" >"$TMP/metrics.txt"
promtool check metrics <"$TMP/metrics.txt" || fail "promtool check metrics failed"
for m in 'oracled_requests_total{op="get_timestamp",result="ok"} [1-9]' \
    'oracled_commit_wait_seconds_bucket{le="\+Inf"} [1-9]' \
    'oracled_release_lateness_seconds_count [1-9]' 'oracled_clock_bound_seconds 0\.' \
    'oracled_release_lateness_at_release_seconds_count [1-9]' \
    'oracled_release_lateness_write_seconds_count [1-9]' 'oracled_release_passes_total [1-9]' \
    'oracled_clock_status{status="(SYNCHRONIZED|FREE_RUNNING)"} 1' 'oracled_connections ' \
    'oracled_pending_waits 0' 'oracled_run_ahead_seconds ' 'oracled_reservation_headroom_seconds 0\.' \
    'oracled_state_write_seconds_count [1-9]' 'oracled_chrony_poll_seconds_count [1-9]' \
    'oracled_chrony_polls_total{result="failed"} ' 'oracled_bound_violations_total 0' \
    'oracled_ready 1' 'oracled_demo_time_source 1'; do
    grep -Eq "^$m" "$TMP/metrics.txt" || fail "/metrics has no line /$m/"
done
pass "/metrics passes promtool check metrics and has every series"

run 0 curl -s -I "http://127.0.0.1:$HTTP/healthz"
contains "$OUT" "^HTTP/1.1 200 OK" "HEAD"
run 0 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/nope"
[ "$OUT" = 404 ] || fail "unknown path: $OUT"
run 0 curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$HTTP/healthz"
[ "$OUT" = 405 ] || fail "POST: $OUT"
run 0 curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" \
    "http://127.0.0.1:$HTTP/healthz"
[ "$OUT" = 431 ] || fail "oversized head: $OUT"
# Heads past the 1 KiB read inline (the buffer grows to 8 KiB), sent whole and a byte at a time.
run 0 curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 6000 /dev/zero | tr '\0' a)" \
    "http://127.0.0.1:$HTTP/healthz"
[ "$OUT" = 200 ] || fail "a 6 KB head: $OUT"
reply=$(python3 - "$HTTP" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"b" * 2000 + b"\r\n\r\n"
for i in range(0, len(head), 700):
    s.send(head[i:i + 700])
    time.sleep(0.01)
print(s.recv(100).split(b"\r\n")[0].decode())
PY
)
[ "$reply" = "HTTP/1.1 200 OK" ] || fail "a 2 KB head in pieces: $reply"
exec 5<>"/dev/tcp/127.0.0.1/$HTTP"
printf 'garbage\r\n\r\n' >&5
reply=$(head -n 1 <&5)
exec 5<&-
contains "$reply" "^HTTP/1.1 400 " "garbage request"
pass "HTTP: HEAD, 404, 405, 431 for a huge head, 400 for garbage"

# --- a second daemon on the same state directory refuses ---
run 1 "$ORACLED" --chrony "$CHRONY" --listen 127.0.0.1:0 --http-listen none \
    --state-dir "$TMP/state"
contains "$ERR" "another oracled holds the state directory's lock" "second daemon"
pass "a second daemon on the same state directory refuses to start"

# --- kill -9 under load, restarted 20 times: strictly increasing throughout ---
FIXED=$PORT
RESTARTS=20
# The recorder outlasts the restarts (each ~1.5 s: 0.6 s of load, then the wait until earliest
# passes the last run's high-water mark).
"$CHECKS_BIN" "127.0.0.1:$FIXED" record $((RESTARTS * 2 + 4)) >"$TMP/record.out" 2>&1 &
REC=$!
track_pid $REC
for i in $(seq 1 $RESTARTS); do
    sleep 0.6
    kill -9 "$PID"
    wait "$PID" 2>/dev/null || true
    start_oracled "restart$i" --listen "127.0.0.1:$FIXED" --http-listen 127.0.0.1:0 --grace 1s \
        --state-dir "$TMP/state"
    wait_log "ready: serving timestamps" 20
done
wait $REC || fail "recorder: $(cat "$TMP/record.out")"
cat "$TMP/record.out"
grep -q "high-water mark [0-9]*; serving once" "$TMP/restart$RESTARTS.log" ||
    fail "restart did not read the high-water mark"
pass "kill -9 under load, $RESTARTS restarts: every timestamp above every earlier one"

# --- state files that must stop a start ---
mkdir -p "$TMP/ahead" "$TMP/corrupt"
now_ns=$(date +%s%N)
state_line $((now_ns + 5000000000)) >"$TMP/ahead/state"
run 1 "$ORACLED" --chrony "$CHRONY" --listen 127.0.0.1:0 --http-listen none \
    --state-dir "$TMP/ahead"
contains "$ERR" "state file $TMP/ahead/state holds the high-water mark [0-9]+, [45]\.[0-9]+ s ahead" \
    "too far ahead"
contains "$ERR" "remove the file to start afresh" "how to reset"
state_line "$now_ns" | head -c 40 >"$TMP/corrupt/state"
run 1 "$ORACLED" --chrony "$CHRONY" --listen 127.0.0.1:0 --http-listen none \
    --state-dir "$TMP/corrupt"
contains "$ERR" "truncated" "truncated state file"
state_line "$now_ns" | sed 's/crc32=......../crc32=00000000/' >"$TMP/corrupt/state"
run 1 "$ORACLED" --chrony "$CHRONY" --listen 127.0.0.1:0 --http-listen none \
    --state-dir "$TMP/corrupt"
contains "$ERR" "checksum does not match" "corrupt state file"
pass "an H too far ahead, a truncated and a corrupt state file refuse to start, saying why"

# --- an H just ahead: NOT_READY and /healthz 503 until earliest passes it ---
stop_oracled
mkdir -p "$TMP/soon"
state_line $(($(date +%s%N) + 800000000)) >"$TMP/soon/state"
start_oracled soon "${COMMON[@]}" --state-dir "$TMP/soon"
health
[ "$CODE" = 503 ] || fail "/healthz while waiting for H: $CODE $BODY"
contains "$BODY" "high-water mark|chrony" "503 reason while starting"
wait_log "ready: serving timestamps" 20
health
[ "$CODE" = 200 ] || fail "/healthz after the wait: $CODE $BODY"
pass "an H 0.8 s ahead: 503 until earliest passes it, then 200"

# --- chrony stopped: 200 while FREE_RUNNING, 503 within 1 s of UNKNOWN ---
# SIGKILL the client chronyd (ours, by PID): chronyd takes a moment to exit on SIGTERM, and the
# grace period is only 1 s.
t0=$(now_ns)
kill -9 "$CLIENT_PID"
got503=""
saw_free_running=0
while [ $(($(now_ns) - t0)) -lt 10000000000 ]; do
    health
    if [ "$CODE" = 503 ]; then
        got503=$((($(now_ns) - t0) / 1000000))
        break
    fi
    if grep -q '"clock_status":"FREE_RUNNING"' <<<"$BODY"; then
        saw_free_running=1
    fi
    sleep 0.05
done
[ -n "$got503" ] || fail "/healthz never 503 after chrony stopped"
[ $saw_free_running -eq 1 ] || fail "no 200 FREE_RUNNING during the grace period"
# UNKNOWN after the 1 s grace (counted from the last good poll); 503 within 1 s of that.
if [ "$got503" -lt 900 ] || [ "$got503" -gt 2000 ]; then
    fail "/healthz 503 after $got503 ms"
fi
json_is "$BODY" .clock_status UNKNOWN "503 clock status"
pass "chrony stopped: 200 FREE_RUNNING during the 1 s grace, 503 after $got503 ms"
"$DEMO" stop-client "$PAIR"
"$DEMO" start-client "$PAIR"
wait_log "chrony answers again" 20
stop_oracled

# --- a client that never reads is cut off, another is served ---
start_oracled slow "${COMMON[@]}" --state-dir "$TMP/slow" --write-timeout 1s --max-output 64K
wait_log "ready: serving timestamps" 20
"$CHECKS_BIN" "127.0.0.1:$PORT" nonreader || fail "non-reading client not cut off"
# Read whole before grep: with pipefail, grep -q leaving early makes curl's write fail.
metrics=$(curl -s "http://127.0.0.1:$HTTP/metrics")
grep -Eq "^oracled_clients_cut_off_total [1-9]" <<<"$metrics" ||
    fail "cut-off not counted"
grep -q "cutting the client off" "$LOG" || fail "cut-off not logged"
stop_oracled
pass "a client that never reads is cut off (logged, counted) while another is served"

# --- SIGTERM with a drain delay ---
NOTIFY=$TMP/notify.sock
"$NOTIFY_LISTEN" "$NOTIFY" 30 >"$TMP/notify.out" &
track_pid $!
wait_until 10 "notify-listen's socket" test -S "$NOTIFY"
NOTIFY_SOCKET=$NOTIFY start_oracled drain "${COMMON[@]}" --state-dir "$TMP/drain" \
    --drain-delay 1s
wait_log "ready: serving timestamps" 20
wait_until 10 "READY=1 after 'ready' ($(cat "$TMP/notify.out"))" grep -q "READY=1" "$TMP/notify.out"
exec 6<>"/dev/tcp/127.0.0.1/$PORT" # an idle connection, open through the drain
t0=$(now_ns)
kill -TERM "$PID"
# 503 at once, inside the drain delay (1 s), for the balancer to see: polled for, and timed,
# rather than looked at once after a fixed 0.2 s.
wait_health "$HTTP" 503 5
ms=$((($(now_ns) - t0) / 1000000))
# The bound is the drain delay itself (a loaded machine may be slow to poll, never wrong).
[ "$ms" -lt 1000 ] || fail "/healthz 503 only $ms ms after SIGTERM, past the 1 s drain delay"
contains "$BODY" "draining" "drain reason"
wait_until 5 "STOPPING=1 after SIGTERM" grep -q "STOPPING=1" "$TMP/notify.out"
"$CHECKS_BIN" "127.0.0.1:$PORT" resumed || fail "not served during the drain delay"
rc=0
wait "$PID" || rc=$?
exec 6<&-
[ $rc -eq 0 ] || fail "exit status $rc after the drain"
grep -q "draining: no new connections" "$LOG" || fail "no closing phase"
run 1 "$CHECKS_BIN" "127.0.0.1:$PORT" resumed
pass "SIGTERM: /healthz 503 (after $ms ms) and STOPPING=1 at once, served for the drain delay," \
    "exit 0"
ready_at=$(grep READY=1 "$TMP/notify.out" | cut -d' ' -f1)
echo "# systemd notifications: $(tr '\n' ' ' <"$TMP/notify.out") (READY at ${ready_at} s)"

# --- the configuration file; the command line wins ---
cat >"$TMP/oracled.conf" <<EOF
# oracled test configuration
listen = 127.0.0.1:0
http-listen = 127.0.0.1:0
state-dir = $TMP/conf-state
max-wait = 50ms   # overridden below
grace = 1s
EOF
start_oracled conf --config "$TMP/oracled.conf" --max-wait 60ms
wait_log "ready: serving timestamps" 20
contains "$(curl -s "http://127.0.0.1:$HTTP/healthz")" '"status":"ok"' "config: healthz"
"$CHECKS_BIN" "127.0.0.1:$PORT" info >"$TMP/info.out"
grep -q "max_wait_ns 60000000" "$TMP/info.out" ||
    fail "config: the command line did not win"
stop_oracled
echo "bogus-key = 1" >>"$TMP/oracled.conf"
run 2 "$ORACLED" --config "$TMP/oracled.conf"
contains "$ERR" "oracled.conf:7: unknown key 'bogus-key'" "unknown key"
printf 'max-wait = soon\n' >"$TMP/bad.conf"
run 2 "$ORACLED" --config "$TMP/bad.conf"
contains "$ERR" "bad.conf:1: invalid value 'soon' for max-wait" "bad value in file"
pass "configuration file read, command line wins, unknown keys and bad values refused"

echo "all $CHECKS checks passed"
