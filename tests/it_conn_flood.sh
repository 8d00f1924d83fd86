#!/usr/bin/env bash
# Integration: idle connections cannot keep a client out of the oracle port (issue 16, the
# oracle-port part).
# 1. --max-connections 100 and an idle flood of 200 connections (each reopened as soon as the
#    server closes it) for 10 s, while a sentinel client on one kept connection asks for a
#    commit-waited timestamp every 10 ms: every sentinel request is answered (a retry after an
#    eviction that raced a request is allowed, and counted), in order; every flood connection the
#    server closed got the error frame first ("evicted: connection limit"); the count stays at
#    the cap; /metrics counts evictions by reason; the log says so, at most every 10 s.
#    The sentinel's client finds the frame on its idle connection and reconnects before its next
#    call, so at most one request in ten may need a retry (an eviction racing it).
# 2. Half frames: 110 connections each sending one byte of a frame and holding, at the same cap:
#    a half frame is a slot held, not work pending, so they are evicted like idle ones and the
#    sentinel is served as in 1 (sparing them let 60 such peers lock every client out at a cap
#    of 50, a reviewer measured).
# 3. No connection idle: 100 connections each keep a WaitUntil pending (1.5 s ahead, renewed as
#    soon as it is answered); a new one gets the error frame ("refused: connection limit, none
#    idle") instead of a silent close, counted as a refusal.
# 4. --max-connections-per-peer 20: an idle flood of 200 from 127.0.0.3 evicts only its own
#    (reason peer_limit); the sentinel from 127.0.0.1 is never touched (no retry at all).
# Negative control (run by hand, see tests/RELIABILITY.md): against 949327e, which closed new
# connections at the cap, the sentinel loses its requests and the flood gets no frame.
# Usage: it_conn_flood.sh ORACLED FAKE_CHRONY SENTINEL SANITIZED
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
SENTINEL=$3
SANITIZED=${4:-0}
HOLDERS=$(dirname "$0")/support/holders.py
FLOOD_S=10 SENTINEL_S=8
[ "$SANITIZED" = 1 ] && FLOOD_S=6 SENTINEL_S=4

start_fake_chrony fake "$FAKE"

# value NAME: a metric's value from $TMP/metrics (a whole line's name, labels included).
value() {
    awk -v n="$1" '$1 == n {print $2}' "$TMP/metrics"
}

# flood_with_sentinel NAME FROM PEERS MODE: the flood (holders.py) from local address FROM and
# the sentinel; sets FLOOD (the flood's summary) and SENT (the sentinel's JSON line).
flood_with_sentinel() {
    local name=$1 from=$2 peers=$3 mode=$4 accepted
    accepted=$(metric "$HTTP" oracled_connections_accepted_total)
    nice -n 19 python3 "$HOLDERS" 127.0.0.1 "$PORT" "$peers" "$FLOOD_S" "$mode" \
        --expect "connection limit" --from "$from" >"$TMP/$name.flood" 2>&1 &
    local flood_pid=$!
    track_pid $flood_pid
    # The flood on: each of its connections made at least once.
    wait_metric "$HTTP" oracled_connections_accepted_total -ge $((accepted + peers)) 20
    "$SENTINEL" "127.0.0.1:$PORT" "$SENTINEL_S" 10 >"$TMP/$name.sentinel" ||
        fail "$name: sentinel: $(cat "$TMP/$name.sentinel")"
    curl -s "http://127.0.0.1:$HTTP/metrics" >"$TMP/metrics"
    wait $flood_pid || fail "$name: flood: $(cat "$TMP/$name.flood")"
    FLOOD=$(cat "$TMP/$name.flood")
    SENT=$(cat "$TMP/$name.sentinel")
    echo "# $name: flood: $FLOOD"
    echo "# $name: sentinel: $SENT"
}

# field JSON KEY: a number from the sentinel's line.
field() {
    sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"
}

# flood_count SUMMARY KEY: a number from the flood's summary line.
flood_count() {
    awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' <<<"$1"
}

# check_sentinel NAME: every sentinel request answered, in order, at most one in ten retried.
check_sentinel() {
    requests=$(field "$SENT" requests)
    [ "$requests" -ge 50 ] || fail "$1: sentinel made only $requests requests"
    [ "$(field "$SENT" answered)" = "$requests" ] || fail "$1: sentinel requests lost: $SENT"
    [ "$(field "$SENT" regressions)" = 0 ] || fail "$1: sentinel saw timestamps out of order: $SENT"
    [ $(($(field "$SENT" retried) * 10)) -le "$requests" ] ||
        fail "$1: the sentinel's calls failed after evictions: $SENT"
}

