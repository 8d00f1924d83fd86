#!/usr/bin/env bash
# Integration: liboracle-client, oracle-cli and the examples against a real oracled fed by the
# scriptable fake chronyd; the CLI's output, JSON and exit codes (0 true / 1 false / 2 error)
# and its error messages; and the installed library, header and pkg-config file.
# Usage: it_client.sh ORACLED FAKE_CHRONY IT_CLIENT ORACLE_CLI EXAMPLES_DIR BUILD_DIR SANITIZED
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
IT_CLIENT=$3
CLI=$4
EXAMPLES=$5
BUILD=$6
SANITIZED=$7


# --- usage errors: no server needed ---
run 0 "$CLI" --help
contains "$OUT" "Usage: oracle-cli" "--help"
contains "$OUT" "before TS" "--help lists before"
run 0 "$CLI" --version
contains "$OUT" "^oracle-cli [0-9]+\.[0-9]+" "--version"
run 2 "$CLI"
contains "$ERR" "Usage: oracle-cli" "no command"
run 2 "$CLI" frobnicate
contains "$ERR" "unknown command 'frobnicate'" "unknown command"
run 2 "$CLI" before
contains "$ERR" "'before' needs a timestamp" "missing TS"
run 2 "$CLI" before yesterday
contains "$ERR" "invalid timestamp 'yesterday'" "bad TS"
run 2 "$CLI" after 2300-01-01T00:00:00Z
contains "$ERR" "out of range" "TS after 2262"
run 2 "$CLI" now --count 3
contains "$ERR" "--count, --wait and --min go with 'ts'" "option for another command"
run 2 "$CLI" --timeout 0 now
contains "$ERR" "invalid --timeout '0'" "bad timeout"
run 2 "$CLI" --server "a:1,,b" now
contains "$ERR" "invalid server list 'a:1,,b': entry 2" "bad server list"
pass "usage errors: exit 2 with a message"

# --- nothing listening ---
start_fake_chrony fake "$FAKE"
CHRONY_PORT=$FAKE_PORT
start_oracled_on "$ORACLED" probe "$CHRONY_PORT"
DEAD=$PORT
kill "$PID"
wait "$PID" 2>/dev/null || true
run 2 "$CLI" --server "127.0.0.1:$DEAD" now
contains "$ERR" "cannot connect to oracled \(127\.0\.0\.1:$DEAD: Connection refused\)" \
    "refused: the address and the reason"
contains "$ERR" "is oracled running and listening on that address" "refused: what to check"
run 2 "$CLI" --server "127.0.0.1:$DEAD" --json now
json_is "$OUT" .error.code CONNECT "refused: JSON error"
json_is "$OUT" .error.retriable true "refused: retriable"
pass "connection refused: exit 2, says where and what to check"

# --- a healthy daemon (on IPv6 loopback too, where this machine has it) ---
listen6=()
if ip -6 addr show dev lo 2>/dev/null | grep -q "inet6 ::1/"; then
    listen6=(--listen "[::1]:0")
fi
# (A wide state window: under parallel test load the state file's rewrite can lag, and the
# retriable NOT_READY meanwhile is not what these checks are about.)
start_oracled_on "$ORACLED" main "$CHRONY_PORT" --idle-timeout 1s --state-window 5s \
    "${listen6[@]}"
