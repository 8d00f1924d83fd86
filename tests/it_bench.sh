#!/usr/bin/env bash
# Smoke test of the benchmark harness (not of speed): oracle-bench for about a second in each
# mode against a live oracled (fed by fake-chrony), the echo server and, where installed,
# redis-server; every result must be well-formed JSON with the fields the report reads, and
# bench/report.sh must turn them into the table.
# Usage: it_bench.sh ORACLED FAKE_CHRONY ORACLE_BENCH ECHO_SERVER REPORT
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
BENCH=$3
ECHO=$4
REPORT=$5
RESULTS=$TMP/results.jsonl

run 0 "$BENCH" --help
contains "$OUT" "Usage: oracle-bench" "--help"
run 2 "$BENCH" --target memcached
contains "$ERR" "--target is oracled, redis or echo" "bad target"
run 2 "$BENCH" --duration 5
contains "$ERR" "invalid --duration '5'" "duration without a unit"
run 2 "$BENCH" --scenario 'a"b'
contains "$ERR" "--scenario takes letters" "a scenario name JSON would need escaped"
run 2 "$BENCH" --addr localhost:1
contains "$ERR" "invalid --addr" "a name, not a numeric address"
run 1 "$BENCH" --addr 127.0.0.1:1 --duration 1s
contains "$ERR" "cannot connect to 127.0.0.1:1" "nothing listening"
pass "usage errors exit 2, a refused connection 1, with messages"

start_fake_chrony fake "$FAKE"
# A wide state window: with other tests loading both cores the state file's rewrite can lag,
# and the server rightly answers NOT_READY meanwhile; the smoke test expects no errors.
start_oracled_on "$ORACLED" oracled "$FAKE_PORT" --state-window 5s
wait_for_log "$LOG" $PID "ready: serving timestamps" 10
"$ECHO" >"$TMP/echo.out" 2>&1 &
EPID=$!
track_pid $EPID
wait_for_log "$TMP/echo.out" $EPID "listening on" 5
EPORT=$(grep -oE "[0-9]+$" "$TMP/echo.out")

# bench NAME ARGS...: one run, its JSON kept in $J and appended to the results.
bench() {
    local name=$1
    shift
    run 0 "$BENCH" --scenario "$name" --warmup 100ms "$@"
    J=$OUT
    jq -e . >/dev/null <<<"$J" || fail "$name: not JSON: $J"
    echo "$J" >>"$RESULTS"
}

# check_run FILTER WHAT: jq FILTER of the last result must be true.
check_run() {
    jq -e "$1" >/dev/null <<<"$J" || fail "$2: $1 is not true of $J"
}

bench s1-1x1 --addr "127.0.0.1:$PORT" --duration 1s --server-pid $PID --cdf "$TMP/cdf.dat"
check_run '.target == "oracled" and .op == "ts" and .mode == "closed" and .requests > 100' "s1"
check_run '.errors == 0 and .rps > 0 and .timestamps_per_s == .rps' "s1 counts (1 each)"
check_run '.latency_us.p50 > 0 and .latency_us.p50 <= .latency_us.p99 and .latency_us.p99 <= .latency_us.max' "s1 latency"
check_run '.server_cpu_s >= 0 and .server_rss_kib_after > 0' "s1 server"
[ "$(grep -c . "$TMP/cdf.dat")" -eq 1002 ] || fail "CDF: $(head -3 "$TMP/cdf.dat")"
bench s1-1x1 --target echo --addr "127.0.0.1:$EPORT" --duration 1s
check_run '.target == "echo" and .requests > 100 and .errors == 0' "echo"
bench s3-50x16 --addr "127.0.0.1:$PORT" --connections 50 --depth 16 --requests 20000
check_run '.requests > 15000 and .errors == 0' "50x16, bounded by a count"
bench s4-count64 --addr "127.0.0.1:$PORT" --count 64 --duration 500ms
check_run '(.timestamps_per_s / .rps - 64) * (.timestamps_per_s / .rps - 64) < 0.0001' "count 64"
pass "closed loop: oracled (1x1, 50x16 by count, count 64) and echo; CDF for gnuplot"

bench s5-wait-1 --addr "127.0.0.1:$PORT" --op ts-wait --duration 1s --metrics "127.0.0.1:$HTTP"
check_run '.waited_us.count > 0 and .client_lateness_us.count > 0' "ts-wait: waits"
check_run '.server_lateness_us.count > 0 and .server_lateness_us.p50 <= .server_lateness_us.max_le' \
    "ts-wait: server lateness from /metrics"
bench s5-wait-1000 --addr "127.0.0.1:$PORT" --op wait-until --wait-ahead 5ms \
    --connections 4 --depth 50 --duration 1s --metrics "127.0.0.1:$HTTP"
check_run '.waited_us.p50 > 1000 and .client_lateness_us.count > 0 and .errors == 0' \
    "wait-until 5 ms ahead"
bench open --addr "127.0.0.1:$PORT" --rate 2000 --connections 2 --duration 1s
check_run '.mode == "open" and .rate == 2000 and .requests > 1500 and .requests < 2500' \
    "open loop at 2000/s"
# Every request's latency recorded, in order (how fast is the benchmark's to report, not this
# test's: a loaded machine makes it slow, never wrong).
check_run '.latency_us.count == .requests and .latency_us.p50 > 0 and
    .latency_us.p50 <= .latency_us.p90 and .latency_us.p90 <= .latency_us.p99 and
    .latency_us.p99 <= .latency_us.max' "open loop latency"
pass "commit-wait (waited, client and server lateness) and the open loop"

bench s6-idle-10000 --addr "127.0.0.1:$PORT" --idle 200 --server-pid $PID
check_run '.mode == "idle" and .requests == 200 and .server_rss_bytes_per_connection > 0' "idle"
run 0 "$BENCH" --rest 1s --server-pid $PID --scenario s7-rest
J=$OUT
check_run '.server_cpu_s >= 0 and .seconds == 1' "rest"
echo "$J" >>"$RESULTS"
pass "idle connections (RSS per connection) and the server at rest (CPU)"

if command -v redis-server >/dev/null; then
    # redis-server cannot take port 0: try random ports until one is free.
    RPID=""
    for _ in $(seq 1 20); do
        RPORT=$((20000 + RANDOM % 40000))
        redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
            --logfile "$TMP/redis.log" >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 1 100); do
            grep -q "Ready to accept connections" "$TMP/redis.log" 2>/dev/null && break
            kill -0 $pid 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 $pid 2>/dev/null; then
            RPID=$pid
            track_pid $RPID
            break
        fi
        wait $pid 2>/dev/null || true
        rm -f "$TMP/redis.log"
    done
    [ -n "$RPID" ] || fail "redis-server did not start: $(cat "$TMP/redis.log")"
    bench s1-1x1 --target redis --addr "127.0.0.1:$RPORT" --duration 1s
    check_run '.target == "redis" and .op == "incr" and .requests > 100 and .errors == 0' "redis"
    pass "Redis INCR over RESP"
else
    echo "# redis-server not installed: its run skipped"
fi

run 0 "$REPORT" "$TMP" 2 "test CPU" "it_bench.sh" "0"
contains "$OUT" "^\| 1: 1 connection, depth 1 \| [0-9]+ \|" "report: scenario 1 row"
contains "$OUT" "^\| 1 waiter .* \| [0-9]+ \|" "report: scenario 5 row"
contains "$OUT" "bytes per connection" "report: scenario 6"
contains "$OUT" "at rest" "report: scenario 7"
pass "bench/report.sh makes the table from the results"
echo "all $CHECKS checks passed"