# 1. The cap for all.
start_oracled_on "$ORACLED" cap "$FAKE_PORT" --max-connections 100 --max-wait 2s
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
flood_with_sentinel cap 127.0.0.1 200 idle
check_sentinel idle
closed=$(flood_count "$FLOOD" closed_by_server)
[ "$closed" -gt 100 ] || fail "the flood was not evicted: $FLOOD"
[ "$(flood_count "$FLOOD" unframed)" = 0 ] || fail "evicted without the error frame: $FLOOD"
evicted=$(value 'oracled_connections_evicted_total{reason="limit"}')
[ "${evicted:-0}" -gt 100 ] || fail "evictions not counted: $evicted"
[ "$(value oracled_connections)" -le 100 ] || fail "$(value oracled_connections) connections open"
[ "$(value oracled_max_connections)" = 100 ] || fail "oracled_max_connections missing"
grep -q "connection limit (100) reached: closed the connection idle longest" "$LOG" ||
    fail "evictions not logged"
[ "$(grep -c "connection limit (100) reached" "$LOG")" -le 2 ] || fail "evictions logged too often"
pass "idle flood of 200 at --max-connections 100: $requests sentinel requests all answered, in" \
    "order ($(field "$SENT" retried) retried after an eviction raced them); $closed flood" \
    "connections closed, each after the error frame; $evicted evictions counted and logged"

# 2. Half frames.
flood_with_sentinel partial 127.0.0.1 110 partial
check_sentinel partial
[ "$(flood_count "$FLOOD" unframed)" = 0 ] || fail "evicted without the error frame: $FLOOD"
pass "110 connections holding half a frame at --max-connections 100: $requests sentinel" \
    "requests all answered ($(field "$SENT" retried) retried); $(flood_count "$FLOOD" \
    closed_by_server) half frames evicted, each after the error frame"

# 3. None idle: the new connection is refused with the frame.
nice -n 19 python3 "$HOLDERS" 127.0.0.1 "$PORT" 100 4 waiting >"$TMP/waiting.out" 2>&1 &
WAITING_PID=$!
track_pid $WAITING_PID
# All 100 holding a WaitUntil: none idle.
wait_metric "$HTTP" oracled_pending_waits -ge 100 20
python3 - "$PORT" >"$TMP/refused" <<'PY' || fail "no refusal frame: $(cat "$TMP/refused")"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data)
sys.exit(0 if b"refused: connection limit, none idle" in data else 1)
PY
curl -s "http://127.0.0.1:$HTTP/metrics" >"$TMP/metrics"
refused=$(value 'oracled_connections_rejected_total{reason="limit"}')
[ "${refused:-0}" -ge 1 ] || fail "refusal not counted"
wait $WAITING_PID || fail "waiting holders: $(cat "$TMP/waiting.out")"
pass "100 connections each with a WaitUntil pending: a new one gets \"refused: connection limit, none" \
    "idle\" (OVERLOADED) before the close, counted ($refused)"
kill -TERM "$PID"
wait "$PID" || fail "oracled exited $?"

# 4. The cap per peer.
start_oracled_on "$ORACLED" peer "$FAKE_PORT" --max-connections 1000 --max-connections-per-peer 20
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
flood_with_sentinel peer 127.0.0.3 200 idle
requests=$(field "$SENT" requests)
[ "$(field "$SENT" answered)" = "$requests" ] || fail "per peer: sentinel requests lost: $SENT"
[ "$(field "$SENT" retried)" = 0 ] || fail "per peer: the sentinel was evicted: $SENT"
[ "$(flood_count "$FLOOD" unframed)" = 0 ] || fail "evicted without the error frame: $FLOOD"
evicted=$(value 'oracled_connections_evicted_total{reason="peer_limit"}')
[ "${evicted:-0}" -gt 100 ] || fail "per-peer evictions not counted: $evicted"
[ "$(value 'oracled_connections_evicted_total{reason="limit"}')" = 0 ] ||
    fail "the cap for all evicted with 1000 free"
[ "$(value oracled_connection_peers)" -le 3 ] || fail "peers: $(value oracled_connection_peers)"
grep -q "connection limit per peer (20) reached: closed the connection idle longest" "$LOG" ||
    fail "per-peer evictions not logged"
pass "--max-connections-per-peer 20, 200 idle from 127.0.0.3: $evicted of its own evicted" \
    "(peer_limit), the sentinel from 127.0.0.1 untouched: $requests requests, none retried"
echo "it_conn_flood: $CHECKS checks passed"