wait_for_log "$LOG" $PID "ready: serving timestamps" 10
if [ ${#listen6[@]} -gt 0 ]; then
    port6=$(grep -oE "listening on \[::1\]:[0-9]+" "$LOG" | head -n 1 | sed 's/.*://')
    run 0 "$CLI" --server "[::1]:$port6" info
    contains "$OUT" "^server +\[::1\]:$port6$" "IPv6"
    # A list: the first entry refuses, the second answers.
    run 0 "$CLI" --server "127.0.0.1:$DEAD,[::1]:$port6" now
    pass "IPv6 ([::1]:$port6), and a server list whose first entry refuses"
fi
export ORACLE_SERVER=127.0.0.1:$PORT
"$IT_CLIENT" "$ORACLE_SERVER" "127.0.0.1:$HTTP"
pass "library against the daemon: calls, commit-wait order, pipelining, errors, an idle" \
    "connection the daemon closed replaced (it_client)"

run 0 "$CLI" now
contains "$OUT" "^earliest +20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z  [0-9]{19}$" "now: earliest"
contains "$OUT" "^latest " "now: latest"
contains "$OUT" "^midpoint " "now: midpoint"
contains "$OUT" "^range +[0-9]+\.[0-9]{3} us \(\+/- [0-9]+\.[0-9]{3} us\)$" "now: range"
contains "$OUT" "^status +SYNCHRONIZED$" "now: status"
run 0 "$CLI" --json now
e=$(json_int "$OUT" earliest_ns)
l=$(json_int "$OUT" latest_ns)
m=$(json_int "$OUT" midpoint_ns)
if [ "$e" -ge "$l" ] || [ "$m" -lt "$e" ] || [ "$m" -gt "$l" ]; then
    fail "now: earliest, midpoint, latest out of order: $OUT"
fi
json_is "$OUT" .status SYNCHRONIZED "now --json"
pass "now: earliest, latest, midpoint, range, status (text and JSON)"

run 0 "$CLI" ts
contains "$OUT" "^timestamp +20[0-9-]{8}T[0-9:.]{18}Z  [0-9]{19}$" "ts"
run 0 "$CLI" ts --count 64 --wait --json
first=$(json_int "$OUT" first_ns)
last=$(json_int "$OUT" last_ns)
[ $((last - first)) -eq 63 ] || fail "ts --count 64: $OUT"
[ "$(json_int "$OUT" earliest_ns)" -gt "$last" ] || fail "ts --wait: not past at the reply: $OUT"
json_is "$OUT" .commit_wait true "ts --wait --json"
run 0 "$CLI" ts --wait --min "$((last + 1000000))"
contains "$OUT" "^commit-wait +[0-9]+\.[0-9]{3} ms" "ts --wait: the wait"
t=$(grep -oE "[0-9]{19}$" <<<"$OUT" | head -n 1)
[ "$t" -gt $((last + 1000000)) ] || fail "ts --min: $t not above $((last + 1000000))"
pass "ts: one, --count 64 --wait (past at the reply), --min"

run 0 "$CLI" before "$first"
contains "$OUT" "^true \(.* is certainly in the past\)$" "before: past"
future=$(($(now_ns) + 3600000000000))
run 1 "$CLI" before "$future"
contains "$OUT" "^false " "before: future"
run 0 "$CLI" after "$future"
contains "$OUT" "^true .*certainly still in the future" "after: future"
run 1 "$CLI" after "$first"
run 0 "$CLI" before 2020-01-01T00:00:00.5Z
run 1 "$CLI" --json after 2020-01-01T00:00:00+01:00
json_is "$OUT" .after false "after --json"
pass "before/after: exit 0 true, 1 false; ns and RFC 3339 timestamps"

soon=$(($(now_ns) + 30000000))
run 0 "$CLI" wait "$soon"
contains "$OUT" "^waited [0-9]+\.[0-9]{3} ms: .* is certainly in the past$" "wait"
[ "$(now_ns)" -gt "$soon" ] || fail "wait returned before the timestamp"
run 2 "$CLI" wait "$(($(now_ns) + 60000000000))"
contains "$ERR" "answered WAIT_TOO_LONG" "wait too long: the code"
contains "$ERR" "hint: .*--max-wait" "wait too long: the hint"
pass "wait: returns once past; too far ahead is WAIT_TOO_LONG, exit 2 with a hint"

run 0 "$CLI" info
contains "$OUT" "^server +127\.0\.0\.1:$PORT$" "info: server"
contains "$OUT" "^instance +[0-9a-f]{32}$" "info: instance"
contains "$OUT" "^time source +chrony udp:127\.0\.0\.1:$CHRONY_PORT" "info: time source"
contains "$OUT" "^max wait +100\.000 ms$" "info: max wait"
run 0 "$CLI" --json info
json_is "$OUT" .max_count 65536 "info --json"
run 0 "$CLI" watch --count 3 --interval 100ms
[ "$(grep -cE "^20[0-9-]{8}T[0-9:.]{12}Z  SYNCHRONIZED +bound +[0-9.]+ us  rtt +[0-9.]+ us$" \
    <<<"$OUT")" -eq 3 ] || fail "watch: $OUT"
"$CLI" watch --interval 100ms >"$TMP/watch.out" 2>&1 &
WATCH=$!
track_pid $WATCH
# Two lines out (the first check answered, and the interval), then Ctrl-C.
wait_until 10 "watch: two lines" awk '/SYNCHRONIZED/ {n++} END {exit n < 2}' "$TMP/watch.out"
kill -INT $WATCH
rc=0
wait $WATCH || rc=$?
[ $rc -eq 0 ] || fail "watch: exit $rc after Ctrl-C"
[ "$(grep -c SYNCHRONIZED "$TMP/watch.out")" -ge 2 ] || fail "watch: $(cat "$TMP/watch.out")"
pass "info and watch (--count, and stopped by Ctrl-C with exit 0)"

for e in before after commit; do
    run 0 "$EXAMPLES/example-$e"
    while IFS= read -r line; do echo "# $e: $line"; done <<<"$OUT"
done
contains "$OUT" "^ordered +yes" "commit example"
pass "examples: before, after and commit behave as ClockBound's demos"
run 0 "$EXAMPLES/example-threads"
while IFS= read -r line; do echo "# threads: $line"; done <<<"$OUT"
contains "$OUT" "^ordered +yes \(0 commits" "threads example: commit order across threads"
contains "$OUT" "^requests +[0-9]+ for 1600 calls" "threads example: every call ended"
pass "example: 8 threads on one shared client, commit order across them"

# --- a daemon whose chrony is not synchronised (leap status 3) ---
start_fake_chrony unsync "$FAKE" --leap 3
start_oracled_on "$ORACLED" unsync "$FAKE_PORT"
wait_for_log "$LOG" $PID "clock UNKNOWN" 10
run 2 "$CLI" --server "127.0.0.1:$PORT" now
contains "$ERR" "answered CLOCK_UNAVAILABLE" "unsynchronised: the code"
contains "$ERR" "hint: .*chrony is not synchronised" "unsynchronised: the hint"
run 2 "$CLI" --server "127.0.0.1:$PORT" --json ts
json_is "$OUT" .error.code CLOCK_UNAVAILABLE "unsynchronised: JSON"
json_is "$OUT" .error.retriable true "unsynchronised: retriable"
pass "clock unavailable: exit 2, says chrony is not synchronised"

# --- installed: header, shared and static library, pkg-config ---
if [ "$SANITIZED" = 1 ]; then
    echo "# install check skipped: sanitizer builds are not for installing"
else
    cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null
    pc=$(find "$TMP/prefix" -name oracle-client.pc)
    [ -n "$pc" ] || fail "no oracle-client.pc installed"
    export PKG_CONFIG_PATH
    PKG_CONFIG_PATH=$(dirname "$pc")
    cat >"$TMP/user.c" <<'C'
#include <oracle/async.h>
#include <oracle/client.h>
#include <stdio.h>
/* One timestamp from a blocking client, one from a shared one; the async header compiles. */
int main(int argc, char **argv)
{
    struct oracle_client_options o;
    oracle_client_options_init(&o);
    o.servers = argc > 1 ? argv[1] : o.servers;
    struct oracle_error err;
    oracle_client *c = oracle_client_new(&o, &err);
    uint64_t ts = 0, shared_ts = 0;
    int rc = oracle_timestamp(c, &ts, &err);
    oracle_client_free(c);
    oracle_client *s = oracle_shared_new(&o, &err);
    int shared_rc = s == NULL ? err.rc : oracle_timestamp(s, &shared_ts, &err);
    oracle_client_free(s);
    oracle_async_cb cb = NULL;
    printf("%s %llu %s %d\n", oracle_rc_name(rc), (unsigned long long)ts,
           oracle_rc_name(shared_rc), shared_ts > ts && cb == NULL);
    return rc == 0 && shared_rc == 0 ? 0 : 1;
}
C
    # shellcheck disable=SC2046
    cc -o "$TMP/user-shared" "$TMP/user.c" $(pkg-config --cflags --libs oracle-client)
    # shellcheck disable=SC2046
    cc -o "$TMP/user-static" "$TMP/user.c" $(pkg-config --cflags oracle-client) \
        "$(pkg-config --variable=libdir oracle-client)/liboracle-client.a" \
        $(pkg-config --libs libprotobuf-c libssl libcrypto libuv) -pthread
    run 0 "$TMP/user-static" "$ORACLE_SERVER"
    contains "$OUT" "^OK [0-9]{19} OK 1$" "static library"
    run 1 "$TMP/user-static" "127.0.0.1:$DEAD"
    contains "$OUT" "^CONNECT 0 CONNECT 0$" "static library, nothing listening"
    LD_LIBRARY_PATH=$(pkg-config --variable=libdir oracle-client)
    export LD_LIBRARY_PATH
    run 0 "$TMP/user-shared" "$ORACLE_SERVER"
    contains "$OUT" "^OK [0-9]{19} OK 1$" "shared library"
    unset LD_LIBRARY_PATH
    pass "installed: headers, shared and static library, pkg-config file; a program builds with them" \
    "(a blocking and a shared client)"
fi

echo "all $CHECKS checks passed"
