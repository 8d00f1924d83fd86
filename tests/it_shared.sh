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
tls_cert() { # NAME CN [SAN]: NAME.pem and NAME.key signed by the CA
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/$1.key" \
        -out "$TMP/$1.csr" -subj "/CN=$2" 2>/dev/null
    printf '%s\n' "${3:-basicConstraints=CA:FALSE}" >"$TMP/$1.ext"
    openssl x509 -req -in "$TMP/$1.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
        -days 2 -extfile "$TMP/$1.ext" -out "$TMP/$1.pem" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/ca.key" \
    -out "$TMP/ca.pem" -days 2 -subj "/CN=it_shared CA" 2>/dev/null
tls_cert server oracled "subjectAltName=IP:127.0.0.1"
tls_cert client db-1
start_oracled_on "$ORACLED" tls "$FAKE_PORT" --state-window 5s --tls-cert "$TMP/server.pem" \
    --tls-key "$TMP/server.key" --tls-ca "$TMP/ca.pem"
wait_for_log "$LOG" "$PID" "ready: serving timestamps" 10
TLS_CALLS=$((CALLS / 4))
run 0 env ORACLE_TLS_CA="$TMP/ca.pem" ORACLE_TLS_CERT="$TMP/client.pem" \
    ORACLE_TLS_KEY="$TMP/client.key" "$IT_SHARED" "127.0.0.1:$PORT" "$THREADS" "$TLS_CALLS"
contains "$OUT" "all unique, increasing per thread" "the stress run's summary, over TLS"
ok=$(metric "$HTTP" 'oracled_tls_handshakes_total{result="ok"}')
[ "${ok:-0}" -ge 1 ] || fail "no TLS handshake counted: '$ok'"
pass "$THREADS threads x $TLS_CALLS calls through one shared client over mutual TLS" \
    "($ok handshakes): ${OUT%%$'\n'*}"
