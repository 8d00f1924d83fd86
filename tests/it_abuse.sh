#!/usr/bin/env bash
# Integration: bad input and abuse against the real oracled (fed by fake-chrony) while a
# well-behaved client checks every answer it gets (it_abuse.c); afterwards the daemon must still
# be running, answering, and within its memory.
# Negative controls (by hand): without conn.c's stops when paused in conn_send and at the end of
# tls_input, and with --max-pending-per-connection 262144 --max-output 64M (so that the replies
# pile up on the release pass, not on a read: the path those stops guard), the client that
# reads nothing pushes 256 MiB unpaused; finish_if_done closing without close_notify fails the
# half-close check; without tlssess.c's KeyUpdate count the flooder stays connected; with
# hspacer.c's budget unlimited no handshake step waits; without handshake_turn's run of the
# input a gone client left, the 64 clients' Nows sent with their Finished and a FIN go
# unanswered ("closed instead of a reply to a Now").
# Usage: it_abuse.sh ORACLED FAKE_CHRONY IT_ABUSE
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
CHECKS_BIN=$3

start_fake_chrony fake "$FAKE"
# Plaintext on --listen for the sentinel and most of the abuse; mutual TLS on --tls-listen for
# the mutated handshakes and the client that reads nothing.
tls_pki "$TMP/tls"
start_oracled_on "$ORACLED" oracled "$FAKE_PORT" --tls-listen 127.0.0.1:0 \
    --tls-cert "$TMP/tls/server.pem" --tls-key "$TMP/tls/server.key" --tls-ca "$TMP/tls/ca.pem"
wait_for_log "$LOG" $PID "ready: serving timestamps" 10
[ -n "$TLS_PORT" ] || fail "no TLS listener"
rss_before=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")

IT_ABUSE_TLS="127.0.0.1:$TLS_PORT" IT_ABUSE_TLS_DIR="$TMP/tls" "$CHECKS_BIN" "127.0.0.1:$PORT" "127.0.0.1:$HTTP"
pass "abuse (random bytes, truncated frames, unknown fields, limits, duplicate ids, 10,000" \
    "held connections, a byte a second, HTTP garbage, mutated TLS handshakes, a TLS client" \
    "reading none of its replies then half-closing, one sending only KeyUpdates, 64" \
    "handshakes at once) with a sentinel" \
    "served throughout"

kill -0 $PID 2>/dev/null || fail "oracled died"
# The mutated handshakes: every one refused (none a session), each counted.
refused=0
for r in no_cert untrusted expired not_allowed protocol peer_alert closed timeout; do
    refused=$((refused + $(metric "$HTTP" "oracled_tls_handshakes_total{result=\"$r\"}")))
done
ok=$(metric "$HTTP" 'oracled_tls_handshakes_total{result="ok"}')
# 66 sessions are the client that reads none of its replies, the KeyUpdate flooder and the 64
# handshakes at once; no mutated handshake is one.
[ "$ok" = 66 ] || fail "$((ok - 66)) mutated handshakes became sessions"
[ "$refused" -ge 1500 ] || fail "only $refused refused handshakes counted for 1,500 sent"
pass "1,500 mutated TLS handshakes, each refused and counted ($refused), none a session"
deferred=$(metric "$HTTP" oracled_tls_handshake_steps_deferred_total)
[ "$deferred" -ge 1 ] || fail "64 ClientHellos at once, and no handshake step waited a turn"
[ "$(metric "$HTTP" oracled_tls_handshake_steps_waiting)" = 0 ] || fail "steps still waiting"
pass "64 ClientHellos at once: one handshake step a turn ($deferred steps waited), all finished"
grep -q "TLS: more than 8 KeyUpdate messages.*closing" "$TMP/oracled.log" ||
    fail "oracled did not log why it closed the KeyUpdate flooder"
pass "the KeyUpdate flooder closed, and the log says why"
curl -sf "http://127.0.0.1:$HTTP/healthz" >/dev/null || fail "/healthz not 200 afterwards"
rss_after=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
echo "# server RSS: $rss_before KiB before, $rss_after KiB after"
# Under AddressSanitizer, freed memory is held in its quarantine (256 MiB by default) before
# it is reused: the TLS tests free a lot, so the bound allows for it there.
allowance=65536
if ldd "$ORACLED" | grep -q libasan; then
    allowance=$((allowance + 262144))
fi
[ "$rss_after" -lt $((rss_before + allowance)) ] || fail "RSS grew from $rss_before to $rss_after KiB"
grep -qE "(fatal|assert|Assertion)" "$TMP/oracled.log" && fail "oracled logged a failure"
pass "oracled still serving afterwards, healthy, RSS bounded"

# The control: the same sentinel notices a server that stops answering (SIGSTOP for 2 s,
# longer than its 1 s timeout), so "served throughout" above is a check that can fail.
"$CHECKS_BIN" "127.0.0.1:$PORT" "127.0.0.1:$HTTP" sentinel 4 >"$TMP/stalled.out" 2>&1 &
SENT=$!
track_pid $SENT
# Once the sentinel is being served (not after a fixed half second), the server stops for 2 s:
# the stop's length is the point, so that one is a sleep.
wait_requests "$HTTP" get_timestamp 10 10
kill -STOP $PID
sleep 2
kill -CONT $PID
if wait $SENT; then
    fail "control: the sentinel did not notice a stopped server: $(cat "$TMP/stalled.out")"
fi
contains "$(cat "$TMP/stalled.out")" "1 failures,.*timed out" "the stalled sentinel"
cat "$TMP/stalled.out"
pass "control: the sentinel reports a server stopped for 2 s as a failure"
echo "all $CHECKS checks passed"
