#!/usr/bin/env bash
# Integration: one shared client (oracle_shared_new()) used by many threads at once against a
# real oracled (issue 19). it_shared runs THREADS threads x CALLS calls: every timestamp unique
# across threads and increasing per thread, every commit-waited timestamp past at its return by
# the client's own Now, every WaitUntil past by Before, and fewer requests than calls (merged).
# The same again over mutual TLS (issue 21): the engine's handshake and records, from many
# threads. (A server failing under a batch, and freeing with calls pending, are test_shared's.)
# Usage: it_shared.sh ORACLED FAKE_CHRONY IT_SHARED THREADS CALLS
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

ORACLED=$1
FAKE=$2
IT_SHARED=$3
THREADS=${4:-64}
CALLS=${5:-10000}

# A bound of about a millisecond: wider than a round trip, so a commit-waited timestamp that
# was not waited for would still be ahead of the Now asked right after it.
start_fake_chrony fake "$FAKE" --root-dispersion 0.001
start_oracled_on "$ORACLED" main "$FAKE_PORT" --state-window 5s
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10

run 0 "$IT_SHARED" "127.0.0.1:$PORT" "$THREADS" "$CALLS"
contains "$OUT" "all unique, increasing per thread" "the stress run's summary"
pass "$THREADS threads x $CALLS calls through one shared client: ${OUT%%$'\n'*}"

# Over mutual TLS: a CA, the server's certificate and a client's, made here.
tls_pki "$TMP/tls"
start_oracled_on "$ORACLED" tls "$FAKE_PORT" --state-window 5s --tls-cert "$TMP/tls/server.pem" \
    --tls-key "$TMP/tls/server.key" --tls-ca "$TMP/tls/ca.pem"
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
TLS_CALLS=$((CALLS / 4))
run 0 env ORACLE_TLS_CA="$TMP/tls/ca.pem" ORACLE_TLS_CERT="$TMP/tls/client.pem" \
    ORACLE_TLS_KEY="$TMP/tls/client.key" "$IT_SHARED" "127.0.0.1:$PORT" "$THREADS" "$TLS_CALLS"
contains "$OUT" "all unique, increasing per thread" "the stress run's summary, over TLS"
ok=$(metric "$HTTP" 'oracled_tls_handshakes_total{result="ok"}')
[ "${ok:-0}" -ge 1 ] || fail "no TLS handshake counted: '$ok'"
pass "$THREADS threads x $TLS_CALLS calls through one shared client over mutual TLS" \
    "($ok handshakes): ${OUT%%$'\n'*}"
