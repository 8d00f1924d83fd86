# shellcheck shell=bash
# Shared helpers for the integration test scripts (sourced, not run).
#
# Every process a test starts is registered with track_pid and stopped by PID on exit, whether
# the test passes or fails; the scratch directory $TMP is removed too.

set -euo pipefail

TMP=$(mktemp -d "${TMPDIR:-/tmp}/oracled-test.XXXXXX")
TRACKED_PIDS=()
CLEANUP_HOOKS=()
CHECKS=0

cleanup() {
    local rc=$?
    local hook pid
    for hook in "${CLEANUP_HOOKS[@]}"; do
        $hook || true
    done
    for pid in "${TRACKED_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        echo "--- test failed (exit $rc); scratch files:" >&2
        ls -la "$TMP" >&2 || true
        for f in "$TMP"/*.log "$TMP"/*/*.log; do
            [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
        done
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

track_pid() {
    TRACKED_PIDS+=("$1")
}

on_exit() {
    CLEANUP_HOOKS+=("$1")
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

pass() {
    CHECKS=$((CHECKS + 1))
    echo "ok $CHECKS - $*"
}

# run EXPECTED_RC CMD...: runs CMD, storing stdout in $OUT and stderr in $ERR; fails unless the
# exit status is EXPECTED_RC.
run() {
    local want=$1
    shift
    local rc=0
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
    if [ "$rc" -ne "$want" ]; then
        echo "command: $*" >&2
        echo "stdout: $OUT" >&2
        echo "stderr: $ERR" >&2
        fail "exit status $rc, expected $want"
    fi
}

# served SECONDS CMD...: runs an oracle-cli --json command until it succeeds, as README tells
# clients to: a retriable error ("retriable":true, e.g. NOT_READY while a new high-water mark is
# made durable) is retried until SECONDS have passed; any other failure fails at once. Sets OUT
# and ERR as run does.
served() {
    local limit=$1 rc
    shift
    # Whether an error is retriable is read from the JSON a client prints.
    [[ " $* " == *" --json "* ]] || fail "served: give the client --json (retriable errors are read from it)"
    local deadline=$((SECONDS + limit))
    while :; do
        rc=0
        "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
        OUT=$(cat "$TMP/out")
        ERR=$(cat "$TMP/err")
        [ "$rc" = 0 ] && return 0
        if ! grep -q '"retriable":true' <<<"$OUT" || [ $SECONDS -ge "$deadline" ]; then
            echo "command: $*" >&2
            echo "stdout: $OUT" >&2
            echo "stderr: $ERR" >&2
            fail "exit status $rc, not served within $limit s"
        fi
        sleep 0.05
    done
}

# contains TEXT PATTERN WHAT: fails unless TEXT matches the extended regex PATTERN.
contains() {
    if ! grep -Eq -- "$2" <<<"$1"; then
        echo "text: $1" >&2
        fail "$3: no match for /$2/"
    fi
}

# json_int JSON KEY: prints the integer value of the first "KEY": in JSON, exactly. (jq 1.6
# reads numbers as doubles, which cannot hold a timestamp in ns; bash arithmetic is 64-bit.)
json_int() {
    local v
    v=$(grep -oE "\"$2\":-?[0-9]+" <<<"$1" | head -n 1 | cut -d: -f2)
    [ -n "$v" ] || fail "no integer \"$2\" in $1"
    echo "$v"
}

# json_is JSON FILTER EXPECTED WHAT: jq FILTER of JSON must print EXPECTED. Only for strings,
# booleans and small numbers (see json_int).
json_is() {
    local got
    got=$(jq -r "$2" <<<"$1") || fail "$4: not JSON: $1"
    [ "$got" = "$3" ] || fail "$4: $2 is '$got', expected '$3' in $1"
}

now_ns() {
    date +%s%N
}

# demo_pair DEMO_CHRONY DIR [start options...]: starts a demo chrony pair in DIR, stopped on
# exit whatever happens, and loads its env (NTP_PORT, CMD_PORT, CMD_SOCKET, ...).
DEMO_PAIRS=()
stop_demo_pairs() {
    local d
    for d in "${DEMO_PAIRS[@]}"; do
        [ -f "$d/env" ] && "$DEMO_CHRONY" stop "$d"
    done
    return 0
}
demo_pair() {
    DEMO_CHRONY=$1
    local dir=$2
    shift 2
    if [ ${#DEMO_PAIRS[@]} -eq 0 ]; then
        on_exit stop_demo_pairs
    fi
    DEMO_PAIRS+=("$dir")
    "$DEMO_CHRONY" start "$dir" "$@" >/dev/null
    # shellcheck disable=SC1091
    . "$dir/env"
}

# wait_for_log FILE PID PATTERN SECONDS: until FILE matches the extended regex PATTERN; fails
# early when process PID has exited.
wait_for_log() {
    local deadline=$((SECONDS + $4))
    while [ $SECONDS -lt $deadline ]; do
        grep -Eq -- "$3" "$1" && return 0
        kill -0 "$2" 2>/dev/null || fail "process $2 exited: $(tail -n 20 "$1")"
        sleep 0.05
    done
    fail "no /$3/ in $1 after $4 s: $(tail -n 20 "$1")"
}

# wait_until SECONDS WHAT CMD...: runs CMD (its output discarded) every 50 ms until it succeeds;
# fails saying WHAT did not happen when SECONDS have passed. For a condition a test would
# otherwise sleep and hope for. CMD's words are expanded once, by the call: a condition that
# reads something anew each time is a command (awk, grep, a function), not "$(...)".
wait_until() {
    local limit=$1 what=$2
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || fail "$what: not within $limit s"
        sleep 0.05
    done
}

# metric HTTP_PORT NAME: prints the value of the sample NAME (its whole name, labels included:
# 'oracled_chrony_polls_total{result="ok"}') in oracled's /metrics on 127.0.0.1:HTTP_PORT;
# nothing when there is no such sample or nothing answered.
metric() {
    { curl -s "http://127.0.0.1:$1/metrics" || true; } | awk -v n="$2" '$1 == n {print $2; exit}'
}

# wait_metric HTTP_PORT NAME TEST VALUE SECONDS: until the sample's value (a whole number)
# passes [ value TEST VALUE ] (TEST: -eq, -ge, -gt, ...); fails with its last value after
# SECONDS. Sets MVALUE to the value that passed.
wait_metric() {
    local http=$1 name=$2 op=$3 want=$4 limit=$5
    local deadline=$((SECONDS + limit))
    while :; do
        MVALUE=$(metric "$http" "$name")
        if [[ $MVALUE =~ ^[0-9]+$ ]] && test "$MVALUE" "$op" "$want"; then
            return 0
        fi
        [ $SECONDS -lt $deadline ] ||
            fail "$name is '$MVALUE' after $limit s, expected $op $want"
        sleep 0.05
    done
}

# wait_requests HTTP_PORT OP N SECONDS: until that oracled has answered N more requests of
# operation OP (get_timestamp, now, wait_until, ...) with success than when called: a client
# started just before is being served.
wait_requests() {
    local name="oracled_requests_total{op=\"$2\",result=\"ok\"}" base
    base=$(metric "$1" "$name")
    wait_metric "$1" "$name" -ge $((${base:-0} + $3)) "$4"
}

# count_lines FILE PATTERN: how many lines of FILE match the extended regex PATTERN.
count_lines() {
    grep -cE -- "$2" "$1" || true
}

# put FILE VALUE: replaces the file at once (rename), so no reader sees it empty.
put() {
    echo "$2" >"$1.new"
    mv "$1.new" "$1"
}

# bound_port LOG WHAT: the port of the last "listening on 127.0.0.1:PORT (WHAT" line in LOG,
# WHAT being "oracle" or "HTTP"; fails when there is none.
bound_port() {
    local p
    p=$(grep -oE "listening on 127\.0\.0\.1:[0-9]+ \($2" "$1" | tail -n 1 | grep -oE ":[0-9]+" |
        tr -d :)
    [ -n "$p" ] || fail "no '$2' port in $1"
    echo "$p"
}

# start_fake_chrony NAME FAKE_CHRONY [OPTIONS]: starts fake-chrony on a free UDP port (output
# in $TMP/NAME.out), stopped on exit; sets FAKE_PID and FAKE_PORT.
start_fake_chrony() {
    local name=$1 bin=$2
    shift 2
    # A fake started again under the same name: the old file must not be read before the new
    # process has truncated it (the redirect happens in the child, after the fork).
    rm -f "$TMP/$name.out"
    "$bin" "$@" >"$TMP/$name.out" 2>"$TMP/$name.log" &
    FAKE_PID=$!
    track_pid "$FAKE_PID"
    for _ in $(seq 1 100); do
        if grep -q '^port [0-9][0-9]*$' "$TMP/$name.out" 2>/dev/null; then
            # shellcheck disable=SC2034 # read by the scripts that source this file
            FAKE_PORT=$(awk '/^port /{print $2}' "$TMP/$name.out")
            if [ -n "$FAKE_PORT" ]; then
                return
            fi
        fi
        sleep 0.05
    done
    fail "fake-chrony did not start"
}

# start_oracled_on BIN NAME CHRONY_PORT [ARGS...]: the oracled binary BIN (oracled, or a test
# build of it) on 127.0.0.1, any port, for the protocol and for HTTP, fed by the chronyd command
# port CHRONY_PORT (UDP), state in $TMP/NAME-state, log in $TMP/NAME.log; stopped on exit.
# Returns once it listens (not once it is ready); sets PID, PORT, HTTP, LOG and TLS_PORT (the
# --tls-listen listener's port, "" without one).
start_oracled_on() {
    local bin=$1 name=$2 chrony_port=$3
    shift 3
    LOG=$TMP/$name.log
    rm -f "$LOG" # as in start_fake_chrony: never read a previous run's lines
    "$bin" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --state-dir "$TMP/$name-state" \
        --chrony "udp:127.0.0.1:$chrony_port" "$@" >"$LOG" 2>&1 &
    PID=$!
    track_pid $PID
    wait_for_log "$LOG" $PID "listening on 127\.0\.0\.1:[0-9]+ \(oracle" 10
    wait_for_log "$LOG" $PID "listening on 127\.0\.0\.1:[0-9]+ \(HTTP" 10
    # The plaintext oracle listener (the TLS one when every --listen speaks TLS), and the
    # --tls-listen one, if any, in TLS_PORT. (Both are logged in the same loop turn.)
    TLS_PORT=""
    if grep -qE "listening on 127\.0\.0\.1:[0-9]+ \(oracle protocol over TLS\)" "$LOG"; then
        TLS_PORT=$(bound_port "$LOG" "oracle protocol over TLS")
    fi
    local plain=$TLS_PORT
    if grep -qE "listening on 127\.0\.0\.1:[0-9]+ \(oracle protocol\)" "$LOG"; then
        plain=$(bound_port "$LOG" "oracle protocol\\)")
    fi
    # shellcheck disable=SC2034 # read by the scripts that source this file
    PORT=$plain
    # shellcheck disable=SC2034
    HTTP=$(bound_port "$LOG" HTTP)
}

# health_at HTTP_PORT: sets CODE and BODY from GET /healthz there; CODE is 000 when nothing
# answered. health: the same on $HTTP.
health_at() {
    BODY=$(curl -s -o - -w '\n%{http_code}' "http://127.0.0.1:$1/healthz") || BODY=$'\n000'
    # shellcheck disable=SC2034 # read by the scripts that source this file
    CODE=${BODY##*$'\n'}
    BODY=${BODY%$'\n'*}
}

health() {
    health_at "$HTTP"
}

# wait_health HTTP_PORT CODE SECONDS: until /healthz there answers CODE; sets CODE and BODY as
# health_at does.
wait_health() {
    local deadline=$((SECONDS + $3))
    while :; do
        health_at "$1"
        [ "$CODE" = "$2" ] && return 0
        [ $SECONDS -lt $deadline ] || fail "/healthz of :$1 did not answer $2 in $3 s: $CODE $BODY"
        sleep 0.05
    done
}

# start_refused ORACLED WHAT REGEX [ARGS...]: ORACLED started with ARGS (on loopback, no HTTP,
# its own state directory) must exit non-zero, saying something matching REGEX.
start_refused() {
    local bin=$1 what=$2 msg=$3
    shift 3
    set +e
    "$bin" --listen 127.0.0.1:0 --http-listen none --state-dir "$TMP/err-state" "$@" \
        >"$TMP/err.out" 2>&1
    local rc=$?
    set -e
    [ $rc -ne 0 ] || fail "$what: started"
    grep -qE -- "$msg" "$TMP/err.out" || fail "$what: no '$msg' in: $(cat "$TMP/err.out")"
    pass "start refused: $what"
}

# tls_issue DIR NAME CN [EXTENSION]: DIR/NAME.pem and DIR/NAME.key, an EC P-256 certificate for
# CN signed by DIR/ca.pem (made by tls_pki), valid for 30 days, with EXTENSION (an openssl
# extension line, e.g. "subjectAltName=DNS:db-1.example"; default none that matters).
tls_issue() {
    local dir=$1 name=$2 cn=$3 ext=${4:-basicConstraints=CA:FALSE}
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$name.key" \
        -out "$dir/$name.csr" -subj "/CN=$cn" 2>/dev/null || fail "openssl req for $name"
    printf '%s\n' "$ext" >"$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 30 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null ||
        fail "openssl x509 for $name"
}

# tls_pki DIR: a test CA (DIR/ca.pem, ca.key), oracled's certificate (server.pem, server.key:
# CN oracled, DNS:localhost, IP:127.0.0.1) and a client's (client.pem, client.key: CN db-1,
# DNS:db-1.example).
tls_pki() {
    mkdir -p "$1"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/ca.key" \
        -out "$1/ca.pem" -days 30 -subj "/CN=test CA" 2>/dev/null || fail "openssl: the test CA"
    tls_issue "$1" server oracled "subjectAltName=DNS:localhost,IP:127.0.0.1"
    tls_issue "$1" client db-1 "subjectAltName=DNS:db-1.example"
}
